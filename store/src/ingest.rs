//! Ingest: one dump stream in, one snapshot out.
//!
//! Pipeline: a reader thread reads the stream and cuts it into chunks;
//! batches of chunks travel through a bounded channel to this thread, which hashes the whole
//! stream and the chunks (in parallel, rayon), looks each id up (this run's own set, then the
//! read-only index view), compresses and seals the new ones in parallel, and appends them to packs
//! in stream order. The chunk-list tree is built alongside and its nodes are stored the same way.
//!
//! Deltas (format version 2): a [`BaseFinder`] walks the parent snapshot's chunk list alongside the
//! stream and proposes, for each new chunk, the parent's chunk at the same place. The sealing job
//! reads the proposed bases and stores a chunk as a zstd patch against its base when that is
//! clearly smaller than the chunk compressed alone (SPEC.md, "Delta blobs"). A chunk that gets no
//! delta that way is tried against the indexed chunk its [`resemblance`] sketch matches best; the
//! new chunks' super-features enter the local index at the commit.
//!
//! Write order (SPEC.md, "Write order and the commit point"): packs are durable before the index
//! segment that lists them; segments are written before the writer role is taken; the commit point
//! is the creation of the manifest under `snapshots/`. A failure or crash before it leaves only
//! unreferenced packs and segments, which never make a snapshot and which prune removes.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use chunker::{Batch, Chunker};
pub use chunker::{Input, LeasedFile};
use jiff::Timestamp;
use rayon::prelude::*;
use repo_format::blob::{self, BlobKind, DeltaRef, IdCheck, PatchMatcher, SealedBlob};
use repo_format::crypto::{Keys, OVERHEAD};
use repo_format::index_segment::IndexSegment;
use repo_format::manifest::{Added, Manifest, Origin, Source};
use repo_format::tree::{TreeBuilder, TreeEntry};
use repo_format::Id;

use crate::backend::BackendError;
use crate::base::BaseFinder;
use crate::dump::{self, DumpInfo};
use crate::index::{BlobLocation, Index};
use crate::pack::{PackReader, PackWriter};
use crate::tree::TreeWalk;
use crate::repository::{Repository, hostname};
use crate::resemblance::{self, SUPER_FEATURES, Sketch};
use crate::snapshot::Snapshot;
use crate::{Result, StoreError};

/// Bytes per batch handed from the reader thread to the sealing stage. 4 MiB rather than 8: peak
/// RSS of a first pg-app day 81 MB instead of 112 (fewer fresh pages to fault in and free), at
/// the same speed or slightly better (7-day pg-app and pgbench series, same repository seed, two
/// rounds: later days' medians 0.637 against 0.677 s and 0.528 against 0.532 s; bytes identical).
const BATCH_BYTES: usize = 4 << 20;
/// Batches in flight between reader and sealer (bounds memory).
const QUEUE_DEPTH: usize = 2;
/// Packs listed per index segment; a long ingest writes several, so its memory stays bounded.
const PACKS_PER_SEGMENT: usize = 8;
/// Deepest delta a writer creates; a proposed base this deep is replaced by one of its chain's
/// shallower members ([`rebase`]), so restoring a chunk never reads more than this many bases
/// (SPEC.md, "Delta blobs").
pub const WRITE_MAX_DEPTH: u8 = 4;
/// A chain 2 or 3 deep whose proposed base's id starts with a byte below this is rebased early
/// ([`rebase_early`]): 64 is one chain in four.
const EARLY_REBASE_BELOW: u8 = 64;
/// What a delta costs beyond its patch: the base id in the pack header and the index segment.
const DELTA_EXTRA: usize = 64;
/// A chain root compressing alone at least this many times marks rows that repeat with small
/// differences (pgbench: 45x and more), which get patches made with long matches.
const REPETITIVE: u64 = 16;

/// How patches are made (SPEC.md 6.1, *Patch matcher*) in a repository whose chunks are
/// compressed at `level` (the default is 1), against a base whose chain root compresses from
/// `root_raw` to `root_alone` bytes: up to level 3, anchored long matches, and for a base without
/// row starts long matches only (at level 1) for repetitive data, short matches otherwise; above,
/// zstd's long matches at `level`. On day 6 of the comparison series anchored patches were 2-8%
/// smaller than those of the zstd matcher used before, in a third (pgbench) to two thirds
/// (application tables) of the time.
pub fn patch_matcher(level: i32, root_raw: u32, root_alone: u32) -> PatchMatcher {
    if level > 3 {
        PatchMatcher::Long(level)
    } else {
        PatchMatcher::Anchored { repetitive: u64::from(root_raw) >= REPETITIVE * u64::from(root_alone) }
    }
}

/// Most super-features one ingest records (3 per new chunk, 40 bytes each in memory until the
/// commit): 2^20 cover 350,000 new chunks, a 22 GB first day; later chunks are found by position.
const MAX_FEATURES: usize = 1 << 20;
/// Chunks expected to compress alone to fewer bytes than this are not tried as deltas (at most a
/// quarter of this could be saved, less than reading the base costs).
const MIN_DELTA_ALONE: usize = 256;
/// Super-features a chunk must share with an indexed chunk for that chunk to be tried as its base
/// before the positional proposal.
const RESEMBLANCE_FIRST: usize = 2;

/// What to record about the stream being ingested.
#[derive(Default)]
pub struct IngestOptions<'a> {
    /// Database name (required).
    pub db: String,
    /// Host name; this machine's when `None`.
    pub host: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Commit a dump whose completion marker is missing, marked incomplete (instead of refusing it).
    pub allow_incomplete: bool,
    /// Store no deltas in this run, even where the repository allows them.
    pub no_deltas: bool,
    /// Called with the number of bytes read so far, after each batch.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// For a stream produced by a command: called once the stream has ended, before the commit
    /// point, to wait for the command and report how it ended. A failed producer means no snapshot.
    pub producer: Option<Box<dyn FnOnce() -> ProducerOutcome + 'a>>,
    /// Re-create a snapshot of another repository (`dbvault copy`): its metadata is kept, not
    /// taken from this run, and its lineage is the one given here.
    pub copy: Option<CopyOf>,
}

