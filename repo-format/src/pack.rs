//! `packs/<xx>/<pack-id>`: many sealed blobs plus a sealed header that lists them.
//!
//! Layout (`v` is the format version of the repository that wrote it, 1 or 2):
//! ```text
//! "dbvpack" v (8) || blob* || sealed header || header_len: u32 LE || "dbvpack" v (8)
//! ```
//! The header plaintext is the [`PackEntry`] records in blob order (48 bytes each, 80 for a delta
//! blob in version 2); it is sealed with associated data `"dbvault pack header v1"`. A pack's id is
//! the BLAKE3 hash of the whole file, so any change to a pack (including a swap with another pack)
//! is visible from its name.

use crate::blob::{BlobKind, Codec, DeltaRef, MAX_DELTA_DEPTH};
use crate::crypto::Keys;
use crate::{FORMAT_VERSION, FormatError, Id, OLDEST_VERSION, le_u32};

const KIND: &str = "pack";
/// Bytes of one encoded [`PackEntry`] (a delta's base id follows it).
pub const ENTRY_LEN: usize = 48;
/// Bytes of one encoded delta [`PackEntry`]: the entry and the base id.
pub const DELTA_ENTRY_LEN: usize = ENTRY_LEN + 32;
/// Bytes after the sealed header: its length and the closing magic.
pub const TRAILER_LEN: usize = 12;
const HEADER_AAD: &[u8] = b"dbvault pack header v1";

/// First and last 8 bytes of a pack written by a repository of format `version`.
pub fn magic(version: u32) -> [u8; 8] {
    let mut m = *b"dbvpack\x00";
    m[7] = version as u8;
    m
}

/// The format version a pack's magic names; refuses unknown ones.
fn version_of(kind: &'static str, m: &[u8]) -> Result<u32, FormatError> {
    if m.len() != 8 || &m[..7] != b"dbvpack" {
        return Err(FormatError::BadMagic { kind });
    }
    let v = u32::from(m[7]);
    if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&v) {
        return Err(FormatError::UnsupportedVersion { kind: KIND, found: v, supported: FORMAT_VERSION });
    }
    Ok(v)
}

/// Where one blob sits in a pack. Also the record format of index segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    /// The blob's id.
    pub id: Id,
    /// What the blob holds.
    pub kind: BlobKind,
    /// How its plaintext is encoded.
    pub codec: Codec,
    /// First byte of the sealed blob in the pack file.
    pub offset: u32,
    /// Length of the sealed blob (envelope included).
    pub stored_len: u32,
    /// Length of the plaintext.
    pub raw_len: u32,
    /// For a delta blob: its base and depth.
    pub delta: Option<DeltaRef>,
}

impl PackEntry {
    /// Append the entry's bytes (48, or 80 for a delta).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&[self.kind as u8, self.codec as u8, self.delta.map_or(0, |d| d.depth), 0]);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.stored_len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
        if let Some(d) = self.delta {
            out.extend_from_slice(&d.base.0);
        }
    }

    /// Decode one entry at the start of `b` as written in format `version`; returns it and its
    /// length.
    pub fn decode(kind: &'static str, b: &[u8], version: u32) -> Result<(PackEntry, usize), FormatError> {
        if b.len() < ENTRY_LEN {
            return Err(FormatError::malformed(kind, "truncated entry"));
        }
        let (blob_kind, depth) = (BlobKind::from_u8(b[32])?, b[34]);
        if b[35] != 0 {
            return Err(FormatError::malformed(kind, "reserved entry byte is not zero"));
        }
        let is_delta = blob_kind == BlobKind::Delta;
        if is_delta && version < 2 {
            return Err(FormatError::malformed(kind, format!("a delta blob in a version {version} object (deltas exist from version 2)")));
        }
        if is_delta != (depth > 0) || depth > MAX_DELTA_DEPTH {
            return Err(FormatError::malformed(kind, format!("a {blob_kind:?} entry with delta depth {depth}")));
        }
        let mut e = PackEntry {
            id: Id::from_slice(&b[..32]).expect("32 bytes"),
            kind: blob_kind,
            codec: Codec::from_u8(b[33])?,
            offset: le_u32(b, 36),
            stored_len: le_u32(b, 40),
            raw_len: le_u32(b, 44),
            delta: None,
        };
        if !is_delta {
            return Ok((e, ENTRY_LEN));
        }
        if b.len() < DELTA_ENTRY_LEN {
            return Err(FormatError::malformed(kind, "truncated delta entry"));
        }
        e.delta = Some(DeltaRef { base: Id::from_slice(&b[48..80]).expect("32 bytes"), depth });
        Ok((e, DELTA_ENTRY_LEN))
    }

    /// Bytes of the encoded entry.
    pub fn encoded_len(&self) -> usize {
        if self.delta.is_some() { DELTA_ENTRY_LEN } else { ENTRY_LEN }
    }

    /// Authenticate `sealed`, the blob this entry describes: its envelope (AEAD) always; a whole
    /// blob is also decompressed and its plaintext's id proven, while a delta's patch is only
    /// opened (rebuilding it needs its base, which is verified where it lives).
    pub fn authenticate(&self, keys: &Keys, sealed: &[u8]) -> Result<(), FormatError> {
        match self.delta {
            None => crate::blob::open(keys, self.kind, self.codec, &self.id, self.raw_len, sealed).map(drop),
            Some(d) => crate::blob::open_patch(keys, self.codec, &self.id, &d.base, self.raw_len, sealed).map(drop),
        }
    }
}

