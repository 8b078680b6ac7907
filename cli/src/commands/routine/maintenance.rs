//! The steps of `dbvault run` after the backups: retention, prune, the drill in rotation, the
//! rotating check, the offsite copies; and `--dry-run`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use store::Repository;
use store::check::ReadData;
use store::prune::{self, PruneOptions};
use store::snapshot::{self, Snapshot};

use super::config::{CheckSettings, Config, CopyTarget, Databases, DrillSettings, PruneWhen, matches_any};
use super::sources::{Kind, Server};
use super::summary::{Outcome, Step, Steps};
use super::Backed;
use crate::cli::{DrillArgs, Global};
use crate::output;

/// How long a drill may take unless the configuration says.
const DRILL_TIMEOUT: &str = "1h";

/// Forget, per database backed up tonight, what its keep rules do not keep (the lineages of
/// databases that failed or vanished tonight are left alone).
pub fn retention(c: &Config, repo: &Repository, backed_up: &BTreeMap<String, Backed>) -> Result<(Outcome, String)> {
    let index = repo.index_reader()?;
    let mut by_db: BTreeMap<&str, Vec<Snapshot>> = BTreeMap::new();
    for db in backed_up.keys() {
        by_db.insert(db, snapshot::list(repo, &index, Some(db))?);
    }
    drop(index);
    let (now, tz) = (Timestamp::now(), TimeZone::system());
    let (mut remove, mut refused, mut unruled) = (Vec::new(), Vec::new(), 0);
    for (db, snaps) in &by_db {
        let Some((_, keep)) = c.retention_for(db) else {
            unruled += 1;
            continue;
        };
        let policy = keep.policy().map_err(anyhow::Error::msg)?;
        let decisions = store::retention::apply(&policy, snaps, now, &tz);
        if decisions.iter().all(|d| !d.keep) {
            refused.push(*db);
            continue;
        }
        remove.extend(decisions.into_iter().filter(|d| !d.keep).map(|d| d.snapshot));
    }
    let wal = store::wal::unneeded(repo, &repo.index_reader()?, &remove)?;
    snapshot::forget(repo, &[remove.as_slice(), &wal].concat(), "policy (dbvault run)")?;
    let databases = remove.iter().map(|s| &s.manifest.db).collect::<BTreeSet<_>>().len();
    let mut detail = format!("removed {} snapshot(s) of {databases} database(s)", remove.len());
    if !wal.is_empty() {
        detail += &format!(" and {} archived WAL file(s) only their base backups needed", wal.len());
    }
    if unruled > 0 {
        detail += &format!("; {unruled} database(s) match no rule and keep everything");
    }
    if !refused.is_empty() {
        anyhow::bail!("{detail}; refused to remove every snapshot of {} (their rules keep none: check keep_tag)", refused.join(", "));
    }
    Ok((Outcome::Ok, detail))
}

