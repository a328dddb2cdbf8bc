//! The hostile client's end of a connection: raw yamux frames over a
//! blocking `TcpStream`, and a reader thread (the pump) that reads what the
//! server sends, at full speed, at a set rate or not at all.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::wire::{self, ACK, DATA, Decoder, FIN, Header, INITIAL_WINDOW, Item, PING, RST, SYN};

/// How long one [`Conn::send`] may take before the client gives up on it.
const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one write system call may block.
const WRITE_POLL: Duration = Duration::from_millis(100);
/// How often the pump looks at its stop flag while nothing arrives.
const READ_POLL: Duration = Duration::from_millis(20);
/// The receive buffer of a connection read at a set rate.
const SLOW_READER_BUFFER: usize = 64 * 1024;
/// Pongs the pump owes before it stops queueing more.
const MAX_OWED_PONGS: usize = 64;

/// How the pump reads the server's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    /// Never: the server's output fills the socket buffers and sticks.
    Never,
    /// As fast as it arrives.
    Drain,
    /// At most this many bytes per second.
    Rate(u64),
}

/// What the pump has seen so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    /// Frames with ACK on a stream (the server accepted it).
    pub acks: usize,
    /// Frames with RST.
    pub resets: usize,
    /// Frames with FIN.
    pub fins: usize,
    /// Data payload bytes, all streams.
    pub data: u64,
    /// Data payload bytes per stream.
    pub per_stream: HashMap<u32, u64>,
    /// Streams whose echoed bytes differed from the pattern sent (checked
    /// only when the connection verifies).
    pub corrupt: usize,
    /// Pongs received (answers to our pings).
    pub pongs: usize,
    /// The code of the first GoAway received.
    pub go_away: Option<u32>,
    /// The server closed (EOF) or broke (error) the connection.
    pub ended: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    stats: Stats,
    /// Send window per stream we opened.
    credit: HashMap<u32, u64>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One hostile connection.
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    shared: Arc<Shared>,
    pump: Option<JoinHandle<()>>,
    /// Our end's port, to find the server's end in `/proc/net/tcp`.
    pub local_port: u16,
}

impl Conn {
    /// Connects to the server on 127.0.0.1:`port`; `verify` checks every
    /// echoed byte against [`wire::pattern_byte`].
    pub(crate) fn connect(port: u16, reading: Reading, verify: bool) -> io::Result<Conn> {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        if let Reading::Rate(_) = reading {
            // A slow reader keeps little in its socket buffer, so the
            // server's window updates reach it soon after they are sent
            // instead of waiting behind megabytes of echo.
            socket.set_recv_buffer_size(SLOW_READER_BUFFER)?;
        }
        socket.connect_timeout(&address.into(), Duration::from_secs(2))?;
        let stream = TcpStream::from(socket);
        stream.set_write_timeout(Some(WRITE_POLL))?;
        stream.set_read_timeout(Some(READ_POLL))?;
        let local_port = stream.local_addr()?.port();
        let writer = Arc::new(Mutex::new(stream.try_clone()?));
        let shared = Arc::new(Shared::default());
        let pump = match reading {
            Reading::Never => None,
            Reading::Drain | Reading::Rate(_) => {
                let pump = Pump {
                    stream: stream.try_clone()?,
                    writer: writer.clone(),
                    shared: shared.clone(),
                    rate: match reading {
                        Reading::Rate(rate) => Some(rate),
                        _ => None,
                    },
                    verify,
                };
                Some(thread::spawn(move || pump.run()))
            }
        };
        Ok(Conn {
            stream,
            writer,
            shared,
            pump,
            local_port,
        })
    }

