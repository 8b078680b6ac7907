//! What a snapshot manifest records about PostgreSQL physical backups (SPEC.md section 9.6): a
//! WAL file archived by `dbvault wal push`, or a base backup taken by `pg_basebackup`.
//!
//! Log sequence numbers are stored as u64 and shown as PostgreSQL writes them (`0/2000028`).

use serde::{Deserialize, Serialize};

/// A WAL file (`000000010000000000000003`, `00000002.history`, `...00000028.backup`,
/// `...partial`) archived from a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalFile {
    /// The cluster's system identifier (from the segment's page header or the cluster's
    /// `global/pg_control`).
    pub cluster: u64,
    /// The file name PostgreSQL gave it (`%f`).
    pub file: String,
}

/// A base backup: a `pg_basebackup` tar stream, recognised as it passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseBackup {
    /// The cluster's system identifier (from the backup's `global/pg_control`).
    pub cluster: u64,
    /// The timeline the backup started on (`START TIMELINE` of `backup_label`).
    pub timeline: u32,
    /// Where replay must start from (`START WAL LOCATION`).
    pub start_lsn: u64,
    /// The checkpoint the backup began with (`CHECKPOINT LOCATION`).
    pub checkpoint_lsn: u64,
    /// Where the backup ended: replay must reach it before the copy is consistent (the end of
    /// the `WAL-Ranges` of its `backup_manifest`).
    pub stop_lsn: u64,
    /// The backup's label (`LABEL`).
    pub label: String,
    /// The server's major version (the backup's `PG_VERSION`), when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_version: Option<String>,
}

/// Format a log sequence number as PostgreSQL does (`16/B374D848`).
pub fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Parse a log sequence number written as PostgreSQL writes it.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u32::from_str_radix(hi, 16).ok()?;
    let lo = u32::from_str_radix(lo, 16).ok()?;
    Some((u64::from(hi) << 32) | u64::from(lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_read_and_print_as_postgres_writes_them() {
        assert_eq!(parse_lsn("0/2000028"), Some(0x2000028));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(format_lsn(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("16"), None);
        assert_eq!(parse_lsn("x/1"), None);
        assert_eq!(parse_lsn("1FFFFFFFF/0"), None);
    }
}
