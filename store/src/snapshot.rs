//! Listing snapshots and resolving what a user names (`latest`, an id, or an id prefix).
//!
//! One database's snapshots are found through the local index's `by_db` family, so listing or
//! resolving them costs what that database has, not what the repository has.

use std::collections::HashSet;

use repo_format::object_key;
use repo_format::Id;
use repo_format::forget_record::Forgotten;
use repo_format::manifest::Manifest;

use crate::backend::BackendError;
use crate::index::{Index, Listing};
use crate::repository::Repository;
use crate::{Result, StoreError};

/// A snapshot: its id and its manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The manifest's id.
    pub id: Id,
    /// The manifest.
    pub manifest: Manifest,
}

impl Snapshot {
    /// The error for a chunk (or chunk-list node) of this snapshot that could not be read.
    pub fn unreadable(&self, chunk: Id, offset: u64, source: impl Into<Box<StoreError>>) -> StoreError {
        StoreError::Unreadable { snapshot: self.id, db: self.manifest.db.clone(), chunk, offset, source: source.into() }
    }
}

/// Decode listed manifests, keeping those of `db` (if given); damaged ones become warnings.
fn decode(repo: &Repository, sealed: Vec<(Id, Vec<u8>)>, db: Option<&str>) -> Vec<Snapshot> {
    let mut out = Vec::with_capacity(sealed.len());
    for (id, bytes) in sealed {
        match Manifest::decode(repo.keys(), &bytes) {
            Ok(m) if db.is_none_or(|d| d == m.db) => out.push(Snapshot { id, manifest: m }),
            Ok(_) => {}
            Err(e) => repo.warn(format!("snapshot {}: {e}", id.short())),
        }
    }
    out.sort_by_key(|a| (a.manifest.end, a.id));
    out
}

/// Whether `tag`, the tag of a lineage whose snapshots belong to `db`, is `db`'s WAL archive.
fn is_wal_archive(repo: &Repository, tag: &[u8; 16], db: &str) -> bool {
    crate::index::wal_tag(repo.keys(), db) == *tag
}

/// Every snapshot in the index, oldest first (optionally only one database's, which may have none).
pub fn list(repo: &Repository, index: &Index, db: Option<&str>) -> Result<Vec<Snapshot>> {
    let sealed = match db {
        Some(d) => index.snapshots_of(&repo.keys().name_tag(d))?,
        None => index.snapshots()?,
    };
    Ok(decode(repo, sealed, db))
}

/// One database's snapshots, oldest first; [`StoreError::NoSuchDatabase`] when it has none.
pub fn list_of(repo: &Repository, index: &Index, db: &str) -> Result<Vec<Snapshot>> {
    let list = list(repo, index, Some(db))?;
    if list.is_empty() {
        return Err(no_such_database(repo, index, db));
    }
    Ok(list)
}

/// The tags and names of the databases that have snapshots (one manifest read per database the
/// first time), WAL archives left out.
fn lineages(repo: &Repository, index: &Index) -> Result<Vec<([u8; 16], String)>> {
    Ok(all_tags(repo, index)?.into_iter().filter(|(tag, name)| !is_wal_archive(repo, tag, name)).collect())
}

/// The names of the databases that have a WAL archive (`wal push`), sorted.
pub fn wal_archives(repo: &Repository, index: &Index) -> Result<Vec<String>> {
    let mut names: Vec<String> = all_tags(repo, index)?.into_iter().filter(|(tag, name)| is_wal_archive(repo, tag, name)).map(|(_, n)| n).collect();
    names.sort();
    Ok(names)
}

/// Every lineage's and WAL archive's tag, with its database's name.
fn all_tags(repo: &Repository, index: &Index) -> Result<Vec<([u8; 16], String)>> {
    let mut out = Vec::new();
    for tag in index.db_tags()? {
        let name = match repo.known_name(&tag) {
            Some(name) => name,
            None => match latest_by_tag(repo, index, &tag)? {
                Some(s) => {
                    repo.remember_name(tag, &s.manifest.db);
                    s.manifest.db
                }
                None => continue,
            },
        };
        out.push((tag, name));
    }
    Ok(out)
}

/// The names of the databases that have snapshots, sorted (one manifest read per database).
pub fn databases(repo: &Repository, index: &Index) -> Result<Vec<String>> {
    let mut names: Vec<String> = lineages(repo, index)?.into_iter().map(|(_, n)| n).collect();
    names.sort();
    Ok(names)
}

