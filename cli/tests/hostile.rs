//! The hostile user: typos in every name, signals at random moments, closed pipes and full disks,
//! passwords on command lines, symlinks and devices as paths, read-only media, lost objects. Each
//! test is named after the promise it keeps (SAFETY.md lists them with the hazard they answer).

mod common;

use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn no_panic(o: &Output) {
    assert_ne!(o.status.code(), Some(101), "dbvault panicked: {}", stderr(o));
    assert!(!stderr(o).contains("panicked"), "dbvault panicked: {}", stderr(o));
}

fn ids(e: &Env, db: &str) -> Vec<String> {
    e.json(&["snapshots", "--db", db], b"").as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

/// Processes (not zombies) whose command line contains `token`.
fn processes_with(token: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|s| s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(token) {
            found.push(pid);
        }
    }
    found
}

/// Wait up to `limit` for `cond`.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: sends a signal to a process this test started.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// A unique token for the processes of one test round (found later in /proc).
fn token(round: u64) -> String {
    format!("{}.{:06}", 20 + round, std::process::id() % 1_000_000)
}

/// Damage a file the way a disk does: one bit in its middle.
fn flip_a_middle_bit(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 1;
    std::fs::write(path, b).unwrap();
}

fn write_file(e: &Env, name: &str, data: &[u8]) -> PathBuf {
    let p = e.dir.path().join(name);
    std::fs::write(&p, data).unwrap();
    p
}

// ---------------------------------------------------------------------------------------------
// Data loss

#[test]
fn a_mistyped_keep_rule_removes_nothing_and_names_the_rule() {
    let e = Env::new();
    let d = dumps(2_000, 3);
    for day in &d {
        e.ok(&["ingest", "--db", "shop", "--tag", "nightly"], day);
    }
    e.ok(&["ingest", "--db", "crm"], &d[0]);
    for dry in [true, false] {
        let mut args = vec!["forget", "--keep-tag", "nigthly"];
        if dry {
            args.push("--dry-run");
        }
        let o = e.run(&args, b"");
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains("--keep-tag nigthly matched no snapshot"), "{err}");
        assert!(err.contains("refusing to remove every snapshot of db crm, shop") && err.contains("Tags in use: nightly"), "{err}");
    }
    assert_eq!(ids(&e, "shop").len(), 3, "a refused policy removed snapshots");
    // A rule that matches nothing beside one that keeps something: a warning, and it runs.
    let o = e.run(&["forget", "--db", "shop", "--keep-last", "2", "--keep-tag", "nigthly"], b"");
    assert!(o.status.success() && stderr(&o).contains("--keep-tag nigthly matched no snapshot"), "{}", stderr(&o));
    assert_eq!(ids(&e, "shop").len(), 2);
    // A zero span keeps nothing: a usage error.
    let o = e.run(&["forget", "--keep-within", "0d"], b"");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Saying so explicitly removes them all.
    let o = e.run(&["forget", "--db", "crm", "--keep-tag", "none", "--allow-remove-all"], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(e.run(&["snapshots", "--db", "crm"], b"").status.code(), Some(1));
    // A typo in a database name is an error naming the databases there are.
    let o = e.run(&["forget", "--db", "shpo", "--keep-last", "1"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no snapshots of db \"shpo\"") && stderr(&o).contains("shop"), "{}", stderr(&o));
}

#[test]
fn signals_during_a_restore_kill_its_command_before_its_input_ends() {
    let e = Env::new();
    let d = &dumps(40_000, 1)[0];
    e.ok(&["ingest", "--db", "orders"], d);
    let (seed, mut rng) = seeded_rng();
    for round in 0..4u64 {
        let tok = token(round);
        let target = e.dir.path().join(format!("loaded-{round}"));
        let marker = e.dir.path().join(format!("saw-eof-{round}"));
        // The command reads slowly; it must never get to its end of input.
        let script = format!("sleep {tok}; cat > \"$0\"; echo EOF > \"$1\"");
        let mut c = e.cmd(&["restore", "latest", "--db", "orders", "--", "sh", "-c", &script]);
        c.arg(&target).arg(&marker).stdin(Stdio::null());
        let child = c.spawn().unwrap();
        let delay = 200 + rng.below(600);
        std::thread::sleep(Duration::from_millis(delay));
        let sig = if round % 2 == 0 { libc::SIGTERM } else { libc::SIGINT };
        signal(child.id(), sig);
        let o = child.wait_with_output().unwrap();
        no_panic(&o);
        assert_eq!(o.status.signal(), Some(sig), "seed {seed}: dbvault should die of the signal: {:?} {}", o.status, stderr(&o));
        assert!(eventually(Duration::from_secs(5), || processes_with(&tok).is_empty()), "seed {seed}: the restore command outlived dbvault");
        std::thread::sleep(Duration::from_millis(300));
        assert!(!marker.exists(), "seed {seed}, round {round}: the command saw a clean end of input after {delay} ms");
    }
}

