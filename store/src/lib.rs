//! dbvault's repository: storage backends, packs, the local RocksDB index, snapshots, and the
//! two operations everything else builds on, ingest and restore.
//!
//! How the pieces fit:
//! - [`backend::Backend`] stores write-once objects ([`backend::LocalBackend`]: a folder;
//!   [`backend::S3Backend`]: an S3 bucket), at a [`location::Location`].
//! - [`repository::Repository`] unlocks a repository and keeps the local [`index::Index`] in step
//!   with the objects (the index is derived state and rebuilds itself when missing).
//! - [`ingest::ingest`] chunks, deduplicates, seals and packs a stream ([`pack::PackWriter`]),
//!   stores changed chunks as deltas against the parent snapshot's ([`delta`]),
//!   writes index segments, then commits a manifest with the index's writer role
//!   ([`index::Index::open_write`]).
//! - [`restore::restore`] walks a snapshot's chunk-list tree ([`tree::TreeWalk`]), reads blobs with
//!   [`pack::PackReader`], and checks every chunk and the stream digest.
//! - [`snapshot`] lists snapshots and resolves names like `latest` or an id prefix.
//!
//! The on-disk format and the write order are specified in `SPEC.md` at the workspace root.

pub mod backend;
pub mod base_backup;
pub mod browse;
pub mod check;
pub mod check_records;
pub mod contents;
pub mod copy;
pub mod delta;
pub mod drill_records;
pub mod dump;
pub mod extract;
pub mod error;
pub mod forgotten;
pub mod index;
pub mod ingest;
pub mod keys;
pub mod lease;
pub mod location;
pub mod lock;
pub mod marks;
pub mod names;
pub mod object;
pub mod pack;
pub mod prune;
mod records;
pub mod redact;
pub mod repair;
pub mod repository;
pub mod restore;
pub mod retention;
pub mod small_writes;
pub mod snapshot;
pub mod tree;
pub mod wal;

pub use error::{Result, StoreError};
pub use location::{Access, Location};
pub use repository::{InitOptions, Repository};

/// A long operation's progress callback: told the phase's name, how far it got, and its total.
pub type Progress<'a> = dyn Fn(&str, u64, u64) + Sync + 'a;
