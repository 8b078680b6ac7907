//! Keys and the sealed envelope.
//!
//! A repository has one random 32-byte master key. Every working key is derived from it with
//! BLAKE3's key derivation mode and a fixed context string (SPEC.md section 3, "Keys"), so the
//! master key itself never touches data. The envelope is `nonce (24) || ciphertext || tag (16)`
//! with XChaCha20-Poly1305 and a fresh random nonce per seal.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

use crate::FormatError;

/// Bytes of an envelope's nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes of an envelope's authentication tag.
pub const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

const CTX_DATA: &str = "dbvault 2026-11 v1 data encryption key";
const CTX_CHUNK_ID: &str = "dbvault 2026-11 v1 chunk id key";
const CTX_TREE_ID: &str = "dbvault 2026-11 v1 chunk-list node id key";
const CTX_CONFIG_MAC: &str = "dbvault 2026-11 v1 config authentication key";
const CTX_CHUNKER_SEED: &str = "dbvault 2026-11 v1 chunker seed";
const CTX_NAME: &str = "dbvault 2026-11 v1 database name key";
const CTX_RESEMBLANCE: &str = "dbvault 2026-11 v1 resemblance key";

/// Fill `buf` from the operating system's random number generator.
pub fn fill_random(buf: &mut [u8]) -> Result<(), FormatError> {
    getrandom::fill(buf).map_err(|e| FormatError::Random(e.to_string()))
}

/// A fresh random id (a repository's, a lease's).
pub fn random_id() -> Result<crate::Id, FormatError> {
    let mut b = [0u8; 32];
    fill_random(&mut b)?;
    Ok(crate::Id(b))
}

/// The repository's master key: 32 random bytes, stored only wrapped in key files.
#[derive(Clone)]
pub struct MasterKey(pub(crate) [u8; 32]);

impl MasterKey {
    /// A fresh random master key (at `init`).
    pub fn generate() -> Result<MasterKey, FormatError> {
        let mut k = [0u8; 32];
        fill_random(&mut k)?;
        Ok(MasterKey(k))
    }

    /// A master key from known bytes (fuzzing and test fixtures; real keys come from
    /// [`MasterKey::generate`] and key files).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    /// Derive the working keys.
    pub fn keys(&self) -> Keys {
        let derive = |ctx| blake3::derive_key(ctx, &self.0);
        let seed = derive(CTX_CHUNKER_SEED);
        Keys {
            data: XChaCha20Poly1305::new(&derive(CTX_DATA).into()),
            chunk_id: derive(CTX_CHUNK_ID),
            tree_id: derive(CTX_TREE_ID),
            config_mac: derive(CTX_CONFIG_MAC),
            name: derive(CTX_NAME),
            resemblance: derive(CTX_RESEMBLANCE),
            chunker_seed: u64::from_le_bytes(seed[..8].try_into().expect("8 bytes")),
        }
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The working keys of an unlocked repository.
#[derive(Clone)]
pub struct Keys {
    data: XChaCha20Poly1305,
    chunk_id: [u8; 32],
    tree_id: [u8; 32],
    config_mac: [u8; 32],
    name: [u8; 32],
    resemblance: [u8; 32],
    /// Seed that perturbs the chunker's gear table, so chunk sizes do not fingerprint content.
    pub chunker_seed: u64,
}

impl Keys {
    /// The id of a data chunk: keyed BLAKE3 of its plaintext.
    pub fn chunk_id(&self, plaintext: &[u8]) -> crate::Id {
        crate::Id(*blake3::keyed_hash(&self.chunk_id, plaintext).as_bytes())
    }

    /// The id of a chunk-list node: keyed BLAKE3 (a separate key) of its plaintext.
    pub fn tree_id(&self, plaintext: &[u8]) -> crate::Id {
        crate::Id(*blake3::keyed_hash(&self.tree_id, plaintext).as_bytes())
    }

    /// A keyed hash of a database name, so local index keys do not reveal names.
    pub fn name_tag(&self, name: &str) -> [u8; 16] {
        let h = blake3::keyed_hash(&self.name, name.as_bytes());
        h.as_bytes()[..16].try_into().expect("16 bytes")
    }

    /// A keyed hash of a chunk's sampled features (a super-feature), so local index keys do not
    /// let anyone test for known content.
    pub fn super_feature(&self, features: &[u8]) -> u64 {
        let h = blake3::keyed_hash(&self.resemblance, features);
        u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
    }

    /// The MAC that authenticates the config file.
    pub(crate) fn config_mac(&self, bytes: &[u8]) -> [u8; 32] {
        *blake3::keyed_hash(&self.config_mac, bytes).as_bytes()
    }

    /// Seal `plaintext` with associated data `aad`; appends the envelope to `out`.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), FormatError> {
        seal_into(&self.data, aad, plaintext, out)
    }

    /// Seal `plaintext` with associated data `aad` into a new envelope.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        self.seal_into(aad, plaintext, &mut out)?;
        Ok(out)
    }

