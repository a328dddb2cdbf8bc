//! Half-close, reset, graceful close and what dropping a stream does.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::thread;

use common::{connect, connect_with, hang_guard, inner, read_all};
use muxplex::ResetBy;
use muxplex_blocking::{CloseReason, Config, Delivery, OpenError, StreamError};

#[test]
fn half_close_in_each_direction_keeps_the_other_open() {
    hang_guard(|| {
        let ends = connect();
        let mut opened = ends.client.open_stream().unwrap();
        opened.write_all(b"question").unwrap();
        opened.finish().unwrap();
        opened.finish().unwrap(); // twice is fine

        // The opener finished first: the acceptor reads the end, then
        // still writes its answer.
        let mut accepted = ends.server.accept_stream().unwrap();
        assert_eq!(read_all(&mut accepted).unwrap(), b"question");
        accepted.write_all(b"answer").unwrap();
        let error = opened.write_all(b"more").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BrokenPipe);
        assert_eq!(inner(&error), StreamError::Finished);
        accepted.finish().unwrap();
        assert_eq!(read_all(&mut opened).unwrap(), b"answer");

        // Now the acceptor finishes first.
        let mut opened = ends.client.open_stream().unwrap();
        opened.write_all(b"hi").unwrap();
        let mut accepted = ends.server.accept_stream().unwrap();
        accepted.write_all(b"early end").unwrap();
        accepted.finish().unwrap();
        assert_eq!(read_all(&mut opened).unwrap(), b"early end");
        assert_eq!(
            opened.read(&mut [0; 8]).unwrap(),
            0,
            "the end stays the end"
        );
        opened.write_all(b" and more").unwrap();
        opened.finish().unwrap();
        assert_eq!(read_all(&mut accepted).unwrap(), b"hi and more");

        drop((opened, accepted));
        assert_eq!(ends.client.stream_count(), 0);
    });
}

/// `error` reports a reset `by` whom it says.
fn assert_reset_by(error: &std::io::Error, by: ResetBy) {
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert!(matches!(inner(error), StreamError::Reset { by: got, .. } if got == by));
}

/// A thread blocked in a read may be the one reading the socket (see the
/// crate's docs on who reads); a reset from another thread of the same end
/// must still reach it, though no input comes to end its socket read.
#[test]
fn a_local_reset_wakes_a_reader_blocked_on_a_silent_connection() {
    hang_guard(|| {
        const ROUNDS: usize = 20;
        // No keepalive: nothing at all arrives while the reader waits.
        let quiet = Config::default().with_keepalive_interval(None);
        let ends = connect_with(quiet.clone(), quiet);
        let opened = ends.client.open_stream().unwrap();
        (&opened).write_all(b"x").unwrap();
        let accepted = ends.server.accept_stream().unwrap();
        let mut got = [0; 1];
        (&accepted).read_exact(&mut got).unwrap();
        let (started, waiting) = std::sync::mpsc::channel();
        thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..ROUNDS {
                    (&accepted).read_exact(&mut got).unwrap();
                    (&accepted).write_all(&got).unwrap();
                }
            });
            let reader = scope.spawn(|| {
                // Round trips first: the thread then reads the socket
                // itself rather than leaving it to the reader thread.
                for _ in 0..ROUNDS {
                    (&opened).write_all(b"p").unwrap();
                    (&opened).read_exact(&mut [0; 1]).unwrap();
                }
                started.send(()).unwrap();
                (&opened).read(&mut [0; 16]).unwrap_err()
            });
            waiting.recv().unwrap();
            // Let the reader get into its read (the test passes either way).
            thread::sleep(std::time::Duration::from_millis(50));
            opened.reset(7);
            assert_reset_by(&reader.join().unwrap(), ResetBy::Application { code: 7 });
        });
        drop(accepted);
    });
}

#[test]
fn a_reset_reaches_the_other_end_in_each_direction() {
    hang_guard(|| {
        let ends = connect();
        for client_resets in [true, false] {
            let opened = ends.client.open_stream().unwrap();
            (&opened).write_all(b"x").unwrap();
            let accepted = ends.server.accept_stream().unwrap();
            let (resetter, victim) = match client_resets {
                true => (opened, accepted),
                false => (accepted, opened),
            };
            thread::scope(|scope| {
                // The victim is already waiting in a read when the reset comes.
                let reader = scope.spawn(|| {
                    let mut victim = &victim;
                    let mut buf = [0; 16];
                    loop {
                        match victim.read(&mut buf) {
                            Ok(0) => panic!("a reset is not an end of stream"),
                            Ok(_) => {}
                            Err(e) => return e,
                        }
                    }
                });
                resetter.reset(42);
                assert_reset_by(&reader.join().unwrap(), ResetBy::Peer { code: 42 });
            });
            // The error sticks, for writes too, on both ends.
            let error = (&victim).write_all(b"y").unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset);
            let error = (&resetter).read(&mut [0; 4]).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset);
            assert!(matches!(
                inner(&error),
                StreamError::Reset {
                    by: ResetBy::Application { .. },
                    ..
                }
            ));
        }
    });
}

