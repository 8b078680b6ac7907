//! Carrying out a prune plan (phases 3 to 5): repack; take the `ingest` role exclusively and
//! re-check the plan against the snapshots committed since it was made; delete. Execution does
//! what the plan lists and nothing else; where it keeps a pack the plan lists, the report names
//! the pack and why.

use std::collections::{HashMap, HashSet};

use repo_format::Id;
use repo_format::lease::LeaseKind;
use repo_format::object_key;
use repo_format::pack::PackEntry;

use super::delete::delete;
use super::mark::mark;
use super::plan::{PrunePlan, Work};
use super::repack::repack;
use super::report::{LeftAlone, PruneReport};
use super::{phase, step};
use crate::index::Index;
use crate::pack::{PackReader, read_header};
use crate::repository::Repository;
use crate::snapshot;
use crate::{Progress, Result, StoreError};

/// Carry out `plan` (phases 3 to 5; SPEC.md section 13, *Prune*). Before deleting anything it waits for
/// running ingests and holds off new ones; a pack of the plan that holds the only copy of a blob
/// a snapshot committed since planning uses is spared ([`PruneReport::spared`]), and one found
/// damaged or missing is left alone ([`PruneReport::left_alone`]). A plan is carried out once.
pub fn execute(repo: &Repository, mut plan: PrunePlan, progress: Option<&Progress<'_>>) -> Result<PruneReport> {
    let Some(work) = plan.work.take() else {
        return Err(StoreError::Invalid("this prune plan was carried out already (or not made by prune::plan): plan again".into()));
    };
    if work.repository != repo.config().id {
        return Err(StoreError::Invalid(format!("this prune plan was made for repository {}, not {}", work.repository.short(), repo.config().id.short())));
    }

    // 3. Repack.
    let repacked = repack(repo, &plan.repack, progress)?;

    // 4. Exclusive: no ingest runs from here to the end.
    step(progress, phase::WAITING_FOR_INGESTS, 0, 1);
    let _no_ingest = repo.exclusive_ingest_lock()?;
    let lease = crate::lease::take(repo, LeaseKind::Prune)?;
    let index = repo.index_writer()?;
    // Every segment, even one an ingest wrote before it crashed: a pack no segment lists is an
    // orphan and may go (SPEC.md section 13).
    repo.sync(&index)?;
    mark_committed_since(repo, &index, &work)?;
    let mut report = PruneReport { left_alone: repacked.damaged, ..Default::default() };
    let doomed = recheck(repo, &index, &work, &plan, &repacked.copied, &mut report)?;

    // 5. Delete.
    let deleted = delete(repo, &index, &lease, &repacked.new_packs, &doomed, progress)?;
    let new_bytes: u64 = repacked.new_packs.iter().map(|p| p.pack_len).sum();
    let undeleted: HashSet<Id> = deleted.undeleted.iter().map(|l| l.pack).collect();
    report.deleted = doomed.iter().map(|(p, _)| *p).filter(|p| !undeleted.contains(p)).collect();
    report.left_alone.extend(deleted.undeleted);
    report.written = repacked.new_packs.iter().map(|p| p.pack_id).collect();
    report.packs_deleted = report.deleted.len();
    report.packs_written = report.written.len();
    report.packs_spared = report.spared.len();
    report.segments_rewritten = deleted.segments_rewritten;
    report.bytes_freed = deleted.bytes.saturating_sub(new_bytes);
    report.plan = plan;
    Ok(report)
}

/// Mark the snapshots committed since the plan was made (they are not in `work.marked`).
fn mark_committed_since(repo: &Repository, index: &Index, work: &Work) -> Result<()> {
    let reader = PackReader::new(repo);
    let mut missing = HashSet::new();
    for s in snapshot::list(repo, index, None)?.iter().filter(|s| !work.marked.contains(&s.id)) {
        mark(index, &reader, &work.marks, s, &mut missing)?;
    }
    Ok(())
}

/// Which packs of the plan go, each with its header's entries: the plan's `delete`, the packs of
/// its `repack` whose blobs were copied (`copied`), and its `orphans`, except those a snapshot
/// now needs (added to `report.spared`) and those found damaged or missing (`report.left_alone`).
fn recheck(repo: &Repository, index: &Index, work: &Work, plan: &PrunePlan, copied: &[Id], report: &mut PruneReport) -> Result<Vec<(Id, Vec<PackEntry>)>> {
    let kept_blobs: HashMap<Id, HashSet<Id>> = plan.repack.iter().map(|r| (r.pack, r.keep.iter().map(|e| e.id).collect())).collect();
    let no_copies = HashSet::new();
    let candidates = plan.delete.iter().chain(copied).map(|p| (*p, true)).chain(plan.orphans.iter().map(|p| (*p, false)));
    let mut doomed = Vec::new();
    for (pack, indexed) in candidates {
        let key = object_key::pack(&pack);
        let Ok(len) = repo.backend().size(&key) else {
            report.left_alone.push(LeftAlone { pack, reason: "missing".into() });
            continue;
        };
        let entries = match read_header(repo, &pack, len) {
            Ok(e) => e,
            // An unindexed pack whose header cannot be read helps nobody: no segment lists it, no
            // ingest has deduplicated against it, and `repair index` cannot recover it.
            Err(e) if !indexed && e.is_integrity() => {
                repo.warn(format!("{key}: deleting an unindexed pack whose header is damaged: {e}"));
                doomed.push((pack, Vec::new()));
                continue;
            }
            Err(e) if e.is_integrity() => {
                repo.warn(format!("{key}: left alone, it is damaged ({e}); `dbvault repair index` drops it from the index"));
                report.left_alone.push(LeftAlone { pack, reason: e.to_string() });
                continue;
            }
            Err(e) => return Err(e),
        };
        // Spare a pack if a snapshot uses a blob that lives only here (not copied, not elsewhere).
        let copied_here = kept_blobs.get(&pack).unwrap_or(&no_copies);
        let mut needed = false;
        for e in &entries {
            if copied_here.contains(&e.id) || !work.marks.contains(&e.id)? {
                continue;
            }
            if index.get(&e.id)?.is_none_or(|l| l.pack == pack) {
                needed = true;
                break;
            }
        }
        if needed {
            report.spared.push(pack);
        } else {
            doomed.push((pack, entries));
        }
    }
    Ok(doomed)
}