    /// Writes raw bytes (whole frames, or any part of them); fails with
    /// `TimedOut` if the server has not taken them all within 3 s.
    pub(crate) fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + SEND_TIMEOUT;
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut rest = bytes;
        while !rest.is_empty() {
            match writer.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if !is_timeout(&e) && e.kind() != io::ErrorKind::Interrupted => {
                    return Err(e);
                }
                Err(_) => {}
            }
            if !rest.is_empty() && Instant::now() >= deadline {
                let sent = bytes.len() - rest.len();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the server took {sent} of {} bytes in 3 s", bytes.len()),
                ));
            }
        }
        Ok(())
    }

    /// Records that we opened stream `id`: its send window starts at the
    /// initial window.
    pub(crate) fn opened(&self, id: u32) {
        self.shared
            .lock()
            .credit
            .insert(id, u64::from(INITIAL_WINDOW));
    }

    /// Takes `len` bytes of stream `id`'s send window, waiting for the
    /// server's window updates until `deadline`.
    pub(crate) fn take_credit(&self, id: u32, len: u64, deadline: Instant) -> bool {
        let mut state = self.shared.lock();
        loop {
            let credit = state.credit.entry(id).or_default();
            if *credit >= len {
                *credit -= len;
                return true;
            }
            let now = Instant::now();
            if now >= deadline || state.stats.ended.is_some() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// A copy of what the pump has seen.
    pub(crate) fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Waits until `done` holds for the pump's stats or `deadline` passes;
    /// returns whether it holds.
    pub(crate) fn wait_until(&self, deadline: Instant, done: impl Fn(&Stats) -> bool) -> bool {
        let mut state = self.shared.lock();
        loop {
            if done(&state.stats) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, (deadline - now).min(READ_POLL))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Half-closes the TCP connection: we send nothing more.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    /// Sets TCP_NODELAY, so one-byte writes go out as one-byte segments.
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        self.stream.set_nodelay(true)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(pump) = self.pump.take() {
            let _ = pump.join();
        }
    }
}

/// The reader thread of a [`Conn`].
struct Pump {
    stream: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    shared: Arc<Shared>,
    rate: Option<u64>,
    verify: bool,
}

impl Pump {
    fn run(mut self) {
        let started = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        let mut decoder = Decoder::default();
        let mut total: u64 = 0;
        let mut owed: Vec<u32> = Vec::new();
        // The stream of the Data frame whose payload is arriving.
        let mut current: Option<u32> = None;
        while !self.shared.stop.load(Ordering::Relaxed) {
            let chunk = match self.rate {
                // Small reads, so the rate holds over short spans too.
                Some(_) => 16 * 1024,
                None => buf.len(),
            };
            let ended = match self.stream.read(&mut buf[..chunk]) {
                Ok(0) => Some("the server closed the connection".to_owned()),
                Ok(n) => {
                    total += n as u64;
                    let mut state = self.shared.lock();
                    decoder.feed(&buf[..n], |item| match item {
                        Item::Header(h) => {
                            current = (h.kind == DATA).then_some(h.stream);
                            on_header(&mut state, h, &mut owed);
                        }
                        Item::Payload(p) => {
                            let id = current.unwrap_or(0);
                            on_payload(&mut state.stats, id, p, self.verify);
                        }
                    });
                    drop(state);
                    self.shared.changed.notify_all();
                    None
                }
                Err(e) if is_timeout(&e) => None,
                Err(e) => Some(format!("the connection failed: {e}")),
            };
            if let Some(why) = ended {
                self.shared.lock().stats.ended = Some(why);
                self.shared.changed.notify_all();
                return;
            }
            self.answer(&mut owed);
            if let Some(rate) = self.rate {
                let due = Duration::from_secs_f64(total as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    thread::sleep(wait.min(Duration::from_millis(100)));
                }
            }
        }
    }

    /// Writes the pongs we owe, unless the writer is busy (a blocked bulk
    /// write): then they wait for the next round.
    fn answer(&self, owed: &mut Vec<u32>) {
        if owed.is_empty() {
            return;
        }
        let Ok(mut writer) = self.writer.try_lock() else {
            return;
        };
        let mut frames = Vec::with_capacity(owed.len() * wire::HEADER_LEN);
        for value in owed.drain(..) {
            wire::push_frame(&mut frames, PING, ACK, 0, value);
        }
        let _ = writer.write_all(&frames);
    }
}

/// Whether a socket operation ran into its timeout (which one, depends on
/// the platform).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn on_header(state: &mut State, h: Header, owed: &mut Vec<u32>) {
    if h.kind == PING {
        if h.has(SYN) && owed.len() < MAX_OWED_PONGS {
            owed.push(h.length);
        } else if h.has(ACK) {
            state.stats.pongs += 1;
        }
        return;
    }
    if h.kind == wire::GO_AWAY {
        state.stats.go_away.get_or_insert(h.length);
        return;
    }
    let stats = &mut state.stats;
    stats.acks += usize::from(h.has(ACK));
    stats.resets += usize::from(h.has(RST));
    stats.fins += usize::from(h.has(FIN));
    if h.kind == wire::WINDOW_UPDATE && !h.has(RST) {
        *state.credit.entry(h.stream).or_default() += u64::from(h.length);
    }
}

