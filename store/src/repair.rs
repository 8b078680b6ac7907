//! Ways back from damage (`dbvault repair ...`).
//!
//! - [`index`]: rebuild the local index from the repository's objects, then drop what is lost from
//!   the index segments themselves: the entries of packs that are missing, truncated or whose
//!   header is unreadable, with `read_data` the blobs that fail authentication, and every delta
//!   whose chain of bases reaches one of those. The next ingest of a dump holding those chunks
//!   stores them again, which makes every snapshot that needs only them whole again.
//! - [`snapshots`]: damaged manifest files written back from this machine's index, and the
//!   snapshots that still need lost data, to keep (marked damaged by `check`) or forget.
//! - [`config`]: write `config` again from the copy sealed in a key file, when it was deleted or
//!   damaged.
//!
//! Segments are rewritten as prune rewrites them (SPEC.md section 13): the new segment is written
//! before the old one is deleted, so a crash leaves duplicates, never a lost entry.

use std::collections::{HashMap, HashSet};

use repo_format::object_key;
use repo_format::blob::MAX_DELTA_DEPTH;
use repo_format::config::Config;
use repo_format::index_segment::{IndexSegment, PackIndex};
use repo_format::keyfile::KeyFile;
use repo_format::pack::PackEntry;
use repo_format::{FormatError, Id};
use serde::Serialize;

use crate::backend::{Backend, BackendError};
use crate::check::{ReadData, SnapshotDamage};
use crate::delta::Chain;
use crate::index::Index;
use crate::pack::read_header;
use crate::repository::{Repository, SyncReport};
use crate::snapshot::DamagedManifest;
use crate::{Result, StoreError};

/// A pack whose blobs were dropped from the index, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DroppedPack {
    /// The pack.
    pub pack: Id,
    /// What is wrong with it.
    pub reason: String,
}

/// What `repair index` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IndexRepair {
    /// The rebuild from segments and pack headers.
    pub rebuilt: SyncReport,
    /// Packs whose every blob was dropped (missing, truncated, header unreadable).
    pub packs_dropped: Vec<DroppedPack>,
    /// Blobs that failed authentication and were dropped (with `read_data`).
    pub blobs_dropped: u64,
    /// Deltas dropped because a base in their chain was lost.
    pub deltas_dropped: u64,
    /// Index segments replaced by ones without the lost entries.
    pub segments_rewritten: usize,
    /// Damaged index segments deleted (their packs were indexed from their headers).
    pub segments_removed: usize,
    /// Manifests damaged or missing in the repository, written back from the local index
    /// before it was rebuilt.
    pub manifests_restored: Vec<Id>,
}

impl IndexRepair {
    /// Whether anything lost was dropped (the next ingest of the same dumps stores it again).
    pub fn dropped_anything(&self) -> bool {
        !self.packs_dropped.is_empty() || self.blobs_dropped > 0 || self.deltas_dropped > 0 || self.segments_removed > 0
    }
}

/// Delete the local index and rebuild it from index segments, then from the headers of packs no
/// segment lists (their segment was lost, or an ingest was interrupted); recovered packs get a new
/// segment, so other clients see them too.
fn rebuild(repo: &Repository) -> Result<(Index, SyncReport)> {
    let idx = repo.fresh_index_writer()?;
    let mut report = repo.sync(&idx)?;
    let mut recovered = Vec::new();
    for (id, key) in crate::pack::unindexed(repo, |id| idx.has_pack(id))? {
        let len = repo.backend().size(&key)?;
        match read_header(repo, &id, len) {
            Ok(entries) => recovered.push(PackIndex { pack_id: id, pack_len: len, entries }),
            Err(e) => repo.warn(format!("{key}: not recoverable, its header is damaged: {e}")),
        }
    }
    if !recovered.is_empty() {
        report.packs_recovered = recovered.len();
        let seg = IndexSegment { packs: recovered };
        let (seg_id, _) = repo.put_segment(&seg)?;
        idx.apply_segment(&seg_id, &seg)?;
        idx.flush()?;
    }
    Ok((idx, report))
}

