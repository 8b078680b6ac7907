//! Delta chains: a chunk stored as a delta, its base, that base's base, and so on down to a chunk
//! stored whole (its root). Every reader of chains walks them here (SPEC.md, "Delta blobs").

use repo_format::Id;
use repo_format::blob::{BlobKind, MAX_DELTA_DEPTH};
use repo_format::FormatError;

use crate::index::{BlobLocation, Index};
use crate::{Result, StoreError};

/// Whether a blob stored at `loc` may serve as a delta's base: only chunks (stored whole or as
/// deltas themselves) may; chunk-list nodes never are.
pub fn may_serve_as_base(loc: &BlobLocation) -> bool {
    matches!(loc.entry.kind, BlobKind::Chunk | BlobKind::Delta)
}

/// Whether a blob stored at `loc` holds what a reader asking for `kind` wants (a chunk may be
/// stored as a delta).
pub fn holds(loc: &BlobLocation, kind: BlobKind) -> bool {
    loc.entry.kind == kind || (kind == BlobKind::Chunk && may_serve_as_base(loc))
}

/// How a walk down a chain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// At the root, a chunk stored whole: the chain is complete.
    Root,
    /// The caller's visitor stopped the walk.
    Stopped,
    /// This member is not in the index.
    Missing(Id),
    /// This member is indexed as something that is no chunk (so it cannot serve as a base).
    NotAChunk(Id, BlobKind),
    /// The chain goes on below the deepest base a reader follows (or loops): this member is the
    /// first one beyond.
    TooDeep(Id),
}

impl ChainEnd {
    /// The member the chain breaks at, if it is broken.
    pub fn broken_at(&self) -> Option<Id> {
        match *self {
            ChainEnd::Root | ChainEnd::Stopped => None,
            ChainEnd::Missing(id) | ChainEnd::NotAChunk(id, _) | ChainEnd::TooDeep(id) => Some(id),
        }
    }

    /// Why the chain is broken, as an error naming the member; `None` if it is not broken.
    pub fn error(&self) -> Option<StoreError> {
        let malformed = |id: Id, why: String| StoreError::format(format!("chunk {}", id.short()), FormatError::malformed("delta", why));
        match *self {
            ChainEnd::Root | ChainEnd::Stopped => None,
            ChainEnd::Missing(id) => Some(StoreError::MissingBlob { id }),
            ChainEnd::NotAChunk(id, kind) => Some(StoreError::format(
                format!("blob {}", id.short()),
                FormatError::malformed("blob", format!("is a {kind:?}, expected a {:?}", BlobKind::Chunk)),
            )),
            ChainEnd::TooDeep(id) => Some(malformed(id, format!("delta chain is deeper than {MAX_DELTA_DEPTH} (or loops)"))),
        }
    }
}

/// Walk the chain from `top` down through `index`, following at most `max_bases` bases below
/// `top`. `visit` sees each located member, `top` first, and returns whether to go on. Every member
/// below `top` must be a chunk ([`may_serve_as_base`]); what `top` must be is the caller's business.
pub fn walk(index: &Index, top: Id, max_bases: u8, mut visit: impl FnMut(&Id, &BlobLocation) -> Result<bool>) -> Result<ChainEnd> {
    let mut id = top;
    let mut bases = 0u8;
    loop {
        let Some(loc) = index.get(&id)? else { return Ok(ChainEnd::Missing(id)) };
        if id != top && !may_serve_as_base(&loc) {
            return Ok(ChainEnd::NotAChunk(id, loc.entry.kind));
        }
        if !visit(&id, &loc)? {
            return Ok(ChainEnd::Stopped);
        }
        let Some(d) = loc.entry.delta else { return Ok(ChainEnd::Root) };
        if bases == max_bases {
            return Ok(ChainEnd::TooDeep(d.base));
        }
        bases += 1;
        id = d.base;
    }
}

/// A chain as the index locates it: its members, top first, and how it ends.
#[derive(Clone, Debug)]
pub struct Chain {
    /// The located members, top first; the last one is the root when the chain is complete.
    pub members: Vec<(Id, BlobLocation)>,
    /// How the walk ended.
    pub end: ChainEnd,
}

impl Chain {
    /// The chain from `top` down to its root, following at most [`MAX_DELTA_DEPTH`] bases.
    pub fn below(index: &Index, top: Id) -> Result<Chain> {
        Chain::collect(index, top, MAX_DELTA_DEPTH)
    }

    /// The chain a delta's patch is applied to: its `base` (which must be a chunk) down to the
    /// root. The delta above is one level deep already, so at most [`MAX_DELTA_DEPTH`] `- 1`
    /// further bases are followed.
    pub fn under_patch(index: &Index, base: Id) -> Result<Chain> {
        let chain = Chain::collect(index, base, MAX_DELTA_DEPTH - 1)?;
        match chain.members.first() {
            Some((_, loc)) if !may_serve_as_base(loc) => Ok(Chain { members: Vec::new(), end: ChainEnd::NotAChunk(base, loc.entry.kind) }),
            _ => Ok(chain),
        }
    }

