//! Prune as a plan, then its execution: the plan a dry run shows is the one carried out, and an
//! ingest that commits between planning and deleting keeps what it deduplicated against.

mod common;

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use common::*;
use dbvault_benches::dumpgen::{DailyChange, DumpSeries};
use repo_format::Id;
use repo_format::blob::{self, BlobKind};
use store::check::{ReadData, check};
use store::ingest::{IngestOptions, IngestSummary, ingest};
use store::pack::PackWriter;
use store::prune::{self, PruneOptions, PrunePlan, PruneReport, phase};
use store::snapshot::{self, Snapshot};
use store::{InitOptions, Repository};

/// Two days of a table: a few rows change (with small chunks, most chunks stay the same).
fn two_days(seed: u64) -> Vec<Vec<u8>> {
    let mut series = DumpSeries::new(20_000, seed);
    let first = series.dump();
    series.advance_day(DailyChange { update: 0.001, insert: 0.0005, delete: 0.0002 });
    vec![first, series.dump()]
}

fn snapshots(repo: &Repository) -> Vec<Snapshot> {
    snapshot::list(repo, &repo.index_reader().unwrap(), None).unwrap()
}

fn clean_check(repo: &Repository) {
    let r = check(repo, ReadData::All, None).unwrap();
    assert!(r.problems.is_empty() && r.damaged.is_empty(), "check --read-data found {:?} {:?}", r.problems, r.damaged);
}

/// Every pack the plan deletes or rewrites.
fn doomed_by(plan: &PrunePlan) -> BTreeSet<Id> {
    plan.delete.iter().chain(plan.repack.iter().map(|r| &r.pack)).chain(&plan.orphans).copied().collect()
}

fn pack_ids(t: &TestRepo) -> BTreeSet<Id> {
    packs(&t.path()).iter().map(|p| p.file_name().unwrap().to_str().unwrap().parse().unwrap()).collect()
}

/// A pack no index segment lists, as an ingest killed after writing it leaves behind.
fn orphan_pack(repo: &Repository) -> Id {
    let plain = b"a chunk of an ingest that never committed".repeat(50);
    let id = blob::blob_id(repo.keys(), BlobKind::Chunk, &plain);
    let mut w = PackWriter::new(repo);
    w.add(&blob::seal(repo.keys(), BlobKind::Chunk, id, &plain, 3).unwrap()).unwrap();
    w.finish_pack().unwrap();
    w.take_finished().unwrap()[0].pack_id
}

#[test]
fn a_dry_run_shows_the_plan_that_the_run_then_carries_out() {
    // Without deltas, so that the first day's changed chunks are garbage, not bases; small
    // chunks, so that its pack holds both those and chunks the second day shares.
    let t = TestRepo::new(InitOptions { no_deltas: true, ..small_chunks() });
    let days = two_days(31);
    let first = t.ingest("shop", &days[0]).snapshot;
    let second = t.ingest("shop", &days[1]).snapshot;
    let gone = t.ingest("gone", b"a database nobody keeps\n".repeat(100).as_slice()).snapshot;
    snapshot::forget(&t.repo, &[first, gone], "test").unwrap();
    let orphan = orphan_pack(&t.repo);
    let opts = PruneOptions { max_unused: 0.0 };

    // The dry run changes nothing, and plans all three kinds of work.
    let before = tree_contents(&t.path().join("packs"));
    let dry = PruneReport::not_carried_out(prune::plan(&t.repo, &opts, None).unwrap());
    assert_eq!(tree_contents(&t.path().join("packs")), before, "planning changed packs");
    let p = &dry.plan;
    assert!(!p.delete.is_empty() && !p.repack.is_empty(), "no pack to delete or rewrite: {p:?}");
    assert_eq!(p.orphans, vec![orphan]);
    assert!(p.repack.iter().all(|r| !r.keep.is_empty() && r.unused_bytes > 0));
    // Its JSON keeps the keys scripts read: `repack` lists pack ids, like `delete` and `orphans`.
    let json = serde_json::to_value(&dry).unwrap();
    assert_eq!(json["plan"]["repack"][0].as_str(), Some(p.repack[0].pack.to_hex().as_str()), "{json}");
    assert_eq!(json["plan"]["orphans"][0].as_str(), Some(orphan.to_hex().as_str()));
    for key in ["snapshots", "used_blobs", "packs", "delete", "bytes_freed_estimate", "unused_bytes_kept"] {
        assert!(json["plan"].get(key).is_some(), "plan.{key} is missing: {json}");
    }

    // The run plans the same and does exactly that.
    let all_before = pack_ids(&t);
    let r = prune::prune(&t.repo, &opts, None).unwrap();
    assert_eq!((&r.plan.delete, &r.plan.orphans), (&p.delete, &p.orphans));
    assert_eq!(r.plan.repack.iter().map(|x| (x.pack, x.keep.clone())).collect::<Vec<_>>(), p.repack.iter().map(|x| (x.pack, x.keep.clone())).collect::<Vec<_>>());
    assert!(r.spared.is_empty() && r.left_alone.is_empty(), "{r:?}");
    assert_eq!(r.deleted.iter().copied().collect::<BTreeSet<_>>(), doomed_by(p), "deleted other packs than planned");
    assert_eq!(r.packs_deleted, r.deleted.len());
    let all_after = pack_ids(&t);
    let written: BTreeSet<Id> = r.written.iter().copied().collect();
    assert!(!written.is_empty());
    assert_eq!(all_after, all_before.difference(&doomed_by(p)).copied().chain(written).collect(), "the packs on disk are not the plan's outcome");

    let kept = snapshots(&t.repo);
    assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![second.id]);
    assert_eq!(t.restore(&kept[0]).unwrap(), days[1]);
    clean_check(&t.repo);
    // Nothing is left to do.
    let again = prune::plan(&t.repo, &opts, None).unwrap();
    assert!(doomed_by(&again).is_empty(), "{again:?}");
}

