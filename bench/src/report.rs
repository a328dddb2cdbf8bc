//! Medians, the table, the targets and the output files.

use std::fmt::Write as _;
use std::sync::Mutex;

use muxplex::SessionStats;

use crate::cases::{Case, Scenario};
use crate::{H2_VERSION, Sample, Sizes, TOKIO_YAMUX_VERSION, YAMUX_VERSION, YAMUX013_VERSION};

/// One case's figures over the rounds.
pub(crate) struct Median {
    pub scenario: Scenario,
    pub implementation: &'static str,
    /// The median, which the ratios and targets use.
    pub value: f64,
    /// The smallest and largest figure of any round.
    pub min: f64,
    pub max: f64,
}

/// Spread (max/min over the rounds) above which a figure is flagged as
/// unstable in the table.
const UNSTABLE: f64 = 1.5;

impl Median {
    /// How far apart the rounds were: max/min (1.0 for a single round).
    pub(crate) fn spread(&self) -> f64 {
        if self.min > 0.0 {
            self.max / self.min
        } else {
            f64::INFINITY
        }
    }
}

/// The median, min and max of every case that produced at least one
/// sample, in the order of `cases`.
pub(crate) fn medians(samples: &[Sample], cases: &[Case]) -> Vec<Median> {
    let mut medians = Vec::new();
    for case in cases {
        let mut values: Vec<f64> = samples
            .iter()
            .filter(|s| s.scenario == case.scenario && s.implementation == case.implementation)
            .map(|s| s.value)
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        let value = if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        };
        medians.push(Median {
            scenario: case.scenario,
            implementation: case.implementation,
            value,
            min: values[0],
            max: values[values.len() - 1],
        });
    }
    medians
}

/// The median of `implementation` in `scenario`, if it was measured.
pub(crate) fn find(medians: &[Median], scenario: Scenario, implementation: &str) -> Option<f64> {
    medians
        .iter()
        .find(|m| m.scenario == scenario && m.implementation == implementation)
        .map(|m| m.value)
}

/// The machine, as `RESULTS.md` records it.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!("{cores} cores, {cpu}")
}

/// What is measured, with which sizes, on what.
pub(crate) fn print_header(sizes: &Sizes, quick: bool) {
    let mode = if quick {
        "quick (smoke run, figures not meaningful)"
    } else {
        "full"
    };
    println!("muxplex-bench, {mode} mode");
    println!("machine: {}", machine());
    println!(
        "comparison: yamux crate {YAMUX_VERSION} (yamux-0.13: {YAMUX013_VERSION}, in hello-10k and rtt); \
         tokio-yamux {TOKIO_YAMUX_VERSION}; h2 {H2_VERSION} (plaintext, windows for bulk); \
         raw TCP = one loopback connection per stream"
    );
    println!(
        "sizes: {} rounds; bulk {} MiB ({} streams in bulk-100); hello {} streams, {} at a time; \
         rtt {} round trips; core-bulk {} MiB; core-open {} streams; idle {} streams \
         (scaling rows: bulk over 10 and 1000 streams, hello 1 and all {} at a time, idle 100 and {} streams)",
        sizes.rounds,
        sizes.bulk_bytes >> 20,
        sizes.bulk_streams,
        sizes.hello_streams,
        sizes.hello_concurrency,
        sizes.rtt_round_trips,
        sizes.core_bulk_bytes >> 20,
        sizes.core_open_streams,
        sizes.idle_streams,
        sizes.hello_streams,
        sizes.idle_streams_many,
    );
    println!(
        "figures are medians over the rounds, with the rounds' min and max; MB = 10^6 bytes; \
         x = ratio of the medians"
    );
    println!();
}

