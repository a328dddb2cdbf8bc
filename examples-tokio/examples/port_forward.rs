//! A TCP port forwarder over one muxplex connection, as `ssh -L` does:
//! every TCP connection accepted on a local port becomes one muxplex
//! stream, and the remote end connects each stream to a target address.
//!
//! All of it runs in this process over loopback: a target service, the
//! remote end of the tunnel (a muxplex server that dials the target once
//! per stream), the local end (a listener that opens one stream per TCP
//! connection it accepts) and 64 TCP clients at once. Each client sends a
//! payload of its own size and half-closes; the target reads to the end
//! and only then answers with the payload reversed, and closes. So each
//! answer shows that the bytes arrived intact and that the half-close went
//! through both hops (the target answers only on end of file), and the
//! client reading to its end shows the target's close came back. Both ends
//! of the tunnel carry data in both directions with
//! `tokio::io::copy_bidirectional`, which passes each direction's end on
//! as a shutdown. A wrong answer makes the example exit non-zero.
//!
//! Run with `cargo run -p muxplex-examples --example port_forward`.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use muxplex_examples::check::{
    BoxError, close_cleanly, exchange, expect_clean_end, payload, within_time_limit,
};
use muxplex_tokio::{Config, Connection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// TCP connections forwarded, all at once.
const CONNECTIONS: usize = 64;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    within_time_limit(run()).await
}

/// The example; see the top of the file.
async fn run() -> Result<(), BoxError> {
    let target = TcpListener::bind("127.0.0.1:0").await?;
    let target_address = target.local_addr()?;
    let target = tokio::spawn(reverse_service(target, CONNECTIONS));

    // The tunnel: one muxplex connection over one TCP connection.
    let tunnel = TcpListener::bind("127.0.0.1:0").await?;
    let tunnel_address = tunnel.local_addr()?;
    let remote = tokio::spawn(async move {
        let connection = muxplex_tokio::accept(&tunnel, Config::default()).await?;
        remote_end(connection, target_address).await
    });
    let connection = muxplex_tokio::connect(tunnel_address, Config::default()).await?;

    let local = TcpListener::bind("127.0.0.1:0").await?;
    let local_address = local.local_addr()?;
    println!("forwarding {local_address} -> {target_address} over {tunnel_address}");
    let forwarder = tokio::spawn(local_end(local, connection.clone(), CONNECTIONS));

    let started = Instant::now();
    let mut clients = JoinSet::new();
    for i in 0..CONNECTIONS {
        clients.spawn(client(local_address, i));
    }
    let mut bytes = 0;
    for result in clients.join_all().await {
        bytes += result?;
    }
    println!(
        "clients: {CONNECTIONS} TCP connections at once, {bytes} bytes each way, \
         every answer right, in {:.0?}",
        started.elapsed()
    );

    let forwarded = forwarder.await??;
    close_cleanly(&connection, "local end").await?;
    let remote_forwarded = remote.await??;
    target.await??;
    println!(
        "tunnel: {forwarded} bytes forwarded by the local end, {remote_forwarded} by the \
         remote end (both directions); clean close"
    );
    if forwarded != 2 * bytes || remote_forwarded != 2 * bytes {
        return Err("the tunnel's ends forwarded other byte counts than the clients sent".into());
    }
    Ok(())
}

/// The local end: each TCP connection accepted on `listener` is carried
/// on a new stream of `connection`. A real forwarder loops for ever; this
/// one stops after `count` connections, once they are all done, and
/// returns the bytes it forwarded (both directions).
async fn local_end(
    listener: TcpListener,
    connection: Connection,
    count: usize,
) -> Result<u64, BoxError> {
    let mut forwards = JoinSet::new();
    for _ in 0..count {
        let (mut tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let connection = connection.clone();
        forwards.spawn(async move {
            let mut stream = connection.open_stream().await?;
            let (up, down) = tokio::io::copy_bidirectional(&mut tcp, &mut stream).await?;
            Ok::<_, BoxError>(up + down)
        });
    }
    let mut bytes = 0;
    for result in forwards.join_all().await {
        bytes += result?;
    }
    Ok(bytes)
}

/// The remote end: each stream the peer opens is connected to `target`,
/// until the session ends; returns the bytes forwarded (both directions).
async fn remote_end(connection: Connection, target: SocketAddr) -> Result<u64, BoxError> {
    let mut forwards = JoinSet::new();
    while let Ok(mut stream) = connection.accept_stream().await {
        forwards.spawn(async move {
            let mut tcp = TcpStream::connect(target).await?;
            tcp.set_nodelay(true)?;
            let (up, down) = tokio::io::copy_bidirectional(&mut stream, &mut tcp).await?;
            io::Result::Ok(up + down)
        });
    }
    let mut bytes = 0;
    for result in forwards.join_all().await {
        bytes += result?;
    }
    expect_clean_end(connection.closed().await?)?;
    Ok(bytes)
}

/// The target service: reads each connection to its end, then answers with
/// what it read, reversed, and closes; serves `count` connections.
async fn reverse_service(listener: TcpListener, count: usize) -> io::Result<()> {
    let mut answers = JoinSet::new();
    for _ in 0..count {
        let (mut tcp, _) = listener.accept().await?;
        answers.spawn(async move {
            let mut request = Vec::new();
            tcp.read_to_end(&mut request).await?;
            request.reverse();
            tcp.write_all(&request).await?;
            tcp.shutdown().await
        });
    }
    answers.join_all().await.into_iter().collect()
}

/// One TCP client of the forwarded port: sends payload `i`, half-closes,
/// and checks that the answer is the payload reversed; returns its length.
async fn client(address: SocketAddr, i: usize) -> Result<u64, BoxError> {
    let mut tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    // Up to 1 MiB, so some answers need several stream windows.
    let message = payload(i, (i * 16411) % (1 << 20));
    let (reader, writer) = tcp.split();
    let mut answer = exchange(reader, writer, &message).await?;
    answer.reverse();
    if answer != message {
        return Err(format!("client {i}: the answer to {} bytes is wrong", message.len()).into());
    }
    Ok(message.len() as u64)
}
