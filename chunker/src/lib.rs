//! Streaming content-defined chunking with FastCDC v2020.
//!
//! A [`Chunker`] reads any [`Read`] source, or maps a leased file ([`Input`]), and yields
//! [`Batch`]es: several whole chunks and their boundaries in one buffer the batch owns (read into,
//! or a mapping of the file's bytes). Batches (a few MiB each) are the unit the ingest pipeline
//! hashes, compresses and seals in parallel, and owning the buffer means no chunk is copied on its
//! way through.
//!
//! Boundaries depend only on the bytes of the stream and the [`Params`], never on how the reader
//! splits its reads: a chunk is cut only when at least `max_size` bytes (or the end of the
//! stream) follow its start, so FastCDC sees exactly what it would see over the whole stream.

use std::io::{self, Read, Seek, SeekFrom};
use std::ops::{Deref, Range};
use std::sync::Arc;

use fastcdc::v2020::{self, Normalization};

mod settled;
use memmap2::{Mmap, MmapOptions};
use thiserror::Error;

mod pinned;
pub use pinned::PinnedFile;

/// Invalid chunker parameters (from a repository config).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid chunker parameters: {0}")]
pub struct ParamsError(String);

/// Validated chunker parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Params {
    min_size: usize,
    avg_size: usize,
    max_size: usize,
    normalization: Normalization,
    seed: u64,
}

impl Params {
    /// Validate sizes (even, ordered, within FastCDC's limits) and the normalisation level (0-3).
    pub fn new(min_size: u32, avg_size: u32, max_size: u32, normalization: u8, seed: u64) -> Result<Params, ParamsError> {
        let (min, avg, max) = (min_size as usize, avg_size as usize, max_size as usize);
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(ParamsError(what.to_string())) };
        check((v2020::MINIMUM_MIN..=v2020::MINIMUM_MAX).contains(&min), "min_size out of range")?;
        check((v2020::AVERAGE_MIN..=v2020::AVERAGE_MAX).contains(&avg), "avg_size out of range")?;
        check((v2020::MAXIMUM_MIN..=v2020::MAXIMUM_MAX).contains(&max), "max_size out of range")?;
        check(min % 2 == 0 && avg % 2 == 0 && max % 2 == 0, "sizes must be even")?;
        check(min <= avg && avg <= max, "sizes must satisfy min <= avg <= max")?;
        let normalization = match normalization {
            0 => Normalization::Level0,
            1 => Normalization::Level1,
            2 => Normalization::Level2,
            3 => Normalization::Level3,
            n => return Err(ParamsError(format!("normalization level {n} is not 0-3"))),
        };
        Ok(Params { min_size: min, avg_size: avg, max_size: max, normalization, seed })
    }

    /// The largest chunk these parameters produce.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Whether the seed leaves runs of a padding byte (spaces of `CHAR(n)` columns, zeros, NULs)
    /// no likelier to be cut than any seed must: `init` draws keys until this holds (SPEC.md,
    /// section 10, *Seed*).
    ///
    /// Along a run of one byte the gear hash forgets what preceded it: `k` bytes in, its low `k`
    /// bits are the run's alone. Where those bits of a mask are all zero, every run of that byte
    /// (in every row of a padded table) is a likely cut `k` bytes in, with probability 2 to the
    /// minus the mask bits still left to the preceding bytes. Past the mask's lowest bit (where
    /// that holds for every seed) these chances may add up to at most `MAX_PADDING_CUTS` per
    /// run of `PADDING_RUN` bytes, for each byte of `PADDING` and for both of FastCDC's masks.
    pub fn seed_cuts_padding_evenly(&self) -> bool {
        let (mask_s, mask_l) = v2020::select_masks(self.avg_size, self.normalization);
        let (gear, _) = v2020::get_gear_with_seed(self.seed);
        PADDING.iter().all(|&b| [mask_s, mask_l].iter().all(|&mask| padding_cuts(gear[usize::from(b)], mask) <= MAX_PADDING_CUTS))
    }
}

/// Bytes that pad fixed-width fields in dumps: space, the digit zero, NUL.
const PADDING: [u8; 3] = [b' ', b'0', 0];
/// Length of the runs of padding [`Params::seed_cuts_padding_evenly`] considers.
const PADDING_RUN: u32 = 256;
/// Most likely cuts a seed may add along a run of padding: below the score of every seed measured
/// to cut padded rows into excess chunks (benches/log/2026-12-04-new-machine-runs-ff-to-jj.md).
const MAX_PADDING_CUTS: f64 = 0.0002;

