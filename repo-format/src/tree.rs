//! A snapshot's chunk list, stored as a tree of chunk-list nodes.
//!
//! A node's plaintext is `level: u8` followed by 40-byte entries `id (32) || length: u64 LE`.
//! Level-0 entries name data chunks and their plaintext length; level-n entries name level-(n-1)
//! nodes and the number of stream bytes below them. Concatenating the level-0 entries in order
//! gives the stream.
//!
//! Node boundaries are content-defined: a node closes after an entry whose id's first four bytes,
//! read as u32 LE, are a multiple of [`AVG_FANOUT`] (once it holds [`MIN_FANOUT`] entries), or when
//! it reaches [`MAX_FANOUT`]. So an unchanged run of chunks yields the same nodes as the day
//! before, and chunk lists deduplicate against their parent's. `MIN_FANOUT` guarantees that every
//! level is smaller than the one below, so the tree always has a single root.

use crate::{FormatError, Id, le_u64};

const KIND: &str = "chunk-list node";
/// Bytes of one entry.
pub const ENTRY_LEN: usize = 40;
/// Average entries per node.
pub const AVG_FANOUT: u32 = 64;
/// A node never closes by content before holding this many entries.
pub const MIN_FANOUT: usize = 4;
/// A node always closes at this many entries.
pub const MAX_FANOUT: usize = 1024;
/// Deepest tree a reader accepts (64 levels of fanout >= 4 exceed any stream).
pub const MAX_LEVEL: u8 = 32;

/// A chunk of the stream: its id, length and offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamChunk {
    /// The data chunk.
    pub id: Id,
    /// Its plaintext length.
    pub len: u64,
    /// Its offset in the stream.
    pub offset: u64,
}

/// One entry of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    /// The chunk (level 0) or child node (level > 0).
    pub id: Id,
    /// Stream bytes covered.
    pub len: u64,
}

/// A decoded node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// 0 for nodes that list data chunks.
    pub level: u8,
    /// Entries in stream order.
    pub entries: Vec<TreeEntry>,
}

impl Node {
    /// Encode a node's plaintext.
    pub fn encode(level: u8, entries: &[TreeEntry]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + entries.len() * ENTRY_LEN);
        out.push(level);
        for e in entries {
            out.extend_from_slice(&e.id.0);
            out.extend_from_slice(&e.len.to_le_bytes());
        }
        out
    }

    /// Decode a node's plaintext.
    pub fn decode(b: &[u8]) -> Result<Node, FormatError> {
        let Some((&level, rest)) = b.split_first() else {
            return Err(FormatError::malformed(KIND, "empty node"));
        };
        if level > MAX_LEVEL {
            return Err(FormatError::malformed(KIND, format!("level {level} is deeper than any real tree")));
        }
        if rest.len() % ENTRY_LEN != 0 || rest.len() / ENTRY_LEN > MAX_FANOUT {
            return Err(FormatError::malformed(KIND, format!("{} bytes of entries is not a valid node", rest.len())));
        }
        let entries = rest
            .chunks_exact(ENTRY_LEN)
            .map(|e| TreeEntry { id: Id::from_slice(&e[..32]).expect("32 bytes"), len: le_u64(e, 32) })
            .collect();
        Ok(Node { level, entries })
    }

    /// Stream bytes covered by this node.
    pub fn total_len(&self) -> u64 {
        self.entries.iter().map(|e| e.len).sum()
    }
}

fn closes_here(entries: &[TreeEntry]) -> bool {
    let Some(last) = entries.last() else { return false };
    entries.len() >= MAX_FANOUT
        || (entries.len() >= MIN_FANOUT
            && u32::from_le_bytes(last.id.0[..4].try_into().expect("4 bytes")) % AVG_FANOUT == 0)
}

/// What a finished tree is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeRoot {
    /// The root node's id.
    pub root: Id,
    /// Stream bytes in the tree.
    pub len: u64,
    /// Data chunk entries in the tree.
    pub chunks: u64,
}

/// Builds a chunk-list tree from a stream of chunk entries. Pure: finished nodes go to the
/// `emit` callback, which stores them and returns their id.
pub struct TreeBuilder {
    levels: Vec<Vec<TreeEntry>>,
    chunks: u64,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        TreeBuilder { levels: vec![Vec::new()], chunks: 0 }
    }
}

impl TreeBuilder {
    /// A builder for an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append the next data chunk of the stream.
    pub fn push<E>(&mut self, entry: TreeEntry, emit: &mut impl FnMut(&[u8]) -> Result<Id, E>) -> Result<(), E> {
        self.chunks += 1;
        self.push_at(0, entry, emit)
    }

