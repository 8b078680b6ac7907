//! Loading a snapshot's dump into the drill's server: the dump is restored (every chunk verified,
//! the stream's digest checked) straight into the engine's loader (`psql`, `pg_restore`,
//! `mariadb`), which goes on after an error so that every error line is kept.

use std::io::{BufRead, BufReader, BufWriter};
use std::process::Stdio;

use anyhow::{Context, Result};
use store::index::Index;
use store::snapshot::Snapshot;
use store::{Repository, StoreError};

use super::script_guard::{self, ScriptGuard};
use super::server::{Engine, Server};

/// Error lines kept in full; more are counted.
const KEPT_ERRORS: usize = 200;

/// How the load went.
pub struct Loaded {
    /// Error lines of the loader (the first [`KEPT_ERRORS`]).
    pub errors: Vec<String>,
    /// Error lines in all.
    pub error_count: usize,
    /// How the loader failed, if it did (`exited with status 1`, `stopped reading at byte N`).
    pub failure: Option<String>,
    /// Bytes of dump fed.
    pub bytes: u64,
}

/// Why feeding a loader stopped.
enum Fed {
    /// It closed its input.
    Closed,
    /// Restoring failed (damaged data: the loader is killed before it sees an end of input), or
    /// writing did.
    Error(StoreError),
}

/// The outcome of feeding a loader: `restored` and then `end` (which flushes and closes its
/// input).
fn feed(restored: store::Result<u64>, end: impl FnOnce() -> std::io::Result<()>) -> Result<u64, Fed> {
    let closed = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
    match restored {
        Ok(n) => match end() {
            Ok(()) => Ok(n),
            Err(e) if closed(&e) => Err(Fed::Closed),
            Err(e) => Err(Fed::Error(StoreError::Io { context: "feeding the dump to the loader".into(), source: e })),
        },
        Err(StoreError::Io { source, .. }) if closed(&source) => Err(Fed::Closed),
        Err(e) => Err(Fed::Error(e)),
    }
}

/// Whether a loader's error output line reports an error (not a notice or warning).
fn is_error(line: &str) -> bool {
    line.contains("ERROR") || line.contains("FATAL") || line.contains("PANIC") || line.contains("error:")
}

/// A snapshot's dump, to load.
pub struct Dump<'a> {
    /// Its repository.
    pub repo: &'a Repository,
    /// The repository's index.
    pub index: &'a Index,
    /// The snapshot.
    pub snap: &'a Snapshot,
    /// Its format as recognised at ingest.
    pub format: &'a str,
}

/// Feed `dump` into `db` on `server`. Error lines containing `ignore` are expected (pg_dumpall
/// re-creating the superuser the throwaway server already has).
pub fn load(server: &Server, db: &str, dump: &Dump, ignore: Option<String>, progress: &(dyn Fn(u64) + Sync)) -> Result<Loaded> {
    let (repo, index, snap) = (dump.repo, dump.index, dump.snap);
    // A script's backslash commands are refused (restricted mode, SPEC: drills run no shell).
    let key = script_guard::new_key();
    let script = server.engine == Engine::Postgres && !super::archive(dump.format);
    let mut cmd = match (server.engine, script) {
        (Engine::Postgres, false) => {
            let mut c = server.tool("pg_restore", db);
            c.arg("--no-password");
            c
        }
        (Engine::Postgres, true) => {
            let mut c = server.tool("psql", db);
            c.args(["-X", "-q", "-v", "ON_ERROR_STOP=0", "-c"]).arg(format!("\\restrict {key}")).args(["-f", "-"]);
            c
        }
        (Engine::MariaDb, _) => {
            let mut c = server.tool("mariadb", db);
            c.args(["--force", "--max-allowed-packet=1G"]);
            c
        }
    };
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let shown = format!("{}", cmd.get_program().to_string_lossy());
    let (mut child, _watched) = crate::interrupt::spawn_watched(|| cmd.spawn()).with_context(|| format!("starting {shown}"))?;
    let stdin = child.stdin.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let (mut kept, mut count) = (Vec::new(), 0usize);
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            let line = store::redact::text(String::from_utf8_lossy(&line).trim_end());
            if is_error(&line) && !ignore.as_deref().is_some_and(|i| line.contains(i)) {
                count += 1;
                if kept.len() < KEPT_ERRORS {
                    kept.push(line);
                }
            }
        }
        (kept, count)
    });
    let out = BufWriter::with_capacity(1 << 20, stdin);
    let fed = if script {
        // Only a throwaway server's databases may be switched to (pg_dumpall, pg_dump --create).
        let mut guard = ScriptGuard::new(out, key, server.kind == "throwaway");
        feed(store::restore::restore(repo, index, snap, &mut guard, Some(progress)).map(|s| s.bytes), || guard.finish().map(drop))
    } else {
        let mut out = out;
        feed(store::restore::restore(repo, index, snap, &mut out, Some(progress)).map(|s| s.bytes), || out.into_inner().map(drop).map_err(|e| e.into_error()))
    };
    let fed = match fed {
        Err(Fed::Error(e)) => Err(Some(e)),
        Err(Fed::Closed) => Err(None),
        Ok(n) => Ok(n),
    };
    if let Err(Some(_)) = &fed {
        crate::process_tree::kill_tree(child.id());
    }
    let status = child.wait()?;
    let (errors, error_count) = reader.join().unwrap_or_default();
    let bytes = match fed {
        Ok(n) => n,
        Err(Some(e)) => return Err(anyhow::Error::from(e).context(format!("restoring snapshot {} for the drill", snap.id.short()))),
        Err(None) => {
            let failure = format!("{shown} stopped reading the dump before its end ({})", crate::child::describe(status).unwrap_or_else(|| "exited with status 0".into()));
            return Ok(Loaded { errors, error_count, failure: Some(failure), bytes: 0 });
        }
    };
    let failure = crate::child::describe(status).map(|s| format!("{shown} {s}"));
    Ok(Loaded { errors, error_count, failure, bytes })
}
