//! Writing files in pieces of at most [`WRITE_BYTES`].
//!
//! Linux sizes the page-cache folios of a buffered write by the write's length, and large folios
//! can be slow to fault in (on the measuring VM the host had reclaimed the free memory they come
//! from). A restore into a file writes through [`SmallWrites`]; packs do not, where it made no
//! difference (benches/log/2026-12-02-fresh-memory-runs-x-y-z.md).

use std::io::{self, Write};

/// The largest write handed to the kernel.
pub const WRITE_BYTES: usize = 32 << 10;

/// A writer that passes at most [`WRITE_BYTES`] to each `write` of the one it wraps (`write_all`
/// loops over the rest, as it does over any short write).
pub struct SmallWrites<W>(pub W);

impl<W: Write> Write for SmallWrites<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(&buf[..buf.len().min(WRITE_BYTES)])
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the length of every write it receives.
    struct Lengths(Vec<usize>, Vec<u8>);

    impl Write for Lengths {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.len());
            self.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_large_write_reaches_the_inner_writer_in_pieces_of_at_most_write_bytes_and_in_order() {
        let data: Vec<u8> = (0..(2 * WRITE_BYTES + 100)).map(|i| (i % 251) as u8).collect();
        // Behind a BufWriter as the callers use it: a write larger than its buffer passes through.
        let mut w = io::BufWriter::with_capacity(1 << 20, SmallWrites(Lengths(Vec::new(), Vec::new())));
        w.write_all(&data).unwrap();
        w.write_all(&data[..10]).unwrap();
        let inner = w.into_inner().map_err(|e| e.into_error()).unwrap().0;
        assert!(inner.0.iter().all(|&n| n <= WRITE_BYTES), "{:?}", inner.0);
        assert!(inner.0.len() >= 3);
        assert_eq!(inner.1, [&data[..], &data[..10]].concat());
    }
}
