//! `dbvault copy` between two local repositories with different passwords: every snapshot of a
//! lineage restores byte-identical from the copy, lineage and metadata are kept, copying again
//! copies nothing, and a copy that fails midway leaves the destination sound. (Copy to and from S3:
//! `s3.rs`.)

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// A source repository (`Env`, password "pw") and a destination beside it (password "dest-pw").
struct Two {
    src: Env,
}

impl Two {
    fn new() -> Two {
        let t = Two { src: Env::new() };
        let o = t.dst(&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        t
    }

    fn dest(&self) -> PathBuf {
        self.src.dir.path().join("dest")
    }

    /// `dbvault` on the destination.
    fn dst(&self, args: &[&str]) -> Command {
        let mut c = self.src.cmd(args);
        c.env("DBVAULT_REPOSITORY", self.dest()).env("DBVAULT_PASSWORD", "dest-pw").env("DBVAULT_CACHE_DIR", self.src.dir.path().join("cache"));
        c
    }

    fn dst_ok(&self, args: &[&str], stdin: &[u8]) -> Output {
        let o = run_piped(self.dst(args), stdin);
        assert!(o.status.success(), "dbvault {args:?} on the destination failed: {}", stderr(&o));
        o
    }

    fn dst_json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_slice(&self.dst_ok(&a, b"").stdout).unwrap()
    }

    /// `dbvault copy --to DEST ARGS` from the source.
    fn copy(&self, args: &[&str]) -> Output {
        let dest = self.dest();
        let mut c = self.src.cmd(&[&["copy", "--to", dest.to_str().unwrap()], args].concat());
        c.env("DBVAULT_TO_PASSWORD", "dest-pw").env("DBVAULT_CACHE_DIR", self.src.dir.path().join("cache"));
        run_piped(c, b"")
    }

    /// `copy --json`'s rows.
    fn copy_json(&self, args: &[&str]) -> Vec<Value> {
        let o = self.copy(&[args, &["--json"]].concat());
        assert!(o.status.success(), "copy {args:?}: {}", stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap().as_array().unwrap().clone()
    }

    /// Ingest `data` as `db` into the destination; the snapshot's id.
    fn dst_ingest(&self, db: &str, data: &[u8]) -> String {
        let o = self.dst_ok(&["ingest", "--db", db, "--json"], data);
        serde_json::from_slice::<Value>(&o.stdout).unwrap()["id"].as_str().unwrap().to_string()
    }

    fn restore_dst(&self, id: &str) -> Vec<u8> {
        self.dst_ok(&["restore", id], b"").stdout
    }

    fn check_dst(&self) {
        let o = self.dst_ok(&["check", "--read-data"], b"");
        assert!(String::from_utf8_lossy(&o.stdout).contains("no problems"), "{}", String::from_utf8_lossy(&o.stdout));
    }
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
}

fn column(rows: &[Value], field: &str) -> Vec<Value> {
    rows.iter().map(|r| r[field].clone()).collect()
}

/// Packs, segments and manifests of a folder repository, by name (what a copy may add).
fn objects(repo: &Path) -> Vec<String> {
    let mut out: Vec<String> = ["packs", "index", "snapshots"].iter().flat_map(|d| walk(&repo.join(d))).collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).map_or(Vec::new(), |rd| {
        rd.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path().display().to_string()] }).collect()
    })
}

