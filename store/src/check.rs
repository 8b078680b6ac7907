//! `check`: prove the repository still holds what its snapshots need.
//!
//! Structural check: every manifest and index segment decodes; every pack the index lists exists
//! with its recorded size and a header that agrees with the index; every snapshot's chunk-list tree
//! resolves, and every chunk it names is indexed, in an existing pack, with the length the tree
//! says. With read-data (all packs, or a deterministic subset), every blob of the chosen packs is
//! read, authenticated, decompressed and re-hashed, and each pack's bytes are checked against its
//! name. Problems are attributed to the snapshots (and databases) they damage.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use repo_format::object_key;
use repo_format::blob::{self, BlobKind, MAX_DELTA_DEPTH};
use repo_format::pack as fmt;
use repo_format::tree::Node;
use repo_format::Id;
use serde::Serialize;

use crate::delta::chain::{self, ChainEnd};
use crate::index::{BlobLocation, Index};
use crate::pack::PackReader;
use crate::repository::Repository;
use crate::snapshot;
use crate::{Result, StoreError};

/// Which packs to read in full.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadData {
    /// None: structural check only.
    No,
    /// Every pack.
    All,
    /// Part `n` of `m` (1-based): packs whose id, as a number, is `n - 1` modulo `m`. Running
    /// 1/m .. m/m over m days reads everything once.
    Part { n: u64, m: u64 },
    /// A random share of packs (0 < p <= 1).
    Fraction(f64),
}

impl ReadData {
    fn selects(&self, pack: &Id) -> bool {
        let x = u64::from_le_bytes(pack.0[..8].try_into().expect("8 bytes"));
        match *self {
            ReadData::No => false,
            ReadData::All => true,
            ReadData::Part { n, m } => x % m == n - 1,
            ReadData::Fraction(p) => {
                let mut r = [0u8; 8];
                let _ = repo_format::crypto::fill_random(&mut r);
                (u64::from_le_bytes(r) as f64 / u64::MAX as f64) < p
            }
        }
    }
}

/// What is wrong with one snapshot.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SnapshotDamage {
    /// The snapshot.
    pub snapshot: Id,
    /// Its database.
    pub db: String,
    /// Chunks (or chunk-list nodes) not in the index, or in a pack that is missing.
    pub missing: u64,
    /// Chunks or nodes that exist but failed verification.
    pub unreadable: u64,
    /// The first few problems in detail.
    pub examples: Vec<String>,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    /// Snapshots checked.
    pub snapshots: usize,
    /// Packs in the repository.
    pub packs: usize,
    /// Packs read in full.
    pub packs_read: usize,
    /// Blobs read and verified.
    pub blobs_read: u64,
    /// Packs no index segment lists (left by interrupted ingests; harmless).
    pub unindexed_packs: usize,
    /// Damaged blobs the index does not use (spare copies, or dropped by `repair index`):
    /// harmless, and removed by prune.
    pub unused_damaged_blobs: u64,
    /// Problems with repository objects, each naming the object.
    pub problems: Vec<String>,
    /// Snapshots that cannot be restored intact.
    pub damaged: Vec<SnapshotDamage>,
    /// Parents that snapshots name, gone without a forget record (with their database).
    pub parents_gone: Vec<(Id, String)>,
    /// Snapshots whose stored table of contents has blobs missing or unreadable, each said in
    /// words. Not a problem: the dump is intact and commands build the table of contents from it
    /// (a dbvault older than tables of contents prunes their blobs).
    pub damaged_tables_of_contents: Vec<String>,
}

impl CheckReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.damaged.is_empty()
    }
}

const EXAMPLES: usize = 5;

#[derive(Clone, Copy, Default)]
struct Counts {
    missing: u64,
    unreadable: u64,
}

struct Walker<'a> {
    index: &'a Index,
    reader: &'a PackReader<'a>,
    missing_packs: &'a HashSet<Id>,
    bad_blobs: &'a HashSet<Id>,
    memo: HashMap<Id, Counts>,
    examples: Vec<String>,
}

