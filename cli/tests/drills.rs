//! Restore drills against real servers: dbvault starts throwaway PostgreSQL and MariaDB servers
//! from Debian's packages (as the tests' own servers are started, `./test.sh` installs them),
//! loads a snapshot, checks it, and records the drill; failures name their cause and exit 11;
//! an interrupted drill leaves no server and no folder behind.

mod common;
mod servers;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use servers::*;

const SHOP: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), created date NOT NULL);
CREATE INDEX orders_created ON orders (created);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 300) g;
INSERT INTO orders SELECT g, 1 + g % 300, date '2026-01-01' + g % 200 FROM generate_series(1, 1000) g;
";

/// A repository whose drills put their throwaway servers under a folder of the test's own, so
/// that what they leave behind can be seen.
struct Drills {
    e: Env,
    tmp: tempfile::TempDir,
}

impl Drills {
    fn new() -> Drills {
        Drills { e: Env::new(), tmp: tempfile::tempdir().unwrap() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.e.cmd(args);
        c.env("TMPDIR", self.tmp.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        run_piped(self.cmd(args), b"")
    }

    /// `drill ARGS --json`: its exit code and document.
    fn drill(&self, args: &[&str]) -> (i32, Value) {
        let out = self.run(&[&["--json", "drill"], args].concat());
        let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("drill {args:?} printed no JSON ({e}): {}", stderr(&out)));
        (out.status.code().unwrap_or(-1), doc)
    }

    /// What the drills left in the temporary folder.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }
}

/// A PostgreSQL server holding the `shop` database, and a repository to drill in.
fn shop_on_postgres() -> (Postgres, Drills) {
    let pg = Postgres::start();
    pg.sql("postgres", "CREATE DATABASE shop");
    pg.sql("shop", SHOP);
    (pg, Drills::new())
}

fn ingest(e: &Env, db: &str, cmd: &[String]) {
    let mut a = vec!["ingest", "--db", db, "--"];
    a.extend(cmd.iter().map(String::as_str));
    e.ok(&a, b"");
}

fn failures(doc: &Value) -> String {
    doc["failures"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn postgres_drill_passes_is_recorded_shown_copied_and_forgotten_with_its_snapshot() {
    let (pg, d) = shop_on_postgres();
    ingest(&d.e, "shop", &pg.dump_cmd("shop"));
    let asserts = d.tmp.path().join("checks.sql");
    std::fs::write(&asserts, "-- orders of the year\nSELECT count(*) = 1000 FROM orders\n  WHERE created >= '2026-01-01';\nSELECT true;\n").unwrap();
    let (code, doc) = d.drill(&["latest", "--db", "shop", "--assert", asserts.to_str().unwrap()]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["passed"], true);
    let keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["assertions", "client", "db", "end", "engine", "engine_checks", "failures", "host", "id", "loaded_bytes", "passed", "server", "server_version", "snapshot", "start", "tables"],
        "the drill --json document (README, SPEC.md 9.5)"
    );
    assert_eq!(doc["engine"], "postgresql");
    assert_eq!(doc["server"], "throwaway");
    assert!(doc["server_version"].as_str().unwrap().starts_with(&pg.sql("postgres", "SHOW server_version").trim()[..2]), "{doc}");
    let tables: Vec<(String, u64, u64)> =
        doc["tables"].as_array().unwrap().iter().map(|t| (t["name"].as_str().unwrap().to_string(), t["expected"].as_u64().unwrap(), t["found"].as_u64().unwrap())).collect();
    assert_eq!(tables, [("customers".to_string(), 300, 300), ("orders".to_string(), 1000, 1000)]);
    // Three B-tree indexes: two primary keys and orders_created.
    assert_eq!((doc["engine_checks"]["checked"].as_u64(), doc["engine_checks"]["failed"].as_u64()), (Some(3), Some(0)), "{doc}");
    assert_eq!(doc["assertions"].as_array().unwrap().len(), 2);
    assert!(d.leftovers().iter().all(|f| f == "checks.sql"), "the drill left {:?}", d.leftovers());

    // A whole cluster (pg_dumpall: roles, \\connect to each database, all let through) drills too,
    // its tables counted in the databases it created.
    let mut dumpall = pg.dump_cmd("shop");
    dumpall[0] = pg.bin.join("pg_dumpall").display().to_string();
    dumpall.pop();
    ingest(&d.e, "cluster", &dumpall);
    let (code, cluster) = d.drill(&["latest", "--db", "cluster"]);
    assert_eq!(code, 0, "{cluster}");
    assert!(cluster["tables"].as_array().unwrap().iter().any(|t| t["database"] == "shop" && t["name"] == "orders" && t["found"] == 1000), "{cluster}");

    // Shown where snapshots are shown, and in status and the metrics.
    let snaps = d.e.json(&["snapshots", "--db", "shop"], b"");
    assert_eq!(snaps[0]["last_drill"]["passed"], true);
    assert_eq!(d.e.json(&["log", "--db", "shop"], b"")[0]["last_drill"]["passed"], true);
    assert_eq!(d.e.json(&["show", "latest", "--db", "shop"], b"")["last_drill"]["engine"], "postgresql");
    let status = d.e.json(&["status", "--db", "shop", "--max-drill-age", "1h"], b"");
    assert_eq!(status["databases"][0]["last_drill"]["passed"], true);
    let metrics = d.tmp.path().join("dbvault.prom");
    d.e.ok(&["--metrics-file", metrics.to_str().unwrap(), "status"], b"");
    let text = std::fs::read_to_string(&metrics).unwrap();
    let line = text.lines().find(|l| l.starts_with("dbvault_drill_last_success_timestamp_seconds{database=\"shop\"")).unwrap();
    let t: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() as f64 - t).abs() < 600.0, "{line}");
    std::thread::sleep(Duration::from_millis(1100));
    let stale = d.e.run(&["status", "--db", "shop", "--max-drill-age", "1s"], b"");
    assert_eq!(stale.status.code(), Some(10), "a drill older than allowed fails status: {}", stderr(&stale));
    assert!(stderr(&stale).contains("shop: last drilled"), "{}", stderr(&stale));

