//! Session and stream statistics: every counter moved by a scenario that
//! should move it, and checked against what the wire and the events say.

use std::time::Duration;

use crate::common::{data, events, header, read_all, take_bytes};
use muxplex::frame::{Flags, FrameType};
use muxplex::stats::Count;
use muxplex::testing::{Pair, Side};
use muxplex::{
    Config, Event, INITIAL_STREAM_WINDOW, Instant, ResetCause, Session, StreamError, StreamId,
};

const WINDOW: usize = INITIAL_STREAM_WINDOW as usize;

fn config(change: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::default();
    change(&mut config);
    config
}

/// Reads what is buffered and reports whether the end was reached.
fn drain(session: &mut Session, id: StreamId) -> usize {
    read_all(session, id).0.len()
}

#[test]
fn frames_and_bytes_are_counted_by_type_each_way() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now();
    let id = pair.client.open_stream(now).unwrap();
    let mut stream = pair.client.stream(id).unwrap();
    assert_eq!(stream.write(&[7; 1000]), Ok(1000));
    stream.finish(now).unwrap();
    pair.client.ping(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    assert_eq!(drain(&mut pair.server, id), 1000);
    pair.server.stream(id).unwrap().finish(now).unwrap();
    pair.drive();

    let client = pair.client.stats();
    let server = pair.server.stats();
    // One Data frame of 1000 bytes (with the SYN), then the FIN alone.
    assert_eq!(
        client.sent.data,
        Count {
            frames: 1,
            bytes: 1012
        }
    );
    assert_eq!(client.sent.window_update.frames, 1);
    assert_eq!(
        client.sent.ping,
        Count {
            frames: 1,
            bytes: 12
        }
    );
    assert_eq!(server.sent.ping.frames, 1, "the pong");
    assert_eq!(server.sent.data.frames, 0);
    // The server's ACK and its FIN (together or not), nothing else.
    assert!((1..=2).contains(&server.sent.window_update.frames));
    // What one end sent is what the other received.
    assert_eq!(client.sent, server.received);
    assert_eq!(server.sent, client.received);
    assert_eq!(
        client.sent.total().frames,
        pair.wire_audit(Side::Client).frames_sent()
    );
    assert_eq!(
        server.sent.total().frames,
        pair.wire_audit(Side::Server).frames_sent()
    );
    assert_eq!(client.sent.of(FrameType::Data), client.sent.data);
    assert_eq!(
        client.sent.total().bytes,
        1012 + 12 * (client.sent.total().frames - 1)
    );
}

#[test]
fn go_aways_are_counted_with_their_codes() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.client.abort(pair.now(), 2);
    pair.drive();
    let client = pair.client.stats().go_aways;
    let server = pair.server.stats().go_aways;
    assert_eq!((client.sent, client.last_sent_code), (1, Some(2)));
    assert_eq!((client.received, client.last_received_code), (0, None));
    assert_eq!((server.received, server.last_received_code), (1, Some(2)));
    assert_eq!(server.sent, 0);
    assert_eq!(pair.client.stats().sent.go_away.frames, 1);
    assert_eq!(pair.server.stats().received.go_away.frames, 1);
}

#[test]
fn streams_opened_accepted_and_finished_are_counted() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now();
    let ids: Vec<StreamId> = (0..3)
        .map(|_| pair.client.open_stream(now).unwrap())
        .collect();
    for &id in &ids {
        pair.client.stream(id).unwrap().write(b"hi").unwrap();
    }
    pair.drive();
    while pair.server.accept_stream().is_some() {}
    // Two end cleanly both ways; the third stays open.
    for &id in &ids[..2] {
        pair.client.stream(id).unwrap().finish(now).unwrap();
        pair.server.stream(id).unwrap().finish(now).unwrap();
    }
    pair.drive();
    for &id in &ids[..2] {
        assert_eq!(drain(&mut pair.server, id), 2);
        assert_eq!(drain(&mut pair.client, id), 0);
    }
    pair.drive();

    let client = pair.client.stats().streams;
    let server = pair.server.stats().streams;
    assert_eq!((client.opened, client.incoming, client.accepted), (3, 0, 0));
    assert_eq!((server.opened, server.incoming, server.accepted), (0, 3, 3));
    assert_eq!(client.finished, 2);
    assert_eq!(server.finished, 2);
    assert_eq!(server.refused.total() + server.reset.total(), 0);
}

