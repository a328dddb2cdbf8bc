//! `Connection::ping` and `Connection::rtt` under the shared driver, on
//! tokio's paused clock: a relay holds every chunk for a fixed delay each
//! way, so the round-trip time is known exactly and nothing depends on
//! real time.

mod common;

use common::delay_copy;

use std::time::Duration;

use muxplex_tokio::{Config, Connection, Error, PingError, Role};
use tokio::io::DuplexStream;
use tokio::time::{Instant, sleep, timeout};

/// Room for everything the tests send, so a write never waits on the pipe.
const PIPE: usize = 1 << 20;

/// Past every wait the tests expect: a ping that hangs fails here.
const NEVER: Duration = Duration::from_secs(3600);

/// Two ends of a pipe whose bytes take `delay` each way.
fn delayed_pair(delay: Duration) -> (DuplexStream, DuplexStream) {
    let (a, relay_a) = tokio::io::duplex(PIPE);
    let (relay_b, b) = tokio::io::duplex(PIPE);
    let (a_read, a_write) = tokio::io::split(relay_a);
    let (b_read, b_write) = tokio::io::split(relay_b);
    tokio::spawn(delay_copy(a_read, b_write, delay));
    tokio::spawn(delay_copy(b_read, a_write, delay));
    (a, b)
}

#[tokio::test(start_paused = true)]
async fn ping_returns_the_round_trip_time_and_rtt_keeps_it() {
    let (a, b) = delayed_pair(Duration::from_millis(20));
    let client = Connection::spawn(a, Role::Client, Config::default());
    let _server = Connection::spawn(b, Role::Server, Config::default());
    // Both drivers idle: the ping must wake ours to leave at once.
    sleep(Duration::from_secs(1)).await;
    assert_eq!(client.rtt(), None, "nothing measured yet");

    let rtt = timeout(NEVER, client.ping())
        .await
        .expect("answered")
        .expect("ping");
    assert!(
        rtt >= Duration::from_millis(40) && rtt < Duration::from_millis(45),
        "20 ms each way, got {rtt:?}"
    );
    assert_eq!(client.rtt(), Some(rtt), "the first sample is the estimate");

    // Several pings at once each get an answer.
    let (one, two) = tokio::join!(client.ping(), client.ping());
    assert!(one.unwrap() >= Duration::from_millis(40));
    assert!(two.unwrap() >= Duration::from_millis(40));
}

#[tokio::test(start_paused = true)]
async fn ping_on_a_closed_connection_fails_instead_of_hanging() {
    let (a, b) = delayed_pair(Duration::from_millis(1));
    let client = Connection::spawn(a, Role::Client, Config::default());
    let _server = Connection::spawn(b, Role::Server, Config::default());
    client.close().await.expect("close");
    let error = timeout(NEVER, client.ping()).await.expect("no hang");
    assert!(matches!(error, Err(Error::Closed { .. })), "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn a_ping_in_flight_fails_when_the_connection_ends() {
    // The peer never answers: its end of the pipe is only held.
    let (a, b) = tokio::io::duplex(PIPE);
    let client = Connection::spawn(a, Role::Client, Config::default());
    let ping = tokio::spawn({
        let client = client.clone();
        async move { client.ping().await }
    });
    sleep(Duration::from_secs(1)).await;
    assert!(!ping.is_finished(), "unanswered so far");
    drop(b);
    let outcome = timeout(NEVER, ping).await.expect("no hang").unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
    assert_eq!(client.rtt(), None);
}

#[tokio::test(start_paused = true)]
async fn too_many_outstanding_pings_fail_with_a_typed_error() {
    let (a, _b) = tokio::io::duplex(PIPE);
    let config = Config::default().with_max_outstanding_pings(1);
    let client = Connection::spawn(a, Role::Client, config);
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.ping().await }
    });
    sleep(Duration::from_millis(10)).await;
    assert!(!first.is_finished());
    let second = timeout(NEVER, client.ping()).await.expect("no hang");
    assert_eq!(second, Err(Error::Ping(PingError::TooManyOutstanding)));
    first.abort();
}

#[tokio::test(start_paused = true)]
async fn a_dropped_ping_does_not_take_a_later_pings_answer() {
    let (a, b) = delayed_pair(Duration::from_millis(20));
    let client = Connection::spawn(a, Role::Client, Config::default());
    let _server = Connection::spawn(b, Role::Server, Config::default());
    // Sent at 0 and abandoned; its answer arrives at 40 ms.
    let abandoned = tokio::spawn({
        let client = client.clone();
        async move { client.ping().await }
    });
    sleep(Duration::from_millis(10)).await;
    abandoned.abort();
    // Sent at 10 ms, answered at 50 ms, not at 40 ms with the other's pong.
    let start = Instant::now();
    let rtt = timeout(NEVER, client.ping()).await.unwrap().unwrap();
    assert!(rtt >= Duration::from_millis(40), "{rtt:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(40),
        "waited for its own pong"
    );
}
