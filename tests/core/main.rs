//! The core's integration tests, in one test binary: each module was a
//! test binary of its own, and each compiled the shared helpers again.
//! `tests/hostile_memory.rs` stays apart, since it installs a counting
//! global allocator. Run a part with a filter on the module path, for
//! example `cargo test -p muxplex --all-features --test core model_props::`.

mod common;
#[path = "../model/mod.rs"]
mod model;

mod autotune;
mod bad_input;
mod chunking;
mod config_validation;
mod detach;
mod faults;
mod flow_control;
mod fuzz_regressions;
mod keepalive;
mod liberal_acceptance;
mod lifecycle;
mod limits;
mod many_streams;
mod may_transmit;
mod model_props;
mod peer_models;
mod ping;
#[cfg(feature = "pool")]
mod pool_props;
mod priorities;
mod protocol_errors;
mod retry_safety;
mod scheduling;
mod shutdown;
mod stats;
mod stream_state;
mod time_inputs;
mod wire_audit;
