//! `restore --table T --rename-to NEW`: the script of one table, rewritten to create it under a
//! new name next to the live one. The table's name becomes NEW wherever the script names the table,
//! and so do the names that would collide where it goes: those its schema (PostgreSQL) or database
//! (MySQL) holds only once. A name that starts with the table's and `_` takes NEW's start instead
//! (`orders_pkey` becomes `NEW_pkey`); any other gets `NEW_` before it. Rows are copied verbatim:
//! only the statement that opens them is rewritten.
//!
//! PostgreSQL (here): the indexes, the constraints that make one (primary keys, unique
//! constraints) and the sequences it owns are renamed; the functions its triggers call are not
//! created again (next to the live table they exist). MySQL: [`mysql`].

use std::io;
use std::ops::Range;

use crate::select::{Dialect, Piece, Plan, ReadRanges, SelectError};
use crate::sql::Lexer;
use crate::{Kind, Object, Toc};

mod mysql;
mod statements;

/// Longest `COPY ... FROM stdin;` line read to rewrite (a table of 1,600 long column names).
const COPY_HEAD: u64 = 256 << 10;

/// Rewrite `plan`, the script of one table of a `dialect` dump (PostgreSQL or MySQL), to create
/// that table as `new_name`.
pub fn rename(plan: &mut Plan, toc: &Toc, dialect: Dialect, new_name: &str, read: &mut ReadRanges<'_>) -> Result<(), SelectError> {
    let table = plan.objects.iter().map(|&i| &toc.objects[i]).find(|o| matches!(o.kind, Kind::Table | Kind::TableData));
    let t = match (plan.tables.as_slice(), table) {
        ([_], Some(t)) => t,
        ([name], None) => return Err(SelectError::Rename(format!("--rename-to renames a table, and {name} is a view"))),
        _ => return Err(SelectError::Rename("--rename-to renames one table (--table, once)".into())),
    };
    if dialect == Dialect::TSql {
        return Err(SelectError::Rename("--rename-to works on PostgreSQL and MySQL dumps; for a T-SQL script, restore the table and rename it with sp_rename".into()));
    }
    let schema = t.schema.clone();
    let old = t.name.clone();
    check_name(dialect, &old, new_name)?;
    // MySQL compares names without regard to case where tables are files of a case-insensitive
    // file system (lower_case_table_names), and foreign keys' names always.
    let same = |a: &str, b: &str| if dialect == Dialect::MySql { a.eq_ignore_ascii_case(b) } else { a == b };
    if same(&old, new_name) {
        return Err(SelectError::Rename(format!("--rename-to needs a name other than {old:?}{}", if old == new_name { "" } else { " (MySQL may take names that differ only in case for the same)" })));
    }
    if let Some(o) = toc.objects.iter().find(|o| o.kind == Kind::Table && o.schema == schema && same(&o.name, new_name) && o.database == t.database) {
        return Err(SelectError::Rename(format!("the dump already has a table {:?} in that schema; choose another name", o.name)));
    }
    if dialect == Dialect::MySql {
        return mysql::rename(plan, toc, &old, new_name, read);
    }
    // Names in the schema that the restored table's objects would take again.
    let mut names: Vec<(String, String)> = vec![(old.clone(), new_name.to_string())];
    for &i in &plan.objects {
        let o = &toc.objects[i];
        let own = match o.kind {
            Kind::Index | Kind::Sequence => Some(o.name.as_str()),
            Kind::Constraint => o.name.strip_prefix(old.as_str()).and_then(|r| r.strip_prefix(' ')),
            _ => None,
        };
        if let Some(n) = own.filter(|n| !names.iter().any(|(from, _)| from == n)) {
            names.push((n.to_string(), dependent(&old, new_name, n)));
        }
    }
    let mut pieces = Vec::new();
    for piece in std::mem::take(&mut plan.pieces) {
        let Piece::Dump(range) = piece else {
            pieces.push(piece);
            continue;
        };
        let inside: Vec<&Object> = plan.objects.iter().map(|&i| &toc.objects[i]).filter(|o| range.start <= o.range.start && o.range.end <= range.end).collect();
        for o in inside {
            if o.kind == Kind::Function {
                continue; // next to the live table, the functions its triggers call exist already
            }
            if o.kind == Kind::TableData {
                pieces.extend(copy_data(o, schema.as_deref(), &names, read)?);
            } else {
                let text = one(read, o.range.clone())?;
                pieces.push(Piece::Note(rewrite(&String::from_utf8_lossy(&text), schema.as_deref(), &names)));
            }
        }
    }
    // Next to live tables, a name taken already must stop the script, not be written into: psql
    // stops at the first error (even when not told to), and nothing of the script stays.
    pieces.insert(0, Piece::Note("\\set ON_ERROR_STOP on\nBEGIN;\n".into()));
    pieces.push(Piece::Note("\nCOMMIT;\n".into()));
    plan.pieces = pieces;
    plan.tables = vec![match &schema {
        Some(s) => format!("{s}.{new_name}"),
        None => new_name.to_string(),
    }];
    Ok(())
}

