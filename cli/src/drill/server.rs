//! The server a drill loads a dump into, whoever started it: how to run its clients (`psql`,
//! `pg_restore`, `mariadb`) against one of its databases, run SQL, and create and drop the
//! drill's database. Passwords of `--server` reach the clients through their environment
//! (`PGPASSWORD`, `MYSQL_PWD`), never their command lines.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::throwaway::{Confinement, Throwaway};

/// A database engine drills know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// PostgreSQL.
    Postgres,
    /// MariaDB (and MySQL dumps).
    MariaDb,
}

impl Engine {
    /// Its name in records and messages.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgresql",
            Engine::MariaDb => "mariadb",
        }
    }

    /// `ident` quoted as an identifier.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Engine::Postgres => format!("\"{}\"", ident.replace('"', "\"\"")),
            Engine::MariaDb => format!("`{}`", ident.replace('`', "``")),
        }
    }

    /// `text` as a string literal.
    pub fn literal(self, text: &str) -> String {
        match self {
            Engine::Postgres => format!("'{}'", text.replace('\'', "''")),
            Engine::MariaDb => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        }
    }
}

/// A running server and how to reach it.
pub struct Server {
    /// Its engine.
    pub engine: Engine,
    /// `throwaway` or `existing`.
    pub kind: &'static str,
    /// Its version as it reports it.
    pub version: String,
    /// The folder of PostgreSQL's client programs (none: found on PATH).
    pub(super) bin: Option<PathBuf>,
    /// Connection options every client gets (socket or host, port, user).
    pub(super) conn: Vec<String>,
    /// An existing PostgreSQL server's URL without its password: clients get it whole (libpq
    /// honours its parameters: `sslmode`, `host` as a socket folder, ...), its path the database.
    pub(super) uri: Option<reqwest::Url>,
    /// Environment every client gets (a password).
    pub(super) env: Vec<(String, String)>,
    /// The database clients connect to when none is named.
    pub(super) maintenance_db: String,
    /// How its clients are confined: as the throwaway server's account, without network (none
    /// but the parent-death signal for `--server`).
    pub(super) confinement: Confinement,
    /// The server dbvault started (none with `--server`); dropped last.
    pub(super) throwaway: Option<Throwaway>,
}

/// What a client printed and how it ended.
pub struct SqlRun {
    /// Standard output, lines (an empty one is a NULL, or an empty string).
    pub out: Vec<String>,
    /// Standard error, lines.
    pub err: Vec<String>,
    /// Whether it exited with status 0.
    pub ok: bool,
}

