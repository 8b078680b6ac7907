//! Storing the table of contents an ingest built (SPEC.md section 9.3): its lines are cut into
//! chunks like a dump and stored under a chunk-list tree of their own, so that the lines of
//! objects unchanged since the day before deduplicate.

use chunker::{Chunker, Input};
use repo_format::Id;
use repo_format::contents::{self, TocRef};
use repo_format::tree::{TreeBuilder, TreeEntry};

use super::dedup::Dedup;
use crate::repository::Repository;
use crate::{Result, StoreError};

/// Store the table of contents `dedup` built, if the stream had a parser; its reference for the
/// manifest. The blobs travel to the packs with the last chunk-list nodes.
pub(super) fn store(repo: &Repository, dedup: &mut Dedup) -> Result<Option<TocRef>> {
    let Some((format, toc)) = dedup.contents.take().and_then(|b| b.finish()) else { return Ok(None) };
    let lines = contents::encode(&toc);
    let mut chunks = Chunker::with_input(Input::Stream(lines.as_slice()), repo.chunker_params()?, lines.len().max(1))
        .map_err(|e| StoreError::io("cutting the table of contents into chunks", e))?;
    let mut tree = TreeBuilder::new();
    while let Some(batch) = chunks.next_batch().map_err(|e| StoreError::io("cutting the table of contents into chunks", e))? {
        for i in 0..batch.chunks.len() {
            let id = dedup.store_chunk(batch.chunk(i))?;
            tree.push(TreeEntry { id, len: batch.chunks[i].len() as u64 }, &mut |p: &[u8]| dedup.store_node(p))?;
        }
    }
    let root = tree.finish(&mut |p: &[u8]| dedup.store_node(p))?;
    Ok(Some(TocRef {
        format: format.to_string(),
        tree: root.root,
        size: lines.len() as u64,
        digest: Id(*blake3::hash(&lines).as_bytes()),
        objects: toc.objects.len() as u64,
        not_understood: contents::not_understood(&toc),
    }))
}
