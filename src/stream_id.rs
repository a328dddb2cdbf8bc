//! Stream identifiers.

use core::fmt;

use crate::config::Role;

/// The id of a stream: odd when the client opened it, even when the server
/// did. Id 0 names the session itself and is never a stream.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u32);

impl StreamId {
    /// The id with this wire value.
    pub const fn new(value: u32) -> Self {
        StreamId(value)
    }

    /// The wire value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The role whose ids have this id's parity; `None` for 0.
    pub const fn opener(self) -> Option<Role> {
        match self.0 {
            0 => None,
            v if v % 2 == 1 => Some(Role::Client),
            _ => Some(Role::Server),
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}
