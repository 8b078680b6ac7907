//! The database servers of `dbvault run`: which databases they have tonight, and the dump
//! commands that back up each one and the server's roles / users and grants.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::config::{Databases, ServerSource, matches_any};
use crate::commands::ingest::Spec;

/// The two kinds of server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PostgreSQL (pg_dump, pg_dumpall).
    Postgres,
    /// MariaDB or MySQL (mariadb-dump or mysqldump).
    MariaDb,
}

impl Kind {
    /// The configuration's section name.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::MariaDb => "mariadb",
        }
    }
}

/// MariaDB's own schemas: never backed up as databases (users and grants go to the globals).
const MARIADB_SYSTEM: [&str; 4] = ["information_schema", "performance_schema", "mysql", "sys"];

/// How long pg_dump waits for a table's lock before failing the database's dump.
const PG_LOCK_WAIT: &str = "15min";

/// How long listing a server's databases may take (an unreachable server must not hang the run).
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

/// One server of the configuration, as this run sees it.
pub struct Server<'a> {
    pub kind: Kind,
    pub source: &'a ServerSource,
}

/// The servers of a configuration, PostgreSQL ones first.
pub fn servers(c: &super::config::Config) -> Vec<Server<'_>> {
    let postgres = c.postgres.iter().map(|source| Server { kind: Kind::Postgres, source });
    postgres.chain(c.mariadb.iter().map(|source| Server { kind: Kind::MariaDb, source })).collect()
}

/// What discovery found on a server.
pub struct Found {
    /// Every database the server has (before exclusion), system ones aside.
    pub present: Vec<String>,
    /// The databases to back up tonight: listed or discovered, minus the excluded.
    pub selected: Vec<String>,
}

