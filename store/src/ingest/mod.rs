//! Ingest: one dump stream in, one snapshot out.
//!
//! - `pipeline`: the threads, from the first byte read to the last segment written: a reader
//!   cuts the stream into chunks, `dedup` decides what is new and builds the chunk-list tree,
//!   `seal` compresses, patches and encrypts new chunks in parallel, `sink` appends them to
//!   packs in stream order and writes index segments.
//! - [`acceptance`]: whether the stream may become a snapshot (a failed producer, an empty or
//!   truncated dump may not), decided before the commit point.
//! - `contents`: the table of contents, built as the stream passes (on the deduplicating thread)
//!   and stored as its objects complete, under a chunk-list tree of its own.
//! - [`options`]: what the caller asks for, including whose snapshot it makes ([`Lineage`]: a new
//!   one, or a copy of another repository's).
//!
//! Deltas (format version 2): a [`BaseFinder`] walks the parent snapshot's chunk list alongside the
//! stream and proposes a base for each new chunk; the sealing stage stores a chunk as a patch when
//! that is clearly smaller. The rules are in [`crate::delta`]. The new chunks' super-features
//! enter the local index at the commit.
//!
//! Write order (SPEC.md section 11): packs are durable before the index segment that lists them;
//! this run's segments are applied to the index only after the last one is written; the commit point
//! is the creation of the manifest under `snapshots/`. A failure or crash before it leaves only
//! unreferenced packs and segments, which never make a snapshot and which prune removes.

use std::time::{Duration, Instant};

pub use chunker::{Input, PinnedFile};
use jiff::Timestamp;
use repo_format::manifest::Manifest;
use repo_format::Id;

use crate::delta::BaseFinder;
use crate::pack::PackReader;
use crate::repository::{Repository, hostname};
use crate::snapshot::Snapshot;
use crate::tree::TreeWalk;
use crate::{Result, StoreError};

pub mod acceptance;
mod contents;
mod dedup;
pub mod options;
mod pipeline;
mod seal;
mod sink;

pub use acceptance::{STDERR_LINE_BYTES, STDERR_LINES, shorten};
pub use options::{CopyOf, IngestOptions, Lineage, Physical, ProducerOutcome};

/// What an ingest did.
#[derive(Clone, Debug)]
pub struct IngestSummary {
    /// The committed snapshot.
    pub snapshot: Snapshot,
    /// Wall time from first read to commit.
    pub elapsed: Duration,
}

/// Ingest `input` as a new snapshot of `opts.db`.
///
/// Refused before the commit point (no snapshot, only unreferenced packs left for prune): an empty
/// stream, a failed producer, and a recognised dump whose completion marker is missing (unless
/// `allow_incomplete`).
pub fn ingest<R: std::io::Read + Send>(repo: &Repository, input: R, opts: IngestOptions<'_>) -> Result<IngestSummary> {
    ingest_input(repo, Input::Stream(input), opts)
}

