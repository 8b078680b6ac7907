//! The repository: its backend, unlocked keys, config, and the local index kept in step.
//!
//! Opening reads `config` (refusing unknown versions before asking for anything), tries the
//! password on each key file, then verifies the config's MAC with the unlocked keys.
//! The local index is brought up to date ("synced") from the repository's own objects whenever it
//! lags behind them: index segments not yet applied are applied, manifests not yet listed are
//! listed, listed snapshots whose manifest is gone are unlisted. A missing index is rebuilt the
//! same way, so deleting `local/` never loses anything.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use repo_format::object_key;
use repo_format::config::{ChunkerConfig, Config};
use repo_format::crypto::{Keys, MasterKey};
use repo_format::index_segment::IndexSegment;
use repo_format::keyfile::{KdfParams, KeyFile};
use repo_format::pack::PackEntry;
use repo_format::{FormatError, Id};

use crate::backend::{Backend, BackendError};
use crate::index::Index;
use crate::location::{Access, LOCAL_DIR, Location};
use crate::{Result, StoreError};

mod sync;

pub use sync::SyncReport;

/// Master keys `init` draws at most before taking one whatever its chunker seed.
const MAX_KEY_DRAWS: u32 = 64;

/// Object folders a repository holds.
pub const OBJECT_DIRS: [&str; 5] = [object_key::KEYS, object_key::PACKS, object_key::INDEX, object_key::SNAPSHOTS, object_key::FORGOTTEN];

/// How to create a repository.
#[derive(Clone, Copy, Debug, Default)]
pub struct InitOptions {
    /// Argon2id costs for the first key.
    pub kdf: KdfParams,
    /// Chunker parameters, fixed for the repository's life.
    pub chunker: ChunkerConfig,
    /// Never store changed chunks as deltas (the repository setting `deltas: false`).
    pub no_deltas: bool,
}

/// An open, unlocked repository.
pub struct Repository {
    backend: Arc<dyn Backend>,
    location: Location,
    config: Config,
    keys: Keys,
    master: MasterKey,
    key_id: Mutex<Id>,
    local_dir: PathBuf,
    lock_wait: Duration,
    warnings: Mutex<Vec<String>>,
    /// Database names by name tag, as read from manifests: a tag names one database for ever.
    names: Mutex<std::collections::HashMap<[u8; 16], String>>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository").field("location", &self.location).field("id", &self.config.id).finish()
    }
}

/// This machine's host name (for manifests and key files).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// An index segment [`Repository::rewrite_segments`] replaced.
pub(crate) struct Replaced {
    /// Its key, to delete.
    pub key: String,
    /// Its replacement (id and content), unless nothing of it was left.
    pub by: Option<(Id, IndexSegment)>,
}

/// Packs listed per index segment a writer makes: a long ingest or prune writes several, so its
/// memory stays bounded.
pub const PACKS_PER_SEGMENT: usize = 8;

/// Whether this process can keep its locks and index in `dir` (creating it if needed).
fn writable(dir: &Path) -> bool {
    std::fs::create_dir_all(dir).is_ok() && std::fs::OpenOptions::new().create(true).append(true).open(crate::index::lock_path(dir)).is_ok()
}

/// Read and parse a repository's config without unlocking it. A config that is missing or
/// unreadable while key files exist is [`StoreError::ConfigLost`]: `repair config` brings it back.
pub fn read_config(backend: &dyn Backend) -> Result<repo_format::config::UnverifiedConfig> {
    let has_keys = || backend.list(object_key::KEYS).is_ok_and(|k| !k.is_empty());
    let lost = |detail: String| StoreError::ConfigLost { location: backend.describe(), detail };
    let bytes = match backend.get(object_key::CONFIG) {
        Ok(b) => b,
        Err(BackendError::NotFound { .. }) if has_keys() => return Err(lost("it is missing".into())),
        Err(BackendError::NotFound { .. }) => return Err(StoreError::NotARepository { location: backend.describe() }),
        Err(other) => return Err(other.into()),
    };
    Config::decode(&bytes).map_err(|e| match e {
        // A newer format is not damage: say which version is needed.
        FormatError::UnsupportedVersion { .. } => StoreError::format("config", e),
        e if has_keys() => lost(format!("it is damaged ({e})")),
        e => StoreError::format("config", e),
    })
}

