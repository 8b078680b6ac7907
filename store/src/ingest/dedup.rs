//! Deduplication: which chunks of a batch are new (this run's own set, then the index), and the
//! chunk-list tree built alongside; new chunks go to a parallel sealing job.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::mpsc::{Sender, SyncSender, sync_channel};

use chunker::Batch;
use rayon::prelude::*;
use repo_format::Id;
use repo_format::blob::{self, BlobKind, SealedBlob};
use repo_format::manifest::Added;
use repo_format::tree::{TreeBuilder, TreeEntry};

use super::seal::seal_batch;
use super::sink::{ToPacks, writer_gone};
use super::contents::Contents;
use crate::delta::BaseFinder;
use crate::index::Index;
use crate::repository::Repository;
use crate::{Result, StoreError};

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

/// Decides what is new (this run's own set, then the index) and builds the chunk-list tree.
pub(super) struct Dedup<'r> {
    repo: &'r Repository,
    index: &'r Index,
    seen: RunSet,
    /// What this run added so far.
    pub added: Added,
    /// Proposes delta bases; `None` when this run stores no deltas.
    bases: Option<BaseFinder<'r>>,
    /// New chunk-list nodes (and chunks of the table of contents), sealed, not yet handed to the
    /// pack writer.
    pub nodes: Vec<SealedBlob>,
    /// The table of contents, built and stored as the stream passes.
    pub contents: Option<Contents>,
    /// The digest of the stream so far. It is computed here, not on the reader thread: reading
    /// and chunking keep that thread busy while this one has time to spare
    /// (benches/log/2026-12-02-fresh-memory-runs-x-y-z.md).
    pub digest: blake3::Hasher,
}

impl<'r> Dedup<'r> {
    /// A deduplicator against `index`; `bases` proposes delta bases (`None`: no deltas).
    pub fn new(repo: &'r Repository, index: &'r Index, bases: Option<BaseFinder<'r>>) -> Self {
        Dedup { repo, index, seen: RunSet::default(), added: Added::default(), bases, nodes: Vec::new(), contents: None, digest: blake3::Hasher::new() }
    }

    fn is_new(&self, id: &Id) -> Result<bool> {
        Ok(!self.seen.contains(&short_key(id)) && !self.index.contains(id)?)
    }

    /// Store a chunk-list node unless it is stored already; its id.
    pub fn store_node(&mut self, plain: &[u8]) -> Result<Id> {
        self.store_blob(BlobKind::TreeNode, self.repo.keys().tree_id(plain), plain)
    }

    /// Store a chunk that is no part of the stream (of its table of contents) unless it is stored
    /// already, sealed on this thread; its id.
    pub fn store_chunk(&mut self, plain: &[u8]) -> Result<Id> {
        self.store_blob(BlobKind::Chunk, self.repo.keys().chunk_id(plain), plain)
    }

    fn store_blob(&mut self, kind: BlobKind, id: Id, plain: &[u8]) -> Result<Id> {
        if self.is_new(&id)? {
            let what = if kind == BlobKind::TreeNode { "chunk-list node" } else { "chunk" };
            let sealed = blob::seal(self.repo.keys(), kind, id, plain, self.repo.config().compression_level).map_err(|e| StoreError::format(what, e))?;
            self.seen.insert(short_key(&id));
            self.nodes.push(sealed);
        }
        Ok(id)
    }

    /// Hash a batch's chunks, extend the tree, and start a parallel job sealing the new chunks;
    /// its result goes to the pack writer, which takes the batches in stream order.
    pub fn process<'s>(
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
        if let Some(mut c) = self.contents.take() {
            let fed = c.feed(&batch.data, self);
            self.contents = Some(c);
            fed?;
        }
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
