//! The daily loop through the library: ingest, list, restore, dedup, lineage.

mod common;

use common::*;
use dbvault_benches::dumpgen::{DailyChange, DumpSeries};
use proptest::prelude::*;
use store::snapshot;

#[test]
fn restore_is_byte_identical_and_lineage_is_recorded() {
    let t = TestRepo::new(fast_init());
    let [day0, day1]: [Vec<u8>; 2] = DumpSeries::days(30_000, 1, 2).try_into().unwrap();

    let s0 = t.ingest("shop", &day0);
    let s1 = t.ingest("shop", &day1);
    let other = t.ingest("crm", b"-- another database\n");
    assert_eq!(s0.snapshot.manifest.parent, None);
    assert_eq!(s1.snapshot.manifest.parent, Some(s0.snapshot.id));
    assert_eq!(other.snapshot.manifest.parent, None, "lineage is per database");
    assert_eq!(s1.snapshot.manifest.size, day1.len() as u64);
    assert_eq!(s1.snapshot.manifest.digest, repo_format::Id(*blake3::hash(&day1).as_bytes()));

    assert_eq!(t.restore(&s0.snapshot).unwrap(), day0);
    assert_eq!(t.restore(&s1.snapshot).unwrap(), day1);

    let idx = t.repo.index_reader().unwrap();
    let all = snapshot::list(&t.repo, &idx, None).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(snapshot::list(&t.repo, &idx, Some("shop")).unwrap().len(), 2);
    assert_eq!(snapshot::resolve(&t.repo, &idx, "latest", Some("shop")).unwrap().id, s1.snapshot.id);
    assert_eq!(snapshot::resolve(&t.repo, &idx, &s0.snapshot.id.to_hex()[..10], None).unwrap().id, s0.snapshot.id);
    assert!(snapshot::resolve(&t.repo, &idx, "latest", Some("nope")).is_err());
    assert!(snapshot::resolve(&t.repo, &idx, "zz", None).is_err());
}

#[test]
fn a_day_with_few_changed_rows_adds_a_small_fraction() {
    let t = TestRepo::new(fast_init());
    let mut series = DumpSeries::new(100_000, 2);
    let day0 = series.dump();
    series.advance_day(DailyChange { update: 0.0005, insert: 0.0005, delete: 0.0 });
    let day1 = series.dump();
    let a0 = t.ingest("shop", &day0).snapshot.manifest.added;
    let a1 = t.ingest("shop", &day1).snapshot.manifest.added;
    // ~100 changed rows out of 100k: the second day must cost a small fraction of the first.
    assert!(a1.stored_bytes * 5 < a0.stored_bytes, "day 1 added {} bytes, day 0 {}", a1.stored_bytes, a0.stored_bytes);
    // The changed chunks are stored as patches against day 0's: few bytes are stored afresh.
    assert!((a1.raw_bytes - a1.delta_raw_bytes) * 5 < day1.len() as u64, "{a1:?}");
    // The same dump again adds no chunk at all.
    let again = t.ingest("shop", &day1).snapshot.manifest.added;
    assert_eq!(again.chunks, 0);
    assert_eq!(again.stored_bytes, 0, "an identical dump stores nothing new (its chunk list dedups too)");
}

#[test]
fn tiny_streams_round_trip() {
    let t = TestRepo::new(fast_init());
    for data in [&b"x"[..], b"-- one line\n", b"\xff\xfe"] {
        let s = t.ingest("db", data);
        assert_eq!(t.restore(&s.snapshot).unwrap(), data);
    }
}

#[test]
fn the_index_rebuilds_itself_when_deleted() {
    let mut t = TestRepo::new(small_chunks());
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| format!("row {i}\n").into_bytes()).collect();
    let s = t.ingest("db", &data);
    std::fs::remove_dir_all(t.path().join("local")).unwrap();
    t.reopen();
    assert_eq!(t.restore(&s.snapshot).unwrap(), data);
    let report = store::repair::index(&t.repo, false, None).unwrap().rebuilt;
    assert_eq!(report.snapshots_added, 1);
    assert!(report.segments_applied >= 1);
    assert_eq!(t.restore(&s.snapshot).unwrap(), data);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any byte stream comes back exactly, and re-ingesting it stores nothing new.
    #[test]
    fn arbitrary_streams_round_trip(data in proptest::collection::vec(any::<u8>(), 1..60_000), repeat in 1usize..4) {
        let t = TestRepo::new(small_chunks());
        let stream: Vec<u8> = data.iter().copied().cycle().take(data.len() * repeat).collect();
        let s = t.ingest("p", &stream);
        prop_assert_eq!(t.restore(&s.snapshot).unwrap(), stream.clone());
        let again = t.ingest("p", &stream);
        prop_assert_eq!(again.snapshot.manifest.added.chunks, 0);
        prop_assert_eq!(t.restore(&again.snapshot).unwrap(), stream);
    }
}

/// `load_many` answers in request order, across packs and days, whatever order it reads in; a
/// missing blob is its own error and does not spoil the others.
#[test]
fn load_many_answers_in_request_order_across_packs() {
    let t = TestRepo::new(small_chunks());
    let [day0, day1]: [Vec<u8>; 2] = DumpSeries::days(30_000, 4, 2).try_into().unwrap();
    let s0 = t.ingest("shop", &day0).snapshot;
    let s1 = t.ingest("shop", &day1).snapshot;
    let index = t.repo.index_reader().unwrap();
    let reader = store::pack::PackReader::new(&t.repo);
    let chunks = |s: &store::snapshot::Snapshot| {
        let mut walk = store::tree::TreeWalk::new(&reader, &index, s.manifest.tree);
        std::iter::from_fn(|| walk.next_chunk().unwrap()).map(|c| c.id).collect::<Vec<_>>()
    };
    // Day 1's chunks backwards, interleaved with day 0's, one unknown id in the middle.
    let mut ids: Vec<repo_format::Id> = chunks(&s1).into_iter().rev().zip(chunks(&s0)).flat_map(|(a, b)| [a, b]).collect();
    let packs: std::collections::HashSet<_> = ids.iter().map(|id| index.locate(id).unwrap().pack).collect();
    assert!(packs.len() > 1, "the test needs chunks from several packs");
    let missing = ids.len() / 2;
    ids.insert(missing, repo_format::Id([0xAB; 32]));
    let loaded = reader.load_many(&index, &ids, repo_format::blob::BlobKind::Chunk, repo_format::blob::IdCheck::Prove);
    assert_eq!(loaded.len(), ids.len());
    for (i, (id, got)) in ids.iter().zip(&loaded).enumerate() {
        if i == missing {
            assert!(matches!(got, Err(store::StoreError::MissingBlob { .. })), "{got:?}");
        } else {
            let want = reader.load(&index, id, repo_format::blob::BlobKind::Chunk).unwrap();
            assert_eq!(got.as_ref().unwrap(), &want, "blob {i} differs");
        }
    }
}

#[test]
fn new_repositories_get_a_chunker_seed_that_cuts_padding_evenly() {
    // About a quarter of keys are refused: without the draw, ten repositories would all pass only
    // about once in 25 runs.
    for _ in 0..10 {
        let t = TestRepo::new(fast_init());
        let params = t.repo.chunker_params().unwrap();
        assert!(params.seed_cuts_padding_evenly(), "init kept a seed that makes padding a likely cut");
    }
}
