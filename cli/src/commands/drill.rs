//! `dbvault drill`: load a snapshot's dump into a throwaway server (or a scratch database on
//! `--server`), check what was loaded, and record the drill in the repository.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use jiff::Timestamp;
use repo_format::Id;
use repo_format::drill_record::{DrillRecord, EngineChecks};
use serde::Serialize;
use store::Repository;
use store::snapshot::{self, Snapshot};
use toc::{Kind, Toc};

use crate::cli::{DrillArgs, Global};
use crate::drill::server::{Engine, Server};
use crate::drill::verify::{self, Expected};
use crate::drill::{self as drilling, load, mariadb, postgres};
use crate::output;

/// `drill --json`: the record, its id (none when it could not be stored) and the load's size.
#[derive(Serialize)]
struct DrillDoc<'a> {
    id: Option<Id>,
    #[serde(flatten)]
    record: &'a DrillRecord,
    loaded_bytes: u64,
}

/// An assertions file is SQL, not data: larger is a mistake.
const MAX_ASSERTIONS: u64 = 1 << 20;

pub fn run(g: &Global, repo: &Repository, a: &DrillArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let snap = snapshot::resolve(repo, &index, &a.snapshot, a.db.as_deref())?;
    let plan = drilling::plan(&snap, a.engine.as_deref())?;
    let assertions = a.assert.as_deref().map(read_assertions).transpose()?;
    let url = a.server.as_deref().map(|u| server_url(u, plan.engine)).transpose()?;
    let globals = a.globals.as_deref().map(|db| globals_snapshot(repo, &index, db, &plan)).transpose()?;
    if snap.manifest.incomplete {
        crate::errln!("dbvault: warning: snapshot {} is INCOMPLETE (its dump was cut short): expect the drill to fail", snap.id.short());
    }
    // The dump's own row counts, known before any server starts.
    let toc = match store::contents::read(repo, &index, &snap, None) {
        Ok((toc, _)) => Some(toc),
        Err(e) if e.is_integrity() => return Err(anyhow::Error::from(e).context("reading the snapshot's table of contents")),
        Err(e) => {
            crate::errln!("dbvault: note: no row counts to compare ({e})");
            None
        }
    };
    let created = toc.as_ref().filter(|_| !drilling::archive(&plan.format)).map(created_databases).unwrap_or_default();
    if url.is_some() && !created.is_empty() {
        bail!(
            "snapshot {}'s dump creates databases of its own ({}): on an existing server it would write into them, so drill it in a throwaway server (leave out --server)",
            snap.id.short(),
            created.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let timeout = a.timeout.as_deref().map(|t| super::status::duration("--timeout", t)).transpose()?;
    let start = Timestamp::now();
    let watchdog = timeout.map(Watchdog::start);
    let server = match (&url, plan.engine) {
        (Some(u), Engine::Postgres) => postgres::existing(u, g.quiet),
        (Some(u), Engine::MariaDb) => mariadb::existing(u, g.quiet),
        (None, Engine::Postgres) => postgres::binaries(plan.pg_major).and_then(|(_, bin)| postgres::throwaway(&bin, g.quiet)),
        (None, Engine::MariaDb) => mariadb::throwaway(g.quiet),
    }
    .map_err(|e| match watchdog.as_ref().filter(|w| w.fired()) {
        // The timeout killed the server as it started: that is what to say, not what initdb printed.
        Some(w) => anyhow::anyhow!("the drill timed out after {} while its server was starting (nothing was recorded)", w.after),
        None => e.context("the drill could not start (nothing was recorded)"),
    })?;
    if server.kind == "existing" {
        let left = server.scratch_databases()?;
        if !left.is_empty() {
            crate::errln!(
                "dbvault: warning: the server holds scratch databases of other drills ({}): running ones', or left by a drill that was killed outright; drop those no drill runs in",
                left.join(", ")
            );
        }
    }
    let scratch = format!("dbvault_drill_{}", Id::of_bytes(format!("{} {} {}", std::process::id(), start, snap.id).as_bytes()).short());
    // On an existing server, the scratch database goes whatever happens (registered before it
    // exists: an interruption in between drops nothing that is there).
    let _drop = (server.kind == "existing" && created.is_empty()).then(|| DropOnExit { server: &server, db: &scratch, _on_interrupt: server.drop_on_interrupt(&scratch) });
    // A dump that creates its databases is loaded from the maintenance database.
    let load_db = if created.is_empty() { server.create_database(&scratch)?; scratch.clone() } else { server.maintenance_db().to_string() };
    let mut failures = Vec::new();
    let bar = output::progress(Some(snap.manifest.size), g.quiet, &format!("drilling {}", snap.id.short()));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    // pg_dumpall re-creates the superuser the throwaway server has.
    let superuser = || Some("role \"postgres\" already exists".to_string());
    if let Some(gs) = &globals {
        let gl = load::load(&server, server.maintenance_db(), &load::Dump { repo, index: &index, snap: gs, format: "pg_dumpall" }, superuser(), &|_| {})?;
        failures.extend(gl.failure.iter().chain(&gl.errors).map(|l| format!("globals {}: {l}", gs.id.short())));
    }
    let ignore = (plan.format == "pg_dumpall").then(superuser).flatten();
    let loaded = load::load(&server, &load_db, &load::Dump { repo, index: &index, snap: &snap, format: &plan.format }, ignore, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // A dump that cannot be read back whole is not restorable: a failed drill, recorded, with the
    // damage's own exit code.
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) if crate::exit::code_for(&e) == crate::exit::INTEGRITY => {
            failures.push(format!("the dump could not be read back whole: {}", output::error_chain(&e)));
            let record = record_of(&snap, &server, start, globals.as_ref(), Findings { failures, ..Findings::default() });
            drop(_drop);
            drop(server);
            store_record(repo, &record);
            return Err(e.context(format!("the drill of snapshot {} FAILED", snap.id.short())));
        }
        Err(e) => return Err(e),
    };
    failures.extend(loaded.failure.iter().cloned());
    failures.extend(loaded.errors.iter().map(|l| format!("load: {l}")));
    if loaded.error_count > loaded.errors.len() {
        failures.push(format!("load: ... and {} more error line(s)", loaded.error_count - loaded.errors.len()));
    }
    let primary = primary_db(&snap, &created).unwrap_or(load_db.clone());
    let expected = toc.as_ref().map(|t| expected(t, server.engine, &load_db, &created)).unwrap_or_default();
    // Past its timeout the server is gone: nothing more to check.
    let timed_out = || watchdog.as_ref().is_some_and(Watchdog::fired);
    let tables = if timed_out() { Vec::new() } else { verify::count_rows(&server, &expected, &mut failures)? };
    let engine_checks = if timed_out() { EngineChecks::default() } else { engine_checks(&server, &expected, &primary, &mut failures) };
    let asserted = match &assertions {
        Some(q) if !timed_out() => verify::run_assertions(&server, &primary, q, &mut failures)?,
        _ => Vec::new(),
    };
    if let Some(w) = watchdog.as_ref().filter(|w| w.fired()) {
        // What the kill caused says nothing more.
        failures.retain(|f| !f.contains("SIGKILL"));
        failures.insert(0, format!("the drill timed out after {}: its server and load were killed", w.after));
    }
    drop(watchdog);
    let record = record_of(&snap, &server, start, globals.as_ref(), Findings { tables, engine_checks, assertions: asserted, failures });
    drop(_drop);
    drop(server);
    let id = store_record(repo, &record);
    let printed = print(g, &snap, &record, id, loaded.bytes);
    if !record.passed {
        return Err(crate::exit::DrillFailed { snapshot: snap.id.short(), failures: record.failures.len() }.into());
    }
    printed
}

/// What a drill found.
#[derive(Default)]
struct Findings {
    tables: Vec<repo_format::drill_record::TableCount>,
    engine_checks: EngineChecks,
    assertions: Vec<repo_format::drill_record::Assertion>,
    failures: Vec<String>,
}

/// The record of a drill of `snap` on `server` that started at `start` and ends now.
fn record_of(snap: &Snapshot, server: &Server, start: Timestamp, globals: Option<&Snapshot>, found: Findings) -> DrillRecord {
    let Findings { tables, engine_checks, assertions, failures } = found;
    DrillRecord {
        snapshot: snap.id,
        db: snap.manifest.db.clone(),
        start,
        end: Timestamp::now(),
        host: store::repository::hostname(),
        engine: server.engine.name().into(),
        server_version: server.version.clone(),
        server: server.kind.into(),
        globals: globals.map(|s| s.id),
        passed: failures.is_empty(),
        tables,
        engine_checks,
        assertions,
        failures,
        client: format!("dbvault {}", env!("CARGO_PKG_VERSION")),
        origin: None,
    }
}

/// Store `record`; a repository that cannot take it (read-only) only warns.
fn store_record(repo: &Repository, record: &DrillRecord) -> Option<Id> {
    match store::drill_records::record(repo, record) {
        Ok(id) => Some(id),
        Err(e) => {
            crate::errln!("dbvault: warning: this drill was not recorded in the repository ({e}); `status` will not show it");
            None
        }
    }
}

/// Kills what the drill runs (its server, the load, a query) once `after` has passed.
struct Watchdog {
    after: String,
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
    _stop: std::sync::mpsc::Sender<()>,
}

impl Watchdog {
    fn start(after: jiff::SignedDuration) -> Watchdog {
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let flag = fired.clone();
        let wait = after.unsigned_abs();
        std::thread::spawn(move || {
            // Dropping the watchdog ends the wait (disconnected) without firing.
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                crate::process_tree::kill_descendants();
            }
        });
        Watchdog { after: format!("{after:#}"), fired, _stop: stop }
    }

    fn fired(&self) -> bool {
        self.fired.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Drops the scratch database on an existing server when the drill ends (error or not).
struct DropOnExit<'a> {
    server: &'a Server,
    db: &'a str,
    _on_interrupt: crate::interrupt::Guard,
}

impl Drop for DropOnExit<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.server.drop_database(self.db) {
            crate::errln!("dbvault: warning: {}: drop it by hand", output::error_chain(&e));
        }
    }
}

