//! `dbvault restore`.

use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use repo_format::Id;
use serde::Serialize;
use store::{Repository, StoreError};
use store::restore::{RestoreSummary, restore};
use store::small_writes::SmallWrites;
use store::snapshot;

use crate::child::Consumer;
use crate::exit::CommandFailed;
use crate::cli::{Global, RestoreArgs};
use crate::output;

/// Where `-o` writes, decided before anything is restored.
pub(crate) enum Target {
    /// A new file.
    New,
    /// An existing regular file replaced with `--force`: the new one gets its permissions.
    Replace(std::fs::Permissions),
}

/// Check what `-o PATH` would replace. Only a regular file is ever replaced, and only with
/// `--force`; a symbolic link (even a dangling one) is refused rather than followed or replaced,
/// and so is a device, FIFO, socket or folder.
pub(crate) fn target(path: &Path, force: bool) -> Result<Target> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::New),
        Err(e) => return Err(anyhow::Error::from(e).context(format!("looking at {}", path.display()))),
    };
    let t = m.file_type();
    let kind = if t.is_symlink() {
        "a symbolic link (dbvault neither follows nor replaces links with -o: give the file's own path)"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_fifo() {
        "a FIFO (to feed a reader, restore to standard output: `dbvault restore ... > FIFO`)"
    } else if t.is_socket() {
        "a socket"
    } else if !force {
        anyhow::bail!("{} exists; choose another file or add --force to replace it", path.display());
    } else {
        return Ok(Target::Replace(m.permissions()));
    };
    anyhow::bail!("{} is {kind}; -o only creates or (with --force) replaces a regular file, so nothing was written", path.display())
}

/// What `restore --json` prints: what was restored, and where to.
#[derive(Serialize)]
struct RestoreDoc<'a> {
    /// The snapshot's id.
    id: Id,
    /// Its database.
    db: &'a str,
    /// Bytes written.
    size: u64,
    /// Chunks read.
    chunks: u64,
    /// The BLAKE3 digest the dump was checked against (a part of a dump is checked chunk by chunk
    /// instead: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<Id>,
    /// Wall time of the restore, in seconds.
    elapsed_secs: f64,
    /// The file written with `-o` (none for standard output or a command).
    output: Option<&'a Path>,
    /// Whether the dump is known to be cut short.
    incomplete: bool,
    /// For a part of the dump (--table, --schema, ...): what was chosen and read.
    #[serde(skip_serializing_if = "Option::is_none")]
    part: Option<super::selection::SelectionDoc<'a>>,
}