    /// Open an envelope; `kind` names the object in the error.
    pub fn open(&self, kind: &'static str, aad: &[u8], envelope: &[u8]) -> Result<Vec<u8>, FormatError> {
        open(&self.data, kind, aad, envelope)
    }
}

/// Seal with an explicit cipher (the key file uses a passphrase-derived one).
pub(crate) fn seal_into(
    cipher: &XChaCha20Poly1305,
    aad: &[u8],
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    out.reserve(plaintext.len() + OVERHEAD);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(nonce), aad, (&mut out[start..]).into())
        .map_err(|_| FormatError::malformed("envelope", "plaintext too long to seal"))?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Open with an explicit cipher.
pub(crate) fn open(
    cipher: &XChaCha20Poly1305,
    kind: &'static str,
    aad: &[u8],
    envelope: &[u8],
) -> Result<Vec<u8>, FormatError> {
    if envelope.len() < OVERHEAD {
        return Err(FormatError::malformed(kind, format!("sealed data is {} bytes, shorter than its envelope", envelope.len())));
    }
    let nonce = XNonce::try_from(&envelope[..NONCE_LEN]).expect("24 bytes");
    let (body, tag) = envelope[NONCE_LEN..].split_at(envelope.len() - OVERHEAD);
    let mut plain = body.to_vec();
    let tag = chacha20poly1305::Tag::try_from(tag).expect("16 bytes");
    cipher
        .decrypt_inout_detached(&nonce, aad, plain.as_mut_slice().into(), &tag)
        .map_err(|_| FormatError::Authentication { kind })?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_detects_tampering() {
        let keys = MasterKey::generate().unwrap().keys();
        let sealed = keys.seal(b"aad", b"hello world").unwrap();
        assert_eq!(sealed.len(), 11 + OVERHEAD);
        assert_eq!(keys.open("test", b"aad", &sealed).unwrap(), b"hello world");
        assert!(matches!(keys.open("test", b"other", &sealed), Err(FormatError::Authentication { .. })));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x10;
            assert!(keys.open("test", b"aad", &bad).is_err(), "flip at byte {i} went unnoticed");
        }
        assert!(keys.open("test", b"aad", &sealed[..10]).is_err());
        let other = MasterKey::generate().unwrap().keys();
        assert!(other.open("test", b"aad", &sealed).is_err());
    }

    #[test]
    fn nonces_are_fresh() {
        let keys = MasterKey::generate().unwrap().keys();
        assert_ne!(keys.seal(b"", b"same").unwrap(), keys.seal(b"", b"same").unwrap());
    }

    #[test]
    fn derived_keys_separate_domains() {
        let keys = MasterKey::generate().unwrap().keys();
        assert_ne!(keys.chunk_id(b"x"), keys.tree_id(b"x"));
        assert_ne!(keys.chunk_id(b"x"), crate::Id::of_bytes(b"x"));
    }
}
