//! A hostile peer cannot grow a session's heap beyond the bound documented on
//! `Session` ("# Memory"):
//!
//! ```text
//! 16 KiB + 512 B × S + 2 × buffered + W
//! ```
//!
//! where `S` is the streams held, `buffered` the received data not yet read
//! (at most `max_session_buffer`) and `W` what the application wrote and has
//! not been sent. A counting global allocator measures the live heap of one
//! server session while the test, playing a hostile client by hand, floods it
//! with crafted frames. After each flood a well-behaved stream on the same
//! session must still work where the protocol allows.
//!
//! Beside the floods (pings, SYNs, window updates, a peer that never grants
//! window, one-byte frames), three churn scenarios check that freed streams
//! leave nothing behind: streams opened and reset while our output cannot
//! drain, streams reset for a full session buffer, and a fast honest
//! request/response load.
//!
//! Everything runs in one `#[test]` so that no other test thread allocates
//! while a scenario is measured.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use muxplex::frame::{Flags, Frame, FrameDecoder, FrameType, Header};
use muxplex::{
    CloseReason, Config, Event, GOAWAY_PROTOCOL_ERROR, Instant, ProtocolError, RESET_REFUSED,
    Session, StreamError, StreamId,
};

/// Counts the bytes of live heap allocations (and the peak), so a scenario
/// can measure exactly what a session holds.
struct CountingAllocator;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

#[allow(unsafe_code)] // a counting allocator cannot be written without it
// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only keeps counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on to `System`.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Live heap relative to a starting point, and the peak since then.
struct Meter {
    base: usize,
}

impl Meter {
    fn start() -> Self {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        Meter { base }
    }

    /// Heap held now beyond the starting point.
    fn live(&self) -> usize {
        LIVE.load(Ordering::Relaxed).saturating_sub(self.base)
    }

    /// The most heap held at any moment since the start.
    fn peak(&self) -> usize {
        PEAK.load(Ordering::Relaxed).saturating_sub(self.base)
    }
}

/// The documented bound, instantiated with what the session actually holds:
/// `streams` held, `buffered` received bytes not yet read, `unsent` bytes
/// written and not yet sent.
fn bound(streams: usize, buffered: usize, unsent: usize) -> usize {
    16 * 1024 + 32 * PENDING_RESETS + 512 * streams + 2 * buffered + unsent
}

/// RSTs the session queues on its own at most: `max(accept_backlog, 1024)`.
const PENDING_RESETS: usize = 1024;

const MAX_SESSION_BUFFER: usize = 4 * 1024 * 1024;
const MAX_STREAMS: usize = 1_000;
const ACCEPT_BACKLOG: usize = 64;

/// A small configuration so the floods run fast; keepalive is off because the
/// clock never moves.
fn config() -> Config {
    Config::default()
        .with_max_session_buffer(MAX_SESSION_BUFFER)
        .with_max_streams(MAX_STREAMS)
        .with_accept_backlog(ACCEPT_BACKLOG)
        .with_keepalive_interval(None)
}

const NOW: Instant = Instant::from_millis(1);

/// One frame header as the hostile peer writes it.
fn header(frame_type: FrameType, flags: Flags, stream: u32, length: u32) -> [u8; 12] {
    Header::new(frame_type, flags, stream, length).encode()
}

/// Feeds `wire` to the session in transport-sized pieces.
fn feed(session: &mut Session, wire: &[u8]) {
    for piece in wire.chunks(64 * 1024) {
        session.handle_input(NOW, piece);
    }
}

/// Drains the session's output frame by frame, handing each to `each` and
/// dropping it, so draining holds at most one frame on the heap and a meter
/// still sees the session's own memory.
fn drain_each(session: &mut Session, mut each: impl FnMut(&Frame)) {
    let mut buf = [0u8; 16 * 1024];
    let mut decoder = FrameDecoder::new(u32::MAX);
    loop {
        let n = session.poll_transmit(&mut buf);
        if n == 0 {
            break;
        }
        let mut input = &buf[..n];
        while let Some(frame) = decoder.decode(&mut input).expect("valid output") {
            each(&frame);
        }
    }
    assert!(!decoder.is_mid_frame(), "output ends on a frame boundary");
}

