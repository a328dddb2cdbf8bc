//! Named channels over [muxplex] streams, after @neonloom/plex: a channel
//! is a yamux stream whose first bytes name a protocol and an id, with an
//! optional handshake payload each way. The accepting end routes each
//! incoming channel to whoever listens for its (protocol, id), answers with
//! the listener's handshake or a reject with a reason, and refuses
//! channels nobody claims with a clear error to the opener.
//!
//! Channels are opt-in and live entirely inside stream data: the yamux
//! framing is untouched, so plain streams and every other yamux peer work
//! as before, beside channels on the same connection.
//!
//! - [`preamble`]: the sans-IO, `no_std` codec of the [wire
//!   format](#wire-format), incremental over any chunking, with strict
//!   [`Limits`](preamble::Limits) and typed errors.
//! - [`router`]: the sans-IO routing table: listeners, bounded backlogs, a
//!   bounded set of streams still sending their preamble, each with a
//!   deadline (time is an input, [`muxplex::Instant`]).
#![cfg_attr(
    feature = "async",
    doc = "- [`Channels`], [`connect`] and [`Channel`] (feature `async`): `listen` and \
           `connect` over muxplex-async, for any runtime."
)]
#![cfg_attr(
    feature = "tokio",
    doc = "- [`tokio`] (feature `tokio`): the same over muxplex-tokio, with tokio's I/O \
           traits and timer."
)]
//!
//! # Wire format
//!
//! Version 1. Integers are big-endian; lengths count bytes. The opener
//! writes the open message as the stream's first bytes and may write
//! channel data right after it; the acceptor reads exactly the message
//! (its lengths are all in the fixed header) and answers with an accept or
//! a reject as the first bytes it writes. After an accept both directions
//! carry only channel data; after a reject the acceptor ends the stream.
//!
//! Open (opener to acceptor), a 13-byte header, then the fields:
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic, ASCII `mxch` (`6d 78 63 68`) |
//! | 4 | version, `01` |
//! | 5 | kind, `01` = open |
//! | 6 | protocol name length P (1..=255) |
//! | 7..9 | id length I (u16) |
//! | 9..13 | handshake length H (u32) |
//! | 13.. | P bytes of protocol name (UTF-8), I bytes of id, H bytes of handshake |
//!
//! Accept (acceptor to opener), a 10-byte header, then the payload:
//!
//! | bytes | field |
//! |---|---|
//! | 0..6 | magic `mxch`, version `01`, kind `02` = accept |
//! | 6..10 | handshake length H (u32) |
//! | 10.. | H bytes of the listener's handshake |
//!
//! Reject (acceptor to opener), a 10-byte header, then the reason:
//!
//! | bytes | field |
//! |---|---|
//! | 0..6 | magic `mxch`, version `01`, kind `03` = reject |
//! | 6..8 | reject code (u16): 1 no listener, 2 backlog full, 3 malformed, 4 unsupported version, 5 preamble timeout, 6 listener closed; 256 and up for applications |
//! | 8..10 | reason length R (u16) |
//! | 10.. | R bytes of reason text (UTF-8) |
//!
//! Bytes 0 to 5 keep this layout in every version, so an end always
//! recognises a channel and its version: an acceptor answers a version it
//! does not speak with a version-1 reject, code 4. Every length is checked
//! against the receiver's [`Limits`](preamble::Limits) (by default: 255
//! bytes of protocol name, 1 KiB of id, 16 KiB of handshake, 1 KiB of
//! reason) as soon as the header is in, before any field is buffered.
//!
//! For example, an open of protocol `chat` with id `07` and no handshake
//! is the 18 bytes `6d 78 63 68 01 01 04 00 01 00 00 00 00 63 68 61 74 07`.
//!
//! # Typed streams and heartbeats (muxado)
//!
//! muxado's typed streams, whose first bytes name the stream's type, are
//! channels whose protocol name is the type (and whose id is empty, or a
//! sub-type): a listener per type with any id
//! (`listen("type", None)`) is muxado's per-type accept. muxado's
//! application heartbeat, which reports the round-trip time, is the yamux
//! ping, which muxplex already has: `Connection::ping()` in the async
//! adapters measures one round trip, `Connection::rtt()` gives the smoothed
//! estimate, and `Config::keepalive_interval`/`keepalive_timeout` close a
//! dead session, as muxado's heartbeat timeout does.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "async")]
extern crate std;

#[cfg(feature = "async")]
mod channel;
#[cfg(feature = "async")]
mod channels;
pub mod preamble;
pub mod router;
#[cfg(feature = "tokio")]
pub mod tokio;

#[cfg(feature = "async")]
pub use channel::{Channel, ChannelConfig, ChannelError, ChannelState, connect, connect_with};
#[cfg(feature = "async")]
pub use channels::{Channels, Listener, PlainStream, Request, Routing};
