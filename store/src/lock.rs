//! Process coordination with OS file locks (`flock`).
//!
//! The kernel releases a `flock` when its process exits, however it exits, so a crash never
//! leaves a stale lock. Two roles exist (SPEC.md, "Concurrency"): the *writer* role (exclusive)
//! is held only for the short commit step of an ingest and for index maintenance; opening the
//! index for reading takes the shared role for the duration of the open only.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{Result, StoreError};

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