#[test]
fn resets_are_counted_by_who_and_why() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now();
    let id = pair.client.open_stream(now).unwrap();
    pair.client.stream(id).unwrap().write(b"x").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.client.stream(id).unwrap().reset(7);
    pair.drive();
    let client = pair.client.stats().streams.reset;
    let server = pair.server.stats().streams.reset;
    assert_eq!((client.application, client.peer), (1, 0));
    assert_eq!((server.peer, server.last_peer_code), (1, Some(7)));
    assert_eq!(server.application, 0);
    assert_eq!((client.total(), server.total()), (1, 1));
}

#[test]
fn session_resets_are_counted_by_cause() {
    let short = Duration::from_secs(1);
    // Open timeout: the server never accepts, so never acknowledges.
    let mut pair = Pair::new(config(|c| c.open_timeout = Some(short)), Config::default());
    let _id = pair.client.open_stream(pair.now()).unwrap();
    pair.drive();
    pair.advance(2 * short);
    let resets = pair.client.stats().streams.reset;
    assert_eq!(resets.open_timeout, 1);
    assert_eq!(resets.by_session(ResetCause::OpenTimeout), 1);
    assert_eq!(resets.total(), 1);
    assert_eq!(pair.server.stats().streams.reset.peer, 1);

    // Stream close timeout: our FIN goes out, the peer's never comes.
    let mut pair = Pair::new(
        config(|c| c.stream_close_timeout = Some(short)),
        Config::default(),
    );
    let now = pair.now();
    let id = pair.client.open_stream(now).unwrap();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.advance(2 * short);
    let resets = pair.client.stats().streams.reset;
    assert_eq!(resets.by_session(ResetCause::StreamCloseTimeout), 1);
    assert_eq!(resets.total(), 1);

    // Graceful close timeout: a stream still open at the deadline.
    let mut pair = Pair::new(config(|c| c.close_timeout = short), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"x").unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.client.close(pair.now());
    pair.advance(2 * short);
    let resets = pair.client.stats().streams.reset;
    assert_eq!(resets.by_session(ResetCause::CloseTimeout), 1);
    assert_eq!(resets.total(), 1);

    // The peer goes away before our stream's SYN left.
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now();
    pair.server.close(now);
    let go_away = take_bytes(&mut pair.server);
    let _unsent = pair.client.open_stream(now).unwrap();
    pair.client.handle_input(now, &go_away);
    let resets = pair.client.stats().streams.reset;
    assert_eq!(resets.by_session(ResetCause::PeerGoingAway), 1);
    assert_eq!(resets.total(), 1);

    // The peer's data would overflow the session buffer.
    let budget = WINDOW;
    let now = Instant::ZERO;
    let mut server =
        Session::server(config(|c| c.max_session_buffer = budget), now).expect("valid config");
    let mut input = data(Flags::SYN, 1, &vec![1; budget]);
    input.extend_from_slice(&data(Flags::SYN, 3, &[2; 10]));
    server.handle_input(now, &input);
    let resets = server.stats().streams.reset;
    assert_eq!(resets.by_session(ResetCause::BufferFull), 1);
    assert_eq!(resets.total(), 1);
}