/// Drains the session's output into a list (allocates: not for use while a
/// meter runs).
fn drain(session: &mut Session) -> Vec<Frame> {
    let mut frames = Vec::new();
    drain_each(session, |frame| frames.push(frame.clone()));
    frames
}

/// Plays a well-behaved client stream: sends `payload` on `id` (opening it
/// first if `open`), lets the server's application accept it, read it and
/// write it back, and returns what came back on the wire. Proves the
/// session still carries data after a flood.
fn echo(server: &mut Session, id: u32, open: bool, payload: &[u8]) -> Vec<u8> {
    let flags = if open { Flags::SYN } else { Flags::NONE };
    let mut wire = header(FrameType::Data, flags, id, payload.len() as u32).to_vec();
    wire.extend_from_slice(payload);
    feed(server, &wire);
    let stream_id = StreamId::new(id);
    if open {
        assert_eq!(
            server.accept_stream(),
            Some(stream_id),
            "stream {id} accepted"
        );
    }
    let mut stream = server.stream(stream_id).expect("stream is open");
    let mut received = vec![0u8; payload.len()];
    let mut filled = 0;
    while filled < received.len() {
        match stream.read(&mut received[filled..]) {
            Ok(0) | Err(StreamError::Blocked) => break,
            Ok(n) => filled += n,
            Err(e) => panic!("read on stream {id}: {e}"),
        }
    }
    assert_eq!(&received[..filled], payload, "server read the payload");
    assert_eq!(stream.write(payload), Ok(payload.len()));
    let mut back = Vec::new();
    for frame in drain(server) {
        if frame.header.frame_type == FrameType::Data && frame.header.stream_id == id {
            back.extend_from_slice(&frame.payload);
        }
    }
    back
}

/// Every event queued, so the next scenario step starts clean.
fn events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

#[test]
fn hostile_peers_cannot_grow_the_heap_beyond_the_documented_bound() {
    ping_flood();
    syn_flood_never_accepted();
    syn_flood_accepted();
    window_update_flood();
    peer_never_reads();
    send_budget_across_many_streams();
    pinned_input_buffers();
    one_byte_frames_on_many_streams();
    stream_churn_while_output_blocked();
    buffer_full_churn_while_output_blocked();
    request_response_churn();
}

/// 100,000 pings while the host never drains the output: the pong queue
/// stays at `max_pending_pongs`, the rest go unanswered, and afterwards pings
/// and streams work normally.
fn ping_flood() {
    const PINGS: u32 = 100_000;
    let wire: Vec<u8> = (0..PINGS)
        .flat_map(|value| header(FrameType::Ping, Flags::SYN, 0, value))
        .collect();

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    feed(&mut server, &wire);
    let peak = meter.peak();
    assert!(
        peak <= bound(0, 0, 0),
        "ping flood: peak heap {peak} B exceeds {} B",
        bound(0, 0, 0)
    );
    eprintln!("ping flood ({PINGS} pings, not drained): peak {peak} B");

    let mut pongs = Vec::new();
    drain_each(&mut server, |frame| {
        assert_eq!(frame.header.frame_type, FrameType::Ping);
        assert!(frame.header.flags.contains(Flags::ACK));
        pongs.push(frame.header.length);
    });
    let pending = config().max_pending_pongs as u32;
    assert_eq!(
        pongs,
        (0..pending).collect::<Vec<_>>(),
        "only the queue's worth answered"
    );
    assert!(!server.is_closed());

    // Once drained, pings are answered again and streams carry data.
    feed(&mut server, &header(FrameType::Ping, Flags::SYN, 0, 7));
    let frames = drain(&mut server);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.length, 7);
    assert_eq!(
        echo(&mut server, 1, true, b"after the ping flood"),
        b"after the ping flood"
    );
}

