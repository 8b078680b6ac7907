//! Arguments of the commands that tell whether backups can be trusted: `status`, `drill`.

use std::path::PathBuf;

use clap::Args;

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this database.
    #[arg(long)]
    pub db: Option<String>,
    /// Fail (exit code 10) when a database's last complete snapshot is older than this (26h, 2d,
    /// 1 week), or it has none: what a monitoring job runs after the nightly backup.
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Fail (exit code 10) when a database's last drill is older than this (8d), or it has none.
    /// A failed last drill fails `status` with or without this option.
    #[arg(long, value_name = "DURATION")]
    pub max_drill_age: Option<String>,
    /// Fail (exit code 10) when a database's WAL archive (`wal push`) received nothing for this
    /// long (15min; with archive_timeout set, a little more than it): archiving stopped.
    #[arg(long, value_name = "DURATION")]
    pub max_wal_age: Option<String>,
}

/// `drill` options.
#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Snapshot: full id, unique prefix, or `latest`.
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: String,
    /// Choose among this database's snapshots.
    #[arg(long)]
    pub db: Option<String>,
    /// SQL queries that must each return true once the dump is loaded, e.g.
    /// `SELECT count(*) > 0 FROM orders WHERE created > now() - interval '2 days';`
    /// (each ends with `;` at the end of a line; `--` lines are comments).
    #[arg(long = "assert", value_name = "FILE")]
    pub assert: Option<PathBuf>,
    /// Load into this existing server instead of a throwaway one, in a scratch database that is
    /// dropped afterwards: postgresql://USER[:PASSWORD]@HOST[:PORT][/DB] or
    /// mysql://USER[:PASSWORD]@HOST[:PORT] (mysql://USER@localhost?socket=PATH for a socket).
    /// Prefer ~/.pgpass or DBVAULT_DRILL_SERVER to a password on the command line.
    #[arg(long, env = "DBVAULT_DRILL_SERVER", value_name = "URL", hide_env_values = true)]
    pub server: Option<String>,
    /// Load this database's latest snapshot first: the roles and tablespaces of a
    /// `pg_dumpall --globals-only` dump ingested as its own database, so that the owners and
    /// grantees the dump names exist (PostgreSQL, throwaway server only).
    #[arg(long, value_name = "DB", conflicts_with = "server")]
    pub globals: Option<String>,
    /// Give up after this long (30m, 2h): the server and the load are killed and the drill fails
    /// (exit code 11), so a dump that hangs never blocks the next night's job.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Tell a monitor (Healthchecks convention): URL/start when the drill starts, URL when it
    /// passed, URL/fail with why when it failed or could not run. An unreachable monitor warns.
    #[arg(long, value_name = "URL")]
    pub ping: Option<String>,
    /// The engine for a dump dbvault did not recognise: postgresql or mariadb.
    #[arg(long, value_name = "ENGINE", value_parser = ["postgresql", "mariadb"])]
    pub engine: Option<String>,
}
