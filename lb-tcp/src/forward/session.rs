//! What every engine shares: both directions, who closed first, the timers, and how the
//! session ends.

use std::fmt;
use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::config::ForwardConfig;
use super::meter::Meter;
use super::outcome::{Outcome, Side, Termination};
use super::pipe::{Direction, Flowing, PipeError, Status, Wait};
use super::timer::{Timers, CLIENT, SERVER};

/// A session over two directions of type `P` (client to server, server to client).
pub(super) struct Session<P> {
    c2s: P,
    s2c: P,
    first_eof: Option<Side>,
    timers: Option<Timers>,
    started: Instant,
    /// How it ended and after how long, once it has.
    ended: Option<(Termination, Duration)>,
}

impl<P: Flowing> Session<P> {
    /// A session starting now.
    pub(super) fn new(c2s: P, s2c: P, cfg: &ForwardConfig) -> Self {
        let started = Instant::now();
        Self {
            c2s,
            s2c,
            first_eof: None,
            timers: Timers::new(cfg, started),
            started,
            ended: None,
        }
    }

    /// Bytes read so far, `(from the client, from the server)`.
    pub(super) fn bytes(&self) -> (u64, u64) {
        (self.c2s.flow().read, self.s2c.flow().read)
    }

    /// The outcome so far, ended by `termination` unless the session had ended already.
    pub(super) fn outcome_or(&self, termination: Termination) -> Outcome {
        let termination = self.ended.map_or(termination, |(ended, _)| ended);
        self.outcome(termination, None)
    }

    fn outcome(&self, termination: Termination, error: Option<io::Error>) -> Outcome {
        let (client_to_server, server_to_client) = self.bytes();
        Outcome {
            termination,
            client_to_server,
            server_to_client,
            duration: self
                .ended
                .map_or_else(|| self.started.elapsed(), |(_, duration)| duration),
            error,
        }
    }

    fn finish(&mut self, termination: Termination, error: Option<io::Error>) -> Poll<Outcome> {
        let outcome = self.outcome(termination, error);
        self.ended = Some((termination, outcome.duration));
        tracing::trace!(
            termination = %termination,
            code = termination.haproxy_code(),
            bytes_in = outcome.client_to_server,
            bytes_out = outcome.server_to_client,
            "forward ended"
        );
        Poll::Ready(outcome)
    }

    /// Drives both directions and the timers once.
    pub(super) fn poll<A, B, M>(
        &mut self,
        cx: &mut Context<'_>,
        client: &mut A,
        server: &mut B,
        meter: &M,
    ) -> Poll<Outcome>
    where
        A: ?Sized,
        B: ?Sized,
        M: Meter + ?Sized,
        P: Direction<A, B> + Direction<B, A>,
    {
        if let Some((termination, _)) = self.ended {
            return Poll::Ready(self.outcome(termination, None));
        }
        let mut yielded = false;

        let status = Direction::<A, B>::poll_dir(&mut self.c2s, cx, client, server, |n| {
            meter.client_to_server(n)
        });
        match status {
            Status::Failed(PipeError::Read(e)) => {
                return self.fail(
                    cx,
                    client,
                    server,
                    meter,
                    Termination::ClientError(e.kind()),
                    e,
                )
            }
            Status::Failed(PipeError::Write(e)) => {
                return self.fail(
                    cx,
                    client,
                    server,
                    meter,
                    Termination::ServerError(e.kind()),
                    e,
                )
            }
            Status::Yield => yielded = true,
            Status::Done | Status::Pending => {}
        }
        let c2s = self.c2s.flow();
        if self.first_eof.is_none() && c2s.read_done {
            self.first_eof = Some(Side::Client);
        }

        let status = Direction::<B, A>::poll_dir(&mut self.s2c, cx, server, client, |n| {
            meter.server_to_client(n)
        });
        match status {
            Status::Failed(PipeError::Read(e)) => {
                return self.fail(
                    cx,
                    client,
                    server,
                    meter,
                    Termination::ServerError(e.kind()),
                    e,
                )
            }
            Status::Failed(PipeError::Write(e)) => {
                return self.fail(
                    cx,
                    client,
                    server,
                    meter,
                    Termination::ClientError(e.kind()),
                    e,
                )
            }
            Status::Yield => yielded = true,
            Status::Done | Status::Pending => {}
        }
        let s2c = self.s2c.flow();
        if self.first_eof.is_none() && s2c.read_done {
            self.first_eof = Some(Side::Server);
        }

        if c2s.done && s2c.done {
            let termination = match self.first_eof {
                Some(Side::Server) => Termination::ServerClosed,
                _ => Termination::ClientClosed,
            };
            return self.finish(termination, None);
        }

        if let Some(timers) = &mut self.timers {
            let mut active = [false; 2];
            active[CLIENT] = c2s.src_active || s2c.dst_active;
            active[SERVER] = c2s.dst_active || s2c.src_active;
            let mut waiting = [false; 2];
            waiting[CLIENT] = c2s.wait == Wait::Src || s2c.wait == Wait::Dst;
            waiting[SERVER] = c2s.wait == Wait::Dst || s2c.wait == Wait::Src;
            let mut half_closed = [false; 2];
            half_closed[CLIENT] = s2c.done;
            half_closed[SERVER] = c2s.done;
            if let Poll::Ready(termination) = timers.poll(cx, active, waiting, half_closed) {
                Direction::<A, B>::abort(&mut self.c2s, cx, client, server, |n| {
                    meter.client_to_server(n)
                });
                Direction::<B, A>::abort(&mut self.s2c, cx, server, client, |n| {
                    meter.server_to_client(n)
                });
                return self.finish(termination, None);
            }
        }

        if yielded {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// Ends the session on an I/O error: the healthy side gets, best effort, what is
    /// buffered or readable for it, then a FIN.
    fn fail<A, B, M>(
        &mut self,
        cx: &mut Context<'_>,
        client: &mut A,
        server: &mut B,
        meter: &M,
        termination: Termination,
        err: io::Error,
    ) -> Poll<Outcome>
    where
        A: ?Sized,
        B: ?Sized,
        M: Meter + ?Sized,
        P: Direction<A, B> + Direction<B, A>,
    {
        match termination.side() {
            Some(Side::Client) => {
                Direction::<A, B>::abort(&mut self.c2s, cx, client, server, |n| {
                    meter.client_to_server(n)
                })
            }
            Some(Side::Server) => {
                Direction::<B, A>::abort(&mut self.s2c, cx, server, client, |n| {
                    meter.server_to_client(n)
                })
            }
            None => {}
        }
        self.finish(termination, Some(err))
    }
}

impl<P: Flowing> fmt::Debug for Session<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (client_to_server, server_to_client) = self.bytes();
        f.debug_struct("Session")
            .field("client_to_server", &client_to_server)
            .field("server_to_client", &server_to_client)
            .field("first_eof", &self.first_eof)
            .field("timers", &self.timers.is_some())
            .field("ended", &self.ended.map(|(termination, _)| termination))
            .finish_non_exhaustive()
    }
}
