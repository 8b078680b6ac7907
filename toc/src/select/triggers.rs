//! Rows alone (`--data-only`) into tables whose triggers exist already: as a dump loads them, rows
//! go in before the triggers are created, and a trigger that fired now would change them (a
//! `BEFORE INSERT` that stamps a column) or add rows elsewhere (an audit log). PostgreSQL: each
//! trigger the dump has on those tables is turned off by name while the rows load, and then set to
//! what the dump says of it (enabled, `ENABLE ALWAYS`, `ENABLE REPLICA`; one the dump disables is
//! left alone), so the schema step's states stand; the table's owner may do this, and foreign keys
//! stay checked. MySQL cannot turn a trigger off, so the plan warns.

use super::{Dialect, Piece, Plan, ReadRanges, SelectError};
use crate::{Kind, Object, Toc};

/// Turn off (PostgreSQL) or warn of (MySQL) the triggers of the tables whose rows `plan` loads;
/// `read` gives the triggers' text (what state the dump leaves each in).
pub(super) fn quiet(plan: &mut Plan, toc: &Toc, dialect: Dialect, read: &mut ReadRanges<'_>) -> Result<(), SelectError> {
    let of_table = |t: &Object, o: &Object| {
        o.kind == Kind::Trigger
            && o.database == t.database
            && o.schema == t.schema
            && match dialect {
                Dialect::Postgres => o.name.strip_prefix(t.name.as_str()).is_some_and(|r| r.starts_with(' ')),
                _ => o.name == t.name,
            }
    };
    let tables: Vec<&Object> = plan.objects.iter().map(|&i| &toc.objects[i]).filter(|t| t.kind == Kind::TableData).collect();
    let triggers: Vec<(&Object, &Object)> = tables.iter().flat_map(|&t| toc.objects.iter().filter(move |o| of_table(t, o)).map(move |o| (t, o))).collect();
    if triggers.is_empty() {
        return Ok(());
    }
    if dialect != Dialect::Postgres {
        let mut names: Vec<&str> = triggers.iter().map(|(t, _)| t.name.as_str()).collect();
        names.dedup();
        plan.warnings.push(format!(
            "{} ha{} triggers in the dump, which fire as these rows load if they exist in the database (MySQL cannot turn them off): load the rows before creating the triggers, or check what they did",
            names.join(", "),
            if names.len() == 1 { "s" } else { "ve" }
        ));
        return Ok(());
    }
    let texts = read(&triggers.iter().map(|(_, o)| o.range.clone()).collect::<Vec<_>>())?;
    let mut off = "\n-- dbvault: these tables' triggers are turned off while their rows load (as pg_dump --disable-triggers), so the rows load as dumped\n".to_string();
    let mut on = "\n-- dbvault: their triggers as the dump leaves them\n".to_string();
    for ((t, o), text) in triggers.iter().zip(texts) {
        let text = String::from_utf8_lossy(&text);
        let how = if text.contains("DISABLE TRIGGER") {
            continue; // off in the dump: off it stays
        } else if text.contains("ENABLE ALWAYS TRIGGER") {
            "ENABLE ALWAYS"
        } else if text.contains("ENABLE REPLICA TRIGGER") {
            "ENABLE REPLICA"
        } else {
            "ENABLE"
        };
        let (table, trigger) = (pg_name(t), quoted(&o.name[t.name.len() + 1..]));
        off.push_str(&format!("ALTER TABLE {table} DISABLE TRIGGER {trigger};\n"));
        on.push_str(&format!("ALTER TABLE {table} {how} TRIGGER {trigger};\n"));
    }
    // After the preamble's settings, which come first.
    let at = usize::from(matches!(plan.pieces.first(), Some(Piece::Note(_))));
    plan.pieces.insert(at, Piece::Note(off + "\n"));
    plan.pieces.push(Piece::Note(on));
    Ok(())
}

/// `"schema"."name"`: always quoted, so that no name is read as a keyword (`user`, `order`).
fn pg_name(t: &Object) -> String {
    match &t.schema {
        Some(s) => format!("{}.{}", quoted(s), quoted(&t.name)),
        None => quoted(&t.name),
    }
}

/// A PostgreSQL identifier in double quotes.
fn quoted(p: &str) -> String {
    format!("\"{}\"", p.replace('"', "\"\""))
}
