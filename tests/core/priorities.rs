//! Stream priorities: a higher priority always sends first, and equal
//! priorities take turns of one frame's worth of bytes.
//!
//! The client and server are joined by hand so the test can decode every
//! frame the client puts on the wire, in order, and decide exactly when the
//! application acts. A small `max_frame_size` makes many frames.

use std::collections::BTreeMap;

use muxplex::frame::{FrameDecoder, FrameType};
use muxplex::{Config, Instant, Session, StreamError, StreamId};

const FRAME: usize = 1024;
const NOW: Instant = Instant::ZERO;

/// A client and a server joined by hand: the test moves the client's frames
/// one at a time and records which stream each Data frame belongs to.
struct Link {
    client: Session,
    server: Session,
    decoder: FrameDecoder,
    /// The stream and payload length of every Data frame the client sent.
    data_frames: Vec<(StreamId, usize)>,
    /// Bytes the server's application read, per stream, with their
    /// contents checked against the writer's pattern.
    received: BTreeMap<StreamId, usize>,
    accepted: Vec<StreamId>,
}

impl Link {
    fn new() -> Self {
        let config = Config::default()
            .with_max_frame_size(FRAME as u32)
            .with_keepalive_interval(None);
        Link {
            client: Session::client(config.clone(), NOW).expect("valid config"),
            server: Session::server(config, NOW).expect("valid config"),
            decoder: FrameDecoder::new(FRAME as u32),
            data_frames: Vec::new(),
            received: BTreeMap::new(),
            accepted: Vec::new(),
        }
    }

    /// Opens a client stream at `priority`.
    fn open(&mut self, priority: i32) -> StreamId {
        let id = self.client.open_stream(NOW).expect("open");
        self.client.stream(id).expect("open").set_priority(priority);
        id
    }

    /// Writes up to `len` bytes of the stream's pattern (after the `sent`
    /// bytes already written); returns how many were taken.
    fn write(&mut self, id: StreamId, sent: usize, len: usize) -> usize {
        let data: Vec<u8> = (sent..sent + len).map(|i| pattern(id, i)).collect();
        match self.client.stream(id).expect("open").write(&data) {
            Ok(n) => n,
            Err(StreamError::Blocked) => 0,
            Err(e) => panic!("write on {id:?}: {e}"),
        }
    }

    /// Moves up to `frames` whole frames from the client to the server,
    /// decoding each; returns how many moved.
    fn send(&mut self, frames: usize) -> usize {
        for moved in 0..frames {
            let Some(transmit) = self.client.poll_transmit_frame() else {
                return moved;
            };
            let mut bytes = transmit.header().to_vec();
            bytes.extend_from_slice(transmit.payload());
            let mut input = &bytes[..];
            let frame = self
                .decoder
                .decode(&mut input)
                .expect("valid frame")
                .expect("a whole frame");
            assert!(input.is_empty());
            if frame.header.frame_type == FrameType::Data {
                let id = StreamId::new(frame.header.stream_id);
                self.data_frames.push((id, frame.payload.len()));
            }
            self.server.handle_input(NOW, &bytes);
        }
        frames
    }

    /// The server's application accepts new streams and reads everything
    /// (checking it), and the server's answers (ACKs, window updates) go
    /// back to the client.
    fn serve(&mut self) {
        while let Some(id) = self.server.accept_stream() {
            self.accepted.push(id);
        }
        let mut buf = vec![0u8; 64 * 1024];
        for &id in &self.accepted {
            let mut stream = self.server.stream(id).expect("accepted");
            let count = self.received.entry(id).or_default();
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(StreamError::Blocked) => break,
                    Ok(n) => {
                        for (i, &byte) in buf[..n].iter().enumerate() {
                            assert_eq!(byte, pattern(id, *count + i), "data of {id:?} intact");
                        }
                        *count += n;
                    }
                    Err(e) => panic!("read on {id:?}: {e}"),
                }
            }
        }
        while self.server.poll_event().is_some() {}
        loop {
            let n = self.server.poll_transmit(&mut buf);
            if n == 0 {
                break;
            }
            self.client.handle_input(NOW, &buf[..n]);
        }
        while self.client.poll_event().is_some() {}
    }
}

/// Byte `i` of a stream's data, different per stream so mixed-up data shows.
fn pattern(id: StreamId, i: usize) -> u8 {
    (i as u32).wrapping_mul(31).wrapping_add(id.get()) as u8
}

/// A stream's burst of data and where it began on the wire.
struct Burst {
    /// How many Data frames were on the wire when the burst was written.
    start: usize,
    bytes: usize,
}