/// The expected cuts along a run of [`PADDING_RUN`] bytes whose gear value is `g`, after
/// unknown bytes, past the positions whose `mask` bits are all still the unknown bytes'.
fn padding_cuts(g: u64, mask: u64) -> f64 {
    let mut hash: u64 = 0;
    let mut cuts = 0.0;
    for k in 1..=PADDING_RUN {
        hash = (hash << 1).wrapping_add(g);
        if k <= mask.trailing_zeros() {
            continue;
        }
        let run_bits = if k >= 64 { u64::MAX } else { (1u64 << k) - 1 };
        if hash & mask & run_bits == 0 {
            cuts += 0.5f64.powi((mask & !run_bits).count_ones() as i32);
        }
    }
    cuts
}

/// Where a chunker's bytes come from.
pub enum Input<R> {
    /// Any reader: its bytes are read into buffers.
    Stream(R),
    /// A leased regular file, from its offset when leased to its end, mapped a batch at a time:
    /// nothing is copied, which speeds ingests
    /// (benches/log/2026-12-03-mapped-input-runs-cc-to-ee.md).
    /// Each batch keeps the lease while it lives, and the next batch is refused once the lease is
    /// broken; whoever stores a batch checks [`Data::check_unchanged`] after using its bytes. The
    /// file's offset is left at its end, as reading it would.
    Pinned(Arc<PinnedFile>),
}

/// A batch's bytes: a buffer read into, or a mapping of the input file.
pub struct Data(Bytes);

enum Bytes {
    Read(Vec<u8>),
    /// A mapping, how many of its first bytes are the batch's, and the lease that keeps them
    /// unchanged (dropped after the mapping).
    Mapped(Mmap, usize, Arc<PinnedFile>),
}

impl Data {
    /// An error if the bytes may no longer be those the batch was cut from: never for bytes read
    /// into a buffer; for a mapped file, once its lease is broken ([`PinnedFile::check`]). Check
    /// after using the bytes: what was computed from them before a passing check is sound.
    pub fn check_unchanged(&self) -> io::Result<()> {
        match &self.0 {
            Bytes::Read(_) => Ok(()),
            Bytes::Mapped(_, _, lease) => lease.check(),
        }
    }

    /// The buffer to hand back to [`Chunker::recycle`], if the bytes were read into one.
    pub fn into_buffer(self) -> Option<Vec<u8>> {
        match self.0 {
            Bytes::Read(v) => Some(v),
            Bytes::Mapped(..) => None,
        }
    }
}

impl Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Read(v) => v,
            Bytes::Mapped(m, len, _) => &m[..*len],
        }
    }
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = if matches!(self.0, Bytes::Read(_)) { "read" } else { "mapped" };
        write!(f, "Data({} bytes {how})", self.len())
    }
}

/// Several consecutive chunks of the stream in one buffer.
#[derive(Debug)]
pub struct Batch {
    /// Offset of `data[0]` in the stream.
    pub stream_offset: u64,
    /// The bytes of the batch's chunks, back to back.
    pub data: Data,
    /// Each chunk's range in `data`, in stream order; together they cover `data` exactly.
    pub chunks: Vec<Range<usize>>,
}

impl Batch {
    /// The bytes of chunk `i`.
    pub fn chunk(&self, i: usize) -> &[u8] {
        &self.data[self.chunks[i].clone()]
    }
}

/// What a chunker takes its bytes from.
enum Feed<R> {
    Reader(R),
    /// A leased file being mapped: the offset in it of the stream's next byte, and its size.
    Mapped { file: Arc<PinnedFile>, at: u64, end: u64 },
}

/// Splits a byte stream into content-defined chunks, a batch at a time.
pub struct Chunker<R> {
    feed: Feed<R>,
    params: Params,
    batch_size: usize,
    /// The size of the next batch: it ramps up to `batch_size` (see [`Chunker::new`]).
    next_size: usize,
    buf: Vec<u8>,
    /// Buffers handed back by [`Chunker::recycle`], reused instead of fresh allocations.
    spare: Vec<Vec<u8>>,
    offset: u64,
    eof: bool,
}

impl<R: Read> Chunker<R> {
    /// Chunk `reader`, yielding batches of about `batch_size` bytes (at least `max_size`).
    ///
    /// The first batches are an eighth, a quarter and half of that: the stages after the chunker
    /// wait for the first batch (benches/log/2026-11-22-fewer-threads-like-for-like-restores.md).
    pub fn new(reader: R, params: Params, batch_size: usize) -> Self {
        Chunker::build(Feed::Reader(reader), params, batch_size)
    }

