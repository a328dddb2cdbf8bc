//! The attacks, each run against a fresh server process, and what each
//! leaves behind for the judge.

mod floods;
mod idle;
mod memory;
mod stuck;

use std::io;
use std::time::{Duration, Instant};

use crate::limits::Limits;
use crate::peer::{Conn, Stats};
use crate::server;
use crate::wire;

/// A payload that is never checked: the bulk of the memory attacks.
pub(crate) static FILL: [u8; 64 * 1024] = [0x5a; 64 * 1024];
/// The Data frame size the attacks send, as real peers do.
pub(crate) const FRAME: usize = 16 * 1024;

/// The server under attack.
#[derive(Debug)]
pub(crate) struct Target {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its process id.
    pub pid: u32,
    /// The muxplex server's limits (the yamux server is held to the same
    /// deadlines, for comparison).
    pub limits: Limits,
}

impl Target {
    /// Waits until the server's memory stops moving (300 ms within 64 KiB)
    /// or `most` has passed, so its peak is in.
    pub(crate) fn settle(&self, most: Duration) {
        let end = Instant::now() + most;
        let mut last = server::rss(self.pid).unwrap_or(0);
        let mut still = 0;
        while Instant::now() < end && still < 6 {
            std::thread::sleep(server::SAMPLE_EVERY);
            let now = server::rss(self.pid).unwrap_or(0);
            still = if now.abs_diff(last) < 64 << 10 {
                still + 1
            } else {
                0
            };
            last = now;
        }
    }
}

/// What a scenario shows about the server, judged against its bound.
#[derive(Debug)]
pub(crate) enum Evidence {
    /// `connections` hostile connections of `streams` streams each: the
    /// growth per connection must stay within the per-connection bound.
    Connections {
        /// Hostile connections at once.
        connections: usize,
        /// Streams each of them opened.
        streams: usize,
    },
    /// Payload the server received and had not echoed: the growth must
    /// stay within 1.5 times it.
    Unread {
        /// Bytes.
        bytes: u64,
    },
    /// A connection whose output was stuck: the server must close its
    /// socket within the write timeout plus a second.
    Closed {
        /// When the socket closed, from the end of the attack; `None` if it
        /// was still open after `waited`.
        after: Option<Duration>,
        /// How long we looked.
        waited: Duration,
    },
    /// `count` idle things, each allowed `limit` bytes.
    Each {
        /// How many the server holds (0 if it refused them all).
        count: usize,
        /// Bytes each.
        limit: u64,
        /// Bytes each allowed on top for the echo application's own tasks
        /// (muxplex's echo only; see `echo_muxplex::task_allowances`).
        app: u64,
        /// What they are: "connection" or "stream".
        unit: &'static str,
    },
}

/// What an attack returns.
pub(crate) struct Outcome {
    /// What it shows.
    pub evidence: Evidence,
    /// What else happened, for the report (never judged).
    pub notes: Vec<String>,
    /// Broken promises besides the bound (a lost echo, say): each fails the
    /// scenario.
    pub problems: Vec<String>,
    /// Connections kept open until the well-behaved check has run, so it
    /// runs while the attack is still in place.
    pub hold: Vec<Conn>,
}

impl Outcome {
    fn new(evidence: Evidence, hold: Vec<Conn>) -> Outcome {
        Outcome {
            evidence,
            notes: Vec::new(),
            problems: Vec::new(),
            hold,
        }
    }
}

/// One attack.
pub(crate) struct Scenario {
    /// Its name, for `--only` and `--expect-fail`.
    pub name: &'static str,
    /// What it does, in a line.
    pub about: &'static str,
    /// Whether the two servers may be attacked at the same time (the
    /// attack mostly waits).
    pub concurrent: bool,
    /// The attack.
    pub attack: fn(&Target) -> io::Result<Outcome>,
}

/// Every scenario, in the order they run.
pub(crate) fn all() -> Vec<Scenario> {
    let mut all = Vec::new();
    all.extend(memory::scenarios());
    all.extend(stuck::scenarios());
    all.extend(idle::scenarios());
    all.extend(floods::scenarios());
    all
}

/// Client stream ids: odd, from 1.
pub(crate) fn ids(count: usize) -> impl Iterator<Item = u32> {
    (0..count as u32).map(|i| 2 * i + 1)
}

/// Frames gathered into large writes. After a write fails (the server
/// stopped reading for seconds, or closed) or its deadline has passed, it
/// sends nothing more and says why in [`note`](Self::note).
pub(crate) struct Batch<'a> {
    conn: &'a Conn,
    buf: Vec<u8>,
    deadline: Instant,
    /// Bytes written so far.
    pub sent: u64,
    failed: Option<String>,
}

impl<'a> Batch<'a> {
    /// Writes up to this much at once.
    const SIZE: usize = 256 * 1024;

    /// A batch on `conn` that sends nothing after `most` from now.
    pub(crate) fn new(conn: &'a Conn, most: Duration) -> Batch<'a> {
        Batch {
            conn,
            buf: Vec::with_capacity(Self::SIZE + FRAME + wire::HEADER_LEN),
            deadline: Instant::now() + most,
            sent: 0,
            failed: None,
        }
    }

    /// Adds a frame without payload; false once writing has failed.
    pub(crate) fn frame(&mut self, kind: u8, flags: u16, stream: u32, length: u32) -> bool {
        wire::push_frame(&mut self.buf, kind, flags, stream, length);
        self.maybe_flush()
    }

    /// Adds a Data frame; false once writing has failed.
    pub(crate) fn data(&mut self, flags: u16, stream: u32, payload: &[u8]) -> bool {
        wire::push_data(&mut self.buf, flags, stream, payload);
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> bool {
        if self.buf.len() >= Self::SIZE {
            self.flush();
        }
        self.failed.is_none()
    }

    /// Writes what is gathered; false once writing has failed.
    pub(crate) fn flush(&mut self) -> bool {
        if self.failed.is_none() && Instant::now() > self.deadline {
            self.failed = Some(format!("time cap reached after {}", mib(self.sent)));
        }
        if self.failed.is_none() && !self.buf.is_empty() {
            match self.conn.send(&self.buf) {
                Ok(()) => self.sent += self.buf.len() as u64,
                Err(e) => {
                    self.failed = Some(format!("writes stopped after {}: {e}", mib(self.sent)))
                }
            }
        }
        self.buf.clear();
        self.failed.is_none()
    }

    /// Flushes, and says why writing stopped, if it did.
    pub(crate) fn note(mut self) -> Option<String> {
        self.flush();
        self.failed
    }
}

/// Bytes in MiB, one decimal.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// What the server told a connection: resets, GoAway, its end.
pub(crate) fn conn_notes(stats: &Stats) -> Vec<String> {
    let mut notes = Vec::new();
    if stats.resets > 0 {
        notes.push(format!("{} streams reset by the server", stats.resets));
    }
    if let Some(code) = stats.go_away {
        notes.push(format!("GoAway({code}) from the server"));
    }
    if let Some(why) = &stats.ended {
        notes.push(why.clone());
    }
    notes
}

/// Sends a ping on `conn` (read by its pump) and waits at most `most` for
/// the pong: then the server has processed everything sent before it.
pub(crate) fn ping_through(conn: &Conn, most: Duration) -> bool {
    let before = conn.stats().pongs;
    if conn
        .send(&wire::header(wire::PING, wire::SYN, 0, 7))
        .is_err()
    {
        return false;
    }
    let ended = |s: &Stats| s.ended.is_some();
    conn.wait_until(Instant::now() + most, |s| s.pongs > before || ended(s))
        && conn.stats().pongs > before
}
