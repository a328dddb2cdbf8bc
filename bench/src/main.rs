//! The muxplex benchmark program: every scenario for muxplex and its
//! comparisons (raw TCP, the `yamux` crate, tokio-yamux, h2), interleaved over several
//! rounds in one process, reported as medians with ratios.
//!
//! ```text
//! cargo run --release -p muxplex-bench            # full run, about five minutes
//! cargo run --release -p muxplex-bench -- --quick # CI smoke run
//! ```
//!
//! Results go to stdout (a table, the scaling tables, then the targets),
//! progress to stderr, and the medians (with min and max) to `target/muxplex-bench.json` and
//! `target/muxplex-bench.svg`.
#![deny(unsafe_code)]

mod alloc;
mod blocking;
mod cases;
mod core;
mod http2;
mod idle;
mod mux;
mod report;
mod targets;
mod workload;

use std::path::PathBuf;
use std::time::Instant;

use cases::{Case, Scenario};

/// Counts live heap bytes for the idle-stream scenarios. It costs every
/// implementation the same one atomic add per allocation.
#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::Counting;

/// The yamux crate version measured as `yamux`, found in `Cargo.lock` by
/// the build script.
pub const YAMUX_VERSION: &str = env!("MUXPLEX_BENCH_YAMUX_VERSION");

/// The older yamux crate version measured as `yamux-0.13`.
pub const YAMUX013_VERSION: &str = env!("MUXPLEX_BENCH_YAMUX013_VERSION");

/// The tokio-yamux version measured as `tokio-yamux`.
pub const TOKIO_YAMUX_VERSION: &str = env!("MUXPLEX_BENCH_TOKIO_YAMUX_VERSION");

/// The h2 version measured as `h2`.
pub const H2_VERSION: &str = env!("MUXPLEX_BENCH_H2_VERSION");

/// How much work each scenario does.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Rounds of the whole suite; the table shows medians over them.
    pub rounds: usize,
    /// Bytes moved one way in `bulk-1` and `bulk-100`.
    pub bulk_bytes: u64,
    /// Concurrent streams in `bulk-100`.
    pub bulk_streams: usize,
    /// Streams opened, used and closed in `hello-10k`.
    pub hello_streams: usize,
    /// Client tasks (threads for blocking) opening them at once.
    pub hello_concurrency: usize,
    /// Timed one-byte round trips in `rtt`.
    pub rtt_round_trips: usize,
    /// Requests (a stream each) in `rr-nagle`.
    pub rr_requests: usize,
    /// Bytes through the in-memory session pair in `core-bulk`.
    pub core_bulk_bytes: u64,
    /// Streams opened, used and closed in `core-open`.
    pub core_open_streams: usize,
    /// Idle streams held open in `idle-stream-bytes`.
    pub idle_streams: usize,
    /// Idle streams held open in `idle-stream-bytes-100k`.
    pub idle_streams_many: usize,
    /// Idle connections (pairs of ends) held in `idle-connection-bytes`.
    pub idle_connections: usize,
}

impl Sizes {
    /// The full run: the scenario sizes the names promise, within about
    /// three minutes on two cores.
    fn full() -> Self {
        Sizes {
            rounds: 5,
            bulk_bytes: 1 << 30,
            bulk_streams: 100,
            hello_streams: 10_000,
            hello_concurrency: 64,
            rtt_round_trips: 10_000,
            rr_requests: 2_000,
            core_bulk_bytes: 1 << 30,
            core_open_streams: 100_000,
            idle_streams: 10_000,
            idle_streams_many: 100_000,
            idle_connections: 1_000,
        }
    }

    /// A smoke run for CI: every case once, tiny sizes.
    fn quick() -> Self {
        Sizes {
            rounds: 1,
            bulk_bytes: 8 << 20,
            bulk_streams: 100,
            hello_streams: 500,
            hello_concurrency: 16,
            rtt_round_trips: 500,
            rr_requests: 200,
            core_bulk_bytes: 16 << 20,
            core_open_streams: 2_000,
            idle_streams: 1_000,
            idle_streams_many: 5_000,
            idle_connections: 100,
        }
    }
}

/// One measurement of one case in one round.
#[derive(Debug)]
pub struct Sample {
    scenario: Scenario,
    implementation: &'static str,
    value: f64,
}

fn main() {
    const USAGE: &str = "usage: muxplex-bench [--quick] [--only SCENARIO/IMPLEMENTATION-SUBSTRING]";
    let mut quick = false;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            // For profiling one case (under callgrind, say) without the rest.
            "--only" => only = args.next(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("unknown argument {other:?}; {USAGE}");
                std::process::exit(2);
            }
        }
    }
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let mut cases = cases::all();
    if let Some(only) = &only {
        cases.retain(|case| {
            format!("{}/{}", case.scenario.name(), case.implementation).contains(only.as_str())
        });
    }
    report::print_header(&sizes, quick);

    let started = Instant::now();
    let mut samples = Vec::new();
    for round in 1..=sizes.rounds {
        // Interleaved: each round runs every case once, so drift in the
        // machine's state (other load, thermal) spreads over all of them.
        for case in &cases {
            samples.extend(measure(case, &sizes, round));
        }
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());

    let medians = report::medians(&samples, &cases);
    report::print_table(&medians);
    report::print_scaling(&medians, &sizes);
    if !quick {
        // A smoke run's tiny sizes say nothing about the targets.
        targets::print(&medians);
    }
    let target_dir = target_dir();
    for (name, contents) in [
        ("muxplex-bench.json", report::json(&medians)),
        ("muxplex-bench.svg", report::svg(&medians)),
    ] {
        let path = target_dir.join(name);
        match std::fs::create_dir_all(&target_dir).and_then(|()| std::fs::write(&path, contents)) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
}

/// Runs one case once and reports it on stderr. A failed case is reported
/// and left out of the medians rather than ending the run.
fn measure(case: &Case, sizes: &Sizes, round: usize) -> Option<Sample> {
    let started = Instant::now();
    let result = (case.run)(sizes);
    let took = started.elapsed().as_secs_f64();
    let scenario = case.scenario;
    let label = format!(
        "[round {round}/{}] {:<18} {:<17}",
        sizes.rounds,
        scenario.name(),
        case.implementation
    );
    match result {
        Ok(value) => {
            eprintln!("{label} {value:>12.1} {:<9} ({took:.2} s)", scenario.unit());
            if let Some(line) = report::take_session_line() {
                eprintln!("{line}");
            }
            Some(Sample {
                scenario,
                implementation: case.implementation,
                value,
            })
        }
        Err(e) => {
            eprintln!("{label} failed: {e} ({took:.2} s)");
            None
        }
    }
}

/// The workspace's `target` directory (or `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target")
}
