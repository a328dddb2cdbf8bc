//! Giving a stream up (`Stream::detach`), as adapters do when a handle is
//! dropped: what was written is delivered, what the peer sends is
//! discarded without stalling it, and the state goes at the peer's end.

use crate::common;

use muxplex::testing::Pair;
use muxplex::{Config, Event, StreamId};

/// Events that name `id`.
fn about(events: &[Event], id: StreamId) -> Vec<Event> {
    events
        .iter()
        .filter(|event| match event {
            Event::Readable(s) | Event::Writable(s) | Event::IncomingStream(s) => *s == id,
            Event::StreamReset { id: s, .. } => *s == id,
            _ => false,
        })
        .copied()
        .collect()
}

#[test]
fn a_detached_stream_delivers_what_was_written_and_discards_the_rest() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    let now = pair.now();
    let mut stream = pair.client.stream(id).unwrap();
    stream.write(b"request").unwrap();
    stream.detach(now);
    assert!(
        pair.client.stream(id).is_err(),
        "the application gave it up"
    );
    pair.drive();

    let accepted = pair.server.accept_stream().unwrap();
    let (got, end) = common::read_all(&mut pair.server, accepted);
    assert_eq!((got.as_slice(), end), (&b"request"[..], Ok(())));

    // More than the window: the server only gets through if the detached
    // end keeps handing credit back.
    let answer = common::pattern(7, 1_000_000);
    let mut sent = 0;
    while sent < answer.len() {
        let mut stream = pair.server.stream(accepted).unwrap();
        sent += stream.write(&answer[sent..]).unwrap_or(0);
        pair.drive();
    }
    let now = pair.now();
    pair.server.stream(accepted).unwrap().finish(now).unwrap();
    pair.drive();

    assert_eq!(pair.client.stream_count(), 0, "freed at the peer's FIN");
    assert_eq!(pair.client.buffered_bytes(), 0, "nothing was kept");
    assert!(about(&common::events(&mut pair.client), id).is_empty());
    assert_eq!(pair.server.stream_count(), 0);
}

#[test]
fn a_reset_of_a_detached_stream_frees_it_silently() {
    let mut pair = Pair::new(Config::default(), Config::default());
    let id = pair.client.open_stream(pair.now()).unwrap();
    pair.client.stream(id).unwrap().write(b"x").unwrap();
    pair.drive();
    let accepted = pair.server.accept_stream().unwrap();
    pair.drive();
    let now = pair.now();
    pair.client.stream(id).unwrap().detach(now);
    pair.server.stream(accepted).unwrap().reset(9);
    pair.drive();
    assert_eq!(pair.client.stream_count(), 0);
    assert!(about(&common::events(&mut pair.client), id).is_empty());
    assert!(!pair.client.is_closed());
}
