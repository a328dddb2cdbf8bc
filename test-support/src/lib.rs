//! Helpers shared by the adapters' integration tests, so each runtime's
//! suite checks the same things the same way.
//!
//! - [`Audit`] wraps the transport under test and parses every frame
//!   muxplex writes through it into an [`AuditLog`]: how many frames,
//!   RSTs and GoAways went out, and the largest Data payload, which
//!   [`assert_frames_within`] holds against the peer's limit.
//! - [`pattern_byte`] and [`fill_pattern`] give each test stream content
//!   that is cheap to generate and to check without keeping a copy.
//! - With the `interop` feature, `interop` holds the scenarios against
//!   the `yamux` crate (0.14 and 0.13) that every async runtime's suite
//!   runs.
//!
//! The wrapper implements the futures-io traits; tokio suites reach it
//! through `tokio_util::compat`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::Poll;

use muxplex::frame::{Flags, FrameType, HeaderBuffer};

#[cfg(feature = "interop")]
pub mod interop;

/// The largest Data frame the `yamux` crate accepts.
pub const PEER_FRAME_LIMIT: u32 = 1024 * 1024;

/// What muxplex wrote to the transport, frame by frame.
#[derive(Debug, Default)]
pub struct AuditLog {
    /// The largest Data payload seen.
    pub max_data_len: AtomicU32,
    /// Data frames seen.
    pub data_frames: AtomicU64,
    /// Frames of any type seen.
    pub frames: AtomicU64,
    /// Frames carrying the RST flag.
    pub rst_frames: AtomicU64,
    /// GoAway frames.
    pub goaway_frames: AtomicU64,
    /// Transport writes that succeeded.
    pub writes: AtomicU64,
}

/// A transport wrapper that parses the frames written through it; reads
/// pass through untouched.
#[derive(Debug)]
pub struct Audit<T> {
    io: T,
    log: Arc<AuditLog>,
    header: HeaderBuffer,
    /// Payload bytes of the current Data frame still to skip.
    skip: usize,
}

impl<T> Audit<T> {
    /// Wraps `io`; returns the wrapper and the log it fills.
    pub fn new(io: T) -> (Self, Arc<AuditLog>) {
        let log = Arc::new(AuditLog::default());
        let audit = Audit {
            io,
            log: Arc::clone(&log),
            header: HeaderBuffer::default(),
            skip: 0,
        };
        (audit, log)
    }

    /// Records what a write took, which may end or start anywhere in a
    /// frame.
    fn observe(&mut self, mut bytes: &[u8]) {
        self.log.writes.fetch_add(1, Ordering::Relaxed);
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len());
                self.skip -= n;
                bytes = &bytes[n..];
                continue;
            }
            let header = self
                .header
                .fill(&mut bytes)
                .expect("muxplex wrote a malformed header");
            let Some(header) = header else { continue };
            self.log.frames.fetch_add(1, Ordering::Relaxed);
            if header.flags.contains(Flags::RST) {
                self.log.rst_frames.fetch_add(1, Ordering::Relaxed);
            }
            match header.frame_type {
                FrameType::Data => {
                    self.log.data_frames.fetch_add(1, Ordering::Relaxed);
                    self.log
                        .max_data_len
                        .fetch_max(header.length, Ordering::Relaxed);
                    self.skip = header.length as usize;
                }
                FrameType::GoAway => {
                    self.log.goaway_frames.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    }

    /// Records a write's outcome and passes it on.
    fn after_write(
        &mut self,
        buf: &[u8],
        written: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        if let Poll::Ready(Ok(n)) = written {
            self.observe(&buf[..n]);
        }
        written
    }
}

/// Checks every Data frame muxplex sent respected its own limit and the
/// peer's.
pub fn assert_frames_within(log: &AuditLog, max_frame_size: u32) {
    let max = log.max_data_len.load(Ordering::Relaxed);
    assert!(
        max <= max_frame_size && max <= PEER_FRAME_LIMIT,
        "sent a {max}-byte Data frame; limit {max_frame_size}"
    );
}

/// The byte at `offset` of test stream `seed`: different per stream and
/// position, so a misplaced or crossed-over byte shows.
pub fn pattern_byte(seed: u64, offset: u64) -> u8 {
    let x = (offset ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (x >> 56) as u8
}

/// Fills `buf` with stream `seed`'s pattern from `offset` on.
pub fn fill_pattern(seed: u64, offset: u64, buf: &mut [u8]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte = pattern_byte(seed, offset + i as u64);
    }
}

/// Panics unless `buf` is stream `seed`'s pattern from `offset` on.
pub fn check_pattern(seed: u64, offset: u64, buf: &[u8]) {
    for (i, &byte) in buf.iter().enumerate() {
        let at = offset + i as u64;
        assert_eq!(
            byte,
            pattern_byte(seed, at),
            "stream {seed}: wrong byte at offset {at}"
        );
    }
}

mod futures {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::Audit;

    impl<T: futures_io::AsyncRead + Unpin> futures_io::AsyncRead for Audit<T> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.io).poll_read(cx, buf)
        }
    }

    impl<T: futures_io::AsyncWrite + Unpin> futures_io::AsyncWrite for Audit<T> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            let written = Pin::new(&mut self.io).poll_write(cx, buf);
            self.after_write(buf, written)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_flush(cx)
        }

        fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.io).poll_close(cx)
        }
    }
}
