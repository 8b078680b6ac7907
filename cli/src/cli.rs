//! Command-line syntax (clap derive). Validation beyond syntax happens in the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod install;
mod monitoring;
mod reading;
mod repair;
mod routine;
mod wal;

pub use install::{CompletionsArgs, ManArgs};
pub use monitoring::{DrillArgs, StatusArgs};
pub use reading::{DiffArgs, LsArgs, RestoreArgs, RowsFormat};
pub use repair::RepairCommand;
pub use routine::RunArgs;
pub use wal::{WalCommand, WalDbArgs, WalFetchArgs, WalPushArgs};

/// dbvault: deduplicating, encrypted backups of database dumps.
///
/// Daily use:
///   pg_dump shop | dbvault ingest --db shop
///   dbvault snapshots --db shop
///   dbvault restore latest --db shop -o shop.sql
///
/// Exit codes: 0 ok, 1 error, 2 usage, 3 wrong password or no key, 4 repository busy,
/// 5 damaged or missing data (also: check found problems), 6 reading the input stream failed,
/// 7 the dump (or restore) command failed, or the dump's reader stopped before its end,
/// 8 dump refused as empty or incomplete, 9 some jobs of --jobs or steps of run failed,
/// 10 status: a backup older than --max-age, 11 a drill failed, 12 wal fetch: not archived,
/// 126 wal fetch during an archive recovery: failed (PostgreSQL then stops recovering),
/// 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP (commands dbvault ran were killed first).
#[derive(Debug, Parser)]
#[command(name = "dbvault", version, verbatim_doc_comment, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Clone, Debug, Args)]
pub struct Global {
    /// Repository: a folder, or an S3 bucket as s3:http://HOST:PORT/BUCKET/PREFIX (an
    /// S3-compatible server, path-style) or s3://BUCKET/PREFIX (Amazon S3). S3 credentials and
    /// region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
    #[arg(short = 'r', long, env = "DBVAULT_REPOSITORY", global = true, value_name = "PATH|URL")]
    pub repo: Option<String>,

    /// Where this machine keeps the index of S3 repositories, one folder per repository id
    /// [default: $XDG_CACHE_HOME/dbvault or ~/.cache/dbvault]. Deleting it loses nothing: it is
    /// rebuilt from the repository.
    #[arg(long, env = "DBVAULT_CACHE_DIR", global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Seconds a failing request to an S3 repository is retried (with backoff) before the
    /// command fails.
    #[arg(long, env = "DBVAULT_RETRY_TIMEOUT", global = true, default_value_t = store::location::DEFAULT_RETRY_TIMEOUT_SECS, value_name = "SECONDS")]
    pub retry_timeout: u64,

