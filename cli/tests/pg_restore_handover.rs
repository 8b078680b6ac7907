//! `restore --table` of a pg_dump custom archive hands the entries dbvault chose to pg_restore:
//! here a stand-in pg_restore on PATH shows what it is given, and how dbvault treats it.

mod common;

#[allow(dead_code)]
#[path = "../../toc/tests/pg_custom_archive/mod.rs"]
mod archive;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use archive::{Archive, copy_data, entry};
use common::{Env, stderr};

/// An archive of two tables, `t` (with an index) and `u`, each with rows.
fn archive() -> Vec<u8> {
    Archive::new(vec![
        entry(1, "TABLE", Some("public"), "t", 2, "CREATE TABLE public.t (id integer, note text);\n"),
        entry(2, "TABLE", Some("public"), "u", 2, "CREATE TABLE public.u (id integer, note text);\n"),
        copy_data(3, "public", "t", &["1\ta", "2\tb"]),
        copy_data(4, "public", "u", &["7\tz"]),
        entry(5, "INDEX", Some("public"), "t_id_idx", 4, "CREATE INDEX t_id_idx ON public.t USING btree (id);\n"),
    ])
    .write()
    .0
}

/// A `pg_restore` in `dir` running `body` (sh), first on the PATH of the returned command.
fn stand_in(e: &Env, dir: &Path, body: &str, args: &[&str]) -> std::process::Command {
    let path = dir.join("pg_restore");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = e.cmd(args);
    c.env("PATH", format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default()));
    c
}

#[test]
fn pg_restore_gets_the_chosen_entries_in_order_and_none_of_dbvaults_secrets() {
    let e = Env::new();
    let id = e.ingest("shop", &archive())["id"].as_str().unwrap().to_string();
    let bin = tempfile::tempdir().unwrap();
    let seen = bin.path().join("seen");
    // Keeps its environment and list, reads the archive, writes a script.
    let body = format!("env > '{0}.env'; while [ $# -gt 0 ]; do [ \"$1\" = -L ] && cp \"$2\" '{0}.list'; shift; done; cat > '{0}.archive'; echo '-- the script'", seen.display());
    let c = stand_in(&e, bin.path(), &body, &["restore", &id, "--table", "t"]);
    let o = e.run_with(c, b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "-- the script\n");
    let env = std::fs::read_to_string(seen.with_extension("env")).unwrap();
    assert!(!env.contains("DBVAULT_PASSWORD") && !env.contains("=pw\n"), "a secret reached pg_restore: {env}");
    let ids: Vec<String> = std::fs::read_to_string(seen.with_extension("list")).unwrap().lines().filter(|l| !l.starts_with(';')).map(|l| l.split(';').next().unwrap().to_string()).collect();
    assert_eq!(ids, ["1", "3", "5"], "t's definition, rows and index, in pg_dump's order; nothing of u");
    assert_eq!(std::fs::read(seen.with_extension("archive")).unwrap(), archive(), "the archive whole");
}

#[test]
fn a_failing_pg_restore_is_an_error_with_its_words_and_a_missing_one_is_named() {
    let e = Env::new();
    let id = e.ingest("shop", &archive())["id"].as_str().unwrap().to_string();
    let bin = tempfile::tempdir().unwrap();
    let c = stand_in(&e, bin.path(), "cat > /dev/null; echo 'pg_restore: error: unsupported version (1.14) in file header' >&2; exit 1", &["restore", &id, "--table", "t"]);
    let o = e.run_with(c, b"");
    assert_eq!(o.status.code(), Some(7), "a failed command, as a failed restore target: {}", stderr(&o));
    assert!(stderr(&o).contains("pg_restore") && stderr(&o).contains("unsupported version (1.14)"), "{}", stderr(&o));
    let mut c = e.cmd(&["restore", &id, "--table", "t"]);
    c.env("PATH", bin.path().join("nowhere"));
    let o = e.run_with(c, b"");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("pg_restore is not on PATH") && stderr(&o).contains("postgresql-client"), "{}", stderr(&o));
}

#[test]
fn a_reader_that_stops_reading_the_script_ends_the_restore_and_pg_restore() {
    let e = Env::new();
    let id = e.ingest("shop", &archive())["id"].as_str().unwrap().to_string();
    let bin = tempfile::tempdir().unwrap();
    // Writes without end and never reads its input (`| head -1` on a large script).
    let mut c = stand_in(&e, bin.path(), "exec yes 'SELECT 1;'", &["restore", &id, "--table", "t"]);
    let mut child = c.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("dbvault hangs once its output is closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "the script was not delivered");
}

#[test]
fn a_custom_archive_cut_short_in_a_pipe_is_refused_unless_kept_as_incomplete() {
    let e = Env::new();
    let whole = archive();
    let doc = e.ingest("shop", &whole);
    assert_eq!(doc["source"]["completion_marker"], true, "{doc}");
    // Inside the header, the table of contents, a data block, and one byte short of the end.
    for cut in [20, whole.len() / 3, whole.len() * 2 / 3, whole.len() - 1] {
        let o = e.run(&["ingest", "--db", "cut"], &whole[..cut]);
        assert_eq!(o.status.code(), Some(8), "cut at {cut} of {}: {}", whole.len(), stderr(&o));
        assert!(stderr(&o).contains("pg_dump-custom dump is incomplete"), "{}", stderr(&o));
    }
    assert_eq!(e.run(&["snapshots", "--db", "cut"], b"").status.code(), Some(1), "nothing was committed");
    let kept = e.json(&["ingest", "--db", "cut", "--allow-incomplete"], &whole[..whole.len() / 2]);
    assert_eq!(kept["incomplete"], true, "{kept}");
}
