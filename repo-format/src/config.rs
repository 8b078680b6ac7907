//! `config`: the repository's identity, format version and chunker parameters.
//!
//! Layout: `"dbvconf\x01"` (8) `|| len: u32 LE || JSON body (len bytes) || MAC (32)`, where the MAC
//! is keyed BLAKE3 (config key) over everything before it. The body is readable without the
//! password (to refuse an unknown version before prompting, and to name the repository), but it
//! is only trusted once [`UnverifiedConfig::verify`] has checked the MAC with the unlocked keys.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::crypto::Keys;
use crate::{FORMAT_VERSION, FormatError, Id, OLDEST_VERSION, le_u32};

const KIND: &str = "config";
const MAGIC: &[u8; 8] = b"dbvconf\x01";
/// A config body larger than this is refused as hostile.
const MAX_BODY: usize = 1 << 20;

/// Features this build understands. A repository that requires any other is refused.
pub const KNOWN_FEATURES: &[&str] = &[];

/// Content-defined chunking parameters, fixed for the life of a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerConfig {
    /// Smallest chunk in bytes (except a stream's last).
    pub min_size: u32,
    /// Target average chunk size in bytes.
    pub avg_size: u32,
    /// Largest chunk in bytes.
    pub max_size: u32,
    /// FastCDC v2020 normalisation level (0-3).
    pub normalization: u8,
    /// Whether the gear table is perturbed by the key-derived seed.
    pub seeded: bool,
}

impl Default for ChunkerConfig {
    /// The default (SPEC.md section 10): 64 KiB average, 16-512 KiB, chosen by measurement
    /// (benches/log/2026-11-21-chunk-size-and-zstd-level.md).
    fn default() -> Self {
        ChunkerConfig { min_size: 16 * 1024, avg_size: 64 * 1024, max_size: 512 * 1024, normalization: 1, seeded: true }
    }
}

/// The repository configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Repository format version.
    pub version: u32,
    /// Random repository id.
    pub id: Id,
    /// When `init` ran.
    pub created: Timestamp,
    /// Chunker parameters.
    pub chunker: ChunkerConfig,
    /// Target pack file size in bytes (a writer's goal, not a reader's limit).
    pub pack_size: u32,
    /// zstd level for chunks.
    pub compression_level: i32,
    /// Format features this repository requires of a reader (none in versions 1 and 2).
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether ingests store changed chunks as deltas against the parent snapshot's (a writer's
    /// goal, version 2 and later; absent means no).
    #[serde(default)]
    pub deltas: bool,
}

impl Config {
    /// A new configuration with a fresh id and default parameters.
    pub fn new(chunker: ChunkerConfig) -> Result<Config, FormatError> {
        Ok(Config {
            version: FORMAT_VERSION,
            id: crate::crypto::random_id()?,
            created: Timestamp::now(),
            chunker,
            pack_size: 16 * 1024 * 1024,
            compression_level: 1,
            features: Vec::new(),
            deltas: true,
        })
    }

    /// Whether writers may store delta blobs in this repository.
    pub fn writes_deltas(&self) -> bool {
        self.version >= 2 && self.deltas
    }

