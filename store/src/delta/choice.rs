//! Base choice: what a proposed base stands for, and the rebase policy that keeps chains shallow
//! (SPEC.md, "Delta blobs", *Depth* and *Patch matcher*).

use repo_format::Id;
use repo_format::blob::{self, DeltaRef, PatchMatcher, SealedBlob};
use repo_format::crypto::{Keys, OVERHEAD};

use super::chain::{Chain, may_serve_as_base};
use crate::index::{BlobLocation, Index};
use crate::{Result, StoreError};

/// Deepest delta a writer creates; a proposed base this deep is replaced by one of its chain's
/// shallower members (`rebase`), so restoring a chunk never reads more than this many bases
/// (SPEC.md, "Delta blobs").
pub const WRITE_MAX_DEPTH: u8 = 4;
/// A chain 2 or 3 deep whose proposed base's id starts with a byte below this is rebased early
/// ([`rebase_early`]): 64 is one chain in four.
const EARLY_REBASE_BELOW: u8 = 64;
/// A chain root compressing alone at least this many times marks rows that repeat with small
/// differences (pgbench: 45x and more), which get patches made with long matches.
const REPETITIVE: u64 = 16;

/// How patches are made (SPEC.md 6.1, *Patch matcher*) in a repository whose chunks are
/// compressed at `level` (the default is 1), against a base whose chain root compresses from
/// `root_raw` to `root_alone` bytes: up to level 3, anchored long matches, and for a base without
/// row starts long matches only (at level 1) for repetitive data, short matches otherwise; above,
/// zstd's long matches at `level`. Anchored patches are smaller than the zstd matcher's, in less
/// time (benches/log/2026-11-22-anchored-patches.md).
pub fn patch_matcher(level: i32, root_raw: u32, root_alone: u32) -> PatchMatcher {
    if level > 3 {
        PatchMatcher::Long(level)
    } else {
        PatchMatcher::Anchored { repetitive: u64::from(root_raw) >= REPETITIVE * u64::from(root_alone) }
    }
}

/// The base a proposed one stands for: the proposed chunk itself, or a shallower member of its
/// chain when the chain is already [`WRITE_MAX_DEPTH`] deep or is rebased early (`rebase`).
#[derive(Clone, Copy)]
pub struct Chosen {
    /// The base.
    pub base: Id,
    /// Its depth: how many bases lie below it.
    pub depth: u8,
    /// The chain's root (a chunk stored whole): sealed bytes less the envelope, and plaintext
    /// bytes. A chunk like it costs about as much per byte compressed alone.
    pub root_alone: u32,
    /// See `root_alone`.
    pub root_raw: u32,
}

impl Chosen {
    /// What a chunk of `raw_len` bytes like the root is expected to take compressed alone.
    pub fn estimate_alone(&self, raw_len: usize) -> usize {
        (u64::from(self.root_alone) * raw_len as u64 / u64::from(self.root_raw.max(1))) as usize
    }

    /// Seal `patch` as the delta blob of chunk `id` (`raw_len` bytes) against this base.
    pub fn seal_delta(&self, keys: &Keys, id: Id, raw_len: usize, patch: &[u8]) -> Result<SealedBlob> {
        let d = DeltaRef { base: self.base, depth: self.depth + 1 };
        blob::seal_patch(keys, id, raw_len as u32, d, patch).map_err(|e| StoreError::format("chunk", e))
    }
}

/// What base `proposed` stands for; `None` if it is no chunk, or its chain does not reach a root
/// through the index within [`MAX_DELTA_DEPTH`](repo_format::blob::MAX_DELTA_DEPTH) bases.
pub fn choose(index: &Index, proposed: Id) -> Result<Option<Chosen>> {
    let chain = Chain::below(index, proposed)?;
    if !chain.is_complete() || !may_serve_as_base(&chain.members[0].1) {
        return Ok(None);
    }
    let root = chain.members[chain.members.len() - 1].1;
    // Depths are counted along the chain just read, not taken from the entries' own fields.
    let depth = (chain.members.len() - 1) as u8;
    let (base, depth) = if depth >= WRITE_MAX_DEPTH || rebase_early(&proposed, depth) { rebase(&chain.members) } else { (proposed, depth) };
    let root_alone = root.entry.stored_len.saturating_sub(OVERHEAD as u32);
    Ok(Some(Chosen { base, depth, root_alone, root_raw: root.entry.raw_len }))
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
    let patch = |l: &BlobLocation| u64::from(l.entry.stored_len.saturating_sub(OVERHEAD as u32));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use repo_format::blob::{BlobKind, Codec};
    use repo_format::index_segment::{IndexSegment, PackIndex};
    use repo_format::pack::PackEntry;

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
        let chosen = |n: u8| choose(&index, id(n)).unwrap().map(|c| (c.base, c.depth, c.estimate_alone(2000)));
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
