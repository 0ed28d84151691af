//! lb's TCP layer ("mode tcp"): listeners, connectors, the TCP proxy, PROXY protocol v1/v2
//! and content inspection, as tower services.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod connect;
pub mod forward;
pub mod frontend;
pub mod inspect;
pub mod listen;
#[cfg(feature = "mem")]
pub mod mem;
pub mod net;
pub mod proxy;
pub mod proxy_protocol;
