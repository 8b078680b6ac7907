//! What a prune did: its plan, and every pack deleted, written, or kept against the plan (and why).

use repo_format::Id;
use serde::Serialize;

use super::plan::PrunePlan;

/// What prune did. Every pack of the plan's `delete`, `repack` and `orphans` is in exactly one of
/// `deleted`, `spared` and `left_alone`.
#[derive(Debug, Default, Serialize)]
pub struct PruneReport {
    /// The plan carried out (of a dry run: the plan, and nothing done).
    pub plan: PrunePlan,
    /// Packs deleted.
    pub packs_deleted: usize,
    /// New packs written by repacking.
    pub packs_written: usize,
    /// Index segments rewritten.
    pub segments_rewritten: usize,
    /// Packs spared because a snapshot committed during prune uses them (how many of `spared`).
    pub packs_spared: usize,
    /// Bytes removed from the repository (deleted packs minus new packs).
    pub bytes_freed: u64,
    /// The packs deleted.
    pub deleted: Vec<Id>,
    /// The new packs written by repacking.
    pub written: Vec<Id>,
    /// Packs of the plan kept because, re-checked under the exclusive `ingest` role, a snapshot
    /// committed since the plan was made needs a blob that only they hold.
    pub spared: Vec<Id>,
    /// Packs of the plan kept because executing found them damaged or missing.
    pub left_alone: Vec<LeftAlone>,
}

/// A pack left as it is, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    /// The pack.
    pub pack: Id,
    /// What is wrong with it.
    pub reason: String,
}

impl PruneReport {
    /// The report of a plan not carried out (a dry run): nothing done. Releases the plan's marks
    /// and prune's lock.
    pub fn not_carried_out(mut plan: PrunePlan) -> PruneReport {
        plan.work = None;
        PruneReport { plan, ..Default::default() }
    }
}
