//! Interoperability with the `yamux` crate over loopback TCP, with muxplex
//! as the client and as the server, written once for every async runtime
//! and every version of the crate we support: 0.14 (current) and 0.13
//! ([`Yamux014`], [`Yamux013`]). Each adapter's `tests/interop.rs`
//! implements [`Runtime`] for its runtime and runs these scenarios under
//! it against both versions.
//!
//! The yamux crate speaks futures-io, so both ends are used through the
//! same generic routines; a runtime whose streams speak other traits hands
//! them over through a compat layer. The peer's connection runs in a task
//! that drives it by polling for inbound streams, opens streams on request
//! and hands inbound ones to the test. Window auto-tuning is always on in
//! both versions (bounded by `max_connection_receive_window`, 1 GiB by
//! default); there is no separate knob to turn on.
//!
//! Every byte muxplex writes passes through [`Audit`], so each scenario
//! also checks that no Data frame exceeded our limit or the 1 MiB the peer
//! accepts.

mod peer;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_io::{AsyncRead, AsyncWrite};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use muxplex::{CloseReason, Config, Delivery, ResetBy, Role};
use muxplex_async::Error;

use crate::{Audit, AuditLog, assert_frames_within, check_pattern, fill_pattern};

pub use peer::{Peer, Yamux, Yamux013, Yamux014};

/// A spawned task's output, once it is done. A panic in the task fails the
/// test that awaits it.
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the scenarios need from a runtime and its muxplex adapter.
pub trait Runtime: 'static {
    /// The adapter's connection handle.
    type Connection: Clone + Send + Sync + 'static;
    /// The adapter's stream, as futures-io.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The runtime's TCP stream, as futures-io.
    type Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Runs `future` as a task of its own.
    fn spawn<F>(future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// The runtime's socket over a connected, non-blocking std one.
    fn socket(tcp: std::net::TcpStream) -> Self::Socket;

    /// Our end of a connection over `transport`, and its driver running as
    /// a task.
    fn connect(
        transport: Audit<Self::Socket>,
        role: Role,
        config: Config,
    ) -> (Self::Connection, Task<io::Result<()>>);

    /// `Connection::open_stream`.
    fn open_stream(
        connection: &Self::Connection,
    ) -> impl Future<Output = Result<Self::Stream, Error>> + Send + '_;

    /// `Connection::accept_stream`.
    fn accept_stream(
        connection: &Self::Connection,
    ) -> impl Future<Output = Result<Self::Stream, Error>> + Send + '_;

    /// `Connection::close`.
    fn close(
        connection: &Self::Connection,
    ) -> impl Future<Output = Result<CloseReason, Error>> + Send + '_;

    /// `Connection::close_reason`.
    fn close_reason(connection: &Self::Connection) -> Option<CloseReason>;

    /// `Stream::reset`.
    fn reset(stream: &mut Self::Stream, code: u32);
}

// ---------------------------------------------------------------------------
// Setup and shared routines.

struct Setup<R: Runtime, Y: Yamux> {
    ours: R::Connection,
    driver: Task<io::Result<()>>,
    log: Arc<AuditLog>,
    theirs: Peer<Y::Stream>,
}

/// A loopback TCP connection with muxplex at one end (in `our_role`) and
/// the yamux crate (version `Y`) at the other.
async fn setup<R: Runtime, Y: Yamux>(our_role: Role, config: Config) -> Setup<R, Y> {
    // Connecting on loopback completes in the kernel's backlog, so the
    // blocking std calls return at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dialed = std::net::TcpStream::connect(listener.local_addr().expect("address"));
    let dialed = dialed.expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let (our_socket, their_socket) = match our_role {
        Role::Client => (dialed, accepted),
        _ => (accepted, dialed),
    };
    for socket in [&our_socket, &their_socket] {
        socket.set_nodelay(true).expect("nodelay");
        socket.set_nonblocking(true).expect("non-blocking");
    }
    let (audited, log) = Audit::new(R::socket(our_socket));
    let (ours, driver) = R::connect(audited, our_role, config);
    Setup {
        ours,
        driver,
        log,
        theirs: Y::spawn::<R>(R::socket(their_socket), our_role != Role::Client),
    }
}

