//! Test helpers shared by the integration tests.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};

use muxplex::frame::{Flags, FrameType, HeaderBuffer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What muxplex wrote to the transport, frame by frame.
#[derive(Default)]
pub struct AuditLog {
    pub max_data_len: AtomicU32,
    pub data_frames: AtomicU64,
    pub frames: AtomicU64,
    pub rst_frames: AtomicU64,
    pub goaway_frames: AtomicU64,
    pub writes: AtomicU64,
}

/// A transport wrapper that parses the frames written through it.
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
}

impl<T> Audit<T> {
    fn observe(&mut self, mut bytes: &[u8]) {
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
}

impl<T: AsyncRead + Unpin> AsyncRead for Audit<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Audit<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = std::task::ready!(Pin::new(&mut self.io).poll_write(cx, buf))?;
        self.log.writes.fetch_add(1, Ordering::Relaxed);
        self.observe(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