#[test]
fn a_lineage_copied_between_local_repositories_restores_byte_identical_with_its_metadata() {
    let t = Two::new();
    let days = dumps(20_000, 4);
    let mut originals = Vec::new();
    for (i, d) in days.iter().enumerate() {
        let tag = format!("day{i}");
        originals.push(t.src.json(&["ingest", "--db", "shop", "--host", "db1.example", "--tag", &tag, "--tag", "nightly"], d)["id"].as_str().unwrap().to_string());
    }
    let crm = dumps(3_000, 1).remove(0);
    t.src.ingest("crm", &crm);

    // Only shop, oldest first, each new; later days store only what changed.
    let rows = t.copy_json(&["--db", "shop"]);
    assert_eq!(column(&rows, "source"), originals.iter().map(|s| Value::from(s.as_str())).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r["existed"] == false && r["db"] == "shop"), "{rows:?}");
    let stored: Vec<u64> = rows.iter().map(|r| r["stored_bytes"].as_u64().unwrap()).collect();
    assert!(stored[1..].iter().all(|s| s * 4 < stored[0]), "later days store only what changed: {stored:?}");
    let targets: Vec<String> = rows.iter().map(|r| r["target"].as_str().unwrap().to_string()).collect();

    // The destination lists exactly those, in one lineage, and each restores byte-identical.
    let listed = t.dst_json(&["snapshots"]);
    assert_eq!(ids(&listed), targets, "crm was not copied");
    assert_eq!(listed[0]["parent"], Value::Null);
    for i in 1..targets.len() {
        assert_eq!(listed[i]["parent"].as_str(), Some(targets[i - 1].as_str()), "lineage");
    }
    for (id, day) in targets.iter().zip(&days) {
        assert!(t.restore_dst(id) == *day, "copy {id} restores byte-identical");
    }
    for (original, copy) in originals.iter().zip(&targets) {
        let o = t.src.json(&["show", original], b"");
        let c = t.dst_json(&["show", copy]);
        for field in ["db", "host", "tags", "start", "end", "digest", "size", "source", "incomplete"] {
            assert_eq!(c[field], o[field], "{field} is kept");
        }
        assert_eq!(c["origin"]["snapshot"].as_str(), Some(original.as_str()), "{c}");
    }
    t.check_dst();

    // Again: nothing new, nothing written.
    let before = objects(&t.dest());
    let again = t.copy_json(&["--db", "shop"]);
    assert!(again.iter().all(|r| r["existed"] == true && r["stored_bytes"] == 0), "{again:?}");
    assert_eq!(column(&again, "target"), column(&rows, "target"));
    assert_eq!(objects(&t.dest()), before, "a copy of what is there writes nothing");

    // Everything: shop is there, crm is new.
    let all = t.copy_json(&[]);
    assert_eq!(all.iter().filter(|r| r["existed"] == false).map(|r| r["db"].clone()).collect::<Vec<_>>(), ["crm"]);
    let crm_copy = all.iter().find(|r| r["db"] == "crm").unwrap()["target"].as_str().unwrap().to_string();
    assert!(t.restore_dst(&crm_copy) == crm);

    // The destination's password is its own: without it, nothing is copied.
    let mut wrong = t.src.cmd(&["copy", "--to", t.dest().to_str().unwrap()]);
    wrong.env("DBVAULT_CACHE_DIR", t.src.dir.path().join("cache"));
    let o = run_piped(wrong, b"");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--to-password-file"), "{}", stderr(&o));
}

#[test]
fn copies_keep_their_own_lineage_beside_the_destinations_databases() {
    let days = dumps(8_000, 2);
    let own = dumps(6_000, 1).remove(0);
    let t = Two::new();
    for d in &days {
        t.src.ingest("shop", d);
    }
    // The destination has a database whose name only looks like shop (Cyrillic letters
    // throughout): an ingest there may not start a shop.
    let look_alike = "\u{0455}\u{04BB}\u{043E}\u{0440}";
    t.dst_ingest(look_alike, &own);
    let refused = run_piped(t.dst(&["ingest", "--db", "shop"]), &own);
    assert_eq!(refused.status.code(), Some(2), "a refused name is a usage error: {}", stderr(&refused));
    assert!(stderr(&refused).contains("looks like"), "{}", stderr(&refused));

    // A copy may not start one either: two lineages that look the same are the hazard either way.
    // Nothing of shop is copied, and the look-alike's lineage is untouched.
    let refused = t.copy(&[]);
    assert_eq!(refused.status.code(), Some(2), "a refused name is a usage error: {}", stderr(&refused));
    assert!(stderr(&refused).contains("looks like"), "{}", stderr(&refused));
    assert!(t.dst_json(&["snapshots"]).as_array().unwrap().iter().all(|s| s["db"] != "shop"), "nothing of shop was copied");
    let other = t.dst_json(&["snapshots", "--db", look_alike]);
    assert_eq!(other.as_array().unwrap().len(), 1, "the look-alike's lineage is untouched: {other}");
    assert_eq!(other[0]["db"], look_alike);

    // Into a destination with a shop of its own, the copies start their own line: the first
    // copy's parent is the copy of its original's parent (none), not the destination's latest.
    let t = Two::new();
    let own_id = t.dst_ingest("shop", &own);
    for d in &days {
        t.src.ingest("shop", d);
    }
    let rows = t.copy_json(&["--db", "shop"]);
    let targets: Vec<String> = rows.iter().map(|r| r["target"].as_str().unwrap().to_string()).collect();
    assert_eq!(t.dst_json(&["show", &targets[0]])["parent"], Value::Null);
    assert_eq!(t.dst_json(&["show", &targets[1]])["parent"].as_str(), Some(targets[0].as_str()));
    let mut all = ids(&t.dst_json(&["snapshots", "--db", "shop"]));
    all.sort();
    let mut expected = vec![own_id.clone(), targets[0].clone(), targets[1].clone()];
    expected.sort();
    assert_eq!(all, expected);
    assert!(t.restore_dst(&own_id) == own, "the destination's own snapshot is untouched");
    for (id, day) in targets.iter().zip(&days) {
        assert!(t.restore_dst(id) == *day);
    }
    t.check_dst();
}

