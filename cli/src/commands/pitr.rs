//! `dbvault restore --db NAME --at TARGET --pgdata DIR`: PostgreSQL point-in-time recovery.
//!
//! The newest base backup that ended before the target is unpacked into a new data directory,
//! and the recovery settings are written (`recovery.signal`, and in `postgresql.auto.conf` a
//! `restore_command` that runs this dbvault against this repository, the target and what to do
//! there). Starting the server then replays the archived WAL up to the target.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use repo_format::postgres::{format_lsn, parse_lsn};
use store::Repository;
use store::snapshot::Snapshot;
use store::wal;

use crate::cli::{Global, RestoreArgs};
use crate::output;

/// Where recovery stops.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// At the end of the archived WAL.
    Latest,
    /// At this moment.
    Time(Timestamp),
    /// At this log sequence number.
    Lsn(u64),
    /// At a restore point made with `pg_create_restore_point`.
    Name(String),
}

impl Target {
    fn of(a: &RestoreArgs) -> Result<Target> {
        if let Some(name) = &a.restore_point {
            return Ok(Target::Name(name.clone()));
        }
        let at = a.at.as_deref().ok_or_else(|| crate::exit::usage("--pgdata needs --at TIME, --at latest, --at LSN or --restore-point NAME"))?;
        if at == "latest" {
            return Ok(Target::Latest);
        }
        if let Some(lsn) = parse_lsn(at) {
            return Ok(Target::Lsn(lsn));
        }
        parse_time(at).map(Target::Time)
    }

    /// Whether recovery to this target can start from `base`.
    fn after(&self, base: &Snapshot) -> bool {
        let b = base.manifest.base.as_ref().expect("a base backup");
        match self {
            Target::Latest | Target::Name(_) => true,
            Target::Time(t) => base.manifest.end <= *t,
            Target::Lsn(l) => b.stop_lsn <= *l,
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Latest => "the end of the archived WAL".into(),
            Target::Time(t) => output::local_time(*t),
            Target::Lsn(l) => format!("LSN {}", format_lsn(*l)),
            Target::Name(n) => format!("restore point {n:?}"),
        }
    }

    /// The `recovery_target*` setting, if any.
    fn setting(&self) -> Option<(&'static str, String)> {
        match self {
            Target::Latest => None,
            Target::Time(t) => Some(("recovery_target_time", format!("{}+00", t.to_zoned(TimeZone::UTC).strftime("%Y-%m-%d %H:%M:%S%.6f")))),
            Target::Lsn(l) => Some(("recovery_target_lsn", format_lsn(*l))),
            Target::Name(n) => Some(("recovery_target_name", n.clone())),
        }
    }
}

/// Parse a moment: RFC 3339 or PostgreSQL's way (`2026-12-07 14:03:27+01`, fractions allowed);
/// without an offset, in this machine's time zone.
pub(crate) fn parse_time(s: &str) -> Result<Timestamp> {
    let t = s.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    // PostgreSQL prints offsets as `+01`; RFC 3339 wants `+01:00`.
    let padded = match t.rfind(['+', '-']) {
        Some(i) if i > 10 && t[i + 1..].len() == 2 && t[i + 1..].bytes().all(|b| b.is_ascii_digit()) => Some(format!("{t}:00")),
        _ => None,
    };
    if let Some(ts) = padded.and_then(|p| p.parse::<Timestamp>().ok()) {
        return Ok(ts);
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        return Ok(dt.to_zoned(TimeZone::system()).context("placing the time in this machine's time zone")?.timestamp());
    }
    Err(crate::exit::usage(format!("{s:?} is not a time: write it as 2026-12-07 14:03:27+01 (or without an offset, in local time)")))
}