pub fn run(g: &Global, repo: &Repository, a: &RestoreArgs) -> Result<()> {
    if let Some(dir) = &a.pgdata {
        return super::pitr::run(g, repo, a, dir);
    }
    let output = a.output.as_deref().filter(|p| p.as_os_str() != "-");
    if output.is_none() && a.command.is_empty() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return Err(crate::exit::usage("refusing to write a dump to the terminal: add -o FILE, pipe it (| psql ...), or give a command (-- psql -d DB)"));
    }
    let file_target = output.map(|p| target(p, a.force)).transpose()?;
    let index = repo.index_reader()?;
    let snap = match (&a.snapshot, &a.at) {
        (Some(spec), _) => snapshot::resolve(repo, &index, spec, a.db.as_deref())?,
        (None, Some(at)) => as_of(repo, &index, a.db.as_deref().unwrap_or_default(), at)?,
        (None, None) => return Err(crate::exit::usage("name a snapshot (an id or `latest`) or a time with --at")),
    };
    if snap.manifest.incomplete {
        crate::errln!(
            "dbvault: WARNING: snapshot {} of db {} is INCOMPLETE: its dump was cut short and kept on request (--allow-incomplete); the restored dump ends where it was cut",
            snap.id.short(),
            snap.manifest.db
        );
    }
    let selection = super::selection::request(a).map(|req| super::selection::plan(g, repo, &index, &snap, &req, a.rename_to.as_deref())).transpose()?;
    let produce = |out: &mut dyn Write, progress: &(dyn Fn(u64) + Sync)| match &selection {
        Some(sel) => sel.write(repo, &index, &snap, out, progress),
        None => restore(repo, &index, &snap, out, Some(progress)),
    };
    // (A custom archive's part has no length known before pg_restore wrote it.)
    let total = selection.as_ref().map_or(Some(snap.manifest.size), |s| Some(s.len()).filter(|&n| n > 0));
    let bar = output::progress(total, g.quiet, &format!("restoring {}", snap.id.short()));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let summary = match (output, file_target) {
        (None, _) if !a.command.is_empty() => {
            let (consumer, stdin) = Consumer::spawn(&a.command)?;
            let mut out = BufWriter::with_capacity(1 << 20, stdin);
            match produce(&mut out, &progress) {
                Ok(s) => {
                    drop(out); // end of input: the command may now finish
                    consumer.finish()?;
                    Ok(s)
                }
                // The command closed its input: its own failure is the news, and a command that
                // stops reading and exits 0 has failed too (it did not load the whole dump).
                Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
                    drop(out);
                    if let Some(b) = &bar {
                        b.finish_and_clear();
                    }
                    let shown = consumer.shown().to_string();
                    let failed = consumer.finish().err().unwrap_or(CommandFailed { command: shown, status: "exited with status 0 without reading the whole dump".into() });
                    return Err(anyhow::Error::from(failed).context(format!("restore of snapshot {} stopped", snap.id.short())));
                }
                // Damaged data: kill the command while its input is still open, so it never sees
                // a clean end of input (psql -1 or mysql in a transaction then rolls back).
                Err(e) => {
                    drop(consumer);
                    drop(out);
                    Err(e.into())
                }
            }
        }
        (None, _) => {
            // Into a file (`> dump.sql`) in small writes (store::small_writes), straight to the
            // descriptor (std's line-buffered stdout would split each write at its last newline);
            // into a pipe as they come: small writes would only cost it system calls.
            let stdout: Box<dyn Write> = match stdout_file() {
                Some(file) => Box::new(SmallWrites(file)),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut out = BufWriter::with_capacity(1 << 20, stdout);
            match produce(&mut out, &progress) {
                Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
                    Err(crate::exit::DumpNotDelivered("standard output was closed".into()).into())
                }
                r => r.map_err(anyhow::Error::from),
            }
        }
        (Some(path), Some(target)) => restore_to_file(path, target, &|out| produce(out, &progress)),
        (Some(_), None) => unreachable!("a target is checked for every -o"),
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let s = summary?;
    if g.json {
        let doc = RestoreDoc {
            id: snap.id,
            db: &snap.manifest.db,
            size: s.bytes,
            chunks: s.chunks,
            digest: selection.is_none().then_some(snap.manifest.digest),
            elapsed_secs: s.elapsed.as_secs_f64(),
            output,
            incomplete: snap.manifest.incomplete,
            part: selection.as_ref().map(|s| s.doc()),
        };
        if output.is_some() || !a.command.is_empty() {
            output::json(&doc)?;
        } else {
            crate::errln!("{}", output::json_text(&doc)?);
        }
    } else if !g.quiet && (output.is_some() || !a.command.is_empty()) {
        match &selection {
            Some(sel) => {
                crate::outln!(
                    "restored {} of snapshot {} of db {}{}: {} object(s), {} written in {:.2} s; {}",
                    if sel.plan.tables.is_empty() { "part".to_string() } else { sel.plan.tables.iter().map(|t| output::printable(t)).collect::<Vec<_>>().join(", ") },
                    snap.id.short(),
                    snap.manifest.db,
                    if snap.manifest.incomplete { " (INCOMPLETE dump)" } else { "" },
                    sel.plan.objects.len(),
                    output::size(s.bytes),
                    s.elapsed.as_secs_f64(),
                    sel.what_was_read(snap.manifest.size)
                );
            }
            None => crate::outln!(
                "restored snapshot {} of db {}{}: {} in {:.1} s ({}), digest verified",
                snap.id.short(),
                snap.manifest.db,
                if snap.manifest.incomplete { " (INCOMPLETE dump)" } else { "" },
                output::size(s.bytes),
                s.elapsed.as_secs_f64(),
                output::rate(s.bytes, s.elapsed)
            ),
        }
    }
    Ok(())
}

