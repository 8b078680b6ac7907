//! Extract: byte ranges of a snapshot's dump, read from only the chunks that hold them.

mod common;

use common::*;
use proptest::prelude::*;
use store::extract::{self, ExtractSummary};
use store::snapshot::Snapshot;

fn pieces(t: &TestRepo, s: &Snapshot, ranges: &[std::ops::Range<u64>]) -> (Vec<Vec<u8>>, ExtractSummary) {
    let mut out = vec![Vec::new(); ranges.len()];
    let summary = extract::ranges(&t.repo, &t.repo.index_reader().unwrap(), s, ranges, &mut |i, b| {
        out[i].extend_from_slice(b);
        Ok(())
    })
    .unwrap();
    (out, summary)
}

#[test]
fn a_small_range_reads_a_chunk_or_two_not_the_dump() {
    let t = TestRepo::new(small_chunks());
    let data = noise(3 << 20, 5);
    let s = t.ingest("x", &data).snapshot;
    let r = 2_000_000..2_000_100;
    let (got, summary) = pieces(&t, &s, std::slice::from_ref(&r));
    assert_eq!(got[0], &data[r.start as usize..r.end as usize]);
    assert_eq!(summary.bytes, 100);
    assert!(summary.chunks <= 2 && summary.chunk_bytes < 200_000, "{summary:?}");
}

#[test]
fn ranges_outside_the_dump_or_out_of_order_are_refused() {
    let t = TestRepo::new(small_chunks());
    let data = noise(100_000, 6);
    let s = t.ingest("x", &data).snapshot;
    let index = t.repo.index_reader().unwrap();
    let mut sink = |_: usize, _: &[u8]| Ok(());
    assert!(extract::ranges(&t.repo, &index, &s, std::slice::from_ref(&(99_000..100_001)), &mut sink).is_err());
    assert!(extract::ranges(&t.repo, &index, &s, &[50..60, 10..20], &mut sink).is_err());
}

#[test]
fn a_damaged_chunk_is_an_error_naming_the_snapshot() {
    let t = TestRepo::new(small_chunks());
    let data = noise(400_000, 7);
    let s = t.ingest("x", &data).snapshot;
    for pack in packs(&t.path()) {
        let mut bytes = std::fs::read(&pack).unwrap();
        let mid = bytes.len() / 3;
        bytes[mid] ^= 1;
        std::fs::write(&pack, bytes).unwrap();
    }
    let err = extract::read_ranges(&t.repo, &t.repo.index_reader().unwrap(), &s, std::slice::from_ref(&(0..400_000))).unwrap_err().to_string();
    assert!(err.contains(&s.id.short()), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn any_ranges_give_exactly_their_bytes(cuts in proptest::collection::vec(0u64..600_000, 0..12), seed in 0u64..1000) {
        let t = TestRepo::new(small_chunks());
        let data = noise(600_000, seed);
        let s = t.ingest("x", &data).snapshot;
        let mut cuts = cuts;
        cuts.sort();
        let ranges: Vec<_> = cuts.chunks(2).filter(|c| c.len() == 2).map(|c| c[0]..c[1]).collect();
        let (got, _) = pieces(&t, &s, &ranges);
        for (r, g) in ranges.iter().zip(&got) {
            prop_assert_eq!(g.as_slice(), &data[r.start as usize..r.end as usize]);
        }
        // read_ranges takes them in any order, overlapping.
        let mut shuffled = ranges.clone();
        shuffled.reverse();
        shuffled.extend(ranges.iter().cloned());
        // and reaching across others (unions of several).
        shuffled.extend(ranges.windows(2).map(|w| w[0].start..w[1].end));
        let back = extract::read_ranges(&t.repo, &t.repo.index_reader().unwrap(), &s, &shuffled).unwrap();
        for (r, g) in shuffled.iter().zip(&back) {
            prop_assert_eq!(g.as_slice(), &data[r.start as usize..r.end as usize]);
        }
    }
}
