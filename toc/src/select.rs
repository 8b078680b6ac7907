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

use crate::{Kind, Object, Toc};

mod triggers;

/// Reads the bytes of the given ranges of the dump, one buffer per range.
pub type ReadRanges<'a> = dyn FnMut(&[Range<u64>]) -> io::Result<Vec<Vec<u8>>> + 'a;

/// A table's database, schema and name.
type TableKey = (Option<String>, Option<String>, String);

pub use crate::Dialect;

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
    /// The database they are in, when the dump names one.
    pub database: Option<String>,
    /// What the user should know before loading the script (said on standard error).
    pub warnings: Vec<String>,
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
    /// The table cannot be renamed as asked (why).
    #[error("{0}")]
    Rename(String),
    /// Reading the objects' text failed.
    #[error("reading the dump: {0}")]
    Read(#[from] io::Error),
}

fn suggest(close: &[String]) -> String {
    if close.is_empty() { String::new() } else { format!("; did you mean {}?", close.join(", ")) }
}

/// Choose what `req` asks from the dump whose table of contents is `toc`. `read` returns the text
/// of the given ranges as UTF-8 (definitions only: sequences, indexes, triggers and foreign keys,
/// to tell which table they belong to).
///
/// A T-SQL script's preamble and trailer are left out (SSMS opens with `USE [master]` and closes
/// with it); the caller starts the script with a `USE` of [`Plan::database`] instead.
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
        let found = find_table(&tables, want, dialect)?;
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
    let mut edges = Vec::new();
    if dialect != Dialect::MySql && !chosen.is_empty() {
        edges = by_text(dialect, objects, &chosen, &mut keep, &mut notes, read)?;
    }
    // The preamble (settings) and trailer come along, but never what would reach beyond the part
    // asked for: a T-SQL script's `USE [master]`, a MySQL dump's `USE db` (the script goes to the
    // database the client names), PostgreSQL's DROP statements (`--clean`) and `\restrict` keys.
    for (i, o) in objects.iter().enumerate() {
        let frame = match dialect {
            Dialect::Postgres => o.kind == Kind::Preamble,
            Dialect::MySql => matches!(o.kind, Kind::Preamble | Kind::Trailer),
            Dialect::TSql => false,
        };
        let part = match req.parts {
            Parts::All => true,
            Parts::SchemaOnly => !matches!(o.kind, Kind::TableData | Kind::SequenceValue),
            Parts::DataOnly => matches!(o.kind, Kind::TableData | Kind::SequenceValue),
        };
        keep[i] = frame || (keep[i] && part && !(dialect == Dialect::Postgres && o.kind == Kind::Trailer));
    }
    if dialect == Dialect::Postgres {
        let preambles: Vec<usize> = (0..objects.len()).filter(|&i| keep[i] && objects[i].kind == Kind::Preamble).collect();
        let texts = read(&preambles.iter().map(|&i| objects[i].range.clone()).collect::<Vec<_>>())?;
        for (&i, text) in preambles.iter().zip(texts) {
            keep[i] = false;
            notes.push((i, only_settings(&String::from_utf8_lossy(&text))));
        }
    }
    let database = chosen.iter().find_map(|t| t.0.clone()).or_else(|| req.database.clone());
    let mut plan = Plan { tables: chosen.iter().map(qualified).collect(), database, ..Plan::default() };
    // Rows alone load into tables whose foreign keys exist: parents' rows first.
    let mut order: Vec<usize> = (0..objects.len()).collect();
    if req.parts == Parts::DataOnly && !edges.is_empty() {
        let rank = crate::load_order::parents_first(chosen.len(), &edges);
        let table_of = |o: &Object| chosen.iter().position(|t| o.kind == Kind::TableData && o.database == t.0 && o.schema == t.1 && o.name == t.2);
        let slots: Vec<usize> = order.iter().copied().filter(|&i| keep[i] && table_of(&objects[i]).is_some()).collect();
        let mut data = slots.clone();
        data.sort_by_key(|&i| table_of(&objects[i]).and_then(|t| rank.iter().position(|&r| r == t)));
        for (slot, i) in slots.into_iter().zip(data) {
            order[slot] = i;
        }
    }
    for i in order {
        let o = &objects[i];
        if let Some((_, note)) = notes.iter().find(|(n, _)| *n == i) {
            if req.parts != Parts::DataOnly || objects[i].kind == Kind::Preamble {
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
    if req.parts == Parts::DataOnly {
        triggers::quiet(&mut plan, toc, dialect, read)?;
    }
    Ok(plan)
}

/// The tables or views `want` names: `name`, `schema.name`, or either with quoted parts
/// (`"Order Items"`, `public."a.b"`, T-SQL `[dbo].[a b]`, MySQL `` `a b` ``). An unquoted name with a
/// dot may be a name holding a dot or `schema.name`: when both exist it is ambiguous.
fn find_table<'a>(tables: &[&'a Object], want: &str, dialect: Dialect) -> Result<Vec<&'a Object>, SelectError> {
    if want.trim().is_empty() {
        return Err(SelectError::NoSuchTable { name: want.to_string(), close: Vec::new() });
    }
    let readings = identifier_readings(want, dialect);
    let found: Vec<&Object> = tables
        .iter()
        .copied()
        .filter(|t| readings.iter().any(|(s, n)| t.name == *n && s.as_ref().is_none_or(|s| t.schema.as_deref() == Some(s.as_str()))))
        .collect();
    // A view pg_dump writes twice (mysqldump: a temporary table, then the view) is one object;
    // tables of two databases (pg_dumpall) are two.
    let distinct_names = distinct(found.iter().map(|t| match t.database.as_deref().filter(|d| Some(*d) != t.schema.as_deref()) {
        Some(d) => format!("{} (--database {d})", shown(t, dialect)),
        None => shown(t, dialect),
    }));
    match distinct_names.len() {
        0 => {
            let names = distinct(tables.iter().flat_map(|t| [typed(&t.name, dialect), shown(t, dialect)]));
            Err(SelectError::NoSuchTable { name: want.to_string(), close: close_to(want, &names) })
        }
        1 => Ok(found),
        _ => Err(SelectError::Ambiguous { name: want.to_string(), candidates: distinct_names }),
    }
}

