//! The in-memory backend: objects in a map, with faults injected on demand, for tests of what a
//! repository does when its object store misbehaves (without a real server).
//!
//! A [`MemoryBackend`] obeys the [`Backend`] contract exactly as the folder and S3 backends do
//! (the conformance suite in `store/tests/backends.rs` runs on all three). On top of it, a test
//! can plan [`Fault`]s: fail the Nth operation of a kind ([`Op`]), optionally only on keys under a
//! prefix such as `packs/`, with the error an object store gives ([`BackendError::Remote`]) or
//! [`BackendError::NotFound`]; delay operations; or lose a write (report success, store nothing
//! or only the first bytes). Every operation is counted ([`MemoryBackend::count`]).
//!
//! A repository lives on one through `Location::Memory` (`store::location`),
//! which treats it like a remote store: derived state in the cache folder, leases, uploads.
//!
//! ```
//! use std::sync::Arc;
//! use store::backend::{Backend, BackendError, Fault, MemoryBackend, Op};
//!
//! let b = Arc::new(MemoryBackend::new());
//! b.inject(Fault::fail(Op::Put).under("packs/").nth(2));
//! b.put_new("packs/00/a", b"first").unwrap();
//! b.put_new("index/s", b"not a pack: not counted by the fault").unwrap();
//! let e = b.put_new("packs/00/b", b"second").unwrap_err();
//! assert!(matches!(e, BackendError::Remote { .. }));
//! assert_eq!((b.faults_fired(), b.count(Op::Put, "packs/")), (1, 2));
//! assert!(b.object("packs/00/b").is_none(), "a failed write stores nothing");
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Backend, BackendError};

/// Numbers [`MemoryBackend`]s, so messages tell them apart.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A kind of backend operation, as faults and counters name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// [`Backend::get`]: a whole object.
    Get,
    /// [`Backend::get_range`]: part of an object.
    GetRange,
    /// [`Backend::size`].
    Size,
    /// Creating an object: [`Backend::put_new`] and [`Backend::put_new_file`].
    Put,
    /// [`Backend::list`]; its key is the folder listed, with a trailing `/`.
    List,
    /// [`Backend::delete`].
    Delete,
}

/// What a [`Fault`] does to an operation it hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Fail as an object store does once its retries are spent ([`BackendError::Remote`]);
    /// nothing is stored or deleted.
    Fail,
    /// Fail with [`BackendError::NotFound`] (an object or folder that is not there).
    NotFound,
    /// Fail with [`BackendError::Io`], permission denied: a file or folder that may not be changed.
    Denied,
    /// Store the object, then fail with [`BackendError::Remote`]: a write that landed although
    /// its reply was lost.
    FailAfterStoring,
    /// Wait this long, then carry the operation out (other faults may still hit it).
    Delay(Duration),
    /// Report success but store nothing: a lost write.
    Lose,
    /// Report success but store only the first this many bytes: a truncated write.
    Truncate(usize),
}

/// A planned fault: an [`Effect`] on some of the operations of one kind.
///
/// It counts the operations of its kind on keys under its prefix from the moment it is injected,
/// and hits the `nth` of them (1-based) and the `times - 1` after it. Built with one of the
/// constructors, then refined with [`under`](Fault::under), [`nth`](Fault::nth),
/// [`times`](Fault::times) or [`always`](Fault::always).
#[derive(Clone, Debug)]
pub struct Fault {
    op: Op,
    prefix: String,
    nth: u64,
    times: u64,
    effect: Effect,
}

impl Fault {
    fn new(op: Op, effect: Effect) -> Fault {
        Fault { op, prefix: String::new(), nth: 1, times: 1, effect }
    }

    /// The next `op` fails like an object store that cannot be reached ([`Effect::Fail`]).
    pub fn fail(op: Op) -> Fault {
        Fault::new(op, Effect::Fail)
    }

    /// The next `op` finds nothing ([`Effect::NotFound`]): an object that vanished.
    pub fn not_found(op: Op) -> Fault {
        Fault::new(op, Effect::NotFound)
    }

    /// The next `op` is refused by the file system ([`Effect::Denied`]).
    pub fn denied(op: Op) -> Fault {
        Fault::new(op, Effect::Denied)
    }

    /// The next write lands but reports failure ([`Effect::FailAfterStoring`]).
    pub fn fail_after_storing() -> Fault {
        Fault::new(Op::Put, Effect::FailAfterStoring)
    }

    /// The next `op` waits `by` first ([`Effect::Delay`]).
    pub fn delay(op: Op, by: Duration) -> Fault {
        Fault::new(op, Effect::Delay(by))
    }

    /// The next write reports success and stores nothing ([`Effect::Lose`]).
    pub fn lose_write() -> Fault {
        Fault::new(Op::Put, Effect::Lose)
    }

    /// The next write reports success and stores only its first `keep` bytes ([`Effect::Truncate`]).
    pub fn truncate_write(keep: usize) -> Fault {
        Fault::new(Op::Put, Effect::Truncate(keep))
    }

