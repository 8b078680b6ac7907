//! dbvault's on-disk format: every object a repository holds, as bytes.
//!
//! This crate is the executable form of `SPEC.md`; each module is named after the object it
//! encodes. It performs no I/O: it turns typed values into byte buffers and back, and it is the
//! only place that knows keys, nonces and associated data.
//!
//! How the pieces fit:
//! - [`keyfile`] wraps the repository's [`crypto::MasterKey`] under a passphrase (Argon2id).
//! - [`crypto::Keys`] derives every working key from the master key (data encryption, blob ids,
//!   config MAC, chunker seed) and implements the sealed envelope (XChaCha20-Poly1305).
//! - [`config`] is the repository's identity, format version and chunker parameters.
//! - [`blob`] seals one chunk or chunk-list node (zstd, then AEAD with the id as associated data),
//!   or a chunk as a delta against a base chunk (version 2).
//!   Its patches' long matches are found at row starts by `anchored`.
//! - [`pack`] is a file of sealed blobs plus a sealed header that lists them.
//! - [`index_segment`] lists "blob -> pack, offset, length" for the packs of one ingest.
//! - [`tree`] is the node format of a snapshot's chunk list.
//! - [`manifest`] is one snapshot: its database, lineage, sizes, digest and chunk-list root.
//! - [`forget_record`] records which snapshots a `forget` removed (so a lost one is told apart).
//! - [`lease`] is a cross-machine lock of an S3 repository.
//!
//! Every decoder treats its input as hostile: lengths are checked against the bytes actually
//! present before anything is allocated, and every failure is a typed [`FormatError`].

mod anchored;
pub mod blob;
pub mod check_record;
pub mod config;
pub mod contents;
pub mod crypto;
pub mod drill_record;
pub mod error;
pub mod forget_record;
pub mod id;
pub mod index_segment;
pub mod keyfile;
pub mod lease;
pub mod manifest;
pub mod object_key;
pub mod pack;
pub mod postgres;
mod sealed_json;
pub mod tree;

pub use sealed_json::SealedRecord;

pub use error::FormatError;
pub use id::{Id, ParseIdError};

/// The repository format version this code writes for new repositories (SPEC.md section 2).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest repository format version this code reads (and keeps writing in its own version).
pub const OLDEST_VERSION: u32 = 1;

/// Read a little-endian `u32` at `at`; the caller has checked the bounds.
pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Read a little-endian `u64` at `at`; the caller has checked the bounds.
pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
