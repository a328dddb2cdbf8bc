//! Drives a client and a server session through operations and checks every
//! observation against the model. Shared by the property tests and the
//! session-pair fuzz target, which differ only in how they pick operations.

use std::time::Duration;

use muxplex::testing::{Chunking, Pair};
use muxplex::{CloseReason, Config, Event, Session, StreamError, StreamId};

use super::{End, Model, pattern};

/// One thing an application or the network does.
#[derive(Clone, Debug)]
pub enum Op {
    Open(End),
    Accept(End),
    Write {
        end: End,
        pick: usize,
        len: usize,
    },
    Read {
        end: End,
        pick: usize,
        len: usize,
        chunk: bool,
    },
    Finish {
        end: End,
        pick: usize,
    },
    Reset {
        end: End,
        pick: usize,
        code: u32,
    },
    Priority {
        end: End,
        pick: usize,
        priority: i32,
    },
    Ping(End),
    Close(End),
    /// One round of the transport at the current time.
    Step,
    /// Run the transport until quiet.
    Drive,
    Advance(Duration),
}

/// How the transport and the sessions are set up for one case.
#[derive(Clone, Debug)]
pub struct Setup {
    pub seed: u64,
    pub chunk_max: usize,
    pub latency_ms: u64,
    pub max_frame_size: u32,
    pub max_unacked: usize,
    pub accept_backlog: usize,
}

/// The sessions under test, the model, and what each application holds.
pub struct Harness {
    pair: Pair,
    model: Model,
    /// Streams each end's application holds, by end index.
    held: [Vec<u32>; 2],
    /// Sessions that have ended, and why.
    ended: [Option<CloseReason>; 2],
}

fn slot(end: End) -> usize {
    match end {
        End::Client => 0,
        End::Server => 1,
    }
}

impl Harness {
    pub fn new(setup: &Setup) -> Self {
        let config = Config::default()
            .with_max_frame_size(setup.max_frame_size)
            .with_max_unacked_outbound(setup.max_unacked)
            .with_accept_backlog(setup.accept_backlog);
        let pair = Pair::new(config.clone(), config)
            .with_seed(setup.seed)
            .with_chunking(Chunking::Random {
                max: setup.chunk_max,
            })
            .with_latency(Duration::from_millis(setup.latency_ms));
        Harness {
            pair,
            model: Model::default(),
            held: [Vec::new(), Vec::new()],
            ended: [None, None],
        }
    }

    fn session(&mut self, end: End) -> &mut Session {
        match end {
            End::Client => &mut self.pair.client,
            End::Server => &mut self.pair.server,
        }
    }

    fn pick(&self, end: End, pick: usize) -> Option<u32> {
        let held = &self.held[slot(end)];
        (!held.is_empty()).then(|| held[pick % held.len()])
    }

