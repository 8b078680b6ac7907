//! The store's error type.
//!
//! Rules for errors (the CLI relies on them): every variant says what happened and names the
//! object involved (snapshot, database, chunk, pack, file); variants that need the user to act
//! say what to do; corruption is never reported as a generic I/O error, so the CLI can give it
//! its own exit code.

use std::path::PathBuf;

use repo_format::{FormatError, Id};
use thiserror::Error;

use crate::backend::BackendError;

/// Result alias of the store crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in a repository operation.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The location holds no dbvault repository.
    #[error("{location} is not a dbvault repository (no config object); create one with `dbvault init`")]
    NotARepository {
        /// The folder or URL.
        location: String,
    },
    /// The repository's config is missing or damaged, although it has key files.
    #[error("{location}: the repository's config file: {detail}. The keys and data are intact: `dbvault repair config` restores it from the copy in the key files")]
    ConfigLost {
        /// The folder or URL.
        location: String,
        /// What is wrong with it.
        detail: String,
    },
    /// `init` was pointed at a folder or bucket prefix that already has content.
    #[error("{location} is not empty; `dbvault init` only creates a repository in a new or empty folder or bucket prefix")]
    NotEmpty {
        /// The folder or URL.
        location: String,
    },
    /// No key file unlocks with the given password.
    #[error("wrong password: none of the repository's {keys} key(s) opens with it{}", if *.damaged > 0 { format!(" ({} more key file(s) are damaged and could not be tried)", .damaged) } else { String::new() })]
    WrongPassword {
        /// How many key files were tried.
        keys: usize,
        /// Key files that could not be read or parsed (so were not tried).
        damaged: usize,
    },
    /// The repository has no key files at all.
    #[error("the repository has no key files (keys/ is empty or unreadable); it cannot be unlocked")]
    NoKey,
    /// A repository object failed to decode or authenticate.
    #[error("{object}: {source}")]
    Format {
        /// Which object ("pack 3fa2..", "snapshot 81c0..", "config").
        object: String,
        /// What was wrong with it.
        source: FormatError,
    },
    /// The storage backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Local I/O failed (temporary files, the local index folder).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Reading the dump stream failed.
    #[error("reading the input stream failed after {offset} bytes: {source}")]
    Input {
        /// Bytes read before the failure.
        offset: u64,
        /// The OS error.
        source: std::io::Error,
    },
    /// The local RocksDB index failed.
    #[error("local index at {path}: {detail}; run `dbvault repair index` to rebuild it from the repository")]
    Index {
        /// The RocksDB folder.
        path: PathBuf,
        /// RocksDB's message.
        detail: String,
    },
    /// Another process holds the lock needed, for longer than we wait.
    #[error("repository is busy: {what} is locked by another dbvault process (waited {waited_secs} s); try again later")]
    Busy {
        /// Which lock.
        what: String,
        /// How long we waited.
        waited_secs: u64,
    },
    /// No snapshot matches what the user named.
    #[error("no snapshot matches {0:?}; `dbvault snapshots` lists them")]
    SnapshotNotFound(String),
    /// A database named by the user has no snapshots.
    #[error("no snapshots of db {db:?}; {}", if .known.is_empty() { "the repository has none yet".to_string() } else { format!("the repository has snapshots of: {}", .known.join(", ")) })]
    NoSuchDatabase {
        /// What the user typed.
        db: String,
        /// The databases that have snapshots.
        known: Vec<String>,
    },
    /// `latest` without `--db` in a repository of several databases.
    #[error("`latest` of which database? The repository holds snapshots of {}; say which with --db NAME", .databases.join(", "))]
    LatestOfWhich {
        /// The databases that have snapshots.
        databases: Vec<String>,
    },
    /// A snapshot id prefix matches several snapshots.
    #[error("snapshot prefix {prefix:?} is ambiguous: it matches {}; give more digits", .matches.iter().map(Id::short).collect::<Vec<_>>().join(", "))]
    AmbiguousSnapshot {
        /// What the user typed.
        prefix: String,
        /// The snapshots it matches.
        matches: Vec<Id>,
    },
    /// A blob a snapshot needs is not in the index.
    #[error("blob {id} is not in the index (missing from the repository, or the index is stale: `dbvault repair index`)")]
    MissingBlob {
        /// The blob.
        id: Id,
    },
    /// A chunk of a snapshot could not be read back intact.
    #[error("snapshot {} of db {db}: chunk {chunk} at stream offset {offset} is unreadable: {source}", .snapshot.short())]
    Unreadable {
        /// The snapshot being read.
        snapshot: Id,
        /// Its database.
        db: String,
        /// The chunk or chunk-list node.
        chunk: Id,
        /// Where in the stream it belongs.
        offset: u64,
        /// Why it failed.
        source: Box<StoreError>,
    },
    /// The restored stream does not hash to the digest recorded at ingest.
    #[error(transparent)]
    DigestMismatch(Box<DigestMismatch>),
    /// A new database's name looks like an existing database's (the same UTS 39 skeleton): two
    /// lineages that look the same would be mistaken for each other.
    #[error("database name {name:?} looks like the existing database {existing:?} (their characters differ); a snapshot of {existing:?} should use that very name")]
    LookAlike {
        /// The name refused.
        name: String,
        /// The existing database it looks like.
        existing: String,
    },
    /// `ingest --base` was given a stream that is not a base backup.
    #[error("--base: the stream is not a base backup ({0}); nothing was committed. Take one with: pg_basebackup -D - -Ft -X none")]
    NotBaseBackup(String),
    /// A WAL file is already archived with other bytes: two servers archive into one place.
    #[error(
        "WAL file {file} is already archived for db {db:?} with different content: two servers archive into the same place \
         (a standby promoted while the old primary still runs, or a cluster restored without a new timeline). \
         Nothing was overwritten; give each server its own --db"
    )]
    WalConflict {
        /// The database (WAL archive) name.
        db: String,
        /// The WAL file name.
        file: String,
    },
    /// A WAL file of another cluster pushed into a database's WAL archive.
    #[error(
        "db {db:?} archives the WAL of PostgreSQL cluster {archived} (its system identifier), but {file} belongs to cluster {pushed}: \
         a different or re-initialised cluster (initdb, pg_upgrade) needs its own --db; nothing was committed"
    )]
    WalOtherCluster {
        /// The database (WAL archive) name.
        db: String,
        /// The cluster whose WAL the archive holds.
        archived: u64,
        /// The cluster of the file pushed.
        pushed: u64,
        /// The file pushed.
        file: String,
    },
    /// A name that PostgreSQL never gives a WAL file.
    #[error("{0:?} is not the name of a WAL file (a segment such as 000000010000000000000003, a .partial segment, a .history or a .backup file)")]
    NotWalName(String),
    /// No WAL was ever archived under this name (a typo, most likely): never "not archived",
    /// which would end a recovery as if the archive ended there.
    #[error("db {db:?} has no WAL archive{}", if .known.is_empty() { " (no database has one: archive_command = 'dbvault wal push --db NAME %p')".to_string() } else { format!("; databases with one: {}", .known.join(", ")) })]
    NoWalArchive {
        /// The name asked for.
        db: String,
        /// The databases that have a WAL archive.
        known: Vec<String>,
    },
    /// A segment missing from the archive while a later one of its timeline is there: a hole.
    #[error("WAL segment {file} is missing from db {db:?}'s archive, though {later} is archived: a hole (lost or never pushed), not the end of the WAL; `dbvault wal verify --db {db}` lists the holes")]
    WalGap {
        /// The database (WAL archive) name.
        db: String,
        /// The missing segment.
        file: String,
        /// A later segment of the same timeline that is archived.
        later: String,
    },
    /// The WAL file asked for is not in the archive.
    #[error("WAL file {file} is not archived for db {db:?}")]
    WalNotArchived {
        /// The database (WAL archive) name.
        db: String,
        /// The WAL file name.
        file: String,
    },
    /// The input stream was empty.
    #[error("the input stream is empty: nothing to back up (did the dump command write to a file instead of standard output?)")]
    EmptyInput,
    /// The dump's format ends with a completion marker, and it is missing: the dump was cut short.
    #[error("the {format} dump is incomplete: its completion marker ({marker:?}) is missing at the end, so the dump was cut short; nothing was committed (use --allow-incomplete to keep it, marked incomplete)")]
    Incomplete {
        /// The recognised format.
        format: String,
        /// The marker that was expected.
        marker: String,
    },
    /// The program producing the stream failed; nothing was committed.
    #[error("dump command `{command}` {status}; nothing was committed{}", if .stderr_tail.is_empty() { String::new() } else { format!("; its last error output: {}", .stderr_tail.join(" | ")) })]
    ProducerFailed {
        /// The command line.
        command: String,
        /// How it ended ("exited with status 1", "was killed by signal 9", "could not be started: ...").
        status: String,
        /// Its last lines of standard error.
        stderr_tail: Vec<String>,
    },
    /// The caller's options are invalid.
    #[error("{0}")]
    Invalid(String),
    /// A thread of dbvault's own stopped unexpectedly (a bug): nothing was committed.
    #[error("internal error: {0}; nothing was committed (please report this)")]
    Internal(String),
}

