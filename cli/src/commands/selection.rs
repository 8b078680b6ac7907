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

use super::script_encoding::ScriptEncoding;
use crate::cli::{Global, RestoreArgs};

/// The part of a dump to restore, planned.
pub struct Selection {
    /// Dump ranges to copy, in order.
    ranges: Vec<Range<u64>>,
    /// Notes written before each range, and after the last, in the dump's encoding.
    notes_before: Vec<Vec<u8>>,
    notes_after: Vec<u8>,
    /// What was chosen.
    pub plan: Plan,
    /// What reading it took, once written.
    pub read: Cell<ExtractSummary>,
    /// A pg_dump custom archive's part, which pg_restore writes.
    handover: Option<super::handover::Handover>,
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

    /// What was read to write it, and how it was verified.
    pub fn what_was_read(&self, dump_size: u64) -> String {
        match self.handover.as_ref().map(|h| h.fed_whole.get()) {
            Some(true) => format!("read the {} archive whole into pg_restore, its digest verified", crate::output::size(dump_size)),
            Some(false) => "pg_restore stopped reading the archive once it had its entries: what it read was authenticated, the whole archive's digest not checked".into(),
            None => {
                let read = self.read.get();
                format!("read {} in {} chunk(s) of the {} dump, every chunk verified", crate::output::size(read.chunk_bytes), read.chunks, crate::output::size(dump_size))
            }
        }
    }

    /// Bytes the script will hold (a custom archive's: the archive's, read whole).
    pub fn len(&self) -> u64 {
        if self.handover.is_some() {
            return 0;
        }
        self.ranges.iter().map(|r| r.end - r.start).sum::<u64>() + self.notes_before.iter().map(|n| n.len() as u64).sum::<u64>() + self.notes_after.len() as u64
    }

    /// Write the script to `out`, every chunk it reads proven against its id.
    pub fn write(&self, repo: &Repository, index: &Index, snap: &Snapshot, out: &mut dyn Write, progress: &(dyn Fn(u64) + Sync)) -> store::Result<RestoreSummary> {
        if let Some(h) = &self.handover {
            let s = h.write(repo, index, snap, out, progress)?;
            self.read.set(ExtractSummary { bytes: s.bytes, chunks: s.chunks, chunk_bytes: snap.manifest.size, elapsed: s.elapsed });
            return Ok(s);
        }
        let mut written = 0u64;
        let mut next = 0usize;
        let io = |e| store::StoreError::io("writing the restored script", e);
        let mut summary = ExtractSummary::default();
        // The script's ranges, in runs that go forward through the dump (rows loaded parents
        // first may go back): one extraction per run.
        let mut start = 0;
        while start < self.ranges.len() {
            let run = 1 + self.ranges[start..].windows(2).take_while(|w| w[0].end <= w[1].start).count();
            let part = store::extract::ranges(repo, index, snap, &self.ranges[start..start + run], &mut |i, bytes| {
                while next <= start + i {
                    out.write_all(&self.notes_before[next])?;
                    written += self.notes_before[next].len() as u64;
                    next += 1;
                }
                out.write_all(bytes)?;
                written += bytes.len() as u64;
                progress(written);
                Ok(())
            })?;
            summary.bytes += part.bytes;
            summary.chunks += part.chunks;
            summary.chunk_bytes += part.chunk_bytes;
            summary.elapsed += part.elapsed;
            start += run;
        }
        for n in &self.notes_before[next..] {
            out.write_all(n).map_err(io)?;
        }
        out.write_all(&self.notes_after).map_err(io)?;
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

/// What a failed choice of a part of `snap` is: a damaged or unreadable repository as itself, what
/// the user asked for (no such table, ...) as a usage error.
pub fn select_failed(snap: &Snapshot, e: toc::select::SelectError) -> anyhow::Error {
    match e {
        toc::select::SelectError::Read(io) => anyhow::anyhow!(io).context(format!("reading snapshot {}", snap.id.short())),
        e => crate::exit::usage(e.to_string()),
    }
}

/// Plan the part of `snap`'s dump that `req` asks for, from its table of contents (the one table
/// asked for renamed to `rename_to`, if given).
pub fn plan(g: &Global, repo: &Repository, index: &Index, snap: &Snapshot, req: &Request, rename_to: Option<&str>) -> Result<Selection> {
    let format = snap.manifest.source.format.as_deref();
    if format == Some("pg_dump-custom") {
        let (handover, plan) = super::handover::plan(g, repo, index, snap, req, rename_to)?;
        return Ok(Selection { ranges: Vec::new(), notes_before: Vec::new(), notes_after: Vec::new(), plan, read: Cell::new(ExtractSummary::default()), handover: Some(handover) });
    }
    let dialect = match format.and_then(Dialect::of_format) {
        Some(d) => d,
        None => {
            let what = format.map_or("a stream not recognised as a dump".to_string(), |f| format!("a {f} dump"));
            return Err(crate::exit::usage(format!(
                "snapshot {} holds {what}: --table, --schema, --database, --schema-only and --data-only work on pg_dump plain and custom, pg_dumpall, mysqldump and T-SQL dumps (restore the whole dump instead)",
                snap.id.short()
            )));
        }
    };
    let toc = super::contents::read(g, repo, index, snap)?;
    if let Some(d) = &req.database
        && toc.objects.iter().all(|o| o.database.is_none())
    {
        return Err(crate::exit::usage(format!(
            "snapshot {} holds a dump of one database, so there is no database {d:?} to choose: --database chooses among the databases of a pg_dumpall or mysqldump --databases dump",
            snap.id.short()
        )));
    }
    if !req.schemas.is_empty() && dialect == Dialect::MySql {
        return Err(crate::exit::usage("--schema is for PostgreSQL dumps; a MySQL database is chosen with --database, a table with --table DATABASE.NAME"));
    }
    let encoding = ScriptEncoding::of(snap);
    let mut read = encoding.text_reader(repo, index, snap);
    let failed = |e| select_failed(snap, e);
    let mut plan = toc::select::plan(&toc, dialect, req, &mut read).map_err(failed)?;
    for w in &plan.warnings {
        crate::errln!("dbvault: warning: {w}");
    }
    if let Some(new_name) = rename_to {
        toc::rename::rename(&mut plan, &toc, dialect, new_name, &mut read).map_err(failed)?;
    }
    let (mut ranges, mut notes_before, mut pending) = (Vec::new(), Vec::new(), Vec::new());
    pending.extend_from_slice(encoding.bom());
    if dialect == Dialect::TSql
        && let Some(db) = &plan.database
    {
        // SSMS scripts open with `USE [master]`, left out: the part goes to its own database.
        pending.extend(encoding.encode(&format!("USE [{}]\nGO\n", db.replace(']', "]]"))));
    }
    for piece in &plan.pieces {
        match piece {
            Piece::Note(n) => pending.extend(encoding.encode(n)),
            Piece::Dump(r) => {
                // The dump's own byte order mark is written first, once.
                let r = if r.start == 0 { encoding.bom().len() as u64..r.end.max(encoding.bom().len() as u64) } else { r.clone() };
                ranges.push(r);
                notes_before.push(std::mem::take(&mut pending));
            }
        }
    }
    Ok(Selection { ranges, notes_before, notes_after: pending, plan, read: Cell::new(ExtractSummary::default()), handover: None })
}