/// Decode `count` entries (all of `b` when `None`) written in format `version`, checking that they
/// are in increasing, non-overlapping order within a pack whose blobs end at `data_end`. Returns
/// the entries and the bytes they took.
pub fn decode_entries(kind: &'static str, b: &[u8], count: Option<usize>, data_end: u64, version: u32) -> Result<(Vec<PackEntry>, usize), FormatError> {
    let mut out = Vec::with_capacity(count.unwrap_or(usize::MAX).min(b.len() / ENTRY_LEN));
    let mut next = 8u64;
    let mut at = 0;
    while count.map_or(at < b.len(), |n| out.len() < n) {
        let (e, len) = PackEntry::decode(kind, &b[at..], version)?;
        at += len;
        let end = u64::from(e.offset) + u64::from(e.stored_len);
        if u64::from(e.offset) < next || end > data_end || (e.stored_len as usize) < crate::crypto::OVERHEAD {
            return Err(FormatError::malformed(
                kind,
                format!("blob {} at {}+{} overlaps or lies outside the pack's data (ends at {data_end})", e.id.short(), e.offset, e.stored_len),
            ));
        }
        next = end;
        out.push(e);
    }
    Ok((out, at))
}

/// Seal a header listing `entries` and append the trailer; `version` is the repository's format.
pub fn encode_header(keys: &Keys, entries: &[PackEntry], version: u32) -> Result<Vec<u8>, FormatError> {
    let mut plain = Vec::with_capacity(entries.len() * ENTRY_LEN);
    for e in entries {
        e.encode_into(&mut plain);
    }
    let mut out = keys.seal(HEADER_AAD, &plain)?;
    let len = u32::try_from(out.len()).map_err(|_| FormatError::malformed(KIND, "header too large"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&magic(version));
    Ok(out)
}

/// Where a pack's header is, from the file length and its last [`TRAILER_LEN`] bytes:
/// (header offset, sealed header length, format version).
pub fn locate_header(file_len: u64, trailer: &[u8]) -> Result<(u64, usize, u32), FormatError> {
    if trailer.len() != TRAILER_LEN || file_len < (8 + TRAILER_LEN) as u64 {
        return Err(FormatError::malformed(KIND, format!("file of {file_len} bytes is too short to be a pack")));
    }
    let version = version_of("pack trailer", &trailer[4..])?;
    let len = u64::from(le_u32(trailer, 0));
    let end = file_len - TRAILER_LEN as u64;
    if len > end - 8 {
        return Err(FormatError::malformed(KIND, format!("header length {len} exceeds the file ({file_len} bytes)")));
    }
    Ok((end - len, len as usize, version))
}

/// Open a sealed header found at `header_offset` and decode its entries.
pub fn decode_header(keys: &Keys, sealed: &[u8], header_offset: u64, version: u32) -> Result<Vec<PackEntry>, FormatError> {
    let plain = keys.open("pack header", HEADER_AAD, sealed)?;
    Ok(decode_entries("pack header", &plain, None, header_offset, version)?.0)
}

/// Check a pack's leading magic; returns the format version it names.
pub fn check_magic(head: &[u8]) -> Result<u32, FormatError> {
    version_of(KIND, head.get(..8).ok_or(FormatError::BadMagic { kind: KIND })?)
}

/// Decode the entries of a whole pack held in memory (leading and trailing magic must agree).
pub fn read_entries(keys: &Keys, pack: &[u8]) -> Result<Vec<PackEntry>, FormatError> {
    let version = check_magic(pack)?;
    let len = pack.len() as u64;
    let (off, hlen, trailer_version) = locate_header(len, &pack[pack.len().saturating_sub(TRAILER_LEN)..])?;
    if trailer_version != version {
        return Err(FormatError::malformed(KIND, format!("leading magic says version {version}, trailing {trailer_version}")));
    }
    decode_header(keys, &pack[off as usize..off as usize + hlen], off, version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob;
    use crate::crypto::MasterKey;

    fn build(keys: &Keys, n: usize) -> (Vec<u8>, Vec<PackEntry>) {
        let mut pack = magic(2).to_vec();
        let mut entries = Vec::new();
        for i in 0..n {
            let plain = format!("chunk number {i} ").repeat(i + 1);
            let id = keys.chunk_id(plain.as_bytes());
            let s = blob::seal(keys, BlobKind::Chunk, id, plain.as_bytes(), 3).unwrap();
            entries.push(PackEntry {
                id,
                kind: s.kind,
                codec: s.codec,
                offset: pack.len() as u32,
                stored_len: s.bytes.len() as u32,
                raw_len: s.raw_len,
                delta: (i == 2).then_some(DeltaRef { base: Id([7; 32]), depth: 1 }),
            });
            if i == 2 {
                entries[i].kind = BlobKind::Delta;
                entries[i].codec = Codec::Zstd;
            }
            pack.extend_from_slice(&s.bytes);
        }
        pack.extend_from_slice(&encode_header(keys, &entries, 2).unwrap());
        (pack, entries)
    }

    #[test]
    fn header_round_trip() {
        let keys = MasterKey::generate().unwrap().keys();
        let (pack, entries) = build(&keys, 5);
        assert_eq!(read_entries(&keys, &pack).unwrap(), entries);
        for e in entries.iter().filter(|e| e.delta.is_none()) {
            let sealed = &pack[e.offset as usize..(e.offset + e.stored_len) as usize];
            blob::open(&keys, e.kind, e.codec, &e.id, e.raw_len, sealed).unwrap();
        }
    }

    #[test]
    fn unknown_pack_versions_are_named() {
        let keys = MasterKey::generate().unwrap().keys();
        let (mut pack, _) = build(&keys, 1);
        pack[7] = 3;
        assert!(matches!(read_entries(&keys, &pack), Err(FormatError::UnsupportedVersion { found: 3, .. })));
        let (mut pack, _) = build(&keys, 1);
        let n = pack.len();
        pack[n - 1] = 1;
        assert!(read_entries(&keys, &pack).is_err(), "leading and trailing versions must agree");
    }

    #[test]
    fn damaged_packs_are_errors() {
        let keys = MasterKey::generate().unwrap().keys();
        let (pack, _) = build(&keys, 3);
        assert!(read_entries(&keys, &pack[..pack.len() - 1]).is_err());
        assert!(read_entries(&keys, &pack[..20]).is_err());
        let mut bad = pack.clone();
        let n = bad.len();
        bad[n - 13] ^= 1; // inside the sealed header
        assert!(read_entries(&keys, &bad).is_err());
        let mut bad = pack.clone();
        bad[n - 12..n - 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(read_entries(&keys, &bad).is_err());
    }

    #[test]
    fn entry_bounds_are_checked() {
        let e = PackEntry { id: Id::default(), kind: BlobKind::Chunk, codec: Codec::Zstd, offset: 8, stored_len: 100, raw_len: 1, delta: None };
        let mut b = Vec::new();
        e.encode_into(&mut b);
        assert!(decode_entries("t", &b, None, 108, 1).is_ok());
        assert!(decode_entries("t", &b, None, 107, 1).is_err());
        b.extend_from_slice(&b.clone());
        assert!(decode_entries("t", &b, None, 1000, 1).is_err(), "overlapping entries");
        assert!(decode_entries("t", &b[..47], None, 1000, 1).is_err());
    }

    #[test]
    fn delta_entries_exist_from_version_2() {
        let d = PackEntry {
            id: Id([1; 32]),
            kind: BlobKind::Delta,
            codec: Codec::Zstd,
            offset: 8,
            stored_len: 60,
            raw_len: 4000,
            delta: Some(DeltaRef { base: Id([2; 32]), depth: 3 }),
        };
        let mut b = Vec::new();
        d.encode_into(&mut b);
        assert_eq!(b.len(), DELTA_ENTRY_LEN);
        assert_eq!(decode_entries("t", &b, None, 68, 2).unwrap(), (vec![d], DELTA_ENTRY_LEN));
        assert!(decode_entries("t", &b, None, 68, 1).is_err(), "version 1 objects hold no deltas");
        assert!(decode_entries("t", &b[..60], None, 68, 2).is_err(), "truncated base id");
        let mut bad = b.clone();
        bad[34] = 0;
        assert!(decode_entries("t", &bad, None, 68, 2).is_err(), "a delta needs a depth");
        bad[34] = MAX_DELTA_DEPTH + 1;
        assert!(decode_entries("t", &bad, None, 68, 2).is_err(), "depth is bounded");
        let mut plain = Vec::new();
        PackEntry { kind: BlobKind::Chunk, delta: None, ..d }.encode_into(&mut plain);
        plain[34] = 1;
        assert!(decode_entries("t", &plain, None, 68, 2).is_err(), "only deltas have a depth");
    }
}
