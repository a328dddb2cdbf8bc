//! Interoperability with the `yamux` crate (0.13) over loopback TCP, with
//! muxplex as the client and as the server.
//!
//! The peer runs in its own task: it drives its connection by polling for
//! inbound streams, opens streams on request and hands inbound ones to the
//! test. Its streams speak futures-io; `tokio_util::compat` turns them into
//! tokio I/O so both ends are used through the same code.
//!
//! Every byte muxplex writes passes through `muxplex_test_support::Audit`
//! (shared with the smol adapter's interop suite), which parses the
//! frames and records the largest Data payload, so the tests also prove we
//! never send a frame the peer could reject.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use muxplex_test_support::{Audit, AuditLog, assert_frames_within, check_pattern, fill_pattern};
use muxplex_tokio::{CloseReason, Config, Connection, Error, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

// ---------------------------------------------------------------------------
// Their end: a yamux connection in a task.

type TheirStream = Compat<yamux::Stream>;

enum Command {
    Open(oneshot::Sender<Result<yamux::Stream, yamux::ConnectionError>>),
    Close(oneshot::Sender<Result<(), yamux::ConnectionError>>),
}

struct Peer {
    commands: mpsc::UnboundedSender<Command>,
    inbound: mpsc::UnboundedReceiver<yamux::Stream>,
    task: JoinHandle<Result<(), yamux::ConnectionError>>,
}

impl Peer {
    fn spawn(socket: TcpStream, mode: yamux::Mode) -> Peer {
        let mut connection =
            yamux::Connection::new(socket.compat(), yamux::Config::default(), mode);
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        let (inbound_tx, inbound) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut opens: VecDeque<oneshot::Sender<_>> = VecDeque::new();
            let mut closing: Option<oneshot::Sender<_>> = None;
            let mut commands_open = true;
            poll_fn(|cx| {
                loop {
                    while commands_open && closing.is_none() {
                        match command_rx.poll_recv(cx) {
                            Poll::Ready(Some(Command::Open(reply))) => opens.push_back(reply),
                            Poll::Ready(Some(Command::Close(reply))) => closing = Some(reply),
                            Poll::Ready(None) => commands_open = false,
                            Poll::Pending => break,
                        }
                    }
                    if closing.is_some() {
                        let result = std::task::ready!(connection.poll_close(cx));
                        let _ = closing.take().expect("checked").send(result);
                        return Poll::Ready(Ok(()));
                    }
                    while !opens.is_empty() {
                        match connection.poll_new_outbound(cx) {
                            Poll::Ready(result) => {
                                let _ = opens.pop_front().expect("checked").send(result);
                            }
                            Poll::Pending => break,
                        }
                    }
                    // Polling for inbound streams is what drives the
                    // connection's I/O.
                    match connection.poll_next_inbound(cx) {
                        Poll::Ready(Some(Ok(stream))) => {
                            let _ = inbound_tx.send(stream);
                        }
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                        Poll::Ready(None) => return Poll::Ready(Ok(())),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            })
            .await
        });
        Peer {
            commands,
            inbound,
            task,
        }
    }

    async fn open(&self) -> TheirStream {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Open(reply))
            .expect("peer task alive");
        answer
            .await
            .expect("peer task answers")
            .expect("peer opens a stream")
            .compat()
    }

    async fn accept(&mut self) -> TheirStream {
        self.inbound
            .recv()
            .await
            .expect("peer delivers an inbound stream")
            .compat()
    }

    /// Hands every inbound stream to an echo task.
    fn echo_all_inbound(mut self) -> (mpsc::UnboundedSender<Command>, JoinHandle<()>) {
        let server = tokio::spawn(async move {
            let mut echoes = JoinSet::new();
            while let Some(stream) = self.inbound.recv().await {
                echoes.spawn(echo(stream.compat()));
            }
            while let Some(result) = echoes.join_next().await {
                result.expect("echo task").expect("echo succeeds");
            }
        });
        (self.commands, server)
    }

    async fn close(&self) {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Close(reply))
            .expect("peer task alive");
        answer
            .await
            .expect("peer task answers")
            .expect("peer closes cleanly");
    }
}

