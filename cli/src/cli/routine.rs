//! Arguments of `dbvault run`, the nightly routine from one configuration file.

use std::path::PathBuf;

use clap::Args;

/// Run the whole nightly routine from one configuration file: back up every database of the
/// configured servers (discovered each run) and every job, then apply retention, prune when due,
/// drill one database, check the repository and copy it offsite.
///
/// Each step runs even when an earlier one failed; the summary lists every step, and the exit
/// code is 0 when all succeeded, 9 when some failed (2: the file is invalid, nothing ran;
/// 3: wrong password, nothing ran). A database backed up before that the server no longer has is reported
/// (a warning) and its snapshots are kept.
///
///   repository = "/backup/dbvault"            # or s3:https://host/bucket/prefix
///   password_file = "/etc/dbvault/password"   # or password_command = "..."
///   parallel = 2                              # dumps at once
///   ping = "https://hc-ping.com/UUID"         # optional: told when the run starts and ends
///   metrics_file = "/var/lib/node-exporter/dbvault.prom"   # optional
///
///   [[postgres]]                  # pg_dump per database, pg_dumpall --globals-only for roles
///   host = "/var/run/postgresql"  # as libpq: a socket folder or a host name
///   port = 5432
///   user = "postgres"             # passwords: password_file = a PGPASSFILE, or a service
///   databases = "all"             # discovered every run; or ["shop", "crm"]
///   exclude = ["scratch_*"]       # glob patterns
///   # name = "main", prefix = "main.", globals = "main-roles",
///   # bin_dir = "/usr/lib/postgresql/16/bin", dump_options = ["--no-owner"],
///   # service = "...", maintenance_db = "postgres"
///
///   [[mariadb]]                   # mariadb-dump per database, users and grants too
///   socket = "/run/mysqld/mysqld.sock"
///   databases = "all"             # information_schema, performance_schema, mysql, sys left out
///   # host, port, user, password_file = an option file with [client] password=...
///
///   [[job]]                       # as in `ingest --jobs` files
///   db = "legacy"
///   command = ["cat", "/srv/exports/legacy.sql"]
///
///   [retention]                   # a database's own, else the best pattern, else default
///   default = { keep_daily = 7, keep_weekly = 4, keep_monthly = 12 }
///   "shop" = { keep_daily = 30, keep_monthly = 24 }
///
///   [prune]
///   weekday = "sun"               # and/or max_unused = "10%"
///
///   [drill]                       # one database per run, the one drilled longest ago
///   timeout = "1h"                # optional; also databases = [...], exclude = [...]
///
///   [check]
///   read_data_cycle = 7           # every stored byte read once per 7 runs
///
///   [[copy]]
///   to = "s3:https://s3.example.net/offsite/dbvault"
///   password_file = "/etc/dbvault/offsite-password"
///
/// Unknown keys are errors (with file and line) before anything runs; passwords are never
/// accepted in the file itself. A metrics file that cannot be written is a failed step. The
/// Debian package has an example: /usr/share/doc/dbvault/examples/dbvault.toml.
/// RUST_LOG=dbvault=debug shows what each step does and how long it took, on standard error.
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(value_name = "CONFIG.toml")]
    pub config: PathBuf,
    /// Check the file, list the databases the servers have now, print what would run, and stop.
    #[arg(long)]
    pub dry_run: bool,
}