impl Server {
    /// A client program (`psql`, `pg_restore`, `mariadb`) connected to `db`, without dbvault's
    /// own secrets in its environment.
    pub fn tool(&self, program: &str, db: &str) -> Command {
        let path = self.bin.as_ref().map_or_else(|| program.to_string(), |b| b.join(program).display().to_string());
        let mut c = crate::child::command(&path);
        if self.kind == "throwaway" {
            // A client of a throwaway server needs nothing of dbvault's environment or folder.
            self.confinement.clean_env(&mut c);
            c.current_dir("/");
        }
        self.confinement.apply(&mut c);
        match (self.engine, &self.uri) {
            (Engine::Postgres, Some(uri)) => {
                let mut uri = uri.clone();
                uri.set_path(&format!("/{}", percent_encoding::utf8_percent_encode(db, percent_encoding::NON_ALPHANUMERIC)));
                c.arg("-d").arg(uri.as_str());
            }
            (Engine::Postgres, None) => {
                c.args(&self.conn).arg("-d").arg(db);
            }
            // No file is read or written on the client's side, nor a shell run, whatever the dump
            // says (`system`, `\!`, `source`, `LOAD DATA LOCAL`).
            (Engine::MariaDb, _) => {
                c.arg("--no-defaults").args(["--sandbox", "--local-infile=0"]).args(&self.conn).arg("-D").arg(db);
            }
        }
        c.env("PGAPPNAME", "dbvault-drill").env("PGCONNECT_TIMEOUT", "10");
        c.env_remove("PGPASSWORD").env_remove("MYSQL_PWD").env_remove("PGSERVICE").env_remove("PGDATABASE");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// The client that runs SQL scripts from its standard input, one result value per line,
    /// going on after an error (each one is on its standard error).
    pub fn sql_client(&self, db: &str) -> Command {
        match self.engine {
            Engine::Postgres => {
                let mut c = self.tool("psql", db);
                c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-f", "-"]);
                c
            }
            Engine::MariaDb => {
                let mut c = self.tool("mariadb", db);
                c.args(["-N", "-B", "--force"]);
                c
            }
        }
    }

    /// Run `script` in `db`.
    pub fn sql(&self, db: &str, script: &str) -> Result<SqlRun> {
        let mut cmd = self.sql_client(db);
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().with_context(|| format!("starting {:?}", cmd.get_program()))?;
        let mut stdin = child.stdin.take().expect("piped");
        let script = script.to_string();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(script.as_bytes());
        });
        let out = child.wait_with_output()?;
        let _ = writer.join();
        // Empty lines are kept on standard output: psql prints a NULL so.
        let lines = |b: &[u8]| String::from_utf8_lossy(b).lines().map(|l| l.trim_end().to_string()).collect::<Vec<_>>();
        let err = lines(&out.stderr).into_iter().filter(|l| !l.is_empty()).collect();
        Ok(SqlRun { out: lines(&out.stdout), err, ok: out.status.success() })
    }

    /// The single value `query` returns in `db`, or its error.
    pub fn value(&self, db: &str, query: &str) -> Result<String> {
        let r = self.sql(db, &format!("{};\n", query.trim().trim_end_matches(';')))?;
        if !r.err.is_empty() || !r.ok {
            bail!("{}", r.err.join("; "));
        }
        Ok(r.out.join("\n"))
    }

    /// Whether the server accepts connections.
    pub fn accepts(&self) -> bool {
        self.sql(&self.maintenance_db, "SELECT 1;\n").is_ok_and(|r| r.ok && r.out == ["1"])
    }

    /// The database clients connect to for server-wide statements.
    pub fn maintenance_db(&self) -> &str {
        &self.maintenance_db
    }

    /// Scratch databases of drills that are there now (left by a drill killed outright, or
    /// another drill's, running).
    pub fn scratch_databases(&self) -> Result<Vec<String>> {
        let q = match self.engine {
            Engine::Postgres => "SELECT datname FROM pg_database WHERE datname LIKE 'dbvault\\_drill\\_%' ORDER BY 1",
            Engine::MariaDb => "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'dbvault\\_drill\\_%' ORDER BY 1",
        };
        Ok(self.value(&self.maintenance_db, q)?.lines().filter(|l| !l.is_empty()).map(String::from).collect())
    }

    /// Create an empty database.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let q = self.engine.quote(name);
        let stmt = match self.engine {
            Engine::Postgres => format!("CREATE DATABASE {q} TEMPLATE template0"),
            Engine::MariaDb => format!("CREATE DATABASE {q}"),
        };
        self.value(&self.maintenance_db, &stmt).map(drop).with_context(|| format!("creating the drill's database {name}"))
    }

    /// The statement that drops database `name` (its sessions ended first, on PostgreSQL).
    fn drop_statement(&self, name: &str) -> String {
        let q = self.engine.quote(name);
        match self.engine {
            Engine::Postgres => format!("DROP DATABASE IF EXISTS {q} WITH (FORCE)"),
            Engine::MariaDb => format!("DROP DATABASE IF EXISTS {q}"),
        }
    }

    /// Drop a database (the drill's, on an existing server).
    pub fn drop_database(&self, name: &str) -> Result<()> {
        self.value(&self.maintenance_db, &self.drop_statement(name)).map(drop).with_context(|| format!("dropping the drill's database {name}"))
    }

    /// What drops database `name` if dbvault is interrupted: a client run on its own (no more than
    /// 10 s), with a warning naming the database when it fails.
    pub fn drop_on_interrupt(&self, name: &str) -> crate::interrupt::Guard {
        let mut cmd = match self.engine {
            Engine::Postgres => self.tool("psql", &self.maintenance_db),
            Engine::MariaDb => self.tool("mariadb", &self.maintenance_db),
        };
        cmd.args([if self.engine == Engine::Postgres { "-c" } else { "-e" }, &self.drop_statement(name)]);
        let program = cmd.get_program().to_owned();
        let args: Vec<std::ffi::OsString> = cmd.get_args().map(|a| a.to_owned()).collect();
        let envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd.get_envs().map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned()))).collect();
        let name = name.to_string();
        crate::interrupt::on_interrupt(move || {
            let mut c = Command::new(&program);
            c.args(&args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
            for (k, v) in &envs {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            let dropped = c.spawn().is_ok_and(|mut child| {
                let start = std::time::Instant::now();
                loop {
                    match child.try_wait() {
                        Ok(Some(status)) => break status.success(),
                        Ok(None) if start.elapsed() < std::time::Duration::from_secs(10) => std::thread::sleep(std::time::Duration::from_millis(50)),
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break false;
                        }
                    }
                }
            });
            if !dropped {
                crate::errln!("dbvault: the drill's scratch database {name} could not be dropped: drop it by hand");
            }
        })
    }
}
