//! How streams and connections end under the shared driver, muxplex
//! against muxplex over an in-memory pipe (and a silent TCP peer): drop
//! semantics, graceful close, abort, open backpressure and keepalive.
//! Tests that wait on the session's timers run on tokio's paused clock, so
//! minutes of protocol time pass at once and nothing depends on real time.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt;
use muxplex::{Delivery, OpenError, RESET_TIMEOUT, ResetBy};
use muxplex_test_support::{Audit, AuditLog};
use muxplex_tokio::{CloseReason, Config, Connection, Error, Role, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::compat::{FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

/// Room for everything the tests send, so a write never waits on the pipe.
const PIPE: usize = 4 * 1024 * 1024;

fn pair() -> (DuplexStream, DuplexStream) {
    tokio::io::duplex(PIPE)
}

/// A client (with `config`) and a server (with the default one) over a
/// fresh pipe, both drivers spawned.
fn connected(config: Config) -> (Connection, Connection) {
    let (a, b) = pair();
    let client = Connection::spawn(a, Role::Client, config);
    let server = Connection::spawn(b, Role::Server, Config::default());
    (client, server)
}

/// Like [`connected`] with default configs, and every frame the client
/// writes recorded in the returned log. (`Audit` speaks futures-io; the
/// compat layers carry it to and from tokio's traits unchanged.)
fn connected_audited() -> (Connection, Connection, Arc<AuditLog>) {
    let (a, b) = pair();
    let (audited, log) = Audit::new(a.compat());
    let (client, driver) = Connection::new(audited.compat(), Role::Client, Config::default());
    tokio::spawn(driver);
    let server = Connection::spawn(b, Role::Server, Config::default());
    (client, server, log)
}

/// A stream `opener` opens and announces by writing `first`, and the
/// `acceptor`'s end of it (`first` still unread there).
async fn open_and_accept(
    opener: &Connection,
    acceptor: &Connection,
    first: &[u8],
) -> (Stream, Stream) {
    let mut ours = opener.open_stream().await.expect("open");
    ours.write_all(first).await.expect("write");
    let theirs = acceptor.accept_stream().await.expect("accept");
    (ours, theirs)
}

/// The error inside an I/O error from a stream.
fn inner(err: &io::Error) -> Option<Error> {
    err.get_ref()?.downcast_ref::<Error>().cloned()
}

/// Past every deadline a test waits for, on the paused clock: a session
/// timer that never fires fails the test here instead of hanging it.
const NEVER: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn dropping_a_stream_finishes_it_and_delivers_what_was_written() {
    let (client, server, log) = connected_audited();
    let mut ours = client.open_stream().await.expect("open");
    // Four initial windows: most of it is still in our buffers, waiting
    // for the peer's credit, when the handle goes.
    let sent: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let writer = tokio::spawn(async move {
        ours.write_all(&sent).await.expect("write");
        drop(ours);
        sent
    });
    let mut theirs = server.accept_stream().await.expect("accept");
    let mut received = Vec::new();
    theirs
        .read_to_end(&mut received)
        .await
        .expect("everything, then the end of the stream");
    let sent = writer.await.expect("writer task");
    assert!(received == sent, "the peer received other bytes");
    assert_eq!(log.rst_frames.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_dropped_stream_discards_what_the_peer_sends_until_it_finishes() {
    let (client, server) = connected(Config::default());
    let (ours, mut theirs) = open_and_accept(&client, &server, b"hi").await;
    drop(ours);
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).await.expect("our FIN");
    assert_eq!(got, b"hi");
    // More than a window: it only fits because the discarded bytes give
    // their credit back.
    theirs
        .write_all(&vec![1u8; 1024 * 1024])
        .await
        .expect("the peer may still write");
    theirs.shutdown().await.expect("finish");
    assert_eq!(client.stream_count(), 1, "kept until the peer finishes");
    // The transport is ordered, so once a later stream's byte is read the
    // FIN above has been processed, and it freed the dropped stream.
    let (_later, mut later_ours) = open_and_accept(&server, &client, b"x").await;
    later_ours.read_exact(&mut [0u8; 1]).await.expect("read");
    assert_eq!(client.stream_count(), 1, "only the later stream is left");
}

#[tokio::test(start_paused = true)]
async fn the_stream_close_timeout_resets_a_dropped_stream_whose_peer_never_finishes() {
    let timeout = Duration::from_secs(60);
    let config = Config::default().with_stream_close_timeout(Some(timeout));
    let (client, server) = connected(config);
    let (ours, mut theirs) = open_and_accept(&client, &server, b"hi").await;
    let start = tokio::time::Instant::now();
    drop(ours);
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).await.expect("our FIN");
    // The peer never finishes. On the paused clock a sleep ends only once
    // every task woken before it has run, drivers included.
    tokio::time::sleep_until(start + timeout - Duration::from_secs(1)).await;
    assert_eq!(client.stream_count(), 1, "held until the timeout");
    tokio::time::sleep_until(start + timeout + Duration::from_secs(1)).await;
    assert_eq!(client.stream_count(), 0, "freed by the timeout");
    let err = theirs.write_all(b"late").await.expect_err("reset");
    assert_eq!(
        inner(&err),
        Some(Error::Reset {
            by: ResetBy::Peer {
                code: RESET_TIMEOUT
            },
            delivery: Delivery::Delivered,
        })
    );
}

#[tokio::test]
async fn dropping_a_stream_finished_and_read_to_the_end_is_quiet() {
    let (client, server, log) = connected_audited();
    let (mut ours, mut theirs) = open_and_accept(&client, &server, b"hi").await;
    ours.shutdown().await.expect("finish");
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
    drop(theirs);
    assert_eq!(client.stream_count(), 0);
    // Anything that drop sent would go out ahead of a later stream's first
    // frame, so once that frame has arrived the counts are final.
    let (mut next, mut next_theirs) = open_and_accept(&client, &server, b"n").await;
    next_theirs.read_exact(&mut [0u8; 1]).await.expect("read");
    assert_eq!(log.rst_frames.load(Ordering::Relaxed), 0);
    // An explicit reset is what sends one.
    next.reset(9);
    // The resetting end hears its own reset as the application's.
    let err = next.read(&mut [0u8; 1]).await.expect_err("reset by us");
    assert!(
        matches!(
            inner(&err),
            Some(Error::Reset {
                by: ResetBy::Application { code: 9 },
                ..
            })
        ),
        "{err:?}"
    );
    // The peer's reset stays readable (the core keeps it while the handle
    // lives), for writes too, and goes with the handle.
    for _ in 0..2 {
        let err = next_theirs.read(&mut [0u8; 1]).await.expect_err("reset");
        assert!(
            matches!(
                inner(&err),
                Some(Error::Reset {
                    by: ResetBy::Peer { code: 9 },
                    ..
                })
            ),
            "{err:?}"
        );
    }
    let err = next_theirs.write_all(b"x").await.expect_err("reset");
    assert!(matches!(
        inner(&err),
        Some(Error::Reset {
            by: ResetBy::Peer { code: 9 },
            ..
        })
    ));
    assert_eq!(server.stream_count(), 1, "kept while the handle lives");
    drop(next_theirs);
    assert_eq!(server.stream_count(), 0, "released with the handle");
    assert_eq!(log.rst_frames.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn dropping_the_last_connection_handle_closes_gracefully() {
    let (a, b) = pair();
    let (client, driver) = Connection::new(a, Role::Client, Config::default());
    let driver = tokio::spawn(driver);
    let server = Connection::spawn(b, Role::Server, Config::default());
    let (mut ours, mut theirs) = open_and_accept(&client, &server, b"request").await;
    drop(client);
    // The stream still held keeps working both ways.
    ours.write_all(b" and more")
        .await
        .expect("write after the drop");
    ours.shutdown().await.expect("finish");
    let mut request = Vec::new();
    theirs.read_to_end(&mut request).await.expect("read");
    assert_eq!(request, b"request and more");
    theirs.write_all(b"answer").await.expect("answer");
    theirs.shutdown().await.expect("finish");
    let mut answer = Vec::new();
    ours.read_to_end(&mut answer).await.expect("read answer");
    assert_eq!(answer, b"answer");
    assert!(!driver.is_finished(), "a held stream keeps the session");
    // Its last stream over, the session ends: GoAway(0), then EOF.
    drop(ours);
    driver.await.expect("driver task").expect("driver");
    // The server saw GoAway(0) before the end of file: a clean close.
    assert_eq!(
        server.closed().await,
        Ok(CloseReason::PeerGoAway { code: 0 })
    );
}

#[tokio::test]
async fn close_lets_open_streams_finish_and_refuses_new_ones() {
    let (client, server) = connected(Config::default());
    let (mut ours, mut theirs) = open_and_accept(&client, &server, b"request").await;
    // The first poll starts the close; it then waits for the stream.
    let mut closing = Box::pin(client.close());
    assert!((&mut closing).now_or_never().is_none(), "a stream is open");
    // New streams are refused either way.
    assert_eq!(
        client.open_stream().await.map(|_| ()),
        Err(Error::Open(OpenError::Closing))
    );
    assert_eq!(
        client.accept_stream().await.map(|_| ()),
        Err(Error::Open(OpenError::Closing))
    );
    // The open stream finishes normally.
    ours.shutdown().await.expect("finish");
    let mut request = Vec::new();
    theirs.read_to_end(&mut request).await.expect("read");
    theirs.write_all(b"answer").await.expect("answer");
    theirs.shutdown().await.expect("finish");
    let mut answer = Vec::new();
    ours.read_to_end(&mut answer).await.expect("read answer");
    assert_eq!(
        (&request[..], &answer[..]),
        (&b"request"[..], &b"answer"[..])
    );
    drop(ours);
    let reason = closing.await.expect("close");
    assert_eq!(reason, CloseReason::LocalClose);
    assert_eq!(client.closed().await, Ok(CloseReason::LocalClose));
}

#[tokio::test]
async fn abort_ends_at_once_with_the_code() {
    let (client, server) = connected(Config::default());
    let (mut ours, _theirs) = open_and_accept(&client, &server, b"x").await;
    client.abort(7);
    assert_eq!(
        client.closed().await,
        Ok(CloseReason::LocalAbort { code: 7 })
    );
    let err = ours.write_all(b"x").await.expect_err("aborted");
    assert!(
        matches!(
            inner(&err),
            Some(Error::Closed {
                reason: CloseReason::LocalAbort { code: 7 },
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        server.closed().await,
        Ok(CloseReason::PeerGoAway { code: 7 })
    );
}

#[tokio::test]
async fn data_received_before_the_peer_aborts_is_read_before_the_error() {
    let (client, server) = connected(Config::default());
    let (mut ours, mut theirs) = open_and_accept(&client, &server, b"x").await;
    // Several frames' worth, all received before the abort.
    let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    theirs.write_all(&sent).await.expect("write");
    // Both drivers run until the data is across (a single-threaded runtime
    // runs the other tasks at each yield); nothing is read yet.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    server.abort(9);
    assert_eq!(
        client.closed().await,
        Ok(CloseReason::PeerGoAway { code: 9 })
    );

    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let err = loop {
        match ours.read(&mut buf).await {
            Ok(0) => panic!("an abort is not a clean end"),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(err) => break err,
        }
    };
    assert!(received == sent, "every byte received is read first");
    assert!(
        matches!(
            inner(&err),
            Some(Error::Closed {
                reason: CloseReason::PeerGoAway { code: 9 },
                ..
            })
        ),
        "{err:?}"
    );
    // And it stays the answer.
    assert!(ours.read(&mut buf).await.is_err());
}

#[tokio::test]
async fn open_waits_while_too_many_streams_await_their_ack() {
    let config = Config::default().with_max_unacked_outbound(2);
    let (client, server) = connected(config);
    let mut first = client.open_stream().await.expect("open");
    let _second = client.open_stream().await.expect("open");
    first.write_all(b"1").await.expect("write");
    // The server has accepted nothing, so nothing is acknowledged: the
    // core refuses a third open, and the adapter waits instead of failing.
    let mut third = Box::pin(client.open_stream());
    assert!((&mut third).now_or_never().is_none(), "a third open waits");
    // Accepting acknowledges one stream, which unblocks the open.
    let _accepted = server.accept_stream().await.expect("accept");
    let third = third.await.expect("open after the ACK");
    assert_eq!(third.id().get(), 5);
}

#[tokio::test(start_paused = true)]
async fn keepalive_closes_a_session_whose_peer_went_silent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (dialed, accepted) =
        tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
    // The peer: a socket that is held open and never read or answered.
    let (_silent_peer, _) = accepted.expect("accept");
    // Hours, not seconds: on the paused clock they pass at once, while a
    // driver that read the system clock instead of tokio's would wait them
    // out for real (spinning on a sleep that tokio says has ended).
    let interval = Duration::from_secs(3600);
    let timeout = Duration::from_secs(600);
    let config = Config::default()
        .with_keepalive_interval(Some(interval))
        .with_keepalive_timeout(timeout);
    let (client, driver) = Connection::new(dialed.expect("connect"), Role::Client, config);
    let driver = tokio::spawn(driver);
    let start = tokio::time::Instant::now();
    let reason = tokio::time::timeout(NEVER, client.closed())
        .await
        .expect("keepalive fires on the paused clock");
    assert_eq!(reason, Ok(CloseReason::KeepAliveTimeout));
    assert!(start.elapsed() >= interval + timeout);
    driver.await.expect("driver task").expect("driver");
    let err = client.open_stream().await.map(|_| ()).expect_err("ended");
    assert_eq!(
        err,
        Error::Closed {
            reason: CloseReason::KeepAliveTimeout,
            delivery: Delivery::NotDelivered,
        }
    );
}

/// A connection whose peer stops reading, while we have output for it: the
/// driver gives the transport up once it has accepted nothing for
/// `Config::write_timeout`, whether the peer then stays silent or
/// half-closes (our session ends at its EOF, with frames still unsent).
#[tokio::test(start_paused = true)]
async fn a_transport_that_takes_no_output_is_dropped_after_the_write_timeout() {
    for peer_half_closes in [false, true] {
        let (ours, mut peer) = tokio::io::duplex(64 * 1024);
        let (client, driver) = Connection::new(ours, Role::Client, Config::default());
        let driver = tokio::spawn(driver);
        let mut stream = client.open_stream().await.expect("open");
        // The initial window lets 256 KiB go out: four times the pipe.
        let writer = tokio::spawn(async move {
            let _ = stream.write_all(&[7u8; 256 * 1024]).await;
            stream
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        if peer_half_closes {
            peer.shutdown().await.expect("half-close");
        }
        let start = tokio::time::Instant::now();
        let ended = tokio::time::timeout(NEVER, driver)
            .await
            .expect("the driver ends within the write timeout")
            .expect("driver task");
        let err = ended.expect_err("a stuck transport is an error");
        assert_eq!(err.io_kind(), io::ErrorKind::TimedOut, "{err}");
        let waited = start.elapsed();
        assert!(
            waited <= Duration::from_secs(11),
            "half-close {peer_half_closes}: ended after {waited:?}"
        );
        drop(writer);
        drop(peer);
    }
}

/// `closed()` returns only once the session's last frame (its GoAway) is
/// written, so a process that exits on it says goodbye first.
#[tokio::test]
async fn closed_returns_after_the_goaway_is_written() {
    let (client, _server, log) = connected_audited();
    client.abort(0);
    assert_eq!(
        client.closed().await,
        Ok(CloseReason::LocalAbort { code: 0 })
    );
    assert_eq!(log.goaway_frames.load(Ordering::Relaxed), 1);
}

/// A transport that reads at most 16 KiB every 2 ms: a slow link, so the
/// peer's output waits in its kernel's send queue.
struct SlowReads<T> {
    io: T,
    next_read: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for SlowReads<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::ready!(self.next_read.as_mut().poll(cx));
        let mut piece = [0u8; 16 * 1024];
        let room = piece.len().min(buf.remaining());
        let mut limited = tokio::io::ReadBuf::new(&mut piece[..room]);
        std::task::ready!(std::pin::Pin::new(&mut self.io).poll_read(cx, &mut limited))?;
        buf.put_slice(limited.filled());
        let next = tokio::time::Instant::now() + Duration::from_millis(2);
        self.next_read.as_mut().reset(next);
        std::task::Poll::Ready(Ok(()))
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for SlowReads<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A graceful close over real TCP to a peer behind a slow link, which
/// still sends window updates while the tail of our output waits in our
/// kernel: the driver must not drop the socket with the peer's input
/// unread, or the kernel answers with a reset and discards that tail
/// (hashicorp/yamux then sees a clean but short stream).
#[tokio::test]
async fn a_graceful_close_delivers_everything_over_a_slow_link() {
    const SIZE: usize = 2 * 1024 * 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let server = Connection::spawn(socket, Role::Server, Config::default());
        let mut stream = server.accept_stream().await.expect("accept stream");
        let mut request = [0u8; 1];
        stream.read_exact(&mut request).await.expect("request");
        stream.write_all(&vec![9u8; SIZE]).await.expect("write");
        stream.shutdown().await.expect("finish");
        drop(stream);
        server.close().await.expect("close")
    });
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(16 * 1024)
        .expect("small buffer");
    let socket = socket.connect(address).await.expect("connect");
    let slow = SlowReads {
        io: socket,
        next_read: Box::pin(tokio::time::sleep(Duration::ZERO)),
    };
    let client = Connection::spawn(slow, Role::Client, Config::default());
    let mut stream = client.open_stream().await.expect("open");
    stream.write_all(b"?").await.expect("request");
    stream.shutdown().await.expect("finish the request");
    let mut received = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) => panic!("after {received} of {SIZE} bytes: {e}"),
        }
    }
    assert_eq!(received, SIZE);
    assert_eq!(server.await.expect("server task"), CloseReason::LocalClose);
}

/// A task that copies into a write half and drops it when its input ends
/// (a port forwarder's) must not leave the peer waiting for the end of the
/// stream while the read half lives on for the answer: dropping the write
/// half finishes our direction, as dropping tokio's `OwnedWriteHalf` shuts
/// a TCP stream down for writing.
#[tokio::test(start_paused = true)]
async fn dropping_the_write_half_finishes_while_the_read_half_lives() {
    let (client, server) = connected(Config::default());
    let (ours, mut theirs) = open_and_accept(&client, &server, b"request").await;
    let (mut read, write) = ours.into_split();
    drop(write);
    let mut received = Vec::new();
    tokio::time::timeout(NEVER, theirs.read_to_end(&mut received))
        .await
        .expect("the end of the stream came")
        .expect("read");
    assert_eq!(received, b"request");
    // Our direction only: the answer still reaches the read half.
    theirs.write_all(b"answer").await.expect("write");
    theirs.shutdown().await.expect("finish");
    let mut answer = Vec::new();
    read.read_to_end(&mut answer).await.expect("read");
    assert_eq!(answer, b"answer");
}
