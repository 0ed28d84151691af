//! lb-health integration tests: fake servers on the in-memory network (paused clock)
//! and a few on loopback.

mod agent;
mod kinds;
mod loopback;
mod passive;
mod scheduler;
mod support;
mod track;
