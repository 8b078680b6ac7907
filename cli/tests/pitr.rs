//! Point-in-time recovery against real PostgreSQL servers: WAL archived by `dbvault wal push` as
//! the server's archive_command, base backups by `ingest --base -- pg_basebackup`, and
//! `restore --at ... --pgdata DIR`, whose restore_command is `dbvault wal fetch`.

mod common;
mod servers;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dbvault_benches::seaweed::Seaweed;
use servers::{Postgres, is_root, run};

/// dbvault as a PostgreSQL server runs it: a copy of the binary, a repository and a password
/// file, all owned by the server's account (when the tests run as root).
struct Vault {
    dir: tempfile::TempDir,
    /// The repository's S3 URL and the variables that reach it; none: a folder.
    s3: Option<(String, Vec<(&'static str, &'static str)>)>,
}

impl Vault {
    fn new() -> Vault {
        Vault::with(None)
    }

    fn on_s3(server: &Seaweed, prefix: &str) -> Vault {
        Vault::with(Some((server.url(prefix), server.env().to_vec())))
    }

    fn with(s3: Option<(String, Vec<(&'static str, &'static str)>)>) -> Vault {
        let v = Vault { dir: tempfile::tempdir().unwrap(), s3 };
        std::fs::copy(common::BIN, v.bin()).unwrap();
        std::fs::write(v.dir.path().join("password"), "pw\n").unwrap();
        run(Command::new("chmod").arg("755").arg(v.dir.path()));
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres"]).arg(v.dir.path()));
        }
        v.ok(&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"]);
        v
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("dbvault")
    }

    /// The words that run dbvault on this repository.
    fn words(&self) -> Vec<String> {
        let d = self.dir.path().display();
        let mut w = vec![self.bin().display().to_string(), "--password-file".into(), format!("{d}/password")];
        match &self.s3 {
            None => w.extend(["--repo".into(), format!("{d}/repo")]),
            Some((url, _)) => w.extend(["--repo".into(), url.clone(), "--cache-dir".into(), format!("{d}/cache")]),
        }
        w
    }

    /// The variables the repository needs (S3 credentials).
    fn env(&self) -> Vec<(&'static str, &'static str)> {
        self.s3.as_ref().map_or(vec![], |(_, env)| env.clone())
    }

    /// dbvault with `args`, as the server's account when root (so the repository stays writable
    /// by the archive_command).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c
        } else {
            Command::new(&self.words()[0])
        };
        let words = self.words();
        c.args(if is_root() { &words[..] } else { &words[1..] }).args(args);
        c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).envs(self.env()).current_dir("/tmp").stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(out.status.success(), "dbvault {args:?} failed: {}", common::stderr(&out));
        out
    }

    fn archive_command(&self, db: &str) -> String {
        let env: Vec<String> = self.env().iter().map(|(k, v)| format!("{k}={v}")).collect();
        let env = if env.is_empty() { String::new() } else { format!("env {} ", env.join(" ")) };
        format!("-c archive_mode=on -c \"archive_command={env}{} wal push --db {db} -q %p\"", self.words().join(" "))
    }

    /// Start a restored server, which runs this dbvault as its restore_command.
    fn launch(&self, pg: &Postgres, extra: &str) {
        pg.launch_with_env(extra, &self.env());
    }
}

fn pgbench(pg: &Postgres, args: &[&str]) {
    let c = pg.client("pgbench", "postgres");
    run(Command::new(&c[0]).args(&c[1..c.len() - 2]).args(args).arg("postgres"));
}

fn dumpall(pg: &Postgres) -> String {
    let c = pg.client("pg_dumpall", "postgres");
    // pg_dumpall's \restrict lines carry a random key; the rest must be equal.
    run(Command::new(&c[0]).args(&c[1..c.len() - 2]).args(["-l", "postgres"])).lines().filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")).collect::<Vec<_>>().join("\n")
}