/// The queries of `--assert FILE`.
fn read_assertions(path: &std::path::Path) -> Result<Vec<String>> {
    let bad = |e: std::io::Error| crate::exit::usage(format!("--assert {}: {e} (give a file of SQL queries)", path.display()));
    let f = std::fs::File::open(path).map_err(bad)?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_ASSERTIONS + 1), &mut text).map_err(bad)?;
    if text.len() as u64 > MAX_ASSERTIONS {
        return Err(crate::exit::usage(format!("--assert {}: larger than 1 MiB; it should hold a few SQL queries", path.display())));
    }
    verify::parse_assertions(&text).map_err(|e| crate::exit::usage(format!("--assert {}: {e}", path.display())))
}

/// `--globals DB`: that database's latest snapshot, which must be a pg_dumpall dump.
fn globals_snapshot(repo: &Repository, index: &store::index::Index, db: &str, plan: &drilling::Plan) -> Result<Snapshot> {
    if plan.engine != Engine::Postgres {
        return Err(crate::exit::usage("--globals loads PostgreSQL roles; this snapshot's dump is not a PostgreSQL one"));
    }
    if plan.format == "pg_dumpall" {
        return Err(crate::exit::usage("--globals: this snapshot is a pg_dumpall dump, which holds its roles already; leave out --globals"));
    }
    let s = snapshot::latest(repo, index, db)?.ok_or_else(|| snapshot::no_such_database(repo, index, db))?;
    if s.manifest.source.format.as_deref() != Some("pg_dumpall") {
        return Err(crate::exit::usage(format!(
            "--globals {db}: its latest snapshot {} is not a pg_dumpall dump; ingest `pg_dumpall --globals-only` as its own database (e.g. --db {db})",
            s.id.short()
        )));
    }
    Ok(s)
}

