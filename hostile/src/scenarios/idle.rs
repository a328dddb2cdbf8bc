//! Many connections and many streams that do little or nothing: what each
//! costs the server.

use std::io;
use std::time::{Duration, Instant};

use super::{
    Batch, Evidence, FILL, FRAME, Outcome, Scenario, Target, conn_notes, ids, ping_through,
};
use crate::echo_muxplex;
use crate::peer::{Conn, Reading, Stats};
use crate::wire::{FIN, SYN, WINDOW_UPDATE};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "slowloris",
            about: "200 connections each open 64 streams (SYN) and never send anything else",
            concurrent: false,
            attack: slowloris,
        },
        Scenario {
            name: "many-connections",
            about: "300 connections at once, each echoing 64 KiB on a stream, then held open",
            concurrent: false,
            attack: many_connections,
        },
        Scenario {
            name: "idle-connections",
            about: "1,000 connections, one ping each, then idle: growth per connection",
            concurrent: false,
            attack: idle_connections,
        },
        Scenario {
            name: "idle-streams",
            about: "10,000 streams opened (SYN) on one connection as fast as they are accepted, then idle: growth per stream",
            concurrent: false,
            attack: idle_streams,
        },
    ]
}

fn slowloris(t: &Target) -> io::Result<Outcome> {
    const CONNECTIONS: usize = 200;
    const STREAMS: usize = 64;
    let mut conns = Vec::with_capacity(CONNECTIONS);
    let mut notes = Vec::new();
    for _ in 0..CONNECTIONS {
        let conn = Conn::connect(t.port, Reading::Never, false)?;
        let mut batch = Batch::new(&conn, Duration::from_secs(2));
        for id in ids(STREAMS) {
            batch.frame(WINDOW_UPDATE, SYN, id, 0);
        }
        notes.extend(batch.note());
        conns.push(conn);
    }
    t.settle(Duration::from_secs(2));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: CONNECTIONS,
            streams: STREAMS,
        },
        conns,
    );
    outcome.notes = notes;
    Ok(outcome)
}

fn many_connections(t: &Target) -> io::Result<Outcome> {
    const CONNECTIONS: usize = 300;
    const LEN: usize = 64 * 1024;
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        conns.push(Conn::connect(t.port, Reading::Drain, false)?);
    }
    for conn in &conns {
        conn.opened(1);
        let mut batch = Batch::new(conn, Duration::from_secs(2));
        for k in 0..LEN / FRAME {
            batch.data(if k == 0 { SYN } else { 0 }, 1, &FILL[..FRAME]);
        }
        batch.frame(WINDOW_UPDATE, FIN, 1, 0);
        batch.flush();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let short = conns
        .iter()
        .filter(|conn| !conn.wait_until(deadline, |s| s.fins > 0 || s.ended.is_some()))
        .count();
    let incomplete = conns
        .iter()
        .filter(|conn| conn.stats().per_stream.get(&1).copied() != Some(LEN as u64))
        .count();
    t.settle(Duration::from_secs(1));
    let mut outcome = Outcome::new(
        Evidence::Connections {
            connections: CONNECTIONS,
            streams: 1,
        },
        Vec::new(),
    );
    if short > 0 || incomplete > 0 {
        outcome.problems.push(format!(
            "{incomplete} of {CONNECTIONS} connections got no complete echo ({short} not finished in 10 s)"
        ));
    }
    outcome.hold = conns;
    Ok(outcome)
}

fn idle_connections(t: &Target) -> io::Result<Outcome> {
    const CONNECTIONS: usize = 1000;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut conns = Vec::with_capacity(CONNECTIONS);
    let mut answered = 0;
    for i in 0..CONNECTIONS {
        let conn = Conn::connect(t.port, Reading::Never, false)?;
        answered += usize::from(conn.ping_unpumped(i as u32, deadline));
        conns.push(conn);
    }
    t.settle(Duration::from_secs(2));
    let mut outcome = Outcome::new(
        Evidence::Each {
            count: answered,
            limit: 2048,
            app: echo_muxplex::task_allowances().0,
            unit: "connection",
        },
        conns,
    );
    if answered < CONNECTIONS {
        outcome.notes.push(format!(
            "{answered} of {CONNECTIONS} connections answered a ping"
        ));
    }
    Ok(outcome)
}

/// Streams opened at the pace the server's application accepts them, so
/// that none is refused at the accept backlog and the figure is the cost of
/// a stream the application holds idle: muxplex's state for it plus the
/// echo's task, which holds no buffer while idle (see `echo_muxplex`).
fn idle_streams(t: &Target) -> io::Result<Outcome> {
    const STREAMS: usize = 10_000;
    // Half the default accept backlog: a batch never fills it.
    const PACE: usize = 128;
    let conn = Conn::connect(t.port, Reading::Drain, false)?;
    let gone = |s: &Stats| s.ended.is_some() || s.go_away.is_some();
    let mut notes = Vec::new();
    let mut sent = 0;
    // muxplex acknowledges a stream when the application accepts it; the
    // yamux crate only with its first frame on it, so once a batch has
    // gone unacknowledged, the pong alone paces (it says every SYN sent
    // before it was processed).
    let mut acks_pace = true;
    let ids: Vec<u32> = ids(STREAMS).collect();
    for chunk in ids.chunks(PACE) {
        let mut batch = Batch::new(&conn, Duration::from_secs(10));
        for &id in chunk {
            batch.frame(WINDOW_UPDATE, SYN, id, 0);
        }
        if let Some(note) = batch.note() {
            notes.push(note);
            break;
        }
        sent += chunk.len();
        if !ping_through(&conn, Duration::from_secs(5)) || gone(&conn.stats()) {
            break;
        }
        if acks_pace {
            let deadline = Instant::now() + Duration::from_secs(2);
            acks_pace = conn.wait_until(deadline, |s| s.acks + s.resets >= sent || gone(s));
        }
    }
    t.settle(Duration::from_secs(2));
    let stats = conn.stats();
    notes.extend(conn_notes(&stats));
    notes.push(format!(
        "{sent} of {STREAMS} streams opened, {} acknowledged",
        stats.acks
    ));
    let count = if gone(&stats) {
        0
    } else {
        sent.saturating_sub(stats.resets)
    };
    let mut outcome = Outcome::new(
        Evidence::Each {
            count,
            limit: 256,
            app: echo_muxplex::task_allowances().1,
            unit: "stream",
        },
        vec![conn],
    );
    outcome.notes = notes;
    Ok(outcome)
}
