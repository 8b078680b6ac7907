//! `dbvault forget` and `dbvault prune`.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use repo_format::Id;
use serde::Serialize;
use store::Repository;
use store::prune::{self, PruneOptions, PrunePlan, PruneReport};
use store::retention::{Decision, Policy, apply, rule_matches};
use store::snapshot::{self, Snapshot};

use crate::cli::{ForgetArgs, Global, PruneArgs};
use crate::output;

fn policy(a: &ForgetArgs) -> Result<Policy> {
    let within = match &a.keep_within {
        None => None,
        Some(s) => {
            let span = s
                .parse::<jiff::Span>()
                .map_err(|e| crate::exit::usage(format!("--keep-within {s:?}: expected a duration such as 14d, 6 months, 1y ({e})")))?;
            if span.signum() <= 0 {
                return Err(crate::exit::usage(format!("--keep-within {s:?} keeps nothing: give a positive duration such as 14d")));
            }
            Some(span)
        }
    };
    for t in &a.keep_tag {
        store::names::check_tag(t).map_err(|e| crate::exit::usage(format!("--keep-tag: {e}")))?;
    }
    let p = Policy {
        last: a.keep_last,
        hourly: a.keep_hourly,
        daily: a.keep_daily,
        weekly: a.keep_weekly,
        monthly: a.keep_monthly,
        yearly: a.keep_yearly,
        within,
        tags: a.keep_tag.clone(),
    };
    if p.is_empty() {
        return Err(crate::exit::usage("no keep rule given: that would remove every snapshot. Give --keep-last, --keep-daily, ... or name snapshots to remove"));
    }
    Ok(p)
}

/// What a policy run decided, per database, and which rules kept nothing anywhere.
struct Plan {
    decisions: BTreeMap<String, Vec<Decision>>,
    unmatched: Vec<String>,
}

impl Plan {
    fn make(p: &Policy, all: Vec<Snapshot>) -> Plan {
        let mut by_db: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
        for s in all {
            by_db.entry(s.manifest.db.clone()).or_default().push(s);
        }
        let (now, tz) = (Timestamp::now(), TimeZone::system());
        let decisions: BTreeMap<String, Vec<Decision>> = by_db.into_iter().map(|(db, snaps)| (db, apply(p, &snaps, now, &tz))).collect();
        let mut matched: BTreeMap<String, bool> = BTreeMap::new();
        for ds in decisions.values() {
            for (rule, hit) in rule_matches(p, ds) {
                *matched.entry(rule).or_default() |= hit;
            }
        }
        let unmatched = matched.into_iter().filter(|(_, hit)| !hit).map(|(rule, _)| rule).collect();
        Plan { decisions, unmatched }
    }

    /// Databases whose every snapshot would go.
    fn emptied(&self) -> Vec<&str> {
        self.decisions.iter().filter(|(_, ds)| !ds.is_empty() && ds.iter().all(|d| !d.keep)).map(|(db, _)| db.as_str()).collect()
    }

    fn removed(&self) -> Vec<Snapshot> {
        self.decisions.values().flatten().filter(|d| !d.keep).map(|d| d.snapshot.clone()).collect()
    }

    /// The refusal of a plan that empties databases, naming the rules that matched nothing and
    /// the tags in use (a mistyped tag is the usual cause).
    fn refusal(&self) -> Option<anyhow::Error> {
        let emptied = self.emptied();
        if emptied.is_empty() {
            return None;
        }
        let mut tags: Vec<&str> = self.decisions.values().flatten().flat_map(|d| d.snapshot.manifest.tags.iter().map(String::as_str)).collect();
        tags.sort_unstable();
        tags.dedup();
        let count: usize = emptied.iter().map(|db| self.decisions[*db].len()).sum();
        let mut msg = format!("refusing to remove every snapshot of db {} ({count} snapshot(s)), nothing was removed: no keep rule kept any of them", emptied.join(", "));
        if !self.unmatched.is_empty() {
            msg += &format!("; these rules matched no snapshot at all: {}", self.unmatched.join(", "));
        }
        msg += &format!(
            ". Tags in use: {}. Check the rules, or add --allow-remove-all if every snapshot of {} should go",
            if tags.is_empty() { "none".to_string() } else { tags.join(", ") },
            if emptied.len() == 1 { "that database" } else { "those databases" }
        );
        Some(anyhow::anyhow!(msg))
    }
}

