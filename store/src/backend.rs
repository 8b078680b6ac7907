//! Where repository objects live: a small trait over write-once objects, and the local folder.
//!
//! Keys are `/`-separated paths relative to the repository root (`config`, `keys/<id>`,
//! `packs/<xx>/<id>`, `index/<id>`, `snapshots/<id>`), which map one-to-one to files here and to
//! object names in an object store. Every object is written once and never modified.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A backend failure, in terms a caller can act on.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The object does not exist.
    #[error("{key}: not found in the repository")]
    NotFound {
        /// Object key.
        key: String,
    },
    /// `put_new` found the object already there.
    #[error("{key}: already exists")]
    AlreadyExists {
        /// Object key.
        key: String,
    },
    /// The object ends before the bytes asked for.
    #[error("{key}: has {size} bytes, but bytes up to {end} were asked for (truncated?)")]
    Short {
        /// Object key.
        key: String,
        /// End of the requested range.
        end: u64,
        /// The object's size.
        size: u64,
    },
    /// Any other I/O failure.
    #[error("{key}: {source}")]
    Io {
        /// Object key (or folder).
        key: String,
        /// The OS error.
        source: io::Error,
    },
}

impl BackendError {
    /// Classify an I/O error on `key`.
    pub fn from_io(key: &str, source: io::Error) -> BackendError {
        match source.kind() {
            io::ErrorKind::NotFound => BackendError::NotFound { key: key.to_string() },
            io::ErrorKind::AlreadyExists => BackendError::AlreadyExists { key: key.to_string() },
            _ => BackendError::Io { key: key.to_string(), source },
        }
    }
}

/// Storage for write-once repository objects.
///
/// Atomicity and durability: `put_new` and `put_new_file` make an object visible all at once
/// (never partially) and durable before they return. `get*` on an object that `put_new*` has
/// returned for sees all of its bytes.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Read a whole object. [`BackendError::NotFound`] if absent.
    fn get(&self, key: &str) -> Result<Vec<u8>, BackendError>;
    /// Read `len` bytes at `offset`; fails if the object is shorter.
    fn get_range(&self, key: &str, offset: u64, len: usize) -> Result<Vec<u8>, BackendError>;
    /// An object's size in bytes.
    fn size(&self, key: &str) -> Result<u64, BackendError>;
    /// Create an object that must not exist; [`BackendError::AlreadyExists`] if it does.
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), BackendError>;
    /// Create an object from a local file, consuming the file. For content-addressed keys an
    /// existing object is identical, so this succeeds without replacing it.
    fn put_new_file(&self, key: &str, file: &Path) -> Result<(), BackendError>;
    /// Keys of every object under the folder `prefix` (recursively), in no particular order.
    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError>;
    /// Delete an object (prune, key removal). Deleting an absent object is not an error.
    fn delete(&self, key: &str) -> Result<(), BackendError>;
    /// The object's path on the local filesystem, when it has one (whole packs are memory-mapped
    /// by `check --read-data`).
    fn local_path(&self, key: &str) -> Option<PathBuf>;
}

/// A repository in a local folder.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

/// Names of temporary files start with this; listings skip them.
const TMP_PREFIX: &str = ".tmp-";

impl LocalBackend {
    /// A backend rooted at `root` (which must exist).
    pub fn new(root: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend { root: root.into() }
    }

    /// The repository folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Make `dir` exist and be durable (fsync its parent when it was created).
    fn ensure_dir(&self, dir: &Path, key: &str) -> Result<(), BackendError> {
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(dir).map_err(|e| BackendError::from_io(key, e))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent).map_err(|e| BackendError::from_io(key, e))?;
        }
        Ok(())
    }
}

