//! An object store that fails, loses writes or lists nothing, simulated by the memory backend's
//! planned faults: errors are clear and name the object, nothing half-done is committed, and the
//! repository stays sound (check passes, the next ingest works, prune cleans up).

mod common;

use std::sync::Arc;

use common::*;
use store::StoreError;
use store::backend::{BackendError, Fault, MemoryBackend, Op};
use store::check::{CheckReport, ReadData, check};

fn text(n: u32) -> Vec<u8> {
    (0..n).flat_map(|i| format!("INSERT INTO t VALUES ({i}, 'row {}');\n", i * 7919 % 1000).into_bytes()).collect()
}

fn check_all(repo: &store::Repository) -> CheckReport {
    check(repo, ReadData::All, None).unwrap()
}

/// Temporary packs left in a client's cache folder.
fn temp_packs(repo: &store::Repository) -> usize {
    std::fs::read_dir(repo.local_dir().join("tmp")).map_or(0, |d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-pack-")).count())
}

/// A stream of about 36 MB stored as it is: three packs (of 16 MB at most).
fn three_packs() -> Vec<u8> {
    noise(36 << 20, 2)
}

#[test]
fn an_ingest_whose_pack_upload_fails_commits_nothing_and_the_repository_stays_sound() {
    // One upload at a time (a folder's way) and four at once (an object store's).
    for parallel in [1, 4] {
        let m = MemRepo::on(MemoryBackend::new().with_parallel_puts(parallel), fast_init());
        let first = noise(1 << 20, 1);
        let good = m.ingest("shop", &first);
        let data = three_packs();
        m.backend.inject(Fault::fail(Op::Put).under("packs/").nth(2));
        let err = ingest_into(&m.repo, "shop", &data).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(&err, StoreError::Backend(BackendError::Remote { key, .. }) if key.starts_with("packs/")), "{parallel}: {msg}");
        assert!(msg.contains("fault injected") && !err.is_integrity(), "{msg}");
        assert_eq!(m.backend.faults_fired(), 1);
        // The writer waited for the uploads it had started: nothing is left running or on disk.
        assert_eq!(temp_packs(&m.repo), 0, "{parallel}: no temporary pack outlives the failed ingest");

        // No snapshot; the earlier one intact; every stored pack sound.
        assert_eq!(m.snapshots().iter().map(|s| s.id).collect::<Vec<_>>(), [good.snapshot.id], "{parallel}");
        assert_eq!(m.restore(&good.snapshot).unwrap(), first);
        let report = check_all(&m.repo);
        assert!(report.ok() && report.packs_read == report.packs - report.unindexed_packs, "{parallel}: {report:?}");
        assert!(report.unindexed_packs >= 1, "{parallel}: the packs uploaded before the failure are left for prune: {report:?}");

        // The next ingest works, with the right parent; prune removes what the failed one left.
        let next = m.ingest("shop", &data);
        assert_eq!(next.snapshot.manifest.parent, Some(good.snapshot.id));
        assert_eq!(m.restore(&next.snapshot).unwrap(), data);
        let pruned = store::prune::prune(&m.repo, &store::prune::PruneOptions { max_unused: 0.0 }, None).unwrap();
        assert!(!pruned.plan.orphans.is_empty() && pruned.packs_deleted >= pruned.plan.orphans.len(), "{parallel}: {pruned:?}");
        let report = check_all(&m.repo);
        assert!(report.ok() && report.unindexed_packs == 0 && report.packs_read == report.packs, "{parallel}: {report:?}");
        assert_eq!(m.restore(&next.snapshot).unwrap(), data);
    }
}

#[test]
fn a_write_that_landed_although_it_reported_failure_leaves_the_repository_sound() {
    // The pack reached the store but its reply was lost: the ingest fails, the pack stays
    // unreferenced, and the retry (a new ingest) commits.
    let m = MemRepo::new(fast_init());
    let data = three_packs();
    m.backend.inject(Fault::fail_after_storing().under("packs/").nth(2));
    assert!(ingest_into(&m.repo, "shop", &data).is_err());
    assert!(m.snapshots().is_empty());
    let s = m.ingest("shop", &data);
    assert_eq!(m.restore(&s.snapshot).unwrap(), data);
    let pruned = store::prune::prune(&m.repo, &store::prune::PruneOptions { max_unused: 0.0 }, None).unwrap();
    assert_eq!(pruned.plan.orphans.len(), 2, "the two packs of the failed run: {pruned:?}");
    let report = check_all(&m.repo);
    assert!(report.ok() && report.unindexed_packs == 0, "{report:?}");
}

