//! `dbvault diff A B --rows TABLE`: the rows of one table only in A and only in B, read from the
//! chunks that hold that table's definition and data alone ([`store::extract`]), compared by
//! [`toc::rows::diff`].

use std::io::{Read, Write};
use std::ops::Range;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, Result};
use store::Repository;
use store::index::Index;
use store::snapshot::{self, Snapshot};
use toc::rows::{Dialect, Encoding, JsonWriter, Sink, SqlWriter, Summary, Table, TableDef, TsvWriter};
use toc::select::{Parts, Request};
use toc::{Kind, Toc};

use crate::cli::{DiffArgs, Global, RowsFormat};

/// One side of the comparison: the table's definition and the range of its rows.
struct Side {
    def: TableDef,
    data: Range<u64>,
    /// The table as the SQL output names it: PostgreSQL's schema-qualified, as pg_dump writes it;
    /// MySQL's bare, so that the statements apply to the session's database (a restored copy
    /// under another name, not the database the dump came from); T-SQL's with its schema.
    sql_name: Vec<String>,
    /// The text encoding of the dump (T-SQL scripts are often UTF-16).
    encoding: Encoding,
}

/// `dbvault diff A B --rows TABLE`.
pub fn diff_rows(g: &Global, repo: &Repository, a: &DiffArgs, table: &str) -> Result<()> {
    let index = repo.index_reader()?;
    let sa = snapshot::resolve(repo, &index, &a.a, a.db.as_deref())?;
    let sb = snapshot::resolve(repo, &index, &a.b, a.db.as_deref())?;
    let dialect = dialect(&sa)?;
    if dialect != self::dialect(&sb)? {
        return Err(crate::exit::usage("the two snapshots hold dumps of different tools; rows can only be compared between dumps of one"));
    }
    // A table in one snapshot only: the other side has it empty (all its rows added or removed).
    let (side_a, side_b) = match (side(g, repo, &index, &sa, dialect, table, a.database.as_deref())?, side(g, repo, &index, &sb, dialect, table, a.database.as_deref())?) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(_), Err(missing)) => return Err(crate::exit::usage(missing)),
        (Ok(x), Err(_)) => {
            crate::errln!("dbvault: note: {table} is not in snapshot {} (B): every row of A's is only in A", sb.id.short());
            let empty = Side { def: x.def.clone(), data: 0..0, sql_name: x.sql_name.clone(), encoding: x.encoding };
            (x, empty)
        }
        (Err(_), Ok(y)) => {
            crate::errln!("dbvault: note: {table} is not in snapshot {} (A): every row of B's is only in B", sa.id.short());
            (Side { def: y.def.clone(), data: 0..0, sql_name: y.sql_name.clone(), encoding: y.encoding }, y)
        }
    };
    let (ca, cb) = (&side_a.def.columns, &side_b.def.columns);
    if !ca.is_empty() && !cb.is_empty() && ca != cb {
        let added: Vec<&str> = cb.iter().filter(|c| !ca.contains(c)).map(String::as_str).collect();
        let dropped: Vec<&str> = ca.iter().filter(|c| !cb.contains(c)).map(String::as_str).collect();
        crate::errln!(
            "dbvault: warning: the columns of {table} changed between A and B (added: {}; dropped: {}{}): a column one side lacks shows as NULL there, and SQL output names B's columns",
            if added.is_empty() { "none".to_string() } else { added.join(", ") },
            if dropped.is_empty() { "none".to_string() } else { dropped.join(", ") },
            if added.is_empty() && dropped.is_empty() { "; their order changed" } else { "" }
        );
    }
    let format = a.format.unwrap_or(if g.json { RowsFormat::Json } else { RowsFormat::Tsv });
    let stdout = std::io::stdout().lock();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout);
    let summary = std::thread::scope(|scope| -> Result<Summary> {
        let open = |snap: &'_ Snapshot, range: Range<u64>| {
            let (index, repo) = (&index, repo);
            let snap = snap.clone();
            move || -> std::io::Result<Box<dyn Read>> {
                let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
                let (snap, range) = (snap.clone(), range.clone());
                scope.spawn(move || {
                    let result = store::extract::ranges(repo, index, &snap, std::slice::from_ref(&range), &mut |_, bytes| {
                        tx.send(Ok(bytes.to_vec())).map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader stopped"))
                    });
                    if let Err(e) = result {
                        let _ = tx.send(Err(std::io::Error::other(e)));
                    }
                });
                Ok(Box::new(Pieces { rx, piece: Vec::new(), at: 0 }))
            }
        };
        let mut ta = Table::new(side_a.def, open(&sa, side_a.data)).encoding(side_a.encoding);
        let mut tb = Table::new(side_b.def, open(&sb, side_b.data)).encoding(side_b.encoding);
        let options = toc::rows::Options::default();
        let mut run = |sink: &mut dyn Sink| toc::rows::diff(dialect, &mut ta, &mut tb, &options, sink);
        let summary = match format {
            RowsFormat::Tsv => run(&mut TsvWriter::new(&mut out)),
            RowsFormat::Json => run(&mut JsonWriter::new(&mut out)),
            RowsFormat::Sql => run(&mut SqlWriter::new(&mut out).table(side_b.sql_name.clone())),
        };
        match summary {
            Err(toc::rows::Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(crate::output::StdoutFailed(e).into()),
            r => r.with_context(|| format!("comparing the rows of {table}")),
        }
    })?;
    out.flush().map_err(crate::output::StdoutFailed)?;
    if !g.quiet {
        let key = summary.key.as_ref().map_or("no primary key: whole rows compared".to_string(), |k| format!("paired by {}", k.join(", ")));
        crate::errln!(
            "{table}: {} row(s) in A, {} in B; {} only in A, {} only in B, {} updated ({key})",
            summary.rows_a,
            summary.rows_b,
            summary.only_a,
            summary.only_b,
            summary.updated
        );
    }
    Ok(())
}

