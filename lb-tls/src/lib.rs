//! TLS termination and origination for lb, on rustls.
//!
//! This crate is the home of HAProxy's SSL offloading (`bind ... ssl crt ...` and
//! `server ... ssl ...`): an SNI certificate store with hot updates, ALPN, client
//! certificate authentication, session resumption, and TLS towards servers. It stands on
//! `lb-tcp`'s listeners and connectors and is filled in by the lb-tls issue; until then it
//! exports nothing, so that no code can come to depend on a placeholder.