    /// Read the password from this file (first line; a trailing newline is ignored).
    #[arg(long, env = "DBVAULT_PASSWORD_FILE", global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Run this shell command and use the first line it prints as the password (it must finish
    /// within 60 s).
    #[arg(long, env = "DBVAULT_PASSWORD_COMMAND", global = true, value_name = "CMD")]
    pub password_command: Option<String>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors (no summary, no progress; `run` prints its summary only when a
    /// step failed, as cron wants).
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// After a command that opens the repository, write Prometheus metrics of it to FILE for node_exporter's
    /// textfile collector: each database's last complete backup's time, its dump's size, what it
    /// added, how long it took, and its snapshot count. Derived from the repository (never
    /// counted by this process), so every host and process writes the same; written to a
    /// temporary file and renamed, so it is never seen half-written. A failure to write it warns.
    #[arg(long, env = "DBVAULT_METRICS_FILE", global = true, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Seconds to wait for another dbvault process's commit before giving up (exit code 4).
    #[arg(long, global = true, default_value_t = 600, value_name = "SECONDS")]
    pub lock_wait: u64,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new repository in an empty or absent folder.
    Init(InitArgs),
    /// Store one dump as a snapshot of a database.
    ///
    /// Recommended: let dbvault run the dump tool, so a failed dump is never kept as good:
    ///   dbvault ingest --db shop -- pg_dump --format=plain shop
    ///   dbvault ingest --db shop -- mariadb-dump --single-transaction shop
    /// The command's output is the dump; its error output passes through and its last lines
    /// are kept in the snapshot. If it fails, nothing is committed (exit code 7).
    ///
    /// Or pipe the dump in (the producer's exit status is then unknown to dbvault):
    ///   pg_dump shop | dbvault ingest --db shop
    /// or give a finished dump file (mapped instead of read when nobody has it open for
    /// writing; a process opening it for writing meanwhile stops the ingest, exit code 6):
    ///   dbvault ingest --db shop < shop.sql
    ///
    /// Several databases in one run: dbvault ingest --jobs jobs.toml --parallel 2
    ///   [[job]]
    ///   db = "shop"
    ///   command = ["pg_dump", "--format=plain", "shop"]   # or one string, run by sh -c
    ///   host = "db1"                                       # optional
    ///   tags = ["daily"]                                   # optional
    ///
    /// Dumps are recognised (pg_dump, pg_dumpall, mysqldump, mariadb-dump, T-SQL scripts). A
    /// dump whose completion marker is missing was cut short and is refused (exit code 8)
    /// unless --allow-incomplete. An empty stream is refused.
    ///
    /// Only chunks the repository does not have yet are compressed, encrypted and stored, and a
    /// changed chunk is stored as a delta against the previous snapshot's version of it, so a
    /// daily dump costs roughly what changed. Feed plain, uncompressed dumps: compressed dumps
    /// defeat deduplication (dbvault warns), and dbvault compresses after deduplicating.
    #[command(verbatim_doc_comment)]
    Ingest(IngestArgs),
    /// List snapshots, oldest first.
    Snapshots(SnapshotsArgs),
    /// Each database's last snapshot and its age, its last complete one when the last was kept
    /// cut short, its last drill, and the last check (each `check` and `drill` leaves a record);
    /// exit code 10 when one is older than --max-age allows, its last drill failed or is older
    /// than --max-drill-age, or the last check found damage.
    ///
    /// Examples:
    ///   dbvault status
    ///   dbvault status --max-age 26h --max-drill-age 8d || notify "backups need attention"
    ///   dbvault status --db shop --json
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Prove a snapshot restores: load its dump into a throwaway database server and check it.
    ///
    /// Examples:
    ///   dbvault drill latest --db shop
    ///   dbvault drill latest --db shop --assert shop-checks.sql
    ///   dbvault drill 3fa2c1 --server postgresql://drill@db-test.example.net/postgres
    /// dbvault starts a private PostgreSQL or MariaDB server from the locally installed
    /// binaries (the version that fits the dump), in a temporary folder, on a Unix socket with
    /// no TCP listener, and removes it afterwards, also on Ctrl-C. As root, the server and its
    /// clients run as an account of the drill alone, without network. With --server, a uniquely named scratch
    /// database is created on that server and dropped afterwards.
    /// Checked: the load's exit status and every error line; each table's rows against the
    /// dump's own count; amcheck on every B-tree index (PostgreSQL) or CHECK TABLE (MariaDB);
    /// and the queries of --assert, each of which must return true.
    /// Every drill leaves a record in the repository: `log`, `show`, `snapshots` and `status`
    /// show when a snapshot was last proven restorable. A failed drill exits with code 11; a
    /// drill that could not start its server exits with code 1 and records nothing.
    #[command(verbatim_doc_comment)]
    Drill(DrillArgs),
    /// Write a snapshot's dump, byte-identical, to standard output or a file.
    ///
    /// Examples:
    ///   dbvault restore latest --db shop -- psql -v ON_ERROR_STOP=1 -d shop_restored
    ///   dbvault restore latest --db shop -- mariadb shop_restored
    ///   dbvault restore 3fa2c1 -o shop.sql
    ///   dbvault restore latest --db shop | psql shop_restored
    /// With `-- CMD`, a failing CMD is dbvault's failure (exit code 7).
    ///
    /// Every chunk is authenticated and re-hashed, and the whole stream is checked against
    /// the digest recorded at ingest (a part of a dump, --table ...: every chunk it reads). With -o the file appears under its name only when
    /// the check passed; -o never writes to or replaces a device, FIFO, folder or symbolic
    /// link, and --force replaces only a regular file (keeping its permissions); -o - is
    /// standard output. `latest` needs --db when the repository holds several databases.
    /// A snapshot kept with --allow-incomplete restores with a warning: its dump was cut short.
    /// Interrupted (Ctrl-C, SIGTERM), dbvault kills CMD before its input ends and removes
    /// the temporary file of -o. On standard output, bytes already written cannot be taken back:
    /// if a damaged chunk is met midway, dbvault stops and exits with code 5, so a script
    /// piping into psql or mysql must check dbvault's exit status (set -o pipefail).
    #[command(verbatim_doc_comment)]
    Restore(RestoreArgs),
    /// The lineage of one database, newest first: what each day cost.
    Log(LogArgs),
    /// Every detail of one snapshot, and how much it shares with its parent.
    Show(ShowArgs),
    /// What a snapshot's dump holds: its tables with their rows and bytes, and every other object
    /// (schemas, sequences, indexes, constraints, triggers, views, functions, grants).
    ///
    /// Examples:
    ///   dbvault ls latest --db shop
    ///   dbvault ls 3fa2c1 --json | jq '.objects[] | select(.kind == "table_data") | {name, rows}'
    ///
    /// For pg_dump plain and custom (rows counted when uncompressed, -Z0), pg_dumpall,
    /// mysqldump / mariadb-dump and T-SQL (SSMS, sqlcmd; UTF-16 or UTF-8) dumps. Ingest
    /// stores the table of contents with the snapshot; a snapshot stored before that existed
    /// is read back to list it (every chunk and the whole stream verified).
    #[command(verbatim_doc_comment)]
    Ls(LsArgs),
    /// Compare two snapshots: chunks and bytes only in A, only in B, shared, and the changed
    /// byte ranges of B's stream; with --objects, which tables, functions, views, ... changed.
    ///
    /// Examples:
    ///   dbvault diff 3fa2c1 latest --db shop
    ///   dbvault diff 3fa2c1 latest --db shop --objects    # which procedures changed yesterday?
    #[command(verbatim_doc_comment)]
    Diff(DiffArgs),
    /// What each database costs: bytes ingested, unique, stored, dedup and compression ratios.
    Stats(StatsArgs),
    /// Remove snapshots by retention policy (per database) or by id. Data is freed by prune.
    ///
    /// Examples:
    ///   dbvault forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
    ///   dbvault forget --db shop --keep-last 3 --keep-tag pre-upgrade --prune
    ///   dbvault forget 3fa2c1 81c0d2
    /// Policies apply to each database separately; buckets (hour, day, ISO week, month, year)
    /// follow the local time zone. Incomplete snapshots never count toward a keep-rule's quota.
    /// A keep rule that matches no snapshot (a mistyped tag) is named in a warning, and a policy
    /// run that would remove every snapshot of a database is refused unless --allow-remove-all.
    /// --dry-run prints what would be kept (and why) and removed.
    #[command(verbatim_doc_comment)]
    Forget(ForgetArgs),
    /// Delete data no snapshot needs: unused packs go, mostly-unused packs are rewritten.
    ///
    /// Safe next to running ingests (it waits for them before deleting anything) and after a
    /// crash (run it again). --dry-run prints the plan.
    Prune(PruneArgs),
    /// Verify the repository: its structure always, its data with --read-data.
    ///
    /// Without options: every manifest and index segment reads back as stored, every snapshot's
    /// chunk list resolves, every chunk it needs is indexed and in an existing pack of the
    /// recorded size, pack headers agree with the index, and every snapshot's parent is there or
    /// was forgotten by dbvault (not deleted by hand).
    /// --read-data also reads every blob and authenticates, decompresses and re-hashes it;
    /// --read-data-subset does that for a share of the packs: `10%` (random) or `2/7` (part 2
    /// of 7; running 1/7 .. 7/7 on seven days reads everything once).
    /// Problems are reported per snapshot and database; any problem exits with code 5.
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
    /// Copy snapshots to another repository (local or S3), keeping their lineage.
    ///
    /// Examples:
    ///   dbvault copy --to s3:http://127.0.0.1:8333/backups/shop --db shop
    ///   dbvault --repo s3:https://s3.example.net/backups copy --to /srv/restore-test latest --db shop
    /// Only chunks the destination lacks are stored there; every chunk read from the source is
    /// verified on the way. Snapshots copied before are skipped, so a daily `copy` after the
    /// daily ingest keeps an offsite repository in step. The destination must exist
    /// (`dbvault --repo DEST init`); its password comes from --to-password-file,
    /// DBVAULT_TO_PASSWORD or DBVAULT_TO_PASSWORD_FILE, else the source's password is tried.
    #[command(verbatim_doc_comment)]
    Copy(CopyArgs),
    /// Manage the passphrases that unlock the repository (several may exist).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Ways back from damage: rebuild the index without lost data, list or forget the snapshots
    /// that need lost data, restore a lost config.
    ///
    /// After a pack is lost or damaged:
    ///   dbvault repair index                 # drop what is lost from the index
    ///   dbvault ingest --db shop -- pg_dump shop   # stores the lost chunks again
    ///   dbvault repair snapshots             # what is still damaged; --forget removes it
    #[command(subcommand, verbatim_doc_comment)]
    Repair(RepairCommand),
    /// PostgreSQL WAL archiving (archive_command, restore_command) for point-in-time recovery.
    #[command(subcommand)]
    Wal(WalCommand),
    /// Print a completion script: dbvault completions bash > /etc/bash_completion.d/dbvault
    Completions(CompletionsArgs),
    /// Write a man page for dbvault and each of its commands into a folder.
    Man(ManArgs),
    Run(RunArgs),
}

impl Command {
    /// Whether standard output carries a dump (`restore` without `-o` or a command), so that
    /// nothing else may be printed there.
    pub fn writes_dump_to_stdout(&self) -> bool {
        matches!(self, Command::Restore(a) if a.output.as_deref().is_none_or(|o| o.as_os_str() == "-") && a.command.is_empty())
    }
}

/// `copy` options.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The destination repository (folder or S3 URL, as for --repo).
    #[arg(long, value_name = "PATH|URL")]
    pub to: String,
    /// Read the destination's password from this file.
    #[arg(long, env = "DBVAULT_TO_PASSWORD_FILE", value_name = "FILE")]
    pub to_password_file: Option<PathBuf>,
    /// Snapshots to copy (ids, unique prefixes, or `latest`); all (of --db) when none is given.
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    /// Only this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
}

