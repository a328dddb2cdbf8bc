//! Time is an input (issue 13): every call that starts a timer takes `now`,
//! so no deadline starts from the last time the host happened to supply.

use crate::common;

use core::time::Duration;

use muxplex::frame::Flags;
use muxplex::{Config, Event, Instant, Session, StreamError};

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1_000)
}

fn quiet() -> Config {
    Config::default().with_keepalive_interval(None)
}

#[test]
fn a_fresh_session_asks_for_its_first_keepalive_an_interval_after_it_was_built() {
    let session = Session::client(Config::default(), secs(1_000)).expect("valid config");
    assert_eq!(session.poll_timeout(), Some(secs(1_030)));
}

#[test]
fn a_stream_opened_after_silence_gets_its_whole_open_timeout() {
    let config = quiet().with_open_timeout(Some(Duration::from_secs(10)));
    let mut client = Session::client(config, Instant::ZERO).expect("valid config");
    // 25 s of silence, then an open.
    let id = client.open_stream(secs(25)).expect("open");
    common::take_frames(&mut client);
    assert_eq!(client.poll_timeout(), Some(secs(35)));
    client.handle_timeout(secs(25));
    client.handle_timeout(secs(34));
    assert!(common::events(&mut client).is_empty(), "not reset early");
    assert!(client.stream(id).unwrap().write(b"x").is_ok());
    client.handle_timeout(secs(35));
    assert!(matches!(
        common::events(&mut client)[..],
        [Event::StreamReset { .. }]
    ));
}

#[test]
fn a_close_after_silence_gets_its_whole_close_timeout() {
    let config = quiet().with_close_timeout(Duration::from_secs(30));
    let mut client = Session::client(config, Instant::ZERO).expect("valid config");
    let _id = client.open_stream(Instant::ZERO).expect("open");
    common::take_frames(&mut client);
    client.close(secs(100));
    assert_eq!(client.poll_timeout(), Some(secs(130)));
    client.handle_timeout(secs(129));
    assert!(!client.is_closed());
    client.handle_timeout(secs(130));
    assert!(client.is_closed());
}

#[test]
fn a_finish_after_silence_gets_its_whole_stream_close_timeout() {
    let config = quiet().with_stream_close_timeout(Some(Duration::from_secs(5)));
    let mut server = Session::server(config, Instant::ZERO).expect("valid config");
    server.handle_input(Instant::ZERO, &common::data(Flags::SYN, 1, b""));
    let id = server.accept_stream().expect("announced");
    common::take_frames(&mut server);
    server.stream(id).unwrap().finish(secs(100)).unwrap();
    let fin = common::take_frames(&mut server);
    assert!(fin.iter().any(|f| f.header.flags.contains(Flags::FIN)));
    assert_eq!(server.poll_timeout(), Some(secs(105)));
    server.handle_timeout(secs(104));
    let mut buf = [0u8; 4];
    assert_eq!(
        server.stream(id).unwrap().read(&mut buf),
        Err(StreamError::Blocked),
        "still open for reading"
    );
    server.handle_timeout(secs(105));
    assert!(
        common::events(&mut server)
            .iter()
            .any(|e| matches!(e, Event::StreamReset { .. }))
    );
}

#[test]
fn time_given_to_a_command_never_moves_the_clock_back() {
    let config = quiet().with_open_timeout(Some(Duration::from_secs(10)));
    let mut client = Session::client(config, secs(50)).expect("valid config");
    // A stale time with a command counts as no news: the deadline counts
    // from the latest time supplied.
    client.open_stream(secs(1)).expect("open");
    common::take_frames(&mut client);
    assert_eq!(client.poll_timeout(), Some(secs(60)));
}
