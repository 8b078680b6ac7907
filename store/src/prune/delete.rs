//! Phase 5, deleting, in an order that is safe at every step (SPEC.md section 13, *Prune*): write new index
//! segments (the new packs; the surviving packs of every segment that lists a doomed pack), delete
//! the replaced segments, update the local index, then delete the doomed packs. A crash leaves
//! duplicate segments (both valid) or unindexed packs, never an index entry for a deleted pack.

use std::collections::HashSet;

use repo_format::Id;
use repo_format::index_segment::{IndexSegment, PackIndex};
use repo_format::object_key;
use repo_format::pack::PackEntry;

use super::report::LeftAlone;
use super::{phase, step};
use crate::backend::BackendError;
use crate::index::Index;
use crate::lease::Held;
use crate::repository::{PACKS_PER_SEGMENT, Repository};
use crate::{Progress, Result};

/// What deleting did.
pub(super) struct Deleted {
    /// Index segments replaced by rewritten ones.
    pub(super) segments_rewritten: usize,
    /// Bytes of the packs deleted.
    pub(super) bytes: u64,
    /// Doomed packs whose deletion failed: no segment lists them any more, so they are orphans the
    /// next prune deletes.
    pub(super) undeleted: Vec<LeftAlone>,
}

/// Index `new_packs` and delete `doomed` (each pack with its header's entries). The caller holds
/// the `ingest` role exclusively and the writer role (`index`), with the index synced.
pub(super) fn delete(
    repo: &Repository,
    index: &Index,
    lease: &Option<Held>,
    new_packs: &[PackIndex],
    doomed: &[(Id, Vec<PackEntry>)],
    progress: Option<&Progress<'_>>,
) -> Result<Deleted> {
    let doomed_ids: HashSet<Id> = doomed.iter().map(|(p, _)| *p).collect();
    let mut new_segments: Vec<(Id, IndexSegment)> = Vec::new();
    let mut write_segment = |seg: IndexSegment| -> Result<()> {
        if seg.packs.is_empty() {
            return Ok(());
        }
        let (id, _) = repo.put_segment(&seg)?;
        new_segments.push((id, seg));
        Ok(())
    };
    for chunk in new_packs.chunks(PACKS_PER_SEGMENT) {
        write_segment(IndexSegment { packs: chunk.to_vec() })?;
    }
    // A store that fails to send a segment stops prune: one listing a deleted pack must not stay
    // behind.
    let replaced = repo.rewrite_segments(|pack, entry| entry.is_none() && doomed_ids.contains(pack))?;
    new_segments.extend(replaced.iter().filter_map(|r| r.by.clone()));
    crate::lease::check(lease)?;
    for r in &replaced {
        repo.backend().delete(&r.key)?;
        if let Some(id) = object_key::id_of(&r.key) {
            index.unapply_segment(&id)?;
        }
    }
    for (id, seg) in &new_segments {
        index.apply_segment(id, seg)?;
    }
    for (pack, entries) in doomed {
        index.remove_pack(pack, entries)?;
    }
    index.flush()?;
    let (mut bytes, mut undeleted) = (0, Vec::new());
    for (i, (pack, _)) in doomed.iter().enumerate() {
        step(progress, phase::DELETING, i as u64, doomed.len() as u64);
        crate::lease::check(lease)?;
        let key = object_key::pack(pack);
        let size = repo.backend().size(&key).unwrap_or(0);
        match repo.backend().delete(&key) {
            // (Already gone: another prune or a hand got there first.)
            Ok(()) | Err(BackendError::NotFound { .. }) => bytes += size,
            // An unreachable store fails every deletion alike: stop (the next prune finishes).
            Err(e @ BackendError::Remote { .. }) => return Err(e.into()),
            Err(e) => {
                repo.warn(format!("{key}: could not be deleted ({e}); no index lists it any more, so the next prune deletes it"));
                undeleted.push(LeftAlone { pack: *pack, reason: format!("could not be deleted: {e}") });
            }
        }
    }
    Ok(Deleted { segments_rewritten: replaced.len(), bytes, undeleted })
}
