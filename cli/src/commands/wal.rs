//! `dbvault wal push`, `wal fetch` and `wal list`: PostgreSQL's archive_command and
//! restore_command, and what the archive holds.
//!
//! PostgreSQL's contract (its documentation, "Continuous Archiving", and `RestoreArchivedFile`): a
//! command that exits 0 has archived or restored the file; any other exit code below 126 is an
//! ordinary failure (the archiver retries later; recovery takes the file as "not available" and,
//! outside standby mode, ENDS there and promotes); a death by a signal other than SIGTERM, or a
//! code above 125, stops the archiver or aborts recovery (the server does not start).
//!
//! So `push` ends with ordinary codes whatever happens, also on SIGINT (the archiver retries).
//! `fetch` exits 12 only for a file its archive lacks. Any other failure, once retried, must not
//! end an archive recovery early as if the WAL ended there: in a data directory recovering from
//! the archive (`recovery.signal` without `standby.signal`) it exits 126, which makes PostgreSQL
//! stop instead; elsewhere (a standby retries by itself) its own code. On a signal it dies of it,
//! as PostgreSQL expects of an interrupted restore_command.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;
use store::wal::{self, Pushed};
use store::{Repository, StoreError};

use crate::cli::{Global, WalCommand, WalFetchArgs, WalDbArgs, WalPushArgs};
use crate::{exit, output};

/// Pauses between attempts of a fetch whose repository could not be read.
const FETCH_RETRY_PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];

/// Run a `wal` subcommand.
pub fn run(g: &Global, c: WalCommand) -> Result<()> {
    match c {
        WalCommand::Push(a) => {
            crate::interrupt::exit_instead_of_dying(exit::ERROR);
            super::with_repo(g, |repo| push(g, repo, &a))
        }
        WalCommand::Fetch(a) => fetch_retrying(g, &a).map_err(|e| match exit::code_for(&e) {
            exit::NOT_ARCHIVED => e,
            _ if in_archive_recovery() => exit::AbortRecovery { file: a.file.clone(), cause: output::error_chain(&e) }.into(),
            _ => e,
        }),
        WalCommand::List(a) => super::with_repo(g, |repo| list(g, repo, &a)),
        WalCommand::Verify(a) => super::with_repo(g, |repo| verify(g, repo, &a)),
    }
}

/// What `wal push --json` prints.
#[derive(Serialize)]
struct PushDoc<'a> {
    db: &'a str,
    file: &'a str,
    /// The snapshot holding it.
    snapshot: repo_format::Id,
    size: u64,
    /// Bytes this push stored (0 when it was archived before).
    stored_bytes: u64,
    /// Whether it was archived before with the same bytes (nothing stored).
    already_archived: bool,
    elapsed_secs: f64,
}

