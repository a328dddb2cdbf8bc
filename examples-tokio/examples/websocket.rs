//! muxplex over a WebSocket: many streams inside one WebSocket connection,
//! the yamux bytes carried in binary messages, as a browser-reachable or
//! proxy-friendly transport.
//!
//! The server accepts TCP on loopback and upgrades it with
//! tokio-tungstenite's WebSocket handshake; the client dials and upgrades
//! with the same crate. Each end wraps its `WebSocketStream` in
//! [`muxplex_examples::ws::WsIo`], a recipe of this crate that turns a
//! WebSocket into `AsyncRead + AsyncWrite`, and runs muxplex over that.
//! The client opens 24 streams at once (one empty, one of 2 MiB), checks
//! every echoed byte, and closes gracefully: the session's end sends the
//! WebSocket Close message, which the server takes as the end of its
//! transport, and it checks that it saw that clean end. A wrong echo or an
//! unclean end makes the example exit non-zero.
//!
//! Run with `cargo run -p muxplex-examples --example websocket`.

use muxplex_examples::check::{
    BoxError, echo_and_close, expect_count, serve_echo, within_time_limit,
};
use muxplex_examples::ws::{MAX_MESSAGE, WsIo};
use muxplex_tokio::{Config, Connection, Role};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const STREAMS: usize = 24;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    within_time_limit(run()).await
}

/// The example; see the top of the file.
async fn run() -> Result<(), BoxError> {
    // WsIo never sends a message larger than MAX_MESSAGE; refusing larger
    // ones bounds what a peer can make us buffer.
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let ws = tokio_tungstenite::accept_async_with_config(tcp, Some(ws_config)).await?;
        let connection = Connection::try_spawn(WsIo::new(ws), Role::Server, Config::default())?;
        serve_echo(connection).await
    });

    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    let url = format!("ws://{address}/muxplex");
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(url.as_str(), tcp, Some(ws_config)).await?;
    println!("client: WebSocket to {url} ({})", response.status());
    let connection = Connection::try_spawn(WsIo::new(ws), Role::Client, Config::default())?;
    echo_and_close(&connection, STREAMS, "over one WebSocket").await?;
    let echoed = server.await??;
    println!("server: echoed {echoed} streams; clean close (GoAway(0), then WebSocket Close)");
    expect_count("streams echoed by the server", echoed, STREAMS)
}
