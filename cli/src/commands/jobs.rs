//! `dbvault ingest --jobs FILE`: many databases in one run, one repository open.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use store::Repository;
use store::ingest::IngestSummary;

use super::ingest::{IngestDoc, Spec, ingest_one, warn};
use crate::cli::Global;
use crate::{exit, output};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobsFile {
    job: Vec<Job>,
}

/// One `[[job]]`: a dump command and the lineage it feeds (also in `dbvault run`'s configuration).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// The lineage.
    pub db: String,
    command: CommandSpec,
    host: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    allow_incomplete: bool,
    /// Where to ping (Healthchecks convention) as this job starts and ends.
    ping: Option<String>,
}

impl Job {
    /// The ingest this job asks for; `origin` names the file in messages.
    pub fn spec(&self, origin: &Path) -> Result<Spec> {
        store::names::check_labels(&self.db, self.host.as_deref(), &self.tags).with_context(|| format!("{}: job {:?}", origin.display(), self.db))?;
        let command = match &self.command {
            CommandSpec::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
            CommandSpec::Argv(v) if v.is_empty() => bail!("{}: job {:?}: command is empty", origin.display(), self.db),
            CommandSpec::Argv(v) => v.clone(),
        };
        // A mistyped monitor must not cost the backups: the job runs unpinged (its monitor, hearing
        // nothing, alerts) and the mistake is said.
        let ping = self.ping.as_deref().and_then(|url| match crate::ping::Ping::parse(url) {
            Ok(p) => Some(p),
            Err(e) => {
                crate::errln!("dbvault: warning: {}: job {:?}: {e}; it runs without pings", origin.display(), self.db);
                None
            }
        });
        Ok(Spec { db: self.db.clone(), host: self.host.clone(), tags: self.tags.clone(), allow_incomplete: self.allow_incomplete, no_deltas: false, base: false, ping, command, env: Vec::new() })
    }
}

/// `command = "pg_dump shop | sed ..."` (run by `sh -c`) or `command = ["pg_dump", "shop"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandSpec {
    Shell(String),
    Argv(Vec<String>),
}

fn load(file: &Path) -> Result<Vec<Spec>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading jobs file {}", file.display()))?;
    let parsed: JobsFile = toml::from_str(&text).with_context(|| format!("jobs file {}", file.display()))?;
    if parsed.job.is_empty() {
        bail!("jobs file {} lists no [[job]]", file.display());
    }
    let mut seen = std::collections::HashSet::new();
    let mut specs = Vec::new();
    for j in parsed.job {
        if !seen.insert(j.db.clone()) {
            bail!("jobs file {} lists db {:?} twice; one run makes one snapshot per database", file.display(), j.db);
        }
        specs.push(j.spec(file)?);
    }
    Ok(specs)
}

/// What `ingest --jobs --json` prints: every job's outcome, in the jobs file's order.
#[derive(Serialize)]
struct JobsDoc<'a> {
    /// One per job.
    jobs: Vec<JobDoc<'a>>,
    /// Jobs that failed.
    failed: usize,
    /// Jobs whose snapshot was saved.
    succeeded: usize,
}

/// One job's outcome.
#[derive(Serialize)]
#[serde(untagged)]
enum JobDoc<'a> {
    /// Its snapshot was saved.
    Saved(Box<SavedJob<'a>>),
    /// It failed.
    Failed(FailedJob<'a>),
}

/// A job whose snapshot was saved: what `ingest --json` prints for it, and `ok`.
#[derive(Serialize)]
struct SavedJob<'a> {
    /// The ingest.
    #[serde(flatten)]
    ingest: IngestDoc<'a>,
    /// Always true.
    ok: bool,
}

/// A job that failed.
#[derive(Serialize)]
struct FailedJob<'a> {
    /// The job's database.
    db: &'a str,
    /// Always false.
    ok: bool,
    /// The error and its causes, on one line.
    error: String,
    /// The exit code the job alone would have ended with.
    exit_code: u8,
}

/// Run `specs`, `parallel` at a time; their outcomes in their order. Each is said on standard
/// error as it ends unless `quiet`.
pub fn ingest_all(repo: &Repository, specs: &[Spec], parallel: usize, quiet: bool) -> Vec<Result<IngestSummary>> {
    let results: Mutex<Vec<Option<Result<IngestSummary>>>> = Mutex::new((0..specs.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, specs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(spec) = specs.get(i) else { break };
                    let started = std::time::Instant::now();
                    tracing::debug!(db = %spec.db, command = %store::redact::command(&spec.command).join(" "), "ingest starts");
                    let r = ingest_one(repo, spec, None).map_err(anyhow::Error::from);
                    tracing::debug!(db = %spec.db, ok = r.is_ok(), seconds = started.elapsed().as_secs_f64(), "ingest ended");
                    if !quiet {
                        match &r {
                            Ok(s) => crate::errln!("dbvault: {}: snapshot {} saved", spec.db, s.snapshot.id.short()),
                            Err(e) => crate::errln!("dbvault: {}: FAILED: {}", spec.db, output::error_chain(e)),
                        }
                    }
                    results.lock().expect("not poisoned")[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().expect("not poisoned").into_iter().map(|r| r.expect("every job ran")).collect()
}

pub fn run(g: &Global, repo: &Repository, file: &Path, parallel: usize) -> Result<()> {
    let specs = load(file)?;
    let results = ingest_all(repo, &specs, parallel, g.quiet);
    let failed = results.iter().filter(|r| r.is_err()).count();
    for s in results.iter().flatten() {
        warn(s);
    }
    let printed = if g.json {
        let jobs = specs
            .iter()
            .zip(&results)
            .map(|(spec, r)| match r {
                Ok(s) => JobDoc::Saved(Box::new(SavedJob { ingest: IngestDoc::of(s), ok: true })),
                Err(e) => JobDoc::Failed(FailedJob { db: &spec.db, ok: false, error: output::error_chain(e), exit_code: exit::code_for(e) }),
            })
            .collect();
        output::json(&JobsDoc { jobs, failed, succeeded: specs.len() - failed })
    } else if !g.quiet {
        let rows: Vec<Vec<String>> = specs
            .iter()
            .zip(&results)
            .map(|(spec, r)| match r {
                Ok(s) => {
                    let m = &s.snapshot.manifest;
                    vec![spec.db.clone(), "ok".into(), s.snapshot.id.short(), output::size(m.size), output::size(m.added.stored_bytes), format!("{:.1} s", s.elapsed.as_secs_f64()), String::new()]
                }
                Err(e) => vec![spec.db.clone(), "FAILED".into(), "-".into(), "-".into(), "-".into(), "-".into(), output::error_chain(e)],
            })
            .collect();
        output::table(&["DB", "STATUS", "SNAPSHOT", "SIZE", "ADDED", "TIME", "DETAIL"], &rows).map_err(Into::into)
    } else {
        Ok(())
    };
    // A summary nobody reads (`| head -1`) must not turn failed jobs into success.
    if failed > 0 {
        return Err(exit::JobsFailed { failed, total: specs.len() }.into());
    }
    printed
}
