//! Shared fixtures for the store's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use repo_format::config::ChunkerConfig;
use repo_format::keyfile::KdfParams;
use store::ingest::{IngestOptions, IngestSummary, ingest};
use store::restore::restore;
use store::snapshot::Snapshot;
use store::{InitOptions, Repository, StoreError};

pub const PASSWORD: &[u8] = b"correct horse";

/// Cheap key derivation: tests open repositories many times.
pub fn fast_init() -> InitOptions {
    InitOptions { kdf: KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 }, chunker: ChunkerConfig::default(), no_deltas: false }
}

/// Small chunks, so small test streams have many of them.
pub fn small_chunks() -> InitOptions {
    InitOptions { chunker: ChunkerConfig { min_size: 256, avg_size: 1024, max_size: 4096, normalization: 1, seeded: true }, ..fast_init() }
}

pub struct TestRepo {
    pub dir: tempfile::TempDir,
    pub repo: Repository,
}

impl TestRepo {
    pub fn new(opts: InitOptions) -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(&dir.path().join("repo"), PASSWORD, opts).unwrap();
        TestRepo { dir, repo }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn reopen(&mut self) {
        self.repo = Repository::open(&self.path(), PASSWORD).unwrap();
    }

    pub fn ingest(&self, db: &str, data: &[u8]) -> IngestSummary {
        ingest(&self.repo, data, IngestOptions { db: db.into(), ..Default::default() }).unwrap()
    }

    pub fn restore(&self, snap: &Snapshot) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        restore(&self.repo, &self.repo.index_reader()?, snap, &mut out, None)?;
        Ok(out)
    }
}

/// Every file under `root` with its bytes, sorted (to prove nothing changed).
pub fn tree_contents(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// All pack files of a repository.
pub fn packs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = tree_contents(&root.join("packs")).into_iter().map(|(p, _)| p).collect();
    v.sort();
    v
}
