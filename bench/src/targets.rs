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

/// One bound for each of some implementations in one scenario.
struct Target {
    scenario: Scenario,
    implementations: &'static [&'static str],
    figure: Figure,
    bound: f64,
    /// Whether the figure must be at least `bound`, else at most.
    at_least: bool,
}

const ASYNC: &[&str] = &["muxplex-tokio", "muxplex-smol"];
const BLOCKING: &[&str] = &["muxplex-blocking"];

const fn at_least(
    scenario: Scenario,
    implementations: &'static [&'static str],
    figure: Figure,
    bound: f64,
) -> Target {
    Target {
        scenario,
        implementations,
        figure,
        bound,
        at_least: true,
    }
}

const fn at_most(
    scenario: Scenario,
    implementations: &'static [&'static str],
    figure: Figure,
    bound: f64,
) -> Target {
    Target {
        at_least: false,
        ..at_least(scenario, implementations, figure, bound)
    }
}

/// The targets, in the order.
const TARGETS: &[Target] = {
    use Figure::*;
    use Scenario::*;
    &[
        at_most(Rtt, ASYNC, RatioTo("tokio-yamux"), 0.95),
        at_most(Rtt, ASYNC, RatioTo("raw-tcp"), 1.05),
        at_most(Rtt, BLOCKING, RatioTo("raw-tcp"), 1.5),
        at_least(Hello10k, ASYNC, RatioTo("h2"), 1.5),
        at_least(Hello10k, ASYNC, RatioTo("yamux"), 4.0),
        at_most(Hello10k, ASYNC, Spread, 1.3),
        at_least(Hello10kAll, ASYNC, RatioTo("h2"), 1.5),
        at_least(Hello10kAll, ASYNC, RatioTo("yamux"), 4.0),
        at_most(Hello10kAll, ASYNC, Spread, 1.3),
        at_least(Bulk1, ASYNC, RatioTo("raw-tcp"), 0.90),
        at_least(Bulk1, &["muxplex-tokio-chunk"], RatioTo("raw-tcp"), 0.97),
        at_least(
            Bulk100,
            &["muxplex-tokio", "muxplex-tokio-chunk", "muxplex-smol"],
            RatioTo("raw-tcp"),
            0.85,
        ),
        at_least(Bulk100, BLOCKING, RatioTo("raw-tcp"), 0.70),
        at_most(
            IdleStreamBytes,
            &["muxplex-tokio", "muxplex-smol", "muxplex-core"],
            Median,
            256.0,
        ),
        at_most(IdleConnectionBytes, &["muxplex-tokio"], Median, 2048.0),
        at_least(CoreBulk, &["muxplex-core"], Median, 10_000.0),
    ]
};

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
            let met = if target.at_least {
                figure >= target.bound
            } else {
                figure <= target.bound
            };
            missed += usize::from(!met);
            let relation = if target.at_least { ">=" } else { "<=" };
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
