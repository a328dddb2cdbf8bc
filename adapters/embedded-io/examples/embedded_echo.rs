//! Two muxplex sessions over a simulated serial line, each behind the
//! blocking embedded-io [`Driver`], run on the host.
//!
//! The line is an in-memory pipe holding 64 bytes per direction, like a
//! microcontroller's UART FIFO, and the drivers' buffers are as small. A
//! main loop advances a virtual clock by 1 ms per round and calls
//! `poll(now)` on both drivers, then hands each session's events to its
//! application: a client that sends a few streams and checks the echo, and
//! a server that echoes. One stream carries 300 KiB, more than the 256 KiB
//! initial window, so window updates must cross the line while data does.
//! Then the client closes gracefully, the server follows on its GoAway, and
//! both print why their session ended.
//!
//! Run with `cargo run -p muxplex-embedded-io --example embedded_echo`.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use embedded_io::{ErrorType, Read, ReadReady, Write, WriteReady};
use muxplex::{Config, Event, Instant, Session, StreamError, StreamId};
use muxplex_embedded_io::Driver;

/// Bytes the line holds per direction, and the drivers' buffer sizes.
const CAPACITY: usize = 64;
/// One round of the main loop in virtual time. A round moves at most
/// [`CAPACITY`] bytes each way, so the line runs at about 64 KB/s, a fast
/// UART.
const TICK: Duration = Duration::from_millis(1);
/// Far more rounds than the echo and the close need; reaching it means
/// the drivers stalled.
const MAX_ROUNDS: u32 = 100_000;

fn main() -> Result<(), Box<dyn Error>> {
    let (a, b) = line();
    let mut client = Driver::with_capacity(
        a,
        Session::client(Config::default(), Instant::ZERO).expect("valid config"),
        CAPACITY,
        CAPACITY,
    );
    let mut server = Driver::with_capacity(
        b,
        Session::server(Config::default(), Instant::ZERO).expect("valid config"),
        CAPACITY,
        CAPACITY,
    );
    let messages = vec![
        b"hello".to_vec(),
        b"many streams, one serial line".to_vec(),
        payload(3, 2000),
        payload(4, 300 * 1024),
    ];
    let total: usize = messages.iter().map(Vec::len).sum();
    let mut app = Client::start(client.session_mut(), messages)?;
    let mut echo = EchoServer::default();

    let mut now = Instant::ZERO;
    for _ in 0..MAX_ROUNDS {
        now += TICK;
        client.poll(now)?;
        while let Some(event) = client.session_mut().poll_event() {
            app.on_event(client.session_mut(), event, now)?;
        }
        server.poll(now)?;
        while let Some(event) = server.session_mut().poll_event() {
            echo.on_event(server.session_mut(), event, now)?;
        }
        if app.is_done() && !client.session().is_closing() && !client.session().is_closed() {
            println!(
                "client: {} streams, {total} bytes each way, echoed intact in {} ms",
                app.flows.len(),
                millis(now)
            );
            client.session_mut().close(now);
        }
        // Polling goes on until the last GoAway has left its driver.
        let ended = |d: &Driver<Uart>| d.session().is_closed() && d.is_flushed();
        if ended(&client) && ended(&server) {
            println!(
                "line: {} bytes client to server, {} bytes back, in {} ms",
                client.transport().written,
                server.transport().written,
                millis(now)
            );
            return Ok(());
        }
    }
    Err(format!("stalled after {MAX_ROUNDS} rounds").into())
}

/// One end of the serial line: reads what the other end wrote, at most
/// [`CAPACITY`] bytes in flight per direction.
struct Uart {
    rx: Rc<RefCell<VecDeque<u8>>>,
    tx: Rc<RefCell<VecDeque<u8>>>,
    /// Bytes written so far, for the summary.
    written: usize,
}

fn line() -> (Uart, Uart) {
    let (ab, ba) = (Rc::default(), Rc::default());
    let a = Uart {
        rx: Rc::clone(&ba),
        tx: Rc::clone(&ab),
        written: 0,
    };
    let b = Uart {
        rx: ab,
        tx: ba,
        written: 0,
    };
    (a, b)
}

impl ErrorType for Uart {
    type Error = Infallible;
}

// The driver reads only when ReadReady says so and writes only when
// WriteReady does, so `read` and `write` always find a byte or room and
// never have to block as the traits' contracts would ask.
impl Read for Uart {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut rx = self.rx.borrow_mut();
        let n = buf.len().min(rx.len());
        for (slot, byte) in buf.iter_mut().zip(rx.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(!self.rx.borrow().is_empty())
    }
}

impl Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let mut tx = self.tx.borrow_mut();
        let n = buf.len().min(CAPACITY - tx.len());
        tx.extend(&buf[..n]);
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl WriteReady for Uart {
    fn write_ready(&mut self) -> Result<bool, Infallible> {
        Ok(self.tx.borrow().len() < CAPACITY)
    }
}

/// One of the client's streams.
struct Flow {
    data: Vec<u8>,
    sent: usize,
    echoed: Vec<u8>,
    /// The server's FIN arrived and the echo was checked.
    done: bool,
}

/// Opens a stream per message, writes it, finishes, and checks the echo.
struct Client {
    flows: BTreeMap<StreamId, Flow>,
}

