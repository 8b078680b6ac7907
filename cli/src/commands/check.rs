//! `dbvault check`.

use anyhow::Result;
use serde::Serialize;
use store::Repository;
use repo_format::check_record::CheckRecord;
use store::check::{CheckReport, ReadData, check};

use crate::cli::{CheckArgs, Global};
use crate::output;

fn parse_subset(s: &str) -> Result<ReadData> {
    let bad = |why: &str| crate::exit::usage(format!("--read-data-subset {s:?}: {why}"));
    if let Some(p) = s.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad("not a percentage"))?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(bad("the percentage must be in (0, 100]"));
        }
        return Ok(ReadData::Fraction(p / 100.0));
    }
    let (n, m) = s.split_once('/').ok_or_else(|| bad("expected P% or N/M"))?;
    let (n, m): (u64, u64) = match (n.trim().parse(), m.trim().parse()) {
        (Ok(n), Ok(m)) => (n, m),
        _ => return Err(bad("expected P% or N/M with whole numbers")),
    };
    if m == 0 || n == 0 || n > m {
        return Err(bad("N/M needs 1 <= N <= M"));
    }
    Ok(ReadData::Part { n, m })
}

/// Check the repository, reading `read` of its data, and leave the check's record (SPEC.md
/// section 9.4), which `status` and the metrics file tell of.
pub(crate) fn check_and_record(repo: &Repository, read: ReadData, quiet: bool) -> Result<CheckReport> {
    let bar = output::progress(Some(0), quiet, "checking");
    let progress = output::phase_progress(&bar);
    let result = check(repo, read, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let r = result?;
    let problems = r.problems.len() + r.damaged.len();
    let record = CheckRecord {
        time: jiff::Timestamp::now(),
        host: store::repository::hostname(),
        read_data: match read {
            ReadData::No => "none",
            ReadData::All => "all",
            _ => "subset",
        }
        .into(),
        read_data_part: match read {
            ReadData::Part { n, m } => Some([n, m]),
            _ => None,
        },
        problems: problems as u64,
        damaged_snapshots: r.damaged.len() as u64,
        client: format!("dbvault {}", env!("CARGO_PKG_VERSION")),
    };
    if let Err(e) = store::check_records::record(repo, &record) {
        crate::errln!("dbvault: warning: this check's result was not recorded in the repository ({e}); `status` will not show it");
    }
    Ok(r)
}

/// What `check --json` prints: the report, and whether it found nothing wrong.
#[derive(Serialize)]
struct CheckDoc<'a> {
    /// The report.
    #[serde(flatten)]
    report: &'a CheckReport,
    /// True when no problem was found.
    ok: bool,
}

pub fn run(g: &Global, repo: &Repository, a: &CheckArgs) -> Result<()> {
    let read = match (&a.read_data_subset, a.read_data) {
        (Some(s), _) => parse_subset(s)?,
        (None, true) => ReadData::All,
        (None, false) => ReadData::No,
    };
    let r = check_and_record(repo, read, g.quiet)?;
    let problems = r.problems.len() + r.damaged.len();
    let printed = print(g, &r, read);
    // Damage is the news, whatever became of the output (a reader that stopped early).
    if problems > 0 {
        return Err(crate::exit::CheckFailed(problems).into());
    }
    printed
}

/// The report as text, or as JSON.
fn print(g: &Global, r: &CheckReport, read: ReadData) -> Result<()> {
    if g.json {
        output::json(&CheckDoc { report: r, ok: r.ok() })?;
    } else if !g.quiet || !r.ok() {
        crate::outln!(
            "checked {} snapshot(s), {} pack(s){}",
            r.snapshots,
            r.packs,
            if read == ReadData::No { String::new() } else { format!(", read {} pack(s) and verified {} blob(s)", r.packs_read, r.blobs_read) }
        );
        if r.unindexed_packs > 0 && r.ok() {
            crate::outln!("{} pack(s) are not referenced by the index (left by interrupted ingests; harmless)", r.unindexed_packs);
        }
        if r.unused_damaged_blobs > 0 {
            crate::outln!(
                "{} damaged blob(s) that the index does not use (dropped by `repair index`, or spare copies; harmless): prune rewrites their packs once their unused share passes --max-unused (10%), `prune --max-unused 0` at once",
                r.unused_damaged_blobs
            );
        }
        for p in &r.problems {
            crate::outln!("problem: {p}");
        }
        for t in &r.damaged_tables_of_contents {
            crate::outln!("note: {t}");
        }
        for d in &r.damaged {
            crate::outln!("snapshot {} of db {}: {} chunk(s) missing, {} unreadable", d.snapshot.short(), d.db, d.missing, d.unreadable);
            for e in &d.examples {
                crate::outln!("    {e}");
            }
        }
        if r.ok() {
            crate::outln!("no problems found");
        }
    }
    Ok(())
}
