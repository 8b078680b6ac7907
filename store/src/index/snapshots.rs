//! Snapshots in the local index: each manifest's sealed bytes (so listing reads no objects), the
//! per-database order by end time, and the freshness stamp (SPEC.md section 12).

use rocksdb::{IteratorMode, WriteBatch};
use repo_format::Id;
use repo_format::crypto::Keys;
use repo_format::manifest::Manifest;

use super::{CF_BY_DB, CF_META, CF_SNAPSHOTS, CF_WAL, Index, STAMP};
use crate::Result;

/// Where a snapshot is listed: under its lineage's name tag by end time, and for an archived WAL
/// file also under its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The keyed tag of its lineage: a database's, or a database's WAL archive's.
    pub tag: [u8; 16],
    /// Its end time, in nanoseconds.
    pub end_ns: i128,
    /// For an archived WAL file, its file name.
    pub wal_file: Option<String>,
}

impl Listing {
    /// Where the index lists the snapshot whose manifest is `m`: an archived WAL file in its
    /// database's WAL archive (and under its file name), any other snapshot in its database's
    /// lineage.
    pub fn of(keys: &Keys, m: &Manifest) -> Listing {
        match &m.wal {
            Some(w) => Listing { tag: wal_tag(keys, &m.db), end_ns: m.end.as_nanosecond(), wal_file: Some(w.file.clone()) },
            None => Listing { tag: keys.name_tag(&m.db), end_ns: m.end.as_nanosecond(), wal_file: None },
        }
    }

    fn wal_key(&self) -> Option<Vec<u8>> {
        self.wal_file.as_ref().map(|f| wal_key(&self.tag, f))
    }
}

/// The tag a database's WAL archive is listed under: a keyed hash, like a database's name tag, of
/// a text no database name can be (it holds NUL bytes).
pub fn wal_tag(keys: &Keys, db: &str) -> [u8; 16] {
    keys.name_tag(&format!("\0wal\0{db}"))
}

fn wal_key(tag: &[u8; 16], file: &str) -> Vec<u8> {
    let mut k = tag.to_vec();
    k.extend_from_slice(file.as_bytes());
    k
}

impl Index {
    /// Ids of the snapshots the index lists.
    pub fn snapshot_ids(&self) -> Result<Vec<Id>> {
        self.ids_in(CF_SNAPSHOTS)
    }

