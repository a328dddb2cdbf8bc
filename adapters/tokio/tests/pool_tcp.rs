//! The async pool over real loopback TCP, on the real clock and so without
//! timing assertions: a server that is stopped and restarted on the same
//! port, and a pool that heals. (The backoff schedule is checked on the
//! paused clock in `pool.rs`.)

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use muxplex_tokio::{Pool, PoolConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

#[path = "../examples/support/echo.rs"]
mod echo;
use echo::{request, serve};

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
    let server = serve(listener);
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
    let _server = serve(TcpListener::bind(address).await.unwrap());
    requests(&pool, 50)
        .await
        .expect("every request after the restart");
    // Both places are back (the second may still have been backing off).
    eventually("both sessions back", || pool.stats().live == 2).await;
    assert!(pool.stats().dials >= 4, "{:?}", pool.stats());
}
