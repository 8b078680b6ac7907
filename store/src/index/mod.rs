//! The local index: RocksDB, derived entirely from repository objects.
//!
//! Column families (SPEC.md section 12, "The local index"):
//! - `blobs`: blob id (32) -> location (46 bytes: pack id, kind, codec, offset, stored_len, raw_len;
//!   a delta adds its depth (1) and base id (32))
//! - `packs`: pack id (32) -> pack length (u64 LE) || blob count (u32 LE)
//! - `segments`: index segment id (32) -> empty: the segments already applied
//! - `snapshots`: snapshot id (32) -> the sealed manifest bytes (so listing needs no file reads)
//! - `by_db`: keyed name tag (16) || end time (i64 BE, ns) || snapshot id (32) -> empty
//! - `wal`: WAL archive tag (16) || WAL file name -> id of the snapshot holding that file
//! - `features`: super-feature (8, BE) -> the chunk last stored with it (a hint)
//! - `meta`: `snapshots-stamp` -> the folder stamp the index last matched (i128 LE)
//!
//! Nothing here is secret beyond what the repository's file names and sizes already show:
//! manifests stay sealed and database names appear only as keyed hashes.
//!
//! Opening: [`Index::open_write`] holds the exclusive writer lock until dropped; [`Index::open_read`]
//! holds the shared lock only while RocksDB opens (read-only, every table file opened up front),
//! so it keeps a stable view while a writer commits next to it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use repo_format::index_segment::IndexSegment;
use repo_format::Id;
use rocksdb::{DB, IteratorMode, WriteBatch};

use crate::lock::{self, Lock};
use crate::{Result, StoreError};
use tuning::{descriptors, options};

mod blob_location;
mod snapshots;
mod tuning;

pub use blob_location::BlobLocation;
pub use snapshots::{Listing, wal_tag};

const CF_BLOBS: &str = "blobs";
const CF_PACKS: &str = "packs";
const CF_SEGMENTS: &str = "segments";
const CF_SNAPSHOTS: &str = "snapshots";
const CF_BY_DB: &str = "by_db";
/// An archived WAL file, by its archive's tag and its name -> the snapshot holding it.
const CF_WAL: &str = "wal";
/// Super-feature (8 bytes, big-endian) -> id of the last chunk stored with it (a hint: it may
/// name a chunk pruned since).
const CF_FEATURES: &str = "features";
/// Facts about the index itself: [`STAMP`].
const CF_META: &str = "meta";
const ALL_CFS: [&str; 8] = [CF_BLOBS, CF_PACKS, CF_SEGMENTS, CF_SNAPSHOTS, CF_BY_DB, CF_WAL, CF_FEATURES, CF_META];
/// Meta key: the stamp (modification time, ns) of a folder repository's `snapshots/` when the
/// index last matched it (SPEC.md section 12, *Freshness*).
const STAMP: &[u8] = b"snapshots-stamp";
/// Table files a column family may keep before a commit merges them ([`Index::flush`]).
const MAX_TABLE_FILES: usize = 8;

// Memory is bounded by constants, never by the number of indexed blobs (see `tuning`); segments
// are applied in bounded batches.
/// Blob entries per write batch when applying a segment.
const BATCH_ENTRIES: usize = 8192;

/// An open local index.
pub struct Index {
    db: DB,
    path: PathBuf,
    _writer: Option<Lock>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("path", &self.path).field("writer", &self._writer.is_some()).finish()
    }
}

/// The lock file that coordinates index access.
pub fn lock_path(local_dir: &Path) -> PathBuf {
    local_dir.join(crate::lock::INDEX)
}

/// The RocksDB folder.
pub fn db_path(local_dir: &Path) -> PathBuf {
    local_dir.join("index.rocksdb")
}

impl Index {
    fn err(&self, e: rocksdb::Error) -> StoreError {
        StoreError::Index { path: self.path.clone(), detail: e.into_string() }
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column families are created at open")
    }

    /// Whether an index has been created in `local_dir`.
    pub fn exists(local_dir: &Path) -> bool {
        db_path(local_dir).join("CURRENT").exists()
    }

