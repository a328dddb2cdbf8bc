//! A deterministic in-memory testing kit (feature `testing`).
//!
//! [`Pair`] wires a client and a server [`Session`] back to back through two
//! simulated links, under a virtual clock. The links cut the byte stream
//! into chunks of a chosen size and may delay them, so a test can check
//! that a protocol built on muxplex behaves the same however the transport
//! splits and delays its bytes. Everything is seeded: the same seed gives
//! the same run.
//!
//! ```
//! use muxplex::testing::{Chunking, Pair};
//! use muxplex::Config;
//!
//! let mut pair = Pair::new(Config::default(), Config::default())
//!     .with_seed(7)
//!     .with_chunking(Chunking::Random { max: 5 });
//! let id = pair.client.open_stream().unwrap();
//! pair.client.stream(id).unwrap().write(b"ping").unwrap();
//! pair.drive();
//! let accepted = pair.server.accept_stream().unwrap();
//! let mut buf = [0u8; 4];
//! assert_eq!(pair.server.stream(accepted).unwrap().read(&mut buf), Ok(4));
//! assert_eq!(&buf, b"ping");
//! ```

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::config::Config;
use crate::session::Session;
use crate::time::Instant;

/// A small, fast, seeded pseudo-random generator (SplitMix64), good enough
/// for test schedules and needing no dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high` (`low` if the range is empty).
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        if high <= low {
            return low;
        }
        let span = (high - low) as u64 + 1;
        low + (self.next_u64() % span) as usize
    }

    /// True with probability `numerator / denominator`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.next_u64() % denominator.max(1) < numerator
    }
}

/// How a link cuts the byte stream it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Chunking {
    /// Everything a session transmits in one go arrives in one piece.
    Whole,
    /// Pieces of exactly this many bytes (the last may be shorter).
    Fixed(usize),
    /// Pieces of a random size in `1..=max`.
    Random {
        /// The largest piece.
        max: usize,
    },
}

/// Which end of a [`Pair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client session.
    Client,
    /// The server session.
    Server,
}

/// Bytes travelling one way, each piece with the time it arrives.
#[derive(Debug, Default)]
struct Link {
    in_transit: VecDeque<(Instant, Vec<u8>)>,
    /// When the link finishes putting its queued bytes on the wire, under a
    /// bandwidth limit.
    busy_until: Instant,
    /// Whether the sender's side ended the transport (after what it sent).
    eof_sent: bool,
    eof_delivered: bool,
    /// Bytes the link still carries before the connection breaks.
    cut_after: Option<usize>,
    /// XOR mask for the next byte the sender sends.
    corrupt_next: Option<u8>,
}

/// A client and a server session joined by simulated links under a
/// virtual clock.
#[derive(Debug)]
pub struct Pair {
    /// The end that opens odd stream ids.
    pub client: Session,
    /// The end that opens even stream ids.
    pub server: Session,
    now: Instant,
    rng: Rng,
    chunking: Chunking,
    latency: Duration,
    /// Bytes per second each way; `None` for unlimited.
    bandwidth: Option<u64>,
    to_server: Link,
    to_client: Link,
    scratch: Vec<u8>,
}

/// Steps `drive` may take before it decides the sessions are stuck in a
/// loop; far above what any finite exchange needs.
const MAX_DRIVE_STEPS: usize = 10_000_000;

impl Pair {
    /// Two fresh sessions with these configurations, chunking `Whole`,
    /// no latency, seed 0.
    pub fn new(client: Config, server: Config) -> Self {
        Pair {
            client: Session::client(client),
            server: Session::server(server),
            now: Instant::ZERO,
            rng: Rng::new(0),
            chunking: Chunking::Whole,
            latency: Duration::ZERO,
            bandwidth: None,
            to_server: Link::default(),
            to_client: Link::default(),
            scratch: vec![0; 64 * 1024],
        }
    }

