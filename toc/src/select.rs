//! Choosing the parts of a dump that recreate some of its tables (or one schema, or one database)
//! by themselves: the dump's preamble (settings, search path, `USE`), each table's definition, the
//! sequences it owns, its rows, indexes, constraints, triggers, comments and grants, and the
//! trailer, in the dump's order. A foreign key to a table that is not chosen is left out with a
//! comment saying so.
//!
//! Which objects belong to a table is read from the table of contents (pg_dump names a
//! constraint, trigger or column default after its table: `orders orders_pkey`) and, where the
//! name does not tell (indexes, owned sequences, the target of a foreign key), from the objects'
//! own text, which the caller reads for [`plan`] (definitions only, never table data).

use std::io;
use std::ops::Range;

pub use crate::rows::Dialect;
use crate::{Kind, Object, Toc};

/// Reads the bytes of the given ranges of the dump, one buffer per range.
pub type ReadRanges<'a> = dyn FnMut(&[Range<u64>]) -> io::Result<Vec<Vec<u8>>> + 'a;

/// A table's database, schema and name.
type TableKey = (Option<String>, Option<String>, String);

/// Definitions, rows, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parts {
    /// Definitions and rows.
    #[default]
    All,
    /// Definitions only (no rows, no sequence values).
    SchemaOnly,
    /// Rows and sequence values only.
    DataOnly,
}

/// What to choose.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Tables (or views) by name: `orders`, or qualified `public.orders` (MySQL: `shop.orders`).
    pub tables: Vec<String>,
    /// Whole schemas (PostgreSQL).
    pub schemas: Vec<String>,
    /// Only objects of this database (a pg_dumpall or multi-database mysqldump dump).
    pub database: Option<String>,
    /// Definitions, rows, or both.
    pub parts: Parts,
}

/// One piece of the script to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes of the dump, verbatim.
    Dump(Range<u64>),
    /// Text dbvault adds (a comment on what was left out).
    Note(String),
}

/// The script that recreates what was asked.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Its pieces, in order; consecutive dump ranges are merged.
    pub pieces: Vec<Piece>,
    /// The objects chosen (indexes into the table of contents), in stream order.
    pub objects: Vec<usize>,
    /// The tables (or views) chosen, qualified.
    pub tables: Vec<String>,
}

/// Why nothing could be chosen.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// No table or view has that name; `close` lists the names most like it.
    #[error("no table or view named {name:?} in this dump{}", suggest(close))]
    NoSuchTable {
        /// The name asked for.
        name: String,
        /// Names close to it.
        close: Vec<String>,
    },
    /// Several tables have that name in different schemas (or databases).
    #[error("{name:?} names {} tables: {}; qualify it", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The qualified names it could mean.
        candidates: Vec<String>,
    },
    /// No object lies in that schema or database.
    #[error("no {what} named {name:?} in this dump{}", suggest(close))]
    NoSuchNamespace {
        /// `schema` or `database`.
        what: &'static str,
        /// The name asked for.
        name: String,
        /// Names close to it.
        close: Vec<String>,
    },
    /// Reading the objects' text failed.
    #[error("reading the dump: {0}")]
    Read(#[from] io::Error),
}

fn suggest(close: &[String]) -> String {
    if close.is_empty() { String::new() } else { format!("; did you mean {}?", close.join(", ")) }
}

