//! The one error type of the format crate.

use thiserror::Error;

/// Why a byte buffer could not be encoded or decoded as a repository object.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The object does not start (or end) with the magic bytes of its kind.
    #[error("not a dbvault {kind}: wrong magic bytes")]
    BadMagic {
        /// Which object was expected.
        kind: &'static str,
    },
    /// The object is shorter than its layout requires, or a length field points past its end.
    #[error("{kind} is truncated or malformed: {detail}")]
    Malformed {
        /// Which object.
        kind: &'static str,
        /// What exactly was wrong.
        detail: String,
    },
    /// A format version or feature this build does not understand.
    #[error("{kind} uses format version {found}, this dbvault reads version {supported}; upgrade dbvault")]
    UnsupportedVersion {
        /// Which object.
        kind: &'static str,
        /// The version found.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// Authenticated decryption failed: wrong key, or the bytes were altered.
    #[error("{kind} failed authentication (wrong key, or the data was altered)")]
    Authentication {
        /// Which object.
        kind: &'static str,
    },
    /// The passphrase does not unlock this key file.
    #[error("wrong password for this key")]
    WrongPassword,
    /// The decrypted data does not hash to the id it is stored under.
    #[error("{kind} {expected} has content hashing to {actual}")]
    IdMismatch {
        /// Which object.
        kind: &'static str,
        /// The id it was stored under.
        expected: crate::Id,
        /// The id of what was found.
        actual: crate::Id,
    },
    /// zstd failed to compress or decompress.
    #[error("{kind}: zstd: {source}")]
    Compression {
        /// Which object.
        kind: &'static str,
        /// The underlying zstd error.
        source: std::io::Error,
    },
    /// A JSON object could not be read or written.
    #[error("{kind}: {source}")]
    Json {
        /// Which object.
        kind: &'static str,
        /// The underlying serde_json error.
        source: serde_json::Error,
    },
    /// The key derivation function rejected its parameters.
    #[error("key derivation: {0}")]
    Kdf(String),
    /// The operating system's random number generator failed.
    #[error("random number generator: {0}")]
    Random(String),
}

impl FormatError {
    /// A [`FormatError::Malformed`] with a formatted detail.
    pub fn malformed(kind: &'static str, detail: impl Into<String>) -> Self {
        FormatError::Malformed { kind, detail: detail.into() }
    }
}
