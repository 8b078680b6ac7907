//! A snapshot's table of contents: the objects its dump holds (tables with their rows, sequences,
//! indexes, functions, ...), from the [`toc`] parser of its format.
//!
//! Ingest builds it as the stream passes ([`Builder`]) and stores it with the snapshot (SPEC.md
//! section 9.3): a stream of lines in chunks, like a dump, named by the manifest's `toc`. A
//! snapshot stored before tables of contents existed, or whose stored one is damaged, has one built
//! by reading its dump back, every chunk and the whole stream verified as a restore verifies them.

use std::io::Write;

use repo_format::contents::{self as stored_toc, TocRef};
use toc::{Toc, TocParser};

use crate::index::Index;
use crate::repository::Repository;
use crate::restore::{Stream, restore_stream};
use crate::snapshot::Snapshot;
use crate::{Result, StoreError};

mod builder;

pub use builder::Builder;

/// Formats whose snapshots have a table of contents.
pub const FORMATS: &[&str] = &["pg_dump-plain", "pg_dump-custom", "pg_dumpall", "mysqldump", "t-sql"];

/// Where a table of contents came from.
#[derive(Clone, Debug)]
pub enum Provenance {
    /// Stored with the snapshot.
    Stored,
    /// Built now from the dump: the snapshot has none stored.
    Built,
    /// Built now from the dump: the stored one could not be read (why).
    Rebuilt(String),
}

/// The table of contents of `snap`: the stored one, or one built from its dump (`progress` is told
/// the dump's bytes read).
pub fn read(repo: &Repository, index: &Index, snap: &Snapshot, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<(Toc, Provenance)> {
    let provenance = match &snap.manifest.toc {
        None => Provenance::Built,
        Some(r) => match stored(repo, index, snap, r) {
            Ok(toc) => return Ok((toc, Provenance::Stored)),
            Err(e) if e.is_integrity() => Provenance::Rebuilt(e.to_string()),
            Err(e) => return Err(e),
        },
    };
    Ok((build(repo, index, snap, progress)?, provenance))
}

/// The stored table of contents `r` of `snap`.
pub fn stored(repo: &Repository, index: &Index, snap: &Snapshot, r: &TocRef) -> Result<Toc> {
    let mut lines = Vec::with_capacity(r.size.min(1 << 30) as usize);
    restore_stream(repo, index, snap, Stream { tree: r.tree, size: r.size, digest: r.digest }, &mut lines, None)?;
    stored_toc::decode(&lines, r, snap.manifest.size).map_err(|e| StoreError::format(format!("the table of contents of snapshot {}", snap.id.short()), e))
}

/// The table of contents of `snap`, built by reading its dump.
pub fn build(repo: &Repository, index: &Index, snap: &Snapshot, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<Toc> {
    let format = snap.manifest.source.format.as_deref();
    let Some(parser) = format.and_then(|f| parser_for(f, digest_key(repo))) else {
        let what = format.map_or("a stream not recognised as a dump".to_string(), |f| format!("a {f} dump"));
        return Err(StoreError::Invalid(format!(
            "snapshot {} holds {what}: tables of contents exist for {} dumps only, so far",
            snap.id.short(),
            FORMATS.join(", ")
        )));
    };
    let mut sink = Sink(parser);
    let failed = || StoreError::Invalid(format!("the table-of-contents parser failed on the dump of snapshot {} (a bug: please report it); the dump itself is intact", snap.id.short()));
    match crate::restore::restore(repo, index, snap, &mut sink, progress) {
        Err(StoreError::Io { source, .. }) if source.get_ref().is_some_and(|e| e.is::<ParserFailed>()) => return Err(failed()),
        r => r?,
    };
    builder::guarded(|| sink.0.finish()).ok_or_else(failed)
}

/// The parser of dumps in `format` (a name manifests record), if there is one.
pub(crate) fn parser_for(format: &str, key: [u8; 32]) -> Option<Box<dyn TocParser + Send>> {
    match format {
        "pg_dump-plain" => Some(Box::new(toc::pg_plain::PgPlain::new(key))),
        "pg_dump-custom" => Some(Box::new(toc::pg_custom::PgCustom::new(key))),
        "pg_dumpall" => Some(Box::new(toc::pg_dumpall::PgDumpall::new(key))),
        "mysqldump" => Some(Box::new(toc::mysql::MysqlDump::new(key))),
        "t-sql" => Some(Box::new(toc::tsql::TsqlScript::new(key))),
        _ => None,
    }
}

/// The key of this repository's object digests: equal digests in two snapshots mean an object did
/// not change, and the key keeps the digests from saying anything to those without the repository's
/// keys.
pub(crate) fn digest_key(repo: &Repository) -> [u8; 32] {
    repo.keys().chunk_id(b"dbvault: the key of table-of-contents digests").0
}

/// Feeds what a restore writes to a parser.
struct Sink(Box<dyn TocParser + Send>);

/// What [`Sink`] says when the parser panicked.
#[derive(Debug, thiserror::Error)]
#[error("the table-of-contents parser failed")]
struct ParserFailed;

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        builder::guarded(|| self.0.feed(buf)).ok_or_else(|| std::io::Error::other(ParserFailed))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
