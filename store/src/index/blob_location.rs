//! Where a blob is: its pack and its entry there, as the `blobs` column family stores it
//! (SPEC.md section 12).

use repo_format::blob::{BlobKind, Codec, DeltaRef};
use repo_format::pack::PackEntry;
use repo_format::{FormatError, Id};

/// Where a blob is stored: the pack, and the blob's entry in that pack's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack holding it.
    pub pack: Id,
    /// Its entry in the pack's header (id, kind, codec, offset, lengths, delta base).
    pub entry: PackEntry,
}

impl BlobLocation {
    /// The location of `e`, a blob of `pack`.
    pub fn of(pack: Id, e: &PackEntry) -> BlobLocation {
        BlobLocation { pack, entry: *e }
    }

    /// The stored value: pack id, kind, codec, offset, stored and raw length (46 bytes), and for a
    /// delta its depth and base id (33 more). The blob's id is the key.
    pub(super) fn encode(&self) -> Vec<u8> {
        let e = &self.entry;
        let mut v = vec![0u8; 46];
        v[..32].copy_from_slice(&self.pack.0);
        v[32] = e.kind as u8;
        v[33] = e.codec as u8;
        v[34..38].copy_from_slice(&e.offset.to_le_bytes());
        v[38..42].copy_from_slice(&e.stored_len.to_le_bytes());
        v[42..46].copy_from_slice(&e.raw_len.to_le_bytes());
        if let Some(d) = e.delta {
            v.push(d.depth);
            v.extend_from_slice(&d.base.0);
        }
        v
    }

    /// The location of blob `id` from its stored value.
    pub(super) fn decode(id: Id, v: &[u8]) -> std::result::Result<BlobLocation, FormatError> {
        if v.len() != 46 && v.len() != 79 {
            return Err(FormatError::malformed("local index entry", format!("{} bytes instead of 46 or 79", v.len())));
        }
        let u32_at = |i: usize| u32::from_le_bytes(v[i..i + 4].try_into().expect("4 bytes"));
        let entry = PackEntry {
            id,
            kind: BlobKind::from_u8(v[32])?,
            codec: Codec::from_u8(v[33])?,
            offset: u32_at(34),
            stored_len: u32_at(38),
            raw_len: u32_at(42),
            delta: (v.len() == 79).then(|| DeltaRef { depth: v[46], base: Id::from_slice(&v[47..]).expect("32 bytes") }),
        };
        Ok(BlobLocation { pack: Id::from_slice(&v[..32]).expect("32 bytes"), entry })
    }
}
