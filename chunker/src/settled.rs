//! Chunks whose ends are settled: cut a stream a piece at a time, in memory, and get the chunks
//! of cutting it whole (for a stream that is built as it goes, like a table of contents' lines).

use std::ops::Range;

use fastcdc::v2020::FastCDC;

use crate::Params;

impl Params {
    /// The chunks at the start of `data` whose ends the bytes after `data` cannot move: while at
    /// least `max_size` bytes remain, or all of them when `eof` says the stream ends with `data`;
    /// chunks start before `up_to`. Cutting a stream this way, piece by piece, gives the chunks of
    /// cutting it whole.
    pub fn settled_chunks(&self, data: &[u8], eof: bool, up_to: usize) -> Vec<Range<usize>> {
        let cdc = FastCDC::with_level_and_seed(data, self.min_size, self.avg_size, self.max_size, self.normalization, self.seed);
        let mut chunks = Vec::with_capacity(up_to.min(data.len()) / self.avg_size + 2);
        let mut pos = 0;
        while pos < data.len() && pos < up_to {
            let remaining = data.len() - pos;
            if !eof && remaining < self.max_size {
                break; // the cut could depend on bytes not read yet
            }
            let (_, end) = cdc.cut(pos, remaining);
            chunks.push(pos..end);
            pos = end;
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Params {
        Params::new(1024, 4096, 16384, 1, 42).unwrap()
    }

    #[test]
    fn settled_chunks_taken_piece_by_piece_are_the_chunks_of_the_whole() {
        let p = params();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let whole: Vec<Range<usize>> = p.settled_chunks(&data, true, usize::MAX);
        for piece in [1000, 16_384, 50_000] {
            let (mut got, mut buf, mut base) = (Vec::new(), Vec::new(), 0usize);
            for part in data.chunks(piece) {
                buf.extend_from_slice(part);
                let cut = p.settled_chunks(&buf, false, usize::MAX);
                if let Some(end) = cut.last().map(|c| c.end) {
                    got.extend(cut.into_iter().map(|c| c.start + base..c.end + base));
                    buf.drain(..end);
                    base += end;
                }
            }
            got.extend(p.settled_chunks(&buf, true, usize::MAX).into_iter().map(|c| c.start + base..c.end + base));
            assert_eq!(got, whole, "pieces of {piece}");
        }
    }
}
