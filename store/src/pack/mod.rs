//! Packs: writing them ([`PackWriter`]) and reading blobs back out of them ([`PackReader`]), and
//! the whole-pack operations check, prune and repair use.

use std::fs::File;

use repo_format::pack::{self as fmt, PackEntry};
use repo_format::{object_key, Id};

use crate::backend::BackendError;
use crate::repository::Repository;
use crate::{Result, StoreError};

mod reader;
mod writer;

pub use reader::PackReader;
pub use writer::PackWriter;

/// A whole pack's bytes: memory-mapped from a local repository (no copy), fetched otherwise.
pub enum PackBytes {
    /// Mapped from the local file.
    Mapped(memmap2::Mmap),
    /// Fetched through the backend.
    Fetched(Vec<u8>),
}

impl std::ops::Deref for PackBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            PackBytes::Mapped(m) => m,
            PackBytes::Fetched(v) => v,
        }
    }
}

/// Read a whole pack (for verifying every byte of it).
pub fn whole_pack(repo: &Repository, pack: &Id) -> std::result::Result<PackBytes, BackendError> {
    let key = object_key::pack(pack);
    match repo.backend().local_path(&key) {
        Some(path) => {
            let file = File::open(&path).map_err(|e| BackendError::from_io(&key, e))?;
            // SAFETY: packs are write-once; nothing modifies a pack file while it exists (prune
            // deletes whole files, which leaves an existing mapping intact).
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| BackendError::from_io(&key, e))?;
            Ok(PackBytes::Mapped(map))
        }
        None => repo.backend().get(&key).map(PackBytes::Fetched),
    }
}

/// Read a pack's header through the backend (its last bytes only), given the pack's length.
pub fn read_header(repo: &Repository, pack: &Id, len: u64) -> Result<Vec<PackEntry>> {
    let key = object_key::pack(pack);
    let backend = repo.backend();
    let tail_len = fmt::TRAILER_LEN.min(len as usize);
    let trailer = backend.get_range(&key, len - tail_len as u64, tail_len)?;
    let (off, hlen, version) = fmt::locate_header(len, &trailer).map_err(|e| StoreError::format(key.clone(), e))?;
    let sealed = backend.get_range(&key, off, hlen)?;
    fmt::decode_header(repo.keys(), &sealed, off, version).map_err(|e| StoreError::format(key, e))
}

/// The packs in the repository that `indexed` does not know, with their keys: left by killed
/// ingests, or listed by a segment that was lost.
pub fn unindexed(repo: &Repository, indexed: impl Fn(&Id) -> Result<bool>) -> Result<Vec<(Id, String)>> {
    let mut out = Vec::new();
    for key in repo.backend().list(object_key::PACKS)? {
        if let Some(id) = object_key::id_of(&key)
            && !indexed(&id)?
        {
            out.push((id, key));
        }
    }
    Ok(out)
}

/// A temporary pack in `tmp_dir`, locked: the lock, held until the file is closed, tells
/// [`clean_orphans`] that it is still being written. It is created under a name the sweep leaves
/// alone and renamed once locked: created and locked in two steps under the swept name, another
/// ingest's sweep could take it for an orphan in between and delete it (seen with parallel jobs).
pub(crate) fn new_temporary(tmp_dir: &std::path::Path) -> Result<(File, tempfile::TempPath)> {
    let creating = tempfile::Builder::new().prefix(CREATING).tempfile_in(tmp_dir).map_err(|e| StoreError::io("creating a temporary pack", e))?;
    let (file, path) = creating.into_parts();
    file.lock().map_err(|e| StoreError::io("locking a temporary pack", e))?;
    let name = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix(CREATING)).unwrap_or_default().to_string();
    let locked = tmp_dir.join(format!("{TEMPORARY}{name}"));
    std::fs::rename(&path, &locked).map_err(|e| StoreError::io("naming a temporary pack", e))?;
    let _ = path.keep();
    let locked = tempfile::TempPath::try_from_path(locked).map_err(|e| StoreError::io("naming a temporary pack", e))?;
    Ok((file, locked))
}

/// The name prefix of temporary packs being written (or left by a writer that died).
const TEMPORARY: &str = ".tmp-pack-";

/// The name prefix of a temporary pack before it is locked: swept only when older than
/// [`CREATING_GRACE`] (left by a writer that died between creating and renaming it).
const CREATING: &str = ".tmp-new-pack-";

/// How old an unrenamed temporary pack must be to be taken for an orphan.
const CREATING_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Delete temporary packs whose writer has died (their lock is free); return how many.
pub fn clean_orphans(tmp_dir: &std::path::Path) -> Result<usize> {
    let mut removed = 0;
    let entries = std::fs::read_dir(tmp_dir).map_err(|e| StoreError::io(format!("listing {}", tmp_dir.display()), e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(CREATING) {
            let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > CREATING_GRACE);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
            continue;
        }
        if !name.starts_with(TEMPORARY) {
            continue;
        }
        let Ok(f) = File::open(entry.path()) else { continue };
        if f.try_lock().is_ok() && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One ingest creating temporary packs while another sweeps orphans (parallel jobs): no pack
    /// being written is ever taken for an orphan.
    #[test]
    fn a_sweep_never_deletes_a_temporary_pack_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    clean_orphans(dir.path()).unwrap();
                }
            });
            let vanished = (0..3000).filter(|_| {
                let (file, path) = new_temporary(dir.path()).unwrap();
                let gone = !path.exists();
                drop(file);
                gone
            });
            let vanished = vanished.count();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(vanished, 0, "temporary packs vanished while they were written");
        });
        // A writer that died: its file is unlocked, and swept.
        let (file, path) = new_temporary(dir.path()).unwrap();
        let path = path.keep().unwrap();
        drop(file);
        assert_eq!(clean_orphans(dir.path()).unwrap(), 1);
        assert!(!path.exists());
    }
}