#[test]
fn graceful_close_lets_open_streams_finish_and_refuses_new_ones() {
    hang_guard(|| {
        let ends = connect();
        let (client, server) = (ends.client, ends.server);
        let mut opened = client.open_stream().unwrap();
        let mut accepted = server.accept_stream().unwrap();

        thread::scope(|scope| {
            let closing = scope.spawn(|| client.close());
            // No new streams once closing has begun, on either end.
            let refused = loop {
                match client.open_stream() {
                    Err(e) => break e,
                    // Not closing yet: let the stream go again.
                    Ok(stream) => stream.reset(0),
                }
            };
            assert_eq!(refused.kind(), ErrorKind::ConnectionAborted);
            let error = client.accept_stream().unwrap_err();
            assert!(matches!(
                error.get_ref().and_then(|e| e.downcast_ref::<OpenError>()),
                Some(OpenError::Closing | OpenError::SessionClosed(_))
            ));

            // The open stream still works both ways.
            opened.write_all(b"still here").unwrap();
            opened.finish().unwrap();
            assert_eq!(read_all(&mut accepted).unwrap(), b"still here");
            accepted.write_all(b"me too").unwrap();
            accepted.finish().unwrap();
            assert_eq!(read_all(&mut opened).unwrap(), b"me too");
            assert_eq!(closing.join().unwrap(), CloseReason::LocalClose);
        });

        // The server sees the GoAway and then the transport's end. Streams
        // the client opened before the close began and reset at once may
        // still be waiting to be accepted; they are reset.
        let error = loop {
            match server.accept_stream() {
                Ok(stream) => {
                    let error = (&stream).read(&mut [0; 4]).unwrap_err();
                    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
                }
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), ErrorKind::ConnectionAborted);
        assert_eq!(client.close_reason(), Some(CloseReason::LocalClose));
    });
}

#[test]
fn close_resets_streams_still_open_at_the_close_timeout() {
    hang_guard(|| {
        let quick = Config::default().with_close_timeout(std::time::Duration::from_millis(50));
        let ends = connect_with(quick, Config::default());
        let opened = ends.client.open_stream().unwrap();
        let accepted = ends.server.accept_stream().unwrap();
        // Neither end finishes, so only the timeout ends the close.
        assert_eq!(ends.client.close(), CloseReason::LocalCloseTimedOut);
        let error = (&accepted).read(&mut [0; 4]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
        let error = (&opened).write(b"late").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    });
}

#[test]
fn dropping_a_stream_delivers_what_was_written_then_its_end() {
    hang_guard(|| {
        let ends = connect();
        let mut opened = ends.client.open_stream().unwrap();
        // More than the window: most of it is still unsent at the drop.
        let payload = common::pattern(7, 1_000_000);
        let sender = {
            let payload = payload.clone();
            thread::spawn(move || {
                opened.write_all(&payload).unwrap();
                drop(opened);
            })
        };
        let accepted = ends.server.accept_stream().unwrap();
        assert!(read_all(&accepted).unwrap() == payload);
        sender.join().unwrap();
        assert_eq!((&accepted).read(&mut [0; 4]).unwrap(), 0);
    });
}

#[test]
fn a_dropped_stream_discards_what_the_peer_sends_and_is_freed_at_its_end() {
    hang_guard(|| {
        let ends = connect();
        let opened = ends.client.open_stream().unwrap();
        let mut accepted = ends.server.accept_stream().unwrap();
        drop(opened);
        assert_eq!(
            read_all(&mut accepted).unwrap(),
            b"",
            "dropping finished it"
        );

        // Far more than the window: the discarding end keeps granting
        // credit, so the writer never stalls.
        accepted.write_all(&[9; 3_000_000]).unwrap();
        accepted.flush().unwrap();
        assert_eq!(accepted.delivery(), Delivery::Delivered);
        accepted.finish().unwrap();
        drop(accepted);
        // Once the FIN is through, neither end holds the stream. Nothing
        // signals that moment, so look until it comes (the guard catches a
        // stream that is never freed).
        while ends.client.stream_count() + ends.server.stream_count() > 0 {
            thread::yield_now();
        }
    });
}

#[test]
fn resetting_a_stream_the_peer_reset_first_keeps_the_peers_reset() {
    hang_guard(|| {
        let ends = connect();
        let opened = ends.client.open_stream().unwrap();
        (&opened).write_all(b"x").unwrap();
        let accepted = ends.server.accept_stream().unwrap();
        accepted.reset(5);
        // Frames arrive in order: once a later stream's data is here, so
        // is the RST.
        let mut later = ends.server.open_stream().unwrap();
        later.write_all(b"after").unwrap();
        let mut buf = [0; 5];
        ends.client
            .accept_stream()
            .unwrap()
            .read_exact(&mut buf)
            .unwrap();

        opened.reset(9);
        let error = (&opened).read(&mut buf).unwrap_err();
        assert!(matches!(
            inner(&error),
            StreamError::Reset {
                by: ResetBy::Peer { code: 5 },
                ..
            }
        ));
    });
}

#[test]
fn dropping_the_last_connection_handle_closes_gracefully() {
    hang_guard(|| {
        let ends = connect();
        let clone = ends.client.clone();
        let mut opened = ends.client.open_stream().unwrap();
        let mut accepted = ends.server.accept_stream().unwrap();
        drop(ends.client);
        // One clone left: nothing changes yet.
        let mut extra = clone.open_stream().unwrap();
        extra.finish().unwrap();
        drop(clone);

        // The streams still held keep working.
        opened.write_all(b"after the drop").unwrap();
        opened.finish().unwrap();
        assert_eq!(read_all(&mut accepted).unwrap(), b"after the drop");
        accepted.finish().unwrap();
        assert_eq!(read_all(&mut opened).unwrap(), b"");
        // A stream the server accepts after the close began is just as good.
        let mut late = ends.server.accept_stream().unwrap();
        assert_eq!(read_all(&mut late).unwrap(), b"");
        drop(late);
        assert_eq!(read_all(&mut extra).unwrap(), b"");
        drop((opened, accepted, extra));

        // Then the session ends, and the server's accept loop with it.
        let error = loop {
            if let Err(error) = ends.server.accept_stream() {
                break error;
            }
        };
        assert_eq!(error.kind(), ErrorKind::ConnectionAborted);
    });
}
