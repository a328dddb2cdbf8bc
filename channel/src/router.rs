//! The sans-IO routing table: which listener an incoming channel goes to.
//!
//! A [`Router`] holds the streams whose open message is still arriving
//! (each with a deadline) and, per listener, a bounded backlog of channels
//! routed to it and not yet accepted. It performs no I/O and reads no
//! clock: the host feeds it each pending stream's bytes and the time, and
//! writes the answers it is told to. `T` is whatever the host calls a
//! stream (a stream id, or the stream handle itself).
//!
//! Memory is bounded by the configuration: at most
//! [`RouterConfig::max_pending`] open messages being decoded, each within
//! [`Limits::max_open_len`], and at most each listener's backlog of decoded
//! channels waiting for the application.
//!
//! A hand-driven host, with streams named by number:
//!
//! ```
//! use muxplex::Instant;
//! use muxplex_channel::preamble::{Answer, Limits, Open};
//! use muxplex_channel::router::{Routed, Router, RouterConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut router = Router::new(RouterConfig::default());
//! let chat = router.listen("chat", None, 8)?;
//!
//! // The session gave us stream 1; its first bytes arrive in pieces.
//! let now = Instant::from_millis(0);
//! let pending = router.incoming(now, 1u32).map_err(|_| "router full")?;
//! let wire = Open::new("chat", b"room", b"hello").encode(&Limits::default())?;
//! let mut routed = None;
//! for piece in wire.chunks(4) {
//!     routed = router.input(pending, &mut &piece[..]);
//! }
//! assert!(matches!(routed, Some(Routed::Queued(listener)) if listener == chat));
//!
//! // The application takes it and answers; the host writes `answer` to
//! // stream 1, and channel data after it.
//! let request = router.accept(chat).unwrap();
//! assert_eq!((request.stream, &request.open.handshake[..]), (1, &b"hello"[..]));
//! let answer = Answer::Accept { handshake: b"welcome".to_vec() }.encode(&Limits::default())?;
//! # let _ = answer;
//!
//! // On every wake-up: refuse what is overdue, then sleep until
//! // `poll_timeout` (or the next I/O).
//! while let Some((stream, reject)) = router.poll_expired(now) {
//!     let _ = (stream, Answer::Reject(reject)); // write it, then end the stream
//! }
//! assert_eq!(router.poll_timeout(), None);
//! # Ok(())
//! # }
//! ```

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use muxplex::Instant;

use crate::preamble::{DecodeError, Limits, MAGIC, Open, OpenDecoder, Reject, RejectCode};

/// A listener's backlog when none is given: channels routed to it that
/// the application has not accepted yet.
pub const DEFAULT_BACKLOG: usize = 32;

/// How a [`Router`] bounds the channels it has not handed out yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterConfig {
    /// The largest open message accepted (fields beyond are refused with
    /// [`RejectCode::MALFORMED`]), and the reason texts' limit.
    pub limits: Limits,
    /// How long an incoming stream may take to deliver its whole open
    /// message (default 10 s); then it is refused with
    /// [`RejectCode::TIMEOUT`].
    pub preamble_timeout: Duration,
    /// How many incoming streams may be decoding their open message at
    /// once (default 64; 0 is taken as 1, since a router that takes no
    /// stream would never route one). The host takes no new stream from
    /// the session while the router is full ([`Router::has_room`]), so
    /// further ones wait in the session's own bounded accept queue.
    pub max_pending: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            limits: Limits::default(),
            preamble_timeout: Duration::from_secs(10),
            max_pending: 64,
        }
    }
}

/// A registered listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListenerId(u64);

/// An incoming stream whose open message is still arriving.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PendingId(u64);

/// Why a listener could not be registered.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenError {
    /// Someone already listens for this protocol and id (or for this
    /// protocol with any id).
    AlreadyListening,
    /// The protocol name or id breaks the router's [`Limits`], so no
    /// opener could reach the listener.
    Field(crate::preamble::FieldError),
    /// A backlog of 0 could never hand out a channel.
    ZeroBacklog,
}

impl fmt::Display for ListenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenError::AlreadyListening => f.write_str("already listening for this channel"),
            ListenError::Field(e) => write!(f, "cannot listen: {e}"),
            ListenError::ZeroBacklog => f.write_str("a listener's backlog must be at least 1"),
        }
    }
}

impl core::error::Error for ListenError {}