    /// Encode and authenticate with `keys`.
    pub fn encode(&self, keys: &Keys) -> Vec<u8> {
        let body = serde_json::to_vec_pretty(self).expect("config serialises");
        let mut out = Vec::with_capacity(8 + 4 + body.len() + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        let mac = keys.config_mac(&out);
        out.extend_from_slice(&mac);
        out
    }

    /// Parse without the key. Refuses unknown versions and required features at once.
    pub fn decode(bytes: &[u8]) -> Result<UnverifiedConfig, FormatError> {
        if bytes.len() < 8 || &bytes[..8] != MAGIC {
            if bytes.len() >= 8 && bytes[..7] == MAGIC[..7] {
                return Err(FormatError::UnsupportedVersion {
                    kind: KIND,
                    found: u32::from(bytes[7]),
                    supported: FORMAT_VERSION,
                });
            }
            return Err(FormatError::BadMagic { kind: KIND });
        }
        if bytes.len() < 12 {
            return Err(FormatError::malformed(KIND, "missing length"));
        }
        let len = le_u32(bytes, 8) as usize;
        if len > MAX_BODY || bytes.len() != 12 + len + 32 {
            return Err(FormatError::malformed(KIND, format!("body length {len} does not match file size {}", bytes.len())));
        }
        let body = &bytes[12..12 + len];
        // Read the version alone first, so a newer format is named even if its fields differ.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v: Version = serde_json::from_slice(body).map_err(|source| FormatError::Json { kind: KIND, source })?;
        if !(OLDEST_VERSION..=FORMAT_VERSION).contains(&v.version) {
            return Err(FormatError::UnsupportedVersion { kind: KIND, found: v.version, supported: FORMAT_VERSION });
        }
        let config: Config = serde_json::from_slice(body).map_err(|source| FormatError::Json { kind: KIND, source })?;
        if let Some(f) = config.features.iter().find(|f| !KNOWN_FEATURES.contains(&f.as_str())) {
            return Err(FormatError::malformed(KIND, format!("requires feature {f:?}, which this dbvault does not know; upgrade dbvault")));
        }
        Ok(UnverifiedConfig { config, signed: bytes[..12 + len].to_vec(), mac: bytes[12 + len..].try_into().expect("32 bytes") })
    }
}

/// A parsed config whose MAC has not been checked yet.
#[derive(Debug)]
pub struct UnverifiedConfig {
    config: Config,
    signed: Vec<u8>,
    mac: [u8; 32],
}

impl UnverifiedConfig {
    /// The repository id, usable before unlocking (to bind key files and name caches).
    pub fn id(&self) -> Id {
        self.config.id
    }

    /// Check the MAC with the unlocked keys.
    pub fn verify(self, keys: &Keys) -> Result<Config, FormatError> {
        let expected = keys.config_mac(&self.signed);
        // Constant-time comparison is not needed for integrity, but costs nothing.
        if blake3::Hash::from(expected) != blake3::Hash::from(self.mac) {
            return Err(FormatError::Authentication { kind: KIND });
        }
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;

    #[test]
    fn round_trip_and_authentication() {
        let keys = MasterKey::generate().unwrap().keys();
        let cfg = Config::new(ChunkerConfig::default()).unwrap();
        let bytes = cfg.encode(&keys);
        let back = Config::decode(&bytes).unwrap();
        assert_eq!(back.id(), cfg.id);
        assert_eq!(back.verify(&keys).unwrap(), cfg);

        let other = MasterKey::generate().unwrap().keys();
        assert!(Config::decode(&bytes).unwrap().verify(&other).is_err());

        // Changing a chunker parameter (without the key) is caught by the MAC.
        let text = String::from_utf8_lossy(&bytes[12..bytes.len() - 32]).replace("\"avg_size\": 65536", "\"avg_size\": 65534");
        let mut forged = bytes[..12].to_vec();
        forged.extend_from_slice(text.as_bytes());
        forged.extend_from_slice(&bytes[bytes.len() - 32..]);
        assert!(Config::decode(&forged).unwrap().verify(&keys).is_err());
    }

    #[test]
    fn refuses_newer_versions_and_unknown_features() {
        let keys = MasterKey::generate().unwrap().keys();
        let mut cfg = Config::new(ChunkerConfig::default()).unwrap();
        cfg.version = 3;
        assert!(matches!(Config::decode(&cfg.encode(&keys)), Err(FormatError::UnsupportedVersion { found: 3, .. })));
        cfg.version = 0;
        assert!(matches!(Config::decode(&cfg.encode(&keys)), Err(FormatError::UnsupportedVersion { found: 0, .. })));
        cfg.version = 1;
        let v1 = Config::decode(&cfg.encode(&keys)).unwrap().verify(&keys).unwrap();
        assert!(!v1.writes_deltas(), "version 1 repositories never get delta blobs");
        cfg.features = vec!["time-travel".into()];
        assert!(Config::decode(&cfg.encode(&keys)).is_err());
        let mut bytes = Config::new(ChunkerConfig::default()).unwrap().encode(&keys);
        bytes[7] = 9;
        assert!(matches!(Config::decode(&bytes), Err(FormatError::UnsupportedVersion { found: 9, .. })));
        assert!(matches!(Config::decode(b"hello"), Err(FormatError::BadMagic { .. })));
    }
}