/// `schema.name` as `--table` takes it back (see [`typed`]).
fn shown(t: &Object, dialect: Dialect) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", typed(s, dialect), typed(&t.name, dialect)),
        None => typed(&t.name, dialect),
    }
}

/// A name as `--table` reads it as that name: in double quotes (which every dialect's reading
/// takes) when it holds a dot, a quote of any dialect's, or spaces at its ends.
fn typed(p: &str, dialect: Dialect) -> String {
    let quotes: &[char] = match dialect {
        Dialect::Postgres => &['"'],
        Dialect::MySql => &['"', '`'],
        Dialect::TSql => &['"', '['],
    };
    if p.contains('.') || p.contains(quotes) || p.trim() != p || p.is_empty() { format!("\"{}\"", p.replace('"', "\"\"")) } else { p.to_string() }
}

/// The (schema, name) pairs `want` may mean.
fn identifier_readings(want: &str, dialect: Dialect) -> Vec<(Option<String>, String)> {
    let (open, close) = match dialect {
        Dialect::Postgres => ('"', '"'),
        Dialect::MySql => ('`', '`'),
        Dialect::TSql => ('[', ']'),
    };
    let quoted = want.contains(open) || want.contains('"');
    if !quoted {
        let mut out = vec![(None, want.to_string())];
        if let Some((s, n)) = want.split_once('.') {
            out.push((Some(s.to_string()), n.to_string()));
        }
        return out;
    }
    // Split on dots outside quotes; a part in quotes keeps its text (a doubled closing quote is one).
    let mut parts = vec![String::new()];
    let mut chars = want.chars().peekable();
    let mut inside: Option<char> = None;
    while let Some(c) = chars.next() {
        match inside {
            Some(q) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                    parts.last_mut().expect("a part").push(q);
                } else {
                    inside = None;
                }
            }
            Some(_) => parts.last_mut().expect("a part").push(c),
            None if c == open || c == '"' => inside = Some(if c == open { close } else { '"' }),
            None if c == '.' => parts.push(String::new()),
            None => parts.last_mut().expect("a part").push(c),
        }
    }
    match parts.len() {
        1 => vec![(None, parts.remove(0))],
        2 => {
            let n = parts.pop().expect("two parts");
            vec![(Some(parts.remove(0)), n)]
        }
        _ => Vec::new(),
    }
}

