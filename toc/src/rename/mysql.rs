//! `--rename-to` for mysqldump's and mariadb-dump's dumps. The table's name becomes the new one
//! where the dump names the table (`DROP TABLE IF EXISTS`, `CREATE TABLE`, `LOCK TABLES`,
//! `ALTER TABLE`, the head of each `INSERT`, a foreign key to itself, its block comments), and so
//! do the names a database holds only once: its constraints' (`orders_ibfk_1` becomes
//! `NEW_ibfk_1`) and its triggers' (`orders_touch` becomes `NEW_touch`; a name that does not start
//! with the table's gets `NEW_` before it). Index names belong to their table and stay. Rows are
//! copied verbatim; only the head of each statement is rewritten. Triggers' bodies are left as
//! written: a trigger of the copy acts where the original's acted.

use std::ops::Range;

use super::statements::rewrite_heads;
use super::{dependent, one};
use crate::select::{Piece, Plan, ReadRanges, SelectError};
use crate::sql::Lexer;
use crate::{Kind, Toc};

/// Where mysqldump names a table (keywords as it writes them).
const TABLE_AFTER: &[&str] = &[
    "CREATE TABLE ",
    "CREATE TABLE IF NOT EXISTS ",
    "REFERENCES ",
    "LOCK TABLES ",
    "ALTER TABLE ",
    "INSERT INTO ",
    "INSERT IGNORE INTO ",
    "REPLACE INTO ",
    "for table ",
];

/// The names to change: (from, to), the table's first.
struct Names {
    table: (String, String),
    constraints: Vec<(String, String)>,
    triggers: Vec<(String, String)>,
}

/// Rewrite `plan`, the script of table `old` (and only it), to create it as `new`.
pub(super) fn rename(plan: &mut Plan, toc: &Toc, old: &str, new: &str, read: &mut ReadRanges<'_>) -> Result<(), SelectError> {
    let mut names = Names { table: (old.to_string(), new.to_string()), constraints: Vec::new(), triggers: Vec::new() };
    let defs: Vec<Range<u64>> = plan.objects.iter().map(|&i| &toc.objects[i]).filter(|o| matches!(o.kind, Kind::Table | Kind::Trigger)).map(|o| o.range.clone()).collect();
    for text in read(&defs)? {
        let text = String::from_utf8_lossy(&text);
        let constraints: Vec<usize> = text.match_indices("CONSTRAINT ").map(|(at, _)| at + "CONSTRAINT ".len()).collect();
        let mut triggers: Vec<usize> = Vec::new();
        while let Some(at) = find_trigger(&text[triggers.last().copied().unwrap_or(0)..]).map(|i| i + triggers.last().copied().unwrap_or(0)) {
            triggers.push(at);
        }
        for (list, starts) in [(&mut names.constraints, constraints), (&mut names.triggers, triggers)] {
            for n in starts.into_iter().filter_map(|at| token(&text, at)).map(|(_, n)| n) {
                if !list.iter().any(|(f, _)| *f == n) {
                    list.push((n.clone(), dependent(old, new, &n)));
                }
            }
        }
    }
    let mut pieces = Vec::new();
    for piece in std::mem::take(&mut plan.pieces) {
        let Piece::Dump(range) = piece else {
            pieces.push(piece);
            continue;
        };
        for o in toc.objects.iter().filter(|o| o.range.start < range.end && range.start < o.range.end) {
            let part = o.range.start.max(range.start)..o.range.end.min(range.end);
            match o.kind {
                Kind::TableData => pieces.extend(rewrite_heads(part, Lexer::mysql(), read, &mut |head| Ok(Some(rewrite(head, &names)).filter(|h| h != head)))?),
                Kind::Table | Kind::Trigger => pieces.push(Piece::Note(rewrite(&String::from_utf8_lossy(&one(read, part)?), &names))),
                _ => pieces.push(Piece::Dump(part)),
            }
        }
    }
    plan.pieces = pieces;
    plan.tables = vec![new.to_string()];
    Ok(())
}

