//! `--metrics-file FILE`: after a command that opened the repository, a Prometheus text-format file
//! for node_exporter's textfile collector. It is derived from the repository's state (each
//! database's last snapshots and their count), never from counters this process kept, so files
//! written by concurrent dbvault processes, or on several hosts, all tell the same truth; it is
//! written to a temporary file beside FILE and renamed over it, so a reader never sees half a file.
//!
//! Labels are the database (for what is a database's) and the repository's id (its first 8 hex
//! digits), never snapshot ids or paths: their number stays that of the databases. The last check
//! (SPEC.md section 9.4) and the stored bytes are the repository's, labelled by its id alone; the
//! last drills (section 9.5) and the last WAL file archived (section 9.6) are each database's.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use jiff::Timestamp;
use store::Repository;
use store::snapshot::{self, Snapshot};

/// One metric family: its name, help text and samples (a database's name, or none for the
/// repository's own, and the value).
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Option<String>, f64)>,
}

/// Write the metrics of `repo` to `path`, atomically. Only a regular file is replaced: a link,
/// device (`/dev/null`), FIFO or folder at `path` is refused, never renamed over.
pub fn write(repo: &Repository, path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => anyhow::bail!("{} is not a regular file (a link, device, FIFO or folder): give a file's own path", path.display()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::Error::from(e).context(format!("looking at {}", path.display()))),
    }
    let text = render(repo)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".dbvault-metrics.").tempfile_in(dir).with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    // node_exporter runs as its own user: the file is readable by all, like the textfile
    // collector's own examples (a temporary file is created readable by its owner alone).
    #[cfg(unix)]
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("renaming the metrics file into {}", path.display()))?;
    Ok(())
}

/// The metrics of `repo` in Prometheus' text format.
fn render(repo: &Repository) -> Result<String> {
    let index = repo.index_reader()?;
    let seconds = |t: Timestamp| t.as_millisecond() as f64 / 1000.0;
    let mut last_success = Family { name: "dbvault_backup_last_success_timestamp_seconds", help: "When the database's last complete snapshot's dump ended (Unix time; 0 if none is complete).", samples: Vec::new() };
    let mut last = Family { name: "dbvault_backup_last_timestamp_seconds", help: "When the database's last snapshot's dump ended, complete or not (Unix time).", samples: Vec::new() };
    let mut incomplete = Family { name: "dbvault_backup_last_incomplete", help: "1 if the database's last snapshot was cut short and kept with --allow-incomplete.", samples: Vec::new() };
    let mut dump = Family { name: "dbvault_backup_dump_bytes", help: "Size of the database's last dump.", samples: Vec::new() };
    let mut added = Family { name: "dbvault_backup_added_bytes", help: "Bytes the database's last snapshot added to the repository.", samples: Vec::new() };
    let mut duration = Family { name: "dbvault_backup_duration_seconds", help: "How long the database's last ingest read its dump.", samples: Vec::new() };
    let mut count = Family { name: "dbvault_snapshots", help: "Snapshots of the database in the repository.", samples: Vec::new() };
    let mut drill_success = Family {
        name: "dbvault_drill_last_success_timestamp_seconds",
        help: "When the last drill of the database that passed ended (Unix time; 0 if none passed).",
        samples: Vec::new(),
    };
    let mut drill_passed = Family { name: "dbvault_drill_last_passed", help: "1 if the database's last drill passed (0 if it failed, or it was never drilled).", samples: Vec::new() };
    let mut wal = Family {
        name: "dbvault_wal_last_archived_timestamp_seconds",
        help: "When `wal push` last archived a WAL file of the database (Unix time; only databases with a WAL archive).",
        samples: Vec::new(),
    };
    // Drills of snapshots still there, oldest first.
    let present: std::collections::HashSet<_> = index.snapshot_ids()?.into_iter().collect();
    // Per database, oldest first: the end of its last passed drill, and whether its last passed.
    let mut drills: std::collections::HashMap<String, (Option<Timestamp>, bool)> = std::collections::HashMap::new();
    for (_, r) in store::drill_records::all(repo)?.into_iter().filter(|(_, r)| present.contains(&r.snapshot)) {
        let d = drills.entry(r.db).or_default();
        d.1 = r.passed;
        if r.passed {
            d.0 = Some(r.end);
        }
    }
    for db in snapshot::databases(repo, &index)? {
        let Some(s) = snapshot::latest(repo, &index, &db)? else { continue };
        let m = &s.manifest;
        let complete: Option<Snapshot> = if m.incomplete { snapshot::list_of(repo, &index, &db)?.into_iter().rev().find(|s| !s.manifest.incomplete) } else { Some(s.clone()) };
        // A database none of whose snapshots is complete has never succeeded: 0 (1970), which any
        // alert on the age of the last success fires for.
        last_success.samples.push((Some(db.clone()), complete.map_or(0.0, |c| seconds(c.manifest.end))));
        last.samples.push((Some(db.clone()), seconds(m.end)));
        incomplete.samples.push((Some(db.clone()), f64::from(u8::from(m.incomplete))));
        dump.samples.push((Some(db.clone()), m.size as f64));
        added.samples.push((Some(db.clone()), m.added.stored_bytes as f64));
        duration.samples.push((Some(db.clone()), m.end.duration_since(m.start).as_secs_f64().max(0.0)));
        count.samples.push((Some(db.clone()), snapshot::count(repo, &index, &db)? as f64));
        let (passed_at, last_passed) = drills.get(&db).copied().unwrap_or_default();
        drill_success.samples.push((Some(db.clone()), passed_at.map_or(0.0, seconds)));
        drill_passed.samples.push((Some(db.clone()), f64::from(u8::from(last_passed))));
        if let Some(w) = store::wal::latest(repo, &index, &db)? {
            wal.samples.push((Some(db.clone()), seconds(w.manifest.end)));
        }
    }
    let check = store::check_records::latest(repo)?;
    let check_time = Family {
        name: "dbvault_check_last_timestamp_seconds",
        help: "When the repository's last recorded check ended (Unix time; 0 if none was recorded).",
        samples: vec![(None, check.as_ref().map_or(0.0, |c| seconds(c.time)))],
    };
    let check_ok = Family {
        name: "dbvault_check_success",
        help: "1 if the repository's last recorded check found no problem (0 if it found some, or none was recorded).",
        samples: vec![(None, f64::from(u8::from(check.as_ref().is_some_and(|c| c.problems == 0))))],
    };
    let stored = Family {
        name: "dbvault_repository_stored_bytes",
        help: "Bytes of the repository's packs (what its storage holds, before prune frees unused data).",
        samples: vec![(None, index.packs()?.iter().map(|(_, len, _)| *len as f64).sum())],
    };
    let repository = repo.config().id.short();
    let mut out = String::new();
    for f in [last_success, last, incomplete, dump, added, duration, count, drill_success, drill_passed, wal, check_time, check_ok, stored] {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", f.name, f.help, f.name);
        for (db, v) in f.samples {
            let db = db.map_or(String::new(), |db| format!("database=\"{}\",", label(&db)));
            let _ = writeln!(out, "{}{{{db}repository=\"{repository}\"}} {v}", f.name);
        }
    }
    Ok(out)
}

/// A label value as the text format writes it: backslash, quote and line end escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
