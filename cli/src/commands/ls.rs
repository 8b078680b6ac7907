//! `dbvault ls`: the objects a snapshot's dump holds.

use anyhow::Result;
use repo_format::Id;
use serde::Serialize;
use store::Repository;
use store::snapshot;
use toc::{Kind, Object, Section};

use crate::cli::{Global, LsArgs};
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

pub fn run(g: &Global, repo: &Repository, a: &LsArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let s = snapshot::resolve(repo, &index, &a.snapshot, a.db.as_deref())?;
    let bar = output::progress(Some(s.manifest.size), g.quiet, &format!("reading {}", s.id.short()));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let result = store::contents::read(repo, &index, &s, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let toc = result?;
    if s.manifest.incomplete {
        crate::errln!("dbvault: warning: snapshot {} is incomplete (its dump was cut short): objects after the cut are missing from this list", s.id.short());
    }
    for r in &toc.not_understood {
        crate::errln!("dbvault: warning: bytes {}..{} of the dump were not understood: the objects there may be incomplete", r.start, r.end);
    }
    if g.json {
        let objects = toc.objects.iter().map(object_doc).collect();
        let not_understood = toc.not_understood.iter().map(|r| Span { offset: r.start, bytes: r.end - r.start }).collect();
        let format = s.manifest.source.format.as_deref();
        return output::json(&LsDoc { snapshot: s.id, db: &s.manifest.db, format, incomplete: s.manifest.incomplete, objects, not_understood });
    }
    if g.quiet {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = toc
        .objects
        .iter()
        .filter(|o| !matches!(o.kind, Kind::Preamble | Kind::Trailer))
        .map(|o| {
            let name = match &o.schema {
                Some(schema) => format!("{schema}.{}", o.name),
                None => o.name.clone(),
            };
            vec![o.tool_kind.to_lowercase(), shorten(&output::printable(&name), NAME_WIDTH), o.rows.map_or(String::new(), |r| r.to_string()), output::size(o.range.end - o.range.start)]
        })
        .collect();
    output::table(&["KIND", "NAME", "ROWS", "SIZE"], &rows)?;
    let tables = toc.of_kind(Kind::TableData).count();
    let total: u64 = toc.of_kind(Kind::TableData).filter_map(|o| o.rows).sum();
    crate::outln!("{} object(s); {tables} table(s) with data, {total} row(s), in {} of dump", rows.len(), output::size(toc.len));
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
        schema: o.schema.as_deref(),
        name: &o.name,
        owner: o.owner.as_deref(),
        section: o.section,
        offset: o.range.start,
        bytes: o.range.end - o.range.start,
        rows: o.rows,
    }
}
