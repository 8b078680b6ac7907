//! An on-disk set of blob ids, for walks over whole repositories (prune's marks, stats'
//! distinct chunks) whose memory must not grow with the repository.

use std::path::PathBuf;

use repo_format::Id;
use rocksdb::{DB, Options, WriteBatch, WriteOptions};

use crate::repository::Repository;
use crate::{Result, StoreError};

/// A set of blob ids on disk (a temporary RocksDB), deleted when dropped.
pub struct Marks {
    /// Open until dropped (closed before its files are deleted).
    db: Option<DB>,
    path: PathBuf,
    wo: WriteOptions,
}

impl Marks {
    /// A fresh, empty set in `local/tmp/<name>` (a crashed run's leftovers there are removed:
    /// callers hold a lock that makes `name` theirs).
    pub fn open(repo: &Repository, name: &str) -> Result<Marks> {
        let path = repo.tmp_dir()?.join(name);
        let _ = std::fs::remove_dir_all(&path);
        let mut o = Options::default();
        o.create_if_missing(true);
        o.set_compression_type(rocksdb::DBCompressionType::None);
        o.set_write_buffer_size(8 << 20);
        let db = DB::open(&o, &path).map_err(|e| StoreError::Index { path: path.clone(), detail: e.into_string() })?;
        let mut wo = WriteOptions::default();
        wo.disable_wal(true);
        Ok(Marks { db: Some(db), path, wo })
    }

    fn db(&self) -> &DB {
        self.db.as_ref().expect("open until dropped")
    }

    fn err(&self, e: rocksdb::Error) -> StoreError {
        StoreError::Index { path: self.path.clone(), detail: e.into_string() }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &Id) -> Result<bool> {
        Ok(self.db().get_pinned(id.0).map_err(|e| self.err(e))?.is_some())
    }

    /// Add ids.
    pub fn insert_all(&self, ids: &[Id]) -> Result<()> {
        let mut b = WriteBatch::default();
        for id in ids {
            b.put(id.0, []);
        }
        self.db().write_opt(b, &self.wo).map_err(|e| self.err(e))
    }
}

impl Drop for Marks {
    fn drop(&mut self) {
        // Closed first: destroying the files of an open database made its background flush fail
        // and wait a second before giving up (every `stats` and `prune` paid it).
        drop(self.db.take());
        let _ = DB::destroy(&Options::default(), &self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

