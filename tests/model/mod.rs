//! A reference model of what the two ends of a session can observe,
//! written independently of the implementation and kept deliberately
//! simple: streams come in pairs (opened on one side, accepted on the
//! other), each direction is an ordered byte sequence that ends in FIN or
//! is cut by a reset, and every byte of it is a known function of its
//! stream, direction and offset, so a reader can check each byte it gets.

// The fuzz target `session_pair` compiles this module too and uses only
// the harness's script runner; the core's test binary uses all of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

pub(crate) mod ends;
pub(crate) mod harness;

/// One end of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum End {
    Client,
    Server,
}

impl End {
    pub(crate) fn other(self) -> End {
        match self {
            End::Client => End::Server,
            End::Server => End::Client,
        }
    }

    fn index(self) -> usize {
        match self {
            End::Client => 0,
            End::Server => 1,
        }
    }
}

/// The byte at `offset` of the direction that `sender` writes on `stream`.
pub(crate) fn pattern(stream: u32, sender: End, offset: u64) -> u8 {
    let mut x = (u64::from(stream) << 40) ^ ((sender.index() as u64) << 39) ^ offset;
    x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (x >> 56) as u8
}

/// One direction of one stream as the model sees it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Direction {
    /// Bytes the sender's `write` took.
    pub written: u64,
    /// Bytes the receiver has read, all checked against `pattern`.
    pub read: u64,
    /// The sender finished.
    pub finished: bool,
    /// The receiver read the end (`Ok(0)` / `Ok(None)`).
    pub eof_seen: bool,
}

/// What the model knows of a stream.
#[derive(Clone, Debug)]
pub(crate) struct StreamModel {
    pub opener: End,
    /// Whether the other end's application accepted it.
    pub accepted: bool,
    /// Whether either end reset it or the session ended under it: from
    /// then on each direction need only have delivered a prefix.
    pub cut: bool,
    /// Indexed by the sending end.
    pub directions: [Direction; 2],
}

impl StreamModel {
    pub(crate) fn direction(&mut self, sender: End) -> &mut Direction {
        &mut self.directions[sender.index()]
    }

    /// The direction `sender` writes, read-only.
    pub(crate) fn sent_by(&self, sender: End) -> &Direction {
        &self.directions[sender.index()]
    }
}

/// The model of a whole session: every stream ever opened, by id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Model {
    pub streams: BTreeMap<u32, StreamModel>,
}

impl Model {
    pub(crate) fn opened(&mut self, id: u32, opener: End) {
        let previous = self.streams.insert(
            id,
            StreamModel {
                opener,
                accepted: false,
                cut: false,
                directions: Default::default(),
            },
        );
        assert!(previous.is_none(), "stream id {id} opened twice");
    }

    /// The other end accepted `id`; it must be a stream the opener opened.
    pub(crate) fn accepted(&mut self, id: u32, by: End) {
        let stream = self
            .streams
            .get_mut(&id)
            .unwrap_or_else(|| panic!("{by:?} accepted {id}, which nobody opened"));
        assert_eq!(
            stream.opener,
            by.other(),
            "{by:?} accepted its own stream {id}"
        );
        assert!(!stream.accepted, "stream {id} accepted twice");
        stream.accepted = true;
    }

    /// `reader` read `bytes` from `id`: they must continue the sequence.
    pub(crate) fn read(&mut self, id: u32, reader: End, bytes: &[u8]) {
        let stream = self.streams.get_mut(&id).expect("reads name known streams");
        let direction = stream.direction(reader.other());
        assert!(!direction.eof_seen, "data on {id} after its end");
        for (i, &byte) in bytes.iter().enumerate() {
            let offset = direction.read + i as u64;
            assert_eq!(
                byte,
                pattern(id, reader.other(), offset),
                "stream {id}, byte {offset} from {:?}",
                reader.other()
            );
        }
        direction.read += bytes.len() as u64;
        assert!(
            direction.read <= direction.written,
            "stream {id}: read {} of {} written",
            direction.read,
            direction.written
        );
    }

    /// `reader` saw the end of `id`: only after the sender finished, and
    /// only once everything written was read, unless the stream was cut.
    pub(crate) fn eof(&mut self, id: u32, reader: End) {
        let stream = self.streams.get_mut(&id).expect("EOF names a known stream");
        let cut = stream.cut;
        let direction = stream.direction(reader.other());
        assert!(direction.finished, "EOF on {id} before the sender finished");
        assert!(
            cut || direction.read == direction.written,
            "EOF on {id} after {} of {} bytes",
            direction.read,
            direction.written
        );
        direction.eof_seen = true;
    }

    /// Marks `id` as reset or lost: from now on, prefixes suffice.
    pub(crate) fn cut(&mut self, id: u32) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.cut = true;
        }
    }

    /// After everything was finished, delivered and read on a healthy
    /// session: every direction of every uncut, accepted stream arrived
    /// whole and ended.
    pub(crate) fn check_complete(&self) {
        for (id, stream) in &self.streams {
            if stream.cut || !stream.accepted {
                continue;
            }
            for (index, direction) in stream.directions.iter().enumerate() {
                assert_eq!(
                    direction.read, direction.written,
                    "stream {id} direction {index}: read {} of {}",
                    direction.read, direction.written
                );
                assert!(direction.eof_seen, "stream {id} direction {index}: no EOF");
            }
        }
    }
}
