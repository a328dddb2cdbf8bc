//! The wire audit of the testing kit: every rule caught on hand-made
//! frames, the same verdict however the bytes are split, grants counted as
//! the sender received them, and a `Pair` that panics at the first broken
//! rule while injected bytes are never blamed on the end they pass for.

use crate::common;

use common::{data, header};
use muxplex::frame::{Flags, FrameError, FrameType};
use muxplex::testing::{Chunking, Endpoint, Pair, Rng, Side, Violation, ViolationKind, WireAudit};
use muxplex::{CloseReason, Config, Event, Instant, ProtocolError, Role, StreamId};

const WINDOW: usize = 256 * 1024;

fn kinds(violations: &[Violation]) -> Vec<ViolationKind> {
    violations.iter().map(|v| v.kind).collect()
}

/// What a client that sent `sent`, having received `received` first,
/// did wrong, with frames of at most `max` bytes.
fn audit(max: u32, received: &[u8], sent: &[u8]) -> Vec<ViolationKind> {
    let mut audit = WireAudit::new(Role::Client, max);
    audit.received(received);
    audit.sent(sent);
    kinds(audit.violations())
}

/// A client's frames carrying `total` bytes on `stream` in 16 KiB frames,
/// the first with SYN.
fn bulk(stream: u32, total: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut left = total;
    let mut flags = Flags::SYN;
    while left > 0 {
        let len = left.min(16 * 1024);
        out.extend(data(flags, stream, &vec![7; len]));
        flags = Flags::NONE;
        left -= len;
    }
    out
}

#[test]
fn each_rule_is_caught() {
    let syn = header(FrameType::WindowUpdate, Flags::SYN, 1, 0);
    let fin = header(FrameType::WindowUpdate, Flags::FIN, 1, 0);
    let ack_on_2 = header(FrameType::WindowUpdate, Flags::ACK, 2, 0);
    let cases: Vec<(&str, Vec<u8>, Vec<ViolationKind>)> = vec![
        (
            "duplicate SYN",
            [syn.clone(), data(Flags::SYN, 1, b"x")].concat(),
            vec![ViolationKind::DuplicateSyn { stream: 1 }],
        ),
        (
            "duplicate ACK",
            [ack_on_2.clone(), data(Flags::ACK, 2, b"x")].concat(),
            vec![ViolationKind::DuplicateAck { stream: 2 }],
        ),
        (
            "duplicate FIN",
            [syn.clone(), fin.clone(), fin.clone()].concat(),
            vec![ViolationKind::DuplicateFin { stream: 1 }],
        ),
        (
            "data after FIN",
            [syn.clone(), fin.clone(), data(Flags::NONE, 1, b"late")].concat(),
            vec![ViolationKind::DataAfterFin {
                stream: 1,
                length: 4,
            }],
        ),
        (
            "ACK from the opener",
            [
                syn.clone(),
                header(FrameType::WindowUpdate, Flags::ACK, 1, 0),
            ]
            .concat(),
            vec![ViolationKind::AckFromOpener { stream: 1 }],
        ),
        (
            "payload and FIN",
            data(Flags::SYN | Flags::FIN, 1, b"hi"),
            vec![ViolationKind::DataWithFin {
                stream: 1,
                length: 2,
            }],
        ),
        (
            "frame too large",
            data(Flags::SYN, 1, &[0; 16 * 1024 + 1]),
            vec![ViolationKind::FrameTooLarge {
                stream: 1,
                length: 16 * 1024 + 1,
                max: 16 * 1024,
            }],
        ),
        (
            "beyond the window",
            [bulk(1, WINDOW), data(Flags::NONE, 1, b"!")].concat(),
            vec![ViolationKind::BeyondWindow {
                stream: 1,
                length: 1,
                window: 0,
            }],
        ),
        (
            "not yamux",
            vec![1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
            vec![ViolationKind::Malformed(FrameError::UnsupportedVersion(1))],
        ),
        (
            "a clean exchange",
            [
                data(Flags::SYN, 1, b"request"),
                fin.clone(),
                data(Flags::ACK, 2, b"to the server's stream"),
                header(FrameType::WindowUpdate, Flags::FIN, 2, 0),
                header(FrameType::Ping, Flags::ACK, 0, 9),
                header(FrameType::WindowUpdate, Flags::RST, 3, 0),
            ]
            .concat(),
            vec![],
        ),
    ];
    for (name, sent, expected) in cases {
        assert_eq!(audit(16 * 1024, &[], &sent), expected, "{name}");
    }
}

#[test]
fn only_grants_the_sender_received_open_the_window() {
    let sent = [bulk(1, WINDOW), data(Flags::NONE, 1, b"!")].concat();
    let grant = header(FrameType::WindowUpdate, Flags::ACK, 1, 1);
    assert_eq!(audit(16 * 1024, &grant, &sent), []);
    // An RST's length is a code, not a grant; other streams' grants and
    // the session's own frames do not count either.
    let not_grants = [
        header(FrameType::WindowUpdate, Flags::RST, 1, 100),
        header(FrameType::WindowUpdate, Flags::NONE, 3, 100),
        header(FrameType::Ping, Flags::SYN, 0, 100),
        data(Flags::NONE, 1, &[0; 100]),
    ]
    .concat();
    assert_eq!(
        audit(16 * 1024, &not_grants, &sent),
        [ViolationKind::BeyondWindow {
            stream: 1,
            length: 1,
            window: 0
        }]
    );
}

#[test]
fn fin_on_data_may_be_allowed_for_an_end_that_sends_it() {
    let mut audit = WireAudit::new(Role::Client, 16 * 1024).with_fin_on_data(true);
    audit.sent(&data(Flags::SYN | Flags::FIN, 1, b"hi"));
    audit.sent(&data(Flags::FIN, 1, b"again"));
    assert_eq!(
        kinds(audit.violations()),
        [
            ViolationKind::DataAfterFin {
                stream: 1,
                length: 5
            },
            ViolationKind::DuplicateFin { stream: 1 }
        ]
    );
}

#[test]
fn the_verdict_does_not_depend_on_how_the_bytes_are_split() {
    let sent = [
        data(Flags::SYN, 1, b"first"),
        header(FrameType::WindowUpdate, Flags::ACK, 1, 0),
        data(Flags::FIN, 1, b"with fin"),
        data(Flags::NONE, 1, b"after"),
        bulk(3, WINDOW + 5),
        data(Flags::SYN, 5, &[1; 20_000]),
    ]
    .concat();
    let whole = audit(16 * 1024, &[], &sent);
    assert_eq!(
        whole,
        [
            ViolationKind::AckFromOpener { stream: 1 },
            ViolationKind::DataWithFin {
                stream: 1,
                length: 8
            },
            ViolationKind::DataAfterFin {
                stream: 1,
                length: 5
            },
            ViolationKind::BeyondWindow {
                stream: 3,
                length: 5,
                window: 0
            },
            ViolationKind::FrameTooLarge {
                stream: 5,
                length: 20_000,
                max: 16 * 1024
            },
        ]
    );
    let mut rng = Rng::new(3);
    for max in [1, 2, 11, 13, 4096] {
        let mut split = WireAudit::new(Role::Client, 16 * 1024);
        let mut rest = &sent[..];
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(rng.range(1, max).min(rest.len()));
            split.sent(piece);
            rest = tail;
        }
        assert_eq!(kinds(split.violations()), whole, "pieces of up to {max}");
        assert_eq!(split.frames_sent(), 4 + 17 + 1);
    }
}

