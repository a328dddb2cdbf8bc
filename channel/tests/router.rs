//! The sans-IO routing table, driven by hand: matching, refusals with
//! their codes, bounded backlogs and pending sets, deadlines.

use std::time::Duration;

use muxplex::Instant;
use muxplex_channel::preamble::{Limits, Open, RejectCode};
use muxplex_channel::router::{ListenError, Routed, Router, RouterConfig};

fn open(protocol: &str, id: &[u8]) -> Vec<u8> {
    Open::new(protocol, id, b"hs")
        .encode(&Limits::default())
        .unwrap()
}

/// Feeds a whole stream's first bytes; the stream is named by a number.
fn deliver(router: &mut Router<u32>, stream: u32, wire: &[u8]) -> Routed<u32> {
    let pending = router.incoming(Instant::ZERO, stream).unwrap();
    let mut input = wire;
    router
        .input(pending, &mut input)
        .expect("a complete message")
}

fn refused_code(routed: Routed<u32>) -> RejectCode {
    match routed {
        Routed::Refused { reject, .. } => reject.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn exact_id_wins_over_any_id() {
    let mut router = Router::new(RouterConfig::default());
    let any = router.listen("chat", None, 4).unwrap();
    let seven = router.listen("chat", Some(&[7]), 4).unwrap();
    assert!(
        matches!(deliver(&mut router, 1, &open("chat", &[7])), Routed::Queued(l) if l == seven)
    );
    assert!(matches!(deliver(&mut router, 2, &open("chat", &[8])), Routed::Queued(l) if l == any));
    let request = router.accept(seven).unwrap();
    assert_eq!((request.stream, &request.open.id[..]), (1, &[7][..]));
    assert_eq!(request.open.handshake, b"hs");
    assert_eq!(router.accept(any).unwrap().stream, 2);
    assert!(router.accept(any).is_none());
}

#[test]
fn unclaimed_channels_are_refused_with_the_channel() {
    let mut router = Router::new(RouterConfig::default());
    router.listen("chat", Some(&[1]), 4).unwrap();
    match deliver(&mut router, 1, &open("chat", &[2])) {
        Routed::Refused {
            stream,
            reject,
            open,
        } => {
            assert_eq!(stream, 1);
            assert_eq!(reject.code, RejectCode::NO_LISTENER);
            assert!(reject.reason.contains("\"chat\""), "{}", reject.reason);
            assert_eq!(open.unwrap().id, [2]);
        }
        other => panic!("{other:?}"),
    }
    let code = refused_code(deliver(&mut router, 2, &open("mail", &[1])));
    assert_eq!(code, RejectCode::NO_LISTENER);
}

#[test]
fn backlog_is_bounded_and_fifo() {
    let mut router = Router::new(RouterConfig::default());
    let listener = router.listen("p", None, 2).unwrap();
    assert!(matches!(
        deliver(&mut router, 1, &open("p", b"")),
        Routed::Queued(_)
    ));
    assert!(matches!(
        deliver(&mut router, 2, &open("p", b"")),
        Routed::Queued(_)
    ));
    let code = refused_code(deliver(&mut router, 3, &open("p", b"")));
    assert_eq!(code, RejectCode::BACKLOG_FULL);
    assert_eq!(router.accept(listener).unwrap().stream, 1);
    // Accepting made room.
    assert!(matches!(
        deliver(&mut router, 4, &open("p", b"")),
        Routed::Queued(_)
    ));
    assert_eq!(router.accept(listener).unwrap().stream, 2);
    assert_eq!(router.accept(listener).unwrap().stream, 4);
}

#[test]
fn unlisten_hands_back_the_backlog_and_frees_the_route() {
    let mut router = Router::new(RouterConfig::default());
    let listener = router.listen("p", Some(b"x"), 4).unwrap();
    assert!(matches!(
        deliver(&mut router, 1, &open("p", b"x")),
        Routed::Queued(_)
    ));
    let left: Vec<u32> = router
        .unlisten(listener)
        .into_iter()
        .map(|r| r.stream)
        .collect();
    assert_eq!(left, [1]);
    let code = refused_code(deliver(&mut router, 2, &open("p", b"x")));
    assert_eq!(code, RejectCode::NO_LISTENER);
    // The same key may be listened for again.
    router.listen("p", Some(b"x"), 4).unwrap();
}

#[test]
fn listen_refuses_duplicates_and_unreachable_keys() {
    let mut router: Router<u32> = Router::new(RouterConfig::default());
    router.listen("p", None, 1).unwrap();
    assert_eq!(
        router.listen("p", None, 1),
        Err(ListenError::AlreadyListening)
    );
    router.listen("p", Some(b""), 1).unwrap();
    assert_eq!(router.listen("q", None, 0), Err(ListenError::ZeroBacklog));
    assert!(matches!(
        router.listen("", None, 1),
        Err(ListenError::Field(_))
    ));
    let long = "x".repeat(256);
    assert!(matches!(
        router.listen(&long, None, 1),
        Err(ListenError::Field(_))
    ));
}

#[test]
fn the_preamble_deadline_refuses_with_timeout() {
    let mut config = RouterConfig::default();
    config.preamble_timeout = Duration::from_secs(5);
    let mut router: Router<u32> = Router::new(config);
    let start = Instant::from_millis(1_000);
    let pending = router.incoming(start, 9).unwrap();
    // Half a message, then silence.
    let wire = open("p", b"");
    assert!(router.input(pending, &mut &wire[..5]).is_none());
    let deadline = start + Duration::from_secs(5);
    assert_eq!(router.poll_timeout(), Some(deadline));
    assert!(router.poll_expired(Instant::from_millis(5_999)).is_none());
    let (stream, reject) = router.poll_expired(deadline).unwrap();
    assert_eq!((stream, reject.code), (9, RejectCode::TIMEOUT));
    assert!(router.poll_timeout().is_none());
    assert!(router.needed(pending).is_none());
}

#[test]
fn pending_streams_are_bounded() {
    let mut config = RouterConfig::default();
    config.max_pending = 2;
    let mut router: Router<u32> = Router::new(config);
    router.incoming(Instant::ZERO, 1).unwrap();
    let second = router.incoming(Instant::ZERO, 2).unwrap();
    assert!(!router.has_room());
    assert_eq!(router.incoming(Instant::ZERO, 3), Err(3));
    assert_eq!(router.remove(second), Some(2));
    assert!(router.has_room());
    assert_eq!(router.pending().map(|(_, s)| *s).collect::<Vec<_>>(), [1]);
}

#[test]
fn malformed_and_foreign_streams() {
    let mut router: Router<u32> = Router::new(RouterConfig::default());
    router.listen("p", None, 4).unwrap();
    let code = refused_code(deliver(&mut router, 1, b"mxch\x07"));
    assert_eq!(code, RejectCode::UNSUPPORTED_VERSION);
    let mut empty_protocol = open("p", b"");
    empty_protocol[6] = 0;
    let code = refused_code(deliver(&mut router, 2, &empty_protocol));
    assert_eq!(code, RejectCode::MALFORMED);
    // A plain stream: the router gives it back with what it took.
    let pending = router.incoming(Instant::ZERO, 3).unwrap();
    let mut input = &b"mxGET /"[..];
    match router.input(pending, &mut input) {
        Some(Routed::NotAChannel { stream, prefix }) => {
            assert_eq!((stream, &prefix[..]), (3, &b"mx"[..]));
            assert_eq!(input, b"GET /");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn needed_reads_never_pass_the_message() {
    let mut router: Router<u32> = Router::new(RouterConfig::default());
    let listener = router.listen("p", None, 4).unwrap();
    let wire = [&open("p", b"id")[..], b"channel data"].concat();
    let pending = router.incoming(Instant::ZERO, 1).unwrap();
    let mut at = 0;
    // As the async layer reads: never more than the router needs.
    let routed = loop {
        let need = router.needed(pending).unwrap();
        let mut input = &wire[at..at + need];
        at += need;
        if let Some(routed) = router.input(pending, &mut input) {
            assert!(input.is_empty());
            break routed;
        }
    };
    assert!(matches!(routed, Routed::Queued(_)));
    assert_eq!(&wire[at..], b"channel data");
    assert_eq!(router.accept(listener).unwrap().open.id, b"id");
}

#[test]
fn a_stream_ending_before_its_open_message() {
    let mut router: Router<u32> = Router::new(RouterConfig::default());
    router.listen("p", None, 4).unwrap();
    // Within the magic bytes, or with none: a plain stream, whole.
    for (stream, sent) in [(1, &b"mxc"[..]), (2, b"")] {
        let pending = router.incoming(Instant::ZERO, stream).unwrap();
        assert!(router.input(pending, &mut &sent[..]).is_none());
        match router.end(pending) {
            Some(Routed::NotAChannel { stream: s, prefix }) => {
                assert_eq!((s, &prefix[..]), (stream, sent));
            }
            other => panic!("{other:?}"),
        }
    }
    // Inside the open message: refused, so the opener learns why.
    let wire = open("p", b"id");
    let pending = router.incoming(Instant::ZERO, 3).unwrap();
    assert!(
        router
            .input(pending, &mut &wire[..wire.len() - 1])
            .is_none()
    );
    assert_eq!(
        refused_code(router.end(pending).unwrap()),
        RejectCode::MALFORMED
    );
    // Either way the stream is no longer pending.
    assert!(router.end(pending).is_none());
    assert!(router.pending().next().is_none());
}

#[test]
fn a_router_always_has_room_for_one_stream() {
    let mut config = RouterConfig::default();
    config.max_pending = 0;
    let mut router: Router<u32> = Router::new(config);
    assert!(router.has_room());
    router.incoming(Instant::ZERO, 1).unwrap();
    assert!(!router.has_room());
}

mod props {
    use std::collections::BTreeMap;

    use muxplex::Instant;
    use muxplex_channel::preamble::{DecodeError, Limits, Open, OpenDecoder, RejectCode};
    use muxplex_channel::router::{ListenerId, Routed, Router, RouterConfig};
    use proptest::prelude::*;

    /// A stream's first bytes: a valid open of a few protocols and ids,
    /// one cut short or with a header byte changed, or arbitrary bytes.
    fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
        let open = (
            prop::sample::select(vec!["a", "b", "c"]),
            prop::sample::select(vec![&b""[..], b"\x01"]),
        )
            .prop_map(|(p, id)| Open::new(p, id, b"hs").encode(&Limits::default()).unwrap());
        prop_oneof![
            4 => open.clone(),
            1 => (open.clone(), any::<prop::sample::Index>())
                .prop_map(|(w, i)| w[..i.index(w.len())].to_vec()),
            // One byte changed anywhere: magic, version, kind, a length.
            2 => (open, any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut w, i, b)| {
                let at = i.index(w.len().min(14));
                w[at] = b;
                w
            }),
            1 => prop::collection::vec(any::<u8>(), 0..40),
        ]
    }

    proptest! {
        /// Interleaved, arbitrarily chunked input on several streams routes
        /// each stream as its open message alone says, and every listener's
        /// backlog stays within its bound.
        #[test]
        fn routing_matches_the_decoder_and_the_table(
            streams in prop::collection::vec(stream_bytes(), 1..8),
            chunk in 1usize..16,
        ) {
            let mut router: Router<usize> = Router::new(RouterConfig::default());
            let any_a = router.listen("a", None, 2).unwrap();
            let b_one = router.listen("b", Some(b"\x01"), 2).unwrap();
            let mut queued: BTreeMap<ListenerId, usize> = BTreeMap::new();
            let ids: Vec<_> = (0..streams.len())
                .map(|s| router.incoming(Instant::ZERO, s).unwrap())
                .collect();
            let mut offsets = vec![0; streams.len()];
            let mut open_streams: Vec<usize> = (0..streams.len()).collect();
            while !open_streams.is_empty() {
                open_streams.retain(|&s| {
                    let wire = &streams[s];
                    let end = (offsets[s] + chunk).min(wire.len());
                    let mut input = &wire[offsets[s]..end];
                    let routed = router.input(ids[s], &mut input);
                    offsets[s] = end - input.len();
                    let Some(routed) = routed else {
                        if end < wire.len() {
                            return true; // waiting for more
                        }
                        // Cut short: half the streams end there, the rest
                        // stall until their deadline (below).
                        if s % 2 == 0 {
                            match router.end(ids[s]) {
                                Some(Routed::NotAChannel { stream, prefix }) => {
                                    assert!(wire.len() < 4, "{wire:?}");
                                    assert_eq!((stream, &prefix[..]), (s, &wire[..]));
                                }
                                Some(Routed::Refused { reject, open, .. }) => {
                                    assert!(wire.len() >= 4, "{wire:?}");
                                    assert_eq!(reject.code, RejectCode::MALFORMED);
                                    assert!(open.is_none());
                                }
                                other => panic!("{wire:?} ended as {other:?}"),
                            }
                        }
                        return false;
                    };
                    // What the decoder alone makes of the stream.
                    let mut decoder = OpenDecoder::new(Limits::default());
                    let alone = decoder.decode(&mut &wire[..]);
                    match (alone, routed) {
                        (Ok(Some(open)), routed) => {
                            let listener = match (open.protocol.as_str(), &open.id[..]) {
                                ("a", _) => Some(any_a),
                                ("b", b"\x01") => Some(b_one),
                                _ => None,
                            };
                            match (listener, routed) {
                                (None, Routed::Refused { reject, .. }) => {
                                    assert_eq!(reject.code, RejectCode::NO_LISTENER)
                                }
                                (Some(l), Routed::Queued(got)) => {
                                    assert_eq!(got, l);
                                    *queued.entry(l).or_default() += 1;
                                    assert!(queued[&l] <= 2);
                                }
                                (Some(l), Routed::Refused { reject, .. }) => {
                                    assert_eq!(reject.code, RejectCode::BACKLOG_FULL);
                                    assert_eq!(queued.get(&l), Some(&2));
                                }
                                (_, other) => panic!("{open:?} routed as {other:?}"),
                            }
                        }
                        (Err(DecodeError::BadMagic), Routed::NotAChannel { stream, prefix }) => {
                            assert_eq!(stream, s);
                            assert!(wire.starts_with(&prefix));
                        }
                        (Err(DecodeError::UnsupportedVersion(_)), Routed::Refused { reject, .. }) => {
                            assert_eq!(reject.code, RejectCode::UNSUPPORTED_VERSION)
                        }
                        (Err(_), Routed::Refused { reject, open, .. }) => {
                            assert_eq!(reject.code, RejectCode::MALFORMED);
                            assert!(open.is_none());
                        }
                        (alone, routed) => panic!("decoder {alone:?}, router {routed:?}"),
                    }
                    false
                });
            }
            // What never completed is still pending, and expires.
            let far = Instant::from_millis(3_600_000);
            while let Some((_, reject)) = router.poll_expired(far) {
                prop_assert_eq!(reject.code, RejectCode::TIMEOUT);
            }
            prop_assert!(router.pending().next().is_none());
        }
    }
}
