//! Smoke test of the async pool under smol over loopback TCP: requests
//! are served, a server restart on the same port is healed, and the pool's
//! tasks run through the spawn function given. On the system clock, so
//! nothing is asserted about timing.

use std::io;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use muxplex_smol::{Config, Connection, Pool, PoolConfig, PooledStream, Role};
use smol::Task;
use smol::net::{TcpListener, TcpStream};

/// An echo server; dropping the task stops it and drops its connections.
fn serve(listener: TcpListener) -> Task<()> {
    smol::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            let (server, driver) = Connection::new(tcp, Role::Server, Config::default());
            let driver = smol::spawn(driver);
            let accepting = smol::spawn(async move {
                while let Ok(stream) = server.accept_stream().await {
                    smol::spawn(async move {
                        let mut request = Vec::new();
                        (&stream).read_to_end(&mut request).await?;
                        (&stream).write_all(&request).await?;
                        (&stream).close().await
                    })
                    .detach();
                }
            });
            // Held, so that dropping this task cancels (and disconnects)
            // every connection.
            connections.push((driver, accepting));
        }
    })
}

async fn request(mut stream: PooledStream, body: &[u8]) -> io::Result<Vec<u8>> {
    stream.write_all(body).await?;
    stream.close().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        smol::Timer::after(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[test]
fn serves_and_heals_after_a_server_restart() {
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = serve(listener);
        let config = PoolConfig::default().with_min_sessions(2).with_backoff(
            Duration::from_millis(20),
            1.5,
            Duration::from_millis(200),
        );
        let pool = Pool::new(
            move || TcpStream::connect(address),
            config,
            |task| smol::spawn(task).detach(),
        );
        let answer = request(pool.open_stream().await.unwrap(), b"before").await;
        assert_eq!(answer.unwrap(), b"before");

        server.cancel().await;
        eventually("both sessions lost", || pool.stats().failures >= 2).await;
        let _server = serve(TcpListener::bind(address).await.unwrap());
        for i in 0..20 {
            let body = format!("after {i}");
            let answer = request(pool.open_stream().await.unwrap(), body.as_bytes()).await;
            assert_eq!(answer.unwrap(), body.as_bytes());
        }
        eventually("both sessions back", || pool.stats().live == 2).await;
    });
}

#[test]
fn sessions_leave_a_stopped_endpoint_for_the_other() {
    smol::block_on(async {
        let mut addresses = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..2 {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            addresses.push(listener.local_addr().unwrap());
            servers.push(serve(listener));
        }
        let config = PoolConfig::default()
            .with_min_sessions(2)
            .with_max_sessions(2)
            .with_backoff(Duration::from_secs(30), 1.5, Duration::from_secs(30));
        let pool = Pool::with_endpoints(
            addresses.iter().map(|&address| (address, 1)),
            |&address: &std::net::SocketAddr| TcpStream::connect(address),
            config,
            |task| smol::spawn(task).detach(),
        );
        let live =
            |pool: &Pool| -> Vec<usize> { pool.endpoints().iter().map(|e| e.live).collect() };
        eventually("one session per endpoint", || live(&pool) == [1, 1]).await;

        servers.remove(0).cancel().await;
        eventually("both sessions on endpoint 1", || live(&pool) == [0, 2]).await;
        for i in 0..10 {
            let body = format!("request {i}");
            let stream = pool.open_stream().await.unwrap();
            let on = pool
                .sessions()
                .into_iter()
                .find(|s| s.slot == stream.slot());
            assert_eq!(on.map(|s| s.endpoint), Some(1));
            assert_eq!(
                request(stream, body.as_bytes()).await.unwrap(),
                body.as_bytes()
            );
        }
    });
}