/// `log` options.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// The database.
    #[arg(long)]
    pub db: String,
}

/// `show` options.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Snapshot: full id, unique prefix, or `latest`.
    pub snapshot: String,
    /// Choose among this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
}

/// `stats` options.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Only this database.
    #[arg(long)]
    pub db: Option<String>,
}

/// `forget` options.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Snapshots to remove (ids or unique prefixes) instead of a policy.
    #[arg(value_name = "SNAPSHOT", conflicts_with_all = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", "keep_tag"])]
    pub snapshots: Vec<String>,
    /// Only this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
    /// Keep the N newest snapshots.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_last: u32,
    /// Keep the newest snapshot of each of the last N hours that have one.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_hourly: u32,
    /// ... of each of the last N days.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_daily: u32,
    /// ... of each of the last N ISO weeks.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_weekly: u32,
    /// ... of each of the last N months.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_monthly: u32,
    /// ... of each of the last N years.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub keep_yearly: u32,
    /// Keep every snapshot newer than this (e.g. `14d`, `6 months`, `1y`).
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep every snapshot with this tag (repeatable).
    #[arg(long = "keep-tag", value_name = "TAG")]
    pub keep_tag: Vec<String>,
    /// Print the decisions, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow a policy to remove every snapshot of a database (refused otherwise: a typo in a
    /// keep rule must not empty a lineage).
    #[arg(long)]
    pub allow_remove_all: bool,
    /// Run prune afterwards.
    #[arg(long)]
    pub prune: bool,
}