/// Echoes everything, then finishes.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> io::Result<()> {
    let (mut reader, mut writer) = futures_lite::io::split(stream);
    futures_lite::io::copy(&mut reader, &mut writer).await?;
    writer.close().await
}

/// Accepts every stream on our side and echoes it, until accepting fails.
fn our_echo_server<R: Runtime>(connection: R::Connection) -> Task<()> {
    R::spawn(async move {
        let mut echoes = Vec::new();
        while let Ok(stream) = R::accept_stream(&connection).await {
            echoes.push(R::spawn(echo(stream)));
        }
        for echo in echoes {
            echo.await.expect("our echo succeeds");
        }
    })
}

/// Writes `len` pattern bytes and finishes, while reading the echo back and
/// checking it byte for byte. Returns how many bytes came back.
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(stream: S, seed: u64, len: u64) -> u64 {
    let (mut reader, mut writer) = futures_lite::io::split(stream);
    let write = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0;
        while offset < len {
            let n = (len - offset).min(buf.len() as u64) as usize;
            fill_pattern(seed, offset, &mut buf[..n]);
            writer.write_all(&buf[..n]).await.expect("write");
            offset += n as u64;
        }
        writer.close().await.expect("finish");
    };
    let read = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0u64;
        loop {
            let n = reader.read(&mut buf).await.expect("read");
            if n == 0 {
                return offset;
            }
            check_pattern(seed, offset, &buf[..n]);
            offset += n as u64;
        }
    };
    let ((), received) = futures_lite::future::zip(write, read).await;
    received
}

/// A stream of ours and the peer's end of it, opened by `opener_is_us`'s
/// side and announced with one byte. Never empty: the yamux crate (0.13
/// and 0.14) sends the FIN of a stream closed before anything was written without a
/// SYN, so no peer learns of that stream and its opener waits forever.
async fn stream_pair<R: Runtime, Y: Yamux>(
    setup: &Setup<R, Y>,
    opener_is_us: bool,
) -> (R::Stream, Y::Stream) {
    let mut first = [0u8; 1];
    if opener_is_us {
        let mut ours = R::open_stream(&setup.ours).await.expect("open");
        ours.write_all(b"x").await.expect("first byte opens");
        let mut theirs = setup.theirs.accept().await;
        theirs.read_exact(&mut first).await.expect("first byte");
        (ours, theirs)
    } else {
        let mut theirs = setup.theirs.open().await;
        theirs.write_all(b"x").await.expect("first byte opens");
        let mut ours = R::accept_stream(&setup.ours).await.expect("accept");
        ours.read_exact(&mut first).await.expect("first byte");
        (ours, theirs)
    }
}

// ---------------------------------------------------------------------------
// Many concurrent streams.

const MANY_STREAMS: u64 = 200;

/// Stream `i` carries a size that differs per stream, from empty to several
/// frames, so frame boundaries fall everywhere.
fn many_len(i: u64) -> u64 {
    (i * 7919) % (100 * 1024)
}

/// Awaits each stream's round trip and checks its length.
async fn run_all(streams: Vec<(u64, u64, Task<u64>)>) {
    for (i, len, task) in streams {
        assert_eq!(task.await, len, "stream {i} echoed short");
    }
}

/// We open 200 streams of assorted sizes at once; the peer echoes them.
pub async fn many_concurrent_streams_our_client_their_server<R: Runtime, Y: Yamux>() {
    let setup = setup::<R, Y>(Role::Client, Config::default()).await;
    let their_server = setup.theirs.echo_all_inbound::<R>();
    let mut streams = Vec::new();
    for i in 0..MANY_STREAMS {
        let stream = R::open_stream(&setup.ours).await.expect("open");
        let len = many_len(i);
        streams.push((i, len, R::spawn(round_trip(stream, i, len))));
    }
    run_all(streams).await;
    let reason = R::close(&setup.ours).await.expect("close");
    assert_eq!(reason, CloseReason::LocalClose);
    setup.driver.await.expect("driver");
    // Their server ends after our GoAway.
    their_server.await;
    assert_frames_within(&setup.log, Config::default().max_frame_size);
}

