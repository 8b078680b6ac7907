//! Private PostgreSQL and MariaDB servers for tests: Debian's packages, each started in a temporary
//! folder and reachable only through a Unix socket (no TCP listener). `./test.sh` installs the
//! packages; without them these tests fail and say what to install.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

/// A private PostgreSQL server on a Unix socket in a temporary folder.
pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with("")
    }

    /// A new cluster started with extra server options (`-c name=value ...`).
    pub fn start_with(extra: &str) -> Postgres {
        let pg = Postgres::empty();
        pg.as_server(&["initdb", "-D", &pg.data(), "-A", "trust", "-U", "postgres", "--no-sync"]);
        pg.launch(extra);
        pg
    }

    /// A private folder for a server whose data directory (`data()`) is yet to be made.
    pub fn empty() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("postgres").exists()).max())
            .expect("PostgreSQL server binaries not found under /usr/lib/postgresql: install the postgresql package (./test.sh does)");
        let dir = tempfile::tempdir().unwrap();
        let pg = Postgres { dir, bin };
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(pg.dir.path()));
        }
        pg
    }

    /// Start the server on `data()` with extra options.
    pub fn launch(&self, extra: &str) {
        self.launch_with_env(extra, &[]);
    }

    /// Start the server on `data()` with extra options and environment variables (which the
    /// commands it runs, such as restore_command, inherit).
    pub fn launch_with_env(&self, extra: &str, env: &[(&str, &str)]) {
        let opts = format!("-c listen_addresses='' -k {} -c fsync=off {extra}", self.sock());
        let log = format!("{}/log", self.sock());
        let args = ["-D", &self.data(), "-l", &log, "-w", "-t", "120", "-o", &opts, "start"];
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        c.args(args).envs(env.iter().copied()).stdin(Stdio::null());
        let out = c.output().unwrap();
        assert!(out.status.success(), "the server did not start: {}; its log:\n{}", String::from_utf8_lossy(&out.stderr), self.log());
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(format!("{}/log", self.sock())).unwrap_or_default()
    }

    pub fn sock(&self) -> String {
        self.dir.path().display().to_string()
    }

    pub fn data(&self) -> String {
        format!("{}/data", self.sock())
    }

    /// Run a server binary as the `postgres` user when we are root (PostgreSQL refuses root).
    pub fn as_server(&self, args: &[&str]) -> String {
        let exe = self.bin.join(args[0]);
        if is_root() {
            run(Command::new("runuser").args(["-u", "postgres", "--"]).arg(exe).args(&args[1..]))
        } else {
            run(Command::new(exe).args(&args[1..]))
        }
    }

    /// A client command line (as strings, for `dbvault ... -- CMD`).
    pub fn client(&self, tool: &str, db: &str) -> Vec<String> {
        vec![self.bin.join(tool).display().to_string(), "-h".into(), self.sock(), "-U".into(), "postgres".into(), "-d".into(), db.into()]
    }

    pub fn dump_cmd(&self, db: &str) -> Vec<String> {
        vec![self.bin.join("pg_dump").display().to_string(), "-h".into(), self.sock(), "-U".into(), "postgres".into(), db.into()]
    }

    pub fn sql(&self, db: &str, sql: &str) -> String {
        let c = self.client("psql", db);
        run(Command::new(&c[0]).args(&c[1..]).args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]))
    }

    /// Row count and a content checksum of every table.
    pub fn checksums(&self, db: &str) -> Vec<String> {
        ["customers", "products", "orders", "order_items"]
            .iter()
            .map(|t| self.sql(db, &format!("SELECT '{t}', count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {t} x")))
            .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let _ = if is_root() {
            Command::new("runuser").args(["-u", "postgres", "--"]).arg(exe).args(["-D", &data, "-m", "immediate", "stop"]).output()
        } else {
            Command::new(exe).args(["-D", &data, "-m", "immediate", "stop"]).output()
        };
    }
}

/// A private MariaDB server on a Unix socket (networking off) in a temporary folder.
pub struct MariaDb {
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl MariaDb {
    pub fn start() -> MariaDb {
        assert!(Path::new("/usr/sbin/mariadbd").exists(), "MariaDB server not found: install the mariadb-server package (./test.sh does)");
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let user = if is_root() { "root".to_string() } else { run(Command::new("id").arg("-un")).trim().to_string() };
        run(Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={user}"))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db"));
        let sock = dir.path().join("sock");
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", sock.display()))
            .arg(format!("--pid-file={}", dir.path().join("pid").display()))
            .arg(format!("--log-error={}", dir.path().join("err.log").display()))
            .arg("--skip-networking")
            .arg(format!("--user={user}"))
            .arg("--innodb-flush-log-at-trx-commit=0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let m = MariaDb { dir, child };
        let start = Instant::now();
        while !Command::new("mariadb-admin").args(["--no-defaults", "-u", "root", "-S", &m.sock(), "ping"]).output().is_ok_and(|o| o.status.success()) {
            assert!(start.elapsed() < Duration::from_secs(60), "MariaDB did not start: {}", std::fs::read_to_string(m.dir.path().join("err.log")).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(200));
        }
        m
    }

    pub fn sock(&self) -> String {
        self.dir.path().join("sock").display().to_string()
    }

    pub fn client(&self, tool: &str) -> Vec<String> {
        vec![tool.into(), "--no-defaults".into(), "-u".into(), "root".into(), "-S".into(), self.sock()]
    }

    pub fn sql(&self, db: &str, sql: &str) -> String {
        let c = self.client("mariadb");
        run(Command::new(&c[0]).args(&c[1..]).args(["-N", "-B", "-D", db, "-e", sql]))
    }

    pub fn checksums(&self, db: &str) -> Vec<String> {
        ["customers", "products", "orders", "order_items"]
            .iter()
            .map(|t| {
                let sum = self.sql(db, &format!("CHECKSUM TABLE {t}"));
                let count = self.sql(db, &format!("SELECT COUNT(*) FROM {t}"));
                format!("{t} {} {}", count.trim(), sum.split_whitespace().last().unwrap_or(""))
            })
            .collect()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

