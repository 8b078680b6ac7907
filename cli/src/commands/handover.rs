//! `restore --table / --schema / --schema-only / --data-only` of a pg_dump custom archive: dbvault
//! chooses the archive's entries from its table of contents ([`toc::select`], as for a plain dump:
//! a table with its sequences, indexes, constraints, triggers, comments and grants), and pg_restore,
//! which alone decompresses the archive's data, writes them as a script: the archive is restored
//! into `pg_restore -L LIST -f -` (its digest verified when pg_restore reads it to its end; it may
//! stop once it has its entries), and its script goes where the restore goes. (pg_restore's own `-t` leaves a table's indexes and constraints behind.)

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result};
use store::index::Index;
use store::restore::RestoreSummary;
use store::snapshot::Snapshot;
use store::{Repository, StoreError};
use toc::select::{Dialect, Piece, Plan, Request};
use toc::{Section, Toc};

/// What pg_restore is asked to write.
pub struct Handover {
    /// The list of entries to restore (`pg_restore -L`).
    list: tempfile::NamedTempFile,
    _list_watched: crate::interrupt::Guard,
    /// pg_restore.
    program: PathBuf,
    /// Comments dbvault adds before the script (a foreign key left out, ...), and statements
    /// (triggers turned off while rows load).
    notes: String,
    /// What dbvault adds after it (triggers turned on again).
    after: String,
    /// Whether the archive was read whole into pg_restore (and its digest verified), once written.
    pub fed_whole: std::cell::Cell<bool>,
}

/// Plan the part of `snap`'s archive that `req` asks for, and the list pg_restore is given.
pub fn plan(g: &crate::cli::Global, repo: &Repository, index: &Index, snap: &Snapshot, req: &Request, rename_to: Option<&str>) -> Result<(Handover, Plan)> {
    if rename_to.is_some() {
        return Err(crate::exit::usage(
            "--rename-to rewrites plain SQL, and this snapshot is a pg_dump custom archive: restore the table into another database, or dump with --format=plain",
        ));
    }
    let program = program()?;
    let toc: Toc = super::contents::read(g, repo, index, snap)?;
    let mut read = |ranges: &[std::ops::Range<u64>]| store::extract::read_ranges(repo, index, snap, ranges).map_err(std::io::Error::other);
    let plan = toc::select::plan(&toc, Dialect::Postgres, req, &mut read).map_err(|e| super::selection::select_failed(snap, e))?;
    // Each chosen object's dump id: the first integer of its entry, or of its data block after
    // the block's type byte. Integers are a sign byte and the header's integer size in bytes.
    let int_size = read(std::slice::from_ref(&(0..12)))?.pop().and_then(|h| h.get(8).copied()).filter(|s| (1..=8).contains(s)).context("the archive's header is damaged")? as u64;
    // With the session settings pg_dump records as entries of their own.
    let settings = toc.objects.iter().enumerate().filter(|(_, o)| matches!(o.tool_kind.as_str(), "ENCODING" | "STDSTRINGS" | "SEARCHPATH")).map(|(i, _)| i);
    let mut chosen: Vec<usize> = plan.objects.iter().copied().chain(settings).filter(|&i| toc.objects[i].range.start > 0).collect();
    // pg_dump's own order: definitions, data, then what needs the data (indexes, constraints); a
    // stream read once must give pg_restore the data blocks in the archive's order.
    chosen.sort_by_key(|&i| (section_rank(toc.objects[i].section), i));
    chosen.dedup();
    let heads = read(&chosen.iter().map(|&i| toc.objects[i].range.start..toc.objects[i].range.start + 2 + int_size).collect::<Vec<_>>())?;
    // It names tables: removed if dbvault is interrupted, as files of decrypted data are.
    let (mut list, list_watched) = crate::interrupt::create_watched(|| tempfile::Builder::new().prefix("dbvault-pg_restore-list.").tempfile(), |f| f.path().to_path_buf())
        .context("creating pg_restore's list")?;
    writeln!(list, "; the entries dbvault chose from the archive of snapshot {}", snap.id.short())?;
    for (&i, head) in chosen.iter().zip(&heads) {
        let o = &toc.objects[i];
        let id = dump_id(head, int_size as usize).with_context(|| format!("the archive's entry of {} {} is damaged", o.tool_kind, o.name))?;
        writeln!(list, "{id}; {} {} {}", o.tool_kind, o.schema.as_deref().unwrap_or("-"), o.name.replace('\n', " "))?;
    }
    list.flush()?;
    for w in &plan.warnings {
        crate::errln!("dbvault: warning: {w}");
    }
    // dbvault's comments and statements (the plain format's preamble, rewritten, has no place
    // here): those before the last of the dump's pieces go before pg_restore's script, the rest
    // after it (triggers turned back on).
    let last = plan.pieces.iter().rposition(|p| matches!(p, Piece::Dump(_))).unwrap_or(0);
    let ours = |pieces: &[Piece]| -> String {
        pieces.iter().filter_map(|p| if let Piece::Note(n) = p { Some(n.as_str()) } else { None }).filter(|n| n.trim_start().starts_with("-- dbvault:")).collect()
    };
    let (notes, after) = (ours(&plan.pieces[..last]), ours(&plan.pieces[last..]));
    Ok((Handover { list, _list_watched: list_watched, program, notes, after, fed_whole: std::cell::Cell::new(false) }, plan))
}

