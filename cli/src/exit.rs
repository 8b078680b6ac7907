//! Exit codes (documented in README.md, "Exit codes"). Scripts rely on them: never renumber.

use store::StoreError;
use store::backend::BackendError;

/// Success.
pub const OK: u8 = 0;
/// Any error not covered below.
pub const ERROR: u8 = 1;
/// Invalid command line (clap's code too).
pub const USAGE: u8 = 2;
/// The password opens no key, or the repository has no key.
pub const WRONG_PASSWORD: u8 = 3;
/// Another dbvault process holds a lock we waited for too long.
pub const BUSY: u8 = 4;
/// Stored data is damaged or missing (authentication failure, digest mismatch, missing blob).
pub const INTEGRITY: u8 = 5;
/// Reading the input stream failed.
pub const INPUT: u8 = 6;
/// The dump command (or the command a restore feeds) failed, was killed, or could not start.
pub const COMMAND_FAILED: u8 = 7;
/// The dump was refused: empty, its completion marker is missing (truncated), or not a whole base
/// backup with `--base`; or a WAL push was refused (other bytes under an archived name, a file
/// of another cluster).
pub const REFUSED: u8 = 8;
/// `ingest --jobs`: at least one job failed (the others' snapshots are saved); `run`: at least one
/// step failed (the others ran).
pub const JOBS_FAILED: u8 = 9;
/// `status`: a database's last complete snapshot is older than `--max-age` (or it has none), its
/// last drill failed or is older than `--max-drill-age`, or the last recorded check found damage.
pub const STALE: u8 = 10;
/// `drill`: the dump did not load cleanly, or a check of the loaded database failed (a drill that
/// could not start its server is an error, code 1).
pub const DRILL_FAILED: u8 = 11;
/// `wal fetch` in a data directory under archive recovery: the file could not be fetched (the
/// repository could not be read, a wrong password, damaged data, no such WAL archive). Above 125,
/// so PostgreSQL stops the recovery instead of ending it there and promoting (a code below 126
/// would read as "no more WAL"). Not 12.
pub const ABORT_RECOVERY: u8 = 126;
/// `wal fetch`: the WAL file asked for is not archived (PostgreSQL takes it as the end of the
/// archive). Never used for a repository that cannot be read: those keep the codes above.
pub const NOT_ARCHIVED: u8 = 12;

// 130, 143 and 129: interrupted by SIGINT, SIGTERM or SIGHUP (dbvault dies of the signal after
// cleaning up, so a shell reports 128 + the signal number; see `crate::interrupt`).

/// The command line is invalid in a way clap cannot see (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// An invalid command line: exit code 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

// The outcomes that have exit codes of their own, raised by the commands.

/// Some jobs failed: exit code 9.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} jobs failed; their databases got no new snapshot")]
pub struct JobsFailed {
    /// Jobs that failed.
    pub failed: usize,
    /// Jobs run.
    pub total: usize,
}

/// `wal fetch` failed during an archive recovery: exit code 126.
#[derive(Debug, thiserror::Error)]
#[error(
    "WAL file {file} could not be fetched: {cause}. Exit code 126 makes PostgreSQL stop this recovery rather than end it here as if the archive ended \
     (and promote too early); fix the repository and start the server again: recovery resumes"
)]
pub struct AbortRecovery {
    /// The WAL file.
    pub file: String,
    /// Why, in words.
    pub cause: String,
}

/// `wal verify` found segments missing from a WAL archive: exit code 5.
#[derive(Debug, thiserror::Error)]
#[error("db {db}'s WAL archive is missing segments: recovery cannot pass them")]
pub struct WalMissing {
    /// The database (WAL archive).
    pub db: String,
}

/// Some steps of `run` failed: exit code 9.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} steps FAILED; see the summary")]
pub struct StepsFailed {
    /// Steps that failed.
    pub failed: usize,
    /// Steps run.
    pub total: usize,
}

/// `status` found databases whose backups are too old, or the last check found damage: exit
/// code 10.
#[derive(Debug, thiserror::Error)]
#[error("{}", stale_message(.stale, .max_age, .damage, .problems))]
pub struct Stale {
    /// The stale databases' names.
    pub stale: Vec<String>,
    /// The age allowed, as given.
    pub max_age: String,
    /// The problems the last check found, if it found any.
    pub damage: Option<u64>,
    /// Databases whose last drill failed or is too old, or whose WAL archive is behind, with why.
    pub problems: Vec<String>,
}

fn stale_message(stale: &[String], max_age: &str, damage: &Option<u64>, problems: &[String]) -> String {
    let mut parts = Vec::new();
    if !stale.is_empty() {
        parts.push(format!("{} database(s) without a complete snapshot within {max_age}: {}", stale.len(), stale.join(", ")));
    }
    if let Some(n) = damage {
        parts.push(format!("the last check found {n} problem(s)"));
    }
    parts.extend(problems.iter().cloned());
    parts.join("; ")
}

/// A drill failed: exit code 11.
#[derive(Debug, thiserror::Error)]
#[error("the drill of snapshot {snapshot} FAILED: {failures} problem(s); see above")]
pub struct DrillFailed {
    /// The snapshot's short id.
    pub snapshot: String,
    /// Problems found.
    pub failures: usize,
}

/// `check` found problems: exit code 5.
#[derive(Debug, thiserror::Error)]
#[error("check found {0} problem(s)")]
pub struct CheckFailed(pub usize);

