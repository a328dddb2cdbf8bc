//! The shared driver's own guarantees, muxplex against muxplex over an
//! in-memory pipe: batching, and that nothing hangs once the connection is
//! gone. Stream and connection lifecycles are in `lifecycle.rs`.

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use muxplex::Delivery;
use muxplex_test_support::Audit;
use muxplex_tokio::{Config, Connection, Error, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::task::JoinHandle;
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

/// Room for everything the tests send, so a write never waits on the pipe.
const PIPE: usize = 4 * 1024 * 1024;

fn pair() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(PIPE)
}

/// The error inside an I/O error from a stream.
fn inner(err: &io::Error) -> Option<Error> {
    err.get_ref()?.downcast_ref::<Error>().cloned()
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
    let driver: JoinHandle<Result<(), Error>> = tokio::spawn(driver);
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
    assert_eq!(accepter.await.expect("accept task"), Err(gone.clone()));
    assert_eq!(client.open_stream().await.map(|_| ()), Err(gone.clone()));
    assert_eq!(client.close().await, Err(gone.clone()));
    // The driver's outcome, though its task was aborted.
    assert_eq!(client.closed().await, Err(gone));
}

/// What rustls reports for a peer that vanished without a TLS close: an
/// `UnexpectedEof` whose message is what tells the cause.
const TLS_EOF: &str = "peer closed connection without sending TLS close_notify";

/// The cause a layered transport may put under its error.
#[derive(Debug)]
struct Cause;

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cause below")
    }
}

impl std::error::Error for Cause {}

/// The transport's error, with a source of its own.
#[derive(Debug)]
struct TlsEof(Cause);

impl std::fmt::Display for TlsEof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(TLS_EOF)
    }
}

impl std::error::Error for TlsEof {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A transport whose reads fail as a TLS layer's do when the peer vanishes,
/// and whose writes go nowhere.
struct FailingReads;

impl AsyncRead for FailingReads {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            TlsEof(Cause),
        )))
    }
}

impl AsyncWrite for FailingReads {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Issue 14: only the kind of a transport error was kept, so rustls's
/// message became a bare `UnexpectedEof`, and `spawn` dropped the driver's
/// result.
#[tokio::test(flavor = "current_thread")]
async fn a_transport_error_keeps_its_message_and_source_everywhere() {
    let (client, driver) = Connection::new(FailingReads, Role::Client, Config::default());
    let mut stream = client.open_stream().await.expect("open");
    let driver = tokio::spawn(driver);

    // A stream read, through tokio's I/O traits.
    let err = stream
        .read(&mut [0u8; 8])
        .await
        .expect_err("transport failed");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(err.to_string().contains(TLS_EOF), "{err}");
    let Some(Error::Transport { error, .. }) = inner(&err) else {
        panic!("not a transport error: {err:?}");
    };
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    // The chain: our error, the transport's, the transport's own cause.
    let ours = err.get_ref().expect("inner error");
    let transport = ours.source().expect("the transport's error");
    assert_eq!(transport.to_string(), TLS_EOF);
    assert_eq!(
        transport.source().map(|cause| cause.to_string()),
        Some(Cause.to_string())
    );

    // The driver's result, and the same outcome from `closed`.
    let outcome = driver.await.expect("driver task");
    assert!(
        matches!(&outcome, Err(Error::Transport { error, .. }) if error.to_string() == TLS_EOF),
        "{outcome:?}"
    );
    assert_eq!(client.closed().await, outcome.map(|()| unreachable!()));
}

/// Issue 14: a runtime without tokio's timer made the driver's task panic,
/// and the streams then only said the driver was dropped.
#[test]
fn a_runtime_without_a_timer_is_refused_when_the_connection_is_made() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let (a, _b) = pair();
        let error =
            Connection::try_spawn(a, Role::Client, Config::default()).expect_err("no timer");
        assert_eq!(error.kind(), io::ErrorKind::Unsupported);
        assert!(error.to_string().contains("enable_time"), "{error}");

        let (a, _b) = pair();
        let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Connection::new(a, Role::Client, Config::default())
        }));
        let panic = made.map(|_| ()).expect_err("refused at creation");
        let message = panic.downcast_ref::<String>().expect("a message");
        assert!(message.contains("enable_time"), "{message}");
    });
}

/// Bytes written before the driver went (or the transport failed) will
/// never leave: a flush must not report them fine, as the blocking
/// adapter's flush does not.
#[tokio::test(flavor = "current_thread")]
async fn a_flush_after_the_connection_is_lost_fails() {
    let (a, b) = pair();
    let (client, driver) = Connection::new(a, Role::Client, Config::default());
    let driver: JoinHandle<Result<(), Error>> = tokio::spawn(driver);
    let _server = Connection::spawn(b, Role::Server, Config::default());
    let mut ours = client.open_stream().await.expect("open");
    ours.write_all(b"x").await.expect("write");
    ours.flush().await.expect("flush");
    // Queued for the driver, which is gone before it runs again.
    ours.write_all(b"never sent").await.expect("write");
    driver.abort();
    let _ = driver.await;
    let err = ours.flush().await.expect_err("the bytes will never leave");
    assert!(
        matches!(inner(&err), Some(Error::DriverGone { .. })),
        "{err:?}"
    );

    let (client, driver) = Connection::new(FailingReads, Role::Client, Config::default());
    let mut stream = client.open_stream().await.expect("open");
    stream.write_all(b"lost").await.expect("write");
    let _ = tokio::spawn(driver).await;
    let err = stream.flush().await.expect_err("the transport failed");
    assert!(err.to_string().contains(TLS_EOF), "{err}");
}
