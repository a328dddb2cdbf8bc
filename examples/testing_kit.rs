//! Property-testing your own protocol on top of muxplex, deterministically.
//!
//! The protocol here is a toy key-value lookup: the client opens a stream
//! per request, writes a key and finishes; the server answers with the
//! value and finishes. The check: under any chunking, latency and seed, every
//! request gets exactly its answer. A failing seed reproduces exactly, so a
//! bug found once can be replayed forever.
//!
//! Run with `cargo run --example testing_kit --features testing`.

use std::collections::HashMap;
use std::time::Duration;

use muxplex::testing::{Chunking, Pair};
use muxplex::{Config, Event, Instant, Session, StreamError, StreamId};

/// Messages being received, by stream: a message is complete at the
/// stream's end, and may arrive in any number of pieces before it.
#[derive(Default)]
struct Inbox(HashMap<StreamId, Vec<u8>>);

impl Inbox {
    /// Takes what `id` has to read; returns the whole message once its end
    /// has arrived.
    fn collect(&mut self, session: &mut Session, id: StreamId) -> Option<Vec<u8>> {
        let mut stream = session.stream(id).ok()?;
        loop {
            match stream.read_chunk(usize::MAX) {
                Ok(Some(chunk)) => self.0.entry(id).or_default().extend_from_slice(&chunk),
                Ok(None) => return Some(self.0.remove(&id).unwrap_or_default()),
                Err(StreamError::Blocked) => return None,
                Err(e) => panic!("stream {id} failed: {e}"),
            }
        }
    }
}

/// The server's side of the protocol: answer every complete request.
fn serve(server: &mut Session, now: Instant, inbox: &mut Inbox, store: &HashMap<Vec<u8>, Vec<u8>>) {
    while server.accept_stream().is_some() {}
    while let Some(event) = server.poll_event() {
        let Event::Readable(id) = event else { continue };
        let Some(key) = inbox.collect(server, id) else {
            continue;
        };
        let value = store.get(&key).cloned().unwrap_or_default();
        let mut stream = server.stream(id).expect("request stream");
        // Values are small: one write always fits the window.
        stream.write(&value).expect("answer fits");
        stream.finish(now).expect("answer ends");
    }
}

/// One run of the property for one seed: returns the answers in order.
fn run(seed: u64) -> Vec<Vec<u8>> {
    let store: HashMap<Vec<u8>, Vec<u8>> = (0..50u32)
        .map(|k| {
            (
                format!("key{k}").into_bytes(),
                format!("value of {k}").into_bytes(),
            )
        })
        .collect();
    let mut pair = Pair::new(Config::default(), Config::default())
        .with_seed(seed)
        .with_chunking(Chunking::Random {
            max: 1 + (seed as usize % 40),
        })
        .with_latency(Duration::from_millis(seed % 7));

    let requests: Vec<(StreamId, Vec<u8>)> = (0..20u32)
        .map(|i| {
            let key = format!("key{}", (i * 7 + seed as u32) % 60).into_bytes();
            let now = pair.now();
            let id = pair.client.open_stream(now).expect("open");
            let mut stream = pair.client.stream(id).expect("just opened");
            stream.write(&key).expect("write");
            stream.finish(now).expect("finish");
            (id, key)
        })
        .collect();

    let (mut server_inbox, mut client_inbox) = (Inbox::default(), Inbox::default());
    let mut answers: HashMap<StreamId, Vec<u8>> = HashMap::new();
    while answers.len() < requests.len() {
        // One round trip at a time, so requests and answers arrive in
        // pieces across rounds, as they would on a real network.
        pair.step();
        pair.advance(Duration::from_millis(1));
        let now = pair.now();
        serve(&mut pair.server, now, &mut server_inbox, &store);
        while let Some(event) = pair.client.poll_event() {
            let Event::Readable(id) = event else { continue };
            if let Some(answer) = client_inbox.collect(&mut pair.client, id) {
                answers.insert(id, answer);
            }
        }
    }
    // The property: each request got the value of its own key.
    for (id, key) in &requests {
        let expected = store.get(key).cloned().unwrap_or_default();
        assert_eq!(answers[id], expected, "seed {seed}: wrong answer on {id}");
    }
    assert_eq!(
        pair.client.stream_count(),
        0,
        "seed {seed}: client state left"
    );
    assert_eq!(
        pair.server.stream_count(),
        0,
        "seed {seed}: server state left"
    );
    requests.iter().map(|(id, _)| answers[id].clone()).collect()
}

fn main() {
    let seeds = 200;
    for seed in 0..seeds {
        let first = run(seed);
        // Determinism: the same seed gives the same run.
        assert_eq!(first, run(seed), "seed {seed} is not reproducible");
    }
    println!("{seeds} seeds: every request got its own answer, deterministically");
}
