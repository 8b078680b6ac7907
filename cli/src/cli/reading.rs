//! Arguments of the commands that read a snapshot's dump back: `ls`, `diff`, `restore`.

use std::path::PathBuf;

use clap::Args;

/// `ls` options.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Snapshot: full id, unique prefix, or `latest`.
    pub snapshot: String,
    /// Choose among this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
}

/// `diff` options.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older snapshot.
    pub a: String,
    /// The newer snapshot.
    pub b: String,
    /// Resolve `latest` and prefixes among this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
    /// Compare the dumps' objects instead: which tables, functions, views, indexes, ... were
    /// added, removed or changed, with each table's rows before and after (from the snapshots'
    /// tables of contents: pg_dump plain and custom, pg_dumpall, mysqldump / mariadb-dump and
    /// T-SQL dumps).
    #[arg(long, conflicts_with = "rows")]
    pub objects: bool,
    /// Compare the rows of this table instead: the rows only in A and only in B (an update shows
    /// as its old row then its new one, paired by the primary key the dump's definition names).
    /// NAME or SCHEMA.NAME; pg_dump plain, pg_dumpall, mysqldump / mariadb-dump and T-SQL dumps
    /// (UTF-16 or UTF-8).
    #[arg(long, value_name = "TABLE")]
    pub rows: Option<String>,
    /// How --rows prints them: `tsv` (a first column `-` for A, `+` for B, PostgreSQL text
    /// escapes), `json` (JSON lines), or `sql` (statements that turn A's table into B's).
    #[arg(long, value_enum, requires = "rows")]
    pub format: Option<RowsFormat>,
    /// With --rows on a pg_dumpall or multi-database mysqldump snapshot: the database the table is in.
    #[arg(long, value_name = "NAME", requires = "rows")]
    pub database: Option<String>,
}

/// How `diff --rows` prints rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RowsFormat {
    /// Tab-separated values, a header line first.
    Tsv,
    /// One JSON object per line.
    Json,
    /// DELETE and INSERT statements.
    Sql,
}

/// `restore` options.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Snapshot: full id, unique id prefix, or `latest` (or none, with --at).
    #[arg(required_unless_present_any = ["at", "restore_point"])]
    pub snapshot: Option<String>,
    /// Restore as it was at TIME (`2026-12-07 14:03:27+01`; without an offset, local time): the
    /// newest snapshot of --db that ended at or before TIME. With --pgdata: recover the cluster
    /// to TIME, to the end of the archived WAL (`latest`) or to an LSN (`0/3000060`).
    #[arg(long, value_name = "TIME|latest|LSN", conflicts_with = "snapshot", requires = "db")]
    pub at: Option<String>,
    /// PostgreSQL point-in-time recovery into DIR, a new or empty folder: the newest base backup
    /// of --db that ended before the target (`ingest --base`), unpacked, with recovery.signal and
    /// the recovery settings (restore_command = this dbvault and repository, the target, what to
    /// do there) written; start the server on DIR to replay the WAL archived by `wal push`.
    #[arg(long, value_name = "DIR", requires = "db", conflicts_with_all = ["output", "command", "snapshot"], help_heading = "Point-in-time recovery")]
    pub pgdata: Option<PathBuf>,
    /// With --pgdata: recover to this restore point (made with pg_create_restore_point) instead.
    #[arg(long, value_name = "NAME", requires = "pgdata", conflicts_with = "at", help_heading = "Point-in-time recovery")]
    pub restore_point: Option<String>,
    /// With --pgdata: what the server does at the target: promote (take writes), pause (stay
    /// read-only to look around; SELECT pg_wal_replay_resume() promotes) or shutdown.
    #[arg(long, value_name = "ACTION", default_value = "promote", value_parser = ["promote", "pause", "shutdown"], requires = "pgdata", help_heading = "Point-in-time recovery")]
    pub target_action: String,
    /// Choose among this database's snapshots (required for `latest` when there are several
    /// databases).
    #[arg(long)]
    pub db: Option<String>,
    /// Write to this file instead of standard output (`-` is standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists and is a regular file.
    #[arg(long, requires = "output")]
    pub force: bool,
    /// Pipe the dump into this command instead (after `--`), e.g. `-- psql -d shop_restored`.
    #[arg(last = true, value_name = "CMD", conflicts_with = "output")]
    pub command: Vec<String>,
    /// Restore only this table or view (repeat for more): NAME, or SCHEMA.NAME (MySQL:
    /// DATABASE.NAME). The script holds the dump's preamble, the table's definition, the sequences
    /// it owns, its rows, indexes, constraints, triggers, comments and grants; a foreign key to a
    /// table not restored is left out with a comment. Only the chunks that hold these are read
    /// (each verified), except from a pg_dump custom archive: it is read into pg_restore, which
    /// writes the entries dbvault chose.
    #[arg(long = "table", value_name = "NAME", help_heading = "Part of a dump")]
    pub tables: Vec<String>,
    /// Create the one table of --table under this name instead, next to the live one
    /// (PostgreSQL, MySQL): the names its schema or database holds once are renamed with it
    /// (PostgreSQL: indexes, key constraints, owned sequences; MySQL: constraints, triggers),
    /// `orders_pkey` becoming `NEW_pkey`. Rows are copied verbatim. Nothing is dropped: a name
    /// taken already stops the script (PostgreSQL: one transaction, psql told to stop at the
    /// first error; MySQL: the client stops, unless run with --force).
    #[arg(long, value_name = "NEW", requires = "tables", help_heading = "Part of a dump")]
    pub rename_to: Option<String>,
    /// Restore only the objects of this schema (PostgreSQL; repeat for more).
    #[arg(long = "schema", value_name = "NAME", help_heading = "Part of a dump")]
    pub schemas: Vec<String>,
    /// Restore only the objects of this database of a pg_dumpall or multi-database mysqldump dump.
    #[arg(long, value_name = "NAME", help_heading = "Part of a dump")]
    pub database: Option<String>,
    /// Definitions only: no rows, no sequence values.
    #[arg(long, conflicts_with = "data_only", help_heading = "Part of a dump")]
    pub schema_only: bool,
    /// Rows and sequence values only; the rows of a table come before those of the tables whose
    /// foreign keys reference it (tables that reference each other in a cycle keep the dump's
    /// order, and need their keys' checks deferred).
    #[arg(long, help_heading = "Part of a dump")]
    pub data_only: bool,
}
