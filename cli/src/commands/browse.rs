//! `dbvault log`, `show`, `diff`, `stats`.

use anyhow::Result;
use repo_format::Id;
use repo_format::manifest::Manifest;
use serde::Serialize;
use store::Repository;
use store::browse::{self, Diff, ParentShare, Stats};
use store::snapshot::{self, Snapshot};

use super::snapshots::{DrillBrief, SnapshotDoc};
use crate::cli::{DiffArgs, Global, LogArgs, ShowArgs, StatsArgs};
use crate::output;

/// Share of a snapshot's bytes that were already in the repository when it was ingested: chunks it
/// shares, and the chunks it stored as deltas (their bytes are mostly their bases').
fn dedup(s: &Snapshot) -> f64 {
    let m = &s.manifest;
    let fresh = m.added.raw_bytes.saturating_sub(m.added.delta_raw_bytes);
    if m.size == 0 { 0.0 } else { 1.0 - fresh as f64 / m.size as f64 }
}

fn tool(s: &Snapshot) -> String {
    let src = &s.manifest.source;
    [src.tool.as_deref(), src.tool_version.as_deref().map(|v| v.split_whitespace().next().unwrap_or(v))].into_iter().flatten().collect::<Vec<_>>().join(" ")
}

fn completeness(s: &Snapshot) -> &'static str {
    match (s.manifest.incomplete, s.manifest.source.completion_marker) {
        (true, _) => "INCOMPLETE",
        (false, Some(true)) => "complete",
        (false, _) => "-",
    }
}

/// One snapshot in `log --json`.
#[derive(Serialize)]
struct LogEntry<'a> {
    /// The snapshot, as `snapshots` shows it.
    #[serde(flatten)]
    snapshot: SnapshotDoc<'a>,
    /// Share of its bytes already in the repository when it was ingested ([`dedup`]).
    dedup: f64,
}

pub fn log(g: &Global, repo: &Repository, a: &LogArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let mut list = snapshot::list_of(repo, &index, &a.db)?;
    list.reverse();
    let drills = DrillBrief::all(repo)?;
    if g.json {
        output::json(&list.iter().map(|s| LogEntry { snapshot: SnapshotDoc::with_drill(s, &drills), dedup: dedup(s) }).collect::<Vec<_>>())?;
        return Ok(());
    }
    if !g.quiet {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                let m = &s.manifest;
                vec![
                    s.id.short(),
                    output::local_time(m.end),
                    output::size(m.size),
                    output::size(m.added.stored_bytes),
                    format!("{:.1}%", 100.0 * dedup(s)),
                    tool(s),
                    completeness(s).into(),
                    DrillBrief::column(drills.get(&s.id)),
                    m.parent.map(|p| p.short()).unwrap_or_else(|| "-".into()),
                    m.tags.join(","),
                ]
            })
            .collect();
        output::table(&["ID", "TIME", "SIZE", "ADDED", "DEDUP", "TOOL", "STATE", "LAST DRILL", "PARENT", "TAGS"], &rows)?;
    }
    Ok(())
}

/// What `show --json` prints: the manifest (its source redacted), and what it shares with its
/// parent.
#[derive(Serialize)]
struct ShowDoc<'a> {
    /// The manifest.
    #[serde(flatten)]
    manifest: &'a Manifest,
    /// The snapshot's id.
    id: Id,
    /// Chunks and bytes shared with the parent.
    shared_with_parent: &'a ParentShare,
    /// Its last drill (none: never drilled).
    last_drill: Option<DrillBrief>,
}

pub fn show(g: &Global, repo: &Repository, a: &ShowArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let s = snapshot::resolve(repo, &index, &a.snapshot, a.db.as_deref())?;
    drop(index);
    let share = browse::share_with_parent(repo, &s)?;
    let last_drill = DrillBrief::all(repo)?.remove(&s.id);
    let mut m = s.manifest.clone();
    m.source = store::redact::source(&m.source);
    let m = &m;
    if g.json {
        return output::json(&ShowDoc { manifest: m, id: s.id, shared_with_parent: &share, last_drill });
    }
    if g.quiet {
        return Ok(());
    }
    crate::outln!("snapshot   {}{}", s.id, if m.incomplete { "  INCOMPLETE" } else { "" });
    crate::outln!("db         {} on host {}", m.db, m.host);
    crate::outln!("time       {} .. {}", output::local_time(m.start), output::local_time(m.end));
    crate::outln!("size       {} ({} bytes), {} chunks", output::size(m.size), m.size, m.chunks);
    crate::outln!("digest     blake3 {}", m.digest);
    crate::outln!("added      {} stored, {} new chunks ({} before compression)", output::size(m.added.stored_bytes), m.added.chunks, output::size(m.added.raw_bytes));
    if let Some(line) = output::deltas(&m.added) {
        crate::outln!("deltas     {line}");
    }
    match (m.parent, share.parent) {
        (None, _) => crate::outln!("parent     none (first snapshot of {})", m.db),
        (Some(p), None) if store::snapshot::forgotten(repo)?.contains(&p) => crate::outln!("parent     {} (forgotten)", p.short()),
        (Some(p), None) => crate::outln!("parent     {} (gone, and no forget removed it: see `dbvault check`)", p.short()),
        (Some(p), Some(_)) => crate::outln!(
            "parent     {}: shares {} of {} chunks ({:.1}% of the bytes)",
            p.short(),
            share.shared_chunks,
            m.chunks,
            100.0 * share.shared_bytes as f64 / m.size.max(1) as f64
        ),
    }
    if !m.tags.is_empty() {
        crate::outln!("tags       {}", m.tags.join(", "));
    }
    match &last_drill {
        Some(d) => crate::outln!("drilled    {} ({} {})", DrillBrief::column(Some(d)), d.engine, d.server_version),
        None => crate::outln!("drilled    never (`dbvault drill {} --db {}` proves it restores)", s.id.short(), m.db),
    }
    let src = &m.source;
    let field = |name: &str, v: Option<String>| -> Result<()> {
        if let Some(v) = v {
            crate::outln!("{name:<10} {}", output::printable(&v));
        }
        Ok(())
    };
    field("format", src.format.clone())?;
    field("tool", Some(tool(&s)).filter(|t| !t.is_empty()))?;
    field("database", src.database.clone())?;
    field("server", src.server_version.clone())?;
    field("encoding", src.encoding.clone())?;
    field("compressed", src.compression.clone())?;
    field("batches", src.batch_separator.clone().map(|b| format!("separated by {b}")))?;
    field("marker", src.completion_marker.map(|c| if c { "completion marker found".into() } else { "completion marker MISSING".into() }))?;
    field("producer", src.producer.clone())?;
    field("command", src.command.as_ref().map(|c| format!("{} (exit status {})", c.join(" "), src.exit_status.map_or("?".into(), |x| x.to_string()))))?;
    for l in &src.stderr_tail {
        crate::outln!("stderr     {}", output::printable(l));
    }
    for w in &src.warnings {
        crate::outln!("WARNING    {}", output::printable(w));
    }
    crate::outln!("client     {}", m.client);
    if let Some(o) = m.origin {
        crate::outln!("copied     from snapshot {} of repository {}", o.snapshot.short(), o.repository.short());
    }
    Ok(())
}

