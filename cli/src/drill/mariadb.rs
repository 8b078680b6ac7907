//! MariaDB for drills (MySQL and MariaDB dumps): a throwaway server (`mariadb-install-db`, then
//! `mariadbd` with networking off on a Unix socket, file import and export confined to its
//! folder), an existing server named by URL, and the engine's own check: `CHECK TABLE` on every
//! base table.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use repo_format::drill_record::EngineChecks;

use super::postgres::decode;
use super::server::{Engine, Server};
use super::throwaway::{Account, Confinement, Throwaway};

/// The server program, if installed.
fn server_program() -> Option<PathBuf> {
    ["/usr/sbin/mariadbd", "/usr/sbin/mysqld", "/usr/bin/mariadbd"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Start a throwaway server. When dbvault runs as root it runs as the `mysql` account if there is
/// one (as root otherwise, which MariaDB allows when told).
pub fn throwaway(quiet: bool) -> Result<Server> {
    let Some(program) = server_program() else {
        bail!("no MariaDB server is installed here (no mariadbd in /usr/sbin): install the mariadb-server package, or drill into an existing server with --server");
    };
    let mut t = Throwaway::create(Account::for_server(&["nobody", "mysql"], true)?)?;
    if let (Some(a), false) = (t.account(), quiet) {
        crate::errln!("dbvault: the throwaway MariaDB server runs as the unprivileged `{}` account", a.name);
    }
    let user = t.account().map_or_else(current_user, |a| a.name.clone());
    let dir = t.dir().to_path_buf();
    if dir.to_string_lossy().contains(char::is_whitespace) {
        bail!("the temporary folder {} has a space in its path, which mariadb-install-db cannot handle: set TMPDIR to another folder (such as /tmp)", dir.display());
    }
    let files = dir.join("files");
    std::fs::create_dir(&files)?;
    if let Some(a) = t.account() {
        a.own(&files)?;
    }
    // No plugin can be installed (`INSTALL SONAME 'ha_federatedx'` would reach other servers).
    let plugins = dir.join("plugins");
    std::fs::create_dir(&plugins)?;
    let data = dir.join("data");
    let mut install = t.command("mariadb-install-db");
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--user={user}"))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db");
    t.setup(install, "mariadb-install-db (package mariadb-server)")?;
    let sock = dir.join("sock");
    let mut server = t.command(program);
    server
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", sock.display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg(format!("--secure-file-priv={}", files.display()))
        .arg(format!("--user={user}"))
        .arg(format!("--tmpdir={}", dir.display()))
        .arg(format!("--plugin-dir={}", plugins.display()))
        .args(["--skip-networking", "--innodb-flush-log-at-trx-commit=0", "--skip-log-bin", "--max-allowed-packet=1G"]);
    t.start(server, libc::SIGTERM)?;
    let mut s = Server {
        engine: Engine::MariaDb,
        kind: "throwaway",
        version: String::new(),
        bin: None,
        conn: vec!["-u".into(), "root".into(), "-S".into(), sock.display().to_string()],
        uri: None,
        env: Vec::new(),
        maintenance_db: "mysql".into(),
        confinement: t.confinement().clone(),
        throwaway: None,
    };
    t.wait_ready("MariaDB", || s.accepts())?;
    s.throwaway = Some(t);
    s.version = s.value("mysql", "SELECT VERSION()")?;
    Ok(s)
}

/// dbvault's own account name.
fn current_user() -> String {
    // SAFETY: getuid has no preconditions; getpwuid's result is read at once.
    let name = unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() { None } else { std::ffi::CStr::from_ptr((*pw).pw_name).to_str().ok().map(String::from) }
    };
    name.unwrap_or_else(|| "root".into())
}

/// An existing server: `mysql://USER[:PASSWORD]@HOST[:PORT]` (or `mariadb://`), or a socket as
/// `mysql://USER@localhost?socket=/run/mysqld/mysqld.sock`; any other parameter is refused rather
/// than ignored. The password reaches the client through `MYSQL_PWD`, never its command line.
pub fn existing(url: &reqwest::Url, quiet: bool) -> Result<Server> {
    if let Some((k, _)) = url.query_pairs().find(|(k, _)| k != "socket") {
        return Err(crate::exit::usage(format!("--server: unknown parameter {k:?} (a mysql:// URL takes only ?socket=PATH)")));
    }
    let mut conn = Vec::new();
    if !url.username().is_empty() {
        conn.extend(["-u".to_string(), decode(url.username())]);
    }
    match url.query_pairs().find(|(k, _)| k == "socket") {
        Some((_, sock)) => conn.extend(["-S".to_string(), sock.into_owned()]),
        None => {
            if let Some(h) = url.host_str() {
                conn.extend(["-h".to_string(), h.trim_matches(['[', ']']).to_string(), "--protocol=tcp".to_string()]);
            }
            if let Some(p) = url.port() {
                conn.extend(["-P".to_string(), p.to_string()]);
            }
        }
    }
    let env = url.password().map(|p| vec![("MYSQL_PWD".to_string(), decode(p))]).unwrap_or_default();
    let mut s = Server { engine: Engine::MariaDb, kind: "existing", version: String::new(), bin: None, conn, uri: None, env, maintenance_db: "mysql".into(), confinement: Confinement::default(), throwaway: None };
    s.version = s.value("mysql", "SELECT VERSION()").context("connecting to the --server")?;
    let grants = s.value("mysql", "SHOW GRANTS")?;
    if !quiet && grants.lines().any(|g| g.contains(" ON *.* ") && !g.starts_with("GRANT USAGE ON")) {
        crate::errln!(
            "dbvault: warning: the --server account has privileges on every database (GRANT ... ON *.*): SQL in the dump can reach beyond its scratch database (`USE other`, `DROP TABLE other.t`); prefer an account limited to `dbvault\\_drill\\_%`.*"
        );
    }
    Ok(s)
}

/// `CHECK TABLE` on every base table of `db`; damage found goes into `failures`.
pub fn check_tables(server: &Server, db: &str, failures: &mut Vec<String>) -> Result<EngineChecks> {
    let tables = server.sql(db, &format!("SELECT table_name FROM information_schema.tables WHERE table_schema = {} AND table_type = 'BASE TABLE' ORDER BY 1;\n", Engine::MariaDb.literal(db)))?;
    if !tables.err.is_empty() {
        bail!("listing the tables to check: {}", tables.err.join("; "));
    }
    let mut failed = std::collections::BTreeSet::new();
    let names: Vec<&String> = tables.out.iter().filter(|l| !l.is_empty()).collect();
    for chunk in names.chunks(100) {
        let list = chunk.iter().map(|t| Engine::MariaDb.quote(t)).collect::<Vec<_>>().join(", ");
        let run = server.sql(db, &format!("CHECK TABLE {list};\n"))?;
        failures.extend(run.err.iter().map(|l| format!("CHECK TABLE: {l}")));
        // Table, Op, Msg_type, Msg_text.
        for row in &run.out {
            let f: Vec<&str> = row.split('\t').collect();
            if let [table, _, kind, text] = f[..]
                && (kind == "error" || (kind == "status" && text != "OK"))
            {
                failures.push(format!("CHECK TABLE {table}: {kind}: {text}"));
                failed.insert(table.to_string());
            }
        }
    }
    Ok(EngineChecks { method: "CHECK TABLE".into(), checked: names.len() as u64, failed: failed.len() as u64 })
}