    fn push_at<E>(&mut self, level: usize, entry: TreeEntry, emit: &mut impl FnMut(&[u8]) -> Result<Id, E>) -> Result<(), E> {
        if self.levels.len() == level {
            self.levels.push(Vec::new());
        }
        self.levels[level].push(entry);
        if closes_here(&self.levels[level]) {
            self.close(level, emit)?;
        }
        Ok(())
    }

    fn close<E>(&mut self, level: usize, emit: &mut impl FnMut(&[u8]) -> Result<Id, E>) -> Result<(), E> {
        let entries = std::mem::take(&mut self.levels[level]);
        let plain = Node::encode(level as u8, &entries);
        let id = emit(&plain)?;
        let len = entries.iter().map(|e| e.len).sum();
        self.push_at(level + 1, TreeEntry { id, len }, emit)
    }

    /// Close every open node and return the root.
    pub fn finish<E>(mut self, emit: &mut impl FnMut(&[u8]) -> Result<Id, E>) -> Result<TreeRoot, E> {
        let mut level = 0;
        loop {
            let highest = self.levels[level + 1..].iter().all(Vec::is_empty);
            if highest && level > 0 && self.levels[level].len() == 1 {
                let root = self.levels[level][0];
                return Ok(TreeRoot { root: root.id, len: root.len, chunks: self.chunks });
            }
            if !self.levels[level].is_empty() || (highest && level == 0) {
                self.close(level, emit)?;
            }
            level += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn build(ids: &[Id]) -> (TreeRoot, HashMap<Id, Vec<u8>>) {
        let mut store = HashMap::new();
        let mut emit = |p: &[u8]| -> Result<Id, ()> {
            let id = Id::of_bytes(p);
            store.insert(id, p.to_vec());
            Ok(id)
        };
        let mut b = TreeBuilder::new();
        for id in ids {
            b.push(TreeEntry { id: *id, len: 10 }, &mut emit).unwrap();
        }
        let root = b.finish(&mut emit).unwrap();
        (root, store)
    }

    fn flatten(id: Id, store: &HashMap<Id, Vec<u8>>, out: &mut Vec<Id>) {
        let node = Node::decode(&store[&id]).unwrap();
        for e in node.entries {
            if node.level == 0 { out.push(e.id) } else { flatten(e.id, store, out) }
        }
    }

    fn ids(n: usize, salt: u8) -> Vec<Id> {
        (0..n).map(|i| Id::of_bytes(&[(i % 251) as u8, (i / 251) as u8, salt])).collect()
    }

    #[test]
    fn trees_of_every_size_flatten_back() {
        for n in [0, 1, 2, 5, 63, 64, 65, 1000, 5000] {
            let input = ids(n, 0);
            let (root, store) = build(&input);
            let mut out = Vec::new();
            flatten(root.root, &store, &mut out);
            assert_eq!(out, input, "n = {n}");
            assert_eq!(root.len, 10 * n as u64);
            assert_eq!(root.chunks, n as u64);
        }
    }

    #[test]
    fn identical_chunks_still_give_one_root() {
        // Every entry satisfies the content rule when all ids are equal: MIN_FANOUT must still shrink each level.
        let mut id = Id::default();
        id.0[..4].copy_from_slice(&0u32.to_le_bytes());
        let input = vec![id; 10_000];
        let (root, store) = build(&input);
        let mut out = Vec::new();
        flatten(root.root, &store, &mut out);
        assert_eq!(out.len(), 10_000);
    }

    #[test]
    fn a_local_change_keeps_most_nodes() {
        let a = ids(5000, 0);
        let mut b = a.clone();
        b[2500] = Id::of_bytes(b"changed");
        let (_, sa) = build(&a);
        let (_, sb) = build(&b);
        let new = sb.keys().filter(|k| !sa.contains_key(k)).count();
        assert!(new <= 4, "a one-chunk change rewrote {new} nodes");
    }

    #[test]
    fn hostile_nodes_are_errors() {
        assert!(Node::decode(&[]).is_err());
        assert!(Node::decode(&[0, 1, 2]).is_err());
        assert!(Node::decode(&[200]).is_err());
        assert!(Node::decode(&vec![0u8; 1 + ENTRY_LEN * (MAX_FANOUT + 1)]).is_err());
        assert_eq!(Node::decode(&[3]).unwrap().entries.len(), 0);
    }
}
