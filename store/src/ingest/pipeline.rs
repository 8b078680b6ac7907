//! The threads of an ingest, from the first byte read to the last segment written.
//!
//! A reader thread reads the stream and cuts it into chunks; batches travel through a bounded
//! channel to the calling thread ([`Dedup`]), which hashes them, decides what is new, extends the
//! chunk-list tree and starts a parallel sealing job per batch (rayon); the pack writer thread
//! ([`PackSink`]) takes the sealed batches in stream order and appends them to packs. Memory is
//! bounded by the batches in flight, whatever the stream's size.

use std::sync::mpsc::sync_channel;

use chunker::{Batch, Chunker, Input};
use repo_format::Id;
use repo_format::contents::TocRef;
use repo_format::manifest::{Added, Source};
use repo_format::postgres::BaseBackup;
use repo_format::tree::{TreeBuilder, TreeRoot};

use super::acceptance::Edges;
use super::dedup::Dedup;
use super::sink::{PackSink, ToPacks, Written, writer_gone};
use super::IngestOptions;
use crate::delta::BaseFinder;
use crate::dump;
use crate::index::Index;
use crate::repository::Repository;
use crate::{Result, StoreError};

/// Bytes per batch handed from the reader thread to the sealing stage: 4 MiB rather than 8 lowers
/// peak memory at the same speed (benches/log/2026-12-03-early-index-4mib-batches-run-bb.md).
const BATCH_BYTES: usize = 4 << 20;
/// Batches in flight between reader and sealer (bounds memory).
const QUEUE_DEPTH: usize = 2;

/// A stream read, judged and stored in packs and segments, not yet committed.
pub(super) struct Streamed {
    /// The stream's digest.
    pub digest: Id,
    /// Its length.
    pub size: u64,
    /// What the manifest says of it.
    pub source: Source,
    /// Whether it is kept although its completion marker is missing.
    pub incomplete: bool,
    /// The chunk list's root.
    pub root: TreeRoot,
    /// The stored table of contents, if the stream's format has a parser.
    pub toc: Option<TocRef>,
    /// The base backup the stream is, if it is a whole one.
    pub base: Option<BaseBackup>,
    /// What was added (chunks, bytes, deltas).
    pub added: Added,
    /// The new chunks' super-features, for the local index.
    pub features: Vec<(u64, Id)>,
    /// The index segments this run wrote.
    pub segments: Vec<Id>,
    /// The index opened for writing (the writer role), for the commit.
    pub index_writer: Index,
}

/// Read `input` through the pipeline against `index` (read-only view), store what is new, judge
/// the stream as `lineage` says, and open the index for the commit.
pub(super) fn run<R: std::io::Read + Send>(
    repo: &Repository,
    index: &Index,
    input: Input<R>,
    bases: Option<BaseFinder<'_>>,
    opts: &mut IngestOptions<'_>,
) -> Result<Streamed> {
    let params = repo.chunker_params()?;
    let mut dedup = Dedup::new(repo, index, bases);
    dedup.contents = Some(super::contents::Contents::new(repo)?);
    let mut tree = TreeBuilder::new();
    let (tx, rx) = sync_channel::<Batch>(QUEUE_DEPTH);
    let (packs, to_packs) = sync_channel::<ToPacks>(QUEUE_DEPTH);
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    let (progress, producer, allow_incomplete) = (opts.progress, opts.producer.take(), opts.allow_incomplete);
    let lineage = &opts.lineage;
    let physical = &opts.physical;

    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut edges = Edges::default();
            let mut chunks = match Chunker::with_input(input, params, BATCH_BYTES) {
                Ok(c) => c,
                Err(e) => return (0, edges, Some(e)),
            };
            loop {
                while let Ok(buf) = recycled.try_recv() {
                    chunks.recycle(buf);
                }
                match chunks.next_batch() {
                    Ok(Some(b)) => {
                        edges.update(&b.data);
                        if tx.send(b).is_err() {
                            return (chunks.position(), edges, None); // the sealer gave up
                        }
                    }
                    Ok(None) => return (chunks.position(), edges, None),
                    Err(e) => return (chunks.position(), edges, Some(e)),
                }
            }
        });
        let sink_thread = s.spawn(move || PackSink::new(repo).run(to_packs));
        let mut processed = 0u64;
        let result = rayon::in_place_scope(|scope| {
            rx.iter().try_for_each(|batch| {
                let len = batch.data.len() as u64;
                dedup.process(batch, &mut tree, &packs, &recycle, scope)?;
                processed += len;
                if let Some(p) = progress {
                    p(processed);
                }
                Ok(())
            })
        });
        drop(rx);
        // The whole stream is read: take the writer role for the commit now, so that opening the
        // index for writing (mostly waiting for its fsyncs) overlaps the sealing of the last
        // batches. Its segments are applied after ours are written.
        let opening = result.is_ok().then(|| s.spawn(|| repo.open_index_writer()));
        let (len, edges, read_error) = reader.join().expect("the reader thread does not panic");
        // Judge the stream before the last pack is closed; a refused stream leaves its packs to
        // prune and discards the open one (the sink sees the channel close without `Finish`).
        let finished = result.and_then(|()| {
            if let Some(source) = read_error {
                return Err(StoreError::Input { offset: len, source });
            }
            let toc = match dedup.contents.take() {
                Some(c) => c.finish(&mut dedup)?,
                None => None,
            };
            let mut info = dump::recognize(&edges.head, &edges.tail);
            // A format without a completion line (a pg_dump custom archive) is whole when its
            // parser read every part it announces to the end.
            if info.completion_marker.is_none() {
                info.completion_marker = toc.as_ref().and_then(|(_, whole)| *whole);
            }
            let toc = toc.map(|(r, _)| r);
            let base = physical.recognise(&mut info, edges.base)?;
            let (source, incomplete) = lineage.describe(&info, len, producer.map(|p| p()), allow_incomplete)?;
            let root = tree.finish(&mut |p: &[u8]| dedup.store_node(p))?;
            packs.send(ToPacks::Finish { nodes: std::mem::take(&mut dedup.nodes) }).map_err(|_| writer_gone())?;
            Ok((len, source, incomplete, root, toc, base))
        });
        drop(packs);
        let written = sink_thread.join().expect("the pack sink does not panic");
        let opened = opening.map(|o| o.join().expect("opening the index does not panic"));
        // The sink's own error explains a "pack writer stopped" seen here.
        let ((size, source, incomplete, root, toc, base), written) = match (finished, written) {
            (Ok(f), Ok(Some(w))) => (f, w),
            (_, Err(e)) | (Err(e), _) => return Err(e),
            (Ok(_), Ok(None)) => return Err(writer_gone()),
        };
        let index_writer = opened.expect("the index is opened whenever every batch was processed")?;
        let Written { bytes, deltas, features, segments } = written;
        let mut added = std::mem::take(&mut dedup.added);
        added.stored_bytes = bytes;
        added.delta_chunks = deltas.chunks;
        added.delta_raw_bytes = deltas.raw;
        added.delta_stored_bytes = deltas.stored;
        added.delta_alone_bytes = deltas.alone;
        let digest = Id(*dedup.digest.finalize().as_bytes());
        Ok(Streamed { digest, size, source, incomplete, root, toc, base, added, features, segments, index_writer })
    })
}
