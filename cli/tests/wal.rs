//! `dbvault wal push` and `wal fetch` held to PostgreSQL's archive_command and restore_command
//! contract, with WAL files made here (a server's own run is in pitr.rs): idempotent pushes,
//! refused conflicts, a documented code for "not archived" that repository errors never use,
//! and no death by a signal.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{Env, stderr};
use dbvault_benches::dumpgen::Rng;

/// Segment `number` of `size` bytes of cluster `cluster`: a long page header, then noise.
fn segment(cluster: u64, number: u64, size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut s: Vec<u8> = (0..size).map(|_| rng.next_u64() as u8).collect();
    s[4..8].copy_from_slice(&1u32.to_le_bytes());
    s[8..16].copy_from_slice(&(number * size as u64).to_le_bytes());
    s[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
    s[2..4].copy_from_slice(&0x0002u16.to_le_bytes());
    s[24..32].copy_from_slice(&cluster.to_le_bytes());
    s[32..36].copy_from_slice(&(size as u32).to_le_bytes());
    s
}

/// A data directory of cluster `cluster` (only what dbvault reads of one: global/pg_control).
fn data_directory(cluster: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("global")).unwrap();
    std::fs::create_dir_all(d.path().join("pg_wal")).unwrap();
    std::fs::write(d.path().join("global/pg_control"), [cluster.to_le_bytes().to_vec(), vec![0; 8184]].concat()).unwrap();
    d
}

