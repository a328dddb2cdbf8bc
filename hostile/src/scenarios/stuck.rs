//! Connections whose output cannot drain: the server must give up on them
//! after its write timeout.

use std::io;
use std::time::{Duration, Instant};

use super::{Batch, Evidence, FILL, FRAME, Outcome, Scenario, Target, ids, mib};
use crate::limits::CLOSE_GRACE;
use crate::peer::{Conn, Reading};
use crate::server;
use crate::wire::{INITIAL_WINDOW, SYN};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "stuck-output-silence",
            about: "40 streams fill their windows (10 MiB of echo), nothing is read, then silence",
            concurrent: true,
            attack: |t| stuck_output(t, false),
        },
        Scenario {
            name: "stuck-output-half-close",
            about: "as stuck-output-silence, then the peer half-closes its TCP side",
            concurrent: true,
            attack: |t| stuck_output(t, true),
        },
    ]
}

fn stuck_output(t: &Target, half_close: bool) -> io::Result<Outcome> {
    const STREAMS: usize = 40;
    let conn = Conn::connect(t.port, Reading::Never, false)?;
    let mut batch = Batch::new(&conn, Duration::from_secs(10));
    'streams: for id in ids(STREAMS) {
        for k in 0..INITIAL_WINDOW as usize / FRAME {
            if !batch.data(if k == 0 { SYN } else { 0 }, id, &FILL[..FRAME]) {
                break 'streams;
            }
        }
    }
    let sent = batch.sent;
    let mut notes: Vec<String> = batch.note().into_iter().collect();
    notes.push(format!("sent {}", mib(sent)));
    if half_close {
        conn.shutdown_write()?;
    }
    let start = Instant::now();
    let waited = t.limits.write_timeout.duration() + CLOSE_GRACE;
    let mut after = None;
    while start.elapsed() < waited {
        if !server::server_socket_open(t.port, conn.local_port) {
            after = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut outcome = Outcome::new(Evidence::Closed { after, waited }, vec![conn]);
    outcome.notes = notes;
    Ok(outcome)
}
