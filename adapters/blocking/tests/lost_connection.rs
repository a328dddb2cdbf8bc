//! When the transport dies, every call on the connection and its streams
//! fails at once, including calls already waiting; none hangs.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::thread;

use common::{connect, hang_guard, inner, lost, pattern};
use muxplex_blocking::{CloseReason, Delivery, StreamError};

#[test]
fn calls_on_a_lost_connection_fail_at_once_even_those_already_waiting() {
    hang_guard(|| {
        let ends = connect();
        let (client, server) = (&ends.client, &ends.server);
        let mut opened = client.open_stream().unwrap();
        opened.write_all(b"ping").unwrap();
        let accepted = server.accept_stream().unwrap();
        let mut buf = [0; 4];
        (&accepted).read_exact(&mut buf).unwrap();
        // The answer carries the server's ACK with it.
        (&accepted).write_all(b"pong").unwrap();
        opened.read_exact(&mut buf).unwrap();

        let idle = client.open_stream().unwrap();
        thread::scope(|scope| {
            // One thread waits to read, one to write into a full window
            // (the server never reads this stream), one to accept.
            let reader = scope.spawn(|| (&idle).read(&mut [0; 16]).unwrap_err());
            let writer = scope.spawn(|| (&opened).write_all(&pattern(3, 2_000_000)).unwrap_err());
            let acceptor = scope.spawn(|| client.accept_stream().unwrap_err());

            // Kill the transport under the client.
            ends.client_tcp.shutdown(Shutdown::Both).unwrap();

            // The reader sees the end of file, or the writer's write
            // fails first: the session says which.
            for error in [reader.join().unwrap(), writer.join().unwrap()] {
                lost(&error);
            }
            assert_eq!(lost(&acceptor.join().unwrap()), Delivery::NotDelivered);
        });

        // New calls fail at once too. The server acknowledged this stream,
        // so whatever it did with it stands: the error says so.
        assert_eq!(
            lost(&opened.write(b"more").unwrap_err()),
            Delivery::Delivered
        );
        lost(&opened.read(&mut buf).unwrap_err());
        lost(&opened.flush().unwrap_err());
        lost(&client.open_stream().unwrap_err());
        assert!(matches!(
            client.close(),
            CloseReason::TransportClosed | CloseReason::TransportFailed
        ));

        // The server sees the transport's end as well, after whatever of
        // the big write reached it.
        lost(&(&accepted).read_to_end(&mut Vec::new()).unwrap_err());
        lost(&server.accept_stream().unwrap_err());
    });
}

#[test]
fn data_received_before_the_loss_is_still_read_first() {
    hang_guard(|| {
        let ends = connect();
        let mut opened = ends.client.open_stream().unwrap();
        // Streams not yet accepted vanish with the session: accept first.
        opened.write_all(b"!").unwrap();
        let mut accepted = ends.server.accept_stream().unwrap();
        accepted.read_exact(&mut [0]).unwrap();

        // The rest of the window: it takes a while to write, yet never
        // waits for credit.
        let window = muxplex_blocking::muxplex::INITIAL_STREAM_WINDOW as usize;
        let payload = pattern(5, window - 1);
        opened.write_all(&payload).unwrap();
        // Flushed means handed to the transport, so the kernel delivers it
        // even though the socket is shut down right after.
        opened.flush().unwrap();
        // Only our direction: after a shutdown for reading too, the
        // server's window updates would make the kernel answer with an
        // RST, which discards data at the server before it is read.
        ends.client_tcp.shutdown(Shutdown::Write).unwrap();

        let mut received = Vec::new();
        let error = accepted.read_to_end(&mut received).unwrap_err();
        assert!(
            received == payload,
            "got {} of {} flushed bytes, then {error}",
            received.len(),
            payload.len()
        );
        assert_eq!(error.kind(), ErrorKind::ConnectionAborted);
    });
}

#[test]
fn aborting_fails_both_ends_at_once() {
    hang_guard(|| {
        let ends = connect();
        let opened = ends.client.open_stream().unwrap();
        (&opened).write_all(b"hello").unwrap();
        let mut accepted = ends.server.accept_stream().unwrap();
        // One write is one frame: once a byte is in, all of it is.
        let mut first = [0; 1];
        accepted.read_exact(&mut first).unwrap();
        ends.server.abort(7);
        let error = (&opened).read(&mut [0; 4]).unwrap_err();
        assert!(matches!(
            inner(&error),
            StreamError::SessionClosed {
                reason: CloseReason::PeerGoAway { code: 7 },
                ..
            }
        ));
        // What arrived before the abort is still there to read.
        let mut rest = Vec::new();
        let error = accepted.read_to_end(&mut rest).unwrap_err();
        assert_eq!(rest, b"ello");
        assert!(matches!(
            inner(&error),
            StreamError::SessionClosed {
                reason: CloseReason::LocalAbort { code: 7 },
                ..
            }
        ));
    });
}

