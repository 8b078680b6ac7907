//! Where a repository lives: a local folder, an S3 bucket (or memory, for tests), and where this machine keeps its
//! derived state (the RocksDB index, locks, temporary packs) for it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, LocalBackend, MemoryBackend, S3Backend, S3Location, S3Options};
use crate::{Result, StoreError};

/// Default for [`Access::retry_timeout`], in seconds.
pub const DEFAULT_RETRY_TIMEOUT_SECS: u64 = 120;

/// Folder (inside a local repository) for derived state: the RocksDB index, the lock, temp files.
pub const LOCAL_DIR: &str = "local";

/// A repository's location, as given by `--repo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A folder on this machine.
    Local(PathBuf),
    /// A bucket (and prefix) of an S3-compatible object store.
    S3(S3Location),
    /// Objects in memory, with injected faults (tests; never parsed from `--repo`). Treated like
    /// a remote store: derived state in the cache folder ([`Access::cache_dir`]).
    Memory(Arc<MemoryBackend>),
}

impl Location {
    /// Parse `--repo`: `s3:...` is an S3 URL, anything else a folder path.
    pub fn parse(s: &str) -> Result<Location> {
        if s.starts_with("s3:") {
            s.parse().map(Location::S3).map_err(StoreError::Invalid)
        } else {
            Ok(Location::Local(PathBuf::from(s)))
        }
    }

    /// Connect to the objects.
    pub fn backend(&self, access: &Access) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Location::Local(p) => Arc::new(LocalBackend::new(p)),
            Location::S3(l) => Arc::new(S3Backend::new(l.clone(), S3Options::from_env(access.retry_timeout))?),
            Location::Memory(m) => Arc::clone(m) as Arc<dyn Backend>,
        })
    }

    /// Where this machine keeps derived state for the repository with id `repo_id`: `local/` inside
    /// a local repository; `<cache>/<repo id>` for a remote (or memory) one.
    pub fn local_dir(&self, repo_id: &repo_format::Id, access: &Access) -> Result<PathBuf> {
        match self {
            Location::Local(p) => Ok(p.join(LOCAL_DIR)),
            Location::S3(_) | Location::Memory(_) => Ok(access.cache_root()?.join(repo_id.to_hex())),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3(l) => write!(f, "{l}"),
            Location::Memory(m) => write!(f, "{}", m.describe()),
        }
    }
}

/// How this machine reaches a repository: its cache folder and network patience.
#[derive(Clone, Debug)]
pub struct Access {
    /// Folder holding one subfolder of derived state per remote repository (`--cache-dir`);
    /// `$XDG_CACHE_HOME/dbvault` or `~/.cache/dbvault` when `None`.
    pub cache_dir: Option<PathBuf>,
    /// How long one request to a remote store is retried before it fails.
    pub retry_timeout: Duration,
}

impl Default for Access {
    fn default() -> Access {
        Access { cache_dir: None, retry_timeout: Duration::from_secs(DEFAULT_RETRY_TIMEOUT_SECS) }
    }
}

impl Access {
    /// The cache root: `cache_dir`, else `$XDG_CACHE_HOME/dbvault`, else `$HOME/.cache/dbvault`.
    pub fn cache_root(&self) -> Result<PathBuf> {
        if let Some(d) = &self.cache_dir {
            return Ok(d.clone());
        }
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from).filter(|p| p.is_absolute());
        env("XDG_CACHE_HOME")
            .or_else(|| env("HOME").map(|h| h.join(".cache")))
            .map(|d| d.join("dbvault"))
            .ok_or_else(|| StoreError::Invalid("no cache folder for the remote repository's index: set --cache-dir, XDG_CACHE_HOME or HOME".into()))
    }
}

/// Whether `path` is an absent or empty folder.
pub(crate) fn is_empty_folder(path: &Path) -> Result<bool> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(StoreError::io(format!("reading {}", path.display()), e)),
    }
}
