//! Finds the version of the `yamux` crate (0.13.x) in the workspace's
//! `Cargo.lock`, so the report names exactly what it measured.

fn main() {
    let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    println!("cargo::rerun-if-changed={lock}");
    let text = std::fs::read_to_string(lock).unwrap_or_default();
    let mut lines = text.lines();
    let mut version = String::from("0.13 (version not found in Cargo.lock)");
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"yamux\""
            && let Some(next) = lines.next()
            && let Some(found) = next.trim().strip_prefix("version = \"")
            && found.starts_with("0.13.")
        {
            version = found.trim_end_matches('"').to_string();
        }
    }
    println!("cargo::rustc-env=MUXPLEX_BENCH_YAMUX_VERSION={version}");
}
