//! The sealing stage: a batch's new chunks, sketched, patched against their base candidates or
//! compressed alone, and encrypted, in parallel (the delta rules are in [`crate::delta`]).

use chunker::Batch;
use rayon::prelude::*;
use repo_format::Id;
use repo_format::blob::{BlobKind, IdCheck, SealedBlob};
use repo_format::crypto::OVERHEAD;

use crate::delta::choice::Chosen;
use crate::delta::resemblance::{self, Sketch, candidates, resembling};
use crate::delta::patching::{LoadedBases, MIN_DELTA_ALONE, SealedChunk};
use crate::index::Index;
use crate::pack::PackReader;
use crate::repository::Repository;
use crate::Result;

/// What a batch's deltas saved, summed into the manifest's `added`.
#[derive(Clone, Copy, Default)]
pub(super) struct DeltaTally {
    /// Chunks stored as deltas.
    pub chunks: u64,
    /// Their plaintext bytes.
    pub raw: u64,
    /// Their stored bytes.
    pub stored: u64,
    /// What they would have taken compressed alone.
    pub alone: u64,
}

impl DeltaTally {
    /// Add another batch's tally.
    pub fn add(&mut self, o: DeltaTally) {
        self.chunks += o.chunks;
        self.raw += o.raw;
        self.stored += o.stored;
        self.alone += o.alone;
    }
}

/// Seal a batch's new chunks (`(index in batch, proposed base)`), in parallel: each is sketched
/// and made a patch against its first base candidate ([`candidates`]), kept as a delta when that
/// is clearly smaller than compressing it alone; a chunk still stored alone is tried against its
/// second candidate (SPEC.md, "Delta blobs"). A base that cannot be read only means no delta.
/// Without `deltas` chunks are only compressed alone.
pub(super) fn seal_batch(repo: &Repository, index: &Index, batch: &Batch, ids: &[Id], new: &[(usize, Option<Id>)], deltas: bool) -> Result<SealedBatch> {
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
    let reader = PackReader::new(repo);
    let read = |wanted: &[Id]| reader.load_many(index, wanted, BlobKind::Chunk, IdCheck::Length);
    let first = LoadedBases::load(index, candidates.iter().zip(new).filter_map(|(c, &(i, _))| Some((c[0]?, batch.chunks[i].len()))), read)?;
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
        let bases = LoadedBases::load(index, retry.iter().map(|&(k, b)| (b, batch.chunks[new[k].0].len())), read)?;
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
pub(super) struct SealedBatch {
    /// The sealed chunks.
    pub blobs: Vec<SealedBlob>,
    /// What their deltas saved.
    pub tally: DeltaTally,
    /// (super-feature, chunk) pairs of the new chunks.
    pub features: Vec<(u64, Id)>,
}
