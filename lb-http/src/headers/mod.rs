//! Proxy header semantics as pure functions over [`http`] types: hop-by-hop headers,
//! forwarding headers, and request-target translation between HTTP/1 and HTTP/2.
//!
//! Nothing here does I/O; each function takes the headers or request parts and rewrites them
//! in place, so they work whatever hyper did before. Message framing (`Content-Length`,
//! `Transfer-Encoding`) is validated and rewritten by hyper itself and is not handled here.
//!
//! A request is typically prepared for a server in this order:
//!
//! 1. [`normalize_request_target`]: validate `Host` and the target, translate them for the
//!    server's HTTP version (a [`TargetError`] is a 400).
//! 2. [`strip_hop_by_hop`] (or [`strip_hop_by_hop_keep_upgrade`] to forward a WebSocket
//!    upgrade): drop the client connection's headers.
//! 3. [`apply_forwarded`]: add `X-Forwarded-For`, `Forwarded`, `Via`, ... per
//!    [`ForwardedOptions`].
//!
//! # Examples
//! ```
//! use http::{Request, Version};
//! use lb_http::headers::{
//!     apply_forwarded, normalize_request_target, strip_hop_by_hop, ForwardFor,
//!     ForwardedOptions, Scheme,
//! };
//!
//! let request = Request::get("http://example.com:80/index.html")
//!     .header("host", "Example.com")
//!     .header("connection", "keep-alive, x-trace")
//!     .header("x-trace", "1")
//!     .body(())?;
//! let (mut parts, ()) = request.into_parts();
//!
//! normalize_request_target(&mut parts, Version::HTTP_11, Version::HTTP_11, Scheme::Http)?;
//! strip_hop_by_hop(&mut parts.headers);
//! let opts = ForwardedOptions::new().forward_for(ForwardFor::new()).via("lb".parse()?);
//! let host = parts.headers["host"].to_str()?.to_owned();
//! apply_forwarded(
//!     &mut parts.headers,
//!     &opts,
//!     "192.0.2.7:40000".parse()?,
//!     None,
//!     Scheme::Http,
//!     Some(&host),
//!     Version::HTTP_11,
//! );
//!
//! assert_eq!(parts.uri, "/index.html");
//! assert_eq!(parts.headers["host"], "example.com");
//! assert!(parts.headers.get("x-trace").is_none());
//! assert_eq!(parts.headers["x-forwarded-for"], "192.0.2.7");
//! assert_eq!(parts.headers["via"], "1.1 lb");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod forwarded;
mod hop;
mod target;

pub use forwarded::{
    apply_forwarded, ForwardFor, ForwardedOptions, ForwardedParams, InvalidPseudonym, Pseudonym,
    Scheme,
};
pub use hop::{is_hop_by_hop, strip_hop_by_hop, strip_hop_by_hop_keep_upgrade, upgrade_request};
pub use lb_core::matcher::{IpNet, IpNetError};
pub use target::{normalize_request_target, TargetError};