/// What a restore found when its stream did not match the manifest (boxed in [`StoreError`]:
/// every `Result` of this crate is as large as the largest error variant).
#[derive(Debug, Error)]
#[error("snapshot {} of db {db}: restored stream has BLAKE3 {actual} and {actual_size} bytes, manifest says {expected} and {expected_size} bytes", .snapshot.short())]
pub struct DigestMismatch {
    /// The snapshot.
    pub snapshot: Id,
    /// Its database.
    pub db: String,
    /// Digest recorded at ingest.
    pub expected: Id,
    /// Digest of what was restored.
    pub actual: Id,
    /// Size recorded at ingest.
    pub expected_size: u64,
    /// Size restored.
    pub actual_size: u64,
}

impl StoreError {
    /// Wrap a format error with the object it concerns.
    pub fn format(object: impl Into<String>, source: FormatError) -> Self {
        StoreError::Format { object: object.into(), source }
    }

    /// Wrap an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StoreError::Io { context: context.into(), source }
    }

    /// True when the error means stored data is damaged or missing (not an environment problem).
    pub fn is_integrity(&self) -> bool {
        match self {
            StoreError::Format { source, .. } => !matches!(source, FormatError::WrongPassword | FormatError::Random(_)),
            StoreError::MissingBlob { .. } | StoreError::DigestMismatch { .. } | StoreError::ConfigLost { .. } | StoreError::WalGap { .. } => true,
            // A remote store that cannot be reached, or a file this user may not read (a pack
            // written by root, say), says nothing about the data's integrity.
            StoreError::Unreadable { source, .. } => {
                source.is_integrity()
                    || matches!(**source, StoreError::Backend(ref b) if !matches!(b, BackendError::Remote { .. })
                        && !matches!(b, BackendError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied))
            }
            StoreError::Backend(BackendError::NotFound { .. } | BackendError::Short { .. }) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boxed_digest_mismatch_reads_and_counts_as_damage() {
        let e = StoreError::DigestMismatch(Box::new(DigestMismatch {
            snapshot: Id([0xab; 32]),
            db: "shop".into(),
            expected: Id([1; 32]),
            actual: Id([2; 32]),
            expected_size: 10,
            actual_size: 9,
        }));
        let text = e.to_string();
        assert!(text.starts_with("snapshot abababab of db shop: restored stream has BLAKE3 0202"), "{text}");
        assert!(text.ends_with("and 9 bytes, manifest says 0101010101010101010101010101010101010101010101010101010101010101 and 10 bytes"), "{text}");
        assert!(e.is_integrity(), "a stream that does not match its digest is damaged data");
        // Every store Result is as large as this error: keep it small (clippy's limit is 128).
        assert!(std::mem::size_of::<StoreError>() < 128, "StoreError is {} bytes", std::mem::size_of::<StoreError>());
    }
}
