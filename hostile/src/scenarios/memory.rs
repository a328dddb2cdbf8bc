//! Send and receive buffering: peers that make the server hold data.

use std::io;
use std::time::{Duration, Instant};

use super::{Batch, Evidence, FILL, FRAME, Outcome, Scenario, Target, conn_notes, ids, mib};
use crate::peer::{Conn, Reading};
use crate::wire::{INITIAL_WINDOW, SYN, WINDOW_UPDATE};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "non-readers",
            about: "4,000 streams, each SYN + 256 KiB (a whole window); the echo is never read",
            concurrent: false,
            attack: non_readers,
        },
        Scenario {
            name: "trickled-window-updates",
            about: "1,000 streams fill both windows; then 1 KiB window updates every 100 ms, reading at 8 MiB/s",
            concurrent: false,
            attack: trickled_window_updates,
        },
        Scenario {
            name: "huge-window-slow-reader",
            about: "64 streams granted +64 MiB of window send 16 MiB each; reading at 16 MiB/s",
            concurrent: false,
            attack: huge_window_slow_reader,
        },
        Scenario {
            name: "pinned-read-buffers",
            about: "240 streams: window fill, then 8 KiB each followed by 56 KiB for a never-opened stream, never read",
            concurrent: false,
            attack: pinned_read_buffers,
        },
    ]
}

/// Sends SYN + a whole initial window on each of `ids`, in 16 KiB frames.
fn fill_windows(batch: &mut Batch<'_>, ids: impl Iterator<Item = u32>) -> bool {
    for id in ids {
        for k in 0..INITIAL_WINDOW as usize / FRAME {
            let flags = if k == 0 { SYN } else { 0 };
            if !batch.data(flags, id, &FILL[..FRAME]) {
                return false;
            }
        }
    }
    batch.flush()
}

fn non_readers(t: &Target) -> io::Result<Outcome> {
    const STREAMS: usize = 4000;
    let conn = Conn::connect(t.port, Reading::Never, false)?;
    let mut batch = Batch::new(&conn, Duration::from_secs(10));
    fill_windows(&mut batch, ids(STREAMS));
    let sent = batch.sent;
    let note = batch.note();
    t.settle(Duration::from_secs(3));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams: STREAMS,
        },
        Vec::new(),
    );
    outcome.notes.push(format!("sent {}", mib(sent)));
    outcome.notes.extend(note);
    outcome.hold.push(conn);
    Ok(outcome)
}

fn trickled_window_updates(t: &Target) -> io::Result<Outcome> {
    const STREAMS: usize = 1000;
    const EXTRA: u64 = INITIAL_WINDOW as u64;
    const TRICKLE: u32 = 1024;
    let conn = Conn::connect(t.port, Reading::Rate(8 << 20), false)?;
    for id in ids(STREAMS) {
        conn.opened(id);
        conn.take_credit(id, u64::from(INITIAL_WINDOW), Instant::now());
    }
    let mut batch = Batch::new(&conn, Duration::from_secs(10));
    fill_windows(&mut batch, ids(STREAMS));
    let end = Instant::now() + Duration::from_secs(3);
    let mut extra = vec![0u64; STREAMS];
    while Instant::now() < end && batch.flush() {
        let round = Instant::now();
        for (i, id) in ids(STREAMS).enumerate() {
            batch.frame(WINDOW_UPDATE, 0, id, TRICKLE);
            // As much more data as the server's window updates allow.
            while extra[i] < EXTRA && conn.take_credit(id, FRAME as u64, Instant::now()) {
                batch.data(0, id, &FILL[..FRAME]);
                extra[i] += FRAME as u64;
            }
        }
        if !batch.flush() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100).saturating_sub(round.elapsed()));
    }
    let sent = batch.sent;
    let note = batch.note();
    t.settle(Duration::from_secs(2));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams: STREAMS,
        },
        Vec::new(),
    );
    outcome.notes.push(format!(
        "sent {}, read back {}",
        mib(sent),
        mib(conn.stats().data)
    ));
    outcome.notes.extend(note);
    outcome.notes.extend(conn_notes(&conn.stats()));
    outcome.hold.push(conn);
    Ok(outcome)
}

fn huge_window_slow_reader(t: &Target) -> io::Result<Outcome> {
    const STREAMS: usize = 64;
    const EACH: u64 = 16 << 20;
    const GRANT: u32 = 64 << 20;
    let conn = Conn::connect(t.port, Reading::Rate(16 << 20), false)?;
    let mut batch = Batch::new(&conn, Duration::from_secs(10));
    for id in ids(STREAMS) {
        conn.opened(id);
        batch.frame(WINDOW_UPDATE, SYN, id, GRANT);
    }
    batch.flush();
    let end = Instant::now() + Duration::from_secs(5);
    let mut sent = vec![0u64; STREAMS];
    while Instant::now() < end && batch.flush() {
        let mut progress = false;
        for (i, id) in ids(STREAMS).enumerate() {
            if sent[i] < EACH && conn.take_credit(id, FRAME as u64, Instant::now()) {
                batch.data(0, id, &FILL[..FRAME]);
                sent[i] += FRAME as u64;
                progress = true;
            }
        }
        if sent.iter().all(|&s| s >= EACH) {
            break;
        }
        if !progress {
            batch.flush();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let note = batch.note();
    t.settle(Duration::from_secs(2));
    let stats = conn.stats();
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: 1,
            streams: STREAMS,
        },
        Vec::new(),
    );
    outcome.notes.push(format!(
        "sent {}, read back {}",
        mib(sent.iter().sum()),
        mib(stats.data)
    ));
    outcome.notes.extend(note);
    outcome.notes.extend(conn_notes(&stats));
    outcome.hold.push(conn);
    Ok(outcome)
}

fn pinned_read_buffers(t: &Target) -> io::Result<Outcome> {
    const STREAMS: usize = 240;
    const ROUNDS: usize = 32;
    const REAL: usize = 8 * 1024;
    const JUNK: usize = 56 * 1024;
    // Odd (a client id) and above every id we use: never opened.
    const NEVER_OPENED: u32 = 0x7fff_ffff;
    let conn = Conn::connect(t.port, Reading::Drain, false)?;
    for id in ids(STREAMS) {
        conn.opened(id);
        conn.take_credit(id, u64::from(INITIAL_WINDOW), Instant::now());
    }
    let mut batch = Batch::new(&conn, Duration::from_secs(10));
    fill_windows(&mut batch, ids(STREAMS));
    let mut real = STREAMS as u64 * u64::from(INITIAL_WINDOW);
    let end = Instant::now() + Duration::from_secs(6);
    'rounds: for _ in 0..ROUNDS {
        for id in ids(STREAMS) {
            // The window reopens as the echo task reads the fill.
            if !conn.take_credit(id, REAL as u64, end) {
                batch.flush();
                continue;
            }
            batch.data(0, id, &FILL[..REAL]);
            real += REAL as u64;
            if !batch.data(0, NEVER_OPENED, &FILL[..JUNK]) {
                break 'rounds;
            }
        }
    }
    let note = batch.note();
    t.settle(Duration::from_secs(2));
    let stats = conn.stats();
    let mut outcome = Outcome::new(
        Evidence::Unread {
            bytes: real.saturating_sub(stats.data),
        },
        Vec::new(),
    );
    outcome.notes.push(format!(
        "{} of stream data sent, {} echoed",
        mib(real),
        mib(stats.data)
    ));
    outcome.notes.extend(note);
    outcome.notes.extend(conn_notes(&stats));
    outcome.hold.push(conn);
    Ok(outcome)
}
