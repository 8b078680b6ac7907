//! Dump-aware ingest through the binary: dump commands, refusals, warnings, jobs, restore into a tool.

mod common;

use common::*;
use serde_json::Value;

fn sh(script: &str) -> Vec<&str> {
    vec!["--", "sh", "-c", script]
}

fn write_dump(e: &Env, name: &str, data: &[u8]) -> String {
    let p = e.dir.path().join(name);
    std::fs::write(&p, data).unwrap();
    p.to_str().unwrap().to_string()
}

fn snapshots(e: &Env) -> Vec<Value> {
    e.json(&["snapshots"], b"").as_array().unwrap().clone()
}

#[test]
fn a_dump_command_is_run_and_its_status_recorded() {
    let e = Env::new();
    let f = write_dump(&e, "d.sql", &dumps(5_000, 1)[0]);
    let script = format!("echo 'pg_dump: note: starting' >&2; cat {f}");
    // Options come before `--`; everything after it is the dump command.
    let mut a = vec!["--json", "ingest", "--db", "shop"];
    a.extend(sh(&script));
    let o = e.ok(&a, b"");
    assert!(stderr(&o).contains("pg_dump: note: starting"), "the command's stderr passes through: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"]["producer"], "command");
    assert_eq!(v["source"]["exit_status"], 0);
    assert_eq!(v["source"]["command"], serde_json::json!(["sh", "-c", script]));
    assert_eq!(v["source"]["stderr_tail"], serde_json::json!(["pg_dump: note: starting"]));
    assert_eq!(v["source"]["format"], "pg_dump-plain");
    assert_eq!(v["source"]["completion_marker"], true);
}

#[test]
fn a_failing_dump_command_commits_nothing_and_exits_7() {
    let e = Env::new();
    let f = write_dump(&e, "d.sql", &dumps(5_000, 1)[0]);
    for (script, expect) in [
        (format!("cat {f}; echo 'pg_dump: error: connection lost' >&2; exit 3"), "exited with status 3"),
        (format!("cat {f}; kill -9 $$"), "killed by signal 9"),
        ("echo 'database \"nope\" does not exist' >&2; exit 1".to_string(), "exited with status 1"),
    ] {
        let mut a = vec!["ingest", "--db", "shop"];
        a.extend(sh(&script));
        let o = e.run(&a, b"");
        assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
        let msg = stderr(&o);
        assert!(msg.contains("sh -c") && msg.contains(expect) && msg.contains("nothing was committed"), "{msg}");
    }
    let o = e.run(&["ingest", "--db", "shop", "--", "/nonexistent/pg_dump", "shop"], b"");
    assert_eq!(o.status.code(), Some(7));
    assert!(stderr(&o).contains("could not be started"), "{}", stderr(&o));
    assert!(snapshots(&e).is_empty(), "no snapshot from a failed dump");
}

