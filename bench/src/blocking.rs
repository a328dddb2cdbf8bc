//! The loopback TCP workloads for muxplex-blocking: the same shapes as
//! [`crate::workload`], with threads where those use tasks.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Instant;

use muxplex_blocking::{Config, Connection, Stream};

use crate::workload::{CHUNK, PAYLOAD, mb_per_s};

/// Both ends of a muxplex-blocking connection over loopback TCP.
fn pair() -> io::Result<(Connection, Connection)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let dialed = TcpStream::connect(listener.local_addr()?)?;
    let (accepted, _) = listener.accept()?;
    dialed.set_nodelay(true)?;
    accepted.set_nodelay(true)?;
    Ok((
        Connection::client(dialed, Config::default())?,
        Connection::server(accepted, Config::default())?,
    ))
}

/// Joins a thread, turning its panic into an error.
fn join<T>(handle: thread::JoinHandle<io::Result<T>>) -> io::Result<T> {
    handle
        .join()
        .map_err(|_| io::Error::other("worker thread panicked"))?
}

/// `total` bytes one way over `streams` streams, a thread each.
pub(crate) fn bulk(total: u64, streams: usize) -> io::Result<f64> {
    let (client, server) = pair()?;
    let per_stream = total / streams as u64;
    let started = Instant::now();
    let receiver = thread::spawn(move || {
        let mut readers = Vec::new();
        for _ in 0..streams {
            let stream = server.accept_stream()?;
            readers.push(thread::spawn(move || drain_and_finish(stream)));
        }
        readers.into_iter().map(join).sum::<io::Result<u64>>()
    });
    let writers: Vec<_> = (0..streams)
        .map(|_| {
            let client = client.clone();
            thread::spawn(move || {
                let mut stream = client.open_stream()?;
                let mut left = per_stream;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    stream.write_all(&PAYLOAD[..n])?;
                    left -= n as u64;
                }
                finish_and_wait(stream)
            })
        })
        .collect();
    let received = join(receiver)?;
    let elapsed = started.elapsed();
    for writer in writers {
        join(writer)?;
    }
    client.close();
    if received != per_stream * streams as u64 {
        return Err(io::Error::other(format!("received {received} bytes")));
    }
    crate::report::record_session(client.stats());
    Ok(mb_per_s(received, elapsed))
}

/// `streams` hello streams from `concurrency` client threads; the server
/// hands them to as many worker threads.
pub(crate) fn hello(streams: usize, concurrency: usize) -> io::Result<f64> {
    let (client, server) = pair()?;
    let started = Instant::now();
    let (work, queue) = mpsc::channel::<Stream>();
    let queue = Arc::new(Mutex::new(queue));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                loop {
                    let next = queue.lock().expect("queue lock").recv();
                    let Ok(mut stream) = next else {
                        return Ok(());
                    };
                    let mut message = Vec::new();
                    stream.read_to_end(&mut message)?;
                    if message != b"hello" {
                        return Err(io::Error::other("wrong message"));
                    }
                    stream.finish()?;
                }
            })
        })
        .collect();
    let acceptor = thread::spawn(move || {
        for _ in 0..streams {
            let stream = server.accept_stream()?;
            work.send(stream)
                .map_err(|_| io::Error::other("workers gone"))?;
        }
        io::Result::Ok(())
    });
    let openers: Vec<_> = (0..concurrency)
        .map(|task| {
            let client = client.clone();
            let count = streams / concurrency + usize::from(task < streams % concurrency);
            thread::spawn(move || {
                for _ in 0..count {
                    let mut stream = client.open_stream()?;
                    stream.write_all(b"hello")?;
                    finish_and_wait(stream)?;
                }
                io::Result::Ok(())
            })
        })
        .collect();
    for opener in openers {
        join(opener)?;
    }
    join(acceptor)?;
    for worker in workers {
        join(worker)?;
    }
    let elapsed = started.elapsed();
    client.close();
    crate::report::record_session(client.stats());
    Ok(streams as f64 / elapsed.as_secs_f64())
}

/// One-byte ping-pong on one stream; microseconds per round trip.
pub(crate) fn rtt(round_trips: usize) -> io::Result<f64> {
    let (client, server) = pair()?;
    let echo = thread::spawn(move || {
        let mut stream = server.accept_stream()?;
        let mut byte = [0u8; 1];
        while stream.read(&mut byte)? == 1 {
            stream.write_all(&byte)?;
        }
        stream.finish()
    });
    let mut stream = client.open_stream()?;
    let mut byte = [7u8; 1];
    let warm_up = 100;
    let mut started = Instant::now();
    for i in 0..warm_up + round_trips {
        if i == warm_up {
            started = Instant::now();
        }
        stream.write_all(&byte)?;
        stream.read_exact(&mut byte)?;
    }
    let elapsed = started.elapsed();
    finish_and_wait(stream)?;
    join(echo)?;
    client.close();
    crate::report::record_session(client.stats());
    Ok(elapsed.as_secs_f64() * 1e6 / round_trips as f64)
}

fn drain_and_finish(mut stream: Stream) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        match stream.read(&mut buf)? {
            0 => break,
            n => total += n as u64,
        }
    }
    stream.finish()?;
    Ok(total)
}

fn finish_and_wait(mut stream: Stream) -> io::Result<()> {
    stream.finish()?;
    let mut rest = [0u8; 16];
    while stream.read(&mut rest)? > 0 {}
    Ok(())
}

/// `rr-nagle` for muxplex-blocking: see [`crate::workload`]'s; a thread
/// per served stream.
pub(crate) fn rr_nagle(requests: usize) -> io::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let dialed = TcpStream::connect(listener.local_addr()?)?;
    let (accepted, _) = listener.accept()?;
    // Nagle's algorithm stays on.
    let client = Connection::client(dialed, Config::default())?;
    let server = Connection::server(accepted, Config::default())?;
    let total = requests + 10;
    let serving = thread::spawn(move || {
        for _ in 0..total {
            let mut stream = server.accept_stream()?;
            thread::spawn(move || {
                let mut request = Vec::new();
                stream.read_to_end(&mut request)?;
                stream.write_all(&[b'r'; 1000])?;
                stream.finish()
            });
        }
        io::Result::Ok(server)
    });
    let mut latencies = Vec::with_capacity(requests);
    for i in 0..total {
        let started = Instant::now();
        let mut stream = client.open_stream()?;
        stream.write_all(&[b'q'; 200])?;
        stream.finish()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        if response.len() != 1000 {
            return Err(io::Error::other("wrong response"));
        }
        if i >= 10 {
            latencies.push(started.elapsed());
        }
    }
    let _server = join(serving)?;
    crate::report::record_session(client.stats());
    Ok(crate::workload::p99_logging_p50(latencies))
}