#[test]
fn a_lost_or_truncated_pack_write_is_found_by_check_and_repair_index_lets_the_next_ingest_store_it_again() {
    for (what, fault) in [("lost", Fault::lose_write()), ("truncated", Fault::truncate_write(1000))] {
        let m = MemRepo::new(small_chunks());
        let data = text(20_000);
        m.backend.inject(fault.under("packs/"));
        // The store said yes: the ingest commits a snapshot whose only pack is not there intact.
        let lost = m.ingest("shop", &data);
        assert_eq!(m.backend.faults_fired(), 1);
        let packs: Vec<String> = m.backend.keys().into_iter().filter(|k| k.starts_with("packs/")).collect();
        assert_eq!(packs.len(), usize::from(what == "truncated"), "{what}: {packs:?}");

        let report = check_all(&m.repo);
        assert!(!report.ok(), "{what}: {report:?}");
        assert!(report.damaged.iter().any(|d| d.snapshot == lost.snapshot.id), "{what}: the snapshot is named: {report:?}");
        assert!(report.problems.iter().any(|p| p.contains("packs/")), "{what}: the pack is named: {report:?}");
        let err = m.restore(&lost.snapshot).unwrap_err();
        assert!(err.is_integrity(), "{what}: {err}");

        // Repair drops the pack from the index, so its chunks are no longer taken as stored.
        let repaired = store::repair::index(&m.repo, true, None).unwrap();
        assert_eq!(repaired.packs_dropped.len(), 1, "{what}: {repaired:?}");
        let again = m.ingest("shop", &data);
        let added = &again.snapshot.manifest.added;
        assert_eq!(added.chunks, again.snapshot.manifest.chunks, "{what}: every chunk is stored again");
        assert_eq!(m.restore(&again.snapshot).unwrap(), data, "{what}");
        // Chunk ids do not depend on the pack: the snapshot whose pack was lost is whole again.
        let report = check_all(&m.repo);
        assert!(report.ok() && report.snapshots == 2, "{what}: {report:?}");
        assert_eq!(m.restore(&lost.snapshot).unwrap(), data, "{what}");
    }
}

/// `restore` of `snap` into memory: its result and the bytes it wrote before stopping.
fn restore_partial(m: &MemRepo, snap: &store::snapshot::Snapshot) -> (Result<(), StoreError>, Vec<u8>) {
    let mut out = Vec::new();
    let idx = m.repo.index_reader().unwrap();
    let r = store::restore::restore(&m.repo, &idx, snap, &mut out, None).map(drop);
    (r, out)
}

#[test]
fn read_failures_during_restore_name_the_object_and_never_pass_for_a_whole_stream() {
    let m = MemRepo::new(fast_init());
    let data = noise(30 << 20, 3);
    let s = m.ingest("shop", &data);

    // A store that fails (its client has retried already: no retry per blob) or a pack that is
    // gone: an error naming the snapshot and the pack, told apart as an outage or as damage,
    // after a true prefix of the stream.
    for (fault, damage) in [(Fault::fail(Op::GetRange).nth(2), false), (Fault::not_found(Op::GetRange).nth(3).always(), true)] {
        m.backend.clear_faults();
        m.backend.inject(fault.under("packs/"));
        let fired = m.backend.faults_fired();
        let (r, out) = restore_partial(&m, &s.snapshot);
        let err = r.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&s.snapshot.id.short()) && msg.contains("db shop") && msg.contains("packs/"), "{msg}");
        assert_eq!(err.is_integrity(), damage, "{msg}");
        assert!(out.len() < data.len() && data.starts_with(&out), "only a true prefix was written: {} of {} bytes", out.len(), data.len());
        assert!(m.backend.faults_fired() > fired);
    }
    m.backend.clear_faults();
    assert!(m.restore(&s.snapshot).unwrap() == data);
}

