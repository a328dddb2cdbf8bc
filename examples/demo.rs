//! muxplex demo: a client and a server session wired together in memory,
//! driven by a hand-written sans-IO loop under a virtual clock.
//!
//! The client opens 1,000 streams and writes a distinct payload on each
//! (0 B up to about 1 MiB, so the 256 KiB yamux window fills and flow
//! control has to step in), then finishes. The server accepts every stream,
//! echoes what it reads and finishes once the client has. The client checks
//! every byte that comes back. Halfway through, the client pings the server
//! and reports the round-trip time.
//!
//! The link between the two has a latency of one round (1 ms of virtual
//! time) and carries at most `LINK_BYTES_PER_ROUND` bytes each way per
//! round, like a socket that accepts only so much at a time.
//!
//! Run it with `cargo run --release --example demo`. It exits with status 1
//! if any byte is wrong or the exchange does not complete.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant as WallClock};

use bytes::Bytes;
use muxplex::frame::{FrameType, HeaderBuffer};
use muxplex::{Config, Event, Instant, OpenError, Session, StreamError, StreamId};

/// How many streams the client opens.
const STREAMS: usize = 1_000;
/// Virtual time one round of the drive loop takes; also the link latency.
const ROUND: Duration = Duration::from_millis(1);
/// The most bytes the link takes from a session per round, each way.
const LINK_BYTES_PER_ROUND: usize = 1024 * 1024;
/// Size of the buffer `poll_transmit` copies into.
const TRANSMIT_BUF: usize = 64 * 1024;
/// The round in which the client sends its ping, mid-transfer.
const PING_ROUND: u64 = 5;
/// A bound on the rounds, far above what the exchange needs.
const MAX_ROUNDS: u64 = 100_000;

fn main() -> ExitCode {
    let started = WallClock::now();
    match run() {
        Ok(report) => {
            report.print(started.elapsed());
            if report.verified() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(message) => {
            eprintln!("demo failed: {message}");
            ExitCode::FAILURE
        }
    }
}

/// What the client sends on one stream and how far it has got.
struct Outgoing {
    payload: Vec<u8>,
    /// Bytes of `payload` handed to the session so far.
    written: usize,
    finished: bool,
    /// Bytes of the echo that matched `payload` so far.
    echoed: usize,
    /// Whether the echo diverged from `payload` (wrong byte or too long).
    corrupt: bool,
    /// Whether the echo has ended (the server's FIN was read).
    done: bool,
}

/// The server's state for one stream it echoes.
#[derive(Default)]
struct Echo {
    /// Read but not yet written back. The server reads only when this is
    /// empty, so a slow reader on the client side slows the server down
    /// instead of piling data up in memory.
    backlog: Bytes,
    /// Whether the client's FIN was read.
    client_finished: bool,
}

/// Counts frames and bytes going one way, by parsing the headers only.
#[derive(Default)]
struct WireTap {
    header: HeaderBuffer,
    /// Payload bytes of the current Data frame still to skip.
    skip: usize,
    bytes: u64,
    data: u64,
    window_updates: u64,
    pings: u64,
    go_aways: u64,
}

impl WireTap {
    fn observe(&mut self, mut wire: &[u8]) -> Result<(), String> {
        self.bytes += wire.len() as u64;
        while !wire.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(wire.len());
                self.skip -= n;
                wire = &wire[n..];
                continue;
            }
            let header = match self.header.fill(&mut wire) {
                Ok(Some(header)) => header,
                Ok(None) => continue,
                Err(e) => return Err(format!("undecodable frame on the wire: {e}")),
            };
            match header.frame_type {
                FrameType::Data => self.data += 1,
                FrameType::WindowUpdate => self.window_updates += 1,
                FrameType::Ping => self.pings += 1,
                FrameType::GoAway => self.go_aways += 1,
                _ => {}
            }
            self.skip = header.payload_len() as usize;
        }
        Ok(())
    }

    fn frames(&self) -> u64 {
        self.data + self.window_updates + self.pings + self.go_aways
    }
}

/// Everything the summary reports.
#[derive(Default)]
struct Report {
    streams: usize,
    accepted: usize,
    smallest: usize,
    largest: usize,
    client_sent: u64,
    server_received: u64,
    server_echoed: u64,
    client_received: u64,
    to_server: WireTap,
    to_client: WireTap,
    rounds: u64,
    client_writable: u64,
    server_writable: u64,
    ping_rtt: Option<Duration>,
    intact: usize,
    corrupt: usize,
    client_streams_left: usize,
    server_streams_left: usize,
}

