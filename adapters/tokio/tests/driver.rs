//! The shared driver's own guarantees, muxplex against muxplex over an
//! in-memory pipe: batching, drop semantics, and that nothing hangs once
//! the connection is gone.

mod common;

use std::io;
use std::sync::atomic::Ordering;

use common::Audit;
use muxplex_tokio::{CloseReason, Config, Connection, Error, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

/// Room for everything the tests send, so a write never waits on the pipe.
const PIPE: usize = 4 * 1024 * 1024;

fn pair() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(PIPE)
}

/// The error inside an I/O error from a stream.
fn inner(err: &io::Error) -> Option<Error> {
    err.get_ref()?.downcast_ref::<Error>().copied()
}

#[tokio::test(flavor = "current_thread")]
async fn frames_queued_together_leave_in_one_transport_write() {
    let (a, b) = pair();
    let (audited, log) = Audit::new(a);
    let (client, driver) = Connection::new(audited, Role::Client, Config::default());
    let server = Connection::spawn(b, Role::Server, Config::default());
    // On a current-thread runtime the driver first runs when this task
    // waits, so all 100 small frames are queued by then.
    let driver = tokio::spawn(driver);
    let mut streams = Vec::new();
    for i in 0..100u8 {
        let mut stream = client.open_stream().await.expect("open");
        stream.write_all(&[i; 10]).await.expect("write");
        streams.push(stream);
    }
    for i in 0..100u8 {
        let mut stream = server.accept_stream().await.expect("accept");
        let mut buf = [0u8; 10];
        stream.read_exact(&mut buf).await.expect("read");
        assert_eq!(buf, [i; 10]);
    }
    assert_eq!(log.data_frames.load(Ordering::Relaxed), 100);
    assert_eq!(
        log.writes.load(Ordering::Relaxed),
        1,
        "one write for 100 frames"
    );
    drop(streams);
    client.close().await.expect("close");
    driver.await.expect("driver task").expect("driver");
}

#[tokio::test]
async fn dropping_an_unfinished_stream_resets_it() {
    let (a, b) = pair();
    let client = Connection::spawn(a, Role::Client, Config::default());
    let server = Connection::spawn(b, Role::Server, Config::default());
    let mut ours = client.open_stream().await.expect("open");
    ours.write_all(b"hi").await.expect("write");
    let mut theirs = server.accept_stream().await.expect("accept");
    let mut buf = [0u8; 2];
    theirs.read_exact(&mut buf).await.expect("read");
    drop(ours);
    let err = theirs.read(&mut buf).await.expect_err("reset");
    assert_eq!(
        inner(&err),
        Some(Error::Reset {
            code: 0,
            by_peer: true,
            delivery: muxplex::Delivery::Delivered,
        })
    );
}

#[tokio::test]
async fn dropping_a_stream_finished_and_read_to_the_end_is_quiet() {
    let (a, b) = pair();
    let (audited, log) = Audit::new(a);
    let (client, driver) = Connection::new(audited, Role::Client, Config::default());
    tokio::spawn(driver);
    let server = Connection::spawn(b, Role::Server, Config::default());
    let mut ours = client.open_stream().await.expect("open");
    ours.write_all(b"hi").await.expect("write");
    ours.shutdown().await.expect("finish");
    let mut theirs = server.accept_stream().await.expect("accept");
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).await.expect("read");
    theirs
        .write_all(b"bye")
        .await
        .expect("answer after our FIN");
    theirs.shutdown().await.expect("finish");
    let mut answer = Vec::new();
    ours.read_to_end(&mut answer).await.expect("read answer");
    assert_eq!((&got[..], &answer[..]), (&b"hi"[..], &b"bye"[..]));
    drop(ours);
    // A reset from that drop would be queued ahead of the next stream's
    // first frame, so once that frame has arrived the count is final.
    let mut next = client.open_stream().await.expect("open");
    next.write_all(b"n").await.expect("write");
    let mut next_theirs = server.accept_stream().await.expect("accept");
    next_theirs.read_exact(&mut [0u8; 1]).await.expect("read");
    assert_eq!(log.rst_frames.load(Ordering::Relaxed), 0);
    // Dropping the unfinished one does reset it: the audit can see one.
    drop(next);
    let err = next_theirs.read(&mut [0u8; 1]).await.expect_err("reset");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(log.rst_frames.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_dropped_driver_fails_every_operation_instead_of_hanging() {
    let (a, b) = pair();
    let (client, driver) = Connection::new(a, Role::Client, Config::default());
    let driver: JoinHandle<io::Result<()>> = tokio::spawn(driver);
    let server = Connection::spawn(b, Role::Server, Config::default());
    let mut ours = client.open_stream().await.expect("open");
    ours.write_all(b"x").await.expect("write");
    let _theirs = server.accept_stream().await.expect("accept");
    let reader = tokio::spawn(async move {
        let result = ours.read(&mut [0u8; 8]).await;
        (ours, result)
    });
    let accepter = tokio::spawn({
        let client = client.clone();
        async move { client.accept_stream().await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    driver.abort();
    let _ = driver.await;

    let (mut ours, result) = reader.await.expect("reader task");
    assert_eq!(
        inner(&result.expect_err("driver gone")),
        Some(Error::DriverGone)
    );
    let err = ours.write_all(b"x").await.expect_err("driver gone");
    assert_eq!(inner(&err), Some(Error::DriverGone));
    assert_eq!(accepter.await.expect("accept task"), Err(Error::DriverGone));
    assert_eq!(
        client.open_stream().await.map(|_| ()),
        Err(Error::DriverGone)
    );
    assert_eq!(client.close().await, Err(Error::DriverGone));
}

#[tokio::test]
async fn dropping_every_handle_closes_the_connection() {
    let (a, b) = pair();
    let (client, driver) = Connection::new(a, Role::Client, Config::default());
    let driver = tokio::spawn(driver);
    let server = Connection::spawn(b, Role::Server, Config::default());
    let stream = client.open_stream().await.expect("open");
    let other = client.clone();
    drop(client);
    drop(stream);
    // One handle left: still open.
    assert!(!other.is_closed());
    drop(other);
    // Nobody can use the session any more: it closes and the driver ends.
    driver.await.expect("driver task").expect("driver");
    let err = server.accept_stream().await.expect_err("peer is gone");
    assert_eq!(err, Error::Closed(CloseReason::TransportClosed));
}