/// Whether `new` can name a table next to `old` and lend its start to the names derived from it:
/// one name (the table goes where the original is), within the engine's length for identifiers
/// with room for a suffix (`NEW_pkey`, `NEW_ibfk_1`), not blank.
fn check_name(dialect: Dialect, old: &str, new: &str) -> Result<(), SelectError> {
    // PostgreSQL: 63 bytes; MySQL: 64 characters.
    let (len, max) = if dialect == Dialect::MySql { (new.chars().count(), 64) } else { (new.len(), 63) };
    let why = if new.trim().is_empty() {
        "is blank".to_string()
    } else if new != new.trim_end() && dialect == Dialect::MySql {
        "ends with a space, which MySQL does not allow in a table's name".to_string()
    } else if new.contains('.') {
        format!("holds a dot: give the bare name (the table goes into the {} of {old:?})", if dialect == Dialect::MySql { "database" } else { "schema" })
    } else if new.contains(['\0', '\n', '\r']) {
        "holds a control character".to_string()
    } else if len + 10 > max {
        format!("is {len} characters long: its indexes' and constraints' names (NEW_pkey, NEW_ibfk_1) would pass the {max} a name may have; choose one of at most {}", max - 10)
    } else {
        return Ok(());
    };
    Err(SelectError::Rename(format!("--rename-to {new:?} {why}")))
}

/// The new name of `n`, a name of table `old`'s that its schema or database holds once.
fn dependent(old: &str, new: &str, n: &str) -> String {
    match n.strip_prefix(old) {
        Some(rest) if rest.starts_with('_') => format!("{new}{rest}"),
        _ => format!("{new}_{n}"),
    }
}

/// A table's data as a rewritten `COPY` line and the rows after it, verbatim; or its `INSERT`
/// statements (pg_dump --inserts) with their heads rewritten.
fn copy_data(o: &Object, schema: Option<&str>, names: &[(String, String)], read: &mut ReadRanges<'_>) -> Result<Vec<Piece>, SelectError> {
    let head = one(read, o.range.start..o.range.end.min(o.range.start + COPY_HEAD))?;
    let text = String::from_utf8_lossy(&head);
    let Some(at) = text.find("\nCOPY ").map(|i| i + 1).or_else(|| text.starts_with("COPY ").then_some(0)) else {
        let mut edit = |head: &str| Ok(Some(rewrite(head, schema, names)).filter(|h| h != head));
        return statements::rewrite_heads(o.range.clone(), Lexer::default(), read, &mut edit);
    };
    let Some(end) = text[at..].find(" FROM stdin;\n").map(|i| at + i + " FROM stdin;\n".len()) else {
        return Err(SelectError::Rename(format!("the COPY statement of {} is longer than dbvault rewrites", o.name)));
    };
    // Byte offsets: the text is the bytes decoded lossily, equal in length only if they are UTF-8.
    if text.len() != head.len() {
        return Err(SelectError::Rename(format!("the COPY statement of {} is not UTF-8", o.name)));
    }
    Ok(vec![Piece::Note(rewrite(&text[..end], schema, names)), Piece::Dump(o.range.start + end as u64..o.range.end)])
}

fn one(read: &mut ReadRanges<'_>, r: Range<u64>) -> io::Result<Vec<u8>> {
    Ok(read(std::slice::from_ref(&r))?.pop().unwrap_or_default())
}

/// `text` with every name of `names` replaced where it stands as an identifier: bare or quoted,
/// alone or after the schema.
fn rewrite(text: &str, schema: Option<&str>, names: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (n, (from, to)) in names.iter().enumerate() {
        // pg_dump names the table itself always with its schema (its search path is empty); other
        // names (constraints, indexes) stand alone.
        let alone = n > 0 || schema.is_none();
        let mut forms: Vec<(String, String)> = Vec::new();
        let quoted = |n: &str| format!("\"{}\"", n.replace('"', "\"\""));
        let bare_ok = |n: &str| n.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_') && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let new_form = |n: &str| if bare_ok(n) { n.to_string() } else { quoted(n) };
        if let Some(s) = schema {
            let s_forms = if bare_ok(s) { vec![s.to_string(), quoted(s)] } else { vec![quoted(s)] };
            for sf in &s_forms {
                forms.push((format!("{sf}.{}", quoted(from)), format!("{sf}.{}", quoted(to))));
                if bare_ok(from) {
                    forms.push((format!("{sf}.{from}"), format!("{sf}.{}", new_form(to))));
                }
            }
        }
        if alone {
            forms.push((quoted(from), quoted(to)));
            if bare_ok(from) {
                forms.push((from.clone(), new_form(to)));
            }
        }
        for (f, t) in forms {
            out = replace_identifier(&out, &f, &t);
        }
    }
    out
}

/// `text` with `from` replaced by `to` where neither an identifier character nor a `.` joins it
/// to a longer name (a `.` after it is allowed: `orders.id`).
fn replace_identifier(text: &str, from: &str, to: &str) -> String {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in text.match_indices(from) {
        if at < last {
            continue;
        }
        let before = text[..at].chars().next_back();
        let after = text[at + from.len()..].chars().next();
        let joined_before = before.is_some_and(|c| ident(c) || (c == '.' && !from.contains('.') && !from.starts_with('"')));
        let joined_after = after.is_some_and(|c| ident(c) || (c == '"' && !from.ends_with('"')));
        if joined_before || joined_after {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(to);
        last = at + from.len();
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_replaced_whole_and_nowhere_else() {
        assert_eq!(replace_identifier("ON public.orders USING", "public.orders", "public.o2"), "ON public.o2 USING");
        assert_eq!(replace_identifier("public.orders_archive", "public.orders", "public.o2"), "public.orders_archive");
        assert_eq!(replace_identifier("OWNED BY public.orders.id;", "public.orders", "public.o2"), "OWNED BY public.o2.id;");
        assert_eq!(replace_identifier("x.orders", "orders", "o2"), "x.orders", "a bare name after another schema is not ours");
        assert_eq!(replace_identifier("CONSTRAINT orders_pkey PRIMARY", "orders_pkey", "o2_pkey"), "CONSTRAINT o2_pkey PRIMARY");
    }
}