impl Report {
    fn verified(&self) -> bool {
        self.corrupt == 0
            && self.intact == self.streams
            && self.client_sent == self.client_received
            && self.client_streams_left == 0
            && self.server_streams_left == 0
    }

    fn print(&self, wall: Duration) {
        let wire = |tap: &WireTap| {
            format!(
                "{} B in {} frames ({} data, {} window update, {} ping, {} go away)",
                grouped(tap.bytes),
                grouped(tap.frames()),
                grouped(tap.data),
                grouped(tap.window_updates),
                tap.pings,
                tap.go_aways,
            )
        };
        println!("muxplex demo: one yamux session in memory, driven by hand (sans-IO)");
        println!();
        println!(
            "streams          {} opened by the client, {} accepted and echoed by the server",
            self.streams, self.accepted
        );
        println!(
            "payload sizes    {} B .. {} B per stream",
            grouped(self.smallest as u64),
            grouped(self.largest as u64)
        );
        println!(
            "client -> server {} B written, {} B read by the server",
            grouped(self.client_sent),
            grouped(self.server_received)
        );
        println!(
            "server -> client {} B echoed, {} B read by the client",
            grouped(self.server_echoed),
            grouped(self.client_received)
        );
        println!("wire c -> s      {}", wire(&self.to_server));
        println!("wire s -> c      {}", wire(&self.to_client));
        println!(
            "drive loop       {} rounds = {} ms virtual time (latency 1 round, {} B per round each way)",
            grouped(self.rounds),
            self.rounds * ROUND.as_millis() as u64,
            grouped(LINK_BYTES_PER_ROUND as u64)
        );
        println!(
            "flow control     {} Writable events on the client, {} on the server",
            grouped(self.client_writable),
            grouped(self.server_writable)
        );
        match self.ping_rtt {
            Some(rtt) => println!(
                "ping             RTT {:.3} ms (sent in round {PING_ROUND}, link busy)",
                rtt.as_secs_f64() * 1e3
            ),
            None => println!("ping             no pong received"),
        }
        if self.verified() {
            println!(
                "verification     OK: all {} streams echoed back byte for byte",
                self.intact
            );
        } else {
            println!(
                "verification     FAILED: {} intact, {} corrupt, {} unfinished of {}",
                self.intact,
                self.corrupt,
                self.streams - self.intact - self.corrupt,
                self.streams
            );
        }
        println!(
            "stream_count()   client {}, server {}",
            self.client_streams_left, self.server_streams_left
        );
        println!("wall time        {:.2} s", wall.as_secs_f64());
    }
}

fn run() -> Result<Report, String> {
    let mut now = Instant::ZERO;
    let config = |e: muxplex::ConfigError| e.to_string();
    let mut client = Session::client(Config::default(), now).map_err(config)?;
    let mut server = Session::server(Config::default(), now).map_err(config)?;
    let mut report = Report {
        streams: STREAMS,
        smallest: usize::MAX,
        ..Report::default()
    };

    // Open streams and write what fits at once. Nothing goes to the wire
    // yet: the SYN rides on each stream's first frame. At most 256 streams
    // may await the server's ACK; the rest open after `OpenUnblocked`.
    let mut opener = Opener {
        rng: SplitMix(0x6d75_7870_6c65_7821),
        next_index: 0,
    };
    let mut outgoing: HashMap<StreamId, Outgoing> = HashMap::with_capacity(STREAMS);
    let mut scratch = vec![0u8; 64 * 1024];
    opener.open_more(&mut client, now, &mut outgoing, &mut report, &mut scratch)?;

    let mut echoes: HashMap<StreamId, Echo> = HashMap::new();
    let mut transmit_buf = vec![0u8; TRANSMIT_BUF];
    // The link, one buffer per direction: a session's output goes in at
    // the end of a round and reaches the other session in the next one.
    let mut to_server: Vec<u8> = Vec::new();
    let mut to_client: Vec<u8> = Vec::new();

    loop {
        // Drain what the sessions want to send onto the link, as much as
        // it takes this round.
        let client_drained = transmit(&mut client, &mut transmit_buf, &mut to_server);
        let server_drained = transmit(&mut server, &mut transmit_buf, &mut to_client);
        report.to_server.observe(&to_server)?;
        report.to_client.observe(&to_client)?;

        let all_done = opener.next_index == STREAMS && outgoing.values().all(|s| s.done);
        let link_idle = to_server.is_empty() && to_client.is_empty();
        if link_idle && client_drained && server_drained {
            if all_done {
                break;
            }
            return Err(format!(
                "stalled in round {} with nothing in flight",
                report.rounds
            ));
        }
        if report.rounds >= MAX_ROUNDS {
            return Err(format!("no end after {MAX_ROUNDS} rounds"));
        }

        // One round later, the bytes arrive.
        report.rounds += 1;
        now += ROUND;
        if !to_server.is_empty() {
            server.handle_input(now, &to_server);
            to_server.clear();
        }
        if !to_client.is_empty() {
            client.handle_input(now, &to_client);
            to_client.clear();
        }
        // A host asks for the session's deadline every round: the session
        // decides when it needs the clock (keepalive, timeouts).
        for session in [&mut client, &mut server] {
            if session.poll_timeout().is_some_and(|at| at <= now) {
                session.handle_timeout(now);
            }
        }
        if report.rounds == PING_ROUND {
            client.ping(now).map_err(|e| format!("ping: {e}"))?;
        }

        // The applications react to the news.
        while let Some(event) = server.poll_event() {
            server_event(&mut server, now, event, &mut echoes, &mut report)?;
        }
        while let Some(event) = client.poll_event() {
            if event == Event::OpenUnblocked {
                opener.open_more(&mut client, now, &mut outgoing, &mut report, &mut scratch)?;
                continue;
            }
            client_event(
                &mut client,
                now,
                event,
                &mut outgoing,
                &mut report,
                &mut scratch,
            )?;
        }
    }

    for stream in outgoing.values() {
        if stream.corrupt {
            report.corrupt += 1;
        } else if stream.done && stream.echoed == stream.payload.len() {
            report.intact += 1;
        }
    }
    report.client_streams_left = client.stream_count();
    report.server_streams_left = server.stream_count();
    Ok(report)
}

