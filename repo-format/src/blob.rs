//! Blobs: the sealed unit stored in packs (a data chunk or a chunk-list node).
//!
//! Sealing: compress the plaintext with zstd (kept only if smaller), then seal it in the envelope
//! with associated data `kind || codec || id`, so a blob cannot be swapped for another id, kind or
//! codec without failing authentication. Opening re-hashes the plaintext and compares it with the
//! id, so a reader never returns bytes other than the ones that were stored.

use std::cell::RefCell;

use crate::crypto::{Keys, OVERHEAD};
use crate::{FormatError, Id};

const KIND: &str = "blob";

/// Largest plaintext a blob may hold (the chunker's maximum is far below it).
pub const MAX_RAW_LEN: u32 = 16 * 1024 * 1024;

/// What a blob's plaintext is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BlobKind {
    /// A chunk of a dump stream; id = keyed BLAKE3 (chunk key) of the plaintext.
    Chunk = 1,
    /// A chunk-list node ([`crate::tree`]); id = keyed BLAKE3 (node key) of the plaintext.
    TreeNode = 2,
    /// Reserved: a chunk stored as a delta against a base chunk (SPEC.md, "Delta blobs").
    /// Version 1 readers refuse it.
    Delta = 3,
}

impl BlobKind {
    /// Parse the stored byte.
    pub fn from_u8(b: u8) -> Result<BlobKind, FormatError> {
        match b {
            1 => Ok(BlobKind::Chunk),
            2 => Ok(BlobKind::TreeNode),
            3 => Ok(BlobKind::Delta),
            _ => Err(FormatError::malformed(KIND, format!("unknown blob kind {b}"))),
        }
    }
}

/// How a blob's plaintext is encoded before sealing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// Stored as is (zstd did not make it smaller).
    Stored = 0,
    /// One zstd frame.
    Zstd = 1,
}

impl Codec {
    /// Parse the stored byte.
    pub fn from_u8(b: u8) -> Result<Codec, FormatError> {
        match b {
            0 => Ok(Codec::Stored),
            1 => Ok(Codec::Zstd),
            _ => Err(FormatError::malformed(KIND, format!("unknown codec {b}"))),
        }
    }
}

/// A sealed blob ready to be appended to a pack.
#[derive(Clone, Debug)]
pub struct SealedBlob {
    /// The blob's id.
    pub id: Id,
    /// What it holds.
    pub kind: BlobKind,
    /// How the sealed plaintext is encoded.
    pub codec: Codec,
    /// Length of the plaintext before compression.
    pub raw_len: u32,
    /// `nonce || ciphertext || tag`.
    pub bytes: Vec<u8>,
}

fn aad(kind: BlobKind, codec: Codec, id: &Id) -> [u8; 34] {
    let mut a = [0u8; 34];
    a[0] = kind as u8;
    a[1] = codec as u8;
    a[2..].copy_from_slice(&id.0);
    a
}

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn compress(level: i32, plaintext: &[u8]) -> Result<Vec<u8>, FormatError> {
    let err = |source| FormatError::Compression { kind: KIND, source };
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.as_ref().is_none_or(|(l, _)| *l != level) {
            *c = Some((level, zstd::bulk::Compressor::new(level).map_err(err)?));
        }
        c.as_mut().expect("just set").1.compress(plaintext).map_err(err)
    })
}

fn decompress(data: &[u8], raw_len: usize) -> Result<Vec<u8>, FormatError> {
    let err = |source| FormatError::Compression { kind: KIND, source };
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new().map_err(err)?);
        }
        d.as_mut().expect("just set").decompress(data, raw_len).map_err(err)
    })
}

/// Compute the id `plaintext` has as a blob of `kind`.
pub fn blob_id(keys: &Keys, kind: BlobKind, plaintext: &[u8]) -> Id {
    match kind {
        BlobKind::TreeNode => keys.tree_id(plaintext),
        BlobKind::Chunk | BlobKind::Delta => keys.chunk_id(plaintext),
    }
}