/// What is wrong with an indexed pack that makes all of its blobs unusable, if anything.
fn pack_damage(backend: &dyn Backend, repo: &Repository, pack: &Id, len: u64) -> Result<Option<String>> {
    let key = object_key::pack(pack);
    match backend.size(&key) {
        Err(BackendError::NotFound { .. }) => return Ok(Some("missing".into())),
        Err(e) => return Err(e.into()),
        Ok(size) if size != len => return Ok(Some(format!("has {size} bytes, the index says {len} (truncated or replaced)"))),
        Ok(_) => {}
    }
    match read_header(repo, pack, len) {
        Ok(_) => Ok(None),
        Err(StoreError::Backend(e @ BackendError::Remote { .. })) => Err(e.into()),
        Err(e) => Ok(Some(format!("header unreadable: {e}"))),
    }
}

/// The blobs of a sound pack that fail authentication (their envelope, or a delta's patch).
fn damaged_blobs(repo: &Repository, pack: &Id) -> Result<Vec<Id>> {
    let bytes = crate::pack::whole_pack(repo, pack)?;
    let entries = repo_format::pack::read_entries(repo.keys(), &bytes).map_err(|e| StoreError::format(object_key::pack(pack), e))?;
    let sealed = |e: &PackEntry| &bytes[e.offset as usize..(e.offset + e.stored_len) as usize];
    Ok(entries
        .iter()
        .filter(|e| e.authenticate(repo.keys(), sealed(e)).is_err())
        .map(|e| e.id)
        .collect())
}

/// Replace every index segment that lists something `drop` rejects (a whole pack: `drop(pack,
/// None)`; one blob of it: `drop(pack, Some(entry))`) by one without it; returns how many were
/// replaced. New segments are written before the old ones are deleted.
fn rewrite_segments(repo: &Repository, drop: impl Fn(&Id, Option<&PackEntry>) -> bool) -> Result<usize> {
    let replaced = repo.rewrite_segments(drop)?;
    for r in &replaced {
        repo.backend().delete(&r.key)?;
    }
    Ok(replaced.len())
}