    /// Open (creating if needed) with the exclusive writer role, waiting up to `wait` for it.
    ///
    /// With `rebuild_if_unusable`, a database that RocksDB cannot open (corrupt, half-deleted) is
    /// deleted and recreated empty, and the reason is returned: the caller then syncs it from the
    /// repository. That is safe because the index is derived state.
    pub fn open_write(local_dir: &Path, wait: Duration, rebuild_if_unusable: bool) -> Result<(Index, Option<String>)> {
        let lock = lock::acquire(&lock_path(local_dir), false, wait, "the repository index (writer role)")?;
        let path = db_path(local_dir);
        let open = || DB::open_cf_descriptors(&options(false), &path, descriptors());
        let (db, rebuilt) = match open() {
            Ok(db) => (db, None),
            Err(e) if rebuild_if_unusable => {
                std::fs::remove_dir_all(&path).map_err(|io| StoreError::io(format!("removing the unusable index {}", path.display()), io))?;
                let db = open().map_err(|e| StoreError::Index { path: path.clone(), detail: e.into_string() })?;
                (db, Some(e.into_string()))
            }
            Err(e) => return Err(StoreError::Index { path: path.clone(), detail: e.into_string() }),
        };
        Ok((Index { db, path, _writer: Some(lock) }, rebuilt))
    }

