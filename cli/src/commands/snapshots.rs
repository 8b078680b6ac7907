//! `dbvault snapshots`.

use anyhow::Result;
use serde_json::{Value, json};
use store::Repository;
use store::snapshot::{self, Snapshot};

use crate::cli::{Global, SnapshotsArgs};
use crate::output;

/// The JSON form of a snapshot, shared by every command that prints snapshots.
pub fn to_json(s: &Snapshot) -> Value {
    let m = &s.manifest;
    json!({
        "id": s.id,
        "short_id": s.id.short(),
        "db": m.db,
        "host": m.host,
        "time": m.end,
        "start": m.start,
        "parent": m.parent,
        "tags": m.tags,
        "size": m.size,
        "digest": m.digest,
        "chunks": m.chunks,
        "new_chunks": m.added.chunks,
        "added_bytes": m.added.stored_bytes,
        "incomplete": m.incomplete,
        "source": store::redact::source(&m.source),
    })
}

pub fn run(g: &Global, repo: &Repository, a: &SnapshotsArgs) -> Result<()> {
    let index = repo.index_reader()?;
    let list = snapshot::list_some(repo, &index, a.db.as_deref())?;
    if g.json {
        crate::outln!("{}", Value::Array(list.iter().map(to_json).collect()));
        return Ok(());
    }
    if g.quiet {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let m = &s.manifest;
            let mut tags = m.tags.join(",");
            if m.incomplete {
                tags = format!("INCOMPLETE {tags}");
            }
            vec![s.id.short(), output::local_time(m.end), m.db.clone(), m.host.clone(), output::size(m.size), output::size(m.added.stored_bytes), tags]
        })
        .collect();
    output::table(&["ID", "TIME", "DB", "HOST", "SIZE", "ADDED", "TAGS"], &rows)?;
    crate::outln!("{} snapshot(s)", list.len());
    Ok(())
}
