//! Copying snapshots to another repository (`dbvault copy`), local or remote.
//!
//! Two repositories have different keys, so the same chunk has different ids in each: blobs
//! cannot be moved verbatim. Each snapshot is instead restored from the source (every chunk
//! authenticated, the stream digest checked) and streamed straight into an ingest on the
//! destination, which stores only the chunks the destination lacks (and deltas against the copy of
//! the parent). The copy keeps the original's metadata (database, host, tags, times, dump source)
//! and its lineage: its parent is the copy of the original's parent. Its manifest records its
//! origin, so copying again skips what is already there (SPEC.md, "Copy").

use std::collections::HashMap;
use std::sync::Mutex;

use repo_format::Id;
use repo_format::manifest::Origin;

use crate::index::Index;
use crate::ingest::{CopyOf, IngestOptions, Lineage, ProducerOutcome, ingest};
use crate::repository::Repository;
use crate::snapshot::{self, Snapshot};
use crate::{Result, StoreError};

/// One snapshot's fate in a copy.
#[derive(Clone, Debug)]
pub struct Copied {
    /// The snapshot in the source repository.
    pub source: Snapshot,
    /// Its copy in the destination (new, or found there).
    pub target: Snapshot,
    /// Whether it was already there (nothing was written).
    pub existed: bool,
}

/// Copy `snapshots` of `src` (read through `src_index`, the caller's view of its local index)
/// into `dst`, oldest first. `on_done` is called after each one. Stops at the first failure;
/// snapshots copied before it stay (each copy is committed whole or not at all).
pub fn copy(src: &Repository, src_index: &Index, dst: &Repository, snapshots: &[Snapshot], on_done: &mut dyn FnMut(&Copied)) -> Result<Vec<Copied>> {
    let (src_id, dst_id) = (src.config().id, dst.config().id);
    if src_id == dst_id {
        return Err(StoreError::Invalid("the source and the destination are the same repository".into()));
    }
    // Source snapshot id -> its copy in the destination.
    let mut copies: HashMap<Id, Snapshot> = HashMap::new();
    let existing = {
        let index = dst.index_reader()?;
        snapshot::list(dst, &index, None)?
    };
    let by_id: HashMap<Id, &Snapshot> = existing.iter().map(|s| (s.id, s)).collect();
    for d in &existing {
        if let Some(o) = d.manifest.origin.filter(|o| o.repository == src_id) {
            copies.insert(o.snapshot, d.clone());
        }
    }
    // A snapshot that was itself copied from the destination is already there.
    let all_src = snapshot::list(src, src_index, None)?;
    for s in &all_src {
        if let Some(o) = s.manifest.origin.filter(|o| o.repository == dst_id)
            && let Some(d) = by_id.get(&o.snapshot)
        {
            copies.insert(s.id, (*d).clone());
        }
    }
    let mut todo = snapshots.to_vec();
    todo.sort_by_key(|a| (a.manifest.end, a.id));
    todo.dedup_by_key(|s| s.id);
    let mut out = Vec::with_capacity(todo.len());
    for s in todo {
        let done = match copies.get(&s.id) {
            Some(d) => Copied { source: s, target: d.clone(), existed: true },
            None => {
                let parent = s.manifest.parent.and_then(|p| copies.get(&p)).cloned();
                let target = copy_one(src, src_index, dst, &s, parent)?;
                copies.insert(s.id, target.clone());
                Copied { source: s, target, existed: false }
            }
        };
        on_done(&done);
        out.push(done);
    }
    Ok(out)
}

/// The manifest with its source redacted: a copy never carries a secret its original (written
/// before redaction existed) may hold.
fn redacted(m: &repo_format::manifest::Manifest) -> repo_format::manifest::Manifest {
    let mut m = m.clone();
    m.source = crate::redact::source(&m.source);
    m
}

/// Restore `s` from `src` (through `src_index`) into a pipe that an ingest on `dst` reads.
fn copy_one(src: &Repository, src_index: &Index, dst: &Repository, s: &Snapshot, parent: Option<Snapshot>) -> Result<Snapshot> {
    let (reader, mut writer) = std::io::pipe().map_err(|e| StoreError::io("creating a pipe", e))?;
    let failed: Mutex<Option<StoreError>> = Mutex::new(None);
    let result = std::thread::scope(|scope| {
        let restoring = scope.spawn(move || crate::restore::restore(src, src_index, s, &mut writer, None).map(drop));
        let failed = &failed;
        let outcome = move || {
            let result = restoring.join().unwrap_or_else(|_| Err(StoreError::Internal("the restore thread panicked".into())));
            let mut outcome = ProducerOutcome { command: vec!["restore".into(), s.id.to_string(), "from".into(), src.backend().describe()], ..Default::default() };
            if let Err(e) = result {
                outcome.failure = Some(e.to_string());
                *failed.lock().expect("not poisoned") = Some(e);
            } else {
                outcome.exit_status = Some(0);
            }
            outcome
        };
        let m = &s.manifest;
        let opts = IngestOptions {
            db: m.db.clone(),
            host: Some(m.host.clone()),
            tags: m.tags.clone(),
            allow_incomplete: true,
            producer: Some(Box::new(outcome)),
            lineage: Lineage::Copy(Box::new(CopyOf { manifest: redacted(m), origin: Origin { repository: src.config().id, snapshot: s.id }, parent })),
            ..IngestOptions::default()
        };
        ingest(dst, reader, opts)
    });
    // The source's own error says more than "the producer failed".
    if let Some(e) = failed.into_inner().expect("not poisoned") {
        return Err(e);
    }
    Ok(result?.snapshot)
}
