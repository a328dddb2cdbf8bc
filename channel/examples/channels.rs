//! Named channels over one muxplex connection: two services listen on the
//! server, the client opens channels with a handshake, writes before the
//! server has accepted, meets a reject and an unclaimed channel, and
//! measures the round-trip time with the heartbeat (the yamux ping).
//!
//! Run with `cargo run -p muxplex-channel --features tokio --example channels`.

use muxplex_channel::preamble::RejectCode;
use muxplex_channel::tokio::{channels, connect};
use muxplex_channel::{ChannelConfig, ChannelError};
use muxplex_tokio::{Config, Connection, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Any AsyncRead + AsyncWrite transport; a TcpStream in real life.
    let (a, b) = tokio::io::duplex(64 * 1024);
    let client = Connection::spawn(a, Role::Client, Config::default());
    let server = Connection::spawn(b, Role::Server, Config::default());

    // The server's routing task owns the connection's accepts.
    let table = channels(&server, ChannelConfig::default());

    // An echo service for room "lobby" only, answering with a greeting.
    let echo = table.listen("echo/v1", Some(b"lobby"))?;
    tokio::spawn(async move {
        while let Ok(request) = echo.accept().await {
            let hello = String::from_utf8_lossy(&request.open().handshake).into_owned();
            let mut channel = request
                .accept(format!("welcome, {hello}").as_bytes())
                .await?;
            tokio::spawn(async move {
                let mut line = Vec::new();
                channel.read_to_end(&mut line).await?;
                channel.write_all(&line).await?;
                channel.shutdown().await
            });
        }
        Ok::<_, ChannelError>(())
    });

    // An admin service, for any id, that checks the opener's token.
    let admin = table.listen("admin/v1", None)?;
    tokio::spawn(async move {
        while let Ok(request) = admin.accept().await {
            if request.open().handshake == b"secret" {
                drop(request.accept(b"").await?); // a real service would serve it
            } else {
                let code = RejectCode(RejectCode::APPLICATION.0 + 1);
                request.reject(code, "bad token").await?;
            }
        }
        Ok::<_, ChannelError>(())
    });

    // Open at once and write before the server accepted: the bytes wait in
    // the channel and go out, in order, after the accept.
    let mut channel = connect(&client, "echo/v1", b"lobby", b"ada").await?;
    channel.write_all(b"written before the accept").await?;
    let greeting = channel.remote_open().await?;
    println!(
        "echo/v1 lobby: accepted, server said {:?}",
        String::from_utf8_lossy(greeting)
    );
    channel.shutdown().await?;
    let mut echoed = String::new();
    channel.read_to_string(&mut echoed).await?;
    println!("echo/v1 lobby: echoed {echoed:?}");

    let mut refused = connect(&client, "admin/v1", b"", b"guess").await?;
    match refused.remote_open().await {
        Err(ChannelError::Rejected(reject)) => println!("admin/v1: rejected, {reject}"),
        other => println!("admin/v1: unexpected {other:?}"),
    }

    let mut unclaimed = connect(&client, "echo/v1", b"attic", b"").await?;
    match unclaimed.remote_open().await {
        Err(ChannelError::Rejected(reject)) => println!("echo/v1 attic: refused, {reject}"),
        other => println!("echo/v1 attic: unexpected {other:?}"),
    }

    // muxado's heartbeat: one ping, one round-trip time.
    let rtt = client.ping().await?;
    println!("heartbeat: round trip {rtt:?}");
    Ok(())
}
