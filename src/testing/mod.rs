//! A deterministic in-memory testing kit (feature `testing`).
//!
//! [`Pair`] wires a client and a server [`Session`] back to back through two
//! simulated links, under a virtual clock. The links cut the byte stream
//! into chunks of a chosen size and may delay them, so a test can check
//! that a protocol built on muxplex behaves the same however the transport
//! splits and delays its bytes. Everything is seeded: the same seed gives
//! the same run.
//!
//! Every byte either end transmits passes a [`WireAudit`] on its way, and
//! the first frame that breaks a wire rule panics the test (see
//! [`Pair`]). Either end may instead be a [`PeerModel`], a small yamux peer
//! with the quirks of real implementations, or anything else that
//! implements [`Endpoint`].
//!
//! ```
//! use muxplex::testing::{Chunking, Pair};
//! use muxplex::Config;
//!
//! let mut pair = Pair::new(Config::default(), Config::default())
//!     .with_seed(7)
//!     .with_chunking(Chunking::Random { max: 5 });
//! let id = pair.client.open_stream(pair.now()).unwrap();
//! pair.client.stream(id).unwrap().write(b"ping").unwrap();
//! pair.drive();
//! let accepted = pair.server.accept_stream().unwrap();
//! let mut buf = [0u8; 4];
//! assert_eq!(pair.server.stream(accepted).unwrap().read(&mut buf), Ok(4));
//! assert_eq!(&buf, b"ping");
//! ```

mod audit;
mod peer;

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::config::{Config, Role};
use crate::session::Session;
use crate::time::Instant;

pub use audit::{Violation, ViolationKind, WireAudit};
pub use peer::{Loss, PeerClose, PeerError, PeerModel, Quirks};

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
    /// The client end.
    Client,
    /// The server end.
    Server,
}

/// One end of a [`Pair`]: a sans-IO yamux implementation the pair feeds
/// bytes and time, and drains bytes from. [`Session`] is one;
/// [`PeerModel`] is another.
pub trait Endpoint {
    /// Which end of the transport it is.
    fn role(&self) -> Role;
    /// Bytes the transport delivered.
    fn handle_input(&mut self, now: Instant, bytes: &[u8]);
    /// The end of the transport's input.
    fn handle_eof(&mut self, now: Instant);
    /// Copies the next bytes for the transport into `buf`; 0 when there
    /// are none.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize;
    /// When [`handle_timeout`](Self::handle_timeout) is next due, if ever.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Fires the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// A fresh audit with the rules this end's output must follow.
    fn wire_audit(&self) -> WireAudit;
    /// Something the end found that must fail the test (a peer model's
    /// lost data or protocol error), if anything. A [`Pair`] panics with
    /// it as soon as it appears.
    fn fault(&self) -> Option<&dyn fmt::Display>;
    /// What the end is, for a [`Pair`]'s messages: its type by default.
    fn name(&self) -> &'static str {
        core::any::type_name::<Self>()
    }
}

impl Endpoint for Session {
    fn role(&self) -> Role {
        Session::role(self)
    }

    fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        Session::handle_input(self, now, bytes);
    }

    fn handle_eof(&mut self, now: Instant) {
        Session::handle_eof(self, now);
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        Session::poll_transmit(self, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Session::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        Session::handle_timeout(self, now);
    }

    /// Every rule, with the session's own frame size.
    fn wire_audit(&self) -> WireAudit {
        WireAudit::new(Session::role(self), self.config().max_frame_size)
    }

    /// None: a session's problems surface as its events and errors, which
    /// tests check.
    fn fault(&self) -> Option<&dyn fmt::Display> {
        None
    }
}

