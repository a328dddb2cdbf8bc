//! Every crash the fuzzers found, replayed: each file under
//! `tests/fuzz-regressions/<target>/` is an input that once failed.

use crate::model;

use std::fs;
use std::path::Path;

/// The inputs saved for one fuzz target; fails if there are none, so a
/// wrong path cannot pass unnoticed.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut inputs: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no saved inputs in {}", dir.display());
    inputs
}

#[test]
fn session_pair_crashes_stay_fixed() {
    for (name, bytes) in inputs("session_pair") {
        eprintln!("replaying {name}");
        model::harness::run_script(&bytes);
    }
}
