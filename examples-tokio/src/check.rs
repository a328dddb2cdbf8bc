//! The checks the examples share: a server that echoes every stream it
//! accepts, a client that sends payloads on many streams at once and
//! compares every byte that comes back, a close that must end cleanly, and
//! a time limit, so that every example is also a test that can fail.

use std::io;
use std::time::{Duration, Instant};

use muxplex_tokio::{CloseReason, Connection, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

/// A payload that differs per `seed` and per position, so a swapped, lost
/// or repeated byte shows.
pub fn payload(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (seed * 131 + j * 7 + j / 253) as u8)
        .collect()
}

/// Echoes every stream the peer opens on `connection` until the session
/// ends, and checks that it ended cleanly (see [`expect_clean_end`]);
/// returns how many streams it echoed.
pub async fn serve_echo(connection: Connection) -> Result<usize, BoxError> {
    let mut echoes = JoinSet::new();
    while let Ok(stream) = connection.accept_stream().await {
        echoes.spawn(echo(stream));
    }
    let results = echoes.join_all().await;
    let echoed = results.len();
    results.into_iter().collect::<io::Result<()>>()?;
    expect_clean_end(connection.closed().await?)?;
    Ok(echoed)
}

/// Copies what `stream` reads back onto it, then finishes it (FIN after
/// the echoed bytes, so the opener's read ends).
async fn echo(stream: Stream) -> io::Result<()> {
    let (mut reader, mut writer) = stream.into_split();
    tokio::io::copy(&mut reader, &mut writer).await?;
    writer.shutdown().await
}

/// Opens one stream per entry of `sizes`, all at once, sends each a
/// payload of that size, half-closes, and checks that the echo is the
/// payload byte for byte. Returns the bytes sent (and checked) in all.
pub async fn echo_streams(connection: &Connection, sizes: &[usize]) -> io::Result<usize> {
    let mut clients = JoinSet::new();
    for (i, &size) in sizes.iter().enumerate() {
        let connection = connection.clone();
        clients.spawn(async move {
            let stream = connection.open_stream().await?;
            echo_once(stream, payload(i, size)).await
        });
    }
    clients.join_all().await.into_iter().sum()
}

/// The client's part of an echo example: [`echo_streams`] over `streams`
/// streams of [`sizes`], a summary line naming the transport (`over`), and
/// a [`close_cleanly`].
pub async fn echo_and_close(
    connection: &Connection,
    streams: usize,
    over: &str,
) -> Result<(), BoxError> {
    let started = Instant::now();
    let bytes = echo_streams(connection, &sizes(streams)).await?;
    println!(
        "client: {streams} streams, {bytes} bytes each way {over}, all echoed intact in {:.0?}",
        started.elapsed()
    );
    close_cleanly(connection, "client").await
}

/// Closes `connection` gracefully (bounded: streams still open after 5 s
/// are reset) and fails unless every stream had finished by then; `name`
/// says which end in the error.
pub async fn close_cleanly(connection: &Connection, name: &str) -> Result<(), BoxError> {
    match connection.close_within(Duration::from_secs(5)).await? {
        CloseReason::LocalClose => Ok(()),
        other => Err(format!("{name}: the session ended with {other}").into()),
    }
}

/// Fails unless `got` of `what` is the `want` the example expects.
pub fn expect_count(what: &str, got: usize, want: usize) -> Result<(), BoxError> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{got} {what}, not {want}").into())
    }
}

/// Sends `message` on `stream`, half-closes, and checks the echo; returns
/// the message's length.
async fn echo_once(stream: Stream, message: Vec<u8>) -> io::Result<usize> {
    let id = stream.id();
    let (reader, writer) = stream.into_split();
    if exchange(reader, writer, &message).await? != message {
        return Err(io::Error::other(format!(
            "stream {id}: the echo of {} bytes differs",
            message.len()
        )));
    }
    Ok(message.len())
}

/// Writes `message` and half-closes `writer` while reading `reader` to its
/// end; returns what was read. At once, because a message larger than the
/// windows both ways would otherwise deadlock, the peer's answer waiting
/// for us to read it.
pub async fn exchange(
    mut reader: impl AsyncRead + Unpin,
    mut writer: impl AsyncWrite + Unpin,
    message: &[u8],
) -> io::Result<Vec<u8>> {
    let write = async {
        writer.write_all(message).await?;
        writer.shutdown().await
    };
    let read = async {
        let mut answer = Vec::with_capacity(message.len());
        reader.read_to_end(&mut answer).await.map(|_| answer)
    };
    let (written, answer) = tokio::join!(write, read);
    written?;
    answer
}

/// Payload sizes for `count` streams: one empty, then powers of two up to
/// 256 KiB (a whole initial window), and one of 2 MiB, so flow control has
/// to step in.
pub fn sizes(count: usize) -> Vec<usize> {
    (0..count)
        .map(|i| match i {
            0 => 0,
            3 => 2 << 20,
            _ => 1 << (i % 19),
        })
        .collect()
}

/// Fails unless the accepting end saw the clean end of a graceful close:
/// the opener's GoAway(0), then the end of the transport.
pub fn expect_clean_end(reason: CloseReason) -> io::Result<()> {
    match reason {
        CloseReason::PeerGoAway { code: 0 } => Ok(()),
        other => Err(io::Error::other(format!(
            "the accepting end's session ended with {other}, not the peer's clean close"
        ))),
    }
}

/// The error type of the examples and their tasks.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long an example may run before it counts as hung.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Runs an example's body, failing if it has not finished within
/// [`TIME_LIMIT`]: an example that is also a check must end on its own,
/// even when a lost FIN or a stuck stream would leave it waiting.
pub async fn within_time_limit<T>(
    example: impl Future<Output = Result<T, BoxError>>,
) -> Result<T, BoxError> {
    tokio::time::timeout(TIME_LIMIT, example)
        .await
        .map_err(|_| format!("the example did not finish within {TIME_LIMIT:?}"))?
}