/// Run `restore --pgdata DIR`.
pub fn run(g: &Global, repo: &Repository, a: &RestoreArgs, dir: &Path) -> Result<()> {
    let db = a.db.as_deref().ok_or_else(|| crate::exit::usage("--pgdata needs --db NAME: the name base backups and WAL were stored under"))?;
    let target = Target::of(a)?;
    let index = repo.index_reader()?;
    // Only base backups of the cluster whose WAL is archived can be recovered with it.
    let cluster = wal::archive_cluster(repo, &index, db)?;
    let bases: Vec<Snapshot> =
        wal::base_backups(repo, &index, db)?.into_iter().filter(|b| cluster.is_none_or(|c| b.manifest.base.as_ref().is_some_and(|i| i.cluster == c))).collect();
    let Some(base) = bases.iter().rev().find(|b| target.after(b)) else {
        match bases.first() {
            None => bail!("db {db} has no base backup (of the cluster whose WAL it archives); take one with: dbvault ingest --db {db} --base -- pg_basebackup -D - -Ft -X none"),
            Some(oldest) => bail!(
                "no base backup of db {db} ended before {}: the oldest ended at {} (a cluster cannot be recovered to a moment before its base backup ended)",
                target.describe(),
                output::local_time(oldest.manifest.end)
            ),
        }
    };
    let info = base.manifest.base.as_ref().expect("base backups have one");
    if let Some(v) = info.pg_version.as_deref().and_then(|v| v.parse::<u32>().ok())
        && v < 12
    {
        bail!("the base backup is of PostgreSQL {v}; dbvault writes recovery settings as PostgreSQL 12 and later read them");
    }
    let last_archived = check_archive(repo, &index, db, base)?;
    for t in wal::verify(repo, &index, db)?.timelines.iter().filter(|t| t.missing > 0) {
        crate::errln!(
            "dbvault: WARNING: db {db}'s WAL archive misses {} segment(s) of timeline {} ({}): recovery cannot pass the first; wal fetch then stops PostgreSQL (exit 126) rather than let it end early",
            t.missing,
            t.timeline,
            t.missing_names.join(", ")
        );
    }
    if let Target::Time(t) = &target
        && last_archived < *t
    {
        crate::errln!(
            "dbvault: WARNING: {} is after the last WAL file archived ({}): PostgreSQL will stop with \"recovery ended before configured recovery target was reached\" unless more WAL is archived by then; --at latest recovers everything archived",
            output::local_time(*t),
            output::local_time(last_archived)
        );
    }
    let created = prepare(dir)?;
    // Decrypted data: removed on failure and on interruption (only what dbvault created).
    let cleanup_dir = dir.to_path_buf();
    let _on_interrupt = crate::interrupt::on_interrupt(move || {
        // The unpacking thread stops at its next file first, so nothing is written after the removal.
        STOP.store(true, Ordering::SeqCst);
        let t0 = std::time::Instant::now();
        while UNPACKING.load(Ordering::SeqCst) && t0.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        empty_out(&cleanup_dir, created);
    });
    let unpacked = unpack(g, repo, &index, base, dir).and_then(|()| write_recovery_settings(g, db, &target, &a.target_action, dir));
    if let Err(e) = unpacked {
        empty_out(dir, created);
        return Err(e);
    }
    if g.json {
        output::json(&serde_json::json!({
            "db": db, "base_backup": base.id, "pgdata": dir, "start_lsn": format_lsn(info.start_lsn), "stop_lsn": format_lsn(info.stop_lsn),
            "timeline": info.timeline, "target": target.setting().map(|(k, v)| serde_json::json!({ k: v })), "target_action": a.target_action,
        }))?;
    } else if !g.quiet {
        crate::outln!(
            "restored base backup {} of db {} (ended {}, WAL {} to {}) into {}; recovery settings written (recovery.signal, postgresql.auto.conf)",
            base.id.short(),
            db,
            output::local_time(base.manifest.end),
            format_lsn(info.start_lsn),
            format_lsn(info.stop_lsn),
            dir.display()
        );
        crate::outln!("start the server to replay the archived WAL up to {} and then {}:", target.describe(), a.target_action);
        crate::outln!("  pg_ctl -D {} -l {}/recovery.log start", dir.display(), dir.display());
        if running_as_root() {
            crate::outln!("(as root: first chown -R postgres: {}, and run the server as postgres)", dir.display());
        }
    }
    Ok(())
}

/// The WAL archive must hold this cluster's WAL from where the base backup starts; when the last
/// file was archived.
fn check_archive(repo: &Repository, index: &store::index::Index, db: &str, base: &Snapshot) -> Result<Timestamp> {
    let info = base.manifest.base.as_ref().expect("a base backup");
    let Some(latest) = wal::latest(repo, index, db)? else {
        bail!("db {db}'s WAL archive is empty: recovery needs the WAL from {} on (archive_command = 'dbvault wal push --db {db} %p')", format_lsn(info.start_lsn));
    };
    let cluster = latest.manifest.wal.as_ref().map(|w| w.cluster).unwrap_or_default();
    if cluster != info.cluster {
        bail!("db {db}'s WAL archive holds the WAL of cluster {cluster}, but base backup {} is of cluster {}", base.id.short(), info.cluster);
    }
    let segment_size = wal::segment_size(repo, index, db)?;
    if let Some(size) = segment_size {
        let first = wal::segment_name(info.timeline, info.start_lsn / size, size);
        if wal::find(repo, index, db, &first).is_err() {
            bail!("WAL segment {first}, where base backup {} starts, is not archived for db {db}: recovery from it cannot succeed", base.id.short());
        }
    }
    Ok(latest.manifest.end)
}

