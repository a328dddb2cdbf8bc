//! The core alone: two `Session`s wired together by hand in memory, no
//! I/O and no runtime, so the figures are the state machine's own cost.

use std::io;
use std::time::Instant as Clock;

use bytes::Bytes;
use muxplex::frame::{Flags, FrameType, Header};
use muxplex::{Config, Instant, Session, StreamError};

use crate::workload::{CHUNK, PAYLOAD, mb_per_s};

/// The two sessions and the scratch buffers of the hand-written host.
pub(crate) struct Pair {
    /// The end that opens streams.
    pub client: Session,
    /// The end that accepts them.
    pub server: Session,
    wire: Vec<u8>,
    origin: Clock,
}

/// The client's counters go to the report when the pair goes.
impl Drop for Pair {
    fn drop(&mut self) {
        crate::report::record_session(self.client.stats());
    }
}

impl Pair {
    /// A fresh client and server with the default configuration.
    pub(crate) fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A fresh client and server, both with `config`.
    pub(crate) fn with_config(config: Config) -> Self {
        Pair {
            client: Session::client(config.clone(), Instant::ZERO).expect("valid config"),
            server: Session::server(config, Instant::ZERO).expect("valid config"),
            wire: vec![0; CHUNK],
            origin: Clock::now(),
        }
    }

    /// The host's monotonic time in the core's terms.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    /// Moves everything the client has to send into the server, as a
    /// transport would, in writes of up to [`CHUNK`] bytes; then drops
    /// the client's events, which nothing here waits on.
    pub(crate) fn client_to_server(&mut self) {
        let now = self.now();
        pump(&mut self.client, &mut self.server, &mut self.wire, now);
    }

    /// The same, server to client.
    pub(crate) fn server_to_client(&mut self) {
        let now = self.now();
        pump(&mut self.server, &mut self.client, &mut self.wire, now);
    }
}

fn pump(from: &mut Session, to: &mut Session, wire: &mut [u8], now: Instant) {
    loop {
        let n = from.poll_transmit(wire);
        if n == 0 {
            break;
        }
        to.handle_input(now, &wire[..n]);
    }
    // The loops here poll every stream they care about after each pump,
    // so events only need draining (they queue until polled).
    while from.poll_event().is_some() {}
}

fn stream_error(error: StreamError) -> io::Error {
    io::Error::other(error)
}

/// `total` bytes one way on one stream; MB/s through the pair.
pub(crate) fn bulk(total: u64) -> io::Result<f64> {
    let mut pair = Pair::new();
    let mut read_buf = vec![0u8; CHUNK];
    let started = Clock::now();
    let id = pair
        .client
        .open_stream(pair.now())
        .map_err(io::Error::other)?;
    let mut server_id = None;
    let (mut sent, mut received) = (0u64, 0u64);
    while received < total {
        if let Ok(mut stream) = pair.client.stream(id) {
            // Write until the peer's window is full.
            while sent < total {
                let n = (total - sent).min(CHUNK as u64) as usize;
                match stream.write(&PAYLOAD[..n]) {
                    Ok(taken) => sent += taken as u64,
                    Err(StreamError::Blocked) => break,
                    Err(e) => return Err(stream_error(e)),
                }
            }
        }
        pair.client_to_server();
        if server_id.is_none() {
            server_id = pair.server.accept_stream();
        }
        if let Some(Ok(mut stream)) = server_id.map(|id| pair.server.stream(id)) {
            loop {
                match stream.read(&mut read_buf) {
                    Ok(0) => break,
                    Ok(n) => received += n as u64,
                    Err(StreamError::Blocked) => break,
                    Err(e) => return Err(stream_error(e)),
                }
            }
        }
        // Window updates go back.
        pair.server_to_client();
    }
    Ok(mb_per_s(received, started.elapsed()))
}

