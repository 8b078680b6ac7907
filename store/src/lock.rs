//! Process coordination with OS file locks (`flock`).
//!
//! The kernel releases a `flock` when its process exits, however it exits, so a crash never
//! leaves a stale lock. The lock files, all in the repository's local folder (SPEC.md section 13):
//! - [`INDEX`]: the index's *writer* role (exclusive), held only for the short commit step of an
//!   ingest and for index maintenance; opening the index for reading takes it shared for the
//!   duration of the open only (`index::Index`);
//! - [`INGEST`]: held shared by every ingest for its whole run, exclusively by prune while it
//!   deletes (and by repair);
//! - [`PRUNE`]: one prune (or repair) at a time;
//! - [`STATS`]: one `stats` at a time.
//!
//! Across machines (S3 repositories) leases stand in for `flock` (`lease.rs`).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{Result, StoreError};

/// The index's writer-role lock file.
pub const INDEX: &str = "lock";
/// Held shared by ingests, exclusively by prune while it deletes.
pub const INGEST: &str = "ingest.lock";
/// One prune (or repair) at a time.
pub const PRUNE: &str = "prune.lock";
/// One `stats` at a time (it keeps its marks in the local folder).
pub const STATS: &str = "stats.lock";

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Take an exclusive (`shared == false`) or shared lock on `path`, waiting up to `wait`.
pub fn acquire(path: &Path, shared: bool, wait: Duration, what: &str) -> Result<Lock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(format!("opening lock file {}", path.display()), e))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        let r = if shared { file.try_lock_shared() } else { file.try_lock() };
        match r {
            Ok(()) => return Ok(Lock { _file: file }),
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => {
                std::thread::sleep(pause.min(wait.saturating_sub(start.elapsed())));
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::Busy { what: what.to_string(), waited_secs: wait.as_secs() });
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::io(format!("locking {}", path.display()), e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let a = acquire(&p, false, Duration::ZERO, "t").unwrap();
        assert!(matches!(acquire(&p, false, Duration::from_millis(30), "t"), Err(StoreError::Busy { .. })));
        assert!(acquire(&p, true, Duration::ZERO, "t").is_err());
        drop(a);
        let s1 = acquire(&p, true, Duration::ZERO, "t").unwrap();
        let _s2 = acquire(&p, true, Duration::ZERO, "t").unwrap();
        assert!(acquire(&p, false, Duration::ZERO, "t").is_err());
        drop(s1);
    }
}
