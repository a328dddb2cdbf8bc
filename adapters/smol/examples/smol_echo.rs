//! An echo server and a client in one process, over loopback TCP, on smol.
//!
//! The client opens 20 streams at once on one connection, each with a
//! payload of a different size (one empty, one of 5 MiB, so flow control
//! has to step in), writes it while reading the echo, and checks the echo
//! byte for byte. The server copies every stream onto itself: `&Stream`
//! reads and writes too, so no split is needed. Then the client closes the
//! connection gracefully, and both ends print why their session ended: the
//! client's GoAway(0) stops new streams, and when the client then shuts the TCP
//! connection the server reports its clean close ("peer went away with
//! code 0").
//!
//! Run with `cargo run -p muxplex-smol --example smol_echo`.

use std::io;
use std::time::Instant;

use muxplex_smol::{Config, Connection, Role, Stream};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

const STREAMS: usize = 20;

fn main() -> io::Result<()> {
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        println!("server listening on {address}");

        let server = smol::spawn(async move {
            let (tcp, peer) = listener.accept().await?;
            println!("server: TCP connection from {peer}");
            // The driver's task is detached: it runs until the session ends.
            let connection = Connection::spawn(tcp, Role::Server, Config::default(), smol::spawn);
            let mut echoes = Vec::new();
            // Ends with an error once the client closes the connection.
            while let Ok(stream) = connection.accept_stream().await {
                echoes.push(smol::spawn(echo(stream)));
            }
            for task in echoes {
                task.await;
            }
            println!("server: session ended ({})", connection.closed().await?);
            io::Result::Ok(())
        });

        let tcp = TcpStream::connect(address).await?;
        let connection = Connection::spawn(tcp, Role::Client, Config::default(), smol::spawn);
        let started = Instant::now();
        let clients: Vec<_> = (0..STREAMS)
            .map(|i| {
                let connection = connection.clone();
                smol::spawn(async move {
                    let stream = connection.open_stream().await?;
                    echo_once(stream, payload(i, size(i))).await
                })
            })
            .collect();
        let mut total = 0;
        for client in clients {
            total += client.await?;
        }
        println!(
            "client: {STREAMS} streams, {total} bytes each way, all echoed intact in {:.0?}",
            started.elapsed()
        );

        // Every stream is dropped by now; one still held would keep the
        // close waiting for it.
        let reason = connection.close().await?;
        println!("client: connection closed ({reason})");
        server.await
    })
}

/// Server side: copies what the stream reads back onto it, then finishes.
async fn echo(stream: Stream) {
    let id = stream.id();
    let copied = smol::io::copy(&stream, &mut &stream).await;
    // Closing sends the FIN after the echoed bytes, so the client's
    // read_to_end ends.
    match (copied, (&stream).close().await) {
        (Ok(bytes), Ok(())) => println!("server: stream {id} echoed {bytes} bytes"),
        (Err(e), _) | (_, Err(e)) => println!("server: stream {id} failed: {e}"),
    }
}

/// Client side: sends `message`, half-closes and checks the echo; returns
/// the message's length.
async fn echo_once(stream: Stream, message: Vec<u8>) -> io::Result<usize> {
    let id = stream.id();
    // Write and read at once: a message larger than the windows both ways
    // would otherwise deadlock, the server waiting for us to read its echo.
    let write = async {
        (&stream).write_all(&message).await?;
        (&stream).close().await
    };
    let read = async {
        let mut reply = Vec::new();
        (&stream).read_to_end(&mut reply).await.map(|_| reply)
    };
    let (written, reply) = smol::future::zip(write, read).await;
    written?;
    let reply = reply?;
    println!(
        "client: stream {id} sent {} bytes, got {} back",
        message.len(),
        reply.len()
    );
    if reply != message {
        return Err(io::Error::other(format!("stream {id}: the echo differs")));
    }
    Ok(message.len())
}

/// Stream `i`'s payload size: empty, then powers of two up to 256 KiB (a
/// whole initial window), and 5 MiB for stream 7.
fn size(i: usize) -> usize {
    match i {
        0 => 0,
        7 => 5 << 20,
        _ => 1 << (i % 19),
    }
}

/// A payload that differs per stream and per position, so a swapped, lost
/// or repeated byte shows.
fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + j / 251) as u8).collect()
}