    /// Only operations on keys starting with `prefix` (`"packs/"`; a listing's key is its folder
    /// with a trailing `/`); all of them by default.
    pub fn under(mut self, prefix: &str) -> Fault {
        self.prefix = prefix.to_string();
        self
    }

    /// Hit the `n`th matching operation (1-based; the first by default).
    pub fn nth(mut self, n: u64) -> Fault {
        assert!(n >= 1, "operations are counted from 1");
        self.nth = n;
        self
    }

    /// Hit `n` matching operations in a row (one by default).
    pub fn times(mut self, n: u64) -> Fault {
        self.times = n;
        self
    }

    /// Hit every matching operation from the `nth` on.
    pub fn always(self) -> Fault {
        self.times(u64::MAX)
    }

    /// The operations it hits.
    pub fn op(&self) -> Op {
        self.op
    }

    /// What it does.
    pub fn effect(&self) -> &Effect {
        &self.effect
    }
}

/// A fault with the count of operations it has seen.
#[derive(Debug)]
struct Planned {
    fault: Fault,
    seen: u64,
}

/// Faults and counters, behind one lock.
#[derive(Debug, Default)]
struct Plan {
    faults: Vec<Planned>,
    fired: u64,
    /// Operations by kind and key.
    counts: BTreeMap<(Op, String), u64>,
}

/// How one operation goes: how long to wait first, then the effect to apply (if any).
struct Verdict {
    delay: Duration,
    effect: Option<(Effect, String)>,
}

/// Write-once objects in memory, with planned faults and operation counters (see the module doc).
///
/// Two `MemoryBackend`s are equal only when they are the same one.
pub struct MemoryBackend {
    id: u64,
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    plan: Mutex<Plan>,
    parallel_puts: usize,
}

impl Default for MemoryBackend {
    fn default() -> MemoryBackend {
        MemoryBackend::new()
    }
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend").field("id", &self.id).field("objects", &self.objects().len()).finish()
    }
}

impl PartialEq for MemoryBackend {
    fn eq(&self, other: &MemoryBackend) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for MemoryBackend {}

impl MemoryBackend {
    /// An empty backend with no faults, storing one object at a time.
    pub fn new() -> MemoryBackend {
        MemoryBackend { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), objects: Mutex::default(), plan: Mutex::default(), parallel_puts: 1 }
    }

    /// Let ingests upload `n` packs at once, as they do to an object store (the S3 backend's
    /// is 4); the order of the uploads, and so which pack is the Nth put, is then not fixed.
    pub fn with_parallel_puts(mut self, n: usize) -> MemoryBackend {
        self.parallel_puts = n.max(1);
        self
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Plan `fault`; it counts operations from now on.
    pub fn inject(&self, fault: Fault) {
        self.plan().faults.push(Planned { fault, seen: 0 });
    }

    /// Remove every planned fault (counters stay).
    pub fn clear_faults(&self) {
        self.plan().faults.clear();
    }

    /// How many operations faults have hit so far (a test's proof that its fault happened).
    pub fn faults_fired(&self) -> u64 {
        self.plan().fired
    }

    /// Operations of kind `op` on keys starting with `prefix` (`""`: all), failed ones included.
    pub fn count(&self, op: Op, prefix: &str) -> u64 {
        self.plan().counts.iter().filter(|((o, k), _)| *o == op && k.starts_with(prefix)).map(|(_, n)| n).sum()
    }

    /// Set every counter back to zero.
    pub fn reset_counts(&self) {
        self.plan().counts.clear();
    }

    /// Every key stored, sorted (not counted, no faults: for a test's inspection).
    pub fn keys(&self) -> Vec<String> {
        self.objects().keys().cloned().collect()
    }

    /// An object's bytes as stored (not counted, no faults).
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.objects().get(key).cloned()
    }

    /// Create or replace an object by hand, as one edits a file in a folder repository (not
    /// counted, no faults): to damage a repository on purpose.
    pub fn set_object(&self, key: &str, bytes: &[u8]) {
        self.objects().insert(key.to_string(), bytes.to_vec());
    }

    /// Remove an object by hand (not counted, no faults); whether it was there.
    pub fn remove_object(&self, key: &str) -> bool {
        self.objects().remove(key).is_some()
    }

    /// Count an operation and decide its fate.
    fn decide(&self, op: Op, key: &str) -> Verdict {
        let mut plan = self.plan();
        *plan.counts.entry((op, key.to_string())).or_default() += 1;
        let mut verdict = Verdict { delay: Duration::ZERO, effect: None };
        let mut fired = 0;
        for p in plan.faults.iter_mut().filter(|p| p.fault.op == op && key.starts_with(&p.fault.prefix)) {
            p.seen += 1;
            let hits = p.seen >= p.fault.nth && p.seen - p.fault.nth < p.fault.times;
            if !hits {
                continue;
            }
            match &p.fault.effect {
                Effect::Delay(d) => {
                    verdict.delay += *d;
                    fired += 1;
                }
                // The first fault planned decides; later ones still count the operation.
                e if verdict.effect.is_none() => {
                    let what = if p.fault.prefix.is_empty() { String::new() } else { format!(" under {:?}", p.fault.prefix) };
                    verdict.effect = Some((e.clone(), format!("fault injected into {op:?} #{}{what} on {}", p.seen, self.describe())));
                    fired += 1;
                }
                _ => {}
            }
        }
        plan.fired += fired;
        drop(plan);
        if !verdict.delay.is_zero() {
            std::thread::sleep(verdict.delay);
        }
        verdict
    }

