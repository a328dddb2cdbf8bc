//! `Connection::ping`: answered pings, several pinging threads, and a ping
//! that cannot be answered.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use common::{connect, hang_guard};
use muxplex_blocking::{CloseReason, Config, Connection, PingError};

#[test]
fn pings_from_several_threads_are_each_answered() {
    hang_guard(|| {
        let ends = connect();
        let pingers: Vec<_> = (0..4)
            .map(|_| {
                let client = ends.client.clone();
                thread::spawn(move || {
                    for _ in 0..5 {
                        client.ping().expect("answered");
                    }
                })
            })
            .collect();
        for pinger in pingers {
            pinger.join().expect("pinger");
        }
        assert!(ends.client.rtt().is_some());
        assert_eq!(ends.client.close(), CloseReason::LocalClose);
    });
}

const PING: u8 = 2;
const GO_AWAY: u8 = 3;
const SYN: u16 = 1;
const ACK: u16 = 2;

/// A peer on a raw socket: reads yamux frame headers, skipping payloads.
struct RawPeer(TcpStream);

impl RawPeer {
    /// The next frame's type, flags and length field.
    fn next_frame(&mut self) -> (u8, u16, u32) {
        let mut header = [0u8; 12];
        self.0.read_exact(&mut header).expect("a frame");
        let length = u32::from_be_bytes(header[8..12].try_into().expect("4 bytes"));
        if header[1] == 0 {
            // Data: skip the payload.
            let mut payload = vec![0u8; length as usize];
            self.0.read_exact(&mut payload).expect("payload");
        }
        (
            header[1],
            u16::from_be_bytes([header[2], header[3]]),
            length,
        )
    }

    /// Answers the ping carrying `opaque`.
    fn pong(&mut self, opaque: u32) {
        let mut header = [0u8; 12];
        header[1] = PING;
        header[2..4].copy_from_slice(&ACK.to_be_bytes());
        header[8..12].copy_from_slice(&opaque.to_be_bytes());
        self.0.write_all(&header).expect("pong");
    }
}

/// A thread's ping, and whether it has returned.
struct Pinger {
    thread: JoinHandle<std::io::Result<std::time::Duration>>,
    returned: Arc<AtomicBool>,
}

/// A client connection to a raw peer, and a thread pinging on it.
fn ping_a_raw_peer() -> (Connection, RawPeer, Pinger) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let tcp = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (peer, _) = listener.accept().expect("accept");
    let client = Connection::client(tcp, Config::default()).expect("client");
    let returned = Arc::new(AtomicBool::new(false));
    let thread = thread::spawn({
        let client = client.clone();
        let returned = Arc::clone(&returned);
        move || {
            let rtt = client.ping();
            returned.store(true, Ordering::SeqCst);
            // Tells the peer the ping returned (with a GoAway).
            client.abort(0);
            rtt
        }
    });
    (client, RawPeer(peer), Pinger { thread, returned })
}

/// `ping` returns with its answer, not before.
#[test]
fn a_ping_returns_once_the_peer_answers_it() {
    hang_guard(|| {
        let (_client, mut peer, pinger) = ping_a_raw_peer();
        loop {
            match peer.next_frame() {
                (PING, flags, opaque) if flags & SYN != 0 => {
                    let returned = pinger.returned.load(Ordering::SeqCst);
                    assert!(!returned, "returned before the answer");
                    peer.pong(opaque);
                }
                (GO_AWAY, _, _) => break,
                _ => {}
            }
        }
        pinger.thread.join().expect("pinger").expect("answered");
    });
}

/// A peer that never answers: the waiting ping fails once the connection
/// ends, instead of blocking for good.
#[test]
fn a_ping_to_a_silent_peer_fails_when_the_connection_ends() {
    hang_guard(|| {
        let (client, mut peer, pinger) = ping_a_raw_peer();
        while !matches!(peer.next_frame(), (PING, flags, _) if flags & SYN != 0) {}
        client.abort(0);
        let error = pinger
            .thread
            .join()
            .expect("pinger")
            .expect_err("unanswered");
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionAborted);
        let inner = error.get_ref().and_then(|e| e.downcast_ref::<PingError>());
        assert_eq!(
            inner,
            Some(&PingError::SessionClosed(CloseReason::LocalAbort {
                code: 0
            }))
        );
    });
}
