//! HAProxy's session termination state (`%ts`, `%tsc`; REFERENCE 5.3).

use std::fmt;

/// First character: why the session ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TerminationCause {
    /// `-`: normal end.
    #[default]
    Normal,
    /// `C`: the client aborted.
    ClientAbort,
    /// `c`: the client-side timeout expired.
    ClientTimeout,
    /// `S`: the server aborted or refused the connection.
    ServerAbort,
    /// `s`: the server-side (or connect, or queue) timeout expired.
    ServerTimeout,
    /// `P`: the proxy blocked the session (limit, deny, security check, bad message).
    Proxy,
    /// `L`: handled locally (redirect, return, applet, cache).
    Local,
    /// `R`: a resource was exhausted (memory, sockets, ports).
    Resource,
    /// `I`: internal error.
    Internal,
    /// `D`: the server was marked down and its sessions killed.
    Down,
    /// `U`: a backup server's session was killed when an active one came up.
    Up,
    /// `K`: killed by an administrator.
    Killed,
}

impl TerminationCause {
    /// The log character.
    pub const fn as_char(self) -> char {
        match self {
            Self::Normal => '-',
            Self::ClientAbort => 'C',
            Self::ClientTimeout => 'c',
            Self::ServerAbort => 'S',
            Self::ServerTimeout => 's',
            Self::Proxy => 'P',
            Self::Local => 'L',
            Self::Resource => 'R',
            Self::Internal => 'I',
            Self::Down => 'D',
            Self::Up => 'U',
            Self::Killed => 'K',
        }
    }
}

/// Second character: what the session was doing when it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SessionPhase {
    /// `-`: normal end, after the last byte.
    #[default]
    Normal,
    /// `R`: waiting for the complete request from the client.
    Request,
    /// `Q`: waiting in a queue for a connection slot.
    Queue,
    /// `C`: connecting to the server.
    Connect,
    /// `H`: waiting for the complete response headers.
    Headers,
    /// `D`: transferring data.
    Data,
    /// `L`: sending the last data to the client.
    LastData,
    /// `T`: tarpitted.
    Tarpit,
}

impl SessionPhase {
    /// The log character.
    pub const fn as_char(self) -> char {
        match self {
            Self::Normal => '-',
            Self::Request => 'R',
            Self::Queue => 'Q',
            Self::Connect => 'C',
            Self::Headers => 'H',
            Self::Data => 'D',
            Self::LastData => 'L',
            Self::Tarpit => 'T',
        }
    }
}

/// Third character: the persistence cookie the client sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClientCookie {
    /// `-`: cookie persistence not configured.
    #[default]
    NotConfigured,
    /// `N`: no cookie.
    None,
    /// `I`: invalid cookie (no such server).
    Invalid,
    /// `D`: the cookie pointed to a server that is down.
    Down,
    /// `V`: valid cookie, the client went to its server.
    Valid,
    /// `E`: expired (idle longer than `maxidle`).
    Expired,
    /// `O`: too old (older than `maxlife`).
    Old,
    /// `U`: not used (another mechanism chose the server).
    Unused,
}

impl ClientCookie {
    /// The log character.
    pub const fn as_char(self) -> char {
        match self {
            Self::NotConfigured => '-',
            Self::None => 'N',
            Self::Invalid => 'I',
            Self::Down => 'D',
            Self::Valid => 'V',
            Self::Expired => 'E',
            Self::Old => 'O',
            Self::Unused => 'U',
        }
    }
}

/// Fourth character: what was done with the server's persistence cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ServerCookie {
    /// `-`: cookie persistence not configured.
    #[default]
    NotConfigured,
    /// `N`: no cookie set.
    None,
    /// `I`: a cookie was inserted.
    Inserted,
    /// `U`: the cookie's date was updated.
    Updated,
    /// `P`: the server's cookie was passed as is.
    Passive,
    /// `R`: the server's cookie was rewritten.
    Rewritten,
    /// `D`: the server's cookie was deleted.
    Deleted,
}

impl ServerCookie {
    /// The log character.
    pub const fn as_char(self) -> char {
        match self {
            Self::NotConfigured => '-',
            Self::None => 'N',
            Self::Inserted => 'I',
            Self::Updated => 'U',
            Self::Passive => 'P',
            Self::Rewritten => 'R',
            Self::Deleted => 'D',
        }
    }
}