/// The dump's reader (standard output, or the command fed) stopped before its end: exit code 7.
#[derive(Debug, thiserror::Error)]
#[error("{0} before the end of the dump: it was not delivered whole")]
pub struct DumpNotDelivered(pub String);

/// A command (the restore target) that failed: exit code 7.
#[derive(Debug, thiserror::Error)]
#[error("command `{command}` {status}")]
pub struct CommandFailed {
    /// The command line (redacted).
    pub command: String,
    /// How it ended.
    pub status: String,
}

/// Context of errors opening `copy`'s destination (its wrong password needs its own advice).
#[derive(Debug)]
pub struct Destination;

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("opening the destination (--to)")
    }
}

/// The errors of `err`'s chain, and the one each I/O error carries (a store error passed through a
/// reader or writer, a failed command's): what decides the exit code may travel as an I/O error.
fn causes<'a>(err: &'a anyhow::Error) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    err.chain().flat_map(|e| {
        let inner = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|i| i as &(dyn std::error::Error + 'static));
        std::iter::once(e).chain(inner)
    })
}

fn store_error(err: &anyhow::Error) -> Option<&StoreError> {
    causes(err).find_map(|e| e.downcast_ref::<StoreError>())
}

/// The exit code for an error.
pub fn code_for(err: &anyhow::Error) -> u8 {
    if causes(err).any(|e| e.is::<AbortRecovery>()) {
        return ABORT_RECOVERY;
    }
    if causes(err).any(|e| e.is::<JobsFailed>() || e.is::<StepsFailed>()) {
        return JOBS_FAILED;
    }
    if causes(err).any(|e| e.is::<CheckFailed>() || e.is::<WalMissing>()) {
        return INTEGRITY;
    }
    if causes(err).any(|e| e.is::<Stale>()) {
        return STALE;
    }
    if causes(err).any(|e| e.is::<DrillFailed>()) {
        return DRILL_FAILED;
    }
    if causes(err).any(|e| e.is::<CommandFailed>() || e.is::<DumpNotDelivered>()) {
        return COMMAND_FAILED;
    }
    if causes(err).any(|e| e.is::<Usage>()) {
        return USAGE;
    }
    match store_error(err) {
        Some(StoreError::ProducerFailed { .. }) => COMMAND_FAILED,
        Some(StoreError::LookAlike { .. }) => USAGE,
        Some(StoreError::EmptyInput | StoreError::Incomplete { .. } | StoreError::NotBaseBackup(_)) => REFUSED,
        Some(StoreError::WalConflict { .. } | StoreError::WalOtherCluster { .. }) => REFUSED,
        Some(StoreError::WalNotArchived { .. }) => NOT_ARCHIVED,
        Some(StoreError::NotWalName(_)) => USAGE,
        Some(StoreError::WrongPassword { .. } | StoreError::NoKey) => WRONG_PASSWORD,
        Some(StoreError::Busy { .. }) => BUSY,
        Some(StoreError::Input { .. }) => INPUT,
        Some(e) if e.is_integrity() => INTEGRITY,
        _ => ERROR,
    }
}

/// Whether the command already printed its JSON document, which reports this error (`ingest
/// --jobs` with failed jobs, `check` with problems).
pub fn reported_in_json(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.is::<JobsFailed>() || e.is::<StepsFailed>() || e.is::<CheckFailed>() || e.is::<Stale>() || e.is::<DrillFailed>() || e.is::<WalMissing>()
    })
}

/// A line of advice for errors where the next step is not obvious from the message.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    hint(err).map(String::from)
}

fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let destination = err.downcast_ref::<Destination>().is_some();
    match store_error(err)? {
        StoreError::WrongPassword { .. } if destination => Some(
            "give the destination's password with --to-password-file FILE, DBVAULT_TO_PASSWORD_FILE or DBVAULT_TO_PASSWORD (without them the source's password is tried); nothing was changed",
        ),
        StoreError::WrongPassword { .. } => Some("check DBVAULT_PASSWORD, --password-file or --password-command; nothing was changed"),
        StoreError::Unreadable { .. } | StoreError::DigestMismatch { .. } => {
            Some("the repository the snapshot was read from (for a copy: the source) holds damaged data for it; no wrong bytes were passed off as good. Other snapshots may still restore")
        }
        StoreError::Backend(BackendError::Io { source, .. }) if source.kind() == std::io::ErrorKind::ReadOnlyFilesystem => {
            Some("the repository is on read-only media: reading, checking and restoring work, changing it does not")
        }
        StoreError::Backend(BackendError::Io { .. }) => Some("check free space and permissions of the repository folder"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_carried_inside_an_io_error_decides_the_exit_code() {
        let damaged = StoreError::format("pack 3fa2", repo_format::FormatError::BadMagic { kind: "pack" });
        let through_a_reader = anyhow::Error::from(std::io::Error::other(damaged)).context("comparing the rows of orders");
        assert_eq!(code_for(&through_a_reader), INTEGRITY);
        let failed = CommandFailed { command: "pg_restore".into(), status: "exited with status 1".into() };
        let through_a_pipe = anyhow::Error::from(StoreError::io("restoring", std::io::Error::other(failed)));
        assert_eq!(code_for(&through_a_pipe), COMMAND_FAILED);
    }
}
