//! The async pool over real loopback TCP, on the real clock and so without
//! timing assertions: a server that is stopped and restarted on the same
//! port, and a pool that heals. (The backoff schedule is checked on the
//! paused clock in `pool.rs`.)

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use muxplex_tokio::{Config, Connection, Pool, PoolConfig, Role, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// An echo server; dropping the set stops it and drops every connection.
async fn serve(listener: TcpListener) -> JoinSet<()> {
    let mut tasks = JoinSet::new();
    tasks.spawn(async move {
        let mut connections = JoinSet::new();
        while let Ok((tcp, _)) = listener.accept().await {
            connections.spawn(async move {
                let (server, driver) = Connection::new(tcp, Role::Server, Config::default());
                let accepting = async move {
                    let mut streams = JoinSet::new();
                    while let Ok(mut stream) = server.accept_stream().await {
                        streams.spawn(async move {
                            let mut request = Vec::new();
                            stream.read_to_end(&mut request).await?;
                            stream.write_all(&request).await?;
                            stream.shutdown().await
                        });
                    }
                };
                // The client side judges how a connection ended.
                let (_, ()) = tokio::join!(driver, accepting);
            });
        }
    });
    tasks
}

async fn request(mut stream: Stream, body: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(body).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

async fn requests(pool: &Pool, count: usize) -> io::Result<()> {
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let pool = pool.clone();
        tasks.spawn(async move {
            let body = format!("request {i}");
            let answer = request(pool.open_stream().await?, body.as_bytes()).await?;
            assert_eq!(answer, body.as_bytes());
            io::Result::Ok(())
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        outcome.expect("request task")?;
    }
    Ok(())
}

/// Waits until `done` holds; a generous bound turns a pool that never gets
/// there into a failure instead of a hang (it is no timing assertion).
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn heals_after_the_server_restarts_on_the_same_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let server = serve(listener).await;
    let config = PoolConfig::default().with_min_sessions(2).with_backoff(
        Duration::from_millis(20),
        1.5,
        Duration::from_millis(200),
    );
    let pool = Pool::new(move || TcpStream::connect(address), config);
    requests(&pool, 20)
        .await
        .expect("requests before the restart");

    drop(server);
    // Both sessions are lost and redialed against a closed port.
    eventually("sessions lost and redials refused", || {
        pool.stats().failures >= 4
    })
    .await;
    let _server = serve(TcpListener::bind(address).await.unwrap()).await;
    requests(&pool, 50)
        .await
        .expect("every request after the restart");
    // Both places are back (the second may still have been backing off).
    eventually("both sessions back", || pool.stats().live == 2).await;
    assert!(pool.stats().dials >= 4, "{:?}", pool.stats());
}
