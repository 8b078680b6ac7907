//! `--metrics-file`: a Prometheus text-format file derived from the repository, read here by a
//! Prometheus text-format parser as node_exporter's textfile collector would read it.

mod common;

use std::collections::BTreeMap;
use std::io::BufRead;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use common::{Env, stderr};
use prometheus_parse::{Scrape, Value};

const WHOLE: &[u8] = b"-- PostgreSQL database dump\n\nCREATE TABLE t (a int);\n\n-- PostgreSQL database dump complete\n\n";
const CUT: &[u8] = b"-- PostgreSQL database dump\n\nCREATE TABLE t (a int);\n";

/// The file's samples as (metric, database) -> value, every sample checked for its labels.
fn samples(path: &Path, repository: &str) -> BTreeMap<(String, String), f64> {
    let file = std::fs::File::open(path).unwrap();
    let scrape = Scrape::parse(std::io::BufReader::new(file).lines()).unwrap();
    let mut out = BTreeMap::new();
    for s in scrape.samples {
        let mut labels: Vec<&String> = s.labels.keys().collect();
        labels.sort();
        let repository_wide = s.metric.starts_with("dbvault_check_") || s.metric == "dbvault_repository_stored_bytes";
        assert_eq!(labels, if repository_wide { vec!["repository"] } else { vec!["database", "repository"] }, "{}: only bounded labels", s.metric);
        assert_eq!(s.labels.get("repository"), Some(repository));
        let Value::Gauge(v) = s.value else { panic!("{} is no gauge: {:?}", s.metric, s.value) };
        out.insert((s.metric.clone(), s.labels.get("database").unwrap_or("").to_string()), v);
    }
    assert!(scrape.docs.contains_key("dbvault_backup_last_success_timestamp_seconds"), "HELP lines: {:?}", scrape.docs);
    out
}

#[test]
fn the_metrics_file_holds_what_the_repository_holds() {
    let e = Env::new();
    let file = e.dir.path().join("dbvault.prom");
    let metrics = file.to_str().unwrap();
    e.ingest("shop", WHOLE);
    let last = e.json(&["ingest", "--db", "shop", "--metrics-file", metrics], WHOLE);
    e.ok(&["ingest", "--db", "crm", "--allow-incomplete", "--metrics-file", metrics], CUT);
    // The repository id's first 8 hex digits label every sample (the same on each).
    let text = std::fs::read_to_string(&file).unwrap();
    let at = text.find("repository=\"").unwrap() + "repository=\"".len();
    let repository = &text[at..at + 8];
    assert!(repository.chars().all(|c| c.is_ascii_hexdigit()), "{text}");
    let got = samples(&file, repository);
    let v = |m: &str, db: &str| got.get(&(m.to_string(), db.to_string())).copied();
    let end: jiff::Timestamp = last["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(v("dbvault_backup_last_success_timestamp_seconds", "shop"), Some(end.as_millisecond() as f64 / 1000.0));
    assert_eq!(v("dbvault_backup_dump_bytes", "shop"), Some(WHOLE.len() as f64));
    assert_eq!(v("dbvault_backup_added_bytes", "shop"), Some(last["added_bytes"].as_u64().unwrap() as f64));
    assert_eq!(v("dbvault_snapshots", "shop"), Some(2.0));
    assert_eq!(v("dbvault_backup_last_incomplete", "shop"), Some(0.0));
    // crm's only snapshot is cut short: it never succeeded (0, which an age alert fires for).
    assert_eq!(v("dbvault_backup_last_success_timestamp_seconds", "crm"), Some(0.0));
    assert_eq!(v("dbvault_backup_last_incomplete", "crm"), Some(1.0));
    assert!(v("dbvault_backup_duration_seconds", "crm").is_some_and(|d| d >= 0.0));
    // Never drilled: no success (0, which an age alert fires for), not passed.
    assert_eq!((v("dbvault_drill_last_success_timestamp_seconds", "shop"), v("dbvault_drill_last_passed", "shop")), (Some(0.0), Some(0.0)));
    // What the packs hold, as `stats` counts it.
    let stats = e.json(&["stats"], b"");
    assert_eq!(v("dbvault_repository_stored_bytes", ""), Some(stats["repository_pack_bytes"].as_u64().unwrap() as f64));
    // No check recorded yet: not a success; after one, its time and result.
    assert_eq!((v("dbvault_check_success", ""), v("dbvault_check_last_timestamp_seconds", "")), (Some(0.0), Some(0.0)));
    e.ok(&["check", "--metrics-file", metrics], b"");
    let got = samples(&file, repository);
    assert_eq!(got.get(&("dbvault_check_success".to_string(), String::new())), Some(&1.0));
    assert!(got.get(&("dbvault_check_last_timestamp_seconds".to_string(), String::new())).is_some_and(|t| *t > end.as_millisecond() as f64 / 1000.0));
    // Written by any command that opens the repository, from its state: the same again.
    let before = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    e.ok(&["snapshots", "--metrics-file", metrics], b"");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}

#[test]
fn writers_at_once_leave_a_whole_file_and_a_device_is_never_replaced() {
    let e = Env::new();
    e.ingest("shop", WHOLE);
    let file = e.dir.path().join("m").join("dbvault.prom");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    let metrics = file.to_str().unwrap();
    for _ in 0..5 {
        let children: Vec<_> = (0..3).map(|_| e.cmd(&["snapshots", "-q", "--metrics-file", metrics]).spawn().unwrap()).collect();
        for c in children {
            assert!(c.wait_with_output().unwrap().status.success());
        }
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.matches("# TYPE ").count(), 13, "every family, whole:\n{text}");
        assert!(text.ends_with('\n'));
    }
    let left: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("dbvault.prom")], "no temporary file left");
    // A device or a link is refused with a warning; the command itself succeeds.
    let link = e.dir.path().join("link.prom");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for path in [Path::new("/dev/null"), link.as_path()] {
        let o = e.run(&["snapshots", "--metrics-file", path.to_str().unwrap()], b"");
        assert!(o.status.success() && stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
}
