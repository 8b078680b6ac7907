//! Writing files in pieces of at most [`WRITE_BYTES`].
//!
//! Linux (6.18 here, ext4) sizes the page-cache folios of a buffered write by the write's length,
//! and a large folio comes from a large free block of memory. On this VM such blocks behave as if
//! the host had reclaimed them: each of their 4 KiB pages seems to cost a host fault on first
//! touch. Writing 256 MiB to a new file after 3 s idle (`dd`, two runs per size) took
//! 0.57-0.65 s of kernel time in 8 MiB writes, 0.54-0.55 s in 1 MiB writes, 0.43-0.50 s in 64 KiB
//! writes and 0.12-0.16 s in 32 KiB writes (0.14-0.20 s in 16 KiB, 0.26-0.31 s in 4 KiB: more
//! system calls). A restore into a file writes through [`SmallWrites`]: pgbench's day 6 (251 MB)
//! after 3 s idle took 0.345 s instead of 0.670 s (8 runs alternating, medians). Packs are not: a
//! first day's ingest (78 MB of packs, written in 1 MiB pieces) took 0.81 s, and 0.825 s in small
//! writes (6 runs each).

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
