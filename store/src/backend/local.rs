//! The local-folder backend: each key is a file under the repository folder.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{Backend, BackendError};

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

    fn describe(&self) -> String {
        self.root.display().to_string()
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
