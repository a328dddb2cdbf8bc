//! Model-based property tests: random operations on both ends of a session
//! and random transport behaviour, checked against the reference model in
//! `tests/model/`.
//!
//! The properties: every byte written before FIN is delivered exactly once
//! and in order; a reset stream delivers a prefix; no event names a stream
//! nobody opened; once quiet nothing is left to transmit; a well-behaved
//! pair never sees a protocol error; nothing panics; and at the end, with
//! everything finished and read, no stream state is left behind.
//!
//! The same properties hold with one end played by a peer model with
//! random quirks of real peers (flags applied before the payload, lazy
//! ACKs, GoAway(0) as terminate, FIN only on a WindowUpdate, frames as
//! large as the window): a model that loses data or sees a protocol error
//! fails the case at once.
//!
//! Cases default to 64 for two muxplex ends and 32 against peer models;
//! set `MUXPLEX_PROPTEST_CASES` for more (it sets both).

use crate::model;

use std::time::Duration;

use model::End;
use model::harness::{Harness, Op, Setup};
use muxplex::testing::Quirks;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// The largest write: beyond a window, so flow control is exercised. Miri
/// interprets every byte, so under it the cases stay small.
const LARGE_WRITE: usize = if cfg!(miri) { 3_000 } else { 300_000 };
/// The most operations in one case.
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 120 };

fn end() -> impl Strategy<Value = End> {
    prop_oneof![Just(End::Client), Just(End::Server)]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = any::<usize>();
    prop_oneof![
        4 => end().prop_map(Op::Open),
        4 => end().prop_map(Op::Accept),
        8 => (end(), pick, prop_oneof![0..2_000usize, 0..LARGE_WRITE])
            .prop_map(|(end, pick, len)| Op::Write { end, pick, len }),
        8 => (end(), pick, 0..100_000usize, any::<bool>())
            .prop_map(|(end, pick, len, chunk)| Op::Read { end, pick, len, chunk }),
        3 => (end(), pick).prop_map(|(end, pick)| Op::Finish { end, pick }),
        1 => (end(), pick, 0..4u32).prop_map(|(end, pick, code)| Op::Reset { end, pick, code }),
        1 => (end(), pick, -2..3i32)
            .prop_map(|(end, pick, priority)| Op::Priority { end, pick, priority }),
        1 => end().prop_map(Op::Ping),
        1 => end().prop_map(Op::Close),
        4 => Just(Op::Step),
        2 => Just(Op::Drive),
        2 => (0..200u64).prop_map(|ms| Op::Advance(Duration::from_millis(ms))),
    ]
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<u64>(),
        prop_oneof![1..16usize, 1..70_000usize],
        0..20u64,
        prop_oneof![Just(16 * 1024u32), 1..5_000u32],
        prop_oneof![Just(256usize), 1..6usize],
        prop_oneof![Just(256usize), 0..4usize],
    )
        .prop_map(
            |(seed, chunk_max, latency_ms, max_frame_size, max_unacked, accept_backlog)| Setup {
                seed,
                chunk_max,
                latency_ms,
                max_frame_size,
                max_unacked,
                accept_backlog,
                peer_model: None,
            },
        )
}

/// A setup with one end, either, played by a peer model with random
/// quirks.
fn setup_with_peer_model() -> impl Strategy<Value = Setup> {
    let quirks = prop::array::uniform5(any::<bool>()).prop_map(|q| {
        Quirks::none()
            .with_flags_before_payload(q[0])
            .with_lazy_ack(q[1])
            .with_go_away_terminates(q[2])
            .with_fin_on_window_update(q[3])
            .with_whole_window_frames(q[4])
    });
    (setup(), end(), quirks).prop_map(|(mut setup, end, quirks)| {
        setup.peer_model = Some((end, quirks));
        setup
    })
}

/// Runs one case: the operations, then the finale's checks.
fn run(setup: &Setup, ops: &[Op]) {
    let mut harness = Harness::new(setup);
    for op in ops {
        harness.apply(op);
    }
    harness.finale();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: crate::common::proptest_cases(64),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model_props.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sessions_match_the_model(setup in setup(), ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        run(&setup, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: crate::common::proptest_cases(32),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/model_props_peer_models.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn sessions_match_the_model_against_peer_models(
        setup in setup_with_peer_model(),
        ops in prop::collection::vec(op(), 1..MAX_OPS),
    ) {
        run(&setup, &ops);
    }
}