/// `prune` options.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Print the plan, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite packs whose unused share exceeds this percentage (0 to 100; `10` or `10%`).
    #[arg(long, value_name = "PERCENT", default_value_t = 10.0, allow_negative_numbers = true, value_parser = percent)]
    pub max_unused: f64,
}

/// `check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Read and verify every stored blob.
    #[arg(long, conflicts_with = "read_data_subset")]
    pub read_data: bool,
    /// Read and verify a share of the packs: `P%` or `N/M`.
    #[arg(long, value_name = "P%|N/M")]
    pub read_data_subset: Option<String>,
}

/// `key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// List the key files.
    List,
    /// Add a passphrase (the current one keeps working).
    Add(NewKeyArgs),
    /// Remove a key by id prefix (not the one in use, never the last).
    Remove {
        /// Key id or unique prefix, from `dbvault key list`.
        id: String,
    },
    /// Change the passphrase in use: adds the new key, then removes the old one. No data is re-encrypted.
    Passwd(NewKeyArgs),
}

/// Where a new passphrase comes from.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// Read the new password from this file [else DBVAULT_NEW_PASSWORD, else a prompt].
    #[arg(long, env = "DBVAULT_NEW_PASSWORD_FILE", value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
    /// Generate a random password (256 bits) into this new file (mode 0600) instead: a machine's
    /// key, e.g. archive_command's, opened in milliseconds (it needs no slow key derivation).
    #[arg(long, value_name = "FILE", conflicts_with = "new_password_file")]
    pub generate_password_file: Option<PathBuf>,
    /// Argon2id memory for the new key, in KiB.
    #[arg(long, default_value_t = 65536, hide = true)]
    pub kdf_memory_kib: u32,
    /// Argon2id passes for the new key.
    #[arg(long, default_value_t = 3, hide = true)]
    pub kdf_iterations: u32,
}

