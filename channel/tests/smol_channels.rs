//! The runtime-agnostic API under smol, over loopback TCP: the routing
//! task on smol's executor with smol's timer, channels as futures-io.

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use muxplex_channel::preamble::RejectCode;
use muxplex_channel::{ChannelConfig, ChannelError, Channels, connect};
use muxplex_smol::{Config, Connection, Role, SmolTimer};
use smol::net::{TcpListener, TcpStream};

#[test]
fn listen_and_connect_under_smol() {
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (dialed, accepted) =
            futures_lite::future::zip(TcpStream::connect(address), listener.accept()).await;
        let (client, client_driver) =
            Connection::new(dialed.unwrap(), Role::Client, Config::default());
        let (server, server_driver) =
            Connection::new(accepted.unwrap().0, Role::Server, Config::default());
        smol::spawn(client_driver).detach();
        smol::spawn(server_driver).detach();

        let (table, routing) = Channels::new(
            server.as_async().clone(),
            SmolTimer::default(),
            ChannelConfig::default(),
        );
        smol::spawn(routing).detach();
        let upper = table.listen("upper", None).unwrap();
        smol::spawn(async move {
            let request = upper.accept().await.unwrap();
            let mut channel = request.accept(b"ready").await.unwrap();
            let mut text = String::new();
            channel.read_to_string(&mut text).await.unwrap();
            channel
                .write_all(text.to_uppercase().as_bytes())
                .await
                .unwrap();
            channel.close().await.unwrap();
        })
        .detach();

        let mut channel = connect(client.as_async(), "upper", b"", b"").await.unwrap();
        channel.write_all(b"shout").await.unwrap();
        channel.close().await.unwrap();
        assert_eq!(channel.remote_handshake(), b"ready");
        let mut text = String::new();
        channel.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "SHOUT");

        let mut unclaimed = connect(client.as_async(), "lower", b"", b"").await.unwrap();
        match unclaimed.remote_open().await {
            Err(ChannelError::Rejected(reject)) => assert_eq!(reject.code, RejectCode::NO_LISTENER),
            other => panic!("{other:?}"),
        }
    });
}
