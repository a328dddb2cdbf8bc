//! The scenarios and which implementations run each: the one list to
//! extend when an implementation arrives.

use std::io;

use crate::http2::H2;
use crate::mux::{
    AsyncMux, MuxplexSmol, MuxplexTokio, MuxplexTokioChunk, RawTcp, TokioYamux, Yamux, Yamux013,
};
use crate::{Sizes, blocking, core, idle, workload};

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scenario {
    /// One stream, `bulk_bytes` one way over loopback TCP.
    Bulk1,
    /// 10 concurrent streams, `bulk_bytes` in total (scaling).
    Bulk10,
    /// `bulk_streams` concurrent streams, `bulk_bytes` in total.
    Bulk100,
    /// 1,000 concurrent streams, `bulk_bytes` in total (scaling).
    Bulk1000,
    /// `hello_streams` streams one at a time (scaling).
    Hello10kSerial,
    /// Streams opened, sent "hello", finished, read to the end by the
    /// server, which finishes too; `hello_concurrency` at a time.
    Hello10k,
    /// The same, all `hello_streams` opened at once.
    Hello10kAll,
    /// One-byte ping-pong on one stream.
    Rtt,
    /// One request and one response per stream, one stream at a time,
    /// over sockets with Nagle's algorithm on (no `TCP_NODELAY`): the p99
    /// latency of a request (p50 on stderr).
    RrNagle,
    /// Bytes through two sessions wired together in memory.
    CoreBulk,
    /// Streams opened, used and closed through two sessions in memory.
    CoreOpen,
    /// 16,000 peer resets in one input batch during a graceful close.
    CoreClose,
    /// 16 MiB handed to one stream in 8 KiB `write_chunk`s, then drained
    /// into frames.
    CoreDrainChunks,
    /// The same 16 MiB copied in with 8 KiB `write`s, then drained.
    CoreDrainWrites,
    /// 4,096 streams with data queued, spread over 512 priorities and
    /// drained in small frames.
    CorePriorities,
    /// Heap bytes per idle open stream, both ends together, with 100 open
    /// (scaling).
    IdleStreamBytes100,
    /// Heap bytes per idle open stream, both ends together.
    IdleStreamBytes,
    /// The same with `idle_streams_many` open (scaling).
    IdleStreamBytes100k,
    /// Heap bytes per end of an idle connection, no stream open.
    IdleConnectionBytes,
}

impl Scenario {
    /// The name in the report and the JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Bulk1 => "bulk-1",
            Scenario::Bulk10 => "bulk-10",
            Scenario::Bulk100 => "bulk-100",
            Scenario::Bulk1000 => "bulk-1000",
            Scenario::Hello10kSerial => "hello-10k-1",
            Scenario::Hello10k => "hello-10k",
            Scenario::Hello10kAll => "hello-10k-all",
            Scenario::Rtt => "rtt",
            Scenario::RrNagle => "rr-nagle",
            Scenario::CoreBulk => "core-bulk",
            Scenario::CoreOpen => "core-open",
            Scenario::CoreClose => "core-close-16k",
            Scenario::CoreDrainChunks => "core-drain-chunks",
            Scenario::CoreDrainWrites => "core-drain-writes",
            Scenario::CorePriorities => "core-priorities",
            Scenario::IdleStreamBytes100 => "idle-stream-bytes-100",
            Scenario::IdleStreamBytes => "idle-stream-bytes",
            Scenario::IdleStreamBytes100k => "idle-stream-bytes-100k",
            Scenario::IdleConnectionBytes => "idle-connection-bytes",
        }
    }

    /// The unit of its figure.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Scenario::Bulk1 | Scenario::Bulk100 | Scenario::CoreBulk => "MB/s",
            Scenario::Hello10k | Scenario::CoreOpen | Scenario::CoreClose => "streams/s",
            Scenario::Bulk10 | Scenario::Bulk1000 => "MB/s",
            Scenario::Hello10kSerial | Scenario::Hello10kAll => "streams/s",
            Scenario::IdleStreamBytes100 | Scenario::IdleStreamBytes100k => "bytes",
            Scenario::Rtt
            | Scenario::RrNagle
            | Scenario::CoreDrainChunks
            | Scenario::CoreDrainWrites
            | Scenario::CorePriorities => "us",
            Scenario::IdleStreamBytes | Scenario::IdleConnectionBytes => "bytes",
        }
    }

    /// Whether a larger figure is better (throughput) or worse (latency,
    /// memory).
    pub(crate) fn higher_is_better(self) -> bool {
        !matches!(
            self,
            Scenario::Rtt
                | Scenario::RrNagle
                | Scenario::CoreDrainChunks
                | Scenario::CoreDrainWrites
                | Scenario::CorePriorities
                | Scenario::IdleStreamBytes
                | Scenario::IdleStreamBytes100
                | Scenario::IdleStreamBytes100k
                | Scenario::IdleConnectionBytes
        )
    }
}

