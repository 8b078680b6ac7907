//! `dbvault ingest`.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use store::Repository;
use store::ingest::{IngestOptions, ingest};

use crate::cli::{Global, IngestArgs};
use crate::output;

pub fn run(g: &Global, repo: &Repository, a: IngestArgs) -> Result<()> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!("ingest reads the dump from standard input; pipe one in, e.g. `pg_dump shop | dbvault ingest --db {}`", a.db);
    }
    let bar = output::progress(None, g.quiet, &format!("ingesting {}", a.db));
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    };
    let opts = IngestOptions { db: a.db, host: a.host, tags: a.tags, progress: Some(&progress), ..Default::default() };
    let result = ingest(repo, stdin, opts);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let s = result?;
    let m = &s.snapshot.manifest;
    let secs = s.elapsed.as_secs_f64();
    if g.json {
        let mut v = super::snapshots::to_json(&s.snapshot);
        v["new_raw_bytes"] = m.added.raw_bytes.into();
        v["elapsed_secs"] = secs.into();
        v["bytes_per_sec"] = (m.size as f64 / secs.max(1e-6)).into();
        println!("{v}");
    } else if !g.quiet {
        println!("snapshot {} of db {} saved", s.snapshot.id.short(), m.db);
        println!("  read      {} in {:.1} s ({})", output::size(m.size), secs, output::rate(m.size, s.elapsed));
        println!("  chunks    {} ({} new)", m.chunks, m.added.chunks);
        println!("  added     {} to the repository ({} of new data before compression)", output::size(m.added.stored_bytes), output::size(m.added.raw_bytes));
        match m.parent {
            Some(p) => println!("  parent    {}", p.short()),
            None => println!("  parent    none (first snapshot of {})", m.db),
        }
    }
    Ok(())
}
