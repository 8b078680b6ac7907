//! Marking: every blob that snapshots use, recorded in an on-disk set ([`Marks`]) so that memory
//! does not grow with the repository. Planning marks every snapshot; execution marks the snapshots
//! committed since.

use std::collections::HashSet;

use repo_format::Id;
use repo_format::blob::{BlobKind, MAX_DELTA_DEPTH};
use repo_format::tree::Node;

use crate::delta::chain::{self, ChainEnd};
use crate::index::Index;
use crate::marks::Marks;
use crate::pack::{PackReader, read_header};
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::{Result, StoreError};

/// Mark every blob of `snap`'s trees (its dump's, and its table of contents'); subtrees already
/// marked (shared with another snapshot) are skipped. Blobs of the dump's tree that are gone go to
/// `missing`; those of a table of contents do not (it is derived data: readers build it from the
/// dump again, and a build older than tables of contents may have pruned them).
pub(super) fn mark(index: &Index, reader: &PackReader, marks: &Marks, snap: &Snapshot, missing: &mut HashSet<Id>) -> Result<()> {
    mark_tree(index, reader, marks, snap.manifest.tree, missing)?;
    match &snap.manifest.toc {
        Some(t) => mark_tree(index, reader, marks, t.tree, &mut HashSet::new()),
        None => Ok(()),
    }
}

/// Mark every blob of the tree rooted at `root`.
fn mark_tree(index: &Index, reader: &PackReader, marks: &Marks, root: Id, missing: &mut HashSet<Id>) -> Result<()> {
    let mut stack = vec![root];
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
pub(super) fn mark_bases(index: &Index, marks: &Marks, chunk: Id, ids: &mut Vec<Id>, missing: &mut HashSet<Id>) -> Result<()> {
    let end = chain::walk(index, chunk, MAX_DELTA_DEPTH, |_, loc| {
        let Some(d) = loc.entry.delta else { return Ok(true) };
        if marks.contains(&d.base)? {
            return Ok(false); // marked with its own bases already
        }
        ids.push(d.base);
        Ok(true)
    })?;
    // A chain too deep, or on a blob that is no chunk, is check's to report; its members are kept.
    if let ChainEnd::Missing(id) = end {
        missing.insert(id);
    }
    Ok(())
}

/// Refuse to prune while a pack no index segment lists holds a blob that snapshots need and the
/// index lacks: its segment was lost, and `repair index` would recover it from the pack's header.
/// Otherwise those blobs are lost for good, and prune may work around them.
pub(super) fn refuse_if_unindexed_packs_hold(repo: &Repository, unindexed: &[(Id, String)], missing: &HashSet<Id>) -> Result<()> {
    for (id, key) in unindexed {
        let Ok(len) = repo.backend().size(key) else { continue };
        if read_header(repo, id, len).is_ok_and(|entries| entries.iter().any(|e| missing.contains(&e.id))) {
            return Err(StoreError::Invalid(format!(
                "snapshots use blobs that the index lacks but the unindexed pack {key} holds (its index segment was lost); \
                 prune refuses to run on an incomplete index. Run `dbvault repair index`, then `dbvault check`"
            )));
        }
    }
    Ok(())
}