#[test]
fn a_high_priority_stream_is_never_delayed_by_a_low_priority_bulk_transfer() {
    const BULK: usize = 4 * 1024 * 1024;
    // Half a window each: the reader's credit returns in full after every
    // burst, so no burst ever waits for window.
    const BURST: usize = 128 * 1024;
    let mut link = Link::new();
    let low = link.open(-3);
    let high = link.open(7);

    let mut low_sent = 0;
    let mut high_sent = 0;
    let mut bursts = Vec::new();
    let mut round = 0;
    loop {
        low_sent += link.write(low, low_sent, (BULK - low_sent).min(64 * 1024));
        // Bursts land at various points of the bulk transfer.
        if round % 13 == 5 && bursts.len() < 6 {
            let taken = link.write(high, high_sent, BURST);
            assert_eq!(taken, BURST, "the burst fits the high stream's window");
            bursts.push(Burst {
                start: link.data_frames.len(),
                bytes: BURST,
            });
            high_sent += taken;
        }
        let moved = link.send(48);
        link.serve();
        round += 1;
        if low_sent == BULK && moved == 0 {
            break;
        }
    }

    assert_eq!(bursts.len(), 6);
    assert_eq!(link.received.get(&low), Some(&BULK));
    assert_eq!(link.received.get(&high), Some(&(6 * BURST)));
    for (n, burst) in bursts.iter().enumerate() {
        // Right before the burst the bulk stream was sending...
        assert_eq!(
            link.data_frames[burst.start - 1].0,
            low,
            "burst {n}: the bulk stream was busy"
        );
        // ...then every Data frame is the high stream's until it drained...
        let mut drained = 0;
        let mut index = burst.start;
        while drained < burst.bytes {
            let (id, len) = link.data_frames[index];
            assert_eq!(
                id,
                high,
                "burst {n}: Data frame {index} belongs to the bulk stream while the high-priority stream had {} bytes left",
                burst.bytes - drained
            );
            drained += len;
            index += 1;
        }
        assert_eq!(drained, burst.bytes);
        // ...and the bulk stream picks up right after.
        assert_eq!(
            link.data_frames[index].0, low,
            "burst {n}: the bulk stream resumes"
        );
    }
}

/// Whether, over every prefix of `frames` up to `len`, the streams' frame
/// counts stay within one of each other.
fn shares_evenly(frames: &[(StreamId, usize)], streams: &[StreamId], len: usize) -> bool {
    let mut counts = vec![0usize; streams.len()];
    for &(id, _) in &frames[..len] {
        let Some(slot) = streams.iter().position(|&s| s == id) else {
            return false;
        };
        counts[slot] += 1;
        let (min, max) = (counts.iter().min(), counts.iter().max());
        if max.zip(min).is_some_and(|(max, min)| max - min > 1) {
            return false;
        }
    }
    true
}

/// Equal streams at `priority`, each with `bytes` queued, plus a stream of
/// lower priority that must wait: returns the Data frames on the wire.
fn run_equal_streams(
    count: usize,
    bytes: usize,
) -> (Vec<StreamId>, StreamId, Vec<(StreamId, usize)>) {
    let mut link = Link::new();
    let lower = link.open(4);
    assert_eq!(link.write(lower, 0, bytes), bytes);
    let equals: Vec<StreamId> = (0..count).map(|_| link.open(5)).collect();
    for &id in &equals {
        assert_eq!(link.write(id, 0, bytes), bytes);
    }
    while link.send(64) > 0 {
        link.serve();
    }
    link.serve();
    for &id in equals.iter().chain([&lower]) {
        assert_eq!(link.received.get(&id), Some(&bytes));
    }
    (equals, lower, link.data_frames)
}

#[test]
fn equal_priorities_share_the_link_evenly() {
    // 200 frames per stream, all within the initial window.
    const BYTES: usize = 200 * FRAME;
    for count in [2, 3] {
        let (equals, lower, frames) = run_equal_streams(count, BYTES);
        let shared = count * BYTES / FRAME;
        assert!(
            shares_evenly(&frames, &equals, shared),
            "{count} equal streams: frame counts drift apart: {:?}",
            &frames[..shared.min(12)]
        );
        assert!(
            frames[shared..].iter().all(|&(id, _)| id == lower),
            "the lower priority waits until the equal ones are done"
        );
    }
}

#[test]
fn raising_a_queued_stream_takes_effect_at_the_next_frame() {
    let mut link = Link::new();
    let others: Vec<StreamId> = (0..8).map(|_| link.open(0)).collect();
    let raised = link.open(0);
    for &id in others.iter().chain([&raised]) {
        assert_eq!(link.write(id, 0, 16 * FRAME), 16 * FRAME);
    }
    // A round of turns, then `raised` jumps the queue.
    link.send(20);
    let before = link.data_frames.len();
    link.client.stream(raised).expect("open").set_priority(1);
    link.send(usize::MAX);
    link.serve();
    let already = link.data_frames[..before]
        .iter()
        .filter(|&&(id, _)| id == raised)
        .count();
    let rest = 16 - already;
    let next: Vec<StreamId> = link.data_frames[before..before + rest]
        .iter()
        .map(|&(id, _)| id)
        .collect();
    assert!(
        next.iter().all(|&id| id == raised),
        "after raising, the next {rest} Data frames should all be the raised stream's: {next:?}"
    );

    // Lowering works the same way: the lowered stream waits for the others.
    let mut link = Link::new();
    let lowered = link.open(0);
    let others: Vec<StreamId> = (0..3).map(|_| link.open(0)).collect();
    for &id in [&lowered].into_iter().chain(&others) {
        assert_eq!(link.write(id, 0, 8 * FRAME), 8 * FRAME);
    }
    link.client.stream(lowered).expect("open").set_priority(-1);
    link.send(usize::MAX);
    link.serve();
    let tail: Vec<StreamId> = link.data_frames[3 * 8..]
        .iter()
        .map(|&(id, _)| id)
        .collect();
    assert_eq!(tail, vec![lowered; 8], "the lowered stream goes last");
}
