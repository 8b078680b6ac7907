//! `dbvault status`: is every database backed up recently enough? Each database's last snapshot
//! (one manifest read per database, from the index), its age, and its last complete one when the
//! last was kept cut short.

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
    databases: Vec<DatabaseStatus>,
    stale: Vec<String>,
    /// None when no check was ever recorded.
    last_check: Option<LastCheck>,
}

pub fn run(g: &Global, repo: &Repository, a: &StatusArgs) -> Result<()> {
    let max_age = a.max_age.as_deref().map(max_age).transpose()?;
    let index = repo.index_reader()?;
    let now = Timestamp::now();
    let names = match &a.db {
        Some(d) => vec![d.clone()],
        None => snapshot::databases(repo, &index)?,
    };
    let mut databases = Vec::new();
    for db in names {
        let last = snapshot::latest(repo, &index, &db)?;
        if last.is_none() && max_age.is_none() {
            return Err(snapshot::no_such_database(repo, &index, &db).into());
        }
        // With --max-age, a database asked for that has no snapshot is as stale as can be.
        let last_complete = match &last {
            Some(l) if l.manifest.incomplete => snapshot::list_of(repo, &index, &db)?.into_iter().rev().find(|s| !s.manifest.incomplete),
            l => l.clone(),
        };
        let stale = max_age.is_some_and(|max| last_complete.as_ref().is_none_or(|s| now.duration_since(s.manifest.end) > max));
        if last.is_none() {
            crate::errln!("dbvault: {}", snapshot::no_such_database(repo, &index, &db));
        }
        databases.push(DatabaseStatus { db, last: last.map(|s| Brief::of(&s, now)), last_complete: last_complete.map(|s| Brief::of(&s, now)), stale });
    }
    let stale: Vec<String> = databases.iter().filter(|d| d.stale).map(|d| d.db.clone()).collect();
    let last_check = store::check_records::latest(repo)?.map(|c| LastCheck {
        age_seconds: now.duration_since(c.time).as_secs(),
        time: c.time,
        host: c.host,
        read_data: c.read_data,
        ok: c.problems == 0,
        problems: c.problems,
    });
    let damage = last_check.as_ref().filter(|c| !c.ok).map(|c| c.problems);
    let doc = StatusDoc { time: now, max_age_seconds: max_age.map(|m| m.as_secs()), databases, stale: stale.clone(), last_check };
    let printed = print(g, &doc);
    // Stale backups or damage are the news, whatever became of the output (a reader that stopped
    // early).
    if !stale.is_empty() || damage.is_some() {
        return Err(crate::exit::Stale { stale, max_age: a.max_age.clone().unwrap_or_default(), damage }.into());
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
                    return vec![output::printable(&d.db).into_owned(), "-".into(), "-".into(), "-".into(), "-".into(), "none".into(), "STALE: no snapshot".into()];
                };
                let complete = match &d.last_complete {
                    Some(c) if c.id == last.id => "the last".to_string(),
                    Some(c) => format!("{} ({} ago)", c.id.short(), age(c.age_seconds)),
                    None => "none".to_string(),
                };
                let state = if d.stale { "STALE" } else if last.incomplete { "last INCOMPLETE" } else { "ok" };
                vec![output::printable(&d.db).into_owned(), last.id.short(), output::local_time(last.time), age(last.age_seconds), output::size(last.size), complete, state.to_string()]
            })
            .collect();
        output::table(&["DB", "LAST", "TIME", "AGE", "SIZE", "LAST COMPLETE", "STATE"], &rows)?;
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

/// `--max-age`: a positive duration (days count 24 hours).
fn max_age(s: &str) -> Result<SignedDuration> {
    let bad = |why: String| crate::exit::usage(format!("--max-age {s:?}: {why}; give a duration such as 26h, 2d or 1 week"));
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
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m:02} min"),
        _ => format!("{d} d {h} h"),
    }
}