impl Repository {
    /// Create a repository in the local folder `path` (absent or empty), with one key for `password`.
    pub fn init(path: &Path, password: &[u8], opts: InitOptions) -> Result<Repository> {
        Repository::init_at(&Location::Local(path.to_path_buf()), password, opts, &Access::default())
    }

    /// Create a repository at `location` (an absent or empty folder, or a bucket prefix or
    /// [`MemoryBackend`](crate::backend::MemoryBackend) holding no objects), with one key for
    /// `password`.
    pub fn init_at(location: &Location, password: &[u8], opts: InitOptions, access: &Access) -> Result<Repository> {
        chunker::Params::new(opts.chunker.min_size, opts.chunker.avg_size, opts.chunker.max_size, opts.chunker.normalization, 0)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let backend = Repository::check_can_init(location, access)?;
        let not_empty = || StoreError::NotEmpty { location: location.to_string() };
        if let Location::Local(path) = location {
            for d in OBJECT_DIRS.iter().chain([&LOCAL_DIR]) {
                std::fs::create_dir_all(path.join(d)).map_err(|e| StoreError::io(format!("creating {}/{d}", path.display()), e))?;
            }
        }
        let master = Repository::draw_master_key(&opts.chunker)?;
        let keys = master.keys();
        let mut config = Config::new(opts.chunker).map_err(|e| StoreError::format("config", e))?;
        config.deltas = !opts.no_deltas;
        let cbytes = config.encode(&keys);
        // Each key file holds a copy of the config: `repair config` restores a lost one from it.
        let kf = KeyFile::wrap(&master, password, &config.id, opts.kdf, &hostname()).map_err(|e| StoreError::format("key", e))?.with_config(&cbytes);
        let kbytes = kf.encode();
        let key_id = Id::of_bytes(&kbytes);
        // The key first, the config last (created only if absent): a config means a usable repository.
        backend.put_new(&object_key::key(&key_id), &kbytes)?;
        backend.put_new(object_key::CONFIG, &cbytes).map_err(|e| match e {
            BackendError::AlreadyExists { .. } => not_empty(),
            other => other.into(),
        })?;
        let local_dir = location.local_dir(&config.id, access)?;
        let repo = Repository::assemble(location.clone(), backend, local_dir, config, master, key_id);
        repo.index_writer()?;
        Ok(repo)
    }

    /// Refuse a `location` that already holds something ([`StoreError::NotEmpty`]); otherwise
    /// return a connection to it.
    pub fn check_can_init(location: &Location, access: &Access) -> Result<Arc<dyn Backend>> {
        let backend = location.backend(access)?;
        let empty = match location {
            Location::Local(path) => crate::location::is_empty_folder(path)?,
            Location::S3(_) | Location::Memory(_) => backend.list("")?.is_empty(),
        };
        if !empty {
            return Err(StoreError::NotEmpty { location: location.to_string() });
        }
        Ok(backend)
    }

    /// Open and unlock the local repository at `path`.
    pub fn open(path: &Path, password: &[u8]) -> Result<Repository> {
        Repository::open_at(&Location::Local(path.to_path_buf()), password, &Access::default())
    }

