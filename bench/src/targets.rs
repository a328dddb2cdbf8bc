//! The reach targets of the performance issue, checked against the medians
//! of this run: each verdict prints the two figures it divides side by
//! side.

use crate::cases::Scenario;
use crate::report::{Median, find};

/// What a target bounds.
enum Figure {
    /// The median itself, in the scenario's unit.
    Median,
    /// The median divided by another implementation's in the same
    /// scenario.
    RatioTo(&'static str),
    /// max/min over the rounds.
    Spread,
}

/// Which side of its bound a figure must be on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Relation {
    AtLeast,
    AtMost,
}

/// One bound for each of some implementations in one scenario.
struct Target {
    scenario: Scenario,
    implementations: &'static [&'static str],
    figure: Figure,
    relation: Relation,
    bound: f64,
}

const ASYNC: &[&str] = &["muxplex-tokio", "muxplex-smol"];
const BLOCKING: &[&str] = &["muxplex-blocking"];

const fn target(
    scenario: Scenario,
    implementations: &'static [&'static str],
    figure: Figure,
    relation: Relation,
    bound: f64,
) -> Target {
    Target {
        scenario,
        implementations,
        figure,
        relation,
        bound,
    }
}

/// The targets, in the order.
const TARGETS: &[Target] = {
    use Figure::*;
    use Relation::*;
    use Scenario::*;
    &[
        target(Rtt, ASYNC, RatioTo("tokio-yamux"), AtMost, 0.95),
        target(Rtt, ASYNC, RatioTo("raw-tcp"), AtMost, 1.05),
        target(Rtt, BLOCKING, RatioTo("raw-tcp"), AtMost, 1.5),
        target(Hello10k, ASYNC, RatioTo("h2"), AtLeast, 1.5),
        target(Hello10k, ASYNC, RatioTo("yamux"), AtLeast, 4.0),
        target(Hello10k, ASYNC, Spread, AtMost, 1.3),
        target(Hello10kAll, ASYNC, RatioTo("h2"), AtLeast, 1.5),
        target(Hello10kAll, ASYNC, RatioTo("yamux"), AtLeast, 4.0),
        target(Hello10kAll, ASYNC, Spread, AtMost, 1.3),
        target(Bulk1, ASYNC, RatioTo("raw-tcp"), AtLeast, 0.90),
        target(Bulk1, CHUNK, RatioTo("raw-tcp"), AtLeast, 0.97),
        target(Bulk100, ASYNC, RatioTo("raw-tcp"), AtLeast, 0.85),
        target(Bulk100, CHUNK, RatioTo("raw-tcp"), AtLeast, 0.85),
        target(Bulk100, BLOCKING, RatioTo("raw-tcp"), AtLeast, 0.70),
        target(IdleStreamBytes, IDLE, Median, AtMost, 256.0),
        target(
            IdleConnectionBytes,
            &["muxplex-tokio"],
            Median,
            AtMost,
            2048.0,
        ),
        target(CoreBulk, &["muxplex-core"], Median, AtLeast, 10_000.0),
    ]
};

/// The zero-copy path.
const CHUNK: &[&str] = &["muxplex-tokio-chunk"];
/// What the idle-memory target covers.
const IDLE: &[&str] = &["muxplex-tokio", "muxplex-smol", "muxplex-core"];

/// PASS or FAIL per target and implementation, with the figures compared.
/// Informational: the process never fails on them, since they compare
/// noisy measurements.
pub(crate) fn print(medians: &[Median]) {
    println!("targets (medians of this run; informational, never fatal):");
    let mut missed = 0;
    for target in TARGETS {
        for &implementation in target.implementations {
            let Some(ours) = medians
                .iter()
                .find(|m| m.scenario == target.scenario && m.implementation == implementation)
            else {
                println!(
                    "  ---- {:<22} {implementation:<20} not measured in this run",
                    target.scenario.name()
                );
                continue;
            };
            let unit = target.scenario.unit();
            let (figure, what) = match target.figure {
                Figure::Median => (ours.value, format!("{unit:<12}")),
                Figure::Spread => (
                    ours.spread(),
                    format!("max/min      ({:.1} .. {:.1} {unit})", ours.min, ours.max),
                ),
                Figure::RatioTo(reference) => match find(medians, target.scenario, reference) {
                    Some(theirs) => (
                        ours.value / theirs,
                        format!(
                            "x {reference:<10} ({:.1} against {theirs:.1} {unit})",
                            ours.value
                        ),
                    ),
                    None => {
                        println!(
                            "  ---- {:<22} {implementation:<20} {reference} not measured in this run",
                            target.scenario.name()
                        );
                        continue;
                    }
                },
            };
            let (met, relation) = match target.relation {
                Relation::AtLeast => (figure >= target.bound, ">="),
                Relation::AtMost => (figure <= target.bound, "<="),
            };
            missed += usize::from(!met);
            println!(
                "  {} {:<22} {implementation:<20} {relation} {:<7} {figure:>9.2} {what}",
                if met { "PASS" } else { "FAIL" },
                target.scenario.name(),
                target.bound,
            );
        }
    }
    println!("  {missed} missed");
    println!();
}
