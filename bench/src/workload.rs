//! The loopback TCP workloads, written once for every [`AsyncMux`].

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

use crate::mux::AsyncMux;

/// Bytes per application write and read.
pub(crate) const CHUNK: usize = 64 * 1024;
/// What bulk writers send; the content does not matter.
pub(crate) static PAYLOAD: [u8; CHUNK] = [0x5a; CHUNK];
/// A case that takes longer than this is broken, not slow.
pub(crate) const LIMIT: Duration = Duration::from_secs(120);

/// Runs `work` on a fresh multi-threaded runtime with a worker per core,
/// so client and server can run in parallel and no state carries over
/// from one case to the next.
pub(crate) fn on_runtime<F>(work: F) -> io::Result<f64>
where
    F: Future<Output = io::Result<f64>> + Send,
{
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tokio::time::timeout(LIMIT, work)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "case exceeded its time limit"))?
    })
}

// `hold_open`: each workload keeps a handle on the server end until the
// client end is done. The server's tasks finish first, and when the last
// handle on a muxplex-tokio connection goes, the adapter (for now) aborts
// the session, which would drop a FIN still queued for the client.

/// Megabytes (10^6 bytes) per second.
pub(crate) fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// `total` bytes one way, split over `streams` concurrent streams; MB/s
/// from the first open until the server has read the last byte.
pub(crate) fn bulk<M: AsyncMux>(total: u64, streams: usize) -> io::Result<f64> {
    on_runtime(async move {
        let (client, server) = M::pair().await?;
        let _keep = server.clone(); // see `hold_open`
        let per_stream = total / streams as u64;
        let started = Instant::now();
        let receiver = tokio::spawn(async move {
            let mut readers = JoinSet::new();
            for _ in 0..streams {
                let stream = server.accept().await?;
                readers.spawn(M::drain(stream));
            }
            let mut received = 0;
            while let Some(result) = readers.join_next().await {
                received += result??;
            }
            io::Result::Ok((received, Instant::now()))
        });
        let mut writers = JoinSet::new();
        for _ in 0..streams {
            let client = client.clone();
            writers.spawn(async move {
                let mut stream = client.open().await?;
                let mut left = per_stream;
                while left > 0 {
                    let n = left.min(CHUNK as u64) as usize;
                    M::send_payload(&mut stream, n).await?;
                    left -= n as u64;
                }
                finish_and_wait(stream).await
            });
        }
        // The writers first: one that fails (an open refused, say) ends the
        // case at once, where the receiver would wait for its stream until
        // the time limit.
        while let Some(result) = writers.join_next().await {
            result??;
        }
        let (received, done) = receiver.await??;
        let elapsed = done - started;
        if received != per_stream * streams as u64 {
            return Err(io::Error::other(format!("received {received} bytes")));
        }
        Ok(mb_per_s(received, elapsed))
    })
}

/// `streams` streams, `concurrency` at a time: each opened, sent "hello"
/// and finished; the server reads each to the end and finishes too, and
/// the client reads that end. Streams per second until all are done.
pub(crate) fn hello<M: AsyncMux>(streams: usize, concurrency: usize) -> io::Result<f64> {
    on_runtime(async move {
        let (client, server) = M::pair().await?;
        let _keep = server.clone(); // see `hold_open`
        let started = Instant::now();
        let receiver = tokio::spawn(async move {
            let mut readers = JoinSet::new();
            for _ in 0..streams {
                let mut stream = server.accept().await?;
                readers.spawn(async move {
                    let mut message = Vec::new();
                    stream.read_to_end(&mut message).await?;
                    if message != b"hello" {
                        return Err(io::Error::other("wrong message"));
                    }
                    stream.shutdown().await
                });
                // Reap as we go, so finished tasks do not pile up.
                while let Some(result) = readers.try_join_next() {
                    result??;
                }
            }
            while let Some(result) = readers.join_next().await {
                result??;
            }
            io::Result::Ok(())
        });
        let mut openers = JoinSet::new();
        for task in 0..concurrency {
            let client = client.clone();
            let count = streams / concurrency + usize::from(task < streams % concurrency);
            openers.spawn(async move {
                for _ in 0..count {
                    let mut stream = client.open().await?;
                    stream.write_all(b"hello").await?;
                    finish_and_wait(stream).await?;
                }
                io::Result::Ok(())
            });
        }
        while let Some(result) = openers.join_next().await {
            result??;
        }
        receiver.await??;
        Ok(streams as f64 / started.elapsed().as_secs_f64())
    })
}

