//! What a drill checks once the dump is loaded: every table's rows against the dump's own count
//! (its table of contents), and the user's assertions (`--assert FILE`: queries that must each
//! return true).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use repo_format::drill_record::{Assertion, TableCount};

use store::ingest::shorten;

use super::server::{Engine, Server};

/// Bytes of a query or of what it returned shown in a failure.
const SHOWN: usize = 200;

/// A table whose rows the dump counts, and the database it was loaded into.
pub struct Expected {
    /// The database it was loaded into.
    pub db: String,
    /// Whether that database is one the dump named (a dump of several), for the record.
    pub named: bool,
    /// Its schema (PostgreSQL), if the dump names one.
    pub schema: Option<String>,
    /// Its name.
    pub name: String,
    /// The dump's rows.
    pub rows: u64,
}

/// Count each table's rows after the load (one client run per database) and note every count
/// that differs from the dump's in `failures`.
pub fn count_rows(server: &Server, tables: &[Expected], failures: &mut Vec<String>) -> Result<Vec<TableCount>> {
    let e = server.engine;
    let mut by_db: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, t) in tables.iter().enumerate() {
        by_db.entry(&t.db).or_default().push(i);
    }
    let mut found: Vec<Option<u64>> = vec![None; tables.len()];
    for (db, members) in by_db {
        let script: String = members
            .iter()
            .map(|&i| {
                let t = &tables[i];
                match e {
                    // ONLY: a parent's count would include its inheritors' rows, dumped as their own.
                    Engine::Postgres => {
                        let table = t.schema.as_deref().map_or_else(|| e.quote(&t.name), |s| format!("{}.{}", e.quote(s), e.quote(&t.name)));
                        format!("SELECT '{i}:' || count(*) FROM ONLY {table};\n")
                    }
                    Engine::MariaDb => format!("SELECT CONCAT('{i}:', COUNT(*)) FROM {};\n", e.quote(&t.name)),
                }
            })
            .collect();
        let run = server.sql(db, &script)?;
        for line in &run.out {
            if let Some((i, n)) = line.split_once(':')
                && let (Ok(i), Ok(n)) = (i.parse::<usize>(), n.parse::<u64>())
                && i < found.len()
            {
                found[i] = Some(n);
            }
        }
        failures.extend(run.err.iter().filter(|l| l.contains("ERROR")).map(|l| format!("counting rows: {l}")));
    }
    let mut out = Vec::with_capacity(tables.len());
    for (t, found) in tables.iter().zip(found) {
        let shown = t.schema.as_deref().map_or_else(|| t.name.clone(), |s| format!("{s}.{}", t.name));
        match found {
            Some(n) if n == t.rows => {}
            Some(n) => failures.push(format!("table {shown}: {n} row(s) after loading, the dump holds {}", t.rows)),
            None => failures.push(format!("table {shown}: could not be counted after loading (the dump holds {} row(s))", t.rows)),
        }
        out.push(TableCount { database: t.named.then(|| t.db.clone()), schema: t.schema.clone(), name: t.name.clone(), expected: t.rows, found });
    }
    Ok(out)
}

/// The queries of an assertions file: each ends with `;` at the end of a line; lines starting
/// with `--` between queries are comments.
pub fn parse_assertions(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if current.trim().is_empty() && (t.is_empty() || t.starts_with("--")) {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if t.ends_with(';') {
            let q = current.trim().trim_end_matches(';').trim().to_string();
            if !q.is_empty() {
                out.push(q);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    if out.is_empty() {
        bail!("it holds no query (each query ends with `;`; lines starting with -- are comments)");
    }
    Ok(out)
}

/// Run each assertion in `db`, in a read-only transaction rolled back after it (an assertion
/// cannot change what the next one sees): it passes when it returns one row of one true value
/// (`t`, `true` or `1`); a failure goes into `failures` with what it returned instead.
pub fn run_assertions(server: &Server, db: &str, queries: &[String], failures: &mut Vec<String>) -> Result<Vec<Assertion>> {
    let begin = match server.engine {
        Engine::Postgres => "BEGIN READ ONLY",
        Engine::MariaDb => "START TRANSACTION READ ONLY",
    };
    let mut out = Vec::new();
    for q in queries {
        let run = server.sql(db, &format!("{begin};\n{q};\nROLLBACK;\n"))?;
        let errors: Vec<&String> = run.err.iter().filter(|l| l.contains("ERROR")).collect();
        let passed = errors.is_empty() && run.out.len() == 1 && ["t", "true", "1"].contains(&run.out[0].trim().to_ascii_lowercase().as_str());
        let returned = match &run.out[..] {
            [] => "no row".to_string(),
            [one] if one.is_empty() || one == "NULL" => "NULL".to_string(),
            rows => shorten(rows.join(" | "), SHOWN),
        };
        let detail = (!passed).then(|| if errors.is_empty() { format!("returned {returned}") } else { errors.iter().map(|e| e.as_str()).collect::<Vec<_>>().join("; ") });
        if let Some(d) = &detail {
            failures.push(format!("assertion failed: {}: {d}", shorten(q.replace('\n', " "), SHOWN)));
        }
        out.push(Assertion { query: q.clone(), passed, detail });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assertions_end_at_a_semicolon_at_line_end_and_skip_comments() {
        let q = parse_assertions("-- orders exist\nSELECT count(*) > 0\n  FROM orders;\n\n-- none in the future\nSELECT max(created) < now() FROM orders;\nSELECT 1").unwrap();
        assert_eq!(q, ["SELECT count(*) > 0\n  FROM orders", "SELECT max(created) < now() FROM orders", "SELECT 1"]);
        assert!(parse_assertions("-- only a comment\n\n").is_err());
        assert_eq!(parse_assertions("SELECT ';' = ';';").unwrap(), ["SELECT ';' = ';'"]);
    }
}
