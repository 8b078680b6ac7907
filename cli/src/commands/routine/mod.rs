//! `dbvault run CONFIG.toml`: the nightly routine from one checked file. Every database of the
//! configured servers (discovered each run) and every job is backed up into its own lineage, then
//! retention, prune, a drill, the check and the offsite copies run, each even when an earlier one
//! failed; the summary lists every step and the exit code says whether all succeeded.

pub mod config;
mod maintenance;
mod sources;
mod summary;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use jiff::Timestamp;
use store::Repository;
use store::snapshot::Snapshot;

use crate::cli::{Global, RunArgs};
use crate::commands::ingest::Spec;
use crate::output;
use config::Config;
use sources::{Kind, Server};
use summary::{Outcome, RunDoc, Step, Steps};

/// A lineage backed up tonight.
pub struct Backed {
    /// The source (server) it came from; none for jobs.
    pub source: Option<String>,
}

/// Run the routine `a.config` describes.
pub fn run(g: &Global, a: &RunArgs) -> Result<()> {
    let config = config::load(&a.config)?;
    let g = &settings(g, &config)?;
    if a.dry_run {
        return maintenance::dry_run(g, &config, &a.config);
    }
    let ping = config.ping.as_deref().map(crate::ping::Ping::parse).transpose().map_err(crate::exit::usage)?;
    if let Some(p) = &ping {
        p.start();
    }
    // Interrupted (Ctrl-C, SIGTERM from systemd's stop or timeout): the monitor hears it at once.
    let _told = ping.clone().map(|p| crate::interrupt::on_interrupt(move || p.fail("dbvault run was interrupted by a signal: its remaining steps did not run")));
    let started = (Timestamp::now(), Instant::now());
    let mut steps = Steps::new(g.quiet);
    let opened = crate::commands::open_configured(g);
    let result = match &opened {
        Ok(repo) => {
            nightly(g, &config, &a.config, repo, &mut steps);
            crate::commands::report_warnings(repo);
            if let Some(path) = &g.metrics_file
                && let Err(e) = crate::metrics::write(repo, path)
            {
                steps.push(Step::failed("metrics", &path.display().to_string(), &e, Instant::now()));
            }
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("{}", output::error_chain(e))),
    };
    let seconds = started.1.elapsed().as_secs_f64();
    let failed = steps.failed();
    if let Some(p) = &ping {
        match (&result, failed) {
            (Ok(()), 0) => p.success(format!("dbvault run: {} step(s) succeeded in {seconds:.0} s", steps.list.len())),
            (Ok(()), _) => {
                let lines: Vec<String> = steps.list.iter().filter(|s| s.result == Outcome::Failed).map(|s| format!("{} {}: {}", s.step, s.target, s.detail)).collect();
                p.fail(&format!("dbvault run: {failed} step(s) FAILED\n{}", lines.join("\n")));
            }
            (Err(e), _) => p.fail(&format!("dbvault run: {e}")),
        }
    }
    // The repository could not be opened: nothing ran, and the error says why (its own code).
    opened?;
    let printed = if g.json {
        output::json(&RunDoc { ok: failed == 0, started: started.0, seconds, failed, steps: &steps.list })
    } else if !g.quiet || failed > 0 {
        summary::print(&steps.list, seconds)
    } else {
        Ok(())
    };
    // A summary nobody reads (`| head -1`) must not turn failed steps into success.
    if failed > 0 {
        return Err(crate::exit::StepsFailed { failed, total: steps.list.len() }.into());
    }
    printed
}

/// The global options with the configuration's repository, password source and metrics file.
fn settings(g: &Global, c: &Config) -> Result<Global> {
    let mut g = g.clone();
    if let Some(r) = &c.repository {
        if g.repo.as_ref().is_some_and(|given| given != r) && std::env::var("DBVAULT_REPOSITORY").ok().as_ref() != g.repo.as_ref() {
            return Err(crate::exit::usage(format!("--repo names another repository than the configuration's repository ({r}): leave one out")));
        }
        g.repo = Some(r.clone());
    }
    if c.password_file.is_some() || c.password_command.is_some() {
        g.password_file = c.password_file.clone();
        g.password_command = c.password_command.clone();
    }
    if c.metrics_file.is_some() {
        g.metrics_file = c.metrics_file.clone();
    }
    Ok(g)
}

