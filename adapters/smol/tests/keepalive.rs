//! The session's timers under smol: async-io's timer wakes the driver for
//! the keepalive ping and again for its timeout, against a peer that holds
//! the connection open and never answers. Keepalive runs on the system
//! clock here, so its intervals are kept short; nothing is asserted about
//! how long it took.

use std::time::Duration;

use muxplex_smol::{CloseReason, Config, Connection, Role};
use smol::net::{TcpListener, TcpStream};

#[test]
fn keepalive_closes_a_session_whose_peer_went_silent() {
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (dialed, accepted) =
            futures_lite::future::zip(TcpStream::connect(address), listener.accept()).await;
        // The peer: a socket that is held open and never read or answered.
        let (_silent_peer, _) = accepted.expect("accept");
        let config = Config::default()
            .with_keepalive_interval(Some(Duration::from_millis(50)))
            .with_keepalive_timeout(Duration::from_millis(50));
        let client = Connection::spawn(dialed.expect("connect"), Role::Client, config, smol::spawn);
        assert_eq!(client.closed().await, Ok(CloseReason::KeepAliveTimeout));
    });
}
