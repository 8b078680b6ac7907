//! The promises of SPEC.md and SAFETY.md under torture: corruption of every kind of object,
//! SIGKILL at random moments, a full disk. Whatever happens, dbvault never panics, never returns
//! wrong bytes, names what is damaged, and keeps every snapshot that does not depend on it.
//!
//! `DBVAULT_TORTURE_ROUNDS=N` sets the number of kill rounds (default 6; the long run uses 50+).

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn files_under(dir: &Path) -> HashSet<PathBuf> {
    let mut out = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() { stack.push(e.path()) } else { out.insert(e.path()); }
        }
    }
    out
}

fn no_panic(o: &Output) {
    assert_ne!(o.status.code(), Some(101), "dbvault panicked: {}", stderr(o));
    assert!(!stderr(o).contains("panicked"), "dbvault panicked: {}", stderr(o));
}

/// Restore `id`: either the exact bytes, or a failure; never different bytes.
fn restore_is_exact_or_fails(e: &Env, id: &str, expected: &[u8]) -> bool {
    let o = e.run(&["restore", id], b"");
    no_panic(&o);
    if o.status.success() {
        assert!(o.stdout == expected, "restore of {id} succeeded with WRONG bytes");
        true
    } else {
        assert!(matches!(o.status.code(), Some(1 | 3 | 5)), "unexpected exit code {:?}: {}", o.status.code(), stderr(&o));
        false
    }
}

/// A repository with two independent databases: `shop` (two daily dumps) and `other` (noise),
/// and which files each ingest created.
struct Fixture {
    e: Env,
    shop: Vec<(String, Vec<u8>)>,
    other: (String, Vec<u8>),
    shop_packs: Vec<PathBuf>,
    shop_segments: Vec<PathBuf>,
    other_packs: Vec<PathBuf>,
}

fn fixture() -> Fixture {
    let e = Env::new();
    let d = dumps(30_000, 2);
    let before = files_under(&e.repo());
    let s0 = e.ingest("shop", &d[0]);
    let s1 = e.ingest("shop", &d[1]);
    let mid = files_under(&e.repo());
    let mut noise = vec![0u8; 600_000];
    let mut x = 0x1234_5678_9abc_def0u64;
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let o = e.ingest("other", &noise);
    let after = files_under(&e.repo());
    let new_in = |a: &HashSet<PathBuf>, b: &HashSet<PathBuf>, dir: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = b.difference(a).filter(|p| p.starts_with(e.repo().join(dir))).cloned().collect();
        v.sort();
        v
    };
    let f = Fixture {
        shop_packs: new_in(&before, &mid, "packs"),
        shop_segments: new_in(&before, &mid, "index"),
        other_packs: new_in(&mid, &after, "packs"),
        shop: vec![(s0["id"].as_str().unwrap().into(), d[0].clone()), (s1["id"].as_str().unwrap().into(), d[1].clone())],
        other: (o["id"].as_str().unwrap().into(), noise),
        e,
    };
    assert!(!f.shop_packs.is_empty() && !f.other_packs.is_empty() && !f.shop_segments.is_empty());
    f
}

impl Fixture {
    fn check(&self, args: &[&str]) -> Output {
        let mut a = vec!["check"];
        a.extend_from_slice(args);
        let o = self.e.run(&a, b"");
        no_panic(&o);
        o
    }

    fn check_finds(&self, args: &[&str], names: &[&str]) {
        let o = self.check(args);
        let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_eq!(o.status.code(), Some(5), "check did not fail: {out}");
        for n in names {
            assert!(out.contains(n), "check output does not name {n:?}: {out}");
        }
    }

    fn other_still_restores(&self) {
        assert!(restore_is_exact_or_fails(&self.e, &self.other.0, &self.other.1), "an undamaged snapshot no longer restores");
    }

    fn shop_never_wrong(&self) -> usize {
        self.shop.iter().filter(|(id, data)| restore_is_exact_or_fails(&self.e, id, data)).count()
    }
}

fn rel(f: &Fixture, p: &Path) -> String {
    p.strip_prefix(f.e.repo()).unwrap().display().to_string()
}

