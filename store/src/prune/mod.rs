//! Prune: delete the data no snapshot needs any more, crash-safely and next to running ingests.
//!
//! Phases (SPEC.md, "Prune"):
//! 1. Mark, without locks: walk every snapshot's chunk-list tree and record every blob it uses in
//!    a temporary on-disk RocksDB (constant memory whatever the repository's size). A snapshot
//!    that needs a blob the index does not know stops prune: repair first.
//! 2. Plan: per pack (from its header), which blobs are used (marked, and the index locates them
//!    in this pack). Packs with nothing used are deleted; packs whose unused share exceeds the
//!    threshold are repacked.
//! 3. Repack, without locks: copy the used sealed blobs, verified, verbatim into new packs.
//! 4. Take the `ingest` role exclusively (waiting for running ingests; new ones wait until prune
//!    releases it) and the writer role; sync; mark snapshots committed since phase 1 and spare any
//!    pack holding a blob they use. Packs no index segment lists are orphans (left by killed
//!    ingests) and are deleted unless a snapshot uses them.
//! 5. Write new index segments (new packs; surviving entries of segments that list doomed
//!    packs), then delete the replaced segments, update the local index, and delete the packs.
//!
//! A crash at any point leaves duplicates or unindexed packs, never a snapshot without its data;
//! the next prune finishes the job.

use std::collections::HashSet;

use repo_format::object_key;
use repo_format::blob::{self, BlobKind, MAX_DELTA_DEPTH, SealedBlob};
use repo_format::index_segment::{IndexSegment, PackIndex};
use repo_format::pack::PackEntry;
use repo_format::tree::Node;
use repo_format::Id;
use serde::Serialize;

use crate::index::Index;
use crate::marks::Marks;
use crate::pack::{PackReader, PackWriter, read_header};
use crate::repository::Repository;
use crate::snapshot::{self, Snapshot};
use crate::{Result, StoreError};

/// What prune will do (its dry run prints exactly this).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PrunePlan {
    /// Snapshots whose data is kept.
    pub snapshots: usize,
    /// Blobs in use.
    pub used_blobs: u64,
    /// Packs in the repository.
    pub packs: usize,
    /// Packs with nothing in use: deleted.
    pub delete: Vec<Id>,
    /// Packs whose unused share exceeds the threshold: rewritten with only the used blobs.
    pub repack: Vec<Id>,
    /// Packs no index segment lists (left by interrupted ingests): deleted if unused.
    pub orphans: Vec<Id>,
    /// Bytes of the packs to delete or rewrite.
    pub bytes_freed_estimate: u64,
    /// Unused bytes left in packs under the threshold.
    pub unused_bytes_kept: u64,
}

/// What prune did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    /// The plan it carried out.
    pub plan: PrunePlan,
    /// Packs deleted.
    pub packs_deleted: usize,
    /// New packs written by repacking.
    pub packs_written: usize,
    /// Index segments rewritten.
    pub segments_rewritten: usize,
    /// Packs spared because a snapshot committed during prune uses them.
    pub packs_spared: usize,
    /// Bytes removed from the repository (deleted packs minus new packs).
    pub bytes_freed: u64,
}

/// Mark every blob of `snap`'s tree; subtrees already marked (shared with another snapshot) are skipped.
fn mark(index: &Index, reader: &PackReader, marks: &Marks, snap: &Snapshot, missing: &mut HashSet<Id>) -> Result<()> {
    let mut stack = vec![snap.manifest.tree];
    while let Some(node_id) = stack.pop() {
        if marks.contains(&node_id)? {
            continue;
        }
        if index.get(&node_id)?.is_none() {
            missing.insert(node_id);
            continue;
        }
        let plain = match reader.load(index, &node_id, BlobKind::TreeNode) {
            Ok(p) => p,
            // A node in a lost or damaged pack: what lies beneath it cannot be marked, nor read by
            // anyone; the snapshot is damaged (`check` and `repair snapshots` say so).
            Err(e) if e.is_integrity() => {
                missing.insert(node_id);
                continue;
            }
            Err(e) => return Err(e),
        };
        let node = Node::decode(&plain).map_err(|e| StoreError::format(format!("chunk-list node {}", node_id.short()), e))?;
        let mut ids = Vec::with_capacity(node.entries.len() + 1);
        for e in &node.entries {
            if node.level == 0 {
                ids.push(e.id);
                mark_bases(index, marks, e.id, &mut ids, missing)?;
            } else {
                stack.push(e.id);
            }
        }
        // Marking the node now is safe: its child nodes are already on the stack.
        ids.push(node_id);
        marks.insert_all(&ids)?;
    }
    Ok(())
}

