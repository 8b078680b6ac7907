//! `index/<id>`: which blobs the packs of one ingest hold, so a fresh client can rebuild its
//! index without reading every pack.
//!
//! Layout: `"dbvindx" v (8) || sealed payload` (associated data: the magic; `v` is the format
//! version, 1 or 2). The payload is `pack_count: u32`, then per pack `pack_id (32) || pack_len: u64
//! || entry_count: u32 || entry_count x` [`crate::pack::PackEntry`] records. All integers LE.

use crate::crypto::Keys;
use crate::pack::{ENTRY_LEN, PackEntry, decode_entries};
use crate::{FORMAT_VERSION, OLDEST_VERSION};
use crate::{FormatError, Id, le_u32, le_u64};

const KIND: &str = "index segment";
/// The magic of a segment written by a repository of format `version` (also its associated data).
fn magic(version: u32) -> [u8; 8] {
    let mut m = *b"dbvindx\x00";
    m[7] = version as u8;
    m
}

/// The blobs of one pack, as an index segment lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackIndex {
    /// The pack's id (BLAKE3 of its bytes).
    pub pack_id: Id,
    /// The pack file's size in bytes.
    pub pack_len: u64,
    /// Its blobs in file order.
    pub entries: Vec<PackEntry>,
}

/// An index segment: several packs' listings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexSegment {
    /// The packs it describes.
    pub packs: Vec<PackIndex>,
}

impl IndexSegment {
    /// Seal into the stored bytes.
    pub fn encode(&self, keys: &Keys, version: u32) -> Result<Vec<u8>, FormatError> {
        let n: usize = self.packs.iter().map(|p| 44 + p.entries.iter().map(PackEntry::encoded_len).sum::<usize>()).sum();
        let mut plain = Vec::with_capacity(4 + n);
        plain.extend_from_slice(&(self.packs.len() as u32).to_le_bytes());
        for p in &self.packs {
            plain.extend_from_slice(&p.pack_id.0);
            plain.extend_from_slice(&p.pack_len.to_le_bytes());
            plain.extend_from_slice(&(p.entries.len() as u32).to_le_bytes());
            for e in &p.entries {
                e.encode_into(&mut plain);
            }
        }
        let magic = magic(version);
        let mut out = magic.to_vec();
        keys.seal_into(&magic, &plain, &mut out)?;
        Ok(out)
    }

    /// Open and parse stored bytes.
    pub fn decode(keys: &Keys, bytes: &[u8]) -> Result<IndexSegment, FormatError> {
        if bytes.len() < 8 || &bytes[..7] != b"dbvindx" {
            return Err(FormatError::BadMagic { kind: KIND });
        }
        let version = u32::from(bytes[7]);
        if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion { kind: KIND, found: version, supported: FORMAT_VERSION });
        }
        let plain = keys.open(KIND, &bytes[..8], &bytes[8..])?;
        let short = || FormatError::malformed(KIND, "truncated payload");
        if plain.len() < 4 {
            return Err(short());
        }
        let count = le_u32(&plain, 0) as usize;
        let mut at = 4;
        // Each pack needs at least 44 bytes: a count larger than that is hostile, not a reason to allocate.
        if count > (plain.len() - at) / 44 {
            return Err(FormatError::malformed(KIND, format!("claims {count} packs in {} bytes", plain.len())));
        }
        let mut packs = Vec::with_capacity(count);
        for _ in 0..count {
            if plain.len() - at < 44 {
                return Err(short());
            }
            let pack_id = Id::from_slice(&plain[at..at + 32]).expect("32 bytes");
            let pack_len = le_u64(&plain, at + 32);
            let n = le_u32(&plain, at + 40) as usize;
            at += 44;
            if n.checked_mul(ENTRY_LEN).is_none_or(|l| l > plain.len() - at) {
                return Err(short());
            }
            let (entries, len) = decode_entries(KIND, &plain[at..], Some(n), pack_len, version)?;
            at += len;
            packs.push(PackIndex { pack_id, pack_len, entries });
        }
        if at != plain.len() {
            return Err(FormatError::malformed(KIND, "trailing bytes after the last pack"));
        }
        Ok(IndexSegment { packs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::{BlobKind, Codec};
    use crate::crypto::MasterKey;

    fn sample() -> IndexSegment {
        let e = |i: u8, off| PackEntry { id: Id([i; 32]), kind: BlobKind::Chunk, codec: Codec::Zstd, offset: off, stored_len: 50, raw_len: 80, delta: None };
        let d = PackEntry { kind: BlobKind::Delta, delta: Some(crate::blob::DeltaRef { base: Id([1; 32]), depth: 1 }), ..e(4, 58) };
        IndexSegment {
            packs: vec![
                PackIndex { pack_id: Id([9; 32]), pack_len: 1000, entries: vec![e(1, 8), e(2, 58)] },
                PackIndex { pack_id: Id([8; 32]), pack_len: 500, entries: vec![e(3, 8), d] },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let keys = MasterKey::generate().unwrap().keys();
        let seg = sample();
        assert_eq!(IndexSegment::decode(&keys, &seg.encode(&keys, 2).unwrap()).unwrap(), seg);
        assert!(IndexSegment::decode(&keys, &seg.encode(&keys, 1).unwrap()).is_err(), "no deltas in version 1");
        let empty = IndexSegment::default();
        assert_eq!(IndexSegment::decode(&keys, &empty.encode(&keys, 1).unwrap()).unwrap(), empty);
        let mut newer = empty.encode(&keys, 2).unwrap();
        newer[7] = 3;
        assert!(matches!(IndexSegment::decode(&keys, &newer), Err(FormatError::UnsupportedVersion { found: 3, .. })));
    }

    #[test]
    fn tampering_and_wrong_key_fail() {
        let keys = MasterKey::generate().unwrap().keys();
        let mut bytes = sample().encode(&keys, 2).unwrap();
        let other = MasterKey::generate().unwrap().keys();
        assert!(IndexSegment::decode(&other, &bytes).is_err());
        bytes[20] ^= 4;
        assert!(IndexSegment::decode(&keys, &bytes).is_err());
        assert!(IndexSegment::decode(&keys, b"dbvindx\x01").is_err());
        let mut downgraded = sample().encode(&keys, 2).unwrap();
        downgraded[7] = 1;
        assert!(IndexSegment::decode(&keys, &downgraded).is_err(), "the version is authenticated");
    }
}
