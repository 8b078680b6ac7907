//! Where repository objects live: a small trait over write-once objects, and its implementations,
//! a local folder ([`LocalBackend`]), an S3-compatible bucket ([`S3Backend`]), and memory with
//! injected faults, for tests ([`MemoryBackend`]).
//!
//! Keys are `/`-separated paths relative to the repository root, all made by
//! [`repo_format::object_key`], which map one-to-one to files in a folder and to object names
//! (after an optional prefix) in a bucket. Every object is written once and
//! never modified.

mod local;
mod memory;
mod s3;

use std::io;
use std::path::{Path, PathBuf};

pub use local::{LocalBackend, sync_dir};
pub use memory::{Effect, Fault, MemoryBackend, Op};
pub use s3::{S3Backend, S3Location, S3Options};

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
    /// The object store failed (network, credentials, server error), after its retries.
    #[error("{key}: {source}")]
    Remote {
        /// Object key.
        key: String,
        /// The client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// Create an object that must not exist; [`BackendError::AlreadyExists`] if it does (an
    /// object store may instead succeed when the object there has exactly these bytes: a retried
    /// request whose first attempt landed).
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
    /// How many `put_new_file` calls are worth running at once (uploads to a remote store).
    fn parallel_puts(&self) -> usize {
        1
    }
    /// Where the repository is, for messages: a folder path or a URL.
    fn describe(&self) -> String;
}