/// A snapshot being copied in from another repository.
#[derive(Clone, Debug)]
pub struct CopyOf {
    /// The source snapshot's manifest: its database, host, tags, times, source and completeness
    /// are kept (`db` and `host` of [`IngestOptions`] must match it).
    pub manifest: Manifest,
    /// Where it comes from.
    pub origin: Origin,
    /// The copy of its parent in this repository, if there is one (also the base for deltas).
    pub parent: Option<Snapshot>,
}

/// How the program that produced the stream ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerOutcome {
    /// The command line.
    pub command: Vec<String>,
    /// Exit status, if it exited.
    pub exit_status: Option<i32>,
    /// `None` when it exited with status 0; otherwise how it failed, in words.
    pub failure: Option<String>,
    /// Its last lines of standard error.
    pub stderr_tail: Vec<String>,
}

/// The first and last bytes of a stream, kept as it passes.
#[derive(Default)]
struct Edges {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Edges {
    fn update(&mut self, data: &[u8]) {
        if self.head.len() < dump::EDGE {
            let n = (dump::EDGE - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
        }
        if data.len() >= dump::EDGE {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - dump::EDGE..]);
        } else {
            let keep = (dump::EDGE - data.len()).min(self.tail.len());
            self.tail.drain(..self.tail.len() - keep);
            self.tail.extend_from_slice(data);
        }
    }
}

/// Lines of a producer's error output kept in a manifest.
pub const STDERR_LINES: usize = 20;
/// Bytes of each such line kept (longer lines end in `...`).
pub const STDERR_LINE_BYTES: usize = 1000;

/// `s` cut to at most `max` bytes (at a character boundary), marked with `...` when cut.
pub fn shorten(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// Decide, before the commit point, whether this stream may become a snapshot, and describe it.
fn judge(info: &DumpInfo, size: u64, producer: Option<ProducerOutcome>, allow_incomplete: bool) -> Result<(Source, bool)> {
    if let Some(p) = &producer
        && let Some(failure) = &p.failure
    {
        return Err(StoreError::ProducerFailed { command: p.command.join(" "), status: failure.clone(), stderr_tail: p.stderr_tail.clone() });
    }
    if size == 0 {
        return Err(StoreError::EmptyInput);
    }
    let incomplete = info.is_truncated();
    if incomplete && !allow_incomplete {
        let format = info.format.clone().unwrap_or_default();
        let marker = match format.as_str() {
            "pg_dump-plain" => "-- PostgreSQL database dump complete",
            "pg_dumpall" => "-- PostgreSQL database cluster dump complete",
            "mysqldump" => "-- Dump completed",
            "pg_dump-tar" => "tar end-of-archive blocks",
            _ => "end marker",
        };
        return Err(StoreError::Incomplete { format, marker: marker.into() });
    }
    let mut source = Source {
        producer: Some(if producer.is_some() { "command" } else { "stdin" }.into()),
        format: info.format.clone(),
        tool: info.tool.clone(),
        tool_version: info.tool_version.clone(),
        database: info.database.clone(),
        server_version: info.server_version.clone(),
        encoding: info.encoding.clone(),
        compression: info.compression.clone(),
        batch_separator: info.batch_separator.clone(),
        completion_marker: info.completion_marker,
        warnings: info.compression_warning().into_iter().chain(info.unrecognised_warning(size)).collect(),
        ..Source::default()
    };
    if let Some(p) = producer {
        source.command = Some(p.command);
        source.exit_status = p.exit_status;
        // Bounded, so a tool printing megabytes on one line cannot make the manifest too large
        // to read back (SPEC.md section 15).
        let skip = p.stderr_tail.len().saturating_sub(STDERR_LINES);
        source.stderr_tail = p.stderr_tail.into_iter().skip(skip).map(|l| shorten(l, STDERR_LINE_BYTES)).collect();
    }
    if incomplete {
        source.warnings.push("the dump's completion marker is missing: it was cut short and kept on request (--allow-incomplete)".into());
    }
    Ok((source, incomplete))
}

/// What an ingest did.
#[derive(Clone, Debug)]
pub struct IngestSummary {
    /// The committed snapshot.
    pub snapshot: Snapshot,
    /// Wall time from first read to commit.
    pub elapsed: Duration,
}

/// Ids are uniformly random: their first 8 bytes are already a good hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// The blobs this run has stored, by the first 16 bytes of their id (16 bytes per new blob; a
/// collision among 2^64 blobs has probability below 2^-64).
type RunSet = HashSet<u128, BuildHasherDefault<IdHasher>>;

fn short_key(id: &Id) -> u128 {
    u128::from_le_bytes(id.0[..16].try_into().expect("16 bytes"))
}

/// What the pack writer thread receives, in order: one message per batch.
///
/// Chunk-list nodes travel with a batch rather than on their own: the writer waits for each
/// batch's sealing job in turn, and nodes sent alone while it waited filled the queue and held the
/// next batch back, so sealing jobs ran one at a time with a core idle. Batching them took 3-12%
/// off a first day's ingest (pg-app, mariadb-app; two A/B runs of 8-10 alternations).
enum ToPacks {
    /// A batch's new chunks, sealed by a parallel job that may still be running, and the
    /// chunk-list nodes completed while the batch was deduplicated.
    Sealed { chunks: Receiver<Result<SealedBatch>>, nodes: Vec<SealedBlob> },
    /// The stream is complete and judged: store the last chunk-list nodes, close the last pack
    /// and write the last segment.
    Finish { nodes: Vec<SealedBlob> },
}

/// What a batch's deltas saved, summed into the manifest's `added`.
#[derive(Clone, Copy, Default)]
struct DeltaTally {
    chunks: u64,
    raw: u64,
    stored: u64,
    alone: u64,
}

impl DeltaTally {
    fn add(&mut self, o: DeltaTally) {
        self.chunks += o.chunks;
        self.raw += o.raw;
        self.stored += o.stored;
        self.alone += o.alone;
    }
}

/// Decides what is new (this run's own set, then the index) and builds the chunk-list tree.
struct Dedup<'r> {
    repo: &'r Repository,
    index: &'r Index,
    seen: RunSet,
    added: Added,
    /// Proposes delta bases; `None` when this run stores no deltas.
    bases: Option<BaseFinder<'r>>,
    /// New chunk-list nodes, sealed, not yet handed to the pack writer.
    nodes: Vec<SealedBlob>,
    /// The digest of the stream so far. It is computed here, not on the reader thread: reading
    /// and chunking keep that thread busy, and on a pgbench day (perf samples per thread) it was
    /// the pipeline's one saturated core while this one waited.
    digest: blake3::Hasher,
}

