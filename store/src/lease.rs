//! Leases: keeping prune's deletions and other machines' ingests apart on a remote repository.
//!
//! `flock` (see [`crate::lock`]) only coordinates processes of one machine. A repository in an
//! object store is shared by machines, so ingests and prune's delete phase also hold a lease, a
//! `locks/<id>` object that lapses unless its holder replaces it in time. Taking a lease writes it,
//! then lists the others: a live lease of the conflicting kind means back off (delete ours, wait,
//! retry). Of two that race, at least one sees the other, since each lists after its own write
//! (SPEC.md section 13.1). Folder repositories rely on `flock` alone and take no lease.

use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use repo_format::object_key;
use repo_format::Id;
use repo_format::crypto::Keys;
use repo_format::lease::{Lease, LeaseKind};

use crate::backend::{Backend, BackendError};
use crate::repository::{Repository, hostname};
use crate::{Result, StoreError};

/// How long a lease holds unless replaced.
pub const TTL: Duration = Duration::from_secs(15 * 60);
/// How often a holder replaces its lease.
const REFRESH: Duration = Duration::from_secs(5 * 60);
/// Pause between attempts while a conflicting lease is live.
const RETRY: Duration = Duration::from_secs(2);

/// A lease being held (and refreshed); deleted on drop.
pub struct Held {
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
    current: Arc<Mutex<Id>>,
    written: Arc<Mutex<Instant>>,
    backend: Arc<dyn Backend>,
}

impl Held {
    /// Fail unless the lease is surely still live: its last replacement was written less than
    /// `TTL - REFRESH` ago. Checked before an ingest's commit and before prune deletes, so a lease
    /// that lapsed during an outage never lets either act on a stale premise.
    pub fn check(&self) -> Result<()> {
        let age = self.written.lock().expect("not poisoned").elapsed();
        if age >= TTL - REFRESH {
            return Err(StoreError::Invalid(format!(
                "this process's lease on the repository could not be renewed for {} s (is the object store reachable?); stopping before any change",
                age.as_secs()
            )));
        }
        Ok(())
    }
}

/// Check an optional lease (see [`Held::check`]).
pub fn check(held: &Option<Held>) -> Result<()> {
    held.as_ref().map_or(Ok(()), Held::check)
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let id = *self.current.lock().expect("not poisoned");
        // Best effort: a lease left behind lapses by itself.
        let _ = self.backend.delete(&object_key::lease(&id));
    }
}


fn lease(kind: LeaseKind, since: Timestamp) -> Lease {
    let expires = Timestamp::now() + SignedDuration::try_from(TTL).expect("a small duration");
    Lease { kind, host: hostname(), pid: std::process::id(), since, expires }
}

fn write(backend: &dyn Backend, keys: &Keys, l: &Lease) -> Result<Id> {
    let (id, bytes) = l.encode(keys).map_err(|e| StoreError::format("lease", e))?;
    backend.put_new(&object_key::lease(&id), &bytes)?;
    Ok(id)
}

/// A live lease other than `own` that conflicts with `kind`. Leases of dead processes of this
/// machine are deleted; unreadable ones are ignored (they are not ours to judge).
fn conflict(repo: &Repository, kind: LeaseKind, own: Option<Id>) -> Result<Option<Lease>> {
    let backend = repo.backend();
    let now = Timestamp::now();
    let me = hostname();
    for k in backend.list(object_key::LEASES)? {
        let Some(id) = object_key::id_of(&k) else { continue };
        if Some(id) == own {
            continue;
        }
        let l = match crate::object::get_decoded(backend.as_ref(), &k, |b| Lease::decode(repo.keys(), b)) {
            Ok(l) => l,
            // An unreachable store hides a lease: never take that for no lease.
            Err(e @ StoreError::Backend(BackendError::Remote { .. })) => return Err(e),
            // Released since the listing, or one that does not open (SPEC.md 13.1): no conflict.
            Err(_) => continue,
        };
        if !l.is_live(now) || l.kind == kind {
            continue;
        }
        if l.host == me && !std::path::Path::new(&format!("/proc/{}", l.pid)).exists() {
            let _ = backend.delete(&k); // its holder died on this machine
            continue;
        }
        return Ok(Some(l));
    }
    Ok(None)
}

/// Take a lease of `kind` (waiting up to the repository's lock wait while a conflicting one is
/// live) for a remote repository; `None` for a folder repository.
pub fn take(repo: &Repository, kind: LeaseKind) -> Result<Option<Held>> {
    if repo.backend().local_path(object_key::CONFIG).is_some() {
        return Ok(None);
    }
    let start = Instant::now();
    let since = Timestamp::now();
    let busy = |l: &Lease| StoreError::Busy {
        what: format!("the repository ({} of host {} pid {} holds a lease until {})", match l.kind {
            LeaseKind::Ingest => "an ingest",
            LeaseKind::Prune => "a prune",
        }, l.host, l.pid, l.expires),
        waited_secs: start.elapsed().as_secs(),
    };
    let backend = repo.backend().clone();
    loop {
        let blocker = match conflict(repo, kind, None)? {
            Some(l) => l,
            None => {
                let id = write(backend.as_ref(), repo.keys(), &lease(kind, since))?;
                match conflict(repo, kind, Some(id))? {
                    None => return hold(backend, repo.keys().clone(), kind, since, id).map(Some),
                    Some(l) => {
                        backend.delete(&object_key::lease(&id))?;
                        l
                    }
                }
            }
        };
        if start.elapsed() >= repo.lock_wait() {
            return Err(busy(&blocker));
        }
        std::thread::sleep(RETRY.min(repo.lock_wait().saturating_sub(start.elapsed())));
    }
}

/// Start replacing lease `id` every [`REFRESH`] until dropped.
fn hold(backend: Arc<dyn Backend>, keys: Keys, kind: LeaseKind, since: Timestamp, id: Id) -> Result<Held> {
    let current = Arc::new(Mutex::new(id));
    let written = Arc::new(Mutex::new(Instant::now()));
    let (stop, stopped) = channel::<()>();
    let (b, cur, when) = (backend.clone(), current.clone(), written.clone());
    let refresher = std::thread::Builder::new()
        .name("dbvault-lease".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(REFRESH) {
                // On failure keep the old one and try again later: the work it guards fails too.
                let attempt = Instant::now();
                if let Ok(new) = write(b.as_ref(), &keys, &lease(kind, since)) {
                    *when.lock().expect("not poisoned") = attempt;
                    let old = std::mem::replace(&mut *cur.lock().expect("not poisoned"), new);
                    let _ = b.delete(&object_key::lease(&old));
                }
            }
        });
    let refresher = match refresher {
        Ok(t) => t,
        Err(e) => {
            let _ = backend.delete(&object_key::lease(&id));
            return Err(StoreError::io("starting the lease renewal thread", e));
        }
    };
    Ok(Held { stop: Some(stop), refresher: Some(refresher), current, written, backend })
}
