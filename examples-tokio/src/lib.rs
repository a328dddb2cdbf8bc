//! Runnable examples of muxplex-tokio together with the crates it is most
//! often combined with, and the small pieces they share. Not published.
//!
//! The examples (`examples/`; each one checks what it receives and exits
//! non-zero on a wrong result, so CI runs them as checks):
//!
//! - `http1`: hyper 1.x HTTP/1 served and requested over muxplex streams,
//!   one HTTP/1 connection per stream.
//! - `tls`: muxplex over TLS (tokio-rustls, ring) over TCP.
//! - `port_forward`: a TCP port forwarder carrying every local TCP
//!   connection as one muxplex stream, half-close included.
//! - `websocket`: muxplex over a WebSocket connection, through [`ws::WsIo`].
//! - `nested`: a muxplex session carried inside one stream of another.
//!
//! Run one with `cargo run -p muxplex-examples --example NAME`.
#![forbid(unsafe_code)]

pub mod check;
pub mod ws;