impl<'r> Dedup<'r> {
    fn is_new(&self, id: &Id) -> Result<bool> {
        Ok(!self.seen.contains(&short_key(id)) && !self.index.contains(id)?)
    }

    fn store_node(&mut self, plain: &[u8]) -> Result<Id> {
        let keys = self.repo.keys();
        let id = keys.tree_id(plain);
        if self.is_new(&id)? {
            let sealed = blob::seal(keys, BlobKind::TreeNode, id, plain, self.repo.config().compression_level)
                .map_err(|e| StoreError::format("chunk-list node", e))?;
            self.seen.insert(short_key(&id));
            self.nodes.push(sealed);
        }
        Ok(id)
    }

    /// Hash a batch's chunks, extend the tree, and start a parallel job sealing the new chunks;
    /// its result goes to the pack writer, which takes the batches in stream order.
    fn process<'s>(
        &mut self,
        batch: Batch,
        tree: &mut TreeBuilder,
        packs: &SyncSender<ToPacks>,
        recycle: &Sender<Vec<u8>>,
        scope: &rayon::Scope<'s>,
    ) -> Result<()>
    where
        'r: 's,
    {
        let keys = self.repo.keys();
        self.digest.update(&batch.data);
        let ids: Vec<Id> = batch.chunks.par_iter().map(|r| keys.chunk_id(&batch.data[r.clone()])).collect();
        let mut new = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let (offset, len) = (batch.stream_offset + batch.chunks[i].start as u64, batch.chunks[i].len() as u64);
            if self.is_new(id)? {
                self.seen.insert(short_key(id));
                self.added.chunks += 1;
                self.added.raw_bytes += len;
                new.push((i, self.bases.as_mut().and_then(|b| b.propose(offset, len))));
            } else if let Some(b) = self.bases.as_mut() {
                b.duplicate(id, offset + len);
            }
            let entry = TreeEntry { id: *id, len: batch.chunks[i].len() as u64 };
            tree.push(entry, &mut |p: &[u8]| self.store_node(p))?;
        }
        let (done, chunks) = sync_channel(1);
        packs.send(ToPacks::Sealed { chunks, nodes: std::mem::take(&mut self.nodes) }).map_err(|_| writer_gone())?;
        let recycle = recycle.clone();
        let (repo, index, deltas) = (self.repo, self.index, self.bases.is_some());
        scope.spawn(move |_| {
            // Checked after sealing: blobs sealed from a mapped file that may have changed
            // meanwhile never reach a pack (SPEC.md section 11, step 2).
            let result = seal_batch(repo, index, &batch, &ids, &new, deltas).and_then(|sealed| {
                batch.data.check_unchanged().map_err(|source| StoreError::Input { offset: batch.stream_offset, source })?;
                Ok(sealed)
            });
            let _ = done.send(result); // the writer may have stopped on an error of its own
            if let Some(buf) = batch.data.into_buffer() {
                let _ = recycle.send(buf); // back to the reader
            }
        });
        Ok(())
    }
}

/// The base a proposed one stands for: the proposed chunk itself, or a shallower member of its
/// chain when the chain is already [`WRITE_MAX_DEPTH`] deep or is rebased early ([`rebase`]).
#[derive(Clone, Copy)]
struct Chosen {
    base: Id,
    depth: u8,
    /// The chain's root (a chunk stored whole): sealed bytes less the envelope, and plaintext
    /// bytes. A chunk like it costs about as much per byte compressed alone.
    root_alone: u32,
    root_raw: u32,
}

impl Chosen {
    /// What a chunk of `raw_len` bytes like the root is expected to take compressed alone.
    fn estimate_alone(&self, raw_len: usize) -> usize {
        (u64::from(self.root_alone) * raw_len as u64 / u64::from(self.root_raw.max(1))) as usize
    }

    /// Seal `patch` as the delta blob of chunk `id` (`raw_len` bytes) against this base.
    fn seal_delta(&self, keys: &Keys, id: Id, raw_len: usize, patch: &[u8]) -> Result<SealedBlob> {
        let d = DeltaRef { base: self.base, depth: self.depth + 1 };
        blob::seal_patch(keys, id, raw_len as u32, d, patch).map_err(|e| StoreError::format("chunk", e))
    }
}

/// What base `proposed` stands for; `None` if the index lacks a chunk of its chain or the chain
/// does not end within [`blob::MAX_DELTA_DEPTH`] bases.
fn usable_base(index: &Index, proposed: Id) -> Result<Option<Chosen>> {
    let Some(loc) = index.get(&proposed)? else { return Ok(None) };
    // The chain from the proposed chunk down to its root.
    let mut chain = vec![(proposed, loc)];
    for _ in 0..blob::MAX_DELTA_DEPTH {
        let Some(d) = chain[chain.len() - 1].1.delta else { break };
        let Some(l) = index.get(&d.base)? else { return Ok(None) };
        chain.push((d.base, l));
    }
    let root = chain[chain.len() - 1].1;
    if root.delta.is_some() {
        return Ok(None);
    }
    // Depths are counted along the chain just read, not taken from the entries' own fields.
    let depth = (chain.len() - 1) as u8;
    let (base, depth) = if depth >= WRITE_MAX_DEPTH || rebase_early(&proposed, depth) { rebase(&chain) } else { (proposed, depth) };
    let root_alone = root.stored_len.saturating_sub(OVERHEAD as u32);
    Ok(Some(Chosen { base, depth, root_alone, root_raw: root.raw_len }))
}