#[test]
fn refusals_are_counted_by_reason() {
    let now = Instant::ZERO;
    let syn = |id: u32| header(FrameType::WindowUpdate, Flags::SYN, id, 0);

    let mut server = Session::server(config(|c| c.accept_backlog = 1), now).expect("valid config");
    server.handle_input(now, &[syn(1), syn(3)].concat());
    let refused = server.stats().streams.refused;
    assert_eq!(
        (refused.backlog, refused.max_streams, refused.closing),
        (1, 0, 0)
    );
    assert_eq!(server.stats().streams.incoming, 1);

    let mut server = Session::server(config(|c| c.max_streams = 1), now).expect("valid config");
    server.handle_input(now, &[syn(1), syn(3)].concat());
    let refused = server.stats().streams.refused;
    assert_eq!(
        (refused.backlog, refused.max_streams, refused.closing),
        (0, 1, 0)
    );

    // With one stream running (so the close takes time), one waits to be
    // accepted when the close begins; another comes during it.
    let mut server = Session::server(Config::default(), now).expect("valid config");
    server.handle_input(now, &syn(1));
    assert_eq!(server.accept_stream(), Some(StreamId::new(1)));
    server.handle_input(now, &syn(3));
    server.close(now);
    server.handle_input(now, &syn(5));
    let refused = server.stats().streams.refused;
    assert_eq!(
        (refused.backlog, refused.max_streams, refused.closing),
        (0, 0, 2)
    );
    assert_eq!(refused.total(), 2);
}

#[test]
fn pings_and_round_trips_are_counted() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    // Answered after 30 ms, then one answered after 10 ms.
    let mut at = now;
    for rtt in [30, 10] {
        client.ping(at).unwrap();
        server.handle_input(at, &take_bytes(&mut client));
        at = Instant::from_millis(at.as_micros() / 1000 + rtt);
        client.handle_input(at, &take_bytes(&mut server));
    }
    // A third stays unanswered.
    client.ping(at).unwrap();
    let _ = take_bytes(&mut client);

    let pings = client.stats().pings;
    assert_eq!((pings.sent, pings.answered), (3, 2));
    assert_eq!(pings.min_rtt, Some(Duration::from_millis(10)));
    assert_eq!(pings.smoothed_rtt, client.rtt());
    assert_eq!(pings.smoothed_rtt, Some(Duration::from_micros(27_500)));
    assert_eq!(server.stats().pings.sent, 0, "answering is not pinging");
}

#[test]
fn writes_blocked_by_the_window_are_counted_and_timed() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    let payload = vec![3u8; WINDOW + 100];
    assert_eq!(pair.client.stream(id).unwrap().write(&payload), Ok(WINDOW));
    pair.drive();
    assert_eq!(
        pair.client.stream(id).unwrap().write(&payload[WINDOW..]),
        Err(StreamError::Blocked)
    );
    let stats = pair.client.stream(id).unwrap().stats();
    assert!(stats.blocked);
    assert_eq!(stats.send_window, 0);
    assert_eq!(stats.sent, WINDOW as u64);

    pair.advance(Duration::from_millis(50));
    // The session knows the time the host last supplied.
    pair.client.handle_timeout(pair.now());
    let waiting = pair.client.stream(id).unwrap().stats();
    assert_eq!(waiting.blocked_time, Duration::from_millis(50), "so far");
    assert_eq!(pair.client.stats().window_blocked.count, 1);
    assert_eq!(pair.client.stats().window_blocked.time, Duration::ZERO);

    // The reader reads: credit comes back, the writer may write again.
    assert_eq!(pair.server.accept_stream(), Some(id));
    let server_side = pair.server.stream(id).unwrap().stats();
    assert_eq!(server_side.received, WINDOW as u64);
    assert_eq!(server_side.buffered, WINDOW);
    assert_eq!(server_side.recv_window, 0);
    assert_eq!(drain(&mut pair.server, id), WINDOW);
    pair.drive();
    assert!(events(&mut pair.client).contains(&Event::Writable(id)));

    let blocked = pair.client.stats().window_blocked;
    assert_eq!(blocked.count, 1);
    assert_eq!(blocked.time, Duration::from_millis(50));
    let stats = pair.client.stream(id).unwrap().stats();
    assert!(!stats.blocked);
    assert_eq!(stats.blocked_time, Duration::from_millis(50));
    assert_eq!(stats.send_window, INITIAL_STREAM_WINDOW);
    assert_eq!(pair.client.stats().budget_blocked.count, 0);
}

