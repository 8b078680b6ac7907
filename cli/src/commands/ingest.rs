//! `dbvault ingest`: from standard input, from a dump command, or a file of jobs.

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;
use store::ingest::{IngestOptions, IngestSummary, Input, Physical, PinnedFile, ingest, ingest_input};
use store::{Repository, StoreError};

use super::snapshots::SnapshotDoc;
use crate::child::Producer;
use crate::cli::{Global, IngestArgs};
use crate::output;
use crate::ping::Ping;

/// One dump to store.
pub struct Spec {
    pub db: String,
    pub host: Option<String>,
    pub tags: Vec<String>,
    pub allow_incomplete: bool,
    pub no_deltas: bool,
    /// The stream must be a PostgreSQL base backup (`ingest --base`).
    pub base: bool,
    /// Where to ping when it starts, succeeds or fails.
    pub ping: Option<Ping>,
    /// Empty: read standard input.
    pub command: Vec<String>,
    /// Variables set for the command (connection settings such as PGHOST).
    pub env: Vec<(String, String)>,
}

pub fn run(g: &Global, repo: &Repository, a: IngestArgs) -> Result<()> {
    if let Some(file) = &a.jobs {
        return super::jobs::run(g, repo, file, a.parallel.unwrap_or(2) as usize);
    }
    // Labels given on the command line are part of it: a bad one is a usage error.
    if let Some(db) = &a.db {
        store::names::check_labels(db, a.host.as_deref(), &a.tags).map_err(|e| crate::exit::usage(e.to_string()))?;
    }
    let spec = Spec {
        db: a.db.expect("clap requires --db without --jobs"),
        host: a.host,
        tags: a.tags,
        allow_incomplete: a.allow_incomplete,
        no_deltas: a.no_deltas,
        base: a.base,
        // `--ping` wraps the whole command (crate::commands::run), opening the repository too.
        ping: None,
        command: a.command,
        env: Vec::new(),
    };
    if spec.command.is_empty() && std::io::stdin().is_terminal() {
        return Err(crate::exit::usage(format!(
            "ingest reads the dump from standard input or runs a dump command; try `dbvault ingest --db {0} -- pg_dump {0}`",
            spec.db
        )));
    }
    let bar = output::progress(None, g.quiet, &format!("ingesting {}", spec.db));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let result = ingest_one(repo, &spec, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let s = result?;
    warn(&s);
    let printed = if g.json {
        output::json(&IngestDoc::of(&s))
    } else if !g.quiet {
        print_summary(&s)
    } else {
        Ok(())
    };
    // The snapshot is committed whatever happens to its summary: say so.
    printed.with_context(|| format!("snapshot {} of db {} was saved, but its summary could not be printed", s.snapshot.id.short(), s.snapshot.manifest.db))
}

/// Run one ingest, pinging its monitor (if it has one) as it starts and ends. The callers have
/// checked the spec's labels, so a refused name never starts a dump command.
pub fn ingest_one(repo: &Repository, spec: &Spec, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<IngestSummary, StoreError> {
    let Some(ping) = &spec.ping else { return ingest_unpinged(repo, spec, progress) };
    ping.start();
    let result = ingest_unpinged(repo, spec, progress);
    match &result {
        Ok(s) => ping.success(format!("snapshot {} of db {} saved: {} read, {} added", s.snapshot.id.short(), spec.db, output::size(s.snapshot.manifest.size), output::size(s.snapshot.manifest.added.stored_bytes))),
        Err(e) => ping.fail(&format!("db {}: {}", spec.db, output::error_chain(&anyhow::anyhow!(e.to_string())))),
    }
    result
}

/// Run one ingest: start the dump command (if any) and stream its output, or read stdin.
fn ingest_unpinged(repo: &Repository, spec: &Spec, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<IngestSummary, StoreError> {
    let opts = |producer| IngestOptions {
        db: spec.db.clone(),
        host: spec.host.clone(),
        tags: spec.tags.clone(),
        allow_incomplete: spec.allow_incomplete,
        no_deltas: spec.no_deltas,
        progress,
        producer,
        lineage: Default::default(),
        physical: if spec.base { Physical::BaseBackup } else { Physical::Dump },
    };
    if spec.command.is_empty() {
        if let Some(file) = pinned_stdin() {
            return ingest_input(repo, Input::<std::io::Stdin>::Pinned(Arc::new(file)), opts(None));
        }
        return ingest(repo, std::io::stdin(), opts(None));
    }
    let (producer, stdout) = Producer::spawn(&spec.command, &spec.env, &spec.command[0])?;
    // If the ingest fails before the stream ends, the closure is dropped with the producer in it,
    // which kills and reaps the command.
    ingest(repo, stdout, opts(Some(Box::new(move || producer.finish()))))
}

/// Standard input as a leased file when it is a regular file nobody is writing (`< dump.sql`): it
/// is then mapped instead of read, which saves copying every byte (see `chunker::Input`).
fn pinned_stdin() -> Option<PinnedFile> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let file = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned().ok()?);
        PinnedFile::pin(file).ok()
    }
    #[cfg(not(unix))]
    None
}

