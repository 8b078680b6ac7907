//! The prune plan (phases 1 and 2): marks what every snapshot uses, then decides from each
//! indexed pack's header what happens to it. The plan is a value: [`super::execute`] carries out
//! exactly what it lists, and `--dry-run` prints it.

use std::collections::HashSet;
use std::fmt;

use repo_format::Id;
use repo_format::object_key;
use repo_format::pack::PackEntry;
use serde::{Serialize, Serializer};

use super::mark::{mark, mark_bases, refuse_if_unindexed_packs_hold};
use super::report::LeftAlone;
use super::{PruneOptions, phase, step};
use crate::index::Index;
use crate::lock::Lock;
use crate::marks::Marks;
use crate::pack::{PackReader, read_header};
use crate::repository::Repository;
use crate::snapshot;
use crate::{Progress, Result, StoreError};

/// What prune will do, and all that executing it needs: which packs are deleted, which are
/// rewritten with exactly which blobs, which unindexed packs go. Until it is carried out (or
/// dropped) it holds prune's lock, so no other prune changes the repository in between, and the
/// marks, which execution extends with the snapshots committed since.
#[derive(Debug, Default, Serialize)]
pub struct PrunePlan {
    /// Snapshots whose data is kept.
    pub snapshots: usize,
    /// Blobs in use.
    pub used_blobs: u64,
    /// Packs in the index.
    pub packs: usize,
    /// Packs with nothing in use: deleted.
    pub delete: Vec<Id>,
    /// Packs whose unused share exceeds the threshold: their used blobs are copied into new packs,
    /// then they are deleted. Printed as the packs' ids.
    #[serde(serialize_with = "pack_ids")]
    pub repack: Vec<Repack>,
    /// Packs no index segment lists (left by interrupted ingests and prunes): deleted if unused.
    pub orphans: Vec<Id>,
    /// Bytes freed: the packs to delete, and the unused bytes of the packs to rewrite.
    pub bytes_freed_estimate: u64,
    /// Unused bytes left in packs under the threshold.
    pub unused_bytes_kept: u64,
    /// The threshold: the unused share (0.0-1.0) of a pack above which it is rewritten.
    pub max_unused: f64,
    /// Blobs copied out of the packs to rewrite.
    pub repack_blobs: u64,
    /// Sealed bytes of those blobs.
    pub repack_bytes: u64,
    /// Indexed packs left alone because they are missing or their header is damaged (`repair
    /// index` drops them from the index).
    pub damaged: Vec<LeftAlone>,
    /// What only execution uses; `None` once the plan is carried out.
    #[serde(skip)]
    pub(super) work: Option<Work>,
}

/// A pack to rewrite.
#[derive(Clone, Debug)]
pub struct Repack {
    /// The pack.
    pub pack: Id,
    /// The blobs copied out of it, as its header lists them; the others go with the pack.
    pub keep: Vec<PackEntry>,
    /// Sealed bytes of the blobs that go.
    pub unused_bytes: u64,
}

/// What a plan holds for its execution. Fields drop in order: the marks are deleted before
/// prune's lock is released.
pub(super) struct Work {
    /// The repository planned for (its config id).
    pub(super) repository: Id,
    /// The blobs in use.
    pub(super) marks: Marks,
    /// The snapshots marked.
    pub(super) marked: HashSet<Id>,
    /// `local/prune.lock`: one prune at a time.
    pub(super) _one_prune: Lock,
}

impl fmt::Debug for Work {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Work").field("repository", &self.repository).field("marked", &self.marked.len()).finish_non_exhaustive()
    }
}

fn pack_ids<S: Serializer>(repack: &[Repack], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(repack.iter().map(|r| r.pack))
}