/// Moves up to one round's worth of a session's output onto the link.
/// Returns whether the session has nothing more to send. A real host would
/// write into a socket until it would block; what does not fit stays inside
/// the session until the next round.
fn transmit(session: &mut Session, buf: &mut [u8], link: &mut Vec<u8>) -> bool {
    while link.len() < LINK_BYTES_PER_ROUND {
        let room = (LINK_BYTES_PER_ROUND - link.len()).min(buf.len());
        let n = session.poll_transmit(&mut buf[..room]);
        if n == 0 {
            return true;
        }
        link.extend_from_slice(&buf[..n]);
    }
    false
}

fn server_event(
    server: &mut Session,
    now: Instant,
    event: Event,
    echoes: &mut HashMap<StreamId, Echo>,
    report: &mut Report,
) -> Result<(), String> {
    match event {
        Event::IncomingStream(_) => {
            // Accepting sends the ACK: the client learns its stream reached
            // this application.
            while let Some(id) = server.accept_stream() {
                report.accepted += 1;
                echoes.insert(id, Echo::default());
                server_step(server, now, id, echoes, report)?;
            }
        }
        Event::Readable(id) => server_step(server, now, id, echoes, report)?,
        Event::Writable(id) => {
            report.server_writable += 1;
            server_step(server, now, id, echoes, report)?;
        }
        Event::Closed(reason) => return Err(format!("server session closed: {reason}")),
        other => return Err(format!("server: unexpected {other:?}")),
    }
    Ok(())
}

/// Echoes what can be echoed on one stream now: flush the backlog, then
/// read more, until a write or a read would block.
fn server_step(
    server: &mut Session,
    now: Instant,
    id: StreamId,
    echoes: &mut HashMap<StreamId, Echo>,
    report: &mut Report,
) -> Result<(), String> {
    // An event may name a stream the server already finished with.
    let Some(echo) = echoes.get_mut(&id) else {
        return Ok(());
    };
    let Ok(mut stream) = server.stream(id) else {
        return Ok(());
    };
    let fail = |e: StreamError| format!("server stream {id}: {e}");
    loop {
        if !echo.backlog.is_empty() {
            match stream.write(&echo.backlog) {
                Ok(n) => {
                    report.server_echoed += n as u64;
                    echo.backlog = echo.backlog.slice(n..);
                    if !echo.backlog.is_empty() {
                        return Ok(()); // the window is full; Writable follows
                    }
                }
                Err(StreamError::Blocked) => return Ok(()),
                Err(e) => return Err(fail(e)),
            }
        }
        if echo.client_finished {
            stream.finish(now).map_err(fail)?;
            echoes.remove(&id);
            return Ok(());
        }
        match stream.read_chunk(64 * 1024) {
            Ok(Some(chunk)) => {
                report.server_received += chunk.len() as u64;
                echo.backlog = chunk;
            }
            Ok(None) => echo.client_finished = true,
            Err(StreamError::Blocked) => return Ok(()), // Readable follows
            Err(e) => return Err(fail(e)),
        }
    }
}

