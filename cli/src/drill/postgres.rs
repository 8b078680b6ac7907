//! PostgreSQL for drills: the server binaries that fit a dump (Debian's
//! `/usr/lib/postgresql/<major>/bin`), a throwaway cluster (`initdb` with trust authentication on
//! a Unix socket only, fsync off: its data is thrown away), an existing server named by URL, and
//! the engine's own check: `amcheck` on every B-tree index.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use repo_format::drill_record::EngineChecks;

use super::server::{Engine, Server};
use super::throwaway::{Account, Confinement, Throwaway};

/// Where Debian installs each major version's server.
const ROOT: &str = "/usr/lib/postgresql";

/// The major version in a version string (`15.18 (Debian ...)` gives 15, `9.6.24` gives 9).
pub fn major(version: &str) -> Option<u32> {
    version.trim().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The installed server majors with their binary folders, oldest first.
fn installed() -> Vec<(u32, PathBuf)> {
    let mut out: Vec<(u32, PathBuf)> = std::fs::read_dir(ROOT)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
                .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").exists() && bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The binaries of the server a dump made by PostgreSQL `needed` loads into: that major, else the
/// oldest newer one (a dump loads into its own major or a later one), else the newest (`None`:
/// the version is unknown).
pub fn binaries(needed: Option<u32>) -> Result<(u32, PathBuf)> {
    let all = installed();
    let found = all.iter().map(|(m, _)| m.to_string()).collect::<Vec<_>>().join(", ");
    let pick = match needed {
        Some(n) => all.iter().find(|(m, _)| *m >= n).cloned(),
        None => all.last().cloned(),
    };
    match (pick, needed) {
        (Some(p), _) => Ok(p),
        (None, Some(n)) => bail!(
            "the dump comes from PostgreSQL {n}, and no PostgreSQL server {n} or newer is installed here ({}): install the postgresql-{n} package (apt.postgresql.org carries every supported version), or drill into an existing server with --server",
            if found.is_empty() { "none is".to_string() } else { format!("found {found} under {ROOT}") }
        ),
        (None, None) => bail!("no PostgreSQL server is installed here (none under {ROOT}): install the postgresql package, or drill into an existing server with --server"),
    }
}

/// Start a throwaway cluster of `bin`'s version. Says on standard error which account it runs as
/// when that is not dbvault's own.
pub fn throwaway(bin: &Path, quiet: bool) -> Result<Server> {
    let mut t = Throwaway::create(Account::for_server(&["nobody", "postgres"], false)?)?;
    if let (Some(a), false) = (t.account(), quiet) {
        crate::errln!("dbvault: the throwaway PostgreSQL server runs as the unprivileged `{}` account (PostgreSQL refuses to run as root)", a.name);
    }
    let dir = t.dir().to_path_buf();
    let data = dir.join("data");
    let mut init = t.command(bin.join("initdb"));
    init.args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C", "-D"]).arg(&data);
    t.setup(init, "initdb")?;
    let mut server = t.command(bin.join("postgres"));
    server.arg("-D").arg(&data).arg("-k").arg(&dir);
    for setting in ["listen_addresses=", "unix_socket_permissions=0700", "fsync=off", "full_page_writes=off", "synchronous_commit=off", "max_wal_size=4GB"] {
        server.arg("-c").arg(setting);
    }
    t.start(server, libc::SIGINT)?;
    let mut s = Server {
        engine: Engine::Postgres,
        kind: "throwaway",
        version: String::new(),
        bin: Some(bin.to_path_buf()),
        conn: vec!["-h".into(), dir.display().to_string(), "-U".into(), "postgres".into()],
        uri: None,
        env: Vec::new(),
        maintenance_db: "postgres".into(),
        confinement: t.confinement().clone(),
        throwaway: None,
    };
    t.wait_ready("PostgreSQL", || s.accepts())?;
    s.throwaway = Some(t);
    s.version = s.value("postgres", "SHOW server_version")?;
    Ok(s)
}

/// An existing server: `postgresql://USER[:PASSWORD]@HOST[:PORT][/DB][?PARAMS]` as libpq reads
/// it (the database, if given, is the one connected to for creating and dropping the drill's;
/// `postgres` otherwise). The password reaches the clients through `PGPASSWORD`, never their
/// command lines. Its client programs come from the newest installed version, else PATH.
pub fn existing(url: &reqwest::Url, quiet: bool) -> Result<Server> {
    let env = url.password().map(|p| vec![("PGPASSWORD".to_string(), decode(p))]).unwrap_or_default();
    let mut uri = url.clone();
    let _ = uri.set_password(None);
    let db = url.path().trim_start_matches('/');
    let mut s = Server {
        engine: Engine::Postgres,
        kind: "existing",
        version: String::new(),
        bin: installed().pop().map(|(_, b)| b),
        conn: Vec::new(),
        uri: Some(uri),
        env,
        maintenance_db: if db.is_empty() { "postgres".into() } else { decode(db) },
        confinement: Confinement::default(),
        throwaway: None,
    };
    let db = s.maintenance_db.clone();
    s.version = s.value(&db, "SHOW server_version").context("connecting to the --server")?;
    if !quiet && s.value(&db, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")? == "t" {
        crate::errln!(
            "dbvault: warning: the --server account is a superuser: the dump runs with its rights there (COPY ... TO PROGRAM runs commands on that server's host); prefer an account that may only create databases (CREATEDB)"
        );
    }
    Ok(s)
}

/// A URL's percent-encoded part, decoded.
pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `amcheck`'s `bt_index_check` (with heap verification) on every B-tree index of `db`; says why
/// nothing ran when the extension is not installed. Damage found goes into `failures`.
pub fn check_indexes(server: &Server, db: &str, failures: &mut Vec<String>) -> Result<EngineChecks> {
    let available = server.value(db, "SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'")?;
    if available != "1" {
        return Ok(EngineChecks { method: "none: the amcheck extension is not installed (postgresql-contrib)".into(), ..Default::default() });
    }
    let created = server.sql(db, "CREATE EXTENSION IF NOT EXISTS amcheck;\n")?;
    if !created.err.is_empty() {
        return Ok(EngineChecks { method: format!("none: amcheck could not be created ({})", created.err.join("; ")), ..Default::default() });
    }
    let indexes = server.sql(
        db,
        "SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE a.amname = 'btree' AND i.indisvalid AND i.indisready \
         AND c.relpersistence <> 't' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_toast' ORDER BY c.oid;\n",
    )?;
    if !indexes.err.is_empty() {
        bail!("listing the indexes to check: {}", indexes.err.join("; "));
    }
    let oids: Vec<&String> = indexes.out.iter().filter(|l| !l.is_empty()).collect();
    let script: String = oids.iter().map(|oid| format!("SELECT '{oid}:' || {oid}::regclass::text FROM (SELECT bt_index_check({oid}, true)) x;\n")).collect();
    let run = server.sql(db, &script)?;
    let passed = run.out.iter().filter(|l| l.contains(':')).count() as u64;
    let checked = oids.len() as u64;
    failures.extend(run.err.iter().filter(|l| l.contains("ERROR")).map(|l| format!("amcheck: {l}")));
    Ok(EngineChecks { method: "amcheck bt_index_check(heapallindexed)".into(), checked, failed: checked.saturating_sub(passed) })
}
