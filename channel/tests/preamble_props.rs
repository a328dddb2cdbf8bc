//! Property tests of the preamble codec: any chunking of a valid message
//! decodes to the same message and leaves what follows untouched;
//! arbitrary bytes never panic, give typed errors and are never buffered
//! beyond the limits.

use muxplex_channel::preamble::{
    ANSWER_HEADER_LEN, Answer, AnswerDecoder, DecodeError, Field, FieldError, Limits,
    OPEN_HEADER_LEN, Open, OpenDecoder, Reject, RejectCode,
};
use proptest::prelude::*;

/// Feeds `wire` to `decode` in chunks of the given sizes (cycled); returns
/// the outcome and how many bytes of `wire` the decoder took.
fn feed<M>(
    wire: &[u8],
    chunks: &[usize],
    mut decode: impl FnMut(&mut &[u8]) -> Result<Option<M>, DecodeError>,
) -> (Result<Option<M>, DecodeError>, usize) {
    let mut at = 0;
    let mut sizes = chunks.iter().cycle();
    loop {
        let size = (*sizes.next().unwrap()).min(wire.len() - at);
        let mut chunk = &wire[at..at + size];
        let result = decode(&mut chunk);
        let taken = size - chunk.len();
        at += taken;
        match result {
            Ok(None) if at < wire.len() => {
                // While it needs more, a decoder takes all it is offered.
                assert_eq!(taken, size);
            }
            other => return (other, at),
        }
    }
}

fn open_strategy() -> impl Strategy<Value = Open> {
    (
        "\\PC{1,60}",
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(protocol, id, handshake)| Open {
            protocol,
            id,
            handshake,
        })
}

fn answer_strategy() -> impl Strategy<Value = Answer> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|handshake| Answer::Accept { handshake }),
        (any::<u16>(), "\\PC{0,100}").prop_map(|(code, reason)| Answer::Reject(Reject {
            code: RejectCode(code),
            reason
        })),
    ]
}

fn chunks_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..24, 1..16)
}

/// Small limits, so that arbitrary input reaches them often.
fn small_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_protocol = 16;
    limits.max_id = 8;
    limits.max_handshake = 32;
    limits.max_reason = 32;
    limits
}

proptest! {
    #[test]
    fn open_any_chunking_decodes_the_same(
        open in open_strategy(),
        trailer in prop::collection::vec(any::<u8>(), 0..40),
        chunks in chunks_strategy(),
    ) {
        let limits = Limits::default();
        let encoded = open.encode(&limits).unwrap();
        let wire = [&encoded[..], &trailer[..]].concat();
        let mut decoder = OpenDecoder::new(limits);
        let (result, taken) = feed(&wire, &chunks, |input| decoder.decode(input));
        prop_assert_eq!(result, Ok(Some(open)));
        // Exactly the message: the channel's data stays in the input.
        prop_assert_eq!(taken, encoded.len());
        prop_assert_eq!(decoder.needed(), 0);
        prop_assert_eq!(decoder.decode(&mut &trailer[..]), Err(DecodeError::Finished));
    }

    #[test]
    fn answer_any_chunking_decodes_the_same(
        answer in answer_strategy(),
        trailer in prop::collection::vec(any::<u8>(), 0..40),
        chunks in chunks_strategy(),
    ) {
        let limits = Limits::default();
        let encoded = answer.encode(&limits).unwrap();
        let wire = [&encoded[..], &trailer[..]].concat();
        let mut decoder = AnswerDecoder::new(limits);
        let (result, taken) = feed(&wire, &chunks, |input| decoder.decode(input));
        prop_assert_eq!(result, Ok(Some(answer)));
        prop_assert_eq!(taken, encoded.len());
    }

    #[test]
    fn arbitrary_bytes_give_typed_errors_within_limits(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        valid_start in any::<bool>(),
        kind in 0u8..4,
        chunks in chunks_strategy(),
    ) {
        let limits = small_limits();
        // Half the inputs start like a real message, so that the length
        // checks and the body are reached, not only the magic check.
        let wire = match valid_start {
            true => [&b"mxch\x01"[..], &[kind], &bytes[..]].concat(),
            false => bytes,
        };
        let mut open = OpenDecoder::new(limits);
        let (result, taken) = feed(&wire, &chunks, |input| open.decode(input));
        check_outcome(&result, taken, limits.max_open_len(), &wire)?;
        prop_assert!(open.consumed().len() <= limits.max_open_len());

        let mut answer = AnswerDecoder::new(limits);
        let (result, taken) = feed(&wire, &chunks, |input| answer.decode(input));
        check_outcome(&result, taken, limits.max_answer_len(), &wire)?;
    }

    #[test]
    fn oversized_lengths_are_refused_once_the_header_is_in(
        lengths in (0usize..=255, 0usize..=u16::MAX as usize, 0usize..=100_000),
        chunks in chunks_strategy(),
    ) {
        let limits = small_limits();
        let (p, i, h) = lengths;
        let mut header = b"mxch\x01\x01".to_vec();
        header.push(p as u8);
        header.extend_from_slice(&(i as u16).to_be_bytes());
        header.extend_from_slice(&(h as u32).to_be_bytes());
        let wire = [&header[..], &[b'a'; 64][..]].concat();
        let mut decoder = OpenDecoder::new(limits);
        let (result, taken) = feed(&wire, &chunks, |input| decoder.decode(input));
        let expected = if p == 0 {
            Some(FieldError::EmptyProtocol)
        } else if p > 16 {
            Some(FieldError::TooLong { field: Field::Protocol, len: p, max: 16 })
        } else if i > 8 {
            Some(FieldError::TooLong { field: Field::Id, len: i, max: 8 })
        } else if h > 32 {
            Some(FieldError::TooLong { field: Field::Handshake, len: h, max: 32 })
        } else {
            None
        };
        match expected {
            Some(error) => {
                prop_assert_eq!(result, Err(DecodeError::Field(error)));
                prop_assert_eq!(taken, OPEN_HEADER_LEN);
            }
            None => prop_assert!(result.is_ok()),
        }
    }
}