#[test]
fn truncated_and_empty_dumps_are_refused_with_code_8() {
    let e = Env::new();
    let d = &dumps(20_000, 1)[0];
    let o = e.run(&["ingest", "--db", "shop"], &d[..d.len() - 100]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(stderr(&o).contains("incomplete") && stderr(&o).contains("--allow-incomplete"));
    let o = e.run(&["ingest", "--db", "shop"], b"");
    assert_eq!(o.status.code(), Some(8));
    assert!(stderr(&o).contains("empty"));
    // A dump command cut short by a wrapper that still exits 0 is caught by the missing marker.
    let f = write_dump(&e, "d.sql", d);
    let mut a = vec!["ingest", "--db", "shop"];
    let script = format!("head -c 50000 {f}");
    a.extend(sh(&script));
    assert_eq!(e.run(&a, b"").status.code(), Some(8));
    assert!(snapshots(&e).is_empty());

    let v = e.json(&["ingest", "--db", "shop", "--allow-incomplete"], &d[..d.len() - 100]);
    assert_eq!(v["incomplete"], true);
    let table = String::from_utf8(e.ok(&["snapshots"], b"").stdout).unwrap();
    assert!(table.contains("INCOMPLETE"), "{table}");
}

#[test]
fn compressed_input_draws_a_loud_warning() {
    let e = Env::new();
    let gz = [&b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"[..], &[42u8; 3000]].concat();
    let o = e.ok(&["ingest", "--db", "shop", "--quiet"], &gz);
    let msg = stderr(&o);
    assert!(msg.contains("WARNING") && msg.contains("gzip") && msg.contains("deduplication"), "{msg}");
    assert!(snapshots(&e)[0]["source"]["warnings"][0].as_str().unwrap().contains("deduplication"));
}

#[test]
fn jobs_run_in_parallel_and_one_failure_does_not_stop_the_others() {
    let e = Env::new();
    let d = dumps(8_000, 3);
    let files: Vec<String> = (0..3).map(|i| write_dump(&e, &format!("d{i}.sql"), &d[i])).collect();
    let jobs = format!(
        "[[job]]\ndb = \"shop\"\ncommand = [\"cat\", \"{}\"]\nhost = \"db1\"\ntags = [\"nightly\"]\n\n\
         [[job]]\ndb = \"broken\"\ncommand = \"cat {} && exit 2\"\n\n\
         [[job]]\ndb = \"crm\"\ncommand = \"cat {}\"\n",
        files[0], files[1], files[2]
    );
    let jf = write_dump(&e, "jobs.toml", jobs.as_bytes());
    let o = e.run(&["--json", "ingest", "--jobs", &jf, "--parallel", "2"], b"");
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["failed"].as_u64(), v["succeeded"].as_u64()), (Some(1), Some(2)), "{v}");
    let by_db = |db: &str| v["jobs"].as_array().unwrap().iter().find(|j| j["db"] == db).unwrap().clone();
    assert_eq!(by_db("broken")["ok"], false);
    assert_eq!(by_db("broken")["exit_code"], 7);
    assert!(by_db("broken")["error"].as_str().unwrap().contains("exited with status 2"));
    assert_eq!(by_db("shop")["host"], "db1");
    assert_eq!(by_db("shop")["tags"], serde_json::json!(["nightly"]));
    let list = snapshots(&e);
    assert_eq!(list.len(), 2);
    assert!(e.ok(&["restore", "latest", "--db", "crm"], b"").stdout == d[2]);
    // The human table names the failure too.
    let o = e.run(&["ingest", "--jobs", &jf], b"");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("FAILED") && out.contains("broken"), "{out}");
    // Broken job files are explained.
    let bad = write_dump(&e, "bad.toml", b"[[job]]\ndb = \"x\"\n");
    let o = e.run(&["ingest", "--jobs", &bad], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("command"), "{}", stderr(&o));
}

#[test]
fn restore_into_a_command() {
    let e = Env::new();
    let d = &dumps(10_000, 1)[0];
    e.ingest("shop", d);
    let out = e.dir.path().join("loaded.sql");
    let script = format!("cat > {}", out.display());
    let mut a = vec!["restore", "latest", "--db", "shop"];
    a.extend(sh(&script));
    e.ok(&a, b"");
    assert!(std::fs::read(&out).unwrap() == *d);
    // The command's failure is dbvault's failure.
    for script in ["cat > /dev/null; exit 4", "exit 3"] {
        let mut a = vec!["restore", "latest", "--db", "shop"];
        a.extend(sh(script));
        let o = e.run(&a, b"");
        assert_eq!(o.status.code(), Some(7), "{script}: {}", stderr(&o));
        assert!(stderr(&o).contains("exited with status"), "{}", stderr(&o));
    }
    let o = e.run(&["restore", "latest", "--db", "shop", "--", "/nonexistent/psql"], b"");
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn a_utf16_tsql_script_round_trips_byte_identical() {
    let e = Env::new();
    let mut script = vec![0xff, 0xfe];
    let text: String = (0..2000).map(|i| format!("INSERT [dbo].[kunden] ([id], [name]) VALUES ({i}, N'Müller {i}')\r\nGO\r\n")).collect();
    for u in format!("USE [shop]\r\nGO\r\nSET ANSI_NULLS ON\r\nGO\r\n{text}").encode_utf16() {
        script.extend_from_slice(&u.to_le_bytes());
    }
    let v = e.ingest("mssql", &script);
    assert_eq!(v["source"]["encoding"], "utf-16le");
    assert_eq!(v["source"]["format"], "t-sql");
    assert_eq!(v["source"]["batch_separator"], "GO");
    let out = e.ok(&["restore", "latest", "--db", "mssql"], b"");
    assert!(out.stdout == script, "restore must return the exact UTF-16 bytes");
}