impl Handover {
    /// Restore the whole archive into pg_restore and write its script to `out`. pg_restore runs as
    /// every command dbvault starts does: without dbvault's secrets in its environment, and killed
    /// with its descendants if dbvault is interrupted.
    pub fn write(&self, repo: &Repository, index: &Index, snap: &Snapshot, out: &mut dyn Write, progress: &(dyn Fn(u64) + Sync)) -> store::Result<RestoreSummary> {
        let t0 = Instant::now();
        let io = |what: &str, e| StoreError::io(what.to_string(), e);
        let spawn = || {
            crate::child::command(&self.program.to_string_lossy())
                .args(["--exit-on-error", "-f", "-", "-L"])
                .arg(self.list.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        };
        let (mut child, _watched) = crate::interrupt::spawn_watched(spawn).map_err(|e| io("starting pg_restore", e))?;
        let pid = child.id();
        let (stdin, stdout, mut stderr) = (child.stdin.take().expect("piped"), child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        let (fed, written, errors) = std::thread::scope(|scope| {
            let feeder = scope.spawn(move || {
                let mut input = std::io::BufWriter::with_capacity(1 << 20, stdin);
                store::restore::restore(repo, index, snap, &mut input, None)
            });
            let errors = scope.spawn(move || {
                // Its last words only: a failing script may make it say much.
                let mut text = Vec::new();
                let _ = stderr.read_to_end(&mut text);
                String::from_utf8_lossy(&text[text.len().saturating_sub(ERRORS_KEPT)..]).into_owned()
            });
            let written = copy_script(&self.notes, stdout, out, progress);
            if written.is_err() {
                // Nobody reads it any more: it must not hold the restore that feeds it.
                crate::process_tree::kill_tree(pid);
            }
            (feeder.join().expect("the restore thread"), written, errors.join().unwrap_or_default())
        });
        let status = child.wait().map_err(|e| io("waiting for pg_restore", e))?;
        // Damaged data first: pg_restore then only says its input ended early. pg_restore stops
        // reading once it has what it was asked for: a closed pipe is no failure.
        let chunks = match fed {
            Ok(s) => {
                self.fed_whole.set(true);
                s.chunks
            }
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => 0,
            Err(e) => return Err(e),
        };
        let written = written.map_err(|e| io("writing the restored script", e))?;
        if let Some(how) = crate::child::describe(status) {
            let said = errors.trim();
            let failed = crate::exit::CommandFailed { command: "pg_restore".into(), status: format!("{how}{}{said}", if said.is_empty() { "" } else { ": " }) };
            return Err(io("restoring a part of a custom archive", std::io::Error::other(failed)));
        }
        out.write_all(self.after.as_bytes()).map_err(|e| io("writing the restored script", e))?;
        out.flush().map_err(|e| io("writing the restored script", e))?;
        Ok(RestoreSummary { bytes: written + (self.notes.len() + self.after.len()) as u64, chunks, elapsed: t0.elapsed() })
    }
}

/// Bytes of pg_restore's error output kept to report its failure.
const ERRORS_KEPT: usize = 16 << 10;

/// `notes`, then pg_restore's script from `script` (closed when this returns, so that pg_restore
/// stops if nobody reads it), to `out`; the script's bytes.
fn copy_script(notes: &str, mut script: impl Read, out: &mut dyn Write, progress: &(dyn Fn(u64) + Sync)) -> std::io::Result<u64> {
    out.write_all(notes.as_bytes())?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = script.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        out.write_all(&buf[..k])?;
        n += k as u64;
        progress(n);
    }
}

fn section_rank(s: Section) -> u8 {
    match s {
        Section::PreData => 0,
        Section::Data => 1,
        Section::PostData => 2,
    }
}

/// The dump id at the start of an entry (a sign byte, then `int_size` little-endian bytes) or of
/// a data block (a type byte first: 1 table data, 3 large objects).
fn dump_id(head: &[u8], int_size: usize) -> Option<u64> {
    let at = match head.first()? {
        0 => 0,
        1 | 3 => 1,
        _ => return None,
    };
    let (&sign, bytes) = head.get(at..at + 1 + int_size)?.split_first()?;
    let id = bytes.iter().rev().fold(0u64, |v, &b| (v << 8) | b as u64);
    (sign == 0 && id > 0).then_some(id)
}

/// pg_restore, from `PATH`.
fn program() -> Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("pg_restore"))
        .find(|p| p.is_file())
        .ok_or_else(|| crate::exit::usage("this snapshot is a pg_dump custom archive, whose parts pg_restore writes, and pg_restore is not on PATH: install the PostgreSQL client (Debian: postgresql-client, of the version that wrote the archive or newer)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn dump_ids_of_entries_and_blocks() {
        assert_eq!(super::dump_id(&[0, 7, 1, 0, 0], 4), Some(263));
        assert_eq!(super::dump_id(&[1, 0, 42, 0, 0, 0], 4), Some(42));
        assert_eq!(super::dump_id(&[2, 0, 42, 0, 0, 0], 4), None, "no such block type");
        assert_eq!(super::dump_id(&[0, 0, 0, 0, 0], 4), None, "dump ids start at 1");
        assert_eq!(super::dump_id(&[0, 7], 4), None, "cut short");
    }
}