/// 100,000 SYNs with fresh ids, each with a small payload, while the
/// application never accepts: the backlog holds `accept_backlog` streams, the
/// queued RSTs are bounded, refused payloads are skipped, not stored.
fn syn_flood_never_accepted() {
    const SYNS: u32 = 100_000;
    let payload = [0xAB; 16];
    let wire: Vec<u8> = (0..SYNS)
        .flat_map(|i| {
            let mut frame = header(FrameType::Data, Flags::SYN, 1 + 2 * i, 16).to_vec();
            frame.extend_from_slice(&payload);
            frame
        })
        .collect();

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    feed(&mut server, &wire);
    let peak = meter.peak();
    let streams = server.stream_count();
    let buffered = server.buffered_bytes();
    assert_eq!(
        streams, ACCEPT_BACKLOG,
        "the backlog bounds the streams held"
    );
    assert_eq!(buffered, ACCEPT_BACKLOG * payload.len());
    assert!(
        peak <= bound(streams, buffered, 0),
        "SYN flood: peak heap {peak} B exceeds {} B",
        bound(streams, buffered, 0)
    );
    eprintln!("SYN flood ({SYNS} SYNs, never accepted): {streams} streams held, peak {peak} B");

    let mut resets = 0;
    drain_each(&mut server, |frame| {
        assert!(frame.header.flags.contains(Flags::RST));
        assert_eq!(frame.header.length, RESET_REFUSED);
        resets += 1;
    });
    assert_eq!(resets, PENDING_RESETS, "queued RSTs are bounded");
    assert!(!server.is_closed());

    // The application clears the backlog (these streams were junk); a
    // well-behaved stream then opens and carries data.
    let announced = events(&mut server)
        .iter()
        .filter(|event| matches!(event, Event::IncomingStream(_)))
        .count();
    assert_eq!(announced, ACCEPT_BACKLOG);
    while let Some(id) = server.accept_stream() {
        server.stream(id).expect("accepted").reset(0);
    }
    drain(&mut server);
    let id = 1 + 2 * SYNS;
    assert_eq!(
        echo(&mut server, id, true, b"after the SYN flood"),
        b"after the SYN flood"
    );
}

/// SYNs with fresh ids while the application accepts each one and then
/// ignores it: streams pile up to `max_streams`, then are refused. This
/// measures what an idle stream costs.
fn syn_flood_accepted() {
    const SYNS: u32 = 20_000;
    let wire: Vec<u8> = (0..SYNS)
        .flat_map(|i| header(FrameType::WindowUpdate, Flags::SYN, 1 + 2 * i, 0))
        .collect();

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    for batch in wire.chunks(12 * ACCEPT_BACKLOG) {
        feed(&mut server, batch);
        while server.accept_stream().is_some() {}
        drain_each(&mut server, |_| {});
        while server.poll_event().is_some() {}
    }
    let peak = meter.peak();
    let live = meter.live();
    let streams = server.stream_count();
    assert_eq!(streams, MAX_STREAMS, "max_streams bounds the streams held");
    assert!(
        peak <= bound(streams, 0, 0),
        "accepted SYN flood: peak heap {peak} B exceeds {} B",
        bound(streams, 0, 0)
    );
    eprintln!(
        "accepted SYN flood: {streams} idle streams, live {live} B ({} B per stream), peak {peak} B ({} B per stream)",
        live / streams,
        peak / streams
    );
    assert!(!server.is_closed());

    // At the limit new streams are refused, but those held still work.
    assert_eq!(echo(&mut server, 1, false, b"still"), b"still");
}

