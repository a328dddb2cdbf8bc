//! The applications on either end, written against the core's own API as
//! any user of the drivers would: a client that sends a payload per stream
//! and checks the echo, and a server that echoes.

use std::collections::BTreeMap;

use muxplex::{Event, Session, StreamError, StreamId};

/// A deterministic payload for stream number `i`, distinct per stream and
/// per position, so a swapped, lost or repeated byte shows.
pub(crate) fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + j / 251) as u8).collect()
}

/// One of the client's streams.
#[derive(Debug)]
struct Flow {
    sent: usize,
    finished: bool,
    data: Vec<u8>,
    echoed: Vec<u8>,
    /// The server's FIN arrived and was read.
    done: bool,
}

/// Opens a stream per payload, writes it, finishes, and collects the echo.
#[derive(Debug)]
pub(crate) struct Client {
    flows: BTreeMap<StreamId, Flow>,
}

impl Client {
    /// Opens every stream and writes what the windows take now.
    pub(crate) fn start(session: &mut Session, payloads: Vec<Vec<u8>>) -> Self {
        let mut flows = BTreeMap::new();
        for data in payloads {
            let id = session
                .open_stream(muxplex::Instant::ZERO)
                .expect("within the open limit");
            let flow = Flow {
                sent: 0,
                finished: false,
                data,
                echoed: Vec::new(),
                done: false,
            };
            flows.insert(id, flow);
        }
        let mut client = Client { flows };
        let ids: Vec<StreamId> = client.flows.keys().copied().collect();
        for id in ids {
            client.push(session, id);
        }
        client
    }

    /// Acts on one event of the client's session.
    pub(crate) fn on_event(&mut self, session: &mut Session, event: Event) {
        match event {
            Event::Writable(id) => self.push(session, id),
            Event::Readable(id) => self.pull(session, id),
            other => panic!("client did not expect {other:?}"),
        }
    }

    /// Whether every stream's echo arrived in full (each was checked).
    pub(crate) fn is_done(&self) -> bool {
        self.flows.values().all(|flow| flow.done)
    }

    /// Bytes echoed back so far, for progress messages.
    pub(crate) fn echoed(&self) -> usize {
        self.flows.values().map(|flow| flow.echoed.len()).sum()
    }

    fn push(&mut self, session: &mut Session, id: StreamId) {
        let flow = self.flows.get_mut(&id).expect("our stream");
        if flow.finished {
            return;
        }
        let mut stream = session.stream(id).expect("open until echoed");
        while flow.sent < flow.data.len() {
            match stream.write(&flow.data[flow.sent..]) {
                Ok(n) => flow.sent += n,
                Err(StreamError::Blocked) => return, // Writable follows
                Err(e) => panic!("write on {id}: {e}"),
            }
        }
        stream.finish(muxplex::Instant::ZERO).expect("finish once");
        flow.finished = true;
    }

    fn pull(&mut self, session: &mut Session, id: StreamId) {
        let flow = self.flows.get_mut(&id).expect("our stream");
        let mut stream = session.stream(id).expect("open until echoed");
        let mut buf = [0u8; 700];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    assert!(flow.echoed == flow.data, "stream {id}: echo differs");
                    flow.done = true;
                    return;
                }
                Ok(n) => flow.echoed.extend_from_slice(&buf[..n]),
                Err(StreamError::Blocked) => return,
                Err(e) => panic!("read on {id}: {e}"),
            }
        }
    }
}

/// One of the server's streams: what was read and not yet written back.
#[derive(Debug, Default)]
struct Echo {
    backlog: Vec<u8>,
    peer_finished: bool,
}

/// Accepts every stream and writes back what it reads, then finishes.
#[derive(Debug, Default)]
pub(crate) struct EchoServer {
    streams: BTreeMap<StreamId, Echo>,
}

impl EchoServer {
    /// Acts on one event of the server's session; returns whether it was
    /// the peer's GoAway.
    pub(crate) fn on_event(&mut self, session: &mut Session, event: Event) -> bool {
        match event {
            Event::IncomingStream(_) => {
                while let Some(id) = session.accept_stream() {
                    self.streams.insert(id, Echo::default());
                    self.serve(session, id);
                }
            }
            Event::Readable(id) | Event::Writable(id) => self.serve(session, id),
            Event::PeerGoingAway => return true,
            other => panic!("server did not expect {other:?}"),
        }
        false
    }

    /// Reads only while the backlog is written back: holding unwritten data
    /// would let a fast client grow the server's memory.
    fn serve(&mut self, session: &mut Session, id: StreamId) {
        let Some(echo) = self.streams.get_mut(&id) else {
            return; // already finished and forgotten
        };
        let mut stream = session.stream(id).expect("accepted and not finished");
        let mut buf = [0u8; 500];
        loop {
            while !echo.backlog.is_empty() {
                match stream.write(&echo.backlog) {
                    Ok(n) => drop(echo.backlog.drain(..n)),
                    Err(StreamError::Blocked) => return, // Writable follows
                    Err(e) => panic!("echo write on {id}: {e}"),
                }
            }
            if echo.peer_finished {
                stream.finish(muxplex::Instant::ZERO).expect("finish once");
                self.streams.remove(&id);
                return;
            }
            match stream.read(&mut buf) {
                Ok(0) => echo.peer_finished = true,
                Ok(n) => echo.backlog.extend_from_slice(&buf[..n]),
                Err(StreamError::Blocked) => return, // Readable follows
                Err(e) => panic!("echo read on {id}: {e}"),
            }
        }
    }
}