/// What `forget --json` prints: the plan per database (none when snapshots are named), and what
/// was removed.
#[derive(Serialize)]
struct ForgetDoc<'a> {
    /// Whether this was a dry run (nothing removed).
    dry_run: bool,
    /// What the policy keeps and removes, per database.
    databases: Vec<DatabasePlan<'a>>,
    /// Keep rules that matched no snapshot.
    unmatched_rules: &'a [String],
    /// The snapshots removed.
    removed: Vec<Id>,
    /// Archived WAL files removed (or, in a dry run, to be removed) with the base backups that
    /// alone needed them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wal_removed: Vec<String>,
    /// With `--prune` (and not `--dry-run`): what prune did, as `prune --json` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    prune: Option<PruneOutput<'a>>,
}

/// What a policy keeps and removes of one database, newest first.
#[derive(Serialize)]
struct DatabasePlan<'a> {
    /// The database.
    db: &'a str,
    /// The snapshots kept.
    keep: Vec<Kept<'a>>,
    /// The snapshots removed.
    remove: Vec<Removed>,
}

/// A snapshot a policy keeps, and why.
#[derive(Serialize)]
struct Kept<'a> {
    /// Its id.
    id: Id,
    /// When its dump ended.
    time: Timestamp,
    /// The rules that keep it.
    reasons: &'a [String],
}

/// A snapshot a policy removes.
#[derive(Serialize)]
struct Removed {
    /// Its id.
    id: Id,
    /// When its dump ended.
    time: Timestamp,
}

pub fn run(g: &Global, repo: &Repository, a: &ForgetArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let (plan, remove) = if !a.snapshots.is_empty() {
        let named: Vec<Snapshot> = a.snapshots.iter().map(|s| snapshot::resolve(repo, &index, s, a.db.as_deref())).collect::<Result<_, _>>()?;
        (None, named)
    } else {
        let p = policy(a)?;
        let plan = Plan::make(&p, snapshot::list_some(repo, &index, a.db.as_deref())?);
        let remove = plan.removed();
        (Some(plan), remove)
    };
    let wal_gone = store::wal::unneeded(repo, &index, &remove)?;
    drop(index);
    let wal_names: Vec<String> = wal_gone.iter().filter_map(|s| s.manifest.wal.as_ref().map(|w| w.file.clone())).collect();
    let refusal = plan.as_ref().filter(|_| !a.allow_remove_all).and_then(Plan::refusal);
    // With --json, one document: it is printed once prune (if asked for) is done.
    let mut json_doc = None;
    if g.json {
        let databases = plan
            .iter()
            .flat_map(|p| &p.decisions)
            .map(|(db, ds)| DatabasePlan {
                db,
                keep: ds.iter().filter(|d| d.keep).map(|d| Kept { id: d.snapshot.id, time: d.snapshot.manifest.end, reasons: &d.reasons }).collect(),
                remove: ds.iter().filter(|d| !d.keep).map(|d| Removed { id: d.snapshot.id, time: d.snapshot.manifest.end }).collect(),
            })
            .collect();
        if refusal.is_none() {
            let removed = if a.dry_run { vec![] } else { remove.iter().map(|s| s.id).collect() };
            let unmatched_rules = plan.as_ref().map_or(&[][..], |p| &p.unmatched);
            json_doc = Some(ForgetDoc { dry_run: a.dry_run, databases, unmatched_rules, removed, wal_removed: wal_names.clone(), prune: None });
        }
    } else if !g.quiet {
        for (db, ds) in plan.iter().flat_map(|p| &p.decisions) {
            crate::outln!("db {db}: keep {}, remove {}", ds.iter().filter(|d| d.keep).count(), ds.iter().filter(|d| !d.keep).count());
            let rows: Vec<Vec<String>> = ds
                .iter()
                .map(|d| {
                    let m = &d.snapshot.manifest;
                    let flag = if m.incomplete { " (incomplete)" } else { "" };
                    vec![d.snapshot.id.short(), output::local_time(m.end), if d.keep { "keep".into() } else { "remove".into() }, format!("{}{flag}", d.reasons.join(", "))]
                })
                .collect();
            output::table(&["ID", "TIME", "ACTION", "REASONS"], &rows)?;
        }
        if plan.is_none() {
            for s in &remove {
                crate::outln!("remove {} ({} of db {})", s.id.short(), output::local_time(s.manifest.end), s.manifest.db);
            }
        }
    }
    if let (Some(first), Some(last)) = (wal_names.first(), wal_names.last())
        && !g.quiet
        && !g.json
    {
        let verb = if a.dry_run { "would also remove" } else { "also removes" };
        crate::outln!("{verb} {} archived WAL file(s) only the removed base backups needed ({first} .. {last})", wal_names.len());
    }
    for rule in plan.iter().flat_map(|p| &p.unmatched) {
        crate::errln!("dbvault: warning: {rule} matched no snapshot");
    }
    if let Some(refusal) = refusal {
        return Err(refusal);
    }
    if a.dry_run {
        if !g.quiet && !g.json {
            crate::outln!("dry run: nothing was removed");
        }
        return json_doc.map_or(Ok(()), |d| output::json(&d));
    }
    snapshot::forget(repo, &[remove.as_slice(), &wal_gone].concat(), if plan.is_some() { "policy" } else { "by id" })?;
    if !g.quiet && !g.json {
        crate::outln!("removed {} snapshot(s){}", remove.len(), if a.prune { "" } else { "; run `dbvault prune` to free their data" });
    }
    if !a.prune {
        return json_doc.map_or(Ok(()), |d| output::json(&d));
    }
    let prune_args = PruneArgs { dry_run: false, max_unused: 10.0 };
    let report = prune_report(g, repo, &prune_args).with_context(|| format!("removed {} snapshot(s), then prune failed (run `dbvault prune` again)", remove.len()))?;
    match json_doc {
        Some(mut d) => {
            d.prune = Some(PruneOutput { dry_run: false, report: &report });
            output::json(&d)
        }
        None => print_prune(g, &prune_args, &report),
    }
}