    fn collect(index: &Index, top: Id, max_bases: u8) -> Result<Chain> {
        let mut members = Vec::new();
        let end = walk(index, top, max_bases, |id, loc| {
            members.push((*id, *loc));
            Ok(true)
        })?;
        Ok(Chain { members, end })
    }

    /// Whether the chain reaches its root.
    pub fn is_complete(&self) -> bool {
        self.end == ChainEnd::Root
    }

    /// The members' ids, and after them the member the chain breaks at, if it is broken.
    pub fn ids(&self) -> Vec<Id> {
        self.members.iter().map(|(id, _)| *id).chain(self.end.broken_at()).collect()
    }
}

/// The error of delta `top`, whose base chain is `chain`, when member `failed` (0: the nearest
/// base) cannot be read, for `err`: each member above names the one below it.
pub fn unreadable_chain(top: &Id, chain: &Chain, failed: usize, err: &dyn std::fmt::Display) -> StoreError {
    let ids = chain.ids();
    let above = |i: usize| if i == 0 { top } else { &ids[i - 1] };
    let mut e = unreadable_base(above(failed), &ids[failed], err);
    for i in (0..failed).rev() {
        e = unreadable_base(above(i), &ids[i], &e);
    }
    e
}

/// Delta `id` cannot be rebuilt: its base `base` cannot be read, for `err`.
pub fn unreadable_base(id: &Id, base: &Id, err: &dyn std::fmt::Display) -> StoreError {
    StoreError::format(
        format!("chunk {}", id.short()),
        FormatError::malformed("delta", format!("its base {} cannot be read: {err}", base.short())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::blob::{Codec, DeltaRef};
    use repo_format::index_segment::{IndexSegment, PackIndex};

    /// A chain is followed through the index down to its whole chunk, and stops, naming the member
    /// it cannot read, at a base missing from the index, at a blob that is no chunk, past
    /// `MAX_DELTA_DEPTH` bases, and in a loop.
    #[test]
    fn base_chains_are_located_to_their_root_or_to_the_member_that_breaks_them() {
        let dir = tempfile::tempdir().unwrap();
        let (index, _) = Index::open_write(dir.path(), std::time::Duration::ZERO, false).unwrap();
        let id = |n: u8| Id([n; 32]);
        // Blob n is a delta on `base(n)`, or whole when that is None. 1-3: a chain to root 1.
        // 11-20: ten deltas on root 10. 31 sits on 30, which is missing. 41 sits on tree node 40.
        // 50 and 51 sit on each other.
        let base = |n: u8| match n {
            2..=3 | 11..=20 | 31 | 41 => Some(n - 1),
            50 => Some(51),
            51 => Some(50),
            _ => None,
        };
        let entry = |n: u8| repo_format::pack::PackEntry {
            id: id(n),
            kind: match (n, base(n)) {
                (40, _) => BlobKind::TreeNode,
                (_, Some(_)) => BlobKind::Delta,
                (_, None) => BlobKind::Chunk,
            },
            codec: Codec::Zstd,
            offset: 8 + 100 * u32::from(n),
            stored_len: 60,
            raw_len: 4000,
            delta: base(n).map(|b| DeltaRef { base: id(b), depth: 1 }),
        };
        let entries = [1, 2, 3, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 31, 40, 41, 50, 51].map(entry).to_vec();
        let seg = IndexSegment { packs: vec![PackIndex { pack_id: id(99), pack_len: 10_000, entries }] };
        index.apply_segment(&id(98), &seg).unwrap();
        let located = |n: u8| {
            let c = Chain::under_patch(&index, id(n)).unwrap();
            let ids: Vec<u8> = c.ids().iter().map(|i| i.0[0]).collect();
            assert_eq!(c.members.len() + usize::from(c.end.error().is_some()), ids.len());
            (ids, c.end.error().map(|e| e.to_string()))
        };
        assert_eq!(located(3), (vec![3, 2, 1], None));
        assert_eq!(located(1), (vec![1], None), "a whole chunk is its own chain");
        let deepest = 10 + MAX_DELTA_DEPTH;
        assert_eq!(located(deepest).0, (10..=deepest).rev().collect::<Vec<_>>(), "{MAX_DELTA_DEPTH} deltas and their root");
        let (ids, broken) = located(deepest + 1);
        assert_eq!(ids.len(), usize::from(MAX_DELTA_DEPTH) + 1);
        assert!(broken.unwrap().contains("deeper than"));
        let (ids, broken) = located(31);
        assert_eq!(ids, [31, 30]);
        assert!(broken.unwrap().contains(&id(30).short()), "the missing member is named");
        assert!(located(41).1.unwrap().contains("TreeNode"), "a tree node is no base");
        assert!(located(50).1.unwrap().contains("deeper than"), "a loop ends at the depth limit");
        // A delta on 31 fails naming each member down to the one that is missing.
        let chain = Chain::under_patch(&index, id(31)).unwrap();
        let e = unreadable_chain(&id(32), &chain, chain.members.len(), &chain.end.error().unwrap()).to_string();
        let (top, first) = (e.find(&id(32).short()).unwrap(), e.find(&id(31).short()).unwrap());
        assert!(top < first && first < e.find(&id(30).short()).unwrap(), "{e}");
    }
}
