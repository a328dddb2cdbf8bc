//! Window auto-tuning: a stream's receive window doubles (up to
//! `max_stream_window`) while the sender is limited by the round trip, and
//! the sum of all windows stays within `max_session_buffer`, as does the
//! data buffered for the application, whatever the reader does.

use std::time::Duration;

use muxplex::testing::{Pair, Rng};
use muxplex::{
    Config, Event, INITIAL_STREAM_WINDOW, Instant, RESET_BUFFER_FULL, ResetBy, Session,
    StreamError, StreamId,
};

const MIB: usize = 1024 * 1024;
/// The simulated link: 25 ms each way and 200 MB/s.
const LATENCY: Duration = Duration::from_millis(25);
const LINK_RATE: u64 = 200_000_000;
const RTT_SECS: f64 = 0.050;
/// Throughput is measured over intervals of this length.
const INTERVAL: Duration = Duration::from_millis(100);

/// What a bulk transfer achieved.
struct Transfer {
    /// Throughput in each interval, in MB/s; the last may be partial.
    rates: Vec<f64>,
    /// Bytes delivered in all.
    delivered: usize,
    /// Virtual time taken.
    elapsed: Duration,
    /// The receiver's round-trip estimate at the end.
    rtt: Option<Duration>,
}

impl Transfer {
    fn average(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64() / 1e6
    }

    /// The mean of the last `n` full intervals, in MB/s.
    fn settled(&self, n: usize) -> f64 {
        let full = &self.rates[..self.rates.len() - 1];
        let tail = &full[full.len().saturating_sub(n)..];
        tail.iter().sum::<f64>() / tail.len() as f64
    }
}

