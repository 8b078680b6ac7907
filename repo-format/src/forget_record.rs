//! `forgotten/<id>`: the record of a `forget`, written before the manifests it names are deleted.
//!
//! Layout: `"dbvforg\x01" (8) || sealed(zstd(JSON))`, associated data: the magic. The name is the
//! BLAKE3 hash of the bytes. With these records a snapshot whose manifest is gone, and that no
//! record names, was lost (deleted by hand, damaged storage), not forgotten: `check` reports a
//! lineage that points at one (SPEC.md section 9.2).

use std::io::Read;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::crypto::Keys;
use crate::{FormatError, Id};

const KIND: &str = "forget record";
const MAGIC: &[u8; 8] = b"dbvforg\x01";
/// A record that decompresses beyond this is refused as hostile.
const MAX_JSON: u64 = 16 << 20;

/// One forgotten snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forgotten {
    /// The snapshot's id.
    pub id: Id,
    /// Its database.
    pub db: String,
    /// Its end time.
    pub end: Timestamp,
}

/// A forget: when, where, why, and which snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetRecord {
    /// When the forget ran.
    pub time: Timestamp,
    /// The host it ran on.
    pub host: String,
    /// Why (`policy`, `by id`, `repair snapshots`), informational.
    pub reason: String,
    /// The snapshots removed.
    pub snapshots: Vec<Forgotten>,
}

impl ForgetRecord {
    /// Seal into the stored bytes; returns them with their id (the object name).
    pub fn encode(&self, keys: &Keys) -> Result<(Id, Vec<u8>), FormatError> {
        let json = serde_json::to_vec(self).map_err(|source| FormatError::Json { kind: KIND, source })?;
        let z = zstd::bulk::compress(&json, 3).map_err(|source| FormatError::Compression { kind: KIND, source })?;
        let mut out = MAGIC.to_vec();
        keys.seal_into(MAGIC, &z, &mut out)?;
        Ok((Id::of_bytes(&out), out))
    }

    /// Open and parse stored bytes.
    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<ForgetRecord, FormatError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic { kind: KIND });
        }
        let z = keys.open(KIND, MAGIC, &bytes[8..])?;
        let mut json = Vec::new();
        zstd::stream::read::Decoder::new(z.as_slice())
            .and_then(|d| d.take(MAX_JSON + 1).read_to_end(&mut json))
            .map_err(|source| FormatError::Compression { kind: KIND, source })?;
        if json.len() as u64 > MAX_JSON {
            return Err(FormatError::malformed(KIND, "decompresses to more than 16 MiB"));
        }
        serde_json::from_slice(&json).map_err(|source| FormatError::Json { kind: KIND, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn round_trips_and_refuses_tampering() {
        let keys = MasterKey::generate().unwrap().keys();
        let r = ForgetRecord {
            time: Timestamp::now(),
            host: "db1".into(),
            reason: "policy".into(),
            snapshots: vec![Forgotten { id: Id([3; 32]), db: "shop".into(), end: Timestamp::now() }],
        };
        let (id, mut bytes) = r.encode(&keys).unwrap();
        assert_eq!(id, Id::of_bytes(&bytes));
        assert_eq!(ForgetRecord::decode(&keys, &bytes).unwrap(), r);
        assert!(ForgetRecord::decode(&MasterKey::generate().unwrap().keys(), &bytes).is_err(), "another key does not open it");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(ForgetRecord::decode(&keys, &bytes).is_err());
        assert!(ForgetRecord::decode(&keys, b"dbvsnap\x01xxxx").is_err());
    }
}
