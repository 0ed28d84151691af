//! Upgraded connections (WebSocket, any 101, CONNECT): a byte tunnel between the client
//! and the server once both sides switched protocols.

use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use lb_core::InFlight;
use lb_tcp::forward::{forward, ForwardConfig};

use crate::client::ServerUpgrade;

/// Spawns the tunnel; it holds the server slot until it ends. `timeout` is the tunnel
/// inactivity timeout (`timeout tunnel`): the tunnel ends when neither side sends anything
/// for that long.
pub(super) fn spawn_tunnel(
    client: OnUpgrade,
    server: ServerUpgrade,
    timeout: Option<Duration>,
    guard: InFlight,
) {
    tokio::spawn(async move {
        let _guard = guard;
        let (client, mut server) = match tokio::try_join!(
            async { client.await.map_err(lb_core::BoxError::from) },
            server.into_io()
        ) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let cfg = ForwardConfig::new().timeout_tunnel(timeout);
        let outcome = forward(&mut client, &mut server, &cfg, ()).await;
        tracing::debug!(
            up = outcome.client_to_server,
            down = outcome.server_to_client,
            termination = ?outcome.termination,
            "tunnel closed"
        );
    });
}
