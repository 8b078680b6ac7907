//! `snapshots/<id>`: one snapshot manifest per ingest.
//!
//! Layout: `"dbvsnap\x01" (8) || sealed(zstd(JSON))`, associated data: the magic. The file's name
//! is the BLAKE3 hash of its bytes. The JSON fields are listed in SPEC.md; readers ignore fields
//! they do not know, so later versions can add fields without a format bump.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::contents::TocRef;
use crate::postgres::{BaseBackup, WalFile};
use crate::crypto::Keys;
use crate::{FormatError, Id};

const KIND: &str = "snapshot manifest";
const MAGIC: &[u8; 8] = b"dbvsnap\x01";

/// What one ingest added to the repository.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Added {
    /// Data chunks this ingest stored (absent from the repository before it).
    pub chunks: u64,
    /// Plaintext bytes of those chunks.
    pub raw_bytes: u64,
    /// Bytes this ingest wrote to packs: sealed chunks and chunk-list nodes, plus pack headers.
    pub stored_bytes: u64,
    /// Of the new chunks, how many were stored as deltas against an earlier chunk (format 2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delta_chunks: u64,
    /// Plaintext bytes of the chunks stored as deltas.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delta_raw_bytes: u64,
    /// Sealed bytes of those deltas.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delta_stored_bytes: u64,
    /// Sealed bytes those chunks would have taken compressed alone: measured, or estimated for a
    /// patch so small that the chunk was not compressed alone (SPEC.md section 6.1, *Choice*).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delta_alone_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where the stream came from, as far as dbvault can tell. Every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// `command` when dbvault ran the dump tool, `stdin` when the stream was piped in (its
    /// producer's exit status is then unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<String>,
    /// The command dbvault ran to produce the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The command's exit status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// The last lines the command wrote to its standard error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
    /// Recognised format (`pg_dump-plain`, `pg_dump-custom`, `pg_dump-tar`, `pg_dumpall`,
    /// `mysqldump`, `t-sql`, or a compression format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Dump tool recognised from the stream ("pg_dump", "mariadb-dump", ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Its version, when the stream states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// Database name as the dump's header states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Server version as the dump's header states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    /// Text encoding (`utf-8`, `utf-8-bom`, `utf-16le`, `utf-16be`, `utf-16le-nobom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Compression of the stream or of the dump's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// T-SQL batch separator seen (`GO`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_separator: Option<String>,
    /// Whether the dump's own completion marker was seen; absent when the format has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_marker: Option<bool>,
    /// Warnings raised while ingesting (compressed input, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A snapshot manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest schema version (1).
    pub version: u32,
    /// Database name.
    pub db: String,
    /// Host the dump came from.
    pub host: String,
    /// User tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// When the ingest started reading.
    pub start: Timestamp,
    /// When the stream ended.
    pub end: Timestamp,
    /// The previous snapshot of the same database when this one was committed.
    pub parent: Option<Id>,
    /// Stream length in bytes.
    pub size: u64,
    /// Plain BLAKE3 of the whole stream (compare with `b3sum`), checked again on restore.
    pub digest: Id,
    /// Root of the chunk-list tree.
    pub tree: Id,
    /// Number of data chunks in the stream.
    pub chunks: u64,
    /// What this snapshot added to the repository.
    pub added: Added,
    /// Producer details.
    #[serde(default)]
    pub source: Source,
    /// True when the dump is known to be incomplete but was kept on request.
    #[serde(default)]
    pub incomplete: bool,
    /// The dbvault version that wrote it.
    pub client: String,
    /// For a snapshot made by `dbvault copy`: the snapshot it is a copy of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The dump's table of contents: derived data, which builds that predate it ignore (their
    /// prune may drop its blobs; readers then build it from the dump again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toc: Option<TocRef>,
    /// For a WAL file archived by `dbvault wal push`: which file of which cluster (SPEC.md
    /// section 9.6). Such a snapshot belongs to the database's WAL archive, not its lineage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal: Option<WalFile>,
    /// For a base backup (`pg_basebackup` tar stream): where its WAL starts and ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseBackup>,
}

/// Where a copied snapshot came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The source repository's id.
    pub repository: Id,
    /// The snapshot's id in the source repository.
    pub snapshot: Id,
}

impl Manifest {
    /// Seal into the stored bytes.
    pub fn encode(&self, keys: &Keys) -> Result<Vec<u8>, FormatError> {
        crate::sealed_json::seal(keys, KIND, MAGIC, self)
    }

    /// Open and parse stored bytes.
    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Manifest, FormatError> {
        let m: Manifest = crate::sealed_json::open(keys, KIND, MAGIC, bytes)?;
        if m.version != 1 {
            return Err(FormatError::UnsupportedVersion { kind: KIND, found: m.version, supported: 1 });
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    pub(crate) fn sample() -> Manifest {
        Manifest {
            version: 1,
            db: "shop".into(),
            host: "db1".into(),
            tags: vec!["daily".into()],
            start: Timestamp::from_second(1_700_000_000).unwrap(),
            end: Timestamp::from_second(1_700_000_060).unwrap(),
            parent: None,
            size: 1234,
            digest: Id::of_bytes(b"stream"),
            tree: Id([7; 32]),
            chunks: 3,
            added: Added { chunks: 3, raw_bytes: 1234, stored_bytes: 400, delta_chunks: 2, delta_raw_bytes: 1000, delta_stored_bytes: 90, delta_alone_bytes: 300 },
            source: Source::default(),
            incomplete: false,
            client: "dbvault test".into(),
            origin: None,
            toc: None,
            wal: None,
            base: None,
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let keys = MasterKey::generate().unwrap().keys();
        let m = sample();
        let bytes = m.encode(&keys).unwrap();
        assert_eq!(Manifest::decode(&keys, &bytes).unwrap(), m);
        let mut bad = bytes.clone();
        bad[30] ^= 1;
        assert!(matches!(Manifest::decode(&keys, &bad), Err(FormatError::Authentication { .. })));
        assert!(Manifest::decode(&keys, &bytes[..8]).is_err());
        assert!(Manifest::decode(&keys, b"garbage!garbage!").is_err());
    }

    #[test]
    fn a_table_of_contents_is_an_optional_field_older_readers_skip() {
        let keys = MasterKey::generate().unwrap().keys();
        let toc = TocRef { format: "pg_dump-plain".into(), tree: Id([3; 32]), size: 10, digest: Id([4; 32]), objects: 1, not_understood: vec![] };
        let with = Manifest { toc: Some(toc), ..sample() };
        assert_eq!(Manifest::decode(&keys, &with.encode(&keys).unwrap()).unwrap(), with);
        // What a build without the field reads: the same manifest, version 1, minus the field.
        let json = serde_json::to_value(&with).unwrap();
        assert_eq!(json["version"], 1);
        let mut older = json.clone();
        older.as_object_mut().unwrap().remove("toc");
        assert_eq!(serde_json::from_value::<Manifest>(older).unwrap(), Manifest { toc: None, ..with });
    }

    #[test]
    fn json_has_rfc3339_times_and_hex_ids() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["start"], "2023-11-14T22:13:20Z");
        assert_eq!(v["digest"].as_str().unwrap().len(), 64);
    }
}