    /// Delete the index in `local_dir`, if any, and open a new, empty one with the writer role.
    pub fn open_fresh(local_dir: &Path, wait: Duration) -> Result<Index> {
        let lock = lock::acquire(&lock_path(local_dir), false, wait, "the repository index (writer role)")?;
        let path = db_path(local_dir);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| StoreError::io(format!("removing {}", path.display()), e))?;
        }
        let db = DB::open_cf_descriptors(&options(false), &path, descriptors()).map_err(|e| StoreError::Index { path: path.clone(), detail: e.into_string() })?;
        Ok(Index { db, path, _writer: Some(lock) })
    }

    /// Open a read-only view (the index must exist), waiting up to `wait` for a commit to finish.
    pub fn open_read(local_dir: &Path, wait: Duration) -> Result<Index> {
        let path = db_path(local_dir);
        let open = || {
            let _shared = lock::acquire(&lock_path(local_dir), true, wait, "the repository index")?;
            DB::open_cf_descriptors_read_only(&options(true), &path, descriptors(), false).map_err(|e| StoreError::Index { path: path.clone(), detail: e.into_string() })
        };
        let db = match open() {
            Ok(db) => db,
            // An index made before a column family existed cannot be opened read-only with it:
            // the writer role adds it, once.
            Err(e) if DB::list_cf(&rocksdb::Options::default(), &path).is_ok_and(|present| !ALL_CFS.iter().all(|cf| present.iter().any(|p| p == cf))) => {
                drop(Self::open_write(local_dir, wait, false).map_err(|_| e)?);
                open()?
            }
            Err(e) => return Err(e),
        };
        Ok(Index { db, path, _writer: None })
    }

    /// Where a blob is, if indexed.
    pub fn get(&self, id: &Id) -> Result<Option<BlobLocation>> {
        match self.db.get_pinned_cf(self.cf(CF_BLOBS), id.0).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(v) => BlobLocation::decode(*id, &v).map(Some).map_err(|e| StoreError::Index {
                path: self.path.clone(),
                detail: format!("entry for blob {}: {e}", id.short()),
            }),
        }
    }

    /// Where a blob is; [`StoreError::MissingBlob`] if it is not indexed.
    pub fn locate(&self, id: &Id) -> Result<BlobLocation> {
        self.get(id)?.ok_or(StoreError::MissingBlob { id: *id })
    }

    /// Whether a blob is indexed.
    pub fn contains(&self, id: &Id) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.cf(CF_BLOBS), id.0).map_err(|e| self.err(e))?.is_some())
    }

    fn ids_in(&self, cf: &str) -> Result<Vec<Id>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            out.extend(Id::from_slice(&k));
        }
        Ok(out)
    }

    /// Index segments already applied.
    pub fn applied_segments(&self) -> Result<Vec<Id>> {
        self.ids_in(CF_SEGMENTS)
    }

    /// Which of `ids` are applied segments.
    pub fn applied_segments_among(&self, ids: &[Id]) -> Result<std::collections::HashSet<Id>> {
        let mut out = std::collections::HashSet::new();
        for id in ids {
            if self.db.get_pinned_cf(self.cf(CF_SEGMENTS), id.0).map_err(|e| self.err(e))?.is_some() {
                out.insert(*id);
            }
        }
        Ok(out)
    }

    /// Record every blob of a segment (writer only). Idempotent: the segment is marked applied
    /// in the last batch, so an interrupted apply is simply redone.
    pub fn apply_segment(&self, segment_id: &Id, seg: &IndexSegment) -> Result<()> {
        let mut batch = WriteBatch::default();
        for p in &seg.packs {
            let mut pv = p.pack_len.to_le_bytes().to_vec();
            pv.extend_from_slice(&(p.entries.len() as u32).to_le_bytes());
            batch.put_cf(self.cf(CF_PACKS), p.pack_id.0, pv);
            for e in &p.entries {
                batch.put_cf(self.cf(CF_BLOBS), e.id.0, BlobLocation::of(p.pack_id, e).encode());
                if batch.len() >= BATCH_ENTRIES {
                    self.db.write(std::mem::take(&mut batch)).map_err(|e| self.err(e))?;
                }
            }
        }
        batch.put_cf(self.cf(CF_SEGMENTS), segment_id.0, []);
        self.db.write(batch).map_err(|e| self.err(e))
    }

    /// Call `f` with every indexed blob and its location.
    pub fn for_each_blob(&self, mut f: impl FnMut(Id, BlobLocation) -> Result<()>) -> Result<()> {
        for item in self.db.iterator_cf(self.cf(CF_BLOBS), IteratorMode::Start) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let Some(id) = Id::from_slice(&k) else { continue };
            let Ok(loc) = BlobLocation::decode(id, &v) else { continue };
            f(id, loc)?;
        }
        Ok(())
    }

    /// Every indexed pack: id, length, blob count.
    pub fn packs(&self) -> Result<Vec<(Id, u64, u32)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_PACKS), IteratorMode::Start) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if let (Some(id), true) = (Id::from_slice(&k), v.len() == 12) {
                let len = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
                out.push((id, len, u32::from_le_bytes(v[8..].try_into().expect("4 bytes"))));
            }
        }
        Ok(out)
    }

    /// Whether a pack is indexed.
    pub fn has_pack(&self, id: &Id) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.cf(CF_PACKS), id.0).map_err(|e| self.err(e))?.is_some())
    }

    /// Drop a pack: its entry, and every blob entry that still locates a blob in it.
    pub fn remove_pack(&self, pack: &Id, entries: &[repo_format::pack::PackEntry]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for e in entries {
            if self.get(&e.id)?.is_some_and(|l| l.pack == *pack) {
                batch.delete_cf(self.cf(CF_BLOBS), e.id.0);
            }
            if batch.len() >= BATCH_ENTRIES {
                self.db.write(std::mem::take(&mut batch)).map_err(|e| self.err(e))?;
            }
        }
        batch.delete_cf(self.cf(CF_PACKS), pack.0);
        self.db.write(batch).map_err(|e| self.err(e))
    }

    /// Forget everything (writer only): the repository changed in a way the index cannot follow
    /// step by step (another client's prune deleted segments), so it is synced again from scratch.
    pub fn clear(&self) -> Result<()> {
        // Every key is at most 64 bytes, so all sort below 65 bytes of 0xff.
        let end = [0xffu8; 65];
        let mut batch = WriteBatch::default();
        for cf in ALL_CFS {
            batch.delete_range_cf(self.cf(cf), [].as_slice(), end.as_slice());
        }
        self.db.write(batch).map_err(|e| self.err(e))?;
        self.flush()
    }

    /// Record chunks' super-features (writer only; a later chunk with the same one replaces it).
    pub fn put_features(&self, features: &[(u64, Id)]) -> Result<()> {
        for part in features.chunks(BATCH_ENTRIES) {
            let mut batch = WriteBatch::default();
            for (sf, id) in part {
                batch.put_cf(self.cf(CF_FEATURES), sf.to_be_bytes(), id.0);
            }
            self.db.write(batch).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The chunk last recorded with a super-feature, if any.
    pub fn feature(&self, sf: u64) -> Result<Option<Id>> {
        let v = self.db.get_pinned_cf(self.cf(CF_FEATURES), sf.to_be_bytes()).map_err(|e| self.err(e))?;
        Ok(v.and_then(|v| Id::from_slice(&v)))
    }

    /// Forget that a segment was applied (it was deleted from the repository).
    pub fn unapply_segment(&self, id: &Id) -> Result<()> {
        self.db.delete_cf(self.cf(CF_SEGMENTS), id.0).map_err(|e| self.err(e))
    }

    /// Persist memtables to table files, so the next reader needs no log replay, and merge the
    /// table files of a column family that has accumulated more than `MAX_TABLE_FILES`.
    ///
    /// Every column family is flushed: `DB::flush` alone covers only the default one, and the
    /// write-ahead log holding a million blob entries made each later command replay it on open.
    /// Every commit flushes a few entries per column family into new table files. RocksDB moves a
    /// file whose keys overlap no other to the last level as it is ("trivial move"), never merging
    /// it, and a snapshot's or a pack's few keys overlap nothing: table files pile up without
    /// bound, each opened by every command (benches/log/2026-11-21-memory-and-scale.md,
    /// benches/log/2026-12-03-table-files-run-aa.md). The merge reports no error (the crate's
    /// call returns none): a failed one leaves the files as they were, and the next commit tries
    /// again.
    pub fn flush(&self) -> Result<()> {
        let cfs: Vec<_> = ALL_CFS.iter().map(|n| self.cf(n)).collect();
        self.db.flush_cfs_opt(&cfs, &rocksdb::FlushOptions::default()).map_err(|e| self.err(e))?;
        let mut merge = rocksdb::CompactOptions::default();
        merge.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        for cf in cfs {
            if self.db.get_column_family_metadata_cf(cf).file_count > MAX_TABLE_FILES {
                self.db.compact_range_cf_opt(cf, None::<&[u8]>, None::<&[u8]>, &merge);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::blob::{BlobKind, Codec, DeltaRef};
    use repo_format::index_segment::PackIndex;
    use repo_format::pack::PackEntry;

    fn at(tag: [u8; 16], end_ns: i128) -> Listing {
        Listing { tag, end_ns, wal_file: None }
    }

    #[test]
    fn an_index_made_before_the_wal_family_opens_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let older: Vec<&str> = ALL_CFS.iter().copied().filter(|cf| *cf != CF_WAL).collect();
        {
            let mut o = rocksdb::Options::default();
            o.create_if_missing(true);
            o.create_missing_column_families(true);
            DB::open_cf(&o, db_path(dir.path()), &older).unwrap();
        }
        let r = Index::open_read(dir.path(), Duration::ZERO).unwrap();
        assert_eq!(r.wal_files(&[1; 16]).unwrap(), vec![]);
    }

    #[test]
    fn write_then_read_only_view() {
        let dir = tempfile::tempdir().unwrap();
        let id = Id([1; 32]);
        {
            let (w, _) = Index::open_write(dir.path(), Duration::ZERO, false).unwrap();
            let seg = IndexSegment {
                packs: vec![PackIndex {
                    pack_id: Id([2; 32]),
                    pack_len: 100,
                    entries: vec![
                        PackEntry { id, kind: BlobKind::Chunk, codec: Codec::Zstd, offset: 8, stored_len: 60, raw_len: 90, delta: None },
                        PackEntry {
                            id: Id([10; 32]),
                            kind: BlobKind::Delta,
                            codec: Codec::Zstd,
                            offset: 68,
                            stored_len: 50,
                            raw_len: 4000,
                            delta: Some(DeltaRef { base: id, depth: 1 }),
                        },
                    ],
                }],
            };
            w.apply_segment(&Id([3; 32]), &seg).unwrap();
            let tag = [7u8; 16];
            w.put_snapshot(&Id([4; 32]), b"sealed", &at(tag, 1000)).unwrap();
            w.put_snapshot(&Id([5; 32]), b"sealed2", &at(tag, 2000)).unwrap();
            w.put_snapshot(&Id([6; 32]), b"sealed3", &at([8u8; 16], 3000)).unwrap();
            assert_eq!(w.latest_of(&tag).unwrap(), Some(Id([5; 32])));
            assert_eq!(w.latest_of(&[0u8; 16]).unwrap(), None);
            w.flush().unwrap();
            // Every column family is in table files: a reader has no log to replay.
            let logs: u64 = std::fs::read_dir(db_path(dir.path()))
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .map(|e| e.metadata().unwrap().len())
                .sum();
            assert_eq!(logs, 0, "flush left {logs} bytes of write-ahead log");
            // While the writer holds its role, another writer is refused.
            assert!(matches!(Index::open_write(dir.path(), Duration::from_millis(20), false), Err(StoreError::Busy { .. })));
        }
        let r = Index::open_read(dir.path(), Duration::ZERO).unwrap();
        let loc = r.locate(&id).unwrap();
        assert_eq!((loc.pack, loc.entry.offset, loc.entry.stored_len, loc.entry.raw_len, loc.entry.delta), (Id([2; 32]), 8, 60, 90, None));
        assert_eq!(r.locate(&Id([10; 32])).unwrap().entry.delta, Some(DeltaRef { base: id, depth: 1 }), "a delta keeps its base");
        assert!(matches!(r.locate(&Id([9; 32])), Err(StoreError::MissingBlob { .. })));
        assert_eq!(r.applied_segments().unwrap(), vec![Id([3; 32])]);
        assert_eq!(r.snapshot_ids().unwrap().len(), 3);
        // A writer may commit while the read-only view stays usable.
        let (w, _) = Index::open_write(dir.path(), Duration::ZERO, false).unwrap();
        w.remove_snapshot(&Id([5; 32]), &at([7u8; 16], 2000)).unwrap();
        assert_eq!(w.latest_of(&[7u8; 16]).unwrap(), Some(Id([4; 32])));
        assert!(r.contains(&id).unwrap());
    }

    #[test]
    fn commits_do_not_pile_up_table_files() {
        let dir = tempfile::tempdir().unwrap();
        let tag = [7u8; 16];
        for day in 0..30u8 {
            // A commit as an ingest makes it, each in its own process: open, write a few keys, flush.
            let (w, _) = Index::open_write(dir.path(), Duration::ZERO, false).unwrap();
            let entry = PackEntry { id: Id([day; 32]), kind: BlobKind::Chunk, codec: Codec::Zstd, offset: 8, stored_len: 60, raw_len: 90, delta: None };
            let seg = IndexSegment { packs: vec![PackIndex { pack_id: Id([100 + day; 32]), pack_len: 100, entries: vec![entry] }] };
            w.apply_segment(&Id([200 - day; 32]), &seg).unwrap();
            w.put_snapshot(&Id([day ^ 0x55; 32]), b"sealed", &at(tag, i128::from(day))).unwrap();
            w.put_features(&[(u64::from(day), Id([day; 32]))]).unwrap();
            w.flush().unwrap();
        }
        let (w, _) = Index::open_write(dir.path(), Duration::ZERO, false).unwrap();
        for name in ALL_CFS {
            let files = w.db.get_column_family_metadata_cf(w.cf(name)).file_count;
            assert!(files <= MAX_TABLE_FILES, "column family {name} has {files} table files after 30 commits");
        }
        // Merging kept every entry.
        assert_eq!(w.snapshot_ids().unwrap().len(), 30);
        assert_eq!(w.applied_segments().unwrap().len(), 30);
        assert!((0..30u8).all(|d| w.contains(&Id([d; 32])).unwrap()));
    }
}
