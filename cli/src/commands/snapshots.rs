//! `dbvault snapshots`.

use std::collections::HashMap;

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
    /// When the snapshot was last drilled, and how it went (none: never).
    pub last_drill: Option<DrillBrief>,
}

/// A snapshot's last drill (SPEC.md section 9.5), as `snapshots`, `log` and `show` print it.
#[derive(Clone, Serialize)]
pub struct DrillBrief {
    /// When it ended.
    pub time: Timestamp,
    /// Whether every check passed.
    pub passed: bool,
    /// `postgresql` or `mariadb`.
    pub engine: String,
    /// The server's version.
    pub server_version: String,
}

impl DrillBrief {
    /// The last drill of each snapshot.
    pub fn all(repo: &Repository) -> Result<HashMap<Id, DrillBrief>> {
        Ok(store::drill_records::last_by_snapshot(repo)?
            .into_iter()
            .map(|(id, r)| (id, DrillBrief { time: r.end, passed: r.passed, engine: r.engine, server_version: r.server_version }))
            .collect())
    }

    /// In a table's column: `passed 2026-12-07 03:10`, `FAILED ...`, `-` for none.
    pub fn column(d: Option<&DrillBrief>) -> String {
        d.map_or_else(|| "-".into(), |d| format!("{} {}", if d.passed { "passed" } else { "FAILED" }, output::local_time(d.time)))
    }
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
            last_drill: None,
        }
    }

    /// The document of `s` with its last drill from `drills` ([`DrillBrief::all`]).
    pub fn with_drill(s: &'a Snapshot, drills: &HashMap<Id, DrillBrief>) -> Self {
        SnapshotDoc { last_drill: drills.get(&s.id).cloned(), ..Self::of(s) }
    }
}

pub fn run(g: &Global, repo: &Repository, a: &SnapshotsArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let list = snapshot::list_some(repo, &index, a.db.as_deref())?;
    let drills = DrillBrief::all(repo)?;
    if g.json {
        output::json(&list.iter().map(|s| SnapshotDoc::with_drill(s, &drills)).collect::<Vec<_>>())?;
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
            let drill = DrillBrief::column(drills.get(&s.id));
            vec![s.id.short(), output::local_time(m.end), m.db.clone(), m.host.clone(), output::size(m.size), output::size(m.added.stored_bytes), drill, tags]
        })
        .collect();
    output::table(&["ID", "TIME", "DB", "HOST", "SIZE", "ADDED", "LAST DRILL", "TAGS"], &rows)?;
    crate::outln!("{} snapshot(s)", list.len());
    Ok(())
}
