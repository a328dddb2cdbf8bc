//! Finds the versions of the `yamux` crate (0.14.x, and 0.13.x as
//! `yamux013`) in the workspace's `Cargo.lock`, so the report names exactly
//! what it measured.

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
    println!("cargo::rerun-if-changed={lock}");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    for (series, variable) in [
        ("0.14", "MUXPLEX_BENCH_YAMUX_VERSION"),
        ("0.13", "MUXPLEX_BENCH_YAMUX013_VERSION"),
    ] {
        let mut version = format!("{series} (version not found in Cargo.lock)");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == "name = \"yamux\""
                && let Some(next) = lines.next()
                && let Some(found) = next.trim().strip_prefix("version = \"")
                && found.starts_with(&format!("{series}."))
            {
                version = found.trim_end_matches('"').to_string();
            }
        }
        println!("cargo::rustc-env={variable}={version}");
    }
}