    fn forget(&mut self, end: End, id: u32) {
        self.held[slot(end)].retain(|&held| held != id);
    }

    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::Open(end) => {
                if let Ok(id) = self.session(end).open_stream() {
                    self.model.opened(id.get(), end);
                    self.held[slot(end)].push(id.get());
                }
            }
            Op::Accept(end) => {
                if let Some(id) = self.session(end).accept_stream() {
                    self.model.accepted(id.get(), end);
                    self.held[slot(end)].push(id.get());
                }
            }
            Op::Write { end, pick, len } => {
                if let Some(id) = self.pick(end, pick) {
                    self.write(end, id, len);
                }
            }
            Op::Read {
                end,
                pick,
                len,
                chunk,
            } => {
                if let Some(id) = self.pick(end, pick) {
                    self.read(end, id, len, chunk);
                }
            }
            Op::Finish { end, pick } => {
                if let Some(id) = self.pick(end, pick) {
                    self.finish(end, id);
                }
            }
            Op::Reset { end, pick, code } => {
                if let Some(id) = self.pick(end, pick) {
                    if let Some(stream) = self.session(end).stream(StreamId::new(id)) {
                        stream.reset(code);
                    }
                    self.model.cut(id);
                    self.forget(end, id);
                }
            }
            Op::Priority {
                end,
                pick,
                priority,
            } => {
                if let Some(id) = self.pick(end, pick)
                    && let Some(mut stream) = self.session(end).stream(StreamId::new(id))
                {
                    stream.set_priority(priority);
                }
            }
            Op::Ping(end) => {
                let now = self.pair.now();
                let _ = self.session(end).ping(now);
            }
            Op::Close(end) => self.session(end).close(),
            Op::Step => {
                self.pair.step();
            }
            Op::Drive => self.pair.drive(),
            Op::Advance(by) => self.pair.advance(by),
        }
        self.check_events();
    }

    /// Runs `act` on the stream's handle, or forgets the stream if the
    /// session no longer has it (it was freed after its end was read).
    fn with_stream<T>(
        &mut self,
        end: End,
        id: u32,
        act: impl FnOnce(muxplex::Stream<'_>) -> T,
    ) -> Option<T> {
        let result = self.session(end).stream(StreamId::new(id)).map(act);
        if result.is_none() {
            self.forget(end, id);
        }
        result
    }

    fn write(&mut self, end: End, id: u32, len: usize) {
        let offset = self.model.streams[&id].sent_by(end).written;
        let data: Vec<u8> = (0..len as u64)
            .map(|i| pattern(id, end, offset + i))
            .collect();
        let Some(result) = self.with_stream(end, id, |mut stream| stream.write(&data)) else {
            return;
        };
        match result {
            Ok(n) => {
                self.model
                    .streams
                    .get_mut(&id)
                    .unwrap()
                    .direction(end)
                    .written += n as u64
            }
            Err(StreamError::Blocked) => {}
            Err(StreamError::Finished) => {
                assert!(self.model.streams[&id].sent_by(end).finished);
            }
            Err(StreamError::Reset { .. } | StreamError::SessionClosed { .. }) => {
                self.model.cut(id)
            }
            Err(e) => panic!("unexpected write error {e:?}"),
        }
    }

    /// Reads up to `len` bytes; returns whether anything happened.
    fn read(&mut self, end: End, id: u32, len: usize, chunk: bool) -> bool {
        let result = self.with_stream(end, id, |mut stream| {
            if chunk {
                stream.read_chunk(len).map(|c| c.map(|b| b.to_vec()))
            } else {
                let mut buf = vec![0u8; len];
                stream.read(&mut buf).map(|n| {
                    buf.truncate(n);
                    (n > 0 || len == 0).then_some(buf)
                })
            }
        });
        let Some(result) = result else {
            return false;
        };
        match result {
            // A zero-length read says nothing, even after the end.
            Ok(Some(bytes)) if bytes.is_empty() => false,
            Ok(Some(bytes)) => {
                self.model.read(id, end, &bytes);
                true
            }
            Ok(None) => {
                if len > 0 || chunk {
                    self.model.eof(id, end);
                }
                false
            }
            Err(StreamError::Blocked) => false,
            Err(StreamError::Reset { .. } | StreamError::SessionClosed { .. }) => {
                self.model.cut(id);
                self.forget(end, id);
                false
            }
            Err(e) => panic!("unexpected read error {e:?}"),
        }
    }

    fn finish(&mut self, end: End, id: u32) {
        let Some(result) = self.with_stream(end, id, |mut stream| stream.finish()) else {
            return;
        };
        match result {
            Ok(()) => {
                self.model
                    .streams
                    .get_mut(&id)
                    .unwrap()
                    .direction(end)
                    .finished = true
            }
            Err(StreamError::Finished) => {
                assert!(self.model.streams[&id].sent_by(end).finished)
            }
            Err(StreamError::Reset { .. } | StreamError::SessionClosed { .. }) => {
                self.model.cut(id)
            }
            Err(e) => panic!("unexpected finish error {e:?}"),
        }
    }

    /// Drains both ends' events, checking each against the model.
    fn check_events(&mut self) {
        for end in [End::Client, End::Server] {
            while let Some(event) = self.session(end).poll_event() {
                match event {
                    Event::IncomingStream(id) => {
                        let stream = self.model.streams.get(&id.get());
                        assert!(
                            stream.is_some_and(|s| s.opener == end.other()),
                            "{end:?} told of stream {id} the peer never opened"
                        );
                    }
                    Event::Readable(id) | Event::Writable(id) => {
                        assert!(
                            self.model.streams.contains_key(&id.get()),
                            "event for unknown stream {id}"
                        );
                    }
                    Event::StreamReset { id, .. } => {
                        assert!(self.model.streams.contains_key(&id.get()));
                        self.model.cut(id.get());
                    }
                    Event::Closed(reason) => {
                        assert!(
                            !matches!(reason, CloseReason::Protocol(_)),
                            "{end:?} saw a protocol error from a well-behaved peer: {reason}"
                        );
                        assert!(self.ended[slot(end)].is_none(), "closed twice");
                        self.ended[slot(end)] = Some(reason);
                        let ids: Vec<u32> = self.model.streams.keys().copied().collect();
                        for id in ids {
                            self.model.cut(id);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Finishes everything, then drives, accepts and reads until nothing
    /// moves; the model must then be complete.
    pub fn finale(&mut self) {
        for end in [End::Client, End::Server] {
            for id in self.held[slot(end)].clone() {
                self.finish(end, id);
            }
        }
        for _ in 0..10_000 {
            self.pair.drive();
            self.check_events();
            let mut progress = false;
            for end in [End::Client, End::Server] {
                while self.apply_accept(end) {
                    progress = true;
                }
                for id in self.held[slot(end)].clone() {
                    if !self.model.streams[&id].sent_by(end).finished {
                        self.finish(end, id);
                        progress = true;
                    }
                    while self.read(end, id, 65_536, false) {
                        progress = true;
                    }
                }
            }
            self.check_events();
            if !progress {
                break;
            }
        }
        self.pair.drive();
        self.check_events();
        let mut buf = [0u8; 64];
        assert_eq!(self.pair.client.poll_transmit(&mut buf), 0, "client quiet");
        assert_eq!(self.pair.server.poll_transmit(&mut buf), 0, "server quiet");
        if self.ended == [None, None] {
            self.model.check_complete();
            assert_eq!(self.pair.client.stream_count(), 0, "client state left");
            assert_eq!(self.pair.server.stream_count(), 0, "server state left");
        }
    }

    fn apply_accept(&mut self, end: End) -> bool {
        match self.session(end).accept_stream() {
            Some(id) => {
                self.model.accepted(id.get(), end);
                self.held[slot(end)].push(id.get());
                true
            }
            None => false,
        }
    }
}

/// Turns arbitrary bytes into a setup and operations, a few bytes each, so
/// a fuzzer's inputs (and the crashes it finds) replay as harness runs.
pub struct ByteScript<'a>(&'a [u8]);

impl<'a> ByteScript<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        ByteScript(bytes)
    }

    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn word(&mut self) -> Option<usize> {
        Some(usize::from(self.byte()?) << 8 | usize::from(self.byte()?))
    }

    fn end(&mut self) -> Option<End> {
        Some(if self.byte()? & 1 == 0 {
            End::Client
        } else {
            End::Server
        })
    }

    /// The setup, from the first four bytes.
    pub fn setup(&mut self) -> Option<Setup> {
        let (a, b, c, d) = (self.byte()?, self.byte()?, self.byte()?, self.byte()?);
        Some(Setup {
            seed: u64::from(a),
            chunk_max: usize::from(b).max(1) * 64,
            latency_ms: u64::from(c % 20),
            max_frame_size: if d & 1 == 0 {
                16 * 1024
            } else {
                u32::from(d) * 8 + 1
            },
            max_unacked: if d & 2 == 0 {
                256
            } else {
                usize::from(d % 5) + 1
            },
            accept_backlog: if d & 4 == 0 { 256 } else { usize::from(d % 4) },
        })
    }

    /// The next operation, while bytes last.
    pub fn op(&mut self) -> Option<Op> {
        Some(match self.byte()? % 12 {
            0 => Op::Open(self.end()?),
            1 => Op::Accept(self.end()?),
            2 => Op::Write {
                end: self.end()?,
                pick: self.word()?,
                len: self.word()? * 5,
            },
            3 => Op::Read {
                end: self.end()?,
                pick: self.word()?,
                len: self.word()?,
                chunk: self.byte()? & 1 == 1,
            },
            4 => Op::Finish {
                end: self.end()?,
                pick: self.word()?,
            },
            5 => Op::Reset {
                end: self.end()?,
                pick: self.word()?,
                code: u32::from(self.byte()?),
            },
            6 => Op::Priority {
                end: self.end()?,
                pick: self.word()?,
                priority: i32::from(self.byte()? % 5) - 2,
            },
            7 => Op::Ping(self.end()?),
            8 => Op::Close(self.end()?),
            9 => Op::Step,
            10 => Op::Drive,
            _ => Op::Advance(Duration::from_millis(u64::from(self.byte()?))),
        })
    }
}

/// Runs a whole byte script: at most 200 operations, then the finale.
pub fn run_script(bytes: &[u8]) {
    let mut script = ByteScript::new(bytes);
    let Some(setup) = script.setup() else {
        return;
    };
    let mut harness = Harness::new(&setup);
    for _ in 0..200 {
        let Some(op) = script.op() else {
            break;
        };
        harness.apply(&op);
    }
    harness.finale();
}
