//! Tables of contents stored at ingest (SPEC.md section 9.3): built as the dump streams past, equal
//! to one built by reading the dump back, kept by prune, checked by check, and never in the way of
//! a stream that has no parser.

mod common;

use common::*;
use dbvault_benches::dumpgen::{DailyChange, DumpSeries};
use repo_format::contents::TocRef;
use store::check::{ReadData, check};
use store::contents::{self, Provenance};
use store::prune::{self, PruneOptions};
use store::snapshot::{self, Snapshot};

fn days(n: usize) -> Vec<Vec<u8>> {
    let mut series = DumpSeries::new(20_000, 36);
    let mut out = vec![series.dump()];
    for _ in 1..n {
        series.advance_day(DailyChange { update: 0.001, insert: 0.0005, delete: 0.0002 });
        out.push(series.dump());
    }
    out
}

fn stored_toc(t: &TestRepo, s: &Snapshot) -> (toc::Toc, Provenance) {
    contents::read(&t.repo, &t.repo.index_reader().unwrap(), s, None).unwrap()
}

fn toc_ref(s: &Snapshot) -> &TocRef {
    s.manifest.toc.as_ref().expect("a pg_dump snapshot has a table of contents")
}

#[test]
fn ingest_stores_the_table_of_contents_that_reading_the_dump_gives() {
    let t = TestRepo::new(small_chunks());
    let day = &days(1)[0];
    let s = t.ingest("shop", day).snapshot;
    let r = toc_ref(&s);
    assert_eq!(r.format, "pg_dump-plain");
    let (stored, provenance) = stored_toc(&t, &s);
    assert!(matches!(provenance, Provenance::Stored), "{provenance:?}");
    let built = contents::build(&t.repo, &t.repo.index_reader().unwrap(), &s, None).unwrap();
    assert_eq!(stored, built);
    assert_eq!(r.objects, stored.objects.len() as u64);
    let data = stored.of_kind(toc::Kind::TableData).next().unwrap();
    assert_eq!(data.rows, Some(20_000));
    assert_eq!(stored.len, day.len() as u64);
}

#[test]
fn an_unchanged_table_of_contents_costs_nothing_the_next_day() {
    let t = TestRepo::new(small_chunks());
    let day = &days(1)[0];
    let a = t.ingest("shop", day).snapshot;
    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |d| d.flatten().map(|e| if e.path().is_dir() { files(&e.path()) } else { 1 }).sum())
    }
    let packs = files(&t.path().join("packs"));
    assert!(packs > 0);
    let b = t.ingest("shop", day).snapshot;
    assert_eq!(toc_ref(&a).tree, toc_ref(&b).tree, "the same dump gives the same stored table of contents");
    assert_eq!(files(&t.path().join("packs")), packs, "no pack written: neither the dump's chunks nor its table of contents' are new");
}

#[test]
fn prune_keeps_the_tables_of_contents_of_kept_snapshots() {
    let t = TestRepo::new(small_chunks());
    let snaps: Vec<Snapshot> = days(3).iter().map(|d| t.ingest("shop", d).snapshot).collect();
    snapshot::forget(&t.repo, &snaps[..2], "test").unwrap();
    prune::prune(&t.repo, &PruneOptions { max_unused: 0.0 }, None).unwrap();
    let (stored, provenance) = stored_toc(&t, &snaps[2]);
    assert!(matches!(provenance, Provenance::Stored), "{provenance:?}");
    assert_eq!(stored, contents::build(&t.repo, &t.repo.index_reader().unwrap(), &snaps[2], None).unwrap());
    let report = check(&t.repo, ReadData::All, None).unwrap();
    assert!(report.problems.is_empty() && report.damaged.is_empty(), "{:?}", report.problems);
}

#[test]
fn a_stream_without_a_parser_has_no_table_of_contents() {
    let t = TestRepo::new(small_chunks());
    let s = t.ingest("blob", &noise(300_000, 1)).snapshot;
    assert!(s.manifest.toc.is_none());
    let err = contents::read(&t.repo, &t.repo.index_reader().unwrap(), &s, None).unwrap_err().to_string();
    assert!(err.contains("tables of contents exist for"), "{err}");
}

#[test]
fn a_short_dump_decides_its_format_at_its_end() {
    let t = TestRepo::new(small_chunks());
    let dump = b"--\n-- PostgreSQL database dump\n--\n\n--\n-- Name: t; Type: TABLE; Schema: public; Owner: x\n--\n\nCREATE TABLE public.t (a int);\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
    let s = t.ingest("tiny", dump).snapshot;
    let (stored, _) = stored_toc(&t, &s);
    assert!(stored.objects.iter().any(|o| o.kind == toc::Kind::Table && o.name == "t"), "{:?}", stored.objects);
}

#[test]
fn a_table_of_contents_whose_blobs_are_gone_is_read_from_the_dump() {
    let t = TestRepo::new(small_chunks());
    let s = t.ingest("shop", &days(1)[0]).snapshot;
    // What a build that predates tables of contents leaves after a prune: the manifest names a
    // tree whose blobs are gone.
    let mut gone = s.clone();
    gone.manifest.toc.as_mut().unwrap().tree = repo_format::Id([9; 32]);
    let (toc, provenance) = stored_toc(&t, &gone);
    assert!(matches!(&provenance, Provenance::Rebuilt(why) if why.contains("0909090909") && why.contains("is not in the index")), "{provenance:?}");
    assert_eq!(toc, stored_toc(&t, &s).0);
}