    /// Every listed snapshot with its sealed manifest bytes.
    pub fn snapshots(&self) -> Result<Vec<(Id, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_SNAPSHOTS), IteratorMode::Start) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if let Some(id) = Id::from_slice(&k) {
                out.push((id, v.to_vec()));
            }
        }
        Ok(out)
    }

    fn by_db_key(name_tag: &[u8; 16], end_ns: i128, id: &Id) -> Vec<u8> {
        let mut k = name_tag.to_vec();
        let ns = i64::try_from(end_ns).unwrap_or(i64::MAX);
        k.extend_from_slice(&((ns as u64) ^ (1 << 63)).to_be_bytes());
        k.extend_from_slice(&id.0);
        k
    }

    /// List a snapshot (writer only).
    pub fn put_snapshot(&self, id: &Id, sealed: &[u8], listing: &Listing) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_SNAPSHOTS), id.0, sealed);
        batch.put_cf(self.cf(CF_BY_DB), Self::by_db_key(&listing.tag, listing.end_ns, id), []);
        if let Some(k) = listing.wal_key() {
            batch.put_cf(self.cf(CF_WAL), k, id.0);
        }
        self.db.write(batch).map_err(|e| self.err(e))
    }

    /// Unlist a snapshot (writer only).
    pub fn remove_snapshot(&self, id: &Id, listing: &Listing) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(CF_SNAPSHOTS), id.0);
        batch.delete_cf(self.cf(CF_BY_DB), Self::by_db_key(&listing.tag, listing.end_ns, id));
        // Another snapshot of the same file (a second push of identical bytes) may have replaced
        // this one's entry: only this one's is removed.
        if let Some(k) = listing.wal_key()
            && self.db.get_pinned_cf(self.cf(CF_WAL), &k).map_err(|e| self.err(e))?.is_some_and(|v| v[..] == id.0)
        {
            batch.delete_cf(self.cf(CF_WAL), k);
        }
        self.db.write(batch).map_err(|e| self.err(e))
    }

    /// The snapshot holding the archived WAL file `file` of the WAL archive with tag `tag`.
    pub fn wal_file(&self, tag: &[u8; 16], file: &str) -> Result<Option<Id>> {
        Ok(self.db.get_pinned_cf(self.cf(CF_WAL), wal_key(tag, file)).map_err(|e| self.err(e))?.and_then(|v| Id::from_slice(&v)))
    }

    /// The first archived WAL file of the archive with tag `tag` whose name sorts after `file`
    /// and starts with `prefix` (a timeline's 8 hex digits, say): one seek.
    pub fn wal_file_after(&self, tag: &[u8; 16], file: &str, prefix: &str) -> Result<Option<String>> {
        let mut from = wal_key(tag, file);
        from.push(0);
        let mut iter = self.db.iterator_cf(self.cf(CF_WAL), IteratorMode::From(&from, rocksdb::Direction::Forward));
        let Some(item) = iter.next() else { return Ok(None) };
        let (k, _) = item.map_err(|e| self.err(e))?;
        Ok(k.strip_prefix(&tag[..]).and_then(|name| std::str::from_utf8(name).ok()).filter(|n| n.starts_with(prefix)).map(str::to_string))
    }

    /// Every archived WAL file of the WAL archive with tag `tag`, in name order (by timeline,
    /// then position), with the snapshot holding it.
    pub fn wal_files(&self, tag: &[u8; 16]) -> Result<Vec<(String, Id)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_WAL), IteratorMode::From(tag, rocksdb::Direction::Forward)) {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if k.len() < 16 || k[..16] != tag[..] {
                break;
            }
            if let (Ok(name), Some(id)) = (std::str::from_utf8(&k[16..]), Id::from_slice(&v)) {
                out.push((name.to_string(), id));
            }
        }
        Ok(out)
    }

    /// The `snapshots/` stamp recorded by [`Index::set_stamp`], if any.
    pub fn stamp(&self) -> Result<Option<i128>> {
        let v = self.db.get_pinned_cf(self.cf(CF_META), STAMP).map_err(|e| self.err(e))?;
        Ok(v.and_then(|v| <[u8; 16]>::try_from(&v[..]).ok()).map(i128::from_le_bytes))
    }

    /// Record that the index matches the repository's `snapshots/` as of `stamp`, or forget the
    /// record (`None`); persisted by the next [`Index::flush`] (writer only).
    pub fn set_stamp(&self, stamp: Option<i128>) -> Result<()> {
        match stamp {
            Some(s) => self.db.put_cf(self.cf(CF_META), STAMP, s.to_le_bytes()),
            None => self.db.delete_cf(self.cf(CF_META), STAMP),
        }
        .map_err(|e| self.err(e))
    }

    /// A listed snapshot's sealed manifest bytes.
    pub fn snapshot(&self, id: &Id) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_pinned_cf(self.cf(CF_SNAPSHOTS), id.0).map_err(|e| self.err(e))?.map(|v| v.to_vec()))
    }

    /// The snapshots of the database with this name tag, oldest first, with their sealed
    /// manifests: a range of `by_db`, so it costs what that database has.
    pub fn snapshots_of(&self, name_tag: &[u8; 16]) -> Result<Vec<(Id, Vec<u8>)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_BY_DB), IteratorMode::From(name_tag, rocksdb::Direction::Forward)) {
            let (k, _) = item.map_err(|e| self.err(e))?;
            if k.len() != 56 || k[..16] != name_tag[..] {
                break;
            }
            let id = Id::from_slice(&k[24..]).expect("32 bytes");
            if let Some(sealed) = self.snapshot(&id)? {
                out.push((id, sealed));
            }
        }
        Ok(out)
    }

    /// The ids of the snapshots of the database with this name tag, newest first, read lazily from
    /// `by_db` (no manifest is read): to find the newest one that passes a test.
    pub fn snapshot_ids_newest_first(&self, name_tag: &[u8; 16]) -> impl Iterator<Item = Result<Id>> + '_ {
        let mut upper = name_tag.to_vec();
        upper.extend_from_slice(&[0xff; 41]);
        let tag = *name_tag;
        self.db
            .iterator_cf(self.cf(CF_BY_DB), IteratorMode::From(&upper, rocksdb::Direction::Reverse))
            .map_while(move |item| match item {
                Ok((k, _)) if k.len() == 56 && k[..16] == tag[..] => Some(Ok(Id::from_slice(&k[24..]).expect("32 bytes"))),
                Ok(_) => None,
                Err(e) => Some(Err(self.err(e))),
            })
    }

    /// The name tags of the databases that have snapshots, one seek per database.
    pub fn db_tags(&self) -> Result<Vec<[u8; 16]>> {
        let mut out = Vec::new();
        let mut from = Vec::new();
        loop {
            let mut iter = self.db.iterator_cf(self.cf(CF_BY_DB), IteratorMode::From(&from, rocksdb::Direction::Forward));
            let Some(item) = iter.next() else { break };
            let (k, _) = item.map_err(|e| self.err(e))?;
            let Ok(tag) = <[u8; 16]>::try_from(&k[..16.min(k.len())]) else { break };
            out.push(tag);
            // Past every key of this tag: the tag followed by bytes above any time and id.
            from = tag.to_vec();
            from.extend_from_slice(&[0xff; 41]);
        }
        Ok(out)
    }

    /// The most recent snapshot (by end time) of the database with this name tag.
    pub fn latest_of(&self, name_tag: &[u8; 16]) -> Result<Option<Id>> {
        let mut upper = name_tag.to_vec();
        upper.extend_from_slice(&[0xff; 41]);
        // The first key at or below the database's last possible key is its latest snapshot, if
        // it belongs to this database.
        let mut iter = self.db.iterator_cf(self.cf(CF_BY_DB), IteratorMode::From(&upper, rocksdb::Direction::Reverse));
        match iter.next().transpose().map_err(|e| self.err(e))? {
            Some((k, _)) if k.len() == 56 && k[..16] == name_tag[..] => Ok(Id::from_slice(&k[24..])),
            _ => Ok(None),
        }
    }
}
