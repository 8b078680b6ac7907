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

/// Delete temporary packs whose writer has died (their lock is free); return how many.
pub fn clean_orphans(tmp_dir: &std::path::Path) -> Result<usize> {
    let mut removed = 0;
    let entries = std::fs::read_dir(tmp_dir).map_err(|e| StoreError::io(format!("listing {}", tmp_dir.display()), e))?;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(".tmp-pack-") {
            continue;
        }
        let Ok(f) = File::open(entry.path()) else { continue };
        if f.try_lock().is_ok() && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}
