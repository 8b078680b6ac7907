//! Storing the table of contents an ingest builds (SPEC.md section 9.3), as the stream passes:
//! the objects the parser completes are taken after every batch, their lines appended to a
//! buffer, and the chunks of that buffer whose ends are settled cut and stored at once, under a
//! chunk-list tree of their own. Memory stays bounded whatever the number of objects; the lines of
//! objects unchanged since the day before give the same chunks and deduplicate.

use chunker::Params;
use repo_format::Id;
use repo_format::contents::{self, TocRef};
use repo_format::tree::{TreeBuilder, TreeEntry};

use super::dedup::Dedup;
use crate::contents::Builder;
use crate::repository::Repository;
use crate::Result;

/// The table of contents of the stream so far, partly stored.
pub(super) struct Contents {
    builder: Builder,
    params: Params,
    /// Lines not yet cut into chunks.
    lines: Vec<u8>,
    tree: TreeBuilder,
    size: u64,
    hasher: blake3::Hasher,
    objects: u64,
}

impl Contents {
    /// The table of contents of a new stream of `repo`.
    pub fn new(repo: &Repository) -> Result<Contents> {
        Ok(Contents {
            builder: Builder::new(crate::contents::digest_key(repo)),
            params: repo.chunker_params()?,
            lines: Vec::new(),
            tree: TreeBuilder::new(),
            size: 0,
            hasher: blake3::Hasher::new(),
            objects: 0,
        })
    }

    /// The stream's next bytes; the objects they complete are stored once a chunk of their lines is
    /// settled.
    pub fn feed(&mut self, data: &[u8], dedup: &mut Dedup) -> Result<()> {
        self.builder.feed(data);
        let done = self.builder.take_objects();
        self.objects += done.len() as u64;
        contents::encode_objects(&done, &mut self.lines);
        if self.lines.len() >= 2 * self.params.max_size() {
            self.store(dedup, false)?;
        }
        Ok(())
    }

    /// Cut and store the settled chunks of the lines (all of them at the end of the stream).
    fn store(&mut self, dedup: &mut Dedup, eof: bool) -> Result<()> {
        let chunks = self.params.settled_chunks(&self.lines, eof, usize::MAX);
        let Some(end) = chunks.last().map(|c| c.end) else { return Ok(()) };
        for c in chunks {
            let chunk = &self.lines[c];
            self.hasher.update(chunk);
            let id = dedup.store_chunk(chunk)?;
            self.tree.push(TreeEntry { id, len: chunk.len() as u64 }, &mut |p: &[u8]| dedup.store_node(p))?;
        }
        self.size += end as u64;
        self.lines.drain(..end);
        Ok(())
    }

    /// The stream has ended: store the rest; the reference for the manifest, if the stream had a
    /// parser, and whether the parser saw the dump end whole ([`toc::Toc::whole`]).
    pub fn finish(mut self, dedup: &mut Dedup) -> Result<Option<(TocRef, Option<bool>)>> {
        let Some((format, rest)) = std::mem::replace(&mut self.builder, Builder::new([0; 32])).finish() else { return Ok(None) };
        self.objects += rest.objects.len() as u64;
        contents::encode_objects(&rest.objects, &mut self.lines);
        self.store(dedup, true)?;
        let root = self.tree.finish(&mut |p: &[u8]| dedup.store_node(p))?;
        let whole = rest.whole;
        Ok(Some((
            TocRef {
            format: format.to_string(),
            tree: root.root,
            size: self.size,
            digest: Id(*self.hasher.finalize().as_bytes()),
            objects: self.objects,
            not_understood: contents::not_understood(&rest),
            },
            whole,
        )))
    }
}