// ---------------------------------------------------------------------------
// Setup and shared routines.

struct Setup {
    ours: Connection,
    driver: JoinHandle<io::Result<()>>,
    log: Arc<AuditLog>,
    theirs: Peer,
}

/// A loopback TCP connection with muxplex at one end (in `our_role`) and
/// the yamux crate at the other.
async fn setup(our_role: Role, config: Config) -> Setup {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (dialed, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
    let dialed = dialed.expect("connect");
    let (accepted, _) = accepted.expect("accept");
    let (our_socket, their_socket, their_mode) = match our_role {
        Role::Client => (dialed, accepted, yamux::Mode::Server),
        _ => (accepted, dialed, yamux::Mode::Client),
    };
    our_socket.set_nodelay(true).expect("nodelay");
    their_socket.set_nodelay(true).expect("nodelay");
    let (audited, log) = Audit::new(our_socket);
    let (ours, driver) = Connection::new(audited, our_role, config);
    Setup {
        ours,
        driver: tokio::spawn(driver),
        log,
        theirs: Peer::spawn(their_socket, their_mode),
    }
}

/// Echoes everything, then finishes.
async fn echo<S: AsyncRead + AsyncWrite>(stream: S) -> io::Result<()> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    tokio::io::copy(&mut reader, &mut writer).await?;
    writer.shutdown().await
}

/// Accepts every stream on our side and echoes it.
fn our_echo_server(connection: Connection) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut echoes = JoinSet::new();
        while let Ok(stream) = connection.accept_stream().await {
            echoes.spawn(echo(stream));
        }
        while let Some(result) = echoes.join_next().await {
            result.expect("echo task").expect("echo succeeds");
        }
    })
}

/// Writes `len` pattern bytes and finishes, while reading the echo back and
/// checking it byte for byte. Returns how many bytes came back.
async fn round_trip<S: AsyncRead + AsyncWrite>(stream: S, seed: u64, len: u64) -> u64 {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let write = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0;
        while offset < len {
            let n = (len - offset).min(buf.len() as u64) as usize;
            fill_pattern(seed, offset, &mut buf[..n]);
            writer.write_all(&buf[..n]).await.expect("write");
            offset += n as u64;
        }
        writer.shutdown().await.expect("finish");
        writer
    };
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0u64;
        loop {
            let n = reader.read(&mut buf).await.expect("read");
            if n == 0 {
                break;
            }
            check_pattern(seed, offset, &buf[..n]);
            offset += n as u64;
        }
        (reader, offset)
    };
    let (writer, (reader, received)) = tokio::join!(write, read);
    // Over in both directions: dropping it now must not reset anything.
    drop((reader, writer));
    received
}

// ---------------------------------------------------------------------------
// Many concurrent streams.

const MANY_STREAMS: u64 = 200;

