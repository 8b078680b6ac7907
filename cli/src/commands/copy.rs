//! `dbvault copy`.

use anyhow::{Context, Result};
use repo_format::Id;
use serde::Serialize;
use store::Repository;
use store::copy::{Copied, copy};
use store::snapshot;

use crate::cli::{CopyArgs, Global};
use crate::output;

pub fn run(g: &Global, a: &CopyArgs) -> Result<()> {
    let from = super::location(g)?;
    let to = store::Location::parse(&a.to)?;
    let password = crate::password::get(g)?;
    let src = super::open(g, &from, &password)?;
    let to_password = crate::password::for_destination(a.to_password_file.as_deref(), &password)?;
    let dst = super::open(g, &to, &to_password).context(crate::exit::Destination)?;
    let result = copy_between(g, &src, &dst, &to, a);
    super::report_warnings(&src);
    super::report_warnings(&dst);
    result
}

/// One snapshot in `copy --json`.
#[derive(Serialize)]
struct CopiedDoc<'a> {
    /// The snapshot in the source repository.
    source: Id,
    /// Its copy in the destination.
    target: Id,
    /// Its database.
    db: &'a str,
    /// Dump size in bytes.
    size: u64,
    /// Whether the copy was there before (nothing was written).
    existed: bool,
    /// Bytes the copy added to the destination.
    stored_bytes: u64,
    /// Drill records copied with it (SPEC.md section 9.5).
    drills: usize,
}

fn copy_between(g: &Global, src: &Repository, dst: &Repository, to: &store::Location, a: &CopyArgs) -> Result<()> {
    let index = src.index_reader()?;
    // A database's WAL archive travels with it: offsite point-in-time recovery needs both.
    let snapshots = if a.snapshots.is_empty() {
        match a.db.as_deref() {
            Some(db) => {
                let all = [snapshot::list(src, &index, Some(db))?, store::wal::archive(src, &index, db)?].concat();
                if all.is_empty() {
                    return Err(snapshot::no_such_database(src, &index, db).into());
                }
                all
            }
            None => snapshot::list(src, &index, None)?,
        }
    } else {
        a.snapshots.iter().map(|spec| snapshot::resolve(src, &index, spec, a.db.as_deref())).collect::<Result<Vec<_>, _>>()?
    };
    let json = g.json;
    let quiet = g.quiet;
    let mut print = |c: &Copied| {
        if json || quiet {
            return;
        }
        let m = &c.source.manifest;
        let what = if c.existed {
            "already there".to_string()
        } else {
            format!("stored {} of {}", output::size(c.target.manifest.added.stored_bytes), output::size(m.size))
        };
        // A closed standard output must not stop the copy: the summary at the end reports it.
        let _ = output::line(format_args!("{} {} {} -> {}: {what}", c.source.id.short(), m.db, output::local_time(m.end), c.target.id.short()));
    };
    let copied = copy(src, &index, dst, &snapshots, &mut print).with_context(|| format!("copying to {to}"))?;
    // The proof that a snapshot restored travels with it.
    let pairs = copied.iter().map(|c| (c.source.id, c.target.id)).collect();
    let drills = store::drill_records::copy(src, dst, &pairs).with_context(|| format!("copying drill records to {to}"))?;
    if json {
        let rows: Vec<_> = copied
            .iter()
            .map(|c| CopiedDoc {
                source: c.source.id,
                target: c.target.id,
                db: &c.source.manifest.db,
                size: c.source.manifest.size,
                existed: c.existed,
                stored_bytes: if c.existed { 0 } else { c.target.manifest.added.stored_bytes },
                drills: drills.get(&c.source.id).copied().unwrap_or(0),
            })
            .collect();
        output::json(&rows)?;
    } else if !quiet {
        let new = copied.iter().filter(|c| !c.existed).count();
        let stored: u64 = copied.iter().filter(|c| !c.existed).map(|c| c.target.manifest.added.stored_bytes).sum();
        crate::outln!("copied {new} snapshot(s) to {to} ({} stored), {} already there", output::size(stored), copied.len() - new);
        let n: usize = drills.values().sum();
        if n > 0 {
            crate::outln!("copied {n} drill record(s) with them");
        }
    }
    Ok(())
}
