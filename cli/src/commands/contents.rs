//! What snapshots' dumps hold: `dbvault ls` (the objects of one) and `dbvault diff --objects`
//! (which objects changed between two).

use anyhow::Result;
use repo_format::Id;
use serde::Serialize;
use store::Repository;
use store::snapshot;
use toc::compare::{Status, compare};
use toc::{Kind, Object, Section, Toc};

use crate::cli::{DiffArgs, Global, LsArgs};
use crate::output;

/// What `ls --json` prints.
#[derive(Serialize)]
struct LsDoc<'a> {
    /// The snapshot listed.
    snapshot: Id,
    /// Its database.
    db: &'a str,
    /// Its dump's format.
    format: Option<&'a str>,
    /// Whether the dump was cut short (kept with --allow-incomplete): objects after the cut are
    /// missing from the list.
    incomplete: bool,
    /// The objects, in the order of the dump.
    objects: Vec<ObjectDoc<'a>>,
    /// Parts of the dump the parser did not understand (an object cut short, for one).
    not_understood: Vec<Span>,
}

/// One object of the dump.
#[derive(Serialize)]
struct ObjectDoc<'a> {
    /// Its kind (`table`, `table_data`, `index`, ...).
    kind: Kind,
    /// Its kind as the dump tool names it (`TABLE DATA`, `FK CONSTRAINT`, ...).
    tool_kind: &'a str,
    /// The database it belongs to, in a dump of several databases.
    database: Option<&'a str>,
    /// Its schema, if any.
    schema: Option<&'a str>,
    /// Its name as the dump tool prints it.
    name: &'a str,
    /// Its owner, if named.
    owner: Option<&'a str>,
    /// Where it lies: `pre_data`, `data` or `post_data`.
    section: Section,
    /// Its first byte in the dump.
    offset: u64,
    /// Its length in bytes.
    bytes: u64,
    /// For table data: its rows.
    rows: Option<u64>,
}

/// A byte range of the dump.
#[derive(Serialize)]
struct Span {
    /// Its first byte.
    offset: u64,
    /// Its length.
    bytes: u64,
}

/// The table of contents of `s`, read with a progress bar; its warnings printed.
pub(crate) fn read(g: &Global, repo: &Repository, index: &store::index::Index, s: &store::snapshot::Snapshot) -> Result<Toc> {
    let bar = output::progress(Some(s.manifest.size), g.quiet, &format!("reading {}", s.id.short()));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let result = store::contents::read(repo, index, s, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (toc, provenance) = result?;
    match provenance {
        store::contents::Provenance::Stored => {}
        store::contents::Provenance::Built => {
            if !g.quiet {
                crate::errln!("dbvault: note: snapshot {} was stored without a table of contents: read it from its dump", s.id.short());
            }
        }
        store::contents::Provenance::Rebuilt(why) => {
            crate::errln!("dbvault: warning: the stored table of contents of snapshot {} could not be read ({why}): read it from its dump instead", s.id.short());
        }
    }
    if s.manifest.incomplete {
        crate::errln!("dbvault: warning: snapshot {} is incomplete (its dump was cut short): objects after the cut are missing", s.id.short());
    }
    if toc.len > 0 && toc.objects.iter().all(|o| matches!(o.kind, Kind::Preamble | Kind::Trailer)) {
        crate::errln!(
            "dbvault: warning: no objects were recognised in snapshot {}'s dump: it holds no comment blocks naming them (mysqldump --compact or --skip-comments leaves them out)",
            s.id.short()
        );
    }
    for r in &toc.not_understood {
        crate::errln!("dbvault: warning: bytes {}..{} of snapshot {}'s dump were not understood: the objects there may be incomplete", r.start, r.end, s.id.short());
    }
    Ok(toc)
}

/// `dbvault ls`.
pub fn ls(g: &Global, repo: &Repository, a: &LsArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let s = snapshot::resolve(repo, &index, &a.snapshot, a.db.as_deref())?;
    let toc = read(g, repo, &index, &s)?;
    if g.json {
        let objects = toc.objects.iter().map(object_doc).collect();
        let not_understood = toc.not_understood.iter().map(|r| Span { offset: r.start, bytes: r.end - r.start }).collect();
        let format = s.manifest.source.format.as_deref();
        return output::json(&LsDoc { snapshot: s.id, db: &s.manifest.db, format, incomplete: s.manifest.incomplete, objects, not_understood });
    }
    if g.quiet {
        return Ok(());
    }
    let several = toc.objects.iter().any(|o| o.database.is_some());
    let rows: Vec<Vec<String>> = toc
        .objects
        .iter()
        .filter(|o| !matches!(o.kind, Kind::Preamble | Kind::Trailer))
        .map(|o| {
            let name = match &o.schema {
                Some(schema) => format!("{schema}.{}", o.name),
                None => o.name.clone(),
            };
            let mut row = vec![o.tool_kind.to_lowercase(), shorten(&output::printable(&name), NAME_WIDTH), o.rows.map_or(String::new(), |r| r.to_string()), output::size(o.range.end - o.range.start)];
            if several {
                row.insert(1, o.database.as_deref().map_or(String::new(), |d| shorten(&output::printable(d), NAME_WIDTH)));
            }
            row
        })
        .collect();
    let header: &[&str] = if several { &["KIND", "DATABASE", "NAME", "ROWS", "SIZE"] } else { &["KIND", "NAME", "ROWS", "SIZE"] };
    output::table(header, &rows)?;
    let tables = toc.of_kind(Kind::TableData).count();
    let total: u64 = toc.of_kind(Kind::TableData).filter_map(|o| o.rows).sum();
    let uncounted = toc.of_kind(Kind::TableData).filter(|o| o.rows.is_none()).count();
    let counted = match uncounted {
        0 => format!("{total} row(s)"),
        // A compressed custom archive's rows are not read.
        n if n == tables => "rows not counted (compressed data)".to_string(),
        n => format!("{total} row(s) in the {} counted", tables - n),
    };
    crate::outln!("{} object(s); {tables} table(s) with data, {counted}, in {} of dump", rows.len(), output::size(toc.len));
    Ok(())
}

/// Longest name shown in the text listing (`--json` has them whole).
const NAME_WIDTH: usize = 100;

/// `s` cut to `max` characters, marked with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn object_doc(o: &Object) -> ObjectDoc<'_> {
    ObjectDoc {
        kind: o.kind,
        tool_kind: &o.tool_kind,
        database: o.database.as_deref(),
        schema: o.schema.as_deref(),
        name: &o.name,
        owner: o.owner.as_deref(),
        section: o.section,
        offset: o.range.start,
        bytes: o.range.end - o.range.start,
        rows: o.rows,
    }
}

