//! lb-tls integration tests: handshakes between rustls clients and the acceptor, and
//! between the connector and rustls servers, over lb-tcp's in-memory streams.

mod support;

mod accept;
mod client_auth;
mod connect;
mod crt_list;
mod hot;
mod resumption;
mod sni;
