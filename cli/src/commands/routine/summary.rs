//! The steps of a `dbvault run` and how each ended: said as they end, summed up at the end (text or
//! `--json`), and the exit code.

use std::time::Instant;

use serde::Serialize;

use crate::output;

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did its work.
    Ok,
    /// It failed (the run's exit code is 9).
    Failed,
    /// Nothing wrong with dbvault, but someone should know (a database disappeared).
    Warning,
    /// It was not due this run (prune on another weekday).
    Skipped,
}

/// One step of the run.
#[derive(Debug, Serialize)]
pub struct Step {
    /// What kind: discover, backup, missing, retention, prune, drill, check, copy.
    pub step: &'static str,
    /// What it worked on: a database, a source, a destination.
    pub target: String,
    /// How it ended.
    pub result: Outcome,
    /// What it did, or why it failed.
    pub detail: String,
    /// The snapshot a backup saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<repo_format::Id>,
    /// The exit code the failure alone would have had (as the single command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u8>,
    /// How long it took.
    pub seconds: f64,
}

/// The steps so far.
pub struct Steps {
    pub list: Vec<Step>,
    quiet: bool,
}

impl Steps {
    /// No steps yet; each is said on standard error as it ends unless `quiet`.
    pub fn new(quiet: bool) -> Steps {
        Steps { list: Vec::new(), quiet }
    }

    /// Record a step that ended.
    pub fn push(&mut self, mut step: Step) {
        // One line per step: a command's multi-line error output is joined.
        if step.detail.contains(['\n', '\r']) {
            step.detail = step.detail.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ");
        }
        tracing::info!(step = step.step, target = %step.target, result = ?step.result, seconds = step.seconds, "{}", step.detail);
        if !self.quiet && step.step != "backup" {
            let mark = match step.result {
                Outcome::Ok => "",
                Outcome::Failed => "FAILED: ",
                Outcome::Warning => "WARNING: ",
                Outcome::Skipped => "skipped: ",
            };
            crate::errln!("dbvault: {} {}: {mark}{}", step.step, step.target, step.detail);
        }
        self.list.push(step);
    }

    /// Run `f` as step `step` on `target`: ok with its detail, or failed with its error.
    pub fn run(&mut self, step: &'static str, target: &str, f: impl FnOnce() -> anyhow::Result<(Outcome, String)>) {
        let started = Instant::now();
        tracing::debug!(step, target, "step starts");
        let s = match f() {
            Ok((result, detail)) => Step::new(step, target, result, detail, started.elapsed().as_secs_f64()),
            Err(e) => Step::failed(step, target, &e, started),
        };
        self.push(s);
    }

    /// Steps that failed.
    pub fn failed(&self) -> usize {
        self.list.iter().filter(|s| s.result == Outcome::Failed).count()
    }
}

impl Step {
    /// A step that ended with `result` (no snapshot, no failure's exit code).
    pub fn new(step: &'static str, target: &str, result: Outcome, detail: String, seconds: f64) -> Step {
        Step { step, target: target.into(), result, detail, snapshot: None, exit_code: None, seconds }
    }

    /// A step that failed with `e`.
    pub fn failed(step: &'static str, target: &str, e: &anyhow::Error, started: Instant) -> Step {
        Step {
            step,
            target: target.into(),
            result: Outcome::Failed,
            detail: output::error_chain(e),
            snapshot: None,
            exit_code: Some(crate::exit::code_for(e)),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// What `run --json` prints.
#[derive(Serialize)]
pub struct RunDoc<'a> {
    /// True when no step failed.
    pub ok: bool,
    /// When the run started.
    pub started: jiff::Timestamp,
    /// How long it took.
    pub seconds: f64,
    /// Steps that failed.
    pub failed: usize,
    /// Every step, in the order they ran.
    pub steps: &'a [Step],
}

/// The longest detail the table shows (the whole of a failure's is printed below it).
const DETAIL_WIDTH: usize = 100;

/// The summary as a table.
pub fn print(steps: &[Step], seconds: f64) -> anyhow::Result<()> {
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            let result = match s.result {
                Outcome::Ok => "ok",
                Outcome::Failed => "FAILED",
                Outcome::Warning => "WARNING",
                Outcome::Skipped => "skipped",
            };
            let detail = store::ingest::shorten(s.detail.clone(), DETAIL_WIDTH);
            vec![s.step.to_string(), output::printable(&s.target).into_owned(), result.into(), output::printable(&detail).into_owned(), format!("{:.1} s", s.seconds)]
        })
        .collect();
    output::table(&["STEP", "TARGET", "RESULT", "DETAIL", "TIME"], &rows)?;
    // What the table shortened, whole, for what needs attention.
    for s in steps.iter().filter(|s| matches!(s.result, Outcome::Failed | Outcome::Warning) && s.detail.len() > DETAIL_WIDTH) {
        crate::outln!("{} {} {}: {}", if s.result == Outcome::Failed { "FAILED" } else { "WARNING" }, s.step, output::printable(&s.target), output::printable(&s.detail));
    }
    let failed = steps.iter().filter(|s| s.result == Outcome::Failed).count();
    let warned = steps.iter().filter(|s| s.result == Outcome::Warning).count();
    crate::outln!(
        "{} step(s) in {seconds:.1} s: {}{}",
        steps.len(),
        if failed == 0 { "all succeeded".to_string() } else { format!("{failed} FAILED") },
        if warned == 0 { String::new() } else { format!(", {warned} warning(s)") }
    );
    Ok(())
}