/// A prune whose progress callback, once the plan is made and before execution takes the
/// `ingest` role exclusively, calls `meanwhile` (once).
fn prune_with(repo: &Repository, meanwhile: impl FnOnce() + Send) -> PruneReport {
    let meanwhile = Mutex::new(Some(meanwhile));
    let hook = |p: &str, _: u64, _: u64| {
        if p == phase::WAITING_FOR_INGESTS {
            let f = meanwhile.lock().unwrap().take().expect("the hook is reached once");
            f();
        }
    };
    let r = prune::prune(repo, &PruneOptions { max_unused: 0.0 }, Some(&hook)).unwrap();
    assert!(meanwhile.lock().unwrap().is_none(), "the hook was never reached");
    r
}

/// After a prune with a late ingest of `again` (committed as `s`): the plan had doomed what the
/// ingest deduplicated against, the report names the packs spared for it, and everything restores.
fn assert_late_ingest_survived(t: &TestRepo, r: &PruneReport, s: &IngestSummary, again: &[u8], kept: &[u8]) {
    assert_eq!(s.snapshot.manifest.added.chunks, 0, "the late ingest did not deduplicate against the forgotten day's chunks");
    assert!(!r.spared.is_empty(), "no pack was spared for the late snapshot: {r:?}");
    assert_eq!(r.packs_spared, r.spared.len());
    // Spared: packs the plan would delete, or rewrite (a pack whose few used blobs it would move;
    // which pack a small blob lands in varies between runs).
    let doomed = doomed_by(&r.plan);
    assert!(r.spared.iter().all(|p| doomed.contains(p)), "spared packs the plan neither deleted nor rewrote: {r:?}");
    let deleted: BTreeSet<Id> = r.deleted.iter().copied().collect();
    assert_eq!(deleted.len() + r.spared.len() + r.left_alone.len(), doomed.len(), "a planned pack is neither deleted, spared nor left alone: {r:?}");
    let on_disk = pack_ids(t);
    assert!(r.spared.iter().all(|p| on_disk.contains(p)) && deleted.is_disjoint(&on_disk));
    assert_eq!(t.restore(&s.snapshot).unwrap(), again, "the late snapshot lost data to prune");
    let latest = snapshots(&t.repo).into_iter().find(|x| x.manifest.db == "crm").unwrap();
    assert_eq!(t.restore(&latest).unwrap(), kept);
    clean_check(&t.repo);
    // The next prune keeps it too.
    let next = prune::prune(&t.repo, &PruneOptions { max_unused: 0.0 }, None).unwrap();
    assert!(next.spared.is_empty(), "{next:?}");
    assert_eq!(t.restore(&s.snapshot).unwrap(), again);
    clean_check(&t.repo);
}

/// A repository of two databases, one of them forgotten: its chunks are garbage to the next plan,
/// in packs of their own. Returns the forgotten dump and the kept one.
fn forgotten_database(seed: u64) -> (TestRepo, Vec<u8>, Vec<u8>) {
    let t = TestRepo::new(fast_init());
    let (gone, kept) = (DumpSeries::new(20_000, seed).dump(), DumpSeries::new(5_000, seed + 100).dump());
    let first = t.ingest("shop", &gone).snapshot;
    t.ingest("crm", &kept);
    snapshot::forget(&t.repo, &[first], "test").unwrap();
    (t, gone, kept)
}