/// What `diff --objects --json` prints.
#[derive(Serialize)]
struct ObjectsDiffDoc<'a> {
    /// The older snapshot.
    a: Id,
    /// The newer snapshot.
    b: Id,
    /// Every object that was added, removed or changed, in B's order (then those only in A).
    changes: Vec<ChangeDoc<'a>>,
    /// How many objects are byte for byte the same.
    unchanged: usize,
    /// Whether both dumps were whole and understood throughout; when not, objects after a cut or
    /// inside a part not understood may be reported wrongly.
    complete: bool,
}

/// One object that changed.
#[derive(Serialize)]
struct ChangeDoc<'a> {
    /// `added`, `removed` or `changed`.
    status: Status,
    /// Its kind.
    kind: Kind,
    /// Its kind as the dump tool names it.
    tool_kind: &'a str,
    /// The database it belongs to, in a dump of several databases.
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<&'a str>,
    /// Its schema, if any.
    schema: Option<&'a str>,
    /// Its name.
    name: &'a str,
    /// For table data: rows in A and in B.
    rows_before: Option<u64>,
    rows_after: Option<u64>,
}

/// `dbvault diff A B --objects`.
pub fn diff_objects(g: &Global, repo: &Repository, a: &DiffArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let sa = snapshot::resolve(repo, &index, &a.a, a.db.as_deref())?;
    let sb = snapshot::resolve(repo, &index, &a.b, a.db.as_deref())?;
    if sa.manifest.db != sb.manifest.db {
        crate::errln!("dbvault: warning: comparing snapshots of two databases ({} and {})", sa.manifest.db, sb.manifest.db);
    }
    let (ta, tb) = (read(g, repo, &index, &sa)?, read(g, repo, &index, &sb)?);
    let complete = !sa.manifest.incomplete && !sb.manifest.incomplete && ta.not_understood.is_empty() && tb.not_understood.is_empty();
    let all = compare(&ta, &tb);
    let unchanged = all.iter().filter(|c| c.status == Status::Unchanged).count();
    let changes: Vec<ChangeDoc> = all
        .iter()
        .filter(|c| c.status != Status::Unchanged)
        .map(|c| {
            let o = c.object();
            ChangeDoc {
                status: c.status,
                kind: o.kind,
                tool_kind: &o.tool_kind,
                database: o.database.as_deref(),
                schema: o.schema.as_deref(),
                name: &o.name,
                rows_before: c.before.and_then(|x| x.rows),
                rows_after: c.after.and_then(|x| x.rows),
            }
        })
        .collect();
    if g.json {
        return output::json(&ObjectsDiffDoc { a: sa.id, b: sb.id, changes, unchanged, complete });
    }
    if g.quiet {
        return Ok(());
    }
    crate::outln!("A {} ({} of db {}), B {} ({} of db {})", sa.id.short(), output::local_time(sa.manifest.end), sa.manifest.db, sb.id.short(), output::local_time(sb.manifest.end), sb.manifest.db);
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            let name = c.schema.map_or(c.name.to_string(), |s| format!("{s}.{}", c.name));
            let name = c.database.filter(|d| Some(*d) != c.schema).map_or(name.clone(), |d| format!("{d}: {name}"));
            let status = match c.status {
                Status::Added => "added",
                Status::Removed => "removed",
                Status::Changed | Status::Unchanged => "changed",
            };
            let rows = match (c.rows_before, c.rows_after) {
                (Some(x), Some(y)) => format!("{x} -> {y}"),
                (Some(x), None) => format!("{x} -> "),
                (None, Some(y)) => format!(" -> {y}"),
                (None, None) => String::new(),
            };
            vec![status.to_string(), c.tool_kind.to_lowercase(), shorten(&output::printable(&name), NAME_WIDTH), rows]
        })
        .collect();
    if !rows.is_empty() {
        output::table(&["STATUS", "KIND", "NAME", "ROWS"], &rows)?;
    }
    crate::outln!("{} object(s) changed, added or removed; {unchanged} unchanged", rows.len());
    Ok(())
}