/// Window updates only move counters: 100,000 increments on an open stream
/// and 100,000 on unknown streams leave the heap flat. One more that carries
/// the window past `u32::MAX` is a protocol error.
fn window_update_flood() {
    const UPDATES: u32 = 100_000;
    let mut wire = Vec::new();
    for i in 0..UPDATES {
        wire.extend_from_slice(&header(FrameType::WindowUpdate, Flags::NONE, 1, 1_000));
        wire.extend_from_slice(&header(FrameType::WindowUpdate, Flags::NONE, 3 + 2 * i, 1));
    }

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    assert_eq!(echo(&mut server, 1, true, b"before"), b"before");
    let before = meter.live();
    feed(&mut server, &wire);
    let grown = meter.live() - before;
    let peak = meter.peak();
    assert!(
        peak <= bound(1, 0, 0),
        "window update flood: peak heap {peak} B exceeds {} B",
        bound(1, 0, 0)
    );
    assert!(grown <= 1024, "window updates grew the heap by {grown} B");
    assert!(
        drain(&mut server).is_empty(),
        "window updates need no answer"
    );
    eprintln!(
        "window update flood ({} updates): heap grew {grown} B, peak {peak} B",
        2 * UPDATES
    );

    // The stream still works, and its window really grew: a 1 MiB write,
    // four initial windows' worth, is taken and sent in one go.
    assert_eq!(echo(&mut server, 1, false, b"after"), b"after");
    let big = vec![0x5A; 1024 * 1024];
    let mut stream = server.stream(StreamId::new(1)).expect("open");
    assert_eq!(stream.write(&big), Ok(big.len()));
    let mut sent = 0;
    drain_each(&mut server, |frame| sent += frame.payload.len());
    assert_eq!(sent, big.len());

    // One more increment past u32::MAX ends the session with GoAway(1).
    feed(
        &mut server,
        &header(FrameType::WindowUpdate, Flags::NONE, 1, u32::MAX),
    );
    let reason = CloseReason::Protocol(ProtocolError::WindowOverflow {
        stream: StreamId::new(1),
    });
    assert_eq!(server.close_reason(), Some(reason));
    assert!(events(&mut server).contains(&Event::Closed(reason)));
    let frames = drain(&mut server);
    assert!(
        frames
            .iter()
            .any(|frame| frame.header.frame_type == FrameType::GoAway
                && frame.header.length == GOAWAY_PROTOCOL_ERROR),
        "GoAway(1) goes out"
    );
}

/// The peer opens streams and never grants window: our application writes
/// as much as it can into each. Writes stop at the peer's 256 KiB window, so
/// the unsent data `W` is bounded, whether or not the host drains output.
fn peer_never_reads() {
    const STREAMS: u32 = 64;
    const WINDOW: usize = muxplex::INITIAL_STREAM_WINDOW as usize;
    let wire: Vec<u8> = (0..STREAMS)
        .flat_map(|i| header(FrameType::WindowUpdate, Flags::SYN, 1 + 2 * i, 0))
        .collect();
    // Writes in pieces that are not a power of two, as an application would.
    let piece = [0x33u8; 1000];

    let mut ids = Vec::with_capacity(STREAMS as usize);
    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    feed(&mut server, &wire);
    while let Some(id) = server.accept_stream() {
        ids.push(id);
    }
    let mut unsent = 0;
    for &id in &ids {
        let mut stream = server.stream(id).expect("accepted");
        loop {
            match stream.write(&piece) {
                Ok(n) => unsent += n,
                Err(StreamError::Blocked) => break,
                Err(e) => panic!("write: {e}"),
            }
        }
    }
    assert_eq!(
        unsent,
        STREAMS as usize * WINDOW,
        "writes stop at the window"
    );
    let streams = server.stream_count();
    let live = meter.live();
    let peak = meter.peak();
    eprintln!(
        "peer never reads: {streams} streams, W = {unsent} B unsent, live {live} B, peak {peak} B (bound {} B)",
        bound(streams, 0, unsent)
    );
    assert!(
        live <= bound(streams, 0, unsent),
        "unread peer: heap {live} B exceeds {} B",
        bound(streams, 0, unsent)
    );
    // A write that grows a send buffer holds the old one until it is copied
    // over: at most half the new one, so half a window here.
    assert!(
        peak <= bound(streams, 0, unsent) + WINDOW / 2,
        "unread peer: peak heap {peak} B exceeds {} B",
        bound(streams, 0, unsent) + WINDOW / 2
    );

    // The host drains: everything fits the peer's windows and leaves; after
    // that nothing more may be written and the heap is back to the streams.
    let mut sent = 0;
    drain_each(&mut server, |frame| sent += frame.payload.len());
    assert_eq!(sent, unsent);
    for &id in &ids {
        assert_eq!(
            server.stream(id).expect("open").write(&piece),
            Err(StreamError::Blocked)
        );
    }
    let live = meter.live();
    assert!(
        live <= bound(streams, 0, 0),
        "after draining: heap {live} B exceeds {} B",
        bound(streams, 0, 0)
    );
    let id = 1 + 2 * STREAMS;
    assert_eq!(echo(&mut server, id, true, b"still works"), b"still works");
}

