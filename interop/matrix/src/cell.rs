//! One cell of the matrix: a server process, the relay, a client process,
//! and the checks on what they and the audit report.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::audit::{Audit, Dir};
use crate::relay::{self, Delays};

/// The longest a cell may take before it fails and its processes are
/// killed.
const CELL_TIMEOUT: Duration = Duration::from_secs(180);

/// A yamux implementation at one end of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Impl {
    /// muxplex, through `interop/muxplex-peer`.
    Muxplex,
    /// hashicorp/yamux, through the Go peer.
    Hashicorp,
    /// libp2p's go-yamux, through the Go peer.
    Goyamux,
}

impl Impl {
    /// The name the peers' `peer` flags use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Impl::Muxplex => "muxplex",
            Impl::Hashicorp => "hashicorp",
            Impl::Goyamux => "goyamux",
        }
    }
}

/// The peer programs.
pub(crate) struct Binaries {
    /// The Go peer (`interop/go-peer`, built).
    pub go_peer: PathBuf,
    /// `interop/muxplex-peer`'s binary.
    pub muxplex_peer: PathBuf,
}

/// One scenario between one client and one server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cell {
    /// The scenario's name, as both peers know it.
    pub scenario: &'static str,
    /// The end that dials.
    pub client: Impl,
    /// The end that listens.
    pub server: Impl,
}

/// What a cell came to.
pub(crate) struct Outcome {
    /// Every check that failed, in words; empty when the cell passed.
    pub failures: Vec<String>,
    /// The payload bytes the client checked.
    pub bytes: u64,
    /// How long the client's scenario took, by its own clock.
    pub scenario_time: Duration,
    /// The whole cell, processes included.
    pub wall_time: Duration,
}

/// The relay's pauses in the delaying scenario: one payload in 16 waits 1
/// to 20 ms, at most 2.5 s in all per direction.
const DELAYS: Delays = Delays {
    one_in: 16,
    max: Duration::from_millis(20),
    budget: Duration::from_millis(2500),
};

fn command(binaries: &Binaries, cell: &Cell, client: bool, addr: &str) -> Command {
    let (us, them) = match client {
        true => (cell.client, cell.server),
        false => (cell.server, cell.client),
    };
    let role = if client { "client" } else { "server" };
    let mut command = match us {
        Impl::Muxplex => {
            let mut c = Command::new(&binaries.muxplex_peer);
            c.args(["--role", role, "--scenario", cell.scenario]);
            c.args(["--addr", addr, "--peer", them.name()]);
            c
        }
        go => {
            let mut c = Command::new(&binaries.go_peer);
            c.args([
                "-impl",
                go.name(),
                "-role",
                role,
                "-scenario",
                cell.scenario,
            ]);
            c.args(["-addr", addr, "-peer", them.name()]);
            c
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Reads a child's output to the end in a task of its own.
fn collect<R: AsyncRead + Unpin + Send + 'static>(mut pipe: R) -> JoinHandle<String> {
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text).await;
        text
    })
}

/// A running peer process and its output.
struct Peer {
    name: String,
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
}

impl Peer {
    /// Waits for the process; returns its last stdout line or why it failed.
    async fn finish(mut self) -> Result<String, String> {
        let status = self.child.wait().await;
        let stdout = self.stdout.await.unwrap_or_default();
        let stderr = self.stderr.await.unwrap_or_default();
        match status {
            Ok(status) if status.success() => Ok(stdout.lines().last().unwrap_or("").to_string()),
            status => Err(format!(
                "{} exited with {status:?}; its stderr:\n{}",
                self.name,
                excerpt(&stderr, 12)
            )),
        }
    }
}

/// Up to `lines` lines of a peer's stderr, indented: from a few before its
/// FAIL line (or the last ones), without hashicorp/yamux's warnings about
/// frames for streams it already closed.
fn excerpt(text: &str, lines: usize) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("[WARN]")).collect();
    let from = match kept.iter().position(|l| l.contains("FAIL")) {
        Some(fail) => fail.saturating_sub(3),
        None => kept.len().saturating_sub(lines),
    };
    kept[from..]
        .iter()
        .take(lines)
        .map(|l| format!("        {l}\n"))
        .collect()
}