/// One stream moves `total` bytes from client to server over the simulated
/// link, with both ends configured by `config`. The writer keeps the stream
/// full, the reader takes everything as soon as it arrives (every
/// millisecond of virtual time). Stops at `total` or after `limit`.
fn bulk_transfer(config: Config, total: usize, limit: Duration) -> Transfer {
    let mut pair = Pair::new(config.clone(), config)
        .with_latency(LATENCY)
        .with_bandwidth(LINK_RATE);
    let data = vec![0x42u8; MIB];
    let id = pair.client.open_stream(pair.now()).expect("open");
    let start = pair.now();
    let mut accepted = None;
    let mut written = 0;
    let mut delivered = 0;
    let mut per_interval = vec![0usize];
    while delivered < total && pair.now().saturating_duration_since(start) < limit {
        let mut stream = pair.client.stream(id).expect("open");
        while written < total {
            let len = (total - written).min(data.len());
            match stream.write(&data[..len]) {
                Ok(n) => written += n,
                Err(StreamError::Blocked) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        // What the reader takes at the end of this tick arrived during it.
        let tick = pair.now().saturating_duration_since(start);
        let interval = (tick.as_micros() / INTERVAL.as_micros()) as usize;
        if per_interval.len() <= interval {
            per_interval.resize(interval + 1, 0);
        }
        pair.advance(Duration::from_millis(1));
        accepted = accepted.or_else(|| pair.server.accept_stream());
        let Some(peer) = accepted else { continue };
        let mut stream = pair.server.stream(peer).expect("accepted");
        while let Ok(Some(chunk)) = stream.read_chunk(usize::MAX) {
            delivered += chunk.len();
            per_interval[interval] += chunk.len();
        }
        while pair.server.poll_event().is_some() {}
        while pair.client.poll_event().is_some() {}
    }
    let rates = per_interval
        .iter()
        .map(|&bytes| bytes as f64 / INTERVAL.as_secs_f64() / 1e6)
        .collect();
    Transfer {
        rates,
        delivered,
        elapsed: pair.now().saturating_duration_since(start),
        rtt: pair.server.rtt(),
    }
}

/// The transfer's figures as one line, for the test's output: the measured
/// throughput is the point of these tests, so it is shown, not just judged.
fn describe(name: &str, transfer: &Transfer) -> String {
    let rates: Vec<String> = transfer.rates.iter().map(|r| format!("{r:.0}")).collect();
    format!(
        "{name}: {} MiB in {:?}, {:.1} MB/s on average; per 100 ms (MB/s): {}",
        transfer.delivered / MIB,
        transfer.elapsed,
        transfer.average(),
        rates.join(" ")
    )
}

#[test]
fn windows_grow_until_the_link_not_the_round_trip_limits_throughput() {
    const TOTAL: usize = 128 * MIB;
    const LIMIT: Duration = Duration::from_secs(3);
    let link = LINK_RATE as f64 / 1e6;
    let base = Config::default();
    let tuned = bulk_transfer(base.clone(), TOTAL, LIMIT);
    let fixed = bulk_transfer(
        base.clone().with_max_stream_window(INITIAL_STREAM_WINDOW),
        TOTAL,
        LIMIT,
    );
    let budgeted = bulk_transfer(base.with_max_session_buffer(MIB), TOTAL, LIMIT);
    eprintln!("{}", describe("tuned (16 MiB max window)", &tuned));
    eprintln!("{}", describe("untuned (256 KiB max window)", &fixed));
    eprintln!(
        "{}",
        describe("tuned within a 1 MiB session budget", &budgeted)
    );

    // The receiver measured the round trip by itself, to judge growth by.
    let rtt = tuned.rtt.expect("the receiver measured the RTT");
    assert!(
        rtt >= 2 * LATENCY && rtt < 3 * LATENCY,
        "RTT estimate {rtt:?}"
    );

    // Auto-tuned: slow at first (one 256 KiB window per round trip), then
    // close to the link's rate, and it moves the whole 128 MiB in time.
    let window_rate = |window: usize| window as f64 / RTT_SECS / 1e6;
    assert_eq!(tuned.delivered, TOTAL, "the tuned run finishes");
    assert!(
        tuned.rates[0] < 2.0 * window_rate(256 * 1024),
        "the first interval is limited by the initial window: {:.1} MB/s",
        tuned.rates[0]
    );
    assert!(
        tuned.settled(3) > 0.75 * link,
        "tuned throughput reaches the link rate: {:.1} of {link} MB/s",
        tuned.settled(3)
    );

    // A fixed 256 KiB window allows one window per round trip: ~5 MB/s.
    let fixed_rate = fixed.settled(10);
    assert!(
        fixed_rate > 0.7 * window_rate(256 * 1024) && fixed_rate < 1.2 * window_rate(256 * 1024),
        "untuned throughput is one window per RTT: {fixed_rate:.1} MB/s"
    );
    assert!(
        tuned.average() > 5.0 * fixed.average(),
        "tuned {:.1} MB/s is not several times untuned {:.1} MB/s",
        tuned.average(),
        fixed.average()
    );

    // A 1 MiB session budget stops the window at 1 MiB: ~21 MB/s.
    let budget_rate = budgeted.settled(10);
    assert!(
        budget_rate > 0.7 * window_rate(MIB) && budget_rate < 1.2 * window_rate(MIB),
        "budget-bounded throughput is one 1 MiB window per RTT: {budget_rate:.1} MB/s"
    );
}

/// Byte `offset` of stream `id`'s data: distinct per stream, so data that
/// lands on the wrong stream or out of order shows.
fn pattern(id: StreamId, offset: usize) -> u8 {
    (offset as u32).wrapping_add(id.get().wrapping_mul(7)) as u8
}

/// How the server's application treats the data it receives.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// Reads random amounts from random streams, now and then.
    Random,
    /// Accepts every stream and never reads.
    Never,
}

/// What became of the streams in a many-stream run.
struct Outcome {
    /// Streams the server reset for exceeding the session buffer, as the
    /// client saw them.
    reset_full: usize,
    /// The most the server held buffered at any point.
    max_buffered: usize,
}

const BUDGET: usize = 32 * MIB;

/// Moves the client's output to the server in 4 KiB pieces, checking the
/// buffer budget after every piece, and the server's output back.
fn pump(client: &mut Session, server: &mut Session, max_buffered: &mut usize) -> bool {
    let mut buf = [0u8; 4096];
    let mut moved = false;
    loop {
        let n = client.poll_transmit(&mut buf);
        if n == 0 {
            break;
        }
        moved = true;
        server.handle_input(Instant::ZERO, &buf[..n]);
        let buffered = server.buffered_bytes();
        assert!(
            buffered <= BUDGET,
            "buffered {buffered} B over the {BUDGET} B budget"
        );
        *max_buffered = (*max_buffered).max(buffered);
    }
    loop {
        let n = server.poll_transmit(&mut buf);
        if n == 0 {
            break;
        }
        moved = true;
        client.handle_input(Instant::ZERO, &buf[..n]);
    }
    moved
}

/// 1,000 client streams each write `per_stream` bytes to a server with a
/// 32 MiB session budget whose application reads as `reader` says. Checks
/// the budget after every 4 KiB of input, that every stream either
/// delivered all its data intact or was reset for the full buffer, and that
/// the session stays open.
fn many_streams(reader: Reader, per_stream: usize, seed: u64) -> (Outcome, Session, Session) {
    const STREAMS: usize = 1_000;
    let config = Config::default()
        .with_max_session_buffer(BUDGET)
        .with_keepalive_interval(None);
    let now = Instant::ZERO;
    let mut client = Session::client(config.clone(), now).expect("valid config");
    let mut server = Session::server(config, now).expect("valid config");
    let mut rng = Rng::new(seed);
    let table: Vec<u8> = (0..256 + 64 * 1024).map(|i| i as u8).collect();

    let mut opened: Vec<(StreamId, usize)> = Vec::new();
    let mut failed = std::collections::BTreeSet::new();
    let mut reset_full = 0;
    let mut accepted: Vec<StreamId> = Vec::new();
    let mut received = std::collections::BTreeMap::<StreamId, usize>::new();
    let mut max_buffered = 0;
    let mut read_buf = vec![0u8; 64 * 1024];
    loop {
        // The client opens what it may and writes what the windows allow.
        while opened.len() < STREAMS {
            match client.open_stream(now) {
                Ok(id) => opened.push((id, 0)),
                Err(muxplex::OpenError::Blocked) => break,
                Err(e) => panic!("open: {e}"),
            }
        }
        for (id, written) in opened.iter_mut() {
            if *written == per_stream || failed.contains(id) {
                continue;
            }
            let mut stream = client.stream(*id).expect("open");
            let start = (*written + id.get() as usize * 7) % 256;
            let len = (per_stream - *written).min(64 * 1024);
            match stream.write(&table[start..start + len]) {
                Ok(n) => *written += n,
                Err(StreamError::Blocked) => {}
                Err(e) => panic!("write on {id:?}: {e}"),
            }
        }
        let moved = pump(&mut client, &mut server, &mut max_buffered);

        // The server's application.
        while let Some(id) = server.accept_stream() {
            accepted.push(id);
        }
        for &id in &accepted {
            let want = match reader {
                Reader::Never => 0,
                Reader::Random if rng.chance(1, 4) => rng.range(1, read_buf.len()),
                Reader::Random => 0,
            };
            if want == 0 {
                continue;
            }
            let Ok(mut stream) = server.stream(id) else {
                continue;
            };
            match stream.read(&mut read_buf[..want]) {
                Ok(n) => {
                    let count = received.entry(id).or_default();
                    for (i, &byte) in read_buf[..n].iter().enumerate() {
                        assert_eq!(byte, pattern(id, *count + i), "data of {id:?} intact");
                    }
                    *count += n;
                }
                Err(StreamError::Blocked) | Err(StreamError::Reset { .. }) => {}
                Err(e) => panic!("read on {id:?}: {e}"),
            }
        }
        while server.poll_event().is_some() {}
        while let Some(event) = client.poll_event() {
            if let Event::StreamReset { id, by, .. } = event {
                assert_eq!(
                    by,
                    ResetBy::Peer {
                        code: RESET_BUFFER_FULL
                    },
                    "only the budget resets streams"
                );
                reset_full += 1;
                failed.insert(id);
            }
        }
        let all_written = opened.len() == STREAMS
            && opened
                .iter()
                .all(|(id, written)| *written == per_stream || failed.contains(id));
        if !moved && all_written {
            break;
        }
    }
    assert!(!server.is_closed() && !client.is_closed());
    assert!(
        max_buffered <= BUDGET,
        "buffered {max_buffered} B over the budget"
    );

    // Whatever was not reset arrived whole: read the rest and check it.
    for &id in &accepted {
        let Ok(mut stream) = server.stream(id) else {
            continue;
        };
        loop {
            match stream.read(&mut read_buf) {
                Ok(n) if n > 0 => {
                    let count = received.entry(id).or_default();
                    for (i, &byte) in read_buf[..n].iter().enumerate() {
                        assert_eq!(byte, pattern(id, *count + i), "data of {id:?} intact");
                    }
                    *count += n;
                }
                _ => break,
            }
        }
    }
    for (id, _) in &opened {
        if !failed.contains(id) {
            assert_eq!(
                received.get(id),
                Some(&per_stream),
                "{id:?} was not reset, so all of its data arrived"
            );
        }
    }
    (
        Outcome {
            reset_full,
            max_buffered,
        },
        client,
        server,
    )
}

#[test]
fn the_session_buffer_budget_holds_whatever_the_reader_does() {
    // A reader that reads now and then: the budget holds throughout.
    let (random, _, _) = many_streams(Reader::Random, 96 * 1024, 7);
    eprintln!(
        "random reader: max buffered {} KiB of {} KiB, {} streams reset for the budget",
        random.max_buffered / 1024,
        BUDGET / 1024,
        random.reset_full
    );

    // A reader that never reads: 1,000 × 128 KiB cannot fit in 32 MiB, so
    // at least the streams beyond 256 are reset, and the session stays.
    const PER_STREAM: usize = 128 * 1024;
    let (never, mut client, mut server) = many_streams(Reader::Never, PER_STREAM, 7);
    eprintln!(
        "reader that never reads: max buffered {} KiB, {} streams reset for the budget",
        never.max_buffered / 1024,
        never.reset_full
    );
    assert!(
        never.reset_full >= 1_000 - BUDGET / PER_STREAM,
        "only {} streams were reset",
        never.reset_full
    );
    assert!(
        never.max_buffered > BUDGET - PER_STREAM,
        "the budget was used"
    );
    let now = Instant::ZERO;

    // Afterwards a well-behaved stream moves far more than the budget.
    let id = client.open_stream(now).expect("open");
    let mut max_buffered = 0;
    let chunk = vec![0x77u8; 256 * 1024];
    let (mut sent, mut got) = (0, 0);
    let peer = loop {
        if sent < 64 * MIB {
            sent += client.stream(id).expect("open").write(&chunk).unwrap_or(0);
        }
        pump(&mut client, &mut server, &mut max_buffered);
        if let Some(peer) = server.accept_stream() {
            break peer;
        }
    };
    let mut buf = vec![0u8; 256 * 1024];
    while got < 64 * MIB {
        if sent < 64 * MIB {
            match client.stream(id).expect("open").write(&chunk) {
                Ok(n) => sent += n,
                Err(StreamError::Blocked) => {}
                Err(e) => panic!("write: {e}"),
            }
        }
        pump(&mut client, &mut server, &mut max_buffered);
        while let Ok(n) = server.stream(peer).expect("open").read(&mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
    }
    assert_eq!(got, 64 * MIB);
    assert!(!server.is_closed() && !client.is_closed());
}
