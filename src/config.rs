//! Session configuration.

use core::fmt;
use core::time::Duration;

/// The window each stream starts with in each direction, fixed by the yamux
/// protocol: both ends assume it without negotiation.
pub const INITIAL_STREAM_WINDOW: u32 = 256 * 1024;

/// The largest Data frame muxplex ever sends. The `yamux` crate rejects
/// frames above 1 MiB, so no configuration may exceed it.
pub const MAX_FRAME_SIZE_LIMIT: u32 = 1024 * 1024;

/// Which end of the transport a session is. The client opens odd stream
/// ids, the server even ones; nothing else differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that dialed the transport; opens odd stream ids.
    Client,
    /// The end that accepted the transport; opens even stream ids.
    Server,
}

/// Tunables of a [`Session`](crate::Session). Start from
/// [`Config::default`] and adjust with the `with_*` methods, which clamp
/// out-of-range values as each documents. Fields set directly are checked
/// when a session is built: [`Session::new`](crate::Session::new) refuses a
/// configuration that [`validate`](Self::validate) rejects.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest Data payload sent in one frame (default 16 KiB, at most 1 MiB).
    /// Smaller frames interleave streams more finely; larger ones cost less
    /// per byte.
    pub max_frame_size: u32,
    /// Largest receive window a stream may grow to (default 16 MiB). It is
    /// also the largest inbound Data frame accepted, since no frame may
    /// exceed the window it lands in.
    pub max_stream_window: u32,
    /// How many pings of the peer may wait for their pong (default 64).
    /// Beyond it further pings are answered only once the queue drains, so
    /// a ping flood cannot grow memory.
    pub max_pending_pongs: usize,
    /// How many of our own pings may be outstanding at once (default 16).
    pub max_outstanding_pings: usize,
    /// Silence from the peer after which we ping it (default 30 s); `None`
    /// disables keepalive.
    pub keepalive_interval: Option<Duration>,
    /// How long a keepalive ping may go unanswered before the session is
    /// closed with [`CloseReason::KeepAliveTimeout`](crate::CloseReason)
    /// (default 10 s).
    pub keepalive_timeout: Duration,
    /// How long a graceful [`close`](crate::Session::close) waits for open
    /// streams to finish before resetting them (default 30 s).
    pub close_timeout: Duration,
    /// Whether a GoAway(0) from the peer ends the session at once instead of
    /// letting existing streams drain (default false: drain).
    pub terminate_on_peer_go_away: bool,
    /// Outbound streams that may await the peer's ACK at once (default 256,
    /// the ACK backlog of libp2p's yamux). Beyond it
    /// [`open_stream`](crate::Session::open_stream) reports
    /// [`OpenError::Blocked`](crate::OpenError::Blocked).
    pub max_unacked_outbound: usize,
    /// Inbound streams that may wait for the application to accept them
    /// (default 256). A SYN beyond it is refused with an RST.
    pub accept_backlog: usize,
    /// Streams the session holds at once, both directions (default 16,384).
    /// A SYN beyond it is refused with an RST.
    pub max_streams: usize,
    /// Resets an outbound stream the peer has not acknowledged within this
    /// time (default `None`: wait as long as the session lives).
    pub open_timeout: Option<Duration>,
    /// Resets a stream we finished when the peer has not finished its side
    /// within this time (default 5 min; `None` waits forever).
    pub stream_close_timeout: Option<Duration>,
    /// Received data the session buffers across all its streams before it
    /// resets the stream that would exceed it (default 64 MiB). Stream
    /// windows grow only while the sum of all windows fits in it.
    pub max_session_buffer: usize,
    /// Written data the session buffers across all its streams before it
    /// is sent (default 16 MiB). A write beyond it takes what fits and
    /// reports [`StreamError::Blocked`](crate::StreamError::Blocked) for
    /// the rest; [`Event::Writable`](crate::Event::Writable) follows as
    /// frames leave, to the waiting streams in the order they waited. Each
    /// stream is further limited by the peer's window, so a peer that reads
    /// nothing holds at most this much of our memory however many streams
    /// it opens.
    pub max_send_buffer: usize,
    /// How long the host's transport may accept no bytes while the session
    /// has output for it, before the host gives the connection up and drops
    /// the transport (default 10 s, as hashicorp/yamux's connection write
    /// timeout; `None` waits forever). The core never writes, so the hosts
    /// enforce it: muxplex's adapters end the connection with a `TimedOut`
    /// transport error. It bounds how long a peer that stopped reading, or
    /// went away without a word, keeps a socket and its buffers, including
    /// after the session has ended with its last frames unsent.
    pub write_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 * 1024,
            max_stream_window: 16 * 1024 * 1024,
            max_pending_pongs: 64,
            max_outstanding_pings: 16,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(30),
            terminate_on_peer_go_away: false,
            max_unacked_outbound: 256,
            accept_backlog: 256,
            max_streams: 16_384,
            open_timeout: None,
            stream_close_timeout: Some(Duration::from_secs(300)),
            max_session_buffer: 64 * 1024 * 1024,
            max_send_buffer: 16 * 1024 * 1024,
            write_timeout: Some(Duration::from_secs(10)),
        }
    }
}

