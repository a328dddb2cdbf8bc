//! A frame-level audit of what one end of a session transmits.
//!
//! [`WireAudit`] reads the bytes one end sends (split anywhere) and records
//! every frame that breaks a rule of the wire: rules of the yamux protocol
//! itself (one SYN, ACK and FIN per stream, the ACK from the end that did
//! not open the stream, no data after FIN, no data beyond the peer's
//! window) and the rules muxplex keeps to be safe with real peers (FIN
//! never on a Data frame with payload, no frame above the configured
//! `max_frame_size`).
//!
//! Windows depend on what the peer granted, so the audit is also fed what
//! the end received: grants count from the moment the end could have seen
//! them, never earlier, so an end is never blamed for a grant in flight.
//!
//! [`Pair`](super::Pair) audits both of its ends and panics at the first
//! violation; a test of the audit itself feeds it bytes by hand:
//!
//! ```
//! use muxplex::frame::{Flags, FrameType, Header};
//! use muxplex::testing::{ViolationKind, WireAudit};
//! use muxplex::Role;
//!
//! let mut audit = WireAudit::new(Role::Client, 16 * 1024);
//! let mut wire = Header::new(FrameType::Data, Flags::SYN | Flags::FIN, 1, 2)
//!     .encode()
//!     .to_vec();
//! wire.extend_from_slice(b"hi");
//! for byte in &wire {
//!     audit.sent(core::slice::from_ref(byte));
//! }
//! let kinds: Vec<_> = audit.violations().iter().map(|v| v.kind).collect();
//! assert_eq!(kinds, [ViolationKind::DataWithFin { stream: 1, length: 2 }]);
//! ```

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;

use crate::config::{INITIAL_STREAM_WINDOW, Role};
use crate::frame::{Flags, FrameError, FrameType, Header, HeaderBuffer};
use crate::stream_id::StreamId;

/// What was wrong with a frame an end sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A second SYN on a stream.
    DuplicateSyn {
        /// The stream.
        stream: u32,
    },
    /// A second ACK on a stream.
    DuplicateAck {
        /// The stream.
        stream: u32,
    },
    /// A second FIN on a stream.
    DuplicateFin {
        /// The stream.
        stream: u32,
    },
    /// Data after the sender's own FIN on the stream.
    DataAfterFin {
        /// The stream.
        stream: u32,
        /// The payload length.
        length: u32,
    },
    /// An ACK from the end that opened the stream: only the accepting end
    /// acknowledges.
    AckFromOpener {
        /// The stream.
        stream: u32,
    },
    /// A Data frame carrying both payload and FIN: hashicorp/yamux and
    /// go-yamux apply the flags before they read the payload, so their
    /// reader sees the end of the stream first and the payload is lost.
    DataWithFin {
        /// The stream.
        stream: u32,
        /// The payload length.
        length: u32,
    },
    /// A Data frame larger than the sender's `max_frame_size`.
    FrameTooLarge {
        /// The stream.
        stream: u32,
        /// The payload length.
        length: u32,
        /// The largest payload allowed.
        max: u32,
    },
    /// More data than the peer's window allowed, counting every grant the
    /// sender had received by then.
    BeyondWindow {
        /// The stream.
        stream: u32,
        /// The payload length.
        length: u32,
        /// What was left of the window.
        window: u64,
    },
    /// The sender's bytes are not yamux frames; nothing after this is
    /// audited.
    Malformed(FrameError),
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ViolationKind::DuplicateSyn { stream } => write!(f, "second SYN on stream {stream}"),
            ViolationKind::DuplicateAck { stream } => write!(f, "second ACK on stream {stream}"),
            ViolationKind::DuplicateFin { stream } => write!(f, "second FIN on stream {stream}"),
            ViolationKind::DataAfterFin { stream, length } => {
                write!(f, "{length} bytes of data on stream {stream} after its FIN")
            }
            ViolationKind::AckFromOpener { stream } => {
                write!(f, "ACK on stream {stream} from the end that opened it")
            }
            ViolationKind::DataWithFin { stream, length } => write!(
                f,
                "FIN rides on a Data frame with {length} bytes of payload on stream {stream} \
                 (hashicorp/yamux and go-yamux apply flags before the payload and lose it)"
            ),
            ViolationKind::FrameTooLarge {
                stream,
                length,
                max,
            } => write!(
                f,
                "Data frame of {length} bytes on stream {stream} exceeds max_frame_size {max}"
            ),
            ViolationKind::BeyondWindow {
                stream,
                length,
                window,
            } => write!(
                f,
                "{length} bytes of data on stream {stream} with {window} bytes of window left"
            ),
            ViolationKind::Malformed(e) => write!(f, "malformed output: {e}"),
        }
    }
}