/// The hostile echo client of the reliability report: many streams, each
/// sent its full initial window, while the echo is never read. Every
/// stream's window would let the application buffer 256 KiB; the session's
/// send budget holds the sum to `max_send_buffer`, and as the output drains
/// the waiting writers are woken in the order they waited, so each stream
/// still gets its whole window out.
fn send_budget_across_many_streams() {
    const STREAMS: u32 = 64;
    const BUDGET: usize = 1024 * 1024;
    const WINDOW: usize = muxplex::INITIAL_STREAM_WINDOW as usize;
    let wire: Vec<u8> = (0..STREAMS)
        .flat_map(|i| header(FrameType::WindowUpdate, Flags::SYN, 1 + 2 * i, 0))
        .collect();
    let piece = [0x5au8; 1000];

    let mut ids = Vec::with_capacity(STREAMS as usize);
    let mut written = vec![0usize; STREAMS as usize];
    let mut order = Vec::with_capacity(4 * STREAMS as usize);
    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server =
        Session::server(config().with_max_send_buffer(BUDGET), now).expect("valid config");
    feed(&mut server, &wire);
    while let Some(id) = server.accept_stream() {
        ids.push(id);
    }
    // The application writes to every stream until blocked.
    let write_all = |server: &mut Session, id: StreamId, written: &mut [usize]| {
        let mut stream = server.stream(id).expect("accepted");
        loop {
            match stream.write(&piece) {
                Ok(n) => written[(id.get() as usize - 1) / 2] += n,
                Err(StreamError::Blocked) => return,
                Err(e) => panic!("write: {e}"),
            }
        }
    };
    for &id in &ids {
        write_all(&mut server, id, &mut written);
    }
    let unsent: usize = ids
        .iter()
        .map(|&id| server.stream(id).expect("open").unsent())
        .sum();
    assert!(unsent <= BUDGET, "unsent {unsent} B beyond the budget");
    assert!(
        unsent > BUDGET - piece.len(),
        "the budget is used: {unsent}"
    );
    assert!(
        written[STREAMS as usize - 1] == 0,
        "the last stream found no room"
    );
    let cut_short: Vec<StreamId> = ids
        .iter()
        .copied()
        .filter(|id| written[(id.get() as usize - 1) / 2] < WINDOW)
        .collect();
    let streams = server.stream_count();
    // Send buffers grow by doubling, so their memory is at most twice what
    // they hold.
    let peak_bound = bound(streams, 0, 2 * BUDGET);
    // The host drains a frame at a time; the application writes whenever a
    // stream becomes writable again. The peer never grants more window.
    let mut sent = 0;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = server.poll_transmit(&mut buf);
        sent += n;
        let mut woke = false;
        while let Some(event) = server.poll_event() {
            if let Event::Writable(id) = event {
                order.push(id);
                write_all(&mut server, id, &mut written);
                woke = true;
            }
        }
        assert!(
            meter.peak() <= peak_bound,
            "send budget: peak heap {} B exceeds {peak_bound} B",
            meter.peak()
        );
        if n == 0 && !woke {
            break;
        }
    }
    assert!(sent > STREAMS as usize * WINDOW, "everything left");
    assert!(
        written.iter().all(|&w| w == WINDOW),
        "every stream got its whole window out: {written:?}"
    );
    // The streams cut short first were woken first.
    assert_eq!(
        order[..cut_short.len()],
        cut_short[..],
        "woken in the order they waited"
    );
    eprintln!(
        "send budget: {streams} streams, budget {BUDGET} B, peak {} B (bound {peak_bound} B)",
        meter.peak()
    );
    let id = 1 + 2 * STREAMS;
    assert_eq!(echo(&mut server, id, true, b"still works"), b"still works");
}

