//! Reading a snapshot's chunk-list tree back as the stream's chunks, in order.
//!
//! The walk holds one node per level (bounded memory whatever the stream size) and checks the
//! tree's shape as it goes: each child sits one level below its parent and covers exactly the
//! bytes its parent's entry says.

use repo_format::blob::BlobKind;
use repo_format::tree::{Node, TreeEntry};
use repo_format::{FormatError, Id};

use crate::index::Index;
use crate::pack::PackReader;
use crate::{Result, StoreError};

pub use repo_format::tree::StreamChunk;

/// Iterates the data chunks of a tree, loading nodes as needed.
pub struct TreeWalk<'a> {
    reader: &'a PackReader<'a>,
    index: &'a Index,
    /// Per level, from the root down: the node's entries, the next position, and the node's level.
    stack: Vec<(Vec<TreeEntry>, usize, u8)>,
    offset: u64,
    root: Option<Id>,
    /// Chunks that end at or before this offset are passed over, and nodes beneath them never
    /// loaded ([`TreeWalk::skip_to`]).
    skip_before: u64,
}

/// A tree-walk failure: which node or chunk, at which stream offset.
#[derive(Debug)]
pub struct WalkError {
    /// The node that could not be used.
    pub node: Id,
    /// Stream offset of the node's first byte.
    pub offset: u64,
    /// Why (boxed: a walk's `Result` stays small).
    pub source: Box<StoreError>,
}

impl<'a> TreeWalk<'a> {
    /// A walk over the tree rooted at `root`.
    pub fn new(reader: &'a PackReader<'a>, index: &'a Index, root: Id) -> Self {
        TreeWalk { reader, index, stack: Vec::new(), offset: 0, root: Some(root), skip_before: 0 }
    }

    /// Pass over the chunks that end at or before `offset`: the next chunk returned is the one
    /// that holds the byte at `offset` (or a later one, if the walk is already past it). Only the
    /// nodes on the way to it are loaded.
    pub fn skip_to(&mut self, offset: u64) {
        self.skip_before = self.skip_before.max(offset);
    }

    fn load(&self, id: &Id, expect_level: Option<u8>, expect_len: Option<u64>) -> Result<Node> {
        let plain = self.reader.load(self.index, id, BlobKind::TreeNode)?;
        let node = Node::decode(&plain).map_err(|e| StoreError::format(format!("chunk-list node {}", id.short()), e))?;
        let bad = |detail: String| StoreError::format(format!("chunk-list node {}", id.short()), FormatError::malformed("chunk-list node", detail));
        if let Some(l) = expect_level.filter(|l| *l != node.level) {
            return Err(bad(format!("has level {}, its parent expects {l}", node.level)));
        }
        if let Some(n) = expect_len.filter(|n| *n != node.total_len()) {
            return Err(bad(format!("covers {} bytes, its parent says {n}", node.total_len())));
        }
        Ok(node)
    }

    /// The next chunk of the stream, `None` at its end.
    pub fn next_chunk(&mut self) -> std::result::Result<Option<StreamChunk>, WalkError> {
        if let Some(root) = self.root.take() {
            let node = self.load(&root, None, None).map_err(|source| WalkError { node: root, offset: 0, source: Box::new(source) })?;
            self.stack.push((node.entries, 0, node.level));
        }
        loop {
            let Some((entries, pos, level)) = self.stack.last_mut() else { return Ok(None) };
            let Some(e) = entries.get(*pos).copied() else {
                self.stack.pop();
                continue;
            };
            *pos += 1;
            if self.offset + e.len <= self.skip_before && e.len > 0 {
                self.offset += e.len;
                continue;
            }
            if *level == 0 {
                let c = StreamChunk { id: e.id, len: e.len, offset: self.offset };
                self.offset += e.len;
                return Ok(Some(c));
            }
            let child_level = *level - 1;
            let node = self.load(&e.id, Some(child_level), Some(e.len)).map_err(|source| WalkError { node: e.id, offset: self.offset, source: Box::new(source) })?;
            self.stack.push((node.entries, 0, node.level));
        }
    }
}