    /// Chunk `input` as [`Chunker::new`] does; a leased file is mapped (see [`Input::Pinned`]).
    pub fn with_input(input: Input<R>, params: Params, batch_size: usize) -> io::Result<Self> {
        Ok(match input {
            Input::Stream(r) => Chunker::new(r, params, batch_size),
            Input::Pinned(file) => {
                let at = file.file().stream_position()?;
                let end = file.file().metadata()?.len().max(at);
                Chunker::build(Feed::Mapped { file, at, end }, params, batch_size)
            }
        })
    }

    fn build(feed: Feed<R>, params: Params, batch_size: usize) -> Self {
        let batch_size = batch_size.max(params.max_size);
        let next_size = (batch_size / 8).max(params.max_size);
        Chunker { feed, params, batch_size, next_size, buf: Vec::new(), spare: Vec::new(), offset: 0, eof: false }
    }

    /// Give back a batch's buffer once done with it: the next batches reuse it, which saves
    /// faulting in fresh pages for every batch.
    pub fn recycle(&mut self, data: Vec<u8>) {
        if self.spare.len() < 4 {
            self.spare.push(data);
        }
    }

    /// Bytes handed out in batches so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Read until the buffer holds the next batch's size plus `max_size` bytes or the stream ends.
    fn fill(&mut self) -> io::Result<()> {
        let Feed::Reader(reader) = &mut self.feed else { return Ok(()) };
        let want = self.next_size + self.params.max_size;
        if self.buf.capacity() < want {
            self.buf.reserve_exact(want - self.buf.len());
        }
        if !self.eof && self.buf.len() < want {
            // Reads into spare capacity (no zeroing), retries on EINTR, stops at `want` or EOF.
            let missing = (want - self.buf.len()) as u64;
            let n = reader.take(missing).read_to_end(&mut self.buf)?;
            if (n as u64) < missing {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// The chunks of the next batch at the start of `data`, which holds the next batch's size plus
    /// `max_size` bytes, or fewer when `eof` says the stream ends after them.
    fn cut(&self, data: &[u8], eof: bool) -> Vec<Range<usize>> {
        self.params.settled_chunks(data, eof, self.next_size)
    }

    /// The next batch, or `None` at the end of the stream.
    pub fn next_batch(&mut self) -> io::Result<Option<Batch>> {
        let next = match self.feed {
            Feed::Reader(_) => self.next_read()?,
            Feed::Mapped { .. } => self.next_mapped()?,
        };
        let Some((data, chunks)) = next else { return Ok(None) };
        let batch = Batch { stream_offset: self.offset, data, chunks };
        self.offset += batch.data.len() as u64;
        self.next_size = (self.next_size * 2).min(self.batch_size);
        Ok(Some(batch))
    }

    /// The next batch's bytes read into a buffer; the bytes after its last chunk move to the next.
    fn next_read(&mut self) -> io::Result<Option<(Data, Vec<Range<usize>>)>> {
        self.fill()?;
        if self.buf.is_empty() {
            return Ok(None);
        }
        let chunks = self.cut(&self.buf, self.eof);
        let pos = chunks.last().map_or(0, |c| c.end);
        let mut rest = self.spare.pop().unwrap_or_default();
        rest.clear();
        rest.extend_from_slice(&self.buf[pos..]);
        let mut data = std::mem::replace(&mut self.buf, rest);
        data.truncate(pos);
        Ok(Some((Data(Bytes::Read(data)), chunks)))
    }

    /// The next batch's bytes mapped from the leased file.
    fn next_mapped(&mut self) -> io::Result<Option<(Data, Vec<Range<usize>>)>> {
        let Some((map, lease, eof)) = self.next_window()? else { return Ok(None) };
        let chunks = self.cut(&map, eof);
        let pos = chunks.last().map_or(0, |c| c.end);
        if let Feed::Mapped { at, .. } = &mut self.feed {
            *at += pos as u64;
        }
        Ok(Some((Data(Bytes::Mapped(map, pos, lease)), chunks)))
    }

    /// Map the leased file's next batch size plus `max_size` bytes (fewer at its end, and then
    /// `true`), or `None` at its end, leaving its offset there; an error once the lease is broken.
    fn next_window(&mut self) -> io::Result<Option<(Mmap, Arc<PinnedFile>, bool)>> {
        let want = (self.next_size + self.params.max_size) as u64;
        let Feed::Mapped { file, at, end } = &self.feed else { return Ok(None) };
        let (at, end) = (*at, *end);
        file.check()?;
        if at >= end {
            file.file().seek(SeekFrom::Start(at))?;
            return Ok(None);
        }
        let len = want.min(end - at);
        self.eof = at + len == end;
        // SAFETY: a read-only mapping of a leased file (see PinnedFile): while the lease holds,
        // nobody writes or truncates the file, and the batch owning the mapping keeps the lease
        // until the mapping is gone. A write or truncate waits for the lease's release (up to the
        // kernel's lease-break-time, 45 s by default); the ingest stops at the next batch.
        let map = unsafe { MmapOptions::new().offset(at).len(len as usize).map(file.file())? };
        Ok(Some((map, Arc::clone(file), self.eof)))
    }
}

impl<R: Read> Iterator for Chunker<R> {
    type Item = io::Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastcdc::v2020::FastCDC;
    use proptest::prelude::*;

    fn params() -> Params {
        Params::new(1024, 4096, 16384, 1, 42).unwrap()
    }

    /// Rows like pgbench's: a few digits, then 84 spaces.
    fn padded_rows(n: u32) -> Vec<u8> {
        (0..n).flat_map(|i| format!("{}\t{}\t{}\t{:84}\n", i + 1, i / 100_000 + 1, if i % 97 == 5 { -(i64::from(i) % 5000) } else { 0 }, "").into_bytes()).collect()
    }

    #[test]
    fn seeds_that_cut_padded_rows_often_are_refused() {
        let rows = padded_rows(100_000);
        let mut x = 7u64;
        let mut scored: Vec<(bool, f64, usize)> = (0..64)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let seed = x ^ (x >> 29);
                let p = Params::new(16384, 65536, 524288, 1, seed).unwrap();
                let (mask_s, mask_l) = v2020::select_masks(p.avg_size, p.normalization);
                let g = v2020::get_gear_with_seed(seed).0[usize::from(b' ')];
                let chunks = FastCDC::with_level_and_seed(&rows, 16384, 65536, 524288, Normalization::Level1, seed).count();
                (p.seed_cuts_padding_evenly(), padding_cuts(g, mask_s).max(padding_cuts(g, mask_l)), chunks)
            })
            .collect();
        let accepted = scored.iter().filter(|s| s.0).count();
        assert!((32..64).contains(&accepted), "{accepted} of 64 seeds accepted");
        // The seeds whose runs of spaces score worst cut padded rows into more chunks, on average,
        // than the seeds accepted.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
        let worst: Vec<usize> = scored[..8].iter().map(|s| s.2).collect();
        let good: Vec<usize> = scored.iter().filter(|s| s.0).map(|s| s.2).collect();
        assert!(mean(&worst) > 1.3 * mean(&good), "worst seeds {worst:?}, accepted {good:?}");
    }

    fn pseudo_text(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(format!("({}, 'name {}', {}.{:02})\n", x % 100_000, x % 977, x % 1000, x % 100).as_bytes());
        }
        out.truncate(n);
        out
    }

