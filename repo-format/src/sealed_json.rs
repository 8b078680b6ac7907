//! The layout shared by snapshot manifests and records (forgets, checks): `magic (8) ||
//! envelope(zstd(JSON))`, with the magic as associated data, and decompressed JSON capped (16 MiB)
//! against hostile input.

use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::Keys;
use crate::{FormatError, Id};

/// A record stored in this layout and named by the BLAKE3 hash of its bytes.
pub trait SealedRecord: Serialize + DeserializeOwned {
    /// What it is, for errors.
    const KIND: &'static str;
    /// Its magic.
    const MAGIC: &'static [u8; 8];

    /// Seal into the stored bytes; returns them with their id (the object name).
    fn encode(&self, keys: &Keys) -> Result<(Id, Vec<u8>), FormatError> {
        let out = seal(keys, Self::KIND, Self::MAGIC, self)?;
        Ok((Id::of_bytes(&out), out))
    }

    /// Open and parse stored bytes.
    fn decode(keys: &Keys, bytes: &[u8]) -> Result<Self, FormatError> {
        open(keys, Self::KIND, Self::MAGIC, bytes)
    }
}

/// Decompressed JSON larger than this is refused as hostile.
const MAX_JSON: u64 = 16 << 20;

/// Seal `value` as an object of `kind` with `magic`.
pub(crate) fn seal<T: Serialize>(keys: &Keys, kind: &'static str, magic: &[u8; 8], value: &T) -> Result<Vec<u8>, FormatError> {
    let json = serde_json::to_vec(value).map_err(|source| FormatError::Json { kind, source })?;
    let z = zstd::bulk::compress(&json, 3).map_err(|source| FormatError::Compression { kind, source })?;
    let mut out = magic.to_vec();
    keys.seal_into(magic, &z, &mut out)?;
    Ok(out)
}

/// Open an object of `kind` with `magic` and parse its JSON.
pub(crate) fn open<T: DeserializeOwned>(keys: &Keys, kind: &'static str, magic: &[u8; 8], bytes: &[u8]) -> Result<T, FormatError> {
    if bytes.len() < 8 || &bytes[..8] != magic {
        return Err(FormatError::BadMagic { kind });
    }
    let z = keys.open(kind, magic, &bytes[8..])?;
    let mut json = Vec::new();
    zstd::stream::read::Decoder::new(z.as_slice())
        .and_then(|d| d.take(MAX_JSON + 1).read_to_end(&mut json))
        .map_err(|source| FormatError::Compression { kind, source })?;
    if json.len() as u64 > MAX_JSON {
        return Err(FormatError::malformed(kind, "decompresses to more than 16 MiB"));
    }
    serde_json::from_slice(&json).map_err(|source| FormatError::Json { kind, source })
}