/// One scenario for one implementation.
pub(crate) struct Case {
    /// What is measured.
    pub scenario: Scenario,
    /// One of `muxplex-tokio`, `muxplex-tokio-chunk` (its zero-copy
    /// path), `muxplex-smol`, `muxplex-blocking`, `muxplex-core`, `yamux`
    /// (0.14), `yamux-0.13`, `tokio-yamux`, `h2`, `raw-tcp`.
    pub implementation: &'static str,
    /// Runs it once and returns the figure in the scenario's unit.
    pub run: fn(&Sizes) -> io::Result<f64>,
}

const fn case(
    scenario: Scenario,
    implementation: &'static str,
    run: fn(&Sizes) -> io::Result<f64>,
) -> Case {
    Case {
        scenario,
        implementation,
        run,
    }
}

/// Every case, in the order a round runs them: per scenario, the
/// comparisons first, then muxplex.
///
/// An async adapter joins by implementing [`crate::mux::AsyncMux`] and
/// adding its lines here, like `muxplex-tokio` and `muxplex-smol`.
pub(crate) fn all() -> Vec<Case> {
    use Scenario::*;
    let mut cases = vec![
        case(Bulk1, "raw-tcp", |s| {
            workload::bulk::<RawTcp>(s.bulk_bytes, 1)
        }),
        case(Bulk1, "yamux", |s| workload::bulk::<Yamux>(s.bulk_bytes, 1)),
        case(Bulk1, "tokio-yamux", |s| {
            workload::bulk::<TokioYamux>(s.bulk_bytes, 1)
        }),
        case(Bulk1, "h2", |s| workload::bulk::<H2>(s.bulk_bytes, 1)),
        case(Bulk1, "muxplex-tokio", |s| {
            workload::bulk::<MuxplexTokio>(s.bulk_bytes, 1)
        }),
        case(Bulk1, "muxplex-tokio-chunk", |s| {
            workload::bulk::<MuxplexTokioChunk>(s.bulk_bytes, 1)
        }),
        case(Bulk1, "muxplex-smol", |s| {
            workload::bulk::<MuxplexSmol>(s.bulk_bytes, 1)
        }),
        case(Bulk1, "muxplex-blocking", |s| {
            blocking::bulk(s.bulk_bytes, 1)
        }),
        case(Bulk100, "raw-tcp", |s| {
            workload::bulk::<RawTcp>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "yamux", |s| {
            workload::bulk::<Yamux>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "tokio-yamux", |s| {
            workload::bulk::<TokioYamux>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "h2", |s| {
            workload::bulk::<H2>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "muxplex-tokio", |s| {
            workload::bulk::<MuxplexTokio>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "muxplex-tokio-chunk", |s| {
            workload::bulk::<MuxplexTokioChunk>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "muxplex-smol", |s| {
            workload::bulk::<MuxplexSmol>(s.bulk_bytes, s.bulk_streams)
        }),
        case(Bulk100, "muxplex-blocking", |s| {
            blocking::bulk(s.bulk_bytes, s.bulk_streams)
        }),
        case(Hello10k, "raw-tcp", |s| {
            workload::hello::<RawTcp>(s.hello_streams, s.hello_concurrency)
        }),
        case(Hello10k, "yamux", |s| {
            workload::hello::<Yamux>(s.hello_streams, s.hello_concurrency)
        }),
        // The older yamux only where it costs little time.
        case(Hello10k, "yamux-0.13", |s| {
            workload::hello::<Yamux013>(s.hello_streams, s.hello_concurrency)
        }),
        case(Hello10k, "tokio-yamux", |s| {
            workload::hello::<TokioYamux>(s.hello_streams, s.hello_concurrency)
        }),
        case(Hello10k, "h2", |s| {
            workload::hello::<H2>(s.hello_streams, s.hello_concurrency)
        }),
        case(Hello10k, "muxplex-tokio", |s| {
            workload::hello::<MuxplexTokio>(s.hello_streams, s.hello_concurrency)
        }),
        case(Hello10k, "muxplex-smol", |s| {
            workload::hello::<MuxplexSmol>(s.hello_streams, s.hello_concurrency)
        }),
        case(Hello10k, "muxplex-blocking", |s| {
            blocking::hello(s.hello_streams, s.hello_concurrency)
        }),
        case(Rtt, "raw-tcp", |s| {
            workload::rtt::<RawTcp>(s.rtt_round_trips)
        }),
        case(Rtt, "yamux", |s| workload::rtt::<Yamux>(s.rtt_round_trips)),
        case(Rtt, "yamux-0.13", |s| {
            workload::rtt::<Yamux013>(s.rtt_round_trips)
        }),
        case(Rtt, "tokio-yamux", |s| {
            workload::rtt::<TokioYamux>(s.rtt_round_trips)
        }),
        case(Rtt, "h2", |s| workload::rtt::<H2>(s.rtt_round_trips)),
        case(Rtt, "muxplex-tokio", |s| {
            workload::rtt::<MuxplexTokio>(s.rtt_round_trips)
        }),
        case(Rtt, "muxplex-smol", |s| {
            workload::rtt::<MuxplexSmol>(s.rtt_round_trips)
        }),
        case(Rtt, "muxplex-blocking", |s| {
            blocking::rtt(s.rtt_round_trips)
        }),
        case(RrNagle, "muxplex-tokio", |s| {
            workload::rr_nagle_tokio(s.rr_requests)
        }),
        case(RrNagle, "muxplex-smol", |s| {
            workload::rr_nagle_smol(s.rr_requests)
        }),
        case(RrNagle, "muxplex-blocking", |s| {
            blocking::rr_nagle(s.rr_requests)
        }),
        case(CoreBulk, "muxplex-core", |s| core::bulk(s.core_bulk_bytes)),
        case(CoreOpen, "muxplex-core", |s| {
            core::open(s.core_open_streams)
        }),
        case(CoreClose, "muxplex-core", |_| core::close(16_000)),
        case(CoreDrainChunks, "muxplex-core", |_| {
            core::drain_writes(true)
        }),
        case(CoreDrainWrites, "muxplex-core", |_| {
            core::drain_writes(false)
        }),
        case(CorePriorities, "muxplex-core", |_| core::priorities()),
        case(IdleStreamBytes, "yamux", |s| idle::yamux(s.idle_streams)),
        case(IdleStreamBytes, "muxplex-tokio", |s| {
            idle::muxplex_tokio(s.idle_streams)
        }),
        case(IdleStreamBytes, "muxplex-smol", |s| {
            idle::muxplex_smol(s.idle_streams)
        }),
        case(IdleStreamBytes, "muxplex-core", |s| {
            idle::core(s.idle_streams)
        }),
        case(IdleConnectionBytes, "yamux", |s| {
            idle::yamux_connections(s.idle_connections)
        }),
        case(IdleConnectionBytes, "muxplex-tokio", |s| {
            idle::muxplex_tokio_connections(s.idle_connections)
        }),
    ];
    cases.extend(scaling());
    // Stable: within a scenario, the order above.
    cases.sort_by_key(|case| case.scenario);
    cases
}

/// The cases that show how cost grows, beside the scenarios above: bulk
/// over 10 and 1,000 streams, hello one at a time and all at once, idle
/// memory with 100 and `idle_streams_many` streams.
fn scaling() -> Vec<Case> {
    use Scenario::*;
    let mut cases = Vec::new();
    cases.extend(scaling_async::<RawTcp>("raw-tcp"));
    cases.extend(scaling_async::<Yamux>("yamux"));
    cases.extend(scaling_async::<TokioYamux>("tokio-yamux"));
    cases.extend(scaling_async::<H2>("h2"));
    cases.extend(scaling_async::<MuxplexTokio>("muxplex-tokio"));
    // Only bulk differs from muxplex-tokio.
    cases.extend(
        scaling_async::<MuxplexTokioChunk>("muxplex-tokio-chunk")
            .into_iter()
            .filter(|case| matches!(case.scenario, Bulk10 | Bulk1000)),
    );
    cases.extend(scaling_async::<MuxplexSmol>("muxplex-smol"));
    // 10,000 connections at once would need 20,001 descriptors, one more
    // than this machine's limit.
    cases.retain(|case| !(case.scenario == Hello10kAll && case.implementation == "raw-tcp"));
    cases.extend([
        case(Bulk10, "muxplex-blocking", |s| {
            blocking::bulk(s.bulk_bytes, 10)
        }),
        case(Bulk1000, "muxplex-blocking", |s| {
            blocking::bulk(s.bulk_bytes, 1000)
        }),
        case(Hello10kSerial, "muxplex-blocking", |s| {
            blocking::hello(s.hello_streams, 1)
        }),
        // No hello-10k-all for muxplex-blocking: a thread per stream in
        // flight, 10,000 threads, would measure thread creation.
        case(IdleStreamBytes100, "yamux", |_| idle::yamux(100)),
        case(IdleStreamBytes100, "muxplex-tokio", |_| {
            idle::muxplex_tokio(100)
        }),
        case(IdleStreamBytes100, "muxplex-smol", |_| {
            idle::muxplex_smol(100)
        }),
        case(IdleStreamBytes100, "muxplex-core", |_| idle::core(100)),
        // No 100k for yamux: its connection's cost grows with the square of
        // the streams open (one round took 137 s here).
        case(IdleStreamBytes100k, "muxplex-tokio", |s| {
            idle::muxplex_tokio(s.idle_streams_many)
        }),
        case(IdleStreamBytes100k, "muxplex-smol", |s| {
            idle::muxplex_smol(s.idle_streams_many)
        }),
        case(IdleStreamBytes100k, "muxplex-core", |s| {
            idle::core(s.idle_streams_many)
        }),
    ]);
    cases
}

/// The scaling cases of an async implementation.
fn scaling_async<M: AsyncMux>(implementation: &'static str) -> [Case; 4] {
    use Scenario::*;
    [
        case(Bulk10, implementation, |s| {
            workload::bulk::<M>(s.bulk_bytes, 10)
        }),
        case(Bulk1000, implementation, |s| {
            workload::bulk::<M>(s.bulk_bytes, 1000)
        }),
        case(Hello10kSerial, implementation, |s| {
            workload::hello::<M>(s.hello_streams, 1)
        }),
        case(Hello10kAll, implementation, |s| {
            workload::hello::<M>(s.hello_streams, s.hello_streams)
        }),
    ]
}
