//! `ingest --ping URL` and `ping = "URL"` in jobs files: Healthchecks-style pings, received here by
//! a small local HTTP server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Env, stderr};

const WHOLE: &[u8] = b"-- PostgreSQL database dump\n\nCREATE TABLE t (a int);\n\n-- PostgreSQL database dump complete\n\n";

/// The (path, body) of each request a monitor received.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A monitor on 127.0.0.1 that answers 200 to everything and keeps what it received.
fn monitor() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut r = BufReader::new(stream);
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            let mut len = 0;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            keep.lock().unwrap().push((path, String::from_utf8_lossy(&body).into_owned()));
            let _ = r.into_inner().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK");
        }
    });
    (url, seen)
}

fn paths(seen: &Mutex<Vec<(String, String)>>) -> Vec<String> {
    seen.lock().unwrap().iter().map(|(p, _)| p.clone()).collect()
}

#[test]
fn a_backup_pings_its_start_and_its_success_or_failure_with_the_error() {
    let e = Env::new();
    let (url, seen) = monitor();
    let check = format!("{url}/b3f1-secret");
    e.ok(&["ingest", "--db", "shop", "--ping", &check], WHOLE);
    assert_eq!(paths(&seen), ["/b3f1-secret/start", "/b3f1-secret"]);
    seen.lock().unwrap().clear();
    // A query (Healthchecks' `?create=1` of slug URLs) stays after the path.
    e.ok(&["ingest", "--db", "shop", "--ping", &format!("{url}/ping/key/slug?create=1")], WHOLE);
    assert_eq!(paths(&seen), ["/ping/key/slug/start?create=1", "/ping/key/slug?create=1"]);
    assert!(seen.lock().unwrap()[1].1.contains("saved"), "{:?}", seen.lock().unwrap());
    seen.lock().unwrap().clear();
    // A dump command that fails: the failure ping carries its error lines.
    let o = e.run(&["ingest", "--db", "shop", "--ping", &check, "--", "sh", "-c", "echo 'pg_dump: error: connection refused' >&2; exit 1"], b"");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(paths(&seen), ["/b3f1-secret/start", "/b3f1-secret/fail"]);
    assert!(seen.lock().unwrap()[1].1.contains("connection refused"), "{:?}", seen.lock().unwrap());
    seen.lock().unwrap().clear();
    // A jobs file pings per job.
    let jobs = e.dir.path().join("jobs.toml");
    let dump = e.dir.path().join("a.sql");
    std::fs::write(&dump, WHOLE).unwrap();
    std::fs::write(&jobs, format!("[[job]]\ndb = \"a\"\ncommand = [\"cat\", {:?}]\nping = \"{url}/job-a\"\n\n[[job]]\ndb = \"b\"\ncommand = \"exit 3\"\nping = \"{url}/job-b\"\n", dump.to_str().unwrap())).unwrap();
    let o = e.run(&["ingest", "--jobs", jobs.to_str().unwrap(), "--parallel", "1"], b"");
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert_eq!(paths(&seen), ["/job-a/start", "/job-a", "/job-b/start", "/job-b/fail"]);
    seen.lock().unwrap().clear();
    // A repository that cannot be opened is a failed backup too.
    let mut c = e.cmd(&["ingest", "--db", "shop", "--ping", &check]);
    c.env("DBVAULT_PASSWORD", "wrong");
    let o = e.run_with(c, WHOLE);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(paths(&seen), ["/b3f1-secret/start", "/b3f1-secret/fail"]);
    // A mistyped monitor in a jobs file costs the pings, not the backup.
    std::fs::write(&jobs, format!("[[job]]\ndb = \"a\"\ncommand = [\"cat\", {:?}]\nping = \"ftp://nowhere/x\"\n", dump.to_str().unwrap())).unwrap();
    let o = e.run(&["ingest", "--jobs", jobs.to_str().unwrap()], b"");
    assert!(o.status.success() && stderr(&o).contains("runs without pings"), "{}", stderr(&o));
}