/// Whether `o` belongs to table `t` by its name alone.
fn belongs_by_name(o: &Object, t: &TableKey, dialect: Dialect) -> bool {
    if o.database != t.0 || o.schema != t.1 {
        return false;
    }
    let name = t.2.as_str();
    match dialect {
        // A table's triggers are one object named after it.
        Dialect::MySql => matches!(o.kind, Kind::Table | Kind::TableData | Kind::View | Kind::Trigger) && o.name == name,
        Dialect::Postgres | Dialect::TSql => match o.kind {
            Kind::Table | Kind::TableData | Kind::View => o.name == name,
            // pg_dump names these after their table: `orders orders_pkey`, `orders id`.
            Kind::Default | Kind::Constraint | Kind::ForeignKey | Kind::Trigger => o.name.strip_prefix(name).is_some_and(|r| r.starts_with(' ')),
            Kind::Other if matches!(o.tool_kind.as_str(), "RULE" | "POLICY" | "ROW SECURITY") => o.name.strip_prefix(name).is_some_and(|r| r.starts_with(' ') || r.is_empty()),
            // pg_dump quotes the name here when it needs quotes: `TABLE "Order Items"`.
            Kind::Comment | Kind::Grant => sql_forms(dialect, None, name).iter().any(|name| {
                let n = o.name.as_str();
                n.strip_prefix("TABLE ").or_else(|| n.strip_prefix("VIEW ")) == Some(name.as_str())
                    || n.strip_prefix("COLUMN ").is_some_and(|c| c.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('.')))
                    || n.rsplit_once(" ON ").is_some_and(|(k, on)| on == name && (k.starts_with("CONSTRAINT ") || k.starts_with("TRIGGER ") || k.starts_with("RULE ") || k.starts_with("POLICY ")))
            }),
            // A partition's attachment to its parent.
            Kind::Other if o.tool_kind == "TABLE ATTACH" => o.name == name,
            _ => false,
        },
    }
}