/// The table: one row per case, with the rounds' range, and ratios to raw
/// TCP and to yamux. A row whose max/min exceeds [`UNSTABLE`] is flagged
/// with `!`.
pub(crate) fn print_table(medians: &[Median]) {
    println!(
        "{:<22} {:<20} {:>12} {:<10} {:>12} {:>12} {:>7} {:>9} {:>9}",
        "scenario",
        "implementation",
        "median",
        "unit",
        "min",
        "max",
        "max/min",
        "x raw-tcp",
        "x yamux"
    );
    for m in medians {
        let ratio = |reference: &str| {
            find(medians, m.scenario, reference)
                .map_or_else(|| "-".to_string(), |r| format!("{:.2}", m.value / r))
        };
        let spread = m.spread();
        let flag = if spread > UNSTABLE { "!" } else { " " };
        println!(
            "{:<22} {:<20} {:>12.1} {:<10} {:>12.1} {:>12.1} {:>6.2}{flag} {:>9} {:>9}",
            m.scenario.name(),
            m.implementation,
            m.value,
            m.scenario.unit(),
            m.min,
            m.max,
            spread,
            ratio("raw-tcp"),
            ratio("yamux"),
        );
    }
    println!("(! = max/min over the rounds above {UNSTABLE}: the median is not a stable figure)");
    println!();
}

/// How cost grows: one table per dimension, a row per implementation, a
/// column per count (the medians of the scaling scenarios and the main
/// ones they extend).
pub(crate) fn print_scaling(medians: &[Median], sizes: &Sizes) {
    use Scenario::*;
    let tables = [
        (
            "bulk throughput (MB/s) by concurrent streams",
            vec![
                (1, Bulk1),
                (10, Bulk10),
                (sizes.bulk_streams, Bulk100),
                (1000, Bulk1000),
            ],
        ),
        (
            "hello rate (streams/s) by streams in flight",
            vec![
                (1, Hello10kSerial),
                (sizes.hello_concurrency, Hello10k),
                (sizes.hello_streams, Hello10kAll),
            ],
        ),
        (
            "idle memory (bytes per stream, both ends) by open streams",
            vec![
                (100, IdleStreamBytes100),
                (sizes.idle_streams, IdleStreamBytes),
                (sizes.idle_streams_many, IdleStreamBytes100k),
            ],
        ),
    ];
    for (title, columns) in tables {
        println!("scaling: {title}");
        let mut line = format!("  {:<20}", "implementation");
        for (count, _) in &columns {
            let _ = write!(line, " {count:>12}");
        }
        println!("{line}");
        let mut implementations: Vec<&str> = Vec::new();
        for m in medians {
            if columns.iter().any(|&(_, s)| s == m.scenario)
                && !implementations.contains(&m.implementation)
            {
                implementations.push(m.implementation);
            }
        }
        for implementation in implementations {
            let mut line = format!("  {implementation:<20}");
            for &(_, scenario) in &columns {
                match find(medians, scenario, implementation) {
                    Some(value) => {
                        let _ = write!(line, " {value:>12.1}");
                    }
                    None => line.push_str(&format!(" {:>12}", "-")),
                }
            }
            println!("{line}");
        }
        println!();
    }
}

/// The client session's counters from the muxplex case that ran last,
/// recorded when its connection (or core pair) goes away.
static LAST_SESSION: Mutex<Option<SessionStats>> = Mutex::new(None);

/// Records a muxplex client session's counters at the end of a case.
pub(crate) fn record_session(stats: SessionStats) {
    *LAST_SESSION.lock().unwrap_or_else(|e| e.into_inner()) = Some(stats);
}

/// One line of the counters recorded during the case that just ran, if it
/// was a muxplex one (none otherwise): what the client end sent and
/// received, its streams, round trip, waits for room and peak buffers.
pub(crate) fn take_session_line() -> Option<String> {
    let stats = LAST_SESSION
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let rtt = match (stats.pings.smoothed_rtt, stats.pings.min_rtt) {
        (Some(smoothed), Some(min)) => format!("{:.3}/{:.3} ms", ms(smoothed), ms(min)),
        _ => "-".to_string(),
    };
    let (sent, received) = (stats.sent.total(), stats.received.total());
    let streams = stats.streams;
    Some(format!(
        "    client session: sent {} frames {:.1} MB, received {} frames {:.1} MB; \
         streams opened {} refused {} reset {}; rtt (smoothed/min) {rtt}; \
         window waits {} ({:.1} ms), budget waits {} ({:.1} ms); peak buffered in {} B, out {} B",
        sent.frames,
        sent.bytes as f64 / 1e6,
        received.frames,
        received.bytes as f64 / 1e6,
        streams.opened,
        streams.refused.total(),
        streams.reset.total(),
        stats.window_blocked.count,
        ms(stats.window_blocked.time),
        stats.budget_blocked.count,
        ms(stats.budget_blocked.time),
        stats.buffered.peak_received,
        stats.buffered.peak_unsent,
    ))
}

