//! Patching: the bases a batch's chunks are patched against, read once, and the rule that keeps
//! a patch only when it is clearly smaller than the chunk compressed alone (SPEC.md 6.1, *Choice*).

use std::collections::HashMap;

use repo_format::Id;
use repo_format::blob::{self, BlobKind, SealedBlob};
use repo_format::crypto::{Keys, OVERHEAD};

use super::choice::{Chosen, choose, patch_matcher};
use crate::backend::BackendError;
use crate::index::Index;
use crate::{Result, StoreError};

/// What a delta costs beyond its patch: the base id in the pack header and the index segment.
const DELTA_EXTRA: usize = 64;
/// Chunks expected to compress alone to fewer bytes than this are not tried as deltas (at most a
/// quarter of this could be saved, less than reading the base costs).
pub const MIN_DELTA_ALONE: usize = 256;

/// Whether `patch`, with what a delta costs beyond it, is clearly smaller than the chunk compressed
/// alone (`alone_len` bytes): at most three quarters of it.
fn clearly_smaller(patch: &[u8], alone_len: usize) -> bool {
    patch.len() + DELTA_EXTRA <= alone_len * 3 / 4
}

/// The bases chosen for some chunks and their plaintexts: each proposed base is replaced as
/// [`choose`] says, and bases that cannot be read are left out (no delta). Only an
/// unreachable store fails the load: the ingest could not write its packs either.
pub struct LoadedBases {
    chosen: HashMap<Id, Chosen>,
    plains: HashMap<Id, Vec<u8>>,
}

impl LoadedBases {
    /// Choose bases for `(proposed base, chunk length)` pairs and read, with `read`, those worth a
    /// patch: a chunk expected to compress alone to fewer than [`MIN_DELTA_ALONE`] bytes is not.
    /// `read` answers in the order asked, and need only check the plaintexts' lengths: a patch
    /// rebuilds its chunk from the same authenticated base bytes it was made against, so a base's
    /// id does not need proving here (a hash of every base byte).
    pub fn load(
        index: &Index,
        proposed: impl IntoIterator<Item = (Id, usize)>,
        read: impl FnOnce(&[Id]) -> Vec<Result<Vec<u8>>>,
    ) -> Result<LoadedBases> {
        let mut chosen = HashMap::new();
        let mut wanted = Vec::new();
        for (p, len) in proposed {
            if !chosen.contains_key(&p)
                && let Some(c) = choose(index, p)?
            {
                chosen.insert(p, c);
            }
            if let Some(c) = chosen.get(&p).filter(|c| c.estimate_alone(len) >= MIN_DELTA_ALONE) {
                wanted.push(c.base);
            }
        }
        wanted.sort_unstable();
        wanted.dedup();
        let loaded = read(&wanted);
        let mut plains = HashMap::new();
        for (id, r) in wanted.into_iter().zip(loaded) {
            match r {
                Ok(p) => drop(plains.insert(id, p)),
                // The store is unreachable: this ingest cannot write either.
                Err(e @ StoreError::Backend(BackendError::Remote { .. })) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(LoadedBases { chosen, plains })
    }

    /// The patch of `plain` against the base `proposed` stands for, with that base, if it was read.
    pub fn patch(&self, level: i32, plain: &[u8], proposed: Id) -> Result<Option<(Vec<u8>, Chosen)>> {
        let Some(c) = self.chosen.get(&proposed) else { return Ok(None) };
        let Some(base_plain) = self.plains.get(&c.base) else { return Ok(None) };
        let matcher = patch_matcher(level, c.root_raw, c.root_alone);
        let patch = blob::make_patch(plain, base_plain, matcher).map_err(|e| StoreError::format("chunk", e))?;
        Ok(patch.map(|p| (p, *c)))
    }
}

/// A new chunk, sealed, and for the tally what it takes compressed alone (measured, or estimated
/// from its base's root when the patch was tiny enough not to compress it alone at all).
pub struct SealedChunk {
    /// The blob to store.
    pub blob: SealedBlob,
    /// Its plaintext compressed alone, in bytes (measured or estimated).
    pub alone_len: usize,
}

impl SealedChunk {
    /// Seal chunk `id`: as a delta when `patch` (with its base) is clearly smaller than the chunk
    /// compressed alone, else alone. A patch under half the estimate from the base's root
    /// is kept without compressing the chunk alone (SPEC.md, "Delta blobs", *Choice*).
    pub fn seal(keys: &Keys, level: i32, id: Id, plain: &[u8], patch: Option<(Vec<u8>, Chosen)>) -> Result<SealedChunk> {
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
            Some((p, c)) if clearly_smaller(p, alone_len) => Ok(SealedChunk { blob: as_delta(p, c)?, alone_len }),
            _ => Ok(SealedChunk { blob: alone, alone_len }),
        }
    }

    /// Store a chunk kept alone as its delta against `patch`'s base instead, when that is clearly
    /// smaller.
    pub fn improve(&mut self, keys: &Keys, plain: &[u8], patch: Option<(Vec<u8>, Chosen)>) -> Result<()> {
        if let Some((p, c)) = patch.filter(|(p, _)| clearly_smaller(p, self.alone_len)) {
            self.blob = c.seal_delta(keys, self.blob.id, plain.len(), &p)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
