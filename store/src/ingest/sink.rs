//! The pack writer's stage: sealed blobs appended to packs in stream order, and an index segment
//! written for every few packs, so a long ingest's memory stays bounded.

use std::sync::mpsc::Receiver;

use repo_format::Id;
use repo_format::blob::SealedBlob;
use repo_format::index_segment::{IndexSegment, PackIndex};

use super::seal::{DeltaTally, SealedBatch};
use crate::pack::PackWriter;
use crate::repository::{PACKS_PER_SEGMENT, Repository};
use crate::{Result, StoreError};

/// Most super-features one ingest records (3 per new chunk, 40 bytes each in memory until the
/// commit): 2^20 cover 350,000 new chunks, a 22 GB first day; later chunks are found by position.
const MAX_FEATURES: usize = 1 << 20;

/// What the pack writer thread receives, in order: one message per batch.
///
/// Chunk-list nodes travel with a batch rather than on their own: the writer waits for each
/// batch's sealing job in turn, and nodes sent alone while it waited filled the queue and held the
/// next batch back, so sealing jobs ran one at a time with a core idle
/// (benches/log/2026-11-22-early-rebases-and-batched-nodes.md).
pub(super) enum ToPacks {
    /// A batch's new chunks, sealed by a parallel job that may still be running, and the
    /// chunk-list nodes completed while the batch was deduplicated.
    Sealed { chunks: Receiver<Result<SealedBatch>>, nodes: Vec<SealedBlob> },
    /// The stream is complete and judged: store the last chunk-list nodes, close the last pack
    /// and write the last segment.
    Finish { nodes: Vec<SealedBlob> },
}

/// What the pack writer wrote: bytes of packs and segments, what deltas saved, and the new chunks'
/// super-features (for the local index, at the commit).
pub(super) struct Written {
    /// Bytes of packs and segments written.
    pub bytes: u64,
    /// What deltas saved.
    pub deltas: DeltaTally,
    /// (super-feature, chunk) pairs of the new chunks, at most `MAX_FEATURES`.
    pub features: Vec<(u64, Id)>,
    /// The index segments written, applied at the commit.
    pub segments: Vec<Id>,
}

/// The pack writer's side: appends sealed blobs to packs and writes index segments as packs
/// accumulate.
pub(super) struct PackSink<'r> {
    repo: &'r Repository,
    packer: PackWriter<'r>,
    pending: Vec<PackIndex>,
    segment_bytes: u64,
    segments: Vec<Id>,
    deltas: DeltaTally,
    features: Vec<(u64, Id)>,
}

impl<'r> PackSink<'r> {
    /// A sink writing packs and segments of `repo`.
    pub fn new(repo: &'r Repository) -> Self {
        PackSink { repo, packer: PackWriter::new(repo), pending: Vec::new(), segment_bytes: 0, segments: Vec::new(), deltas: DeltaTally::default(), features: Vec::new() }
    }

    /// Take blobs until [`ToPacks::Finish`] (then return the bytes of packs and segments written,
    /// and what deltas saved) or until the sender goes away (an abandoned ingest: `None`, the open
    /// pack is discarded).
    pub fn run(mut self, from: Receiver<ToPacks>) -> Result<Option<Written>> {
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

/// The error when the pack writer's thread is gone (its own error says why).
pub(super) fn writer_gone() -> StoreError {
    StoreError::Internal("the pack writer stopped".into())
}
