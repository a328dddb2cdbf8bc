//! muxplex against peer models with the quirks of real peers: echoes of
//! many streams of varied sizes in both directions under every quirk,
//! every byte checked; a flags-before-payload peer that loses the payload
//! of a Data frame with FIN (and muxplex output that never gives it one);
//! a graceful close that a GoAway(0)-terminating peer survives whole;
//! ACKs lazy and eager; frames as large as the window.

use crate::common;
use crate::model;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use common::{data, header, pattern};
use model::ends::{Peer, Refused};
use muxplex::frame::{Flags, FrameType};
use muxplex::testing::{
    Chunking, Endpoint, Loss, Pair, PeerClose, PeerError, PeerModel, Quirks, Side,
};
use muxplex::{CloseReason, Config, Event, Instant, ResetBy, Role, StreamId};

/// One stream as a test application sees it.
#[derive(Debug, Default)]
struct App {
    /// What to send, and how much of it the stream took.
    to_send: Vec<u8>,
    sent: usize,
    /// Finish once everything is sent.
    finish_when_sent: bool,
    finished: bool,
    received: Vec<u8>,
    eof: bool,
    /// Reset, or its session ended under it.
    failed: bool,
}

impl App {
    fn done(&self) -> bool {
        self.failed || (self.finished && self.eof)
    }
}

/// The application on one end: it sends what it was given and, as an
/// echo server, sends back whatever it reads.
#[derive(Debug, Default)]
struct Host {
    echo: bool,
    streams: BTreeMap<StreamId, App>,
}

impl Host {
    /// One round: accept, write what the streams take, read everything
    /// there is. Returns whether anything moved.
    fn run(&mut self, end: &mut Peer, now: Instant) -> bool {
        let mut moved = false;
        if let Some(session) = end.session() {
            while session.poll_event().is_some() {}
        }
        while let Some(id) = end.accept() {
            self.streams.insert(id, App::default());
            moved = true;
        }
        for (&id, app) in self.streams.iter_mut().filter(|(_, app)| !app.done()) {
            moved |= Self::run_stream(self.echo, end, now, id, app);
        }
        moved
    }

    fn run_stream(echo: bool, end: &mut Peer, now: Instant, id: StreamId, app: &mut App) -> bool {
        let mut moved = false;
        loop {
            match end.read(id, 70_000, false) {
                Ok(Some(bytes)) => {
                    if echo {
                        app.to_send.extend_from_slice(&bytes);
                    }
                    app.received.extend_from_slice(&bytes);
                    moved = true;
                }
                Ok(None) => {
                    moved |= !app.eof;
                    app.eof = true;
                    app.finish_when_sent |= echo;
                    break;
                }
                Err(Refused::Blocked) => break,
                Err(Refused::Cut) => {
                    app.failed = true;
                    return true;
                }
                Err(other) => panic!("read of {id}: {other:?}"),
            }
        }
        while app.sent < app.to_send.len() {
            match end.write(id, &app.to_send[app.sent..]) {
                Ok(n) => {
                    app.sent += n;
                    moved = true;
                }
                Err(Refused::Blocked) => break,
                Err(Refused::Cut) => {
                    app.failed = true;
                    return true;
                }
                Err(other) => panic!("write to {id}: {other:?}"),
            }
        }
        if app.finish_when_sent && !app.finished && app.sent == app.to_send.len() {
            match end.finish(now, id) {
                Ok(()) => app.finished = true,
                Err(Refused::Cut) => app.failed = true,
                Err(other) => panic!("finish of {id}: {other:?}"),
            }
            moved = true;
        }
        moved
    }
}

/// A muxplex session with `config` and a peer model with `quirks` on
/// `model_side`.
fn pair(quirks: Quirks, model_side: Side, config: Config) -> Pair<Peer, Peer> {
    let end = |side: Side, role: Role| match side == model_side {
        true => Peer::model(role, quirks),
        false => Peer::muxplex(role, config.clone()),
    };
    Pair::from_endpoints(
        end(Side::Client, Role::Client),
        end(Side::Server, Role::Server),
    )
}