/// One-byte ping-pong on one stream; microseconds per round trip.
pub(crate) fn rtt<M: AsyncMux>(round_trips: usize) -> io::Result<f64> {
    on_runtime(async move {
        let (client, server) = M::pair().await?;
        let _keep = server.clone(); // see `hold_open`
        let echo = tokio::spawn(async move {
            let mut stream = server.accept().await?;
            let mut byte = [0u8; 1];
            while stream.read(&mut byte).await? == 1 {
                stream.write_all(&byte).await?;
            }
            stream.shutdown().await
        });
        // The client runs as a task, as application code does, rather than
        // on the thread blocked in `block_on`: waking that thread is a
        // futex call per round trip that no served connection pays.
        let client = tokio::spawn(async move {
            let mut stream = client.open().await?;
            let mut byte = [7u8; 1];
            // The first round trips open the stream and warm the path.
            let warm_up = 100;
            let mut started = Instant::now();
            for i in 0..warm_up + round_trips {
                if i == warm_up {
                    started = Instant::now();
                }
                stream.write_all(&byte).await?;
                stream.read_exact(&mut byte).await?;
            }
            let elapsed = started.elapsed();
            finish_and_wait(stream).await?;
            io::Result::Ok(elapsed)
        });
        let elapsed = client.await??;
        echo.await??;
        Ok(elapsed.as_secs_f64() * 1e6 / round_trips as f64)
    })
}

/// Reads a stream to the end, then finishes it; returns the bytes read.
pub(crate) async fn drain_and_finish<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        match stream.read(&mut buf).await? {
            0 => break,
            n => total += n as u64,
        }
    }
    stream.shutdown().await?;
    Ok(total)
}

/// Finishes our direction and waits for the peer's end, so the stream is
/// over both ways before it is dropped (a clean close for every
/// implementation, never a reset).
async fn finish_and_wait<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> io::Result<()> {
    stream.shutdown().await?;
    let mut rest = [0u8; 16];
    while stream.read(&mut rest).await? > 0 {}
    Ok(())
}

/// The request of `rr-nagle`, about an HTTP GET's size.
const REQUEST: &[u8] = &[b'q'; 200];
/// Its response.
const RESPONSE: &[u8] = &[b'r'; 1000];

/// A loopback TCP pair with Nagle's algorithm left on, as tokio's sockets
/// come by default.
async fn nagle_pair() -> io::Result<(tokio::net::TcpStream, tokio::net::TcpStream)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (dialed, (accepted, _)) =
        tokio::try_join!(tokio::net::TcpStream::connect(address), listener.accept())?;
    Ok((dialed, accepted))
}

/// `rr-nagle` for muxplex-tokio.
pub(crate) fn rr_nagle_tokio(requests: usize) -> io::Result<f64> {
    use crate::mux::MuxplexTokio;
    use muxplex_tokio::{Config, Connection, Role};
    on_runtime(async move {
        let (dialed, accepted) = nagle_pair().await?;
        let client = MuxplexTokio(Connection::spawn(dialed, Role::Client, Config::default()));
        let server = MuxplexTokio(Connection::spawn(accepted, Role::Server, Config::default()));
        request_response(client, server, requests).await
    })
}

/// `rr-nagle` for muxplex-smol (over tokio sockets, as in [`crate::mux`]).
pub(crate) fn rr_nagle_smol(requests: usize) -> io::Result<f64> {
    use crate::mux::MuxplexSmol;
    use tokio_util::compat::TokioAsyncReadCompatExt;
    on_runtime(async move {
        let (dialed, accepted) = nagle_pair().await?;
        let client = MuxplexSmol::spawn(dialed.compat(), muxplex_smol::Role::Client);
        let server = MuxplexSmol::spawn(accepted.compat(), muxplex_smol::Role::Server);
        request_response(client, server, requests).await
    })
}

/// One request and one response per stream, one stream at a time: the
/// client opens, writes the request and finishes; the server reads it to
/// the end, writes the response and finishes; the client reads to the end.
/// Returns the p99 latency in microseconds (p50 goes to stderr).
async fn request_response<M: AsyncMux>(client: M, server: M, requests: usize) -> io::Result<f64> {
    let _keep = server.clone(); // see `hold_open`
    let serving = tokio::spawn(async move {
        for _ in 0..requests + 10 {
            let mut stream = server.accept().await?;
            tokio::spawn(async move {
                let mut request = Vec::new();
                stream.read_to_end(&mut request).await?;
                stream.write_all(RESPONSE).await?;
                stream.shutdown().await
            });
        }
        io::Result::Ok(())
    });
    let client = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(requests);
        // The first requests warm the path.
        for i in 0..requests + 10 {
            let started = Instant::now();
            let mut stream = client.open().await?;
            stream.write_all(REQUEST).await?;
            stream.shutdown().await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            if response != RESPONSE {
                return Err(io::Error::other("wrong response"));
            }
            if i >= 10 {
                latencies.push(started.elapsed());
            }
        }
        io::Result::Ok(latencies)
    });
    let latencies = client.await??;
    serving.await??;
    Ok(p99_logging_p50(latencies))
}

/// The p99 of `latencies` in microseconds; p50 and the maximum go to
/// stderr.
pub(crate) fn p99_logging_p50(mut latencies: Vec<Duration>) -> f64 {
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
        latencies[index].as_secs_f64() * 1e6
    };
    eprintln!(
        "  rr-nagle: p50 {:.0} us, p99 {:.0} us, max {:.0} us",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    at(0.99)
}
