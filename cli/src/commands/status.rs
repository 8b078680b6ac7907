//! `dbvault status`: is every database backed up recently enough, and proven restorable? Each
//! database's last snapshot (one manifest read per database, from the index), its age, its last
//! complete one when the last was kept cut short, and its last drill.

use anyhow::Result;
use jiff::{SignedDuration, Timestamp};
use repo_format::Id;
use serde::Serialize;
use store::Repository;
use store::snapshot::{self, Snapshot};

use crate::cli::{Global, StatusArgs};
use crate::output;

/// A snapshot as `status --json` names it.
#[derive(Serialize)]
struct Brief {
    id: Id,
    time: Timestamp,
    age_seconds: i64,
    size: u64,
    incomplete: bool,
}

impl Brief {
    fn of(s: &Snapshot, now: Timestamp) -> Brief {
        let m = &s.manifest;
        Brief { id: s.id, time: m.end, age_seconds: now.duration_since(m.end).as_secs(), size: m.size, incomplete: m.incomplete }
    }
}

/// One database's state.
#[derive(Serialize)]
struct DatabaseStatus {
    db: String,
    /// None only for a database named with --db that has no snapshot.
    last: Option<Brief>,
    /// The last snapshot that is not incomplete (the last itself, usually); none if every one is.
    last_complete: Option<Brief>,
    /// Older than `--max-age` allows (always false without it).
    stale: bool,
    /// The last drill of any of its snapshots (none: never drilled).
    last_drill: Option<LastDrill>,
    /// Its last drill failed, or it is older than `--max-drill-age` allows (or there is none).
    drill_problem: Option<String>,
    /// Its WAL archive (`wal push`), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    wal: Option<WalStatus>,
}

/// A database's WAL archive: the last file archived.
#[derive(Serialize)]
struct WalStatus {
    last_file: String,
    time: Timestamp,
    age_seconds: i64,
    /// Older than `--max-wal-age` allows (always false without it).
    stale: bool,
}

/// A database's last drill (SPEC.md section 9.5).
#[derive(Serialize)]
struct LastDrill {
    snapshot: Id,
    time: Timestamp,
    age_seconds: i64,
    passed: bool,
    failures: usize,
}

/// The last `check` (SPEC.md section 9.4).
#[derive(Serialize)]
struct LastCheck {
    time: Timestamp,
    age_seconds: i64,
    host: String,
    read_data: String,
    problems: u64,
    ok: bool,
}

/// `status --json`.
#[derive(Serialize)]
struct StatusDoc {
    time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_drill_age_seconds: Option<i64>,
    databases: Vec<DatabaseStatus>,
    stale: Vec<String>,
    /// Databases whose last drill failed or is too old, with why.
    drill_problems: Vec<String>,
    /// None when no check was ever recorded.
    last_check: Option<LastCheck>,
}

pub fn run(g: &Global, repo: &Repository, a: &StatusArgs) -> Result<()> {
    let max_age = a.max_age.as_deref().map(|s| duration("--max-age", s)).transpose()?;
    let max_drill_age = a.max_drill_age.as_deref().map(|s| duration("--max-drill-age", s)).transpose()?;
    let max_wal_age = a.max_wal_age.as_deref().map(|s| duration("--max-wal-age", s)).transpose()?;
    let index = repo.index_reader()?;
    let now = Timestamp::now();
    let names = match &a.db {
        Some(d) => vec![d.clone()],
        // A database with only a WAL archive (no base backup yet) is watched too.
        None => {
            let mut names = snapshot::databases(repo, &index)?;
            names.extend(snapshot::wal_archives(repo, &index)?);
            names.sort();
            names.dedup();
            names
        }
    };
    // Each database's last drill: of a snapshot still there.
    let mut drills: std::collections::HashMap<String, repo_format::drill_record::DrillRecord> = std::collections::HashMap::new();
    let present: std::collections::HashSet<Id> = index.snapshot_ids()?.into_iter().collect();
    for (_, r) in store::drill_records::all(repo)? {
        if present.contains(&r.snapshot) {
            drills.insert(r.db.clone(), r);
        }
    }
    let mut databases = Vec::new();
    for db in names {
        let last = snapshot::latest(repo, &index, &db)?;
        let wal_last = store::wal::latest(repo, &index, &db)?;
        if last.is_none() && wal_last.is_none() && max_age.is_none() && max_drill_age.is_none() {
            return Err(snapshot::no_such_database(repo, &index, &db).into());
        }
        // With --max-age, a database asked for that has no snapshot is as stale as can be.
        let last_complete = match &last {
            Some(l) if l.manifest.incomplete => snapshot::list_of(repo, &index, &db)?.into_iter().rev().find(|s| !s.manifest.incomplete),
            l => l.clone(),
        };
        let stale = max_age.is_some_and(|max| last_complete.as_ref().is_none_or(|s| now.duration_since(s.manifest.end) > max));
        if last.is_none() && wal_last.is_none() {
            crate::errln!("dbvault: {}", snapshot::no_such_database(repo, &index, &db));
        }
        let drill = drills.remove(&db);
        let drill_problem = match (&drill, max_drill_age) {
            (Some(d), _) if !d.passed => Some(format!("{db}: its last drill FAILED ({})", d.failures.first().map_or("", |f| f.as_str()))),
            (Some(d), Some(max)) if now.duration_since(d.end) > max => Some(format!("{db}: last drilled {} ago", age(now.duration_since(d.end).as_secs()))),
            (None, Some(_)) => Some(format!("{db}: never drilled")),
            _ => None,
        };
        let last_drill = drill.map(|d| LastDrill { snapshot: d.snapshot, age_seconds: now.duration_since(d.end).as_secs(), time: d.end, passed: d.passed, failures: d.failures.len() });
        let wal = wal_last.and_then(|s| {
            let age = now.duration_since(s.manifest.end);
            s.manifest.wal.map(|w| WalStatus { last_file: w.file, time: s.manifest.end, age_seconds: age.as_secs(), stale: max_wal_age.is_some_and(|max| age > max) })
        });
        databases.push(DatabaseStatus { db, last: last.map(|s| Brief::of(&s, now)), last_complete: last_complete.map(|s| Brief::of(&s, now)), stale, last_drill, drill_problem, wal });
    }
    let stale: Vec<String> = databases.iter().filter(|d| d.stale).map(|d| d.db.clone()).collect();
    let mut drill_problems: Vec<String> = databases.iter().filter_map(|d| d.drill_problem.clone()).collect();
    drill_problems.extend(databases.iter().filter_map(|d| {
        d.wal.as_ref().filter(|w| w.stale).map(|w| format!("{}: nothing archived by wal push for {} (last: {})", d.db, age(w.age_seconds), w.last_file))
    }));
    let last_check = store::check_records::latest(repo)?.map(|c| LastCheck {
        age_seconds: now.duration_since(c.time).as_secs(),
        time: c.time,
        host: c.host,
        read_data: c.read_data,
        ok: c.problems == 0,
        problems: c.problems,
    });
    let damage = last_check.as_ref().filter(|c| !c.ok).map(|c| c.problems);
    let doc = StatusDoc {
        time: now,
        max_age_seconds: max_age.map(|m| m.as_secs()),
        max_drill_age_seconds: max_drill_age.map(|m| m.as_secs()),
        databases,
        stale: stale.clone(),
        drill_problems: drill_problems.clone(),
        last_check,
    };
    let printed = print(g, &doc);
    // Stale backups or damage are the news, whatever became of the output (a reader that stopped
    // early).
    if !stale.is_empty() || damage.is_some() || !drill_problems.is_empty() {
        return Err(crate::exit::Stale { stale, max_age: a.max_age.clone().unwrap_or_default(), damage, problems: drill_problems }.into());
    }
    printed
}

