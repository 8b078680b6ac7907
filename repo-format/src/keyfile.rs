//! `keys/<id>`: the master key wrapped under a passphrase with Argon2id.
//!
//! A key file is plain JSON (it must be readable before anything is unlocked). Its name is the
//! BLAKE3 hash of its bytes. Several may exist; any one of them unlocks the repository.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::crypto::{self, MasterKey};
use crate::{FormatError, Id};

const KIND: &str = "key file";

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 4 lanes (RFC 9106's second recommended option); lanes are computed in
    /// parallel.
    fn default() -> Self {
        KdfParams { memory_kib: 64 * 1024, iterations: 3, parallelism: 4 }
    }
}

/// Upper bound on the memory a key file may ask for (1 GiB, 16x the default), so a hostile file cannot exhaust RAM.
const MAX_MEMORY_KIB: u32 = 1024 * 1024;
/// Upper bound on the lanes a key file may ask for.
const MAX_LANES: u32 = 64;

/// A key file as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyFile {
    /// Key file format version (1).
    pub version: u32,
    /// When the key was added.
    pub created: Timestamp,
    /// The host that added it (informational).
    #[serde(default)]
    pub host: String,
    /// The repository it belongs to (informational: the binding that counts is the wrapping's
    /// associated data). Lets a reader tell an altered config from a wrong password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<Id>,
    /// Always "argon2id".
    pub kdf: String,
    /// Argon2id costs.
    pub params: KdfParams,
    /// Argon2id salt, hex.
    pub salt: String,
    /// The master key sealed under the derived key, hex (`nonce || ciphertext || tag`).
    pub wrapped: String,
    /// A copy of the repository's `config` file as written (hex), so a lost or damaged config can
    /// be restored (`dbvault repair config`). Not secret; trusted only once its MAC verifies with
    /// the unwrapped key. Absent in key files written before 2026-12-07.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// The associated data that binds a wrapped master key to its repository.
fn aad(repo_id: &Id) -> Vec<u8> {
    let mut a = b"dbvault key v1 ".to_vec();
    a.extend_from_slice(&repo_id.0);
    a
}

fn kek(password: &[u8], salt: &[u8], params: KdfParams) -> Result<XChaCha20Poly1305, FormatError> {
    Ok(XChaCha20Poly1305::new(&derive(password, salt, params)?.into()))
}

/// Argon2id of `password` under `salt` and `params`: the key-encryption key's 32 bytes.
fn derive(password: &[u8], salt: &[u8], params: KdfParams) -> Result<[u8; 32], FormatError> {
    if params.memory_kib > MAX_MEMORY_KIB {
        return Err(FormatError::Kdf(format!("key file asks for {} KiB of memory", params.memory_kib)));
    }
    if params.parallelism > MAX_LANES {
        return Err(FormatError::Kdf(format!("key file asks for {} lanes", params.parallelism)));
    }
    let p = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32))
        .map_err(|e| FormatError::Kdf(e.to_string()))?;
    let mut memory = KdfMemory::new(p.block_count())?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
        .hash_password_into_with_memory(password, salt, &mut out, memory.blocks())
        .map_err(|e| FormatError::Kdf(e.to_string()))?;
    Ok(out)
}

/// Argon2's working memory, mapped fresh from the kernel: nothing clears it up front (the crate's
/// own allocation has one thread write all of it before the parallel lanes start), and the
/// lanes fault their own parts in (benches/log/2026-11-21-key-derivation.md). It is kept on 4 KiB
/// pages: a job that runs once a day finds huge pages cold, and a cold huge page costs more than
/// its 4 KiB pages (benches/log/2026-12-02-fresh-memory-runs-x-y-z.md).
struct KdfMemory {
    map: memmap2::MmapMut,
    blocks: usize,
}

impl KdfMemory {
    fn new(blocks: usize) -> Result<Self, FormatError> {
        let map = memmap2::MmapMut::map_anon(blocks * Block::SIZE)
            .map_err(|e| FormatError::Kdf(format!("cannot map {blocks} KiB for Argon2: {e}")))?;
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::NoHugePage); // advisory: also where THP is "always"
        Ok(KdfMemory { map, blocks })
    }

    fn blocks(&mut self) -> &mut [Block] {
        // SAFETY: the mapping is page-aligned (a Block needs 64 bytes), `blocks` blocks long and
        // zero-filled, and an all-zero Block (`[u64; 128]`) is valid. The slice borrows `self`
        // mutably, so nothing else reaches the memory while it lives.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().cast::<Block>(), self.blocks) }
    }
}

