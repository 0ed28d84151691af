//! [`UnixListener`]: a Unix stream socket listener with backlog, permissions and owner.

use std::future::poll_fn;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::task::{ready, Context, Poll};

use lb_core::Address;
use socket2::{Domain, SockAddr, Socket, Type};

use super::tcp::require_runtime;
use super::BindOptions;
use crate::net::{unix_address, Peer, Stream};

/// A Unix stream socket listener.
///
/// Binding replaces a stale socket file (one nothing listens on any more), as a restarted
/// server expects; a live one gives `AddrInUse`. To tell them apart, binding over an existing
/// socket file connects to it once: a live listener there sees one empty connection. Other
/// files are never replaced. The file is left in place on drop.
#[derive(Debug)]
pub struct UnixListener {
    inner: tokio::net::UnixListener,
    path: PathBuf,
}

impl UnixListener {
    /// Binds `path` with the backlog, `mode`, `uid` and `gid` of `options`. Must run inside
    /// a tokio runtime with I/O enabled.
    ///
    /// # Errors
    /// Socket and file errors (`AddrInUse` when a live socket is there, `PermissionDenied`);
    /// `Unsupported` for a `namespace`; an error when there is no tokio runtime.
    pub fn bind(path: &Path, options: &BindOptions) -> io::Result<Self> {
        require_runtime()?;
        let addr = SockAddr::unix(path)?;
        let socket = match bind_socket(&addr) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && is_stale(path, &addr) => {
                tracing::debug!(path = %path.display(), "removing stale unix socket");
                std::fs::remove_file(path)?;
                bind_socket(&addr)?
            }
            r => r?,
        };
        let backlog = i32::try_from(options.effective_backlog()).unwrap_or(i32::MAX);
        socket.listen(backlog)?;
        if let Some(mode) = options.mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        if options.uid.is_some() || options.gid.is_some() {
            std::os::unix::fs::chown(path, options.uid, options.gid)?;
        }
        let std: std::os::unix::net::UnixListener = socket.into();
        let inner = tokio::net::UnixListener::from_std(std)?;
        tracing::debug!(path = %path.display(), backlog, "unix listener bound");
        Ok(Self {
            inner,
            path: path.to_owned(),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokio listener.
    pub fn get_ref(&self) -> &tokio::net::UnixListener {
        &self.inner
    }

    /// Polls for the next connection. The peer of an unnamed client is `Address::Unix("")`.
    ///
    /// # Errors
    /// What `accept(2)` returns.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        let (stream, remote) = ready!(self.inner.poll_accept(cx))?;
        let peer = Peer::new(unix_address(&remote), Address::Unix(self.path.clone()));
        Poll::Ready(Ok((Stream::Unix(stream), peer)))
    }

    /// Waits for the next connection.
    ///
    /// # Errors
    /// What `accept(2)` returns.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }
}

fn bind_socket(addr: &SockAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Whether `path` is a socket file nothing listens on (a non-blocking connect is refused).
fn is_stale(path: &Path, addr: &SockAddr) -> bool {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if !is_socket {
        return false;
    }
    let Ok(probe) = Socket::new(Domain::UNIX, Type::STREAM, None) else {
        return false;
    };
    if probe.set_nonblocking(true).is_err() {
        return false;
    }
    matches!(probe.connect(addr), Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}