/// Print the states as a table, or as JSON.
fn print(g: &Global, doc: &StatusDoc) -> Result<()> {
    let databases = &doc.databases;
    if g.json {
        output::json(doc)?;
    } else if !g.quiet {
        let rows: Vec<Vec<String>> = databases
            .iter()
            .map(|d| {
                let Some(last) = &d.last else {
                    let state = if d.wal.is_some() { "WAL only: no base backup" } else { "STALE: no snapshot" };
                    return vec![output::printable(&d.db).into_owned(), "-".into(), "-".into(), "-".into(), "-".into(), "none".into(), "-".into(), state.into()];
                };
                let complete = match &d.last_complete {
                    Some(c) if c.id == last.id => "the last".to_string(),
                    Some(c) => format!("{} ({} ago)", c.id.short(), age(c.age_seconds)),
                    None => "none".to_string(),
                };
                let state = if d.stale {
                    "STALE"
                } else if last.incomplete {
                    "last INCOMPLETE"
                } else if d.last_drill.as_ref().is_some_and(|l| !l.passed) {
                    "DRILL FAILED"
                } else if d.drill_problem.is_some() {
                    "DRILL DUE"
                } else {
                    "ok"
                };
                let drill = d.last_drill.as_ref().map_or_else(|| "never".into(), |l| format!("{} {} ago", if l.passed { "passed" } else { "FAILED" }, age(l.age_seconds)));
                vec![output::printable(&d.db).into_owned(), last.id.short(), output::local_time(last.time), age(last.age_seconds), output::size(last.size), complete, drill, state.to_string()]
            })
            .collect();
        output::table(&["DB", "LAST", "TIME", "AGE", "SIZE", "LAST COMPLETE", "LAST DRILL", "STATE"], &rows)?;
        for d in databases {
            if let Some(w) = &d.wal {
                let state = if w.stale { " STALE" } else { "" };
                crate::outln!("WAL archive of {}: last {} archived {} ago{state}", output::printable(&d.db), w.last_file, age(w.age_seconds));
            }
        }
        match &doc.last_check {
            Some(c) => crate::outln!(
                "last check: {} ago on {} (data read: {}): {}",
                age(c.age_seconds),
                c.host,
                c.read_data,
                if c.ok { "no problems".to_string() } else { format!("{} PROBLEM(S): run `dbvault check` to see them", c.problems) }
            ),
            None => crate::outln!("last check: none recorded (run `dbvault check`, with --read-data-subset now and then)"),
        }
    }
    Ok(())
}

/// `--max-age`, `--max-drill-age`, `drill --timeout`: a positive duration (days count 24 hours).
pub(crate) fn duration(option: &str, s: &str) -> Result<SignedDuration> {
    let bad = |why: String| crate::exit::usage(format!("{option} {s:?}: {why}; give a duration such as 26h, 2d or 1 week"));
    let span = s.parse::<jiff::Span>().map_err(|_| bad("not a duration".into()))?;
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(bad("months and years have no fixed length: count in days or weeks".into()));
    }
    let d = SignedDuration::try_from(span).or_else(|_| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours())).map_err(|_| bad("too long".into()))?;
    if d <= SignedDuration::ZERO {
        return Err(bad("it is not positive".into()));
    }
    Ok(d)
}

/// An age in words: `3 h 05 min`, `2 d 4 h`.
fn age(seconds: i64) -> String {
    let (d, h, m) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    match (d, h) {
        (0, 0) if m == 0 => format!("{} s", seconds.max(0)),
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m:02} min"),
        _ => format!("{d} d {h} h"),
    }
}