#[test]
fn a_failing_listing_during_sync_errors_clearly_and_changes_nothing() {
    let m = MemRepo::new(small_chunks());
    let data = text(5_000);
    let first = m.ingest("shop", &data);
    let machine_b = tempfile::tempdir().unwrap();
    let b = m.client(machine_b.path());
    for folder in ["index", "snapshots"] {
        m.backend.inject(Fault::fail(Op::List).under(&format!("{folder}/")).always());
        // A new client (nothing to start from) and this one (an object store is listed each time).
        for repo in [&b, &m.repo] {
            let err = repo.index_reader().unwrap_err();
            let msg = err.to_string();
            assert!(matches!(&err, StoreError::Backend(BackendError::Remote { key, .. }) if key == folder), "{msg}");
            assert!(msg.contains("fault injected"), "{msg}");
        }
        let err = ingest_into(&m.repo, "shop", &text(6_000)).unwrap_err();
        assert!(matches!(err, StoreError::Backend(BackendError::Remote { .. })), "{err}");
        m.backend.clear_faults();
        assert_eq!(m.snapshots().iter().map(|s| s.id).collect::<Vec<_>>(), [first.snapshot.id], "{folder}: nothing was committed");
    }
    let listed = store::snapshot::list(&b, &b.index_reader().unwrap(), None).unwrap();
    assert_eq!(listed.iter().map(|s| s.id).collect::<Vec<_>>(), [first.snapshot.id]);
    assert_eq!(restore_from(&b, &listed[0]).unwrap(), data);
}

#[test]
fn objects_the_store_fails_to_send_during_sync_stop_it_instead_of_being_skipped_as_damaged() {
    // Machine B commits a snapshot; machine A cannot read its manifest (or segment) from the store.
    // Skipping it as damaged would give A's next snapshot the wrong parent (a forked lineage).
    for folder in ["snapshots/", "index/"] {
        let m = MemRepo::new(small_chunks());
        let first = m.ingest("shop", &text(1_000));
        let cache_b = tempfile::tempdir().unwrap();
        let b = m.client(cache_b.path());
        let second = ingest_into(&b, "shop", &text(2_000)).unwrap();
        assert_eq!(second.snapshot.manifest.parent, Some(first.snapshot.id));
        m.backend.inject(Fault::fail(Op::Get).under(folder).always());
        let err = ingest_into(&m.repo, "shop", &text(3_000)).unwrap_err();
        assert!(matches!(&err, StoreError::Backend(BackendError::Remote { key, .. }) if key.starts_with(folder)), "{folder}: {err}");
        let warnings = m.repo.take_warnings();
        assert!(warnings.iter().all(|w| !w.contains("damaged")), "{folder}: an outage is not damage: {warnings:?}");
        m.backend.clear_faults();
        let third = m.ingest("shop", &text(3_000));
        assert_eq!(third.snapshot.manifest.parent, Some(second.snapshot.id), "{folder}");
        assert_eq!(m.snapshots().len(), 3);
    }
}

/// `check` reads manifests and segments as stored; a store that fails to send one is an error of
/// the check (it cannot go on), not damage of the repository.
#[test]
fn check_does_not_take_an_unreachable_store_for_damage() {
    let m = MemRepo::new(small_chunks());
    m.ingest("shop", &text(1_000));
    m.repo.index_reader().unwrap();
    for folder in ["snapshots/", "index/"] {
        m.backend.clear_faults();
        m.backend.inject(Fault::fail(Op::Get).under(folder).always());
        match check(&m.repo, ReadData::No, None) {
            Err(e) => assert!(!e.is_integrity(), "{folder}: {e}"),
            Ok(report) => assert!(report.problems.iter().all(|p| !p.contains("damaged")), "{folder}: {:?}", report.problems),
        }
    }
}

#[test]
fn a_stale_cache_is_caught_up_after_another_clients_prune() {
    // (Was an S3 test: two machines are two cache folders over the same objects.)
    let m = MemRepo::new(fast_init());
    let days = [noise(3 << 20, 4), noise(3 << 20, 5)];
    let first = m.ingest("shop", &days[0]);
    // Machine B forgets that snapshot and prunes: its packs are deleted.
    let cache_b = tempfile::tempdir().unwrap();
    let b = m.client(cache_b.path());
    let snaps = store::snapshot::list(&b, &b.index_reader().unwrap(), None).unwrap();
    store::snapshot::forget(&b, &snaps, "test").unwrap();
    let pruned = store::prune::prune(&b, &store::prune::PruneOptions { max_unused: 0.0 }, None).unwrap();
    assert!(pruned.packs_deleted > 0, "{pruned:?}");
    let second = ingest_into(&b, "crm", &days[1]).unwrap();

    // Machine A's index still lists the deleted chunks. Ingesting the same dump again must store
    // them anew, not deduplicate against data that is gone.
    let again = m.ingest("shop", &days[0]);
    assert!(again.snapshot.manifest.added.raw_bytes > days[0].len() as u64 / 2, "stored anew: {:?}", again.snapshot.manifest.added);
    let ids: Vec<_> = m.snapshots().iter().map(|s| s.id).collect();
    assert!(ids.contains(&second.snapshot.id) && !ids.contains(&first.snapshot.id), "{ids:?}");
    assert_eq!(m.restore(&again.snapshot).unwrap(), days[0]);
    let report = check_all(&b);
    assert!(report.ok(), "{report:?}");
}