/// Opens the client's streams in order, as many as the session allows.
struct Opener {
    rng: SplitMix,
    next_index: usize,
}

impl Opener {
    fn open_more(
        &mut self,
        client: &mut Session,
        now: Instant,
        outgoing: &mut HashMap<StreamId, Outgoing>,
        report: &mut Report,
        scratch: &mut [u8],
    ) -> Result<(), String> {
        while self.next_index < STREAMS {
            let id = match client.open_stream(now) {
                Ok(id) => id,
                Err(OpenError::Blocked) => return Ok(()), // OpenUnblocked follows
                Err(e) => return Err(format!("open_stream: {e}")),
            };
            let index = self.next_index;
            self.next_index += 1;
            let size = payload_size(index, &mut self.rng);
            report.smallest = report.smallest.min(size);
            report.largest = report.largest.max(size);
            let mut stream = Outgoing {
                payload: payload(index as u64, size),
                written: 0,
                finished: false,
                echoed: 0,
                corrupt: false,
                done: false,
            };
            client_step(client, now, id, &mut stream, report, scratch)?;
            outgoing.insert(id, stream);
        }
        Ok(())
    }
}

fn client_event(
    client: &mut Session,
    now: Instant,
    event: Event,
    outgoing: &mut HashMap<StreamId, Outgoing>,
    report: &mut Report,
    scratch: &mut [u8],
) -> Result<(), String> {
    match event {
        Event::Readable(id) => {
            if let Some(stream) = outgoing.get_mut(&id) {
                client_step(client, now, id, stream, report, scratch)?;
            }
        }
        Event::Writable(id) => {
            report.client_writable += 1;
            if let Some(stream) = outgoing.get_mut(&id) {
                client_step(client, now, id, stream, report, scratch)?;
            }
        }
        Event::Pong { rtt } => report.ping_rtt = Some(rtt),
        Event::Closed(reason) => return Err(format!("client session closed: {reason}")),
        other => return Err(format!("client: unexpected {other:?}")),
    }
    Ok(())
}

/// Writes what the window allows, finishes once everything is written, and
/// checks whatever echo has arrived.
fn client_step(
    client: &mut Session,
    now: Instant,
    id: StreamId,
    out: &mut Outgoing,
    report: &mut Report,
    scratch: &mut [u8],
) -> Result<(), String> {
    if out.done {
        return Ok(());
    }
    let Ok(mut stream) = client.stream(id) else {
        return Err(format!("client stream {id} vanished before its echo ended"));
    };
    let fail = |e: StreamError| format!("client stream {id}: {e}");
    if !out.finished {
        if out.written < out.payload.len() {
            match stream.write(&out.payload[out.written..]) {
                Ok(n) => {
                    out.written += n;
                    report.client_sent += n as u64;
                }
                Err(StreamError::Blocked) => {}
                Err(e) => return Err(fail(e)),
            }
        }
        // A partial write means the window is full; Writable follows.
        if out.written == out.payload.len() {
            stream.finish(now).map_err(fail)?;
            out.finished = true;
        }
    }
    loop {
        match stream.read(scratch) {
            Ok(0) => {
                out.done = true;
                out.corrupt |= out.echoed != out.payload.len();
                return Ok(());
            }
            Ok(n) => {
                report.client_received += n as u64;
                let expected = out.payload.get(out.echoed..out.echoed + n);
                if expected != Some(&scratch[..n]) {
                    out.corrupt = true;
                }
                out.echoed += n;
            }
            Err(StreamError::Blocked) => return Ok(()), // Readable follows
            Err(e) => return Err(fail(e)),
        }
    }
}

/// Sizes from 0 B to about 1 MiB: mostly small, every 25th stream larger
/// than the 256 KiB window, and a few empty ones.
fn payload_size(index: usize, rng: &mut SplitMix) -> usize {
    const KIB: usize = 1024;
    match index {
        i if i % 250 == 7 => 0,
        i if i % 25 == 0 => 256 * KIB + 1 + rng.below(768 * KIB),
        _ => rng.below(48 * KIB),
    }
}

/// A payload unique to its stream: pseudo-random bytes seeded by the index.
fn payload(index: u64, size: usize) -> Vec<u8> {
    let mut rng = SplitMix(index.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0xa5a5);
    let mut data = Vec::with_capacity(size + 8);
    while data.len() < size {
        data.extend_from_slice(&rng.next().to_le_bytes());
    }
    data.truncate(size);
    data
}

/// SplitMix64: a tiny seeded generator, enough for sizes and payloads.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    fn below(&mut self, max: usize) -> usize {
        (self.next() % (max as u64 + 1)) as usize
    }
}

/// `1234567` as `1,234,567`.
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
