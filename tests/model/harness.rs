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
            Ok(Some(bytes)) => {
                self.model.read(id, end, &bytes);
                !bytes.is_empty()
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
