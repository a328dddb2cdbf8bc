//! Heap bytes per idle open stream, both ends together, and per end of an
//! idle connection, read from the counting allocator: the live-heap growth
//! from opening `n` of them, divided by `n`.

use std::io;

use muxplex::OpenError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::alloc::live_bytes;
use crate::core::Pair;
use crate::mux::{AsyncMux, MuxplexSmol, MuxplexTokio, Yamux};
use crate::workload::LIMIT;

/// Duplex buffer size of the in-memory transports.
const DUPLEX: usize = 64 * 1024;

/// The default configuration with room for `n` open streams (the default
/// allows 16,384), which is all the idle scenarios change.
fn config_for(n: usize) -> muxplex::Config {
    muxplex::Config::default().with_max_streams(n + 16)
}

/// The core: `n` streams opened by the client and accepted by the server,
/// SYN and ACK exchanged, nothing else.
pub(crate) fn core(n: usize) -> io::Result<f64> {
    let mut pair = Pair::with_config(config_for(n));
    // Allocated before the baseline: the application's own list of ids is
    // not the session's cost.
    let mut opened = Vec::with_capacity(n);
    let mut accepted = Vec::with_capacity(n);
    let before = live_bytes();
    while opened.len() < n {
        while opened.len() < n {
            match pair.client.open_stream(pair.now()) {
                Ok(id) => opened.push(id),
                // At the limit of unacknowledged opens: let the ACKs in.
                Err(OpenError::Blocked) => break,
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        pair.client_to_server();
        while let Some(id) = pair.server.accept_stream() {
            accepted.push(id);
        }
        pair.server_to_client();
    }
    pair.client_to_server();
    let after = live_bytes();
    if pair.server.stream_count() != n || pair.client.unacknowledged_streams() != 0 {
        return Err(io::Error::other("streams not all open and acknowledged"));
    }
    Ok((after - before) as f64 / n as f64)
}

/// The yamux crate: its two connections over an in-memory duplex.
pub(crate) fn yamux(n: usize) -> io::Result<f64> {
    on_current_thread(async move {
        let (a, b) = tokio::io::duplex(DUPLEX);
        let mut config = yamux::Config::default();
        // Its defaults cap a connection at 512 streams; lift the cap (and
        // the receive-window budget it is checked against) for `n`.
        config.set_max_connection_receive_window(None);
        config.set_max_num_streams(n + 16);
        let client = Yamux::spawn(a, yamux::Mode::Client, config.clone());
        let server = Yamux::spawn(b, yamux::Mode::Server, config);
        idle_streams(client, server, n).await
    })
}

/// muxplex-tokio: its two connections over an in-memory duplex.
pub(crate) fn muxplex_tokio(n: usize) -> io::Result<f64> {
    use muxplex_tokio::{Connection, Role};
    on_current_thread(async move {
        let (a, b) = tokio::io::duplex(DUPLEX);
        let client = MuxplexTokio(Connection::spawn(a, Role::Client, config_for(n)));
        let server = MuxplexTokio(Connection::spawn(b, Role::Server, config_for(n)));
        idle_streams(client, server, n).await
    })
}

/// muxplex-smol: its two connections over an in-memory duplex, seen
/// through the futures-io compat layer as in the other workloads.
pub(crate) fn muxplex_smol(n: usize) -> io::Result<f64> {
    use muxplex_smol::Role;
    use tokio_util::compat::TokioAsyncReadCompatExt;
    on_current_thread(async move {
        let (a, b) = tokio::io::duplex(DUPLEX);
        let client = MuxplexSmol::spawn_with(a.compat(), Role::Client, config_for(n));
        let server = MuxplexSmol::spawn_with(b.compat(), Role::Server, config_for(n));
        idle_streams(client, server, n).await
    })
}

/// muxplex-tokio: `n` idle connections, both ends, over in-memory duplexes
/// made before the baseline (the transport is not the connection's cost);
/// bytes per end.
pub(crate) fn muxplex_tokio_connections(n: usize) -> io::Result<f64> {
    use muxplex_tokio::{Config, Connection, Role};
    on_current_thread(async move {
        idle_connections(n, |a, b| {
            (
                Connection::spawn(a, Role::Client, Config::default()),
                Connection::spawn(b, Role::Server, Config::default()),
            )
        })
        .await
    })
}

/// The yamux crate: `n` idle connections, both ends; bytes per end.
pub(crate) fn yamux_connections(n: usize) -> io::Result<f64> {
    on_current_thread(async move {
        idle_connections(n, |a, b| {
            let config = yamux::Config::default();
            (
                Yamux::spawn(a, yamux::Mode::Client, config.clone()),
                Yamux::spawn(b, yamux::Mode::Server, config),
            )
        })
        .await
    })
}

/// Holds `n` connections made by `connect` over fresh duplexes, lets their
/// tasks settle, and returns the heap growth per end.
async fn idle_connections<C>(
    n: usize,
    mut connect: impl FnMut(tokio::io::DuplexStream, tokio::io::DuplexStream) -> (C, C),
) -> io::Result<f64> {
    let mut pipes: Vec<_> = (0..n).map(|_| tokio::io::duplex(DUPLEX)).collect();
    let mut held = Vec::with_capacity(n);
    let before = live_bytes();
    for (a, b) in pipes.drain(..) {
        held.push(connect(a, b));
    }
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    let after = live_bytes();
    drop(held);
    Ok(after.saturating_sub(before) as f64 / (2 * n) as f64)
}

/// Runs `work` on a fresh single-threaded runtime, within the same time
/// limit as the other cases (an open that waits forever, at a stream
/// limit say, fails the case instead of stopping the run).
fn on_current_thread<F: Future<Output = io::Result<f64>>>(work: F) -> io::Result<f64> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            tokio::time::timeout(LIMIT, work).await.map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "case exceeded its time limit")
            })?
        })
}

/// Opens `n` streams and exchanges one byte each way on each, so both ends
/// have announced and acknowledged it (the yamux crate acknowledges only
/// with its first frame on the stream), then holds them idle and measures.
async fn idle_streams<M: AsyncMux>(client: M, server: M, n: usize) -> io::Result<f64> {
    let mut ours = Vec::with_capacity(n);
    let mut theirs = Vec::with_capacity(n);
    // Let both connections set up whatever they keep regardless of streams.
    tokio::task::yield_now().await;
    let before = live_bytes();
    let mut byte = [0u8; 1];
    for _ in 0..n {
        let mut stream = client.open().await?;
        stream.write_all(b"x").await?;
        stream.flush().await?;
        let mut accepted = server.accept().await?;
        accepted.read_exact(&mut byte).await?;
        accepted.write_all(b"y").await?;
        accepted.flush().await?;
        stream.read_exact(&mut byte).await?;
        ours.push(stream);
        theirs.push(accepted);
    }
    // Let the connections' tasks finish with the last frames.
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    let after = live_bytes();
    Ok((after - before) as f64 / n as f64)
}