/// `text` with the names changed where they stand as what they name, and mysqldump's `DROP TABLE
/// IF EXISTS` and `DROP TRIGGER IF EXISTS` (`--add-drop-trigger`) left out: next to the live
/// tables, a table of the new name that exists already must stop the script, not be dropped, and
/// the original's triggers stay.
fn rewrite(text: &str, names: &Names) -> String {
    let (old, new) = &names.table;
    let kept: String = text
        .split_inclusive('\n')
        .map(|line| {
            if line.starts_with("DROP TABLE IF EXISTS ") {
                format!("-- dbvault: DROP TABLE IF EXISTS {} left out (--rename-to never drops a table)\n", quoted(new))
            } else if line.trim_start_matches("/*!50032 ").starts_with("DROP TRIGGER ") {
                "-- dbvault: a DROP TRIGGER left out (--rename-to never drops a trigger)\n".to_string()
            } else {
                line.to_string()
            }
        })
        .collect();
    let mut out = TABLE_AFTER.iter().fold(kept, |t, k| after_keyword(&t, k, old, new));
    for (from, to) in &names.constraints {
        out = after_keyword(&out, "CONSTRAINT ", from, to);
    }
    let mut at = 0;
    while let Some(i) = find_trigger(&out[at..]).map(|i| at + i) {
        let (header, end) = trigger_header(&out, i, names);
        out.replace_range(i..end, &header);
        at = i + header.len();
    }
    out
}

/// A trigger's header from its name (at `at`) to its `FOR EACH ROW` and what follows it
/// (`FOLLOWS`/`PRECEDES` another), with its name, its table and the trigger it follows renamed;
/// and where the header ended in `text`. The body is not looked at.
fn trigger_header(text: &str, at: usize, names: &Names) -> (String, usize) {
    let mut out = String::new();
    let mut pos = at;
    // What the next token is: 0 the trigger's name, 1 words up to ON, 2 the table, 3 words up to
    // ROW, 4 FOLLOWS or PRECEDES (or the body), 5 the trigger it follows.
    let mut stage = 0;
    while stage < 6 {
        let Some((end, name)) = token(text, pos) else { break };
        let start = pos + (text[pos..].len() - text[pos..].trim_start().len());
        let word = text[start..end].to_ascii_uppercase();
        let renamed = match stage {
            0 | 5 => names.triggers.iter().find(|(f, _)| *f == name).map(|(_, t)| t),
            2 => Some(&names.table.1).filter(|_| name == names.table.0),
            4 if !matches!(word.as_str(), "FOLLOWS" | "PRECEDES") => break,
            _ => None,
        };
        stage = match (stage, word.as_str()) {
            (1, "ON") | (3, "ROW") => stage + 1,
            (1, _) | (3, _) => stage,
            _ => stage + 1,
        };
        out.push_str(&text[pos..start]);
        match renamed {
            // A qualified name keeps its database: only its last part changes.
            Some(to) => {
                let whole = &text[start..end];
                let last = match whole.strip_suffix('`') {
                    Some(w) => w.rfind("`.`").map(|d| d + 1),
                    None => whole.rfind('.').map(|d| d + 1),
                };
                out.push_str(&whole[..last.unwrap_or(0)]);
                out.push_str(&quoted(to));
            }
            None => out.push_str(&text[start..end]),
        }
        pos = end;
    }
    (out, pos)
}

/// Where the first trigger's name in `text` starts: after `/*!50003 TRIGGER ` (the keyword as the
/// trigger's author wrote it).
fn find_trigger(text: &str) -> Option<usize> {
    const OPENS: &str = "/*!50003 TRIGGER ";
    text.to_ascii_uppercase().find(OPENS).map(|i| i + OPENS.len())
}

