//! Restore: a snapshot's stream out, byte-identical, or an error naming what is wrong.
//!
//! Chunks are read in parallel a batch at a time (each envelope is authenticated, decompressed and
//! its length checked) on a loader thread, while the caller's thread writes the previous batch
//! strictly in stream order. The whole stream is hashed and compared with the manifest's digest
//! and size at the end: that proves every chunk at once, for half the hashing of proving each
//! chunk's id as well. Should it differ, a second pass proves each chunk's id to name the culprit.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use repo_format::blob::IdCheck;
use repo_format::Id;

use crate::error::DigestMismatch;
use crate::index::Index;
use crate::pack::PackReader;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::tree::{StreamChunk, TreeWalk};
use crate::{Result, StoreError};

/// Plaintext bytes fetched and verified in parallel before being written.
const BATCH_BYTES: u64 = 8 << 20;
/// Batches loading or loaded ahead of the writer (bounds memory: about (2 + this) batches).
const QUEUE_DEPTH: usize = 2;

/// What a restore did.
#[derive(Clone, Copy, Debug)]
pub struct RestoreSummary {
    /// Bytes written.
    pub bytes: u64,
    /// Chunks read.
    pub chunks: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// One batch of the stream, loaded, verified and concatenated, with its number of chunks.
///
/// One buffer per batch lets the stream digest hash 8 MiB at a time: BLAKE3 fed chunk by chunk
/// (lengths not multiples of its 1 KiB blocks) runs much slower.
type Loaded = Result<(Vec<u8>, u64)>;

/// One stream of a snapshot: its dump, or its table of contents.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    /// Root of its chunk-list tree.
    pub tree: Id,
    /// Its length.
    pub size: u64,
    /// Plain BLAKE3 of its bytes.
    pub digest: Id,
}

impl Stream {
    /// The dump of `snap`.
    pub fn dump(snap: &Snapshot) -> Stream {
        Stream { tree: snap.manifest.tree, size: snap.manifest.size, digest: snap.manifest.digest }
    }
}

/// Load one batch's chunks (in parallel, checked as `check` says), each decoded straight into its
/// place in the batch's buffer.
fn load_batch(reader: &PackReader, index: &Index, snap: &Snapshot, batch: &[StreamChunk], pool: &Pool, check: IdCheck) -> Loaded {
    let ids: Vec<Id> = batch.iter().map(|c| c.id).collect();
    let need: usize = batch.iter().map(|c| c.len as usize).sum();
    // A pooled buffer too small for this batch is replaced, not grown: growing would copy its
    // stale bytes (realloc does not know they are dead). An eighth of headroom lets most later
    // batches fit the new one. A reused buffer's stale bytes are all overwritten.
    let pooled = pool.lock().expect("not poisoned").pop().filter(|v| v.capacity() >= need);
    let mut joined = pooled.unwrap_or_else(|| Vec::with_capacity(need + need / 8));
    joined.resize(need, 0);
    let mut outs = Vec::with_capacity(batch.len());
    let mut rest = joined.as_mut_slice();
    for c in batch {
        let (out, after) = rest.split_at_mut(c.len as usize);
        outs.push(out);
        rest = after;
    }
    for (r, c) in reader.load_many_into(index, &ids, check, outs).into_iter().zip(batch) {
        r.map_err(|e| snap.unreadable(c.id, c.offset, e))?;
    }
    Ok((joined, batch.len() as u64))
}

/// Written batches' buffers, reused (saves faulting in fresh pages for every batch).
type Pool = Mutex<Vec<Vec<u8>>>;

/// Return a batch buffer to the pool once its last user (writer or digest) is done with it.
fn recycle(pool: &Pool, data: Arc<Vec<u8>>) {
    if let Ok(v) = Arc::try_unwrap(data) {
        pool.lock().expect("not poisoned").push(v);
    }
}

/// The next chunks of `walk`, until they reach `bytes` or the stream ends (empty at its end).
fn next_batch(walk: &mut TreeWalk, snap: &Snapshot, bytes: u64) -> Result<Vec<StreamChunk>> {
    let (mut batch, mut len) = (Vec::new(), 0u64);
    while len < bytes {
        match walk.next_chunk().map_err(|e| snap.unreadable(e.node, e.offset, e.source))? {
            Some(c) => {
                len += c.len;
                batch.push(c);
            }
            None => break,
        }
    }
    Ok(batch)
}

