//! Writing packs: sealed blobs appended to a temporary file, closed with the sealed header once it
//! reaches the target size, fsynced, named by the BLAKE3 hash of its bytes and handed to the backend
//! (a rename for a local repository; for a remote store an upload, several at a time).

use std::fs::File;
use std::io::{BufWriter, Write};

use repo_format::blob::SealedBlob;
use repo_format::index_segment::PackIndex;
use repo_format::pack::{self as fmt, PackEntry};
use repo_format::{object_key, Id};
use tempfile::TempPath;

use crate::backend::BackendError;
use crate::repository::Repository;
use crate::{Result, StoreError};

struct OpenPack {
    file: BufWriter<File>,
    path: TempPath,
    hasher: blake3::Hasher,
    entries: Vec<PackEntry>,
    len: u64,
}

/// A finished pack being handed to the backend on its own thread (remote stores).
struct Upload {
    thread: std::thread::JoinHandle<std::result::Result<(), BackendError>>,
    pack: PackIndex,
}

/// Writes sealed blobs into packs.
pub struct PackWriter<'r> {
    repo: &'r Repository,
    target: u64,
    current: Option<OpenPack>,
    uploads: std::collections::VecDeque<Upload>,
    done: Vec<PackIndex>,
    bytes_written: u64,
}

impl<'r> PackWriter<'r> {
    /// A writer for `repo`'s packs.
    pub fn new(repo: &'r Repository) -> Self {
        PackWriter {
            repo,
            target: u64::from(repo.config().pack_size).max(1 << 20),
            current: None,
            uploads: std::collections::VecDeque::new(),
            done: Vec::new(),
            bytes_written: 0,
        }
    }

    fn write(p: &mut OpenPack, bytes: &[u8]) -> Result<()> {
        p.file.write_all(bytes).map_err(|e| StoreError::io("writing a pack", e))?;
        p.hasher.update(bytes);
        p.len += bytes.len() as u64;
        Ok(())
    }

    /// Append a sealed blob; closes the pack when it reaches its target size.
    pub fn add(&mut self, b: &SealedBlob) -> Result<()> {
        if self.current.as_ref().is_some_and(|p| p.len + b.bytes.len() as u64 > u64::from(u32::MAX) / 2) {
            self.close_pack()?;
        }
        if self.current.is_none() {
            let (file, path) = super::new_temporary(&self.repo.tmp_dir()?)?;
            let mut p = OpenPack { file: BufWriter::with_capacity(1 << 20, file), path, hasher: blake3::Hasher::new(), entries: Vec::new(), len: 0 };
            Self::write(&mut p, &fmt::magic(self.repo.config().version))?;
            self.current = Some(p);
        }
        let p = self.current.as_mut().expect("just opened");
        p.entries.push(PackEntry {
            id: b.id,
            kind: b.kind,
            codec: b.codec,
            offset: p.len as u32,
            stored_len: b.bytes.len() as u32,
            raw_len: b.raw_len,
            delta: b.delta,
        });
        Self::write(p, &b.bytes)?;
        if p.len >= self.target {
            self.close_pack()?;
        }
        Ok(())
    }

    /// Close the open pack (if any) and wait until every pack is stored.
    pub fn finish_pack(&mut self) -> Result<()> {
        self.close_pack()?;
        while let Some(u) = self.uploads.pop_front() {
            self.reap(u)?;
        }
        Ok(())
    }

    fn reap(&mut self, u: Upload) -> Result<()> {
        u.thread.join().map_err(|_| StoreError::Internal("a pack upload thread panicked".into()))??;
        self.done.push(u.pack);
        Ok(())
    }

    /// Close the open pack (if any): write its header and hand it to the backend, which makes it
    /// durable: at once for a local folder, on an upload thread (at most `parallel_puts` at a time)
    /// for a remote store.
    fn close_pack(&mut self) -> Result<()> {
        let Some(mut p) = self.current.take() else { return Ok(()) };
        let header = fmt::encode_header(self.repo.keys(), &p.entries, self.repo.config().version).map_err(|e| StoreError::format("pack header", e))?;
        Self::write(&mut p, &header)?;
        // Not synced here: a local backend syncs the file before giving it its name, and an
        // object store reads it for the upload (a second fsync cost a device flush per pack).
        let file = p.file.into_inner().map_err(|e| StoreError::io("writing a pack", e.into_error()))?;
        let id = Id(*p.hasher.finalize().as_bytes());
        let pack = PackIndex { pack_id: id, pack_len: p.len, entries: p.entries };
        self.bytes_written += p.len;
        let backend = self.repo.backend().clone();
        let path = p.path;
        let put = move || {
            // The lock is held (the file stays open) until the pack has its name: another ingest's
            // `clean_orphans` would otherwise take the finished temporary file for an orphan.
            let stored = backend.put_new_file(&object_key::pack(&id), &path);
            drop(file);
            if stored.is_ok() {
                // The file has been moved or uploaded and removed; nothing is left to delete.
                let _ = path.keep();
            }
            stored
        };
        let parallel = self.repo.backend().parallel_puts();
        if parallel <= 1 {
            put()?;
            self.done.push(pack);
            return Ok(());
        }
        while self.uploads.len() >= parallel {
            let oldest = self.uploads.pop_front().expect("not empty");
            self.reap(oldest)?;
        }
        let thread = std::thread::Builder::new()
            .name("dbvault-upload".into())
            .spawn(put)
            .map_err(|e| StoreError::io("starting a pack upload", e))?;
        self.uploads.push_back(Upload { thread, pack });
        Ok(())
    }

    /// Packs stored since the last call (uploads still running are not included).
    pub fn take_finished(&mut self) -> Result<Vec<PackIndex>> {
        while self.uploads.front().is_some_and(|u| u.thread.is_finished()) {
            let u = self.uploads.pop_front().expect("not empty");
            self.reap(u)?;
        }
        Ok(std::mem::take(&mut self.done))
    }

    /// Bytes of all packs finished so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}

impl Drop for PackWriter<'_> {
    /// An abandoned writer (a failed or refused ingest) waits for the uploads it started: none
    /// keeps running, and none of their temporary files outlives the operation.
    fn drop(&mut self) {
        for u in self.uploads.drain(..) {
            let _ = u.thread.join(); // the outcome no longer matters: the packs are unreferenced
        }
    }
}