/// Make `dir` read-only for everyone, root included (a read-only bind mount as root, `chmod`
/// otherwise), until the guard is dropped.
struct ReadOnly {
    dir: PathBuf,
    mounted: bool,
}

impl ReadOnly {
    fn new(dir: &Path) -> ReadOnly {
        let is_root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n");
        if is_root {
            let m = Command::new("mount").arg("--bind").arg(dir).arg(dir).output().unwrap();
            assert!(m.status.success(), "bind mount failed: {}", String::from_utf8_lossy(&m.stderr));
            let r = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(dir).output().unwrap();
            assert!(r.status.success(), "read-only remount failed: {}", String::from_utf8_lossy(&r.stderr));
        } else {
            Command::new("chmod").arg("a-w").arg(dir).status().unwrap();
        }
        assert!(std::fs::write(dir.join("probe"), b"x").is_err(), "{} is writable", dir.display());
        ReadOnly { dir: dir.to_path_buf(), mounted: is_root }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        } else {
            let _ = Command::new("chmod").arg("u+w").arg(&self.dir).status();
        }
    }
}

#[test]
fn a_copy_failing_midway_leaves_the_destination_sound_and_the_next_copy_continues_the_lineage() {
    let t = Two::new();
    let days = dumps(20_000, 4);
    let mut originals = Vec::new();
    let mut day_packs = Vec::new();
    for d in &days {
        let before = walk(&t.src.repo().join("packs"));
        originals.push(t.src.ingest("shop", d)["id"].as_str().unwrap().to_string());
        day_packs.push(walk(&t.src.repo().join("packs")).into_iter().filter(|p| !before.contains(p)).collect::<Vec<_>>());
    }

    // 1. The source fails: the third day's pack is damaged. The first two are copied, then the copy
    // stops, naming the snapshot; nothing of the third is committed.
    let victim = PathBuf::from(&day_packs[2][0]);
    let intact = std::fs::read(&victim).unwrap();
    let mut bytes = intact.clone();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&victim, &bytes).unwrap();
    let o = t.copy(&[]);
    assert_eq!(o.status.code(), Some(5), "damage in the source: {}", stderr(&o));
    assert!(stderr(&o).contains(&originals[2][..8]), "{}", stderr(&o));
    let listed = t.dst_json(&["snapshots"]);
    assert_eq!(listed.as_array().unwrap().len(), 2, "the copies before the failure stay: {listed}");
    t.check_dst();
    std::fs::write(&victim, &intact).unwrap();

    // 2. The destination fails: its snapshots/ is read-only, so every copy fails at its commit.
    {
        let _ro = ReadOnly::new(&t.dest().join("snapshots"));
        let o = t.copy(&[]);
        assert!(!o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("snapshots/") && stderr(&o).to_lowercase().contains("read-only"), "{}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert_eq!(ids(&t.dst_json(&["snapshots"])), ids(&listed), "nothing committed");
    }
    t.check_dst();

    // 3. Once it can be written, the next copy takes up where the lineage stopped.
    let rows = t.copy_json(&[]);
    assert_eq!(column(&rows, "existed"), [true, true, false, false].map(Value::from));
    let all = t.dst_json(&["snapshots"]);
    let targets = ids(&all);
    assert_eq!(targets.len(), 4);
    for i in 1..4 {
        assert_eq!(all[i]["parent"].as_str(), Some(targets[i - 1].as_str()), "lineage across the failed copies");
    }
    for (id, day) in targets.iter().zip(&days) {
        assert!(t.restore_dst(id) == *day);
    }
    // What the failed copies left (packs without a snapshot) goes with the next prune.
    t.dst_ok(&["prune", "--max-unused", "0"], b"");
    t.check_dst();
    for (id, day) in targets.iter().zip(&days) {
        assert!(t.restore_dst(id) == *day);
    }
}
