//! A client pool that keeps serving requests while its server restarts.
//!
//! An echo server runs on loopback TCP, is stopped after a second (every
//! connection dropped) and started again on the same port 1.5 s later.
//! Meanwhile a client sends a request every 100 ms through a
//! `muxplex_tokio::Pool`: requests made during the outage wait for the pool
//! to redial, and the pool's stats show sessions lost, backing off and back.
//!
//! Run with `cargo run -p muxplex-tokio --example pool`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use muxplex_tokio::{Pool, PoolConfig, PoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

#[path = "support/echo.rs"]
mod echo;
use echo::{request, serve};

/// Stops the server after 1 s and starts it again 1.5 s later.
async fn restart_midway(
    address: SocketAddr,
    server: JoinSet<()>,
    start: Instant,
) -> io::Result<()> {
    sleep(Duration::from_secs(1)).await;
    drop(server);
    println!("{:>6} ms  server stopped", start.elapsed().as_millis());
    sleep(Duration::from_millis(1_500)).await;
    let server = serve(TcpListener::bind(address).await?);
    println!("{:>6} ms  server restarted", start.elapsed().as_millis());
    sleep(Duration::from_secs(3)).await;
    drop(server);
    Ok(())
}

/// Prints the pool's sessions whenever they change: losses, backoffs,
/// redials.
async fn watch(pool: Pool, start: Instant) {
    let mut last = String::new();
    for _ in 0..600 {
        let sessions: Vec<String> = pool
            .sessions()
            .iter()
            .map(|s| format!("{}: {:?}", s.slot, s.state))
            .collect();
        let now = sessions.join(", ");
        if now != last {
            println!("{:>6} ms  pool: {now}", start.elapsed().as_millis());
            last = now;
        }
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let start = Instant::now();
    let restarts = tokio::spawn(restart_midway(address, serve(listener), start));

    let config = PoolConfig::default().with_min_sessions(2).with_backoff(
        Duration::from_millis(100),
        1.6,
        Duration::from_secs(1),
    );
    let options = PoolOptions::from(config).with_open_timeout(Duration::from_secs(5));
    let pool = Pool::new(move || TcpStream::connect(address), options);
    tokio::spawn(watch(pool.clone(), start));

    for i in 0..35 {
        let body = format!("request {i}");
        let sent = Instant::now();
        // Run again on another session if the server never saw it; a
        // request it may have seen fails instead of running twice.
        let outcome = pool
            .retry(|stream| {
                let slot = stream.pool_slot();
                let body = body.clone();
                async move { io::Result::Ok((slot, request(stream, body.as_bytes()).await?)) }
            })
            .await;
        let at = start.elapsed().as_millis();
        let stats = pool.stats();
        let pool_state = format!(
            "live {} dialing {} backing off {} | dials {} failures {}",
            stats.live, stats.dialing, stats.backing_off, stats.dials, stats.failures
        );
        match outcome {
            Ok((slot, answer)) if answer == body.as_bytes() => println!(
                "{at:>6} ms  {body}: ok on {} after {} ms  [{pool_state}]",
                slot.map_or_else(|| "?".into(), |s| s.to_string()),
                sent.elapsed().as_millis()
            ),
            Ok(_) => println!("{at:>6} ms  {body}: wrong answer  [{pool_state}]"),
            Err(error) => println!("{at:>6} ms  {body}: failed: {error}  [{pool_state}]"),
        }
        sleep(Duration::from_millis(100)).await;
    }
    restarts.await.expect("restart task")?;
    Ok(())
}
