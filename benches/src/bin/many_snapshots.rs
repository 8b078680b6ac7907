//! Build a repository holding many snapshots, fast: `many-snapshots REPO SNAPSHOTS DATABASES`.
//!
//! One process ingests SNAPSHOTS small dumps round-robin into DATABASES databases (`db0`,
//! `db1`, ...) through the library (no process start or key derivation per snapshot), each a
//! few kilobytes of which one line changes per snapshot, as a day of a tiny database would. The
//! repository's password is `DBVAULT_PASSWORD` (default `bench`), with a cheap key derivation.
//! `benches/scale.sh` then times the commands users run against it.

use dbvault_benches::many::build;
use repo_format::keyfile::KdfParams;
use store::{InitOptions, Repository};

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
    let took = build(&repo, snapshots, databases);
    println!("{snapshots} snapshots of {databases} databases in {:.1} s", took.as_secs_f64());
}