/// The peer opens 200 streams of assorted sizes at once; we echo them.
pub async fn many_concurrent_streams_their_client_our_server<R: Runtime, Y: Yamux>() {
    let setup = setup::<R, Y>(Role::Server, Config::default()).await;
    let server = our_echo_server::<R>(setup.ours.clone());
    // Never empty: see `stream_pair`.
    let len = |i| many_len(i).max(1);
    let mut streams = Vec::new();
    for i in 0..MANY_STREAMS {
        let stream = setup.theirs.open().await;
        streams.push((i, len(i), R::spawn(round_trip(stream, i, len(i)))));
    }
    run_all(streams).await;
    setup.theirs.close().await;
    // Our server ends when the peer goes away.
    server.await;
    setup.driver.await.expect("driver");
    assert_frames_within(&setup.log, Config::default().max_frame_size);
}

// ---------------------------------------------------------------------------
// One large stream.

const LARGE: u64 = 64 * 1024 * 1024;

/// 64 MiB on one stream we open, echoed by the peer.
pub async fn large_transfer_our_client_their_server<R: Runtime, Y: Yamux>() {
    let setup = setup::<R, Y>(Role::Client, Config::default()).await;
    let their_server = setup.theirs.echo_all_inbound::<R>();
    let stream = R::open_stream(&setup.ours).await.expect("open");
    assert_eq!(round_trip(stream, 1, LARGE).await, LARGE);
    R::close(&setup.ours).await.expect("close");
    setup.driver.await.expect("driver");
    their_server.await;
    assert_frames_within(&setup.log, Config::default().max_frame_size);
    // 64 MiB in frames of at most 16 KiB: at least 4096 of them.
    assert!(setup.log.data_frames.load(Ordering::Relaxed) >= LARGE / (16 * 1024));
}

/// 64 MiB on one stream the peer opens, echoed by us, with muxplex's
/// largest frame size: the largest the peer takes.
pub async fn large_transfer_their_client_our_server_with_largest_frames<R: Runtime, Y: Yamux>() {
    let config = Config::default().with_max_frame_size(muxplex::MAX_FRAME_SIZE_LIMIT);
    let setup = setup::<R, Y>(Role::Server, config.clone()).await;
    // One write of a whole initial window lands in the session at once, so
    // it leaves as one 256 KiB frame, far above the default 16 KiB, and the
    // peer takes it.
    let mut ours = R::open_stream(&setup.ours).await.expect("open");
    let window = vec![9u8; muxplex::INITIAL_STREAM_WINDOW as usize];
    ours.write_all(&window).await.expect("write a window");
    ours.close().await.expect("finish");
    let mut theirs = setup.theirs.accept().await;
    let mut received = Vec::new();
    theirs.read_to_end(&mut received).await.expect("peer reads");
    assert!(received == window, "the peer received other bytes");
    let largest = setup.log.max_data_len.load(Ordering::Relaxed);
    assert_eq!(largest, muxplex::INITIAL_STREAM_WINDOW);
    theirs.close().await.expect("peer finishes");
    assert_eq!(ours.read(&mut [0u8; 1]).await.expect("our end"), 0);
    drop((ours, theirs));

    let server = our_echo_server::<R>(setup.ours.clone());
    let stream = setup.theirs.open().await;
    assert_eq!(round_trip(stream, 2, LARGE).await, LARGE);
    setup.theirs.close().await;
    server.await;
    setup.driver.await.expect("driver");
    assert_frames_within(&setup.log, config.max_frame_size);
}

// ---------------------------------------------------------------------------
// Half-close.

/// The side that finishes first keeps reading: it sends a request and
/// finishes, then the other side reads to the end and only then answers
/// and finishes too.
async fn request_then_answer<A, B>(mut requester: A, mut answerer: B)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let request = vec![7u8; 100_000];
    requester.write_all(&request).await.expect("request");
    requester.close().await.expect("half-close");
    // Writing after finishing is refused locally.
    assert!(requester.write_all(b"more").await.is_err());

    let mut received = Vec::new();
    answerer
        .read_to_end(&mut received)
        .await
        .expect("read request");
    assert_eq!(received, request);
    let answer = format!("got {} bytes", received.len());
    answerer
        .write_all(answer.as_bytes())
        .await
        .expect("answer after the peer's FIN");
    answerer.close().await.expect("finish answer");

    let mut answered = String::new();
    requester
        .read_to_string(&mut answered)
        .await
        .expect("read the answer after our FIN");
    assert_eq!(answered, "got 100000 bytes");
}

