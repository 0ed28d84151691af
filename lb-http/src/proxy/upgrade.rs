//! Upgraded connections (WebSocket, any 101, CONNECT): a byte tunnel between the client
//! and the server once both sides switched protocols.

use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use lb_core::InFlight;

/// Spawns the tunnel; it holds the server slot until it ends. `timeout` is the tunnel
/// inactivity timeout.
pub(super) fn spawn_tunnel(
    client: OnUpgrade,
    server: OnUpgrade,
    timeout: Option<Duration>,
    guard: InFlight,
) {
    tokio::spawn(async move {
        let _guard = guard;
        let (client, server) = match tokio::try_join!(client, server) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut server = TokioIo::new(server);
        let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
        let r = match timeout {
            Some(t) => tokio::time::timeout(t, copy).await.unwrap_or_else(|_| {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "tunnel timeout",
                ))
            }),
            None => copy.await,
        };
        match r {
            Ok((up, down)) => tracing::debug!(up, down, "tunnel closed"),
            Err(e) => tracing::debug!(error = %e, "tunnel ended"),
        }
    });
}