fn end(pair: &mut Pair<Peer, Peer>, side: Side) -> &mut Peer {
    match side {
        Side::Client => &mut pair.client,
        Side::Server => &mut pair.server,
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    }
}

/// An echo exchange: `opener` opens one stream per size, sends that many
/// bytes and finishes; the other end echoes each stream and finishes it
/// at its end.
struct Echo {
    pair: Pair<Peer, Peer>,
    opener: Side,
    hosts: [Host; 2],
    /// What each stream's opener sent.
    expected: BTreeMap<StreamId, Vec<u8>>,
}

impl Echo {
    fn new(mut pair: Pair<Peer, Peer>, opener: Side, seed: u64, sizes: &[usize]) -> Self {
        let mut hosts = [Host::default(), Host::default()];
        hosts[index(other(opener))].echo = true;
        let mut expected = BTreeMap::new();
        for (i, &size) in sizes.iter().enumerate() {
            let now = pair.now();
            let id = end(&mut pair, opener).open(now).expect("open");
            let payload = pattern(seed.wrapping_mul(1_000).wrapping_add(i as u64), size);
            expected.insert(id, payload.clone());
            hosts[index(opener)].streams.insert(
                id,
                App {
                    to_send: payload,
                    finish_when_sent: true,
                    ..App::default()
                },
            );
        }
        Echo {
            pair,
            opener,
            hosts,
            expected,
        }
    }

    /// Runs the link and both applications until, after the link went
    /// quiet, neither application has anything to do.
    fn run(&mut self) {
        for _ in 0..100_000 {
            self.pair.drive();
            let mut moved = false;
            for side in [Side::Client, Side::Server] {
                let now = self.pair.now();
                moved |= self.hosts[index(side)].run(end(&mut self.pair, side), now);
            }
            if !moved {
                return;
            }
        }
        panic!("the echo never settled");
    }

    /// Streams that failed at each end, as (opener's, echoer's).
    fn failures(&self) -> (usize, usize) {
        let failed = |host: &Host| host.streams.values().filter(|app| app.failed).count();
        (
            failed(&self.hosts[index(self.opener)]),
            failed(&self.hosts[index(other(self.opener))]),
        )
    }

    /// Every stream arrived whole at the echo server and came back whole,
    /// each byte in place, and both directions ended.
    fn check_complete(&self, what: &str) {
        let echoer = &self.hosts[index(other(self.opener))];
        let opener = &self.hosts[index(self.opener)];
        assert_eq!(
            echoer.streams.len(),
            self.expected.len(),
            "{what}: accepted"
        );
        for (id, sent) in &self.expected {
            for (name, app) in [
                ("echo server", &echoer.streams[id]),
                ("opener", &opener.streams[id]),
            ] {
                assert!(!app.failed, "{what}: stream {id} failed at the {name}");
                assert!(
                    app.eof && app.finished,
                    "{what}: stream {id} unfinished at the {name}: end read {}, finished {}",
                    app.eof,
                    app.finished
                );
                if let Some(at) = (0..sent.len()).find(|&i| app.received.get(i) != Some(&sent[i])) {
                    panic!(
                        "{what}: stream {id} at the {name}: byte {at} of {} wrong or missing",
                        sent.len()
                    );
                }
                assert_eq!(
                    app.received.len(),
                    sent.len(),
                    "{what}: stream {id} too long"
                );
            }
        }
    }
}

fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// Every quirk alone, the three real peers, none and all.
fn quirk_sets() -> Vec<(&'static str, Quirks)> {
    let none = Quirks::none();
    vec![
        ("no quirk", none),
        ("flags before payload", none.with_flags_before_payload(true)),
        ("lazy ACK", none.with_lazy_ack(true)),
        ("GoAway terminates", none.with_go_away_terminates(true)),
        ("FIN on WindowUpdate", none.with_fin_on_window_update(true)),
        ("whole-window frames", none.with_whole_window_frames(true)),
        ("hashicorp/yamux", Quirks::hashicorp()),
        ("go-yamux", Quirks::go_yamux()),
        ("yamux crate", Quirks::yamux_crate()),
        (
            "all",
            Quirks::hashicorp()
                .with_lazy_ack(true)
                .with_go_away_terminates(true),
        ),
    ]
}

