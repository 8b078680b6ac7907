//! `dbvault repair index`.

use anyhow::Result;
use store::Repository;

use crate::cli::Global;

pub fn index(g: &Global, repo: &Repository) -> Result<()> {
    let r = repo.repair_index()?;
    if g.json {
        println!("{}", serde_json::json!({ "segments_applied": r.segments_applied, "packs_recovered": r.packs_recovered, "snapshots": r.snapshots_added }));
    } else if !g.quiet {
        println!(
            "rebuilt the local index: {} index segment(s), {} pack(s) recovered from their headers, {} snapshot(s)",
            r.segments_applied, r.packs_recovered, r.snapshots_added
        );
    }
    Ok(())
}