/// Plan a prune (phases 1 and 2; SPEC.md section 13, *Prune*): mark every blob the snapshots use, then
/// decide what happens to each pack. Changes nothing in the repository.
pub fn plan(repo: &Repository, opts: &PruneOptions, progress: Option<&Progress<'_>>) -> Result<PrunePlan> {
    if !(0.0..=1.0).contains(&opts.max_unused) {
        return Err(StoreError::Invalid(format!("prune: max_unused {} is not a share from 0.0 to 1.0", opts.max_unused)));
    }
    let one_prune = crate::lock::acquire(&repo.local_dir().join(crate::lock::PRUNE), false, repo.lock_wait(), "prune (another prune is running)")?;
    refuse_if_manifests_damaged(repo)?;
    let index = repo.index_reader()?;
    let reader = PackReader::new(repo);
    let marks = Marks::open(repo, "prune-marks")?;

    // 1. Mark.
    let snaps = snapshot::list(repo, &index, None)?;
    let mut missing = HashSet::new();
    for (i, s) in snaps.iter().enumerate() {
        step(progress, phase::MARKING, i as u64, snaps.len() as u64);
        mark(&index, &reader, &marks, s, &mut missing)?;
    }
    let indexed: HashSet<Id> = index.packs()?.iter().map(|p| p.0).collect();
    let unindexed = crate::pack::unindexed(repo, |id| Ok(indexed.contains(id)))?;
    if !missing.is_empty() {
        refuse_if_unindexed_packs_hold(repo, &unindexed, &missing)?;
        repo.warn(format!(
            "{} blob(s) that snapshots need are in no pack (lost); prune works around them, and those snapshots stay damaged: `dbvault repair snapshots` lists them",
            missing.len()
        ));
    }

    // 2. Decide. A delta that stays indexed (unused, in a pack kept as it is) must keep its bases,
    //    or a later ingest deduplicating against it would store a chunk that cannot be rebuilt:
    //    its chain is marked and the decisions made again, until no such base is left unmarked.
    let packs = index.packs()?;
    let mut plan = loop {
        let (plan, kept_deltas) = decide(repo, &index, &marks, &packs, opts.max_unused, progress)?;
        let mut bases = Vec::new();
        for delta in kept_deltas {
            mark_bases(&index, &marks, delta, &mut bases, &mut missing)?;
        }
        if bases.is_empty() {
            break plan;
        }
        marks.insert_all(&bases)?;
    };
    for d in &plan.damaged {
        repo.warn(format!("{}: left alone, it is missing or damaged ({}); `dbvault repair index` drops it from the index", object_key::pack(&d.pack), d.reason));
    }
    plan.orphans = unindexed.into_iter().map(|(id, _)| id).collect();
    plan.snapshots = snaps.len();
    plan.max_unused = opts.max_unused;
    let marked = snaps.iter().map(|s| s.id).collect();
    plan.work = Some(Work { repository: repo.config().id, marks, marked, _one_prune: one_prune });
    Ok(plan)
}

/// A manifest that cannot be read may still name data: deleting that data would make the loss
/// permanent, so prune waits until `repair snapshots` has restored or forgotten it.
fn refuse_if_manifests_damaged(repo: &Repository) -> Result<()> {
    let damaged = snapshot::damaged_manifests(repo)?;
    if damaged.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = damaged.iter().map(|d| format!("{} ({})", d.key, d.problem)).collect();
    Err(StoreError::Invalid(format!(
        "prune refuses to run while snapshot manifests are damaged, since their data may still be needed: {}. \
         `dbvault repair snapshots` writes intact copies back from this machine's index where it has them; \
         `dbvault repair snapshots --forget` removes the others",
        names.join("; ")
    )))
}

/// Decide what happens to each of `packs` given the blobs marked used: delete (nothing used),
/// repack (the used blobs, when the unused share exceeds `max_unused`) or keep. Also returns the
/// unused deltas that stay indexed in kept packs (their bases must stay).
fn decide(repo: &Repository, index: &Index, marks: &Marks, packs: &[(Id, u64, u32)], max_unused: f64, progress: Option<&Progress<'_>>) -> Result<(PrunePlan, Vec<Id>)> {
    let mut plan = PrunePlan { packs: packs.len(), ..Default::default() };
    let mut kept_deltas = Vec::new();
    for (i, (pack, len, _)) in packs.iter().enumerate() {
        step(progress, phase::PLANNING, i as u64, packs.len() as u64);
        let entries = match read_header(repo, pack, *len) {
            Ok(e) => e,
            // A lost or damaged pack is left to `repair index`; prune works around it.
            Err(e) if e.is_integrity() => {
                plan.damaged.push(LeftAlone { pack: *pack, reason: e.to_string() });
                continue;
            }
            Err(e) => return Err(e),
        };
        let (mut keep, mut unused_bytes, mut unused_deltas) = (Vec::new(), 0u64, Vec::new());
        for e in entries {
            let here = index.get(&e.id)?.is_some_and(|l| l.pack == *pack);
            if here && marks.contains(&e.id)? {
                keep.push(e);
            } else {
                unused_bytes += u64::from(e.stored_len);
                if here && e.delta.is_some() {
                    unused_deltas.push(e.id);
                }
            }
        }
        plan.used_blobs += keep.len() as u64;
        if keep.is_empty() {
            plan.delete.push(*pack);
            plan.bytes_freed_estimate += len;
        } else if unused_bytes as f64 > max_unused * *len as f64 {
            plan.bytes_freed_estimate += unused_bytes;
            plan.repack_blobs += keep.len() as u64;
            plan.repack_bytes += keep.iter().map(|e| u64::from(e.stored_len)).sum::<u64>();
            plan.repack.push(Repack { pack: *pack, keep, unused_bytes });
        } else {
            plan.unused_bytes_kept += unused_bytes;
            kept_deltas.extend(unused_deltas);
        }
    }
    Ok((plan, kept_deltas))
}
