//! The frame audit: every frame either way, parsed from the bytes the relay
//! forwards, held against the rules a yamux peer must keep. It is written
//! from the wire format (`DESIGN.md`), not with muxplex's codec, so it
//! checks muxplex rather than agreeing with it.

use std::collections::HashMap;

/// Bytes in a frame header.
pub(crate) const HEADER_LEN: usize = 12;

const DATA: u8 = 0;
const WINDOW_UPDATE: u8 = 1;
const PING: u8 = 2;
const GO_AWAY: u8 = 3;

const SYN: u16 = 1;
const ACK: u16 = 2;
const FIN: u16 = 4;
const RST: u16 = 8;

/// Violations kept word for word; the rest are only counted.
const KEPT_VIOLATIONS: usize = 20;

/// One frame header, as it crossed the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Protocol version (0).
    pub version: u8,
    /// Frame type: 0 Data, 1 WindowUpdate, 2 Ping, 3 GoAway.
    pub kind: u8,
    /// SYN 1, ACK 2, FIN 4, RST 8.
    pub flags: u16,
    /// Stream id (0 for the session).
    pub stream: u32,
    /// Payload length, window delta, ping value or GoAway code.
    pub length: u32,
}

impl Header {
    /// Decodes the 12 big-endian header bytes.
    pub(crate) fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let u32_at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Header {
            version: bytes[0],
            kind: bytes[1],
            flags: u16::from_be_bytes([bytes[2], bytes[3]]),
            stream: u32_at(4),
            length: u32_at(8),
        }
    }

    /// How many payload bytes follow the header: only Data frames carry
    /// any.
    pub(crate) fn payload_len(&self) -> u32 {
        match self.kind {
            DATA => self.length,
            _ => 0,
        }
    }

    /// Whether a relay may go on parsing after this header: an unknown
    /// version or type leaves the framing unknown.
    pub(crate) fn is_well_formed(&self) -> bool {
        self.version == 0 && self.kind <= GO_AWAY
    }

    fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

/// Which way a frame went: index 0 from the client (the end that dialed),
/// 1 from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Sent by the client.
    FromClient = 0,
    /// Sent by the server.
    FromServer = 1,
}

impl Dir {
    fn other(self) -> Dir {
        match self {
            Dir::FromClient => Dir::FromServer,
            Dir::FromServer => Dir::FromClient,
        }
    }
}

/// What one end sent, counted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sent {
    /// Frames of any type.
    pub frames: u64,
    /// Data payload bytes.
    pub data_bytes: u64,
    /// Ping requests.
    pub pings: u64,
    /// Ping responses.
    pub pongs: u64,
    /// The code of each GoAway, in order.
    pub go_aways: Vec<u32>,
    /// The code of each RST sent on a WindowUpdate (go-yamux's error code).
    pub reset_codes: Vec<u32>,
}

/// What the audit saw of one stream.
#[derive(Default)]
struct StreamLog {
    /// Who sent the SYN.
    opener: Option<Dir>,
    /// The flags each end has sent on it so far.
    flags: [u16; 2],
}

/// The audit of one connection.
pub(crate) struct Audit {
    names: [String; 2],
    /// Which ends are muxplex, held to its own rule on FIN.
    muxplex: [bool; 2],
    streams: HashMap<u32, StreamLog>,
    /// Ping values each end asked and was not answered yet, with counts.
    asked: [HashMap<u32, u32>; 2],
    sent: [Sent; 2],
    violations: Vec<String>,
    violation_count: usize,
}

impl Audit {
    /// An audit of a connection between `client` and `server` (names for
    /// the report); `muxplex` says which of them is muxplex.
    pub(crate) fn new(client: &str, server: &str, muxplex: [bool; 2]) -> Audit {
        Audit {
            names: [client.to_string(), server.to_string()],
            muxplex,
            streams: HashMap::new(),
            asked: Default::default(),
            sent: Default::default(),
            violations: Vec::new(),
            violation_count: 0,
        }
    }

    /// What `dir`'s end sent.
    pub(crate) fn sent(&self, dir: Dir) -> &Sent {
        &self.sent[dir as usize]
    }