impl Client {
    fn start(session: &mut Session, messages: Vec<Vec<u8>>) -> Result<Client, Box<dyn Error>> {
        let mut client = Client {
            flows: BTreeMap::new(),
        };
        for data in messages {
            let id = session.open_stream(Instant::ZERO)?;
            let flow = Flow {
                data,
                sent: 0,
                echoed: Vec::new(),
                done: false,
            };
            client.flows.insert(id, flow);
            // The window takes 256 KiB at once; the rest waits for Writable.
            client.push(session, id, Instant::ZERO)?;
        }
        Ok(client)
    }

    fn on_event(
        &mut self,
        session: &mut Session,
        event: Event,
        now: Instant,
    ) -> Result<(), Box<dyn Error>> {
        match event {
            Event::Writable(id) => self.push(session, id, now),
            Event::Readable(id) => self.pull(session, id, now),
            Event::Closed(reason) => {
                println!("client: session ended ({reason})");
                Ok(())
            }
            other => Err(format!("client: unexpected {other:?}").into()),
        }
    }

    fn is_done(&self) -> bool {
        self.flows.values().all(|flow| flow.done)
    }

    /// Writes what the window takes; finishes once all is written.
    fn push(
        &mut self,
        session: &mut Session,
        id: StreamId,
        now: Instant,
    ) -> Result<(), Box<dyn Error>> {
        let flow = self.flows.get_mut(&id).ok_or("unknown stream")?;
        let Ok(mut stream) = session.stream(id) else {
            return Ok(()); // finished both ways and freed
        };
        if flow.sent == flow.data.len() {
            return Ok(()); // finished already
        }
        while flow.sent < flow.data.len() {
            match stream.write(&flow.data[flow.sent..]) {
                Ok(n) => flow.sent += n,
                Err(StreamError::Blocked) => return Ok(()), // Writable follows
                Err(e) => return Err(format!("client: write on stream {id}: {e}").into()),
            }
        }
        stream.finish(now)?;
        Ok(())
    }

    /// Collects the echo; checks it at the stream's end.
    fn pull(
        &mut self,
        session: &mut Session,
        id: StreamId,
        now: Instant,
    ) -> Result<(), Box<dyn Error>> {
        let flow = self.flows.get_mut(&id).ok_or("unknown stream")?;
        let mut stream = session.stream(id)?;
        let mut buf = [0u8; CAPACITY];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => flow.echoed.extend_from_slice(&buf[..n]),
                Err(StreamError::Blocked) => return Ok(()), // Readable follows
                Err(e) => return Err(format!("client: read on stream {id}: {e}").into()),
            }
        }
        println!(
            "client: stream {id} sent {} bytes, got {} back at {} ms",
            flow.data.len(),
            flow.echoed.len(),
            millis(now)
        );
        if flow.echoed != flow.data {
            return Err(format!("stream {id}: the echo differs").into());
        }
        flow.done = true;
        Ok(())
    }
}

/// Echoes every stream it accepts, then finishes it; closes when the
/// client goes away.
#[derive(Default)]
struct EchoServer {
    /// Per stream: bytes read and not yet written back, and whether the
    /// client finished.
    streams: BTreeMap<StreamId, (Vec<u8>, bool)>,
}

impl EchoServer {
    fn on_event(
        &mut self,
        session: &mut Session,
        event: Event,
        now: Instant,
    ) -> Result<(), Box<dyn Error>> {
        match event {
            Event::IncomingStream(_) => {
                while let Some(id) = session.accept_stream() {
                    println!("server: accepted stream {id}");
                    self.streams.insert(id, (Vec::new(), false));
                    self.serve(session, id, now)?;
                }
            }
            Event::Readable(id) | Event::Writable(id) => self.serve(session, id, now)?,
            Event::PeerGoingAway => {
                // The client opens nothing more and its streams are done:
                // close too, rather than wait for the line to drop.
                println!("server: the client is going away; closing");
                session.close(now);
            }
            Event::Closed(reason) => println!("server: session ended ({reason})"),
            other => return Err(format!("server: unexpected {other:?}").into()),
        }
        Ok(())
    }

    /// Reads only while the backlog is written back, so a fast client
    /// cannot grow the server's memory beyond one buffer per stream.
    fn serve(
        &mut self,
        session: &mut Session,
        id: StreamId,
        now: Instant,
    ) -> Result<(), Box<dyn Error>> {
        let Some((backlog, client_finished)) = self.streams.get_mut(&id) else {
            return Ok(()); // echoed and finished already
        };
        let mut stream = session.stream(id).map_err(|_| "accepted stream freed")?;
        let mut buf = [0u8; CAPACITY];
        loop {
            while !backlog.is_empty() {
                match stream.write(backlog) {
                    Ok(n) => drop(backlog.drain(..n)),
                    Err(StreamError::Blocked) => return Ok(()), // Writable follows
                    Err(e) => return Err(format!("server: write on stream {id}: {e}").into()),
                }
            }
            if *client_finished {
                stream.finish(now)?;
                self.streams.remove(&id);
                println!("server: stream {id} echoed and finished");
                return Ok(());
            }
            match stream.read(&mut buf) {
                Ok(0) => *client_finished = true,
                Ok(n) => backlog.extend_from_slice(&buf[..n]),
                Err(StreamError::Blocked) => return Ok(()), // Readable follows
                Err(e) => return Err(format!("server: read on stream {id}: {e}").into()),
            }
        }
    }
}

/// A payload that differs per stream and per position, so a swapped, lost
/// or repeated byte shows.
fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7 + j / 251) as u8).collect()
}

/// The virtual clock's reading, for messages.
fn millis(now: Instant) -> u64 {
    now.as_micros() / 1000
}