/// Switch to a new WAL segment and wait until the one left is archived.
fn archive_current_segment(pg: &Postgres) {
    let segment = pg.sql("postgres", "SELECT pg_walfile_name(pg_switch_wal())").trim().to_string();
    let t0 = Instant::now();
    loop {
        let archived = pg.sql("postgres", "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").trim().to_string();
        if archived >= segment {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "segment {segment} was not archived (last: {archived:?}); server log:\n{}", pg.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Wait until a server recovering to a target has reached it and been promoted.
fn wait_promoted(pg: &Postgres) {
    let t0 = Instant::now();
    while pg.sql("postgres", "SELECT pg_is_in_recovery()").trim() != "f" {
        assert!(t0.elapsed() < Duration::from_secs(120), "recovery did not end; server log:\n{}", pg.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn markers(pg: &Postgres) -> String {
    pg.sql("postgres", "SELECT string_agg(n::text, ',' ORDER BY n) FROM marker").trim().to_string()
}

#[test]
fn a_cluster_recovered_to_a_time_between_two_markers_has_the_first_ones_and_follows_its_new_timeline() {
    recover_to_a_time_and_follow_a_new_timeline(&Vault::new());
}

#[test]
fn the_same_recovery_from_an_s3_repository() {
    let dir = tempfile::tempdir().unwrap();
    let server = Seaweed::start(dir.path(), "backups");
    recover_to_a_time_and_follow_a_new_timeline(&Vault::on_s3(&server, "pitr"));
}

fn recover_to_a_time_and_follow_a_new_timeline(v: &Vault) {
    let pg = Postgres::start_with(&v.archive_command("main"));
    pg.sql("postgres", "CREATE TABLE marker (n int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    pgbench(&pg, &["-i", "-s", "2", "-q"]);
    pg.sql("postgres", "INSERT INTO marker (n) VALUES (1)");

    let mut backup = vec!["ingest", "--db", "main", "--base", "--json", "--"];
    let basebackup = [pg.bin.join("pg_basebackup").display().to_string(), "-h".into(), pg.sock(), "-U".into(), "postgres".into(), "-D".into(), "-".into(), "-Ft".into(), "-X".into(), "none".into(), "-c".into(), "fast".into()];
    backup.extend(basebackup.iter().map(String::as_str));
    let doc: serde_json::Value = serde_json::from_slice(&v.ok(&backup).stdout).unwrap();
    assert_eq!(doc["source"]["format"], "pg_basebackup-tar", "{doc}");

    pgbench(&pg, &["-c", "2", "-t", "300", "-n"]);
    pg.sql("postgres", "INSERT INTO marker (n) VALUES (2)");
    let between = pg.sql("postgres", "SELECT clock_timestamp()").trim().to_string();
    let at_that_moment = dumpall(&pg);
    std::thread::sleep(Duration::from_millis(1200));
    pg.sql("postgres", "INSERT INTO marker (n) VALUES (3)");
    pgbench(&pg, &["-c", "2", "-t", "100", "-n"]);
    archive_current_segment(&pg);

    // Recovered to a moment between markers 2 and 3, the cluster is exactly what it was then.
    let restored = Postgres::empty();
    v.ok(&["restore", "--db", "main", "--at", &between, "--pgdata", &restored.data()]);
    v.launch(&restored, &v.archive_command("main"));
    wait_promoted(&restored);
    assert_eq!(markers(&restored), "1,2");
    assert_eq!(dumpall(&restored), at_that_moment);

    // Ctrl-C in the middle of a restore leaves no half data directory.
    for delay in [30, 120, 300] {
        let target = Postgres::empty();
        let mut c = v.cmd(&["restore", "--db", "main", "--at", &between, "--pgdata", &target.data()]);
        let child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        // The restore runs as the server's account under runuser when root: signal its children too.
        let _ = Command::new("pkill").args(["-INT", "-f", "--", &format!("--pgdata {}", target.data())]).status();
        let out = child.wait_with_output().unwrap();
        let done = out.status.success();
        eprintln!("restore interrupted after {delay} ms: {:?}", out.status);
        assert_eq!(std::path::Path::new(&target.data()).join("recovery.signal").exists(), done, "after {delay} ms: {:?} {}", out.status, common::stderr(&out));
        if !done {
            assert!(!std::path::Path::new(&target.data()).exists(), "after {delay} ms a half data directory is left: {}", common::stderr(&out));
        }
    }

    // A base backup of another cluster cannot serve this WAL archive: refused (code 8).
    let stranger = Postgres::start();
    let mut other = vec!["ingest", "--db", "main", "--base", "--"];
    let other_backup: Vec<String> = basebackup.iter().map(|w| if *w == pg.sock() { stranger.sock() } else { w.clone() }).collect();
    other.extend(other_backup.iter().map(String::as_str));
    let refused = v.run(&other);
    assert_eq!(refused.status.code(), Some(8), "{}", common::stderr(&refused));
    drop(stranger);

    // Promoted, it writes on timeline 2 and archives there too; recovering to the end of the
    // archive follows timeline 2 (recovery_target_timeline = latest), not the old timeline's marker 3.
    restored.sql("postgres", "INSERT INTO marker (n) VALUES (4)");
    archive_current_segment(&restored);
    let list = String::from_utf8(v.ok(&["wal", "list", "--db", "main"]).stdout).unwrap();
    assert!(list.contains("00000002.history"), "{list}");
    let latest = Postgres::empty();
    v.ok(&["restore", "--db", "main", "--at", "latest", "--pgdata", &latest.data()]);
    v.launch(&latest, "");
    wait_promoted(&latest);
    assert_eq!(markers(&latest), "1,2,4");
    drop(latest);

    // A second base backup, of the promoted cluster on timeline 2, then more WAL.
    let basebackup2: Vec<String> = basebackup.iter().map(|w| if *w == pg.sock() { restored.sock() } else { w.clone() }).collect();
    let mut backup2 = vec!["ingest", "--db", "main", "--base", "--"];
    backup2.extend(basebackup2.iter().map(String::as_str));
    v.ok(&backup2);
    for n in 5..8 {
        restored.sql("postgres", &format!("INSERT INTO marker (n) VALUES ({n})"));
        archive_current_segment(&restored);
    }
    let verified = v.run(&["wal", "verify", "--db", "main"]);
    assert_eq!(verified.status.code(), Some(0), "{}{}", String::from_utf8_lossy(&verified.stdout), common::stderr(&verified));

    // Forgetting the first base backup takes the WAL only it needed, and keeps what the second needs.
    let forgot: serde_json::Value = serde_json::from_slice(&v.ok(&["forget", "--db", "main", "--keep-last", "1", "--json"]).stdout).unwrap();
    let gone: Vec<&str> = forgot["wal_removed"].as_array().expect("WAL removed").iter().map(|f| f.as_str().unwrap()).collect();
    assert!(gone.contains(&"000000010000000000000001") && !gone.iter().any(|f| f.ends_with(".history")), "{forgot}");
    v.ok(&["prune"]);
    let again = Postgres::empty();
    v.ok(&["restore", "--db", "main", "--at", "latest", "--pgdata", &again.data()]);
    v.launch(&again, "");
    wait_promoted(&again);
    assert_eq!(markers(&again), "1,2,4,5,6,7", "{}", again.log());
    drop(again);

    // A segment lost from the archive is a gap `wal verify` names (exit code 5).
    let files: serde_json::Value = serde_json::from_slice(&v.ok(&["wal", "list", "--db", "main", "--json"]).stdout).unwrap();
    let timeline2: Vec<&serde_json::Value> = files.as_array().unwrap().iter().filter(|f| f["timeline"] == 2 && f["file"].as_str().unwrap().len() == 24).collect();
    assert!(timeline2.len() >= 3, "{files}");
    let lost = timeline2[timeline2.len() / 2];
    v.ok(&["forget", lost["snapshot"].as_str().unwrap()]);
    let verified = v.run(&["wal", "verify", "--db", "main"]);
    assert_eq!(verified.status.code(), Some(5), "{}", common::stderr(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains(lost["file"].as_str().unwrap()));
    drop(restored);

    // Monitoring: the last file archived and its age; an archive that received nothing for
    // longer than --max-wal-age fails status (exit code 10); a metric for alerts.
    let status: serde_json::Value = serde_json::from_slice(&v.ok(&["status", "--json"]).stdout).unwrap();
    assert!(status["databases"][0]["wal"]["last_file"].as_str().is_some_and(|f| f.starts_with("00000002")), "{status}");
    std::thread::sleep(Duration::from_millis(1100));
    let late = v.run(&["status", "--max-wal-age", "1s"]);
    assert_eq!(late.status.code(), Some(10), "{}", common::stderr(&late));
    assert!(common::stderr(&late).contains("nothing archived by wal push"), "{}", common::stderr(&late));
    let metrics = v.dir.path().join("metrics.prom");
    v.ok(&["status", "--metrics-file", metrics.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&metrics).unwrap().contains("dbvault_wal_last_archived_timestamp_seconds{database=\"main\""));

    // The repository holds nothing half-made, and the archive does not mix with the lineage.
    v.ok(&["check", "--read-data"]);
    let snaps: serde_json::Value = serde_json::from_slice(&v.ok(&["snapshots", "--json"]).stdout).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 1, "only the kept base backup is listed: {snaps}");

    // Damaged data: the restore fails (code 5) and leaves no half data directory behind.
    if v.s3.is_none() {
        for pack in files_under(&v.dir.path().join("repo/packs")) {
            let mut bytes = std::fs::read(&pack).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x20;
            std::fs::write(&pack, bytes).unwrap();
        }
        let target = Postgres::empty();
        let out = v.run(&["restore", "--db", "main", "--at", "latest", "--pgdata", &target.data()]);
        assert_eq!(out.status.code(), Some(5), "{}", common::stderr(&out));
        assert!(!std::path::Path::new(&target.data()).exists(), "a failed restore leaves nothing behind");
    }
}

fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().flatten().flat_map(|e| if e.path().is_dir() { files_under(&e.path()) } else { vec![e.path()] }).collect()
}

#[test]
fn restore_at_a_time_gives_the_newest_snapshot_that_ended_by_then() {
    let e = common::Env::new();
    let mut ends = Vec::new();
    for day in 0..3 {
        let doc = e.ingest("shop", format!("-- day {day}\n").as_bytes());
        ends.push(doc["time"].as_str().unwrap().to_string());
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = e.ok(&["restore", "--db", "shop", "--at", &ends[1], "-o", "-"], b"");
    assert_eq!(out.stdout, b"-- day 1\n");
    let before = e.run(&["restore", "--db", "shop", "--at", "2001-01-01 00:00:00+00", "-o", "-"], b"");
    assert_eq!(before.status.code(), Some(1));
    assert!(common::stderr(&before).contains("no snapshot from"), "{}", common::stderr(&before));
    let bad = e.run(&["restore", "--db", "shop", "--at", "tomorrow-ish", "-o", "-"], b"");
    assert_eq!(bad.status.code(), Some(2), "{}", common::stderr(&bad));
}
