//! `Session::may_transmit`: false exactly when there is nothing to send,
//! so a host can skip waking its I/O after commands that produced nothing.

use crate::common;

use common::take_bytes;
use muxplex::{Config, Instant, Session};

/// Moves everything `from` has to send into `to`; returns the byte count.
fn deliver(from: &mut Session, to: &mut Session) -> usize {
    let bytes = take_bytes(from);
    to.handle_input(Instant::ZERO, &bytes);
    bytes.len()
}

/// Checks the promise: when `may_transmit` says no, nothing comes out.
fn assert_honest(session: &mut Session) {
    if !session.may_transmit() {
        assert!(
            take_bytes(session).is_empty(),
            "said nothing to send, then sent"
        );
    }
}

#[test]
fn says_yes_only_while_frames_wait() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    assert!(!client.may_transmit());
    assert!(!server.may_transmit());

    let id = client.open_stream(now).expect("open");
    assert_eq!(client.stream(id).expect("open").write(b"x"), Ok(1));
    assert!(client.may_transmit());
    assert!(deliver(&mut client, &mut server) > 0);
    assert!(!client.may_transmit());

    // Accepting owes the peer an ACK.
    assert_eq!(server.accept_stream(), Some(id));
    assert!(server.may_transmit());
    deliver(&mut server, &mut client);
    assert!(!server.may_transmit());

    // A small read returns no window yet: nothing to send.
    let mut buf = [0u8; 16];
    assert_eq!(server.stream(id).expect("open").read(&mut buf), Ok(1));
    assert!(!server.may_transmit());
    assert_honest(&mut server);

    // Reading more than half the window owes the peer a window update.
    let chunk = vec![7u8; 64 * 1024];
    for _ in 0..3 {
        assert_eq!(
            client.stream(id).expect("open").write(&chunk),
            Ok(chunk.len())
        );
    }
    deliver(&mut client, &mut server);
    let mut sink = vec![0u8; 256 * 1024];
    let mut read = 0;
    while read < 3 * chunk.len() {
        read += server
            .stream(id)
            .expect("open")
            .read(&mut sink)
            .expect("data");
    }
    assert!(server.may_transmit(), "a window update is due");
    assert!(!take_bytes(&mut server).is_empty());
    assert!(!server.may_transmit());

    // Finishing has a FIN to send.
    assert_eq!(server.stream(id).expect("open").finish(now), Ok(()));
    assert!(server.may_transmit());
}

#[test]
fn never_says_no_while_something_waits() {
    let mut rng = muxplex::testing::Rng::new(7);
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let mut ids = Vec::new();
    let mut buf = vec![0u8; 40_000];
    for _ in 0..2_000 {
        match rng.range(0, 6) {
            0 => {
                if let Ok(id) = client.open_stream(now) {
                    ids.push(id);
                }
            }
            1 if !ids.is_empty() => {
                let id = ids[rng.range(0, ids.len() - 1)];
                if let Ok(mut stream) = client.stream(id) {
                    let _ = stream.write(&buf[..rng.range(1, 40_000)]);
                }
            }
            2 => while server.accept_stream().is_some() {},
            3 if !ids.is_empty() => {
                let id = ids[rng.range(0, ids.len() - 1)];
                if let Ok(mut stream) = server.stream(id) {
                    let _ = stream.read(&mut buf);
                }
            }
            4 => {
                assert_honest(&mut client);
                deliver(&mut client, &mut server);
            }
            _ => {
                assert_honest(&mut server);
                deliver(&mut server, &mut client);
            }
        }
    }
}

#[test]
fn a_stream_reset_with_data_queued_leaves_nothing_to_send() {
    let now = Instant::ZERO;
    let mut client = Session::client(Config::default(), now).expect("valid config");
    let mut server = Session::server(Config::default(), now).expect("valid config");
    let id = client.open_stream(now).expect("open");
    assert_eq!(client.stream(id).expect("open").write(b"x"), Ok(1));
    deliver(&mut client, &mut server);
    assert_eq!(server.accept_stream(), Some(id));
    // Queued for the scheduler, then the peer resets the stream.
    assert_eq!(client.stream(id).expect("open").write(b"more"), Ok(4));
    server.stream(id).expect("accepted").reset(9);
    deliver(&mut server, &mut client);
    assert!(
        client.stream(id).expect("reset, not released").status() != muxplex::StreamStatus::Open
    );
    assert!(
        !client.may_transmit(),
        "the reset stream still waits to send"
    );
    assert_honest(&mut client);
}
