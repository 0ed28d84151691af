//! HTTP checks over HTTP/2 with prior knowledge (`check-proto h2`, h2c), on hyper's
//! client connection.

use std::error::Error as _;
use std::future::Future;
use std::pin::pin;

use http_body_util::BodyExt;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};

use super::http::HttpCheck;
use super::io::{strerror, Verdict, BUFSIZE};
use super::status::CheckStatus;
use super::CheckContext;

/// Sends the check's request on a new HTTP/2 connection over `io` and judges the response
/// as the HTTP/1 check does (status, reason phrase, expects on the first 16 KiB of body).
///
/// The connection is driven here, not spawned: dropping the future (the check timeout)
/// closes it.
pub(crate) async fn run<Io>(check: &HttpCheck, io: Io, ctx: &CheckContext) -> Verdict
where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let req = match check.h2_request(ctx.state_header.as_deref()) {
        Ok(r) => r,
        Err(why) => return Verdict::new(CheckStatus::SockErr, why),
    };
    let (mut sender, conn) = match http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(io))
        .await
    {
        Ok(pair) => pair,
        Err(e) => return failure(&e),
    };
    let exchange = async {
        let resp = sender.send_request(req).await?;
        let code = resp.status().as_u16();
        // HTTP/2 has no reason phrase: HAProxy shows the standard one.
        let reason = resp.status().canonical_reason().unwrap_or("");
        let judged_early =
            (check.disables_on_404() && code == 404 && ctx.running) || !check.has_expects();
        let mut body = Vec::new();
        if check.needs_body() && !judged_early {
            let mut incoming = resp.into_body();
            // Each frame adds data or ends the loop: bounded by the buffer size.
            while body.len() < BUFSIZE {
                let Some(frame) = incoming.frame().await else {
                    break;
                };
                if let Ok(data) = frame?.into_data() {
                    let take = data.len().min(BUFSIZE - body.len());
                    body.extend_from_slice(&data[..take]);
                }
            }
        }
        Ok::<_, hyper::Error>(check.judge(code, reason, &body, ctx))
    };
    match drive(conn, exchange).await {
        Ok(v) => v,
        Err(e) => failure(&e),
    }
}

/// Runs `exchange` while driving the connection `conn`; a connection that ends first lets
/// the exchange finish with what arrived (or fail), a connection error is returned.
async fn drive<C, F, T>(conn: C, exchange: F) -> Result<T, hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
    F: Future<Output = Result<T, hyper::Error>>,
{
    let mut conn = pin!(conn);
    let mut exchange = pin!(exchange);
    tokio::select! {
        biased;
        r = &mut exchange => r,
        c = &mut conn => {
            c?;
            exchange.await
        }
    }
}

/// The verdict of a failed exchange: the socket's error (`L4CON`) when there is one,
/// otherwise an invalid response (`L7RSP`), such as a server that does not speak h2.
fn failure(e: &hyper::Error) -> Verdict {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Verdict::new(CheckStatus::L4Con, strerror(io));
        }
        source = s.source();
    }
    let info = match e.source() {
        Some(cause) => format!("Invalid HTTP/2 response: {cause}"),
        None => format!("Invalid HTTP/2 response: {e}"),
    };
    Verdict::new(CheckStatus::L7Rsp, info)
}
