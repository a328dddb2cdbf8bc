//! The control scenarios: resets, graceful close and keepalive. Each
//! mirrors the Go peer's (`interop/go-peer/scenarios.go`).

use std::io;
use std::time::Duration;

use muxplex::{OpenError, ResetBy};
use muxplex_tokio::{CloseReason, Error, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::streams::{
    Outcome, accept_all, echo, expect_eof, finish, read_pattern, round_trip, send_pattern,
};
use crate::{Env, Peer};

const RESET_LEN: u64 = 1000;
const RESET_ECHO_LEN: u64 = 100_000;
const RESET_BY_CLIENT: u32 = 42;
const RESET_BY_SERVER: u32 = 7;

const CLOSE_FIRST: u64 = 4 << 20;
const CLOSE_HALF: u64 = 1 << 20;
const CLOSE_ANSWER: u64 = 2 << 20;

const KEEPALIVE_IDLE: Duration = Duration::from_millis(5500);

fn io_fail(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// The muxplex error inside an I/O error from a stream.
fn muxplex_error(error: &io::Error) -> Option<Error> {
    error.get_ref()?.downcast_ref::<Error>().cloned()
}

/// Checks that `error` is the peer's reset with `code`.
fn check_reset(stream: &Stream, error: &io::Error, code: u32) -> Outcome {
    match muxplex_error(error) {
        Some(Error::Reset {
            by: ResetBy::Peer { code: got },
            ..
        }) if got == code => Ok(()),
        _ => Err(format!(
            "stream {}: {error}, want the peer's reset with code {code}",
            stream.id()
        )),
    }
}

/// Waits for the peer's reset of `stream` and checks its code. A
/// hashicorp/yamux peer cannot reset: it half-closes and its
/// StreamCloseTimeout sends the RST (code 0), so after its FIN writes probe
/// until the RST has come.
async fn expect_reset(env: &Env, stream: &mut Stream, code: u32) -> Outcome {
    if env.peer == Peer::Hashicorp {
        for _ in 0..1000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if let Err(e) = stream.write_all(&[1]).await {
                return check_reset(stream, &e, 0);
            }
        }
        return Err(format!("stream {}: no reset came", stream.id()));
    }
    let mut buf = [0u8; 64];
    match stream.read(&mut buf).await {
        Ok(0) => Err(format!("stream {}: EOF instead of a reset", stream.id())),
        Ok(_) => Err(format!("stream {}: data instead of a reset", stream.id())),
        Err(e) => check_reset(stream, &e, code),
    }
}

/// A: the client resets it with code 42 once the server read its bytes;
/// B: the server resets it with code 7; C: the session still works.
pub(crate) async fn reset_client(env: &Env) -> Outcome<u64> {
    let connection = &env.connection;
    let mut a = connection.open_stream().await.map_err(|e| e.to_string())?;
    send_pattern(&mut a, 0xA, 0, RESET_LEN).await?;
    let mut ready = [0u8; 1];
    a.read_exact(&mut ready).await.map_err(io_fail("ready"))?;
    if ready != *b"r" {
        return Err(format!("stream {}: no ready byte", a.id()));
    }
    a.reset(RESET_BY_CLIENT);
    if a.write_all(b"after").await.is_ok() {
        return Err(format!("stream {}: a write after our reset", a.id()));
    }
    let mut b = connection.open_stream().await.map_err(|e| e.to_string())?;
    send_pattern(&mut b, 0xB, 0, RESET_LEN).await?;
    expect_reset(env, &mut b, RESET_BY_SERVER).await?;
    let c = connection.open_stream().await.map_err(|e| e.to_string())?;
    round_trip(c, 0xC, RESET_ECHO_LEN).await?;
    Ok(2 * RESET_LEN + RESET_ECHO_LEN)
}

/// The server's part of [`reset_client`].
pub(crate) async fn reset_server(env: &Env) -> Outcome<u64> {
    let connection = &env.connection;
    let mut a = connection
        .accept_stream()
        .await
        .map_err(|e| e.to_string())?;
    read_pattern(&mut a, 0xA, 0, RESET_LEN).await?;
    a.write_all(b"r").await.map_err(io_fail("ready"))?;
    expect_reset(env, &mut a, RESET_BY_CLIENT).await?;
    let mut b = connection
        .accept_stream()
        .await
        .map_err(|e| e.to_string())?;
    read_pattern(&mut b, 0xB, 0, RESET_LEN).await?;
    b.reset(RESET_BY_SERVER);
    let (_, handled) = accept_all(connection, echo).await;
    handled.map(|()| 2 * RESET_LEN)
}

/// The closing end: stream S2 carries 4 MiB written just before the
/// close; on S1 the other end sends 2 MiB, and we answer "c" (close begun)
/// and 2 MiB. `close()` runs from the first megabyte on and must deliver
/// all of it, then end with [`CloseReason::LocalClose`].
pub(crate) async fn closer(env: &Env) -> Outcome<u64> {
    let connection = &env.connection;
    let mut s2 = connection.open_stream().await.map_err(|e| e.to_string())?;
    let first = tokio::spawn(async move {
        let mut buf = vec![0u8; CLOSE_FIRST as usize];
        crate::pattern::fill(0xC2, 0, &mut buf);
        s2.write_all(&buf).await.map_err(io_fail("S2"))?;
        finish(&mut s2).await?;
        expect_eof(&mut s2).await
    });
    let mut s1 = connection
        .accept_stream()
        .await
        .map_err(|e| e.to_string())?;
    read_pattern(&mut s1, 0xC1, 0, CLOSE_HALF).await?;
    let closing = tokio::spawn({
        let connection = connection.clone();
        async move { connection.close().await }
    });
    s1.write_all(b"c").await.map_err(io_fail("S1"))?;
    read_pattern(&mut s1, 0xC1, CLOSE_HALF, CLOSE_HALF).await?;
    expect_eof(&mut s1).await?;
    send_pattern(&mut s1, 0xC3, 0, CLOSE_ANSWER).await?;
    finish(&mut s1).await?;
    drop(s1);
    first.await.map_err(|e| format!("S2: {e}"))??;
    match closing.await.map_err(|e| format!("close: {e}"))? {
        Ok(CloseReason::LocalClose) => Ok(2 * CLOSE_HALF),
        other => Err(format!("close() returned {other:?}, want LocalClose")),
    }
}

/// The other end: it must get all of the closer's bytes, may not open a
/// stream once the close began, and sees the session end with
/// [`CloseReason::PeerGoAway`] code 0.
pub(crate) async fn close_other(env: &Env) -> Outcome<u64> {
    let connection = &env.connection;
    let mut s1 = connection.open_stream().await.map_err(|e| e.to_string())?;
    let second = tokio::spawn({
        let connection = connection.clone();
        async move {
            let mut s2 = connection
                .accept_stream()
                .await
                .map_err(|e| e.to_string())?;
            read_pattern(&mut s2, 0xC2, 0, CLOSE_FIRST).await?;
            expect_eof(&mut s2).await?;
            Ok::<_, String>(s2)
        }
    });
    send_pattern(&mut s1, 0xC1, 0, CLOSE_HALF).await?;
    let mut begun = [0u8; 1];
    s1.read_exact(&mut begun).await.map_err(io_fail("S1"))?;
    if begun != *b"c" {
        return Err("no close-begun byte".into());
    }
    refused_during_close(env).await?;
    send_pattern(&mut s1, 0xC1, CLOSE_HALF, CLOSE_HALF).await?;
    finish(&mut s1).await?;
    read_pattern(&mut s1, 0xC3, 0, CLOSE_ANSWER).await?;
    expect_eof(&mut s1).await?;
    drop(s1);
    let mut s2 = second.await.map_err(|e| format!("S2: {e}"))??;
    finish(&mut s2).await?;
    drop(s2);
    match connection.closed().await {
        Ok(CloseReason::PeerGoAway { code: 0 }) => Ok(CLOSE_FIRST + CLOSE_ANSWER),
        other => Err(format!("session ended with {other:?}, want PeerGoAway(0)")),
    }
}

/// A Go peer sent GoAway(0) when its close began, so we refuse to open at
/// once; a muxplex peer sends it last and refuses our SYN with an RST.
async fn refused_during_close(env: &Env) -> Outcome {
    match env.connection.open_stream().await {
        Err(Error::Open(OpenError::PeerGoingAway)) => Ok(()),
        Ok(mut stream) if env.peer == Peer::Muxplex => {
            let _ = stream.write_all(b"x").await;
            match stream.read(&mut [0u8; 1]).await {
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
                other => Err(format!("a stream opened during the close: {other:?}")),
            }
        }
        other => Err(format!(
            "opening after the peer's GoAway: {:?}, want PeerGoingAway",
            other.map(|s| s.id())
        )),
    }
}

/// Two exchanges on one stream with 5.5 s of silence between them; the
/// session must survive it on keepalive alone, and our pings must have
/// been answered.
pub(crate) async fn keepalive_client(env: &Env) -> Outcome<u64> {
    let mut stream = env
        .connection
        .open_stream()
        .await
        .map_err(|e| e.to_string())?;
    exchange(&mut stream, b"ping1").await?;
    tokio::time::sleep(KEEPALIVE_IDLE).await;
    if let Some(reason) = env.connection.close_reason() {
        return Err(format!("the session died while idle: {reason}"));
    }
    if env.connection.rtt().is_none() {
        return Err("no keepalive ping of ours was answered".into());
    }
    exchange(&mut stream, b"ping2").await?;
    finish(&mut stream).await?;
    expect_eof(&mut stream).await.map(|()| 10)
}

async fn exchange(stream: &mut Stream, message: &[u8]) -> Outcome {
    stream.write_all(message).await.map_err(io_fail("write"))?;
    let mut got = vec![0u8; message.len()];
    stream.read_exact(&mut got).await.map_err(io_fail("read"))?;
    match got == message {
        true => Ok(()),
        false => Err(format!("echoed {got:?}, want {message:?}")),
    }
}

/// Echoes until the session ends, which must not be a keepalive timeout.
pub(crate) async fn keepalive_server(env: &Env) -> Outcome<u64> {
    let (_, handled) = accept_all(&env.connection, echo).await;
    handled?;
    match env.connection.close_reason() {
        Some(CloseReason::KeepAliveTimeout) => Err("keepalive timed out".into()),
        _ => Ok(0),
    }
}
