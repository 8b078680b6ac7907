//! `dbvault run CONFIG.toml` against real servers: every database of a PostgreSQL and a MariaDB
//! server into its own lineage plus their roles / users, new databases picked up, dropped ones
//! reported and kept, failures reported while the other steps run, the configuration checked
//! before anything runs, and the rotating check reading every pack once per cycle.

mod common;
mod servers;

use std::path::Path;
use std::process::{Output, Stdio};

use common::*;
use serde_json::Value;
use servers::*;

/// `run CONFIG --json` (plus `extra` global options): exit code, document, and the output.
fn run(e: &Env, config: &Path, extra: &[&str]) -> (i32, Value, Output) {
    let out = e.run(&[extra, &["--json", "run", config.to_str().unwrap()]].concat(), b"");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), doc, out)
}

/// The steps of kind `step`, by target.
fn steps<'a>(doc: &'a Value, step: &str) -> Vec<(&'a str, &'a Value)> {
    doc["steps"].as_array().expect("steps").iter().filter(|s| s["step"] == step).map(|s| (s["target"].as_str().unwrap(), s)).collect()
}

fn result<'a>(doc: &'a Value, step: &str, target: &str) -> &'a str {
    steps(doc, step).into_iter().find(|(t, _)| *t == target).unwrap_or_else(|| panic!("no {step} step for {target}: {doc:#}")).1["result"].as_str().unwrap()
}

