//! HTTP/1 over muxplex streams with hyper 1.x: every stream is one HTTP/1
//! connection, so many requests run at once over one TCP connection without
//! HTTP/1's head-of-line blocking.
//!
//! The server accepts a muxplex connection over loopback TCP and serves
//! each stream it accepts with hyper's `http1` server (through
//! hyper-util's `TokioIo`, which takes a `muxplex_tokio::Stream` as it is).
//! It answers `GET /item/N` with `item N` and echoes the body of
//! `POST /echo`. The client runs 32 workers that send 512 requests in all,
//! each on a stream of its own with hyper's `http1` client, checks every
//! status and body, and prints how many requests took how long. Then it
//! closes the connection gracefully, and the server checks that it saw the
//! clean end. A wrong answer makes the example exit non-zero.
//!
//! Run with `cargo run -p muxplex-examples --example http1`.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use muxplex_examples::check::{
    BoxError, close_cleanly, expect_clean_end, expect_count, payload, within_time_limit,
};
use muxplex_tokio::{Config, Connection};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const WORKERS: usize = 32;
const REQUESTS_PER_WORKER: usize = 16;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    within_time_limit(run()).await
}

/// The example; see the top of the file.
async fn run() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        // `accept` sets TCP_NODELAY on the socket.
        let connection = muxplex_tokio::accept(&listener, Config::default()).await?;
        serve(connection).await
    });

    let connection = muxplex_tokio::connect(address, Config::default()).await?;
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..WORKERS {
        let connection = connection.clone();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(REQUESTS_PER_WORKER);
            let mut bytes = 0;
            for i in 0..REQUESTS_PER_WORKER {
                let request = worker * REQUESTS_PER_WORKER + i;
                let sent = Instant::now();
                bytes += request_once(&connection, request).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, BoxError>((latencies, bytes))
        });
    }
    let mut latencies = Vec::new();
    let mut bytes = 0;
    for result in workers.join_all().await {
        let (worker_latencies, worker_bytes) = result?;
        latencies.extend(worker_latencies);
        bytes += worker_bytes;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() - 1) * p / 100];
    println!(
        "client: {} requests ({} at a time, one stream each), {bytes} body bytes checked, \
         in {elapsed:.0?}; latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        latencies.len(),
        WORKERS,
        percentile(50),
        percentile(99),
        percentile(100),
    );

    // Every hyper connection has ended, so no stream holds the close up;
    // the bound is for a server that would keep one open.
    close_cleanly(&connection, "client").await?;
    let served = server.await??;
    println!("server: served {served} HTTP/1 connections, one per stream; clean close");
    expect_count("connections served", served, latencies.len())
}

/// Serves every stream the peer opens as one HTTP/1 connection, until the
/// session ends; returns how many connections were served.
async fn serve(connection: Connection) -> Result<usize, BoxError> {
    let mut connections = JoinSet::new();
    while let Ok(stream) = connection.accept_stream().await {
        connections.spawn(
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handle)),
        );
    }
    let mut served = 0;
    for result in connections.join_all().await {
        result?;
        served += 1;
    }
    expect_clean_end(connection.closed().await?)?;
    Ok(served)
}

/// The server's one service: `GET /item/N` and `POST /echo`.
async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let item = request.uri().path().strip_prefix("/item/");
    let (status, body) = match (request.method(), item) {
        (&Method::GET, Some(n)) => (StatusCode::OK, Bytes::from(format!("item {n}"))),
        (&Method::POST, None) if request.uri().path() == "/echo" => (
            StatusCode::OK,
            request.into_body().collect().await?.to_bytes(),
        ),
        _ => (StatusCode::NOT_FOUND, Bytes::new()),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    Ok(response)
}

/// Sends request number `n` on a stream of its own and checks the
/// response; returns the response body's length. Even numbers are GETs,
/// odd ones POST a body of up to 64 KiB (256 KiB every 64th request).
async fn request_once(connection: &Connection, n: usize) -> Result<usize, BoxError> {
    let stream = connection.open_stream().await?;
    let (mut sender, http) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends once `sender` is dropped, closing the
    // stream (FIN), which ends the server's side of it.
    let http = tokio::spawn(http);
    let (request, expected) = if n.is_multiple_of(2) {
        let request = Request::get(format!("/item/{n}")).body(Full::new(Bytes::new()))?;
        (request, Bytes::from(format!("item {n}")))
    } else {
        let len = if n % 64 == 1 {
            256 << 10
        } else {
            (n * 97) % (64 << 10)
        };
        let body = Bytes::from(payload(n, len));
        let request = Request::post("/echo").body(Full::new(body.clone()))?;
        (request, body)
    };
    let (mut parts, body) = request.into_parts();
    parts
        .headers
        .insert(header::HOST, header::HeaderValue::from_static("muxplex"));
    let response = sender
        .send_request(Request::from_parts(parts, body))
        .await?;
    if response.status() != StatusCode::OK {
        return Err(format!("request {n}: status {}", response.status()).into());
    }
    let body = response.into_body().collect().await?.to_bytes();
    if body != expected {
        return Err(format!("request {n}: the response body differs").into());
    }
    drop(sender);
    http.await??;
    Ok(body.len())
}