    /// Seeds the generator behind random chunking and [`Pair::rng`].
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = Rng::new(seed);
        self
    }

    /// Sets how both links cut the byte stream.
    pub fn with_chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = chunking;
        self
    }

    /// Sets the one-way delay of both links.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Limits both links to this many bytes per second: bytes queue behind
    /// each other as on a real link, then take the latency to arrive.
    pub fn with_bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.bandwidth = Some(bytes_per_second.max(1));
        self
    }

    /// The virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The pair's seeded generator, for tests that want random sizes too.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// One session by side.
    pub fn session(&mut self, side: Side) -> &mut Session {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// Ends one side's transport after what it has already sent; the other
    /// side gets `handle_eof` once those bytes are delivered, and what the
    /// closed side sends later is lost.
    pub fn close_transport(&mut self, from: Side) {
        match from {
            Side::Client => self.to_server.eof_sent = true,
            Side::Server => self.to_client.eof_sent = true,
        }
    }

    /// Breaks the connection after `from` has sent `bytes` more bytes: each
    /// side then gets `handle_eof` once what got through is delivered, and
    /// whatever either side sends afterwards is lost, as when a TCP
    /// connection dies mid-frame.
    pub fn cut_transport(&mut self, from: Side, bytes: usize) {
        self.link(from).cut_after = Some(bytes);
    }

    /// Flips the bits of `xor` in the next byte `from` sends, to model a
    /// corrupted transport. Right after [`drive`](Self::drive) the next
    /// byte is a header's version byte.
    pub fn corrupt_next_byte(&mut self, from: Side, xor: u8) {
        self.link(from).corrupt_next = Some(xor);
    }

    /// Puts raw bytes on the link from `from`, after what it has sent so
    /// far: a hostile peer's frames mixed into a real session's.
    pub fn inject(&mut self, from: Side, bytes: &[u8]) {
        let arrival = self.now + self.latency;
        self.link(from)
            .in_transit
            .push_back((arrival, bytes.to_vec()));
    }

    fn link(&mut self, from: Side) -> &mut Link {
        match from {
            Side::Client => &mut self.to_server,
            Side::Server => &mut self.to_client,
        }
    }

    /// Bytes sent but not yet delivered, both ways.
    pub fn bytes_in_transit(&self) -> usize {
        let count = |link: &Link| link.in_transit.iter().map(|(_, b)| b.len()).sum::<usize>();
        count(&self.to_server) + count(&self.to_client)
    }

    /// Moves bytes both ways until neither session has anything to send
    /// and nothing is in transit, advancing the clock to each delivery and
    /// firing timers that fall due on the way. Panics if the sessions never
    /// go quiet, which is always a bug.
    pub fn drive(&mut self) {
        for _ in 0..MAX_DRIVE_STEPS {
            if self.step() {
                continue;
            }
            match self.next_delivery() {
                Some(at) => self.now = self.now.max(at),
                None => return,
            }
        }
        panic!("sessions did not go quiet within {MAX_DRIVE_STEPS} steps");
    }

    /// Advances the clock by `by`, firing timers and delivering bytes on the
    /// way, in time order.
    pub fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            while self.step() {}
            let next = [
                self.next_delivery(),
                self.client.poll_timeout(),
                self.server.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .filter(|&at| at <= until)
            .min();
            match next {
                Some(at) => self.now = self.now.max(at),
                None => break,
            }
        }
        self.now = until;
        while self.step() {}
    }

    /// One round at the current time: fire due timers, transmit, deliver
    /// what is due. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let now = self.now;
        for session in [&mut self.client, &mut self.server] {
            if session.poll_timeout().is_some_and(|at| at <= now) {
                session.handle_timeout(now);
            }
        }
        let mut progress = self.transmit(Side::Client);
        progress |= self.transmit(Side::Server);
        progress |= self.deliver(Side::Server);
        progress |= self.deliver(Side::Client);
        progress
    }

    fn next_delivery(&self) -> Option<Instant> {
        let first = |link: &Link| link.in_transit.front().map(|&(at, _)| at);
        [first(&self.to_server), first(&self.to_client)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Drains one session's output into its outgoing link, cut into pieces.
    fn transmit(&mut self, from: Side) -> bool {
        let (now, latency, bandwidth) = (self.now, self.latency, self.bandwidth);
        let (session, link) = match from {
            Side::Client => (&mut self.client, &mut self.to_server),
            Side::Server => (&mut self.server, &mut self.to_client),
        };
        let mut moved = false;
        loop {
            let piece = match self.chunking {
                Chunking::Whole => self.scratch.len(),
                Chunking::Fixed(size) => size.clamp(1, self.scratch.len()),
                Chunking::Random { max } => self.rng.range(1, max.clamp(1, self.scratch.len())),
            };
            let mut n = session.poll_transmit(&mut self.scratch[..piece]);
            if n == 0 {
                break;
            }
            if link.eof_sent {
                // The connection is gone: output vanishes.
                continue;
            }
            moved = true;
            if let Some(xor) = link.corrupt_next.take() {
                self.scratch[0] ^= xor;
            }
            if let Some(left) = link.cut_after.as_mut() {
                n = n.min(*left);
                *left -= n;
                if *left == 0 {
                    link.eof_sent = true;
                }
            }
            let sent = match bandwidth {
                None => now,
                Some(rate) => {
                    let start = link.busy_until.max(now);
                    let micros = (n as u64).saturating_mul(1_000_000) / rate;
                    link.busy_until = start + Duration::from_micros(micros);
                    link.busy_until
                }
            };
            if n > 0 {
                link.in_transit
                    .push_back((sent + latency, self.scratch[..n].to_vec()));
            }
        }
        if link.eof_sent && link.cut_after == Some(0) {
            // A cut breaks both directions.
            let other = match from {
                Side::Client => &mut self.to_client,
                Side::Server => &mut self.to_server,
            };
            other.eof_sent = true;
        }
        moved
    }

    /// Hands every piece due by now to the receiving session.
    fn deliver(&mut self, to: Side) -> bool {
        let now = self.now;
        let (session, link) = match to {
            Side::Server => (&mut self.server, &mut self.to_server),
            Side::Client => (&mut self.client, &mut self.to_client),
        };
        let mut moved = false;
        while link.in_transit.front().is_some_and(|&(at, _)| at <= now) {
            let (_, bytes) = link.in_transit.pop_front().expect("checked above");
            session.handle_input(now, &bytes);
            moved = true;
        }
        if link.eof_sent && !link.eof_delivered && link.in_transit.is_empty() {
            link.eof_delivered = true;
            session.handle_eof(now);
            moved = true;
        }
        moved
    }
}
