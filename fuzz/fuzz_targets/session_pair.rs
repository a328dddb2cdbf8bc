//! A client and a server session driven by an arbitrary sequence of
//! operations over an arbitrary transport, every observation checked
//! against the reference model the property tests use. Crashes found here
//! go to `tests/fuzz-regressions/session_pair/` and replay in
//! `tests/core/fuzz_regressions.rs`.
#![no_main]

#[path = "../../tests/model/mod.rs"]
mod model;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| model::harness::run_script(data));
