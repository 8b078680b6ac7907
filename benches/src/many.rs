//! Many small snapshots, fast: what `many-snapshots` and `s3-status` build to time the commands
//! whose cost must follow the databases, not the snapshots.

use std::time::{Duration, Instant};

use store::Repository;
use store::ingest::{IngestOptions, ingest};

/// A tiny dump of `db`, of which one line changes with `n`, as a day of a tiny database would.
pub fn tiny_dump(db: &str, n: u64) -> Vec<u8> {
    let mut s = format!("-- dump of {db}\nCREATE TABLE t (id int, v text);\n");
    for row in 0..60 {
        s += &format!("INSERT INTO t VALUES ({row}, 'a row of {db} that does not change from one snapshot to the next');\n");
    }
    s += &format!("INSERT INTO t VALUES (-1, 'snapshot {n}');\n");
    s.into_bytes()
}

/// Ingest `snapshots` tiny dumps round-robin into `databases` databases (`db0`, `db1`, ...)
/// through the library (no process start or key derivation per snapshot); progress on standard
/// error every 30 s. Returns the time taken.
pub fn build(repo: &Repository, snapshots: u64, databases: u64) -> Duration {
    let start = Instant::now();
    let mut last = Instant::now();
    for n in 0..snapshots {
        let db = format!("db{}", n % databases);
        let opts = IngestOptions { db: db.clone(), host: Some("bench".into()), ..IngestOptions::default() };
        ingest(repo, tiny_dump(&db, n).as_slice(), opts).expect("ingest");
        if last.elapsed().as_secs() >= 30 {
            eprintln!("{} snapshots in {:.0} s", n + 1, start.elapsed().as_secs_f64());
            last = Instant::now();
        }
    }
    start.elapsed()
}