/// The pinning attack of the reliability report: each 64 KiB input holds
/// an 8 KiB payload for a stream the application never reads, then 56 KiB
/// for a stream that does not exist. Kept as slices, the small payloads
/// would hold every input alive (eight times what they hold); the session
/// copies them out once the pinned inputs pass 1.125 times the bytes held
/// plus 1 MiB.
fn pinned_input_buffers() {
    const STREAMS: u32 = 64;
    const PER_STREAM: usize = 6;
    const PAYLOAD: usize = 8 * 1024;
    const INPUT: usize = 64 * 1024;
    let syns: Vec<u8> = (0..STREAMS)
        .flat_map(|i| header(FrameType::WindowUpdate, Flags::SYN, 1 + 2 * i, 0))
        .collect();

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    feed(&mut server, &syns);
    while server.accept_stream().is_some() {}
    for round in 0..PER_STREAM {
        for i in 0..STREAMS {
            let mut input = Vec::with_capacity(INPUT);
            let stream = 1 + 2 * i;
            input.extend_from_slice(&header(
                FrameType::Data,
                Flags::NONE,
                stream,
                PAYLOAD as u32,
            ));
            input.resize(12 + PAYLOAD, round as u8);
            let filler = (INPUT - input.len() - 12) as u32;
            // Odd ids above every opened one: never opened, so skipped.
            input.extend_from_slice(&header(FrameType::Data, Flags::NONE, 10_001, filler));
            input.resize(INPUT, 0xee);
            server.handle_input_bytes(NOW, bytes::Bytes::from(input));
        }
    }
    let unread = server.buffered_bytes();
    assert_eq!(unread, STREAMS as usize * PER_STREAM * PAYLOAD);
    let streams = server.stream_count();
    let live = meter.live();
    let limit = 512 * streams + unread + unread / 8 + 1024 * 1024 + 64 * 1024;
    eprintln!("pinned inputs: {unread} B unread, live {live} B (limit {limit} B)");
    assert!(
        live <= limit,
        "pinned inputs: heap {live} B for {unread} B unread exceeds {limit} B"
    );
    assert!(live <= bound(streams, unread, 0));
    // Everything is still there, in order.
    for i in 0..STREAMS {
        let mut stream = server.stream(StreamId::new(1 + 2 * i)).expect("open");
        let mut got = vec![0u8; PER_STREAM * PAYLOAD];
        let mut filled = 0;
        while filled < got.len() {
            filled += stream.read(&mut got[filled..]).expect("readable");
        }
        for (round, piece) in got.chunks(PAYLOAD).enumerate() {
            assert!(
                piece.iter().all(|&b| b == round as u8),
                "stream {i} round {round}"
            );
        }
    }
    drain(&mut server);
    let id = 1 + 2 * STREAMS;
    assert_eq!(echo(&mut server, id, true, b"still works"), b"still works");
}

