//! The golden repositories (`tests/golden/`, written once by `make-golden`) open, check and
//! restore byte-identical with this build: the format has not changed under them.

use std::path::PathBuf;

use repo_format::Id;
use serde_json::Value;
use store::Repository;
use store::check::{ReadData, check};
use store::ingest::{IngestOptions, ingest};
use store::restore::restore;

fn golden(version: u32) -> PathBuf {
    manifest_dir().join("tests/golden").join(format!("v{version}"))
}

/// A copy of a golden repository (tests never write into the checked-in one).
fn copy_of(version: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("repo");
    let status = std::process::Command::new("cp").arg("-r").arg(golden(version)).arg(&to).status().unwrap();
    assert!(status.success());
    (dir, to)
}

fn check_one(version: u32) {
    let (_dir, path) = copy_of(version);
    let expected: Value = serde_json::from_slice(&std::fs::read(path.join("expected.json")).unwrap()).unwrap();
    let repo = Repository::open(&path, expected["password"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(repo.config().version, version);
    let index = repo.index_reader().unwrap();
    let listed = store::snapshot::list(&repo, &index, None).unwrap();
    let wanted = expected["snapshots"].as_array().unwrap();
    assert_eq!(listed.len(), wanted.len(), "snapshots listed");
    for w in wanted {
        let s = store::snapshot::resolve(&repo, &index, w["id"].as_str().unwrap(), None).unwrap();
        assert_eq!(s.manifest.db, w["db"].as_str().unwrap());
        assert_eq!(s.manifest.incomplete, w["incomplete"].as_bool().unwrap());
        assert_eq!(s.manifest.added.delta_chunks, w["delta_chunks"].as_u64().unwrap());
        let mut out = Vec::new();
        restore(&repo, &index, &s, &mut out, None).unwrap();
        assert_eq!(out.len() as u64, w["size"].as_u64().unwrap());
        assert_eq!(Id(*blake3::hash(&out).as_bytes()).to_hex(), w["blake3"].as_str().unwrap(), "snapshot {} of v{version}", s.id.short());
    }
    drop(index);
    let report = check(&repo, ReadData::All, None).unwrap();
    assert!(report.ok(), "v{version}: {:?}", report.problems);
    // Still writable in its own version: a version 1 repository gets no deltas.
    let again = ingest(&repo, b"-- one more\n".as_slice(), IngestOptions { db: "new".into(), ..Default::default() }).unwrap();
    assert_eq!(repo.config().version, version);
    assert_eq!(again.snapshot.manifest.added.delta_chunks, 0);
}

#[test]
fn the_golden_version_1_repository_restores_byte_identical() {
    check_one(1);
}

#[test]
fn the_golden_version_2_repository_restores_byte_identical() {
    check_one(2);
}

/// This package's folder, as cargo says when it runs the test: a test binary built in another
/// checkout that shares the build folder (a CI clone) and found fresh must not read that one's
/// files through a path compiled in.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")), std::path::PathBuf::from)
}