fn in_dir(e: &Env, dir: &Path, args: &[&str]) -> Output {
    let mut c = e.cmd(args);
    c.current_dir(dir);
    e.run_with(c, b"")
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

#[test]
fn pushes_are_idempotent_other_bytes_and_other_clusters_are_refused_and_fetch_returns_the_bytes() {
    let e = Env::new();
    let (seed, mut rng) = common::seeded_rng();
    let d = data_directory(42);
    let seg1 = segment(42, 1, 1 << 20, &mut rng);
    std::fs::write(d.path().join("pg_wal/000000010000000000000001"), &seg1).unwrap();
    let push = |path: &str| in_dir(&e, d.path(), &["wal", "push", "--db", "main", "--json", path]);

    // %p is relative to the data directory.
    let first = push("pg_wal/000000010000000000000001");
    assert_eq!(code(&first), Some(0), "seed {seed}: {}", stderr(&first));
    let doc: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(doc["already_archived"], false);
    let again: serde_json::Value = serde_json::from_slice(&push("pg_wal/000000010000000000000001").stdout).unwrap();
    assert_eq!(again["already_archived"], true, "a second push of the same bytes stores nothing: {again}");
    assert_eq!(again["snapshot"], doc["snapshot"]);

    // Other bytes under an archived name: two servers archive into one place.
    let mut other = seg1.clone();
    other[5000] ^= 1;
    std::fs::write(d.path().join("pg_wal/000000010000000000000001"), &other).unwrap();
    let conflict = push("pg_wal/000000010000000000000001");
    assert_eq!(code(&conflict), Some(8), "{}", stderr(&conflict));
    assert!(stderr(&conflict).contains("different content"), "{}", stderr(&conflict));

    // A segment of another cluster under the same --db.
    std::fs::write(d.path().join("pg_wal/000000010000000000000002"), segment(43, 2, 1 << 20, &mut rng)).unwrap();
    let foreign = push("pg_wal/000000010000000000000002");
    assert_eq!(code(&foreign), Some(8), "{}", stderr(&foreign));
    assert!(stderr(&foreign).contains("cluster 43"), "{}", stderr(&foreign));

    // A history file has no header: the data directory names its cluster.
    std::fs::write(d.path().join("pg_wal/00000002.history"), "1\t0/3000000\tno recovery target specified\n").unwrap();
    assert_eq!(code(&push("pg_wal/00000002.history")), Some(0));
    // A hole: segment 5 missing while 9 is archived is no end of the WAL (5, damage; in a
    // recovering data directory 126, below); after the last one it is (12).
    std::fs::write(d.path().join("pg_wal/000000010000000000000009"), segment(42, 9, 1 << 20, &mut rng)).unwrap();
    assert_eq!(code(&push("pg_wal/000000010000000000000009")), Some(0));
    let hole = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "000000010000000000000005", "pg_wal/X"]);
    assert_eq!(code(&hole), Some(5), "{}", stderr(&hole));
    assert!(stderr(&hole).contains("a hole"), "{}", stderr(&hole));
    assert_eq!(code(&in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "00000001000000000000000A", "pg_wal/X"])), Some(12));
    // A later timeline's segment under an earlier timeline's name.
    let mut later_timeline = segment(42, 11, 1 << 20, &mut rng);
    later_timeline[4..8].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(d.path().join("pg_wal/00000001000000000000000B"), &later_timeline).unwrap();
    let renamed_timeline = push("pg_wal/00000001000000000000000B");
    assert_eq!(code(&renamed_timeline), Some(1), "{}", stderr(&renamed_timeline));
    // Another segment renamed: its first page says where it belongs.
    std::fs::write(d.path().join("pg_wal/000000010000000000000007"), &seg1).unwrap();
    let renamed = push("pg_wal/000000010000000000000007");
    assert_eq!(code(&renamed), Some(1), "{}", stderr(&renamed));
    assert!(stderr(&renamed).contains("renamed"), "{}", stderr(&renamed));
    // Named like a segment but no whole one: cut short, a folder, a FIFO (which must not block).
    std::fs::write(d.path().join("pg_wal/000000010000000000000003"), &seg1[..seg1.len() / 2]).unwrap();
    let cut = push("pg_wal/000000010000000000000003");
    assert_eq!(code(&cut), Some(1), "{}", stderr(&cut));
    assert!(stderr(&cut).contains("cut short"), "{}", stderr(&cut));
    std::fs::create_dir(d.path().join("pg_wal/000000010000000000000004")).unwrap();
    assert_eq!(code(&push("pg_wal/000000010000000000000004")), Some(1));
    let fifo = d.path().join("pg_wal/000000010000000000000006");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let blocked = push("pg_wal/000000010000000000000006");
    assert!(stderr(&blocked).contains("not a regular file"), "{}", stderr(&blocked));
    // Not a WAL file name at all: a usage error, before anything is read.
    std::fs::write(d.path().join("pg_wal/notes.txt"), "x").unwrap();
    assert_eq!(code(&push("pg_wal/notes.txt")), Some(2));

    // Fetch: the archived bytes, into a temporary file renamed into place.
    let fetched = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "000000010000000000000001", "pg_wal/RECOVERYXLOG"]);
    assert_eq!(code(&fetched), Some(0), "{}", stderr(&fetched));
    assert!(std::fs::read(d.path().join("pg_wal/RECOVERYXLOG")).unwrap() == seg1);
    let history = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "00000002.history", "pg_wal/RECOVERYHISTORY"]);
    assert_eq!(code(&history), Some(0), "{}", stderr(&history));
    assert_eq!(std::fs::read_to_string(d.path().join("pg_wal/RECOVERYHISTORY")).unwrap(), "1\t0/3000000\tno recovery target specified\n");
    std::fs::remove_file(d.path().join("pg_wal/RECOVERYHISTORY")).unwrap();

    // Not archived: code 12, and nothing written.
    let missing = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "00000003.history", "pg_wal/RECOVERYHISTORY"]);
    assert_eq!(code(&missing), Some(12), "{}", stderr(&missing));
    assert!(!d.path().join("pg_wal/RECOVERYHISTORY").exists());
    // A typo in --db is no "not archived": recovery would end there, as if the WAL ended.
    let other_db = in_dir(&e, d.path(), &["wal", "fetch", "--db", "mian", "000000010000000000000001", "pg_wal/RECOVERYXLOG"]);
    assert_eq!(code(&other_db), Some(1), "{}", stderr(&other_db));
    assert!(stderr(&other_db).contains("databases with one: main"), "{}", stderr(&other_db));
    let to_folder = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "000000010000000000000001", "pg_wal"]);
    assert_eq!(code(&to_folder), Some(2), "{}", stderr(&to_folder));
    let bad_name = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "../../etc/passwd", "pg_wal/RECOVERYXLOG"]);
    assert_eq!(code(&bad_name), Some(2), "{}", stderr(&bad_name));

    // In a data directory under archive recovery, a failure other than "not archived" exits 126,
    // which makes PostgreSQL stop rather than end the recovery early and promote.
    std::fs::write(d.path().join("recovery.signal"), "").unwrap();
    let mut wrong = e.cmd(&["wal", "fetch", "--db", "main", "000000010000000000000001", "pg_wal/X"]);
    wrong.env("DBVAULT_PASSWORD", "nope").current_dir(d.path());
    let wrong = e.run_with(wrong, b"");
    assert_eq!(code(&wrong), Some(126), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("stop this recovery"), "{}", stderr(&wrong));
    assert_eq!(code(&in_dir(&e, d.path(), &["wal", "fetch", "--db", "mian", "000000010000000000000001", "pg_wal/X"])), Some(126));
    assert_eq!(code(&in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "00000009.history", "pg_wal/X"])), Some(12));
    assert_eq!(code(&in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", "000000010000000000000005", "pg_wal/X"])), Some(126), "a hole stops recovery");
    // A standby retries by itself: ordinary codes there.
    std::fs::write(d.path().join("standby.signal"), "").unwrap();
    assert_eq!(code(&in_dir(&e, d.path(), &["wal", "fetch", "--db", "mian", "000000010000000000000001", "pg_wal/X"])), Some(1));
    std::fs::remove_file(d.path().join("standby.signal")).unwrap();
    std::fs::remove_file(d.path().join("recovery.signal")).unwrap();

    // A repository that cannot be read is never "not archived".
    let mut wrong = e.cmd(&["wal", "fetch", "--db", "main", "000000010000000000000001", "pg_wal/X"]);
    wrong.env("DBVAULT_PASSWORD", "nope").current_dir(d.path());
    assert_eq!(code(&e.run_with(wrong, b"")), Some(3));
    let mut gone = e.cmd(&["wal", "fetch", "--db", "main", "000000010000000000000001", "pg_wal/X"]);
    gone.env("DBVAULT_REPOSITORY", d.path().join("no-such-repository")).current_dir(d.path());
    let gone = e.run_with(gone, b"");
    assert!(!matches!(code(&gone), Some(0 | 12)), "{:?} {}", gone.status, stderr(&gone));
    let t0 = Instant::now();
    let mut unreachable = e.cmd(&["wal", "fetch", "--db", "main", "--retry-timeout", "1", "000000010000000000000001", "pg_wal/X"]);
    unreachable.env("DBVAULT_REPOSITORY", "s3:http://127.0.0.1:9/bucket").env("AWS_ACCESS_KEY_ID", "k").env("AWS_SECRET_ACCESS_KEY", "s").current_dir(d.path());
    let unreachable = e.run_with(unreachable, b"");
    assert_eq!(code(&unreachable), Some(1), "{}", stderr(&unreachable));
    assert!(stderr(&unreachable).contains("trying again"), "fetch retries a repository it cannot reach: {}", stderr(&unreachable));
    assert!(t0.elapsed() >= Duration::from_secs(5));
    assert!(!d.path().join("pg_wal/X").exists());

    // An offsite copy of the database takes its WAL archive along.
    let offsite = e.dir.path().join("offsite");
    let mut init = e.cmd(&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"]);
    init.env("DBVAULT_REPOSITORY", &offsite);
    assert!(e.run_with(init, b"").status.success());
    e.ok(&["copy", "--to", offsite.to_str().unwrap(), "--db", "main"], b"");
    let mut fetch = e.cmd(&["wal", "fetch", "--db", "main", "000000010000000000000001", "pg_wal/FROMCOPY"]);
    fetch.env("DBVAULT_REPOSITORY", &offsite).current_dir(d.path());
    let fetched = e.run_with(fetch, b"");
    assert_eq!(code(&fetched), Some(0), "{}", stderr(&fetched));
    assert!(std::fs::read(d.path().join("pg_wal/FROMCOPY")).unwrap() == seg1);

    // The WAL archive is no database lineage.
    let list: serde_json::Value = serde_json::from_slice(&e.ok(&["snapshots", "--json"], b"").stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
    let files: serde_json::Value = serde_json::from_slice(&e.ok(&["wal", "list", "--db", "main", "--json"], b"").stdout).unwrap();
    let names: Vec<&str> = files.as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(names, ["000000010000000000000001", "000000010000000000000009", "00000002.history"], "by timeline, then position");
}

/// Hold the repository index's lock, as a long commit would, until dropped.
struct HeldLock {
    _file: std::fs::File,
}

fn hold_index_lock(repo: &Path) -> HeldLock {
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(repo.join("local/lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&f), libc::LOCK_EX) }, 0);
    HeldLock { _file: f }
}

fn spawn_push(e: &Env, dir: &Path, file: &str) -> std::process::Child {
    let mut c = e.cmd(&["wal", "push", "--db", "main", "-q", file]);
    c.current_dir(dir).stdin(Stdio::null());
    c.spawn().unwrap()
}

#[test]
fn a_push_interrupted_or_killed_exits_as_an_ordinary_failure_and_the_retry_archives_the_file() {
    let e = Env::new();
    let (seed, mut rng) = common::seeded_rng();
    let d = data_directory(7);
    e.ok(&["check"], b""); // makes the local index, whose lock the test holds below

    // SIGINT and SIGTERM while it waits: an exit code, not a death by the signal (PostgreSQL's
    // archiver stops for a signal death other than SIGTERM).
    let seg: PathBuf = d.path().join("pg_wal/000000010000000000000005");
    std::fs::write(&seg, segment(7, 5, 1 << 20, &mut rng)).unwrap();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let held = hold_index_lock(&e.repo());
        let child = spawn_push(&e, d.path(), "pg_wal/000000010000000000000005");
        std::thread::sleep(Duration::from_millis(700));
        // SAFETY: a process this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) };
        let out = child.wait_with_output().unwrap();
        drop(held);
        assert_eq!((out.status.code(), out.status.signal()), (Some(1), None), "signal {sig}: {}", stderr(&out));
    }

    // kill -9 at any moment of a push, then PostgreSQL's retry: the file is archived whole.
    for round in 0..4u64 {
        let name = format!("0000000100000000000000{:02X}", 0x10 + round);
        let bytes = segment(7, 0x10 + round, 16 << 20, &mut rng);
        std::fs::write(d.path().join("pg_wal").join(&name), &bytes).unwrap();
        let child = spawn_push(&e, d.path(), &format!("pg_wal/{name}"));
        std::thread::sleep(Duration::from_millis(rng.next_u64() % 600));
        // SAFETY: a process this test started.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.wait_with_output();
        let retry = in_dir(&e, d.path(), &["wal", "push", "--db", "main", "-q", &format!("pg_wal/{name}")]);
        assert_eq!(code(&retry), Some(0), "seed {seed} round {round}: {}", stderr(&retry));
        let back = in_dir(&e, d.path(), &["wal", "fetch", "--db", "main", &name, "pg_wal/RECOVERYXLOG"]);
        assert_eq!(code(&back), Some(0), "seed {seed} round {round}: {}", stderr(&back));
        assert!(std::fs::read(d.path().join("pg_wal/RECOVERYXLOG")).unwrap() == bytes, "seed {seed} round {round}");
    }
    let check = e.run(&["check", "--read-data"], b"");
    assert_eq!(code(&check), Some(0), "seed {seed}: {}", stderr(&check));
}

#[test]
fn a_generated_machine_key_opens_the_repository_and_its_file_is_never_overwritten() {
    let e = Env::new();
    let file = e.dir.path().join("wal-password");
    e.ok(&["key", "add", "--generate-password-file", file.to_str().unwrap()], b"");
    let password = std::fs::read_to_string(&file).unwrap();
    assert_eq!(password.trim().len(), 64, "256 random bits, hex");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions()) & 0o777, 0o600);
    let again = e.run(&["key", "add", "--generate-password-file", file.to_str().unwrap()], b"");
    assert_eq!(code(&again), Some(1), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), password, "an existing file is never overwritten");
    let mut c = e.cmd(&["--password-file", file.to_str().unwrap(), "key", "list", "--json"]);
    c.env_remove("DBVAULT_PASSWORD");
    let listed = e.run_with(c, b"");
    assert_eq!(code(&listed), Some(0), "{}", stderr(&listed));
    let keys: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 2);
    // The typed password still opens it too.
    e.ok(&["snapshots"], b"");
}