/// `text` with `from` (quoted or bare) replaced by `to` where it follows `keyword`.
fn after_keyword(text: &str, keyword: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in text.match_indices(keyword) {
        let start = at + keyword.len();
        if start < last {
            continue;
        }
        let Some((end, name)) = token(text, start) else { continue };
        // Only a name alone (not `db`.`t`, which the dumps do not write): the whole token.
        if name == from && (!text[start..end].contains('.') || text[start..end] == quoted(from)) {
            out.push_str(&text[last..start]);
            out.push_str(&quoted(to));
            last = end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// The name `n` between backquotes.
fn quoted(n: &str) -> String {
    format!("`{}`", n.replace('`', "``"))
}

/// The identifier (or word) at `at` after blanks, possibly qualified (`db`.`t`): where it ends and
/// its last part unquoted. `None` where no identifier starts.
fn token(text: &str, at: usize) -> Option<(usize, String)> {
    let rest = &text[at..];
    let mut pos = at + (rest.len() - rest.trim_start().len());
    let mut name;
    loop {
        let s = &text[pos..];
        if let Some(inner) = s.strip_prefix('`') {
            let mut n = String::new();
            let mut chars = inner.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '`') if inner[i + 1..].starts_with('`') => {
                        n.push('`');
                        chars.next();
                    }
                    (i, '`') => break i + 1,
                    (_, c) => n.push(c),
                }
            };
            name = n;
            pos += 1 + end;
        } else {
            let len = s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$')).unwrap_or(s.len());
            if len == 0 {
                return None;
            }
            name = s[..len].to_string();
            pos += len;
        }
        if !text[pos..].starts_with('.') || !text[pos + 1..].starts_with(|c: char| c == '`' || c.is_alphanumeric() || c == '_') {
            return Some((pos, name));
        }
        pos += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            table: ("o".into(), "o2".into()),
            constraints: vec![("o_c_fk".into(), "o2_c_fk".into())],
            triggers: vec![("o_trg".into(), "o2_trg".into()), ("audit".into(), "o2_audit".into())],
        }
    }

    #[test]
    fn the_table_constraints_and_triggers_change_where_they_are_named_and_nowhere_else() {
        let def = "DROP TABLE IF EXISTS `o`;\nCREATE TABLE `o` (\n  `o` int,\n  KEY `o_c_fk` (`o`),\n  CONSTRAINT `o_c_fk` FOREIGN KEY (`o`) REFERENCES `c` (`id`),\n  CONSTRAINT `o_self` FOREIGN KEY (`o`) REFERENCES `o` (`o`)\n);\n";
        assert_eq!(
            rewrite(def, &names()),
            "-- dbvault: DROP TABLE IF EXISTS `o2` left out (--rename-to never drops a table)\nCREATE TABLE `o2` (\n  `o` int,\n  KEY `o_c_fk` (`o`),\n  CONSTRAINT `o2_c_fk` FOREIGN KEY (`o`) REFERENCES `c` (`id`),\n  CONSTRAINT `o_self` FOREIGN KEY (`o`) REFERENCES `o2` (`o`)\n);\n"
        );
        let trg = "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 trigger o_trg before insert on shop.o for each row follows audit update o set x = 1 where y on o */;;";
        assert_eq!(rewrite(trg, &names()), "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 trigger `o2_trg` before insert on shop.`o2` for each row follows `o2_audit` update o set x = 1 where y on o */;;");
        let mysql8 = "/*!50003 TRIGGER `audit` AFTER UPDATE ON `o` FOR EACH ROW INSERT INTO log VALUES (1) */;;";
        assert_eq!(rewrite(mysql8, &names()), "/*!50003 TRIGGER `o2_audit` AFTER UPDATE ON `o2` FOR EACH ROW INSERT INTO log VALUES (1) */;;");
        assert_eq!(rewrite("LOCK TABLES `oo` WRITE;\nALTER TABLE `o``x` DISABLE KEYS", &names()), "LOCK TABLES `oo` WRITE;\nALTER TABLE `o``x` DISABLE KEYS");
    }
}
