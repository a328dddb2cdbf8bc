//! A thousand concurrent streams, opened from both sides, each carrying
//! distinct data both ways with random write and read sizes over a
//! randomly chunked transport. Every byte must arrive once and in order,
//! every stream must finish both ways, and no state may be left behind.

use std::collections::{BTreeMap, BTreeSet};

use muxplex::testing::{Chunking, Pair, Rng, Side};
use muxplex::{Config, Event, Instant, Session, StreamError, StreamId};

/// Streams each side opens.
const PER_SIDE: usize = 500;

/// What one side's application knows about one stream.
struct Half {
    out: Vec<u8>,
    written: usize,
    expected: Vec<u8>,
    received: usize,
    finished: bool,
    eof: bool,
}

/// The data sent on `id` by the client (`from_client`) or the server:
/// a few KiB mostly, a few hundred KiB on some streams so that windows
/// run out and writers block.
fn payload(id: StreamId, from_client: bool) -> Vec<u8> {
    let mut rng = Rng::new(u64::from(id.get()) * 2 + u64::from(from_client));
    let len = if id.get() % 128 < 2 {
        rng.range(300_000, 400_000)
    } else {
        rng.range(0, 6_000)
    };
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        data.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    data.truncate(len);
    data
}

/// One side's application, driven by events: it accepts what the peer
/// opens, writes until a write comes up short and then waits for
/// `Writable`, reads after `Readable` until the stream runs dry.
struct App {
    side: Side,
    streams: BTreeMap<StreamId, Half>,
    writers: BTreeSet<StreamId>,
    readers: BTreeSet<StreamId>,
    opened: usize,
    completed: usize,
    blocked_writes: usize,
}

impl App {
    fn new(side: Side) -> Self {
        App {
            side,
            streams: BTreeMap::new(),
            writers: BTreeSet::new(),
            readers: BTreeSet::new(),
            opened: 0,
            completed: 0,
            blocked_writes: 0,
        }
    }

    fn track(&mut self, id: StreamId) {
        let from_us = self.side == Side::Client;
        let half = Half {
            out: payload(id, from_us),
            written: 0,
            expected: payload(id, !from_us),
            received: 0,
            finished: false,
            eof: false,
        };
        assert!(self.streams.insert(id, half).is_none(), "{id:?} seen twice");
        self.writers.insert(id);
    }

    /// One round of application work; returns whether it did anything.
    fn act(&mut self, session: &mut Session, rng: &mut Rng) -> bool {
        let mut acted = false;
        while let Some(event) = session.poll_event() {
            acted = true;
            match event {
                Event::IncomingStream(id) => {
                    assert_eq!(session.accept_stream(), Some(id));
                    self.track(id);
                }
                Event::Readable(id) => {
                    self.readers.insert(id);
                }
                Event::Writable(id) => {
                    self.writers.insert(id);
                }
                other => panic!("{:?}: unexpected {other:?}", self.side),
            }
        }
        if self.opened < PER_SIDE {
            for _ in 0..rng.range(1, 100).min(PER_SIDE - self.opened) {
                let now = Instant::ZERO;
                let id = session.open_stream(now).unwrap();
                self.opened += 1;
                self.track(id);
            }
            acted = true;
        }
        for id in self.writers.clone() {
            acted = true;
            self.write(session, id, rng);
        }
        for id in self.readers.clone() {
            acted = true;
            self.read(session, id, rng);
        }
        acted
    }

