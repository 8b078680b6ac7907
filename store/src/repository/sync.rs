//! Keeping the local index in step with the repository's objects (SPEC.md section 12): the
//! freshness stamp that spares a folder repository's readers and commits a listing, the full sync
//! that applies segments and lists manifests, and the write-back of a manifest that vanished
//! without a forget record.

use std::collections::HashSet;

use repo_format::manifest::Manifest;
use repo_format::{FormatError, Id, object_key};

use super::Repository;
use crate::backend::BackendError;
use crate::index::Index;
use crate::location::Location;
use crate::{Result, StoreError};

/// What a sync of the local index did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Index segments applied.
    pub segments_applied: usize,
    /// Packs no segment listed, indexed from their own headers (`repair index` only).
    pub packs_recovered: usize,
    /// Snapshots newly listed.
    pub snapshots_added: usize,
    /// Snapshots unlisted because their manifest is gone.
    pub snapshots_removed: usize,
    /// Index segments this index had applied were gone from the repository (another client's
    /// prune replaced them), so the index was cleared and synced from scratch.
    pub from_scratch: bool,
}

impl Repository {
    /// Write `sealed`, the local index's copy of snapshot `id`'s manifest, back to the repository
    /// (`replace`: over a damaged file). The copy must prove itself (hash to its name, open);
    /// false when it does not. Another process writing the same bytes back first is no error.
    pub(crate) fn write_back_manifest(&self, id: &Id, sealed: &[u8], replace: bool) -> Result<bool> {
        if Id::of_bytes(sealed) != *id || Manifest::decode(&self.keys, sealed).is_err() {
            return Ok(false);
        }
        let key = object_key::snapshot(id);
        if replace {
            self.backend.delete(&key)?;
        }
        match self.backend.put_new(&key, sealed) {
            Ok(()) | Err(BackendError::AlreadyExists { .. }) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    fn listed_ids(&self, folder: &str) -> Result<HashSet<Id>> {
        Ok(self.backend.list(folder)?.iter().filter_map(|k| object_key::id_of(k)).collect())
    }

    /// The modification time (ns) of a folder repository's `snapshots/`: every manifest created
    /// or deleted changes it. `None` for an object store (no such thing) or when unreadable.
    pub(crate) fn snapshots_stamp(&self) -> Option<i128> {
        let Location::Local(root) = &self.location else { return None };
        let modified = std::fs::metadata(root.join("snapshots")).and_then(|m| m.modified()).ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(since.as_nanos() as i128)
    }

    /// Record, under the writer role, that the index now matches `snapshots/` (after a sync or
    /// the writer's own change of it), so readers need not list the repository
    /// (SPEC.md section 12, *Freshness*).
    pub(crate) fn record_stamp(&self, idx: &Index, stamp: Option<i128>) -> Result<()> {
        idx.set_stamp(stamp)?;
        idx.flush()
    }

    /// Record the stamp after this writer changed `snapshots/` (and the index with it), `before`
    /// being the stamp the index matched before. A change that left the stamp as it was (two
    /// changes within the file system's clock tick) proves nothing: then no stamp is recorded,
    /// and the next command syncs in full.
    pub(crate) fn record_stamp_after_change(&self, idx: &Index, before: Option<i128>) -> Result<()> {
        let after = self.snapshots_stamp();
        self.record_stamp(idx, after.filter(|a| Some(*a) != before))
    }

    /// Whether `idx` lists every segment and snapshot the repository holds, and nothing more.
    pub(super) fn is_current(&self, idx: &Index) -> Result<bool> {
        // A folder repository whose `snapshots/` is as the index last saw it: every snapshot
        // committed or forgotten since was recorded by its writer, under the writer role.
        if let Some(stamp) = self.snapshots_stamp()
            && idx.stamp()? == Some(stamp)
        {
            return Ok(true);
        }
        let applied: HashSet<Id> = idx.applied_segments()?.into_iter().collect();
        if self.listed_ids(object_key::INDEX)? != applied {
            return Ok(false);
        }
        let listed: HashSet<Id> = idx.snapshot_ids()?.into_iter().collect();
        Ok(self.listed_ids(object_key::SNAPSHOTS)? == listed)
    }

    /// Bring the index up to date with the repository's objects (writer role required).
    pub fn sync(&self, idx: &Index) -> Result<SyncReport> {
        // Sampled before listing: a change made while listing leaves the stamp stale, never
        // wrongly current.
        let stamp = self.snapshots_stamp();
        let report = self.sync_listing(idx)?;
        if idx.stamp()? != stamp {
            self.record_stamp(idx, stamp)?;
        }
        Ok(report)
    }

    /// Catch up for an ingest's commit: apply `own` (the segments this ingest wrote). When
    /// `snapshots/` is as the index last saw it, nothing else a commit depends on can have
    /// changed: other ingests applied their segments when they committed, prune and forget
    /// update the index themselves. Otherwise (an object store, a crash mid-commit, a manifest
    /// changed by hand) the whole repository is listed ([`Repository::sync`]).
    /// Returns the stamp the index matches now (`None` for an object store).
    pub(crate) fn catch_up_for_commit(&self, idx: &Index, own: &[Id]) -> Result<Option<i128>> {
        let stamp = self.snapshots_stamp();
        if stamp.is_none() || idx.stamp()? != stamp {
            self.sync(idx)?;
            return Ok(stamp);
        }
        let applied: HashSet<Id> = idx.applied_segments_among(own)?;
        for id in own.iter().filter(|id| !applied.contains(id)) {
            let seg = self.read_segment(&object_key::index_segment(id))??;
            idx.apply_segment(id, &seg)?;
        }
        Ok(stamp)
    }

    fn sync_listing(&self, idx: &Index) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let mut applied: HashSet<Id> = idx.applied_segments()?.into_iter().collect();
        let segments = self.listed_ids(object_key::INDEX)?;
        if !applied.is_subset(&segments) {
            // Another client pruned: it replaced segments and deleted packs, and entries for those
            // packs must not linger (an ingest would deduplicate against deleted data). Which
            // entries they were is no longer knowable from the repository, so start over.
            idx.clear()?;
            applied.clear();
            report.from_scratch = true;
        }
        for id in segments.difference(&applied) {
            // An unreachable store is an error, no damage: skipping would leave blobs unindexed.
            match self.read_segment(&object_key::index_segment(id))? {
                Ok(seg) => {
                    idx.apply_segment(id, &seg)?;
                    report.segments_applied += 1;
                }
                // A damaged segment must not make the whole repository unusable: what it lists
                // stays unindexed (and is reported) until `dbvault repair index` reads pack headers.
                Err(e) => self.warn(format!("skipping damaged index segment: {e}")),
            }
        }
        let listed: HashSet<Id> = idx.snapshot_ids()?.into_iter().collect();
        let present = self.listed_ids(object_key::SNAPSHOTS)?;
        for id in present.difference(&listed) {
            let key = object_key::snapshot(id);
            let m = self.backend.get(&key).map_err(StoreError::from).and_then(|bytes| {
                if Id::of_bytes(&bytes) != *id {
                    return Err(StoreError::format(key.clone(), FormatError::malformed("snapshot manifest", "content does not match its name")));
                }
                let m = Manifest::decode(&self.keys, &bytes).map_err(|e| StoreError::format(key.clone(), e))?;
                Ok((m, bytes))
            });
            match m {
                Ok((m, bytes)) => {
                    idx.put_snapshot(id, &bytes, &crate::index::Listing::of(&self.keys, &m))?;
                    report.snapshots_added += 1;
                }
                // Skipping it for an unreachable store, or one this user may not read, would give
                // the next snapshot the wrong parent; neither is damage.
                Err(StoreError::Backend(e @ BackendError::Remote { .. })) => return Err(e.into()),
                Err(StoreError::Backend(e @ BackendError::Io { .. })) if matches!(&e, BackendError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied) => {
                    return Err(e.into());
                }
                Err(e) => self.warn(format!("skipping damaged snapshot: {e}")),
            }
        }
        let vanished: Vec<Id> = idx.snapshot_ids()?.into_iter().filter(|id| !present.contains(id)).collect();
        // Forgotten by a dbvault elsewhere, or lost: only a forget record tells them apart. A
        // lost manifest is written back from the index's copy, which proves itself by its name.
        let forgotten = if vanished.is_empty() { HashSet::new() } else { crate::forgotten::ids(self.backend.as_ref(), &self.keys, &|w| self.warn(w))? };
        for id in vanished {
            let Some(sealed) = idx.snapshot(&id)? else { continue };
            let Ok(m) = Manifest::decode(&self.keys, &sealed) else { continue };
            if !forgotten.contains(&id) {
                let how = match self.write_back_manifest(&id, &sealed, false) {
                    Ok(true) => "it was written back from this machine's index".to_string(),
                    Ok(false) => String::new(),
                    // Read-only media, say: the index keeps its copy, and says so every time.
                    Err(e) => format!("writing it back from this machine's index failed ({e}); the index keeps its copy"),
                };
                if !how.is_empty() {
                    self.warn(format!(
                        "snapshot {} of db {} was removed from the repository without `dbvault forget` (by hand, or lost); {how}. \
                         To remove a snapshot, use `dbvault forget {}`",
                        id.short(),
                        m.db,
                        id.short()
                    ));
                    continue;
                }
            }
            idx.remove_snapshot(&id, &crate::index::Listing::of(&self.keys, &m))?;
            report.snapshots_removed += 1;
        }
        if report != SyncReport::default() {
            idx.flush()?;
        }
        Ok(report)
    }
}
