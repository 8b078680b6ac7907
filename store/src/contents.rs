//! A snapshot's table of contents: the objects its dump holds (tables with their rows, sequences,
//! indexes, functions, ...), from the [`toc`] parser of its format.
//!
//! Tables of contents are not stored yet: one is built by reading the snapshot's stream back, every
//! chunk and the whole stream verified as a restore verifies them, through the parser. Formats
//! with a parser: pg_dump plain (`pg_dump-plain`), mysqldump and mariadb-dump (`mysqldump`).

use std::io::Write;

use toc::{Toc, TocParser};

use crate::index::Index;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::{Result, StoreError};

/// Formats whose snapshots have a table of contents.
pub const FORMATS: &[&str] = &["pg_dump-plain", "mysqldump"];

/// The table of contents of `snap`, read from its stream (`progress` is told the bytes read).
pub fn read(repo: &Repository, index: &Index, snap: &Snapshot, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<Toc> {
    let format = snap.manifest.source.format.as_deref();
    let parser: Box<dyn TocParser> = match format {
        Some("pg_dump-plain") => Box::new(toc::pg_plain::PgPlain::new(digest_key(repo))),
        Some("mysqldump") => Box::new(toc::mysql::MysqlDump::new(digest_key(repo))),
        _ => {
            let what = format.map_or("a stream not recognised as a dump".to_string(), |f| format!("a {f} dump"));
            return Err(StoreError::Invalid(format!(
                "snapshot {} holds {what}: tables of contents exist for {} dumps only, so far",
                snap.id.short(),
                FORMATS.join(", ")
            )));
        }
    };
    let mut sink = Sink(parser);
    crate::restore::restore(repo, index, snap, &mut sink, progress)?;
    Ok(sink.0.finish())
}

/// The key of this repository's object digests: equal digests in two snapshots mean an object did
/// not change, and the key keeps the digests from saying anything to those without the repository's
/// keys.
fn digest_key(repo: &Repository) -> [u8; 32] {
    repo.keys().chunk_id(b"dbvault: the key of table-of-contents digests").0
}

/// Feeds what a restore writes to a parser.
struct Sink(Box<dyn TocParser>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
