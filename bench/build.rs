//! Finds the versions of the comparison crates (the `yamux` crate 0.14.x,
//! and 0.13.x as `yamux013`; tokio-yamux; h2) in the workspace's
//! `Cargo.lock`, so the report names exactly what it measured.

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
    println!("cargo::rerun-if-changed={lock}");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    for (name, series, variable) in [
        ("yamux", "0.14", "MUXPLEX_BENCH_YAMUX_VERSION"),
        ("yamux", "0.13", "MUXPLEX_BENCH_YAMUX013_VERSION"),
        ("tokio-yamux", "0.3", "MUXPLEX_BENCH_TOKIO_YAMUX_VERSION"),
        ("h2", "0.4", "MUXPLEX_BENCH_H2_VERSION"),
    ] {
        let mut version = format!("{series} (version not found in Cargo.lock)");
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if line.trim() == format!("name = \"{name}\"")
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