    // Copied with its snapshot; forgotten with it.
    let other = Env::new();
    let copied = d.e.json(&["copy", "--to", other.repo().to_str().unwrap(), "--db", "shop"], b"");
    assert_eq!(copied[0]["drills"], 1);
    assert_eq!(other.json(&["snapshots"], b"")[0]["last_drill"]["passed"], true);
    assert_eq!(d.e.json(&["copy", "--to", other.repo().to_str().unwrap(), "--db", "shop"], b"")[0]["drills"], 0, "a drill is copied once");
    let id = snaps[0]["id"].as_str().unwrap();
    assert_eq!(count_files(&d.e.repo().join("drills")), 2);
    d.e.ok(&["forget", id], b"");
    assert_eq!(count_files(&d.e.repo().join("drills")), 1, "forget removes the snapshot's drills, and only them");
}

#[test]
fn postgres_drill_fails_on_a_missing_role_and_a_false_assertion_with_exit_code_11() {
    let pg = Postgres::start();
    pg.sql("postgres", "CREATE ROLE shop_owner");
    pg.sql("postgres", "CREATE DATABASE shop");
    pg.sql("shop", SHOP);
    pg.sql("shop", "ALTER TABLE orders OWNER TO shop_owner");
    let d = Drills::new();
    ingest(&d.e, "shop", &pg.dump_cmd("shop"));
    let (code, doc) = d.drill(&["latest", "--db", "shop"]);
    assert_eq!(code, 11, "{doc}");
    assert_eq!(doc["passed"], false);
    assert!(failures(&doc).contains("role \"shop_owner\" does not exist"), "{doc}");

    let asserts = d.tmp.path().join("false.sql");
    std::fs::write(&asserts, "SELECT count(*) > 5000 FROM customers;\n").unwrap();
    let out = d.run(&["drill", "latest", "--db", "shop", "--assert", asserts.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(11));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAILURE: assertion failed: SELECT count(*) > 5000 FROM customers: returned f"), "{text}");
    assert!(stderr(&out).contains("FAILED"), "{}", stderr(&out));
    // Status: the last drill failed.
    let status = d.e.run(&["status"], b"");
    assert_eq!(status.status.code(), Some(10), "{}", stderr(&status));
    assert!(stderr(&status).contains("its last drill FAILED"), "{}", stderr(&status));
    assert!(d.leftovers().iter().all(|f| f == "false.sql"), "the drills left {:?}", d.leftovers());
}

#[test]
fn mariadb_drill_passes_and_fails_on_a_false_assertion() {
    let m = MariaDb::start();
    m.sql("mysql", "CREATE DATABASE shop");
    m.sql("shop", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20), KEY (v)) ENGINE=InnoDB; INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_700; CREATE TABLE u (id INT PRIMARY KEY) ENGINE=MyISAM; INSERT INTO u VALUES (1), (2);");
    let d = Drills::new();
    let mut dump = m.client("mariadb-dump");
    dump.push("shop".into());
    ingest(&d.e, "shop", &dump);
    let (code, doc) = d.drill(&["latest", "--db", "shop"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["engine"], "mariadb");
    let rows: Vec<(String, Value)> = doc["tables"].as_array().unwrap().iter().map(|t| (t["name"].as_str().unwrap().to_string(), t["found"].clone())).collect();
    assert_eq!(rows, [("t".to_string(), Value::from(700)), ("u".to_string(), Value::from(2))]);
    assert_eq!((doc["engine_checks"]["method"].as_str(), doc["engine_checks"]["checked"].as_u64()), (Some("CHECK TABLE"), Some(2)), "{doc}");

    let asserts = d.tmp.path().join("false.sql");
    std::fs::write(&asserts, "SELECT COUNT(*) = 701 FROM t;\n").unwrap();
    let (code, doc) = d.drill(&["latest", "--db", "shop", "--assert", asserts.to_str().unwrap()]);
    assert_eq!(code, 11, "{doc}");
    assert!(failures(&doc).contains("SELECT COUNT(*) = 701 FROM t: returned 0"), "{doc}");
    assert!(d.leftovers().iter().all(|f| f == "false.sql"), "the drills left {:?}", d.leftovers());
}

/// Processes whose command line mentions `dir`.
fn processes_under(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect()
}

/// Start a drill of `latest --db shop`, interrupt it with SIGINT once `at` holds of a folder in
/// the drill's temporary folder, and check it left nothing behind.
fn interrupt_when(d: &Drills, what: &str, at: impl Fn(&Path) -> bool) {
    let mut child = d.cmd(&["drill", "latest", "--db", "shop"]).spawn().unwrap();
    let start = Instant::now();
    let reached = loop {
        let now = std::fs::read_dir(d.tmp.path()).unwrap().filter_map(|e| e.ok()).any(|e| at(&e.path()));
        if now || start.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break now;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(reached, "the drill never reached the moment {what}");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGINT), "{what}: {status:?}");
    assert_eq!(processes_under(d.tmp.path()), Vec::<String>::new(), "{what}: no server process may survive");
    assert_eq!(d.leftovers(), Vec::<String>::new(), "{what}: no temporary folder may survive");
    assert_eq!(count_files(&d.e.repo().join("drills")), 0, "{what}: an interrupted drill records nothing");
}

