//! The Go interop matrix: every scenario, both ways (Go client to muxplex
//! server, muxplex client to Go server), against hashicorp/yamux and
//! libp2p's go-yamux, plus Go against Go in the echo scenario for a
//! throughput baseline. Each cell's connection runs through a relay that
//! audits every frame (see `interop/README.md`).
//!
//! ```text
//! interop-matrix --go-peer PATH --muxplex-peer PATH [--scenario NAME]... [--peer hashicorp|goyamux]...
//! ```
//!
//! It prints one line per cell, then the echo throughput beside Go's, then
//! `N passed, M failed`, and exits non-zero if any cell failed.
//! `interop/run-go-matrix` builds the peers and runs it.

mod audit;
mod cell;
mod relay;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::cell::{Binaries, Cell, Impl, Outcome};

/// Every scenario, in the order the matrix runs them.
const SCENARIOS: [&str; 9] = [
    "echo",
    "hello",
    "big-writes",
    "delayed-relay",
    "reset",
    "close-client",
    "close-server",
    "keepalive",
    "server-streams",
];

/// The scenarios whose throughput means something.
const THROUGHPUT: [&str; 3] = ["echo", "big-writes", "server-streams"];

const GO_PEERS: [Impl; 2] = [Impl::Hashicorp, Impl::Goyamux];

struct Args {
    binaries: Binaries,
    scenarios: Vec<&'static str>,
    peers: Vec<Impl>,
}

fn parse_args() -> Result<Args, String> {
    let (mut go_peer, mut muxplex_peer) = (None, None);
    let (mut scenarios, mut peers) = (Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--go-peer" => go_peer = Some(PathBuf::from(value)),
            "--muxplex-peer" => muxplex_peer = Some(PathBuf::from(value)),
            "--scenario" => scenarios.push(
                *SCENARIOS
                    .iter()
                    .find(|s| **s == value)
                    .ok_or(format!("unknown scenario {value:?}; known: {SCENARIOS:?}"))?,
            ),
            "--peer" => peers.push(
                *GO_PEERS
                    .iter()
                    .find(|p| p.name() == value)
                    .ok_or(format!("unknown peer {value:?}: hashicorp or goyamux"))?,
            ),
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    if scenarios.is_empty() {
        scenarios = SCENARIOS.to_vec();
    }
    if peers.is_empty() {
        peers = GO_PEERS.to_vec();
    }
    Ok(Args {
        binaries: Binaries {
            go_peer: go_peer.ok_or("--go-peer is required")?,
            muxplex_peer: muxplex_peer.ok_or("--muxplex-peer is required")?,
        },
        scenarios,
        peers,
    })
}

/// The cells to run: each scenario against each Go peer both ways, and
/// Go against itself in the echo scenario.
fn cells(args: &Args) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &scenario in &args.scenarios {
        for &go in &args.peers {
            let cell = |client, server| Cell {
                scenario,
                client,
                server,
            };
            cells.push(cell(go, Impl::Muxplex));
            cells.push(cell(Impl::Muxplex, go));
            if scenario == "echo" {
                cells.push(cell(go, go));
            }
        }
    }
    cells
}

fn direction(cell: &Cell) -> &'static str {
    match (cell.client, cell.server) {
        (Impl::Muxplex, _) => "muxplex->go",
        (_, Impl::Muxplex) => "go->muxplex",
        _ => "go->go",
    }
}

fn go_peer(cell: &Cell) -> Impl {
    match cell.client {
        Impl::Muxplex => cell.server,
        go => go,
    }
}

/// Payload megabytes (10^6) per second, for the scenarios where that
/// means something.
fn throughput(cell: &Cell, outcome: &Outcome) -> Option<f64> {
    let secs = outcome.scenario_time.as_secs_f64();
    (THROUGHPUT.contains(&cell.scenario) && outcome.failures.is_empty() && secs > 0.0)
        .then(|| outcome.bytes as f64 / secs / 1e6)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("interop-matrix: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    println!(
        "{:<15} {:<10} {:<12} {:<6} {:>11} {:>9} {:>7}",
        "scenario", "peer", "direction", "result", "bytes", "MB/s", "time"
    );
    let mut results = Vec::new();
    for cell in cells(&args) {
        let outcome = runtime.block_on(cell::run(&args.binaries, &cell));
        let rate = throughput(&cell, &outcome).map_or("-".into(), |r| format!("{r:.1}"));
        println!(
            "{:<15} {:<10} {:<12} {:<6} {:>11} {:>9} {:>6.1}s",
            cell.scenario,
            go_peer(&cell).name(),
            direction(&cell),
            if outcome.failures.is_empty() {
                "PASS"
            } else {
                "FAIL"
            },
            outcome.bytes,
            rate,
            outcome.wall_time.as_secs_f64(),
        );
        for failure in &outcome.failures {
            println!("    {}", failure.trim_end());
        }
        results.push((cell, outcome));
    }
    print_comparison(&results);
    let failed = results
        .iter()
        .filter(|(_, o)| !o.failures.is_empty())
        .count();
    println!("matrix time: {:.1}s", started.elapsed().as_secs_f64());
    println!("{} passed, {failed} failed", results.len() - failed);
    match failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// Echo throughput each way beside Go against itself, per Go peer.
fn print_comparison(results: &[(Cell, Outcome)]) {
    let rate = |go: Impl, dir: &str| {
        results
            .iter()
            .find(|(c, _)| c.scenario == "echo" && go_peer(c) == go && direction(c) == dir)
            .and_then(|(c, o)| throughput(c, o))
    };
    for go in GO_PEERS {
        let Some(base) = rate(go, "go->go") else {
            continue;
        };
        let show = |dir: &str| match rate(go, dir) {
            Some(r) => format!("{dir} {r:.1} MB/s ({:.2}x)", r / base),
            None => format!("{dir} -"),
        };
        println!(
            "echo throughput, {}: go->go {base:.1} MB/s; {}; {}",
            go.name(),
            show("go->muxplex"),
            show("muxplex->go")
        );
    }
}
