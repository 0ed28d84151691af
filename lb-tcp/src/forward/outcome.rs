//! [`Outcome`] of a forwarded session and its [`Termination`] cause.

use std::fmt;
use std::io;
use std::time::Duration;

/// One end of a proxied TCP session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client, the connection the proxy accepted.
    Client,
    /// The server, the connection the proxy opened.
    Server,
}

impl Side {
    /// The other side.
    pub const fn peer(self) -> Self {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Client => "client",
            Side::Server => "server",
        })
    }
}

/// Why the data phase of a session ended.
///
/// This covers the data phase only (second letter `D` or `-`): the states before it
/// (queue, connect) belong to the proxy that calls [`forward`](super::forward).
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
/// use lb_tcp::forward::{Side, Termination};
///
/// assert_eq!(Termination::ClientClosed.haproxy_code(), "--");
/// assert_eq!(Termination::ServerTimeout.haproxy_code(), "sD");
/// assert_eq!(Termination::TunnelTimeout(Side::Client).haproxy_code(), "cD");
/// let reset = Termination::ClientError(ErrorKind::ConnectionReset);
/// assert_eq!(reset.haproxy_code(), "CD");
/// assert!(reset.is_reset());
/// assert_eq!(reset.to_string(), "client error: connection reset");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Termination {
    /// Normal end, the client closed first (sent its FIN before the server did).
    ClientClosed,
    /// Normal end, the server closed first.
    ServerClosed,
    /// `timeout client` expired while waiting on the client.
    ClientTimeout,
    /// `timeout server` expired while waiting on the server.
    ServerTimeout,
    /// `timeout client-fin` expired: the client connection was half-closed towards it.
    ClientFinTimeout,
    /// `timeout server-fin` expired: the server connection was half-closed towards it.
    ServerFinTimeout,
    /// `timeout tunnel` expired while waiting on the given side.
    TunnelTimeout(Side),
    /// Reading from or writing to the client failed (a reset is
    /// [`ConnectionReset`](io::ErrorKind::ConnectionReset)).
    ClientError(io::ErrorKind),
    /// Reading from or writing to the server failed.
    ServerError(io::ErrorKind),
    /// The session was killed from outside (admin `shutdown session`): HAProxy's `K`.
    /// Never produced by the forwarder itself: see
    /// [`Forward::into_outcome`](super::Forward::into_outcome).
    Killed,
    /// The server was marked down and its sessions shut (`on-marked-down
    /// shutdown-sessions`): HAProxy's `D`. Never produced by the forwarder itself.
    ServerDown,
}

impl Termination {
    /// HAProxy's two-letter termination state for a TCP session that reached the data
    /// phase: `--` normal, `cD`/`sD` client/server timeout, `CD`/`SD` client/server abort,
    /// `KD` killed, `DD` server down.
    pub const fn haproxy_code(&self) -> &'static str {
        match self {
            Termination::ClientClosed | Termination::ServerClosed => "--",
            Termination::ClientTimeout
            | Termination::ClientFinTimeout
            | Termination::TunnelTimeout(Side::Client) => "cD",
            Termination::ServerTimeout
            | Termination::ServerFinTimeout
            | Termination::TunnelTimeout(Side::Server) => "sD",
            Termination::ClientError(_) => "CD",
            Termination::ServerError(_) => "SD",
            Termination::Killed => "KD",
            Termination::ServerDown => "DD",
        }
    }

    /// Whether the session ended normally, both directions closed.
    pub const fn is_normal(&self) -> bool {
        matches!(self, Termination::ClientClosed | Termination::ServerClosed)
    }

    /// Whether an inactivity timeout ended the session.
    pub const fn is_timeout(&self) -> bool {
        matches!(
            self,
            Termination::ClientTimeout
                | Termination::ServerTimeout
                | Termination::ClientFinTimeout
                | Termination::ServerFinTimeout
                | Termination::TunnelTimeout(_)
        )
    }

    /// Whether an I/O error on one side ended the session.
    pub const fn is_error(&self) -> bool {
        matches!(
            self,
            Termination::ClientError(_) | Termination::ServerError(_)
        )
    }

    /// Whether the session ended on a connection reset or abort by a peer
    /// (`ConnectionReset`, `ConnectionAborted` or `BrokenPipe`).
    pub const fn is_reset(&self) -> bool {
        match self {
            Termination::ClientError(kind) | Termination::ServerError(kind) => matches!(
                kind,
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }

    /// The side that ended the session: who closed first, whose timer expired, whose
    /// connection failed. `None` for [`Killed`](Termination::Killed).
    pub const fn side(&self) -> Option<Side> {
        match self {
            Termination::ClientClosed
            | Termination::ClientTimeout
            | Termination::ClientFinTimeout
            | Termination::TunnelTimeout(Side::Client)
            | Termination::ClientError(_) => Some(Side::Client),
            Termination::ServerClosed
            | Termination::ServerTimeout
            | Termination::ServerFinTimeout
            | Termination::TunnelTimeout(Side::Server)
            | Termination::ServerError(_)
            | Termination::ServerDown => Some(Side::Server),
            Termination::Killed => None,
        }
    }
}

impl fmt::Display for Termination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Termination::ClientClosed => f.write_str("client closed"),
            Termination::ServerClosed => f.write_str("server closed"),
            Termination::ClientTimeout => f.write_str("client timeout"),
            Termination::ServerTimeout => f.write_str("server timeout"),
            Termination::ClientFinTimeout => f.write_str("client-fin timeout"),
            Termination::ServerFinTimeout => f.write_str("server-fin timeout"),
            Termination::TunnelTimeout(side) => write!(f, "tunnel timeout on the {side} side"),
            Termination::ClientError(kind) => write!(f, "client error: {kind}"),
            Termination::ServerError(kind) => write!(f, "server error: {kind}"),
            Termination::Killed => f.write_str("killed"),
            Termination::ServerDown => f.write_str("server down"),
        }
    }
}

/// What [`forward`](super::forward) reports when a session ends.
///
/// Byte counts are bytes *read* from each side, the figures HAProxy logs and the ones
/// given to the [`Meter`](super::Meter). After a normal end they were all delivered to
/// the other side; after an error or a timeout, up to one buffer per direction may have
/// been dropped.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// Why the session ended.
    pub termination: Termination,
    /// Bytes read from the client (HAProxy's `bytes_in`).
    pub client_to_server: u64,
    /// Bytes read from the server (HAProxy's `bytes_out`, `%B` in TCP logs).
    pub server_to_client: u64,
    /// Time from the call to [`forward`](super::forward) to the end.
    pub duration: Duration,
    /// The I/O error behind [`ClientError`](Termination::ClientError) or
    /// [`ServerError`](Termination::ServerError), for logs.
    pub error: Option<io::Error>,
}

impl Outcome {
    /// Shorthand for `self.termination.haproxy_code()`.
    pub const fn haproxy_code(&self) -> &'static str {
        self.termination.haproxy_code()
    }
}

impl fmt::Display for Outcome {
    /// `"<code> <termination>, <in> bytes in, <out> bytes out, <ms> ms"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}, {} bytes in, {} bytes out, {} ms",
            self.termination.haproxy_code(),
            self.termination,
            self.client_to_server,
            self.server_to_client,
            self.duration.as_millis()
        )
    }
}