    /// A reader that returns at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn boundaries(data: &[u8], step: usize, batch: usize) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        for b in Chunker::new(Trickle { data, step }, params(), batch) {
            let b = b.unwrap();
            for r in &b.chunks {
                out.push((b.stream_offset + r.start as u64, r.len()));
            }
        }
        out
    }

    #[test]
    fn matches_fastcdc_over_the_whole_stream() {
        let data = pseudo_text(300_000, 7);
        let whole: Vec<(u64, usize)> = FastCDC::with_level_and_seed(&data, 1024, 4096, 16384, Normalization::Level1, 42)
            .map(|c| (c.offset as u64, c.length))
            .collect();
        assert_eq!(boundaries(&data, 1 << 20, 65536), whole);
        assert_eq!(boundaries(&data, 777, 20000), whole);
    }

    #[test]
    fn the_first_batches_ramp_up_to_the_batch_size() {
        let data = pseudo_text(1_000_000, 3);
        let sizes: Vec<usize> = Chunker::new(&data[..], params(), 160_000).map(|b| b.unwrap().data.len()).collect();
        // A batch ends at the first cut at or past its size (a chunk is at most 16,384 bytes).
        for (i, want) in [20_000, 40_000, 80_000, 160_000, 160_000].into_iter().enumerate() {
            assert!((want..want + 16_384).contains(&sizes[i]), "batch {i}: {} bytes, wanted about {want}", sizes[i]);
        }
        assert_eq!(sizes.iter().sum::<usize>(), data.len());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_leased_file_is_cut_like_the_same_bytes_read_from_its_offset_to_its_end() {
        let data = pseudo_text(700_000, 11);
        let (_dir, path) = crate::pinned::tests::file_with(&data);
        for (skip, batch) in [(0, 65_536), (12_345, 100_000), (699_999, 65_536), (700_000, 65_536)] {
            let mut file = std::fs::File::open(&path).unwrap();
            file.seek(SeekFrom::Start(skip as u64)).unwrap();
            let leased = Arc::new(PinnedFile::pin(file).expect("a file of ours is leased"));
            let input = Input::<&[u8]>::Pinned(Arc::clone(&leased));
            let mapped: Vec<(u64, Vec<u8>, Vec<Range<usize>>)> = Chunker::with_input(input, params(), batch)
                .unwrap()
                .map(|b| {
                    let b = b.unwrap();
                    b.data.check_unchanged().unwrap();
                    (b.stream_offset, b.data.to_vec(), b.chunks)
                })
                .collect();
            let read: Vec<(u64, Vec<u8>, Vec<Range<usize>>)> =
                Chunker::new(&data[skip..], params(), batch).map(|b| b.unwrap()).map(|b| (b.stream_offset, b.data.to_vec(), b.chunks)).collect();
            assert_eq!(mapped, read, "from offset {skip}");
            assert_eq!(leased.file().stream_position().unwrap(), data.len() as u64, "left at the end, as reading would");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_broken_lease_stops_the_mapped_batches() {
        let (_dir, path) = crate::pinned::tests::file_with(&pseudo_text(300_000, 5));
        let leased = Arc::new(PinnedFile::pin(std::fs::File::open(&path).unwrap()).unwrap());
        let mut chunks = Chunker::with_input(Input::<&[u8]>::Pinned(Arc::clone(&leased)), params(), 65_536).unwrap();
        let first = chunks.next_batch().unwrap().unwrap();
        let p = path.clone();
        let writer = std::thread::spawn(move || drop(std::fs::OpenOptions::new().append(true).open(p).unwrap()));
        while leased.intact() {
            std::thread::yield_now();
        }
        assert!(first.data.check_unchanged().is_err(), "the batch cut before the break no longer vouches for its bytes");
        let err = chunks.next_batch().unwrap_err();
        assert!(err.to_string().contains("opened for writing or truncated"), "{err}");
        drop((first, chunks, leased));
        writer.join().unwrap();
    }

    #[test]
    fn empty_stream_has_no_batches() {
        assert!(Chunker::new(&b""[..], params(), 1 << 20).next().is_none());
    }

    #[test]
    fn rejects_bad_params() {
        assert!(Params::new(1024, 4096, 16384, 4, 0).is_err());
        assert!(Params::new(1023, 4096, 16384, 1, 0).is_err());
        assert!(Params::new(8192, 4096, 16384, 1, 0).is_err());
        assert!(Params::new(2, 4096, 16384, 1, 0).is_err());
    }

    #[test]
    fn seed_changes_boundaries() {
        let data = pseudo_text(200_000, 3);
        let a: Vec<_> = FastCDC::with_level_and_seed(&data, 1024, 4096, 16384, Normalization::Level1, 1).map(|c| c.offset).collect();
        let b: Vec<_> = FastCDC::with_level_and_seed(&data, 1024, 4096, 16384, Normalization::Level1, 2).map(|c| c.offset).collect();
        assert_ne!(a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Chunking is deterministic and covers the stream exactly, whatever the read sizes.
        #[test]
        fn covers_stream_exactly_and_deterministically(len in 0usize..120_000, seed in any::<u64>(), step in 1usize..70_000, batch in 1usize..100_000) {
            let data = pseudo_text(len, seed);
            let mut rebuilt = Vec::new();
            let mut expected_offset = 0u64;
            for b in Chunker::new(Trickle { data: &data, step }, params(), batch) {
                let b = b.unwrap();
                prop_assert_eq!(b.stream_offset, expected_offset);
                let mut at = 0;
                for r in &b.chunks {
                    prop_assert_eq!(r.start, at);
                    prop_assert!(r.len() <= 16384 && !r.is_empty());
                    at = r.end;
                }
                prop_assert_eq!(at, b.data.len());
                expected_offset += b.data.len() as u64;
                rebuilt.extend_from_slice(&b.data);
            }
            prop_assert_eq!(&rebuilt, &data);
            prop_assert_eq!(boundaries(&data, step, batch), boundaries(&data, 1 << 20, 1 << 20));
        }
    }
}
