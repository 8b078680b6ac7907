//! Extract: some byte ranges of a snapshot's dump, reading only the chunks that hold them.
//!
//! The chunk-list tree is walked past everything before each range without loading the nodes
//! beneath ([`TreeWalk::skip_to`]); the chunks a range touches are loaded in parallel a batch at a
//! time, each proven against its id (the whole-stream digest cannot vouch for a part of the
//! stream), and the range's bytes handed over in order.

use std::ops::Range;
use std::time::{Duration, Instant};

use repo_format::blob::IdCheck;
use repo_format::Id;

use crate::index::Index;
use crate::pack::PackReader;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::tree::{StreamChunk, TreeWalk};
use crate::{Result, StoreError};

/// Plaintext bytes of chunks loaded in parallel at a time.
const BATCH_BYTES: u64 = 8 << 20;

/// What an extraction read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExtractSummary {
    /// Bytes of the ranges handed over.
    pub bytes: u64,
    /// Chunks loaded.
    pub chunks: u64,
    /// Plaintext bytes of the chunks loaded (at least `bytes`: chunks overhang the ranges).
    pub chunk_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Hand the bytes of `ranges` of `snap`'s dump to `out` in stream order, as `(range number,
/// bytes)` pieces; every range's pieces are consecutive and together are its bytes. `ranges` must
/// be sorted, not overlapping, and within the dump.
pub fn ranges(
    repo: &Repository,
    index: &Index,
    snap: &Snapshot,
    ranges: &[Range<u64>],
    out: &mut dyn FnMut(usize, &[u8]) -> std::io::Result<()>,
) -> Result<ExtractSummary> {
    let t0 = Instant::now();
    let size = snap.manifest.size;
    if let Some(bad) = ranges.iter().find(|r| r.start > r.end || r.end > size) {
        return Err(StoreError::Invalid(format!("bytes {}..{} lie outside the {size}-byte dump of snapshot {}", bad.start, bad.end, snap.id.short())));
    }
    if ranges.windows(2).any(|w| w[1].start < w[0].end) {
        return Err(StoreError::Internal("extract: ranges must be sorted and must not overlap".into()));
    }
    let reader = PackReader::new(repo);
    let mut walk = TreeWalk::new(&reader, index, snap.manifest.tree);
    let mut summary = ExtractSummary::default();
    // Chunks needed, in stream order, gathered into batches.
    let mut batch: Vec<StreamChunk> = Vec::new();
    let mut batch_bytes = 0u64;
    let mut joined: Vec<u8> = Vec::new();
    // The first range that does not end before the chunk at hand (chunks come in stream order,
    // so each range is passed once, however many there are).
    let mut first = 0usize;
    let mut flush = |batch: &mut Vec<StreamChunk>, summary: &mut ExtractSummary| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let ids: Vec<Id> = batch.iter().map(|c| c.id).collect();
        // One buffer for the batch, each chunk decoded straight into its place.
        joined.clear();
        joined.resize(batch.iter().map(|c| c.len as usize).sum(), 0);
        let mut outs = Vec::with_capacity(batch.len());
        let mut rest = joined.as_mut_slice();
        for c in batch.iter() {
            let (out, after) = rest.split_at_mut(c.len as usize);
            outs.push(out);
            rest = after;
        }
        for (r, c) in reader.load_many_into(index, &ids, IdCheck::Prove, outs).into_iter().zip(batch.iter()) {
            r.map_err(|e| snap.unreadable(c.id, c.offset, e))?;
        }
        let mut at = 0usize;
        for c in batch.iter() {
            let data = &joined[at..at + c.len as usize];
            at += c.len as usize;
            summary.chunks += 1;
            summary.chunk_bytes += c.len;
            let chunk = c.offset..c.offset + c.len;
            while ranges.get(first).is_some_and(|r| r.end <= chunk.start) {
                first += 1;
            }
            for (i, r) in ranges.iter().enumerate().skip(first).take_while(|(_, r)| r.start < chunk.end).filter(|(_, r)| chunk.start < r.end) {
                let (from, to) = (r.start.max(chunk.start) - c.offset, r.end.min(chunk.end) - c.offset);
                out(i, &data[from as usize..to as usize]).map_err(|e| StoreError::io("writing the extracted bytes", e))?;
                summary.bytes += to - from;
            }
        }
        batch.clear();
        Ok(())
    };
    // The end of the last chunk gathered: a range that ends before it is gathered already.
    let mut gathered_to = 0u64;
    for r in ranges.iter().filter(|r| r.start < r.end) {
        walk.skip_to(r.start);
        while gathered_to < r.end {
            let Some(c) = walk.next_chunk().map_err(|e| snap.unreadable(e.node, e.offset, e.source))? else {
                break;
            };
            gathered_to = c.offset + c.len;
            batch_bytes += c.len;
            batch.push(c);
            if batch_bytes >= BATCH_BYTES {
                flush(&mut batch, &mut summary)?;
                batch_bytes = 0;
            }
        }
    }
    flush(&mut batch, &mut summary)?;
    summary.elapsed = t0.elapsed();
    Ok(summary)
}

/// The bytes of `ranges` of `snap`'s dump, one buffer per range (for small ranges: definitions,
/// not table data).
pub fn read_ranges(repo: &Repository, index: &Index, snap: &Snapshot, wanted: &[Range<u64>]) -> Result<Vec<Vec<u8>>> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by_key(|&i| (wanted[i].start, wanted[i].end));
    // Overlapping ranges (the same object asked twice) are read once, as their union.
    let mut merged: Vec<Range<u64>> = Vec::new();
    for &i in &order {
        let r = wanted[i].clone();
        match merged.last_mut() {
            Some(m) if r.start < m.end => m.end = m.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut bufs: Vec<Vec<u8>> = merged.iter().map(|r| Vec::with_capacity((r.end - r.start) as usize)).collect();
    ranges(repo, index, snap, &merged, &mut |i, bytes| {
        bufs[i].extend_from_slice(bytes);
        Ok(())
    })?;
    Ok(wanted
        .iter()
        .map(|r| {
            if r.is_empty() {
                return Vec::new();
            }
            // The first union that ends after r starts holds it.
            let m = merged.partition_point(|m| m.end <= r.start);
            let from = (r.start - merged[m].start) as usize;
            bufs[m][from..from + (r.end - r.start) as usize].to_vec()
        })
        .collect())
}
