//! How fast `status` (and `--metrics-file`) answer on an S3 repository of many snapshots:
//! `s3-status DBVAULT SNAPSHOTS DATABASES DRILLS CHECKS [RUNS]`.
//!
//! Starts a private SeaweedFS server (as the S3 tests do), builds SNAPSHOTS tiny snapshots
//! round-robin into DATABASES databases through the library in a folder repository and uploads its
//! objects (objects do not depend on their backend, SPEC.md 1.1; ingesting each into S3 would cost
//! a listing of every snapshot each), adds DRILLS drill records (of the databases' snapshots, in
//! turn) and CHECKS check records as `drill` and `check` leave them, then
//! times the DBVAULT binary's `status` with an empty cache folder (a machine that never saw the
//! repository: every manifest and record is fetched) and RUNS times more with the cache it left
//! (the nightly monitoring case). Prints a Markdown table for the benchmark log.

use std::process::Command;
use std::time::Instant;

use dbvault_benches::many::build;
use dbvault_benches::seaweed::Seaweed;
use jiff::Timestamp;
use repo_format::check_record::CheckRecord;
use repo_format::drill_record::{DrillRecord, EngineChecks};
use repo_format::keyfile::KdfParams;
use store::{Access, InitOptions, Location, Repository};

/// Upload every object of the folder repository under `dir` (not its `local/` state) to `s3`,
/// eight at a time; returns how many.
fn upload(root: &std::path::Path, dir: &std::path::Path, s3: &dyn store::backend::Backend) -> usize {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("the built repository").flatten() {
            let p = e.path();
            if p.is_dir() {
                if p != root.join("local") {
                    stack.push(p);
                }
            } else {
                files.push(p);
            }
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                while let Some(p) = files.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    let key = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                    s3.put_new(&key, &std::fs::read(p).unwrap()).expect("uploading");
                }
            });
        }
    });
    files.len()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (bin, numbers) = match args.as_slice() {
        [_, bin, rest @ ..] if (4..=5).contains(&rest.len()) => (bin.clone(), rest.iter().map(|n| n.parse::<u64>().expect("a number")).collect::<Vec<_>>()),
        _ => {
            eprintln!("usage: s3-status DBVAULT SNAPSHOTS DATABASES DRILLS CHECKS [RUNS]");
            std::process::exit(2);
        }
    };
    let (snapshots, databases, drills, checks, runs) = (numbers[0], numbers[1], numbers[2], numbers[3], numbers.get(4).copied().unwrap_or(3));
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::create_dir(dir.path().join("weed")).unwrap();
    let weed = Seaweed::start(&dir.path().join("weed"), "bench");
    let url = weed.url("repo");
    for (k, v) in weed.env() {
        // SAFETY: set before any other thread starts.
        unsafe { std::env::set_var(k, v) };
    }
    let local = dir.path().join("local-repo");
    let kdf = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    let built = Repository::init(&local, b"bench", InitOptions { kdf, ..InitOptions::default() }).expect("init");
    let took = build(&built, snapshots, databases);
    drop(built);
    let location = Location::parse(&url).expect("the server's URL");
    let s3 = location.backend(&Access::default()).expect("an S3 client");
    let t = Instant::now();
    let files = upload(&local, &local, s3.as_ref());
    eprintln!("{snapshots} snapshots of {databases} databases built in {:.1} s, {files} objects uploaded in {:.1} s", took.as_secs_f64(), t.elapsed().as_secs_f64());
    let access = Access { cache_dir: Some(dir.path().join("build-cache")), ..Access::default() };
    let repo = Repository::open_at(&location, b"bench", &access).expect("open");
    let index = repo.index_reader().expect("index");
    let all = store::snapshot::list(&repo, &index, None).expect("list");
    for d in 0..drills {
        let s = &all[(d as usize * 7919) % all.len()];
        let now = Timestamp::now();
        let record = DrillRecord {
            snapshot: s.id,
            db: s.manifest.db.clone(),
            start: now,
            end: now,
            host: "bench".into(),
            engine: "postgresql".into(),
            server_version: "15.18".into(),
            server: "throwaway".into(),
            globals: None,
            passed: d % 10 != 0,
            tables: Vec::new(),
            engine_checks: EngineChecks { method: "amcheck".into(), checked: 1, failed: 0 },
            assertions: Vec::new(),
            failures: Vec::new(),
            client: "bench".into(),
            origin: None,
        };
        store::drill_records::record(&repo, &record).expect("drill record");
    }
    for _ in 0..checks {
        let r = CheckRecord { time: Timestamp::now(), host: "bench".into(), read_data: "none".into(), read_data_part: None, problems: 0, damaged_snapshots: 0, client: "bench".into() };
        store::check_records::record(&repo, &r).expect("check record");
    }
    drop(index);
    let cache = dir.path().join("status-cache");
    let time = |extra: &[&str]| {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args(["--repo", &url, "--cache-dir", cache.to_str().unwrap(), "--json"])
            .args(extra)
            .arg("status")
            .env("DBVAULT_PASSWORD", "bench")
            .output()
            .expect("running dbvault");
        let ms = t.elapsed().as_millis();
        assert!(out.status.success() || out.status.code() == Some(10), "status failed: {}", String::from_utf8_lossy(&out.stderr));
        ms
    };
    let cold = time(&[]);
    let warm: Vec<u128> = (0..runs).map(|_| time(&[])).collect();
    let metrics = dir.path().join("dbvault.prom");
    let with_metrics: Vec<u128> = (0..runs).map(|_| time(&["--metrics-file", metrics.to_str().unwrap()])).collect();
    let median = |v: &[u128]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let list = |v: &[u128]| v.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ");
    println!("S3 (SeaweedFS on 127.0.0.1): {snapshots} snapshots of {databases} databases, {drills} drill records, {checks} check records (built in {:.0} s)\n", took.as_secs_f64());
    println!("| `status` | runs (ms) | median |\n|---|---|---|");
    println!("| first run on this machine (empty cache: every manifest and record fetched) | {cold} | {cold} |");
    println!("| with the cache it left | {} | {} |", list(&warm), median(&warm));
    println!("| with the cache, and `--metrics-file` | {} | {} |", list(&with_metrics), median(&with_metrics));
}
