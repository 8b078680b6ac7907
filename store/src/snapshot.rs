//! Listing snapshots and resolving what a user names (`latest`, an id, or an id prefix).

use repo_format::Id;
use repo_format::manifest::Manifest;

use crate::index::Index;
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

/// Every snapshot in the index, oldest first (optionally only one database's).
pub fn list(repo: &Repository, index: &Index, db: Option<&str>) -> Result<Vec<Snapshot>> {
    let mut out = Vec::new();
    for (id, sealed) in index.snapshots()? {
        match Manifest::decode(repo.keys(), &sealed) {
            Ok(m) if db.is_none_or(|d| d == m.db) => out.push(Snapshot { id, manifest: m }),
            Ok(_) => {}
            Err(e) => repo.warn(format!("snapshot {}: {e}", id.short())),
        }
    }
    out.sort_by_key(|a| (a.manifest.end, a.id));
    Ok(out)
}

/// Remove snapshots: delete their manifests and unlist them (under the writer role).
/// Their data stays until `prune`.
pub fn forget(repo: &Repository, snapshots: &[Snapshot]) -> Result<()> {
    let writer = repo.index_writer()?;
    for s in snapshots {
        repo.backend().delete(&format!("snapshots/{}", s.id))?;
        writer.remove_snapshot(&s.id, &repo.keys().name_tag(&s.manifest.db), s.manifest.end.as_nanosecond())?;
    }
    writer.flush()
}

/// Resolve `spec`: `latest` (newest, of `db` if given), a full id, or a unique id prefix.
/// With `db`, only that database's snapshots match.
pub fn resolve(repo: &Repository, index: &Index, spec: &str, db: Option<&str>) -> Result<Snapshot> {
    let all = list(repo, index, db)?;
    if spec == "latest" {
        return all.into_iter().last().ok_or_else(|| {
            StoreError::SnapshotNotFound(match db {
                Some(d) => format!("latest (no snapshot of db {d:?})"),
                None => "latest (the repository has no snapshots)".into(),
            })
        });
    }
    let lower = spec.to_ascii_lowercase();
    if lower.is_empty() || !lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StoreError::SnapshotNotFound(spec.to_string()));
    }
    let mut matches: Vec<Snapshot> = all.into_iter().filter(|s| s.id.to_hex().starts_with(&lower)).collect();
    match matches.len() {
        0 => Err(StoreError::SnapshotNotFound(spec.to_string())),
        1 => Ok(matches.pop().expect("one")),
        _ => Err(StoreError::AmbiguousSnapshot { prefix: spec.to_string(), matches: matches.iter().map(|s| s.id).collect() }),
    }
}