/// The dialect of `snap`'s dump, if its rows can be read.
fn dialect(snap: &Snapshot) -> Result<Dialect> {
    // A custom archive's data is pg_restore's to read (it may be compressed).
    match snap.manifest.source.format.as_deref().filter(|f| *f != "pg_dump-custom").and_then(Dialect::of_format) {
        Some(d) => Ok(d),
        None => Err(crate::exit::usage(format!(
            "snapshot {} holds {}: --rows reads pg_dump plain, pg_dumpall, mysqldump and T-SQL dumps",
            snap.id.short(),
            snap.manifest.source.format.as_deref().map_or("a stream not recognised as a dump".to_string(), |f| format!("a {f} dump"))
        ))),
    }
}

/// The definition and data of `table` in `snap`, or why `snap` has no such table.
fn side(g: &Global, repo: &Repository, index: &Index, snap: &Snapshot, dialect: Dialect, table: &str, database: Option<&str>) -> Result<std::result::Result<Side, String>> {
    let toc: Toc = super::contents::read(g, repo, index, snap)?;
    let req = Request { tables: vec![table.to_string()], database: database.map(str::to_string), parts: Parts::SchemaOnly, ..Request::default() };
    let script = super::script_encoding::ScriptEncoding::of(snap);
    let encoding = script.encoding;
    let mut read = script.text_reader(repo, index, snap);
    let plan = match toc::select::plan(&toc, dialect, &req, &mut read) {
        Ok(p) => p,
        Err(e @ toc::select::SelectError::NoSuchTable { .. }) => return Ok(Err(format!("snapshot {}: {e}", snap.id.short()))),
        Err(e) => return Err(super::selection::select_failed(snap, e)),
    };
    let name = plan.tables.first().cloned().unwrap_or_else(|| table.to_string());
    let defs: Vec<Range<u64>> = plan.objects.iter().map(|&i| &toc.objects[i]).filter(|o| matches!(o.kind, Kind::Table | Kind::Constraint)).map(|o| o.range.clone()).collect();
    let text: Vec<u8> = store::extract::read_ranges(repo, index, snap, &defs)?.concat();
    let def = TableDef::parse_with_encoding(dialect, Some(encoding), text.as_slice()).with_context(|| format!("reading the definition of {name} in snapshot {}", snap.id.short()))?;
    let (db, schema, bare) = match plan.objects.iter().map(|&i| &toc.objects[i]).find(|o| o.kind == Kind::Table) {
        Some(o) => (o.database.clone(), o.schema.clone(), o.name.clone()),
        None => return Err(crate::exit::usage(format!("{name} is a view in snapshot {}: it has no rows of its own", snap.id.short()))),
    };
    let data = toc
        .objects
        .iter()
        .find(|o| o.kind == Kind::TableData && o.database == db && o.schema == schema && o.name == bare)
        .map_or(0..0, |o| o.range.clone());
    let sql_name = match (dialect, schema) {
        (Dialect::Postgres | Dialect::TSql, Some(s)) => vec![s, bare],
        _ => vec![bare],
    };
    Ok(Ok(Side { def, data, sql_name, encoding }))
}

/// A reader over the pieces a thread extracts.
struct Pieces {
    rx: Receiver<std::io::Result<Vec<u8>>>,
    piece: Vec<u8>,
    at: usize,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            match self.rx.recv() {
                Ok(piece) => {
                    self.piece = piece?;
                    self.at = 0;
                }
                Err(_) => return Ok(0), // the whole range was sent
            }
        }
        let n = buf.len().min(self.piece.len() - self.at);
        buf[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