impl Config {
    /// Sets the largest Data payload per frame, clamped to `1..=1 MiB`.
    #[must_use]
    pub fn with_max_frame_size(mut self, bytes: u32) -> Self {
        self.max_frame_size = bytes.clamp(1, MAX_FRAME_SIZE_LIMIT);
        self
    }

    /// Sets the largest receive window a stream may grow to; never below the
    /// protocol's initial window.
    #[must_use]
    pub fn with_max_stream_window(mut self, bytes: u32) -> Self {
        self.max_stream_window = bytes.max(INITIAL_STREAM_WINDOW);
        self
    }

    /// Sets how many peer pings may wait for their pong; at least 1.
    #[must_use]
    pub fn with_max_pending_pongs(mut self, count: usize) -> Self {
        self.max_pending_pongs = count.max(1);
        self
    }

    /// Sets how many of our own pings may be outstanding; at least 1.
    #[must_use]
    pub fn with_max_outstanding_pings(mut self, count: usize) -> Self {
        self.max_outstanding_pings = count.max(1);
        self
    }

    /// Sets the keepalive interval; `None` (or zero) disables keepalive.
    #[must_use]
    pub fn with_keepalive_interval(mut self, interval: Option<Duration>) -> Self {
        self.keepalive_interval = interval.filter(|d| !d.is_zero());
        self
    }

