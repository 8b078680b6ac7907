//! Rows alone (`--data-only`) into tables whose triggers exist already: as a dump loads them, rows
//! go in before the triggers are created, and a trigger that fired now would change them (a
//! `BEFORE INSERT` that stamps a column) or add rows elsewhere (an audit log). PostgreSQL's user
//! triggers of those tables are turned off while the rows load, as `pg_dump --disable-triggers`
//! does (`DISABLE TRIGGER USER`: the table's owner may, and foreign keys stay checked); MySQL
//! cannot turn a trigger off, so the plan warns.

use super::{Dialect, Piece, Plan};
use crate::{Kind, Object, Toc};

/// Turn off (PostgreSQL) or warn of (MySQL) the triggers of the tables whose rows `plan` loads.
pub(super) fn quiet(plan: &mut Plan, toc: &Toc, dialect: Dialect) {
    let has_triggers = |t: &Object| {
        toc.objects.iter().any(|o| {
            o.kind == Kind::Trigger
                && o.database == t.database
                && o.schema == t.schema
                && match dialect {
                    Dialect::Postgres => o.name.strip_prefix(t.name.as_str()).is_some_and(|r| r.starts_with(' ')),
                    _ => o.name == t.name,
                }
        })
    };
    let tables: Vec<&Object> = plan.objects.iter().map(|&i| &toc.objects[i]).filter(|o| o.kind == Kind::TableData && has_triggers(o)).collect();
    if tables.is_empty() {
        return;
    }
    match dialect {
        Dialect::Postgres => {
            let names: Vec<String> = tables.iter().map(|t| pg_name(t)).collect();
            let mut off = "\n-- dbvault: these tables' triggers are turned off while their rows load (as pg_dump --disable-triggers), so the rows load as dumped\n".to_string();
            let mut on = "\n-- dbvault: their triggers on again\n".to_string();
            for n in &names {
                off.push_str(&format!("ALTER TABLE {n} DISABLE TRIGGER USER;\n"));
                on.push_str(&format!("ALTER TABLE {n} ENABLE TRIGGER USER;\n"));
            }
            // After the preamble's settings, which come first.
            let at = usize::from(matches!(plan.pieces.first(), Some(Piece::Note(_))));
            plan.pieces.insert(at, Piece::Note(off + "\n"));
            plan.pieces.push(Piece::Note(on));
        }
        Dialect::MySql | Dialect::TSql => {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            plan.warnings.push(format!(
                "{} ha{} triggers in the dump, which fire as these rows load if they exist in the database (MySQL cannot turn them off): load the rows before creating the triggers, or check what they did",
                names.join(", "),
                if names.len() == 1 { "s" } else { "ve" }
            ));
        }
    }
}

/// `"schema"."name"`: always quoted, so that no name is read as a keyword (`user`, `order`).
fn pg_name(t: &Object) -> String {
    let part = |p: &str| format!("\"{}\"", p.replace('"', "\"\""));
    match &t.schema {
        Some(s) => format!("{}.{}", part(s), part(&t.name)),
        None => part(&t.name),
    }
}