#[test]
fn flipped_bits_in_a_pack() {
    let f = fixture();
    let pack = &f.shop_packs[0];
    let mut b = std::fs::read(pack).unwrap();
    for i in 0..8 {
        let at = 8 + (b.len() - 20) * (2 * i + 1) / 16;
        b[at] ^= 1 << i;
    }
    std::fs::write(pack, b).unwrap();
    f.check_finds(&["--read-data"], &[&rel(&f, pack), "of db shop", "unreadable"]);
    assert!(f.shop_never_wrong() < 2);
    f.other_still_restores();
}

#[test]
fn a_truncated_pack() {
    let f = fixture();
    let pack = &f.shop_packs[0];
    let len = std::fs::metadata(pack).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(pack).unwrap().set_len(len / 2).unwrap();
    f.check_finds(&[], &[&rel(&f, pack), "of db shop", "missing"]);
    assert!(f.shop_never_wrong() < 2, "half a pack is gone, yet every shop snapshot restored");
    f.other_still_restores();
}

#[test]
fn a_deleted_pack() {
    let f = fixture();
    let pack = &f.shop_packs[0];
    std::fs::remove_file(pack).unwrap();
    f.check_finds(&[], &[&rel(&f, pack), "pack is missing", "of db shop"]);
    // The damaged pack may hold chunks of one day only; the other day may restore (exactly).
    assert!(f.shop_never_wrong() < 2, "a damaged pack went unnoticed by every shop snapshot");
    f.other_still_restores();
}

#[test]
fn a_pack_swapped_for_another_packs_bytes() {
    let f = fixture();
    std::fs::copy(&f.other_packs[0], &f.shop_packs[0]).unwrap();
    f.check_finds(&["--read-data"], &[&rel(&f, &f.shop_packs[0]), "of db shop"]);
    // The damaged pack may hold chunks of one day only; the other day may restore (exactly).
    assert!(f.shop_never_wrong() < 2, "a damaged pack went unnoticed by every shop snapshot");
    f.other_still_restores();
}

#[test]
fn a_deleted_index_segment_is_recovered_from_pack_headers() {
    let f = fixture();
    let seg = &f.shop_segments[0];
    std::fs::remove_file(seg).unwrap();
    // The local index still knows the blobs; a fresh client would not: drop the local index too.
    std::fs::remove_dir_all(f.e.repo().join("local/index.rocksdb")).unwrap();
    f.check_finds(&[], &["of db shop", "not in the index"]);
    f.shop_never_wrong();
    f.other_still_restores();
    let o = f.e.ok(&["repair", "index"], b"");
    assert!(String::from_utf8_lossy(&o.stdout).contains("recovered from their headers"));
    assert!(f.check(&["--read-data"]).status.success(), "check fails after repair index");
    assert_eq!(f.shop_never_wrong(), 2, "repair index did not bring the snapshots back");
}

