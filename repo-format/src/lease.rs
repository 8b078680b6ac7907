//! `locks/<id>`: a lease, the cross-machine lock of a repository shared through an object store.
//!
//! Layout: `"dbvlock\x01" (8) || sealed(JSON)`, associated data: the magic. The name is the BLAKE3
//! hash of the bytes. A lease is valid until `expires`; its holder replaces it with a fresh one
//! before then, and deletes it when done. SPEC.md section 13.1 gives the protocol.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::crypto::Keys;
use crate::{FormatError, Id};

const KIND: &str = "lease";
const MAGIC: &[u8; 8] = b"dbvlock\x01";
/// A lease larger than this is refused as hostile.
const MAX_JSON: usize = 64 << 10;

/// What the holder of a lease is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseKind {
    /// An ingest (or copy into the repository): prune must not delete while it runs.
    Ingest,
    /// Prune's delete phase: ingests must not start while it runs.
    Prune,
}

/// A lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// What the holder is doing.
    pub kind: LeaseKind,
    /// The holder's host name.
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    /// When the holder took it (the first of its leases).
    pub since: Timestamp,
    /// When it lapses unless replaced.
    pub expires: Timestamp,
}

impl Lease {
    /// Seal into the stored bytes; returns them with their id (the object name).
    pub fn encode(&self, keys: &Keys) -> Result<(Id, Vec<u8>), FormatError> {
        let json = serde_json::to_vec(self).map_err(|source| FormatError::Json { kind: KIND, source })?;
        let mut out = MAGIC.to_vec();
        keys.seal_into(MAGIC, &json, &mut out)?;
        Ok((Id::of_bytes(&out), out))
    }

    /// Open and parse stored bytes.
    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<Lease, FormatError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic { kind: KIND });
        }
        if bytes.len() > MAX_JSON {
            return Err(FormatError::malformed(KIND, "larger than 64 KiB"));
        }
        let json = keys.open(KIND, MAGIC, &bytes[8..])?;
        serde_json::from_slice(&json).map_err(|source| FormatError::Json { kind: KIND, source })
    }

    /// Whether it still holds at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn round_trips_and_refuses_tampering() {
        let keys = MasterKey::generate().unwrap().keys();
        let now = Timestamp::now();
        let l = Lease { kind: LeaseKind::Prune, host: "db1".into(), pid: 42, since: now, expires: now + jiff::SignedDuration::from_secs(900) };
        let (id, mut bytes) = l.encode(&keys).unwrap();
        assert_eq!(id, Id::of_bytes(&bytes));
        assert_eq!(Lease::decode(&keys, &bytes).unwrap(), l);
        assert!(l.is_live(now) && !l.is_live(l.expires));
        let other = MasterKey::generate().unwrap().keys();
        assert!(Lease::decode(&other, &bytes).is_err(), "another repository's key does not open it");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(Lease::decode(&keys, &bytes).is_err());
        assert!(Lease::decode(&keys, b"dbvsnap\x01xxxx").is_err());
    }
}
