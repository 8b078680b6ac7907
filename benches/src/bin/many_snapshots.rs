//! Build a repository holding many snapshots, fast: `many-snapshots REPO SNAPSHOTS DATABASES`.
//!
//! One process ingests SNAPSHOTS small dumps round-robin into DATABASES databases (`db0`,
//! `db1`, ...) through the library (no process start or key derivation per snapshot), each a
//! few kilobytes of which one line changes per snapshot, as a day of a tiny database would. The
//! repository's password is `DBVAULT_PASSWORD` (default `bench`), with a cheap key derivation.
//! `benches/scale.sh` then times the commands users run against it.

use std::time::Instant;

use repo_format::keyfile::KdfParams;
use store::ingest::{IngestOptions, ingest};
use store::{InitOptions, Repository};

fn dump(db: &str, n: u64) -> Vec<u8> {
    let mut s = format!("-- dump of {db}\nCREATE TABLE t (id int, v text);\n");
    for row in 0..60 {
        s += &format!("INSERT INTO t VALUES ({row}, 'a row of {db} that does not change from one snapshot to the next');\n");
    }
    s += &format!("INSERT INTO t VALUES (-1, 'snapshot {n}');\n");
    s.into_bytes()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, repo, snapshots, databases] = args.as_slice() else {
        eprintln!("usage: many-snapshots REPO SNAPSHOTS DATABASES");
        std::process::exit(2);
    };
    let (snapshots, databases): (u64, u64) = (snapshots.parse().expect("SNAPSHOTS is a number"), databases.parse().expect("DATABASES is a number"));
    let password = std::env::var("DBVAULT_PASSWORD").unwrap_or_else(|_| "bench".into());
    let path = std::path::Path::new(repo);
    let repo = if path.join("config").exists() {
        Repository::open(path, password.as_bytes()).expect("open")
    } else {
        let kdf = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
        Repository::init(path, password.as_bytes(), InitOptions { kdf, ..InitOptions::default() }).expect("init")
    };
    let start = Instant::now();
    let mut last = Instant::now();
    for n in 0..snapshots {
        let db = format!("db{}", n % databases);
        let opts = IngestOptions { db: db.clone(), host: Some("bench".into()), ..IngestOptions::default() };
        ingest(&repo, dump(&db, n).as_slice(), opts).expect("ingest");
        if last.elapsed().as_secs() >= 30 {
            eprintln!("{} snapshots in {:.0} s", n + 1, start.elapsed().as_secs_f64());
            last = Instant::now();
        }
    }
    println!("{snapshots} snapshots of {databases} databases in {:.1} s", start.elapsed().as_secs_f64());
}
