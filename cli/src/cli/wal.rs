//! Arguments of `dbvault wal`: PostgreSQL WAL archiving for point-in-time recovery.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `wal` subcommands.
#[derive(Debug, Subcommand)]
pub enum WalCommand {
    /// Archive one WAL file: PostgreSQL's archive_command.
    ///
    /// In postgresql.conf:
    ///   archive_mode = on
    ///   archive_command = 'dbvault wal push --db main %p'
    /// The server's environment gives the repository and password (DBVAULT_REPOSITORY,
    /// DBVAULT_PASSWORD_FILE), or the command does (--repo, --password-file).
    ///
    /// Exits 0 only once the file is durable in the repository. Pushing a file again that is
    /// archived with the same bytes succeeds (PostgreSQL does after a crash); other bytes under
    /// an archived name, or a file of another cluster (its system identifier), are refused (exit
    /// code 8): give each cluster its own --db. Every failure exits with a code below 126 and
    /// never by a signal, so PostgreSQL's archiver retries instead of stopping.
    ///
    /// Base backups go to the same --db: dbvault ingest --db main --base -- pg_basebackup -D - -Ft -X none
    #[command(verbatim_doc_comment)]
    Push(WalPushArgs),
    /// Fetch one archived WAL file: PostgreSQL's restore_command.
    ///
    ///   restore_command = 'dbvault wal fetch --db main %f %p'
    /// (`dbvault restore --db main --at TIME --pgdata DIR` writes it for you.)
    ///
    /// The file is written to a temporary file beside DEST and renamed once its digest is
    /// verified. Exit code 12 when the file is not archived (PostgreSQL takes it as the end of
    /// the archive). Other failures (the repository cannot be read, a wrong password, damaged
    /// data, a --db without WAL) are retried first; during an archive recovery (recovery.signal
    /// in the data directory) they then exit 126, which makes PostgreSQL stop the recovery rather
    /// than end it there and promote too early; elsewhere (a standby retries) their own codes.
    #[command(verbatim_doc_comment)]
    Fetch(WalFetchArgs),
    /// List a database's archived WAL files, by timeline and position.
    List(WalDbArgs),
    /// Whether the WAL archive can serve the base backups: per timeline, the segments archived
    /// from the oldest base backup's start on and any gap between them; per base backup, whether
    /// all WAL from its start to its end is archived; the last file archived and when. Exit code
    /// 5 when something is missing. (`dbvault check` verifies the stored bytes.)
    Verify(WalDbArgs),
}

/// `wal push` options.
#[derive(Debug, Args)]
pub struct WalPushArgs {
    /// The WAL archive: name the cluster's base backups are ingested under too.
    #[arg(long)]
    pub db: String,
    /// Host recorded with the file [default: this machine's host name].
    #[arg(long)]
    pub host: Option<String>,
    /// The WAL file (`%p`: relative to the data directory, where PostgreSQL runs the command).
    pub path: PathBuf,
}

/// `wal fetch` options.
#[derive(Debug, Args)]
pub struct WalFetchArgs {
    /// The WAL archive.
    #[arg(long)]
    pub db: String,
    /// The WAL file's name (`%f`).
    pub file: String,
    /// Where to write it (`%p`).
    pub dest: PathBuf,
}

/// `wal list` and `wal verify` options.
#[derive(Debug, Args)]
pub struct WalDbArgs {
    /// The WAL archive.
    #[arg(long)]
    pub db: String,
}
