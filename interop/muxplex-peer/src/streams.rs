//! The routines the scenarios are made of, over muxplex-tokio streams.

use std::future::Future;

use muxplex_tokio::{Connection, Error, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

use crate::pattern::{Checker, fill};

/// A scenario step's outcome: what went wrong, in words.
pub(crate) type Outcome<T = ()> = Result<T, String>;

const CHUNK: usize = 64 * 1024;

/// Writes `size` bytes of `seed`'s pattern from `offset` on, in chunks.
pub(crate) async fn send_pattern<W: AsyncWrite + Unpin>(
    writer: &mut W,
    seed: u64,
    offset: u64,
    size: u64,
) -> Outcome {
    let mut buf = vec![0u8; size.min(CHUNK as u64) as usize];
    let mut sent = 0;
    while sent < size {
        let n = (size - sent).min(buf.len() as u64) as usize;
        fill(seed, offset + sent, &mut buf[..n]);
        writer
            .write_all(&buf[..n])
            .await
            .map_err(|e| format!("seed {seed:#x}: write: {e}"))?;
        sent += n as u64;
    }
    Ok(())
}

/// Reads exactly `size` bytes and checks them against `seed`'s pattern
/// from `offset` on.
pub(crate) async fn read_pattern<R: AsyncRead + Unpin>(
    reader: &mut R,
    seed: u64,
    offset: u64,
    size: u64,
) -> Outcome {
    let mut checker = Checker::new(seed, offset);
    let mut buf = vec![0u8; size.clamp(1, CHUNK as u64) as usize];
    let mut got = 0;
    while got < size {
        let want = (size - got).min(buf.len() as u64) as usize;
        let n = reader
            .read(&mut buf[..want])
            .await
            .map_err(|e| format!("seed {seed:#x}: read after {got} of {size} bytes: {e}"))?;
        if n == 0 {
            return Err(format!(
                "seed {seed:#x}: short: ended after {got} of {size} bytes"
            ));
        }
        checker.check(&buf[..n])?;
        got += n as u64;
    }
    Ok(())
}

/// Reads the end of the stream, which must come before any more bytes.
pub(crate) async fn expect_eof<R: AsyncRead + Unpin>(reader: &mut R) -> Outcome {
    let mut byte = [0u8; 1];
    match reader.read(&mut byte).await {
        Ok(0) => Ok(()),
        Ok(_) => Err("a byte past the expected end".into()),
        Err(e) => Err(format!("waiting for EOF: {e}")),
    }
}

/// Finishes our direction (FIN).
pub(crate) async fn finish<W: AsyncWrite + Unpin>(writer: &mut W) -> Outcome {
    writer.shutdown().await.map_err(|e| format!("finish: {e}"))
}

/// Sends `size` pattern bytes and FIN while reading the echo back,
/// checking every byte and the EOF after the last.
pub(crate) async fn round_trip(stream: Stream, seed: u64, size: u64) -> Outcome {
    let id = stream.id();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let send = async {
        send_pattern(&mut writer, seed, 0, size).await?;
        finish(&mut writer).await
    };
    let receive = async {
        read_pattern(&mut reader, seed, 0, size).await?;
        expect_eof(&mut reader).await
    };
    let (sent, received) = tokio::join!(send, receive);
    sent.and(received).map_err(|e| format!("stream {id}: {e}"))
}

/// Writes back everything it reads, then FIN (stream `_k` of those
/// accepted).
pub(crate) async fn echo(_k: u64, stream: Stream) -> Outcome {
    let id = stream.id();
    let (mut reader, mut writer) = tokio::io::split(stream);
    tokio::io::copy(&mut reader, &mut writer)
        .await
        .map_err(|e| format!("stream {id}: echo: {e}"))?;
    finish(&mut writer)
        .await
        .map_err(|e| format!("stream {id}: {e}"))
}

/// Waits for every task and joins their failures.
pub(crate) async fn join_all(mut tasks: JoinSet<Outcome>) -> Outcome {
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(e) => failures.push(format!("task failed: {e}")),
        }
    }
    match failures.len() {
        0 => Ok(()),
        n => Err(format!(
            "{n} failure(s); first: {}",
            failures.swap_remove(0)
        )),
    }
}

/// Hands every inbound stream to `handle`, with its number in the order
/// of arrival, until accepting fails (the session is closing or over),
/// then waits for the handlers. Returns the error that ended accepting and
/// the handlers' outcome.
pub(crate) async fn accept_all<F, Fut>(connection: &Connection, handle: F) -> (Error, Outcome)
where
    F: Fn(u64, Stream) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let mut handlers = JoinSet::new();
    let mut k = 0;
    let ended = loop {
        match connection.accept_stream().await {
            Ok(stream) => {
                handlers.spawn(handle(k, stream));
                k += 1;
            }
            Err(e) => break e,
        }
    };
    (ended, join_all(handlers).await)
}

/// Opens `n` streams at once, stream `i` carrying seed `base + i` and
/// `size(i)` bytes, and checks each echo; returns the bytes sent.
pub(crate) async fn open_round_trips(
    connection: &Connection,
    n: u64,
    base: u64,
    size: impl Fn(u64) -> u64,
) -> Outcome<u64> {
    let mut tasks = JoinSet::new();
    let mut total = 0;
    for i in 0..n {
        let stream = connection
            .open_stream()
            .await
            .map_err(|e| format!("open: {e}"))?;
        total += size(i);
        tasks.spawn(round_trip(stream, base + i, size(i)));
    }
    join_all(tasks).await.map(|()| total)
}
