//! The sans-IO core driven by hand in a custom event loop over
//! non-blocking `std::net` sockets: no runtime, no threads, no adapter.
//!
//! One thread owns both ends of a loopback TCP connection, each with its
//! own `Session`. Every turn of the loop reads what the sockets have, feeds
//! it in, lets the applications act on the events, fires due timers and
//! writes out what the sessions produced through a [`TransmitQueue`], the
//! one output path for hand-driven hosts: it keeps whatever a socket would
//! not take for the next turn, shares large payloads for vectored writes
//! and never asks the session for more than the socket can take. A real host would wait in epoll/kqueue (or
//! mio) instead of napping when a turn does nothing.
//!
//! Run with `cargo run --release --example nonblocking_loop`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant as Clock};

use std::io::IoSlice;

use muxplex::{Config, Event, Instant, OpenError, Session, StreamError, StreamId, TransmitQueue};

/// Streams the client opens, and the size of each one's payload: more than
/// the 256 KiB window, so flow control has to work.
const STREAMS: usize = 40;
const PAYLOAD: usize = 1_000_000;

/// One end: a session, its socket, and output the socket has not taken.
struct Endpoint {
    name: &'static str,
    session: Session,
    socket: TcpStream,
    /// Output taken from the session that the socket has not taken yet.
    unsent: TransmitQueue,
    eof: bool,
    /// Whether our direction of the socket is shut, after the session
    /// ended and its last bytes (the GoAway) went out.
    shut: bool,
}

impl Endpoint {
    fn new(name: &'static str, session: Session, socket: TcpStream) -> std::io::Result<Self> {
        socket.set_nonblocking(true)?;
        socket.set_nodelay(true)?;
        Ok(Endpoint {
            name,
            session,
            socket,
            unsent: TransmitQueue::default(),
            eof: false,
            shut: false,
        })
    }