/// Choose what `req` asks from the dump whose table of contents is `toc`. `read` returns the bytes
/// of the given ranges (definitions only: sequences, indexes and foreign keys, to tell which table
/// they belong to).
pub fn plan(toc: &Toc, dialect: Dialect, req: &Request, read: &mut ReadRanges<'_>) -> Result<Plan, SelectError> {
    let objects = &toc.objects;
    let in_database = |o: &Object| req.database.as_deref().is_none_or(|d| o.database.as_deref() == Some(d));
    if let Some(d) = &req.database
        && !objects.iter().any(|o| o.database.as_deref() == Some(d.as_str()))
    {
        let names = distinct(objects.iter().filter_map(|o| o.database.clone()));
        return Err(SelectError::NoSuchNamespace { what: "database", name: d.clone(), close: close_to(d, &names) });
    }
    for s in &req.schemas {
        if !objects.iter().any(|o| in_database(o) && o.schema.as_deref() == Some(s.as_str())) {
            let names = distinct(objects.iter().filter(|o| in_database(o)).filter_map(|o| o.schema.clone()));
            return Err(SelectError::NoSuchNamespace { what: "schema", name: s.clone(), close: close_to(s, &names) });
        }
    }
    let tables: Vec<&Object> = objects.iter().filter(|o| matches!(o.kind, Kind::Table | Kind::View) && in_database(o)).collect();
    let mut chosen: Vec<TableKey> = Vec::new();
    for want in &req.tables {
        let found = find_table(&tables, want)?;
        for t in found {
            let key = (t.database.clone(), t.schema.clone(), t.name.clone());
            if !chosen.contains(&key) {
                chosen.push(key);
            }
        }
    }
    let mut keep = vec![false; objects.len()];
    for (i, o) in objects.iter().enumerate() {
        let whole = in_database(o)
            && ((req.tables.is_empty() && req.schemas.is_empty())
                || req.schemas.iter().any(|s| o.schema.as_deref() == Some(s.as_str()) || (o.kind == Kind::Schema && o.name == *s)));
        keep[i] = whole || chosen.iter().any(|t| belongs_by_name(o, t, dialect));
    }
    let mut notes: Vec<(usize, String)> = Vec::new();
    if dialect == Dialect::Postgres && !chosen.is_empty() {
        by_text(objects, &chosen, &mut keep, &mut notes, read)?;
    }
    // The preamble, trailer and (MySQL) the sections that choose the database always come along.
    for (i, o) in objects.iter().enumerate() {
        let frame = matches!(o.kind, Kind::Preamble | Kind::Trailer)
            || (o.kind == Kind::Database && dialect == Dialect::MySql && chosen.iter().any(|t| t.0.is_some() && t.0 == o.database));
        let part = match req.parts {
            Parts::All => true,
            Parts::SchemaOnly => !matches!(o.kind, Kind::TableData | Kind::SequenceValue),
            Parts::DataOnly => matches!(o.kind, Kind::TableData | Kind::SequenceValue),
        };
        keep[i] = frame || (keep[i] && part);
    }
    let mut plan = Plan { tables: chosen.iter().map(qualified).collect(), ..Plan::default() };
    for (i, o) in objects.iter().enumerate() {
        if let Some((_, note)) = notes.iter().find(|(n, _)| *n == i) {
            if req.parts != Parts::DataOnly {
                plan.pieces.push(Piece::Note(note.clone()));
            }
            continue;
        }
        if !keep[i] {
            continue;
        }
        plan.objects.push(i);
        match plan.pieces.last_mut() {
            Some(Piece::Dump(r)) if r.end == o.range.start => r.end = o.range.end,
            _ => plan.pieces.push(Piece::Dump(o.range.clone())),
        }
    }
    Ok(plan)
}

/// The tables or views `want` names: an exact name first (names may hold dots), then
/// `schema.name`.
fn find_table<'a>(tables: &[&'a Object], want: &str) -> Result<Vec<&'a Object>, SelectError> {
    let exact: Vec<&Object> = tables.iter().copied().filter(|t| t.name == want).collect();
    let found = if !exact.is_empty() {
        exact
    } else {
        tables.iter().copied().filter(|t| want.split_once('.').is_some_and(|(s, n)| t.schema.as_deref() == Some(s) && t.name == n)).collect()
    };
    // A view pg_dump writes twice (mysqldump: a temporary table, then the view) is one object.
    let distinct_names = distinct(found.iter().map(|t| qualified(&(t.database.clone(), t.schema.clone(), t.name.clone()))));
    match distinct_names.len() {
        0 => {
            let names = distinct(tables.iter().flat_map(|t| [t.name.clone(), qualified(&(None, t.schema.clone(), t.name.clone()))]));
            Err(SelectError::NoSuchTable { name: want.to_string(), close: close_to(want, &names) })
        }
        1 => Ok(found),
        _ => Err(SelectError::Ambiguous { name: want.to_string(), candidates: distinct_names }),
    }
}

