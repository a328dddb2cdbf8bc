//! The echo server on muxplex-tokio, written as a new user would write it:
//! the accept loop of the `tokio_echo` example, default [`Config`], one
//! task per stream. Nothing in it knows about the hostile client.
//!
//! Each stream's task echoes with the stream's chunk API
//! (`read_chunk`/`write_chunk`): the received bytes go back out as they
//! are, and the task holds no buffer of its own while the stream is idle.
//! That is how a user writes a lean echo, and it keeps the application's
//! own cost per stream down to its task, so `idle-streams` measures what
//! muxplex holds per idle stream rather than an application's copy buffer
//! (`tokio::io::copy` on split halves holds 8 KiB per stream from its
//! first read on).
//!
//! It prints `listening ADDRESS` and then `config CONFIG` (the `Debug` form
//! of the default `Config`, from which the runner reads the write timeout
//! and the budgets of the memory formula).

use std::io;

use muxplex_tokio::{Config, Connection, Error, Role, Stream};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The most an echo reads at once.
const CHUNK: usize = 64 * 1024;

/// Serves echo on 127.0.0.1 (a free port) until killed.
#[tokio::main]
pub(crate) async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    println!("config {:?}", Config::default());
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(serve(tcp));
    }
}

/// One connection: a task per stream it accepts.
async fn serve(tcp: TcpStream) {
    let connection = Connection::spawn(tcp, Role::Server, Config::default());
    while let Ok(stream) = connection.accept_stream().await {
        tokio::spawn(echo(stream));
    }
}

/// Sends what the stream reads back onto it, then finishes it.
async fn echo(mut stream: Stream) {
    if echo_all(&stream).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// Writes each chunk read back as it is, until the end of the stream.
async fn echo_all(stream: &Stream) -> Result<(), Error> {
    while let Some(chunk) = stream.read_chunk(CHUNK).await? {
        stream.write_chunk(chunk).await?;
    }
    Ok(())
}

/// What this application's own tasks cost, per connection (its accept task,
/// [`serve`]) and per stream (its echo task, [`echo`]): memory the idle
/// scenarios allow on top of muxplex's targets, since it is the
/// application's, not the multiplexer's. A tokio task is one allocation:
/// its header, scheduler handle and id, the future, and its trailer (under
/// 128 B besides the future), aligned to 128 B on x86_64 (tokio pads task
/// cells to a cache-line pair), so the estimate is the future's size plus
/// 128 B, rounded up to 128 B.
pub(crate) fn task_allowances() -> (u64, u64) {
    let cell = |future: usize| (future + 128).next_multiple_of(128) as u64;
    (cell(future_size(serve)), cell(future_size(echo)))
}

/// The size of the future `f` returns, without calling it.
fn future_size<A, F: Future>(_f: fn(A) -> F) -> usize {
    std::mem::size_of::<F>()
}