/// One-byte Data frames on a thousand streams the application accepted and
/// does not read: small payloads are packed, so the heap stays within the
/// bound instead of paying a chunk per byte.
fn one_byte_frames_on_many_streams() {
    const STREAMS: u32 = MAX_STREAMS as u32;
    const ROUNDS: u32 = 1_000;
    let mut wire = Vec::with_capacity((STREAMS * (ROUNDS + 1) * 13) as usize);
    for i in 0..STREAMS {
        wire.extend_from_slice(&header(FrameType::WindowUpdate, Flags::SYN, 1 + 2 * i, 0));
    }
    let opens = wire.len();
    for round in 0..ROUNDS {
        for i in 0..STREAMS {
            wire.extend_from_slice(&header(FrameType::Data, Flags::NONE, 1 + 2 * i, 1));
            wire.push(round as u8);
        }
    }

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    for batch in wire[..opens].chunks(12 * ACCEPT_BACKLOG) {
        feed(&mut server, batch);
        while server.accept_stream().is_some() {}
    }
    feed(&mut server, &wire[opens..]);
    let peak = meter.peak();
    let streams = server.stream_count();
    let buffered = server.buffered_bytes();
    assert_eq!(streams, MAX_STREAMS);
    assert_eq!(buffered, (STREAMS * ROUNDS) as usize);
    eprintln!(
        "one-byte frames: {streams} streams, {buffered} B buffered, peak {peak} B (bound {} B)",
        bound(streams, buffered, 0)
    );
    assert!(
        peak <= bound(streams, buffered, 0),
        "one-byte frames: peak heap {peak} B exceeds {} B",
        bound(streams, buffered, 0)
    );

    // The data is intact and in order, and the streams still answer.
    let mut stream = server.stream(StreamId::new(1)).expect("open");
    let mut buf = vec![0u8; ROUNDS as usize + 1];
    assert_eq!(stream.read(&mut buf), Ok(ROUNDS as usize));
    assert!(
        buf[..ROUNDS as usize]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == i as u8)
    );
    drain(&mut server);
    assert_eq!(echo(&mut server, 1, false, b"still"), b"still");
}

/// The peer churns streams while it never reads what we send (so the host
/// cannot drain its output): each stream it opens with a request, our
/// application accepts, reads, answers and finishes it, then the peer resets
/// it and the application lets it go. Only live streams may cost memory.
fn stream_churn_while_output_blocked() {
    const CYCLES: u32 = 100_000;
    let mut opens = Vec::with_capacity(CYCLES as usize * 15);
    let mut resets = Vec::with_capacity(CYCLES as usize * 12);
    for i in 0..CYCLES {
        opens.extend_from_slice(&header(
            FrameType::Data,
            Flags::SYN | Flags::FIN,
            1 + 2 * i,
            3,
        ));
        opens.extend_from_slice(b"req");
        resets.extend_from_slice(&header(FrameType::WindowUpdate, Flags::RST, 1 + 2 * i, 0));
    }

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    let mut buf = [0u8; 8];
    for (open, reset) in opens.chunks(15).zip(resets.chunks(12)) {
        server.handle_input(NOW, open);
        let id = server.accept_stream().expect("announced");
        let mut stream = server.stream(id).expect("accepted");
        assert_eq!(stream.read(&mut buf), Ok(3));
        assert_eq!(stream.write(b"resp"), Ok(4));
        stream.finish(now).expect("finish");
        server.handle_input(NOW, reset);
        while let Some(event) = server.poll_event() {
            if let Event::StreamReset { id, .. } = event {
                let mut stream = server.stream(id).expect("held until released");
                assert!(matches!(
                    stream.read(&mut buf),
                    Err(StreamError::Reset { .. })
                ));
                assert!(stream.release());
            }
        }
    }
    let peak = meter.peak();
    let streams = server.stream_count();
    eprintln!(
        "stream churn ({CYCLES} streams, output never drained): {streams} streams held, peak {peak} B"
    );
    assert!(
        peak <= bound(streams, 0, 0),
        "stream churn: peak heap {peak} B exceeds {} B",
        bound(streams, 0, 0)
    );
}