/// Runs one cell and checks everything it reports.
pub(crate) async fn run(binaries: &Binaries, cell: &Cell) -> Outcome {
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut bytes = 0;
    let mut scenario_time = Duration::ZERO;
    match tokio::time::timeout(CELL_TIMEOUT, drive(binaries, cell)).await {
        Err(_) => failures.push(format!("timed out after {CELL_TIMEOUT:?}")),
        Ok(Err(failure)) => failures.push(failure),
        Ok(Ok(report)) => {
            failures.extend(report.failures);
            match parse_result(&report.client_line) {
                Some((b, micros)) => {
                    bytes = b;
                    scenario_time = Duration::from_micros(micros);
                }
                None if report.client_ok => {
                    failures.push(format!(
                        "no result line from the client: {:?}",
                        report.client_line
                    ));
                }
                None => {}
            }
            let audit = report.audit.lock().unwrap_or_else(|p| p.into_inner());
            failures.extend(audit_failures(cell, &audit));
        }
    }
    Outcome {
        failures,
        bytes,
        scenario_time,
        wall_time: started.elapsed(),
    }
}

struct Report {
    failures: Vec<String>,
    client_line: String,
    client_ok: bool,
    audit: Arc<Mutex<Audit>>,
}

/// Starts one end's process; its stderr is collected from the start, its
/// stdout is left to the caller.
fn start(
    binaries: &Binaries,
    cell: &Cell,
    client: bool,
    addr: &str,
) -> Result<(String, Child), String> {
    let role = if client { "client" } else { "server" };
    let who = if client { cell.client } else { cell.server };
    let name = format!("{} {role}", who.name());
    let child = command(binaries, cell, client, addr)
        .spawn()
        .map_err(|e| format!("cannot start the {name}: {e}"))?;
    Ok((name, child))
}

impl Peer {
    fn new(
        name: String,
        mut child: Child,
        stdout: impl AsyncRead + Unpin + Send + 'static,
    ) -> Peer {
        let stderr = collect(child.stderr.take().expect("piped"));
        Peer {
            name,
            child,
            stdout: collect(stdout),
            stderr,
        }
    }
}

/// Aborts the relay's task if the cell ends without it.
struct AbortOnDrop(JoinHandle<std::io::Result<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the server, the relay and the client, and waits for all three.
/// Dropping it (on the cell's timeout) kills the processes.
async fn drive(binaries: &Binaries, cell: &Cell) -> Result<Report, String> {
    // The server first: it says where it listens.
    let (name, mut child) = start(binaries, cell, false, "127.0.0.1:0")?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
    let listening = match first {
        Ok(Ok(Some(line))) => line,
        _ => {
            let server = Peer::new(name, child, lines.into_inner());
            return Err(match server.finish().await {
                Err(why) => why,
                Ok(_) => "the server never said where it listens".into(),
            });
        }
    };
    let server = Peer::new(name, child, lines.into_inner());
    let addr = listening
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .ok_or(format!(
            "the server said {listening:?}, not where it listens"
        ))?;

    // In the slow-close cells the relay reads the closer's output slowly,
    // through a small receive buffer, so that the tail of it waits in the
    // closer's kernel while the other end still sends window updates.
    let slow = match cell.scenario {
        "slow-close-client" => Some(Dir::FromClient),
        "slow-close-server" => Some(Dir::FromServer),
        _ => None,
    };
    let listener =
        relay::listen(slow == Some(Dir::FromClient)).map_err(|e| format!("relay: {e}"))?;
    let relay_addr = listener.local_addr().map_err(|e| format!("relay: {e}"))?;
    let audit = Arc::new(Mutex::new(Audit::new(
        &format!("{} client", cell.client.name()),
        &format!("{} server", cell.server.name()),
        [cell.client == Impl::Muxplex, cell.server == Impl::Muxplex],
    )));
    let delays = (cell.scenario == "delayed-relay").then_some(DELAYS);
    let mut relay = AbortOnDrop(tokio::spawn(relay::run(
        listener,
        addr,
        Arc::clone(&audit),
        delays,
        slow,
    )));

    let (name, mut child) = start(binaries, cell, true, &relay_addr.to_string())?;
    let stdout = child.stdout.take().expect("piped");
    let client = Peer::new(name, child, stdout);
    let (client_result, server_result) = tokio::join!(client.finish(), server.finish());

    let mut failures = Vec::new();
    // The relay ends once both connections have.
    match tokio::time::timeout(Duration::from_secs(10), &mut relay.0).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => failures.push(format!("relay: {e}")),
        Ok(Err(e)) => failures.push(format!("relay task: {e}")),
        Err(_) => {
            failures.push("the relay was still forwarding 10 s after both ends exited".into())
        }
    }
    let client_ok = client_result.is_ok();
    let client_line = match client_result {
        Ok(line) => line,
        Err(why) => {
            failures.push(why);
            String::new()
        }
    };
    if let Err(why) = server_result {
        failures.push(why);
    }
    Ok(Report {
        failures,
        client_line,
        client_ok,
        audit,
    })
}