/// Every step, in order, on the opened repository.
fn nightly(g: &Global, c: &Config, file: &Path, repo: &Repository, steps: &mut Steps) {
    let servers = sources::servers(c);
    // Each lineage's latest snapshot before tonight: one manifest per lineage, so the cost does not
    // grow with the snapshots kept. Tells vanished databases and lineages of another source.
    let before = if servers.is_empty() {
        Ok(Vec::new())
    } else {
        repo.index_reader().map_err(anyhow::Error::from).and_then(|index| Ok(store::snapshot::latest_of_each(repo, &index)?))
    };
    // Databases first: a roles lineage that shares a database's name loses, not the database.
    let mut specs: Vec<(Spec, String)> = Vec::new();
    let mut globals = Vec::new();
    // Per source that could list its databases: those it has now (to tell the vanished).
    let mut present: Vec<(&Server, BTreeSet<String>)> = Vec::new();
    for server in &servers {
        let started = Instant::now();
        match server.discover() {
            Ok(found) => {
                let (result, note) = if found.selected.is_empty() {
                    (Outcome::Warning, "; nothing but the roles: check databases and exclude")
                } else {
                    (Outcome::Ok, "")
                };
                let detail = format!("{} database(s) to back up; the server has {}{note}", found.selected.len(), found.present.len());
                steps.push(Step::new("discover", server.name(), result, detail, started.elapsed().as_secs_f64()));
                let origin = format!("[[{}]] {}", server.kind.section(), server.name());
                globals.push((server.globals_spec(), format!("{origin} (its roles)")));
                specs.extend(found.selected.iter().map(|db| (server.database_spec(db), format!("{origin} (database {db})"))));
                present.push((server, found.present.into_iter().map(|d| server.lineage(&d)).collect()));
            }
            Err(e) => steps.push(Step::failed("discover", server.name(), &e.context("its databases were not backed up"), started)),
        }
    }
    specs.extend(globals);
    for job in &c.job {
        match job.spec(file) {
            Ok(s) => specs.push((s, format!("[[job]] {}", job.db))),
            Err(e) => steps.push(Step::failed("backup", &job.db, &e, Instant::now())),
        }
    }
    let latest = match &before {
        Ok(latest) => latest.as_slice(),
        Err(e) => {
            steps.push(Step::failed("missing", "databases", &anyhow::anyhow!("{}", output::error_chain(e)).context("reading each database's latest snapshot"), Instant::now()));
            &[]
        }
    };
    let backed_up = backups(g, c, repo, specs, latest, &servers, steps);
    vanished(latest, &present, steps);
    if !c.retention.is_empty() {
        steps.run("retention", "policies", || maintenance::retention(c, repo, &backed_up));
    }
    if let Some(p) = &c.prune {
        steps.run("prune", "repository", || maintenance::prune(p, repo, g.quiet));
    }
    if let Some(d) = &c.drill {
        maintenance::drill(g, d, repo, &backed_up, &servers, steps);
    }
    if let Some(ch) = &c.check {
        steps.run("check", "repository", || maintenance::check(ch, repo, g.quiet));
    }
    for target in &c.copy {
        steps.run("copy", &target.to, || maintenance::copy(g, target, repo));
    }
}

