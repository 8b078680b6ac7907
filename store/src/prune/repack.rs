//! Phase 3, repacking (no locks: the new packs stay unindexed until phase 5): the blobs a plan
//! keeps out of each pack to rewrite, each verified, copied byte for byte into new packs. Sealed
//! bytes do not depend on their pack, so nothing is re-encrypted.

use repo_format::blob::SealedBlob;
use repo_format::index_segment::PackIndex;
use repo_format::object_key;
use repo_format::Id;

use super::plan::Repack;
use super::report::LeftAlone;
use super::{phase, step};
use crate::pack::PackWriter;
use crate::repository::Repository;
use crate::{Progress, Result};

/// What repacking did.
pub(super) struct Repacked {
    /// The packs whose kept blobs were all copied (these may go in phase 5).
    pub(super) copied: Vec<Id>,
    /// The packs left as they are because a blob to copy is damaged.
    pub(super) damaged: Vec<LeftAlone>,
    /// The new packs.
    pub(super) new_packs: Vec<PackIndex>,
}

/// Copy the kept blobs of every pack of `repack` into new packs. Damage is never copied forward:
/// a blob that fails verification leaves its pack alone (a delta is authenticated; its base is
/// verified where it lives).
pub(super) fn repack(repo: &Repository, repack: &[Repack], progress: Option<&Progress<'_>>) -> Result<Repacked> {
    let mut writer = PackWriter::new(repo);
    let (mut copied, mut damaged) = (Vec::new(), Vec::new());
    for (i, r) in repack.iter().enumerate() {
        step(progress, phase::REPACKING, i as u64, repack.len() as u64);
        let key = object_key::pack(&r.pack);
        let mut copies = Vec::with_capacity(r.keep.len());
        for e in &r.keep {
            let sealed = repo.backend().get_range(&key, u64::from(e.offset), e.stored_len as usize)?;
            if e.authenticate(repo.keys(), &sealed).is_err() {
                repo.warn(format!("{key}: blob {} is damaged; the pack is not repacked (see `dbvault check --read-data`)", e.id.short()));
                damaged.push(LeftAlone { pack: r.pack, reason: format!("blob {} is damaged", e.id.short()) });
                break;
            }
            copies.push(SealedBlob { id: e.id, kind: e.kind, codec: e.codec, raw_len: e.raw_len, bytes: sealed, delta: e.delta });
        }
        if copies.len() == r.keep.len() {
            for c in &copies {
                writer.add(c)?;
            }
            copied.push(r.pack);
        }
    }
    writer.finish_pack()?;
    Ok(Repacked { copied, damaged, new_packs: writer.take_finished()? })
}
