//! `dbvault forget` and `dbvault prune`.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use store::Repository;
use store::prune::{PruneReport, prune};
use store::retention::{Decision, Policy, apply};
use store::snapshot::{self, Snapshot};

use crate::cli::{ForgetArgs, Global, PruneArgs};
use crate::output;

fn policy(a: &ForgetArgs) -> Result<Policy> {
    let within = match &a.keep_within {
        None => None,
        Some(s) => Some(s.parse::<jiff::Span>().with_context(|| format!("--keep-within {s:?}: expected a duration such as 14d, 6 months, 1y"))?),
    };
    Ok(Policy {
        last: a.keep_last,
        hourly: a.keep_hourly,
        daily: a.keep_daily,
        weekly: a.keep_weekly,
        monthly: a.keep_monthly,
        yearly: a.keep_yearly,
        within,
        tags: a.keep_tag.clone(),
    })
}

pub fn run(g: &Global, repo: &Repository, a: &ForgetArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let mut decisions: BTreeMap<String, Vec<Decision>> = BTreeMap::new();
    let remove: Vec<Snapshot> = if !a.snapshots.is_empty() {
        a.snapshots.iter().map(|s| snapshot::resolve(repo, &index, s, a.db.as_deref())).collect::<Result<_, _>>()?
    } else {
        let p = policy(a)?;
        if p.is_empty() {
            bail!("no keep rule given: that would remove every snapshot. Give --keep-last, --keep-daily, ... or name snapshots to remove");
        }
        let all = snapshot::list(repo, &index, a.db.as_deref())?;
        let mut by_db: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
        for s in all {
            by_db.entry(s.manifest.db.clone()).or_default().push(s);
        }
        let now = Timestamp::now();
        let tz = TimeZone::system();
        for (db, snaps) in by_db {
            decisions.insert(db, apply(&p, &snaps, now, &tz));
        }
        decisions.values().flatten().filter(|d| !d.keep).map(|d| d.snapshot.clone()).collect()
    };
    drop(index);
    if g.json {
        let dbs: Vec<_> = decisions
            .iter()
            .map(|(db, ds)| {
                json!({
                    "db": db,
                    "keep": ds.iter().filter(|d| d.keep).map(|d| json!({ "id": d.snapshot.id, "time": d.snapshot.manifest.end, "reasons": d.reasons })).collect::<Vec<_>>(),
                    "remove": ds.iter().filter(|d| !d.keep).map(|d| json!({ "id": d.snapshot.id, "time": d.snapshot.manifest.end })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", json!({ "dry_run": a.dry_run, "databases": dbs, "removed": if a.dry_run { vec![] } else { remove.iter().map(|s| s.id).collect::<Vec<_>>() } }));
    } else if !g.quiet {
        for (db, ds) in &decisions {
            println!("db {db}: keep {}, remove {}", ds.iter().filter(|d| d.keep).count(), ds.iter().filter(|d| !d.keep).count());
            let rows: Vec<Vec<String>> = ds
                .iter()
                .map(|d| {
                    let m = &d.snapshot.manifest;
                    let flag = if m.incomplete { " (incomplete)" } else { "" };
                    vec![d.snapshot.id.short(), output::local_time(m.end), if d.keep { "keep".into() } else { "remove".into() }, format!("{}{flag}", d.reasons.join(", "))]
                })
                .collect();
            output::table(&["ID", "TIME", "ACTION", "REASONS"], &rows);
        }
        if decisions.is_empty() {
            for s in &remove {
                println!("remove {} ({} of db {})", s.id.short(), output::local_time(s.manifest.end), s.manifest.db);
            }
        }
        if a.dry_run {
            println!("dry run: nothing was removed");
        }
    }
    if a.dry_run {
        return Ok(());
    }
    snapshot::forget(repo, &remove)?;
    if !g.quiet && !g.json {
        println!("removed {} snapshot(s){}", remove.len(), if a.prune { "" } else { "; run `dbvault prune` to free their data" });
    }
    if a.prune {
        return run_prune(g, repo, &PruneArgs { dry_run: false, max_unused: 10.0 });
    }
    Ok(())
}

pub fn run_prune(g: &Global, repo: &Repository, a: &PruneArgs) -> Result<()> {
    if !(0.0..=100.0).contains(&a.max_unused) {
        bail!("--max-unused must be a percentage from 0 to 100");
    }
    let bar = output::progress(Some(0), g.quiet, "pruning");
    let progress = output::phase_progress(&bar);
    let r = prune(repo, a.max_unused / 100.0, a.dry_run, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let r: PruneReport = r?;
    if g.json {
        let mut v = serde_json::to_value(&r)?;
        v["dry_run"] = a.dry_run.into();
        println!("{v}");
    } else if !g.quiet {
        let p = &r.plan;
        println!("{} snapshot(s) use {} blob(s) in {} pack(s)", p.snapshots, p.used_blobs, p.packs);
        println!(
            "plan: delete {} unused pack(s), repack {} pack(s), {} orphaned pack(s); about {} to free; {} unused left in place",
            p.delete.len(),
            p.repack.len(),
            p.orphans.len(),
            output::size(p.bytes_freed_estimate),
            output::size(p.unused_bytes_kept)
        );
        if a.dry_run {
            println!("dry run: nothing was changed");
        } else {
            println!(
                "deleted {} pack(s), wrote {} new pack(s), rewrote {} index segment(s), freed {}{}",
                r.packs_deleted,
                r.packs_written,
                r.segments_rewritten,
                output::size(r.bytes_freed),
                if r.packs_spared > 0 { format!("; {} pack(s) spared for snapshots committed meanwhile", r.packs_spared) } else { String::new() }
            );
        }
    }
    Ok(())
}