/// A chunk stored as a delta keeps its chain of bases alive: add the bases not yet marked to `ids`.
/// A chunk the index does not know counts as missing.
fn mark_bases(index: &Index, marks: &Marks, chunk: Id, ids: &mut Vec<Id>, missing: &mut HashSet<Id>) -> Result<()> {
    let mut next = chunk;
    for _ in 0..=MAX_DELTA_DEPTH {
        let Some(loc) = index.get(&next)? else {
            missing.insert(next);
            return Ok(());
        };
        let Some(d) = loc.delta else { return Ok(()) };
        if marks.contains(&d.base)? {
            return Ok(());
        }
        ids.push(d.base);
        next = d.base;
    }
    Ok(())
}

/// Refuse to prune while a pack no index segment lists holds a blob that snapshots need and the
/// index lacks: its segment was lost, and `repair index` would recover it from the pack's header.
/// Otherwise those blobs are lost for good, and prune may work around them.
fn refuse_if_unindexed_packs_hold(repo: &Repository, indexed: &HashSet<Id>, missing: &HashSet<Id>) -> Result<()> {
    for key in repo.backend().list(object_key::PACKS)? {
        let Some(id) = object_key::id_of(&key).filter(|id| !indexed.contains(id)) else { continue };
        let Ok(len) = repo.backend().size(&key) else { continue };
        if read_header(repo, &id, len).is_ok_and(|entries| entries.iter().any(|e| missing.contains(&e.id))) {
            return Err(StoreError::Invalid(format!(
                "snapshots use blobs that the index lacks but the unindexed pack {key} holds (its index segment was lost); \
                 prune refuses to run on an incomplete index. Run `dbvault repair index`, then `dbvault check`"
            )));
        }
    }
    Ok(())
}

/// Plan what happens to each of `packs` given the blobs marked used: delete (nothing used),
/// repack (the used blobs, when the unused share exceeds `max_unused`) or keep. Also returns the
/// unused deltas that stay indexed in kept packs (their bases must stay).
#[allow(clippy::type_complexity)]
fn make_plan(
    repo: &Repository,
    index: &Index,
    marks: &Marks,
    packs: &[(Id, u64, u32)],
    max_unused: f64,
    step: &dyn Fn(&str, u64, u64),
) -> Result<(PrunePlan, Vec<(Id, Vec<PackEntry>)>, Vec<Id>)> {
    let mut plan = PrunePlan { packs: packs.len(), ..Default::default() };
    let mut repack_used: Vec<(Id, Vec<PackEntry>)> = Vec::new();
    let mut kept_deltas = Vec::new();
    for (i, (pack, len, _)) in packs.iter().enumerate() {
        step("planning", i as u64, packs.len() as u64);
        let entries = match read_header(repo, pack, *len) {
            Ok(e) => e,
            // A lost or damaged pack is left to `repair index`; prune works around it.
            Err(e) if e.is_integrity() => {
                repo.warn(format!("{}: left alone, it is missing or damaged ({e}); `dbvault repair index` drops it from the index", object_key::pack(pack)));
                continue;
            }
            Err(e) => return Err(e),
        };
        let (mut used, mut unused_bytes, mut unused_deltas) = (Vec::new(), 0u64, Vec::new());
        for e in entries {
            let here = index.get(&e.id)?.is_some_and(|l| l.pack == *pack);
            if here && marks.contains(&e.id)? {
                used.push(e);
            } else {
                unused_bytes += u64::from(e.stored_len);
                if here && e.delta.is_some() {
                    unused_deltas.push(e.id);
                }
            }
        }
        plan.used_blobs += used.len() as u64;
        if used.is_empty() {
            plan.delete.push(*pack);
            plan.bytes_freed_estimate += len;
        } else if unused_bytes as f64 > max_unused * *len as f64 {
            plan.repack.push(*pack);
            plan.bytes_freed_estimate += unused_bytes;
            repack_used.push((*pack, used));
        } else {
            plan.unused_bytes_kept += unused_bytes;
            kept_deltas.extend(unused_deltas);
        }
    }
    Ok((plan, repack_used, kept_deltas))
}

