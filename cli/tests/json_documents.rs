//! Every `--json` document, key by key. Scripts read these keys, so the exact set of key paths of
//! each document, with the JSON type of their values, is written down here: a key renamed,
//! dropped, added or retyped fails this test, which names the document and the key. Each document
//! must also stay one line with its keys sorted (as dbvault has always printed them).
//!
//! A key path is `a.b` for a key `b` inside `a`, and `a[]` for the elements of array `a` (the
//! elements' paths are merged); a document that is an array has paths starting with `[]`. A value
//! that is sometimes null appears once per type seen. `prune`'s document is not listed: prune is
//! being rewritten.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use serde_json::Value;

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `path: type` for every value under `v` (not `v` itself).
fn key_paths(v: &Value) -> BTreeSet<String> {
    fn walk(path: &str, v: &Value, out: &mut BTreeSet<String>) {
        let mut visit = |p: String, x: &Value| {
            out.insert(format!("{p}: {}", kind(x)));
            walk(&p, x, out);
        };
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| visit(if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, x)),
            Value::Array(a) => a.iter().for_each(|x| visit(format!("{path}[]"), x)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk("", v, &mut out);
    out
}

/// A JSON value that fails to deserialise unless the keys of each of its objects come sorted.
struct SortedKeys;

impl<'de> serde::Deserialize<'de> for SortedKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SortedKeys)
    }
}