impl Server<'_> {
    /// The source's name.
    pub fn name(&self) -> &str {
        self.source.name(self.kind.section())
    }

    /// The tag every snapshot of this source carries (how a disappeared database is recognised).
    pub fn tag(&self) -> String {
        format!("source:{}", self.name())
    }

    /// The lineage of database `db`.
    pub fn lineage(&self, db: &str) -> String {
        format!("{}{db}", self.source.prefix)
    }

    /// The lineage of the roles / users and grants.
    pub fn globals_lineage(&self) -> String {
        self.source.globals_lineage(self.kind.section())
    }

    fn program(&self, names: &[&str]) -> String {
        let dir = self.source.bin_dir.clone();
        let found = |n: &str| match &dir {
            Some(d) => d.join(n).is_file().then(|| d.join(n)),
            None => std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(n)).find(|f| f.is_file())),
        };
        let path: Option<PathBuf> = names.iter().find_map(|n| found(n));
        match (path, &dir) {
            (Some(p), _) => p.to_string_lossy().into_owned(),
            (None, Some(d)) => d.join(names[0]).to_string_lossy().into_owned(),
            (None, None) => names[0].to_string(),
        }
    }

    /// Connection settings as libpq's variables (PostgreSQL); none for MariaDB.
    fn env(&self) -> Vec<(String, String)> {
        let s = self.source;
        if self.kind != Kind::Postgres {
            return Vec::new();
        }
        let mut env = vec![("PGAPPNAME".to_string(), "dbvault".to_string())];
        let mut set = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                env.push((k.to_string(), v));
            }
        };
        set("PGHOST", s.host.clone());
        set("PGPORT", s.port.map(|p| p.to_string()));
        set("PGUSER", s.user.clone());
        set("PGSERVICE", s.service.clone());
        set("PGPASSFILE", s.password_file.as_ref().map(|p| p.to_string_lossy().into_owned()));
        env
    }

    /// MariaDB client options: the option file first (the clients require it so).
    fn mariadb_options(&self) -> Vec<String> {
        let s = self.source;
        let mut o = Vec::new();
        if let Some(f) = &s.password_file {
            o.push(format!("--defaults-extra-file={}", f.display()));
        }
        if let Some(sock) = &s.socket {
            o.push(format!("--socket={}", sock.display()));
        }
        if let Some(h) = &s.host {
            o.push(format!("--host={h}"));
        }
        if let Some(p) = s.port {
            o.push(format!("--port={p}"));
        }
        if let Some(u) = &s.user {
            o.push(format!("--user={u}"));
        }
        o
    }

    /// The databases to back up tonight (and every one the server has, to tell which vanished).
    pub fn discover(&self) -> Result<Found> {
        let present = match self.kind {
            Kind::Postgres => {
                let mut argv = vec![self.program(&["psql"]), "-X".into(), "-A".into(), "-t".into(), "-q".into(), "-0".into(), "-v".into(), "ON_ERROR_STOP=1".into()];
                argv.extend(["-c".into(), "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1".into()]);
                let mut env = self.env();
                env.push(("PGDATABASE".into(), self.source.maintenance_db.clone().unwrap_or_else(|| "postgres".into())));
                listed(&argv, &env, b'\0')?
            }
            Kind::MariaDb => {
                let mut argv = vec![self.program(&["mariadb", "mysql"])];
                argv.extend(self.mariadb_options());
                argv.extend(["--batch".into(), "--skip-column-names".into(), "--execute=SHOW DATABASES".into()]);
                listed(&argv, &[], b'\n')?.into_iter().filter(|d| !MARIADB_SYSTEM.contains(&d.as_str())).collect()
            }
        };
        let selected = match &self.source.databases {
            Databases::All => present.iter().filter(|d| !matches_any(&self.source.exclude, d)).cloned().collect(),
            Databases::Listed(l) => l.iter().filter(|d| !matches_any(&self.source.exclude, d)).cloned().collect(),
        };
        Ok(Found { present, selected })
    }

    /// The ingest of database `db`.
    pub fn database_spec(&self, db: &str) -> Spec {
        let (command, env) = match self.kind {
            Kind::Postgres => {
                // A lock held on a table (a long migration) fails this dump after a while instead of
                // holding up the whole night; dump_options can say otherwise.
                let mut argv = vec![self.program(&["pg_dump"]), "--format=plain".into(), format!("--lock-wait-timeout={PG_LOCK_WAIT}")];
                argv.extend(self.source.dump_options.iter().cloned());
                // The name goes in a variable: as an argument, `a=b` or `postgresql://...` would be
                // read as connection settings.
                let mut env = self.env();
                env.push(("PGDATABASE".into(), db.to_string()));
                (argv, env)
            }
            Kind::MariaDb => {
                let mut argv = vec![self.program(&["mariadb-dump", "mysqldump"])];
                argv.extend(self.mariadb_options());
                argv.extend(["--single-transaction".into(), "--routines".into(), "--triggers".into(), "--events".into()]);
                argv.extend(self.source.dump_options.iter().cloned());
                argv.extend(["--".into(), db.to_string()]);
                (argv, Vec::new())
            }
        };
        self.spec(self.lineage(db), command, env)
    }

    /// The ingest of the server's roles and tablespaces (PostgreSQL) or users and grants (MariaDB).
    pub fn globals_spec(&self) -> Spec {
        let (command, env) = match self.kind {
            Kind::Postgres => {
                let mut argv = vec![self.program(&["pg_dumpall"]), "--globals-only".into()];
                if let Some(db) = &self.source.maintenance_db {
                    argv.push(format!("--database={db}"));
                }
                (argv, self.env())
            }
            Kind::MariaDb => {
                let mut argv = vec![self.program(&["mariadb-dump", "mysqldump"])];
                argv.extend(self.mariadb_options());
                // CREATE USER IF NOT EXISTS: loads into a server that has root already.
                argv.extend(["--system=users".into(), "--insert-ignore".into()]);
                (argv, Vec::new())
            }
        };
        self.spec(self.globals_lineage(), command, env)
    }

    fn spec(&self, db: String, command: Vec<String>, env: Vec<(String, String)>) -> Spec {
        Spec { db, host: None, tags: vec![self.tag()], allow_incomplete: false, no_deltas: false, base: false, ping: None, command, env }
    }
}

/// Run a listing command and split its output at `separator`.
fn listed(argv: &[String], env: &[(String, String)], separator: u8) -> Result<Vec<String>> {
    let shown = store::redact::command(argv).join(" ");
    tracing::debug!(command = %shown, "listing databases");
    let mut command = crate::child::command(&argv[0]);
    command.args(&argv[1..]).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let Some(done) = crate::child::output_within(&mut command, LIST_TIMEOUT).with_context(|| format!("running `{shown}`"))? else {
        bail!("`{shown}` did not answer within {} s; it was stopped", LIST_TIMEOUT.as_secs());
    };
    let (status, out) = (done.status, done.stdout);
    let err = String::from_utf8_lossy(&done.stderr).trim().to_string();
    if !status.success() {
        bail!("`{shown}` failed ({status}): {}", store::redact::text(&err));
    }
    let text = String::from_utf8(out).with_context(|| format!("`{shown}` printed names that are not UTF-8"))?;
    let text = if separator == b'\0' { text.strip_suffix('\n').unwrap_or(&text) } else { &text };
    Ok(text.split(separator as char).map(|s| s.trim_end_matches('\r')).filter(|s| !s.is_empty()).map(String::from).collect())
}
