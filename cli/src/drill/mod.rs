//! Restore drills: a snapshot's dump loaded into a database server that is thrown away afterwards
//! (or a scratch database on `--server`), then checked. The record of each drill is the
//! repository's (SPEC.md section 9.5, [`store::drill_records`]).

pub mod confinement;
pub mod load;
pub mod mariadb;
pub mod postgres;
pub mod script_guard;
pub mod server;
pub mod throwaway;
pub mod verify;

use anyhow::{Result, bail};
use store::snapshot::Snapshot;

use server::Engine;

/// How a snapshot is drilled, decided from its manifest before any server starts.
pub struct Plan {
    /// The engine that loads it.
    pub engine: Engine,
    /// The dump's format as recognised at ingest (`pg_dump-plain`, ...; `unknown`).
    pub format: String,
    /// The PostgreSQL major the dump needs at least (none: unknown).
    pub pg_major: Option<u32>,
}

/// The plan for `snap`; `engine` (`--engine`) for a dump dbvault did not recognise.
pub fn plan(snap: &Snapshot, engine: Option<&str>) -> Result<Plan> {
    let src = &snap.manifest.source;
    let format = src.format.clone().unwrap_or_else(|| "unknown".into());
    if let Some(c) = src.compression.as_deref().filter(|_| !archive(&format)) {
        bail!("snapshot {} holds a {c}-compressed stream, which no database client loads as it is: restore it and decompress it to load it by hand", snap.id.short());
    }
    let recognised = match format.as_str() {
        "pg_dump-plain" | "pg_dump-custom" | "pg_dump-tar" | "pg_dumpall" => Some(Engine::Postgres),
        "mysqldump" => Some(Engine::MariaDb),
        "t-sql" => bail!(
            "snapshot {} holds a T-SQL script (SQL Server): drills load PostgreSQL and MySQL/MariaDB dumps only, and there is no SQL Server to start here; restore it with `dbvault restore` and run it in SQL Server Management Studio or sqlcmd",
            snap.id.short()
        ),
        _ => None,
    };
    let engine = match (recognised, engine) {
        (Some(e), Some(asked)) if e.name() != asked => bail!("snapshot {} holds a {format} dump, which loads into {}, not {asked}: leave out --engine", snap.id.short(), e.name()),
        (Some(e), _) => e,
        (None, Some("postgresql")) => Engine::Postgres,
        (None, Some(_)) => Engine::MariaDb,
        (None, None) => bail!(
            "snapshot {} holds a stream dbvault did not recognise as a dump ({format}): say which server loads it with --engine postgresql or --engine mariadb",
            snap.id.short()
        ),
    };
    let pg_major = [src.tool_version.as_deref(), src.server_version.as_deref()].into_iter().flatten().filter_map(postgres::major).max();
    Ok(Plan { engine, format, pg_major: if engine == Engine::Postgres { pg_major } else { None } })
}

/// Whether `format` is a pg_dump archive, which `pg_restore` loads (compressed or not).
pub fn archive(format: &str) -> bool {
    matches!(format, "pg_dump-custom" | "pg_dump-tar")
}