/// An end that sends fixed bytes once and ignores everything.
struct Scripted {
    role: Role,
    script: Vec<u8>,
}

impl Endpoint for Scripted {
    fn role(&self) -> Role {
        self.role
    }
    fn handle_input(&mut self, _: Instant, _: &[u8]) {}
    fn handle_eof(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.script.len());
        buf[..n].copy_from_slice(&self.script[..n]);
        self.script.drain(..n);
        n
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn wire_audit(&self) -> WireAudit {
        WireAudit::new(self.role, 16 * 1024)
    }
    fn fault(&self) -> Option<&dyn std::fmt::Display> {
        None
    }
}

fn scripted(role: Role, script: Vec<u8>) -> Scripted {
    Scripted { role, script }
}

#[test]
#[should_panic(expected = "wire audit: the Client end")]
fn a_pair_panics_at_the_first_violation() {
    let client = scripted(
        Role::Client,
        [data(Flags::SYN, 1, b"fine"), data(Flags::FIN, 1, b"lost")].concat(),
    );
    let mut pair = Pair::from_endpoints(client, scripted(Role::Server, Vec::new()))
        .with_chunking(Chunking::Fixed(3));
    pair.drive();
}

#[test]
fn a_pair_audits_what_its_sessions_send() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    {
        let now = pair.now();
        let mut stream = pair.client.stream(id).unwrap();
        stream.write(&[5; 40_000]).unwrap();
        stream.finish(now).unwrap();
    }
    pair.drive();
    let accepted = pair.server.accept_stream().unwrap();
    let now = pair.now();
    pair.server.stream(accepted).unwrap().finish(now).unwrap();
    pair.drive();
    // Three Data frames and the FIN; the ACK and the server's FIN.
    assert_eq!(pair.wire_audit(Side::Client).frames_sent(), 4);
    assert_eq!(pair.wire_audit(Side::Server).frames_sent(), 1);
}

#[test]
fn injected_frames_are_not_the_senders_but_their_grants_count() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client
        .stream(id)
        .unwrap()
        .write(&vec![1; WINDOW])
        .unwrap();
    // A Data frame with FIN, and a grant the server never gave: the first is
    // not the client's output, and with the second the client may send
    // past the server's window without the audit blaming it.
    pair.inject(Side::Client, &data(Flags::SYN | Flags::FIN, 7, b"odd"));
    pair.inject(
        Side::Server,
        &header(FrameType::WindowUpdate, Flags::NONE, id.get(), 1000),
    );
    pair.drive();
    assert_eq!(pair.client.stream(id).unwrap().write(&[2; 5000]), Ok(1000));
    pair.drive();
    let closed: Vec<Event> = std::iter::from_fn(|| pair.server.poll_event())
        .filter(|e| matches!(e, Event::Closed(_)))
        .collect();
    assert_eq!(
        closed,
        [Event::Closed(CloseReason::Protocol(
            ProtocolError::FlowControlViolation {
                stream: StreamId::new(1),
                length: 1000,
                window: 0,
            }
        ))]
    );
}