#[test]
fn writes_blocked_by_the_send_budget_are_counted_and_timed() {
    let now = Instant::ZERO;
    let mut client =
        Session::client(config(|c| c.max_send_buffer = 1000), now).expect("valid config");
    let id = client.open_stream(now).unwrap();
    assert_eq!(client.stream(id).unwrap().write(&[1; 3000]), Ok(1000));
    assert_eq!(client.stats().budget_blocked.count, 1);
    assert_eq!(client.stats().window_blocked.count, 0);
    assert_eq!(client.stats().buffered.unsent, 1000);

    // The transport takes the data 30 ms later.
    client.handle_timeout(Instant::from_millis(30));
    let _ = take_bytes(&mut client);
    assert!(events(&mut client).contains(&Event::Writable(id)));
    let blocked = client.stats().budget_blocked;
    assert_eq!(
        (blocked.count, blocked.time),
        (1, Duration::from_millis(30))
    );
    assert_eq!(
        client.stream(id).unwrap().stats().blocked_time,
        Duration::from_millis(30)
    );
}

#[test]
fn peak_buffered_bytes_are_kept_each_way() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    assert_eq!(pair.client.stream(id).unwrap().write(&[5; 3000]), Ok(3000));
    assert_eq!(pair.client.stream(id).unwrap().write(&[6; 2000]), Ok(2000));
    let before = pair.client.stats().buffered;
    assert_eq!((before.unsent, before.peak_unsent), (5000, 5000));
    pair.drive();
    let after = pair.client.stats().buffered;
    assert_eq!((after.unsent, after.peak_unsent), (0, 5000));

    let held = pair.server.stats().buffered;
    assert_eq!((held.received, held.peak_received), (5000, 5000));
    assert_eq!(pair.server.accept_stream(), Some(id));
    assert_eq!(drain(&mut pair.server, id), 5000);
    let read = pair.server.stats().buffered;
    assert_eq!((read.received, read.peak_received), (0, 5000));
}

#[test]
fn a_freed_stream_reports_zeros() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let now = pair.now();
    let id = pair.client.open_stream(now).unwrap();
    pair.client.stream(id).unwrap().finish(now).unwrap();
    pair.drive();
    assert_eq!(pair.server.accept_stream(), Some(id));
    let mut stream = pair.server.stream(id).unwrap();
    stream.finish(now).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(stream.read(&mut buf), Ok(0));
    pair.drive();
    // Freed by the read that returned the end (our FIN left in `drive`).
    let mut stream = pair.client.stream(id).unwrap();
    assert_eq!(stream.read(&mut buf), Ok(0));
    assert_eq!(stream.stats(), muxplex::StreamStats::default());
}

/// The `log` feature's records, captured per test thread (tests run in
/// parallel and the logger is global).
#[cfg(feature = "log")]
mod logs {
    use std::sync::Mutex;
    use std::thread::ThreadId;

    use log::{Level, LevelFilter, Log, Metadata, Record};

    use super::*;

    static RECORDS: Mutex<Vec<(ThreadId, Level, String)>> = Mutex::new(Vec::new());

    struct Capture;

