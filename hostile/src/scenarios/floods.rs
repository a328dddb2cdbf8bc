//! Floods of control frames and malformed or pathological input.

use std::io;
use std::time::{Duration, Instant};

use super::{Batch, Evidence, FILL, Outcome, Scenario, Target, conn_notes, ids, mib, ping_through};
use crate::peer::{Conn, Reading};
use crate::wire::{self, ACK, DATA, FIN, GO_AWAY, PING, RST, SYN, WINDOW_UPDATE};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "syn-flood",
            about: "100,000 SYNs on one connection, as fast as it takes them",
            concurrent: false,
            attack: |t| flood(t, Flood::Syn),
        },
        Scenario {
            name: "ping-flood",
            about: "500,000 pings, the pongs never read",
            concurrent: false,
            attack: |t| flood(t, Flood::Ping),
        },
        Scenario {
            name: "pong-flood",
            about: "500,000 pongs nobody asked for",
            concurrent: false,
            attack: |t| flood(t, Flood::Pong),
        },
        Scenario {
            name: "rst-flood",
            about: "100,000 streams opened and reset at once (SYN, then RST)",
            concurrent: false,
            attack: |t| flood(t, Flood::Rst),
        },
        Scenario {
            name: "window-update-flood",
            about: "500,000 window updates: +1 on an open stream, +0 on unknown ones",
            concurrent: false,
            attack: |t| flood(t, Flood::WindowUpdate),
        },
        Scenario {
            name: "go-away-flood",
            about: "500,000 GoAway(0) frames",
            concurrent: false,
            attack: |t| flood(t, Flood::GoAway),
        },
        Scenario {
            name: "one-byte-writes",
            about: "4 streams of 8 KiB, every byte (headers too) its own TCP write; the echo is checked",
            concurrent: false,
            attack: one_byte_writes,
        },
        Scenario {
            name: "partial-header",
            about: "5 bytes of a header, then 2 s of silence",
            concurrent: false,
            attack: partial_header,
        },
        Scenario {
            name: "max-length",
            about: "a Data frame with length 0xFFFFFFFF, then up to 64 MiB of its payload",
            concurrent: false,
            attack: max_length,
        },
    ]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flood {
    Syn,
    Ping,
    Pong,
    Rst,
    WindowUpdate,
    GoAway,
}

fn flood(t: &Target, kind: Flood) -> io::Result<Outcome> {
    let reading = if kind == Flood::Ping {
        Reading::Never
    } else {
        Reading::Drain
    };
    let conn = Conn::connect(t.port, reading, false)?;
    let mut batch = Batch::new(&conn, Duration::from_secs(10));
    let mut streams = 0;
    match kind {
        Flood::Syn => {
            streams = 100_000;
            for id in ids(streams) {
                if !batch.frame(WINDOW_UPDATE, SYN, id, 0) {
                    break;
                }
            }
        }
        Flood::Ping | Flood::Pong => {
            let flags = if kind == Flood::Ping { SYN } else { ACK };
            for value in 0..500_000 {
                if !batch.frame(PING, flags, 0, value) {
                    break;
                }
            }
        }
        Flood::Rst => {
            for id in ids(100_000) {
                batch.frame(WINDOW_UPDATE, SYN, id, 0);
                if !batch.frame(WINDOW_UPDATE, RST, id, 0) {
                    break;
                }
            }
        }
        Flood::WindowUpdate => {
            streams = 1;
            batch.frame(WINDOW_UPDATE, SYN, 1, 0);
            for unknown in ids(250_000).skip(1) {
                batch.frame(WINDOW_UPDATE, 0, 1, 1);
                if !batch.frame(WINDOW_UPDATE, 0, unknown, 0) {
                    break;
                }
            }
        }
        Flood::GoAway => {
            for _ in 0..500_000 {
                if !batch.frame(GO_AWAY, 0, 0, 0) {
                    break;
                }
            }
        }
    }
    let mut notes: Vec<String> = batch.note().into_iter().collect();
    if reading == Reading::Drain {
        ping_through(&conn, Duration::from_secs(5));
        notes.extend(conn_notes(&conn.stats()));
    }
    t.settle(Duration::from_secs(2));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams,
        },
        vec![conn],
    );
    outcome.notes = notes;
    Ok(outcome)
}

fn one_byte_writes(t: &Target) -> io::Result<Outcome> {
    const STREAMS: usize = 4;
    const LEN: usize = 8 * 1024;
    let conn = Conn::connect(t.port, Reading::Drain, true)?;
    conn.set_nodelay()?;
    let mut bytes = Vec::new();
    for id in ids(STREAMS) {
        conn.opened(id);
        wire::push_data(&mut bytes, SYN, id, &wire::pattern(id, 0, LEN));
        wire::push_frame(&mut bytes, WINDOW_UPDATE, FIN, id, 0);
    }
    let end = Instant::now() + Duration::from_secs(20);
    let mut written = 0;
    for byte in bytes.chunks(1) {
        if Instant::now() > end || conn.send(byte).is_err() {
            break;
        }
        written += 1;
    }
    let finished = conn.wait_until(Instant::now() + Duration::from_secs(5), |s| {
        s.fins >= STREAMS || s.ended.is_some()
    });
    let stats = conn.stats();
    let intact = ids(STREAMS).all(|id| stats.per_stream.get(&id).copied() == Some(LEN as u64));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams: STREAMS,
        },
        Vec::new(),
    );
    if written < bytes.len() {
        outcome
            .problems
            .push(format!("only {written} of {} bytes written", bytes.len()));
    }
    if !finished || !intact || stats.corrupt > 0 {
        outcome.problems.push(format!(
            "echo incomplete or corrupt: {} of {} bytes back, {} corrupt pieces",
            stats.data,
            STREAMS * LEN,
            stats.corrupt
        ));
    }
    outcome.notes.extend(conn_notes(&stats));
    t.settle(Duration::from_secs(1));
    outcome.hold.push(conn);
    Ok(outcome)
}

fn partial_header(t: &Target) -> io::Result<Outcome> {
    let conn = Conn::connect(t.port, Reading::Drain, false)?;
    conn.send(&wire::header(PING, SYN, 0, 1)[..5])?;
    std::thread::sleep(Duration::from_secs(2));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams: 0,
        },
        Vec::new(),
    );
    outcome.notes.extend(conn_notes(&conn.stats()));
    outcome.hold.push(conn);
    Ok(outcome)
}

fn max_length(t: &Target) -> io::Result<Outcome> {
    const MOST: usize = 64 << 20;
    let conn = Conn::connect(t.port, Reading::Drain, false)?;
    conn.send(&wire::header(DATA, SYN, 1, u32::MAX))?;
    let end = Instant::now() + Duration::from_secs(2);
    let mut payload = 0;
    while payload < MOST && Instant::now() < end && conn.stats().ended.is_none() {
        if conn.send(&FILL).is_err() {
            break;
        }
        payload += FILL.len();
    }
    std::thread::sleep(Duration::from_millis(200));
    t.settle(Duration::from_secs(1));
    let stats = conn.stats();
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams: 1,
        },
        Vec::new(),
    );
    outcome
        .notes
        .push(format!("{} of the payload written", mib(payload as u64)));
    outcome.notes.extend(conn_notes(&stats));
    outcome.hold.push(conn);
    Ok(outcome)
}
