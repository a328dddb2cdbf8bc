//! Writing the session's frames to a blocking transport, through the
//! core's [`TransmitQueue`] (vectored writes of shared payloads, many small
//! frames per system call).

use std::io::{self, ErrorKind, IoSlice, Write};

use muxplex::TransmitQueue;

/// Writes everything in `queue`, then flushes the writer. On an error the
/// queue is left as it was after the last successful write.
pub(crate) fn write_all(queue: &mut TransmitQueue, writer: &mut impl Write) -> io::Result<()> {
    while !queue.is_empty() {
        let mut chunks = [&[][..]; TransmitQueue::MAX_CHUNKS];
        let count = if queue.is_vectored() {
            queue.chunks(&mut chunks)
        } else {
            chunks[0] = queue.first();
            1
        };
        let written = if count > 1 {
            let slices: [IoSlice<'_>; TransmitQueue::MAX_CHUNKS] =
                std::array::from_fn(|i| IoSlice::new(chunks[i]));
            let written = writer.write_vectored(&slices[..count]);
            if let Ok(n) = written {
                queue.note_vectored_write(n, chunks[0].len(), count);
            }
            written
        } else {
            writer.write(chunks[0])
        };
        match written {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => queue.advance(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    writer.flush()
}
