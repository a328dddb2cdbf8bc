//! The relay every cell's connection runs through: a TCP proxy that
//! parses the frames either way into the [`Audit`] before forwarding them
//! and, in the delaying mode, forwards each frame's header on its own and
//! its payload after a pause, as a slow network might split them.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket};

use crate::audit::{Audit, Dir, HEADER_LEN, Header};

/// How the delaying relay pauses between a header and its payload.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Delays {
    /// One payload in this many waits (the others follow their header in a
    /// write of their own at once).
    pub one_in: u64,
    /// The longest pause; each is 1 ms up to this.
    pub max: Duration,
    /// The total pause per direction, after which payloads only follow in
    /// writes of their own, so a cell's time stays bounded.
    pub budget: Duration,
}

/// A piece of the byte stream: header bytes or payload bytes.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    /// Header bytes; the header once its last byte is in this piece.
    Header(Range<usize>, Option<Header>),
    /// Payload bytes; `first` when they start the frame's payload.
    Payload(Range<usize>, bool),
}

/// Splits a byte stream into headers and payloads, across reads of any
/// size.
#[derive(Default)]
struct Framer {
    header: [u8; HEADER_LEN],
    have: usize,
    payload_left: u32,
    payload_started: bool,
    /// An unknown version or type was seen: the framing is lost, so the
    /// rest passes through unparsed (the audit has the violation).
    lost: bool,
}

impl Framer {
    fn split(&mut self, bytes: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut at = 0;
        while at < bytes.len() && !self.lost {
            if self.payload_left > 0 {
                let n = (self.payload_left as usize).min(bytes.len() - at);
                pieces.push(Piece::Payload(at..at + n, !self.payload_started));
                self.payload_started = true;
                self.payload_left -= n as u32;
                at += n;
                continue;
            }
            let n = (HEADER_LEN - self.have).min(bytes.len() - at);
            self.header[self.have..self.have + n].copy_from_slice(&bytes[at..at + n]);
            self.have += n;
            let mut done = None;
            if self.have == HEADER_LEN {
                let header = Header::parse(&self.header);
                self.have = 0;
                self.payload_left = header.payload_len();
                self.payload_started = false;
                self.lost = !header.is_well_formed();
                done = Some(header);
            }
            pieces.push(Piece::Header(at..at + n, done));
            at += n;
        }
        if at < bytes.len() {
            pieces.push(Piece::Payload(at..bytes.len(), false));
        }
        pieces
    }
}

/// The receive buffer of a relay socket that reads slowly.
const SLOW_BUFFER: u32 = 16 * 1024;

/// A slow reader's pace: this much per read, one read per [`SLOW_PAUSE`].
const SLOW_READ: usize = 16 * 1024;
const SLOW_PAUSE: Duration = Duration::from_millis(2);

/// The relay's listener on a free loopback port; with `slow`, the sockets
/// it accepts get a small receive buffer.
pub(crate) fn listen(slow: bool) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    if slow {
        socket.set_recv_buffer_size(SLOW_BUFFER)?;
    }
    socket.bind("127.0.0.1:0".parse().expect("an address"))?;
    socket.listen(16)
}

/// Accepts one connection on `listener`, connects it to `server`, and
/// relays both ways until both have ended, recording every frame in
/// `audit`. The direction `slow` names is read at a slow link's pace.
pub(crate) async fn run(
    listener: TcpListener,
    server: SocketAddr,
    audit: Arc<Mutex<Audit>>,
    delays: Option<Delays>,
    slow: Option<Dir>,
) -> io::Result<()> {
    let (client, _) = listener.accept().await?;
    let socket = TcpSocket::new_v4()?;
    if slow == Some(Dir::FromServer) {
        socket.set_recv_buffer_size(SLOW_BUFFER)?;
    }
    let server = socket.connect(server).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(
        client_read,
        server_write,
        Dir::FromClient,
        &audit,
        delays,
        slow,
    );
    let down = pump(
        server_read,
        client_write,
        Dir::FromServer,
        &audit,
        delays,
        slow,
    );
    tokio::join!(up, down);
    Ok(())
}

