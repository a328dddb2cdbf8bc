//! The calls every adapter shares (see the tokio and blocking twins), the
//! bounded close, and a spawned driver that needs no task handle.

use std::time::{Duration, Instant};

use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use muxplex_smol::{
    CloseReason, Config, Connection, Delivery, Error, OpenError, Role, StreamError, StreamId, core,
};
use smol::net::{TcpListener, TcpStream};

/// Both ends of a connection over loopback TCP, spawned on smol's
/// executor; no task handle is kept.
async fn spawned_pair(config: Config) -> (Connection, Connection) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (dialed, accepted) =
        futures_lite::future::zip(TcpStream::connect(address), listener.accept()).await;
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
    (client, server)
}

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
        let config = Config::default().with_close_timeout(Duration::from_secs(30));
        let (client, server) = spawned_pair(config).await;
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

/// Issue 14: `let (connection, _) = Connection::spawn(..)` dropped the
/// driver's smol task, which cancelled the driver; the first write and
/// flush still returned `Ok` and the data never left. `spawn` now detaches
/// the task, so no handle needs keeping.
#[test]
fn a_spawned_driver_runs_without_its_task_handle() {
    let run = async {
        let (client, server) = spawned_pair(Config::default()).await;
        let mut stream = client.open_stream().await.expect("open");
        stream.write_all(b"hello").await.expect("write");
        stream.flush().await.expect("flush");
        stream.close().await.expect("finish");
        let mut theirs = server.accept_stream().await.expect("the data left");
        let mut received = Vec::new();
        theirs.read_to_end(&mut received).await.expect("read");
        assert_eq!(received, b"hello");
        drop((stream, theirs));
        assert_eq!(client.close().await, Ok(CloseReason::LocalClose));
    };
    let hung = async {
        smol::Timer::after(Duration::from_secs(60)).await;
        panic!("the test hung");
    };
    smol::block_on(futures_lite::future::or(run, hung));
}
