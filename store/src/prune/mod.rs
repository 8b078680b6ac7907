//! Prune: delete the data no snapshot needs any more, crash-safely and next to running ingests.
//!
//! A prune is a plan, then its execution. [`plan`] decides and changes nothing (`--dry-run` prints
//! its [`PrunePlan`]); [`execute`] carries out exactly that plan; [`prune`] does both. Phases
//! (SPEC.md section 13, *Prune*):
//!
//! Planning (`plan.rs`, `mark.rs`) holds no lock but `local/prune.lock` (one prune at a time; the
//! plan holds it until it is carried out):
//! 1. Mark: walk every snapshot's chunk-list tree and record every blob it uses in
//!    a temporary on-disk RocksDB (constant memory whatever the repository's size). A snapshot
//!    that needs a blob the index does not know stops prune: repair first.
//! 2. Plan: per pack (from its header), which blobs are used (marked, and the index locates them
//!    in this pack). Packs with nothing used are deleted; packs whose unused share exceeds the
//!    threshold are repacked, with exactly the used blobs. Packs no index segment lists are
//!    orphans (left by killed ingests) and are deleted unless a snapshot uses them.
//!
//! Execution (`execute.rs`, `repack.rs`, `delete.rs`):
//! 3. Repack, still without the `ingest` role: copy the used sealed blobs, verified, verbatim into new packs.
//! 4. Take the `ingest` role exclusively (waiting for running ingests; new ones wait until prune
//!    releases it) and the writer role; sync; mark the snapshots committed since planning. A pack
//!    of the plan that holds the only copy of a blob they use is spared.
//! 5. Write new index segments (new packs; surviving entries of segments that list doomed
//!    packs), then delete the replaced segments, update the local index, and delete the packs.
//!
//! Execution departs from the plan only by keeping packs, and the [`PruneReport`] names each:
//! those spared in phase 4 (`spared`), and those found damaged or missing (`left_alone`).
//!
//! A crash at any point leaves duplicates or unindexed packs, never a snapshot without its data;
//! the next prune finishes the job.

mod delete;
mod execute;
mod mark;
mod plan;
mod repack;
mod report;

pub use execute::execute;
pub use plan::{PrunePlan, Repack, plan};
pub use report::{LeftAlone, PruneReport};

use crate::{Progress, Result};
use crate::repository::Repository;

/// How to prune.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PruneOptions {
    /// The unused share (0.0-1.0) of a pack above which it is rewritten with only its used blobs.
    pub max_unused: f64,
}

impl Default for PruneOptions {
    /// Rewrite packs that are more than 10% unused.
    fn default() -> Self {
        PruneOptions { max_unused: 0.1 }
    }
}

/// The phases prune reports to its progress callback, in order.
pub mod phase {
    /// Phase 1: marking what each snapshot uses (done and total: snapshots).
    pub const MARKING: &str = "marking";
    /// Phase 2: reading pack headers (done and total: packs; repeated while kept deltas' bases
    /// are marked).
    pub const PLANNING: &str = "planning";
    /// Phase 3: copying used blobs into new packs (done and total: packs to rewrite).
    pub const REPACKING: &str = "repacking";
    /// Reported once, right before execution takes the `ingest` role exclusively: a snapshot
    /// committed until the callback returns is re-checked against the plan (phase 4).
    pub const WAITING_FOR_INGESTS: &str = "waiting for running ingests";
    /// Phase 5: deleting packs (done and total: packs).
    pub const DELETING: &str = "deleting packs";
}

/// Plan a prune and carry the plan out.
pub fn prune(repo: &Repository, opts: &PruneOptions, progress: Option<&Progress<'_>>) -> Result<PruneReport> {
    execute(repo, plan(repo, opts, progress)?, progress)
}

/// Tell `progress`, if any, how far `phase` got.
fn step(progress: Option<&Progress<'_>>, phase: &str, done: u64, total: u64) {
    if let Some(p) = progress {
        p(phase, done, total);
    }
}