/// Prune when due: on the weekday, or when unused data passes the share.
pub fn prune(p: &PruneWhen, repo: &Repository, quiet: bool) -> Result<(Outcome, String)> {
    let today = Timestamp::now().to_zoned(TimeZone::system()).weekday();
    let on_day = p.weekday.as_deref().map(super::config::weekday).transpose()?.is_some_and(|d| d == today);
    let share = p.max_unused.as_deref().map(super::config::percentage).transpose()?;
    let bar = output::progress(Some(0), quiet, "pruning");
    let progress = output::phase_progress(&bar);
    let opts = PruneOptions { max_unused: share.unwrap_or(0.10) };
    let plan = prune::plan(repo, &opts, Some(&progress))?;
    let stored: u64 = repo.index_reader()?.packs()?.iter().map(|(_, len, _)| *len).sum();
    let unused = plan.bytes_freed_estimate + plan.unused_bytes_kept;
    let unused_share = if stored == 0 { 0.0 } else { unused as f64 / stored as f64 };
    let over = share.is_some_and(|s| unused_share > s);
    if !on_day && !over {
        let why = match (&p.weekday, share) {
            (Some(d), Some(s)) => format!("not {d}, and unused data is {:.1}% (prune above {:.1}%)", unused_share * 100.0, s * 100.0),
            (Some(d), None) => format!("not {d}"),
            (None, s) => format!("unused data is {:.1}% (prune above {:.1}%)", unused_share * 100.0, s.unwrap_or(0.0) * 100.0),
        };
        return Ok((Outcome::Skipped, why));
    }
    let r = prune::execute(repo, plan, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let r = r?;
    Ok((Outcome::Ok, format!("deleted {} pack(s), wrote {}, freed {}", r.packs_deleted, r.packs_written, output::size(r.bytes_freed))))
}

/// Check the repository, reading the next part of the rotation (SPEC.md section 9.4).
pub fn check(c: &CheckSettings, repo: &Repository, quiet: bool) -> Result<(Outcome, String)> {
    let read = match c.read_data_cycle {
        None => ReadData::No,
        Some(1) => ReadData::All,
        Some(m) => {
            // The part after the last one read of the same cycle, whichever host read it.
            let last = store::check_records::all(repo)?.into_iter().rev().find_map(|r| r.read_data_part.filter(|p| p[1] == m));
            ReadData::Part { n: last.map_or(1, |p| p[0] % m + 1), m }
        }
    };
    let r = crate::commands::check::check_and_record(repo, read, quiet)?;
    let what = match read {
        ReadData::No => "structure only".to_string(),
        ReadData::All => format!("read all {} pack(s)", r.packs_read),
        ReadData::Part { n, m } => format!("read part {n}/{m}: {} pack(s)", r.packs_read),
        ReadData::Fraction(_) => unreachable!("not chosen here"),
    };
    let problems = r.problems.len() + r.damaged.len();
    if problems > 0 {
        let found: Vec<String> = r
            .problems
            .iter()
            .cloned()
            .chain(r.damaged.iter().map(|d| format!("snapshot {} of db {}: {} chunk(s) missing, {} unreadable{}", d.snapshot.short(), d.db, d.missing, d.unreadable, d.examples.first().map(|x| format!(" ({x})")).unwrap_or_default())))
            .take(3)
            .collect();
        let e = anyhow::Error::from(crate::exit::CheckFailed(problems));
        return Err(e.context(format!("{} snapshot(s), {what}: {}; `dbvault check` lists every problem", r.snapshots, found.join("; "))));
    }
    Ok((Outcome::Ok, format!("{} snapshot(s), {what}, no problems", r.snapshots)))
}

/// Copy every snapshot (and their drill records) to `t`.
pub fn copy(g: &Global, t: &CopyTarget, repo: &Repository) -> Result<(Outcome, String)> {
    let to = store::Location::parse(&t.to)?;
    let password = match crate::password::from_source(t.password_file.as_deref(), t.password_command.as_deref(), "destination password")? {
        Some(p) => p,
        None => crate::password::get(g)?,
    };
    let dst = crate::commands::open(g, &to, &password).context("opening the offsite repository")?;
    let index = repo.index_reader()?;
    let all = snapshot::list(repo, &index, None)?;
    let copied = store::copy::copy(repo, &index, &dst, &all, &mut |_| {}).with_context(|| format!("copying to {to}"))?;
    let pairs = copied.iter().map(|c| (c.source.id, c.target.id)).collect();
    let drills: usize = store::drill_records::copy(repo, &dst, &pairs).with_context(|| format!("copying drill records to {to}"))?.values().sum();
    crate::commands::report_warnings(&dst);
    let new: Vec<_> = copied.iter().filter(|c| !c.existed).collect();
    let stored: u64 = new.iter().map(|c| c.target.manifest.added.stored_bytes).sum();
    Ok((Outcome::Ok, format!("{} new snapshot(s) ({} stored), {} already there, {drills} drill record(s)", new.len(), output::size(stored), copied.len() - new.len())))
}

/// Drill the database whose last drill is oldest (never drilled first) among those backed up
/// tonight: tonight's snapshot is what is proven.
pub fn drill(g: &Global, d: &DrillSettings, repo: &Repository, backed_up: &BTreeMap<String, Backed>, servers: &[Server], steps: &mut Steps) {
    let started = Instant::now();
    let in_rotation: Vec<&String> = backed_up
        .keys()
        .filter(|db| match &d.databases {
            Databases::All => true,
            Databases::Listed(l) => l.contains(db),
        })
        .filter(|db| !matches_any(&d.exclude, db))
        // Roles and grants alone are drilled with the databases that need them.
        .filter(|db| !servers.iter().any(|s| s.globals_lineage() == **db))
        .collect();
    let last: HashMap<String, Timestamp> = match store::drill_records::all(repo) {
        Ok(records) => records.into_iter().fold(HashMap::new(), |mut m, (_, r)| {
            let t = m.entry(r.db).or_insert(r.end);
            *t = (*t).max(r.end);
            m
        }),
        Err(e) => return steps.push(Step::failed("drill", "rotation", &anyhow::Error::from(e).context("reading the drill records"), started)),
    };
    let mut in_rotation = in_rotation;
    in_rotation.sort_by_key(|db| (last.get(*db).copied(), (*db).clone()));
    // Its latest snapshot now: retention (or another run) may have removed tonight's.
    let latest = |db: &str| repo.index_reader().ok().and_then(|index| snapshot::resolve(repo, &index, "latest", Some(db)).ok());
    let Some((db, snap)) = in_rotation.into_iter().find_map(|db| latest(db).map(|s| (db, s))) else {
        let (result, detail) = match &d.databases {
            Databases::Listed(l) => (Outcome::Warning, format!("none of the databases listed in [drill] ({}) was backed up tonight", l.join(", "))),
            Databases::All => (Outcome::Skipped, "no database backed up tonight is in the rotation".to_string()),
        };
        return steps.push(Step::new("drill", "rotation", result, detail, 0.0));
    };
    let id = snap.id;
    let source = backed_up[db].source.as_deref();
    let globals = servers.iter().find(|s| s.kind == Kind::Postgres && Some(s.name()) == source).map(Server::globals_lineage).filter(|g| backed_up.contains_key(g));
    let args = DrillArgs {
        snapshot: id.to_string(),
        db: Some(db.clone()),
        assert: None,
        server: None,
        globals,
        timeout: Some(d.timeout.clone().unwrap_or_else(|| DRILL_TIMEOUT.into())),
        ping: None,
        engine: None,
    };
    let quiet = Global { quiet: true, json: false, metrics_file: None, ..g.clone() };
    steps.run("drill", db, || {
        crate::commands::drill::run(&quiet, repo, &args)?;
        Ok((Outcome::Ok, format!("snapshot {} loaded and checked{}", id.short(), if args.globals.is_some() { " after its server's roles" } else { "" })))
    });
}

/// `--dry-run`: what would run, with the databases the servers have now.
pub fn dry_run(g: &Global, c: &Config, file: &Path) -> Result<()> {
    if g.json {
        return Err(crate::exit::usage("--dry-run prints text for people; leave out --json"));
    }
    let mut out = vec![format!("configuration {} is valid", file.display())];
    let mut failed = false;
    // What the run needs before its first step: a repository that exists, a password it can read.
    match g.repo.as_deref().map(store::Location::parse) {
        None => {
            failed = true;
            out.push("repository: none given (repository = ... in the file, or --repo): the run would fail".into());
        }
        Some(Err(e)) => {
            failed = true;
            out.push(format!("repository: {e}"));
        }
        Some(Ok(store::Location::Local(path))) if !path.join("config").is_file() => {
            failed = true;
            out.push(format!("repository: {} is not a dbvault repository (create it with `dbvault init`): the run would fail", path.display()));
        }
        Some(Ok(l)) => out.push(format!("repository: {l}")),
    }
    if let Err(e) = crate::password::get(g) {
        failed = true;
        out.push(format!("password: {}: the run would fail", output::error_chain(&e)));
    }
    let servers = super::sources::servers(c);
    for s in &servers {
        match s.discover() {
            Ok(found) => {
                out.push(format!("{} {}: would back up {} database(s) and the {}", s.kind.section(), s.name(), found.selected.len(), if s.kind == Kind::Postgres { "roles" } else { "users and grants" }));
                out.push(format!("  {} <- {}", output::printable(&s.globals_lineage()), output::printable(&store::redact::command(&s.globals_spec().command).join(" "))));
                for db in &found.selected {
                    out.push(format!("  {} <- {}", output::printable(&s.lineage(db)), output::printable(&store::redact::command(&s.database_spec(db).command).join(" "))));
                }
            }
            Err(e) => {
                failed = true;
                out.push(format!("{} {}: FAILED to list its databases: {}", s.kind.section(), s.name(), output::error_chain(&e)));
            }
        }
    }
    for j in &c.job {
        let spec = j.spec(file)?;
        out.push(format!("job {} <- {}", output::printable(&spec.db), output::printable(&store::redact::command(&spec.command).join(" "))));
    }
    if !c.retention.is_empty() {
        out.push(format!("retention: {} rule set(s) for the databases above", c.retention.len()));
    }
    if let Some(p) = &c.prune {
        out.push(format!("prune: {}", [p.weekday.as_ref().map(|d| format!("on {d}")), p.max_unused.as_ref().map(|m| format!("when unused data passes {m}"))].into_iter().flatten().collect::<Vec<_>>().join(", or ")));
    }
    if c.drill.is_some() {
        out.push("drill: the database drilled longest ago, of those backed up".into());
    }
    if let Some(ch) = &c.check {
        out.push(match ch.read_data_cycle {
            None => "check: structure only".into(),
            Some(n) => format!("check: reading 1/{n} of the data (every byte once per {n} runs)"),
        });
    }
    for t in &c.copy {
        out.push(format!("copy to {}", t.to));
    }
    out.push("dry run: nothing was run".into());
    if !g.quiet || failed {
        for l in out {
            crate::outln!("{l}");
        }
    }
    if failed {
        anyhow::bail!("the run would fail (see above)");
    }
    Ok(())
}