/// A decoder's outcome on arbitrary input: a message within `max` bytes,
/// a typed error within `max` bytes, or a wait for more.
fn check_outcome<M: std::fmt::Debug>(
    result: &Result<Option<M>, DecodeError>,
    taken: usize,
    max: usize,
    wire: &[u8],
) -> Result<(), TestCaseError> {
    prop_assert!(taken <= max, "took {} bytes, limit {}", taken, max);
    match result {
        Ok(Some(_)) => {}
        // Waiting: only when everything was taken.
        Ok(None) => prop_assert_eq!(taken, wire.len()),
        Err(DecodeError::Finished) => prop_assert!(false, "finished before a message"),
        Err(error) => {
            // A typed error with a message for people.
            prop_assert!(!error.to_string().is_empty());
        }
    }
    Ok(())
}

#[test]
fn the_documented_example_bytes() {
    let open = Open::new("chat", &[7], b"");
    let wire = open.encode(&Limits::default()).unwrap();
    let documented = [
        0x6d, 0x78, 0x63, 0x68, 0x01, 0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x63, 0x68,
        0x61, 0x74, 0x07,
    ];
    assert_eq!(wire, documented);
    let reject = Answer::Reject(Reject {
        code: RejectCode::NO_LISTENER,
        reason: "no".into(),
    });
    assert_eq!(
        reject.encode(&Limits::default()).unwrap(),
        b"mxch\x01\x03\x00\x01\x00\x02no"
    );
    let accept = Answer::Accept {
        handshake: b"ok".to_vec(),
    };
    assert_eq!(
        accept.encode(&Limits::default()).unwrap(),
        b"mxch\x01\x02\x00\x00\x00\x02ok"
    );
    assert_eq!(
        reject.encode(&Limits::default()).unwrap().len(),
        ANSWER_HEADER_LEN + 2
    );
}

#[test]
fn encoding_refuses_what_decoding_would() {
    let limits = small_limits();
    let empty = Open::new("", b"", b"");
    assert_eq!(empty.encode(&limits), Err(FieldError::EmptyProtocol));
    let long_id = Open::new("p", &[0; 9], b"");
    assert_eq!(
        long_id.encode(&limits),
        Err(FieldError::TooLong {
            field: Field::Id,
            len: 9,
            max: 8
        })
    );
    // A limit above the wire's is the wire's.
    let mut huge = Limits::default();
    huge.max_protocol = 10_000;
    assert_eq!(huge.max(Field::Protocol), 255);
    let long_reason = Answer::Reject(Reject {
        code: RejectCode::APPLICATION,
        reason: "x".repeat(33),
    });
    assert!(matches!(
        long_reason.encode(&limits),
        Err(FieldError::TooLong {
            field: Field::Reason,
            ..
        })
    ));
    // `fitted` cuts at a character boundary, so the reject always encodes.
    let fitted = Reject::fitted(RejectCode::APPLICATION, &"é".repeat(40), &limits);
    assert_eq!(fitted.reason, "é".repeat(16));
    assert!(Answer::Reject(fitted).encode(&limits).is_ok());
}

#[test]
fn errors_name_the_fault_and_stick() {
    let mut decoder = OpenDecoder::new(Limits::default());
    let mut input = &b"mxcX"[..];
    assert_eq!(decoder.decode(&mut input), Err(DecodeError::BadMagic));
    // The differing byte stays in the input; what matched was taken.
    assert_eq!(input, b"X");
    assert_eq!(decoder.consumed(), b"mxc");
    assert_eq!(
        decoder.decode(&mut &b"more"[..]),
        Err(DecodeError::BadMagic)
    );

    let mut decoder = OpenDecoder::new(Limits::default());
    assert_eq!(
        decoder.decode(&mut &b"mxch\x02"[..]),
        Err(DecodeError::UnsupportedVersion(2))
    );
    let mut decoder = OpenDecoder::new(Limits::default());
    assert_eq!(
        decoder.decode(&mut &b"mxch\x01\x02"[..]),
        Err(DecodeError::UnknownKind(2))
    );
    // A protocol name that is not UTF-8, found in the body.
    let mut decoder = OpenDecoder::new(Limits::default());
    let wire = b"mxch\x01\x01\x01\x00\x00\x00\x00\x00\x00\xff";
    assert_eq!(
        decoder.decode(&mut &wire[..]),
        Err(DecodeError::NotUtf8(Field::Protocol))
    );
    assert_eq!(
        decoder.decode(&mut &b""[..]),
        Err(DecodeError::NotUtf8(Field::Protocol))
    );
    let mut decoder = AnswerDecoder::new(Limits::default());
    let wire = b"mxch\x01\x03\x00\x01\x00\x01\xff";
    assert_eq!(
        decoder.decode(&mut &wire[..]),
        Err(DecodeError::NotUtf8(Field::Reason))
    );
}