    /// Open and unlock the repository at `location`.
    pub fn open_at(location: &Location, password: &[u8], access: &Access) -> Result<Repository> {
        let backend = location.backend(access)?;
        let unverified = read_config(backend.as_ref())?;
        let repo_id = unverified.id();
        let (mut tried, mut foreign) = (0, 0);
        let mut problems = Vec::new();
        let mut master = None;
        let mut key_id = Id::default();
        let mut key_files = Vec::new();
        for key in backend.list(object_key::KEYS)? {
            match backend.get(&key).map_err(StoreError::from).and_then(|b| KeyFile::decode(&b).map_err(|e| StoreError::format(key.as_str(), e))) {
                Ok(kf) => key_files.push((key, kf)),
                Err(e) => problems.push(e.to_string()),
            }
        }
        // Cheapest derivations first: a machine's generated-password key opens in milliseconds.
        key_files.sort_by_key(|(_, kf)| u64::from(kf.params.memory_kib) * u64::from(kf.params.iterations));
        for (key, kf) in &key_files {
            tried += 1;
            if kf.repository.is_some_and(|r| r != repo_id) {
                foreign += 1;
            }
            match kf.unwrap_key(password, &repo_id) {
                Ok(m) => {
                    master = Some(m);
                    key_id = object_key::id_of(key).unwrap_or_default();
                    break;
                }
                Err(FormatError::WrongPassword) => {}
                Err(e) => problems.push(format!("{key}: {e}")),
            }
        }
        let Some(master) = master else {
            if tried == 0 && !problems.is_empty() {
                return Err(StoreError::format(
                    "keys",
                    FormatError::malformed("key file", format!("every key file is damaged, none could be tried: {}", problems.join("; "))),
                ));
            }
            if tried == 0 {
                return Err(StoreError::NoKey);
            }
            if foreign == tried {
                return Err(StoreError::ConfigLost {
                    location: backend.describe(),
                    detail: format!("its repository id {} matches none of the key files: the config (or every key file) was altered or replaced", repo_id.short()),
                });
            }
            return Err(StoreError::WrongPassword { keys: tried, damaged: problems.len() });
        };
        let config = unverified.verify(&master.keys()).map_err(|e| StoreError::ConfigLost {
            location: backend.describe(),
            detail: format!("it does not match the key that opened the repository ({e}): it was damaged or replaced"),
        })?;
        let mut local_dir = location.local_dir(&config.id, access)?;
        if matches!(location, Location::Local(_)) && !writable(&local_dir) {
            // Read-only media (an offsite copy mounted read-only): keep the derived state in the
            // cache folder, as for a remote repository, so reading and restoring still work.
            let cache = access.cache_root()?.join(config.id.to_hex());
            problems.push(format!(
                "{} cannot be written (read-only repository?): this machine keeps the repository's index in {} instead",
                local_dir.display(),
                cache.display()
            ));
            local_dir = cache;
        }
        // Locks live there: it must exist before any command takes one (a new cache, or a
        // deleted `local/`).
        std::fs::create_dir_all(&local_dir).map_err(|e| StoreError::io(format!("creating {}", local_dir.display()), e))?;
        let repo = Repository::assemble(location.clone(), backend, local_dir, config, master, key_id);
        repo.warnings.lock().expect("not poisoned").extend(problems);
        Ok(repo)
    }

    fn assemble(location: Location, backend: Arc<dyn Backend>, local_dir: PathBuf, config: Config, master: MasterKey, key_id: Id) -> Repository {
        Repository {
            backend,
            location,
            config,
            keys: master.keys(),
            master,
            key_id: Mutex::new(key_id),
            local_dir,
            lock_wait: Duration::from_secs(600),
            warnings: Mutex::new(Vec::new()),
            names: Mutex::default(),
        }
    }

    /// How long to wait for another process's commit before reporting [`StoreError::Busy`].
    pub fn set_lock_wait(&mut self, wait: Duration) {
        self.lock_wait = wait;
    }

    /// How long to wait for another process's lock or lease.
    pub(crate) fn lock_wait(&self) -> Duration {
        self.lock_wait
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The working keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The master key (to wrap it under another passphrase).
    pub(crate) fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The key file this session was unlocked with.
    pub fn key_id(&self) -> Id {
        *self.key_id.lock().expect("not poisoned")
    }

    /// Record the key file this session now uses (after `key passwd` replaced it).
    pub(crate) fn set_key_id(&self, id: Id) {
        *self.key_id.lock().expect("not poisoned") = id;
    }

    /// The object store.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Where the repository is.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Non-fatal problems met so far (damaged key files or index segments); drains them.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().expect("not poisoned"))
    }

    /// The database name tag `tag` stands for, if this process has read it.
    pub(crate) fn known_name(&self, tag: &[u8; 16]) -> Option<String> {
        self.names.lock().expect("not poisoned").get(tag).cloned()
    }

    /// Remember that `tag` stands for database `name`.
    pub(crate) fn remember_name(&self, tag: [u8; 16], name: &str) {
        self.names.lock().expect("not poisoned").insert(tag, name.to_string());
    }

