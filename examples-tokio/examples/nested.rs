//! Nested sessions: a whole muxplex session carried inside one stream of
//! another, as a tunnel that gives one party many streams of its own
//! while the outer connection keeps serving everyone else.
//!
//! An outer connection runs over loopback TCP. Its client first opens one
//! outer stream, the tunnel; the server accepts it and runs an inner
//! muxplex session over it (`muxplex_tokio::Stream` is `AsyncRead +
//! AsyncWrite + Unpin + Send`, so it is a transport like any other). Then,
//! at the same time, 16 inner streams and 16 more outer streams are
//! echoed, each with a payload of its own size (one of 2 MiB each way), and
//! every byte is checked. The inner session closes first: its end finishes
//! the tunnel stream, and the inner server checks that it saw a clean end;
//! then the outer session closes, also checked. A wrong echo or an unclean
//! end makes the example exit non-zero.
//!
//! Run with `cargo run -p muxplex-examples --example nested`.

use std::time::Instant;

use muxplex_examples::check::{
    BoxError, close_cleanly, echo_streams, expect_count, serve_echo, sizes, within_time_limit,
};
use muxplex_tokio::{Config, Connection, Role};
use tokio::net::TcpListener;

const STREAMS: usize = 16;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    within_time_limit(run()).await
}

/// The example; see the top of the file.
async fn run() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let outer = muxplex_tokio::accept(&listener, Config::default()).await?;
        // The client opens the tunnel before any other stream.
        let tunnel = outer.accept_stream().await?;
        let inner = Connection::try_spawn(tunnel, Role::Server, Config::default())?;
        let inner_server = tokio::spawn(serve_echo(inner));
        let outer_echoed = serve_echo(outer).await?;
        let inner_echoed = inner_server.await??;
        Ok::<_, BoxError>((outer_echoed, inner_echoed))
    });

    let outer = muxplex_tokio::connect(address, Config::default()).await?;
    let tunnel = outer.open_stream().await?;
    let tunnel_id = tunnel.id();
    let inner = Connection::try_spawn(tunnel, Role::Client, Config::default())?;
    let started = Instant::now();
    let sizes = sizes(STREAMS);
    let (inner_bytes, outer_bytes) =
        tokio::try_join!(echo_streams(&inner, &sizes), echo_streams(&outer, &sizes))?;
    println!(
        "client: {STREAMS} inner streams ({inner_bytes} bytes each way) inside outer stream \
         {tunnel_id}, and {STREAMS} outer streams beside it ({outer_bytes} bytes), all echoed \
         intact in {:.0?}",
        started.elapsed()
    );

    close_cleanly(&inner, "client's inner session").await?;
    close_cleanly(&outer, "client's outer session").await?;
    let (outer_echoed, inner_echoed) = server.await??;
    println!(
        "server: echoed {inner_echoed} inner and {outer_echoed} outer streams; both sessions \
         closed cleanly"
    );
    expect_count("inner streams echoed by the server", inner_echoed, STREAMS)?;
    expect_count("outer streams echoed by the server", outer_echoed, STREAMS)
}
