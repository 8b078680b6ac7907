//! `dbvault init`.

use std::path::Path;

use anyhow::{Context, Result};
use repo_format::Id;
use repo_format::config::ChunkerConfig;
use repo_format::keyfile::KdfParams;
use serde::Serialize;
use store::{InitOptions, Repository};

use crate::cli::{Global, InitArgs};
use crate::output;

/// What `init --json` prints: the new repository.
#[derive(Serialize)]
struct InitDoc<'a> {
    /// The repository's id.
    id: Id,
    /// Where it is, as given.
    location: String,
    /// This machine's folder for it (the local index).
    cache: &'a Path,
    /// Its format version.
    version: u32,
    /// Its chunker parameters, fixed for its life.
    chunker: ChunkerConfig,
    /// Whether ingests store changed chunks as deltas.
    deltas: bool,
}

pub fn run(g: &Global, a: &InitArgs) -> Result<()> {
    let location = super::location(g)?;
    let access = super::access(g);
    let mut chunker = ChunkerConfig::default();
    if let Some(avg) = a.chunk_avg {
        chunker = ChunkerConfig { min_size: avg / 4, avg_size: avg, max_size: avg.saturating_mul(8), ..chunker };
    }
    let kdf = KdfParams { memory_kib: a.kdf_memory_kib, iterations: a.kdf_iterations, ..KdfParams::default() };
    // Refuse a non-empty folder or bucket prefix before asking for a password.
    Repository::check_can_init(&location, &access).with_context(|| format!("creating repository {location}"))?;
    let password = crate::password::get_new(g)?;
    let repo = Repository::init_at(&location, password.as_bytes(), InitOptions { kdf, chunker, no_deltas: a.no_deltas }, &access)
        .with_context(|| format!("creating repository {location}"))?;
    let c = repo.config();
    if g.json {
        output::json(&InitDoc { id: c.id, location: location.to_string(), cache: repo.local_dir(), version: c.version, chunker: c.chunker, deltas: c.writes_deltas() })?;
    } else if !g.quiet {
        crate::outln!("created dbvault repository {} at {location}", c.id.short());
        crate::outln!("keep the password safe: without it the data cannot be read back");
    }
    Ok(())
}