#[test]
fn signals_during_an_ingest_stop_the_dump_command_and_commit_nothing() {
    let e = Env::new();
    let d = &dumps(20_000, 1)[0];
    let file = write_file(&e, "dump.sql", d);
    for round in 0..3u64 {
        let tok = token(10 + round);
        let script = format!("cat \"$0\"; sleep {tok}");
        let mut c = e.cmd(&["ingest", "--db", "shop", "--", "sh", "-c", &script]);
        c.arg(&file).stdin(Stdio::null());
        let child = c.spawn().unwrap();
        assert!(eventually(Duration::from_secs(10), || processes_with(&format!("sleep\0{tok}")).len() == 1), "the dump command did not start");
        signal(child.id(), if round == 1 { libc::SIGINT } else { libc::SIGTERM });
        let o = child.wait_with_output().unwrap();
        no_panic(&o);
        assert!(o.status.signal().is_some(), "{:?}", o.status);
        assert!(eventually(Duration::from_secs(5), || processes_with(&tok).is_empty()), "the dump command was left running as an orphan");
    }
    assert_eq!(e.run(&["snapshots", "--db", "shop"], b"").status.code(), Some(1), "an interrupted ingest committed a snapshot");
    e.ok(&["ingest", "--db", "shop"], d);
    e.ok(&["check", "--read-data"], b"");
}

#[test]
fn a_signal_during_a_restore_to_a_file_leaves_no_decrypted_temporary_file() {
    let e = Env::new();
    let mut big = Vec::new();
    for day in dumps(100_000, 3) {
        big.extend_from_slice(&day);
    }
    e.ok(&["ingest", "--db", "big"], &big);
    let dir = e.dir.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let (seed, mut rng) = seeded_rng();
    let mut interrupted = 0;
    for round in 0..8 {
        let target = dir.join(format!("r{round}.sql"));
        let mut c = e.cmd(&["restore", "latest", "--db", "big", "-o"]);
        c.arg(&target).stdin(Stdio::null());
        let child = c.spawn().unwrap();
        // Once the temporary file exists (the restore is under way), at a random moment.
        let temp_exists = || std::fs::read_dir(&dir).unwrap().flatten().any(|f| f.file_name().to_string_lossy().starts_with(".dbvault-restore-"));
        let started = Instant::now();
        while !temp_exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_micros(500));
        }
        // Some rounds strike as soon as the file appears: between its creation and its
        // registration for removal there must be no window.
        if round >= 2 {
            std::thread::sleep(Duration::from_millis(rng.below(30)));
        }
        signal(child.id(), if round % 2 == 0 { libc::SIGINT } else { libc::SIGTERM });
        let o = child.wait_with_output().unwrap();
        no_panic(&o);
        if o.status.signal().is_some() && !target.exists() {
            interrupted += 1;
        } else {
            // Finished (the signal may come after the file took its name): then it is whole.
            assert!(std::fs::read(&target).unwrap() == big, "seed {seed}: a restored file is not exact");
        }
        let temps: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().filter(|f| f.file_name().to_string_lossy().starts_with(".dbvault-restore-")).collect();
        assert!(temps.is_empty(), "seed {seed}, round {round}: decrypted temporary file left behind");
    }
    assert!(interrupted > 0, "seed {seed}: no round was interrupted mid-restore; the test proves nothing");
}