/// PostgreSQL objects whose text tells their table: owned sequences (with their values, comments
/// and grants), indexes, the functions their triggers call, and the targets of foreign keys (a key
/// to a table not chosen becomes a note).
fn by_text(
    dialect: Dialect,
    objects: &[Object],
    chosen: &[TableKey],
    keep: &mut [bool],
    notes: &mut Vec<(usize, String)>,
    read: &mut ReadRanges<'_>,
) -> Result<Vec<(usize, usize)>, SelectError> {
    // Foreign keys between chosen tables, as (child, parent) positions in `chosen`.
    let mut edges = Vec::new();
    // SSMS names an index or trigger without its table's schema: its text tells.
    let same_schema = |o: &Object| chosen.iter().any(|t| t.0 == o.database && (t.1 == o.schema || dialect == Dialect::TSql));
    let asked: Vec<usize> = objects
        .iter()
        .enumerate()
        .filter(|(i, o)| {
            same_schema(o)
                && (matches!(o.kind, Kind::Sequence | Kind::Index)
                    || (o.kind == Kind::ForeignKey && keep[*i])
                    || (o.kind == Kind::Trigger && (keep[*i] || dialect == Dialect::TSql))
                    || (o.tool_kind == "TABLE ATTACH" && keep[*i]))
        })
        .map(|(i, _)| i)
        .collect();
    let texts = read(&asked.iter().map(|&i| objects[i].range.clone()).collect::<Vec<_>>())?;
    let forms: Vec<Vec<String>> = chosen.iter().map(|t| sql_forms(dialect, t.1.as_deref(), &t.2)).collect();
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
            Kind::Trigger if dialect == Dialect::TSql && !keep[i] => keep[i] = ours(&[" ON "]),
            Kind::Trigger => {
                let called = ["EXECUTE FUNCTION ", "EXECUTE PROCEDURE "].iter().find_map(|k| text.split_once(k)).map(|(_, f)| f.split('(').next().unwrap_or("").trim().to_string());
                functions.extend(called.filter(|f| !f.is_empty()));
            }
            Kind::Other if o.tool_kind == "TABLE ATTACH" && keep[i] => {
                // `ALTER TABLE ONLY parent ATTACH PARTITION child ...`: left out, like a foreign
                // key, when the parent is not restored.
                let parent = text.split_once("ALTER TABLE ONLY ").map(|(_, r)| r.split(" ATTACH PARTITION").next().unwrap_or("").trim().to_string()).unwrap_or_default();
                if !forms.iter().flatten().any(|f| *f == parent) {
                    keep[i] = false;
                    notes.push((i, format!("\n-- dbvault: {} is not attached as a partition of {parent}, which is not restored\n\n", o.name)));
                }
            }
            Kind::ForeignKey => {
                let target = text.split_once("REFERENCES ").map(|(_, r)| r.split('(').next().unwrap_or("").trim().to_string()).unwrap_or_default();
                let parent = forms.iter().position(|f| f.contains(&target));
                let child = chosen.iter().position(|t| belongs_by_name(o, t, dialect));
                if let (Some(c), Some(p)) = (child, parent) {
                    edges.push((c, p));
                }
                if parent.is_none() {
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
            && o.name.split('(').next().is_some_and(|n| functions.iter().any(|f| sql_forms(dialect, o.schema.as_deref(), n).contains(f)));
        keep[i] |= by_seq || by_index || called;
    }
    Ok(edges)
}

/// A PostgreSQL preamble without its DROP statements (`pg_dump --clean`: they would drop every
/// object of the dump, not only those restored) and psql's `\restrict` / `\unrestrict` lines (the
/// matching line of another part would be refused); a comment says what was left out.
fn only_settings(preamble: &str) -> String {
    let dropping = |l: &str| l.starts_with("DROP ") || (l.starts_with("ALTER ") && l.contains(" DROP ")) || l.starts_with("\\restrict") || l.starts_with("\\unrestrict");
    let dropped = preamble.lines().filter(|l| dropping(l)).count();
    let mut out: String = preamble.split_inclusive('\n').filter(|l| !dropping(l)).collect();
    if dropped > 0 {
        out.push_str(&format!("-- dbvault: {dropped} line(s) of the dump's preamble that drop objects (pg_dump --clean) or set psql's restrict key were left out: this script only creates what it restores\n\n"));
    }
    out
}

/// The ways a dump may write `schema.name` in SQL: each part bare (if it can be) or quoted
/// (PostgreSQL `"..."`, T-SQL `[...]`).
fn sql_forms(dialect: Dialect, schema: Option<&str>, name: &str) -> Vec<String> {
    let parts = |p: &str| {
        let (quoted, bare) = if dialect == Dialect::TSql {
            let bare = p.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') && p.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '#' | '$'));
            (format!("[{}]", p.replace(']', "]]")), bare)
        } else {
            let bare = p.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
            (format!("\"{}\"", p.replace('"', "\"\"")), bare)
        };
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
    let database = t.0.as_deref().filter(|d| Some(*d) != t.1.as_deref());
    [database, t.1.as_deref(), Some(t.2.as_str())].into_iter().flatten().collect::<Vec<_>>().join(".")
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