/// Back up every spec (with where it comes from), `parallel` at a time: refuse a lineage two
/// sources feed tonight, or that holds another configured source's snapshots (`latest`: each
/// lineage's latest snapshot before tonight). The lineages whose snapshot was saved tonight.
fn backups(g: &Global, c: &Config, repo: &Repository, specs: Vec<(Spec, String)>, latest: &[Snapshot], servers: &[Server], steps: &mut Steps) -> BTreeMap<String, Backed> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let latest: std::collections::HashMap<&str, &Snapshot> = latest.iter().map(|l| (l.manifest.db.as_str(), l)).collect();
    let mut run = Vec::new();
    let source_of = |tags: &[String]| tags.iter().find_map(|t| t.strip_prefix("source:")).map(String::from);
    for (s, origin) in specs {
        let previous = latest.get(s.db.as_str()).copied();
        let holder = previous.and_then(|l| source_of(&l.manifest.tags));
        let mine = source_of(&s.tags);
        // Another server's lineage: its source is configured too, or its dumps are another engine's
        // (a source renamed keeps its lineages).
        let foreign = |h: &str| {
            let engine = previous.and_then(|l| l.manifest.source.tool.as_deref()).map(|t| if t.starts_with("pg_dump") { Kind::Postgres } else { Kind::MariaDb });
            let kind = servers.iter().find(|sv| Some(sv.name()) == mine.as_deref()).map(|sv| sv.kind);
            servers.iter().any(|sv| sv.name() == h) || (engine.is_some() && kind.is_some() && engine != kind)
        };
        if let Err(e) = store::names::check_db(&s.db) {
            steps.push(Step::failed("backup", &s.db, &anyhow::Error::from(e).context(format!("{origin}: this name cannot name a lineage")), Instant::now()));
        } else if let Some(first) = seen.get(&s.db) {
            let e = anyhow::anyhow!("{origin} was not backed up: lineage {:?} is {first}'s tonight; give one source a prefix (or globals = another name)", s.db);
            steps.push(Step::failed("backup", &s.db, &e, Instant::now()));
        } else if let (Some(h), Some(m)) = (&holder, &mine)
            && h != m
            && foreign(h)
        {
            let e = anyhow::anyhow!("{origin} was not backed up: lineage {:?} holds the snapshots of source {h:?}, and mixing two servers' dumps in one lineage would restore the other one's; give one source a prefix", s.db);
            steps.push(Step::failed("backup", &s.db, &e, Instant::now()));
        } else {
            seen.insert(s.db.clone(), origin);
            run.push(s);
        }
    }
    let results = crate::commands::jobs::ingest_all(repo, &run, c.parallel as usize, g.quiet);
    let mut saved = BTreeMap::new();
    for (spec, r) in run.iter().zip(results) {
        match r {
            Ok(s) => {
                crate::commands::ingest::warn(&s);
                let m = &s.snapshot.manifest;
                let warnings: String = m.source.warnings.iter().map(|w| format!("; WARNING: {w}")).collect();
                steps.push(Step {
                    step: "backup",
                    target: spec.db.clone(),
                    result: if m.source.warnings.is_empty() { Outcome::Ok } else { Outcome::Warning },
                    detail: format!("snapshot {}: {}, {} added{warnings}", s.snapshot.id.short(), output::size(m.size), output::size(m.added.stored_bytes)),
                    snapshot: Some(s.snapshot.id),
                    exit_code: None,
                    seconds: s.elapsed.as_secs_f64(),
                });
                saved.insert(spec.db.clone(), Backed { source: spec.tags.iter().find_map(|t| t.strip_prefix("source:")).map(String::from) });
            }
            Err(e) => {
                let mut step = Step::failed("backup", &spec.db, &e, Instant::now());
                step.seconds = 0.0;
                steps.push(step);
            }
        }
    }
    saved
}

/// Databases a source backed up before that its server no longer has (`latest`: each lineage's
/// latest snapshot): reported, snapshots kept.
fn vanished(latest: &[Snapshot], present: &[(&Server, BTreeSet<String>)], steps: &mut Steps) {
    for (server, now) in present {
        let tag = server.tag();
        let globals = server.globals_lineage();
        for s in latest.iter().filter(|s| s.manifest.tags.contains(&tag) && s.manifest.db != globals && !now.contains(&s.manifest.db)) {
            let db = &s.manifest.db;
            let detail = format!(
                "no longer on {} (last backed up {}); its snapshots are kept (`dbvault forget --db {db} ...` ends this report)",
                server.name(),
                output::local_time(s.manifest.end)
            );
            steps.push(Step::new("missing", db, Outcome::Warning, detail, 0.0));
        }
    }
}