/// A peer that takes none of our output: once the socket has accepted
/// nothing for `Config::write_timeout`, the connection ends and the socket
/// is shut down both ways (so the reader thread lets its handle go too),
/// instead of a writer blocked on it for good.
#[test]
fn a_peer_that_reads_nothing_loses_the_connection_after_the_write_timeout() {
    hang_guard(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dialed = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let config = muxplex_blocking::Config::default()
            .with_write_timeout(Some(std::time::Duration::from_millis(200)));
        let client = muxplex_blocking::Connection::client(dialed, config).unwrap();
        // Far more than the socket buffers hold: 64 streams' full windows.
        let streams: Vec<_> = (0..64).map(|_| client.open_stream().unwrap()).collect();
        let writer = thread::spawn(move || {
            for mut stream in streams {
                if stream.write_all(&[1u8; 256 * 1024]).is_err() {
                    return;
                }
            }
        });
        let start = std::time::Instant::now();
        while client.close_reason().is_none() {
            // Far below the keepalive's 40 s, which would end it too.
            assert!(start.elapsed() < std::time::Duration::from_secs(20));
            thread::sleep(std::time::Duration::from_millis(20));
        }
        writer.join().unwrap();
        // Our end is shut down: the peer reads what got through, then EOF.
        let mut sink = [0u8; 64 * 1024];
        while peer.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
}

/// After a graceful close, a peer that keeps its end open and silent: our
/// socket still closes fully once the write timeout has passed (the reader
/// thread, waiting for the peer's EOF, must not hold it for good), so what
/// the peer sends then is answered with a reset.
#[test]
fn a_peer_that_never_closes_does_not_keep_the_socket_after_a_close() {
    hang_guard(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let config = muxplex_blocking::Config::default()
            .with_write_timeout(Some(std::time::Duration::from_millis(300)));
        let server = muxplex_blocking::Connection::server(accepted, config).unwrap();
        assert_eq!(server.close(), CloseReason::LocalClose);
        // The GoAway, then our end of file.
        let mut sink = [0u8; 1024];
        while peer.read(&mut sink).unwrap() > 0 {}
        thread::sleep(std::time::Duration::from_millis(100));
        let _ = peer.write_all(b"x");
        thread::sleep(std::time::Duration::from_millis(100));
        let after = peer.write_all(b"y").and_then(|()| peer.read(&mut sink));
        assert!(
            after.is_err(),
            "our socket is still open after the close: {after:?}"
        );
    });
}

/// A transport that fails reports its own error, kind and message, with
/// its io::Error as the source: a TLS layer's "peer closed connection
/// without sending TLS close_notify" is more than a bare kind.
#[test]
fn a_failed_transport_reports_its_own_error() {
    use std::error::Error as _;
    use std::sync::mpsc;

    use muxplex_blocking::{Config, Connection, Role, TransportError};

    /// Reads block until told to fail, then fail with a message.
    struct Failing(mpsc::Receiver<()>);
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "peer closed connection without sending TLS close_notify",
            ))
        }
    }
    const MESSAGE: &str = "peer closed connection without sending TLS close_notify";

    hang_guard(|| {
        let (fail, failing) = mpsc::channel();
        let conn = Connection::new(
            Role::Client,
            Failing(failing),
            std::io::sink(),
            Config::default(),
        )
        .unwrap();
        let stream = conn.open_stream().unwrap();
        thread::scope(|scope| {
            let reader = scope.spawn(|| (&stream).read(&mut [0; 16]).unwrap_err());
            let acceptor = scope.spawn(|| conn.accept_stream().unwrap_err());
            fail.send(()).unwrap();
            let errors = [
                reader.join().unwrap(),
                acceptor.join().unwrap(),
                (&stream).write(b"x").unwrap_err(),
                conn.open_stream().unwrap_err(),
                conn.ping().unwrap_err(),
            ];
            for error in errors {
                assert_eq!(error.kind(), ErrorKind::UnexpectedEof, "{error:?}");
                assert!(error.to_string().contains(MESSAGE), "{error}");
                let inner = error
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<TransportError>())
                    .unwrap_or_else(|| panic!("no TransportError in {error:?}"));
                assert_eq!(inner.transport().to_string(), MESSAGE);
                let source = inner.source().expect("the transport's error");
                assert_eq!(source.to_string(), MESSAGE);
            }
        });
        assert_eq!(conn.closed(), CloseReason::TransportFailed);
    });
}
