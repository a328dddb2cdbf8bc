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
//! It prints one line per cell (the echo cells run three interleaved rounds
//! and report their median throughput), then the echo throughput beside
//! Go's, then `N passed, M failed`, and exits non-zero if any cell failed.
//! `interop/run-go-matrix` builds the peers and runs it.

mod audit;
mod cell;
mod relay;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cell::{Binaries, Cell, Impl, Outcome};

/// Every scenario, in the order the matrix runs them.
const SCENARIOS: [&str; 11] = [
    "echo",
    "hello",
    "big-writes",
    "delayed-relay",
    "reset",
    "close-client",
    "close-server",
    "slow-close-client",
    "slow-close-server",
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

/// Rounds of the echo cells. They run interleaved (every direction and Go
/// against Go, then again), so the load of a shared machine weighs on all
/// of them alike, and each reports its median.
const ECHO_ROUNDS: usize = 3;

/// A cell's rounds, summed up.
struct Row {
    cell: Cell,
    failures: Vec<String>,
    bytes: u64,
    /// Each round's throughput, where it means something.
    rates: Vec<f64>,
    wall_time: Duration,
}

impl Row {
    fn new(cell: Cell, rounds: &[Outcome]) -> Row {
        let mut failures = Vec::new();
        for (i, outcome) in rounds.iter().enumerate() {
            let prefix = match rounds.len() {
                1 => String::new(),
                _ => format!("round {}: ", i + 1),
            };
            failures.extend(outcome.failures.iter().map(|f| format!("{prefix}{f}")));
        }
        Row {
            cell,
            bytes: rounds.iter().map(|o| o.bytes).max().unwrap_or(0),
            rates: rounds.iter().filter_map(|o| throughput(&cell, o)).collect(),
            wall_time: rounds.iter().map(|o| o.wall_time).sum(),
            failures,
        }
    }

    fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The median throughput of the rounds, once all passed.
    fn rate(&self) -> Option<f64> {
        if !self.passed() {
            return None;
        }
        let mut rates = self.rates.clone();
        rates.sort_by(f64::total_cmp);
        rates.get(rates.len() / 2).copied()
    }

    fn print(&self) {
        let cell = &self.cell;
        let rate = self.rate().map_or("-".into(), |r| format!("{r:.1}"));
        let rounds = match self.rates.len() {
            0 | 1 => String::new(),
            _ => {
                let each: Vec<String> = self.rates.iter().map(|r| format!("{r:.1}")).collect();
                format!("  (median of {})", each.join(", "))
            }
        };
        println!(
            "{:<15} {:<10} {:<12} {:<6} {:>11} {:>9} {:>6.1}s{rounds}",
            cell.scenario,
            go_peer(cell).name(),
            direction(cell),
            if self.passed() { "PASS" } else { "FAIL" },
            self.bytes,
            rate,
            self.wall_time.as_secs_f64(),
        );
        for failure in &self.failures {
            println!("    {}", failure.trim_end());
        }
    }
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
    let run = |cell: &Cell| runtime.block_on(cell::run(&args.binaries, cell));
    let (echo, others): (Vec<Cell>, Vec<Cell>) =
        cells(&args).into_iter().partition(|c| c.scenario == "echo");
    let mut echo_rounds: Vec<Vec<Outcome>> = echo.iter().map(|_| Vec::new()).collect();
    for _ in 0..ECHO_ROUNDS {
        for (cell, rounds) in echo.iter().zip(&mut echo_rounds) {
            rounds.push(run(cell));
        }
    }
    let mut rows = Vec::new();
    for (cell, rounds) in echo.into_iter().zip(echo_rounds) {
        let row = Row::new(cell, &rounds);
        row.print();
        rows.push(row);
    }
    for cell in others {
        let row = Row::new(cell, &[run(&cell)]);
        row.print();
        rows.push(row);
    }
    print_comparison(&rows);
    let failed = rows.iter().filter(|r| !r.passed()).count();
    println!("matrix time: {:.1}s", started.elapsed().as_secs_f64());
    println!("{} passed, {failed} failed", rows.len() - failed);
    match failed {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// Echo throughput each way beside Go against itself, per Go peer.
fn print_comparison(rows: &[Row]) {
    let rate = |go: Impl, dir: &str| {
        rows.iter()
            .find(|r| {
                r.cell.scenario == "echo" && go_peer(&r.cell) == go && direction(&r.cell) == dir
            })
            .and_then(Row::rate)
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
            "echo throughput (medians), {}: go->go {base:.1} MB/s; {}; {}",
            go.name(),
            show("go->muxplex"),
            show("muxplex->go")
        );
    }
}
