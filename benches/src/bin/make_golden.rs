//! Write the golden repositories: `make-golden OUTDIR` creates `OUTDIR/v1` and `OUTDIR/v2`, small
//! repositories of format versions 1 and 2 (password `golden`), each with an `expected.json`
//! naming every snapshot with the BLAKE3 of its dump.
//!
//! They are checked in under `store/tests/golden/` and read by `store/tests/golden.rs`: every
//! later build must open them and restore every snapshot byte-identical, so no change can alter
//! the format silently. Run this only to add a format version (with SPEC.md): fixtures written
//! once are never rewritten.

use std::path::Path;

use dbvault_benches::dumpgen::DumpSeries;
use repo_format::Id;
use repo_format::keyfile::{KdfParams, KeyFile};
use store::ingest::{IngestOptions, ingest};
use store::{InitOptions, Repository};

const PASSWORD: &[u8] = b"golden";

/// A T-SQL script as SQL Server Management Studio saves it: UTF-16 LE with a byte-order mark.
fn tsql() -> Vec<u8> {
    let mut script = String::from("USE [crm]\r\nGO\r\n/****** Object:  Table [dbo].[clients] ******/\r\nSET ANSI_NULLS ON\r\nGO\r\n");
    script += "CREATE TABLE [dbo].[clients]([id] [int] NOT NULL, [name] [nvarchar](50) NULL)\r\nGO\r\n";
    for i in 0..400 {
        script += &format!("INSERT [dbo].[clients] ([id], [name]) VALUES ({i}, N'client {i} – Zürich')\r\nGO\r\n");
    }
    let mut out = vec![0xff, 0xfe];
    for u in script.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

/// Make the fresh repository at `path` a version 1 one, as older builds wrote them: its config,
/// and the copy of it in its key file.
fn make_version_1(path: &Path, repo: &Repository) {
    let mut config = repo.config().clone();
    config.version = 1;
    config.deltas = false;
    let bytes = config.encode(repo.keys());
    std::fs::write(path.join("config"), &bytes).expect("write config");
    for entry in std::fs::read_dir(path.join("keys")).expect("keys") {
        let old = entry.expect("key").path();
        let kf = KeyFile::decode(&std::fs::read(&old).expect("read key")).expect("key file").with_config(&bytes);
        let encoded = kf.encode();
        std::fs::write(path.join("keys").join(Id::of_bytes(&encoded).to_hex()), encoded).expect("write key");
        std::fs::remove_file(old).expect("remove key");
    }
}

fn write(out: &Path, version: u32) {
    let path = out.join(format!("v{version}"));
    let kdf = KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 };
    let mut repo = Repository::init(&path, PASSWORD, InitOptions { kdf, ..InitOptions::default() }).expect("init");
    if version == 1 {
        make_version_1(&path, &repo);
        repo = Repository::open(&path, PASSWORD).expect("reopen");
    }
    let mut expected = Vec::new();
    let mut add = |repo: &Repository, db: &str, tags: &[&str], data: &[u8], allow_incomplete: bool| {
        let opts = IngestOptions { db: db.into(), host: Some("golden".into()), tags: tags.iter().map(|t| t.to_string()).collect(), allow_incomplete, ..IngestOptions::default() };
        let s = ingest(repo, data, opts).expect("ingest");
        expected.push(serde_json::json!({
            "id": s.snapshot.id, "db": db, "size": data.len(), "blake3": Id(*blake3::hash(data).as_bytes()),
            "incomplete": s.snapshot.manifest.incomplete, "delta_chunks": s.snapshot.manifest.added.delta_chunks,
        }));
        s.snapshot
    };
    let days = DumpSeries::days(3_000, 2026, 4);
    let first = add(&repo, "shop", &["daily"], &days[0], false);
    for day in &days[1..] {
        add(&repo, "shop", &["daily"], day, false);
    }
    add(&repo, "crm", &[], &tsql(), false);
    let cut = &days[3][..days[3].len() / 2];
    add(&repo, "cut", &["incomplete"], cut, true);
    // A forget record, and the lineage it explains.
    store::snapshot::forget(&repo, std::slice::from_ref(&first), "golden").expect("forget");
    expected.retain(|e| e["id"] != serde_json::json!(first.id));
    drop(repo);
    std::fs::remove_dir_all(path.join("local")).expect("remove local state");
    let doc = serde_json::json!({ "version": version, "password": "golden", "snapshots": expected });
    std::fs::write(path.join("expected.json"), serde_json::to_vec_pretty(&doc).expect("json")).expect("write expected.json");
    println!("wrote {}", path.display());
}

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: make-golden OUTDIR");
        std::process::exit(2)
    });
    let out = Path::new(&out);
    for version in [1, 2] {
        if out.join(format!("v{version}")).exists() {
            eprintln!("{} exists: golden repositories are written once, never rewritten", out.join(format!("v{version}")).display());
            std::process::exit(1);
        }
        write(out, version);
    }
}