    /// Ping requests from `dir`'s end still unanswered.
    pub(crate) fn unanswered(&self, dir: Dir) -> u64 {
        self.asked[dir as usize]
            .values()
            .map(|&n| u64::from(n))
            .sum()
    }

    /// The first violations, and how many there were in all.
    pub(crate) fn violations(&self) -> (&[String], usize) {
        (&self.violations, self.violation_count)
    }

    fn violation(&mut self, dir: Dir, header: &Header, what: &str) {
        self.violation_count += 1;
        if self.violations.len() < KEPT_VIOLATIONS {
            let from = &self.names[dir as usize];
            self.violations
                .push(format!("{from} sent {what}: {header:?}"));
        }
    }

    /// Records one frame `dir`'s end sent, before it is forwarded.
    pub(crate) fn record(&mut self, dir: Dir, header: &Header) {
        let sent = &mut self.sent[dir as usize];
        sent.frames += 1;
        sent.data_bytes += u64::from(header.payload_len());
        if !header.is_well_formed() {
            self.violation(dir, header, "a frame of unknown version or type");
            return;
        }
        match header.kind {
            DATA | WINDOW_UPDATE => self.record_stream_frame(dir, header),
            PING => self.record_ping(dir, header),
            _ => {
                self.sent[dir as usize].go_aways.push(header.length);
                if header.stream != 0 {
                    self.violation(dir, header, "a GoAway on a stream");
                }
            }
        }
    }