/// `prune --json`: the report, its plan inside, and whether it was a dry run.
#[derive(Serialize)]
struct PruneOutput<'a> {
    dry_run: bool,
    #[serde(flatten)]
    report: &'a PruneReport,
}

pub fn run_prune(g: &Global, repo: &Repository, a: &PruneArgs) -> Result<()> {
    let r = prune_report(g, repo, a)?;
    if g.json {
        return output::json(&PruneOutput { dry_run: a.dry_run, report: &r });
    }
    print_prune(g, a, &r)
}

/// Plan a prune, and carry it out unless `--dry-run`.
fn prune_report(g: &Global, repo: &Repository, a: &PruneArgs) -> Result<PruneReport> {
    if !(0.0..=100.0).contains(&a.max_unused) {
        return Err(crate::exit::usage("--max-unused must be a percentage from 0 to 100"));
    }
    let bar = output::progress(Some(0), g.quiet, "pruning");
    let progress = output::phase_progress(&bar);
    let opts = PruneOptions { max_unused: a.max_unused / 100.0 };
    // A dry run prints the very plan that a run would carry out.
    let r = prune::plan(repo, &opts, Some(&progress))
        .and_then(|plan| if a.dry_run { Ok(PruneReport::not_carried_out(plan)) } else { prune::execute(repo, plan, Some(&progress)) });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(r?)
}

/// A prune's plan and outcome as text.
fn print_prune(g: &Global, a: &PruneArgs, r: &PruneReport) -> Result<()> {
    if !g.quiet {
        print_plan(&r.plan)?;
        if a.dry_run {
            crate::outln!("dry run: nothing was changed");
        } else {
            print_done(r)?;
        }
    }
    Ok(())
}

/// The plan, in two lines.
fn print_plan(p: &PrunePlan) -> Result<()> {
    crate::outln!("{} snapshot(s) use {} blob(s) in {} pack(s)", p.snapshots, p.used_blobs, p.packs);
    crate::outln!(
        "plan: delete {} unused pack(s), repack {} pack(s), {} orphaned pack(s); about {} to free; {} unused left in place",
        p.delete.len(),
        p.repack.len(),
        p.orphans.len(),
        output::size(p.bytes_freed_estimate),
        output::size(p.unused_bytes_kept)
    );
    Ok(())
}

/// What was done, and each pack of the plan that was kept, with why.
fn print_done(r: &PruneReport) -> Result<()> {
    crate::outln!(
        "deleted {} pack(s), wrote {} new pack(s), rewrote {} index segment(s), freed {}",
        r.packs_deleted,
        r.packs_written,
        r.segments_rewritten,
        output::size(r.bytes_freed)
    );
    if !r.spared.is_empty() {
        let ids: Vec<String> = r.spared.iter().map(|p| p.short()).collect();
        crate::outln!("kept {} pack(s) of the plan: snapshots committed since it was made need blobs only they hold: {}", ids.len(), ids.join(", "));
    }
    for l in &r.left_alone {
        crate::outln!("kept pack {} of the plan: {}", l.pack.short(), output::printable(&l.reason));
    }
    Ok(())
}