impl Walker<'_> {
    fn note(&mut self, what: String) {
        if self.examples.len() < EXAMPLES {
            self.examples.push(what);
        }
    }

    /// Classify one blob the tree needs: fine, missing, or unreadable. A delta is only as good as
    /// its chain of bases, each of which is classified the same way.
    fn blob_state(&mut self, id: &Id, kind: BlobKind, len: Option<u64>) -> Counts {
        let mut failed: Option<(Id, Counts)> = None;
        let walked = chain::walk(self.index, *id, MAX_DELTA_DEPTH, |member, loc| {
            let top = member == id;
            let what = if top { format!("{kind:?} {}", member.short()) } else { format!("chunk {}", member.short()) };
            let counts = if self.missing_packs.contains(&loc.pack) {
                self.note(format!("{what} is in pack {}, which is missing or damaged", loc.pack.short()));
                Counts { missing: 1, unreadable: 0 }
            } else if self.bad_blobs.contains(member) || (top && (!chain::holds(loc, kind) || len.is_some_and(|l| l != u64::from(loc.entry.raw_len)))) {
                self.note(format!("{what} in pack {} failed verification", loc.pack.short()));
                Counts { missing: 0, unreadable: 1 }
            } else {
                return Ok(true);
            };
            failed = Some((*member, counts));
            Ok(false)
        });
        let (at, counts) = match walked {
            Err(e) => {
                self.note(format!("{kind:?} {}: {e}", id.short()));
                return Counts { missing: 1, unreadable: 0 };
            }
            Ok(ChainEnd::Root) => return Counts::default(),
            Ok(ChainEnd::Stopped) => failed.expect("the walk stops only at a failed member"),
            Ok(ChainEnd::Missing(m)) => {
                let what = if m == *id { format!("{kind:?}") } else { "chunk".into() };
                self.note(format!("{what} {} is not in the index", m.short()));
                (m, Counts { missing: 1, unreadable: 0 })
            }
            Ok(end @ (ChainEnd::NotAChunk(m, _) | ChainEnd::TooDeep(m))) => {
                self.note(end.error().map_or_else(String::new, |e| e.to_string()));
                (m, Counts { missing: 0, unreadable: 1 })
            }
        };
        if at != *id {
            self.note(format!("chunk {} is a delta whose base {} cannot be used", id.short(), at.short()));
        }
        counts
    }

    fn node(&mut self, id: &Id, expect_level: Option<u8>, expect_len: Option<u64>) -> Counts {
        if let Some(c) = self.memo.get(id) {
            return *c;
        }
        let mut c = self.blob_state(id, BlobKind::TreeNode, None);
        if c.missing + c.unreadable > 0 {
            self.memo.insert(*id, c);
            return c;
        }
        let node = match self.reader.load(self.index, id, BlobKind::TreeNode).and_then(|p| {
            Node::decode(&p).map_err(|e| StoreError::format(format!("chunk-list node {}", id.short()), e))
        }) {
            Ok(n) if expect_level.is_none_or(|l| l == n.level) && expect_len.is_none_or(|l| l == n.total_len()) => n,
            Ok(_) => {
                self.note(format!("chunk-list node {} does not fit its parent", id.short()));
                return Counts { missing: 0, unreadable: 1 };
            }
            Err(e) => {
                self.note(format!("chunk-list node {}: {e}", id.short()));
                return Counts { missing: 0, unreadable: 1 };
            }
        };
        for e in &node.entries {
            let sub = if node.level == 0 {
                self.blob_state(&e.id, BlobKind::Chunk, Some(e.len))
            } else {
                self.node(&e.id, Some(node.level - 1), Some(e.len))
            };
            c.missing += sub.missing;
            c.unreadable += sub.unreadable;
        }
        self.memo.insert(*id, c);
        c
    }
}