    /// Sets how long a keepalive ping may go unanswered; at least 1 µs.
    #[must_use]
    pub fn with_keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = timeout.max(Duration::from_micros(1));
        self
    }

    /// Sets how long a graceful close waits for streams to finish.
    #[must_use]
    pub fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets whether a GoAway(0) from the peer ends the session at once.
    #[must_use]
    pub fn with_terminate_on_peer_go_away(mut self, terminate: bool) -> Self {
        self.terminate_on_peer_go_away = terminate;
        self
    }

    /// Sets how many outbound streams may await their ACK; at least 1.
    #[must_use]
    pub fn with_max_unacked_outbound(mut self, count: usize) -> Self {
        self.max_unacked_outbound = count.max(1);
        self
    }

    /// Sets how many inbound streams may wait to be accepted.
    #[must_use]
    pub fn with_accept_backlog(mut self, count: usize) -> Self {
        self.accept_backlog = count;
        self
    }

    /// Sets how many streams the session holds at once; at least 1.
    #[must_use]
    pub fn with_max_streams(mut self, count: usize) -> Self {
        self.max_streams = count.max(1);
        self
    }

    /// Sets how long an outbound stream may wait for its ACK; `None` (or
    /// zero) waits as long as the session lives.
    #[must_use]
    pub fn with_open_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.open_timeout = timeout.filter(|d| !d.is_zero());
        self
    }

    /// Sets how long a stream we finished waits for the peer's FIN; `None`
    /// (or zero) waits forever.
    #[must_use]
    pub fn with_stream_close_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stream_close_timeout = timeout.filter(|d| !d.is_zero());
        self
    }

    /// Sets the session-wide budget for received, unread data; at least
    /// one byte.
    #[must_use]
    pub fn with_max_session_buffer(mut self, bytes: usize) -> Self {
        self.max_session_buffer = bytes.max(1);
        self
    }

    /// Sets the session-wide budget for written, unsent data; at least one
    /// byte.
    #[must_use]
    pub fn with_max_send_buffer(mut self, bytes: usize) -> Self {
        self.max_send_buffer = bytes.max(1);
        self
    }

    /// Sets how long the transport may accept nothing while output waits;
    /// `None` (or zero) waits forever.
    #[must_use]
    pub fn with_write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout.filter(|d| !d.is_zero());
        self
    }

    /// Checks every field, as building a session does: the first value out
    /// of range is named in the error. Zero counts and zero durations that
    /// would make a session useless (no ping could ever leave, every
    /// stream would time out at once, no frame could carry data) are
    /// refused; `accept_backlog = 0` (refuse every inbound stream) and
    /// `close_timeout = 0` (a graceful close resets what is still open at
    /// the next `handle_timeout`) are meaningful and allowed. Durations and
    /// counts have no upper limit beyond the type's: deadlines saturate.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigError as E;
        if !(1..=MAX_FRAME_SIZE_LIMIT).contains(&self.max_frame_size) {
            return Err(E::MaxFrameSize(self.max_frame_size));
        }
        if self.max_stream_window < INITIAL_STREAM_WINDOW {
            return Err(E::MaxStreamWindow(self.max_stream_window));
        }
        let zero_count = [
            (self.max_pending_pongs, "max_pending_pongs"),
            (self.max_outstanding_pings, "max_outstanding_pings"),
            (self.max_unacked_outbound, "max_unacked_outbound"),
            (self.max_streams, "max_streams"),
            (self.max_session_buffer, "max_session_buffer"),
            (self.max_send_buffer, "max_send_buffer"),
        ];
        if let Some((_, field)) = zero_count.iter().find(|(value, _)| *value == 0) {
            return Err(E::Zero(field));
        }
        let zero_duration = [
            (Some(self.keepalive_timeout), "keepalive_timeout"),
            (self.keepalive_interval, "keepalive_interval"),
            (self.open_timeout, "open_timeout"),
            (self.stream_close_timeout, "stream_close_timeout"),
            (self.write_timeout, "write_timeout"),
        ];
        if let Some((_, field)) = zero_duration
            .iter()
            .find(|(value, _)| value.is_some_and(|d| d.is_zero()))
        {
            return Err(E::ZeroDuration(field));
        }
        Ok(())
    }
}

/// A [`Config`] field out of range, from [`Config::validate`] or
/// [`Session::new`](crate::Session::new).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_frame_size` is 0 or above [`MAX_FRAME_SIZE_LIMIT`].
    MaxFrameSize(u32),
    /// `max_stream_window` is below [`INITIAL_STREAM_WINDOW`].
    MaxStreamWindow(u32),
    /// The named count or budget is 0, so the session could never do what
    /// it bounds (answer a ping, ping, open a stream, hold one, buffer data).
    Zero(&'static str),
    /// The named duration is `Some(0)`: every deadline of that kind would
    /// pass the moment it starts (use `None` to disable where allowed).
    ZeroDuration(&'static str),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MaxFrameSize(v) => write!(
                f,
                "max_frame_size {v} is outside 1..={MAX_FRAME_SIZE_LIMIT}"
            ),
            ConfigError::MaxStreamWindow(v) => write!(
                f,
                "max_stream_window {v} is below the initial window {INITIAL_STREAM_WINDOW}"
            ),
            ConfigError::Zero(field) => write!(f, "{field} must be at least 1"),
            ConfigError::ZeroDuration(field) => {
                write!(f, "{field} must not be zero (use None to disable it)")
            }
        }
    }
}

impl core::error::Error for ConfigError {}
