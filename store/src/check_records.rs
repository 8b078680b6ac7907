//! Check records (`checks/<id>`, SPEC.md section 9.4): each `check` run leaves one, so that
//! `status` and the metrics file can say when the repository was last checked and what was found.

use repo_format::check_record::CheckRecord;
use repo_format::{SealedRecord, object_key};

use crate::repository::Repository;
use crate::{Result, StoreError};

/// Store `record` (durable before it returns).
pub fn record(repo: &Repository, record: &CheckRecord) -> Result<()> {
    let (id, bytes) = record.encode(repo.keys()).map_err(|e| StoreError::format("check record", e))?;
    repo.backend().put_new(&object_key::check_record(&id), &bytes)?;
    Ok(())
}

/// The latest check record, if any check was recorded; a damaged record is reported as a warning
/// of `repo` and skipped.
pub fn latest(repo: &Repository) -> Result<Option<CheckRecord>> {
    let backend = repo.backend();
    let mut latest: Option<CheckRecord> = None;
    for key in backend.list(object_key::CHECKS)? {
        match crate::object::get_decoded(backend.as_ref(), &key, |b| CheckRecord::decode(repo.keys(), b)) {
            Ok(r) if latest.as_ref().is_none_or(|l| r.time > l.time) => latest = Some(r),
            Ok(_) => {}
            // An unreachable store is no damage.
            Err(e @ StoreError::Backend(crate::backend::BackendError::Remote { .. })) => return Err(e),
            Err(e) => repo.warn(format!("damaged check record: {e}")),
        }
    }
    Ok(latest)
}