/// Parses `result bytes=N micros=M`.
fn parse_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("result bytes=")?;
    let (bytes, micros) = rest.split_once(" micros=")?;
    Some((bytes.parse().ok()?, micros.trim().parse().ok()?))
}

/// What the audit shows against the rules and the scenario.
fn audit_failures(cell: &Cell, audit: &Audit) -> Vec<String> {
    let mut failures = Vec::new();
    let (violations, count) = audit.violations();
    if count > 0 {
        failures.push(format!("{count} frame rule violation(s):"));
        failures.extend(violations.iter().map(|v| format!("  {v}")));
    }
    let ends = [
        (Dir::FromClient, cell.client),
        (Dir::FromServer, cell.server),
    ];
    for (dir, who) in ends {
        let sent = audit.sent(dir);
        if sent.go_aways.iter().any(|&code| code != 0) {
            failures.push(format!(
                "{} sent GoAway codes {:?}",
                who.name(),
                sent.go_aways
            ));
        }
    }
    match cell.scenario {
        "keepalive" => {
            for (dir, who) in ends {
                let sent = audit.sent(dir);
                // muxplex pings after 400 ms of silence; hashicorp every
                // second; go-yamux once at the start, then after a second
                // of silence, which muxplex's pings never leave it.
                let least = if who == Impl::Muxplex { 5 } else { 1 };
                if sent.pings < least {
                    failures.push(format!(
                        "{} sent {} pings, want {least} or more",
                        who.name(),
                        sent.pings
                    ));
                }
                // The session may end with one ping in flight.
                if audit.unanswered(dir) > 1 {
                    failures.push(format!(
                        "{} pings of {} unanswered",
                        audit.unanswered(dir),
                        who.name()
                    ));
                }
            }
        }
        "reset" => {
            let expected = [
                (Dir::FromClient, cell.client, 42),
                (Dir::FromServer, cell.server, 7),
            ];
            for (dir, who, code) in expected {
                if who == Impl::Muxplex && !audit.sent(dir).reset_codes.contains(&code) {
                    failures.push(format!(
                        "muxplex sent RST codes {:?}, want {code} among them",
                        audit.sent(dir).reset_codes
                    ));
                }
            }
        }
        "close-client" | "close-server" | "slow-close-client" | "slow-close-server" => {
            let (dir, who) = match cell.scenario {
                "close-client" | "slow-close-client" => (Dir::FromClient, cell.client),
                _ => (Dir::FromServer, cell.server),
            };
            if audit.sent(dir).go_aways != [0] {
                failures.push(format!(
                    "the closer ({}) sent GoAways {:?}, want one GoAway(0)",
                    who.name(),
                    audit.sent(dir).go_aways
                ));
            }
        }
        _ => {}
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_result_line() {
        assert_eq!(parse_result("result bytes=10 micros=20"), Some((10, 20)));
        assert_eq!(parse_result("result bytes=10"), None);
        assert_eq!(parse_result("listening 127.0.0.1:1"), None);
    }

    #[test]
    fn the_excerpt_starts_near_the_failure_and_drops_warnings() {
        let mut stderr = String::new();
        for i in 0..30 {
            stderr.push_str(&format!(
                "line {i}\n[WARN] yamux: frame for missing stream\n"
            ));
        }
        stderr.push_str("go-peer goyamux client echo: FAIL: short\nstream 3: short\n");
        let shown = excerpt(&stderr, 12);
        assert!(!shown.contains("WARN"), "{shown}");
        assert!(
            shown.contains("FAIL: short") && shown.contains("stream 3"),
            "{shown}"
        );
        assert!(
            shown.contains("line 27") && !shown.contains("line 26"),
            "{shown}"
        );
        assert_eq!(excerpt("a\nb\nc\n", 2), "        b\n        c\n");
    }
}
