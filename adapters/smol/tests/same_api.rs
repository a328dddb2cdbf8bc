//! The calls every adapter shares (see the tokio and blocking twins), and
//! the bounded close.

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use muxplex_smol::{
    CloseReason, Config, Connection, Delivery, Error, OpenError, Role, StreamError, StreamId, core,
};
use smol::net::{TcpListener, TcpStream};

#[test]
fn same_calls_and_bounded_close() {
    smol::block_on(async {
        let _names: Option<(
            Delivery,
            OpenError,
            StreamError,
            StreamId,
            core::Config,
            Error,
        )> = None;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (dialed, accepted) =
            futures_lite::future::zip(TcpStream::connect(address), listener.accept()).await;
        let config = Config::default().with_close_timeout(Duration::from_secs(30));
        let client = Connection::spawn(
            dialed.expect("dial"),
            Role::Client,
            config.clone(),
            smol::spawn,
        );
        let server = Connection::spawn(
            accepted.expect("accept").0,
            Role::Server,
            config,
            smol::spawn,
        );
        assert_eq!(client.role(), Role::Client);
        assert!(!client.is_peer_going_away());
        assert_eq!(client.rtt(), None);
        let held = client.open_stream().await.expect("open");
        held.write_chunk(bytes::Bytes::from_static(b"hi"))
            .await
            .expect("write");
        let mut incoming = server.incoming();
        let stream = incoming.next().await.expect("a stream").expect("accepted");
        assert_eq!(
            stream.read_chunk(16).await.expect("read").as_deref(),
            Some(&b"hi"[..])
        );
        let started = Instant::now();
        let reason = client
            .close_within(Duration::from_millis(100))
            .await
            .expect("close");
        assert_eq!(reason, CloseReason::LocalCloseTimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(incoming.next().await.is_none());
        drop((stream, held));
        let _ = client.closed().await;
        let _ = server.closed().await;
    });
}