/// Deltas (blob id, pack) whose chain of bases does not resolve through `idx` within
/// [`MAX_DELTA_DEPTH`](repo_format::blob::MAX_DELTA_DEPTH).
fn broken_deltas(idx: &Index) -> Result<Vec<(Id, Id)>> {
    let mut out = Vec::new();
    idx.for_each_blob(|id, loc| {
        if loc.entry.delta.is_some() && !Chain::below(idx, id)?.is_complete() {
            out.push((id, loc.pack));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Rebuild the local index and drop what is lost from the index segments (see the module doc).
/// With `read_data`, every blob of every sound pack is authenticated too.
pub fn index(repo: &Repository, read_data: bool, progress: Option<&crate::Progress<'_>>) -> Result<IndexRepair> {
    let step = |phase: &str, done: u64, total: u64| {
        if let Some(p) = progress {
            p(phase, done, total);
        }
    };
    // No prune, and no ingest deduplicating against entries about to be dropped, while it runs.
    let _no_prune = crate::lock::acquire(&repo.local_dir().join(crate::lock::PRUNE), false, repo.lock_wait(), "prune (repair waits for it)")?;
    let _no_ingest = repo.exclusive_ingest_lock()?;
    // The local index about to be deleted holds intact copies of manifests: write back any
    // that are damaged or gone in the repository first, or they would be lost with it.
    let manifests_restored = restore_manifests(repo)?;
    let (idx, rebuilt) = rebuild(repo)?;
    let mut report = IndexRepair { rebuilt, manifests_restored, ..Default::default() };
    // A segment that cannot be read helps nobody now that its packs were indexed from their own
    // headers (or cannot be): it only made every client warn.
    for key in repo.backend().list(object_key::INDEX)? {
        // (A store that fails to send one is an error: an outage must not delete sound segments.)
        if repo.read_segment(&key)?.is_err() {
            repo.backend().delete(&key)?;
            report.segments_removed += 1;
        }
    }
    let packs = idx.packs()?;
    let mut dead_packs: HashMap<Id, String> = HashMap::new();
    let mut dead_blobs: HashSet<(Id, Id)> = HashSet::new();
    for (n, (pack, len, _)) in packs.iter().enumerate() {
        step("checking packs", n as u64, packs.len() as u64);
        if let Some(reason) = pack_damage(repo.backend().as_ref(), repo, pack, *len)? {
            dead_packs.insert(*pack, reason);
        } else if read_data {
            dead_blobs.extend(damaged_blobs(repo, pack)?.into_iter().map(|b| (*pack, b)));
        }
    }
    drop(idx);
    let mut sorted: Vec<DroppedPack> = dead_packs.iter().map(|(p, r)| DroppedPack { pack: *p, reason: r.clone() }).collect();
    sorted.sort_by_key(|d| d.pack);
    report.packs_dropped = sorted;
    report.blobs_dropped = dead_blobs.len() as u64;
    if dead_packs.is_empty() && dead_blobs.is_empty() {
        return Ok(report);
    }
    step("rewriting index segments", 0, 1);
    report.segments_rewritten += rewrite_segments(repo, |pack, e| match e {
        None => dead_packs.contains_key(pack),
        Some(e) => dead_blobs.contains(&(*pack, e.id)),
    })?;
    // A delta is lost with its base: drop those, until every chain resolves (each round removes
    // at least one; chains are at most MAX_DELTA_DEPTH deep).
    for _ in 0..=MAX_DELTA_DEPTH {
        let idx = repo.fresh_index_writer()?;
        repo.sync(&idx)?;
        let broken: HashSet<(Id, Id)> = broken_deltas(&idx)?.into_iter().map(|(id, pack)| (pack, id)).collect();
        drop(idx);
        if broken.is_empty() {
            break;
        }
        report.deltas_dropped += broken.len() as u64;
        report.segments_rewritten += rewrite_segments(repo, |pack, e| e.is_some_and(|e| broken.contains(&(*pack, e.id))))?;
    }
    let idx = repo.fresh_index_writer()?;
    repo.sync(&idx)?;
    Ok(report)
}

/// What `repair snapshots` found and did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SnapshotRepair {
    /// Damaged manifest files written back from this machine's index (which keeps each listed
    /// manifest's sealed bytes; they prove themselves by hashing to the file's name).
    pub manifests_restored: Vec<Id>,
    /// Damaged manifest files with no intact copy here: those snapshots are lost.
    pub manifests_lost: Vec<DamagedManifest>,
    /// Snapshots whose chunk lists need data the repository does not have.
    pub damaged: Vec<SnapshotDamage>,
    /// Parents named by snapshots that are gone and were not forgotten (with their database).
    pub parents_gone: Vec<(Id, String)>,
    /// Whether the lost manifests and the damaged snapshots were forgotten.
    pub forgotten: bool,
}

/// Write back, from the local index (which keeps every listed manifest's sealed bytes; they prove
/// themselves by hashing to their name), the manifests that are damaged in the repository or
/// missing from it without a forget record. Returns their ids. The index is opened as it is,
/// without syncing it first (a sync would unlist what is missing).
fn restore_manifests(repo: &Repository) -> Result<Vec<Id>> {
    let Some(index) = repo.index_unsynced()? else { return Ok(Vec::new()) };
    let damaged: HashSet<Id> = crate::snapshot::damaged_manifests(repo)?.iter().filter_map(|d| d.id).collect();
    let present: HashSet<Id> = repo.backend().list(object_key::SNAPSHOTS)?.iter().filter_map(|k| object_key::id_of(k)).collect();
    let mut wanted: Vec<Id> = index.snapshot_ids()?.into_iter().filter(|id| damaged.contains(id) || !present.contains(id)).collect();
    if wanted.iter().any(|id| !present.contains(id)) {
        let forgotten = crate::snapshot::forgotten(repo)?;
        wanted.retain(|id| !forgotten.contains(id));
    }
    let mut restored = Vec::new();
    for id in wanted {
        if let Some(bytes) = index.snapshot(&id)?
            && repo.write_back_manifest(&id, &bytes, present.contains(&id))?
        {
            restored.push(id);
        }
    }
    Ok(restored)
}

/// Restore damaged manifest files from this machine's index where it can, then find the
/// snapshots that need data the repository does not have (a structural check) and the parents
/// that are gone without a forget record; with `forget`, forget the snapshots and the manifests
/// that could not be restored, and record the gone parents as forgotten (all recorded as
/// `repair snapshots`).
pub fn snapshots(repo: &Repository, forget: bool) -> Result<SnapshotRepair> {
    let mut out = SnapshotRepair { forgotten: forget, ..Default::default() };
    out.manifests_restored = restore_manifests(repo)?;
    out.manifests_lost = crate::snapshot::damaged_manifests(repo)?;
    if forget && !out.manifests_lost.is_empty() {
        crate::snapshot::forget_unreadable(repo, &out.manifests_lost)?;
    }
    let report = crate::check::check(repo, ReadData::No, None)?;
    out.damaged = report.damaged;
    out.parents_gone = report.parents_gone;
    if forget && !out.parents_gone.is_empty() {
        crate::snapshot::record_gone(repo, &out.parents_gone)?;
    }
    if forget && !out.damaged.is_empty() {
        let index = repo.index_reader()?;
        let mut doomed = Vec::new();
        for d in &out.damaged {
            doomed.push(crate::snapshot::resolve(repo, &index, &d.snapshot.to_hex(), None)?);
        }
        drop(index);
        crate::snapshot::forget(repo, &doomed, "repair snapshots")?;
    }
    Ok(out)
}

/// What `repair config` did.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigRepair {
    /// The repository id.
    pub id: Id,
    /// The key file whose copy was used, or `None` when none held a copy and the config was
    /// reconstructed from defaults.
    pub from_key: Option<Id>,
    /// What the user should know (a reconstructed config's assumptions).
    pub warnings: Vec<String>,
}

/// Write `config` again at `location` when it is missing, unreadable, or does not verify with the
/// key `password` unlocks (damaged or replaced): from the copy sealed in that key file, verified
/// with that key; or, when the key file holds none
/// (repositories made before copies existed), reconstructed from the key file's repository id and
/// the format version of the packs, with default chunker parameters (said in the warnings).
pub fn config(backend: &dyn Backend, password: &[u8]) -> Result<ConfigRepair> {
    let mut tried = 0;
    let mut unlocked = None;
    for key in backend.list(object_key::KEYS)? {
        let Ok(kf) = crate::object::get_decoded(backend, &key, KeyFile::decode) else { continue };
        let Some(repo_id) = kf.repository else { continue };
        tried += 1;
        match kf.unwrap_key(password, &repo_id) {
            Ok(master) => {
                unlocked = Some((object_key::id_of(&key).unwrap_or_default(), kf, repo_id, master));
                break;
            }
            Err(FormatError::WrongPassword) => {}
            Err(_) => {}
        }
    }
    let Some((key_id, kf, repo_id, master)) = unlocked else {
        return Err(if tried == 0 { StoreError::NoKey } else { StoreError::WrongPassword { keys: tried, damaged: 0 } });
    };
    let keys = master.keys();
    if let Ok(bytes) = backend.get(object_key::CONFIG)
        && Config::decode(&bytes).and_then(|c| c.verify(&keys)).is_ok_and(|c| c.id == repo_id)
    {
        return Err(StoreError::Invalid("the config is intact (it matches the key); `repair config` only replaces a missing or damaged one".into()));
    }
    let mut warnings = Vec::new();
    let (bytes, from_key) = match kf.sealed_config().map(|b| b.and_then(|b| Config::decode(&b).and_then(|c| c.verify(&keys)).map(|c| (c, b)))) {
        Some(Ok((config, bytes))) if config.id == repo_id => (bytes, Some(key_id)),
        _ => {
            let version = pack_version(backend)?;
            let mut config = Config::new(Default::default()).map_err(|e| StoreError::format("config", e))?;
            config.id = repo_id;
            config.version = version;
            config.created = kf.created;
            config.deltas = version >= 2;
            warnings.push(format!(
                "no key file holds a copy of the config: it was reconstructed with format version {version} (from the packs) and the default chunker (64 KiB average); \
                 restores and checks are unaffected, but if the repository was made with `init --chunk-avg` or `--no-deltas`, new ingests deduplicate less against old data"
            ));
            (config.encode(&keys), None)
        }
    };
    backend.delete(object_key::CONFIG)?;
    backend.put_new(object_key::CONFIG, &bytes)?;
    Ok(ConfigRepair { id: repo_id, from_key, warnings })
}

/// The format version packs are written in (the last byte of a pack's magic), 2 when there are
/// no packs.
fn pack_version(backend: &dyn Backend) -> Result<u32> {
    for key in backend.list(object_key::PACKS)?.into_iter().take(8) {
        if let Ok(head) = backend.get_range(&key, 0, 8)
            && head.starts_with(b"dbvpack")
        {
            return Ok(u32::from(head[7]));
        }
    }
    Ok(repo_format::FORMAT_VERSION)
}