/// Forwards one direction until its end, then passes the end on as a FIN.
///
/// If the receiving end is gone, the rest is read and dropped: a socket
/// closed with unread input sends an RST, which would throw away what the
/// relay still has queued the other way, so neither socket is closed
/// before its own end has been read.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: Dir,
    audit: &Mutex<Audit>,
    delays: Option<Delays>,
    slow: Option<Dir>,
) {
    let read_size = if slow == Some(dir) {
        SLOW_READ
    } else {
        256 * 1024
    };
    let mut buf = vec![0u8; read_size];
    let mut framer = Framer::default();
    let mut pauses = Pauses::new(dir, delays);
    let mut receiver_gone = false;
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if receiver_gone {
            continue;
        }
        if slow == Some(dir) {
            tokio::time::sleep(SLOW_PAUSE).await;
        }
        let pieces = framer.split(&buf[..n]);
        {
            // Recorded before forwarding: an answer cannot be audited
            // before what it answers.
            let mut audit = audit.lock().unwrap_or_else(|p| p.into_inner());
            for piece in &pieces {
                if let Piece::Header(_, Some(header)) = piece {
                    audit.record(dir, header);
                }
            }
        }
        let forwarded = match delays {
            None => to.write_all(&buf[..n]).await,
            Some(_) => forward_split(&mut to, &buf[..n], &pieces, &mut pauses).await,
        };
        receiver_gone = forwarded.is_err();
    }
    let _ = to.shutdown().await;
}

/// Writes each header and each payload in writes of their own, pausing
/// before some payloads.
async fn forward_split(
    to: &mut OwnedWriteHalf,
    bytes: &[u8],
    pieces: &[Piece],
    pauses: &mut Pauses,
) -> io::Result<()> {
    for piece in pieces {
        match piece {
            Piece::Header(range, _) => to.write_all(&bytes[range.clone()]).await?,
            Piece::Payload(range, first) => {
                if *first && let Some(pause) = pauses.next() {
                    tokio::time::sleep(pause).await;
                }
                to.write_all(&bytes[range.clone()]).await?;
            }
        }
    }
    Ok(())
}

/// The delaying relay's pauses for one direction, from a fixed seed.
struct Pauses {
    delays: Option<Delays>,
    state: u64,
    spent: Duration,
}

impl Pauses {
    fn new(dir: Dir, delays: Option<Delays>) -> Pauses {
        Pauses {
            delays,
            state: 0x5EED_0000 + dir as u64,
            spent: Duration::ZERO,
        }
    }

    /// The pause before the next payload, if any.
    fn next(&mut self) -> Option<Duration> {
        let delays = self.delays?;
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let r = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        if !r.is_multiple_of(delays.one_in) || self.spent >= delays.budget {
            return None;
        }
        let max_ms = delays.max.as_millis().max(1) as u64;
        let pause = Duration::from_millis(1 + (r >> 32) % max_ms);
        self.spent += pause;
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_bytes(kind: u8, flags: u16, stream: u32, length: u32) -> Vec<u8> {
        let mut bytes = vec![0, kind];
        bytes.extend_from_slice(&flags.to_be_bytes());
        bytes.extend_from_slice(&stream.to_be_bytes());
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes
    }

    #[test]
    fn splits_frames_across_any_reads() {
        let mut wire = header_bytes(0, 1, 1, 5);
        wire.extend_from_slice(b"hello");
        wire.extend(header_bytes(1, 4, 1, 0));
        for chunk in 1..wire.len() {
            let mut framer = Framer::default();
            let mut headers = Vec::new();
            let mut payload = Vec::new();
            let mut firsts = 0;
            for (i, part) in wire.chunks(chunk).enumerate() {
                for piece in framer.split(part) {
                    match piece {
                        Piece::Header(_, Some(h)) => headers.push((h.kind, h.flags)),
                        Piece::Header(..) => {}
                        Piece::Payload(range, first) => {
                            firsts += usize::from(first);
                            let start = i * chunk;
                            payload
                                .extend_from_slice(&wire[start + range.start..start + range.end]);
                        }
                    }
                }
            }
            assert_eq!(headers, [(0, 1), (1, 4)], "chunks of {chunk}");
            assert_eq!(payload, b"hello", "chunks of {chunk}");
            assert_eq!(firsts, 1, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_malformed_header_stops_parsing() {
        let mut wire = header_bytes(9, 0, 0, 0);
        wire.extend(header_bytes(0, 0, 1, 0));
        let mut framer = Framer::default();
        let pieces = framer.split(&wire);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[1], Piece::Payload(12..24, false));
    }

    #[test]
    fn pauses_stay_within_the_budget() {
        let delays = Delays {
            one_in: 2,
            max: Duration::from_millis(20),
            budget: Duration::from_millis(100),
        };
        let mut pauses = Pauses::new(Dir::FromClient, Some(delays));
        let taken: Vec<_> = (0..1000).filter_map(|_| pauses.next()).collect();
        assert!(taken.len() > 3);
        let total: Duration = taken.iter().sum();
        assert!(total <= Duration::from_millis(120), "{total:?}");
        assert!(taken.iter().all(|p| (1..=20).contains(&p.as_millis())));
    }
}
