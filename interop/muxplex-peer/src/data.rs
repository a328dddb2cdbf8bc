//! The data scenarios: echo, hello, big writes, short streams (behind the
//! delaying relay) and streams opened by both ends. The numbers match the
//! Go peer's (`interop/go-peer/scenarios.go`).

use muxplex_tokio::{CloseReason, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::Env;
use crate::pattern::{Checker, fill, log_size, uniform_size};
use crate::streams::{
    Outcome, accept_all, echo, expect_eof, finish, join_all, open_round_trips, read_pattern,
};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

const ECHO_STREAMS: u64 = 100;
const ECHO_MAX: u64 = 8 * MIB;
const HELLO_STREAMS: u64 = 10_000;
const SHORT_STREAMS: u64 = 2_000;
const SHORT_MAX: u64 = 256 * KIB;
const BOTH_STREAMS: u64 = 100;
const BOTH_MAX: u64 = 256 * KIB;
const BIG_SIZES: [u64; 2] = [4 * MIB, 16 * MIB];

fn big_seed(i: usize) -> u64 {
    0xB0 + i as u64
}

/// Echoes every stream until the session ends.
pub(crate) async fn echo_server(env: &Env) -> Outcome<u64> {
    let (_, handled) = accept_all(&env.connection, echo).await;
    handled.map(|()| 0)
}

/// 100 concurrent streams of 0 to 8 MiB, each echoed.
pub(crate) async fn echo_client(env: &Env) -> Outcome<u64> {
    open_round_trips(&env.connection, ECHO_STREAMS, 0xEC00_0000, |i| {
        uniform_size(0xEC, i, ECHO_MAX)
    })
    .await
}

/// 2,000 streams of 1 B to 256 KiB, each echoed (through the relay that
/// delays every frame's payload).
pub(crate) async fn short_client(env: &Env) -> Outcome<u64> {
    open_round_trips(&env.connection, SHORT_STREAMS, 0x5000_0000, |i| {
        log_size(0x50, i, SHORT_MAX)
    })
    .await
}

/// 10,000 streams at once, each sending "hello" and FIN and reading the
/// echo.
pub(crate) async fn hello_client(env: &Env) -> Outcome<u64> {
    let mut tasks = JoinSet::new();
    for _ in 0..HELLO_STREAMS {
        let mut stream = env
            .connection
            .open_stream()
            .await
            .map_err(|e| format!("open: {e}"))?;
        tasks.spawn(async move {
            let id = stream.id();
            let fail = |e: std::io::Error| format!("stream {id}: {e}");
            stream.write_all(b"hello").await.map_err(fail)?;
            stream.shutdown().await.map_err(fail)?;
            let mut got = Vec::new();
            stream.read_to_end(&mut got).await.map_err(fail)?;
            match got == b"hello" {
                true => Ok(()),
                false => Err(format!(
                    "stream {id}: echoed {:?}, want \"hello\"",
                    String::from_utf8_lossy(&got)
                )),
            }
        });
    }
    join_all(tasks).await.map(|()| HELLO_STREAMS * 5)
}

/// 4 MiB, then 16 MiB, each in one write, echoed.
pub(crate) async fn big_writes_client(env: &Env) -> Outcome<u64> {
    for (i, &size) in BIG_SIZES.iter().enumerate() {
        let mut stream = env
            .connection
            .open_stream()
            .await
            .map_err(|e| format!("open: {e}"))?;
        let mut buf = vec![0u8; size as usize];
        fill(big_seed(i), 0, &mut buf);
        stream
            .write_all(&buf)
            .await
            .map_err(|e| format!("write: {e}"))?;
        finish(&mut stream).await?;
        read_pattern(&mut stream, big_seed(i), 0, size).await?;
        expect_eof(&mut stream).await?;
    }
    Ok(BIG_SIZES.iter().sum())
}

/// Reads each big stream whole, checks it, and writes it back in one
/// write.
pub(crate) async fn big_writes_server(env: &Env) -> Outcome<u64> {
    for (i, &size) in BIG_SIZES.iter().enumerate() {
        let mut stream = env
            .connection
            .accept_stream()
            .await
            .map_err(|e| format!("accept: {e}"))?;
        let id = stream.id();
        let mut got = Vec::with_capacity(size as usize);
        stream
            .read_to_end(&mut got)
            .await
            .map_err(|e| format!("stream {id}: read: {e}"))?;
        if got.len() as u64 != size {
            return Err(format!("stream {id}: got {} bytes, want {size}", got.len()));
        }
        Checker::new(big_seed(i), 0).check(&got)?;
        stream
            .write_all(&got)
            .await
            .map_err(|e| format!("stream {id}: write: {e}"))?;
        finish(&mut stream).await?;
    }
    let (_, handled) = accept_all(&env.connection, unexpected).await;
    handled.map(|()| BIG_SIZES.iter().sum())
}

async fn unexpected(_k: u64, stream: Stream) -> Outcome {
    Err(format!("stream {}: unexpected", stream.id()))
}

/// Both ends open 100 streams at once and echo the other's. Once its
/// echoes are checked the client opens one more stream, "done"; the server
/// ends the session once it has that and its own echoes checked, so no end
/// closes while the other still checks.
pub(crate) async fn both_open(env: &Env) -> Outcome<u64> {
    let (base, size_seed) = match env.client {
        true => (0xC100_0000, 0xC1),
        false => (0x5E00_0000, 0x5E),
    };
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let connection = env.connection.clone();
    let served = tokio::spawn(async move {
        accept_all(&connection, move |k, stream| {
            let done = done_tx.clone();
            async move {
                if k < BOTH_STREAMS {
                    return echo(k, stream).await;
                }
                let outcome = expect_done(stream).await;
                let _ = done.send(outcome.clone());
                outcome
            }
        })
        .await
        .1
    });
    let total = open_round_trips(&env.connection, BOTH_STREAMS, base, |i| {
        uniform_size(size_seed, i, BOTH_MAX)
    })
    .await?;
    if env.client {
        let mut stream = env
            .connection
            .open_stream()
            .await
            .map_err(|e| format!("open: {e}"))?;
        stream
            .write_all(b"done")
            .await
            .map_err(|e| format!("done: {e}"))?;
        finish(&mut stream).await?;
    } else {
        done.recv()
            .await
            .ok_or("the session ended without \"done\"")??;
        match env.connection.close().await {
            Ok(CloseReason::LocalClose) => {}
            other => return Err(format!("close() returned {other:?}, want LocalClose")),
        }
    }
    served
        .await
        .map_err(|e| format!("echo server: {e}"))?
        .map(|()| total)
}

/// Reads the client's "done" stream.
async fn expect_done(mut stream: Stream) -> Outcome {
    let mut got = Vec::new();
    let read = stream.read_to_end(&mut got).await;
    match read.is_ok() && got == b"done" {
        true => Ok(()),
        false => Err(format!(
            "stream {}: {:?} ({read:?}), want \"done\"",
            stream.id(),
            String::from_utf8_lossy(&got)
        )),
    }
}