/// Whether a chain `depth` deep, ending in `proposed`, is rebased before it reaches the depth
/// limit: at depth 2 or 3, when the first byte of `proposed` (a keyed hash, so one chain in four
/// each day) is below [`EARLY_REBASE_BELOW`]. Without it every chain of a table whose chunks all
/// changed daily since the same day reaches the limit on the same day, and that day pays every
/// chain's rebase (SPEC.md, "Delta blobs", *Depth*).
fn rebase_early(proposed: &Id, depth: u8) -> bool {
    depth >= 2 && proposed.0[0] < EARLY_REBASE_BELOW
}

/// The member of a chain being rebased (`chain[0]`, then its bases down to the root), with
/// its depth, that a new delta is made against instead (SPEC.md, "Delta blobs", *Depth*): the one
/// with the smallest expected patch per day of depth it leaves, `edits / (WRITE_MAX_DEPTH -
/// depth)^2`. A member's edits are the patches stacked above it (each patch holds the edits since
/// its own base) plus one day's (the chain's smallest patch). Always taking the root made every
/// fourth day's patches span every edit since the root: rebase days grew as roots aged.
fn rebase(chain: &[(Id, BlobLocation)]) -> (Id, u8) {
    let patch = |l: &BlobLocation| u64::from(l.stored_len.saturating_sub(OVERHEAD as u32));
    let deltas = &chain[..chain.len() - 1];
    let mut edits = deltas.iter().map(|(_, l)| patch(l)).min().unwrap_or(0);
    let mut best: Option<(Id, u8, f64)> = None;
    for (i, (id, _)) in chain.iter().enumerate().skip(1) {
        edits += patch(&chain[i - 1].1);
        let depth = (chain.len() - 1 - i) as u8;
        if depth >= WRITE_MAX_DEPTH {
            continue;
        }
        let room = f64::from(WRITE_MAX_DEPTH - depth);
        let score = edits as f64 / (room * room);
        if best.is_none_or(|(_, _, s)| score < s) {
            best = Some((*id, depth, score));
        }
    }
    let (id, depth, _) = best.expect("a chain being rebased (2 or more deep) ends in its root, at depth 0");
    (id, depth)
}

/// The bases chosen for some chunks and their plaintexts: each proposed base is replaced as
/// [`usable_base`] says, and bases that cannot be read are left out (no delta). Only an
/// unreachable store fails the load: the ingest could not write its packs either.
struct Bases {
    chosen: HashMap<Id, Chosen>,
    plains: HashMap<Id, Vec<u8>>,
}