    /// Record a non-fatal problem for [`Repository::take_warnings`].
    pub(crate) fn warn(&self, w: String) {
        self.warnings.lock().expect("not poisoned").push(w);
    }

    /// Folder for temporary files (for a local repository on its filesystem, so packs move by
    /// rename; for a remote one in the cache folder, whence packs are uploaded).
    pub(crate) fn tmp_dir(&self) -> Result<PathBuf> {
        let d = self.local_dir.join("tmp");
        std::fs::create_dir_all(&d).map_err(|e| StoreError::io(format!("creating {}", d.display()), e))?;
        Ok(d)
    }

    /// A fresh master key whose chunker seed cuts runs of padding like any other bytes
    /// ([`chunker::Params::seed_cuts_padding_evenly`]; about a quarter of draws are refused). The
    /// last of [`MAX_KEY_DRAWS`] draws is taken whatever its seed, so unusual chunker sizes never
    /// fail `init`; an unseeded chunker takes the first.
    fn draw_master_key(c: &ChunkerConfig) -> Result<MasterKey> {
        let draw = || MasterKey::generate().map_err(|e| StoreError::format("master key", e));
        if c.seeded {
            for _ in 1..MAX_KEY_DRAWS {
                let master = draw()?;
                let seed = master.keys().chunker_seed;
                let params = chunker::Params::new(c.min_size, c.avg_size, c.max_size, c.normalization, seed).map_err(|e| StoreError::Invalid(e.to_string()))?;
                if params.seed_cuts_padding_evenly() {
                    return Ok(master);
                }
            }
        }
        draw()
    }

    /// The chunker parameters of this repository, with its key-derived seed.
    pub fn chunker_params(&self) -> Result<chunker::Params> {
        let c = &self.config.chunker;
        let seed = if c.seeded { self.keys.chunker_seed } else { 0 };
        chunker::Params::new(c.min_size, c.avg_size, c.max_size, c.normalization, seed)
            .map_err(|e| StoreError::format("config", FormatError::malformed("config", e.to_string())))
    }

    /// The exclusive `ingest` role: prune's delete phase (waits for running ingests to finish).
    pub(crate) fn exclusive_ingest_lock(&self) -> Result<crate::lock::Lock> {
        crate::lock::acquire(&self.local_dir.join(crate::lock::INGEST), false, self.lock_wait, "the repository (ingests are running)")
    }

    /// The folder for this machine's derived state (index, locks, temporary packs): `local/` in a
    /// folder repository, `<cache>/<repository id>` for a remote one.
    pub fn local_dir(&self) -> &Path {
        &self.local_dir
    }

    /// The shared `ingest` role, held for an ingest's whole run (prune takes it exclusively).
    pub fn ingest_lock(&self) -> Result<crate::lock::Lock> {
        crate::lock::acquire(&self.local_dir.join(crate::lock::INGEST), true, self.lock_wait, "the repository (prune is deleting)")
    }

    /// Open the index with the writer role (waiting for it), caught up with the repository: a
    /// folder repository whose `snapshots/` is as the index last saw it needs no listing (SPEC.md
    /// section 12, *Freshness*); otherwise it is synced. An unusable index is rebuilt (with a
    /// warning): it is derived state. Prune and repair sync in full ([`Repository::sync`]).
    pub fn index_writer(&self) -> Result<Index> {
        let idx = self.open_index_writer()?;
        if !self.is_current(&idx)? {
            self.sync(&idx)?;
        }
        Ok(idx)
    }

    /// Take the writer role and open the index for writing, without syncing it: an ingest opens
    /// it while its last batches are sealed and syncs it once its own segments are written.
    pub(crate) fn open_index_writer(&self) -> Result<Index> {
        std::fs::create_dir_all(&self.local_dir).map_err(|e| StoreError::io(format!("creating {}", self.local_dir.display()), e))?;
        let (idx, rebuilt) = Index::open_write(&self.local_dir, self.lock_wait, true)?;
        if let Some(reason) = rebuilt {
            self.warn(format!("the local index was unusable ({reason}); rebuilt it from the repository's objects"));
        }
        Ok(idx)
    }