    impl Log for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &Record<'_>) {
            assert_eq!(record.target(), "muxplex");
            let line = (
                std::thread::current().id(),
                record.level(),
                record.args().to_string(),
            );
            RECORDS.lock().unwrap().push(line);
        }
        fn flush(&self) {}
    }

    /// What this thread logged since the last call.
    fn take() -> Vec<(Level, String)> {
        let _ = log::set_logger(&Capture);
        log::set_max_level(LevelFilter::Trace);
        let me = std::thread::current().id();
        let mut records = RECORDS.lock().unwrap();
        let (mine, others) = records.drain(..).partition(|(id, _, _)| *id == me);
        *records = others;
        mine.into_iter()
            .map(|(_, level, line)| (level, line))
            .collect()
    }

    fn assert_logged(records: &[(Level, String)], level: Level, line: &str) {
        assert!(
            records.iter().any(|(l, text)| *l == level && text == line),
            "no {level} record {line:?} in {records:#?}"
        );
    }

    #[test]
    fn protocol_events_are_logged_at_their_levels() {
        let now = Instant::ZERO;
        take();
        let mut server =
            Session::server(config(|c| c.accept_backlog = 1), now).expect("valid config");
        let syn = |id: u32| header(FrameType::WindowUpdate, Flags::SYN, id, 0);
        server.handle_input(now, &[syn(1), syn(3)].concat());
        assert_eq!(server.accept_stream(), Some(StreamId::new(1)));
        server.handle_input(now, &header(FrameType::WindowUpdate, Flags::RST, 1, 7));
        let over = header(FrameType::Data, Flags::NONE, 5, INITIAL_STREAM_WINDOW + 1);
        server.handle_input(now, &[syn(5), over].concat());
        let _ = take_bytes(&mut server);
        let records = take();
        assert_logged(
            &records,
            Level::Trace,
            "recv WindowUpdate SYN stream 1 length 0",
        );
        assert_logged(
            &records,
            Level::Debug,
            "refused stream 3: the accept backlog is full",
        );
        assert_logged(
            &records,
            Level::Debug,
            "stream 1 reset by the peer with code 7",
        );
        assert!(
            records
                .iter()
                .any(|(l, text)| *l == Level::Warn && text.starts_with("protocol error: ")),
            "{records:#?}"
        );
        assert_logged(
            &records,
            Level::Debug,
            "the latest header received: Data NONE stream 5 length 262145",
        );
        assert_logged(&records, Level::Debug, "sending GoAway with code 1");
        assert_logged(&records, Level::Trace, "send GoAway NONE stream 0 length 1");
    }

    #[test]
    fn a_keepalive_timeout_is_a_warning() {
        let keepalive = config(|c| c.keepalive_interval = Some(Duration::from_secs(1)));
        let mut pair = Pair::new(keepalive, Config::default());
        take();
        // The server hears nothing more: the keepalive ping goes unanswered.
        pair.close_transport(Side::Client);
        pair.advance(Duration::from_secs(120));
        assert_logged(
            &take(),
            Level::Warn,
            "session closed: keepalive ping went unanswered",
        );
    }
}

/// A ping counts as sent when it goes to the host, as every frame does:
/// one dropped because the session ended first was never sent.
#[test]
fn a_ping_dropped_at_the_end_is_not_counted_as_sent() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    client.ping(now).unwrap();
    client.abort(now, 0);
    let _ = take_bytes(&mut client);
    let stats = client.stats();
    assert_eq!(stats.sent.ping.frames, 0, "the ping never left");
    assert_eq!(stats.pings.sent, stats.sent.ping.frames);
}

/// A write waiting for window ends its wait when the stream is reset or
/// the session ends: nothing waits for room on a stream that can no longer
/// send, so its blocked time stops there rather than growing until the
/// application lets the stream go.
#[test]
fn a_reset_or_the_end_stops_a_wait_for_room() {
    for by_end in [false, true] {
        let mut pair = Pair::new(Config::default(), Config::default());
        let id = pair.client.open_stream(pair.now()).unwrap();
        let payload = vec![3u8; WINDOW + 100];
        assert_eq!(pair.client.stream(id).unwrap().write(&payload), Ok(WINDOW));
        pair.drive();
        let _ = pair.client.stream(id).unwrap().write(&payload[WINDOW..]);
        assert!(pair.client.stream(id).unwrap().stats().blocked);

        pair.advance(Duration::from_millis(40));
        if by_end {
            let now = pair.now();
            pair.server.abort(now, 1);
        } else {
            assert_eq!(pair.server.accept_stream(), Some(id));
            pair.server.stream(id).unwrap().reset(5);
        }
        pair.drive();
        assert!(pair.client.is_closed() == by_end, "by_end: {by_end}");
        pair.advance(Duration::from_millis(500));
        pair.client.handle_timeout(pair.now());

        let stream = pair.client.stream(id).unwrap().stats();
        assert!(!stream.blocked, "by_end: {by_end}");
        // 40 ms and the reset's way over the wire, not the 500 ms after.
        assert!(
            stream.blocked_time < Duration::from_millis(500),
            "by_end: {by_end}: {stream:?}"
        );
        assert_eq!(
            pair.client.stats().window_blocked.time,
            stream.blocked_time,
            "by_end: {by_end}"
        );
    }
}