impl Bases {
    /// Choose bases for `(proposed base, chunk length)` pairs and read those worth a patch: a chunk
    /// expected to compress alone to fewer than [`MIN_DELTA_ALONE`] bytes is not.
    fn load(repo: &Repository, index: &Index, proposed: impl IntoIterator<Item = (Id, usize)>) -> Result<Bases> {
        let mut chosen = HashMap::new();
        let mut wanted = Vec::new();
        for (p, len) in proposed {
            if !chosen.contains_key(&p)
                && let Some(c) = usable_base(index, p)?
            {
                chosen.insert(p, c);
            }
            if let Some(c) = chosen.get(&p).filter(|c| c.estimate_alone(len) >= MIN_DELTA_ALONE) {
                wanted.push(c.base);
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        // Lengths only: a patch rebuilds its chunk from the same authenticated base bytes it was
        // made against, so a base's id does not need proving here (a hash of every base byte).
        let loaded = PackReader::new(repo).load_many(index, &wanted, BlobKind::Chunk, IdCheck::Length);
        let mut plains = HashMap::new();
        for (id, r) in wanted.into_iter().zip(loaded) {
            match r {
                Ok(p) => drop(plains.insert(id, p)),
                // The store is unreachable: this ingest cannot write either.
                Err(e @ StoreError::Backend(BackendError::Remote { .. })) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(Bases { chosen, plains })
    }

    /// The patch of `plain` against the base `proposed` stands for, with that base, if it was read.
    fn patch(&self, level: i32, plain: &[u8], proposed: Id) -> Result<Option<(Vec<u8>, Chosen)>> {
        let Some(c) = self.chosen.get(&proposed) else { return Ok(None) };
        let Some(base_plain) = self.plains.get(&c.base) else { return Ok(None) };
        let matcher = patch_matcher(level, c.root_raw, c.root_alone);
        let patch = blob::make_patch(plain, base_plain, matcher).map_err(|e| StoreError::format("chunk", e))?;
        Ok(patch.map(|p| (p, *c)))
    }
}

/// A new chunk, sealed, and for the tally what it takes compressed alone (measured, or estimated
/// from its base's root when the patch was tiny enough not to compress it alone at all).
struct SealedChunk {
    blob: SealedBlob,
    alone_len: usize,
}

impl SealedChunk {
    /// Seal chunk `id`: as a delta when `patch` (with its base) is clearly smaller than the chunk
    /// compressed alone, else alone. A patch under half the estimate from the base's root
    /// is kept without compressing the chunk alone (SPEC.md, "Delta blobs", *Choice*).
    fn seal(keys: &Keys, level: i32, id: Id, plain: &[u8], patch: Option<(Vec<u8>, Chosen)>) -> Result<SealedChunk> {
        let as_delta = |patch: &[u8], c: &Chosen| c.seal_delta(keys, id, plain.len(), patch);
        if let Some((p, c)) = &patch {
            let estimate = c.estimate_alone(plain.len());
            if p.len() + DELTA_EXTRA <= estimate / 2 {
                return Ok(SealedChunk { blob: as_delta(p, c)?, alone_len: estimate });
            }
        }
        let alone = blob::seal(keys, BlobKind::Chunk, id, plain, level).map_err(|e| StoreError::format("chunk", e))?;
        let alone_len = alone.bytes.len() - OVERHEAD;
        match &patch {
            Some((p, c)) if p.len() + DELTA_EXTRA <= alone_len * 3 / 4 => Ok(SealedChunk { blob: as_delta(p, c)?, alone_len }),
            _ => Ok(SealedChunk { blob: alone, alone_len }),
        }
    }

    /// Store a chunk kept alone as its delta against `patch`'s base instead, when that is clearly
    /// smaller.
    fn improve(&mut self, keys: &Keys, plain: &[u8], patch: Option<(Vec<u8>, Chosen)>) -> Result<()> {
        if let Some((p, c)) = patch.filter(|(p, _)| p.len() + DELTA_EXTRA <= self.alone_len * 3 / 4) {
            self.blob = c.seal_delta(keys, self.blob.id, plain.len(), &p)?;
        }
        Ok(())
    }
}

/// The chunk sharing the most super-features with `sketch` (ties: the first found), and how many.
fn resembling(index: &Index, sketch: &Sketch) -> Result<Option<(Id, usize)>> {
    let mut found: Vec<(Id, usize)> = Vec::with_capacity(SUPER_FEATURES);
    for sf in sketch {
        if let Some(id) = index.feature(*sf)? {
            match found.iter_mut().find(|(f, _)| *f == id) {
                Some((_, n)) => *n += 1,
                None => found.push((id, 1)),
            }
        }
    }
    Ok(found.iter().rev().max_by_key(|(_, n)| *n).copied())
}

/// A new chunk's base candidates, best first: the positional proposal, and the chunk its sketch
/// resembles; the resembling chunk comes first when it shares at least
/// [`RESEMBLANCE_FIRST`] super-features and the proposal is another chunk (the rows moved: a
/// patch against the proposal would be wasted).
fn candidates(proposed: Option<Id>, resembles: Option<(Id, usize)>) -> [Option<Id>; 2] {
    match (proposed, resembles) {
        (Some(p), Some((r, n))) if r != p && n >= RESEMBLANCE_FIRST => [Some(r), Some(p)],
        (Some(p), Some((r, _))) if r != p => [Some(p), Some(r)],
        (p, r) => [p.or(r.map(|(r, _)| r)), None],
    }
}

/// Seal a batch's new chunks (`(index in batch, proposed base)`), in parallel: each is sketched
/// and made a patch against its first base candidate ([`candidates`]), kept as a delta when that
/// is clearly smaller than compressing it alone; a chunk still stored alone is tried against its
/// second candidate (SPEC.md, "Delta blobs"). A base that cannot be read only means no delta.
/// Without `deltas` chunks are only compressed alone.
fn seal_batch(repo: &Repository, index: &Index, batch: &Batch, ids: &[Id], new: &[(usize, Option<Id>)], deltas: bool) -> Result<SealedBatch> {
    let (keys, level) = (repo.keys(), repo.config().compression_level);
    let (sketches, candidates): (Vec<Option<Sketch>>, Vec<[Option<Id>; 2]>) = if deltas {
        new.par_iter()
            .map(|&(i, proposed)| {
                let sketch = resemblance::sketch(keys, batch.chunk(i));
                let resembles = sketch.as_ref().map(|s| resembling(index, s)).transpose()?.flatten().filter(|(r, _)| *r != ids[i]);
                Ok((sketch, candidates(proposed, resembles)))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip()
    } else {
        (vec![None; new.len()], vec![[None, None]; new.len()])
    };
    let first = Bases::load(repo, index, candidates.iter().zip(new).filter_map(|(c, &(i, _))| Some((c[0]?, batch.chunks[i].len()))))?;
    let mut sealed: Vec<SealedChunk> = new
        .par_iter()
        .zip(&candidates)
        .map(|(&(i, _), c)| {
            let plain = batch.chunk(i);
            let patch = c[0].map(|b| first.patch(level, plain, b)).transpose()?.flatten();
            SealedChunk::seal(keys, level, ids[i], plain, patch)
        })
        .collect::<Result<_>>()?;
    drop(first);
    // The second candidate for the chunks the first did not make deltas.
    let retry: Vec<(usize, Id)> = (0..new.len())
        .filter(|&k| sealed[k].blob.delta.is_none() && sealed[k].alone_len >= MIN_DELTA_ALONE)
        .filter_map(|k| Some((k, candidates[k][1]?)))
        .collect();
    if !retry.is_empty() {
        let bases = Bases::load(repo, index, retry.iter().map(|&(k, b)| (b, batch.chunks[new[k].0].len())))?;
        let patches: Vec<Option<(Vec<u8>, Chosen)>> =
            retry.par_iter().map(|&(k, b)| bases.patch(level, batch.chunk(new[k].0), b)).collect::<Result<_>>()?;
        for ((k, _), patch) in retry.into_iter().zip(patches) {
            sealed[k].improve(keys, batch.chunk(new[k].0), patch)?;
        }
    }
    let mut out = SealedBatch { blobs: Vec::with_capacity(new.len()), tally: DeltaTally::default(), features: Vec::new() };
    for (s, sketch) in sealed.into_iter().zip(sketches) {
        out.features.extend(sketch.iter().flatten().map(|sf| (*sf, s.blob.id)));
        if s.blob.delta.is_some() {
            let alone = (s.alone_len + OVERHEAD) as u64;
            out.tally.add(DeltaTally { chunks: 1, raw: u64::from(s.blob.raw_len), stored: s.blob.bytes.len() as u64, alone });
        }
        out.blobs.push(s.blob);
    }
    Ok(out)
}

/// A batch's new chunks, sealed (in stream order), what their deltas saved, and their
/// super-features.
struct SealedBatch {
    blobs: Vec<SealedBlob>,
    tally: DeltaTally,
    features: Vec<(u64, Id)>,
}

/// What the pack writer wrote: bytes of packs and segments, what deltas saved, and the new chunks'
/// super-features (for the local index, at the commit).
struct Written {
    bytes: u64,
    deltas: DeltaTally,
    features: Vec<(u64, Id)>,
    /// The index segments written, applied at the commit.
    segments: Vec<Id>,
}

/// The pack writer's side: appends sealed blobs to packs and writes index segments as packs
/// accumulate.
struct PackSink<'r> {
    repo: &'r Repository,
    packer: PackWriter<'r>,
    pending: Vec<repo_format::index_segment::PackIndex>,
    segment_bytes: u64,
    segments: Vec<Id>,
    deltas: DeltaTally,
    features: Vec<(u64, Id)>,
}

impl PackSink<'_> {
    /// Take blobs until [`ToPacks::Finish`] (then return the bytes of packs and segments written,
    /// and what deltas saved) or until the sender goes away (an abandoned ingest: `None`, the open
    /// pack is discarded).
    fn run(mut self, from: Receiver<ToPacks>) -> Result<Option<Written>> {
        for msg in from {
            match msg {
                ToPacks::Sealed { chunks, nodes } => {
                    let batch = chunks.recv().map_err(|_| StoreError::Internal("a sealing job died".into()))??;
                    self.deltas.add(batch.tally);
                    let room = MAX_FEATURES.saturating_sub(self.features.len());
                    self.features.extend(batch.features.into_iter().take(room));
                    for b in batch.blobs.iter().chain(&nodes) {
                        self.add(b)?;
                    }
                }
                ToPacks::Finish { nodes } => {
                    for b in &nodes {
                        self.add(b)?;
                    }
                    self.packer.finish_pack()?;
                    self.write_segment()?;
                    let bytes = self.packer.bytes_written() + self.segment_bytes;
                    return Ok(Some(Written { bytes, deltas: self.deltas, features: self.features, segments: self.segments }));
                }
            }
        }
        Ok(None)
    }

    fn add(&mut self, b: &SealedBlob) -> Result<()> {
        self.packer.add(b)?;
        self.pending.extend(self.packer.take_finished()?);
        if self.pending.len() >= PACKS_PER_SEGMENT {
            self.write_segment()?;
        }
        Ok(())
    }

    /// Write an index segment for the packs finished so far (they are already durable).
    fn write_segment(&mut self) -> Result<()> {
        self.pending.extend(self.packer.take_finished()?);
        if self.pending.is_empty() {
            return Ok(());
        }
        let (id, len) = self.repo.put_segment(&IndexSegment { packs: std::mem::take(&mut self.pending) })?;
        self.segment_bytes += len;
        self.segments.push(id);
        Ok(())
    }
}

fn writer_gone() -> StoreError {
    StoreError::Internal("the pack writer stopped".into())
}

/// Refuse a new database whose name looks like an existing one's (the same UTS 39 skeleton).
fn refuse_look_alike(repo: &Repository, index: &Index, db: &str) -> Result<()> {
    if index.latest_of(&repo.keys().name_tag(db))?.is_some() {
        return Ok(());
    }
    let skeleton = crate::names::skeleton(db);
    match crate::snapshot::databases(repo, index)?.into_iter().find(|d| d != db && crate::names::skeleton(d) == skeleton) {
        Some(other) => Err(StoreError::Invalid(format!(
            "database name {db:?} looks like the existing database {other:?} (their characters differ); a snapshot of {other:?} should use that very name"
        ))),
        None => Ok(()),
    }
}

/// Ingest `input` as a new snapshot of `opts.db`.
///
/// Refused before the commit point (no snapshot, only unreferenced packs left for prune): an empty
/// stream, a failed producer, and a recognised dump whose completion marker is missing (unless
/// `allow_incomplete`).
pub fn ingest<R: Read + Send>(repo: &Repository, input: R, opts: IngestOptions<'_>) -> Result<IngestSummary> {
    ingest_input(repo, Input::Stream(input), opts)
}

/// Ingest `input`, a stream or a file, as [`ingest`] does.
pub fn ingest_input<R: Read + Send>(repo: &Repository, input: Input<R>, opts: IngestOptions<'_>) -> Result<IngestSummary> {
    if opts.copy.is_none() {
        // A copy keeps the labels its original was stored with.
        crate::names::check_labels(&opts.db, opts.host.as_deref(), &opts.tags)?;
    }
    let started = Timestamp::now();
    let t0 = Instant::now();
    let params = repo.chunker_params()?;
    // Held (shared) for the whole run: prune deletes packs only while holding it exclusively, so
    // it never removes a chunk this run has deduplicated against (SPEC.md, "Concurrency").
    let _ingesting = repo.ingest_lock()?;
    // The same across machines, for a remote repository.
    let lease = crate::lease::take(repo, repo_format::lease::LeaseKind::Ingest)?;
    crate::pack::clean_orphans(&repo.tmp_dir()?)?;
    let index = repo.index_reader()?;
    if opts.copy.is_none() {
        refuse_look_alike(repo, &index, &opts.db)?;
    }
    let reader = PackReader::new(repo);
    let bases = if repo.config().writes_deltas() && !opts.no_deltas {
        let parent = match &opts.copy {
            Some(c) => c.parent.clone(),
            None => crate::snapshot::list(repo, &index, Some(&opts.db))?.into_iter().rev().find(|s| !s.manifest.incomplete),
        };
        Some(BaseFinder::new(parent.map(|p| TreeWalk::new(&reader, &index, p.manifest.tree))))
    } else {
        None
    };
    let mut dedup = Dedup { repo, index: &index, seen: RunSet::default(), added: Added::default(), bases, nodes: Vec::new(), digest: blake3::Hasher::new() };
    let mut tree = TreeBuilder::new();
    let (tx, rx) = sync_channel::<Batch>(QUEUE_DEPTH);
    let (packs, to_packs) = sync_channel::<ToPacks>(QUEUE_DEPTH);
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    let producer = opts.producer;
    let mapped_input = match &input {
        Input::Leased(file) => Some(Arc::clone(file)),
        Input::Stream(_) => None,
    };

    let (digest, size, source, incomplete, root, stored_bytes, opened) = std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut edges = Edges::default();
            let mut chunks = match Chunker::with_input(input, params, BATCH_BYTES) {
                Ok(c) => c,
                Err(e) => return (0, Edges::default(), Some(e)),
            };
            loop {
                while let Ok(buf) = recycled.try_recv() {
                    chunks.recycle(buf);
                }
                match chunks.next_batch() {
                    Ok(Some(b)) => {
                        edges.update(&b.data);
                        if tx.send(b).is_err() {
                            return (chunks.position(), edges, None); // the sealer gave up
                        }
                    }
                    Ok(None) => return (chunks.position(), edges, None),
                    Err(e) => return (chunks.position(), edges, Some(e)),
                }
            }
        });
        let writer = s.spawn(move || {
            PackSink { repo, packer: PackWriter::new(repo), pending: Vec::new(), segment_bytes: 0, segments: Vec::new(), deltas: DeltaTally::default(), features: Vec::new() }.run(to_packs)
        });
        let mut processed = 0u64;
        let result = rayon::in_place_scope(|scope| {
            rx.iter().try_for_each(|batch| {
                let len = batch.data.len() as u64;
                dedup.process(batch, &mut tree, &packs, &recycle, scope)?;
                processed += len;
                if let Some(p) = opts.progress {
                    p(processed);
                }
                Ok(())
            })
        });
        drop(rx);
        // The whole stream is read: take the writer role for the commit now, so that opening the
        // index for writing (mostly waiting for its fsyncs: 20 ms of a 0.6 s pgbench day) overlaps
        // the sealing of the last batches. Its segments are applied after ours are written.
        let opening = result.is_ok().then(|| s.spawn(|| repo.open_index_writer()));
        let (len, edges, read_error) = reader.join().expect("the reader thread does not panic");
        // Judge the stream before the last pack is closed; a refused stream leaves its packs to
        // prune and discards the open one (the writer sees the channel close without `Finish`).
        let finished = result.and_then(|()| {
            if let Some(source) = read_error {
                return Err(StoreError::Input { offset: len, source });
            }
            let info = dump::recognize(&edges.head, &edges.tail);
            let (source, incomplete) = match &opts.copy {
                // A copy keeps what the original ingest found (the producer only reports whether
                // reading the original back succeeded).
                Some(c) => {
                    judge(&info, len, producer.map(|p| p()), true)?;
                    (c.manifest.source.clone(), c.manifest.incomplete)
                }
                None => judge(&info, len, producer.map(|p| p()), opts.allow_incomplete)?,
            };
            let root = tree.finish(&mut |p: &[u8]| dedup.store_node(p))?;
            packs.send(ToPacks::Finish { nodes: std::mem::take(&mut dedup.nodes) }).map_err(|_| writer_gone())?;
            Ok((Id(*dedup.digest.finalize().as_bytes()), len, source, incomplete, root))
        });
        drop(packs);
        let written = writer.join().expect("the pack writer does not panic");
        let opened = opening.map(|o| o.join().expect("opening the index does not panic"));
        // The writer's own error explains a "writer stopped" seen here.
        match (finished, written) {
            (Ok((digest, size, source, incomplete, root)), Ok(Some(stored))) => {
                let opened = opened.expect("the index is opened whenever every batch was processed");
                Ok((digest, size, source, incomplete, root, stored, opened))
            }
            (_, Err(e)) | (Err(e), _) => Err(e),
            (Ok(_), Ok(None)) => Err(writer_gone()),
        }
    })?;
    let Written { bytes: stored_bytes, deltas, features, segments } = stored_bytes;
    let mut added = dedup.added;
    added.stored_bytes = stored_bytes;
    added.delta_chunks = deltas.chunks;
    added.delta_raw_bytes = deltas.raw;
    added.delta_stored_bytes = deltas.stored;
    added.delta_alone_bytes = deltas.alone;
    drop(dedup);
    drop(index);

