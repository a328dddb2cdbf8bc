//! The calls every adapter shares (see the smol and blocking twins), and
//! the bounded close and the clean end of `incoming`.

use std::time::{Duration, Instant};

use futures::StreamExt;
use muxplex_tokio::{
    CloseReason, Config, Connection, Delivery, Error, OpenError, Role, StreamError, StreamId, core,
};

#[tokio::test]
async fn same_calls_bounded_close_and_clean_incoming_end() {
    let _names: Option<(
        Delivery,
        OpenError,
        StreamError,
        StreamId,
        core::Config,
        Error,
    )> = None;
    let (a, b) = tokio::io::duplex(64 * 1024);
    // A long default close timeout: only close_within can end this fast.
    let config = Config::default().with_close_timeout(Duration::from_secs(30));
    let client = Connection::spawn(a, Role::Client, config.clone());
    let server = Connection::spawn(b, Role::Server, config);
    assert_eq!(client.role(), Role::Client);
    assert!(!client.is_peer_going_away());
    assert_eq!(client.rtt(), None);
    let held = client.open_stream().await.expect("open");
    held.write_chunk(bytes::Bytes::from_static(b"hi"))
        .await
        .expect("write");
    let mut incoming = server.incoming();
    let accepted = incoming.next().await.expect("a stream").expect("accepted");
    assert_eq!(
        accepted.read_chunk(16).await.expect("read").as_deref(),
        Some(&b"hi"[..])
    );
    let (_read, write) = accepted.into_split();
    assert_eq!(write.id(), held.id());
    let started = Instant::now();
    let reason = client
        .close_within(Duration::from_millis(100))
        .await
        .expect("close");
    assert_eq!(reason, CloseReason::LocalCloseTimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The peer closed cleanly: the incoming streams end, no error.
    assert!(incoming.next().await.is_none());
}