impl<'de> serde::de::Visitor<'de> for SortedKeys {
    type Value = SortedKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<SortedKeys, E> {
        Ok(SortedKeys)
    }
    fn visit_bool<E>(self, _: bool) -> Result<SortedKeys, E> {
        Ok(SortedKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<SortedKeys, E> {
        Ok(SortedKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<SortedKeys, E> {
        Ok(SortedKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<SortedKeys, E> {
        Ok(SortedKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<SortedKeys, E> {
        Ok(SortedKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<SortedKeys, A::Error> {
        while seq.next_element::<SortedKeys>()?.is_some() {}
        Ok(SortedKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SortedKeys, A::Error> {
        let mut last: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if let Some(l) = last.filter(|l| *l >= key) {
                return Err(serde::de::Error::custom(format!("key {key:?} after {l:?}")));
            }
            map.next_value::<SortedKeys>()?;
            last = Some(key);
        }
        Ok(SortedKeys)
    }
}

/// The one document in `text`: a single line, keys sorted.
fn one_document(what: &str, text: &str) -> Value {
    let line = text.strip_suffix('\n').unwrap_or_else(|| panic!("{what}: no line: {text:?}"));
    assert!(!line.contains('\n'), "{what}: more than one line: {text}");
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {line}"));
    if let Err(e) = serde_json::from_str::<SortedKeys>(line) {
        panic!("{what}: keys not sorted ({e}): {line}");
    }
    v
}

/// The mismatches found, reported together at the end (so one run shows every changed document).
#[derive(Default)]
struct Keys {
    failures: Vec<String>,
}

impl Keys {
    fn check(&mut self, what: &str, doc: &Value, expected: &[&str]) {
        let actual = key_paths(doc);
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        if actual != expected {
            let missing: Vec<_> = expected.difference(&actual).collect();
            let extra: Vec<_> = actual.difference(&expected).collect();
            let listing: String = actual.iter().map(|p| format!("        {p:?},\n")).collect();
            self.failures.push(format!("{what}: missing {missing:?}, unexpected {extra:?}; the document has:\n{listing}"));
        }
    }

    fn finish(self) {
        assert!(self.failures.is_empty(), "{} document(s) changed:\n{}", self.failures.len(), self.failures.join("\n"));
    }
}

/// Run `args` with `--json`, expecting exit code `code`; the document on standard output.
fn json_out(e: &Env, args: &[&str], stdin: &[u8], code: i32) -> Value {
    let o = run_json(e, args, stdin);
    assert_eq!(o.status.code(), Some(code), "dbvault {args:?}: {}", stderr(&o));
    one_document(&format!("{args:?}"), &String::from_utf8(o.stdout).unwrap())
}

fn run_json(e: &Env, args: &[&str], stdin: &[u8]) -> Output {
    e.run(&[&["--json"], args].concat(), stdin)
}

/// The last line of standard error, where a restore to standard output puts its document.
fn json_err(what: &str, o: &Output) -> Value {
    let err = stderr(o);
    let last = err.lines().last().unwrap_or_default();
    one_document(what, &format!("{last}\n"))
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(e: &Env, name: &str, data: &[u8]) -> PathBuf {
    let p = e.dir.path().join(name);
    std::fs::write(&p, data).unwrap();
    p
}

#[test]
fn every_document_of_a_healthy_repository() {
    let mut keys = Keys::default();
    let e = Env { dir: tempfile::tempdir().unwrap() };
    let doc = json_out(&e, &["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"], b"", 0);
    keys.check("init", &doc, &[
        "cache: string", "chunker: object", "chunker.avg_size: number", "chunker.max_size: number", "chunker.min_size: number",
        "chunker.normalization: number", "chunker.seeded: boolean", "deltas: boolean", "id: string", "location: string", "version: number",
    ]);

    let d = dumps(5_000, 3);
    let doc = json_out(&e, &["ingest", "--db", "shop"], &d[0], 0);
    keys.check("ingest (first, stdin)", &doc, &[
        "added_bytes: number", "bytes_per_sec: number", "chunks: number", "db: string", "delta_chunks: number", "delta_raw_bytes: number",
        "delta_saved_bytes: number", "delta_stored_bytes: number", "digest: string", "elapsed_secs: number", "host: string", "id: string",
        "incomplete: boolean", "last_drill: null", "new_chunks: number", "new_raw_bytes: number", "parent: null", "short_id: string", "size: number", "source: object",
        "source.completion_marker: boolean", "source.encoding: string", "source.format: string", "source.producer: string",
        "source.server_version: string", "source.tool: string", "source.tool_version: string", "start: string", "tags: array", "time: string",
    ]);
    let file = write(&e, "day1.sql", &d[1]);
    let script = format!("cat {}; echo 'pg_dump: a note' >&2", path_str(&file));
    let doc = json_out(&e, &["ingest", "--db", "shop", "--host", "db1", "--tag", "daily", "--", "sh", "-c", &script], b"", 0);
    keys.check("ingest (second, command)", &doc, &[
        "added_bytes: number", "bytes_per_sec: number", "chunks: number", "db: string", "delta_chunks: number", "delta_raw_bytes: number",
        "delta_saved_bytes: number", "delta_stored_bytes: number", "digest: string", "elapsed_secs: number", "host: string", "id: string",
        "incomplete: boolean", "last_drill: null", "new_chunks: number", "new_raw_bytes: number", "parent: string", "short_id: string", "size: number", "source: object",
        "source.command: array", "source.command[]: string", "source.completion_marker: boolean", "source.encoding: string",
        "source.exit_status: number", "source.format: string", "source.producer: string", "source.server_version: string",
        "source.stderr_tail: array", "source.stderr_tail[]: string", "source.tool: string", "source.tool_version: string", "start: string",
        "tags: array", "tags[]: string", "time: string",
    ]);

    let good = write(&e, "day2.sql", &d[2]);
    let jobs = format!("[[job]]\ndb = \"crm\"\ncommand = [\"cat\", {:?}]\n\n[[job]]\ndb = \"broken\"\ncommand = \"exit 3\"\n", path_str(&good));
    let jobs = write(&e, "jobs.toml", jobs.as_bytes());
    let mut doc = json_out(&e, &["ingest", "--jobs", path_str(&jobs)], b"", 9);
    let list = doc["jobs"].take();
    doc["jobs"] = Value::Array(vec![]);
    keys.check("ingest --jobs", &doc, &[
        "failed: number", "jobs: array", "succeeded: number",
    ]);
    let job = |ok: bool| list.as_array().unwrap().iter().find(|j| j["ok"] == ok).unwrap().clone();
    keys.check("ingest --jobs: a saved job", &job(true), &[
        "added_bytes: number", "bytes_per_sec: number", "chunks: number", "db: string", "delta_chunks: number", "delta_raw_bytes: number",
        "delta_saved_bytes: number", "delta_stored_bytes: number", "digest: string", "elapsed_secs: number", "host: string", "id: string",
        "incomplete: boolean", "last_drill: null", "new_chunks: number", "new_raw_bytes: number", "ok: boolean", "parent: null", "short_id: string", "size: number",
        "source: object", "source.command: array", "source.command[]: string", "source.completion_marker: boolean", "source.encoding: string",
        "source.exit_status: number", "source.format: string", "source.producer: string", "source.server_version: string", "source.tool: string",
        "source.tool_version: string", "start: string", "tags: array", "time: string",
    ]);
    keys.check("ingest --jobs: a failed job", &job(false), &[
        "db: string", "error: string", "exit_code: number", "ok: boolean",
    ]);

    let config = format!("{}\n[check]\nread_data_cycle = 3\n", std::fs::read_to_string(&jobs).unwrap());
    let config = write(&e, "dbvault.toml", config.as_bytes());
    let doc = json_out(&e, &["run", path_str(&config)], b"", 9);
    keys.check("run", &doc, &[
        "failed: number", "ok: boolean", "seconds: number", "started: string", "steps: array", "steps[]: object", "steps[].detail: string",
        "steps[].exit_code: number", "steps[].result: string", "steps[].seconds: number", "steps[].snapshot: string", "steps[].step: string",
        "steps[].target: string",
    ]);

    let doc = json_out(&e, &["snapshots"], b"", 0);
    keys.check("snapshots", &doc, &[
        "[]: object", "[].added_bytes: number", "[].chunks: number", "[].db: string", "[].digest: string", "[].host: string", "[].id: string",
        "[].incomplete: boolean", "[].last_drill: null", "[].new_chunks: number", "[].parent: null", "[].parent: string", "[].short_id: string", "[].size: number",
        "[].source: object", "[].source.command: array", "[].source.command[]: string", "[].source.completion_marker: boolean",
        "[].source.encoding: string", "[].source.exit_status: number", "[].source.format: string", "[].source.producer: string",
        "[].source.server_version: string", "[].source.stderr_tail: array", "[].source.stderr_tail[]: string", "[].source.tool: string",
        "[].source.tool_version: string", "[].start: string", "[].tags: array", "[].tags[]: string", "[].time: string",
    ]);
    let ids: Vec<String> = doc.as_array().unwrap().iter().filter(|s| s["db"] == "shop").map(|s| s["id"].as_str().unwrap().to_string()).collect();
    json_out(&e, &["check"], b"", 0);
    let doc = json_out(&e, &["status", "--max-age", "1d"], b"", 0);
    keys.check("status", &doc, &[
        "databases: array", "databases[]: object", "databases[].db: string", "databases[].last: object", "databases[].last.age_seconds: number",
        "databases[].last.id: string", "databases[].last.incomplete: boolean", "databases[].last.size: number", "databases[].last.time: string",
        "databases[].drill_problem: null", "databases[].last_drill: null", "databases[].last_complete: object", "databases[].last_complete.age_seconds: number", "databases[].last_complete.id: string",
        "databases[].last_complete.incomplete: boolean", "databases[].last_complete.size: number", "databases[].last_complete.time: string",
        "databases[].stale: boolean", "last_check: object", "last_check.age_seconds: number", "last_check.host: string", "last_check.ok: boolean",
        "last_check.problems: number", "last_check.read_data: string", "last_check.time: string", "max_age_seconds: number", "stale: array", "time: string",
        "drill_problems: array",
    ]);
    let doc = json_out(&e, &["log", "--db", "shop"], b"", 0);
    keys.check("log", &doc, &[
        "[]: object", "[].added_bytes: number", "[].chunks: number", "[].db: string", "[].dedup: number", "[].digest: string", "[].host: string",
        "[].id: string", "[].incomplete: boolean", "[].last_drill: null", "[].new_chunks: number", "[].parent: null", "[].parent: string", "[].short_id: string",
        "[].size: number", "[].source: object", "[].source.command: array", "[].source.command[]: string", "[].source.completion_marker: boolean",
        "[].source.encoding: string", "[].source.exit_status: number", "[].source.format: string", "[].source.producer: string",
        "[].source.server_version: string", "[].source.stderr_tail: array", "[].source.stderr_tail[]: string", "[].source.tool: string",
        "[].source.tool_version: string", "[].start: string", "[].tags: array", "[].tags[]: string", "[].time: string",
    ]);
    let doc = json_out(&e, &["show", &ids[0]], b"", 0);
    keys.check("show (first of its database)", &doc, &[
        "added: object", "added.chunks: number", "added.raw_bytes: number", "added.stored_bytes: number", "chunks: number", "client: string",
        "db: string", "digest: string", "end: string", "host: string", "id: string", "incomplete: boolean", "last_drill: null", "parent: null",
        "shared_with_parent: object", "shared_with_parent.parent: null", "shared_with_parent.shared_bytes: number",
        "shared_with_parent.shared_chunks: number", "size: number", "source: object", "source.completion_marker: boolean", "source.encoding: string",
        "source.format: string", "source.producer: string", "source.server_version: string", "source.tool: string", "source.tool_version: string",
        "start: string", "tags: array", "toc: object", "toc.digest: string", "toc.format: string", "toc.objects: number", "toc.size: number",
        "toc.tree: string", "tree: string", "version: number",
    ]);
    let doc = json_out(&e, &["ls", "latest", "--db", "shop"], b"", 0);
    keys.check("ls", &doc, &[
        "db: string", "format: string", "incomplete: boolean", "not_understood: array", "objects: array", "objects[]: object", "objects[].bytes: number",
        "objects[].database: null", "objects[].kind: string", "objects[].name: string", "objects[].offset: number", "objects[].owner: null", "objects[].owner: string",
        "objects[].rows: null", "objects[].rows: number", "objects[].schema: null", "objects[].schema: string", "objects[].section: string",
        "objects[].tool_kind: string", "snapshot: string",
    ]);
    let doc = json_out(&e, &["show", "latest", "--db", "shop"], b"", 0);
    keys.check("show (with a parent)", &doc, &[
        "added: object", "added.chunks: number", "added.delta_alone_bytes: number", "added.delta_chunks: number", "added.delta_raw_bytes: number",
        "added.delta_stored_bytes: number", "added.raw_bytes: number", "added.stored_bytes: number", "chunks: number", "client: string", "db: string",
        "digest: string", "end: string", "host: string", "id: string", "incomplete: boolean", "last_drill: null", "parent: string", "shared_with_parent: object",
        "shared_with_parent.parent: string", "shared_with_parent.shared_bytes: number", "shared_with_parent.shared_chunks: number", "size: number",
        "source: object", "source.command: array", "source.command[]: string", "source.completion_marker: boolean", "source.encoding: string",
        "source.exit_status: number", "source.format: string", "source.producer: string", "source.server_version: string",
        "source.stderr_tail: array", "source.stderr_tail[]: string", "source.tool: string", "source.tool_version: string", "start: string",
        "tags: array", "tags[]: string", "toc: object", "toc.digest: string", "toc.format: string", "toc.objects: number", "toc.size: number",
        "toc.tree: string", "tree: string", "version: number",
    ]);
    let doc = json_out(&e, &["diff", &ids[0], &ids[1]], b"", 0);
    keys.check("diff", &doc, &[
        "a: string", "b: string", "changed_ranges: array", "changed_ranges[]: array", "changed_ranges[][]: number", "only_a_bytes: number",
        "only_a_chunks: number", "only_b_bytes: number", "only_b_chunks: number", "shared_bytes: number", "shared_chunks: number",
    ]);
    let doc = json_out(&e, &["stats"], b"", 0);
    keys.check("stats", &doc, &[
        "databases: array", "databases[]: object", "databases[].compression_ratio: number", "databases[].db: string",
        "databases[].dedup_ratio: number", "databases[].delta_chunks: number", "databases[].delta_raw_bytes: number",
        "databases[].delta_stored_bytes: number", "databases[].ingested_bytes: number", "databases[].snapshots: number",
        "databases[].stored_bytes: number", "databases[].unique_bytes: number", "databases[].unique_chunks: number", "repository_pack_bytes: number",
    ]);

    // restore: to a file (document on standard output), to standard output (on standard error).
    let out = e.dir.path().join("restored.sql");
    let doc = json_out(&e, &["restore", "latest", "--db", "shop", "-o", path_str(&out)], b"", 0);
    keys.check("restore -o", &doc, &[
        "chunks: number", "db: string", "digest: string", "elapsed_secs: number", "id: string", "incomplete: boolean", "output: string",
        "size: number",
    ]);
    let o = run_json(&e, &["restore", "latest", "--db", "shop"], b"");
    assert!(o.status.success() && o.stdout == d[1], "{}", stderr(&o));
    keys.check("restore to standard output", &json_err("restore", &o), &[
        "chunks: number", "db: string", "digest: string", "elapsed_secs: number", "id: string", "incomplete: boolean", "output: null", "size: number",
    ]);
    let doc = json_out(&e, &["restore", "latest", "--db", "shop", "--", "sh", "-c", "cat >/dev/null"], b"", 0);
    keys.check("restore -- CMD", &doc, &[
        "chunks: number", "db: string", "digest: string", "elapsed_secs: number", "id: string", "incomplete: boolean", "output: null", "size: number",
    ]);

    let dest = e.dir.path().join("dest");
    e.ok(&["--repo", path_str(&dest), "init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"], b"");
    let doc = json_out(&e, &["copy", "--to", path_str(&dest), "--db", "shop"], b"", 0);
    keys.check("copy", &doc, &[
        "[]: object", "[].db: string", "[].drills: number", "[].existed: boolean", "[].size: number", "[].source: string", "[].stored_bytes: number", "[].target: string",
    ]);
    let doc = json_out(&e, &["--repo", path_str(&dest), "show", "latest", "--db", "shop"], b"", 0);
    keys.check("show (a copy)", &doc, &[
        "added: object", "added.chunks: number", "added.delta_alone_bytes: number", "added.delta_chunks: number", "added.delta_raw_bytes: number",
        "added.delta_stored_bytes: number", "added.raw_bytes: number", "added.stored_bytes: number", "chunks: number", "client: string", "db: string",
        "digest: string", "end: string", "host: string", "id: string", "incomplete: boolean", "last_drill: null", "origin: object", "origin.repository: string",
        "origin.snapshot: string", "parent: string", "shared_with_parent: object", "shared_with_parent.parent: string",
        "shared_with_parent.shared_bytes: number", "shared_with_parent.shared_chunks: number", "size: number", "source: object",
        "source.command: array", "source.command[]: string", "source.completion_marker: boolean", "source.encoding: string",
        "source.exit_status: number", "source.format: string", "source.producer: string", "source.server_version: string",
        "source.stderr_tail: array", "source.stderr_tail[]: string", "source.tool: string", "source.tool_version: string", "start: string",
        "tags: array", "tags[]: string", "toc: object", "toc.digest: string", "toc.format: string", "toc.objects: number", "toc.size: number",
        "toc.tree: string", "tree: string", "version: number",
    ]);

    let doc = json_out(&e, &["check"], b"", 0);
    keys.check("check", &doc, &[
        "blobs_read: number", "damaged: array", "damaged_tables_of_contents: array", "ok: boolean", "packs: number", "packs_read: number", "parents_gone: array", "problems: array",
        "snapshots: number", "unindexed_packs: number", "unused_damaged_blobs: number",
    ]);
    let doc = json_out(&e, &["check", "--read-data"], b"", 0);
    keys.check("check --read-data", &doc, &[
        "blobs_read: number", "damaged: array", "damaged_tables_of_contents: array", "ok: boolean", "packs: number", "packs_read: number", "parents_gone: array", "problems: array",
        "snapshots: number", "unindexed_packs: number", "unused_damaged_blobs: number",
    ]);
    let doc = json_out(&e, &["repair", "index"], b"", 0);
    keys.check("repair index", &doc, &[
        "blobs_dropped: number", "deltas_dropped: number", "manifests_restored: array", "packs_dropped: array", "rebuilt: object",
        "rebuilt.from_scratch: boolean", "rebuilt.packs_recovered: number", "rebuilt.segments_applied: number", "rebuilt.snapshots_added: number",
        "rebuilt.snapshots_removed: number", "segments_removed: number", "segments_rewritten: number",
    ]);
    let doc = json_out(&e, &["repair", "snapshots"], b"", 0);
    keys.check("repair snapshots", &doc, &[
        "damaged: array", "forgotten: boolean", "manifests_lost: array", "manifests_restored: array", "parents_gone: array",
    ]);

    let doc = json_out(&e, &["forget", "--keep-last", "1", "--keep-tag", "nosuchtag", "--dry-run"], b"", 0);
    keys.check("forget --dry-run", &doc, &[
        "databases: array", "databases[]: object", "databases[].db: string", "databases[].keep: array", "databases[].keep[]: object",
        "databases[].keep[].id: string", "databases[].keep[].reasons: array", "databases[].keep[].reasons[]: string",
        "databases[].keep[].time: string", "databases[].remove: array", "databases[].remove[]: object", "databases[].remove[].id: string",
        "databases[].remove[].time: string", "dry_run: boolean", "removed: array", "unmatched_rules: array", "unmatched_rules[]: string",
    ]);
    let doc = json_out(&e, &["forget", "--db", "shop", "--keep-last", "1"], b"", 0);
    keys.check("forget (policy)", &doc, &[
        "databases: array", "databases[]: object", "databases[].db: string", "databases[].keep: array", "databases[].keep[]: object",
        "databases[].keep[].id: string", "databases[].keep[].reasons: array", "databases[].keep[].reasons[]: string",
        "databases[].keep[].time: string", "databases[].remove: array", "databases[].remove[]: object", "databases[].remove[].id: string",
        "databases[].remove[].time: string", "dry_run: boolean", "removed: array", "removed[]: string", "unmatched_rules: array",
    ]);
    let doc = json_out(&e, &["forget", &ids[1]], b"", 0);
    keys.check("forget (by id)", &doc, &[
        "databases: array", "dry_run: boolean", "removed: array", "removed[]: string", "unmatched_rules: array",
    ]);
    // With --prune: still one document, the prune's inside it (as `prune --json` prints it).
    e.ingest("tmp", b"-- tmp day 0\n");
    e.ingest("tmp", b"-- tmp day 1\n");
    let doc = json_out(&e, &["forget", "--db", "tmp", "--keep-last", "1", "--prune"], b"", 0);
    assert_eq!(doc["removed"].as_array().map(Vec::len), Some(1), "{doc}");
    assert!(doc["prune"]["plan"]["delete"].is_array() && doc["prune"]["dry_run"] == false && doc["prune"]["deleted"].is_array(), "{doc}");

    // Errors: dbvault's own (with a hint, without), clap's, and one on standard error.
    let mut c = e.cmd(&["--json", "snapshots"]);
    c.env("DBVAULT_PASSWORD", "wrong");
    let o = e.run_with(c, b"");
    assert_eq!(o.status.code(), Some(3));
    keys.check("error (with a hint)", &one_document("wrong password", &String::from_utf8(o.stdout).unwrap()), &[
        "error: string", "exit_code: number", "hint: string", "ok: boolean",
    ]);
    let doc = json_out(&e, &["snapshots", "--db", "nope"], b"", 1);
    keys.check("error", &doc, &[
        "error: string", "exit_code: number", "hint: null", "ok: boolean",
    ]);
    let doc = json_out(&e, &["snapshots", "--bogus"], b"", 2);
    keys.check("error (usage)", &doc, &[
        "error: string", "exit_code: number", "hint: null", "ok: boolean",
    ]);
    let o = run_json(&e, &["restore", "ffffffff"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    keys.check("error (on standard error)", &json_err("failed restore", &o), &[
        "error: string", "exit_code: number", "hint: null", "ok: boolean",
    ]);

    // Keys last: passwd changes the password the other commands use.
    let pw = write(&e, "new-password", b"another password\n");
    let new_key = ["--new-password-file", path_str(&pw), "--kdf-memory-kib", "64", "--kdf-iterations", "1"];
    let doc = json_out(&e, &[&["key", "add"][..], &new_key].concat(), b"", 0);
    keys.check("key add", &doc, &[
        "id: string",
    ]);
    let added = doc["id"].as_str().unwrap().to_string();
    let doc = json_out(&e, &["key", "list"], b"", 0);
    keys.check("key list", &doc, &[
        "[]: object", "[].created: string", "[].current: boolean", "[].host: string", "[].id: string",
    ]);
    let doc = json_out(&e, &["key", "remove", &added], b"", 0);
    keys.check("key remove", &doc, &[
        "id: string",
    ]);
    let doc = json_out(&e, &[&["key", "passwd"][..], &new_key].concat(), b"", 0);
    keys.check("key passwd", &doc, &[
        "id: string",
    ]);
    keys.finish();
}

fn pack_files(repo: &Path) -> BTreeSet<PathBuf> {
    let mut v = BTreeSet::new();
    for sub in std::fs::read_dir(repo.join("packs")).unwrap().flatten() {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            v.insert(f.path());
        }
    }
    v
}

fn flip_a_middle_bit(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 1;
    std::fs::write(path, b).unwrap();
}

/// The documents that report damage, with every list in them filled.
#[test]
fn every_document_about_damage() {
    let mut keys = Keys::default();
    let e = Env::new();
    let d = dumps(5_000, 2);
    let before = pack_files(&e.repo());
    e.ingest("shop", &d[0]);
    let lost: BTreeSet<PathBuf> = pack_files(&e.repo()).difference(&before).cloned().collect();
    e.ingest("shop", &d[1]);
    let crm = e.ingest("crm", b"-- crm\n")["id"].as_str().unwrap().to_string();
    let parent = e.ingest("hr", b"-- hr day 0\n")["id"].as_str().unwrap().to_string();
    e.ingest("hr", b"-- hr day 1\n");
    let manifest = |id: &str| e.repo().join("snapshots").join(id);

    for p in &lost {
        std::fs::remove_file(p).unwrap();
    }
    let doc = json_out(&e, &["check"], b"", 5);
    keys.check("check (packs lost)", &doc, &[
        "blobs_read: number", "damaged: array", "damaged_tables_of_contents: array", "damaged_tables_of_contents[]: string", "damaged[]: object", "damaged[].db: string", "damaged[].examples: array",
        "damaged[].examples[]: string", "damaged[].missing: number", "damaged[].snapshot: string", "damaged[].unreadable: number", "ok: boolean",
        "packs: number", "packs_read: number", "parents_gone: array", "problems: array", "problems[]: string", "snapshots: number",
        "unindexed_packs: number", "unused_damaged_blobs: number",
    ]);
    std::fs::remove_file(manifest(&crm)).unwrap();
    let doc = json_out(&e, &["repair", "index"], b"", 0);
    keys.check("repair index (packs lost, a manifest deleted)", &doc, &[
        "blobs_dropped: number", "deltas_dropped: number", "manifests_restored: array", "manifests_restored[]: string", "packs_dropped: array",
        "packs_dropped[]: object", "packs_dropped[].pack: string", "packs_dropped[].reason: string", "rebuilt: object",
        "rebuilt.from_scratch: boolean", "rebuilt.packs_recovered: number", "rebuilt.segments_applied: number", "rebuilt.snapshots_added: number",
        "rebuilt.snapshots_removed: number", "segments_removed: number", "segments_rewritten: number",
    ]);
    flip_a_middle_bit(&manifest(&crm));
    let doc = json_out(&e, &["repair", "snapshots"], b"", 5);
    keys.check("repair snapshots (a manifest damaged, a copy here)", &doc, &[
        "damaged: array", "damaged[]: object", "damaged[].db: string", "damaged[].examples: array", "damaged[].examples[]: string",
        "damaged[].missing: number", "damaged[].snapshot: string", "damaged[].unreadable: number", "forgotten: boolean", "manifests_lost: array",
        "manifests_restored: array", "manifests_restored[]: string", "parents_gone: array",
    ]);

    // Without this machine's index: a damaged manifest is lost, a deleted parent is gone.
    std::fs::remove_dir_all(e.repo().join("local")).unwrap();
    flip_a_middle_bit(&manifest(&crm));
    std::fs::remove_file(manifest(&parent)).unwrap();
    let doc = json_out(&e, &["check"], b"", 5);
    keys.check("check (manifests damaged and gone)", &doc, &[
        "blobs_read: number", "damaged: array", "damaged_tables_of_contents: array", "damaged_tables_of_contents[]: string", "damaged[]: object", "damaged[].db: string", "damaged[].examples: array",
        "damaged[].examples[]: string", "damaged[].missing: number", "damaged[].snapshot: string", "damaged[].unreadable: number", "ok: boolean",
        "packs: number", "packs_read: number", "parents_gone: array", "parents_gone[]: array", "parents_gone[][]: string", "problems: array",
        "problems[]: string", "snapshots: number", "unindexed_packs: number", "unused_damaged_blobs: number",
    ]);
    let doc = json_out(&e, &["repair", "snapshots"], b"", 5);
    keys.check("repair snapshots (no copy here)", &doc, &[
        "damaged: array", "damaged[]: object", "damaged[].db: string", "damaged[].examples: array", "damaged[].examples[]: string",
        "damaged[].missing: number", "damaged[].snapshot: string", "damaged[].unreadable: number", "forgotten: boolean", "manifests_lost: array",
        "manifests_lost[]: object", "manifests_lost[].id: string", "manifests_lost[].key: string", "manifests_lost[].problem: string",
        "manifests_restored: array", "parents_gone: array", "parents_gone[]: array", "parents_gone[][]: string",
    ]);

    std::fs::remove_file(e.repo().join("config")).unwrap();
    let doc = json_out(&e, &["repair", "config"], b"", 0);
    keys.check("repair config", &doc, &[
        "from_key: string", "id: string", "warnings: array",
    ]);
    keys.finish();
}
