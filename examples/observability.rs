//! Answering an operator's questions from a session's counters and logs:
//! why is this connection slow, who reset my stream, how much does this
//! peer buffer.
//!
//! Two sessions run in memory on a virtual clock (the testing kit): a
//! client uploads 1 MiB over a link of 20 ms each way to a server whose
//! application reads 64 KiB every 50 ms, then the server resets a second
//! stream with code 42, and a broken frame slipped onto the client's side
//! of the link ends the session. The client's and the server's counters are printed
//! at the end; the `log` feature's records go to stderr, filtered by
//! `RUST_LOG` (`error`, `warn`, `info`, `debug`, `trace`; default `warn`).
//!
//! ```text
//! RUST_LOG=debug cargo run --example observability --features testing,log
//! ```

use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use muxplex::frame::{Flags, FrameType, Header};
use muxplex::testing::{Pair, Side};
use muxplex::{Config, SessionStats, StreamId};

/// A minimal logger: the level from `RUST_LOG`, records to stderr with the
/// target, as an application's logger (env_logger, tracing's log bridge)
/// would show them.
struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "[{:<5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

fn level_from_env() -> LevelFilter {
    let level = std::env::var("RUST_LOG").unwrap_or_default();
    match level.parse::<Level>() {
        Ok(level) => level.to_level_filter(),
        Err(_) => LevelFilter::Warn,
    }
}

const UPLOAD: usize = 1 << 20;
const READ_EVERY: Duration = Duration::from_millis(50);
const READ_SIZE: usize = 64 * 1024;

fn main() {
    log::set_logger(&Stderr).expect("the only logger");
    log::set_max_level(level_from_env());

    let mut pair =
        Pair::new(Config::default(), Config::default()).with_latency(Duration::from_millis(20));
    let now = pair.now();
    pair.client.ping(now).expect("a fresh session pings");

    // The upload: written as fast as the peer's window lets it.
    let upload = pair.client.open_stream(now).expect("opens");
    let data = vec![0x5a; UPLOAD];
    let mut written = 0;
    let mut read = 0;
    let mut accepted = None;
    while read < UPLOAD {
        if let Ok(mut stream) = pair.client.stream(upload) {
            written += stream.write(&data[written..]).unwrap_or(0);
        }
        pair.advance(READ_EVERY);
        while pair.client.poll_event().is_some() {}
        while pair.server.poll_event().is_some() {}
        let id = *accepted.get_or_insert_with(|| pair.server.accept_stream().expect("arrived"));
        let mut buf = vec![0; READ_SIZE];
        read += pair
            .server
            .stream(id)
            .expect("accepted")
            .read(&mut buf)
            .unwrap_or(0);
    }
    let slow = pair.client.stream(upload).expect("open").stats();
    println!(
        "upload stream {upload}: sent {} B, window now {} B, waited {:?} for the window",
        slow.sent, slow.send_window, slow.blocked_time
    );

    // A stream the server resets.
    let now = pair.now();
    let doomed = pair.client.open_stream(now).expect("opens");
    pair.client
        .stream(doomed)
        .expect("open")
        .write(b"request")
        .expect("room");
    pair.drive();
    let id: StreamId = pair.server.accept_stream().expect("arrived");
    pair.server.stream(id).expect("accepted").reset(42);
    pair.drive();

    // A broken peer: 300,000 bytes of data announced on a new stream,
    // beyond the 256 KiB window. The server ends the session (GoAway 1).
    let mut bad = Vec::new();
    let header = Header::new(FrameType::Data, Flags::SYN, 101, 300_000);
    bad.extend_from_slice(&header.encode());
    pair.inject(Side::Client, &bad);
    pair.drive();

    print("client", &pair.client.stats());
    print("server", &pair.server.stats());
}

fn print(end: &str, stats: &SessionStats) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{end}:");
    println!(
        "  sent     {:>5} frames {:>8} B (data {} frames {} B)",
        stats.sent.total().frames,
        stats.sent.total().bytes,
        stats.sent.data.frames,
        stats.sent.data.bytes
    );
    println!(
        "  received {:>5} frames {:>8} B (window updates {})",
        stats.received.total().frames,
        stats.received.total().bytes,
        stats.received.window_update.frames
    );
    if let (Some(smoothed), Some(min)) = (stats.pings.smoothed_rtt, stats.pings.min_rtt) {
        println!(
            "  rtt      smoothed {:.1} ms, min {:.1} ms ({} pings, {} answered)",
            ms(smoothed),
            ms(min),
            stats.pings.sent,
            stats.pings.answered
        );
    }
    println!(
        "  waits    window {} for {:.0} ms, send budget {} for {:.0} ms",
        stats.window_blocked.count,
        ms(stats.window_blocked.time),
        stats.budget_blocked.count,
        ms(stats.budget_blocked.time)
    );
    let streams = &stats.streams;
    println!(
        "  streams  opened {}, accepted {}, finished {}, refused {}",
        streams.opened,
        streams.accepted,
        streams.finished,
        streams.refused.total()
    );
    println!(
        "  resets   by peer {} (last code {:?}), by application {}, by session {}",
        streams.reset.peer,
        streams.reset.last_peer_code,
        streams.reset.application,
        streams.reset.total() - streams.reset.peer - streams.reset.application
    );
    println!(
        "  buffered received {} B now, {} B at peak; unsent {} B now, {} B at peak",
        stats.buffered.received,
        stats.buffered.peak_received,
        stats.buffered.unsent,
        stats.buffered.peak_unsent
    );
}