/// Whether `o` belongs to table `t` by its name alone.
fn belongs_by_name(o: &Object, t: &TableKey, dialect: Dialect) -> bool {
    if o.database != t.0 || o.schema != t.1 {
        return false;
    }
    let name = t.2.as_str();
    match dialect {
        Dialect::MySql => matches!(o.kind, Kind::Table | Kind::TableData | Kind::View) && o.name == name,
        Dialect::Postgres => match o.kind {
            Kind::Table | Kind::TableData | Kind::View => o.name == name,
            // pg_dump names these after their table: `orders orders_pkey`, `orders id`.
            Kind::Default | Kind::Constraint | Kind::ForeignKey | Kind::Trigger => o.name.strip_prefix(name).is_some_and(|r| r.starts_with(' ')),
            Kind::Other if matches!(o.tool_kind.as_str(), "RULE" | "POLICY" | "ROW SECURITY") => o.name.strip_prefix(name).is_some_and(|r| r.starts_with(' ') || r.is_empty()),
            Kind::Comment | Kind::Grant => {
                let n = o.name.as_str();
                n.strip_prefix("TABLE ").or_else(|| n.strip_prefix("VIEW ")) == Some(name)
                    || n.strip_prefix("COLUMN ").is_some_and(|c| c.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
                    || n.rsplit_once(" ON ").is_some_and(|(k, on)| on == name && (k.starts_with("CONSTRAINT ") || k.starts_with("TRIGGER ") || k.starts_with("RULE ") || k.starts_with("POLICY ")))
            }
            _ => false,
        },
    }
}

/// PostgreSQL objects whose text tells their table: owned sequences (with their values, comments
/// and grants), indexes, the functions their triggers call, and the targets of foreign keys (a key
/// to a table not chosen becomes a note).
fn by_text(
    objects: &[Object],
    chosen: &[TableKey],
    keep: &mut [bool],
    notes: &mut Vec<(usize, String)>,
    read: &mut ReadRanges<'_>,
) -> Result<(), SelectError> {
    let same_schema = |o: &Object| chosen.iter().any(|t| t.0 == o.database && t.1 == o.schema);
    let asked: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            same_schema(o) && (matches!(o.kind, Kind::Sequence | Kind::Index) || (matches!(o.kind, Kind::ForeignKey | Kind::Trigger) && keep[*i]))
        })
        .map(|(i, _)| i)
        .collect();
    let texts = read(&asked.iter().map(|&i| objects[i].range.clone()).collect::<Vec<_>>())?;
    let forms: Vec<Vec<String>> = chosen.iter().map(|t| sql_forms(t.1.as_deref(), &t.2)).collect();
    let mut sequences: Vec<TableKey> = Vec::new();
    // Functions the chosen tables' triggers call, as `schema.name(`.
    let mut functions: Vec<String> = Vec::new();
    for (&i, text) in asked.iter().zip(&texts) {
        let o = &objects[i];
        let text = String::from_utf8_lossy(text);
        let ours = |prefixes: &[&str]| forms.iter().flatten().any(|f| prefixes.iter().any(|p| mentions(&text, &format!("{p}{f}"))));
        match o.kind {
            Kind::Sequence if ours(&["OWNED BY ", "ALTER TABLE ", "ALTER TABLE ONLY "]) => sequences.push((o.database.clone(), o.schema.clone(), o.name.clone())),
            Kind::Index if ours(&[" ON ", " ON ONLY "]) => keep[i] = true,
            Kind::Trigger => {
                let called = ["EXECUTE FUNCTION ", "EXECUTE PROCEDURE "].iter().find_map(|k| text.split_once(k)).map(|(_, f)| f.split('(').next().unwrap_or("").trim().to_string());
                functions.extend(called.filter(|f| !f.is_empty()));
            }
            Kind::ForeignKey => {
                let target = text.split_once(" REFERENCES ").map(|(_, r)| r.split('(').next().unwrap_or("").trim().to_string()).unwrap_or_default();
                if !forms.iter().flatten().any(|f| *f == target) {
                    keep[i] = false;
                    let what = if target.is_empty() { "a table it does not name".to_string() } else { target };
                    notes.push((i, format!("\n-- dbvault: foreign key {} left out: it references {what}, which is not restored\n\n", o.name)));
                }
            }
            _ => {}
        }
    }
    for (i, o) in objects.iter().enumerate() {
        let seq = |name: &str| sequences.iter().any(|s| s.0 == o.database && s.1 == o.schema && s.2 == name);
        let by_seq = match o.kind {
            Kind::Sequence | Kind::SequenceValue => seq(&o.name),
            Kind::Comment | Kind::Grant => o.name.strip_prefix("SEQUENCE ").is_some_and(seq),
            _ => false,
        };
        let by_index = matches!(o.kind, Kind::Comment) && o.name.strip_prefix("INDEX ").is_some_and(|n| objects.iter().zip(keep.iter()).any(|(x, k)| *k && x.kind == Kind::Index && x.name == n && x.schema == o.schema));
        // pg_dump names a function `name(arguments)`; a trigger calls it as `schema.name(`.
        let called = o.kind == Kind::Function
            && o.name.split('(').next().is_some_and(|n| functions.iter().any(|f| sql_forms(o.schema.as_deref(), n).contains(f)));
        keep[i] |= by_seq || by_index || called;
    }
    Ok(())
}

/// The ways pg_dump may write `schema.name` in SQL: each part bare (if it can be) or quoted.
fn sql_forms(schema: Option<&str>, name: &str) -> Vec<String> {
    let parts = |p: &str| {
        let quoted = format!("\"{}\"", p.replace('"', "\"\""));
        let bare = p.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
        if bare { vec![p.to_string(), quoted] } else { vec![quoted] }
    };
    let names = parts(name);
    match schema {
        None => names,
        Some(s) => parts(s).iter().flat_map(|s| names.iter().map(move |n| format!("{s}.{n}"))).collect(),
    }
}

/// Whether `text` holds `what` followed by something that ends an identifier.
fn mentions(text: &str, what: &str) -> bool {
    text.match_indices(what).any(|(at, _)| text[at + what.len()..].chars().next().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '"')))
}

fn qualified(t: &TableKey) -> String {
    [t.0.as_deref(), t.1.as_deref(), Some(t.2.as_str())].into_iter().flatten().collect::<Vec<_>>().join(".")
}

fn distinct(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v.dedup();
    v
}

/// Up to five of `names` most like `want` (case-insensitive edit distance of at most a third of
/// its length, or sharing it as a part).
fn close_to(want: &str, names: &[String]) -> Vec<String> {
    let w = want.to_lowercase();
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|n| {
            let l = n.to_lowercase();
            let d = strsim::levenshtein(&w, &l);
            (d <= (w.chars().count() / 3).max(2) || (w.len() >= 3 && l.contains(&w))).then_some((d, n))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, n)| n.clone()).collect()
}