/// Ingest `input`, a stream or a file, as [`ingest`] does.
pub fn ingest_input<R: std::io::Read + Send>(repo: &Repository, input: Input<R>, mut opts: IngestOptions<'_>) -> Result<IngestSummary> {
    opts.lineage.check_labels(&opts)?;
    let started = Timestamp::now();
    let t0 = Instant::now();
    // Held (shared) for the whole run: prune deletes packs only while holding it exclusively, so
    // it never removes a chunk this run has deduplicated against (SPEC.md section 13).
    let _ingesting = repo.ingest_lock()?;
    // The same across machines, for a remote repository.
    let lease = crate::lease::take(repo, repo_format::lease::LeaseKind::Ingest)?;
    crate::pack::clean_orphans(&repo.tmp_dir()?)?;
    let index = repo.index_reader()?;
    let wal = match (&opts.physical, &opts.lineage) {
        (_, Lineage::Copy(c)) => c.manifest.wal.clone(),
        (Physical::Wal(w), Lineage::New) => Some(w.clone()),
        _ => None,
    };
    if wal.is_none() {
        options::refuse_look_alike(repo, &index, &opts.db)?;
    }
    let reader = PackReader::new(repo);
    // A WAL file is never stored as deltas: its neighbours share no rows, and a push stays cheap.
    let bases = if repo.config().writes_deltas() && !opts.no_deltas && wal.is_none() {
        let parent = opts.lineage.delta_parent(repo, &index, &opts.db)?;
        let walk = parent.map(|p| {
            // A damaged parent ends the walk: the ingest goes on without proposals, nothing is lost.
            let mut walk = TreeWalk::new(&reader, &index, p.manifest.tree);
            Box::new(std::iter::from_fn(move || walk.next_chunk().ok().flatten())) as Box<dyn Iterator<Item = _>>
        });
        Some(BaseFinder::new(walk))
    } else {
        None
    };
    let mapped_input = match &input {
        Input::Pinned(file) => Some(std::sync::Arc::clone(file)),
        Input::Stream(_) => None,
    };
    let streamed = pipeline::run(repo, &index, input, bases, &mut opts)?;
    drop(index);

    // Commit: with the writer role, apply our segments, find the parent, write the manifest.
    let writer = streamed.index_writer;
    let stamp = repo.catch_up_for_commit(&writer, &streamed.segments)?;
    writer.put_features(&streamed.features)?;
    let tag = match &wal {
        Some(_) => crate::index::wal_tag(repo.keys(), &opts.db),
        None => repo.keys().name_tag(&opts.db),
    };
    let place = opts.lineage.place(started, || writer.latest_of(&tag))?;
    let base = match &opts.lineage {
        Lineage::Copy(c) => c.manifest.base.clone(),
        Lineage::New => streamed.base,
    };
    // A base backup of another cluster than the one whose WAL the database archives could never
    // be recovered with that WAL.
    if let (Lineage::New, Some(b)) = (&opts.lineage, &base)
        && let Some(id) = writer.latest_of(&crate::index::wal_tag(repo.keys(), &opts.db))?
        && let Some(w) = writer.snapshot(&id)?.and_then(|bytes| Manifest::decode(repo.keys(), &bytes).ok()).and_then(|m| m.wal)
        && w.cluster != b.cluster
    {
        return Err(StoreError::WalOtherCluster { db: opts.db, archived: w.cluster, pushed: b.cluster, file: "the base backup".into() });
    }
    let manifest = Manifest {
        version: 1,
        db: opts.db,
        host: opts.host.unwrap_or_else(hostname),
        tags: opts.tags,
        start: place.start,
        end: place.end,
        parent: place.parent,
        size: streamed.size,
        digest: streamed.digest,
        tree: streamed.root.root,
        chunks: streamed.root.chunks,
        added: streamed.added,
        source: streamed.source,
        incomplete: streamed.incomplete,
        client: format!("dbvault {}", env!("CARGO_PKG_VERSION")),
        origin: place.origin,
        toc: streamed.toc,
        wal,
        base,
    };
    let sealed = manifest.encode(repo.keys()).map_err(|e| StoreError::format("snapshot manifest", e))?;
    // Never commit a manifest that could not be read back (readers bound what they accept).
    Manifest::decode(repo.keys(), &sealed).map_err(|e| StoreError::format("the new snapshot's manifest (nothing was committed)", e))?;
    let id = Id::of_bytes(&sealed);
    crate::lease::check(&lease)?;
    if let Some(file) = &mapped_input {
        // Ids and digest were computed from its bytes: they must not have changed since.
        file.check().map_err(|source| StoreError::Input { offset: manifest.size, source })?;
    }
    repo.backend().put_new(&repo_format::object_key::snapshot(&id), &sealed)?; // the commit point
    writer.put_snapshot(&id, &sealed, &crate::index::Listing::of(repo.keys(), &manifest))?;
    repo.record_stamp_after_change(&writer, stamp)?;
    Ok(IngestSummary { snapshot: Snapshot { id, manifest }, elapsed: t0.elapsed() })
}