#[test]
fn operations_are_counted_so_a_test_can_bound_them() {
    // What restoring costs an object store: whole packs are never fetched, and one ingest writes
    // each pack once.
    let backend = Arc::new(MemoryBackend::new());
    let cache = tempfile::tempdir().unwrap();
    let location = store::Location::Memory(backend.clone());
    let repo = store::Repository::init_at(&location, PASSWORD, fast_init(), &cache_access(cache.path())).unwrap();
    let data = noise(20 << 20, 6);
    backend.reset_counts();
    let s = ingest_into(&repo, "shop", &data).unwrap();
    let packs = backend.keys().iter().filter(|k| k.starts_with("packs/")).count() as u64;
    assert_eq!(backend.count(Op::Put, "packs/"), packs);
    assert_eq!(backend.count(Op::Put, "snapshots/"), 1);
    backend.reset_counts();
    assert!(restore_from(&repo, &s.snapshot).unwrap() == data);
    assert_eq!(backend.count(Op::Get, "packs/"), 0, "restore reads ranges, not whole packs");
    assert!(backend.count(Op::GetRange, "packs/") >= 3, "{}", backend.count(Op::GetRange, "packs/"));
    assert_eq!(backend.count(Op::Put, ""), 0, "restore writes nothing");
}

#[test]
fn an_outage_while_reading_segments_stops_repair_and_prune_and_deletes_nothing() {
    let m = MemRepo::new(fast_init());
    let days = [noise(3 << 20, 6), noise(3 << 20, 7)];
    let first = m.ingest("shop", &days[0]);
    let second = m.ingest("shop", &days[1]);
    store::snapshot::forget(&m.repo, std::slice::from_ref(&first.snapshot), "test").unwrap();
    let objects = |prefix: &str| m.backend.keys().into_iter().filter(|k| k.starts_with(prefix)).collect::<Vec<_>>();
    let (segments, packs) = (objects("index/"), objects("packs/"));
    fn no_damage<T>(r: &Result<T, StoreError>) -> bool {
        r.as_ref().is_err_and(|e| !e.is_integrity())
    }
    // Prune reads the segments listing the packs it deletes, to replace them: an unreachable store
    // must stop it, not let a segment listing deleted packs stay behind.
    m.backend.inject(Fault::fail(Op::Get).under("index/").always());
    let pruned = store::prune::prune(&m.repo, &store::prune::PruneOptions { max_unused: 0.0 }, None);
    assert!(no_damage(&pruned), "{pruned:?}");
    assert_eq!((objects("index/"), objects("packs/")), (segments.clone(), packs), "prune changed the repository during an outage");
    // `repair index` deletes the segments it cannot read, last of all: its last segment read
    // failing as an unreachable store fails must not delete a sound one.
    m.backend.clear_faults();
    m.backend.reset_counts();
    store::repair::index(&m.repo, false, None).unwrap();
    let reads = m.backend.count(Op::Get, "index/");
    m.backend.reset_counts();
    m.backend.inject(Fault::fail(Op::Get).under("index/").nth(reads));
    let repaired = store::repair::index(&m.repo, false, None);
    assert!(no_damage(&repaired), "{repaired:?}");
    assert_eq!(objects("index/"), segments, "repair index deleted a segment during an outage");
    // Once the store answers again, everything is there and prune does its work.
    m.backend.clear_faults();
    let pruned = store::prune::prune(&m.repo, &store::prune::PruneOptions { max_unused: 0.0 }, None).unwrap();
    assert!(pruned.packs_deleted > 0, "{pruned:?}");
    assert_eq!(m.restore(&second.snapshot).unwrap(), days[1]);
    assert!(check_all(&m.repo).ok());
}