/// `--server URL`, which must name the engine the dump needs.
fn server_url(s: &str, engine: Engine) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(s).map_err(|e| crate::exit::usage(format!("--server: not a URL ({e}); e.g. postgresql://USER@HOST:5432/postgres or mysql://USER@HOST:3306")))?;
    let named = match url.scheme() {
        "postgresql" | "postgres" => Engine::Postgres,
        "mysql" | "mariadb" => Engine::MariaDb,
        other => return Err(crate::exit::usage(format!("--server: unknown scheme {other}: (postgresql:// or mysql://)"))),
    };
    if named != engine {
        return Err(crate::exit::usage(format!("--server names a {} server, and the snapshot's dump loads into {}", named.name(), engine.name())));
    }
    Ok(url)
}

/// The databases a script creates itself (pg_dumpall, pg_dump --create, mysqldump --databases;
/// an archive's database entry is used only by `pg_restore --create`, which drills do not run).
fn created_databases(toc: &Toc) -> BTreeSet<String> {
    toc.objects.iter().filter_map(|o| if o.kind == Kind::Database { Some(o.name.clone()) } else { o.database.clone() }).filter(|d| !d.is_empty()).collect()
}

/// Where assertions and engine checks run in a dump that creates databases: the one named like
/// the snapshot's database, else the first.
fn primary_db(snap: &Snapshot, created: &BTreeSet<String>) -> Option<String> {
    let s = &snap.manifest;
    [s.source.database.as_ref(), Some(&s.db)].into_iter().flatten().find(|d| created.contains(*d)).cloned().or_else(|| created.iter().next().cloned())
}

