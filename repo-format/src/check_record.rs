//! `checks/<id>`: the record of a `check` run, so that `status` and the metrics file can say when
//! the repository was last checked and whether it was whole (SPEC.md section 9.4).
//!
//! Layout: `"dbvchck\x01" (8) || sealed(zstd(JSON))`, associated data: the magic. The name is the
//! BLAKE3 hash of the bytes.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::sealed_json::SealedRecord;


/// One `check` run: when, where, how deep, and what it found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// When the check ended.
    pub time: Timestamp,
    /// The host it ran on.
    pub host: String,
    /// How much stored data it read: `none` (structure only), `subset` (`--read-data-subset`) or
    /// `all` (`--read-data`).
    pub read_data: String,
    /// With `subset` read as part N of M (`dbvault run`'s rotating check): `[N, M]`. Absent in
    /// records of other checks and of versions before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_data_part: Option<[u64; 2]>,
    /// Problems found (0: the repository was whole as far as it looked).
    pub problems: u64,
    /// Snapshots found damaged.
    pub damaged_snapshots: u64,
    /// The dbvault version that ran it.
    pub client: String,
}

impl SealedRecord for CheckRecord {
    const KIND: &'static str = "check record";
    const MAGIC: &'static [u8; 8] = b"dbvchck\x01";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Id;
    use crate::crypto::MasterKey;

    #[test]
    fn round_trips_and_refuses_tampering_and_other_records() {
        let keys = MasterKey::generate().unwrap().keys();
        let r = CheckRecord { time: Timestamp::now(), host: "db1".into(), read_data: "subset".into(), read_data_part: Some([2, 7]), problems: 2, damaged_snapshots: 1, client: "dbvault 0.1.0".into() };
        let (id, mut bytes) = r.encode(&keys).unwrap();
        assert_eq!(id, Id::of_bytes(&bytes));
        assert_eq!(CheckRecord::decode(&keys, &bytes).unwrap(), r);
        assert!(CheckRecord::decode(&MasterKey::generate().unwrap().keys(), &bytes).is_err(), "another key does not open it");
        let forget = crate::forget_record::ForgetRecord { time: Timestamp::now(), host: "h".into(), reason: "policy".into(), snapshots: vec![] };
        assert!(CheckRecord::decode(&keys, &forget.encode(&keys).unwrap().1).is_err(), "a forget record is no check record");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(CheckRecord::decode(&keys, &bytes).is_err());
    }
}