fn push(g: &Global, repo: &Repository, a: &WalPushArgs) -> Result<()> {
    let started = Instant::now();
    let data_directory = std::env::current_dir().ok();
    let pushed = wal::push(repo, &a.db, &a.path, data_directory.as_deref(), a.host.clone())?;
    let (snap, stored, again) = match &pushed {
        Pushed::Stored(s) => (&s.snapshot, s.snapshot.manifest.added.stored_bytes, false),
        Pushed::AlreadyArchived(s) => (s, 0, true),
    };
    let file = snap.manifest.wal.as_ref().map_or("", |w| w.file.as_str());
    if g.json {
        output::json(&PushDoc { db: &a.db, file, snapshot: snap.id, size: snap.manifest.size, stored_bytes: stored, already_archived: again, elapsed_secs: started.elapsed().as_secs_f64() })?;
    } else if !g.quiet {
        if again {
            crate::outln!("{file} was archived before with the same bytes (snapshot {}); nothing stored", snap.id.short());
        } else {
            crate::outln!("archived {file} for db {}: {}, {} stored, in {:.2} s", a.db, output::size(snap.manifest.size), output::size(stored), started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// Fetch, trying again after a failure to read the repository: only "not archived" and errors
/// no retry can change (a wrong password, a bad name, damaged data) end it at once.
fn fetch_retrying(g: &Global, a: &WalFetchArgs) -> Result<()> {
    // No retry makes a wrong destination right.
    check_dest(&a.dest)?;
    let mut pauses = FETCH_RETRY_PAUSES.iter();
    loop {
        let attempt = super::with_repo(g, |repo| fetch(g, repo, a));
        let Err(e) = attempt else { return Ok(()) };
        let code = exit::code_for(&e);
        let final_failure = matches!(code, exit::NOT_ARCHIVED | exit::WRONG_PASSWORD | exit::USAGE | exit::INTEGRITY) || store_error_is_no_archive(&e);
        match pauses.next() {
            Some(pause) if !final_failure => {
                crate::errln!("dbvault: fetching {} failed, trying again in {} s: {}", a.file, pause.as_secs(), output::error_chain(&e));
                std::thread::sleep(*pause);
            }
            _ => return Err(e),
        }
    }
}

/// The destination must be a new file in an existing folder, or a regular file to replace.
fn check_dest(dest: &Path) -> Result<()> {
    let folder = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::symlink_metadata(dest) {
        Ok(m) if !m.file_type().is_file() => {
            Err(exit::usage(format!("{} exists and is not a regular file (a link, folder, device or FIFO); wal fetch writes a new file or replaces a regular one", dest.display())))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && folder.is_dir() => Ok(()),
        Err(_) => Err(exit::usage(format!("{} is not a folder: wal fetch writes into an existing folder", folder.display()))),
    }
}

fn store_error_is_no_archive(e: &anyhow::Error) -> bool {
    e.chain().any(|c| matches!(c.downcast_ref::<StoreError>(), Some(StoreError::NoWalArchive { .. })))
}

/// Whether the working directory is a data directory in archive recovery (PostgreSQL runs
/// restore_command there), not in standby mode.
fn in_archive_recovery() -> bool {
    Path::new("recovery.signal").exists() && !Path::new("standby.signal").exists()
}

fn fetch(g: &Global, repo: &Repository, a: &WalFetchArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let snap = wal::find(repo, &index, &a.db, &a.file)?;
    let target = super::restore::target(&a.dest, true)?;
    let s = super::restore::restore_to_file(&a.dest, target, &|out| store::restore::restore(repo, &index, &snap, out, None))?;
    if !g.quiet && g.json {
        output::json(&serde_json::json!({ "db": a.db, "file": a.file, "snapshot": snap.id, "size": s.bytes, "dest": a.dest }))?;
    }
    Ok(())
}

/// One line of `wal list`.
#[derive(Serialize)]
struct WalDoc {
    file: String,
    timeline: u32,
    snapshot: repo_format::Id,
    size: u64,
    /// When it was archived.
    archived: jiff::Timestamp,
    host: String,
}

fn list(g: &Global, repo: &Repository, a: &WalDbArgs) -> Result<()> {
    let index = repo.index_reader()?;
    wal::require_archive(repo, &index, &a.db)?;
    let mut docs = Vec::new();
    for (file, _) in wal::files(repo, &index, &a.db)? {
        let snap = match wal::find(repo, &index, &a.db, &file) {
            Ok(s) => s,
            Err(StoreError::WalNotArchived { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let timeline = wal::WalName::parse(&file).map(|n| n.timeline).unwrap_or_default();
        docs.push(WalDoc { file, timeline, snapshot: snap.id, size: snap.manifest.size, archived: snap.manifest.end, host: snap.manifest.host });
    }
    if g.json {
        return output::json(&docs);
    }
    let rows: Vec<Vec<String>> = docs.iter().map(|d| vec![d.file.clone(), d.timeline.to_string(), output::size(d.size), output::local_time(d.archived), d.snapshot.short()]).collect();
    output::table(&["FILE", "TIMELINE", "SIZE", "ARCHIVED", "SNAPSHOT"], &rows)?;
    Ok(())
}

fn verify(g: &Global, repo: &Repository, a: &WalDbArgs) -> Result<()> {
    let index = repo.index_reader()?;
    wal::require_archive(repo, &index, &a.db)?;
    let v = wal::verify(repo, &index, &a.db)?;
    let missing = v.has_gaps().then(|| exit::WalMissing { db: a.db.clone() });
    if g.json {
        output::json(&v)?;
        return missing.map_or(Ok(()), |m| Err(m.into()));
    }
    let Some(size) = v.segment_size else {
        crate::outln!("db {} has no archived WAL segment (archive_command = 'dbvault wal push --db {} %p')", a.db, a.db);
        return Ok(());
    };
    crate::outln!("db {}: WAL segments of {}", a.db, output::size(size));
    for t in &v.timelines {
        let gaps = if t.missing == 0 { "no gap".to_string() } else { format!("{} MISSING: {}", t.missing, t.missing_names.join(", ")) };
        crate::outln!("  timeline {}: {} .. {}, {} segment(s), {gaps}", t.timeline, t.first, t.last, t.segments);
    }
    for b in &v.base_backups {
        let state = match &b.missing {
            None => "its WAL is archived".to_string(),
            Some(seg) => format!("CANNOT BE RESTORED: {seg} is not archived"),
        };
        crate::outln!("  base backup {} (ended {}): {} .. {}, {state}", b.snapshot.short(), output::local_time(b.end), b.first, b.last);
    }
    if v.base_backups.is_empty() {
        crate::outln!("  no base backup: dbvault ingest --db {} --base -- pg_basebackup -D - -Ft -X none", a.db);
    }
    if let Some((file, at)) = &v.last_archived {
        crate::outln!("  last archived: {file} at {}", output::local_time(*at));
    }
    missing.map_or(Ok(()), |m| Err(m.into()))
}
