//! 32-byte identifiers of blobs, packs, index segments, snapshots and the repository.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte identifier, shown and stored in file names as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Id(pub [u8; 32]);

impl Id {
    /// Length of an id in bytes.
    pub const LEN: usize = 32;

    /// The plain (unkeyed) BLAKE3 hash of `bytes`: names packs, index segments, snapshots, keys.
    pub fn of_bytes(bytes: &[u8]) -> Id {
        Id(*blake3::hash(bytes).as_bytes())
    }

    /// Read an id from exactly 32 bytes.
    pub fn from_slice(b: &[u8]) -> Option<Id> {
        Some(Id(b.try_into().ok()?))
    }

    /// Full lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex digits, as listings show it.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

/// A string that is not an id: not 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not 64 hex digits: {why}")]
pub struct ParseIdError {
    /// The string.
    pub text: String,
    /// What is wrong with it.
    pub why: String,
}

impl FromStr for Id {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Id, ParseIdError> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).map_err(|e| ParseIdError { text: s.to_string(), why: e.to_string() })?;
        Ok(Id(b))
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects_garbage() {
        let id = Id::of_bytes(b"abc");
        assert_eq!(id.to_hex().parse::<Id>().unwrap(), id);
        assert_eq!(id.short().len(), 8);
        assert!("xyz".parse::<Id>().is_err());
        assert!(id.to_hex()[..62].parse::<Id>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<Id>(&json).unwrap(), id);
    }
}