    /// Feeds whatever the socket has; returns whether anything came.
    fn read(&mut self, now: Instant) -> std::io::Result<bool> {
        let mut buf = [0u8; 64 * 1024];
        let mut progress = false;
        while !self.eof {
            match self.socket.read(&mut buf) {
                Ok(0) => {
                    self.session.handle_eof(now);
                    self.eof = true;
                    progress = true;
                }
                Ok(n) => {
                    self.session.handle_input(now, &buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(progress)
    }

    /// Fires the session's timer if it is due.
    fn timers(&mut self, now: Instant) {
        if self.session.poll_timeout().is_some_and(|at| at <= now) {
            self.session.handle_timeout(now);
        }
    }

    /// Drains the session's output into the socket; what does not fit
    /// waits in the queue, and the session is not asked for more until the
    /// socket has taken it (that is the backpressure).
    fn write(&mut self) -> std::io::Result<bool> {
        let mut progress = false;
        loop {
            if self.unsent.is_empty() && !self.unsent.fill(&mut self.session) {
                if self.session.is_closed() && !self.shut {
                    // Ended and flushed: the transport goes too, so the
                    // peer sees end of file instead of silence.
                    self.shut = true;
                    let _ = self.socket.shutdown(std::net::Shutdown::Write);
                    progress = true;
                }
                return Ok(progress);
            }
            let mut chunks = [&[][..]; TransmitQueue::MAX_CHUNKS];
            let count = self.unsent.chunks(&mut chunks);
            let slices: Vec<IoSlice<'_>> =
                chunks[..count].iter().map(|c| IoSlice::new(c)).collect();
            match self.socket.write_vectored(&slices) {
                Ok(n) => {
                    let first = chunks[0].len();
                    self.unsent.note_vectored_write(n, first, count);
                    self.unsent.advance(n);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(progress),
                Err(e) if self.session.is_closed() => {
                    // The peer hung up after the session ended: nothing left
                    // to say anyway.
                    let _ = e;
                    self.unsent.clear();
                    return Ok(progress);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn pattern(index: usize, offset: usize) -> u8 {
    (index.wrapping_mul(31) ^ offset.wrapping_mul(7)) as u8
}

/// The client application: what each stream has written and read back.
#[derive(Default)]
struct Client {
    opened: usize,
    written: HashMap<StreamId, (usize, usize)>,
    echoed: HashMap<StreamId, usize>,
    done: usize,
    corrupt: usize,
}

impl Client {
    /// Opens what the session allows, then writes what the windows allow.
    fn act(&mut self, session: &mut Session, now: Instant) -> Result<(), String> {
        while self.opened < STREAMS {
            match session.open_stream(now) {
                Ok(id) => {
                    self.written.insert(id, (self.opened, 0));
                    self.opened += 1;
                }
                Err(OpenError::Blocked) => break, // OpenUnblocked follows
                Err(e) => return Err(format!("open: {e}")),
            }
        }
        for (&id, (index, written)) in self.written.iter_mut() {
            let Ok(mut stream) = session.stream(id) else {
                continue;
            };
            if *written == PAYLOAD {
                continue;
            }
            let data: Vec<u8> = (*written..PAYLOAD).map(|o| pattern(*index, o)).collect();
            match stream.write(&data) {
                Ok(n) => *written += n,
                Err(StreamError::Blocked | StreamError::Finished) => {}
                Err(e) => return Err(format!("client write on {id}: {e}")),
            }
            if *written == PAYLOAD {
                stream.finish(now).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Reads echoes and checks them against what was sent.
    fn readable(&mut self, session: &mut Session, id: StreamId) -> Result<(), String> {
        let index = self.written[&id].0;
        let Ok(mut stream) = session.stream(id) else {
            return Ok(());
        };
        let echoed = self.echoed.entry(id).or_default();
        loop {
            match stream.read_chunk(usize::MAX) {
                Ok(Some(chunk)) => {
                    let offset = *echoed;
                    if chunk
                        .iter()
                        .enumerate()
                        .any(|(i, &b)| b != pattern(index, offset + i))
                    {
                        self.corrupt += 1;
                    }
                    *echoed += chunk.len();
                }
                Ok(None) => {
                    self.done += 1;
                    if *echoed != PAYLOAD {
                        self.corrupt += 1;
                    }
                    return Ok(());
                }
                Err(StreamError::Blocked) => return Ok(()),
                Err(e) => return Err(format!("client read on {id}: {e}")),
            }
        }
    }
}

/// The server application: echoes each stream, keeping what the window
/// did not take yet, and finishes once the client has.
#[derive(Default)]
struct Server {
    pending: HashMap<StreamId, (Vec<u8>, bool)>,
}

impl Server {
    fn act(&mut self, session: &mut Session, now: Instant) -> Result<(), String> {
        while let Some(id) = session.accept_stream() {
            self.pending.insert(id, (Vec::new(), false));
        }
        let mut finished = Vec::new();
        for (&id, (backlog, client_done)) in self.pending.iter_mut() {
            let Ok(mut stream) = session.stream(id) else {
                continue;
            };
            // Read only while the echo keeps up: a full window pushes back
            // on the client instead of growing our memory.
            while backlog.len() < 256 * 1024 && !*client_done {
                match stream.read_chunk(64 * 1024) {
                    Ok(Some(chunk)) => backlog.extend_from_slice(&chunk),
                    Ok(None) => *client_done = true,
                    Err(StreamError::Blocked) => break,
                    Err(e) => return Err(format!("server read on {id}: {e}")),
                }
            }
            if !backlog.is_empty() {
                match stream.write(backlog) {
                    Ok(n) => {
                        backlog.drain(..n);
                    }
                    Err(StreamError::Blocked) => {}
                    Err(e) => return Err(format!("server write on {id}: {e}")),
                }
            }
            if *client_done && backlog.is_empty() {
                stream.finish(now).map_err(|e| e.to_string())?;
                finished.push(id);
            }
        }
        for id in finished {
            self.pending.remove(&id);
        }
        Ok(())
    }
}

fn run() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let dialed = TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (accepted, _) = listener.accept().map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| e.to_string();
    let origin = Clock::now();
    let now = || Instant::from_micros(origin.elapsed().as_micros() as u64);
    let config = |e: muxplex::ConfigError| e.to_string();
    let session = Session::client(Config::default(), now()).map_err(config)?;
    let mut client = Endpoint::new("client", session, dialed).map_err(io)?;
    let session = Session::server(Config::default(), now()).map_err(config)?;
    let mut server = Endpoint::new("server", session, accepted).map_err(io)?;

    let (mut app, mut echo) = (Client::default(), Server::default());
    let mut turns = 0u64;
    let mut idle_turns = 0u64;
    let mut closing = false;
    while !(client.session.is_closed() && server.session.is_closed()) {
        turns += 1;
        let t = now();
        let mut progress = client.read(t).map_err(io)? | server.read(t).map_err(io)?;
        client.timers(t);
        server.timers(t);

        // The applications react to the news, then act.
        while let Some(event) = client.session.poll_event() {
            match event {
                Event::Readable(id) => app.readable(&mut client.session, id)?,
                Event::Closed(reason) => println!("{}: closed ({reason})", client.name),
                _ => {}
            }
        }
        while let Some(event) = server.session.poll_event() {
            if let Event::Closed(reason) = event {
                println!("{}: closed ({reason})", server.name);
            }
        }
        if !closing {
            app.act(&mut client.session, t)?;
            echo.act(&mut server.session, t)?;
        }
        if app.done == STREAMS && !closing {
            println!("client: all {STREAMS} echoes back after {turns} turns; closing");
            client.session.close(t);
            closing = true;
        }

        progress |= client.write().map_err(io)? | server.write().map_err(io)?;
        if !progress {
            // Nothing moved: a real host would wait in epoll here.
            idle_turns += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        if origin.elapsed() > Duration::from_secs(60) {
            return Err("no end after 60 s".into());
        }
    }
    println!(
        "{STREAMS} streams x {PAYLOAD} B echoed, {} corrupt; {turns} loop turns ({idle_turns} idle)",
        app.corrupt
    );
    if app.corrupt > 0 {
        return Err(format!("{} streams came back wrong", app.corrupt));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nonblocking_loop failed: {e}");
            ExitCode::FAILURE
        }
    }
}