/// Compress (zstd at `level`, kept only if smaller) and seal a plaintext whose id is `id`.
pub fn seal(keys: &Keys, kind: BlobKind, id: Id, plaintext: &[u8], level: i32) -> Result<SealedBlob, FormatError> {
    if plaintext.len() > MAX_RAW_LEN as usize {
        return Err(FormatError::malformed(KIND, format!("plaintext of {} bytes exceeds the blob limit", plaintext.len())));
    }
    let compressed = compress(level, plaintext)?;
    let (codec, body) = if compressed.len() < plaintext.len() {
        (Codec::Zstd, compressed.as_slice())
    } else {
        (Codec::Stored, plaintext)
    };
    let mut bytes = Vec::with_capacity(body.len() + OVERHEAD);
    keys.seal_into(&aad(kind, codec, &id), body, &mut bytes)?;
    Ok(SealedBlob { id, kind, codec, raw_len: plaintext.len() as u32, bytes })
}

/// Open a sealed blob and prove its plaintext has the expected id and length.
pub fn open(
    keys: &Keys,
    kind: BlobKind,
    codec: Codec,
    id: &Id,
    raw_len: u32,
    sealed: &[u8],
) -> Result<Vec<u8>, FormatError> {
    if kind == BlobKind::Delta {
        return Err(FormatError::malformed(KIND, "delta blobs are reserved and not readable by format version 1"));
    }
    if raw_len > MAX_RAW_LEN {
        return Err(FormatError::malformed(KIND, format!("raw length {raw_len} exceeds the blob limit")));
    }
    let body = keys.open(KIND, &aad(kind, codec, id), sealed)?;
    let plain = match codec {
        Codec::Stored => body,
        Codec::Zstd => decompress(&body, raw_len as usize)?,
    };
    if plain.len() != raw_len as usize {
        return Err(FormatError::malformed(KIND, format!("{id} decoded to {} bytes, index says {raw_len}", plain.len())));
    }
    let actual = blob_id(keys, kind, &plain);
    if actual != *id {
        return Err(FormatError::IdMismatch { kind: KIND, expected: *id, actual });
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn seal_open_compressible_and_incompressible() {
        let keys = MasterKey::generate().unwrap().keys();
        let text = b"INSERT INTO t VALUES (1, 'abc');\n".repeat(200);
        let id = keys.chunk_id(&text);
        let s = seal(&keys, BlobKind::Chunk, id, &text, 3).unwrap();
        assert_eq!(s.codec, Codec::Zstd);
        assert!(s.bytes.len() < text.len() / 4);
        assert_eq!(open(&keys, s.kind, s.codec, &id, s.raw_len, &s.bytes).unwrap(), text);

        let mut noise = vec![0u8; 5000];
        crate::crypto::fill_random(&mut noise).unwrap();
        let id = keys.chunk_id(&noise);
        let s = seal(&keys, BlobKind::Chunk, id, &noise, 3).unwrap();
        assert_eq!(s.codec, Codec::Stored);
        assert_eq!(open(&keys, s.kind, s.codec, &id, s.raw_len, &s.bytes).unwrap(), noise);
    }

    #[test]
    fn swapped_kind_id_or_codec_fails() {
        let keys = MasterKey::generate().unwrap().keys();
        let text = b"hello hello hello hello hello hello".repeat(10);
        let id = keys.chunk_id(&text);
        let s = seal(&keys, BlobKind::Chunk, id, &text, 3).unwrap();
        assert!(open(&keys, BlobKind::TreeNode, s.codec, &id, s.raw_len, &s.bytes).is_err());
        assert!(open(&keys, s.kind, Codec::Stored, &id, s.raw_len, &s.bytes).is_err());
        let other = keys.chunk_id(b"other");
        assert!(open(&keys, s.kind, s.codec, &other, s.raw_len, &s.bytes).is_err());
        assert!(open(&keys, s.kind, s.codec, &id, s.raw_len + 1, &s.bytes).is_err());
        assert!(open(&keys, BlobKind::Delta, s.codec, &id, s.raw_len, &s.bytes).is_err());
    }

    #[test]
    fn sealing_under_a_wrong_id_is_caught_on_open() {
        let keys = MasterKey::generate().unwrap().keys();
        let wrong = keys.chunk_id(b"not this");
        let s = seal(&keys, BlobKind::Chunk, wrong, b"this", 3).unwrap();
        assert!(matches!(open(&keys, s.kind, s.codec, &wrong, 4, &s.bytes), Err(FormatError::IdMismatch { .. })));
    }
}
