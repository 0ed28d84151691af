//! [`forward_tcp`]: [`forward`](super::forward) for two TCP sockets, zero-copy on Linux.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::net::TcpStream;

use super::config::ForwardConfig;
use super::meter::Meter;
use super::outcome::{Outcome, Termination};
use super::pipe::Pipe;
use super::session::Session;
#[cfg(target_os = "linux")]
use super::splice::SplicePipe;

/// Forwards between two TCP sockets: like [`forward`](super::forward), same rules, same
/// [`Outcome`], but on Linux the bytes go socket to pipe to socket with `splice(2)` and
/// never through user space.
///
/// [`ForwardConfig::buffer_size`] sizes each direction's pipe (rounded up to pages by the
/// kernel, at most `/proc/sys/fs/pipe-max-size`). Each session holds four extra file
/// descriptors; when they cannot be had, or off Linux, this falls back to the portable
/// copy ([`ForwardTcp::is_zero_copy`] tells which).
///
/// # Examples
///
/// ```
/// use lb_tcp::forward::{forward_tcp, ForwardConfig, Termination};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use tokio::net::{TcpListener, TcpStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// async fn pair() -> std::io::Result<(TcpStream, TcpStream)> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let connect = TcpStream::connect(listener.local_addr()?);
///     let (a, b) = tokio::join!(connect, listener.accept());
///     Ok((a?, b?.0))
/// }
/// let (mut client, mut accepted) = pair().await?;
/// let (mut connected, mut server) = pair().await?;
///
/// let proxy = forward_tcp(&mut accepted, &mut connected, &ForwardConfig::new(), ());
/// let peers = async {
///     client.write_all(b"hello").await?;
///     client.shutdown().await?;
///     let mut got = Vec::new();
///     server.read_to_end(&mut got).await?;
///     server.shutdown().await?;
///     Ok::<_, std::io::Error>(got)
/// };
/// let (outcome, got) = tokio::join!(proxy, peers);
/// assert_eq!(got?, b"hello");
/// assert_eq!(outcome.termination, Termination::ClientClosed);
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// As for [`forward`](super::forward): dropping it loses what is in flight (in the pipes).
pub fn forward_tcp<'a, M: Meter>(
    client: &'a mut TcpStream,
    server: &'a mut TcpStream,
    cfg: &ForwardConfig,
    meter: M,
) -> ForwardTcp<'a, M> {
    ForwardTcp {
        client,
        server,
        meter,
        engine: Engine::new(cfg),
    }
}

enum Engine {
    Copy(Session<Pipe>),
    #[cfg(target_os = "linux")]
    Splice(Session<SplicePipe>),
}

impl Engine {
    #[cfg(target_os = "linux")]
    fn new(cfg: &ForwardConfig) -> Self {
        match SplicePipe::new(cfg.buffer_size)
            .and_then(|c2s| SplicePipe::new(cfg.buffer_size).map(|s2c| (c2s, s2c)))
        {
            Ok((c2s, s2c)) => Engine::Splice(Session::new(c2s, s2c, cfg)),
            Err(e) => {
                tracing::debug!(error = %e, "no pipes for splice, copying instead");
                Self::copy(cfg)
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn new(cfg: &ForwardConfig) -> Self {
        Self::copy(cfg)
    }

    fn copy(cfg: &ForwardConfig) -> Self {
        Engine::Copy(Session::new(
            Pipe::new(cfg.buffer_size),
            Pipe::new(cfg.buffer_size),
            cfg,
        ))
    }

    fn bytes(&self) -> (u64, u64) {
        match self {
            Engine::Copy(session) => session.bytes(),
            #[cfg(target_os = "linux")]
            Engine::Splice(session) => session.bytes(),
        }
    }
}

/// Future returned by [`forward_tcp`], resolving to the session's [`Outcome`].
///
/// `Unpin`, like [`Forward`](super::Forward), with the same accessors.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ForwardTcp<'a, M> {
    client: &'a mut TcpStream,
    server: &'a mut TcpStream,
    meter: M,
    engine: Engine,
}

// As for `Forward`: nothing is ever pinned in place.
impl<M> Unpin for ForwardTcp<'_, M> {}

impl<M> ForwardTcp<'_, M> {
    /// Whether the session splices (Linux, pipes available) rather than copies.
    pub fn is_zero_copy(&self) -> bool {
        match self.engine {
            Engine::Copy(_) => false,
            #[cfg(target_os = "linux")]
            Engine::Splice(_) => true,
        }
    }

    /// Bytes read from the client so far.
    pub fn client_to_server(&self) -> u64 {
        self.engine.bytes().0
    }

    /// Bytes read from the server so far.
    pub fn server_to_client(&self) -> u64 {
        self.engine.bytes().1
    }

    /// As [`Forward::into_outcome`](super::Forward::into_outcome).
    pub fn into_outcome(self, termination: Termination) -> Outcome {
        match &self.engine {
            Engine::Copy(session) => session.outcome_or(termination),
            #[cfg(target_os = "linux")]
            Engine::Splice(session) => session.outcome_or(termination),
        }
    }
}

impl<M: Meter> Future for ForwardTcp<'_, M> {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let this = self.get_mut();
        match &mut this.engine {
            Engine::Copy(session) => {
                session.poll(cx, &mut *this.client, &mut *this.server, &this.meter)
            }
            #[cfg(target_os = "linux")]
            Engine::Splice(session) => {
                session.poll(cx, &mut *this.client, &mut *this.server, &this.meter)
            }
        }
    }
}

impl<M> fmt::Debug for ForwardTcp<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (client_to_server, server_to_client) = self.engine.bytes();
        f.debug_struct("ForwardTcp")
            .field("zero_copy", &self.is_zero_copy())
            .field("client_to_server", &client_to_server)
            .field("server_to_client", &server_to_client)
            .finish_non_exhaustive()
    }
}