    fn record_ping(&mut self, dir: Dir, header: &Header) {
        if header.stream != 0 {
            self.violation(dir, header, "a ping on a stream");
        }
        if header.has(SYN) {
            self.sent[dir as usize].pings += 1;
            *self.asked[dir as usize].entry(header.length).or_default() += 1;
        } else if header.has(ACK) {
            self.sent[dir as usize].pongs += 1;
            let asked = &mut self.asked[dir.other() as usize];
            match asked.get_mut(&header.length) {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    asked.remove(&header.length);
                }
                None => self.violation(dir, header, "a pong nobody asked for"),
            }
        }
    }

    fn record_stream_frame(&mut self, dir: Dir, header: &Header) {
        if header.kind == WINDOW_UPDATE && header.has(RST) {
            self.sent[dir as usize].reset_codes.push(header.length);
        }
        if header.stream == 0 {
            return self.violation(dir, header, "a stream frame on stream 0");
        }
        let mut problems = Vec::new();
        let log = self.streams.entry(header.stream).or_default();
        let before = log.flags[dir as usize];
        if header.has(SYN) {
            if before & SYN != 0 {
                problems.push("a second SYN");
            }
            if log.opener == Some(dir.other()) {
                problems.push("a SYN on a stream the other end opened");
            }
            let odd = header.stream % 2 == 1;
            if odd != (dir == Dir::FromClient) {
                problems.push("a SYN with the other end's stream id parity");
            }
            log.opener.get_or_insert(dir);
        } else if log.opener.is_none() {
            problems.push("a frame on a stream nobody opened");
        }
        if header.has(ACK) {
            if log.opener == Some(dir) {
                problems.push("an ACK on a stream it opened");
            }
            if before & ACK != 0 {
                problems.push("a second ACK");
            }
        }
        if header.has(FIN) && before & FIN != 0 {
            problems.push("a second FIN");
        }
        if header.payload_len() > 0 && before & FIN != 0 {
            problems.push("data after its FIN");
        }
        if header.payload_len() > 0 && header.has(FIN) && self.muxplex[dir as usize] {
            problems.push("FIN on a Data frame with payload");
        }
        log.flags[dir as usize] |= header.flags;
        for problem in problems {
            self.violation(dir, header, problem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u16, stream: u32, length: u32) -> Header {
        Header {
            version: 0,
            kind,
            flags,
            stream,
            length,
        }
    }

    fn audit() -> Audit {
        Audit::new("muxplex client", "go server", [true, false])
    }

    /// The violations `frames` (direction, header) produce.
    fn violations(frames: &[(Dir, Header)]) -> Vec<String> {
        let mut audit = audit();
        for (dir, header) in frames {
            audit.record(*dir, header);
        }
        audit.violations().0.to_vec()
    }

    use Dir::{FromClient as C, FromServer as S};

    #[test]
    fn parses_a_header() {
        let bytes = [0, 1, 0, 5, 0, 0, 0, 3, 0, 0, 1, 0];
        assert_eq!(
            Header::parse(&bytes),
            frame(WINDOW_UPDATE, SYN | FIN, 3, 256)
        );
        assert_eq!(Header::parse(&bytes).payload_len(), 0);
    }

    #[test]
    fn a_clean_stream_passes() {
        let clean = [
            (C, frame(DATA, SYN, 1, 10)),
            (S, frame(WINDOW_UPDATE, ACK, 1, 0)),
            (S, frame(DATA, 0, 1, 10)),
            (C, frame(WINDOW_UPDATE, FIN, 1, 0)),
            (S, frame(WINDOW_UPDATE, FIN, 1, 0)),
            (C, frame(WINDOW_UPDATE, 0, 1, 4096)),
            (S, frame(WINDOW_UPDATE, SYN | FIN, 2, 0)),
            (C, frame(WINDOW_UPDATE, ACK | RST, 2, 1)),
        ];
        assert_eq!(violations(&clean), Vec::<String>::new());
    }

    #[test]
    fn every_rule_can_fail() {
        let cases: [(&[(Dir, Header)], &str); 9] = [
            (
                &[(C, frame(DATA, SYN, 1, 1)), (C, frame(DATA, SYN, 1, 1))],
                "a second SYN",
            ),
            (
                &[(C, frame(DATA, SYN, 1, 1)), (S, frame(DATA, SYN, 1, 1))],
                "the other end opened",
            ),
            (&[(S, frame(DATA, SYN, 1, 1))], "parity"),
            (&[(C, frame(DATA, 0, 1, 1))], "nobody opened"),
            (
                &[(C, frame(DATA, SYN, 1, 1)), (C, frame(DATA, ACK, 1, 1))],
                "an ACK on a stream it opened",
            ),
            (
                &[
                    (C, frame(DATA, SYN, 1, 0)),
                    (S, frame(DATA, ACK, 1, 0)),
                    (S, frame(DATA, ACK, 1, 0)),
                ],
                "a second ACK",
            ),
            (
                &[
                    (C, frame(DATA, SYN, 1, 0)),
                    (C, frame(DATA, FIN, 1, 0)),
                    (C, frame(WINDOW_UPDATE, FIN, 1, 0)),
                ],
                "a second FIN",
            ),
            (
                &[(C, frame(DATA, SYN | FIN, 1, 0)), (C, frame(DATA, 0, 1, 1))],
                "data after its FIN",
            ),
            (
                &[(C, frame(DATA, SYN | FIN, 1, 5))],
                "FIN on a Data frame with payload",
            ),
        ];
        for (frames, expected) in cases {
            let found = violations(frames);
            assert!(
                found.iter().any(|v| v.contains(expected)),
                "{expected:?} not in {found:?}"
            );
        }
    }

    #[test]
    fn fin_with_payload_is_allowed_from_go() {
        assert_eq!(
            violations(&[(S, frame(DATA, SYN | FIN, 2, 5))]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn pings_are_matched_to_pongs() {
        let mut audit = audit();
        audit.record(C, &frame(PING, SYN, 0, 7));
        audit.record(S, &frame(PING, SYN, 0, 1));
        assert_eq!((audit.unanswered(C), audit.unanswered(S)), (1, 1));
        audit.record(S, &frame(PING, ACK, 0, 7));
        assert_eq!((audit.unanswered(C), audit.unanswered(S)), (0, 1));
        audit.record(S, &frame(PING, ACK, 0, 7));
        assert!(audit.violations().0[0].contains("a pong nobody asked for"));
        assert_eq!((audit.sent(C).pings, audit.sent(S).pongs), (1, 2));
    }

    #[test]
    fn go_aways_and_reset_codes_are_recorded() {
        let mut audit = audit();
        audit.record(C, &frame(DATA, SYN, 1, 0));
        audit.record(C, &frame(WINDOW_UPDATE, RST, 1, 42));
        audit.record(S, &frame(GO_AWAY, 0, 0, 0));
        assert_eq!(audit.sent(C).reset_codes, [42]);
        assert_eq!(audit.sent(S).go_aways, [0]);
        assert_eq!(audit.violations().1, 0);
    }
}