#[test]
fn a_pack_that_cannot_be_deleted_is_left_alone_named_and_deleted_by_the_next_prune() {
    let m = MemRepo::new(fast_init());
    let days = [noise(3 << 20, 8), noise(3 << 20, 9)];
    let first = m.ingest("shop", &days[0]);
    let second = m.ingest("shop", &days[1]);
    store::snapshot::forget(&m.repo, std::slice::from_ref(&first.snapshot), "test").unwrap();
    let opts = store::prune::PruneOptions { max_unused: 0.0 };
    m.backend.inject(Fault::denied(Op::Delete).under("packs/").nth(1));
    let r = store::prune::prune(&m.repo, &opts, None).unwrap();
    assert_eq!(r.left_alone.len(), 1, "{r:?}");
    assert!(r.left_alone[0].reason.contains("could not be deleted"), "{r:?}");
    assert!(!r.deleted.contains(&r.left_alone[0].pack) && r.packs_deleted == r.deleted.len(), "{r:?}");
    assert!(m.backend.keys().contains(&repo_format::object_key::pack(&r.left_alone[0].pack)));
    let report = check_all(&m.repo);
    assert!(report.ok() && report.unindexed_packs == 1, "an orphan now, harmless: {report:?}");
    let again = store::prune::prune(&m.repo, &opts, None).unwrap();
    assert_eq!(again.plan.orphans, [r.left_alone[0].pack], "{again:?}");
    assert_eq!(again.deleted, [r.left_alone[0].pack]);
    assert_eq!(m.restore(&second.snapshot).unwrap(), days[1]);
}

#[test]
fn an_outage_hiding_forget_records_never_brings_a_forgotten_snapshot_back() {
    let m = MemRepo::new(fast_init());
    let days = [noise(1 << 20, 10), noise(1 << 20, 11)];
    let first = m.ingest("shop", &days[0]);
    m.ingest("shop", &days[1]);
    // Another client forgets the first snapshot: its manifest goes, a forget record says why.
    let cache_b = tempfile::tempdir().unwrap();
    let b = m.client(cache_b.path());
    store::snapshot::forget(&b, std::slice::from_ref(&first.snapshot), "test").unwrap();
    let manifest = repo_format::object_key::snapshot(&first.snapshot.id);
    assert!(m.backend.object(&manifest).is_none());
    // This client's index still holds the manifest; while the records cannot be fetched, it must
    // not take the manifest for one deleted by hand and write it back.
    m.backend.inject(Fault::fail(Op::Get).under("forgotten/").always());
    let synced = m.repo.index_reader();
    assert!(synced.as_ref().is_err_and(|e| !e.is_integrity()), "{synced:?}");
    assert!(m.backend.object(&manifest).is_none(), "a forgotten snapshot was written back during an outage");
    m.backend.clear_faults();
    let ids: Vec<_> = m.snapshots().iter().map(|s| s.id).collect();
    assert!(!ids.contains(&first.snapshot.id), "{ids:?}");
    assert!(m.backend.object(&manifest).is_none());
}

#[test]
fn an_outage_hiding_an_ingest_lease_stops_prune_instead_of_letting_it_through() {
    let m = MemRepo::new(fast_init());
    let first = m.ingest("shop", &noise(1 << 20, 12));
    m.ingest("shop", &noise(1 << 20, 13));
    store::snapshot::forget(&m.repo, std::slice::from_ref(&first.snapshot), "test").unwrap();
    // Another machine's ingest holds its lease; this machine's prune cannot fetch it.
    let cache_b = tempfile::tempdir().unwrap();
    let b = m.client(cache_b.path());
    let held = store::lease::take(&b, repo_format::lease::LeaseKind::Ingest).unwrap();
    assert!(held.is_some(), "a repository on an object store takes leases");
    let packs = m.backend.keys().into_iter().filter(|k| k.starts_with("packs/")).count();
    m.backend.inject(Fault::fail(Op::Get).under("locks/").always());
    let pruned = store::prune::prune(&m.repo, &store::prune::PruneOptions { max_unused: 0.0 }, None);
    assert!(pruned.as_ref().is_err_and(|e| !e.is_integrity()), "{pruned:?}");
    assert_eq!(m.backend.keys().into_iter().filter(|k| k.starts_with("packs/")).count(), packs, "prune deleted packs past a lease it could not read");
}
