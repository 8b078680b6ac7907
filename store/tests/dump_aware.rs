//! Ingest knows it holds dumps: failed producers, truncated and empty dumps never become good
//! snapshots; what was recognised is recorded.

mod common;

use common::*;
use dbvault_benches::dumpgen::DumpSeries;
use store::StoreError;
use store::ingest::{IngestOptions, ProducerOutcome, ingest};
use store::snapshot;

fn snapshot_count(t: &TestRepo) -> usize {
    let idx = t.repo.index_reader().unwrap();
    snapshot::list(&t.repo, &idx, None).unwrap().len()
}

#[test]
fn a_complete_pg_dump_is_recognised_and_recorded() {
    let t = TestRepo::new(fast_init());
    let s = t.ingest("shop", &DumpSeries::new(5_000, 1).dump());
    let src = &s.snapshot.manifest.source;
    assert_eq!(src.format.as_deref(), Some("pg_dump-plain"));
    assert_eq!(src.tool.as_deref(), Some("pg_dump"));
    assert_eq!(src.tool_version.as_deref(), Some("15.18 (Debian 15.18-0+deb12u1)"));
    assert_eq!(src.completion_marker, Some(true));
    assert_eq!(src.producer.as_deref(), Some("stdin"));
    assert_eq!(src.exit_status, None, "a piped stream's producer status is unknown");
    assert!(!s.snapshot.manifest.incomplete);
}

#[test]
fn a_truncated_dump_is_refused_unless_allowed_and_then_marked() {
    let t = TestRepo::new(fast_init());
    let dump = DumpSeries::new(20_000, 2).dump();
    let cut = &dump[..dump.len() * 2 / 3];
    let err = ingest(&t.repo, cut, IngestOptions { db: "shop".into(), ..Default::default() }).unwrap_err();
    assert!(matches!(err, StoreError::Incomplete { .. }), "{err}");
    assert!(err.to_string().contains("-- PostgreSQL database dump complete"));
    assert_eq!(snapshot_count(&t), 0);

    let kept = ingest(&t.repo, cut, IngestOptions { db: "shop".into(), allow_incomplete: true, ..Default::default() }).unwrap();
    let m = &kept.snapshot.manifest;
    assert!(m.incomplete);
    assert_eq!(m.source.completion_marker, Some(false));
    assert!(m.source.warnings.iter().any(|w| w.contains("cut short")));
    assert_eq!(t.restore(&kept.snapshot).unwrap(), cut, "an incomplete snapshot still restores what was stored");
}

#[test]
fn an_empty_stream_is_refused() {
    let t = TestRepo::new(fast_init());
    let err = ingest(&t.repo, &b""[..], IngestOptions { db: "shop".into(), ..Default::default() }).unwrap_err();
    assert!(matches!(err, StoreError::EmptyInput), "{err}");
    assert_eq!(snapshot_count(&t), 0);
}

#[test]
fn a_failed_producer_commits_nothing_even_with_a_complete_looking_stream() {
    let t = TestRepo::new(fast_init());
    let dump = DumpSeries::new(5_000, 3).dump();
    let outcome = ProducerOutcome {
        command: vec!["pg_dump".into(), "shop".into()],
        exit_status: Some(1),
        failure: Some("exited with status 1".into()),
        stderr_tail: vec!["pg_dump: error: connection failed".into()],
    };
    let opts = IngestOptions { db: "shop".into(), producer: Some(Box::new(move || outcome)), allow_incomplete: true, ..Default::default() };
    let err = ingest(&t.repo, dump.as_slice(), opts).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::ProducerFailed { .. }));
    assert!(msg.contains("pg_dump shop") && msg.contains("status 1") && msg.contains("connection failed"), "{msg}");
    assert_eq!(snapshot_count(&t), 0);

    let ok = ProducerOutcome { command: vec!["pg_dump".into()], exit_status: Some(0), failure: None, stderr_tail: vec!["note".into()] };
    let s = ingest(&t.repo, dump.as_slice(), IngestOptions { db: "shop".into(), producer: Some(Box::new(move || ok)), ..Default::default() }).unwrap();
    let src = &s.snapshot.manifest.source;
    assert_eq!((src.producer.as_deref(), src.exit_status), (Some("command"), Some(0)));
    assert_eq!(src.stderr_tail, vec!["note".to_string()]);
}

#[test]
fn utf16_tsql_round_trips_byte_identical_and_gzip_draws_a_warning() {
    let t = TestRepo::new(small_chunks());
    let mut script = vec![0xff, 0xfe];
    let text: String = (0..3000).map(|i| format!("INSERT INTO [dbo].[t] VALUES ({i}, N'zeile ä {i}')\r\nGO\r\n")).collect();
    for u in format!("USE [shop]\r\nGO\r\n{text}").encode_utf16() {
        script.extend_from_slice(&u.to_le_bytes());
    }
    let s = t.ingest("mssql", &script);
    assert_eq!(s.snapshot.manifest.source.encoding.as_deref(), Some("utf-16le"));
    assert_eq!(s.snapshot.manifest.source.format.as_deref(), Some("t-sql"));
    assert_eq!(s.snapshot.manifest.source.batch_separator.as_deref(), Some("GO"));
    assert_eq!(t.restore(&s.snapshot).unwrap(), script);

    let gz = [&b"\x1f\x8b\x08\x00\x00\x00\x00\x00"[..], &[7u8; 5000]].concat();
    let s = t.ingest("zipped", &gz);
    assert_eq!(s.snapshot.manifest.source.compression.as_deref(), Some("gzip"));
    assert!(s.snapshot.manifest.source.warnings.iter().any(|w| w.contains("deduplication")));
}

#[test]
fn the_latest_complete_snapshot_skips_the_cut_short_ones_newest_first() {
    let t = TestRepo::new(fast_init());
    let dump = DumpSeries::new(3_000, 3).dump();
    let good = t.ingest("shop", &dump);
    let cut = &dump[..dump.len() / 2];
    for _ in 0..2 {
        ingest(&t.repo, cut, IngestOptions { db: "shop".into(), allow_incomplete: true, ..Default::default() }).unwrap();
    }
    let idx = t.repo.index_reader().unwrap();
    assert_eq!(snapshot::latest_complete(&t.repo, &idx, "shop").unwrap().unwrap().id, good.snapshot.id);
    assert!(snapshot::latest_complete(&t.repo, &idx, "crm").unwrap().is_none());
    drop(idx);
    let newer = t.ingest("shop", &dump);
    let idx = t.repo.index_reader().unwrap();
    assert_eq!(snapshot::latest_complete(&t.repo, &idx, "shop").unwrap().unwrap().id, newer.snapshot.id);
    assert!(newer.snapshot.manifest.parent.is_some());
}