/// The figures as a JSON array of `{scenario, implementation, value, min,
/// median, max, unit}` objects (`value` is the median, kept for readers of
/// the older format).
pub(crate) fn json(medians: &[Median]) -> String {
    let rows: Vec<String> = medians
        .iter()
        .map(|m| {
            format!(
                "  {{\"scenario\": \"{}\", \"implementation\": \"{}\", \"value\": {}, \"min\": {}, \"median\": {}, \"max\": {}, \"unit\": \"{}\"}}",
                m.scenario.name(),
                m.implementation,
                m.value,
                m.min,
                m.value,
                m.max,
                m.scenario.unit()
            )
        })
        .collect();
    format!("[\n{}\n]\n", rows.join(",\n"))
}

/// A colour per implementation, stable across runs.
fn colour(implementation: &str) -> &'static str {
    match implementation {
        "raw-tcp" => "#9e9e9e",
        "yamux" => "#e07b39",
        "yamux-0.13" => "#f0b27a",
        "tokio-yamux" => "#c0504d",
        "h2" => "#d4a017",
        "muxplex-tokio-chunk" => "#6fa8dc",
        "muxplex-tokio" => "#2f6db5",
        "muxplex-smol" => "#5aa05a",
        "muxplex-blocking" => "#7a58b0",
        _ => "#3c9dbf",
    }
}

/// A hand-written SVG bar chart: one panel per scenario, bars scaled to
/// the largest figure in it.
pub(crate) fn svg(medians: &[Median]) -> String {
    const WIDTH: f64 = 760.0;
    const LABEL: f64 = 140.0;
    const BAR: f64 = 18.0;
    const BAR_SPACE: f64 = 380.0;
    let mut body = String::new();
    let mut y = 30.0;
    let mut scenarios: Vec<Scenario> = medians.iter().map(|m| m.scenario).collect();
    scenarios.dedup();
    for scenario in scenarios {
        let rows: Vec<&Median> = medians.iter().filter(|m| m.scenario == scenario).collect();
        let max = rows
            .iter()
            .map(|m| m.value)
            .fold(f64::MIN_POSITIVE, f64::max);
        let better = if scenario.higher_is_better() {
            "higher is better"
        } else {
            "lower is better"
        };
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-weight="bold">{} ({}, {better})</text>"#,
            scenario.name(),
            scenario.unit()
        );
        y += 8.0;
        for m in rows {
            let width = (m.value / max * BAR_SPACE).max(1.0);
            let _ = writeln!(
                body,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{LABEL}" y="{y}" width="{width:.1}" height="{}" fill="{}"/><text x="{}" y="{}">{:.1}</text>"#,
                LABEL - 6.0,
                y + BAR - 5.0,
                m.implementation,
                BAR - 2.0,
                colour(m.implementation),
                LABEL + width + 6.0,
                y + BAR - 5.0,
                m.value,
            );
            y += BAR;
        }
        y += 26.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="16" font-size="14">muxplex-bench (yamux {YAMUX_VERSION}), medians; the -10, -1000, -1, -all, -100 and -100k panels are the scaling table</text>
{body}</svg>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::medians;
    use crate::Sample;
    use crate::cases::{Case, Scenario};

    fn sample(value: f64) -> Sample {
        Sample {
            scenario: Scenario::Rtt,
            implementation: "x",
            value,
        }
    }

    #[test]
    fn rows_carry_min_median_max_and_spread() {
        let cases = [Case {
            scenario: Scenario::Rtt,
            implementation: "x",
            run: |_| Ok(0.0),
        }];
        let odd = medians(&[sample(3.0), sample(1.0), sample(2.0)], &cases);
        assert_eq!((odd[0].min, odd[0].value, odd[0].max), (1.0, 2.0, 3.0));
        assert_eq!(odd[0].spread(), 3.0);
        let even = medians(
            &[sample(4.0), sample(1.0), sample(2.0), sample(8.0)],
            &cases,
        );
        assert_eq!((even[0].min, even[0].value, even[0].max), (1.0, 3.0, 8.0));
        let json = super::json(&even);
        assert!(
            json.contains("\"min\": 1, \"median\": 3, \"max\": 8"),
            "{json}"
        );
    }
}
