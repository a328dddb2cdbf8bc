//! A pool over three servers, one of which is killed and restarted.
//!
//! Three echo servers run on loopback TCP; a `muxplex_tokio::Pool` keeps
//! one session per server and sends requests round robin over them. Server
//! 0 is then killed (its listener and every connection dropped): its
//! session is lost, the pool leaves the server alone for its backoff and
//! dials the other two instead, so requests move away from it. When the
//! server is back on the same port, the pool tries it again after the
//! backoff, moves one session back to it, and requests reach it again.
//!
//! It prints what happens and ends within a few seconds; it exits with an
//! error if requests fail, reach the killed server, or never come back.
//!
//! Run with `cargo run -p muxplex-tokio --example pool_many_peers`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use muxplex_tokio::{Policy, Pool, PoolConfig, PoolOptions, Stream};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep};

#[path = "support/echo.rs"]
mod echo;
use echo::serve;

/// One request, run again on another session if the server never saw it.
/// Returns the endpoint that answered.
async fn request(pool: &Pool, body: &str) -> io::Result<usize> {
    let (slot, answer) = pool
        .retry(|stream: Stream| {
            let slot = stream.pool_slot();
            async move { io::Result::Ok((slot, echo::request(stream, body.as_bytes()).await?)) }
        })
        .await?;
    if answer != body.as_bytes() {
        return Err(io::Error::other(format!("wrong answer to {body}")));
    }
    pool.sessions()
        .into_iter()
        .find(|s| Some(s.slot) == slot)
        .map(|s| s.endpoint)
        .ok_or_else(|| io::Error::other("answered on a session the pool no longer has"))
}

/// Runs `count` requests 20 ms apart and counts them per endpoint; stops
/// early once `enough` holds for the counts.
async fn requests(
    pool: &Pool,
    start: Instant,
    phase: &str,
    count: usize,
    enough: impl Fn(&[usize; 3]) -> bool,
) -> io::Result<[usize; 3]> {
    let mut reached = [0; 3];
    for i in 0..count {
        let endpoint = request(pool, &format!("{phase} {i}")).await?;
        reached[endpoint] += 1;
        if enough(&reached) {
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    let live: Vec<usize> = pool.endpoints().iter().map(|e| e.live).collect();
    println!(
        "{:>5} ms  {phase}: requests per server {reached:?}, sessions per server {live:?}",
        start.elapsed().as_millis()
    );
    Ok(reached)
}

fn fail(what: String) -> io::Error {
    io::Error::other(what)
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let start = Instant::now();
    let mut servers = Vec::new();
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for _ in 0..3 {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        addresses.push(listener.local_addr()?);
        servers.push(serve(listener));
    }
    println!("servers at {addresses:?}");

    let config = PoolConfig::default()
        .with_min_sessions(3)
        .with_max_sessions(3)
        .with_policy(Policy::RoundRobin)
        .with_backoff(Duration::from_millis(300), 1.6, Duration::from_secs(1))
        .with_ping_interval(Some(Duration::from_millis(200)));
    let options = PoolOptions::from(config).with_open_timeout(Duration::from_secs(2));
    let endpoints = addresses.iter().map(|&address| (address, 1));
    let pool = Pool::with_endpoints(
        endpoints,
        |&address: &SocketAddr| TcpStream::connect(address),
        options,
    );

    let before = requests(&pool, start, "all up", 12, |_| false).await?;
    if before.contains(&0) {
        return Err(fail(format!("a server got no request: {before:?}")));
    }

    servers[0] = tokio::task::JoinSet::new();
    println!("{:>5} ms  server 0 killed", start.elapsed().as_millis());
    // The pool learns of the loss from its session's end, a moment later.
    sleep(Duration::from_millis(50)).await;
    let away = requests(&pool, start, "server 0 down", 12, |_| false).await?;
    if away[0] != 0 {
        return Err(fail(format!(
            "requests reached the killed server: {away:?}"
        )));
    }
    let health = &pool.endpoints()[0];
    println!(
        "{:>5} ms  server 0: {} failure(s), left alone until {:?}",
        start.elapsed().as_millis(),
        health.consecutive_failures,
        health.down_until
    );

    servers[0] = serve(TcpListener::bind(addresses[0]).await?);
    println!("{:>5} ms  server 0 restarted", start.elapsed().as_millis());
    // Within about a backoff, a session moves back and requests reach it.
    let back = requests(&pool, start, "server 0 back", 150, |r| r[0] >= 3).await?;
    if back[0] < 3 {
        return Err(fail(format!("requests never came back: {back:?}")));
    }
    println!(
        "{:>5} ms  ok: requests moved away from server 0 and came back",
        start.elapsed().as_millis()
    );
    Ok(())
}