    /// A read-only view of the local index as it is, without catching up with the repository;
    /// `None` when there is none (or it cannot be opened). For `repair`, which must read the
    /// copies of manifests a sync would unlist.
    pub(crate) fn index_unsynced(&self) -> Result<Option<Index>> {
        if !Index::exists(&self.local_dir) {
            return Ok(None);
        }
        Ok(Index::open_read(&self.local_dir, self.lock_wait).ok())
    }

    /// Open a read-only view of the index, syncing it first if it lags behind the repository
    /// (and rebuilding it if it is missing or unusable).
    pub fn index_reader(&self) -> Result<Index> {
        if !Index::exists(&self.local_dir) {
            drop(self.index_writer()?);
        }
        let idx = match Index::open_read(&self.local_dir, self.lock_wait) {
            Ok(idx) => idx,
            Err(StoreError::Index { .. }) => {
                drop(self.index_writer()?);
                Index::open_read(&self.local_dir, self.lock_wait)?
            }
            Err(e) => return Err(e),
        };
        if self.is_current(&idx)? {
            return Ok(idx);
        }
        drop(idx);
        drop(self.index_writer()?);
        Index::open_read(&self.local_dir, self.lock_wait)
    }

    /// Delete the local index and open a new, empty one with the writer role (the caller syncs
    /// it: `repair`).
    pub(crate) fn fresh_index_writer(&self) -> Result<Index> {
        Index::open_fresh(&self.local_dir, self.lock_wait)
    }

    /// Read the index segment at `key`: `Ok(Err(damage))` when it is missing, does not hash to its
    /// name or does not decode. A store that fails to send it is an error (`Err`), never damage:
    /// callers that skip or delete damaged segments must not do so during an outage.
    pub(crate) fn read_segment(&self, key: &str) -> Result<std::result::Result<IndexSegment, StoreError>> {
        let bytes = match self.backend.get(key) {
            Ok(b) => b,
            Err(e @ BackendError::Remote { .. }) => return Err(e.into()),
            Err(e) => return Ok(Err(e.into())),
        };
        if object_key::id_of(key).is_some_and(|id| Id::of_bytes(&bytes) != id) {
            return Ok(Err(StoreError::format(key, FormatError::malformed("index segment", "content does not match its name"))));
        }
        Ok(IndexSegment::decode(&self.keys, &bytes).map_err(|e| StoreError::format(key, e)))
    }

    /// Write a replacement for every index segment that lists something `drop` rejects (a whole
    /// pack: `drop(pack, None)`; one blob of it: `drop(pack, Some(entry))`), without it. Returns
    /// the replaced segments, which the caller deletes once it may (a replacement is durable
    /// before its original goes). Damaged segments are left alone: they list nothing any client
    /// indexes; a store that fails to send one is an error.
    pub(crate) fn rewrite_segments(&self, drop: impl Fn(&Id, Option<&PackEntry>) -> bool) -> Result<Vec<Replaced>> {
        let mut out = Vec::new();
        for key in self.backend.list(object_key::INDEX)? {
            let Ok(seg) = self.read_segment(&key)? else { continue };
            let mut changed = false;
            let mut packs = Vec::with_capacity(seg.packs.len());
            for mut p in seg.packs {
                if drop(&p.pack_id, None) {
                    changed = true;
                    continue;
                }
                let before = p.entries.len();
                p.entries.retain(|e| !drop(&p.pack_id, Some(e)));
                changed |= p.entries.len() != before;
                if !p.entries.is_empty() {
                    packs.push(p);
                }
            }
            if changed {
                let by = if packs.is_empty() {
                    None
                } else {
                    let seg = IndexSegment { packs };
                    Some((self.put_segment(&seg)?.0, seg))
                };
                out.push(Replaced { key, by });
            }
        }
        Ok(out)
    }

    /// Write an index segment (create-if-absent, durable); returns its id and size. The packs it
    /// lists must already be durable (SPEC.md section 11).
    pub(crate) fn put_segment(&self, seg: &IndexSegment) -> Result<(Id, u64)> {
        let bytes = seg.encode(&self.keys, self.config.version).map_err(|e| StoreError::format("index segment", e))?;
        let id = Id::of_bytes(&bytes);
        self.backend.put_new(&object_key::index_segment(&id), &bytes)?;
        Ok((id, bytes.len() as u64))
    }
}
