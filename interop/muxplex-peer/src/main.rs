//! The muxplex end of the Go interop matrix: one muxplex-tokio session
//! over TCP, as client or server, in one scenario. Its counterpart is the
//! Go peer (`interop/go-peer`); `interop/matrix` runs the two against each
//! other (see `interop/README.md`).
//!
//! ```text
//! muxplex-peer --role client|server --scenario NAME --addr ADDR --peer hashicorp|goyamux|muxplex
//! ```
//!
//! A server listens on `--addr` and prints `listening ADDR` once it does; a
//! client dials `--addr`. Each checks every byte it receives, exits 0 when
//! the scenario passed, and prints `result bytes=N micros=M` last: the
//! payload bytes it checked and how long the scenario took, from the
//! session's start to its last check. `--peer` names the other end, whose
//! library decides a few expectations (hashicorp/yamux cannot reset a
//! stream with a code).

mod control;
mod data;
mod pattern;
mod streams;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use muxplex_tokio::{CloseReason, Config, Connection, Role};
use tokio::net::{TcpListener, TcpStream};

use crate::streams::Outcome;

/// The library at the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Hashicorp,
    Goyamux,
    Muxplex,
}

/// What a scenario's side runs with.
struct Env {
    connection: Connection,
    peer: Peer,
    /// Whether this end dialed (and opens odd stream ids).
    client: bool,
}

struct Args {
    role: Role,
    scenario: String,
    addr: String,
    peer: Peer,
}

fn parse_args() -> Result<Args, String> {
    let mut role = None;
    let mut scenario = None;
    let mut addr = "127.0.0.1:0".to_string();
    let mut peer = Peer::Muxplex;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--role" => {
                role = Some(match value.as_str() {
                    "client" => Role::Client,
                    "server" => Role::Server,
                    _ => return Err(format!("unknown role {value:?}")),
                })
            }
            "--scenario" => scenario = Some(value),
            "--addr" => addr = value,
            "--peer" => {
                peer = match value.as_str() {
                    "hashicorp" => Peer::Hashicorp,
                    "goyamux" => Peer::Goyamux,
                    "muxplex" => Peer::Muxplex,
                    _ => return Err(format!("unknown peer {value:?}")),
                }
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    Ok(Args {
        role: role.ok_or("--role is required")?,
        scenario: scenario.ok_or("--scenario is required")?,
        addr,
        peer,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("muxplex-peer: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(&args)) {
        Ok((bytes, elapsed)) => {
            println!("result bytes={bytes} micros={}", elapsed.as_micros());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("muxplex-peer {:?} {}: FAIL: {e}", args.role, args.scenario);
            ExitCode::FAILURE
        }
    }
}

/// The session's configuration for a scenario: the defaults, but for a
/// keepalive that pings well within the Go peers' 1 s.
fn config(scenario: &str) -> Config {
    match scenario {
        "keepalive" => Config::default()
            .with_keepalive_interval(Some(Duration::from_millis(400)))
            .with_keepalive_timeout(Duration::from_secs(2)),
        _ => Config::default(),
    }
}

async fn run(args: &Args) -> Outcome<(u64, Duration)> {
    let client = args.role == Role::Client;
    let tcp = match client {
        true => TcpStream::connect(&args.addr).await,
        false => {
            let listener = TcpListener::bind(&args.addr)
                .await
                .map_err(|e| format!("listen: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            println!("listening {local}");
            std::io::stdout().flush().map_err(|e| e.to_string())?;
            listener.accept().await.map(|(tcp, _)| tcp)
        }
    }
    .map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let env = Env {
        connection: Connection::spawn(tcp, args.role, config(&args.scenario)),
        peer: args.peer,
        client,
    };
    let start = Instant::now();
    let checked = side(&env, &args.scenario).await?;
    let elapsed = start.elapsed();
    let ended_by_scenario = args.scenario.contains("close-") || args.scenario == "server-streams";
    if client && !ended_by_scenario {
        // The client ends the session (in the closing scenarios and
        // server-streams the scenario does); every stream is done, so
        // nothing may be reset.
        match env.connection.close().await {
            Ok(CloseReason::LocalClose) => {}
            other => return Err(format!("close() returned {other:?}, want LocalClose")),
        }
    }
    Ok((checked, elapsed))
}

async fn side(env: &Env, scenario: &str) -> Outcome<u64> {
    match (scenario, env.client) {
        ("echo", true) => data::echo_client(env).await,
        ("hello", true) => data::hello_client(env).await,
        ("delayed-relay", true) => data::short_client(env).await,
        ("echo" | "hello" | "delayed-relay", false) => data::echo_server(env).await,
        ("big-writes", true) => data::big_writes_client(env).await,
        ("big-writes", false) => data::big_writes_server(env).await,
        ("server-streams", _) => data::both_open(env).await,
        ("reset", true) => control::reset_client(env).await,
        ("reset", false) => control::reset_server(env).await,
        ("close-client" | "slow-close-client", true)
        | ("close-server" | "slow-close-server", false) => control::closer(env).await,
        ("close-client" | "slow-close-client", false)
        | ("close-server" | "slow-close-server", true) => control::close_other(env).await,
        ("keepalive", true) => control::keepalive_client(env).await,
        ("keepalive", false) => control::keepalive_server(env).await,
        _ => Err(format!("unknown scenario {scenario:?}")),
    }
}