/// Stream `i` carries a size that differs per stream, from empty to several
/// frames, so frame boundaries fall everywhere.
fn many_len(i: u64) -> u64 {
    (i * 7919) % (100 * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_our_client_their_server() {
    let setup = setup(Role::Client, Config::default()).await;
    let (_commands, their_server) = setup.theirs.echo_all_inbound();
    let mut streams = JoinSet::new();
    for i in 0..MANY_STREAMS {
        let stream = setup.ours.open_stream().await.expect("open");
        streams.spawn(async move { (i, round_trip(stream, i, many_len(i)).await) });
    }
    while let Some(result) = streams.join_next().await {
        let (i, received) = result.expect("stream task");
        assert_eq!(received, many_len(i), "stream {i} echoed short");
    }
    setup.ours.close().await.expect("close");
    setup.driver.await.expect("driver task").expect("driver");
    their_server
        .await
        .expect("their server ends after our GoAway");
    assert_frames_within(&setup.log, Config::default().max_frame_size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_their_client_our_server() {
    let setup = setup(Role::Server, Config::default()).await;
    let server = our_echo_server(setup.ours.clone());
    let theirs = Arc::new(setup.theirs);
    // Not empty: the yamux crate (0.13) sends the FIN of a stream closed
    // before it wrote anything without the SYN, so no peer ever learns of
    // that stream (muxplex drops frames for unknown ids, as the spec
    // says) and its opener waits for an answer forever.
    let len = |i| many_len(i).max(1);
    let mut streams = JoinSet::new();
    for i in 0..MANY_STREAMS {
        let stream = theirs.open().await;
        streams.spawn(async move { (i, round_trip(stream, i, len(i)).await) });
    }
    while let Some(result) = streams.join_next().await {
        let (i, received) = result.expect("stream task");
        assert_eq!(received, len(i), "stream {i} echoed short");
    }
    theirs.close().await;
    server
        .await
        .expect("our server ends when the peer goes away");
    setup.driver.await.expect("driver task").expect("driver");
    assert_frames_within(&setup.log, Config::default().max_frame_size);
}

// ---------------------------------------------------------------------------
// One large stream.

const LARGE: u64 = 64 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfer_our_client_their_server() {
    let setup = setup(Role::Client, Config::default()).await;
    let (_commands, their_server) = setup.theirs.echo_all_inbound();
    let stream = setup.ours.open_stream().await.expect("open");
    assert_eq!(round_trip(stream, 1, LARGE).await, LARGE);
    setup.ours.close().await.expect("close");
    setup.driver.await.expect("driver task").expect("driver");
    their_server.await.expect("their server ends");
    assert_frames_within(&setup.log, Config::default().max_frame_size);
    // 64 MiB in 16 KiB frames: at least 4096 of them.
    assert!(setup.log.data_frames.load(Ordering::Relaxed) >= LARGE / (16 * 1024));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfer_their_client_our_server_with_largest_frames() {
    // The largest frame size muxplex allows is the largest the peer takes.
    let config = Config::default().with_max_frame_size(muxplex::MAX_FRAME_SIZE_LIMIT);
    let mut setup = setup(Role::Server, config.clone()).await;

    // One write of a whole initial window lands in the session at once, so
    // its first frame is a full 256 KiB: far beyond the default 16 KiB, and
    // accepted by the peer.
    let mut ours = setup.ours.open_stream().await.expect("open");
    let window = vec![9u8; muxplex::INITIAL_STREAM_WINDOW as usize];
    ours.write_all(&window).await.expect("write a window");
    ours.shutdown().await.expect("finish");
    let mut theirs = setup.theirs.accept().await;
    let mut received = Vec::new();
    theirs.read_to_end(&mut received).await.expect("peer reads");
    assert!(received == window, "the peer received other bytes");
    let largest = setup.log.max_data_len.load(Ordering::Relaxed);
    assert_eq!(largest, muxplex::INITIAL_STREAM_WINDOW);
    drop((ours, theirs));

    let server = our_echo_server(setup.ours.clone());
    let stream = setup.theirs.open().await;
    assert_eq!(round_trip(stream, 2, LARGE).await, LARGE);
    setup.theirs.close().await;
    server.await.expect("our server ends");
    setup.driver.await.expect("driver task").expect("driver");
    assert_frames_within(&setup.log, config.max_frame_size);
}

// ---------------------------------------------------------------------------
// Half-close.

/// The side that finishes first keeps reading: it sends a request and
/// finishes, then the other side reads to the end and only then answers
/// with its length and finishes too.
async fn request_then_answer<A, B>(requester: A, answerer: B)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut requester = requester;
    let mut answerer = answerer;
    let request = vec![7u8; 100_000];
    requester.write_all(&request).await.expect("request");
    requester.shutdown().await.expect("half-close");
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
    answerer.shutdown().await.expect("finish answer");

    let mut answered = String::new();
    requester
        .read_to_string(&mut answered)
        .await
        .expect("read answer after our FIN");
    assert_eq!(answered, "got 100000 bytes");
}

#[tokio::test]
async fn half_close_both_ways_our_client_their_server() {
    let mut setup = setup(Role::Client, Config::default()).await;
    // Our end half-closes first.
    let mut ours = setup.ours.open_stream().await.expect("open");
    ours.write_all(b"x").await.expect("first byte opens");
    let mut theirs = setup.theirs.accept().await;
    let mut first = [0u8; 1];
    theirs.read_exact(&mut first).await.expect("first byte");
    request_then_answer(ours, theirs).await;
    // Their end half-closes first.
    let mut theirs = setup.theirs.open().await;
    theirs.write_all(b"x").await.expect("first byte opens");
    let mut ours = setup.ours.accept_stream().await.expect("accept");
    ours.read_exact(&mut first).await.expect("first byte");
    request_then_answer(theirs, ours).await;
    setup.ours.close().await.expect("close");
    assert_eq!(setup.log.rst_frames.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn half_close_both_ways_their_client_our_server() {
    let mut setup = setup(Role::Server, Config::default()).await;
    let mut first = [0u8; 1];
    let mut theirs = setup.theirs.open().await;
    theirs.write_all(b"x").await.expect("first byte opens");
    let mut ours = setup.ours.accept_stream().await.expect("accept");
    ours.read_exact(&mut first).await.expect("first byte");
    request_then_answer(theirs, ours).await;
    let mut ours = setup.ours.open_stream().await.expect("open");
    ours.write_all(b"x").await.expect("first byte opens");
    let mut theirs = setup.theirs.accept().await;
    theirs.read_exact(&mut first).await.expect("first byte");
    request_then_answer(ours, theirs).await;
    setup.ours.close().await.expect("close");
    assert_eq!(setup.log.rst_frames.load(Ordering::Relaxed), 0);
}

// ---------------------------------------------------------------------------
// Reset.

/// We reset a stream the peer is using: the yamux crate reports a reset as
/// the end of input on reads, and refuses further writes.
async fn we_reset(mut ours: muxplex_tokio::Stream, mut theirs: TheirStream) {
    ours.write_all(b"before reset").await.expect("write");
    let mut buf = [0u8; 12];
    theirs.read_exact(&mut buf).await.expect("peer reads");
    ours.reset(42);
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

/// The peer resets (the yamux crate does so when an unfinished stream is
/// dropped): a read blocked on our side fails with the reset at once.
async fn they_reset(ours: muxplex_tokio::Stream, mut theirs: TheirStream) {
    let mut ours = ours;
    theirs.write_all(b"ping").await.expect("write");
    let mut buf = [0u8; 4];
    ours.read_exact(&mut buf).await.expect("read");
    let reader = tokio::spawn(async move {
        let result = ours.read(&mut buf).await;
        (ours, result)
    });
    tokio::task::yield_now().await;
    drop(theirs);
    let (mut ours, result) = reader.await.expect("reader task");
    let err = result.expect_err("a reset is an error, not an end of stream");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<Error>())
        .copied();
    assert!(
        matches!(
            inner,
            Some(Error::Reset {
                code: 0,
                by_peer: true,
                ..
            })
        ),
        "{inner:?}"
    );
    let err = ours.write_all(b"x").await.expect_err("reset by the peer");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn reset_both_ways_our_client_their_server() {
    let mut setup = setup(Role::Client, Config::default()).await;
    let ours = setup.ours.open_stream().await.expect("open");
    let mut ours = ours;
    ours.write_all(b"x").await.expect("open on the wire");
    let mut theirs = setup.theirs.accept().await;
    let mut one = [0u8; 1];
    theirs.read_exact(&mut one).await.expect("first byte");
    we_reset(ours, theirs).await;

    let mut theirs = setup.theirs.open().await;
    theirs.write_all(b"x").await.expect("open on the wire");
    let mut ours = setup.ours.accept_stream().await.expect("accept");
    ours.read_exact(&mut one).await.expect("first byte");
    they_reset(ours, theirs).await;

    // The connection outlives its streams' resets.
    let stream = setup.ours.open_stream().await.expect("open after resets");
    let (_commands, their_server) = setup.theirs.echo_all_inbound();
    assert_eq!(round_trip(stream, 3, 1000).await, 1000);
    setup.ours.close().await.expect("close");
    their_server.await.expect("their server ends");
    assert_eq!(setup.log.rst_frames.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn reset_both_ways_their_client_our_server() {
    let mut setup = setup(Role::Server, Config::default()).await;
    let mut one = [0u8; 1];
    let mut theirs = setup.theirs.open().await;
    theirs.write_all(b"x").await.expect("open on the wire");
    let mut ours = setup.ours.accept_stream().await.expect("accept");
    ours.read_exact(&mut one).await.expect("first byte");
    we_reset(ours, theirs).await;

    let mut ours = setup.ours.open_stream().await.expect("open");
    ours.write_all(b"x").await.expect("open on the wire");
    let mut theirs = setup.theirs.accept().await;
    theirs.read_exact(&mut one).await.expect("first byte");
    they_reset(ours, theirs).await;

    let stream = setup.theirs.open().await;
    let server = our_echo_server(setup.ours.clone());
    assert_eq!(round_trip(stream, 4, 1000).await, 1000);
    setup.theirs.close().await;
    server.await.expect("our server ends");
    assert_eq!(setup.log.rst_frames.load(Ordering::Relaxed), 1);
}

// ---------------------------------------------------------------------------
// Closing the connection.

#[tokio::test]
async fn we_close_gracefully() {
    for role in [Role::Client, Role::Server] {
        let setup = setup(role, Config::default()).await;
        let (_commands, their_server) = setup.theirs.echo_all_inbound();
        let stream = setup.ours.open_stream().await.expect("open");
        assert_eq!(round_trip(stream, 5, 10_000).await, 10_000);
        // Every stream was over, so the close needs no timeout.
        let reason = setup.ours.close().await.expect("close");
        assert_eq!(reason, CloseReason::LocalClose);
        // The driver sent GoAway(0), shut the transport down and finished.
        setup.driver.await.expect("driver task").expect("driver");
        assert_eq!(setup.log.goaway_frames.load(Ordering::Relaxed), 1);
        assert_eq!(setup.log.rst_frames.load(Ordering::Relaxed), 0);
        // The peer took it as a normal end, not an error.
        their_server.await.expect("their server ends");
        let err = setup.ours.open_stream().await.expect_err("closed");
        assert_eq!(
            err,
            Error::Closed {
                reason: CloseReason::LocalClose,
                delivery: muxplex::Delivery::NotDelivered,
            }
        );
    }
}

#[tokio::test]
async fn they_close_gracefully() {
    for role in [Role::Client, Role::Server] {
        let setup = setup(role, Config::default()).await;
        let server = our_echo_server(setup.ours.clone());
        let stream = setup.theirs.open().await;
        assert_eq!(round_trip(stream, 6, 10_000).await, 10_000);
        setup.theirs.close().await;
        // Our accept loop ended and the driver finished without error.
        server.await.expect("our server ends");
        setup.driver.await.expect("driver task").expect("driver");
        assert!(setup.ours.is_closed());
        assert!(setup.theirs.task.await.expect("peer task").is_ok());
        let err = setup.ours.accept_stream().await.expect_err("closed");
        assert!(matches!(err, Error::Closed { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn lost_connection_fails_pending_operations_at_once() {
    for role in [Role::Client, Role::Server] {
        let mut setup = setup(role, Config::default()).await;
        let mut ours = setup.ours.open_stream().await.expect("open");
        ours.write_all(b"x").await.expect("open on the wire");
        let _theirs = setup.theirs.accept().await;
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let result = ours.read(&mut buf).await;
            (ours, result)
        });
        let accepter = tokio::spawn({
            let ours = setup.ours.clone();
            async move { ours.accept_stream().await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        // The peer vanishes without a GoAway: its task and socket are gone.
        setup.theirs.task.abort();
        let (mut ours, result) = reader.await.expect("reader task");
        // Whether the kernel reports the vanished peer as an end of file or
        // as a TCP reset depends on what was left unread in its socket.
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
        assert!(accepter.await.expect("accept task").is_err());
        assert_eq!(
            setup.ours.close_reason(),
            Some(CloseReason::TransportClosed)
        );
    }
}
