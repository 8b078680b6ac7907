//! Reading every record of one kind (`checks/`, `drills/`: SPEC.md sections 9.4 and 9.5). Records
//! are immutable and named by the hash of their bytes, so a remote repository's are fetched once
//! per machine: their sealed bytes are kept under the local folder (`records/<kind>/<id>`) and
//! re-fetched only if they no longer hash to their name. A folder repository is read directly.

use std::path::PathBuf;

use rayon::prelude::*;
use repo_format::{Id, SealedRecord, object_key};

use crate::backend::BackendError;
use crate::location::Location;
use crate::repository::Repository;
use crate::{Result, StoreError};

/// Every readable record under `prefix` with its id; a damaged one is reported as a warning of
/// `repo` and skipped, an unreachable store is an error.
pub(crate) fn read_all<T: SealedRecord + Send>(repo: &Repository, prefix: &str) -> Result<Vec<(Id, T)>> {
    let keys = repo.backend().list(prefix)?;
    let cache = match repo.location() {
        Location::Local(_) => None,
        _ => Some(repo.local_dir().join("records").join(prefix)),
    };
    if let Some(dir) = &cache {
        forget_gone(dir, &keys);
    }
    let read: Vec<(String, Result<T>)> = keys
        .into_par_iter()
        .map(|key| {
            let r = fetch(repo, &key, cache.as_ref()).and_then(|bytes| T::decode(repo.keys(), &bytes).map_err(|e| StoreError::format(key.clone(), e)));
            (key, r)
        })
        .collect();
    let mut out = Vec::with_capacity(read.len());
    for (key, r) in read {
        match r {
            Ok(t) => out.extend(object_key::id_of(&key).map(|id| (id, t))),
            // An unreachable store is no damage.
            Err(e @ StoreError::Backend(BackendError::Remote { .. })) => return Err(e),
            Err(e) => repo.warn(format!("damaged {}: {e}", T::KIND)),
        }
    }
    Ok(out)
}

/// The sealed bytes of `key`: from the cache when they still hash to their name, else fetched
/// (and cached; a cache that cannot be written is only slower).
fn fetch(repo: &Repository, key: &str, cache: Option<&PathBuf>) -> Result<Vec<u8>> {
    let id = object_key::id_of(key);
    let path = cache.zip(id).map(|(dir, id)| dir.join(id.to_hex()));
    if let (Some(p), Some(id)) = (&path, id)
        && let Ok(bytes) = std::fs::read(p)
        && Id::of_bytes(&bytes) == id
    {
        return Ok(bytes);
    }
    let bytes = repo.backend().get(key)?;
    if let Some(p) = &path
        && let Some(dir) = p.parent()
        && std::fs::create_dir_all(dir).is_ok()
    {
        let _ = tempfile::NamedTempFile::new_in(dir).and_then(|mut t| {
            std::io::Write::write_all(&mut t, &bytes)?;
            t.persist(p).map_err(|e| e.error)
        });
    }
    Ok(bytes)
}

/// Remove cached records whose objects are gone (a forget removed drills).
fn forget_gone(dir: &std::path::Path, keys: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let present: std::collections::HashSet<String> = keys.iter().filter_map(|k| object_key::id_of(k)).map(|id| id.to_hex()).collect();
    for e in entries.flatten() {
        if e.file_name().to_str().is_some_and(|n| !present.contains(n)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
