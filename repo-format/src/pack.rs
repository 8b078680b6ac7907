//! `packs/<xx>/<pack-id>`: many sealed blobs plus a sealed header that lists them.
//!
//! Layout:
//! ```text
//! "dbvpack\x01" (8) || blob* || sealed header || header_len: u32 LE || "dbvpack\x01" (8)
//! ```
//! The header plaintext is a sequence of 48-byte [`PackEntry`] records in blob order; it is sealed
//! with associated data `"dbvault pack header v1"`. A pack's id is the BLAKE3 hash of the whole
//! file, so any change to a pack (including a swap with another pack) is visible from its name.

use crate::blob::{BlobKind, Codec};
use crate::crypto::Keys;
use crate::{FormatError, Id, le_u32};

const KIND: &str = "pack";
/// First and last 8 bytes of every pack.
pub const MAGIC: &[u8; 8] = b"dbvpack\x01";
/// Bytes of one encoded [`PackEntry`].
pub const ENTRY_LEN: usize = 48;
/// Bytes after the sealed header: its length and the closing magic.
pub const TRAILER_LEN: usize = 12;
const HEADER_AAD: &[u8] = b"dbvault pack header v1";

/// Where one blob sits in a pack. Also the record format of index segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackEntry {
    /// The blob's id.
    pub id: Id,
    /// What the blob holds.
    pub kind: BlobKind,
    /// How its plaintext was encoded.
    pub codec: Codec,
    /// Byte offset of the sealed blob in the pack file.
    pub offset: u32,
    /// Length of the sealed blob (envelope included).
    pub stored_len: u32,
    /// Length of the blob's plaintext.
    pub raw_len: u32,
}

impl PackEntry {
    /// Append the 48-byte record: `id (32) kind (1) codec (1) reserved (2) offset stored_len raw_len (u32 LE each)`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0);
        out.extend_from_slice(&[self.kind as u8, self.codec as u8, 0, 0]);
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.stored_len.to_le_bytes());
        out.extend_from_slice(&self.raw_len.to_le_bytes());
    }

    /// Decode one 48-byte record.
    pub fn decode(kind: &'static str, b: &[u8]) -> Result<PackEntry, FormatError> {
        if b.len() != ENTRY_LEN {
            return Err(FormatError::malformed(kind, "entry is not 48 bytes"));
        }
        if b[34] != 0 || b[35] != 0 {
            return Err(FormatError::malformed(kind, "reserved entry bytes are not zero"));
        }
        Ok(PackEntry {
            id: Id::from_slice(&b[..32]).expect("32 bytes"),
            kind: BlobKind::from_u8(b[32])?,
            codec: Codec::from_u8(b[33])?,
            offset: le_u32(b, 36),
            stored_len: le_u32(b, 40),
            raw_len: le_u32(b, 44),
        })
    }
}

/// Decode a run of records, checking each blob lies in `[8, data_end)` without overlap.
pub fn decode_entries(kind: &'static str, b: &[u8], data_end: u64) -> Result<Vec<PackEntry>, FormatError> {
    if b.len() % ENTRY_LEN != 0 {
        return Err(FormatError::malformed(kind, format!("entry table of {} bytes is not a multiple of {ENTRY_LEN}", b.len())));
    }
    let mut out = Vec::with_capacity(b.len() / ENTRY_LEN);
    let mut next = MAGIC.len() as u64;
    for rec in b.chunks_exact(ENTRY_LEN) {
        let e = PackEntry::decode(kind, rec)?;
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
    Ok(out)
}

/// The bytes that close a pack: the sealed header followed by the trailer.
pub fn encode_header(keys: &Keys, entries: &[PackEntry]) -> Result<Vec<u8>, FormatError> {
    let mut plain = Vec::with_capacity(entries.len() * ENTRY_LEN);
    for e in entries {
        e.encode_into(&mut plain);
    }
    let mut out = keys.seal(HEADER_AAD, &plain)?;
    let len = u32::try_from(out.len()).map_err(|_| FormatError::malformed(KIND, "header too large"))?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(MAGIC);
    Ok(out)
}

/// From a pack's size and its last [`TRAILER_LEN`] bytes, where its sealed header lies: `(offset, len)`.
pub fn locate_header(file_len: u64, trailer: &[u8]) -> Result<(u64, usize), FormatError> {
    if trailer.len() != TRAILER_LEN || file_len < (MAGIC.len() + TRAILER_LEN) as u64 {
        return Err(FormatError::malformed(KIND, format!("file of {file_len} bytes is too short to be a pack")));
    }
    if &trailer[4..] != MAGIC {
        return Err(FormatError::BadMagic { kind: "pack trailer" });
    }
    let len = u64::from(le_u32(trailer, 0));
    let end = file_len - TRAILER_LEN as u64;
    if len > end - MAGIC.len() as u64 {
        return Err(FormatError::malformed(KIND, format!("header length {len} exceeds the file ({file_len} bytes)")));
    }
    Ok((end - len, len as usize))
}

/// Open the sealed header found at `header_offset` and validate its entries.
pub fn decode_header(keys: &Keys, sealed: &[u8], header_offset: u64) -> Result<Vec<PackEntry>, FormatError> {
    let plain = keys.open("pack header", HEADER_AAD, sealed)?;
    decode_entries("pack header", &plain, header_offset)
}

/// Check the first bytes of a pack file.
pub fn check_magic(head: &[u8]) -> Result<(), FormatError> {
    if head.len() < MAGIC.len() || &head[..MAGIC.len()] != MAGIC {
        return Err(FormatError::BadMagic { kind: KIND });
    }
    Ok(())
}

/// Read every entry of a whole pack held in memory (used by index repair and checks).
pub fn read_entries(keys: &Keys, pack: &[u8]) -> Result<Vec<PackEntry>, FormatError> {
    check_magic(pack)?;
    let len = pack.len() as u64;
    let (off, hlen) = locate_header(len, &pack[pack.len().saturating_sub(TRAILER_LEN)..])?;
    decode_header(keys, &pack[off as usize..off as usize + hlen], off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob;
    use crate::crypto::MasterKey;

    fn build(keys: &Keys, n: usize) -> (Vec<u8>, Vec<PackEntry>) {
        let mut pack = MAGIC.to_vec();
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
            });
            pack.extend_from_slice(&s.bytes);
        }
        pack.extend_from_slice(&encode_header(keys, &entries).unwrap());
        (pack, entries)
    }

    #[test]
    fn header_round_trip() {
        let keys = MasterKey::generate().unwrap().keys();
        let (pack, entries) = build(&keys, 5);
        assert_eq!(read_entries(&keys, &pack).unwrap(), entries);
        for e in &entries {
            let sealed = &pack[e.offset as usize..(e.offset + e.stored_len) as usize];
            blob::open(&keys, e.kind, e.codec, &e.id, e.raw_len, sealed).unwrap();
        }
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
        let e = PackEntry { id: Id::default(), kind: BlobKind::Chunk, codec: Codec::Zstd, offset: 8, stored_len: 100, raw_len: 1 };
        let mut b = Vec::new();
        e.encode_into(&mut b);
        assert!(decode_entries("t", &b, 108).is_ok());
        assert!(decode_entries("t", &b, 107).is_err());
        b.extend_from_slice(&b.clone());
        assert!(decode_entries("t", &b, 1000).is_err(), "overlapping entries");
        assert!(decode_entries("t", &b[..47], 1000).is_err());
    }
}