#[test]
fn drill_interrupted_with_sigint_leaves_no_server_and_no_folder() {
    let (pg, d) = shop_on_postgres();
    ingest(&d.e, "shop", &pg.dump_cmd("shop"));
    interrupt_when(&d, "while initdb runs", |dir| dir.join("data").exists());
    interrupt_when(&d, "while the server listens", |dir| dir.join(".s.PGSQL.5432").exists());

    // Killed outright (SIGKILL: nothing of dbvault's runs), its server dies with it, and the next
    // drill removes the folder left behind.
    let mut child = d.cmd(&["drill", "latest", "--db", "shop"]).spawn().unwrap();
    let start = Instant::now();
    while !std::fs::read_dir(d.tmp.path()).unwrap().filter_map(|e| e.ok()).any(|e| e.path().join(".s.PGSQL.5432").exists()) {
        assert!(start.elapsed() < Duration::from_secs(60) && child.try_wait().unwrap().is_none(), "the server never listened");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let start = Instant::now();
    while !processes_under(d.tmp.path()).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "the server outlived dbvault: {:?}", processes_under(d.tmp.path()));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.leftovers().len(), 1, "SIGKILL leaves the folder");
    let out = d.run(&["drill", "latest", "--db", "shop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("left by a drill whose dbvault process was killed"), "{}", stderr(&out));
    assert_eq!(d.leftovers(), Vec::<String>::new(), "the next drill removed it");
}

#[test]
fn drill_refuses_t_sql_unknown_streams_and_a_server_of_the_wrong_engine_before_starting_anything() {
    let d = Drills::new();
    d.e.ingest("mssql", "USE [master]\r\nGO\r\n/****** Object:  Table [dbo].[T]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nCREATE TABLE [dbo].[T]([Id] [int] NOT NULL)\r\nGO\r\n".as_bytes());
    let out = d.run(&["drill", "latest", "--db", "mssql"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("T-SQL script (SQL Server)"), "{}", stderr(&out));
    d.e.ingest("blob", b"just some bytes\n");
    let out = d.run(&["drill", "latest", "--db", "blob"]);
    assert!(stderr(&out).contains("--engine postgresql or --engine mariadb"), "{}", stderr(&out));
    d.e.ingest("pg", b"--\n-- PostgreSQL database dump\n--\n\nSELECT 1;\n\n--\n-- PostgreSQL database dump complete\n--\n\n");
    let out = d.run(&["drill", "latest", "--db", "pg", "--server", "mysql://root@localhost"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("loads into postgresql"), "{}", stderr(&out));
    let out = d.run(&["drill", "latest", "--db", "pg", "--assert", "/nonexistent/checks.sql"]);
    assert!(stderr(&out).contains("/nonexistent/checks.sql"), "{}", stderr(&out));
    assert_eq!(d.leftovers(), Vec::<String>::new());
    assert_eq!(count_files(&d.e.repo().join("drills")), 0);
}

/// A real pg_dump of `shop` with `extra` lines inserted after its `SET` lines, and the line that
/// turns on restricted mode removed (older pg_dump releases do not write it).
fn doctored_pg_dump(pg: &Postgres, extra: &str) -> Vec<u8> {
    let dump = run(Command::new(&pg.dump_cmd("shop")[0]).args(&pg.dump_cmd("shop")[1..]));
    let mut out = String::new();
    let mut added = false;
    for line in dump.lines() {
        if line.starts_with("\\restrict") || line.starts_with("\\unrestrict") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if !added && line.starts_with("SET row_security") {
            out.push_str(extra);
            added = true;
        }
    }
    assert!(added, "the dump has its SET lines");
    out.into_bytes()
}

#[test]
fn a_hostile_postgres_dump_runs_no_shell_command_writes_no_file_and_sees_no_secret() {
    let (pg, d) = shop_on_postgres();
    let marks = tempfile::tempdir().unwrap();
    let m = |n: &str| marks.path().join(n).display().to_string();
    let extra = format!(
        "\\! touch {bang}\n\\o {o}\nSELECT 'x';\n\\o\n\\copy (select 1) to '{copy}'\n\\connect shop \\! touch {chained}\n\\connect `touch {tick}`\nSELECT 1 \\! touch {midline}\n;\n\
         CREATE TABLE public.seen_env (line text);\nCOPY public.seen_env FROM PROGRAM 'env';\nCREATE TABLE public.seen_user (name text);\nCOPY public.seen_user FROM PROGRAM 'id -un';\n",
        bang = m("bang"),
        o = m("o"),
        copy = m("copy"),
        chained = m("chained"),
        tick = m("tick"),
        midline = m("midline")
    );
    // A quote left open must not swallow the restriction; another server (this test's own, on its
    // socket, trusting anyone) must stay out of reach; a daemon the server starts must not
    // outlive the drill; and (as root) the server has no network.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let extra = format!(
        "{extra}\\connect 'postgres\n\\! touch {quote}\n\\connect shop postgres {other}\nCREATE TABLE public.escaped_to_other (i int);\n\
         CREATE TABLE public.daemon (line text);\nCOPY public.daemon FROM PROGRAM 'setsid nohup sleep 7777 >/dev/null 2>&1 & echo started';\n\
         CREATE TABLE public.net (v text);\nCOPY public.net FROM PROGRAM 'python3 -c \"import socket; socket.create_connection((''127.0.0.1'', {port}), 2)\" 2>/dev/null && echo reached || echo unreachable';\n\
         CREATE TABLE public.other (v text);\nCOPY public.other FROM PROGRAM '{psql} -X -h {other} -U postgres -d shop -Atc \"select 1\" 2>/dev/null || echo unreachable';\n",
        quote = m("quote"),
        other = pg.sock(),
        psql = pg.bin.join("psql").display()
    );
    d.e.ingest("shop", &doctored_pg_dump(&pg, &extra));
    let asserts = d.tmp.path().join("env.sql");
    // As root: an account of the drill alone (a user id no other process has).
    let expected_user = if is_root() { "dbvault-drill" } else { "" };
    let network = if is_root() { "unreachable" } else { "" };
    std::fs::write(
        &asserts,
        format!(
            "SELECT count(*) = 0 FROM seen_env WHERE line LIKE '%DBVAULT%' OR line LIKE '%AWS%';\nSELECT '{expected_user}' = '' OR name = '{expected_user}' FROM seen_user;\n\
             SELECT line = 'started' FROM public.daemon;\nSELECT '{network}' = '' OR v = '{network}' FROM public.net;\n\
             SELECT '{network}' = '' OR v = '{network}' FROM public.other;\n"
        ),
    )
    .unwrap();
    let mut c = d.cmd(&["--json", "drill", "latest", "--db", "shop", "--assert", asserts.to_str().unwrap()]);
    c.env("AWS_SECRET_ACCESS_KEY", "not-for-the-dump");
    let out = run_piped(c, b"");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(out.status.code(), Some(11), "the refused commands fail the drill: {doc}");
    let left: Vec<_> = std::fs::read_dir(marks.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "backslash commands ran: {left:?}");
    assert!(failures(&doc).contains("backslash commands are restricted"), "{doc}");
    // The server's environment holds no secret, and it runs as the drill's own account (as root).
    assert!(doc["assertions"].as_array().unwrap().iter().all(|a| a["passed"] == true), "{doc}");
    assert_eq!(pg.sql("shop", "SELECT count(*) FROM pg_class WHERE relname = 'escaped_to_other'").trim(), "0", "the dump reached another server");
    let daemons: Vec<String> = processes_under(Path::new("sleep 7777"));
    assert_eq!(daemons, Vec::<String>::new(), "a daemon the dump started outlived the drill");
    drop(listener);
    // Rows still load and count as the dump holds them.
    assert!(doc["tables"].as_array().unwrap().iter().any(|t| t["name"] == "orders" && t["found"] == 1000), "{doc}");
}

#[test]
fn on_an_existing_server_the_drill_stays_in_its_scratch_database_and_drops_it_even_when_interrupted() {
    let (pg, d) = shop_on_postgres();
    let server = format!("postgresql:///postgres?host={}&user=postgres", pg.sock());
    let scratch = || pg.sql("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'dbvault_drill_%'").trim().to_string();
    // A dump that switches databases is refused there (restricted mode), and escapes nothing.
    d.e.ingest("escape", &doctored_pg_dump(&pg, "\\connect postgres\nCREATE TABLE escaped (a int);\n"));
    let (code, doc) = d.drill(&["latest", "--db", "escape", "--server", &server]);
    assert_eq!(code, 11, "{doc}");
    assert_eq!(pg.sql("postgres", "SELECT count(*) FROM pg_class WHERE relname = 'escaped'").trim(), "0", "the dump left its scratch database");
    assert_eq!(scratch(), "0", "the scratch database is dropped");
    // Interrupted while the dump loads (it sleeps), the scratch database is dropped all the same.
    d.e.ingest("slow", &doctored_pg_dump(&pg, "SELECT pg_sleep(30);\n"));
    let mut child = d.cmd(&["drill", "latest", "--db", "slow", "--server", &server]).spawn().unwrap();
    let start = Instant::now();
    while scratch() == "0" {
        assert!(start.elapsed() < Duration::from_secs(30) && child.try_wait().unwrap().is_none(), "the drill never created its scratch database");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&child.wait().unwrap()), Some(libc::SIGINT));
    assert_eq!(scratch(), "0", "an interrupted drill drops its scratch database");
}

#[test]
fn a_hostile_mysql_dump_runs_no_client_command() {
    let m = MariaDb::start();
    m.sql("mysql", "CREATE DATABASE shop");
    m.sql("shop", "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1), (2);");
    let d = Drills::new();
    let mut dump = m.client("mariadb-dump");
    dump.push("shop".into());
    let text = run(Command::new(&dump[0]).args(&dump[1..]));
    let marks = tempfile::tempdir().unwrap();
    let m1 = marks.path().join("system").display().to_string();
    let m2 = marks.path().join("bang").display().to_string();
    let m3 = marks.path().join("tee").display().to_string();
    // Without the sandbox line newer mariadb-dump releases write first.
    let hostile: String = text.lines().filter(|l| !l.contains("enable the sandbox mode")).map(|l| format!("{l}\n")).collect::<String>()
        + &format!("system touch {m1}\n\\! touch {m2}\ntee {m3}\nSELECT 1;\nINSTALL SONAME 'ha_federatedx';\n");
    d.e.ingest("shop", hostile.as_bytes());
    let (code, doc) = d.drill(&["latest", "--db", "shop"]);
    let left: Vec<_> = std::fs::read_dir(marks.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "client commands ran: {left:?} ({doc})");
    assert_eq!(code, 11, "{doc}");
    // No plugin can be installed (FederatedX would reach other servers).
    assert!(failures(&doc).contains("ha_federatedx"), "{doc}");
}

#[test]
fn a_damaged_snapshot_fails_its_drill_with_exit_code_5_and_the_failure_is_recorded() {
    let (pg, d) = shop_on_postgres();
    ingest(&d.e, "shop", &pg.dump_cmd("shop"));
    // Flip a byte in the middle of every pack: the dump cannot be read back.
    let mut packs = Vec::new();
    for sub in std::fs::read_dir(d.e.repo().join("packs")).unwrap() {
        packs.extend(std::fs::read_dir(sub.unwrap().path()).unwrap().map(|f| f.unwrap().path()));
    }
    assert!(!packs.is_empty());
    for p in packs {
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&p, bytes).unwrap();
    }
    let out = d.run(&["drill", "latest", "--db", "shop"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("FAILED"), "{}", stderr(&out));
    let status = d.e.run(&["--json", "status"], b"");
    let doc: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["databases"][0]["last_drill"]["passed"], false, "{doc}");
    assert_eq!(d.leftovers(), Vec::<String>::new());
}

#[test]
fn a_drill_that_hangs_is_killed_at_its_timeout_and_fails() {
    let (pg, d) = shop_on_postgres();
    d.e.ingest("slow", &doctored_pg_dump(&pg, "SELECT pg_sleep(600);\n"));
    let started = Instant::now();
    let (code, doc) = d.drill(&["latest", "--db", "slow", "--timeout", "3s"]);
    assert_eq!(code, 11, "{doc}");
    assert!(started.elapsed() < Duration::from_secs(60), "the timeout ended the drill: {:?}", started.elapsed());
    assert!(failures(&doc).starts_with("the drill timed out after 3s"), "{doc}");
    assert_eq!(processes_under(d.tmp.path()), Vec::<String>::new());
    assert_eq!(d.leftovers(), Vec::<String>::new());
    let out = d.run(&["drill", "latest", "--db", "slow", "--timeout", "0s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
