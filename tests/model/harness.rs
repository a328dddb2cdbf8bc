//! Drives a client and a server through operations and checks every
//! observation against the model. Both ends are muxplex sessions, or one is
//! a peer model with quirks of real peers (`Setup::peer_model`). Shared by
//! the property tests and the session-pair fuzz target, which differ only
//! in how they pick operations.

use std::time::Duration;

use muxplex::testing::{Chunking, Endpoint, Pair, Quirks, Side};
use muxplex::{CloseReason, Config, Event, Role, StreamId};

use super::ends::{Peer, Refused};
use super::{End, Model, pattern};

/// One thing an application or the network does.
#[derive(Clone, Debug)]
pub(crate) enum Op {
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
pub(crate) struct Setup {
    pub seed: u64,
    pub chunk_max: usize,
    pub latency_ms: u64,
    pub max_frame_size: u32,
    pub max_unacked: usize,
    pub accept_backlog: usize,
    /// An end played by a peer model with these quirks instead of muxplex.
    pub peer_model: Option<(End, Quirks)>,
}

/// The ends under test, the model, and what each application holds.
pub(crate) struct Harness {
    pair: Pair<Peer, Peer>,
    model: Model,
    /// Streams each end's application holds, by end index.
    held: [Vec<u32>; 2],
    /// Which ends' sessions have ended.
    ended: [bool; 2],
}

fn slot(end: End) -> usize {
    match end {
        End::Client => 0,
        End::Server => 1,
    }
}

impl Harness {
    pub(crate) fn new(setup: &Setup) -> Self {
        let config = Config::default()
            .with_max_frame_size(setup.max_frame_size)
            .with_max_unacked_outbound(setup.max_unacked)
            .with_accept_backlog(setup.accept_backlog);
        let end = |end: End, role: Role| match setup.peer_model {
            Some((modelled, quirks)) if modelled == end => Peer::model(role, quirks),
            _ => Peer::muxplex(role, config.clone()),
        };
        let client = end(End::Client, Role::Client);
        let server = end(End::Server, Role::Server);
        let pair = Pair::from_endpoints(client, server)
            .with_seed(setup.seed)
            .with_chunking(Chunking::Random {
                max: setup.chunk_max,
            })
            .with_latency(Duration::from_millis(setup.latency_ms));
        Harness {
            pair,
            model: Model::default(),
            held: [Vec::new(), Vec::new()],
            ended: [false, false],
        }
    }