/// Warnings belong on stderr even with --quiet: they are why a backup may not be what it seems.
pub fn warn(s: &IngestSummary) {
    for w in &s.snapshot.manifest.source.warnings {
        crate::errln!("dbvault: WARNING: db {}: {w}", s.snapshot.manifest.db);
    }
}

/// What `ingest --json` prints: the snapshot, what storing it took, and how long.
#[derive(Serialize)]
pub struct IngestDoc<'a> {
    /// The snapshot.
    #[serde(flatten)]
    pub snapshot: SnapshotDoc<'a>,
    /// Bytes of the new chunks before compression.
    pub new_raw_bytes: u64,
    /// Of the new chunks, those stored as deltas.
    pub delta_chunks: u64,
    /// Bytes of the chunks stored as deltas, before compression.
    pub delta_raw_bytes: u64,
    /// Stored bytes of those deltas.
    pub delta_stored_bytes: u64,
    /// Bytes the deltas saved over compressing those chunks alone.
    pub delta_saved_bytes: u64,
    /// Wall time of the ingest, in seconds.
    pub elapsed_secs: f64,
    /// Dump bytes read per second.
    pub bytes_per_sec: f64,
}

impl<'a> IngestDoc<'a> {
    /// The document of an ingest.
    pub fn of(s: &'a IngestSummary) -> Self {
        let a = &s.snapshot.manifest.added;
        let secs = s.elapsed.as_secs_f64();
        IngestDoc {
            snapshot: SnapshotDoc::of(&s.snapshot),
            new_raw_bytes: a.raw_bytes,
            delta_chunks: a.delta_chunks,
            delta_raw_bytes: a.delta_raw_bytes,
            delta_stored_bytes: a.delta_stored_bytes,
            delta_saved_bytes: a.delta_alone_bytes.saturating_sub(a.delta_stored_bytes),
            elapsed_secs: secs,
            bytes_per_sec: s.snapshot.manifest.size as f64 / secs.max(1e-6),
        }
    }
}

fn print_summary(s: &IngestSummary) -> Result<()> {
    let m = &s.snapshot.manifest;
    let src = &m.source;
    crate::outln!("snapshot {} of db {} saved{}", s.snapshot.id.short(), m.db, if m.incomplete { " (INCOMPLETE)" } else { "" });
    crate::outln!("  read      {} in {:.1} s ({})", output::size(m.size), s.elapsed.as_secs_f64(), output::rate(m.size, s.elapsed));
    crate::outln!("  chunks    {} ({} new)", m.chunks, m.added.chunks);
    crate::outln!("  added     {} to the repository ({} of new data before compression)", output::size(m.added.stored_bytes), output::size(m.added.raw_bytes));
    if let Some(line) = output::deltas(&m.added) {
        crate::outln!("  deltas    {line}");
    }
    if let Some(f) = &src.format {
        let by = [src.tool.as_deref(), src.tool_version.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let marker = match src.completion_marker {
            Some(true) => ", completion marker found",
            Some(false) => ", completion marker MISSING",
            None => "",
        };
        crate::outln!("  dump      {f}{}{marker}", if by.is_empty() { String::new() } else { format!(" ({by})") });
    }
    if let Some(cmd) = &src.command {
        crate::outln!("  command   {} (exit status {})", cmd.join(" "), src.exit_status.map_or("?".into(), |c| c.to_string()));
    }
    match m.parent {
        Some(p) => crate::outln!("  parent    {}", p.short()),
        None => crate::outln!("  parent    none (first snapshot of {})", m.db),
    }
    Ok(())
}
