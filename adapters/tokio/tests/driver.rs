//! The shared driver's own guarantees, muxplex against muxplex over an
//! in-memory pipe: batching, and that nothing hangs once the connection is
//! gone. Stream and connection lifecycles are in `lifecycle.rs`.

use std::io;
use std::sync::atomic::Ordering;

use muxplex::Delivery;
use muxplex_test_support::Audit;
use muxplex_tokio::{Config, Connection, Error, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

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
    // `Audit` speaks futures-io; the compat layers carry it to and from
    // tokio's traits unchanged.
    let (audited, log) = Audit::new(a.compat());
    let (client, driver) = Connection::new(audited.compat(), Role::Client, Config::default());
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
    // Whether the server's ACK arrived before the driver went decides
    // between Delivered and MaybeDelivered; either is a stream-level loss.
    let err = result.expect_err("driver gone");
    assert!(
        matches!(inner(&err), Some(Error::DriverGone { delivery }) if delivery != Delivery::NotDelivered),
        "{err:?}"
    );
    let err = ours.write_all(b"x").await.expect_err("driver gone");
    assert!(
        matches!(inner(&err), Some(Error::DriverGone { .. })),
        "{err:?}"
    );
    // Connection-level failures lost nothing: safe to retry elsewhere.
    let gone = Error::DriverGone {
        delivery: Delivery::NotDelivered,
    };
    assert_eq!(accepter.await.expect("accept task"), Err(gone));
    assert_eq!(client.open_stream().await.map(|_| ()), Err(gone));
    assert_eq!(client.close().await, Err(gone));
}