/// What became of a pending stream once its open message was complete
/// (or broken).
#[derive(Debug)]
#[non_exhaustive]
#[must_use = "a refused stream must be answered"]
pub enum Routed<T> {
    /// The channel waits in this listener's backlog
    /// ([`Router::accept`]).
    Queued(ListenerId),
    /// Nobody takes the channel: send `reject` as the answer, then end the
    /// stream.
    Refused {
        /// The stream.
        stream: T,
        /// The answer to send.
        reject: Reject,
        /// The channel that was refused; `None` for a malformed message.
        open: Option<Open>,
    },
    /// The stream does not start with the preamble's magic bytes (or
    /// ended within them, see [`Router::end`]): it is a plain stream, not
    /// a channel. `prefix` holds the bytes the router took from it; the
    /// byte that differed and everything after it are still the host's.
    NotAChannel {
        /// The stream.
        stream: T,
        /// Its first bytes, taken while checking the magic.
        prefix: Vec<u8>,
    },
}

/// A channel routed to a listener, waiting for the application to accept
/// or reject it.
#[derive(Debug)]
pub struct Request<T> {
    /// The stream.
    pub stream: T,
    /// What the opener asked for.
    pub open: Open,
}

#[derive(Debug)]
struct Pending<T> {
    stream: T,
    decoder: OpenDecoder,
    deadline: Instant,
}

#[derive(Debug)]
struct Listening<T> {
    protocol: String,
    /// `None`: any id.
    id: Option<Vec<u8>>,
    backlog: usize,
    queue: VecDeque<Request<T>>,
}

/// The routing table; see the [module documentation](self).
#[derive(Debug)]
pub struct Router<T> {
    config: RouterConfig,
    listeners: BTreeMap<ListenerId, Listening<T>>,
    /// (protocol, id) to listener; id `None` is "any id".
    routes: BTreeMap<(String, Option<Vec<u8>>), ListenerId>,
    pending: BTreeMap<PendingId, Pending<T>>,
    next_id: u64,
}

