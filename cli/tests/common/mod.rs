//! The `dbvault` binary under test, in a temporary folder with its own repository.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dbvault_benches::dumpgen::{DumpSeries, Rng};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_dbvault");

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A fresh folder with an initialised repository (cheap KDF, so tests stay fast).
    pub fn new() -> Env {
        Env::init_with(&[])
    }

    /// A repository made with extra `init` arguments.
    pub fn init_with(extra: &[&str]) -> Env {
        let e = Env { dir: tempfile::tempdir().unwrap() };
        let out = e.run(&[&["init", "--kdf-memory-kib", "64", "--kdf-iterations", "1"], extra].concat(), b"");
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        e
    }

    pub fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DBVAULT_REPOSITORY", self.repo())
            .env("DBVAULT_PASSWORD", "pw")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    pub fn run_with(&self, c: Command, stdin: &[u8]) -> Output {
        run_piped(c, stdin)
    }

    pub fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.run_with(self.cmd(args), stdin)
    }

    pub fn ok(&self, args: &[&str], stdin: &[u8]) -> Output {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "dbvault {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    pub fn json(&self, args: &[&str], stdin: &[u8]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        serde_json::from_slice(&self.ok(&a, stdin).stdout).unwrap()
    }

    pub fn ingest(&self, db: &str, data: &[u8]) -> Value {
        self.json(&["ingest", "--db", db], data)
    }
}

/// Run `c` (its standard input piped) feeding it `stdin`, and collect its output.
pub fn run_piped(mut c: Command, stdin: &[u8]) -> Output {
    let mut child = c.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

pub fn dumps(rows: usize, days: usize) -> Vec<Vec<u8>> {
    DumpSeries::days(rows, 9, days)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Files under `dir`, recursively.
pub fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(|e| e.ok()).map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
    })
}

/// A PRNG seeded from the clock, with its seed (print it: a failing run can be replayed).
pub fn seeded_rng() -> (u64, Rng) {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    (seed, Rng::new(seed))
}