/// Sizes around every boundary that matters (empty, one byte, frame
/// size, half and whole window), and a few random ones.
fn sizes(seed: u64) -> Vec<usize> {
    let mut sizes = vec![
        0, 1, 100, 16_383, 16_384, 16_385, 131_072, 262_143, 262_144, 262_145, 600_000,
    ];
    let mut rng = muxplex::testing::Rng::new(seed);
    sizes.extend((0..13).map(|_| rng.range(0, 40_000)));
    sizes
}

/// The link setups each quirk is tried under.
fn links(seed: u64) -> [(Chunking, Duration); 2] {
    [
        (Chunking::Whole, Duration::ZERO),
        (
            Chunking::Random {
                max: 1 + seed as usize % 3000,
            },
            Duration::from_millis(3),
        ),
    ]
}

/// Echoes under every quirk set and link with `opener` opening, the
/// model on `model_side`.
fn echo_under_every_quirk(model_side: Side, opener: Side) {
    for (seed, (name, quirks)) in quirk_sets().into_iter().enumerate() {
        let seed = seed as u64;
        for (chunking, latency) in links(seed) {
            let pair = pair(quirks, model_side, Config::default())
                .with_seed(seed)
                .with_chunking(chunking)
                .with_latency(latency);
            let mut echo = Echo::new(pair, opener, seed, &sizes(seed));
            echo.run();
            echo.check_complete(&format!("{name}, {chunking:?}"));
        }
    }
}

#[test]
fn muxplex_opens_and_every_peer_model_echoes() {
    echo_under_every_quirk(Side::Server, Side::Client);
    echo_under_every_quirk(Side::Client, Side::Server);
}

#[test]
fn every_peer_model_opens_and_muxplex_echoes() {
    echo_under_every_quirk(Side::Server, Side::Server);
    echo_under_every_quirk(Side::Client, Side::Client);
}

/// What a model with `quirks` reads of a stream whose client sent "head "
/// on its SYN, then "tail" on a Data frame with FIN, and what it lost.
fn read_head_and_tail(quirks: Quirks) -> (Vec<u8>, Vec<Loss>) {
    let mut model = PeerModel::new(Role::Server, quirks);
    model.handle_input(Instant::ZERO, &data(Flags::SYN, 1, b"head "));
    model.handle_input(Instant::ZERO, &data(Flags::FIN, 1, b"tail"));
    let id = model.accept_stream().expect("stream 1");
    let mut read = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match model.read(id, &mut buf) {
            Ok(0) => break,
            Ok(n) => read.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed: {e}"),
        }
    }
    (read, model.losses().to_vec())
}

/// The bug muxplex had before FIN moved to a WindowUpdate of its own,
/// replayed by hand: a flags-before-payload peer sees the end of the stream
/// first, its reader never gets the payload, and the model says so. A
/// plain peer reads it all.
#[test]
fn a_flags_before_payload_model_loses_the_payload_of_a_data_frame_with_fin() {
    let quirk = Quirks::none().with_flags_before_payload(true);
    let lost = Loss {
        stream: StreamId::new(1),
        bytes: 4,
    };
    assert_eq!(read_head_and_tail(quirk), (b"head ".to_vec(), vec![lost]));
    assert_eq!(
        read_head_and_tail(Quirks::none()),
        (b"head tail".to_vec(), vec![])
    );
}

/// The same frame on a pair fails the test at once, naming the loss.
#[test]
fn a_pair_fails_the_test_when_its_peer_model_loses_data() {
    let quirks = Quirks::none().with_flags_before_payload(true);
    let mut pair = pair(quirks, Side::Server, Config::default());
    // Injected: the audit of the muxplex client does not stop it.
    pair.inject(Side::Client, &data(Flags::SYN | Flags::FIN, 1, b"lost"));
    let panic = catch_unwind(AssertUnwindSafe(|| pair.drive())).expect_err("the pair must panic");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(
        message.contains("the Server end") && message.contains("lost 4 bytes of stream 1"),
        "{message}"
    );
}