/// The latest snapshot of every database, by name.
pub fn latest_of_each(repo: &Repository, index: &Index) -> Result<Vec<Snapshot>> {
    let mut latest = Vec::new();
    for (tag, _) in lineages(repo, index)? {
        if let Some(s) = latest_by_tag(repo, index, &tag)? {
            latest.push(s);
        }
    }
    latest.sort_by(|a, b| a.manifest.db.cmp(&b.manifest.db));
    Ok(latest)
}

/// The error for a database that has no snapshots, naming those that do.
pub fn no_such_database(repo: &Repository, index: &Index, db: &str) -> StoreError {
    StoreError::NoSuchDatabase { db: db.to_string(), known: databases(repo, index).unwrap_or_default() }
}

/// How many snapshots `db` has (none read).
pub fn count(repo: &Repository, index: &Index, db: &str) -> Result<usize> {
    Ok(index.snapshots_of(&repo.keys().name_tag(db))?.len())
}

/// The latest snapshot of `db` (one manifest read), if it has any.
pub fn latest(repo: &Repository, index: &Index, db: &str) -> Result<Option<Snapshot>> {
    latest_by_tag(repo, index, &repo.keys().name_tag(db))
}

/// The newest snapshot of `db` that is complete (its dump was not cut short), reading manifests
/// newest first until one is: what a new snapshot deltas against, at a cost that does not grow
/// with the database's snapshots.
pub fn latest_complete(repo: &Repository, index: &Index, db: &str) -> Result<Option<Snapshot>> {
    for id in index.snapshot_ids_newest_first(&repo.keys().name_tag(db)) {
        let id = id?;
        let Some(bytes) = index.snapshot(&id)? else { continue };
        if let Some(s) = decode(repo, vec![(id, bytes)], Some(db)).pop()
            && !s.manifest.incomplete
        {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

fn latest_by_tag(repo: &Repository, index: &Index, tag: &[u8; 16]) -> Result<Option<Snapshot>> {
    let Some(id) = index.latest_of(tag)? else { return Ok(None) };
    Ok(index.snapshot(&id)?.and_then(|bytes| decode(repo, vec![(id, bytes)], None).pop()))
}

/// The snapshots of `db` (which must have some), or of every database; archived WAL files are
/// not among them (they belong to a database's WAL archive).
pub fn list_some(repo: &Repository, index: &Index, db: Option<&str>) -> Result<Vec<Snapshot>> {
    match db {
        Some(d) => list_of(repo, index, d),
        None => Ok(list(repo, index, None)?.into_iter().filter(|s| s.manifest.wal.is_none()).collect()),
    }
}

/// Remove snapshots: record the forget (`forgotten/<id>`, so a lineage pointing at them is not
/// mistaken for a lost snapshot), then delete their manifests and unlist them (under the writer
/// role), then remove their drill records. Their data stays until `prune`. `reason` is
/// informational (`policy`, `by id`).
pub fn forget(repo: &Repository, snapshots: &[Snapshot], reason: &str) -> Result<()> {
    if snapshots.is_empty() {
        return Ok(());
    }
    let forgotten = snapshots.iter().map(|s| Forgotten { id: s.id, db: s.manifest.db.clone(), end: s.manifest.end }).collect();
    crate::forgotten::record(repo.backend().as_ref(), repo.keys(), crate::repository::hostname(), reason, forgotten)?;
    let writer = repo.index_writer()?;
    let stamp = repo.snapshots_stamp();
    for s in snapshots {
        repo.backend().delete(&object_key::snapshot(&s.id))?;
        writer.remove_snapshot(&s.id, &Listing::of(repo.keys(), &s.manifest))?;
    }
    repo.record_stamp_after_change(&writer, stamp)?;
    // Their drills go with them (SPEC.md section 9.5); left behind, the next forget removes them.
    let ids = snapshots.iter().map(|s| s.id).collect();
    if let Err(e) = crate::drill_records::forget(repo, &ids) {
        repo.warn(format!("the drill records of the forgotten snapshots were not all removed ({e}); the next forget removes them"));
    }
    Ok(())
}

/// A file under `snapshots/` that holds no readable manifest.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct DamagedManifest {
    /// Its object key.
    pub key: String,
    /// The snapshot id its name gives, if it is one.
    pub id: Option<Id>,
    /// What is wrong with it.
    pub problem: String,
}

/// Every manifest file that cannot be read back as its name promises (its bytes do not hash to
/// its name, or do not open): read from the repository itself, not from the local index's copies.
pub fn damaged_manifests(repo: &Repository) -> Result<Vec<DamagedManifest>> {
    let mut out = Vec::new();
    for key in repo.backend().list(object_key::SNAPSHOTS)? {
        let id = object_key::id_of(&key);
        let problem = match repo.backend().get(&key) {
            // An unreachable store is no damage: the check cannot go on.
            Err(e @ BackendError::Remote { .. }) => return Err(e.into()),
            Err(e) => Some(e.to_string()),
            Ok(b) if id.is_some_and(|id| Id::of_bytes(&b) != id) => Some("its content does not match its name".to_string()),
            Ok(b) => Manifest::decode(repo.keys(), &b).err().map(|e| e.to_string()),
        };
        if let Some(problem) = problem {
            out.push(DamagedManifest { key, id, problem });
        }
    }
    Ok(out)
}

/// Ids of every snapshot a forget record names (damaged records become warnings).
pub fn forgotten(repo: &Repository) -> Result<HashSet<Id>> {
    crate::forgotten::ids(repo.backend().as_ref(), repo.keys(), &|w| repo.warn(w))
}

/// Forget snapshots whose manifest files cannot be read (recorded as `repair snapshots`, their
/// database unknown), and unlist them.
pub fn forget_unreadable(repo: &Repository, damaged: &[DamagedManifest]) -> Result<()> {
    let now = jiff::Timestamp::now();
    let forgotten = damaged.iter().filter_map(|d| d.id).map(|id| Forgotten { id, db: String::new(), end: now }).collect();
    crate::forgotten::record(repo.backend().as_ref(), repo.keys(), crate::repository::hostname(), "repair snapshots (unreadable manifest)", forgotten)?;
    let writer = repo.index_writer()?;
    let stamp = repo.snapshots_stamp();
    for d in damaged {
        repo.backend().delete(&d.key)?;
        if let Some(id) = d.id
            && let Some(m) = writer.snapshot(&id)?.and_then(|b| Manifest::decode(repo.keys(), &b).ok())
        {
            writer.remove_snapshot(&id, &Listing::of(repo.keys(), &m))?;
        }
    }
    repo.record_stamp_after_change(&writer, stamp)
}

/// Record snapshots that are gone without a forget record as forgotten (`repair snapshots
/// --forget`): `gone` holds their ids with their databases.
pub fn record_gone(repo: &Repository, gone: &[(Id, String)]) -> Result<()> {
    let now = jiff::Timestamp::now();
    let forgotten = gone.iter().map(|(id, db)| Forgotten { id: *id, db: db.clone(), end: now }).collect();
    crate::forgotten::record(repo.backend().as_ref(), repo.keys(), crate::repository::hostname(), "repair snapshots (gone without a forget)", forgotten)
}

/// Resolve `spec`: `latest` (newest of `db`; without `db` only when the repository holds one
/// database), a full id, or a unique id prefix. With `db`, only that database's snapshots match.
pub fn resolve(repo: &Repository, index: &Index, spec: &str, db: Option<&str>) -> Result<Snapshot> {
    if spec == "latest" {
        let tag = match db {
            Some(d) => repo.keys().name_tag(d),
            None => match lineages(repo, index)?.as_slice() {
                [] => return Err(StoreError::SnapshotNotFound("latest (the repository has no snapshots)".into())),
                [(one, _)] => *one,
                _ => return Err(StoreError::LatestOfWhich { databases: databases(repo, index)? }),
            },
        };
        return match latest_by_tag(repo, index, &tag)? {
            Some(s) if db.is_none_or(|d| d == s.manifest.db) => Ok(s),
            _ => Err(no_such_database(repo, index, db.unwrap_or_default())),
        };
    }
    let lower = spec.to_ascii_lowercase();
    if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::SnapshotNotFound(spec.to_string()));
    }
    let mut sealed = Vec::new();
    if let Ok(id) = lower.parse::<Id>() {
        sealed.extend(index.snapshot(&id)?.map(|b| (id, b)));
    } else {
        for id in index.snapshot_ids()?.into_iter().filter(|id| id.to_hex().starts_with(&lower)) {
            sealed.extend(index.snapshot(&id)?.map(|b| (id, b)));
        }
    }
    let mut matches = decode(repo, sealed, db);
    match matches.len() {
        0 => Err(StoreError::SnapshotNotFound(match db {
            Some(d) => format!("{spec} (among the snapshots of db {d:?})"),
            None => spec.to_string(),
        })),
        1 => Ok(matches.pop().expect("one")),
        _ => Err(StoreError::AmbiguousSnapshot { prefix: spec.to_string(), matches: matches.iter().map(|s| s.id).collect() }),
    }
}
