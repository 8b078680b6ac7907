//! `dbvault snapshots`.

use anyhow::Result;
use jiff::Timestamp;
use repo_format::Id;
use repo_format::manifest::Source;
use serde::Serialize;
use store::Repository;
use store::snapshot::{self, Snapshot};

use crate::cli::{Global, SnapshotsArgs};
use crate::output;

/// A snapshot as every command that prints snapshots shows it with `--json` (`snapshots`, `log`,
/// `ingest`).
#[derive(Serialize)]
pub struct SnapshotDoc<'a> {
    /// The snapshot's id.
    pub id: Id,
    /// The id's first 8 hex digits.
    pub short_id: String,
    /// Its database.
    pub db: &'a str,
    /// The host the dump came from.
    pub host: &'a str,
    /// When the dump ended.
    pub time: Timestamp,
    /// When the ingest started reading.
    pub start: Timestamp,
    /// The previous snapshot of the database when this one was committed.
    pub parent: Option<Id>,
    /// User tags.
    pub tags: &'a [String],
    /// Dump size in bytes.
    pub size: u64,
    /// BLAKE3 of the dump.
    pub digest: Id,
    /// Data chunks in the dump.
    pub chunks: u64,
    /// Chunks this snapshot stored (the repository lacked them).
    pub new_chunks: u64,
    /// Bytes this snapshot added to the repository.
    pub added_bytes: u64,
    /// Whether the dump is known to be cut short (kept with `--allow-incomplete`).
    pub incomplete: bool,
    /// Where the dump came from, its command line and error lines redacted.
    pub source: Source,
}

impl<'a> SnapshotDoc<'a> {
    /// The document of `s`.
    pub fn of(s: &'a Snapshot) -> Self {
        let m = &s.manifest;
        SnapshotDoc {
            id: s.id,
            short_id: s.id.short(),
            db: &m.db,
            host: &m.host,
            time: m.end,
            start: m.start,
            parent: m.parent,
            tags: &m.tags,
            size: m.size,
            digest: m.digest,
            chunks: m.chunks,
            new_chunks: m.added.chunks,
            added_bytes: m.added.stored_bytes,
            incomplete: m.incomplete,
            source: store::redact::source(&m.source),
        }
    }
}

pub fn run(g: &Global, repo: &Repository, a: &SnapshotsArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let list = snapshot::list_some(repo, &index, a.db.as_deref())?;
    if g.json {
        output::json(&list.iter().map(SnapshotDoc::of).collect::<Vec<_>>())?;
        return Ok(());
    }
    if g.quiet {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let m = &s.manifest;
            let mut tags = m.tags.join(",");
            if m.incomplete {
                tags = format!("INCOMPLETE {tags}");
            }
            vec![s.id.short(), output::local_time(m.end), m.db.clone(), m.host.clone(), output::size(m.size), output::size(m.added.stored_bytes), tags]
        })
        .collect();
    output::table(&["ID", "TIME", "DB", "HOST", "SIZE", "ADDED", "TAGS"], &rows)?;
    crate::outln!("{} snapshot(s)", list.len());
    Ok(())
}
