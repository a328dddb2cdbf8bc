//! Output through transports that take less than they are given: writes
//! cut anywhere (inside a header, inside a shared payload, across the
//! buffers of one vectored write), and a writer without vectored writes,
//! which std's default `write_vectored` serves one buffer at a time. Many
//! streams at once, each large enough to span many frames and batches, are
//! echoed and checked byte for byte.

mod common;

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use common::{hang_guard, pattern, read_all};
use muxplex_blocking::{CloseReason, Config, Connection, Role, Stream};

/// The write half of a TCP connection that takes at most `max` bytes per
/// call. With `vectored` false it has no `write_vectored` of its own.
struct Stingy {
    tcp: TcpStream,
    max: usize,
    vectored: bool,
    /// Vectored writes it was asked for that spanned several buffers.
    spanning: Arc<AtomicUsize>,
}

impl Write for Stingy {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.max);
        self.tcp.write(&buf[..n])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.vectored {
            // What std's default does: the first non-empty buffer alone.
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return self.write(first);
        }
        let mut left = self.max;
        let mut cut = Vec::new();
        for buf in bufs {
            if left == 0 {
                break;
            }
            let n = buf.len().min(left);
            cut.push(IoSlice::new(&buf[..n]));
            left -= n;
        }
        if cut.len() > 1 {
            self.spanning.fetch_add(1, Ordering::Relaxed);
        }
        self.tcp.write_vectored(&cut)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Stingy {
    fn drop(&mut self) {
        let _ = self.tcp.shutdown(Shutdown::Write);
    }
}

/// Both ends over loopback TCP, each writing through a `Stingy`; returns
/// them with the count of spanning vectored writes on both.
fn stingy_pair(max: usize, vectored: bool) -> (Connection, Connection, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dialed = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let spanning = Arc::new(AtomicUsize::new(0));
    let end = |role, tcp: TcpStream| {
        let writer = Stingy {
            tcp: tcp.try_clone().unwrap(),
            max,
            vectored,
            spanning: Arc::clone(&spanning),
        };
        Connection::new(role, tcp, writer, Config::default()).unwrap()
    };
    let client = end(Role::Client, dialed);
    let server = end(Role::Server, accepted);
    (client, server, spanning)
}

/// Echoes every stream the connection accepts until it ends.
fn echo_server(connection: Connection) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut echoes = Vec::new();
        while let Ok(stream) = connection.accept_stream() {
            echoes.push(thread::spawn(move || {
                io::copy(&mut &stream, &mut &stream).expect("echo");
            }));
        }
        for echo in echoes {
            echo.join().unwrap();
        }
    })
}

/// Sends `payload` on a new stream from one thread while this one reads
/// the echo.
fn round_trip(stream: &Stream, payload: &[u8]) -> Vec<u8> {
    thread::scope(|scope| {
        scope.spawn(|| {
            let mut writer = stream;
            // Uneven pieces, so frames and batches split them anywhere.
            for piece in payload.chunks(70_001) {
                writer.write_all(piece).unwrap();
            }
            writer.finish().unwrap();
        });
        read_all(stream).unwrap()
    })
}

/// Sixteen streams at once, 1 to 2.5 MiB each, echoed over `client` and
/// `server`; every byte must come back in order.
fn many_large_streams(client: Connection, server: Connection) {
    let echo = echo_server(server);
    thread::scope(|scope| {
        for i in 0..16u64 {
            let client = &client;
            scope.spawn(move || {
                let payload = pattern(i + 1, (1 << 20) + i as usize * 99_991);
                let stream = client.open_stream().unwrap();
                let echoed = round_trip(&stream, &payload);
                assert_eq!(echoed.len(), payload.len(), "stream {i}: length");
                assert!(echoed == payload, "stream {i} came back different");
            });
        }
    });
    assert_eq!(client.close(), CloseReason::LocalClose);
    echo.join().unwrap();
}

#[test]
fn short_vectored_writes_deliver_every_byte() {
    hang_guard(|| {
        // 5,003 bytes a write: cuts inside headers, inside shared payloads
        // and across the buffers of one vectored write.
        let (client, server, spanning) = stingy_pair(5_003, true);
        many_large_streams(client, server);
        assert!(
            spanning.load(Ordering::Relaxed) > 0,
            "payloads went out by vectored writes"
        );
    });
}

#[test]
fn a_writer_without_vectored_writes_gets_every_byte() {
    hang_guard(|| {
        // Std's default write_vectored writes the first buffer only; the
        // adapter falls back to copying frames, in pieces of 3,001 bytes.
        let (client, server, spanning) = stingy_pair(3_001, false);
        many_large_streams(client, server);
        assert_eq!(spanning.load(Ordering::Relaxed), 0);
    });
}

#[test]
fn one_stream_stays_intact_while_small_writes_interleave_on_others() {
    hang_guard(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let dialed = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        let client = Connection::client(dialed, Config::default()).unwrap();
        let server = Connection::server(accepted, Config::default()).unwrap();
        let echo = echo_server(server);
        thread::scope(|scope| {
            // One bulk stream of 8 MiB...
            let bulk = scope.spawn(|| {
                let payload = pattern(7, 8 << 20);
                let stream = client.open_stream().unwrap();
                assert!(round_trip(&stream, &payload) == payload);
            });
            // ...while 64 threads trade small messages, one byte to a few
            // hundred, on streams of their own.
            for i in 0..64u64 {
                let client = &client;
                scope.spawn(move || {
                    let mut stream = client.open_stream().unwrap();
                    for round in 0..50usize {
                        let message = pattern(i * 1_000 + round as u64, 1 + (round * 37) % 300);
                        stream.write_all(&message).unwrap();
                        let mut echoed = vec![0; message.len()];
                        stream.read_exact(&mut echoed).unwrap();
                        assert!(echoed == message, "stream {i}, round {round}");
                    }
                    stream.finish().unwrap();
                    assert_eq!(read_all(&stream).unwrap(), b"");
                });
            }
            bulk.join().unwrap();
        });
        assert_eq!(client.close(), CloseReason::LocalClose);
        echo.join().unwrap();
    });
}