/// `total` streams, each opened, sent "hello", finished, read to the end
/// and finished by the server, whose end the client reads; streams per
/// second. Opens go in batches as large as the core allows before the
/// peer's ACKs come back.
pub(crate) fn open(total: usize) -> io::Result<f64> {
    let mut pair = Pair::new();
    let mut opened = Vec::new();
    let started = Clock::now();
    let mut done = 0;
    while done < total {
        opened.clear();
        // One clock reading per turn of the loop, as a host takes it.
        let now = pair.now();
        while done + opened.len() < total {
            let id = match pair.client.open_stream(now) {
                Ok(id) => id,
                Err(muxplex::OpenError::Blocked) => break,
                Err(e) => return Err(io::Error::other(e)),
            };
            let mut stream = pair.client.stream(id).expect("just opened");
            stream.write(b"hello").map_err(stream_error)?;
            stream.finish(now).map_err(stream_error)?;
            opened.push(id);
        }
        pair.client_to_server();
        while let Some(id) = pair.server.accept_stream() {
            let mut stream = pair.server.stream(id).expect("just accepted");
            if read_to_end(&mut stream)? != 5 {
                return Err(io::Error::other("wrong message"));
            }
            stream.finish(now).map_err(stream_error)?;
        }
        pair.server_to_client();
        for &id in &opened {
            let mut stream = pair.client.stream(id).expect("open until read to the end");
            read_to_end(&mut stream)?;
            done += 1;
        }
    }
    if pair.client.stream_count() != 0 {
        return Err(io::Error::other("streams left over"));
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// `total` streams open on both ends while the server closes gracefully;
/// then the client resets them all and the server takes the RSTs in one
/// input batch, its application having read none of the errors. Streams
/// per second of that batch: each reset asks whether the close is complete,
/// which once scanned every stream (16,000 took 190 ms).
pub(crate) fn close(total: usize) -> io::Result<f64> {
    let mut pair = Pair::new();
    let mut opened = Vec::with_capacity(total);
    while opened.len() < total {
        let now = pair.now();
        while opened.len() < total {
            match pair.client.open_stream(now) {
                Ok(id) => opened.push(id),
                Err(muxplex::OpenError::Blocked) => break,
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        pair.client_to_server();
        while pair.server.accept_stream().is_some() {}
        pair.server_to_client();
    }
    pair.server.close(pair.now());
    pair.server_to_client();
    for &id in &opened {
        if let Ok(stream) = pair.client.stream(id) {
            stream.reset(0);
        }
    }
    let mut batch = Vec::new();
    let mut wire = vec![0u8; CHUNK];
    loop {
        let n = pair.client.poll_transmit(&mut wire);
        if n == 0 {
            break;
        }
        batch.extend_from_slice(&wire[..n]);
    }
    let started = Clock::now();
    pair.server.handle_input(pair.now(), &batch);
    let elapsed = started.elapsed();
    if pair.server.close_reason().is_none() {
        return Err(io::Error::other("the close did not complete"));
    }
    Ok(total as f64 / elapsed.as_secs_f64())
}

/// Reads a stream whose end has arrived; returns how many bytes it had.
fn read_to_end(stream: &mut muxplex::Stream<'_>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        match stream.read_chunk(usize::MAX) {
            Ok(Some(chunk)) => total += chunk.len(),
            Ok(None) => return Ok(total),
            Err(e) => return Err(stream_error(e)),
        }
    }
}

/// Bytes written in the drain cases: as much as one stream may buffer by
/// default (`max_stream_window`, and the session's `max_send_buffer`).
const DRAIN_BYTES: usize = 16 << 20;
/// The application's write size in the drain cases.
const DRAIN_WRITE: usize = 8 * 1024;

/// A client with one stream whose peer granted it [`DRAIN_BYTES`] of
/// window (a WindowUpdate fed as if it came from the peer), so that all of
/// it can be buffered before anything is sent.
fn drain_stream() -> io::Result<(Session, muxplex::StreamId)> {
    let mut client = Session::client(Config::default(), Instant::ZERO).map_err(io::Error::other)?;
    let id = client
        .open_stream(Instant::ZERO)
        .map_err(io::Error::other)?;
    let grant = (DRAIN_BYTES as u32).saturating_sub(muxplex::INITIAL_STREAM_WINDOW);
    let update = Header::new(FrameType::WindowUpdate, Flags::ACK, id.get(), grant);
    client.handle_input(Instant::ZERO, &update.encode());
    Ok((client, id))
}

/// Takes every frame the session has, as a vectored writer would, and
/// returns the payload bytes they carried.
fn drain(session: &mut Session) -> usize {
    let mut payload = 0;
    while let Some(frame) = session.poll_transmit_frame() {
        payload += frame.payload().len();
    }
    payload
}

/// Runs of the drain and priority cases; the fastest counts, since the
/// first pays for faulting in fresh heap pages, which says nothing about
/// the core (and a loaded machine only ever makes a run slower).
const RUNS: usize = 5;

fn fastest(run: impl Fn() -> io::Result<f64>) -> io::Result<f64> {
    (0..RUNS).try_fold(f64::INFINITY, |best, _| Ok(best.min(run()?)))
}

/// [`DRAIN_BYTES`] handed to one stream as [`DRAIN_WRITE`]-byte chunks
/// (`write_chunk`, `by_chunk`) or copied in with `write`, then drained
/// into frames; microseconds from the first write to the last frame, the
/// fastest of [`RUNS`]. The chunks are allocated before the clock starts.
pub(crate) fn drain_writes(by_chunk: bool) -> io::Result<f64> {
    fastest(|| drain_once(by_chunk))
}

fn drain_once(by_chunk: bool) -> io::Result<f64> {
    let (mut client, id) = drain_stream()?;
    let chunks: Vec<Bytes> = match by_chunk {
        true => (0..DRAIN_BYTES / DRAIN_WRITE)
            .map(|_| Bytes::from(PAYLOAD[..DRAIN_WRITE].to_vec()))
            .collect(),
        false => Vec::new(),
    };
    let started = Clock::now();
    let mut stream = client.stream(id).map_err(io::Error::other)?;
    let mut taken = 0;
    if by_chunk {
        for chunk in chunks {
            taken += stream.write_chunk(chunk).map_err(stream_error)?;
        }
    } else {
        for _ in 0..DRAIN_BYTES / DRAIN_WRITE {
            taken += stream
                .write(&PAYLOAD[..DRAIN_WRITE])
                .map_err(stream_error)?;
        }
    }
    let sent = drain(&mut client);
    let elapsed = started.elapsed();
    if taken != DRAIN_BYTES || sent != DRAIN_BYTES {
        return Err(io::Error::other(format!(
            "took {taken} and sent {sent} of {DRAIN_BYTES} bytes"
        )));
    }
    Ok(elapsed.as_secs_f64() * 1e6)
}

/// Streams in the many-priority case, and the priority levels they share.
const PRIORITY_STREAMS: usize = 4096;
const PRIORITY_LEVELS: usize = 512;
/// Bytes each stream has queued there, and the frame size cutting them.
const PRIORITY_BYTES: usize = 4096;
const PRIORITY_FRAME: u32 = 512;

/// [`PRIORITY_STREAMS`] streams with data queued (all at the default
/// priority) are spread over [`PRIORITY_LEVELS`] priorities, each move
/// taking a queued stream out of the scheduler, and drained in
/// [`PRIORITY_FRAME`]-byte frames, so that the scheduler picks among many
/// levels for every frame; microseconds from the first move to the last
/// frame, the fastest of [`RUNS`].
pub(crate) fn priorities() -> io::Result<f64> {
    fastest(priorities_once)
}

fn priorities_once() -> io::Result<f64> {
    let config = Config::default()
        .with_max_frame_size(PRIORITY_FRAME)
        .with_max_unacked_outbound(PRIORITY_STREAMS);
    let mut client = Session::client(config, Instant::ZERO).map_err(io::Error::other)?;
    let mut ids = Vec::with_capacity(PRIORITY_STREAMS);
    for _ in 0..PRIORITY_STREAMS {
        let id = client
            .open_stream(Instant::ZERO)
            .map_err(io::Error::other)?;
        let mut stream = client.stream(id).map_err(io::Error::other)?;
        if stream
            .write(&PAYLOAD[..PRIORITY_BYTES])
            .map_err(stream_error)?
            != PRIORITY_BYTES
        {
            return Err(io::Error::other("a write came up short"));
        }
        ids.push(id);
    }
    let started = Clock::now();
    for (i, &id) in ids.iter().enumerate() {
        let mut stream = client.stream(id).map_err(io::Error::other)?;
        stream.set_priority((i % PRIORITY_LEVELS) as i32);
    }
    let sent = drain(&mut client);
    let elapsed = started.elapsed();
    if sent != PRIORITY_STREAMS * PRIORITY_BYTES {
        return Err(io::Error::other(format!("sent {sent} bytes")));
    }
    Ok(elapsed.as_secs_f64() * 1e6)
}