/// fsync a folder, so a rename or creation inside it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Backend for LocalBackend {
    fn get(&self, key: &str) -> Result<Vec<u8>, BackendError> {
        fs::read(self.path(key)).map_err(|e| BackendError::from_io(key, e))
    }

    fn get_range(&self, key: &str, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        let mut f = File::open(self.path(key)).map_err(|e| BackendError::from_io(key, e))?;
        f.seek(SeekFrom::Start(offset)).map_err(|e| BackendError::from_io(key, e))?;
        let mut buf = Vec::with_capacity(len);
        (&mut f).take(len as u64).read_to_end(&mut buf).map_err(|e| BackendError::from_io(key, e))?;
        if buf.len() < len {
            let size = f.metadata().map_or(0, |m| m.len());
            return Err(BackendError::Short { key: key.to_string(), end: offset + len as u64, size });
        }
        Ok(buf)
    }

    fn size(&self, key: &str) -> Result<u64, BackendError> {
        Ok(fs::metadata(self.path(key)).map_err(|e| BackendError::from_io(key, e))?.len())
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), BackendError> {
        let target = self.path(key);
        let dir = target.parent().expect("keys have a folder").to_path_buf();
        self.ensure_dir(&dir, key)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&dir)
            .map_err(|e| BackendError::from_io(key, e))?;
        io::Write::write_all(&mut tmp, bytes).map_err(|e| BackendError::from_io(key, e))?;
        tmp.as_file().sync_all().map_err(|e| BackendError::from_io(key, e))?;
        // A hard link fails if the target exists: create-if-absent, atomically.
        fs::hard_link(tmp.path(), &target).map_err(|e| BackendError::from_io(key, e))?;
        drop(tmp);
        sync_dir(&dir).map_err(|e| BackendError::from_io(key, e))
    }

    fn put_new_file(&self, key: &str, file: &Path) -> Result<(), BackendError> {
        let target = self.path(key);
        let dir = target.parent().expect("keys have a folder").to_path_buf();
        self.ensure_dir(&dir, key)?;
        File::open(file).and_then(|f| f.sync_all()).map_err(|e| BackendError::from_io(key, e))?;
        if target.exists() {
            // Content-addressed: the object there has the same bytes.
            let _ = fs::remove_file(file);
            return Ok(());
        }
        fs::rename(file, &target).map_err(|e| BackendError::from_io(key, e))?;
        sync_dir(&dir).map_err(|e| BackendError::from_io(key, e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let mut out = Vec::new();
        let mut stack = vec![prefix.trim_end_matches('/').to_string()];
        while let Some(rel) = stack.pop() {
            let entries = match fs::read_dir(self.path(&rel)) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(BackendError::from_io(&rel, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| BackendError::from_io(&rel, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(TMP_PREFIX) {
                    continue;
                }
                let key = format!("{rel}/{name}");
                if entry.file_type().map_err(|e| BackendError::from_io(&key, e))?.is_dir() {
                    stack.push(key);
                } else {
                    out.push(key);
                }
            }
        }
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), BackendError> {
        match fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(BackendError::from_io(key, e)),
            _ => Ok(()),
        }
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        Some(self.path(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_new_is_create_if_absent_and_listing_skips_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path());
        b.put_new("snapshots/aa", b"one").unwrap();
        assert!(matches!(b.put_new("snapshots/aa", b"two"), Err(BackendError::AlreadyExists { .. })));
        assert_eq!(b.get("snapshots/aa").unwrap(), b"one");
        assert_eq!(b.get_range("snapshots/aa", 1, 2).unwrap(), b"ne");
        let short = b.get_range("snapshots/aa", 2, 5).unwrap_err();
        assert!(matches!(short, BackendError::Short { end: 7, size: 3, .. }), "{short:?}");
        assert!(short.to_string().contains("truncated"), "{short}");
        assert!(matches!(b.get("snapshots/zz"), Err(BackendError::NotFound { .. })));
        fs::write(dir.path().join("snapshots/.tmp-x"), b"partial").unwrap();
        b.put_new("packs/ab/abcd", b"p").unwrap();
        let mut keys = b.list("packs").unwrap();
        keys.extend(b.list("snapshots").unwrap());
        keys.sort();
        assert_eq!(keys, vec!["packs/ab/abcd", "snapshots/aa"]);
        assert!(b.list("index").unwrap().is_empty());
        b.delete("snapshots/aa").unwrap();
        b.delete("snapshots/aa").unwrap();
        assert_eq!(b.size("packs/ab/abcd").unwrap(), 1);
    }

    #[test]
    fn put_new_file_moves_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(dir.path());
        let src = dir.path().join("src");
        fs::write(&src, b"pack").unwrap();
        b.put_new_file("packs/00/p", &src).unwrap();
        assert!(!src.exists());
        assert_eq!(b.get("packs/00/p").unwrap(), b"pack");
        fs::write(&src, b"pack").unwrap();
        b.put_new_file("packs/00/p", &src).unwrap();
        assert!(!src.exists());
    }
}
