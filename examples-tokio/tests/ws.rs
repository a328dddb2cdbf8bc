//! The WebSocket recipe `WsIo` against a plain tungstenite peer over an
//! in-memory pipe: how messages become bytes and bytes become messages.

use std::io::IoSlice;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use muxplex_examples::ws::{MAX_MESSAGE, WsIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// A `WsIo` (client side) and the raw WebSocket of its peer, without the
/// HTTP handshake.
async fn pair() -> (WsIo<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(1 << 20);
    let ours = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let peer = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    (WsIo::new(ours), peer)
}

#[tokio::test]
async fn binary_messages_read_as_one_byte_stream_until_close() {
    let (mut io, mut peer) = pair().await;
    for message in [
        Message::binary(&b"ab"[..]),
        Message::binary(Bytes::new()),
        Message::Ping(Bytes::from_static(b"are you there")),
        Message::binary(&b"cdefg"[..]),
    ] {
        peer.send(message).await.unwrap();
    }
    peer.close(None).await.unwrap();
    // Small reads cut messages; empty messages and pings add nothing.
    let mut got = Vec::new();
    let mut buf = [0; 3];
    loop {
        let n = io.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"abcdefg");
}

#[tokio::test]
async fn a_text_message_is_invalid_data() {
    let (mut io, mut peer) = pair().await;
    peer.send(Message::text("hello")).await.unwrap();
    // Closed after, so a reader that skipped the text would see the end
    // rather than wait.
    peer.close(None).await.unwrap();
    let error = io.read(&mut [0; 16]).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn a_vectored_write_is_one_message_of_at_most_max_message() {
    let (mut io, mut peer) = pair().await;
    let small = [
        IoSlice::new(b"head"),
        IoSlice::new(b""),
        IoSlice::new(b"er"),
    ];
    assert_eq!(io.write_vectored(&small).await.unwrap(), 6);
    let big = vec![7; MAX_MESSAGE + 10];
    let parts = [IoSlice::new(b"x"), IoSlice::new(&big)];
    assert_eq!(io.write_vectored(&parts).await.unwrap(), MAX_MESSAGE);
    io.flush().await.unwrap();
    let first = peer.next().await.unwrap().unwrap();
    assert_eq!(first, Message::binary(&b"header"[..]));
    let second = peer.next().await.unwrap().unwrap().into_data();
    assert_eq!(second.len(), MAX_MESSAGE);
    assert_eq!(second[0], b'x');
    assert!(second[1..].iter().all(|&b| b == 7));
}

#[tokio::test]
async fn shutdown_sends_a_close_message() {
    let (mut io, mut peer) = pair().await;
    io.shutdown().await.unwrap();
    // Dropped, so without a Close message the peer sees the pipe end.
    drop(io);
    assert!(matches!(peer.next().await, Some(Ok(Message::Close(_)))));
}

#[tokio::test]
async fn a_muxplex_session_runs_over_ws_io_and_closes_cleanly() {
    use muxplex_examples::check::{echo_and_close, serve_echo};
    use muxplex_tokio::{Config, Connection};

    let (a, b) = tokio::io::duplex(64 << 10);
    let client_ws = WebSocketStream::from_raw_socket(a, Role::Client, None).await;
    let server_ws = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
    let client = Connection::spawn(
        WsIo::new(client_ws),
        muxplex_tokio::Role::Client,
        Config::default(),
    );
    let server = Connection::spawn(
        WsIo::new(server_ws),
        muxplex_tokio::Role::Server,
        Config::default(),
    );
    let server = tokio::spawn(serve_echo(server));
    echo_and_close(&client, 8, "over an in-memory WebSocket")
        .await
        .unwrap();
    assert_eq!(server.await.unwrap().unwrap(), 8);
}