#[test]
fn a_drill_that_cannot_run_pings_its_failure_with_why() {
    let e = Env::new();
    let (url, seen) = monitor();
    e.ingest("mssql", b"USE [master]\r\nGO\r\nCREATE TABLE [dbo].[T]([Id] [int] NOT NULL)\r\nGO\r\n");
    let o = e.run(&["drill", "latest", "--db", "mssql", "--ping", &format!("{url}/drills")], b"");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(paths(&seen), ["/drills/start", "/drills/fail"]);
    assert!(seen.lock().unwrap()[1].1.contains("T-SQL"), "{:?}", seen.lock().unwrap());
}

#[test]
fn an_unreachable_monitor_only_warns_and_a_bad_url_is_refused() {
    let e = Env::new();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t0 = Instant::now();
    let o = e.run(&["ingest", "--db", "shop", "--ping", &format!("http://bob:hunter2@127.0.0.1:{port}/the-secret-part")], WHOLE);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("ping http://127.0.0.1") && stderr(&o).contains("failed"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("the-secret-part") && !stderr(&o).contains("hunter2"), "a ping URL's path and password are not printed: {}", stderr(&o));
    assert!(t0.elapsed() < Duration::from_secs(25), "two pings of at most 10 s each");
    for bad in ["hc-ping.com/x", "ftp://host/x", "http://", "http://ho st/x", "http://127.0.0.1:99999/x"] {
        let o = e.run(&["ingest", "--db", "shop", "--ping", bad], WHOLE);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    }
}

#[test]
fn a_run_pings_its_start_and_its_failed_steps_and_logs_only_on_stderr() {
    let e = Env::new();
    let (url, seen) = monitor();
    let dump = e.dir.path().join("a.sql");
    std::fs::write(&dump, WHOLE).unwrap();
    let config = e.dir.path().join("dbvault.toml");
    let jobs = format!("[[job]]\ndb = \"a\"\ncommand = [\"cat\", {:?}]\n", dump.to_str().unwrap());
    std::fs::write(&config, format!("ping = \"{url}/nightly\"\n{jobs}")).unwrap();
    e.ok(&["run", config.to_str().unwrap()], b"");
    assert_eq!(paths(&seen), ["/nightly/start", "/nightly"]);
    assert!(seen.lock().unwrap()[1].1.contains("succeeded"), "{:?}", seen.lock().unwrap());
    seen.lock().unwrap().clear();
    std::fs::write(&config, format!("ping = \"{url}/nightly\"\n{jobs}\n[[job]]\ndb = \"b\"\ncommand = \"echo 'mariadb-dump: Got error: 1045' >&2; exit 2\"\n")).unwrap();
    // Diagnostics go to standard error; standard output stays one JSON document.
    let mut c = e.cmd(&["--json", "run", config.to_str().unwrap()]);
    c.env("RUST_LOG", "dbvault=debug");
    let o = common::run_piped(c, b"");
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("standard output is only the JSON document");
    assert_eq!(doc["failed"], 1);
    assert!(stderr(&o).contains("ingest starts") && stderr(&o).contains("ingest ended") && stderr(&o).contains("seconds="), "{}", stderr(&o));
    assert_eq!(paths(&seen), ["/nightly/start", "/nightly/fail"]);
    let body = seen.lock().unwrap()[1].1.clone();
    assert!(body.contains("backup b") && body.contains("1 step(s) FAILED"), "{body}");
}

#[test]
fn an_interrupted_run_pings_its_failure() {
    let e = Env::new();
    let (url, seen) = monitor();
    let config = e.dir.path().join("dbvault.toml");
    std::fs::write(&config, format!("ping = \"{url}/nightly\"\n[[job]]\ndb = \"slow\"\ncommand = \"sleep 30\"\n")).unwrap();
    let mut child = e.cmd(&["run", config.to_str().unwrap()]).spawn().unwrap();
    let start = Instant::now();
    while paths(&seen).is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGTERM), "{status:?}");
    assert_eq!(paths(&seen), ["/nightly/start", "/nightly/fail"]);
    assert!(seen.lock().unwrap()[1].1.contains("interrupted"), "{:?}", seen.lock().unwrap());
}