/// Make `dir` a new data directory (mode 0700), or take an empty one; whether it was created.
fn prepare(dir: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new().mode(0o700).create(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(true)
        }
        Err(e) => Err(anyhow::Error::from(e).context(format!("looking at {}", dir.display()))),
        Ok(m) if !m.is_dir() => bail!("{} exists and is not a folder; --pgdata takes a new or empty folder", dir.display()),
        Ok(_) => {
            if std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_some() {
                bail!("{} is not empty; --pgdata takes a new or empty folder, so nothing there is ever overwritten", dir.display());
            }
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).with_context(|| format!("making {} private (mode 0700)", dir.display()))?;
            Ok(false)
        }
    }
}

/// Remove what a failed restore unpacked: the folder if dbvault created it, else its content.
fn empty_out(dir: &Path, created: bool) {
    if created {
        let _ = std::fs::remove_dir_all(dir);
    } else if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            let _ = if p.is_dir() && !p.is_symlink() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    }
}

/// Stream the base backup's tar through a pipe into `dir`; its digest is verified at the end.
fn unpack(g: &Global, repo: &Repository, index: &store::index::Index, base: &Snapshot, dir: &Path) -> Result<()> {
    let (reader, writer) = std::io::pipe().context("making a pipe")?;
    let bar = output::progress(Some(base.manifest.size), g.quiet, &format!("restoring {}", base.id.short()));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let (restored, unpacked) = std::thread::scope(|s| {
        let producer = s.spawn(|| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, writer);
            let r = store::restore::restore(repo, index, base, &mut out, Some(&progress));
            r.and_then(|s| out.flush().map(|()| s).map_err(|e| store::StoreError::io("writing the base backup into the pipe", e)))
        });
        UNPACKING.store(true, Ordering::SeqCst);
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_preserve_mtime(true);
        archive.set_overwrite(false);
        let unpacked = unpack_entries(&mut archive, dir);
        UNPACKING.store(false, Ordering::SeqCst);
        // Closing the pipe stops the producer if unpacking stopped early.
        drop(archive);
        (producer.join().expect("the restore thread does not panic"), unpacked)
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // A restore error explains a short tar; an unpack error explains a closed pipe.
    match (restored, unpacked) {
        (Ok(_), Ok(())) => Ok(()),
        (Err(e), Ok(())) => Err(anyhow::Error::from(e).context(format!("restoring base backup {}", base.id.short()))),
        (Err(e), Err(_)) if !matches!(&e, store::StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe) => {
            Err(anyhow::Error::from(e).context(format!("restoring base backup {}", base.id.short())))
        }
        (_, Err(e)) => Err(anyhow::Error::from(e).context(format!("unpacking base backup {} into {}", base.id.short(), dir.display()))),
    }
}

/// Set by an interruption: the unpacking stops before its next file.
static STOP: AtomicBool = AtomicBool::new(false);
/// Whether files are being unpacked.
static UNPACKING: AtomicBool = AtomicBool::new(false);

/// Unpack every entry of the tar stream into `dir` (paths that would leave it are refused by the
/// tar crate), stopping at an interruption.
fn unpack_entries<R: std::io::Read>(archive: &mut tar::Archive<R>, dir: &Path) -> std::io::Result<()> {
    for entry in archive.entries()? {
        if STOP.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("interrupted"));
        }
        let mut entry = entry?;
        let name = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
        if !entry.unpack_in(dir)? {
            return Err(std::io::Error::other(format!("member {name:?} would be written outside the folder; nothing of it was")));
        }
    }
    Ok(())
}

/// Write `recovery.signal` and append the recovery settings to `postgresql.auto.conf`.
fn write_recovery_settings(g: &Global, db: &str, target: &Target, action: &str, dir: &Path) -> Result<()> {
    let command = restore_command(g, db)?;
    let mut settings = format!(
        "\n# Written by dbvault restore --pgdata on {}: recover from db {db}'s WAL archive.\nrestore_command = '{}'\n",
        Timestamp::now(),
        conf_quote(&command)
    );
    if let Some((key, value)) = target.setting() {
        settings.push_str(&format!("{key} = '{}'\nrecovery_target_action = '{action}'\n", conf_quote(&value)));
    }
    settings.push_str("recovery_target_timeline = 'latest'\n");
    let conf = dir.join("postgresql.auto.conf");
    let before = match std::fs::read_to_string(&conf) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(anyhow::Error::from(e).context(format!("reading {}", conf.display()))),
    };
    // It may hold a password command: readable by the server's account alone, as PostgreSQL makes it.
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&conf).with_context(|| format!("opening {}", conf.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600)).with_context(|| format!("making {} private", conf.display()))?;
    f.write_all((disable_recovery_settings(&before) + &settings).as_bytes()).and_then(|()| f.sync_all()).with_context(|| format!("writing {}", conf.display()))?;
    let signal = dir.join("recovery.signal");
    std::fs::File::create(&signal).and_then(|f| f.sync_all()).with_context(|| format!("creating {}", signal.display()))?;
    if g.password_file.is_none() && g.password_command.is_none() {
        crate::errln!(
            "dbvault: WARNING: restore_command gives no password source (the password came from DBVAULT_PASSWORD or a prompt, which are not written anywhere): \
             start the server with DBVAULT_PASSWORD_FILE in its environment, or add --password-file FILE to restore_command in {}",
            conf.display()
        );
    }
    Ok(())
}