#[test]
fn signals_during_prune_and_copy_leave_both_repositories_sound() {
    let e = Env::new();
    let d = dumps(20_000, 4);
    for day in &d {
        e.ok(&["ingest", "--db", "shop"], day);
    }
    e.ok(&["forget", "--db", "shop", "--keep-last", "1"], b"");
    let (seed, mut rng) = seeded_rng();
    let child = e.cmd(&["prune", "--max-unused", "0"]).stdin(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(rng.below(400)));
    signal(child.id(), libc::SIGTERM);
    no_panic(&child.wait_with_output().unwrap());
    let dest = e.dir.path().join("offsite");
    let o = e.run(&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1", "--repo", dest.to_str().unwrap()], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let child = e.cmd(&["copy", "--to", dest.to_str().unwrap()]).stdin(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(rng.below(400)));
    signal(child.id(), libc::SIGINT);
    no_panic(&child.wait_with_output().unwrap());
    e.ok(&["prune"], b"");
    e.ok(&["check", "--read-data"], b"");
    e.ok(&["copy", "--to", dest.to_str().unwrap()], b"");
    e.ok(&["--repo", dest.to_str().unwrap(), "check", "--read-data"], b"");
    let restored = e.ok(&["--repo", dest.to_str().unwrap(), "restore", "latest", "--db", "shop"], b"");
    assert!(restored.stdout == d[3], "seed {seed}: the copy does not restore exactly");
}

#[test]
fn a_lost_pack_heals_by_repair_and_a_new_ingest() {
    let e = Env::new();
    let d = dumps(30_000, 2);
    let s0 = e.ingest("shop", &d[0])["id"].as_str().unwrap().to_string();
    let packs_before = pack_files(&e.repo());
    let s1 = e.ingest("shop", &d[1])["id"].as_str().unwrap().to_string();
    let day1_packs: Vec<PathBuf> = pack_files(&e.repo()).into_iter().filter(|p| !packs_before.contains(p)).collect();
    let other = e.ingest("other", b"other data\n")["id"].as_str().unwrap().to_string();
    // Lose day 0's packs: both days need some of them.
    for p in &packs_before {
        std::fs::remove_file(p).unwrap();
    }
    assert!(!day1_packs.is_empty());
    // prune works around the loss instead of failing forever.
    let o = e.run(&["prune"], b"");
    assert!(o.status.success(), "prune fails on a lost pack: {}", stderr(&o));
    assert_eq!(e.run(&["check"], b"").status.code(), Some(5));
    let o = e.ok(&["repair", "index"], b"");
    assert!(out(&o).contains("dropped pack") && out(&o).contains("missing"), "{}", out(&o));
    // The damaged snapshots are named (a finding: code 5); nothing is forgotten without --forget.
    let o = e.run(&["repair", "snapshots", "--json"], b"");
    assert_eq!(o.status.code(), Some(5));
    let damaged: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(damaged["damaged"].as_array().unwrap().len(), 2, "{damaged}");
    // Ingesting the same dumps again stores the lost chunks again...
    for day in &d {
        let s = e.ingest("shop", day);
        assert!(s["new_chunks"].as_u64().unwrap() > 0, "the lost chunks were not stored again: {s}");
    }
    // ...and every snapshot restores byte-identical again, the old ones included.
    for (id, data) in [(&s0, &d[0]), (&s1, &d[1])] {
        let o = e.ok(&["restore", id], b"");
        assert!(o.stdout == *data, "snapshot {id} does not restore exactly after the heal");
    }
    assert_eq!(e.ok(&["restore", &other], b"").stdout, b"other data\n");
    assert!(e.json(&["repair", "snapshots"], b"")["damaged"].as_array().unwrap().is_empty());
    e.ok(&["check", "--read-data"], b"");
    e.ok(&["prune"], b"");
    e.ok(&["check", "--read-data"], b"");
}

#[test]
fn a_damaged_pack_is_dropped_and_the_snapshots_needing_it_can_be_forgotten() {
    let e = Env::new();
    let d = dumps(20_000, 1);
    let packs_before = pack_files(&e.repo());
    let shop = e.ingest("shop", &d[0])["id"].as_str().unwrap().to_string();
    let shop_packs: Vec<PathBuf> = pack_files(&e.repo()).into_iter().filter(|p| !packs_before.contains(p)).collect();
    let keep = e.ingest("keep", b"kept\n")["id"].as_str().unwrap().to_string();
    // Flip bits in the middle of a pack: only reading its blobs finds it.
    let p = &shop_packs[0];
    let mut b = std::fs::read(p).unwrap();
    let mid = b.len() / 3;
    b[mid] ^= 0x40;
    std::fs::write(p, b).unwrap();
    let o = e.ok(&["repair", "index", "--read-data", "--json"], b"");
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["blobs_dropped"].as_u64().unwrap() >= 1, "{r}");
    let o = e.ok(&["repair", "snapshots", "--forget"], b"");
    assert!(out(&o).contains(&shop[..8]) && out(&o).contains("forgotten"), "{}", out(&o));
    assert_eq!(e.run(&["snapshots", "--db", "shop"], b"").status.code(), Some(1));
    e.ok(&["check", "--read-data"], b"");
    e.ok(&["prune"], b"");
    e.ok(&["check", "--read-data"], b"");
    assert_eq!(e.ok(&["restore", &keep], b"").stdout, b"kept\n");
}

fn pack_files(repo: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in std::fs::read_dir(repo.join("packs")).unwrap().flatten() {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            v.push(f.path());
        }
    }
    v.sort();
    v
}

#[test]
fn a_lost_or_truncated_config_is_restored_from_the_key_files() {
    let e = Env::new();
    let d = &dumps(5_000, 1)[0];
    e.ok(&["ingest", "--db", "shop"], d);
    let config = e.repo().join("config");
    let original = std::fs::read(&config).unwrap();
    for damage in ["delete", "truncate"] {
        match damage {
            "delete" => std::fs::remove_file(&config).unwrap(),
            _ => std::fs::write(&config, &original[..original.len() / 2]).unwrap(),
        }
        let o = e.run(&["snapshots"], b"");
        assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
        assert!(stderr(&o).contains("dbvault repair config"), "the error does not say the way back: {}", stderr(&o));
        // A wrong password restores nothing.
        let mut c = e.cmd(&["repair", "config"]);
        c.env("DBVAULT_PASSWORD", "wrong");
        assert_eq!(e.run_with(c, b"").status.code(), Some(3));
        let o = e.ok(&["repair", "config"], b"");
        assert!(out(&o).contains("from the copy in key"), "{}", out(&o));
        assert_eq!(std::fs::read(&config).unwrap(), original, "the restored config differs from the original");
        assert!(e.ok(&["restore", "latest", "--db", "shop"], b"").stdout == *d);
    }
    // A readable config is never replaced.
    assert_eq!(e.run(&["repair", "config"], b"").status.code(), Some(1));
}

