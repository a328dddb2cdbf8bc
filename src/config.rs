//! Session configuration.

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
/// [`Config::default`] and adjust with the `with_*` methods.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 * 1024,
            max_stream_window: 16 * 1024 * 1024,
            max_pending_pongs: 64,
            max_outstanding_pings: 16,
        }
    }
}

impl Config {
    /// Sets the largest Data payload per frame, clamped to `1..=1 MiB`.
    pub fn with_max_frame_size(mut self, bytes: u32) -> Self {
        self.max_frame_size = bytes.clamp(1, MAX_FRAME_SIZE_LIMIT);
        self
    }

    /// Sets the largest receive window a stream may grow to; never below the
    /// protocol's initial window.
    pub fn with_max_stream_window(mut self, bytes: u32) -> Self {
        self.max_stream_window = bytes.max(INITIAL_STREAM_WINDOW);
        self
    }

    /// Sets how many peer pings may wait for their pong.
    pub fn with_max_pending_pongs(mut self, count: usize) -> Self {
        self.max_pending_pongs = count.max(1);
        self
    }

    /// Sets how many of our own pings may be outstanding.
    pub fn with_max_outstanding_pings(mut self, count: usize) -> Self {
        self.max_outstanding_pings = count.max(1);
        self
    }

    /// The frame size actually used: the configured one, clamped to the
    /// protocol's limits even if the field was set directly.
    pub(crate) fn effective_frame_size(&self) -> u32 {
        self.max_frame_size.clamp(1, MAX_FRAME_SIZE_LIMIT)
    }

    /// The largest window a stream may hold, never below the initial one.
    pub(crate) fn effective_max_window(&self) -> u32 {
        self.max_stream_window.max(INITIAL_STREAM_WINDOW)
    }
}