impl<T> Router<T> {
    /// An empty table.
    pub fn new(mut config: RouterConfig) -> Self {
        config.max_pending = config.max_pending.max(1);
        Router {
            config,
            listeners: BTreeMap::new(),
            routes: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    fn next(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Registers a listener for `protocol` and `id` (`None`: any id not
    /// claimed by a listener of its own), keeping at most `backlog`
    /// channels routed to it and not yet [accepted](Self::accept).
    pub fn listen(
        &mut self,
        protocol: &str,
        id: Option<&[u8]>,
        backlog: usize,
    ) -> Result<ListenerId, ListenError> {
        if backlog == 0 {
            return Err(ListenError::ZeroBacklog);
        }
        let probe = Open::new(protocol, id.unwrap_or_default(), &[]);
        probe
            .encode(&self.config.limits)
            .map_err(ListenError::Field)?;
        let key = (probe.protocol, id.map(<[u8]>::to_vec));
        if self.routes.contains_key(&key) {
            return Err(ListenError::AlreadyListening);
        }
        let listener = ListenerId(self.next());
        self.routes.insert(key.clone(), listener);
        self.listeners.insert(
            listener,
            Listening {
                protocol: key.0,
                id: key.1,
                backlog,
                queue: VecDeque::new(),
            },
        );
        Ok(listener)
    }

    /// Removes a listener; returns the channels still in its backlog,
    /// which the host refuses with [`RejectCode::LISTENER_CLOSED`].
    /// Nothing for an unknown listener.
    pub fn unlisten(&mut self, listener: ListenerId) -> VecDeque<Request<T>> {
        let Some(listening) = self.listeners.remove(&listener) else {
            return VecDeque::new();
        };
        self.routes.remove(&(listening.protocol, listening.id));
        listening.queue
    }

    /// The next channel routed to `listener`, oldest first.
    pub fn accept(&mut self, listener: ListenerId) -> Option<Request<T>> {
        self.listeners.get_mut(&listener)?.queue.pop_front()
    }

    /// Whether the router takes another incoming stream
    /// ([`RouterConfig::max_pending`]).
    pub fn has_room(&self) -> bool {
        self.pending.len() < self.config.max_pending
    }

    /// Starts decoding an incoming stream's open message, due by `now` plus
    /// the preamble timeout. Gives the stream back when the router is
    /// full (see [`has_room`](Self::has_room)).
    pub fn incoming(&mut self, now: Instant, stream: T) -> Result<PendingId, T> {
        if !self.has_room() {
            return Err(stream);
        }
        let id = PendingId(self.next());
        let pending = Pending {
            stream,
            decoder: OpenDecoder::new(self.config.limits),
            deadline: now + self.config.preamble_timeout,
        };
        self.pending.insert(id, pending);
        Ok(id)
    }

    /// The streams still decoding their open message.
    pub fn pending(&self) -> impl Iterator<Item = (PendingId, &T)> {
        self.pending.iter().map(|(id, p)| (*id, &p.stream))
    }

    /// The stream of a pending open message.
    pub fn stream(&self, pending: PendingId) -> Option<&T> {
        self.pending.get(&pending).map(|p| &p.stream)
    }

    /// How many more bytes `pending`'s open message needs at least (see
    /// [`OpenDecoder::needed`]): reading no more leaves the channel's data
    /// in the stream. `None` for a stream no longer pending.
    pub fn needed(&self, pending: PendingId) -> Option<usize> {
        self.pending.get(&pending).map(|p| p.decoder.needed())
    }

    /// Feeds bytes read from `pending`'s stream, taking them from the front
    /// of `input` up to the open message's end; once the message is
    /// complete or broken, the stream leaves the pending set and the
    /// result says where it went. `None` while more is needed (and for a
    /// stream no longer pending, which takes nothing).
    pub fn input(&mut self, pending: PendingId, input: &mut &[u8]) -> Option<Routed<T>> {
        let result = match self.pending.get_mut(&pending)?.decoder.decode(input) {
            Ok(None) => return None,
            Ok(Some(open)) => Ok(open),
            Err(error) => Err(error),
        };
        let entry = self.pending.remove(&pending)?;
        let limits = &self.config.limits;
        Some(match result {
            Ok(open) => self.route(entry.stream, open),
            Err(DecodeError::BadMagic) => Routed::NotAChannel {
                stream: entry.stream,
                prefix: entry.decoder.consumed().to_vec(),
            },
            Err(error) => {
                let code = match error {
                    DecodeError::UnsupportedVersion(_) => RejectCode::UNSUPPORTED_VERSION,
                    _ => RejectCode::MALFORMED,
                };
                Routed::Refused {
                    stream: entry.stream,
                    reject: Reject::fitted(code, &format!("{error}"), limits),
                    open: None,
                }
            }
        })
    }

    /// The end of `pending`'s stream (the peer finished it) came before
    /// its open message was complete. A stream that ended within the
    /// magic bytes, or with no byte at all, is a plain stream
    /// ([`Routed::NotAChannel`], with all it sent); one that ended inside
    /// the open message is refused as [`RejectCode::MALFORMED`], so the
    /// opener learns why. `None` for a stream no longer pending.
    pub fn end(&mut self, pending: PendingId) -> Option<Routed<T>> {
        let entry = self.pending.remove(&pending)?;
        let prefix = entry.decoder.consumed();
        Some(match prefix.len() < MAGIC.len() {
            true => Routed::NotAChannel {
                prefix: prefix.to_vec(),
                stream: entry.stream,
            },
            false => Routed::Refused {
                stream: entry.stream,
                reject: Reject::fitted(
                    RejectCode::MALFORMED,
                    "the stream ended inside the channel's open message",
                    &self.config.limits,
                ),
                open: None,
            },
        })
    }

    /// A stream that failed (was reset, or its connection ended) before
    /// its open message was complete leaves the pending set; the host
    /// drops it. A stream the peer finished goes to [`end`](Self::end)
    /// instead.
    pub fn remove(&mut self, pending: PendingId) -> Option<T> {
        self.pending.remove(&pending).map(|p| p.stream)
    }

    /// When the earliest pending stream's deadline passes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// A stream whose open message is overdue at `now`, with the answer to
    /// send before ending it; call until `None`.
    pub fn poll_expired(&mut self, now: Instant) -> Option<(T, Reject)> {
        let (&id, _) = self.pending.iter().find(|(_, p)| p.deadline <= now)?;
        let stream = self.pending.remove(&id)?.stream;
        let reason = "the channel preamble did not complete in time";
        let reject = Reject::fitted(RejectCode::TIMEOUT, reason, &self.config.limits);
        Some((stream, reject))
    }

    fn route(&mut self, stream: T, open: Open) -> Routed<T> {
        let limits = &self.config.limits;
        let exact = (open.protocol.clone(), Some(open.id.clone()));
        let any = (open.protocol.clone(), None);
        let route = self.routes.get(&exact).or_else(|| self.routes.get(&any));
        let Some((listener, listening)) =
            route.and_then(|&id| Some((id, self.listeners.get_mut(&id)?)))
        else {
            let reason = format!(
                "nobody listens for protocol {:?} with id \"{}\"",
                open.protocol,
                open.id.escape_ascii()
            );
            return Routed::Refused {
                stream,
                reject: Reject::fitted(RejectCode::NO_LISTENER, &reason, limits),
                open: Some(open),
            };
        };
        if listening.queue.len() >= listening.backlog {
            let reason = format!(
                "the listener for protocol {:?} already has {} channels waiting",
                open.protocol, listening.backlog
            );
            return Routed::Refused {
                stream,
                reject: Reject::fitted(RejectCode::BACKLOG_FULL, &reason, limits),
                open: Some(open),
            };
        }
        listening.queue.push_back(Request { stream, open });
        Routed::Queued(listener)
    }
}
