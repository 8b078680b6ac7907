//! Several passphrases for one repository: key files wrapping the same master key.
//!
//! Adding a key writes a new key file; changing a passphrase writes the new key file before
//! deleting the old one (a crash in between leaves both usable). Data is never re-encrypted:
//! only the 32-byte master key is wrapped anew.

use jiff::Timestamp;
use repo_format::object_key;
use repo_format::Id;
use repo_format::config::Config;
use repo_format::keyfile::{KdfParams, KeyFile};
use serde::Serialize;

use crate::repository::{Repository, hostname};
use crate::{Result, StoreError};

/// One key file, as `key list` shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key file's id.
    pub id: Id,
    /// When it was added.
    pub created: Timestamp,
    /// The host that added it.
    pub host: String,
    /// Whether this session was unlocked with it.
    pub current: bool,
}

/// Every readable key file (unreadable ones are reported as warnings).
pub fn list(repo: &Repository) -> Result<Vec<KeyInfo>> {
    let mut out = Vec::new();
    for key in repo.backend().list(object_key::KEYS)? {
        let Some(id) = object_key::id_of(&key) else { continue };
        match crate::object::get_decoded(repo.backend().as_ref(), &key, KeyFile::decode) {
            Ok(kf) => out.push(KeyInfo { id, created: kf.created, host: kf.host, current: id == repo.key_id() }),
            Err(e) => repo.warn(format!("unreadable key file: {e}")),
        }
    }
    out.sort_by_key(|k| k.created);
    Ok(out)
}

/// Add a key for `password`; returns its id.
pub fn add(repo: &Repository, password: &[u8], kdf: KdfParams) -> Result<Id> {
    if password.is_empty() {
        return Err(StoreError::Invalid("the new password is empty".into()));
    }
    let mut kf = KeyFile::wrap(repo.master(), password, &repo.config().id, kdf, &hostname()).map_err(|e| StoreError::format("key", e))?;
    // A copy of the config, for `repair config` (the one in use verified with this session's key).
    if let Ok(config) = repo.backend().get(object_key::CONFIG)
        && Config::decode(&config).and_then(|c| c.verify(repo.keys())).is_ok()
    {
        kf = kf.with_config(&config);
    }
    let bytes = kf.encode();
    let id = Id::of_bytes(&bytes);
    repo.backend().put_new(&object_key::key(&id), &bytes)?;
    Ok(id)
}

/// Remove the key whose id starts with `prefix`. The key in use and the last key are refused.
pub fn remove(repo: &Repository, prefix: &str) -> Result<Id> {
    let keys = list(repo)?;
    let matches: Vec<&KeyInfo> = keys.iter().filter(|k| k.id.to_hex().starts_with(&prefix.to_ascii_lowercase()) && !prefix.is_empty()).collect();
    let k = match matches.as_slice() {
        [k] => *k,
        [] => return Err(StoreError::Invalid(format!("no key matches {prefix:?}; `dbvault key list` shows them"))),
        _ => return Err(StoreError::Invalid(format!("key prefix {prefix:?} is ambiguous; give more digits"))),
    };
    if keys.len() == 1 {
        return Err(StoreError::Invalid("refusing to remove the repository's last key: without a key nothing can be read".into()));
    }
    if k.current {
        return Err(StoreError::Invalid("refusing to remove the key this command was unlocked with; use `dbvault key passwd` to change it".into()));
    }
    repo.backend().delete(&object_key::key(&k.id))?;
    Ok(k.id)
}

/// Replace the current key's passphrase: add the new key, then delete the old one.
pub fn change_password(repo: &Repository, new_password: &[u8], kdf: KdfParams) -> Result<Id> {
    let old = repo.key_id();
    let new = add(repo, new_password, kdf)?;
    repo.backend().delete(&object_key::key(&old))?;
    repo.set_key_id(new);
    Ok(new)
}