    // Commit: with the writer role, apply our segments, find the parent, write the manifest.
    let writer = opened?;
    let stamp = repo.catch_up_for_commit(&writer, &segments)?;
    writer.put_features(&features)?;
    let name_tag = repo.keys().name_tag(&opts.db);
    let (start, end, parent, origin) = match opts.copy {
        Some(c) => (c.manifest.start, c.manifest.end, c.parent.map(|p| p.id), Some(c.origin)),
        None => (started, Timestamp::now(), writer.latest_of(&name_tag)?, None),
    };
    let manifest = Manifest {
        version: 1,
        db: opts.db,
        host: opts.host.unwrap_or_else(hostname),
        tags: opts.tags,
        start,
        end,
        parent,
        size,
        digest,
        tree: root.root,
        chunks: root.chunks,
        added,
        source,
        incomplete,
        client: format!("dbvault {}", env!("CARGO_PKG_VERSION")),
        origin,
    };
    let sealed = manifest.encode(repo.keys()).map_err(|e| StoreError::format("snapshot manifest", e))?;
    // Never commit a manifest that could not be read back (readers bound what they accept).
    Manifest::decode(repo.keys(), &sealed).map_err(|e| StoreError::format("the new snapshot's manifest (nothing was committed)", e))?;
    let id = Id::of_bytes(&sealed);
    crate::lease::check(&lease)?;
    if let Some(file) = &mapped_input {
        // Ids and digest were computed from its bytes: they must not have changed since.
        file.check().map_err(|source| StoreError::Input { offset: size, source })?;
    }
    repo.backend().put_new(&repo_format::object_key::snapshot(&id), &sealed)?; // the commit point
    writer.put_snapshot(&id, &sealed, &name_tag, manifest.end.as_nanosecond())?;
    repo.record_stamp_after_change(&writer, stamp)?;
    Ok(IngestSummary { snapshot: Snapshot { id, manifest }, elapsed: t0.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::blob::Codec;
    use repo_format::index_segment::PackIndex;
    use repo_format::pack::PackEntry;

    #[test]
    fn a_tiny_patch_is_kept_on_the_estimate_and_others_are_weighed_against_the_chunk_alone() {
        let keys = repo_format::crypto::MasterKey::from_bytes([7; 32]).keys();
        let plain: Vec<u8> = (0..8000u32).flat_map(|i| format!("{i},{}\n", i * 7919 % 1000).into_bytes()).collect();
        let id = keys.chunk_id(&plain);
        let alone_len = blob::seal(&keys, BlobKind::Chunk, id, &plain, 1).unwrap().bytes.len() - OVERHEAD;
        let raw = plain.len() as u32;
        // A root that compressed like this chunk, or 8x worse (a misleading estimate).
        let like = Chosen { base: Id([1; 32]), depth: 0, root_alone: alone_len as u32, root_raw: raw };
        let worse = Chosen { root_alone: 8 * alone_len as u32, ..like };
        let seal = |patch_len: usize, c: Chosen| SealedChunk::seal(&keys, 1, id, &plain, Some((vec![0; patch_len], c))).unwrap();

        let tiny = seal(alone_len / 4 - DELTA_EXTRA, like);
        assert!(tiny.blob.delta.is_some());
        assert_eq!(tiny.alone_len, alone_len, "kept on the estimate, which here is exact");
        // Against an 8x estimate: a patch of 3/8 of it is kept on the estimate alone; one of 5/8
        // makes the chunk be compressed alone, which wins.
        let on_estimate = seal(3 * alone_len - DELTA_EXTRA, worse);
        assert_eq!((on_estimate.blob.delta.is_some(), on_estimate.alone_len), (true, 8 * alone_len), "a misleading estimate is believed up to 2x");
        let over_half = seal(5 * alone_len, worse);
        assert_eq!((over_half.blob.delta, over_half.alone_len), (None, alone_len), "over half the estimate: compressed alone to decide");
        let weighed = seal(alone_len / 2, like);
        assert_eq!((weighed.blob.delta.is_some(), weighed.alone_len), (true, alone_len), "compressed alone to decide");
        let too_big = seal(alone_len * 3 / 4, like);
        assert_eq!((too_big.blob.delta, too_big.blob.kind), (None, BlobKind::Chunk));
        assert_eq!(SealedChunk::seal(&keys, 1, id, &plain, None).unwrap().blob.kind, BlobKind::Chunk);
    }

    #[test]
    fn patches_are_anchored_with_a_fallback_by_root_ratio() {
        let anchored = |repetitive| PatchMatcher::Anchored { repetitive };
        assert_eq!(patch_matcher(1, 45_000, 1_000), anchored(true), "pgbench-like");
        assert_eq!(patch_matcher(3, 16_000, 1_000), anchored(true));
        assert_eq!(patch_matcher(1, 15_999, 1_000), anchored(false));
        assert_eq!(patch_matcher(1, 2_600, 1_000), anchored(false), "an application table");
        assert_eq!(patch_matcher(1, 2_600, 0), anchored(true), "an empty estimate");
        assert_eq!(patch_matcher(9, 2_600, 1_000), PatchMatcher::Long(9), "above level 3: long matches at its level");
    }

    #[test]
    fn a_strong_resemblance_is_tried_before_another_positional_proposal() {
        let (p, r) = (Id([1; 32]), Id([2; 32]));
        assert_eq!(candidates(Some(p), Some((r, 2))), [Some(r), Some(p)], "rows moved");
        assert_eq!(candidates(Some(p), Some((r, 1))), [Some(p), Some(r)], "one shared feature: position first");
        assert_eq!(candidates(Some(p), Some((p, 3))), [Some(p), None], "both agree");
        assert_eq!(candidates(None, Some((r, 1))), [Some(r), None]);
        assert_eq!(candidates(Some(p), None), [Some(p), None]);
        assert_eq!(candidates(None, None), [None, None]);
    }

    #[test]
    fn a_base_at_the_depth_limit_is_replaced_by_a_shallower_member_of_its_chain() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = Index::open_write(dir.path(), Duration::ZERO, false).unwrap();
        // Chunks 1 and 11 are whole. Chunk n+1 is a delta of depth n against chunk n, with 20-byte
        // patches (60 stored). Chunks 12-15 are the same chain, but 12 was itself a rebase: its
        // patch holds many days of edits (420 bytes).
        // Ids start with a byte of 100 or more, which is never rebased early (chunks 31-34 are).
        let id = |n: u8| Id([if n > 30 { n } else { n + 100 }; 32]);
        let entry = |n: u8, root: u8, stored_len: u32| PackEntry {
            id: id(n),
            kind: if n == root { BlobKind::Chunk } else { BlobKind::Delta },
            codec: Codec::Zstd,
            offset: 8 + 100 * u32::from(n),
            stored_len: if n == root { 1040 } else { stored_len },
            raw_len: 4000,
            delta: (n > root).then_some(DeltaRef { base: id(n - 1), depth: n - root }),
        };
        // Chunks 21-25 are such a chain too, but their entries all claim depth 1.
        let understated = (21..=25u8).map(|n| PackEntry { delta: entry(n, 21, 60).delta.map(|d| DeltaRef { depth: 1, ..d }), ..entry(n, 21, 60) });
        let entries: Vec<PackEntry> = (1..=6u8)
            .map(|n| entry(n, 1, 60))
            .chain((11..=15).map(|n| entry(n, 11, if n == 12 { 460 } else { 60 })))
            .chain(understated)
            .chain((31..=34).map(|n| entry(n, 31, 60)))
            .collect();
        let seg = IndexSegment { packs: vec![PackIndex { pack_id: Id([9; 32]), pack_len: 10_000, entries }] };
        index.apply_segment(&Id([8; 32]), &seg).unwrap();
        // Estimates for a 2000-byte chunk come from the root: 1000 bytes alone per 4000 raw.
        let chosen = |n: u8| usable_base(&index, id(n)).unwrap().map(|c| (c.base, c.depth, c.estimate_alone(2000)));
        assert_eq!(chosen(1), Some((id(1), 0, 500)));
        assert_eq!(chosen(4), Some((id(4), 3, 500)), "depth 3 is used as it is");
        // Edits above each member, with a day's (20): 40 for chunk 4 (depth 3), 60 for 3, 80 for
        // 2, 100 for the root; divided by (4 - depth)^2 the root is cheapest per day it leaves.
        assert_eq!(chosen(5), Some((id(1), 0, 500)), "depth 4: its root instead");
        assert_eq!(chosen(6), Some((id(1), 0, 500)), "depth 5 (not written any more): its root too");
        // Above the root lie 500 bytes of edits now (score 31); above chunk 12, 80 (score 8.9).
        assert_eq!(chosen(15), Some((id(12), 1, 500)), "an aged root is passed over");
        assert_eq!(chosen(25), Some((id(21), 0, 500)), "depths are counted along the chain, not read from entries");
        assert_eq!(chosen(7), None, "unknown chunk");
        // Chunk 34 is 3 deep, 33 2 deep, and their ids start low: both are rebased early, to the
        // root (for 33: 60 / 16 for the root against 40 / 9 for chunk 32). Chunk 32, 1 deep, is not.
        assert_eq!(chosen(34), Some((id(31), 0, 500)));
        assert_eq!(chosen(33), Some((id(31), 0, 500)));
        assert_eq!(chosen(32), Some((id(32), 1, 500)));
    }
}