#[test]
fn a_manifest_deleted_by_hand_comes_back_or_is_reported_while_a_forgotten_one_is_not() {
    let e = Env::new();
    let d = dumps(3_000, 4);
    let ids: Vec<String> = d.iter().map(|day| e.ingest("shop", day)["id"].as_str().unwrap().to_string()).collect();
    e.ok(&["forget", &ids[0]], b"");
    e.ok(&["check"], b"");
    // Deleted by hand: this machine's index still holds it, and writes it back.
    let gone = e.repo().join("snapshots").join(&ids[1]);
    std::fs::remove_file(&gone).unwrap();
    let o = e.ok(&["snapshots"], b"");
    assert!(stderr(&o).contains("without `dbvault forget`") && stderr(&o).contains("written back"), "{}", stderr(&o));
    assert!(gone.exists());
    e.ok(&["check", "--read-data"], b"");
    // Even `repair index`, which deletes the local index, writes back what only it still holds.
    std::fs::remove_file(&gone).unwrap();
    let o = e.ok(&["repair", "index"], b"");
    assert!(out(&o).contains("written back") && gone.exists(), "{}", out(&o));
    assert!(e.ok(&["restore", &ids[1]], b"").stdout == d[1]);
    // A client without a copy: the broken lineage is reported, and can be recorded as forgotten.
    std::fs::remove_file(&gone).unwrap();
    std::fs::remove_dir_all(e.repo().join("local")).unwrap();
    let o = e.run(&["check", "--read-data"], b"");
    assert_eq!(o.status.code(), Some(5), "{}", out(&o));
    assert!(out(&o).contains(&format!("names parent {}", &ids[1][..8])) && out(&o).contains("not forgotten"), "{}", out(&o));
    assert_eq!(e.run(&["repair", "snapshots"], b"").status.code(), Some(5));
    e.ok(&["repair", "snapshots", "--forget"], b"");
    e.ok(&["check", "--read-data"], b"");
    for (id, day) in ids.iter().zip(&d).skip(2) {
        assert!(e.ok(&["restore", id], b"").stdout == *day);
    }
}

#[test]
fn a_damaged_manifest_survives_repair_index_run_first() {
    let e = Env::new();
    let d = dumps(2_000, 2);
    let id = e.ingest("shop", &d[0])["id"].as_str().unwrap().to_string();
    e.ingest("shop", &d[1]);
    let file = e.repo().join("snapshots").join(&id);
    flip_a_middle_bit(&file);
    e.ok(&["repair", "index"], b"");
    e.ok(&["check", "--read-data"], b"");
    assert!(e.ok(&["restore", &id], b"").stdout == d[0]);
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[test]
fn secrets_on_command_lines_never_reach_a_manifest_an_output_a_copy_or_a_child() {
    let e = Env::new();
    let d = &dumps(2_000, 1)[0];
    let file = write_file(&e, "dump.sql", d);
    let env_dump = e.dir.path().join("dump-env");
    let script = "cat \"$0\"; echo 'pg_dump: connecting to postgresql://u:SECRET1@db/shop password=SECRET2' >&2; env > \"$1\"";
    let mut c = e.cmd(&["ingest", "--db", "shop", "--", "sh", "-c", script]);
    c.arg(&file).arg(&env_dump).arg("--password=SECRET3").arg("postgresql://u:SECRET4@h/db");
    let o = e.run_with(c, b"");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut seen = format!("{}{}", out(&o), stderr(&o));
    let env_text = std::fs::read_to_string(&env_dump).unwrap();
    assert!(!env_text.contains("DBVAULT_PASSWORD"), "the dump command inherited the repository password");
    // A failing command's error message.
    let mut c = e.cmd(&["ingest", "--db", "shop", "--", "sh", "-c", "echo 'token=SECRET5' >&2; exit 3; mysqldump \"$@\""]);
    c.arg("x").arg("-pSECRET6");
    let o = e.run_with(c, b"");
    assert_eq!(o.status.code(), Some(7));
    seen += &stderr(&o);
    // A jobs file's string command.
    let jobs = write_file(&e, "jobs.toml", format!("[[job]]\ndb = \"crm\"\ncommand = \"MYSQL_PWD=SECRET7 cat {} # --password SECRET8\"\n", file.display()).as_bytes());
    let o = e.run(&["ingest", "--jobs", jobs.to_str().unwrap(), "--json"], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    seen += &format!("{}{}", out(&o), stderr(&o));
    for args in [&["snapshots", "--json"][..], &["show", "latest", "--db", "shop", "--json"], &["show", "latest", "--db", "shop"], &["log", "--db", "crm"]] {
        seen += &out(&e.ok(args, b""));
    }
    let dest = e.dir.path().join("copy");
    e.ok(&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1", "--repo", dest.to_str().unwrap()], b"");
    e.ok(&["copy", "--to", dest.to_str().unwrap()], b"");
    seen += &out(&e.ok(&["--repo", dest.to_str().unwrap(), "snapshots", "--json"], b""));
    // URLs whose passwords hold #, ? and /, and a remote command line.
    for (db, args) in [("u1", vec!["pg_dump", "postgresql://u:SECRET9#b?x@h/shop"]), ("u2", vec!["ssh", "db1", "PGPASSWORD=SECRET10 pg_dump -d shop"])] {
        let mut c = e.cmd(&["ingest", "--db", db, "--", "sh", "-c", "cat \"$0\"", file.to_str().unwrap()]);
        c.args(&args);
        assert!(e.run_with(c, b"").status.success());
        seen += &out(&e.ok(&["show", "latest", "--db", db], b""));
    }
    assert!(seen.contains("pg_dump -d shop"), "redaction removed the database name:\n{seen}");
    for n in 1..=10 {
        assert!(!seen.contains(&format!("SECRET{n}")), "SECRET{n} leaked:\n{seen}");
    }
    assert!(seen.contains("postgresql://u:***@h/db") && seen.contains("--password=***"), "redaction lost the rest of the command line:\n{seen}");
    // Neither a restore's command nor the shell of a jobs file inherits the password.
    let env_restore = e.dir.path().join("restore-env");
    let mut c = e.cmd(&["restore", "latest", "--db", "shop", "--", "sh", "-c", "env > \"$0\"; cat > /dev/null"]);
    c.arg(&env_restore);
    assert!(e.run_with(c, b"").status.success());
    assert!(!std::fs::read_to_string(&env_restore).unwrap().contains("DBVAULT_PASSWORD"));
    // The repository holds no secret in any file either (manifests are sealed, but a key's
    // holder must not find them inside).
    let o = e.ok(&["restore", "latest", "--db", "crm"], b"");
    assert!(o.stdout == *d);
}

#[test]
fn restore_never_replaces_a_device_a_symlink_or_a_folder() {
    let e = Env::new();
    let d = &dumps(1_000, 1)[0];
    e.ok(&["ingest", "--db", "shop"], d);
    let restore_to = |path: &Path, force: bool| {
        let mut args = vec!["restore", "latest", "--db", "shop", "-o", path.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        e.run(&args, b"")
    };
    // A device.
    let o = restore_to(Path::new("/dev/null"), true);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is a device"), "{}", stderr(&o));
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device_like());
    // A symlink to a file, with --force: neither the link nor its target is touched.
    let real = write_file(&e, "real.sql", b"keep me");
    let link = e.dir.path().join("link.sql");
    symlink(&real, &link).unwrap();
    let o = restore_to(&link, true);
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&real).unwrap(), b"keep me");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    // A dangling symlink, without --force.
    let dangling = e.dir.path().join("dangling.sql");
    symlink(e.dir.path().join("nowhere"), &dangling).unwrap();
    let o = restore_to(&dangling, false);
    assert_eq!(o.status.code(), Some(1));
    assert!(!e.dir.path().join("nowhere").exists() && std::fs::symlink_metadata(&dangling).unwrap().file_type().is_symlink());
    // A folder.
    assert!(stderr(&restore_to(e.dir.path(), true)).contains("is a folder"));
    // `-o -` is standard output, not a file named `-`.
    let mut c = e.cmd(&["restore", "latest", "--db", "shop", "-o", "-"]);
    c.current_dir(e.dir.path());
    let o = e.run_with(c, b"");
    assert!(o.status.success() && o.stdout == *d);
    assert!(!e.dir.path().join("-").exists());
    // --force keeps a replaced file's mode; a new file follows the umask.
    let existing = write_file(&e, "existing.sql", b"old");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(restore_to(&existing, true).status.success());
    assert_eq!(std::fs::metadata(&existing).unwrap().permissions().mode() & 0o777, 0o640);
    assert!(std::fs::read(&existing).unwrap() == *d);
    let fresh = e.dir.path().join("fresh.sql");
    let mut c = Command::new("sh");
    c.args(["-c", "umask 027; exec \"$0\" \"$@\""]).arg(BIN).args(["restore", "latest", "--db", "shop", "-o"]).arg(&fresh);
    c.env("DBVAULT_REPOSITORY", e.repo()).env("DBVAULT_PASSWORD", "pw");
    assert!(c.output().unwrap().status.success());
    assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o640);
}

