//! Forget records (`forgotten/<id>`, SPEC.md section 9.2): written before a forget deletes
//! manifests, read to tell a forgotten snapshot from a lost one. Works on a backend and keys
//! alone, so the repository's own sync can read them.

use std::collections::HashSet;

use repo_format::object_key;
use repo_format::{Id, SealedRecord};
use repo_format::crypto::Keys;
use repo_format::forget_record::{ForgetRecord, Forgotten};

use crate::backend::{Backend, BackendError};
use crate::{Result, StoreError};

/// Write a record of `snapshots` (id, database, end time) forgotten on `host` for `reason`
/// (durable before it returns).
pub fn record(backend: &dyn Backend, keys: &Keys, host: String, reason: &str, snapshots: Vec<Forgotten>) -> Result<()> {
    let record = ForgetRecord { time: jiff::Timestamp::now(), host, reason: reason.to_string(), snapshots };
    let (id, bytes) = record.encode(keys).map_err(|e| StoreError::format("forget record", e))?;
    backend.put_new(&object_key::forget_record(&id), &bytes)?;
    Ok(())
}

/// Ids of every snapshot a forget record names; each damaged record is reported to `warn`.
pub fn ids(backend: &dyn Backend, keys: &Keys, warn: &dyn Fn(String)) -> Result<HashSet<Id>> {
    let mut out = HashSet::new();
    for key in backend.list(object_key::FORGOTTEN)? {
        let record = crate::object::get_decoded(backend, &key, |b| ForgetRecord::decode(keys, b));
        match record {
            Ok(r) => out.extend(r.snapshots.iter().map(|f| f.id)),
            // An unreachable store is no damage: a record skipped now would bring its snapshots back.
            Err(e @ StoreError::Backend(BackendError::Remote { .. })) => return Err(e),
            Err(e) => warn(format!("damaged forget record: {e}")),
        }
    }
    Ok(out)
}
