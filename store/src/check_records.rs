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

/// Every check record, oldest first; a damaged record is reported as a warning of `repo` and
/// skipped.
pub fn all(repo: &Repository) -> Result<Vec<CheckRecord>> {
    let mut records: Vec<CheckRecord> = crate::records::read_all::<CheckRecord>(repo, object_key::CHECKS)?.into_iter().map(|(_, r)| r).collect();
    records.sort_by_key(|r| r.time);
    Ok(records)
}

/// The latest check record, if any check was recorded; a damaged record is reported as a warning
/// of `repo` and skipped.
pub fn latest(repo: &Repository) -> Result<Option<CheckRecord>> {
    Ok(crate::records::read_all::<CheckRecord>(repo, object_key::CHECKS)?.into_iter().map(|(_, r)| r).max_by_key(|r| r.time))
}
