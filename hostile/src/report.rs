//! Judging what a scenario measured against its bound, and the table.

use crate::limits::{self, CLOSE_GRACE, Limits, WriteTimeout};
use crate::scenarios::{Evidence, mib};

/// What one scenario measured on one server.
#[derive(Debug, Default)]
pub(crate) struct Measurement {
    /// Peak resident-set growth over the baseline, bytes.
    pub growth: u64,
    /// What the attack showed; `None` if it did not run.
    pub evidence: Option<Evidence>,
    /// What else happened.
    pub notes: Vec<String>,
    /// What went wrong besides the bound; any fails the scenario.
    pub problems: Vec<String>,
}

/// A measurement held to its bound.
#[derive(Debug)]
pub(crate) struct Judged {
    /// The bound, as the table shows it.
    pub bound: String,
    /// The measured value, as the table shows it.
    pub value: String,
    /// Whether the bound held and nothing else went wrong.
    pub within: bool,
}

/// Holds `m` to the bound its evidence calls for.
pub(crate) fn judge(m: &Measurement, limits: &Limits) -> Judged {
    let Some(evidence) = &m.evidence else {
        return Judged {
            bound: "-".into(),
            value: "did not run".into(),
            within: false,
        };
    };
    let (bound, value, held) = match *evidence {
        Evidence::Connections {
            connections,
            streams,
        } => {
            let each = limits.per_connection(streams);
            let formula = limits
                .formula(streams)
                .is_some_and(|f| f < limits::CONNECTION_CAP);
            let per = if connections > 1 { "/conn" } else { "" };
            let bound = format!(
                "<= {}{per}{}",
                size(each),
                if formula { " (formula)" } else { "" }
            );
            let grown = m.growth / connections.max(1) as u64;
            let value = if connections > 1 {
                format!("{} ({}/conn)", size(m.growth), size(grown))
            } else {
                size(m.growth)
            };
            (bound, value, grown <= each)
        }
        Evidence::Unread { bytes } => (
            format!("<= 1.5 x unread ({})", mib(bytes)),
            format!("{} ({:.1}x)", size(m.growth), ratio(m.growth, bytes)),
            m.growth as f64 <= 1.5 * bytes as f64,
        ),
        Evidence::Closed { after, waited } => {
            let timeout = match limits.write_timeout {
                WriteTimeout::Given(d) | WriteTimeout::Config(d) => limits::secs(d),
                WriteTimeout::Disabled | WriteTimeout::Missing => "10 s (none yet)".into(),
            };
            let bound = format!("closed <= {timeout} + {}", limits::secs(CLOSE_GRACE));
            match after {
                Some(after) => (bound, format!("closed at {}", limits::secs(after)), true),
                None => (bound, format!("open at {}", limits::secs(waited)), false),
            }
        }
        Evidence::Each {
            count,
            limit,
            app,
            unit,
        } => {
            let bound = if app == 0 {
                format!("<= {}/{unit}", size(limit))
            } else {
                format!("<= {} + {} app/{unit}", size(limit), size(app))
            };
            if count == 0 {
                (bound, format!("n/a (no {unit} held)"), false)
            } else {
                let each = m.growth / count as u64;
                (bound, format!("{}/{unit}", size(each)), each <= limit + app)
            }
        }
    };
    Judged {
        bound,
        value,
        within: held && m.problems.is_empty(),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::INFINITY
    } else {
        a as f64 / b as f64
    }
}

/// A byte count in B, KiB, MiB or GiB (whole numbers without decimals).
pub(crate) fn size(bytes: u64) -> String {
    let (unit, name, decimals) = match bytes {
        0..1024 => (1, "B", 0),
        1024..0x10_0000 => (1 << 10, "KiB", 1),
        0x10_0000..0x4000_0000 => (1 << 20, "MiB", 1),
        _ => (1 << 30, "GiB", 2),
    };
    if bytes.is_multiple_of(unit) {
        format!("{} {name}", bytes / unit)
    } else {
        format!("{:.decimals$} {name}", bytes as f64 / unit as f64)
    }
}

/// A scenario's verdict on muxplex, given whether it was expected to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the bound.
    Pass,
    /// Over the bound, or broke a promise.
    Fail,
    /// Failed, as `--expect-fail` said it would.
    ExpectedFail,
    /// Passed although `--expect-fail` named it: the list is stale.
    UnexpectedPass,
}

impl Verdict {
    /// The verdict for a result.
    pub(crate) fn of(within: bool, expected_to_fail: bool) -> Verdict {
        match (within, expected_to_fail) {
            (true, false) => Verdict::Pass,
            (false, false) => Verdict::Fail,
            (false, true) => Verdict::ExpectedFail,
            (true, true) => Verdict::UnexpectedPass,
        }
    }

    /// How the table shows it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::ExpectedFail => "FAIL (expected)",
            Verdict::UnexpectedPass => "PASS (but expected to fail)",
        }
    }
}

/// Prints rows as a table, columns padded to their widest cell.
pub(crate) fn print_table(rows: &[[String; 5]]) {
    let mut widths = [0; 5];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join(" | ").trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;
    use std::time::Duration;

    #[test]
    fn sizes() {
        assert_eq!(size(256 << 20), "256 MiB");
        assert_eq!(size(2048), "2 KiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(303), "303 B");
        assert_eq!(size(1_100_000_000), "1.02 GiB");
    }

    #[test]
    fn judges_each_kind_of_evidence() {
        let limits = Limits::from_config("Config { }", None);
        let m = |growth, evidence| Measurement {
            growth,
            evidence: Some(evidence),
            ..Measurement::default()
        };
        let one = Evidence::Connections {
            connections: 1,
            streams: 10,
        };
        assert!(judge(&m(1 << 20, one), &limits).within);
        let many = Evidence::Connections {
            connections: 300,
            streams: 1,
        };
        assert!(judge(&m(1 << 30, many), &limits).within);
        let unread = |bytes| Evidence::Unread { bytes };
        assert!(judge(&m(150, unread(100)), &limits).within);
        assert!(!judge(&m(151, unread(100)), &limits).within);
        let closed = |after| Evidence::Closed {
            after,
            waited: Duration::from_secs(11),
        };
        assert!(judge(&m(0, closed(Some(Duration::from_secs(10)))), &limits).within);
        assert!(!judge(&m(0, closed(None)), &limits).within);
        let each = |count| Evidence::Each {
            count,
            limit: 256,
            app: 0,
            unit: "stream",
        };
        assert!(judge(&m(2560, each(10)), &limits).within);
        assert!(!judge(&m(2570, each(10)), &limits).within);
        let with_app = Evidence::Each {
            count: 10,
            limit: 256,
            app: 512,
            unit: "stream",
        };
        assert!(judge(&m(7680, with_app), &limits).within);
        let with_app = Evidence::Each {
            count: 10,
            limit: 256,
            app: 512,
            unit: "stream",
        };
        assert!(!judge(&m(7690, with_app), &limits).within);
        assert!(!judge(&m(0, each(0)), &limits).within);
        let mut broken = m(0, each(10));
        broken.problems.push("no echo".into());
        assert!(!judge(&broken, &limits).within);
    }

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::of(true, false), Verdict::Pass);
        assert_eq!(Verdict::of(false, false), Verdict::Fail);
        assert_eq!(Verdict::of(false, true), Verdict::ExpectedFail);
        assert_eq!(Verdict::of(true, true), Verdict::UnexpectedPass);
    }
}
