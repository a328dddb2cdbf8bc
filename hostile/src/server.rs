//! The echo server processes under attack: starting one, reading its port
//! and configuration, sampling its memory, and looking at its sockets.

use std::io::{self, BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How often the sampler reads the server's resident set size.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Which echo server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `echo_muxplex`: muxplex-tokio with the default `Config`.
    Muxplex,
    /// `echo_yamux`: the `yamux` crate with its default `Config`.
    Yamux,
}

impl Kind {
    /// The argument of `muxplex-hostile serve`.
    pub(crate) fn arg(self) -> &'static str {
        match self {
            Kind::Muxplex => "muxplex",
            Kind::Yamux => "yamux",
        }
    }
}

/// A running echo server: a child process of ours, killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    /// Kept open so the server's stdout never breaks.
    _stdout: BufReader<ChildStdout>,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// What it printed after `config ` (muxplex only).
    pub config: Option<String>,
}

impl Server {
    /// Starts `muxplex-hostile serve KIND` and waits (at most 10 s) for its
    /// `listening` line (and, for muxplex, its `config` line).
    pub(crate) fn start(kind: Kind) -> io::Result<Server> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["serve", kind.arg()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let lines = if kind == Kind::Muxplex { 2 } else { 1 };
        // Read on a thread, so a server that never prints cannot hang us.
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut text = Vec::new();
            for _ in 0..lines {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                text.push(line.trim_end().to_owned());
            }
            let _ = tx.send((reader, text));
        });
        let Ok((reader, text)) = rx.recv_timeout(Duration::from_secs(10)) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(
                "the server printed no address within 10 s",
            ));
        };
        let port = text
            .first()
            .and_then(|line| line.strip_prefix("listening 127.0.0.1:"))
            .and_then(|port| port.parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "unexpected server output {text:?}"
            )));
        };
        let config = text
            .get(1)
            .and_then(|line| line.strip_prefix("config "))
            .map(str::to_owned);
        Ok(Server {
            child,
            _stdout: reader,
            port,
            config,
        })
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by its id.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident set size of process `pid` (`VmRSS` in `/proc/PID/status`),
/// in bytes; `None` once it is gone.
pub(crate) fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples a process's resident set size every [`SAMPLE_EVERY`] on a thread
/// of its own and keeps the peak.
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling `pid`.
    pub(crate) fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss(pid).unwrap_or(0)));
        let thread = {
            let (stop, peak) = (stop.clone(), peak.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match rss(pid) {
                        Some(now) => peak.fetch_max(now, Ordering::Relaxed),
                        None => return,
                    };
                    thread::sleep(SAMPLE_EVERY);
                }
            })
        };
        Sampler { stop, peak, thread }
    }

    /// Stops sampling (after one last sample) and returns the peak.
    pub(crate) fn finish(self, pid: u32) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        if let Some(now) = rss(pid) {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// Whether the server still holds its end of the TCP connection between
/// 127.0.0.1:`server_port` and 127.0.0.1:`client_port` open: the socket is
/// in `/proc/net/tcp` in state ESTABLISHED or CLOSE_WAIT. Once the server
/// closes it, it is gone or in a closing state (FIN_WAIT, LAST_ACK, ...).
pub(crate) fn server_socket_open(server_port: u16, client_port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{server_port:04X}");
    let remote = format!("0100007F:{client_port:04X}");
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace().skip(1);
        let (Some(l), Some(r), Some(state)) = (fields.next(), fields.next(), fields.next()) else {
            return false;
        };
        // 01 ESTABLISHED, 08 CLOSE_WAIT.
        l == local && r == remote && (state == "01" || state == "08")
    })
}