impl KeyFile {
    /// Wrap `master` under `password` for the repository `repo_id`.
    pub fn wrap(
        master: &MasterKey,
        password: &[u8],
        repo_id: &Id,
        params: KdfParams,
        host: &str,
    ) -> Result<KeyFile, FormatError> {
        let mut salt = [0u8; 16];
        crypto::fill_random(&mut salt)?;
        let cipher = kek(password, &salt, params)?;
        let mut wrapped = Vec::new();
        crypto::seal_into(&cipher, &aad(repo_id), &master.0, &mut wrapped)?;
        Ok(KeyFile {
            version: 1,
            created: Timestamp::now(),
            host: host.to_string(),
            repository: Some(*repo_id),
            kdf: "argon2id".into(),
            params,
            salt: hex::encode(salt),
            wrapped: hex::encode(wrapped),
            config: None,
        })
    }

    /// The same key file holding a copy of the config file's bytes.
    pub fn with_config(mut self, config: &[u8]) -> KeyFile {
        self.config = Some(hex::encode(config));
        self
    }

    /// The config copy's bytes, if this key file holds one (unverified: check its MAC).
    pub fn sealed_config(&self) -> Option<Result<Vec<u8>, FormatError>> {
        self.config.as_ref().map(|h| hex::decode(h).map_err(|e| FormatError::malformed(KIND, format!("config copy: {e}"))))
    }

    /// Unwrap the master key; [`FormatError::WrongPassword`] if `password` does not fit.
    pub fn unwrap_key(&self, password: &[u8], repo_id: &Id) -> Result<MasterKey, FormatError> {
        if self.version != 1 {
            return Err(FormatError::UnsupportedVersion { kind: KIND, found: self.version, supported: 1 });
        }
        if self.kdf != "argon2id" {
            return Err(FormatError::malformed(KIND, format!("unknown kdf {:?}", self.kdf)));
        }
        let salt = hex::decode(&self.salt).map_err(|e| FormatError::malformed(KIND, format!("salt: {e}")))?;
        let wrapped = hex::decode(&self.wrapped).map_err(|e| FormatError::malformed(KIND, format!("wrapped key: {e}")))?;
        let cipher = kek(password, &salt, self.params)?;
        let plain = crypto::open(&cipher, KIND, &aad(repo_id), &wrapped).map_err(|e| match e {
            FormatError::Authentication { .. } => FormatError::WrongPassword,
            other => other,
        })?;
        let key: [u8; 32] = plain
            .try_into()
            .map_err(|_| FormatError::malformed(KIND, "wrapped key is not 32 bytes"))?;
        Ok(MasterKey(key))
    }

    /// Serialise to the stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("key file serialises");
        v.push(b'\n');
        v
    }

    /// Parse stored bytes.
    pub fn decode(bytes: &[u8]) -> Result<KeyFile, FormatError> {
        serde_json::from_slice(bytes).map_err(|source| FormatError::Json { kind: KIND, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: KdfParams = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };

    #[test]
    fn the_key_is_argon2id_as_the_crate_computes_it_in_its_own_memory() {
        for params in [FAST, KdfParams { memory_kib: 4096, iterations: 2, parallelism: 4 }] {
            let p = Params::new(params.memory_kib, params.iterations, params.parallelism, Some(32)).unwrap();
            let mut expected = [0u8; 32];
            Argon2::new(Algorithm::Argon2id, Version::V0x13, p).hash_password_into(b"pw", b"0123456789abcdef", &mut expected).unwrap();
            assert_eq!(derive(b"pw", b"0123456789abcdef", params).unwrap(), expected);
        }
    }

    #[test]
    fn wrap_unwrap_and_wrong_password() {
        let repo = crate::crypto::random_id().unwrap();
        let master = MasterKey::generate().unwrap();
        let kf = KeyFile::wrap(&master, b"secret", &repo, FAST, "h").unwrap();
        let kf = KeyFile::decode(&kf.encode()).unwrap();
        let back = kf.unwrap_key(b"secret", &repo).unwrap();
        assert_eq!(back.0, master.0);
        assert!(matches!(kf.unwrap_key(b"wrong", &repo), Err(FormatError::WrongPassword)));
        assert!(kf.sealed_config().is_none());
        let with = KeyFile::decode(&KeyFile::wrap(&master, b"secret", &repo, FAST, "h").unwrap().with_config(b"dbvconf\x01...").encode()).unwrap();
        assert_eq!(with.sealed_config().unwrap().unwrap(), b"dbvconf\x01...");
        // A key file moved to another repository does not unlock it.
        let other = crate::crypto::random_id().unwrap();
        assert!(matches!(kf.unwrap_key(b"secret", &other), Err(FormatError::WrongPassword)));
    }

    #[test]
    fn hostile_key_files_are_errors() {
        assert!(KeyFile::decode(b"garbage").is_err());
        let repo = crate::crypto::random_id().unwrap();
        let master = MasterKey::generate().unwrap();
        let mut kf = KeyFile::wrap(&master, b"pw", &repo, FAST, "h").unwrap();
        kf.params.memory_kib = u32::MAX;
        assert!(matches!(kf.unwrap_key(b"pw", &repo), Err(FormatError::Kdf(_))));
        kf.params = FAST;
        kf.wrapped = "zz".into();
        assert!(kf.unwrap_key(b"pw", &repo).is_err());
    }
}
