//! Shared fixtures for the store's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use repo_format::config::ChunkerConfig;
use repo_format::keyfile::KdfParams;
use store::ingest::{IngestOptions, IngestSummary, ingest};
use store::restore::restore;
use store::snapshot::Snapshot;
use store::backend::MemoryBackend;
use store::{Access, InitOptions, Location, Repository, StoreError};

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

/// Ingest `data` as database `db` of `repo`.
pub fn ingest_into(repo: &Repository, db: &str, data: &[u8]) -> Result<IngestSummary, StoreError> {
    ingest(repo, data, IngestOptions { db: db.into(), ..Default::default() })
}

/// Restore `snap` of `repo` into memory.
pub fn restore_from(repo: &Repository, snap: &Snapshot) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    restore(repo, &repo.index_reader()?, snap, &mut out, None)?;
    Ok(out)
}

/// A repository on a [`MemoryBackend`] (faults are planned through `backend`), with its index in
/// a temporary cache folder.
pub struct MemRepo {
    pub cache: tempfile::TempDir,
    pub backend: Arc<MemoryBackend>,
    pub repo: Repository,
}

impl MemRepo {
    pub fn new(opts: InitOptions) -> MemRepo {
        MemRepo::on(MemoryBackend::new(), opts)
    }

    /// A new repository on `backend`.
    pub fn on(backend: MemoryBackend, opts: InitOptions) -> MemRepo {
        let cache = tempfile::tempdir().unwrap();
        let backend = Arc::new(backend);
        let repo = Repository::init_at(&Location::Memory(backend.clone()), PASSWORD, opts, &cache_access(cache.path())).unwrap();
        MemRepo { cache, backend, repo }
    }

    /// Another client of the same objects, with its own cache folder `cache` (another machine).
    pub fn client(&self, cache: &Path) -> Repository {
        Repository::open_at(&Location::Memory(self.backend.clone()), PASSWORD, &cache_access(cache)).unwrap()
    }

    pub fn ingest(&self, db: &str, data: &[u8]) -> IngestSummary {
        ingest_into(&self.repo, db, data).unwrap()
    }

    pub fn restore(&self, snap: &Snapshot) -> Result<Vec<u8>, StoreError> {
        restore_from(&self.repo, snap)
    }

    /// The snapshots this client lists, oldest first.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        store::snapshot::list(&self.repo, &self.repo.index_reader().unwrap(), None).unwrap()
    }
}

/// Access with `cache` as the cache folder.
pub fn cache_access(cache: &Path) -> Access {
    Access { cache_dir: Some(cache.to_path_buf()), ..Access::default() }
}

/// Incompressible bytes from `seed`: chunks of them are stored as they are.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = dbvault_benches::dumpgen::Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
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