/// Prune the repository. `max_unused` is the unused share (0.0-1.0) above which a pack is repacked.
pub fn prune(repo: &Repository, max_unused: f64, dry_run: bool, progress: Option<&crate::Progress<'_>>) -> Result<PruneReport> {
    let step = |phase: &str, done: u64, total: u64| {
        if let Some(p) = progress {
            p(phase, done, total);
        }
    };
    let _one_prune = crate::lock::acquire(&repo.local_dir().join("prune.lock"), false, repo.lock_wait(), "prune (another prune is running)")?;
    // A manifest that cannot be read may still name data: deleting that data would make the loss
    // permanent, so prune waits until `repair snapshots` has restored or forgotten it.
    let damaged = snapshot::damaged_manifests(repo)?;
    if !damaged.is_empty() {
        let names: Vec<String> = damaged.iter().map(|d| format!("{} ({})", d.key, d.problem)).collect();
        return Err(StoreError::Invalid(format!(
            "prune refuses to run while snapshot manifests are damaged, since their data may still be needed: {}. \
             `dbvault repair snapshots` writes intact copies back from this machine's index where it has them; \
             `dbvault repair snapshots --forget` removes the others",
            names.join("; ")
        )));
    }
    let index = repo.index_reader()?;
    let reader = PackReader::new(repo);
    let marks = Marks::open(repo, "prune-marks")?;

    // 1. Mark.
    let snaps = snapshot::list(repo, &index, None)?;
    let mut missing = HashSet::new();
    for (i, s) in snaps.iter().enumerate() {
        step("marking", i as u64, snaps.len() as u64);
        mark(&index, &reader, &marks, s, &mut missing)?;
    }
    let indexed: HashSet<Id> = index.packs()?.iter().map(|p| p.0).collect();
    if !missing.is_empty() {
        refuse_if_unindexed_packs_hold(repo, &indexed, &missing)?;
        repo.warn(format!(
            "{} blob(s) that snapshots need are in no pack (lost); prune works around them, and those snapshots stay damaged: `dbvault repair snapshots` lists them",
            missing.len()
        ));
    }

    // 2. Plan. A delta that stays indexed (unused, in a pack kept as it is) must keep its bases,
    //    or a later ingest deduplicating against it would store a chunk that cannot be rebuilt:
    //    its chain is marked and the plan made again, until no such base is left unmarked.
    let packs = index.packs()?;
    let (mut plan, mut repack_used);
    loop {
        let (p, r, kept_deltas) = make_plan(repo, &index, &marks, &packs, max_unused, &step)?;
        let mut bases = Vec::new();
        for delta in kept_deltas {
            mark_bases(&index, &marks, delta, &mut bases, &mut missing)?;
        }
        (plan, repack_used) = (p, r);
        if bases.is_empty() {
            break;
        }
        marks.insert_all(&bases)?;
    }
    plan.snapshots = snaps.len();
    for key in repo.backend().list(object_key::PACKS)? {
        if let Some(id) = object_key::id_of(&key).filter(|id| !indexed.contains(id)) {
            plan.orphans.push(id);
        }
    }
    if dry_run {
        return Ok(PruneReport { plan, ..Default::default() });
    }
    drop(index);

    // 3. Repack (no locks: the new packs are unindexed until phase 5).
    let mut writer = PackWriter::new(repo);
    let mut repacked: Vec<Id> = Vec::new();
    for (i, (pack, used)) in repack_used.iter().enumerate() {
        step("repacking", i as u64, repack_used.len() as u64);
        let key = object_key::pack(pack);
        let mut ok = true;
        let mut copies = Vec::with_capacity(used.len());
        for e in used {
            let sealed = repo.backend().get_range(&key, u64::from(e.offset), e.stored_len as usize)?;
            // Never copy damage forward: a blob that fails verification leaves its pack alone (a
            // delta is authenticated; its base is verified where it lives).
            let damaged = match e.delta {
                None => blob::open(repo.keys(), e.kind, e.codec, &e.id, e.raw_len, &sealed).is_err(),
                Some(d) => blob::open_patch(repo.keys(), e.codec, &e.id, &d.base, e.raw_len, &sealed).is_err(),
            };
            if damaged {
                repo.warn(format!("{key}: blob {} is damaged; the pack is not repacked (see `dbvault check --read-data`)", e.id.short()));
                ok = false;
                break;
            }
            copies.push(SealedBlob { id: e.id, kind: e.kind, codec: e.codec, raw_len: e.raw_len, bytes: sealed, delta: e.delta });
        }
        if ok {
            for c in &copies {
                writer.add(c)?;
            }
            repacked.push(*pack);
        }
    }
    writer.finish_pack()?;
    let new_packs = writer.take_finished()?;
    let new_bytes: u64 = new_packs.iter().map(|p| p.pack_len).sum();

    // 4. Exclusive: no ingest runs from here to the end.
    step("waiting for running ingests", 0, 1);
    let _no_ingest = repo.exclusive_ingest_lock()?;
    let lease = crate::lease::take(repo, repo_format::lease::LeaseKind::Prune)?;
    let index = repo.index_writer()?;
    // Every segment, even one an ingest wrote before it crashed: a pack no segment lists is an
    // orphan and may go (SPEC.md section 13).
    repo.sync(&index)?;
    let known: HashSet<Id> = snaps.iter().map(|s| s.id).collect();
    let mut late_missing = HashSet::new();
    for s in snapshot::list(repo, &index, None)?.iter().filter(|s| !known.contains(&s.id)) {
        mark(&index, &reader, &marks, s, &mut late_missing)?;
    }
    let mut doomed: Vec<(Id, Vec<PackEntry>)> = Vec::new();
    let mut report = PruneReport::default();
    let candidates = plan.delete.iter().chain(&repacked).map(|p| (*p, true)).chain(plan.orphans.iter().map(|p| (*p, false)));
    for (pack, indexed) in candidates {
        let key = object_key::pack(&pack);
        let Ok(len) = repo.backend().size(&key) else { continue };
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
                continue;
            }
            Err(e) => return Err(e),
        };
        let copied: HashSet<Id> = if repacked.contains(&pack) {
            repack_used.iter().find(|(p, _)| *p == pack).map(|(_, u)| u.iter().map(|e| e.id).collect()).unwrap_or_default()
        } else {
            HashSet::new()
        };
        // Spare a pack if a snapshot uses a blob that lives only here (not copied, not elsewhere).
        let mut needed = false;
        for e in &entries {
            if copied.contains(&e.id) || !marks.contains(&e.id)? {
                continue;
            }
            if index.get(&e.id)?.is_none_or(|l| l.pack == pack) {
                needed = true;
                break;
            }
        }
        if needed {
            report.packs_spared += 1;
            continue;
        }
        doomed.push((pack, entries));
    }
    let doomed_ids: HashSet<Id> = doomed.iter().map(|(p, _)| *p).collect();

    // 5. New segments first, then the replaced ones go, then the local index, then the packs.
    let mut new_segments: Vec<(Id, IndexSegment)> = Vec::new();
    let mut write_segment = |seg: IndexSegment| -> Result<()> {
        if seg.packs.is_empty() {
            return Ok(());
        }
        let (id, _) = repo.put_segment(&seg)?;
        new_segments.push((id, seg));
        Ok(())
    };
    for chunk in new_packs.chunks(8) {
        write_segment(IndexSegment { packs: chunk.to_vec() })?;
    }
    let mut replaced = Vec::new();
    for key in repo.backend().list(object_key::INDEX)? {
        let Some(id) = object_key::id_of(&key) else { continue };
        let Ok(seg) = repo.backend().get(&key).map_err(StoreError::from).and_then(|b| {
            IndexSegment::decode(repo.keys(), &b).map_err(|e| StoreError::format(key.clone(), e))
        }) else {
            continue;
        };
        if seg.packs.iter().any(|p| doomed_ids.contains(&p.pack_id)) {
            let surviving: Vec<PackIndex> = seg.packs.into_iter().filter(|p| !doomed_ids.contains(&p.pack_id)).collect();
            write_segment(IndexSegment { packs: surviving })?;
            replaced.push(id);
        }
    }
    crate::lease::check(&lease)?;
    for id in &replaced {
        repo.backend().delete(&object_key::index_segment(id))?;
        index.forget_segment(id)?;
    }
    report.segments_rewritten = replaced.len();
    for (id, seg) in &new_segments {
        index.apply_segment(id, seg)?;
    }
    for (pack, entries) in &doomed {
        index.remove_pack(pack, entries)?;
    }
    index.flush()?;
    let mut freed = 0;
    for (i, (pack, _)) in doomed.iter().enumerate() {
        step("deleting packs", i as u64, doomed.len() as u64);
        crate::lease::check(&lease)?;
        let key = object_key::pack(pack);
        freed += repo.backend().size(&key).unwrap_or(0);
        repo.backend().delete(&key)?;
    }
    report.packs_deleted = doomed.len();
    report.packs_written = new_packs.len();
    report.bytes_freed = freed.saturating_sub(new_bytes);
    report.plan = plan;
    Ok(report)
}
