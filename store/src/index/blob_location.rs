//! Where a blob is: its pack and its entry there, as the `blobs` column family stores it
//! (SPEC.md section 12).

use repo_format::blob::{BlobKind, Codec, DeltaRef};
use repo_format::{FormatError, Id};

/// Where a blob is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack holding it.
    pub pack: Id,
    /// What it holds.
    pub kind: BlobKind,
    /// Its encoding.
    pub codec: Codec,
    /// Offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub stored_len: u32,
    /// Length of its plaintext.
    pub raw_len: u32,
    /// For a delta blob: its base.
    pub delta: Option<DeltaRef>,
}

impl BlobLocation {
    /// The location of `e`, a blob of `pack`.
    pub fn of(pack: Id, e: &repo_format::pack::PackEntry) -> BlobLocation {
        BlobLocation { pack, kind: e.kind, codec: e.codec, offset: e.offset, stored_len: e.stored_len, raw_len: e.raw_len, delta: e.delta }
    }

    /// The pack entry this location describes.
    pub fn entry(&self, id: Id) -> repo_format::pack::PackEntry {
        repo_format::pack::PackEntry {
            id,
            kind: self.kind,
            codec: self.codec,
            offset: self.offset,
            stored_len: self.stored_len,
            raw_len: self.raw_len,
            delta: self.delta,
        }
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut v = vec![0u8; 46];
        v[..32].copy_from_slice(&self.pack.0);
        v[32] = self.kind as u8;
        v[33] = self.codec as u8;
        v[34..38].copy_from_slice(&self.offset.to_le_bytes());
        v[38..42].copy_from_slice(&self.stored_len.to_le_bytes());
        v[42..46].copy_from_slice(&self.raw_len.to_le_bytes());
        if let Some(d) = self.delta {
            v.push(d.depth);
            v.extend_from_slice(&d.base.0);
        }
        v
    }

    pub(super) fn decode(v: &[u8]) -> std::result::Result<BlobLocation, FormatError> {
        if v.len() != 46 && v.len() != 79 {
            return Err(FormatError::malformed("local index entry", format!("{} bytes instead of 46 or 79", v.len())));
        }
        let u32_at = |i: usize| u32::from_le_bytes(v[i..i + 4].try_into().expect("4 bytes"));
        Ok(BlobLocation {
            pack: Id::from_slice(&v[..32]).expect("32 bytes"),
            kind: BlobKind::from_u8(v[32])?,
            codec: Codec::from_u8(v[33])?,
            offset: u32_at(34),
            stored_len: u32_at(38),
            raw_len: u32_at(42),
            delta: (v.len() == 79).then(|| DeltaRef { depth: v[46], base: Id::from_slice(&v[47..]).expect("32 bytes") }),
        })
    }
}
