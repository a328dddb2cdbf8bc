//! What `Connection::spawn` does with the driver's task.

use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use muxplex_smol::{CloseReason, Config, Connection, Role};
use smol::net::{TcpListener, TcpStream};

/// Issue 14: `let (connection, _) = Connection::spawn(..)` dropped the
/// driver's smol task, which cancelled the driver; the first write and
/// flush still returned `Ok` and the data never left. `spawn` now detaches
/// the task, so no handle needs keeping.
#[test]
fn a_spawned_driver_runs_without_its_task_handle() {
    let run = async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (dialed, accepted) =
            futures_lite::future::zip(TcpStream::connect(address), listener.accept()).await;
        let config = Config::default();
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