/// With muxplex in `our_role`, on streams either side opened, each side
/// half-closes first in turn and still reads the other's answer.
pub async fn half_close_both_ways<R: Runtime, Y: Yamux>(our_role: Role) {
    let setup = setup::<R, Y>(our_role, Config::default()).await;
    for opener_is_us in [true, false] {
        let (ours, theirs) = stream_pair(&setup, opener_is_us).await;
        request_then_answer(ours, theirs).await;
        let (ours, theirs) = stream_pair(&setup, opener_is_us).await;
        request_then_answer(theirs, ours).await;
    }
    R::close(&setup.ours).await.expect("close");
    assert_eq!(
        setup.log.rst_frames.load(Ordering::Relaxed),
        0,
        "{our_role:?} against yamux {}",
        Y::VERSION
    );
}

// ---------------------------------------------------------------------------
// Reset.

/// We reset a stream the peer is using: the yamux crate reports a reset as
/// the end of input on reads, and refuses further writes.
async fn we_reset<R: Runtime, S: AsyncRead + AsyncWrite + Unpin>(
    mut ours: R::Stream,
    mut theirs: S,
) {
    ours.write_all(b"before reset").await.expect("write");
    let mut buf = [0u8; 12];
    theirs.read_exact(&mut buf).await.expect("peer reads");
    R::reset(&mut ours, 42);
    // Only a reset (we sent no FIN) ends their input here.
    assert_eq!(theirs.read(&mut buf).await.expect("read after reset"), 0);
    let err = theirs
        .write_all(b"after reset")
        .await
        .expect_err("the peer may not write to a reset stream");
    assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    let err = ours.write_all(b"x").await.expect_err("reset locally");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

/// The peer resets (the yamux crate does so when it drops a stream it did
/// not close): a read waiting on our side fails with the reset.
///
/// A stream the peer opened is ours to have delivered. One we opened is
/// reported `NotDelivered` although the peer's application read from it:
/// the yamux crate acknowledges a stream only with its first frame (a
/// write or a window update), and reading one byte sent neither before its
/// RST. This is the weakening the `Delivery` docs describe for lazily
/// acknowledging peers.
async fn they_reset<R: Runtime, S>(mut ours: R::Stream, theirs: S, opener_is_us: bool) {
    let reader = R::spawn(async move {
        let result = ours.read(&mut [0u8; 4]).await;
        (ours, result)
    });
    // Let the read start waiting first, where the runtime allows.
    futures_lite::future::yield_now().await;
    drop(theirs);
    let (mut ours, result) = reader.await;
    let err = result.expect_err("a reset is an error, not an end of stream");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .cloned();
    let delivery = match opener_is_us {
        true => Delivery::NotDelivered,
        false => Delivery::Delivered,
    };
    assert_eq!(
        inner,
        Some(Error::Reset {
            by: ResetBy::Peer { code: 0 },
            delivery,
        })
    );
    let err = ours.write_all(b"x").await.expect_err("reset by the peer");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

/// With muxplex in `our_role`, on streams either side opened, we reset one
/// and the peer resets another; the connection outlives them.
pub async fn reset_both_ways<R: Runtime, Y: Yamux>(our_role: Role) {
    let setup = setup::<R, Y>(our_role, Config::default()).await;
    for opener_is_us in [true, false] {
        let (ours, theirs) = stream_pair(&setup, opener_is_us).await;
        we_reset::<R, _>(ours, theirs).await;
        let (ours, theirs) = stream_pair(&setup, opener_is_us).await;
        they_reset::<R, _>(ours, theirs, opener_is_us).await;
    }
    // The connection outlives its streams' resets.
    let their_server = setup.theirs.echo_all_inbound::<R>();
    let stream = R::open_stream(&setup.ours)
        .await
        .expect("open after resets");
    assert_eq!(round_trip(stream, 3, 1000).await, 1000);
    assert_eq!(R::close(&setup.ours).await, Ok(CloseReason::LocalClose));
    their_server.await;
    // Only our two explicit resets sent an RST.
    assert_eq!(
        setup.log.rst_frames.load(Ordering::Relaxed),
        2,
        "{our_role:?} against yamux {}",
        Y::VERSION
    );
}

// ---------------------------------------------------------------------------
// Closing the connection.

/// With muxplex in `our_role`, we close: a stream still open when the close
/// starts may finish, and the peer sees a clean end.
pub async fn we_close_gracefully<R: Runtime, Y: Yamux>(our_role: Role) {
    let setup = setup::<R, Y>(our_role, Config::default()).await;
    // A stream over before the close starts.
    let (ours, theirs) = stream_pair(&setup, true).await;
    let their_echo = R::spawn(echo(theirs));
    assert_eq!(round_trip(ours, 5, 10_000).await, 10_000);
    their_echo.await.expect("their echo succeeds");
    // A stream still open when the close starts may finish.
    let (ours, theirs) = stream_pair(&setup, true).await;
    let closing = R::spawn({
        let ours = setup.ours.clone();
        async move { R::close(&ours).await }
    });
    request_then_answer(ours, theirs).await;
    assert_eq!(closing.await, Ok(CloseReason::LocalClose));
    // The driver sent GoAway(0), shut the transport down and ended.
    setup.driver.await.expect("driver");
    assert_eq!(setup.log.goaway_frames.load(Ordering::Relaxed), 1);
    assert_eq!(setup.log.rst_frames.load(Ordering::Relaxed), 0);
    // The peer took it as a normal end, not an error.
    assert!(setup.theirs.task.await.is_ok());
    let err = R::open_stream(&setup.ours)
        .await
        .map(|_| ())
        .expect_err("closed");
    assert_eq!(
        err,
        Error::Closed {
            reason: CloseReason::LocalClose,
            delivery: Delivery::NotDelivered,
        }
    );
}

/// With muxplex in `our_role`, the peer closes after a stream we echoed:
/// our accept loop and driver end without error.
pub async fn they_close_gracefully<R: Runtime, Y: Yamux>(our_role: Role) {
    let setup = setup::<R, Y>(our_role, Config::default()).await;
    let server = our_echo_server::<R>(setup.ours.clone());
    let stream = setup.theirs.open().await;
    assert_eq!(round_trip(stream, 6, 10_000).await, 10_000);
    setup.theirs.close().await;
    // Our accept loop ended and the driver finished without error.
    server.await;
    setup.driver.await.expect("driver");
    // Their GoAway(0) let streams drain; their EOF then ended the session,
    // which is their clean close.
    assert_eq!(
        R::close_reason(&setup.ours),
        Some(CloseReason::PeerGoAway { code: 0 })
    );
    let err = R::accept_stream(&setup.ours)
        .await
        .map(|_| ())
        .expect_err("closed");
    assert!(matches!(err, Error::Closed { .. }), "{err:?}");
    assert!(setup.theirs.task.await.is_ok());
}

/// With muxplex in `our_role`, the peer vanishes without a GoAway: a
/// waiting read and accept fail at once, and so do later writes.
pub async fn lost_connection_fails_pending_operations_at_once<R: Runtime, Y: Yamux>(
    our_role: Role,
) {
    let setup = setup::<R, Y>(our_role, Config::default()).await;
    let (mut ours, _theirs) = stream_pair(&setup, true).await;
    let reader = R::spawn(async move {
        let mut buf = [0u8; 16];
        let result = ours.read(&mut buf).await;
        (ours, result)
    });
    let accepter = R::spawn({
        let ours = setup.ours.clone();
        async move { R::accept_stream(&ours).await.map(|_| ()) }
    });
    futures_lite::future::yield_now().await;
    setup.theirs.vanish().await;
    let (mut ours, result) = reader.await;
    // Whether the kernel reports the vanished peer as an end of file or as
    // a TCP reset depends on what was left unread in its socket.
    let lost = [
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::ConnectionReset,
    ];
    let err = result.expect_err("the connection is gone");
    assert!(lost.contains(&err.kind()), "{err:?}");
    let err = ours
        .write_all(b"x")
        .await
        .expect_err("the connection is gone");
    assert!(lost.contains(&err.kind()), "{err:?}");
    assert!(accepter.await.is_err());
    // An end of file, or a reset: a failed transport, which the session
    // tells apart.
    assert!(
        matches!(
            R::close_reason(&setup.ours),
            Some(CloseReason::TransportClosed | CloseReason::TransportFailed)
        ),
        "{:?}",
        R::close_reason(&setup.ours)
    );
}
