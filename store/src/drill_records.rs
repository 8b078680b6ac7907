//! Drill records (`drills/<id>`, SPEC.md section 9.5): each restore drill leaves one, so that
//! `log`, `show`, `snapshots`, `status` and the metrics file can say when a snapshot was last
//! proven restorable. Forgetting a snapshot forgets its drills; `copy` copies them.

use std::collections::{HashMap, HashSet};

use repo_format::drill_record::{DrillOrigin, DrillRecord};
use repo_format::{Id, SealedRecord, object_key};

use crate::repository::Repository;
use crate::{Result, StoreError};

/// Store `record` (durable before it returns); returns its id.
pub fn record(repo: &Repository, record: &DrillRecord) -> Result<Id> {
    let (id, bytes) = record.encode(repo.keys()).map_err(|e| StoreError::format("drill record", e))?;
    repo.backend().put_new(&object_key::drill_record(&id), &bytes)?;
    Ok(id)
}

/// Every readable drill record with its id, oldest first (damaged ones are warned about and
/// skipped). Records of snapshots that are gone may be among them (a forget interrupted before it
/// removed them): callers match them against the snapshots they have.
pub fn all(repo: &Repository) -> Result<Vec<(Id, DrillRecord)>> {
    let mut out = crate::records::read_all::<DrillRecord>(repo, object_key::DRILLS)?;
    out.sort_by_key(|(id, r)| (r.end, *id));
    Ok(out)
}

/// The last drill of each snapshot that has one.
pub fn last_by_snapshot(repo: &Repository) -> Result<HashMap<Id, DrillRecord>> {
    // Oldest first: later ones replace earlier ones.
    Ok(all(repo)?.into_iter().map(|(_, r)| (r.snapshot, r)).collect())
}

/// Remove the drill records of `snapshots` (forgotten), and of any snapshot a forget record names
/// (left by a forget interrupted before it removed them). Returns how many were removed.
pub fn forget(repo: &Repository, snapshots: &HashSet<Id>) -> Result<usize> {
    let forgotten = crate::forgotten::ids(repo.backend().as_ref(), repo.keys(), &|w| repo.warn(w))?;
    let mut removed = 0;
    for (id, r) in all(repo)? {
        if snapshots.contains(&r.snapshot) || forgotten.contains(&r.snapshot) {
            repo.backend().delete(&object_key::drill_record(&id))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Copy the drills of copied snapshots (`pairs`: source snapshot id, its copy's id) from `src` to
/// `dst`, re-sealed there with `dst`'s keys and naming the copy; a drill copied before (its origin
/// recorded) is skipped. Returns how many were copied per source snapshot.
pub fn copy(src: &Repository, dst: &Repository, pairs: &HashMap<Id, Id>) -> Result<HashMap<Id, usize>> {
    let src_repo = src.config().id;
    let there: HashSet<DrillOrigin> = all(dst)?.into_iter().filter_map(|(_, r)| r.origin).collect();
    let mut copied = HashMap::new();
    for (id, r) in all(src)? {
        let Some(target) = pairs.get(&r.snapshot) else { continue };
        // A drill copied into `src` from elsewhere keeps its first origin.
        let origin = r.origin.unwrap_or(DrillOrigin { repository: src_repo, drill: id });
        if there.contains(&origin) || origin.repository == dst.config().id {
            continue;
        }
        let source = r.snapshot;
        record(dst, &DrillRecord { snapshot: *target, origin: Some(origin), ..r })?;
        *copied.entry(source).or_insert(0) += 1;
    }
    Ok(copied)
}