/// The tables whose rows the dump counts, each with the database it was loaded into.
fn expected(toc: &Toc, engine: Engine, load_db: &str, created: &BTreeSet<String>) -> Vec<Expected> {
    // pg_dump --create names one database and connects to it.
    let single = (created.len() == 1).then(|| created.iter().next().cloned()).flatten();
    toc.objects
        .iter()
        .filter(|o| o.kind == Kind::TableData)
        .filter_map(|o| {
            let rows = o.rows?;
            let db = o.database.clone().or_else(|| single.clone());
            Some(Expected {
                named: db.is_some(),
                db: db.unwrap_or_else(|| load_db.to_string()),
                // MySQL's "schema" is the database the dump was taken from, not where it loaded.
                schema: if engine == Engine::Postgres { o.schema.clone() } else { None },
                name: o.name.clone(),
                rows,
            })
        })
        .collect()
}

/// The engine's checks in every database loaded; a check that cannot run is a failure.
fn engine_checks(server: &Server, expected: &[Expected], primary: &str, failures: &mut Vec<String>) -> EngineChecks {
    let dbs: BTreeSet<&str> = expected.iter().map(|e| e.db.as_str()).chain([primary]).collect();
    let mut total = EngineChecks::default();
    for db in dbs {
        let r = match server.engine {
            Engine::Postgres => postgres::check_indexes(server, db, failures),
            Engine::MariaDb => mariadb::check_tables(server, db, failures),
        };
        match r {
            Ok(c) => {
                total.method = c.method;
                total.checked += c.checked;
                total.failed += c.failed;
            }
            Err(e) => failures.push(format!("the engine's checks could not run in {db}: {}", output::error_chain(&e))),
        }
    }
    total
}

/// Print the outcome.
fn print(g: &Global, snap: &Snapshot, r: &DrillRecord, id: Option<Id>, loaded: u64) -> Result<()> {
    if g.json {
        return output::json(&DrillDoc { id, record: r, loaded_bytes: loaded });
    }
    if g.quiet {
        // Quiet: only what failed.
        for f in &r.failures {
            crate::outln!("FAILURE: {}", output::printable(f));
        }
        return Ok(());
    }
    let secs = r.end.duration_since(r.start).as_secs_f64();
    crate::outln!(
        "drill of snapshot {} of db {} ({}) in {} {} server {}: {} in {secs:.1} s",
        snap.id.short(),
        output::printable(&snap.manifest.db),
        output::local_time(snap.manifest.end),
        if r.server == "throwaway" { "a throwaway" } else { "an existing" },
        if r.engine == "postgresql" { "PostgreSQL" } else { "MariaDB" },
        r.server_version,
        if r.passed { "PASSED" } else { "FAILED" }
    );
    let rows: u64 = r.tables.iter().map(|t| t.expected).sum();
    let right = r.tables.iter().filter(|t| t.found == Some(t.expected)).count();
    if r.tables.is_empty() {
        crate::outln!("  loaded {}; no row counts to compare (the dump's table of contents counts none: a compressed archive, or a dump without rows)", output::size(loaded));
    } else {
        crate::outln!("  loaded {}; {right} of {} table(s) hold the dump's rows ({rows} rows)", output::size(loaded), r.tables.len());
    }
    if r.engine_checks.method.is_empty() {
        crate::outln!("  engine checks: could not run");
    } else {
        crate::outln!("  {}: {} checked, {} damaged", r.engine_checks.method, r.engine_checks.checked, r.engine_checks.failed);
    }
    if !r.assertions.is_empty() {
        crate::outln!("  assertions: {} of {} true", r.assertions.iter().filter(|a| a.passed).count(), r.assertions.len());
    }
    for f in &r.failures {
        crate::outln!("  FAILURE: {}", output::printable(f));
    }
    Ok(())
}
