//! `Connection::stats`, `Stream::stats` and the pool's `session_stats`:
//! the core's counters, seen through the adapter after real traffic.

use std::io;

use muxplex_tokio::{Config, Connection, Pool, PoolConfig, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAYLOAD: usize = 100_000;

#[tokio::test]
async fn connection_stats_count_the_traffic() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let client = Connection::spawn(a, Role::Client, Config::default());
    let server = Connection::spawn(b, Role::Server, Config::default());

    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(&vec![9; PAYLOAD]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut accepted = server.accept_stream().await.unwrap();
    let mut received = Vec::new();
    accepted.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), PAYLOAD);
    client.ping().await.unwrap();

    let sent = client.stats();
    let got = server.stats();
    assert_eq!(sent.streams.opened, 1);
    assert_eq!((got.streams.incoming, got.streams.accepted), (1, 1));
    let frames = sent.sent.data.frames;
    assert!(frames >= 1);
    assert_eq!(sent.sent.data.bytes, PAYLOAD as u64 + 12 * frames);
    // Everything the client sent has arrived.
    assert_eq!(got.received.data, sent.sent.data);
    assert_eq!((sent.pings.sent, sent.pings.answered), (1, 1));
    assert_eq!(sent.pings.smoothed_rtt, client.rtt());
    assert!(got.buffered.peak_received > 0);
}

/// A stream's own counters: what it sent, what the peer received and read,
/// and the windows left, while both ends still hold it.
#[tokio::test]
async fn stream_stats_count_the_stream_s_bytes() {
    let (a, b) = tokio::io::duplex(1 << 16);
    let client = Connection::spawn(a, Role::Client, Config::default());
    let server = Connection::spawn(b, Role::Server, Config::default());

    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(&vec![7; PAYLOAD]).await.unwrap();
    let mut accepted = server.accept_stream().await.unwrap();
    let mut received = vec![0; PAYLOAD];
    accepted.read_exact(&mut received).await.unwrap();
    // The peer's grants for what it read come back before the answer.
    server.ping().await.unwrap();
    client.ping().await.unwrap();

    let sent = stream.stats();
    let got = accepted.stats();
    assert_eq!((sent.sent, sent.received), (PAYLOAD as u64, 0));
    assert_eq!((got.sent, got.received), (0, PAYLOAD as u64));
    assert_eq!((sent.unsent, got.buffered), (0, 0));
    assert_eq!(sent.send_window, got.recv_window);
    assert!(sent.send_window > 0);
}

/// A pool of one session over an in-memory service that echoes five bytes.
#[tokio::test]
async fn pool_session_stats_include_the_connection_stats() {
    let connector = || {
        let (a, b) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let server = Connection::spawn(b, Role::Server, Config::default());
            while let Ok(mut stream) = server.accept_stream().await {
                let mut echo = [0u8; 5];
                if stream.read_exact(&mut echo).await.is_ok() {
                    let _ = stream.write_all(&echo).await;
                }
            }
        });
        std::future::ready(io::Result::Ok(a))
    };
    let pool = Pool::new(connector, PoolConfig::default().with_min_sessions(1));
    let mut stream = pool.open_stream().await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut echoed = [0u8; 5];
    stream.read_exact(&mut echoed).await.unwrap();

    let sessions = pool.session_stats();
    assert_eq!(sessions.len(), 1);
    let (info, stats) = sessions[0];
    assert_eq!(info, pool.sessions()[0]);
    let stats = stats.expect("the session is live");
    assert_eq!(stats.streams.opened, 1);
    assert_eq!(stats.sent.data.bytes, 5 + 12);
}