/// One frame that broke a rule, with where it was in the sender's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The frame's position among the frames the end sent, from 0.
    pub frame: u64,
    /// The frame's header (for [`ViolationKind::Malformed`], the last good
    /// one, or an empty GoAway if there was none).
    pub header: Header,
    /// What was wrong.
    pub kind: ViolationKind,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "frame {} {:?}: {}", self.frame, self.header, self.kind)
    }
}

/// Finds frame headers in a byte stream split anywhere, skipping payloads
/// without keeping them.
#[derive(Debug, Default)]
struct HeaderScanner {
    header: HeaderBuffer,
    /// Payload bytes of the current frame still to skip.
    skip: usize,
    /// Set once the bytes stopped parsing; nothing more is read.
    broken: bool,
}

impl HeaderScanner {
    /// Calls `on_header` for each header completed in `bytes`, in order.
    fn scan(
        &mut self,
        mut bytes: &[u8],
        mut on_header: impl FnMut(Header),
    ) -> Result<(), FrameError> {
        while !bytes.is_empty() && !self.broken {
            if self.skip > 0 {
                let take = self.skip.min(bytes.len());
                self.skip -= take;
                bytes = &bytes[take..];
                continue;
            }
            match self.header.fill(&mut bytes) {
                Ok(None) => {}
                Ok(Some(header)) => {
                    self.skip = header.payload_len() as usize;
                    on_header(header);
                }
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// What the audit knows of one stream from the sender's side.
#[derive(Clone, Copy, Debug)]
struct StreamAudit {
    syn: bool,
    ack: bool,
    fin: bool,
    /// Data bytes sent.
    sent: u64,
    /// The initial window plus every grant the sender received.
    granted: u64,
}

impl Default for StreamAudit {
    fn default() -> Self {
        StreamAudit {
            syn: false,
            ack: false,
            fin: false,
            sent: 0,
            granted: u64::from(INITIAL_STREAM_WINDOW),
        }
    }
}

/// A checker of the frames one end of a session transmits.
///
/// Feed it, in the order the end saw and produced them, what the end
/// transmitted ([`sent`](Self::sent)) and what it received
/// ([`received`](Self::received)); read the result from
/// [`violations`](Self::violations). Bytes may be split anywhere. If the
/// received bytes stop parsing (a corrupted transport), the end's later
/// grants are unknown and windows are no longer checked; every other rule
/// still is.
#[derive(Debug)]
pub struct WireAudit {
    out: HeaderScanner,
    inbound: HeaderScanner,
    rules: Rules,
}

/// What the audit knows and has found, apart from the byte scanners.
#[derive(Debug)]
struct Rules {
    sender: Role,
    max_frame_size: u32,
    fin_on_data_allowed: bool,
    streams: BTreeMap<u32, StreamAudit>,
    frames: u64,
    last_header: Header,
    violations: Vec<Violation>,
}

impl WireAudit {
    /// An audit of the end with this role, which promises Data frames of
    /// at most `max_frame_size` bytes.
    pub fn new(sender: Role, max_frame_size: u32) -> Self {
        WireAudit {
            out: HeaderScanner::default(),
            inbound: HeaderScanner::default(),
            rules: Rules {
                sender,
                max_frame_size,
                fin_on_data_allowed: false,
                streams: BTreeMap::new(),
                frames: 0,
                last_header: Header::new(FrameType::GoAway, Flags::NONE, 0, 0),
                violations: Vec::new(),
            },
        }
    }

    /// Allows FIN on a Data frame with payload, for an end that is meant
    /// to send it (a peer model playing an implementation that does). Only
    /// muxplex's own conservative rule is lifted; the protocol's rules stay.
    #[must_use]
    pub fn with_fin_on_data(mut self, allowed: bool) -> Self {
        self.rules.fin_on_data_allowed = allowed;
        self
    }

    /// The audited end's role.
    pub fn sender(&self) -> Role {
        self.rules.sender
    }

    /// Frames the end has sent so far.
    pub fn frames_sent(&self) -> u64 {
        self.rules.frames
    }

    /// Every violation found so far, oldest first.
    pub fn violations(&self) -> &[Violation] {
        &self.rules.violations
    }

    /// Bytes the end transmitted, in order.
    pub fn sent(&mut self, bytes: &[u8]) {
        let windows_known = !self.inbound.broken;
        let rules = &mut self.rules;
        if let Err(e) = self
            .out
            .scan(bytes, |header| rules.check_sent(header, windows_known))
        {
            rules.record(rules.frames, rules.last_header, ViolationKind::Malformed(e));
        }
    }

    /// Bytes the end received, in order: the grants in them open windows.
    pub fn received(&mut self, bytes: &[u8]) {
        let streams = &mut self.rules.streams;
        // After an error nothing more is read, so windows go unchecked.
        let _ = self.inbound.scan(bytes, |header| {
            let grant = header.frame_type == FrameType::WindowUpdate
                && !header.flags.contains(Flags::RST)
                && header.stream_id != 0;
            if grant {
                let stream = streams.entry(header.stream_id).or_default();
                stream.granted = stream.granted.saturating_add(u64::from(header.length));
            }
        });
    }
}

impl Rules {
    fn record(&mut self, frame: u64, header: Header, kind: ViolationKind) {
        self.violations.push(Violation {
            frame,
            header,
            kind,
        });
    }

    fn check_sent(&mut self, header: Header, windows_known: bool) {
        let frame = self.frames;
        self.frames += 1;
        self.last_header = header;
        let stream_frame = matches!(header.frame_type, FrameType::Data | FrameType::WindowUpdate);
        if !stream_frame || header.stream_id == 0 {
            return;
        }
        let id = header.stream_id;
        let opened_by_sender = StreamId::new(id).opener() == Some(self.sender);
        let mut stream = self.streams.get(&id).copied().unwrap_or_default();
        let mut flag = |kind| {
            self.violations.push(Violation {
                frame,
                header,
                kind,
            })
        };
        let flags = header.flags;
        if flags.contains(Flags::SYN) && core::mem::replace(&mut stream.syn, true) {
            flag(ViolationKind::DuplicateSyn { stream: id });
        }
        if flags.contains(Flags::ACK) {
            if opened_by_sender {
                flag(ViolationKind::AckFromOpener { stream: id });
            } else if core::mem::replace(&mut stream.ack, true) {
                flag(ViolationKind::DuplicateAck { stream: id });
            }
        }
        let length = header.payload_len();
        if length > 0 {
            if stream.fin {
                flag(ViolationKind::DataAfterFin { stream: id, length });
            }
            if flags.contains(Flags::FIN) && !self.fin_on_data_allowed {
                flag(ViolationKind::DataWithFin { stream: id, length });
            }
            if length > self.max_frame_size {
                flag(ViolationKind::FrameTooLarge {
                    stream: id,
                    length,
                    max: self.max_frame_size,
                });
            }
            let window = stream.granted.saturating_sub(stream.sent);
            if windows_known && u64::from(length) > window {
                flag(ViolationKind::BeyondWindow {
                    stream: id,
                    length,
                    window,
                });
            }
            stream.sent += u64::from(length);
        }
        if flags.contains(Flags::FIN) && core::mem::replace(&mut stream.fin, true) {
            flag(ViolationKind::DuplicateFin { stream: id });
        }
        self.streams.insert(id, stream);
    }
}
