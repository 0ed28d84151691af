//! Health checking for lb: active checks, agent checks and passive observation.
//!
//! This crate drives the operational state of `lb-core` servers (up, going down, down,
//! going up) from TCP, HTTP, TLS and scripted send/expect checks with HAProxy's rise/fall
//! hysteresis. It is filled in by the lb-health issue; until then it exports nothing, so
//! that no code can come to depend on a placeholder.