/// The four-character termination state of HAProxy's logs (`%tsc`; `%ts` is the first two).
///
/// # Examples
/// ```
/// use lb_http::log::{ClientCookie, ServerCookie, TerminationState};
///
/// assert_eq!(TerminationState::normal().to_string(), "----");
/// assert_eq!(TerminationState::client_timeout_request().to_string(), "cR--");
/// assert_eq!(TerminationState::no_server().short(), "SC");
/// let sticky = TerminationState::normal().with_cookies(ClientCookie::None, ServerCookie::Inserted);
/// assert_eq!(sticky.to_string(), "--NI");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TerminationState {
    /// Why the session ended.
    pub cause: TerminationCause,
    /// Where it was when it ended.
    pub phase: SessionPhase,
    /// The client's persistence cookie.
    pub client_cookie: ClientCookie,
    /// The server's persistence cookie.
    pub server_cookie: ServerCookie,
}

macro_rules! combos {
    ($($(#[$doc:meta])* $name:ident => $cause:ident, $phase:ident;)*) => {
        $(
            $(#[$doc])*
            pub const fn $name() -> Self {
                Self::new(TerminationCause::$cause, SessionPhase::$phase)
            }
        )*
    };
}

impl TerminationState {
    /// A state with no cookie information (`--` for the last two characters).
    pub const fn new(cause: TerminationCause, phase: SessionPhase) -> Self {
        Self {
            cause,
            phase,
            client_cookie: ClientCookie::NotConfigured,
            server_cookie: ServerCookie::NotConfigured,
        }
    }

    /// Sets the cookie characters.
    pub const fn with_cookies(mut self, client: ClientCookie, server: ServerCookie) -> Self {
        self.client_cookie = client;
        self.server_cookie = server;
        self
    }

    combos! {
        /// `--`: normal end.
        normal => Normal, Normal;
        /// `CR`: the client aborted before sending a complete request.
        client_abort_request => ClientAbort, Request;
        /// `cR`: the client did not send a complete request in time (408).
        client_timeout_request => ClientTimeout, Request;
        /// `CQ`: the client aborted while queued.
        client_abort_queue => ClientAbort, Queue;
        /// `CC`: the client aborted while the server connection was being set up.
        client_abort_connect => ClientAbort, Connect;
        /// `CH`: the client aborted while waiting for response headers.
        client_abort_headers => ClientAbort, Headers;
        /// `cH`: the client timeout expired while waiting for response headers.
        client_timeout_headers => ClientTimeout, Headers;
        /// `CD`: the client aborted during the data phase.
        client_abort_data => ClientAbort, Data;
        /// `cD`: the client timeout expired during the data phase.
        client_timeout_data => ClientTimeout, Data;
        /// `CT`: the client aborted while tarpitted.
        client_abort_tarpit => ClientAbort, Tarpit;
        /// `SC`: no server available (503 `<NOSRV>`), or the server refused the
        /// connection.
        no_server => ServerAbort, Connect;
        /// `sC`: the connect timeout expired (503 after the retries).
        server_connect_timeout => ServerTimeout, Connect;
        /// `SH`: the server closed or failed before sending complete headers (502).
        server_closed_headers => ServerAbort, Headers;
        /// `sH`: the server timeout expired before the response headers (504).
        server_timeout_headers => ServerTimeout, Headers;
        /// `SD`: the server aborted during the data phase.
        server_abort_data => ServerAbort, Data;
        /// `sD`: the server timeout expired during the data phase.
        server_timeout_data => ServerTimeout, Data;
        /// `sQ`: the queue timeout expired (503).
        queue_timeout => ServerTimeout, Queue;
        /// `SQ`: the queue was full (`maxqueue`, 503).
        queue_full => ServerAbort, Queue;
        /// `PR`: the proxy refused the request (400 bad request, 403 deny).
        proxy_request => Proxy, Request;
        /// `PH`: the proxy refused the response headers (502), or a rewrite failed (500).
        proxy_headers => Proxy, Headers;
        /// `PD`: the proxy refused data (bad chunk).
        proxy_data => Proxy, Data;
        /// `PC`: the proxy refused to connect (e.g. a connection limit).
        proxy_connect => Proxy, Connect;
        /// `PT`: tarpitted, then the proxy answered (500).
        proxy_tarpit => Proxy, Tarpit;
        /// `LR`: answered locally from the request (redirect, return, stats).
        local_request => Local, Request;
        /// `LH`: answered locally at the response-header stage (cache).
        local_headers => Local, Headers;
        /// `RC`: out of a resource while connecting (sockets, source ports).
        resource_connect => Resource, Connect;
        /// `IR`: internal error while processing the request.
        internal_request => Internal, Request;
    }

    /// The two-character form (`%ts`), e.g. `"SC"`.
    pub fn short(&self) -> ShortTerminationState {
        ShortTerminationState(*self)
    }

    /// The four characters (`%tsc`).
    pub const fn chars(&self) -> [char; 4] {
        [
            self.cause.as_char(),
            self.phase.as_char(),
            self.client_cookie.as_char(),
            self.server_cookie.as_char(),
        ]
    }
}

impl fmt::Display for TerminationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.chars() {
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// The two-character termination state (`%ts`), from [`TerminationState::short`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShortTerminationState(TerminationState);

impl fmt::Display for ShortTerminationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [cause, phase, _, _] = self.0.chars();
        fmt::Write::write_char(f, cause)?;
        fmt::Write::write_char(f, phase)
    }
}

impl PartialEq<&str> for ShortTerminationState {
    fn eq(&self, other: &&str) -> bool {
        let [cause, phase, _, _] = self.0.chars();
        let mut chars = other.chars();
        chars.next() == Some(cause) && chars.next() == Some(phase) && chars.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos() {
        let cases = [
            (TerminationState::normal(), "----"),
            (TerminationState::client_abort_request(), "CR--"),
            (TerminationState::client_timeout_request(), "cR--"),
            (TerminationState::client_abort_queue(), "CQ--"),
            (TerminationState::client_abort_connect(), "CC--"),
            (TerminationState::client_abort_headers(), "CH--"),
            (TerminationState::client_timeout_headers(), "cH--"),
            (TerminationState::client_abort_data(), "CD--"),
            (TerminationState::client_timeout_data(), "cD--"),
            (TerminationState::client_abort_tarpit(), "CT--"),
            (TerminationState::no_server(), "SC--"),
            (TerminationState::server_connect_timeout(), "sC--"),
            (TerminationState::server_closed_headers(), "SH--"),
            (TerminationState::server_timeout_headers(), "sH--"),
            (TerminationState::server_abort_data(), "SD--"),
            (TerminationState::server_timeout_data(), "sD--"),
            (TerminationState::queue_timeout(), "sQ--"),
            (TerminationState::queue_full(), "SQ--"),
            (TerminationState::proxy_request(), "PR--"),
            (TerminationState::proxy_headers(), "PH--"),
            (TerminationState::proxy_data(), "PD--"),
            (TerminationState::proxy_connect(), "PC--"),
            (TerminationState::proxy_tarpit(), "PT--"),
            (TerminationState::local_request(), "LR--"),
            (TerminationState::local_headers(), "LH--"),
            (TerminationState::resource_connect(), "RC--"),
            (TerminationState::internal_request(), "IR--"),
        ];
        for (state, expected) in cases {
            assert_eq!(state.to_string(), expected);
            assert_eq!(state.short(), &expected[..2]);
        }
    }

    #[test]
    fn all_chars() {
        let causes = [
            TerminationCause::Normal,
            TerminationCause::ClientAbort,
            TerminationCause::ClientTimeout,
            TerminationCause::ServerAbort,
            TerminationCause::ServerTimeout,
            TerminationCause::Proxy,
            TerminationCause::Local,
            TerminationCause::Resource,
            TerminationCause::Internal,
            TerminationCause::Down,
            TerminationCause::Up,
            TerminationCause::Killed,
        ];
        let s: String = causes.iter().map(|c| c.as_char()).collect();
        assert_eq!(s, "-CcSsPLRIDUK");
        let cookies: String = [
            ClientCookie::NotConfigured,
            ClientCookie::None,
            ClientCookie::Invalid,
            ClientCookie::Down,
            ClientCookie::Valid,
            ClientCookie::Expired,
            ClientCookie::Old,
            ClientCookie::Unused,
        ]
        .iter()
        .map(|c| c.as_char())
        .collect();
        assert_eq!(cookies, "-NIDVEOU");
        let set: String = [
            ServerCookie::NotConfigured,
            ServerCookie::None,
            ServerCookie::Inserted,
            ServerCookie::Updated,
            ServerCookie::Passive,
            ServerCookie::Rewritten,
            ServerCookie::Deleted,
        ]
        .iter()
        .map(|c| c.as_char())
        .collect();
        assert_eq!(set, "-NIUPRD");
        assert_eq!(
            TerminationState::default().with_cookies(ClientCookie::Valid, ServerCookie::Updated),
            TerminationState {
                cause: TerminationCause::Normal,
                phase: SessionPhase::Normal,
                client_cookie: ClientCookie::Valid,
                server_cookie: ServerCookie::Updated,
            }
        );
        assert_eq!(
            TerminationState::new(TerminationCause::Killed, SessionPhase::LastData).short(),
            "KL"
        );
    }
}