    fn write(&mut self, session: &mut Session, id: StreamId, rng: &mut Rng) {
        // Nobody finishes before every stream exists, so all of them are
        // open at once.
        let all_open = self.streams.len() + self.completed == 2 * PER_SIDE;
        let half = self.streams.get_mut(&id).unwrap();
        let mut stream = session.stream(id).unwrap();
        for _ in 0..rng.range(1, 3) {
            if half.written == half.out.len() {
                if !all_open {
                    break;
                }
                let now = Instant::ZERO;
                stream.finish(now).unwrap();
                half.finished = true;
                self.writers.remove(&id);
                break;
            }
            // Mostly small writes, now and then one beyond the window.
            let size = if rng.chance(1, 8) {
                rng.range(1, 300_000)
            } else {
                rng.range(1, 8192)
            };
            let end = (half.written + size).min(half.out.len());
            let wanted = end - half.written;
            match stream.write(&half.out[half.written..end]) {
                Ok(n) => {
                    half.written += n;
                    if n < wanted {
                        self.blocked_writes += 1;
                        self.writers.remove(&id);
                        break;
                    }
                }
                Err(StreamError::Blocked) => {
                    self.blocked_writes += 1;
                    self.writers.remove(&id);
                    break;
                }
                Err(e) => panic!("write on {id:?}: {e}"),
            }
        }
        self.complete_if_done(id);
    }

    fn read(&mut self, session: &mut Session, id: StreamId, rng: &mut Rng) {
        let half = self.streams.get_mut(&id).unwrap();
        let mut stream = session.stream(id).unwrap();
        let mut buf = [0u8; 8192];
        for _ in 0..rng.range(1, 3) {
            let max = rng.range(1, buf.len());
            let got = if rng.chance(1, 2) {
                stream
                    .read(&mut buf[..max])
                    .map(|n| (n > 0).then(|| buf[..n].to_vec()))
            } else {
                stream.read_chunk(max).map(|c| c.map(|c| c.to_vec()))
            };
            match got {
                Ok(Some(data)) => {
                    assert!(data.len() <= max);
                    let at = half.received;
                    assert!(
                        half.expected.get(at..at + data.len()) == Some(&data[..]),
                        "{id:?}: wrong bytes at offset {at}"
                    );
                    half.received += data.len();
                }
                Ok(None) => {
                    assert_eq!(half.received, half.expected.len(), "{id:?} ended early");
                    half.eof = true;
                    self.readers.remove(&id);
                    break;
                }
                Err(StreamError::Blocked) => {
                    self.readers.remove(&id);
                    break;
                }
                Err(e) => panic!("read on {id:?}: {e}"),
            }
        }
        self.complete_if_done(id);
    }

    fn complete_if_done(&mut self, id: StreamId) {
        if self.streams.get(&id).is_some_and(|h| h.finished && h.eof) {
            self.streams.remove(&id);
            self.completed += 1;
        }
    }
}

/// Runs the thousand streams to completion over a transport cut as
/// `chunking`, with `seed` behind every random choice.
fn thousand_streams(seed: u64, chunking: Chunking) {
    let mut pair = Pair::new(Config::default(), Config::default())
        .with_seed(seed)
        .with_chunking(chunking);
    let mut rng = Rng::new(seed ^ 0xA5A5);
    let mut apps = [App::new(Side::Client), App::new(Side::Server)];
    let mut peak = [0; 2];
    for round in 0.. {
        assert!(round < 100_000, "no end in sight");
        let mut busy = false;
        for app in &mut apps {
            busy |= app.act(pair.session(app.side), &mut rng);
        }
        busy |= pair.step();
        peak[0] = peak[0].max(pair.client.stream_count());
        peak[1] = peak[1].max(pair.server.stream_count());
        if !busy {
            break;
        }
    }
    for app in &apps {
        let stuck: Vec<_> = app.streams.keys().take(5).collect();
        assert_eq!(
            app.completed,
            2 * PER_SIDE,
            "{:?} stuck on {stuck:?}",
            app.side
        );
        assert!(app.blocked_writes > 0, "{:?} never hit a window", app.side);
    }
    assert_eq!(peak, [2 * PER_SIDE; 2], "every stream was open at once");
    assert_eq!(pair.client.stream_count(), 0);
    assert_eq!(pair.server.stream_count(), 0);
    assert!(!pair.client.is_closed() && !pair.server.is_closed());
}

#[test]
fn a_thousand_streams_both_ways_in_small_pieces() {
    thousand_streams(1, Chunking::Random { max: 100 });
}

#[test]
fn a_thousand_streams_both_ways_in_large_pieces() {
    thousand_streams(2, Chunking::Random { max: 20_000 });
}
