//! The calls every adapter shares (see the tokio and smol twins), the
//! bounded close, and a socket with a read timeout refused up front.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use muxplex_blocking::{
    CloseReason, Config, Connection, Delivery, Error, OpenError, Role, StreamError, StreamId, core,
};

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dialed = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    (dialed, listener.accept().expect("accept").0)
}

#[test]
fn same_calls_and_bounded_close() {
    let _names: Option<(
        Delivery,
        OpenError,
        StreamError,
        StreamId,
        core::Config,
        Error,
    )> = None;
    let (a, b) = tcp_pair();
    let config = Config::default().with_close_timeout(Duration::from_secs(30));
    let client = Connection::client(a, config.clone()).expect("client");
    let server = Connection::server(b, config).expect("server");
    assert_eq!(client.role(), Role::Client);
    assert!(!client.is_peer_going_away());
    assert_eq!(client.rtt(), None);
    let mut held = client.open_stream().expect("open");
    held.write_all(b"hi").expect("write");
    let mut accepted = server.accept_stream().expect("accept");
    let mut buf = [0u8; 2];
    accepted.read_exact(&mut buf).expect("read");
    let started = Instant::now();
    assert_eq!(
        client.close_within(Duration::from_millis(100)),
        CloseReason::LocalCloseTimedOut
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(client.is_closed());
    let _ = server.closed();
}

#[test]
fn a_socket_with_a_read_timeout_is_refused() {
    let (a, _b) = tcp_pair();
    a.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let error = Connection::client(a, Config::default()).expect_err("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