/// `init` options.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Argon2id memory for the key, in KiB (default 65536 = 64 MiB).
    #[arg(long, default_value_t = 65536, hide = true)]
    pub kdf_memory_kib: u32,
    /// Argon2id passes for the key.
    #[arg(long, default_value_t = 3, hide = true)]
    pub kdf_iterations: u32,
    /// Average chunk size in bytes (expert setting; fixed for the repository's life).
    #[arg(long, hide = true)]
    pub chunk_avg: Option<u32>,
    /// Never store a changed chunk as a delta against the previous snapshot's version of it.
    /// Deltas make a day of scattered row updates cost a few times what changed instead of
    /// every touched chunk; turning them off trades repository size for simpler chains.
    #[arg(long)]
    pub no_deltas: bool,
}

/// `ingest` options.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Database name this dump belongs to (snapshots of one database form its lineage).
    #[arg(long, required_unless_present = "jobs")]
    pub db: Option<String>,
    /// Host the dump came from [default: this machine's host name].
    #[arg(long)]
    pub host: Option<String>,
    /// A tag to attach (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Keep a dump whose completion marker is missing, visibly marked incomplete.
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Store this dump's changed chunks whole, not as deltas against the previous snapshot
    /// (a repository created with `init --no-deltas` never stores deltas).
    #[arg(long)]
    pub no_deltas: bool,
    /// The stream is a PostgreSQL base backup, for point-in-time recovery with the WAL that
    /// `dbvault wal push` archives: refused unless it is one, whole (pg_basebackup 13 or later:
    /// `-- pg_basebackup -D - -Ft -X none`).
    #[arg(long, conflicts_with = "jobs")]
    pub base: bool,
    /// Tell a monitor (Healthchecks convention): URL/start when the ingest starts, URL once the
    /// snapshot is saved, URL/fail with the error when it failed. An unreachable monitor warns,
    /// and never fails or delays the backup by more than 10 s a ping. (In a jobs file: `ping =
    /// "URL"` per job.)
    #[arg(long, value_name = "URL", conflicts_with = "jobs")]
    pub ping: Option<String>,
    /// Run the jobs listed in this TOML file, each as its own snapshot.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["db", "host", "tags", "command"])]
    pub jobs: Option<PathBuf>,
    /// With --jobs: how many dumps run at once [default: 2].
    #[arg(long, value_name = "N", requires = "jobs", conflicts_with_all = ["db", "host", "tags", "command"], value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: Option<u32>,
    /// The dump command and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `snapshots` options.
#[derive(Debug, Args)]
pub struct SnapshotsArgs {
    /// Only this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
}

/// A percentage from 0 to 100, with or without a `%` sign.
fn percent(s: &str) -> Result<f64, String> {
    let v: f64 = s.trim().trim_end_matches('%').trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=100.0).contains(&v) { Ok(v) } else { Err(format!("{s} is not a percentage from 0 to 100")) }
}