/// Check the repository; `progress` is told each phase's name and how far it got.
pub fn check(repo: &Repository, read_data: ReadData, progress: Option<&crate::Progress<'_>>) -> Result<CheckReport> {
    let report_progress = |phase: &str, done: u64, total: u64| {
        if let Some(p) = progress {
            p(phase, done, total);
        }
    };
    // The index is compared with the whole repository first, not trusted because `snapshots/` looks
    // unchanged: a segment deleted by hand must show (as the blobs it listed going missing).
    // (Gone segments are normal after another client's prune; if what they listed is still
    // needed, the snapshots needing it show as damaged below, with the way back.)
    repo.sync(&repo.open_index_writer()?)?;
    let index = repo.index_reader()?;
    let mut report = CheckReport::default();

    // 1. Manifests and index segments as stored, not as this machine's index remembers them:
    //    a client without that index would miss what they hold.
    for d in snapshot::damaged_manifests(repo)? {
        let cached = d.id.map(|id| index.snapshot(&id)).transpose()?.flatten().is_some_and(|b| d.id == Some(Id::of_bytes(&b)));
        report.problems.push(format!(
            "{}: snapshot manifest is damaged ({}); {}",
            d.key,
            d.problem,
            if cached { "this machine's index holds an intact copy: `dbvault repair snapshots` writes it back" } else { "that snapshot cannot be restored" }
        ));
    }
    for key in repo.backend().list(object_key::INDEX)? {
        // (A store that fails to send one is an error of the check, not damage.)
        if repo.read_segment(&key)?.is_err() {
            report.problems.push(format!("{key}: index segment is damaged (the blobs of its packs are unindexed for a new client: `dbvault repair index` recovers them from pack headers)"));
        }
    }

    // 2. Packs: existence, size, header agreement with the index.
    let mut on_disk: HashMap<Id, u64> = HashMap::new();
    for key in repo.backend().list(object_key::PACKS)? {
        if let Some(id) = object_key::id_of(&key) {
            on_disk.insert(id, repo.backend().size(&key)?);
        }
    }
    report.packs = on_disk.len();
    let indexed = index.packs()?;
    let indexed_ids: HashSet<Id> = indexed.iter().map(|(id, _, _)| *id).collect();
    report.unindexed_packs = on_disk.keys().filter(|id| !indexed_ids.contains(id)).count();
    let mut missing_packs = HashSet::new();
    for (n, (id, len, _count)) in indexed.iter().enumerate() {
        report_progress("checking packs", n as u64, indexed.len() as u64);
        let key = object_key::pack(id);
        match on_disk.get(id) {
            None => {
                report.problems.push(format!("{key}: pack is missing"));
                missing_packs.insert(*id);
                continue;
            }
            Some(size) if size != len => {
                report.problems.push(format!("{key}: pack has {size} bytes, the index says {len} (truncated or replaced)"));
                missing_packs.insert(*id);
                continue;
            }
            Some(_) => {}
        }
        match crate::pack::read_header(repo, id, *len) {
            Err(e) => {
                report.problems.push(format!("{key}: header unreadable: {e}"));
                missing_packs.insert(*id);
            }
            Ok(entries) => {
                for e in entries {
                    if let Ok(Some(loc)) = index.get(&e.id)
                        && loc.pack == *id
                        && loc.entry != e
                    {
                        report.problems.push(format!("{key}: blob {} is recorded differently in the pack header and the index", e.id.short()));
                    }
                }
            }
        }
    }

    // 3. Read data: authenticate, decompress and re-hash every blob of the chosen packs.
    let reader = PackReader::new(repo);
    let mut bad_blobs = HashSet::new();
    if read_data != ReadData::No {
        let chosen: Vec<Id> = indexed_ids.iter().filter(|id| !missing_packs.contains(id) && read_data.selects(id)).copied().collect();
        for (n, id) in chosen.iter().enumerate() {
            report_progress("reading packs", n as u64, chosen.len() as u64);
            let key = object_key::pack(id);
            let bytes = match crate::pack::whole_pack(repo, id) {
                Ok(b) => b,
                Err(e) => {
                    report.problems.push(format!("{key}: {e}"));
                    missing_packs.insert(*id);
                    continue;
                }
            };
            report.packs_read += 1;
            let altered = Id::of_bytes(&bytes) != *id;
            let entries = match fmt::read_entries(repo.keys(), &bytes) {
                Ok(e) => e,
                Err(e) => {
                    report.problems.push(format!("{key}: {e}"));
                    missing_packs.insert(*id);
                    continue;
                }
            };
            let sealed = |e: &fmt::PackEntry| &bytes[e.offset as usize..(e.offset + e.stored_len) as usize];
            let (deltas, wholes): (Vec<&fmt::PackEntry>, Vec<&fmt::PackEntry>) = entries.iter().partition(|e| e.delta.is_some());
            let mut failed: Vec<(Id, String)> = wholes
                .par_iter()
                .filter_map(|e| blob::open(repo.keys(), e.kind, e.codec, &e.id, e.raw_len, sealed(e)).err().map(|err| (e.id, err.to_string())))
                .collect();
            // End to end: each delta's base chain is read and the rebuilt chunk re-hashed, the
            // bases of a pack's deltas loaded together (merged reads).
            let located: Vec<(Id, BlobLocation, &[u8])> = deltas.iter().map(|e| (e.id, BlobLocation::of(*id, e), sealed(e))).collect();
            for (e, r) in deltas.iter().zip(reader.open_deltas(&index, &located)) {
                if let Err(err) = r {
                    failed.push((e.id, err.to_string()));
                }
            }
            report.blobs_read += entries.len() as u64;
            let mut used_failed = 0;
            for (blob_id, err) in &failed {
                // Only the copy the index uses matters; a damaged spare copy harms nothing.
                if index.get(blob_id)?.is_some_and(|l| l.pack == *id) {
                    bad_blobs.insert(*blob_id);
                    used_failed += 1;
                    report.problems.push(format!("{key}: blob {} unreadable: {err}", blob_id.short()));
                } else {
                    report.unused_damaged_blobs += 1;
                }
            }
            // Altered bytes that no failing blob explains (or that a used blob shows) are a problem.
            if altered && (failed.is_empty() || used_failed > 0) {
                report.problems.push(format!("{key}: content does not match its name (altered or corrupted)"));
            }
        }
    }

    // 4. Every snapshot's tree, attributing problems to snapshots; and its lineage: a parent
    //    that is gone must have been forgotten (a forget record names it), not lost.
    let snaps = snapshot::list(repo, &index, None)?;
    report.snapshots = snaps.len();
    let present: HashSet<Id> = snaps.iter().map(|s| s.id).collect();
    let forgotten = snapshot::forgotten(repo)?;
    for s in &snaps {
        if let Some(p) = s.manifest.parent.filter(|p| !present.contains(p) && !forgotten.contains(p)) {
            report.parents_gone.push((p, s.manifest.db.clone()));
            report.problems.push(format!(
                "snapshot {} of db {} names parent {}, which is gone and was not forgotten by dbvault (its manifest was deleted by hand or lost; `dbvault forget` records what it removes, `dbvault repair snapshots --forget` records this one)",
                s.id.short(),
                s.manifest.db,
                p.short()
            ));
        }
    }
    let mut walker = Walker { index: &index, reader: &reader, missing_packs: &missing_packs, bad_blobs: &bad_blobs, memo: HashMap::new(), examples: Vec::new() };
    let unindexed_hint = format!(
        "{} pack(s) no index segment lists may hold what is missing: `dbvault repair index` recovers their entries from the pack headers",
        report.unindexed_packs
    );
    for (n, s) in snaps.iter().enumerate() {
        report_progress("checking snapshots", n as u64, snaps.len() as u64);
        walker.examples.clear();
        let c = walker.node(&s.manifest.tree, None, Some(s.manifest.size));
        if c.missing + c.unreadable > 0 {
            report.damaged.push(SnapshotDamage {
                snapshot: s.id,
                db: s.manifest.db.clone(),
                missing: c.missing,
                unreadable: c.unreadable,
                examples: walker.examples.clone(),
            });
        }
        if let Some(toc) = &s.manifest.toc {
            let c = walker.node(&toc.tree, None, Some(toc.size));
            if c.missing + c.unreadable > 0 {
                report.damaged_tables_of_contents.push(format!(
                    "snapshot {} of db {}: its table of contents has {} missing and {} unreadable blob(s); the dump is intact, and commands read it instead (a dbvault older than 2026-12-07 pruning this repository drops them)",
                    s.id.short(),
                    s.manifest.db,
                    c.missing,
                    c.unreadable
                ));
            }
        }
    }
    if report.unindexed_packs > 0 && report.damaged.iter().any(|d| d.missing > 0) {
        report.problems.push(unindexed_hint);
    }
    Ok(report)
}