#[test]
fn an_ingest_committed_between_plan_and_deletion_keeps_what_it_deduplicated_against() {
    let (t, gone, kept) = forgotten_database(32);
    // The forgotten day, ingested again after the plan is made: every chunk deduplicates against
    // data the plan deletes. The ingest runs to its commit inside the hook: it takes the shared
    // `ingest` role, which prune does not hold yet.
    let late = Mutex::new(None);
    let r = prune_with(&t.repo, || {
        *late.lock().unwrap() = Some(ingest(&t.repo, gone.as_slice(), IngestOptions { db: "shop-again".into(), ..Default::default() }).unwrap());
    });
    let s = late.into_inner().unwrap().unwrap();
    assert_late_ingest_survived(&t, &r, &s, &gone, &kept);
}

/// Input that stops halfway and says so, then waits until it is let go on.
struct Gated {
    data: Vec<u8>,
    pos: usize,
    halted: Option<Sender<()>>,
    resume: Receiver<()>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let half = self.data.len() / 2;
        if self.pos == half
            && let Some(halted) = self.halted.take()
        {
            halted.send(()).unwrap();
            self.resume.recv().unwrap();
        }
        let end = if self.pos < half { half } else { self.data.len() };
        let n = buf.len().min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..end][..n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn prune_waits_for_an_ingest_that_runs_across_its_plan_and_spares_its_data() {
    let (t, gone, kept) = forgotten_database(33);
    // Another process's view of the repository: its own Repository, the same local folder.
    let other = Repository::open(&t.path(), PASSWORD).unwrap();
    let (halted_tx, halted) = channel();
    let (resume, resume_rx) = channel();
    let input = Gated { data: gone.clone(), pos: 0, halted: Some(halted_tx), resume: resume_rx };
    let done = AtomicBool::new(false);
    let (r, s) = std::thread::scope(|scope| {
        let ingesting = scope.spawn(|| {
            let s = ingest(&other, input, IngestOptions { db: "shop-again".into(), ..Default::default() });
            done.store(true, Ordering::SeqCst);
            s
        });
        // Half of the dump is in, deduplicated against the first day's chunks; the ingest holds
        // the shared `ingest` role while it waits for the rest.
        halted.recv().unwrap();
        let resume = Mutex::new(resume);
        let r = prune_with(&t.repo, || {
            assert!(!done.load(Ordering::SeqCst), "the ingest ended before prune planned");
            resume.lock().unwrap().send(()).unwrap();
        });
        // Prune took the `ingest` role only once the ingest had committed: phase 4 saw its
        // snapshot (the spared packs, checked below).
        (r, ingesting.join().unwrap().unwrap())
    });
    assert_late_ingest_survived(&t, &r, &s, &gone, &kept);
}

#[test]
fn prune_refuses_while_a_pack_holding_needed_blobs_is_unindexed_and_works_after_repair() {
    let mut t = TestRepo::new(small_chunks());
    let days = two_days(11);
    let s = t.ingest("shop", &days[0]);
    // The segments are lost: every pack is unindexed, so the index lacks what the snapshot needs.
    for seg in std::fs::read_dir(t.path().join("index")).unwrap() {
        std::fs::remove_file(seg.unwrap().path()).unwrap();
    }
    // (A new client: this machine's index is rebuilt from what the repository holds.)
    std::fs::remove_dir_all(store::index::db_path(t.repo.local_dir())).unwrap();
    t.reopen();
    let before = pack_ids(&t);
    let err = prune::plan(&t.repo, &PruneOptions { max_unused: 0.0 }, None).unwrap_err().to_string();
    assert!(err.contains("incomplete index") && err.contains("repair index"), "{err}");
    let err = prune::prune(&t.repo, &PruneOptions { max_unused: 0.0 }, None).unwrap_err().to_string();
    assert!(err.contains("incomplete index"), "{err}");
    assert_eq!(pack_ids(&t), before, "nothing was deleted");
    // `repair index` indexes the packs from their headers; prune then keeps the snapshot's data.
    store::repair::index(&t.repo, false, None).unwrap();
    prune::prune(&t.repo, &PruneOptions { max_unused: 0.0 }, None).unwrap();
    assert_eq!(t.restore(&s.snapshot).unwrap(), days[0]);
    clean_check(&t.repo);
}