trait CharDevice {
    fn is_char_device_like(&self) -> bool;
}

impl CharDevice for std::fs::FileType {
    fn is_char_device_like(&self) -> bool {
        std::os::unix::fs::FileTypeExt::is_char_device(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Hangs, crashes and wrong answers

#[test]
fn a_jobs_file_mixing_refused_and_failing_jobs_never_hangs() {
    let e = Env::new();
    let tok = token(99);
    // A refused name is refused before any job starts: nothing runs, nothing is left behind.
    let jobs = write_file(&e, "bad.toml", format!("[[job]]\ndb = \"a\\nb\"\ncommand = \"yes | head -c 50000000; sleep {tok}\"\n[[job]]\ndb = \"ok\"\ncommand = \"sleep {tok}\"\n").as_bytes());
    let start = Instant::now();
    let o = e.run(&["ingest", "--jobs", jobs.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("control character"), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(processes_with(&tok).is_empty());
    // Failing and big jobs side by side finish, whatever the order.
    let jobs = write_file(
        &e,
        "mixed.toml",
        b"[[job]]\ndb = \"big\"\ncommand = \"yes 'INSERT INTO t VALUES (1);' | head -c 20000000\"\n[[job]]\ndb = \"fails\"\ncommand = [\"false\"]\n[[job]]\ndb = \"dies\"\ncommand = \"yes | head -c 3000000; kill -9 $$\"\n",
    );
    for parallel in ["1", "3"] {
        let mut c = e.cmd(&["ingest", "--jobs", jobs.to_str().unwrap(), "--parallel", parallel]);
        c.stdin(Stdio::null());
        let mut child = c.spawn().unwrap();
        let finished = eventually(Duration::from_secs(120), || child.try_wait().unwrap().is_some());
        if !finished {
            let _ = child.kill();
        }
        assert!(finished, "ingest --jobs hung");
        assert_eq!(child.wait().unwrap().code(), Some(9));
    }
}

/// Run `args` with standard output closed before dbvault writes to it.
fn with_closed_stdout(e: &Env, args: &[&str], input: &[u8]) -> Output {
    let mut c = e.cmd(args);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    c.stdout(writer);
    run_piped(c, input)
}

#[test]
fn closed_pipes_end_quietly_and_full_disks_fail_clearly() {
    let e = Env::new();
    let d = dumps(3_000, 2);
    let a = e.ingest("shop", &d[0])["id"].as_str().unwrap().to_string();
    let b = e.ingest("shop", &d[1])["id"].as_str().unwrap().to_string();
    let listings: Vec<Vec<&str>> = vec![
        vec!["snapshots"],
        vec!["snapshots", "--json"],
        vec!["log", "--db", "shop"],
        vec!["show", &b],
        vec!["diff", &a, &b],
        vec!["stats"],
        vec!["check"],
        vec!["key", "list"],
        vec!["forget", "--keep-last", "5", "--dry-run"],
        vec!["prune", "--dry-run"],
    ];
    for args in &listings {
        let o = with_closed_stdout(&e, args, b"");
        no_panic(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?} into a closed pipe: {}", stderr(&o));
        let mut c = e.cmd(args);
        c.stdout(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
        let o = e.run_with(c, b"");
        no_panic(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?} onto a full disk: {}", stderr(&o));
        assert!(stderr(&o).contains("writing to standard output") && stderr(&o).contains("No space left"), "{}", stderr(&o));
    }
    // An ingest whose summary nobody reads still committed: success.
    let o = with_closed_stdout(&e, &["ingest", "--db", "piped"], &d[0]);
    no_panic(&o);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(ids(&e, "piped").len(), 1);
    // A dump nobody reads to the end was not delivered: the consumer's failure, code 7.
    let o = with_closed_stdout(&e, &["restore", &b], b"");
    no_panic(&o);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    // A restore command that exits 0 without reading its input failed too.
    let o = e.run(&["restore", &b, "--", "true"], b"");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
}

#[test]
fn restores_say_what_they_restore() {
    let e = Env::new();
    let d = dumps(2_000, 1);
    e.ingest("shop", &d[0]);
    let mut cut = d[0].clone();
    cut.truncate(cut.len() / 2);
    e.ok(&["ingest", "--db", "crm", "--allow-incomplete"], &cut);
    // `latest` of which database?
    let o = e.run(&["restore", "latest"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("crm, shop") && stderr(&o).contains("--db"), "{}", stderr(&o));
    // An incomplete snapshot restores with a warning, never as if it were whole.
    let o = e.ok(&["restore", "latest", "--db", "crm"], b"");
    assert!(o.stdout == cut);
    assert!(stderr(&o).contains("INCOMPLETE"), "{}", stderr(&o));
    let target = e.dir.path().join("crm.sql");
    let o = e.ok(&["restore", "latest", "--db", "crm", "-o", target.to_str().unwrap(), "--json"], b"");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["incomplete"], true);
}

#[test]
fn a_read_only_repository_can_be_listed_checked_and_restored() {
    let e = Env::new();
    let d = &dumps(5_000, 1)[0];
    e.ok(&["ingest", "--db", "shop"], d);
    let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    let ro = e.dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard;
    if is_root {
        // Root ignores permissions: only a read-only mount stops it.
        let m = Command::new("mount").arg("--bind").arg(e.repo()).arg(&ro).output().unwrap();
        assert!(m.status.success(), "bind mount failed: {}", String::from_utf8_lossy(&m.stderr));
        _guard = Unmount(ro.clone());
        let r = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&ro).output().unwrap();
        assert!(r.status.success(), "read-only remount failed: {}", String::from_utf8_lossy(&r.stderr));
    } else {
        std::fs::remove_dir(&ro).unwrap();
        Command::new("cp").arg("-a").arg(e.repo()).arg(&ro).status().unwrap();
        Command::new("chmod").args(["-R", "a-w"]).arg(&ro).status().unwrap();
    }
    assert!(std::fs::write(ro.join("probe"), b"x").is_err(), "the repository copy is writable");
    let cache = e.dir.path().join("cache");
    let run = |args: &[&str]| {
        let mut c = e.cmd(args);
        c.env("DBVAULT_REPOSITORY", &ro).env("DBVAULT_CACHE_DIR", &cache);
        e.run_with(c, b"")
    };
    for args in [&["snapshots"][..], &["check", "--read-data"], &["log", "--db", "shop"]] {
        let o = run(args);
        assert!(o.status.success(), "{args:?} on a read-only repository: {}", stderr(&o));
    }
    let o = run(&["restore", "latest", "--db", "shop"]);
    assert!(o.status.success() && o.stdout == *d, "{}", stderr(&o));
    // Changing it fails clearly and changes nothing.
    let o = run(&["ingest", "--db", "new"]);
    no_panic(&o);
    assert!(!o.status.success());
    if is_root {
        // A manifest that vanishes from under a read-only mount cannot be written back: the
        // commands still work, the index keeps its copy, and the warning says so.
        let manifest = std::fs::read_dir(e.repo().join("snapshots")).unwrap().flatten().next().unwrap().path();
        std::fs::remove_file(&manifest).unwrap();
        let o = run(&["snapshots"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("writing it back from this machine's index failed"), "{}", stderr(&o));
        let o = run(&["restore", "latest", "--db", "shop"]);
        assert!(o.status.success() && o.stdout == *d, "{}", stderr(&o));
    } else {
        Command::new("chmod").args(["-R", "u+w"]).arg(&ro).status().unwrap();
    }
}

#[test]
fn exit_codes_and_json_errors_are_as_documented() {
    let e = Env::new();
    e.ingest("shop", b"-- a dump\n");
    // Usage errors of dbvault's own are code 2, like clap's.
    for args in [&["prune", "--max-unused", "200"][..], &["prune", "--max-unused", "-1"], &["prune", "--max-unused", "nan"], &["check", "--read-data-subset", "9/7"], &["ingest", "--parallel", "2", "--db", "x"], &["forget", "--keep-within", "-3d"]] {
        let o = e.run(args, b"");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    // --json prints one JSON document on errors too.
    let o = e.run(&["snapshots", "--db", "nope", "--json"], b"");
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("not JSON: {}", out(&o)));
    assert_eq!((v["ok"].as_bool(), v["exit_code"].as_u64()), (Some(false), Some(1)));
    assert!(v["error"].as_str().unwrap().contains("shop"));
    let o = e.run(&["snapshots", "--bogus", "--json"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(serde_json::from_slice::<Value>(&o.stdout).unwrap()["exit_code"], 2);
    // `log` and `snapshots` agree about a database that has no snapshots.
    assert_eq!(e.run(&["log", "--db", "nope"], b"").status.code(), Some(1));
    assert_eq!(e.run(&["snapshots", "--db", "nope"], b"").status.code(), Some(1));
}

#[test]
fn names_that_could_be_mistaken_for_others_are_refused() {
    let e = Env::new();
    let long = "h".repeat(10_000);
    for args in [
        &["ingest", "--db", "sh\u{200B}op"][..],
        &["ingest", "--db", "\u{202E}pohs"],
        &["ingest", "--db", "shop", "--tag", "a\nb"],
        &["ingest", "--db", "shop", "--tag", "\u{1b}[31mred"],
        &["ingest", "--db", "shop", "--tag", ""],
        &["ingest", "--db", "shop", "--host", &long],
        &["ingest", "--db", "a\u{00A0}b"],
        &["ingest", "--db", "a\u{2028}b"],
        &["ingest", "--db", "\u{0301}"],
        &["forget", "--keep-tag", "x\u{1b}[2J\nFAKE"],
    ] {
        let o = e.run(args, b"-- a dump\n");
        assert_eq!(o.status.code(), Some(2), "{args:?} accepted: {}", stderr(&o));
        assert!(!stderr(&o).contains('\u{1b}'), "an escape sequence reached the terminal: {:?}", stderr(&o));
    }
    // Look-alikes of an existing database, by script or by normal form.
    e.ok(&["ingest", "--db", "shop"], b"-- a dump\n");
    for look_alike in ["sh\u{043E}p", "\u{0455}\u{04BB}\u{043E}\u{0440}", "\u{FF53}hop"] {
        let o = e.run(&["ingest", "--db", look_alike], b"-- a dump\n");
        assert!(matches!(o.status.code(), Some(1 | 2)), "{look_alike:?} accepted: {}", stderr(&o));
    }
    e.ok(&["ingest", "--db", "shop2"], b"-- a dump\n");
    // Refused before the dump command starts.
    let tok = token(42);
    let o = e.run(&["ingest", "--db", "bad\tname", "--", "sleep", &tok], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(processes_with(&tok).is_empty());
    assert_eq!(e.run(&["snapshots"], b"").status.code(), Some(0));
    // Error output shown later never carries raw escape sequences to the terminal.
    e.ok(&["ingest", "--db", "esc", "--", "sh", "-c", "printf '\\033]0;pwned\\007\\033[2Jred\\n' >&2; echo '-- a dump'"], b"");
    let o = e.ok(&["show", "latest", "--db", "esc"], b"");
    assert!(!out(&o).contains('\u{1b}') && out(&o).contains("\\u{1b}"), "{:?}", out(&o));
}

#[test]
fn password_sources_agree_and_a_damaged_key_is_not_a_wrong_password() {
    let e = Env::new();
    e.ingest("shop", b"-- a dump\n");
    // A password command's first line is the password, as a password file's is.
    let mut c = e.cmd(&["snapshots"]);
    c.env_remove("DBVAULT_PASSWORD").env("DBVAULT_PASSWORD_COMMAND", "printf 'pw\\nsecond line\\n'");
    assert!(e.run_with(c, b"").status.success());
    // Every key file damaged: said so, not "wrong password".
    for k in std::fs::read_dir(e.repo().join("keys")).unwrap().flatten() {
        std::fs::write(k.path(), b"{ not json").unwrap();
    }
    let o = e.run(&["snapshots"], b"");
    assert_ne!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    let mut buf = String::new();
    std::io::Cursor::new(o.stderr).read_to_string(&mut buf).unwrap();
    assert!(!buf.contains("wrong password"));
}

// ---------------------------------------------------------------------------------------------
// Found by a hostile session on this suite's first version

#[test]
fn a_dump_tool_printing_megabytes_on_one_line_still_makes_a_readable_snapshot() {
    let e = Env::new();
    let d = &dumps(2_000, 1)[0];
    let file = write_file(&e, "dump.sql", d);
    let mut c = e.cmd(&["ingest", "--db", "loud", "--", "sh", "-c", "head -c 17000000 /dev/zero | tr '\\0' e >&2; cat \"$0\""]);
    c.arg(&file);
    let o = e.run_with(c, b"");
    assert!(o.status.success(), "{}", &stderr(&o)[stderr(&o).len().saturating_sub(500)..]);
    let s = e.json(&["snapshots", "--db", "loud"], b"");
    let tail = s[0]["source"]["stderr_tail"][0].as_str().unwrap();
    assert!(tail.len() <= 1000 && tail.ends_with("..."), "the kept line is not bounded: {} bytes", tail.len());
    assert!(e.ok(&["restore", "latest", "--db", "loud"], b"").stdout == *d);
    e.ok(&["check"], b"");
}

#[test]
fn a_damaged_manifest_is_reported_written_back_and_holds_prune_off_its_data() {
    let e = Env::new();
    let d = dumps(3_000, 2);
    let shop = e.ingest("shop", &d[0])["id"].as_str().unwrap().to_string();
    e.ingest("crm", &d[1]);
    let file = e.repo().join("snapshots").join(&shop);
    flip_a_middle_bit(&file);
    // The local index still holds an intact copy, but a new client would not: check says so.
    let o = e.run(&["check"], b"");
    assert_eq!(o.status.code(), Some(5), "{}", out(&o));
    assert!(out(&o).contains("manifest is damaged") && out(&o).contains("repair snapshots"), "{}", out(&o));
    // Prune would free the snapshot's data: it waits.
    let o = e.run(&["prune"], b"");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("repair snapshots"), "{}", stderr(&o));
    let r = e.json(&["repair", "snapshots"], b"");
    assert_eq!(r["manifests_restored"][0].as_str().unwrap(), shop, "{r}");
    e.ok(&["check", "--read-data"], b"");
    e.ok(&["prune"], b"");
    // A fresh client (no local index) restores it.
    std::fs::remove_dir_all(e.repo().join("local")).unwrap();
    assert!(e.ok(&["restore", &shop], b"").stdout == d[0]);
}

#[test]
fn after_a_repair_prune_keeps_the_bases_of_the_deltas_it_keeps() {
    let e = Env::new();
    let d = dumps(5_000, 4);
    for day in &d {
        e.ok(&["ingest", "--db", "shop", "--tag", "daily"], day);
    }
    e.ok(&["ingest", "--db", "crm"], &d[0]);
    let mut packs = pack_files(&e.repo());
    packs.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    let mut b = std::fs::read(&packs[0]).unwrap();
    let at = 40_000.min(b.len() / 2);
    b[at..at + 8].copy_from_slice(b"XXXXXXXX");
    std::fs::write(&packs[0], b).unwrap();
    e.ok(&["repair", "index", "--read-data"], b"");
    e.ok(&["ingest", "--db", "shop"], &d[0]);
    e.ok(&["prune"], b"");
    e.ok(&["repair", "snapshots", "--forget"], b"");
    e.ok(&["prune"], b"");
    // Every indexed delta can still be rebuilt, used or not: a later ingest may deduplicate
    // against any of them.
    let o = e.run(&["check", "--read-data"], b"");
    assert!(o.status.success(), "{}", out(&o));
    for day in &d {
        e.ok(&["ingest", "--db", "again"], day);
        assert!(e.ok(&["restore", "latest", "--db", "again"], b"").stdout == *day);
    }
}

#[test]
fn a_config_with_flipped_bits_is_repaired_from_the_key_files() {
    let e = Env::new();
    let d = &dumps(1_000, 1)[0];
    e.ok(&["ingest", "--db", "shop"], d);
    let config = e.repo().join("config");
    let original = std::fs::read(&config).unwrap();
    let mut b = original.clone();
    let at = b.len() - 5;
    b[at] ^= 1;
    std::fs::write(&config, b).unwrap();
    let o = e.run(&["snapshots"], b"");
    assert_eq!(o.status.code(), Some(5));
    assert!(stderr(&o).contains("dbvault repair config"), "{}", stderr(&o));
    e.ok(&["repair", "config"], b"");
    assert_eq!(std::fs::read(&config).unwrap(), original);
    assert!(e.ok(&["restore", "latest", "--db", "shop"], b"").stdout == *d);
    // A flip inside the repository id, or another repository's config: the same way back.
    let other = Env::new();
    for damaged in [{ let mut b = original.clone(); b[50] ^= 1; b }, std::fs::read(other.repo().join("config")).unwrap()] {
        std::fs::write(&config, damaged).unwrap();
        let o = e.run(&["snapshots", "--json"], b"");
        assert_eq!(o.status.code(), Some(5));
        assert!(stderr(&o).contains("dbvault repair config"), "{}", stderr(&o));
        e.ok(&["repair", "config"], b"");
        assert_eq!(std::fs::read(&config).unwrap(), original);
    }
}
