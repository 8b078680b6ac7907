//! `forgotten/<id>`: the record of a `forget`, written before the manifests it names are deleted.
//!
//! Layout: `"dbvforg\x01" (8) || sealed(zstd(JSON))`, associated data: the magic. The name is the
//! BLAKE3 hash of the bytes. With these records a snapshot whose manifest is gone, and that no
//! record names, was lost (deleted by hand, damaged storage), not forgotten: `check` reports a
//! lineage that points at one (SPEC.md section 9.2).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::Id;
use crate::sealed_json::SealedRecord;


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

impl SealedRecord for ForgetRecord {
    const KIND: &'static str = "forget record";
    const MAGIC: &'static [u8; 8] = b"dbvforg\x01";
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