/// Builds a session the way every constructor of [`Pair`] does, in one
/// place: at the virtual clock's origin. Panics on an invalid `config`.
fn new_session(role: Role, config: Config) -> Session {
    match Session::new(role, config, Instant::ZERO) {
        Ok(session) => session,
        Err(error) => panic!("invalid Config for a test pair: {error}"),
    }
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

/// A client and a server joined by simulated links under a virtual clock:
/// two muxplex [`Session`]s by default, or any two [`Endpoint`]s, such as
/// a session and a [`PeerModel`].
///
/// # The wire audit
///
/// Everything each end transmits passes that end's [`WireAudit`] (from
/// [`Endpoint::wire_audit`]) before the link's faults act on it
/// ([`inject`](Self::inject), [`corrupt_next_byte`](Self::corrupt_next_byte)
/// and [`cut_transport`](Self::cut_transport) happen after it, so they are
/// never blamed on the end). The audit is also fed what the end received,
/// injected bytes included, so windows are judged by the grants the end
/// had actually seen. The first violation panics, naming the end and the
/// frame; so does an [`Endpoint::fault`], such as data a peer model lost.
///
/// Panicking, rather than keeping a list for tests to inspect, is
/// deliberate: a list needs every test to remember to look at it, a panic
/// cannot be forgotten. Every test that drives a pair checks the wire for
/// free, and fails at the frame that broke a rule, not at some later
/// symptom. The audit cannot be turned off; a test about the audit itself
/// feeds a [`WireAudit`] by hand, and [`wire_audit`](Self::wire_audit)
/// shows how much it has seen.
#[derive(Debug)]
pub struct Pair<C = Session, S = Session> {
    /// The end that opens odd stream ids.
    pub client: C,
    /// The end that opens even stream ids.
    pub server: S,
    now: Instant,
    rng: Rng,
    chunking: Chunking,
    latency: Duration,
    /// Bytes per second each way; `None` for unlimited.
    bandwidth: Option<u64>,
    to_server: Link,
    to_client: Link,
    scratch: Vec<u8>,
    /// What the client and the server transmit, audited.
    audits: [WireAudit; 2],
}

/// Steps `drive` may take before it decides the sessions are stuck in a
/// loop; far above what any finite exchange needs.
const MAX_DRIVE_STEPS: usize = 10_000_000;

impl Pair {
    /// Two fresh sessions with these configurations, chunking `Whole`,
    /// no latency, seed 0. Panics if a configuration is invalid.
    pub fn new(client: Config, server: Config) -> Self {
        Pair::from_endpoints(
            new_session(Role::Client, client),
            new_session(Role::Server, server),
        )
    }

    /// One session by side.
    pub fn session(&mut self, side: Side) -> &mut Session {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }
}

impl Pair<Session, PeerModel> {
    /// A muxplex client with this configuration against a peer model as
    /// the server.
    pub fn with_model_server(client: Config, server: PeerModel) -> Self {
        Pair::from_endpoints(new_session(Role::Client, client), server)
    }
}

impl Pair<PeerModel, Session> {
    /// A peer model as the client against a muxplex server with this
    /// configuration.
    pub fn with_model_client(client: PeerModel, server: Config) -> Self {
        Pair::from_endpoints(client, new_session(Role::Server, server))
    }
}

impl<C: Endpoint, S: Endpoint> Pair<C, S> {
    /// Two fresh ends, chunking `Whole`, no latency, seed 0. Panics unless
    /// `client` has the client's role and `server` the server's.
    pub fn from_endpoints(client: C, server: S) -> Self {
        assert_eq!(
            client.role(),
            Role::Client,
            "the client end has the wrong role"
        );
        assert_eq!(
            server.role(),
            Role::Server,
            "the server end has the wrong role"
        );
        let audits = [client.wire_audit(), server.wire_audit()];
        Pair {
            client,
            server,
            now: Instant::ZERO,
            rng: Rng::new(0),
            chunking: Chunking::Whole,
            latency: Duration::ZERO,
            bandwidth: None,
            to_server: Link::default(),
            to_client: Link::default(),
            scratch: vec![0; 64 * 1024],
            audits,
        }
    }

    /// Seeds the generator behind random chunking and [`Pair::rng`].
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = Rng::new(seed);
        self
    }

    /// Sets how both links cut the byte stream.
    #[must_use]
    pub fn with_chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = chunking;
        self
    }

    /// Sets the one-way delay of both links.
    #[must_use]
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Limits both links to this many bytes per second: bytes queue behind
    /// each other as on a real link, then take the latency to arrive.
    #[must_use]
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

    /// The audit of what one side has transmitted so far (it never holds a
    /// violation: the first one panics).
    pub fn wire_audit(&self, side: Side) -> &WireAudit {
        &self.audits[side_index(side)]
    }

    /// Ends one side's transport after what it has already sent; the other
    /// side gets `handle_eof` once those bytes are delivered, and what the
    /// closed side sends later is lost.
    pub fn close_transport(&mut self, from: Side) {
        self.link(from).eof_sent = true;
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
    /// far: a hostile peer's frames mixed into a real session's. They are
    /// not audited as `from`'s output.
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

    /// Moves bytes both ways until neither end has anything to send and
    /// nothing is in transit, advancing the clock to each delivery and
    /// firing timers that fall due on the way. Panics if the ends never
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
        let ends: [&mut dyn Endpoint; 2] = [&mut self.client, &mut self.server];
        for end in ends {
            if end.poll_timeout().is_some_and(|at| at <= now) {
                end.handle_timeout(now);
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

    /// One side's end, the link it receives from and its audit.
    fn end(&mut self, side: Side) -> (&mut dyn Endpoint, &mut Link, &mut WireAudit) {
        let [client_audit, server_audit] = &mut self.audits;
        match side {
            Side::Client => (&mut self.client, &mut self.to_client, client_audit),
            Side::Server => (&mut self.server, &mut self.to_server, server_audit),
        }
    }

    /// Drains one end's output into its outgoing link, cut into pieces.
    fn transmit(&mut self, from: Side) -> bool {
        let (now, latency, bandwidth) = (self.now, self.latency, self.bandwidth);
        let Pair {
            client,
            server,
            to_server,
            to_client,
            audits: [client_audit, server_audit],
            scratch,
            rng,
            chunking,
            ..
        } = self;
        let (end, link, other, audit): (&mut dyn Endpoint, _, _, _) = match from {
            Side::Client => (client, to_server, to_client, client_audit),
            Side::Server => (server, to_client, to_server, server_audit),
        };
        let mut moved = false;
        loop {
            let piece = match *chunking {
                Chunking::Whole => scratch.len(),
                Chunking::Fixed(size) => size.clamp(1, scratch.len()),
                Chunking::Random { max } => rng.range(1, max.clamp(1, scratch.len())),
            };
            let mut n = end.poll_transmit(&mut scratch[..piece]);
            if n == 0 {
                break;
            }
            audit.sent(&scratch[..n]);
            if let Some(violation) = audit.violations().first() {
                panic!(
                    "wire audit: the {from:?} end ({}) sent {violation}",
                    end.name()
                );
            }
            if link.eof_sent {
                // The connection is gone: output vanishes.
                continue;
            }
            moved = true;
            if let Some(xor) = link.corrupt_next.take() {
                scratch[0] ^= xor;
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
                    .push_back((sent + latency, scratch[..n].to_vec()));
            }
        }
        if link.eof_sent && link.cut_after == Some(0) {
            // A cut breaks both directions.
            other.eof_sent = true;
        }
        moved
    }

    /// Hands every piece due by now to the receiving end.
    fn deliver(&mut self, to: Side) -> bool {
        let now = self.now;
        let (end, link, audit) = self.end(to);
        let mut moved = false;
        while link.in_transit.front().is_some_and(|&(at, _)| at <= now) {
            let (_, bytes) = link.in_transit.pop_front().expect("checked above");
            audit.received(&bytes);
            end.handle_input(now, &bytes);
            if let Some(fault) = end.fault() {
                panic!("the {to:?} end ({}) failed: {fault}", end.name());
            }
            moved = true;
        }
        if link.eof_sent && !link.eof_delivered && link.in_transit.is_empty() {
            link.eof_delivered = true;
            end.handle_eof(now);
            moved = true;
        }
        moved
    }
}

fn side_index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}