/// What the old muxplex got wrong, from muxplex itself: each stream is
/// written and finished before anything is transmitted, so its data and
/// FIN leave together; a flags-before-payload model still gets all of it,
/// because the FIN goes in a zero-length WindowUpdate of its own.
#[test]
fn muxplex_output_reaches_a_flags_before_payload_model_whole() {
    let quirks = Quirks::none().with_flags_before_payload(true);
    for chunking in [Chunking::Whole, Chunking::Fixed(7)] {
        let pair = pair(quirks, Side::Server, Config::default()).with_chunking(chunking);
        let mut echo = Echo::new(pair, Side::Client, 9, &[1, 5, 16_384, 16_385, 40_000]);
        echo.run();
        assert_eq!(echo.pair.server.modelled().losses(), []);
        echo.check_complete(&format!("{chunking:?}"));
    }
}

/// A graceful close started while `streams` are mid-transfer against a
/// go-yamux-like peer, which treats GoAway(0) as the end of the session.
/// With `early_go_away` a GoAway(0) is also slipped in at once, as a peer
/// that drains rather than waits would send it. Returns the echo, run to
/// the end.
fn close_mid_transfer(model_side: Side, opener: Side, early_go_away: bool) -> Echo {
    let mux_side = other(model_side);
    let pair = pair(Quirks::go_yamux(), model_side, Config::default())
        .with_seed(4)
        .with_chunking(Chunking::Random { max: 5000 })
        .with_latency(Duration::from_millis(5));
    let sizes = [0, 10, 100_000, 300_000, 700_000, 20_000];
    let mut echo = Echo::new(pair, opener, 4, &sizes);
    // Under way: the opener has sent what the windows allow, and the echo
    // server has accepted every stream and echoed what arrived.
    let now = echo.pair.now();
    let opener_end = end(&mut echo.pair, opener);
    echo.hosts[index(opener)].run(opener_end, now);
    echo.pair.advance(Duration::from_millis(6));
    let echoer = other(opener);
    let now = echo.pair.now();
    let echoer_end = end(&mut echo.pair, echoer);
    echo.hosts[index(echoer)].run(echoer_end, now);
    assert_eq!(echo.hosts[index(echoer)].streams.len(), sizes.len());
    let now = echo.pair.now();
    end(&mut echo.pair, mux_side).close(now);
    if early_go_away {
        echo.pair
            .inject(mux_side, &header(FrameType::GoAway, Flags::NONE, 0, 0));
    }
    echo.run();
    echo
}

#[test]
fn a_graceful_close_loses_nothing_at_a_peer_that_terminates_on_go_away() {
    for (model_side, opener) in [
        (Side::Server, Side::Client),
        (Side::Server, Side::Server),
        (Side::Client, Side::Client),
        (Side::Client, Side::Server),
    ] {
        let mut echo = close_mid_transfer(model_side, opener, false);
        echo.check_complete(&format!("model {model_side:?}, opener {opener:?}"));
        let mux_side = other(model_side);
        assert_eq!(
            end(&mut echo.pair, model_side).modelled().close_reason(),
            Some(PeerClose::GoAway { code: 0 }),
            "the model saw the GoAway(0) and ended"
        );
        assert_eq!(
            end(&mut echo.pair, mux_side).mux().close_reason(),
            Some(CloseReason::LocalClose)
        );
    }
}

/// The check above can fail: a GoAway(0) before the streams finish ends
/// them at a terminating peer.
#[test]
fn an_early_go_away_fails_the_streams_of_a_peer_that_terminates_on_it() {
    let echo = close_mid_transfer(Side::Server, Side::Client, true);
    // The two streams still sending when the GoAway(0) arrived.
    assert_eq!(echo.failures(), (0, 2));
}