fn lineages(e: &Env) -> Vec<(String, usize)> {
    let snaps = e.json(&["snapshots"], b"");
    let mut by: std::collections::BTreeMap<String, usize> = Default::default();
    for s in snaps.as_array().unwrap() {
        *by.entry(s["db"].as_str().unwrap().to_string()).or_default() += 1;
    }
    by.into_iter().collect()
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn run_backs_up_every_database_and_the_roles_picks_up_new_ones_and_reports_dropped_ones() {
    let pg = Postgres::start();
    let maria = MariaDb::start();
    pg.sql("postgres", "CREATE ROLE alice LOGIN; CREATE ROLE bob NOLOGIN");
    for db in ["shop", "crm", "hr"] {
        pg.sql("postgres", &format!("CREATE DATABASE {db} OWNER alice"));
    }
    pg.sql("shop", "SET ROLE alice; CREATE TABLE orders (id int PRIMARY KEY, total numeric); INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 500) g; GRANT SELECT ON orders TO bob");
    pg.sql("crm", "CREATE TABLE contacts (id int); INSERT INTO contacts VALUES (1), (2)");
    maria.sql("mysql", "CREATE DATABASE blog; CREATE DATABASE wiki; CREATE TABLE blog.posts (id int PRIMARY KEY, title text); INSERT INTO blog.posts VALUES (1, 'hello'); CREATE TABLE wiki.pages (id int); CREATE USER 'editor'@'localhost' IDENTIFIED BY 'pw2'; GRANT SELECT ON blog.* TO 'editor'@'localhost'");
    let e = Env::new();
    let config = write(
        e.dir.path(),
        "dbvault.toml",
        &format!(
            r#"
[[postgres]]
host = "{}"
user = "postgres"
bin_dir = "{}"
exclude = ["postgres"]

[[mariadb]]
socket = "{}"
user = "root"
prefix = "m."

[retention]
default = {{ keep_last = 5 }}
"crm" = {{ keep_last = 1 }}
"#,
            pg.sock(),
            pg.bin.display(),
            maria.sock()
        ),
    );
    // --dry-run lists what the servers have and writes nothing.
    let dry = e.run(&["run", "--dry-run", config.to_str().unwrap()], b"");
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{}", stderr(&dry));
    for want in ["shop <-", "crm <-", "hr <-", "postgres-globals <-", "m.blog <-", "m.wiki <-", "mariadb-globals <-", "nothing was run"] {
        assert!(text.contains(want), "dry run lacks {want:?}: {text}");
    }
    assert!(lineages(&e).is_empty(), "a dry run stored nothing");

    let (code, doc, out) = run(&e, &config, &[]);
    assert_eq!(code, 0, "{doc:#} {}", stderr(&out));
    let names: Vec<String> = lineages(&e).into_iter().map(|(db, _)| db).collect();
    assert_eq!(names, ["crm", "hr", "m.blog", "m.mariadb-globals", "m.wiki", "postgres-globals", "shop"], "{doc:#}");
    assert_eq!(result(&doc, "discover", "postgres"), "ok");
    assert_eq!(result(&doc, "retention", "policies"), "ok");

    // A database created since is picked up; a dropped one is reported, its snapshots kept.
    pg.sql("postgres", "CREATE DATABASE sales");
    pg.sql("postgres", "DROP DATABASE hr");
    let (code, doc, out) = run(&e, &config, &[]);
    assert_eq!(code, 0, "a vanished database is a warning, not a failure: {doc:#} {}", stderr(&out));
    assert_eq!(result(&doc, "backup", "sales"), "ok");
    assert_eq!(result(&doc, "missing", "hr"), "warning");
    let counts: std::collections::BTreeMap<String, usize> = lineages(&e).into_iter().collect();
    assert_eq!(counts["hr"], 1, "the dropped database's snapshot is kept");
    assert_eq!(counts["crm"], 1, "crm keeps its last one only");
    assert_eq!(counts["shop"], 2);
    let text = String::from_utf8_lossy(&e.run(&["run", config.to_str().unwrap()], b"").stdout).into_owned();
    assert!(text.contains("no longer on postgres"), "{text}");

    // The roles, then one database, into a fresh server: owners, grants and rows come back.
    let fresh = Postgres::start();
    let psql = |db: &str, dump: &[u8]| {
        let c = fresh.client("psql", db);
        let mut cmd = std::process::Command::new(&c[0]);
        cmd.args(&c[1..]).args(["-X", "-q", "-v", "ON_ERROR_STOP=0"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run_piped(cmd, dump);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    psql("postgres", &e.ok(&["restore", "latest", "--db", "postgres-globals"], b"").stdout);
    fresh.sql("postgres", "CREATE DATABASE shop OWNER alice");
    psql("shop", &e.ok(&["restore", "latest", "--db", "shop"], b"").stdout);
    assert_eq!(fresh.sql("shop", "SELECT count(*), tableowner FROM orders, pg_tables WHERE tablename = 'orders' GROUP BY tableowner").trim(), "500|alice");
    assert_eq!(fresh.sql("shop", "SELECT has_table_privilege('bob', 'orders', 'SELECT')").trim(), "t");

    // MariaDB's users and grants, then a database, into a fresh server.
    let fresh = MariaDb::start();
    let mariadb = |dump: &[u8]| {
        let c = fresh.client("mariadb");
        let mut cmd = std::process::Command::new(&c[0]);
        cmd.args(&c[1..]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = run_piped(cmd, dump);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    mariadb(&e.ok(&["restore", "latest", "--db", "m.mariadb-globals"], b"").stdout);
    fresh.sql("mysql", "CREATE DATABASE blog");
    let mut dump = b"USE blog;\n".to_vec();
    dump.extend(e.ok(&["restore", "latest", "--db", "m.blog"], b"").stdout);
    mariadb(&dump);
    assert_eq!(fresh.sql("blog", "SELECT title FROM posts").trim(), "hello");
    assert!(fresh.sql("mysql", "SHOW GRANTS FOR 'editor'@'localhost'").contains("`blog`.*"));

    // Another server's database of the same name never joins the PostgreSQL lineage.
    maria.sql("mysql", "CREATE DATABASE shop");
    let shops = lineages(&e).into_iter().find(|(db, _)| db == "shop").unwrap().1;
    let other = write(e.dir.path(), "other.toml", &format!("[[mariadb]]\nsocket = \"{}\"\nuser = \"root\"\ndatabases = [\"shop\"]\n", maria.sock()));
    let (code, doc, _) = run(&e, &other, &[]);
    assert_eq!(code, 9);
    let shop = steps(&doc, "backup").into_iter().find(|(t, _)| *t == "shop").unwrap().1;
    assert!(shop["detail"].as_str().unwrap().contains("holds the snapshots of source \"postgres\""), "{shop:#}");
    assert_eq!(lineages(&e).into_iter().find(|(db, _)| db == "shop").unwrap().1, shops, "nothing was added to the PostgreSQL lineage");
}

#[test]
fn run_reports_a_failed_dump_and_an_unreachable_offsite_and_still_runs_the_other_steps() {
    let e = Env::new();
    let dump = e.dir.path().join("legacy.sql");
    std::fs::write(&dump, &dumps(50, 1)[0]).unwrap();
    let config = write(
        e.dir.path(),
        "dbvault.toml",
        &format!(
            r#"
[[job]]
db = "broken"
command = "echo 'pg_dump: error: connection refused' >&2; exit 3"

[[job]]
db = "legacy"
command = ["cat", "{}"]

[check]
read_data_cycle = 2

[[copy]]
to = "s3:http://127.0.0.1:9/nowhere/dbvault"
"#,
            dump.display()
        ),
    );
    let (code, doc, out) = run(&e, &config, &["--retry-timeout", "1"]);
    assert_eq!(code, 9, "{doc:#} {}", stderr(&out));
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["failed"], 2, "{doc:#}");
    let broken = steps(&doc, "backup").into_iter().find(|(t, _)| *t == "broken").unwrap().1;
    assert_eq!(broken["result"], "failed");
    assert_eq!(broken["exit_code"], 7, "the dump command failed: {broken:#}");
    assert_eq!(result(&doc, "backup", "legacy"), "ok");
    assert_eq!(result(&doc, "check", "repository"), "ok", "the check ran after the failed backup");
    let copy = steps(&doc, "copy")[0].1;
    assert_eq!(copy["result"], "failed");
    assert!(copy["detail"].as_str().unwrap().contains("127.0.0.1:9"), "{copy:#}");
    // The text summary names both failures; the exit code is the same.
    let out = e.run(&["--retry-timeout", "1", "run", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(9));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("broken") && text.contains("FAILED") && text.contains("2 FAILED"), "{text}");
}

#[test]
fn run_refuses_an_invalid_configuration_before_anything_runs_and_never_echoes_a_secret() {
    let e = Env::new();
    let marker = e.dir.path().join("ran");
    let job = format!("[[job]]\ndb = \"x\"\ncommand = \"touch {}\"\n", marker.display());
    let cases = [
        (format!("{job}\n[retention]\ndefault = {{ keep_dialy = 7 }}\n"), "keep_dialy", ":6:"),
        (format!("{job}\n[[postgres]]\nhost = \"/run/postgresql\"\npassword = \"hunter2\"\n"), "password_file", ":7:"),
        (format!("{job}\n[prune]\nweekday = \"sunday\"\n"), "[prune] without [retention]", ""),
        (format!("{job}\n[checks]\nread_data_cycle = 7\n"), "checks", ":5:"),
        (format!("{job}\n[[copy]]\nto = \"ftp://x\"\n"), "[[copy]] to", ""),
        ("parallel = 2\n".to_string(), "nothing to back up", ""),
        (format!("{job}\n[[postgres]]\ndatabases = [\"crm\"]\nglobals = \"crm\"\n"), "would be backed up by both", ""),
        (format!("{job}\n[[postgres]]\ndatabases = [\"x\"]\n"), "would be backed up by both", ""),
    ];
    for (text, want, line) in cases {
        let config = write(e.dir.path(), "bad.toml", &text);
        let out = e.run(&["run", config.to_str().unwrap()], b"");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(want) && err.contains("bad.toml") && err.contains(line), "{text}: {err}");
        assert!(!err.contains("hunter2"), "a secret was echoed: {err}");
        assert!(!marker.exists(), "nothing runs before the file is valid");
    }
    // A device or a FIFO as the file: refused, not read for ever.
    let out = e.run(&["run", "/dev/zero"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not a regular file"), "{}", stderr(&out));
}

#[test]
fn a_failed_run_exits_9_even_when_nobody_reads_its_summary() {
    let e = Env::new();
    let config = write(e.dir.path(), "dbvault.toml", "[[job]]\ndb = \"broken\"\ncommand = \"exit 3\"\n");
    for json in [false, true] {
        let mut c = e.cmd(&[if json { "--json" } else { "--lock-wait=600" }, "run", config.to_str().unwrap()]);
        let mut child = c.spawn().unwrap();
        drop(child.stdout.take());
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(9), "json {json}: {}", stderr(&out));
    }
}

#[test]
fn the_drill_takes_what_retention_left_when_it_removed_tonights_snapshot() {
    let e = Env::new();
    let whole = b"--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (a int);\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
    let dump = e.dir.path().join("inc.sql");
    std::fs::write(&dump, whole).unwrap();
    let config = write(
        e.dir.path(),
        "dbvault.toml",
        &format!("[[job]]\ndb = \"inc\"\nallow_incomplete = true\ncommand = [\"cat\", \"{}\"]\n[retention]\ndefault = {{ keep_last = 1 }}\n[drill]\n", dump.display()),
    );
    let (code, _, out) = run(&e, &config, &[]);
    assert_eq!(code, 0, "{}", stderr(&out));
    // Tonight's dump is cut short: kept as incomplete, then removed by keep_last = 1.
    std::fs::write(&dump, &whole[..40]).unwrap();
    let (code, doc, out) = run(&e, &config, &[]);
    assert_eq!(code, 0, "{doc:#} {}", stderr(&out));
    assert_eq!(result(&doc, "drill", "inc"), "ok", "{doc:#}");
}

#[test]
fn run_with_a_wrong_password_source_says_so_and_pings_nothing_as_success() {
    let e = Env::new();
    let pw = write(e.dir.path(), "pw", "not the password\n");
    let config = write(e.dir.path(), "dbvault.toml", &format!("password_file = \"{}\"\n[[job]]\ndb = \"x\"\ncommand = [\"cat\", \"/etc/hostname\"]\n", pw.display()));
    let out = e.run(&["run", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("password"), "{}", stderr(&out));
    let config = write(e.dir.path(), "dbvault.toml", "password_file = \"/nonexistent/pw\"\n[[job]]\ndb = \"x\"\ncommand = [\"true\"]\n");
    let out = e.run(&["run", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/pw"), "{}", stderr(&out));
    // --dry-run says so too, instead of calling the file fine.
    let out = e.run(&["run", "--dry-run", config.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/nonexistent/pw"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_rotating_check_reads_every_pack_exactly_once_over_a_full_cycle() {
    let e = Env::new();
    for (i, d) in dumps(3000, 3).iter().enumerate() {
        e.ingest(&format!("db{i}"), d);
    }
    let same = e.dir.path().join("same.sql");
    std::fs::write(&same, &dumps(3000, 1)[0]).unwrap();
    let config = write(e.dir.path(), "dbvault.toml", &format!("[[job]]\ndb = \"db0\"\ncommand = [\"cat\", \"{}\"]\n[check]\nread_data_cycle = 3\n", same.display()));
    let packs = e.json(&["check"], b"")["packs"].as_u64().unwrap();
    assert!(packs >= 3, "enough packs to spread: {packs}");
    let mut parts = Vec::new();
    let mut read = 0;
    for _ in 0..4 {
        let (code, doc, out) = run(&e, &config, &[]);
        assert_eq!(code, 0, "{}", stderr(&out));
        let detail = steps(&doc, "check")[0].1["detail"].as_str().unwrap().to_string();
        // "N snapshot(s), read part K/3: P pack(s), no problems"
        let part = detail.split("read part ").nth(1).unwrap_or_else(|| panic!("{detail}"));
        let (k, rest) = part.split_once('/').unwrap();
        let n: u64 = rest.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        parts.push(k.to_string());
        if parts.len() <= 3 {
            read += n;
        }
    }
    assert_eq!(parts, ["1", "2", "3", "1"], "the parts rotate");
    assert_eq!(read, packs, "parts 1..3 read every pack exactly once (the runs added no pack: the dump is unchanged)");
}

#[test]
fn a_damaged_pack_is_named_by_the_runs_check() {
    let e = Env::new();
    let dump = e.dir.path().join("a.sql");
    std::fs::write(&dump, &dumps(2000, 1)[0]).unwrap();
    let config = write(e.dir.path(), "dbvault.toml", &format!("[[job]]\ndb = \"shop\"\ncommand = [\"cat\", \"{}\"]\n[check]\nread_data_cycle = 1\n", dump.display()));
    let (code, _, out) = run(&e, &config, &[]);
    assert_eq!(code, 0, "{}", stderr(&out));
    let pack = walk(&e.repo().join("packs")).into_iter().max_by_key(|p| std::fs::metadata(p).unwrap().len()).unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&pack, bytes).unwrap();
    let (code, doc, out) = run(&e, &config, &[]);
    assert_eq!(code, 9, "{}", stderr(&out));
    let check = steps(&doc, "check")[0].1;
    assert_eq!(check["exit_code"], 5, "{check:#}");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.contains("db shop") && detail.contains("dbvault check"), "the check says what is damaged: {detail}");
    // `check` itself: damage is exit 5 even when nobody reads its report.
    for json in [false, true] {
        let args: &[&str] = if json { &["--json", "check", "--read-data"] } else { &["check", "--read-data"] };
        let mut child = e.cmd(args).spawn().unwrap();
        drop(child.stdout.take());
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(5), "json {json}: {}", stderr(&out));
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).unwrap().flat_map(|e| {
        let p = e.unwrap().path();
        if p.is_dir() { walk(&p) } else { vec![p] }
    }).collect()
}