    fn end(&mut self, end: End) -> &mut Peer {
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

    pub(crate) fn apply(&mut self, op: &Op) {
        match *op {
            Op::Open(end) => {
                let now = self.pair.now();
                if let Some(id) = self.end(end).open(now) {
                    self.model.opened(id.get(), end);
                    self.held[slot(end)].push(id.get());
                }
            }
            Op::Accept(end) => {
                self.apply_accept(end);
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
                    self.end(end).reset(StreamId::new(id), code);
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
                    && let Some(session) = self.end(end).session()
                    && let Ok(mut stream) = session.stream(StreamId::new(id))
                {
                    stream.set_priority(priority);
                }
            }
            Op::Ping(end) => {
                let now = self.pair.now();
                if let Some(session) = self.end(end).session() {
                    let _ = session.ping(now);
                }
            }
            Op::Close(end) => {
                let now = self.pair.now();
                self.end(end).close(now);
            }
            Op::Step => {
                self.pair.step();
            }
            Op::Drive => self.pair.drive(),
            Op::Advance(by) => self.pair.advance(by),
        }
        self.check_events();
    }

    fn write(&mut self, end: End, id: u32, len: usize) {
        let offset = self.model.streams[&id].sent_by(end).written;
        let data: Vec<u8> = (0..len as u64)
            .map(|i| pattern(id, end, offset + i))
            .collect();
        match self.end(end).write(StreamId::new(id), &data) {
            Ok(n) => {
                self.model
                    .streams
                    .get_mut(&id)
                    .unwrap()
                    .direction(end)
                    .written += n as u64
            }
            Err(refused) => self.refused(end, id, refused),
        }
    }

    /// What a refused command says: a finished stream must be one the
    /// model knows is finished, a cut one delivers a prefix, a gone one is
    /// forgotten.
    fn refused(&mut self, end: End, id: u32, refused: Refused) {
        match refused {
            Refused::Blocked => {}
            Refused::Finished => assert!(self.model.streams[&id].sent_by(end).finished),
            Refused::Cut => self.model.cut(id),
            Refused::Gone => self.forget(end, id),
        }
    }

    /// Reads up to `len` bytes; returns whether anything happened.
    fn read(&mut self, end: End, id: u32, len: usize, chunk: bool) -> bool {
        match self.end(end).read(StreamId::new(id), len, chunk) {
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
            Err(Refused::Cut) => {
                self.model.cut(id);
                self.forget(end, id);
                false
            }
            Err(Refused::Finished) => panic!("a read said the stream was finished"),
            Err(refused) => {
                self.refused(end, id, refused);
                false
            }
        }
    }

    fn finish(&mut self, end: End, id: u32) {
        let now = self.pair.now();
        match self.end(end).finish(now, StreamId::new(id)) {
            Ok(()) => {
                self.model
                    .streams
                    .get_mut(&id)
                    .unwrap()
                    .direction(end)
                    .finished = true
            }
            Err(refused) => self.refused(end, id, refused),
        }
    }

    /// Drains both ends' events, checking each against the model; a peer
    /// model has no events, only its end.
    fn check_events(&mut self) {
        for end in [End::Client, End::Server] {
            let Some(session) = self.end(end).session() else {
                let closed = self.end(end).modelled().close_reason().is_some();
                if closed && !self.ended[slot(end)] {
                    self.session_ended(end);
                }
                continue;
            };
            let events: Vec<Event> = std::iter::from_fn(|| session.poll_event()).collect();
            for event in events {
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
                        assert!(!self.ended[slot(end)], "closed twice");
                        self.session_ended(end);
                    }
                    _ => {}
                }
            }
        }
    }

    /// One end's session ended: every stream may now deliver a prefix.
    fn session_ended(&mut self, end: End) {
        self.ended[slot(end)] = true;
        let ids: Vec<u32> = self.model.streams.keys().copied().collect();
        for id in ids {
            self.model.cut(id);
        }
    }

    /// Finishes everything, then drives, accepts and reads until nothing
    /// moves; the model must then be complete.
    pub(crate) fn finale(&mut self) {
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
        if self.ended == [false, false] {
            self.model.check_complete();
            for end in [End::Client, End::Server] {
                if let Some(session) = self.end(end).session() {
                    assert_eq!(session.stream_count(), 0, "{end:?} state left");
                }
            }
            self.check_stats();
        }
    }

    /// The counters agree with the wire and with the other end, once both
    /// are quiet and every stream is gone: each end sent as many frames as
    /// its wire audit saw and exactly what the other end received, holds
    /// nothing, and every stream it had ended once, finished or reset.
    fn check_stats(&mut self) {
        let (Some(client), Some(server)) = (
            self.pair.client.session().map(|s| s.stats()),
            self.pair.server.session().map(|s| s.stats()),
        ) else {
            return;
        };
        for (side, mine, theirs) in [
            (Side::Client, &client, &server),
            (Side::Server, &server, &client),
        ] {
            assert_eq!(mine.sent, theirs.received, "{side:?} sent, as received");
            assert_eq!(
                mine.sent.total().frames,
                self.pair.wire_audit(side).frames_sent(),
                "{side:?} frames sent, as audited"
            );
            assert_eq!((mine.buffered.received, mine.buffered.unsent), (0, 0));
            let streams = mine.streams;
            assert_eq!(
                streams.opened + streams.incoming,
                streams.finished + streams.reset.total(),
                "{side:?} streams had and ended: {streams:?}"
            );
        }
    }

    fn apply_accept(&mut self, end: End) -> bool {
        match self.end(end).accept() {
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
pub(crate) struct ByteScript<'a>(&'a [u8]);

impl<'a> ByteScript<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
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
    pub(crate) fn setup(&mut self) -> Option<Setup> {
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
            peer_model: None,
        })
    }

    /// The next operation, while bytes last.
    pub(crate) fn op(&mut self) -> Option<Op> {
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
pub(crate) fn run_script(bytes: &[u8]) {
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
