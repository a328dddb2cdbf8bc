//! Many streams at once, from many threads, each echoed and checked byte
//! for byte; and one stream carrying 32 MiB each way at the same time.

mod common;

use std::io::{self, Read, Write};
use std::thread;

use common::{connect, hang_guard, pattern, read_all};
use muxplex_blocking::{Connection, Stream};

/// Echoes every stream the connection accepts, each on its own thread,
/// until the connection ends.
fn echo_server(connection: Connection) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        let mut echoed = Vec::new();
        while let Ok(stream) = connection.accept_stream() {
            echoed.push(thread::spawn(move || {
                io::copy(&mut &stream, &mut &stream).expect("echo")
            }));
        }
        echoed.len()
    })
}

/// Sends `payload` from one thread while reading the echo on this one, so
/// a payload larger than the window cannot deadlock.
fn round_trip(stream: &Stream, payload: &[u8]) -> Vec<u8> {
    thread::scope(|scope| {
        scope.spawn(|| {
            let mut writer = stream;
            writer.write_all(payload).unwrap();
            writer.finish().unwrap();
        });
        read_all(stream).unwrap()
    })
}

#[test]
fn a_hundred_concurrent_streams_from_many_threads_echo_exactly() {
    hang_guard(|| {
        let ends = connect();
        let server = echo_server(ends.server);
        let client = ends.client;
        thread::scope(|scope| {
            for i in 0..100u64 {
                let client = &client;
                scope.spawn(move || {
                    // Sizes from empty to beyond the 256 KiB window.
                    let payload = pattern(i, (i as usize * 7_919) % 400_000);
                    let stream = client.open_stream().unwrap();
                    let echoed = round_trip(&stream, &payload);
                    assert!(echoed == payload, "stream {i} came back different");
                });
            }
        });
        assert_eq!(client.stream_count(), 0, "finished streams are freed");
        assert_eq!(client.close(), muxplex_blocking::CloseReason::LocalClose);
        assert_eq!(server.join().unwrap(), 100);
    });
}

#[test]
fn thirty_two_mib_each_way_on_one_stream() {
    const SIZE: usize = 32 * 1024 * 1024;
    hang_guard(|| {
        let ends = connect();
        let (client, server) = (ends.client, ends.server);
        let up = pattern(1, SIZE);
        let down = pattern(2, SIZE);

        let opened = client.open_stream().unwrap();
        let accepted = server.accept_stream().unwrap();
        thread::scope(|scope| {
            scope.spawn(|| send(&opened, &up));
            scope.spawn(|| send(&accepted, &down));
            let at_server = scope.spawn(|| receive(&accepted, SIZE));
            let at_client = receive(&opened, SIZE);
            assert!(at_client == down, "server to client differs");
            assert!(at_server.join().unwrap() == up, "client to server differs");
        });
    });
}

/// Writes `data` in odd-sized pieces, so frames and reads never line up,
/// then finishes.
fn send(mut stream: &Stream, data: &[u8]) {
    for piece in data.chunks(100_003) {
        stream.write_all(piece).unwrap();
    }
    stream.finish().unwrap();
}

/// Reads to the end in odd-sized pieces.
fn receive(mut stream: &Stream, expected: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(expected);
    let mut buf = vec![0; 50_001];
    loop {
        match stream.read(&mut buf).unwrap() {
            0 => return data,
            n => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// A stream's own counters and the connection's: what one end sent and
/// what came back, once the echo is in.
#[test]
fn stream_and_connection_stats_count_the_echoed_bytes() {
    hang_guard(|| {
        let ends = connect();
        let server = echo_server(ends.server);
        let client = ends.client;
        let stream = client.open_stream().unwrap();
        let payload = pattern(3, 100_000);
        (&stream).write_all(&payload).unwrap();
        let mut echoed = vec![0; payload.len()];
        (&stream).read_exact(&mut echoed).unwrap();
        assert_eq!(echoed, payload);
        // Counted while the stream is open: a stream finished both ways is
        // forgotten, and its counters with it.
        let counted = stream.stats();
        assert_eq!((counted.sent, counted.received), (100_000, 100_000));
        assert_eq!((counted.unsent, counted.buffered), (0, 0));
        let session = client.stats();
        assert_eq!(session.streams.opened, 1);
        assert!(session.sent.data.bytes >= 100_000);
        drop(stream);
        drop(client);
        server.join().unwrap();
    });
}