#[test]
fn muxplex_takes_frames_as_large_as_the_window() {
    let quirks = Quirks::none().with_whole_window_frames(true);
    for model_side in [Side::Client, Side::Server] {
        let mut echo = Echo::new(
            pair(quirks, model_side, Config::default()).with_chunking(Chunking::Fixed(4096)),
            model_side,
            3,
            &[1 << 20, 300_000],
        );
        echo.run();
        echo.check_complete("whole-window frames");
        let largest = end(&mut echo.pair, model_side)
            .modelled()
            .largest_data_frame();
        assert!(largest >= 256 * 1024, "largest frame {largest}");
    }
}

#[test]
fn a_lazy_peer_acknowledges_with_its_first_frame_back() {
    for lazy in [false, true] {
        let config = Config::default().with_max_unacked_outbound(1);
        let mut pair = pair(Quirks::none().with_lazy_ack(lazy), Side::Server, config);
        let id = pair.client.open(pair.now()).unwrap();
        pair.client.write(id, b"ping").unwrap();
        pair.drive();
        let accepted = pair.server.accept().unwrap();
        assert_eq!(
            pair.server.read(accepted, 64, false),
            Ok(Some(b"ping".to_vec()))
        );
        pair.drive();
        let unacked = |pair: &mut Pair<Peer, Peer>| pair.client.mux().unacknowledged_streams();
        assert_eq!(unacked(&mut pair), usize::from(lazy), "lazy: {lazy}");
        // Opening waits for the ACK; without it, a second stream opens
        // (and stays unacknowledged, since the model never accepts it).
        let second = pair.client.open(pair.now());
        assert_eq!(second.is_none(), lazy, "opening blocked: {lazy}");
        pair.server.write(accepted, b"pong").unwrap();
        pair.drive();
        assert_eq!(unacked(&mut pair), usize::from(second.is_some()));
        let events: Vec<Event> = std::iter::from_fn(|| pair.client.mux().poll_event()).collect();
        assert_eq!(events.contains(&Event::OpenUnblocked), lazy, "{events:?}");
    }
}

#[test]
fn muxplex_acknowledges_a_models_stream_when_it_accepts_it() {
    let model = PeerModel::new(Role::Client, Quirks::none());
    let mut pair = Pair::with_model_client(model, Config::default());
    let id = pair.client.open_stream().unwrap();
    pair.client.write(id, b"hello").unwrap();
    pair.drive();
    assert!(!pair.client.is_acknowledged(id));
    assert_eq!(pair.server.accept_stream(), Some(id));
    pair.drive();
    assert!(pair.client.is_acknowledged(id));
}

/// The model is an honest peer: its own output passes the wire audit
/// (a `Pair` checks it on every run above), and a ping gets its answer.
#[test]
fn the_model_answers_pings() {
    let mut model = PeerModel::new(Role::Client, Quirks::none());
    model.handle_input(Instant::ZERO, &header(FrameType::Ping, Flags::SYN, 0, 77));
    let mut buf = [0u8; 64];
    let n = model.poll_transmit(&mut buf);
    assert_eq!(&buf[..n], &header(FrameType::Ping, Flags::ACK, 0, 77)[..]);
}

/// A model reports who reset a stream in the core's terms: the RST it got
/// as the peer's, with its code, and its own reset as the application's.
#[test]
fn a_model_says_who_reset_a_stream() {
    let mut model = PeerModel::new(Role::Server, Quirks::none());
    model.handle_input(Instant::ZERO, &data(Flags::SYN, 1, b"a"));
    model.handle_input(Instant::ZERO, &data(Flags::SYN, 3, b"b"));
    let (first, second) = (StreamId::new(1), StreamId::new(3));
    assert_eq!(model.accept_stream(), Some(first));
    assert_eq!(model.accept_stream(), Some(second));
    model.handle_input(
        Instant::ZERO,
        &header(FrameType::WindowUpdate, Flags::RST, 1, 7),
    );
    let mut buf = [0u8; 8];
    assert_eq!(
        model.read(first, &mut buf),
        Err(PeerError::Reset {
            by: ResetBy::Peer { code: 7 }
        })
    );
    assert_eq!(model.reset(second, 4), Ok(()));
    assert_eq!(
        model.write(second, b"x"),
        Err(PeerError::Reset {
            by: ResetBy::Application { code: 4 }
        })
    );
}