#[test]
fn a_deleted_or_garbled_local_index_rebuilds_itself() {
    let f = fixture();
    std::fs::remove_dir_all(f.e.repo().join("local")).unwrap();
    assert!(f.check(&[]).status.success());
    assert_eq!(f.shop_never_wrong(), 2);
    // Garble every RocksDB file.
    for p in files_under(&f.e.repo().join("local/index.rocksdb")) {
        std::fs::write(&p, b"garbage").unwrap();
    }
    let o = f.check(&["--read-data"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("rebuilt"), "the rebuild is not reported: {}", stderr(&o));
    assert_eq!(f.shop_never_wrong(), 2);
    f.other_still_restores();
}

#[test]
fn a_garbled_manifest() {
    let f = fixture();
    let victim = f.e.repo().join("snapshots").join(&f.shop[1].0);
    let mut b = std::fs::read(&victim).unwrap();
    let n = b.len();
    b[n / 2] ^= 0x20;
    std::fs::write(&victim, b).unwrap();
    std::fs::remove_dir_all(f.e.repo().join("local")).unwrap();
    f.check_finds(&[], &[&format!("snapshots/{}", f.shop[1].0), "damaged"]);
    assert!(restore_is_exact_or_fails(&f.e, &f.shop[0].0, &f.shop[0].1), "the other shop snapshot must still restore");
    f.other_still_restores();
}

#[test]
fn a_garbled_config_or_key_file() {
    let f = fixture();
    let config = f.e.repo().join("config");
    let good = std::fs::read(&config).unwrap();
    let mut bad = good.clone();
    bad[40] ^= 1;
    std::fs::write(&config, &bad).unwrap();
    let o = f.e.run(&["snapshots"], b"");
    no_panic(&o);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("config"), "{}", stderr(&o));
    std::fs::write(&config, b"garbage").unwrap();
    let o = f.e.run(&["snapshots"], b"");
    no_panic(&o);
    assert!(!o.status.success() && stderr(&o).contains("config"), "{}", stderr(&o));
    std::fs::write(&config, &good).unwrap();

    // A second key keeps the repository open when the first key file is garbled.
    let pw2 = f.e.dir.path().join("pw2");
    std::fs::write(&pw2, "second").unwrap();
    f.e.ok(&["key", "add", "--new-password-file", pw2.to_str().unwrap(), "--kdf-memory-kib", "64", "--kdf-iterations", "1"], b"");
    let keys: Vec<Value> = f.e.json(&["key", "list"], b"").as_array().unwrap().clone();
    let first = keys.iter().find(|k| k["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
    std::fs::write(f.e.repo().join("keys").join(&first), b"{ not json").unwrap();
    let o = f.e.run(&["snapshots"], b"");
    no_panic(&o);
    assert_eq!(o.status.code(), Some(3), "the old password no longer opens anything: {}", stderr(&o));
    let mut c = f.e.cmd(&["restore", &f.shop[0].0]);
    c.env("DBVAULT_PASSWORD", "second");
    let o = f.e.run_with(c, b"");
    assert!(o.status.success() && o.stdout == f.shop[0].1, "the second key must still open the repository: {}", stderr(&o));
}

#[test]
fn keys_can_be_added_removed_and_changed_without_touching_data() {
    let e = Env::new();
    let d = &dumps(5_000, 1)[0];
    e.ingest("shop", d);
    let data_before: Vec<_> = files_under(&e.repo().join("packs")).into_iter().collect();
    let new = e.dir.path().join("new");
    std::fs::write(&new, "new password\n").unwrap();
    let fast = ["--kdf-memory-kib", "64", "--kdf-iterations", "1"];
    let list = |e: &Env| e.json(&["key", "list"], b"").as_array().unwrap().len();
    // The last key cannot be removed.
    let only = e.json(&["key", "list"], b"")[0]["id"].as_str().unwrap().to_string();
    let o = e.run(&["key", "remove", &only[..8]], b"");
    assert!(!o.status.success() && stderr(&o).contains("last key"), "{}", stderr(&o));
    e.ok(&[&["key", "add", "--new-password-file", new.to_str().unwrap()][..], &fast].concat(), b"");
    assert_eq!(list(&e), 2);
    // The key in use cannot be removed; the other one can.
    let o = e.run(&["key", "remove", &only[..8]], b"");
    assert!(!o.status.success() && stderr(&o).contains("passwd"), "{}", stderr(&o));
    // passwd: the new password works, the old one does not, data files are untouched.
    let mut c = e.cmd(&[&["key", "passwd"][..], &fast].concat());
    c.env("DBVAULT_NEW_PASSWORD", "third");
    assert!(e.run_with(c, b"").status.success());
    assert_eq!(list_with(&e, "third"), 2);
    assert_eq!(e.run(&["snapshots"], b"").status.code(), Some(3), "the old password still works after passwd");
    let mut c = e.cmd(&["restore", "latest"]);
    c.env("DBVAULT_PASSWORD", "new password");
    assert!(e.run_with(c, b"").stdout == *d);
    let data_after: Vec<_> = files_under(&e.repo().join("packs")).into_iter().collect();
    assert_eq!(data_before.len(), data_after.len());
    for p in &data_before {
        assert!(data_after.contains(p), "changing a passphrase touched {}", p.display());
    }
    let _ = list;
}

fn list_with(e: &Env, pw: &str) -> usize {
    let mut c = e.cmd(&["--json", "key", "list"]);
    c.env("DBVAULT_PASSWORD", pw);
    let o = e.run_with(c, b"");
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout).unwrap().as_array().unwrap().len()
}

/// SIGKILL ingests at random moments; after each, check passes, every committed snapshot restores
/// byte-identical, and the next ingest needs no manual step.
#[test]
fn killed_at_random_moments_the_repository_stays_consistent() {
    let rounds: u64 = std::env::var("DBVAULT_TORTURE_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let (seed, mut rng) = seeded_rng();
    eprintln!("crash harness: {rounds} rounds, seed {seed}");
    let e = Env::new();
    let d = dumps(120_000, 4);
    let mut committed: Vec<(String, usize)> = Vec::new();
    let (mut killed_mid, mut finished) = (0, 0);
    for round in 0..rounds {
        let day = (round % 4) as usize;
        let mut child = e.cmd(&["--json", "ingest", "--db", &format!("db{}", round % 3)]).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = d[day].clone();
        // Trickle the dump in 16 pieces over ~320 ms, so the kill (anywhere in 0-600 ms) lands
        // while reading, sealing, writing packs, committing, or after the end.
        let writer = std::thread::spawn(move || {
            for piece in data.chunks(data.len().div_ceil(16)) {
                if stdin.write_all(piece).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        // Round 0 always kills mid-stream (the trickle lasts 320 ms); the others anywhere.
        std::thread::sleep(Duration::from_millis(if round == 0 { 150 } else { rng.below(600) }));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let _ = writer.join();
        if out.status.success() {
            finished += 1;
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            committed.push((v["id"].as_str().unwrap().into(), day));
        } else {
            killed_mid += 1;
        }
        // Whatever the moment of death: the repository checks clean and every snapshot is intact.
        let o = e.run(&["check"], b"");
        assert!(o.status.success(), "round {round} (seed {seed}): check failed: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        let listed: Vec<Value> = e.json(&["snapshots"], b"").as_array().unwrap().clone();
        for v in &listed {
            let id = v["id"].as_str().unwrap();
            if !committed.iter().any(|(c, _)| c == id) {
                // Killed after the commit point but before printing: it must be one of our days.
                let size = v["size"].as_u64().unwrap() as usize;
                let day = d.iter().position(|x| x.len() == size).expect("a committed snapshot of unknown size");
                committed.push((id.into(), day));
            }
        }
        assert_eq!(listed.len(), committed.len());
    }
    for (id, day) in &committed {
        assert!(e.ok(&["restore", id], b"").stdout == d[*day], "snapshot {id} does not restore byte-identical");
    }
    let next = e.ingest("db-final", &d[0]);
    assert!(next["id"].is_string());
    assert!(e.run(&["check", "--read-data"], b"").status.success());
    eprintln!("crash harness: {killed_mid} ingests killed mid-way, {finished} finished before the kill");
    assert!(killed_mid > 0, "no kill landed during an ingest (seed {seed}): the harness proved nothing");
}

/// Ingest into a filesystem that runs out of space: a clear error, a consistent repository.
#[test]
fn a_full_disk_fails_clearly_and_loses_nothing() {
    let e = Env::new();
    let is_root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
    if !is_root {
        eprintln!("disk-full test NOT RUN: mounting a small tmpfs needs root (run the suite as root, as CI does)");
        return;
    }
    let mnt = e.dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let m = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=12m", "tmpfs"]).arg(&mnt).output().unwrap();
    if !m.status.success() {
        eprintln!("disk-full test NOT RUN: mount -t tmpfs failed ({}); this machine forbids mounts", String::from_utf8_lossy(&m.stderr).trim());
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let repo = mnt.join("repo");
    let run = |args: &[&str], input: &[u8]| {
        let mut c = e.cmd(args);
        c.env("DBVAULT_REPOSITORY", &repo);
        e.run_with(c, input)
    };
    assert!(run(&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"], b"").status.success());
    let small = &dumps(5_000, 1)[0];
    assert!(run(&["ingest", "--db", "shop"], small).status.success());
    let mut big = vec![0u8; 30 << 20];
    let mut x = 99u64;
    for b in big.iter_mut() {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *b = (x >> 56) as u8;
    }
    let o = run(&["ingest", "--db", "big"], &big);
    no_panic(&o);
    assert!(!o.status.success(), "ingesting 30 MiB into 12 MiB succeeded?");
    assert!(stderr(&o).contains("No space left on device"), "unclear message: {}", stderr(&o));
    let o = run(&["check"], b"");
    assert!(o.status.success(), "repository inconsistent after a full disk: {}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    let o = run(&["restore", "latest", "--db", "shop"], b"");
    assert!(o.status.success() && o.stdout == *small);
}