/// Walk the tree and start a parallel job loading each batch; the jobs' results go to `tx` in
/// stream order, so the next batches load while the writer is busy with an earlier one.
fn load_batches<'s>(
    reader: &'s PackReader,
    index: &'s Index,
    snap: &'s Snapshot,
    tree: Id,
    pool: &'s Pool,
    tx: &SyncSender<Receiver<Loaded>>,
    scope: &rayon::Scope<'s>,
) {
    let mut walk = TreeWalk::new(reader, index, tree);
    // The first batches are smaller: the writer waits for the first one to load.
    let mut bytes = BATCH_BYTES / 8;
    loop {
        let (done, result) = sync_channel(1);
        let batch = next_batch(&mut walk, snap, bytes);
        bytes = (bytes * 2).min(BATCH_BYTES);
        match batch {
            Ok(batch) if batch.is_empty() => return,
            Ok(batch) => {
                if tx.send(result).is_err() {
                    return; // the writer stopped
                }
                scope.spawn(move |_| {
                    let _ = done.send(load_batch(reader, index, snap, &batch, pool, IdCheck::Length));
                });
            }
            Err(e) => {
                let _ = done.send(Err(e));
                let _ = tx.send(result);
                return;
            }
        }
    }
}

/// Write the stream of `snap` to `out`, verifying every chunk and the whole-stream digest;
/// `index` is the caller's view of the local index (the one `snap` was resolved with).
///
/// A loader thread walks the chunk list and starts a parallel job per batch
/// ([`PackReader::load_many_into`]) while this thread writes earlier batches in order and a
/// hashing thread digests them.
pub fn restore(repo: &Repository, index: &Index, snap: &Snapshot, out: &mut dyn Write, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<RestoreSummary> {
    restore_stream(repo, index, snap, Stream::dump(snap), out, progress)
}

/// Write `stream`, one of the streams of `snap`, to `out`, verified as [`restore`] verifies a dump.
pub fn restore_stream(repo: &Repository, index: &Index, snap: &Snapshot, stream: Stream, out: &mut dyn Write, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<RestoreSummary> {
    let t0 = Instant::now();
    let reader = PackReader::new(repo);
    let (mut bytes, mut chunks) = (0u64, 0u64);
    let pool = Pool::default();
    let digest = std::thread::scope(|s| -> Result<blake3::Hash> {
        let (tx, rx) = sync_channel::<Receiver<Loaded>>(QUEUE_DEPTH);
        let (reader, pool) = (&reader, &pool);
        s.spawn(move || rayon::in_place_scope(|scope| load_batches(reader, index, snap, stream.tree, pool, &tx, scope)));
        // The stream digest is computed on its own thread while this one writes the same batch.
        let (to_hash, hash_rx) = sync_channel::<Arc<Vec<u8>>>(QUEUE_DEPTH);
        let hashing = s.spawn(move || {
            let mut hasher = blake3::Hasher::new();
            for data in hash_rx {
                hasher.update(&data);
                recycle(pool, data);
            }
            hasher.finalize()
        });
        for batch in rx {
            let (data, n) = batch.recv().map_err(|_| StoreError::Internal("a loading job died".into()))??;
            let data = Arc::new(data);
            to_hash.send(data.clone()).expect("the hashing thread runs until the sender is dropped");
            out.write_all(&data).map_err(|e| StoreError::io("writing the restored stream", e))?;
            bytes += data.len() as u64;
            chunks += n;
            recycle(pool, data);
            if let Some(p) = progress {
                p(bytes);
            }
        }
        drop(to_hash);
        Ok(hashing.join().expect("hashing does not panic"))
    })?;
    out.flush().map_err(|e| StoreError::io("writing the restored stream", e))?;
    let actual = Id(*digest.as_bytes());
    if actual != stream.digest || bytes != stream.size {
        prove_chunks(&reader, index, snap, stream.tree)?;
        return Err(StoreError::DigestMismatch(Box::new(DigestMismatch {
            snapshot: snap.id,
            db: snap.manifest.db.clone(),
            expected: stream.digest,
            actual,
            expected_size: stream.size,
            actual_size: bytes,
        })));
    }
    Ok(RestoreSummary { bytes, chunks, elapsed: t0.elapsed() })
}

/// Prove every chunk of `snap` against its id, a batch at a time: the first that fails is the error.
/// Run when a restored stream does not match its digest, to say which chunk is wrong.
fn prove_chunks(reader: &PackReader, index: &Index, snap: &Snapshot, tree: Id) -> Result<()> {
    let mut walk = TreeWalk::new(reader, index, tree);
    let pool = Pool::default();
    loop {
        let batch = next_batch(&mut walk, snap, BATCH_BYTES)?;
        if batch.is_empty() {
            return Ok(());
        }
        let (joined, _) = load_batch(reader, index, snap, &batch, &pool, IdCheck::Prove)?;
        pool.lock().expect("not poisoned").push(joined);
    }
}