/// The newest snapshot of `db` that ended at or before `at`.
fn as_of(repo: &Repository, index: &store::index::Index, db: &str, at: &str) -> Result<snapshot::Snapshot> {
    let t = super::pitr::parse_time(at)?;
    let all = snapshot::list_of(repo, index, db)?;
    match all.iter().rev().find(|s| s.manifest.end <= t) {
        Some(s) => Ok(s.clone()),
        None => anyhow::bail!(
            "db {db} has no snapshot from {} or before: its oldest ended at {}",
            output::local_time(t),
            output::local_time(all[0].manifest.end)
        ),
    }
}

/// Restore into a temporary file beside `path`, which takes the final name only after the digest
/// check, so a failed restore never leaves a plausible-looking dump behind; the temporary file
/// (decrypted data) is removed on failure and on interruption. A new file gets the usual mode
/// (0666 less the umask); a replaced one keeps its permissions. Without `--force` an existing
/// file is never replaced, even one created while the restore ran.
pub(crate) fn restore_to_file(path: &Path, target: Target, produce: &dyn Fn(&mut dyn Write) -> store::Result<RestoreSummary>) -> Result<RestoreSummary> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    };
    let (tmp, _watched) = crate::interrupt::create_watched(
        || tempfile::Builder::new().prefix(".dbvault-restore-").permissions(std::fs::Permissions::from_mode(0o666)).tempfile_in(&dir),
        |tmp| tmp.path().to_path_buf(),
    )
    .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    if let Target::Replace(perms) = &target {
        tmp.as_file().set_permissions(perms.clone()).context("giving the restored file the replaced file's permissions")?;
    }
    let mut out = BufWriter::with_capacity(1 << 20, SmallWrites(EarlyWriteback::new(tmp)));
    let s = produce(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error()).context("writing the restored file")?.0.file;
    tmp.as_file().sync_all().context("syncing the restored file")?;
    // What is there now must still be what may be replaced (a link put there meanwhile is not).
    if let Target::Replace(_) = target
        && std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_file())
    {
        anyhow::bail!("{} was replaced by something other than a regular file while the restore ran; nothing was written there", path.display());
    }
    match target {
        Target::Replace(_) => tmp.persist(path).map(drop).map_err(|e| anyhow::Error::from(e.error)),
        Target::New => tmp.persist_noclobber(path).map(drop).map_err(|e| anyhow::Error::from(e.error)),
    }
    .with_context(|| format!("moving the restored file to {}", path.display()))?;
    Ok(s)
}

/// Standard output as a `File` (a duplicate descriptor: it shares the file position) when it is
/// a regular file, not a pipe, terminal or device.
fn stdout_file() -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    let file = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned().ok()?);
    file.metadata().is_ok_and(|m| m.is_file()).then_some(file)
}

/// Bytes written between two requests to start writing the file out.
const WRITEBACK_BYTES: u64 = 8 << 20;

/// A file written front to back whose written part is handed to the kernel for writing out every
/// [`WRITEBACK_BYTES`], so that the disk works while the restore does and the final fsync has
/// little left to wait for (benches/log/2026-11-21-key-derivation.md).
struct EarlyWriteback {
    file: tempfile::NamedTempFile,
    written: u64,
    started: u64,
}

impl EarlyWriteback {
    fn new(file: tempfile::NamedTempFile) -> Self {
        EarlyWriteback { file, written: 0, started: 0 }
    }

    /// Start writing out what was written since the last call; advisory (the final fsync reports
    /// any error).
    fn start_writeback(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: sync_file_range only reads the descriptor and the range; the file outlives the call.
        unsafe {
            use std::os::fd::AsRawFd;
            let (from, len) = (self.started as libc::off64_t, (self.written - self.started) as libc::off64_t);
            libc::sync_file_range(self.file.as_file().as_raw_fd(), from, len, libc::SYNC_FILE_RANGE_WRITE);
        }
        self.started = self.written;
    }
}

impl Write for EarlyWriteback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_BYTES {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
