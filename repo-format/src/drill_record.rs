//! `drills/<id>`: the record of a restore drill, the proof that a snapshot's dump loaded into a
//! database server and held what it should (SPEC.md section 9.5).
//!
//! Layout: `"dbvdril\x01" (8) || sealed(zstd(JSON))`, associated data: the magic. The name is the
//! BLAKE3 hash of the bytes.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Id;
use crate::sealed_json::SealedRecord;

/// One table's rows: what the dump holds and what the loaded database counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCount {
    /// The database it was loaded into, for a dump of several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Its schema (PostgreSQL) or database (MySQL), if the dump names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Its name.
    pub name: String,
    /// Rows in the dump.
    pub expected: u64,
    /// Rows counted in the loaded table (none: it could not be counted, e.g. it is missing).
    pub found: Option<u64>,
}

/// The engine's own consistency checks (`amcheck`, `CHECK TABLE`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineChecks {
    /// What ran (`amcheck bt_index_check`, `CHECK TABLE`), or why nothing did.
    pub method: String,
    /// Objects (indexes, tables) checked.
    pub checked: u64,
    /// Objects found damaged.
    pub failed: u64,
}

/// One user assertion (`--assert FILE`): a query that must return true.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assertion {
    /// The query.
    pub query: String,
    /// Whether it returned true.
    pub passed: bool,
    /// What it returned instead, or its error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Which repository's drill a copied record is (SPEC.md section 11.1), so copying again skips it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DrillOrigin {
    /// The source repository's id.
    pub repository: Id,
    /// The record's id there.
    pub drill: Id,
}

/// One restore drill: which snapshot, where and how it was loaded, and what was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// The snapshot drilled.
    pub snapshot: Id,
    /// Its database.
    pub db: String,
    /// When the drill started.
    pub start: Timestamp,
    /// When it ended.
    pub end: Timestamp,
    /// The host it ran on.
    pub host: String,
    /// `postgresql` or `mariadb`.
    pub engine: String,
    /// The server's version as it reports it.
    pub server_version: String,
    /// `throwaway` (a server dbvault started) or `existing` (`--server`).
    pub server: String,
    /// The snapshot of roles and tablespaces loaded first (`--globals`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globals: Option<Id>,
    /// True when every check passed.
    pub passed: bool,
    /// Every table the dump counts rows of.
    pub tables: Vec<TableCount>,
    /// The engine's checks.
    pub engine_checks: EngineChecks,
    /// User assertions.
    pub assertions: Vec<Assertion>,
    /// Why it failed: error lines of the load, row counts that differ, failed checks.
    pub failures: Vec<String>,
    /// The dbvault version that ran it.
    pub client: String,
    /// Set on a record copied from another repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<DrillOrigin>,
}

impl SealedRecord for DrillRecord {
    const KIND: &'static str = "drill record";
    const MAGIC: &'static [u8; 8] = b"dbvdril\x01";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn round_trips_and_refuses_tampering_and_other_records() {
        let keys = MasterKey::generate().unwrap().keys();
        let r = DrillRecord {
            snapshot: Id([7; 32]),
            db: "shop".into(),
            start: Timestamp::now(),
            end: Timestamp::now(),
            host: "db1".into(),
            engine: "postgresql".into(),
            server_version: "15.18".into(),
            server: "throwaway".into(),
            globals: Some(Id([8; 32])),
            passed: false,
            tables: vec![TableCount { database: None, schema: Some("public".into()), name: "orders".into(), expected: 3, found: Some(2) }],
            engine_checks: EngineChecks { method: "amcheck".into(), checked: 4, failed: 0 },
            assertions: vec![Assertion { query: "SELECT true".into(), passed: true, detail: None }],
            failures: vec!["public.orders: 2 rows, the dump has 3".into()],
            client: "dbvault 0.1.0".into(),
            origin: None,
        };
        let (id, mut bytes) = r.encode(&keys).unwrap();
        assert_eq!(id, Id::of_bytes(&bytes));
        assert_eq!(DrillRecord::decode(&keys, &bytes).unwrap(), r);
        assert!(DrillRecord::decode(&MasterKey::generate().unwrap().keys(), &bytes).is_err(), "another key does not open it");
        let check = crate::check_record::CheckRecord { time: Timestamp::now(), host: "h".into(), read_data: "none".into(), read_data_part: None, problems: 0, damaged_snapshots: 0, client: "c".into() };
        assert!(DrillRecord::decode(&keys, &check.encode(&keys).unwrap().1).is_err(), "a check record is no drill record");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(DrillRecord::decode(&keys, &bytes).is_err());
    }
}
