//! The scenarios and which implementations run each: the one list to
//! extend when an implementation arrives.

use std::io;

use crate::mux::{MuxplexSmol, MuxplexTokio, RawTcp, TokioYamux, Yamux, Yamux013};
use crate::{Sizes, blocking, core, idle, workload};

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scenario {
    /// One stream, `bulk_bytes` one way over loopback TCP.
    Bulk1,
    /// `bulk_streams` concurrent streams, `bulk_bytes` in total.
    Bulk100,
    /// Streams opened, sent "hello", finished, read to the end by the
    /// server, which finishes too.
    Hello10k,
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
    /// Heap bytes per idle open stream, both ends together.
    IdleStreamBytes,
    /// Heap bytes per end of an idle connection, no stream open.
    IdleConnectionBytes,
}

impl Scenario {
    /// The name in the report and the JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Bulk1 => "bulk-1",
            Scenario::Bulk100 => "bulk-100",
            Scenario::Hello10k => "hello-10k",
            Scenario::Rtt => "rtt",
            Scenario::RrNagle => "rr-nagle",
            Scenario::CoreBulk => "core-bulk",
            Scenario::CoreOpen => "core-open",
            Scenario::CoreClose => "core-close-16k",
            Scenario::CoreDrainChunks => "core-drain-chunks",
            Scenario::CoreDrainWrites => "core-drain-writes",
            Scenario::CorePriorities => "core-priorities",
            Scenario::IdleStreamBytes => "idle-stream-bytes",
            Scenario::IdleConnectionBytes => "idle-connection-bytes",
        }
    }

    /// The unit of its figure.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Scenario::Bulk1 | Scenario::Bulk100 | Scenario::CoreBulk => "MB/s",
            Scenario::Hello10k | Scenario::CoreOpen | Scenario::CoreClose => "streams/s",
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
                | Scenario::IdleConnectionBytes
        )
    }
}

/// One scenario for one implementation.
pub(crate) struct Case {
    /// What is measured.
    pub scenario: Scenario,
    /// One of `muxplex-tokio`, `muxplex-smol`, `muxplex-blocking`,
    /// `muxplex-core`, `yamux` (0.14), `yamux-0.13`, `raw-tcp`.
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
    vec![
        case(Bulk1, "raw-tcp", |s| {
            workload::bulk::<RawTcp>(s.bulk_bytes, 1)
        }),
        case(Bulk1, "yamux", |s| workload::bulk::<Yamux>(s.bulk_bytes, 1)),
        // No bulk-1 for tokio-yamux: one stream of 8 MiB or more does not
        // complete in this workload within the case's two minutes (bulk-100,
        // the same bytes over 100 streams, does); not yet understood.
        case(Bulk1, "muxplex-tokio", |s| {
            workload::bulk::<MuxplexTokio>(s.bulk_bytes, 1)
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
        case(Bulk100, "muxplex-tokio", |s| {
            workload::bulk::<MuxplexTokio>(s.bulk_bytes, s.bulk_streams)
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
    ]
}
