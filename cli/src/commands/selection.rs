//! `restore --table / --schema / --database / --schema-only / --data-only`: a script that recreates
//! part of a dump, chosen from its table of contents ([`toc::select`]) and read from the chunks that
//! hold it alone ([`store::extract`]).

use std::cell::Cell;
use std::io::Write;
use std::ops::Range;

use anyhow::Result;
use serde::Serialize;
use store::Repository;
use store::extract::ExtractSummary;
use store::index::Index;
use store::restore::RestoreSummary;
use store::snapshot::Snapshot;
use toc::select::{Dialect, Parts, Piece, Plan, Request};

use crate::cli::{Global, RestoreArgs};

/// The part of a dump to restore, planned.
pub struct Selection {
    /// Dump ranges to copy, in order.
    ranges: Vec<Range<u64>>,
    /// Notes written before each range, and after the last.
    notes_before: Vec<String>,
    notes_after: String,
    /// What was chosen.
    pub plan: Plan,
    /// What reading it took, once written.
    pub read: Cell<ExtractSummary>,
}

/// What `restore --json` says of a partial restore.
#[derive(Serialize)]
pub struct SelectionDoc<'a> {
    /// The tables and views chosen, qualified.
    pub tables: &'a [String],
    /// Objects of the dump written.
    pub objects: usize,
    /// Plaintext bytes of the chunks read (the dump's bytes written, plus what their chunks
    /// hold beyond them).
    pub bytes_read: u64,
    /// Chunks read.
    pub chunks_read: u64,
}

impl Selection {
    /// The document for `--json`.
    pub fn doc(&self) -> SelectionDoc<'_> {
        let r = self.read.get();
        SelectionDoc { tables: &self.plan.tables, objects: self.plan.objects.len(), bytes_read: r.chunk_bytes, chunks_read: r.chunks }
    }

    /// Bytes the script will hold.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum::<u64>() + self.notes_before.iter().map(|n| n.len() as u64).sum::<u64>() + self.notes_after.len() as u64
    }

    /// Write the script to `out`, every chunk it reads proven against its id.
    pub fn write(&self, repo: &Repository, index: &Index, snap: &Snapshot, out: &mut dyn Write, progress: &(dyn Fn(u64) + Sync)) -> store::Result<RestoreSummary> {
        let mut written = 0u64;
        let mut next = 0usize;
        let io = |e| store::StoreError::io("writing the restored script", e);
        let summary = store::extract::ranges(repo, index, snap, &self.ranges, &mut |i, bytes| {
            while next <= i {
                out.write_all(self.notes_before[next].as_bytes())?;
                written += self.notes_before[next].len() as u64;
                next += 1;
            }
            out.write_all(bytes)?;
            written += bytes.len() as u64;
            progress(written);
            Ok(())
        })?;
        for n in &self.notes_before[next..] {
            out.write_all(n.as_bytes()).map_err(io)?;
        }
        out.write_all(self.notes_after.as_bytes()).map_err(io)?;
        out.flush().map_err(io)?;
        self.read.set(summary);
        Ok(RestoreSummary { bytes: self.len(), chunks: summary.chunks, elapsed: summary.elapsed })
    }
}

/// What the arguments ask for, if only a part of the dump.
pub fn request(a: &RestoreArgs) -> Option<Request> {
    let parts = if a.schema_only {
        Parts::SchemaOnly
    } else if a.data_only {
        Parts::DataOnly
    } else {
        Parts::All
    };
    let partial = !a.tables.is_empty() || !a.schemas.is_empty() || a.database.is_some() || parts != Parts::All;
    partial.then(|| Request { tables: a.tables.clone(), schemas: a.schemas.clone(), database: a.database.clone(), parts })
}

/// Plan the part of `snap`'s dump that `req` asks for, from its table of contents.
pub fn plan(g: &Global, repo: &Repository, index: &Index, snap: &Snapshot, req: &Request) -> Result<Selection> {
    let dialect = match snap.manifest.source.format.as_deref() {
        Some("pg_dump-plain" | "pg_dumpall") => Dialect::Postgres,
        Some("mysqldump") => Dialect::MySql,
        other => {
            let what = other.map_or("a stream not recognised as a dump".to_string(), |f| format!("a {f} dump"));
            return Err(crate::exit::usage(format!(
                "snapshot {} holds {what}: --table, --schema, --database, --schema-only and --data-only work on pg_dump plain, pg_dumpall and mysqldump dumps (restore the whole dump instead)",
                snap.id.short()
            )));
        }
    };
    let toc = super::contents::read(g, repo, index, snap)?;
    if !req.schemas.is_empty() && dialect == Dialect::MySql {
        return Err(crate::exit::usage("--schema is for PostgreSQL dumps; a MySQL database is chosen with --database, a table with --table DATABASE.NAME"));
    }
    let mut read = |ranges: &[Range<u64>]| store::extract::read_ranges(repo, index, snap, ranges).map_err(std::io::Error::other);
    let plan = toc::select::plan(&toc, dialect, req, &mut read).map_err(|e| match e {
        toc::select::SelectError::Read(io) => anyhow::anyhow!(io).context(format!("reading snapshot {}", snap.id.short())),
        e => crate::exit::usage(e.to_string()),
    })?;
    let (mut ranges, mut notes_before, mut pending) = (Vec::new(), Vec::new(), String::new());
    for piece in &plan.pieces {
        match piece {
            Piece::Note(n) => pending.push_str(n),
            Piece::Dump(r) => {
                ranges.push(r.clone());
                notes_before.push(std::mem::take(&mut pending));
            }
        }
    }
    Ok(Selection { ranges, notes_before, notes_after: pending, plan, read: Cell::new(ExtractSummary::default()) })
}