/// What `diff --json` prints: the difference, and the two snapshots.
#[derive(Serialize)]
struct DiffDoc<'a> {
    /// How B differs from A.
    #[serde(flatten)]
    diff: &'a Diff,
    /// Snapshot A's id.
    a: Id,
    /// Snapshot B's id.
    b: Id,
}

pub fn diff(g: &Global, repo: &Repository, a: &DiffArgs) -> Result<()> {
    if let Some(table) = &a.rows {
        return super::rows_diff::diff_rows(g, repo, a, table);
    }
    if a.objects {
        return super::contents::diff_objects(g, repo, a);
    }
    let index = repo.index_reader()?;
    let sa = snapshot::resolve(repo, &index, &a.a, a.db.as_deref())?;
    let sb = snapshot::resolve(repo, &index, &a.b, a.db.as_deref())?;
    drop(index);
    let d = browse::diff(repo, &sa, &sb)?;
    if g.json {
        output::json(&DiffDoc { diff: &d, a: sa.id, b: sb.id })?;
    } else if !g.quiet {
        crate::outln!("A {} ({} of db {}), B {} ({} of db {})", sa.id.short(), output::local_time(sa.manifest.end), sa.manifest.db, sb.id.short(), output::local_time(sb.manifest.end), sb.manifest.db);
        crate::outln!("only in A  {} chunks, {}", d.only_a_chunks, output::size(d.only_a_bytes));
        crate::outln!("only in B  {} chunks, {}", d.only_b_chunks, output::size(d.only_b_bytes));
        crate::outln!("shared     {} chunks, {}", d.shared_chunks, output::size(d.shared_bytes));
        let shown: Vec<String> = d.changed_ranges.iter().take(20).map(|(s, e)| format!("{s}..{e}")).collect();
        crate::outln!(
            "B changed in {} byte range(s) [start..end){}{}",
            d.changed_ranges.len(),
            if shown.is_empty() { String::new() } else { format!(": {}", shown.join(" ")) },
            if d.changed_ranges.len() > 20 { " ..." } else { "" }
        );
    }
    Ok(())
}

/// What `stats --json` prints.
#[derive(Serialize)]
struct StatsDoc<'a> {
    /// One per database.
    databases: Vec<DatabaseStats<'a>>,
    /// Bytes of every pack in the repository.
    repository_pack_bytes: u64,
}

/// What one database costs.
#[derive(Serialize)]
struct DatabaseStats<'a> {
    /// The database.
    db: &'a str,
    /// Its counts.
    #[serde(flatten)]
    stats: &'a Stats,
    /// Ingested bytes per unique byte.
    dedup_ratio: f64,
    /// Unique bytes per stored byte.
    compression_ratio: f64,
}

pub fn stats(g: &Global, repo: &Repository, a: &StatsArgs) -> Result<()> {
    let (per_db, pack_bytes) = browse::stats(repo, a.db.as_deref())?;
    if g.json {
        let databases = per_db
            .iter()
            .map(|(db, s)| DatabaseStats { db, stats: s, dedup_ratio: s.dedup_ratio(), compression_ratio: s.compression_ratio() })
            .collect();
        output::json(&StatsDoc { databases, repository_pack_bytes: pack_bytes })?;
    } else if !g.quiet {
        let rows: Vec<Vec<String>> = per_db
            .iter()
            .map(|(db, s)| {
                vec![
                    db.clone(),
                    s.snapshots.to_string(),
                    output::size(s.ingested_bytes),
                    output::size(s.unique_bytes),
                    output::size(s.stored_bytes),
                    format!("{:.1}x", s.dedup_ratio()),
                    format!("{:.1}x", s.compression_ratio()),
                    format!("{} ({} in {})", s.delta_chunks, output::size(s.delta_raw_bytes), output::size(s.delta_stored_bytes)),
                ]
            })
            .collect();
        output::table(&["DB", "SNAPSHOTS", "INGESTED", "UNIQUE", "STORED", "DEDUP", "COMPRESSION", "DELTAS"], &rows)?;
        crate::outln!("repository packs on disk: {}", output::size(pack_bytes));
    }
    Ok(())
}