    /// Run a read (or delete), unless a fault makes it fail.
    fn read<T>(&self, op: Op, key: &str, shown: &str, run: impl FnOnce() -> Result<T, BackendError>) -> Result<T, BackendError> {
        match self.decide(op, key).effect {
            Some((Effect::NotFound, _)) => Err(BackendError::NotFound { key: shown.to_string() }),
            Some((Effect::Denied, _)) => Err(denied(shown)),
            Some((Effect::Fail, why)) => Err(remote(shown, why)),
            _ => run(),
        }
    }

    /// Create `key` holding `bytes`, as planned faults allow. `file_put`: a content-addressed
    /// [`Backend::put_new_file`], for which an object already there is the same one (no error).
    fn write(&self, key: &str, bytes: Vec<u8>, file_put: bool) -> Result<(), BackendError> {
        let effect = self.decide(Op::Put, key).effect;
        let stored = match &effect {
            Some((Effect::Fail, why)) => return Err(remote(key, why.clone())),
            Some((Effect::NotFound, _)) => return Err(BackendError::NotFound { key: key.to_string() }),
            Some((Effect::Denied, _)) => return Err(denied(key)),
            Some((Effect::Lose, _)) => None,
            Some((Effect::Truncate(n), _)) => Some(bytes[..bytes.len().min(*n)].to_vec()),
            _ => Some(bytes),
        };
        {
            let mut objects = self.objects();
            if objects.contains_key(key) {
                if !file_put {
                    return Err(BackendError::AlreadyExists { key: key.to_string() });
                }
            } else if let Some(b) = stored {
                objects.insert(key.to_string(), b);
            }
        }
        match effect {
            Some((Effect::FailAfterStoring, why)) => Err(remote(key, why)),
            _ => Ok(()),
        }
    }
}

/// The error a file system gives for a file or folder that may not be changed.
fn denied(key: &str) -> BackendError {
    BackendError::Io { key: key.to_string(), source: std::io::Error::from(std::io::ErrorKind::PermissionDenied) }
}

/// The error an object store reports when a request fails for good.
fn remote(key: &str, why: String) -> BackendError {
    BackendError::Remote { key: key.to_string(), source: why.into() }
}

impl Backend for MemoryBackend {
    fn get(&self, key: &str) -> Result<Vec<u8>, BackendError> {
        self.read(Op::Get, key, key, || self.object(key).ok_or_else(|| BackendError::NotFound { key: key.to_string() }))
    }

    fn get_range(&self, key: &str, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        self.read(Op::GetRange, key, key, || {
            let objects = self.objects();
            let bytes = objects.get(key).ok_or_else(|| BackendError::NotFound { key: key.to_string() })?;
            let end = offset + len as u64;
            if end > bytes.len() as u64 {
                return Err(BackendError::Short { key: key.to_string(), end, size: bytes.len() as u64 });
            }
            Ok(bytes[offset as usize..end as usize].to_vec())
        })
    }

    fn size(&self, key: &str) -> Result<u64, BackendError> {
        self.read(Op::Size, key, key, || self.objects().get(key).map(|b| b.len() as u64).ok_or_else(|| BackendError::NotFound { key: key.to_string() }))
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), BackendError> {
        self.write(key, bytes.to_vec(), false)
    }

    fn put_new_file(&self, key: &str, file: &Path) -> Result<(), BackendError> {
        let bytes = std::fs::read(file).map_err(|e| BackendError::from_io(key, e))?;
        self.write(key, bytes, true)?;
        // Consumed once it is stored (a failed put leaves it, as an upload does).
        std::fs::remove_file(file).map_err(|e| BackendError::from_io(key, e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let folder = prefix.trim_end_matches('/');
        let under = if folder.is_empty() { String::new() } else { format!("{folder}/") };
        let shown = if folder.is_empty() { "the repository's listing" } else { folder };
        self.read(Op::List, &under, shown, || Ok(self.objects().keys().filter(|k| k.starts_with(&under)).cloned().collect()))
    }

    fn delete(&self, key: &str) -> Result<(), BackendError> {
        self.read(Op::Delete, key, key, || {
            self.objects().remove(key);
            Ok(())
        })
    }

    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }

    fn parallel_puts(&self) -> usize {
        self.parallel_puts
    }

    fn describe(&self) -> String {
        format!("memory:{}", self.id)
    }
}
