//! Helpers shared by the integration tests.
//!
//! Every file under `tests/` compiles this module but uses only some of the
//! helpers; `dead_code` is allowed for that reason alone (every helper is
//! used by at least one test file).
#![allow(dead_code)]

use std::io::{self, ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use muxplex_blocking::{
    CloseReason, Config, Connection, Delivery, OpenError, StreamError, TransportError,
};

/// Runs a test body on its own thread and fails the test if it has not
/// returned after `HANG_GUARD`. Only a hang reaches the limit, so it is
/// generous: it says nothing about speed.
pub(crate) fn hang_guard<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    const HANG_GUARD: Duration = Duration::from_secs(300);
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let _ = done.send(body());
    });
    match result.recv_timeout(HANG_GUARD) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("the test hung"),
        Err(RecvTimeoutError::Disconnected) => panic!("the test body panicked"),
    }
}

/// Both ends of a connection over loopback TCP, with a handle on the
/// client's socket so a test can kill the transport.
pub(crate) struct Ends {
    pub client: Connection,
    pub server: Connection,
    pub client_tcp: TcpStream,
}

pub(crate) fn connect() -> Ends {
    connect_with(Config::default(), Config::default())
}

pub(crate) fn connect_with(client: Config, server: Config) -> Ends {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client_tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_tcp, _) = listener.accept().unwrap();
    Ends {
        client: Connection::client(client_tcp.try_clone().unwrap(), client).unwrap(),
        server: Connection::server(server_tcp, server).unwrap(),
        client_tcp,
    }
}

/// Deterministic bytes that differ by seed and by position.
pub(crate) fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Reads to the end of the stream.
pub(crate) fn read_all(mut reader: impl Read) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    reader.read_to_end(&mut data)?;
    Ok(data)
}

/// The core error inside an adapter error, which must be there.
pub(crate) fn inner(error: &io::Error) -> StreamError {
    *error
        .get_ref()
        .and_then(|e| e.downcast_ref::<StreamError>())
        .unwrap_or_else(|| panic!("no StreamError inside {error:?}"))
}

/// Whether the peer's application may have the stream, from the error of
/// a call on a connection the transport's end or failure ended: the end
/// of file is `ConnectionAborted` with the core's `SessionClosed` inside,
/// a failure the transport's own error (whose kind depends on when the
/// kernel noticed).
pub(crate) fn lost(error: &io::Error) -> Delivery {
    let inner = error.get_ref().expect("an inner error");
    if let Some(failed) = inner.downcast_ref::<TransportError>() {
        assert_eq!(error.kind(), failed.transport().kind());
        return failed.delivery();
    }
    assert_eq!(error.kind(), ErrorKind::ConnectionAborted, "{error:?}");
    if let Some(OpenError::SessionClosed(CloseReason::TransportClosed)) =
        inner.downcast_ref::<OpenError>()
    {
        return Delivery::NotDelivered;
    }
    match inner.downcast_ref::<StreamError>() {
        Some(&StreamError::SessionClosed {
            reason: CloseReason::TransportClosed,
            delivery,
        }) => delivery,
        _ => panic!("not the transport's end: {error:?}"),
    }
}
