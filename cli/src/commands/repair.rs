//! `dbvault repair index|snapshots|config`.

use anyhow::{Context, Result};
use store::Repository;
use store::repair;

use crate::cli::Global;
use crate::output;

pub fn index(g: &Global, repo: &Repository, read_data: bool) -> Result<()> {
    let bar = output::progress(Some(0), g.quiet, "repairing");
    let progress = output::phase_progress(&bar);
    let r = repair::index(repo, read_data, Some(&progress));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let r = r?;
    if g.json {
        output::json(&r)?;
        return Ok(());
    }
    if g.quiet {
        return Ok(());
    }
    for id in &r.manifests_restored {
        crate::outln!("snapshot {}: manifest damaged or missing in the repository, written back from this machine's index", id.short());
    }
    let b = &r.rebuilt;
    crate::outln!(
        "rebuilt the local index: {} index segment(s), {} pack(s) recovered from their headers, {} snapshot(s)",
        b.segments_applied,
        b.packs_recovered,
        b.snapshots_added
    );
    for p in &r.packs_dropped {
        crate::outln!("dropped pack {}: {}", p.pack.short(), p.reason);
    }
    if r.blobs_dropped > 0 {
        crate::outln!("dropped {} blob(s) that failed authentication", r.blobs_dropped);
    }
    if r.deltas_dropped > 0 {
        crate::outln!("dropped {} delta(s) whose bases are lost", r.deltas_dropped);
    }
    if r.segments_removed > 0 {
        crate::outln!("deleted {} damaged index segment(s); their packs are indexed from their own headers", r.segments_removed);
    }
    if r.dropped_anything() {
        crate::outln!("rewrote {} index segment(s). Ingest the dumps again to store what was lost, then see `dbvault repair snapshots`", r.segments_rewritten);
    } else {
        crate::outln!("nothing is lost");
    }
    Ok(())
}

pub fn snapshots(g: &Global, repo: &Repository, forget: bool) -> Result<()> {
    let r = repair::snapshots(repo, forget)?;
    let left = r.damaged.len() + r.manifests_lost.len() + r.parents_gone.len();
    // Damage reported and left in place is a finding, as for `check`.
    let result = if left > 0 && !forget { Err(crate::exit::CheckFailed(left).into()) } else { Ok(()) };
    if g.json {
        output::json(&r)?;
        return result;
    }
    if g.quiet {
        return result;
    }
    for id in &r.manifests_restored {
        crate::outln!("snapshot {}: damaged manifest written back from this machine's index", id.short());
    }
    for m in &r.manifests_lost {
        crate::outln!("{}: manifest unreadable ({}) and no intact copy here{}", m.key, m.problem, if forget { ": forgotten" } else { "" });
    }
    for d in &r.damaged {
        crate::outln!("snapshot {} of db {}: {} chunk(s) missing, {} unreadable{}", d.snapshot.short(), d.db, d.missing, d.unreadable, if forget { ": forgotten" } else { "" });
    }
    for (p, db) in &r.parents_gone {
        crate::outln!("snapshot {} of db {} is gone without a forget and no copy of it is here{}", p.short(), db, if forget { ": recorded as forgotten" } else { "" });
    }
    match (left, forget) {
        (0, _) => crate::outln!("every snapshot has its manifest and all its data"),
        (n, false) => crate::outln!("{n} problem(s) left; ingest the same dumps again (after `dbvault repair index`), or remove (and record) what is lost with --forget"),
        (n, true) => crate::outln!("forgot or recorded {n}; run `dbvault prune` to free the data no snapshot needs"),
    }
    result
}

pub fn config(g: &Global) -> Result<()> {
    let location = super::location(g)?;
    let backend = location.backend(&super::access(g))?;
    let password = crate::password::get(g)?;
    let r = repair::config(backend.as_ref(), password.as_bytes()).with_context(|| format!("repairing the config of {location}"))?;
    for w in &r.warnings {
        crate::errln!("dbvault: warning: {w}");
    }
    if g.json {
        output::json(&r)?;
    } else if !g.quiet {
        match r.from_key {
            Some(k) => crate::outln!("restored the config of repository {} from the copy in key {}", r.id.short(), k.short()),
            None => crate::outln!("reconstructed the config of repository {}", r.id.short()),
        }
    }
    Ok(())
}