/// `conf` with its recovery settings commented out: a base backup of a cluster that was itself
/// restored carries that restore's settings, and PostgreSQL refuses two recovery targets even
/// when a later line empties one.
fn disable_recovery_settings(conf: &str) -> String {
    conf.lines()
        .map(|line| {
            let key = line.trim_start().split(|c: char| c == '=' || c.is_whitespace()).next().unwrap_or_default();
            if key.starts_with("recovery_target") || key == "restore_command" {
                format!("# disabled by dbvault restore --pgdata: {line}\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

/// The shell command PostgreSQL runs to fetch a WAL file: this binary, this repository and its
/// password source (a file or command, never the password itself).
fn restore_command(g: &Global, db: &str) -> Result<String> {
    let exe = std::env::current_exe().context("finding the dbvault binary's path")?;
    let repo = g.repo.as_deref().unwrap_or_default();
    let repo = if repo.starts_with("s3:") { repo.to_string() } else { absolute(Path::new(repo))?.display().to_string() };
    let mut words = vec![exe.display().to_string(), "--repo".into(), repo];
    if let Some(f) = &g.password_file {
        words.extend(["--password-file".into(), absolute(f)?.display().to_string()]);
    } else if let Some(c) = &g.password_command {
        words.extend(["--password-command".into(), c.clone()]);
    }
    if let Some(c) = &g.cache_dir {
        words.extend(["--cache-dir".into(), absolute(c)?.display().to_string()]);
    }
    let mut line: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
    line.extend(["wal", "fetch", "--db"].map(String::from));
    line.push(sh_quote(db));
    line.extend(["%f", "%p"].map(String::from));
    Ok(line.join(" "))
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("making {} an absolute path", p.display()))
}

/// `s` as one shell word.
fn sh_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./=:,@+-".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `s` inside a quoted string of postgresql.conf.
fn conf_quote(s: &str) -> String {
    s.replace('\'', "''")
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_postgres_and_rfc_3339_write_them() {
        let t = parse_time("2026-12-07 14:03:27+01").unwrap();
        assert_eq!(t.to_string(), "2026-12-07T13:03:27Z");
        assert_eq!(parse_time("2026-12-07T13:03:27Z").unwrap(), t);
        assert_eq!(parse_time("2026-12-07 13:03:27.250+00").unwrap().subsec_millisecond(), 250);
        assert_eq!(parse_time("2026-12-07 13:03:27.123456+00").unwrap().subsec_microsecond(), 123456);
        assert!(parse_time("2026-12-07 14:03:27").is_ok());
        assert!(parse_time("yesterday").is_err());
        assert_eq!(Target::Time(t).setting().unwrap().1, "2026-12-07 13:03:27.000000+00");
    }

    #[test]
    fn a_restored_clusters_recovery_settings_are_disabled_and_the_rest_kept() {
        let conf = "# Do not edit\nwork_mem = '8MB'\nrestore_command = 'x %f %p'\n  recovery_target_time = '2026-01-01'\nrecovery_target_timeline='latest'\n";
        let out = disable_recovery_settings(conf);
        assert!(out.contains("\nwork_mem = '8MB'\n") && out.starts_with("# Do not edit\n"), "{out}");
        assert_eq!(out.lines().filter(|l| l.starts_with("# disabled by dbvault")).count(), 3, "{out}");
    }

    #[test]
    fn restore_command_words_survive_the_shell_and_postgresql_conf() {
        assert_eq!(sh_quote("/usr/bin/dbvault"), "/usr/bin/dbvault");
        assert_eq!(sh_quote("my repo"), "'my repo'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(conf_quote(&sh_quote("it's")), r"''it''\''''s''");
        assert_eq!(conf_quote("a'b"), "a''b");
    }
}
