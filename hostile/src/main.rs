//! muxplex-hostile: a hostile yamux peer against two echo servers, one on
//! muxplex-tokio and one on the `yamux` crate, each written as a user would
//! write it. Every scenario runs against a fresh server process whose
//! resident set the runner samples every 50 ms; muxplex is held to the
//! bounds of issue 12, the `yamux` crate is measured alongside for
//! comparison. See README.md for the scenarios and their bounds.
//!
//! ```text
//! muxplex-hostile [--only NAME,...] [--expect-fail NAME,...]
//!                 [--write-timeout SECS] [--no-yamux] [--list]
//! muxplex-hostile serve muxplex|yamux
//! ```
//!
//! It ends with `N passed, M failed` on a line of its own and exits
//! non-zero when a scenario failed unexpectedly or an expected failure
//! passed.
#![forbid(unsafe_code)]

mod echo_muxplex;
mod echo_yamux;
mod limits;
mod peer;
mod report;
mod scenarios;
mod server;
mod wire;

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use limits::Limits;
use report::{Measurement, Verdict, judge, print_table, size};
use scenarios::{Scenario, Target};
use server::{Kind, Sampler, Server};

/// What the command line asked for.
#[derive(Debug, Default)]
struct Options {
    only: Vec<String>,
    expect_fail: Vec<String>,
    write_timeout: Option<Duration>,
    no_yamux: bool,
    list: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        let served = match args.get(1).map(String::as_str) {
            Some("muxplex") => echo_muxplex::main(),
            Some("yamux") => echo_yamux::main(),
            _ => Err(std::io::Error::other("serve muxplex|yamux")),
        };
        return match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("echo server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match parse(&args) {
        Ok(options) => run(&options),
        Err(e) => {
            eprintln!("muxplex-hostile: {e}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let names: Vec<&str> = scenarios::all().iter().map(|s| s.name).collect();
    let list = |value: Option<&String>| -> Result<Vec<String>, String> {
        let value = value.ok_or("a list of scenario names is missing")?;
        let picked: Vec<String> = value
            .split(',')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        match picked.iter().find(|n| !names.contains(&n.as_str())) {
            Some(unknown) => Err(format!("no scenario {unknown:?} (see --list)")),
            None => Ok(picked),
        }
    };
    let mut options = Options::default();
    let seconds = |text: &str| -> Result<Duration, String> {
        text.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("bad write timeout {text:?}"))
    };
    if let Ok(env) = std::env::var("HOSTILE_WRITE_TIMEOUT") {
        options.write_timeout = Some(seconds(&env)?);
    }
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => options.only.extend(list(args.next())?),
            "--expect-fail" => options.expect_fail.extend(list(args.next())?),
            "--write-timeout" => {
                options.write_timeout = Some(seconds(args.next().ok_or("seconds missing")?)?);
            }
            "--no-yamux" => options.no_yamux = true,
            "--list" => options.list = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

fn run(options: &Options) -> ExitCode {
    let all = scenarios::all();
    if options.list {
        for s in &all {
            println!("{:<26} {}", s.name, s.about);
        }
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let limits = match probe(options.write_timeout) {
        Ok(limits) => limits,
        Err(e) => {
            eprintln!("muxplex-hostile: the muxplex echo server did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("muxplex-hostile: {}", limits.write_timeout.describe());
    match limits.formula(0) {
        Some(_) => {
            println!("muxplex-hostile: Config has a send budget; the Session formula applies")
        }
        None => println!("muxplex-hostile: no send budget in Config: 256 MiB per connection"),
    }
    let picked: Vec<&Scenario> = all
        .iter()
        .filter(|s| options.only.is_empty() || options.only.iter().any(|n| n == s.name))
        .collect();

    let mut rows = vec![[
        "scenario".to_owned(),
        "bound".to_owned(),
        "muxplex peak".to_owned(),
        "yamux-crate peak".to_owned(),
        "result".to_owned(),
    ]];
    let mut details = Vec::new();
    let mut verdicts = Vec::new();
    for scenario in picked {
        let (ours, theirs) = attack_both(scenario, &limits, !options.no_yamux);
        let judged = judge(&ours, &limits);
        let theirs_cell = match &theirs {
            None => "-".to_owned(),
            Some(m) => {
                let j = judge(m, &limits);
                format!("{}{}", j.value, if j.within { "" } else { " *" })
            }
        };
        let expected = options.expect_fail.iter().any(|n| n == scenario.name);
        let verdict = Verdict::of(judged.within, expected);
        println!(
            "[{:6.1} s] {}: muxplex {}, yamux crate {} -> {}",
            started.elapsed().as_secs_f64(),
            scenario.name,
            judged.value,
            theirs_cell,
            verdict.label()
        );
        for (who, m) in [("muxplex", Some(&ours)), ("yamux crate", theirs.as_ref())] {
            let Some(m) = m else { continue };
            for problem in &m.problems {
                details.push(format!("{} [{who}] PROBLEM: {problem}", scenario.name));
            }
            for note in &m.notes {
                details.push(format!("{} [{who}] {note}", scenario.name));
            }
        }
        rows.push([
            scenario.name.to_owned(),
            judged.bound,
            judged.value,
            theirs_cell,
            verdict.label().to_owned(),
        ]);
        verdicts.push((scenario.name, verdict));
    }

    println!();
    print_table(&rows);
    println!("(* = the yamux crate is over the bound; muxplex alone is judged)");
    println!();
    for line in &details {
        println!("  {line}");
    }
    println!();
    let count = |v: Verdict| verdicts.iter().filter(|(_, x)| *x == v).count();
    let names = |v: Verdict| -> Vec<&str> {
        verdicts
            .iter()
            .filter(|(_, x)| *x == v)
            .map(|(n, _)| *n)
            .collect()
    };
    println!("runtime: {:.1} s", started.elapsed().as_secs_f64());
    if count(Verdict::ExpectedFail) > 0 {
        println!(
            "expected failures (not counted): {}",
            names(Verdict::ExpectedFail).join(", ")
        );
    }
    if count(Verdict::UnexpectedPass) > 0 {
        println!(
            "passed although expected to fail (remove from --expect-fail): {}",
            names(Verdict::UnexpectedPass).join(", ")
        );
    }
    let failed = count(Verdict::Fail) + count(Verdict::UnexpectedPass);
    println!("{} passed, {failed} failed", count(Verdict::Pass));
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reads the muxplex server's default `Config` from a server started for
/// the purpose.
fn probe(write_timeout: Option<Duration>) -> std::io::Result<Limits> {
    let server = Server::start(Kind::Muxplex)?;
    let config = server.config.clone().unwrap_or_default();
    Ok(Limits::from_config(&config, write_timeout))
}

/// Runs `scenario` against muxplex and (if `yamux`) the yamux crate: one
/// after the other, or at once when the scenario mostly waits.
fn attack_both(
    scenario: &Scenario,
    limits: &Limits,
    yamux: bool,
) -> (Measurement, Option<Measurement>) {
    if scenario.concurrent && yamux {
        thread::scope(|s| {
            let theirs = s.spawn(|| attack(scenario, Kind::Yamux, limits));
            let ours = attack(scenario, Kind::Muxplex, limits);
            (ours, Some(theirs.join().expect("attack thread")))
        })
    } else {
        let ours = attack(scenario, Kind::Muxplex, limits);
        (ours, yamux.then(|| attack(scenario, Kind::Yamux, limits)))
    }
}

/// One scenario against a fresh server of `kind`: a well-behaved echo
/// first, the baseline, the attack under the sampler, and a well-behaved
/// echo while the attack's connections are still open.
fn attack(scenario: &Scenario, kind: Kind, limits: &Limits) -> Measurement {
    let mut m = Measurement::default();
    let mut server = match Server::start(kind) {
        Ok(server) => server,
        Err(e) => {
            m.problems.push(format!("the server did not start: {e}"));
            return m;
        }
    };
    let target = Target {
        port: server.port,
        pid: server.pid(),
        limits: limits.clone(),
    };
    if let Err(e) = peer::echo_check(target.port) {
        m.problems.push(format!("no echo before the attack: {e}"));
        return m;
    }
    target.settle(Duration::from_secs(1));
    let baseline = server::rss(target.pid).unwrap_or(0);
    let sampler = Sampler::start(target.pid);
    let began = Instant::now();
    let outcome = (scenario.attack)(&target);
    let took = began.elapsed();
    let peak = sampler.finish(target.pid);
    m.growth = peak.saturating_sub(baseline);
    m.notes.push(format!(
        "baseline {}, peak {}, attack {}",
        size(baseline),
        size(peak),
        limits::secs(took)
    ));
    let hold = match outcome {
        Ok(outcome) => {
            m.evidence = Some(outcome.evidence);
            m.notes.extend(outcome.notes);
            m.problems.extend(outcome.problems);
            outcome.hold
        }
        Err(e) => {
            m.problems.push(format!("the attack failed: {e}"));
            Vec::new()
        }
    };
    if !server.alive() {
        m.problems.push("the server exited".into());
    } else if let Err(e) = peer::echo_check(target.port) {
        m.problems.push(format!("no echo after the attack: {e}"));
    }
    let checked = began.elapsed() - took;
    drop(hold);
    m.notes.push(format!(
        "check {}, close {}",
        limits::secs(checked),
        limits::secs(began.elapsed() - took - checked)
    ));
    m
}