/// With the session buffer full of data the application has not read yet,
/// the peer keeps opening streams with one byte each, while it never reads
/// what we send: each stream is reset for the full buffer, and the RSTs must
/// not pile up.
fn buffer_full_churn_while_output_blocked() {
    const CYCLES: u32 = 100_000;
    const WINDOW: u32 = muxplex::INITIAL_STREAM_WINDOW;
    let fillers = (MAX_SESSION_BUFFER / WINDOW as usize) as u32;
    let chunk = vec![0x11u8; WINDOW as usize];
    let mut fill = Vec::new();
    for i in 0..fillers {
        fill.extend_from_slice(&header(FrameType::Data, Flags::SYN, 1 + 2 * i, WINDOW));
        fill.extend_from_slice(&chunk);
    }
    let mut churn = Vec::with_capacity(CYCLES as usize * 13);
    for i in fillers..fillers + CYCLES {
        churn.extend_from_slice(&header(FrameType::Data, Flags::SYN, 1 + 2 * i, 1));
        churn.push(0x22);
    }
    let now = Instant::ZERO;

    let mut server = Session::server(config(), now).expect("valid config");
    feed(&mut server, &fill);
    while server.accept_stream().is_some() {}
    assert_eq!(server.buffered_bytes(), MAX_SESSION_BUFFER);
    let meter = Meter::start();
    let mut buf = [0u8; 8];
    for open in churn.chunks(13) {
        server.handle_input(NOW, open);
        let id = server.accept_stream().expect("announced");
        let mut stream = server.stream(id).expect("accepted");
        assert_eq!(
            stream.read(&mut buf),
            Err(StreamError::Reset {
                by: muxplex::ResetBy::Session(muxplex::ResetCause::BufferFull),
                delivery: muxplex::Delivery::Delivered
            })
        );
        assert!(stream.release());
        while server.poll_event().is_some() {}
    }
    let peak = meter.peak();
    let mut resets = 0;
    drain_each(&mut server, |frame| {
        if frame.header.flags.contains(Flags::RST) {
            assert_eq!(frame.header.length, muxplex::RESET_BUFFER_FULL);
            resets += 1;
        }
    });
    assert_eq!(resets, PENDING_RESETS, "queued RSTs are bounded");
    eprintln!(
        "buffer-full churn ({CYCLES} streams reset, output never drained): peak growth {peak} B"
    );
    assert!(
        peak <= bound(1, 0, 0),
        "buffer-full churn: heap grew by {peak} B, more than {} B",
        bound(1, 0, 0)
    );
    assert!(!server.is_closed());
    assert_eq!(server.stream_count(), fillers as usize);
}

/// A busy but honest request/response load: the peer opens a stream with a
/// request and FIN, our application answers and finishes, the host drains,
/// and the stream is freed. Freed streams must leave nothing behind, however
/// many there were (no time passes, so no deadline expires).
fn request_response_churn() {
    const CYCLES: u32 = 100_000;
    let mut opens = Vec::with_capacity(CYCLES as usize * 15);
    for i in 0..CYCLES {
        opens.extend_from_slice(&header(
            FrameType::Data,
            Flags::SYN | Flags::FIN,
            1 + 2 * i,
            3,
        ));
        opens.extend_from_slice(b"req");
    }

    let meter = Meter::start();
    let now = Instant::ZERO;
    let mut server = Session::server(config(), now).expect("valid config");
    let mut buf = [0u8; 8];
    let mut answers = 0;
    for open in opens.chunks(15) {
        server.handle_input(NOW, open);
        let id = server.accept_stream().expect("announced");
        let mut stream = server.stream(id).expect("accepted");
        assert_eq!(stream.read(&mut buf), Ok(3));
        assert_eq!(stream.read(&mut buf), Ok(0));
        assert_eq!(stream.write(b"resp"), Ok(4));
        stream.finish(now).expect("finish");
        drain_each(&mut server, |frame| {
            if frame.header.flags.contains(Flags::FIN) {
                answers += 1;
            }
        });
        while server.poll_event().is_some() {}
    }
    assert_eq!(answers, CYCLES);
    let peak = meter.peak();
    let streams = server.stream_count();
    assert_eq!(streams, 0, "finished streams are freed");
    eprintln!("request/response churn ({CYCLES} streams): peak {peak} B");
    assert!(
        peak <= bound(1, 0, 0),
        "request/response churn: peak heap {peak} B exceeds {} B",
        bound(1, 0, 0)
    );
}
