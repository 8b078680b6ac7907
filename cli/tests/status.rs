//! `dbvault status`: each database's last snapshot and its age; exit code 10 once one is older than
//! `--max-age` allows.

mod common;

use common::{Env, stderr};

const WHOLE: &[u8] = b"-- PostgreSQL database dump\n\nCREATE TABLE t (a int);\n\n-- PostgreSQL database dump complete\n\n";
const CUT: &[u8] = b"-- PostgreSQL database dump\n\nCREATE TABLE t (a int);\n";

#[test]
fn a_database_whose_last_complete_backup_is_too_old_fails_the_status() {
    let e = Env::new();
    let shop = e.ingest("shop", WHOLE);
    e.ok(&["ingest", "--db", "crm", "--allow-incomplete"], CUT);
    let doc = e.json(&["status"], b"");
    let dbs = doc["databases"].as_array().unwrap();
    assert_eq!(dbs.iter().map(|d| d["db"].as_str().unwrap()).collect::<Vec<_>>(), ["crm", "shop"]);
    assert_eq!(dbs[1]["last"]["id"], shop["id"]);
    assert_eq!(dbs[1]["last_complete"]["id"], shop["id"]);
    assert!(dbs[0]["last"]["incomplete"].as_bool().unwrap() && dbs[0]["last_complete"].is_null(), "{doc}");
    assert!(dbs.iter().all(|d| d["stale"] == false), "no --max-age, nothing is stale: {doc}");

    // Within a day: only crm, whose only snapshot is cut short, has no complete backup.
    let o = e.run(&["status", "--max-age", "1d"], b"");
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("crm") && !stderr(&o).contains("shop"), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("STALE"));
    assert_eq!(e.run(&["status", "--max-age", "1d", "--db", "shop"], b"").status.code(), Some(0));
    // Once shop's backup is older than allowed, it is stale too (the JSON says which).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let o = e.run(&["--json", "status", "--max-age", "1s"], b"");
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["stale"], serde_json::json!(["crm", "shop"]));
    assert_eq!(doc["max_age_seconds"], 1);
    // A newer complete snapshot of crm: ok within a day.
    e.ingest("crm", WHOLE);
    assert_eq!(e.run(&["status", "--max-age", "1d"], b"").status.code(), Some(0));
    // A database asked for that has no snapshot (gone, or never backed up) is stale.
    let o = e.run(&["--json", "status", "--db", "billing", "--max-age", "1d"], b"");
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("no snapshots of db \"billing\""), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc["databases"][0]["last"].is_null() && doc["stale"] == serde_json::json!(["billing"]), "{doc}");
    // Stale is the exit code even when the reader stopped reading (`| true`).
    let mut c = e.cmd(&["status", "--db", "billing", "--max-age", "1d"]);
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(10));
}

#[test]
fn the_last_check_is_shown_and_damage_it_found_fails_the_status() {
    let e = Env::new();
    e.ingest("shop", WHOLE);
    assert!(e.json(&["status"], b"")["last_check"].is_null());
    assert!(String::from_utf8_lossy(&e.ok(&["status"], b"").stdout).contains("last check: none recorded"));
    e.ok(&["check"], b"");
    let doc = e.json(&["status"], b"");
    assert_eq!((doc["last_check"]["ok"].as_bool(), doc["last_check"]["read_data"].as_str()), (Some(true), Some("none")), "{doc}");
    // Damage: a pack's bit flipped; check --read-data finds it, and status says so until a
    // check finds the repository whole again.
    let pack = walk(&e.repo().join("packs")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&pack, &bytes).unwrap();
    assert_eq!(e.run(&["check", "--read-data"], b"").status.code(), Some(5));
    let o = e.run(&["--json", "status"], b"");
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    assert!(stderr(&o).contains("the last check found"), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["last_check"]["ok"], false, "{doc}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_bad_max_age_or_database_is_refused() {
    let e = Env::new();
    e.ingest("shop", WHOLE);
    for bad in ["0s", "-2h", "soon", "", "1 month", "99999y"] {
        let o = e.run(&["status", "--max-age", bad], b"");
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
    }
    let o = e.run(&["status", "--db", "shpo"], b"");
    assert!(!o.status.success() && stderr(&o).contains("shop"), "{}", stderr(&o));
}
