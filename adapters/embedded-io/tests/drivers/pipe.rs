//! In-memory transports: a pair of bounded byte pipes, with the blocking
//! embedded-io traits on each end and the async ones on its split halves.
//!
//! The blocking `read` and `write` panic where a real transport would block
//! (nothing to read, no room to write, a stalled writer): a driver that
//! ignored `ReadReady` or `WriteReady` fails the test instead of hanging.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::Poll;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};

/// One direction: at most `capacity` bytes in flight.
#[derive(Debug)]
struct Pipe {
    data: VecDeque<u8>,
    capacity: usize,
    /// The writer has shut down: once drained, reads see end of file.
    closed: bool,
}

type Shared = Rc<RefCell<Pipe>>;

fn pipe(capacity: usize) -> Shared {
    Rc::new(RefCell::new(Pipe {
        data: VecDeque::new(),
        capacity,
        closed: false,
    }))
}

/// Moves what is buffered into `buf`; `None` if a reader would have to
/// wait.
fn take(pipe: &Shared, buf: &mut [u8]) -> Option<usize> {
    let mut pipe = pipe.borrow_mut();
    if pipe.data.is_empty() && !pipe.closed {
        return None;
    }
    let n = buf.len().min(pipe.data.len());
    for (slot, byte) in buf.iter_mut().zip(pipe.data.drain(..n)) {
        *slot = byte;
    }
    Some(n)
}

/// Appends what fits of `buf`; `None` if a writer would have to wait.
fn put(pipe: &Shared, stalled: &Cell<bool>, buf: &[u8]) -> Option<usize> {
    let mut pipe = pipe.borrow_mut();
    let room = pipe.capacity - pipe.data.len();
    if stalled.get() || room == 0 {
        return None;
    }
    let n = buf.len().min(room);
    pipe.data.extend(&buf[..n]);
    Some(n)
}

/// One end of a connection made of two pipes.
#[derive(Debug)]
pub(crate) struct End {
    rx: Shared,
    tx: Shared,
    /// While set, the end reports that it cannot write, as a link whose
    /// transmitter is busy would.
    stalled: Rc<Cell<bool>>,
    /// Bytes the async half wrote since its last flush.
    unflushed: Rc<Cell<usize>>,
}

/// Two connected ends, each direction holding at most `capacity` bytes.
pub(crate) fn pair(capacity: usize) -> (End, End) {
    let (ab, ba) = (pipe(capacity), pipe(capacity));
    let a = End {
        rx: ba.clone(),
        tx: ab.clone(),
        stalled: Rc::default(),
        unflushed: Rc::default(),
    };
    let b = End {
        rx: ab,
        tx: ba,
        stalled: Rc::default(),
        unflushed: Rc::default(),
    };
    (a, b)
}

/// Test-side controls of an end that a driver owns.
#[derive(Clone, Debug)]
pub(crate) struct Controls {
    tx: Shared,
    stalled: Rc<Cell<bool>>,
    unflushed: Rc<Cell<usize>>,
}

impl Controls {
    /// Makes the end report write-not-ready (or ready again).
    pub(crate) fn stall(&self, stalled: bool) {
        self.stalled.set(stalled);
    }

    /// Shuts the end's writing side: the other end reads end of file.
    pub(crate) fn shutdown(&self) {
        self.tx.borrow_mut().closed = true;
    }

    /// Bytes the end's async write half wrote and has not flushed since.
    pub(crate) fn unflushed(&self) -> usize {
        self.unflushed.get()
    }
}

impl End {
    /// Controls that stay with the test once the end is given away.
    pub(crate) fn controls(&self) -> Controls {
        Controls {
            tx: self.tx.clone(),
            stalled: self.stalled.clone(),
            unflushed: self.unflushed.clone(),
        }
    }

    /// The async read and write halves.
    pub(crate) fn split(self) -> (ReadHalf, WriteHalf) {
        (
            ReadHalf { rx: self.rx },
            WriteHalf {
                tx: self.tx,
                stalled: self.stalled,
                unflushed: self.unflushed,
            },
        )
    }
}

impl ErrorType for End {
    type Error = ErrorKind;
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        Ok(take(&self.rx, buf).expect("read would block: the driver ignored ReadReady"))
    }
}

impl ReadReady for End {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        let rx = self.rx.borrow();
        Ok(!rx.data.is_empty() || rx.closed)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Ok(put(&self.tx, &self.stalled, buf)
            .expect("write would block: the driver ignored WriteReady"))
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl WriteReady for End {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        let tx = self.tx.borrow();
        Ok(!self.stalled.get() && tx.data.len() < tx.capacity)
    }
}

/// The async reading half of an [`End`]. Its futures register no waker:
/// the tests' executor polls every task each round, so none is needed.
/// They are cancel-safe: bytes move only in a poll that completes.
#[derive(Debug)]
pub(crate) struct ReadHalf {
    rx: Shared,
}

/// The async writing half of an [`End`].
#[derive(Debug)]
pub(crate) struct WriteHalf {
    tx: Shared,
    stalled: Rc<Cell<bool>>,
    unflushed: Rc<Cell<usize>>,
}

impl ErrorType for ReadHalf {
    type Error = ErrorKind;
}

impl ErrorType for WriteHalf {
    type Error = ErrorKind;
}

impl embedded_io_async::Read for ReadHalf {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        poll_fn(|_| match take(&self.rx, buf) {
            Some(n) => Poll::Ready(Ok(n)),
            None => Poll::Pending,
        })
        .await
    }
}

impl embedded_io_async::Write for WriteHalf {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        poll_fn(|_| match put(&self.tx, &self.stalled, buf) {
            Some(n) => {
                self.unflushed.set(self.unflushed.get() + n);
                Poll::Ready(Ok(n))
            }
            None => Poll::Pending,
        })
        .await
    }

    /// The bytes are in the pipe already; counting flushes lets the tests
    /// check that a writer which needs one (a buffered one) would get it.
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.unflushed.set(0);
        Ok(())
    }
}