fn on_payload(stats: &mut Stats, id: u32, payload: &[u8], verify: bool) {
    stats.data += payload.len() as u64;
    let offset = stats.per_stream.entry(id).or_default();
    if verify {
        let start = *offset as usize;
        let intact = payload
            .iter()
            .enumerate()
            .all(|(i, &b)| b == wire::pattern_byte(id, start + i));
        stats.corrupt += usize::from(!intact);
    }
    *offset += payload.len() as u64;
}

/// A well-behaved client's check: a fresh connection, one stream with
/// 4 KiB of data and FIN; the server must echo it byte for byte and finish
/// within 5 s.
pub(crate) fn echo_check(port: u16) -> Result<(), String> {
    const LEN: usize = 4096;
    const ID: u32 = 1;
    let conn = Conn::connect(port, Reading::Drain, true).map_err(|e| format!("connect: {e}"))?;
    conn.opened(ID);
    let mut frames = Vec::new();
    wire::push_data(&mut frames, SYN, ID, &wire::pattern(ID, 0, LEN));
    wire::push_frame(&mut frames, wire::WINDOW_UPDATE, FIN, ID, 0);
    conn.send(&frames).map_err(|e| format!("send: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let done = |s: &Stats| s.fins > 0 || s.resets > 0 || s.ended.is_some() || s.go_away.is_some();
    let finished = conn.wait_until(deadline, done);
    let stats = conn.stats();
    let echoed = stats.per_stream.get(&ID).copied().unwrap_or(0);
    match () {
        _ if !finished => Err(format!("no echo within 5 s ({echoed} of {LEN} bytes)")),
        _ if stats.resets > 0 => Err("the stream was reset".into()),
        _ if stats.fins == 0 => Err(stats.ended.unwrap_or_else(|| "GoAway".into())),
        _ if echoed != LEN as u64 || stats.corrupt > 0 => Err(format!(
            "echo of {echoed} bytes, {LEN} sent, intact: {}",
            stats.corrupt == 0
        )),
        _ => Ok(()),
    }
}

impl Conn {
    /// On a connection without a pump ([`Reading::Never`]): sends a ping
    /// and reads until its pong, at most until `deadline`. Whatever else
    /// arrives first is read and dropped.
    pub(crate) fn ping_unpumped(&self, value: u32, deadline: Instant) -> bool {
        assert!(self.pump.is_none(), "the pump reads this connection");
        if self.send(&wire::header(PING, SYN, 0, value)).is_err() {
            return false;
        }
        let mut decoder = Decoder::default();
        let mut buf = [0u8; 4096];
        let mut stream = &self.stream;
        while Instant::now() < deadline {
            let n = match stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(e) if is_timeout(&e) => continue,
                Err(_) => return false,
            };
            let mut answered = false;
            decoder.feed(&buf[..n], |item| {
                if let Item::Header(h) = item {
                    answered |= h.kind == PING && h.has(ACK) && h.length == value;
                }
            });
            if answered {
                return true;
            }
        }
        false
    }
}
