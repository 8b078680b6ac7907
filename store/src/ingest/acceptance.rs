//! Whether a stream may become a snapshot, decided before the commit point, and how the manifest
//! describes it: what its edges show (the rules live with dump recognition, [`crate::dump`]) and how
//! its producer ended.

use repo_format::manifest::Source;

use repo_format::postgres::BaseBackup;

use super::{Physical, ProducerOutcome};
use crate::base_backup::{Recognised, Scanner};
use crate::dump::{self, DumpFormat, DumpInfo};
use crate::{Result, StoreError};

impl Physical {
    /// What the stream is, as far as PostgreSQL physical backups go: a WAL file when pushed as
    /// one; a whole base backup, described for the manifest; or neither (refused when a base
    /// backup was expected). A base backup cut short, or lacking what a restore needs, is
    /// refused: it could never be restored.
    pub(super) fn recognise(&self, info: &mut DumpInfo, scanned: Scanner) -> Result<Option<BaseBackup>> {
        if let Physical::Wal(_) = self {
            info.format = Some(DumpFormat::PgWal);
            return Ok(None);
        }
        match scanned.finish() {
            Recognised::NotBase if *self == Physical::BaseBackup => Err(StoreError::NotBaseBackup(match info.format {
                Some(f) => format!("it is {}", f.name()),
                None => "it is not a tar stream that starts with backup_label".into(),
            })),
            Recognised::NotBase => Ok(None),
            Recognised::Incomplete(why) => Err(StoreError::NotBaseBackup(format!("it was cut short or lacks what a restore needs: {why}"))),
            Recognised::Base(b) => {
                info.format = Some(DumpFormat::PgBasebackup);
                info.completion_marker = Some(true);
                info.server_version = b.pg_version.clone();
                Ok(Some(b))
            }
        }
    }
}

/// The first and last bytes of a stream, kept as it passes, and its tar structure if it is a
/// base backup.
#[derive(Default)]
pub(super) struct Edges {
    /// The first [`dump::EDGE`] bytes.
    pub head: Vec<u8>,
    /// The last [`dump::EDGE`] bytes seen so far.
    pub tail: Vec<u8>,
    /// What a base backup's tar headers and labels showed so far.
    pub base: Scanner,
}

impl Edges {
    /// Take in the next bytes of the stream.
    pub fn update(&mut self, data: &[u8]) {
        self.base.update(data);
        if self.head.len() < dump::EDGE {
            let n = (dump::EDGE - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
        }
        if data.len() >= dump::EDGE {
            self.tail.clear();
            self.tail.extend_from_slice(&data[data.len() - dump::EDGE..]);
        } else {
            let keep = (dump::EDGE - data.len()).min(self.tail.len());
            self.tail.drain(..self.tail.len() - keep);
            self.tail.extend_from_slice(data);
        }
    }
}

/// Lines of a producer's error output kept in a manifest.
pub const STDERR_LINES: usize = 20;
/// Bytes of each such line kept (longer lines end in `...`).
pub const STDERR_LINE_BYTES: usize = 1000;

/// `s` cut to at most `max` bytes (at a character boundary), marked with `...` when cut.
pub fn shorten(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max.saturating_sub(3);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// Decide, before the commit point, whether this stream may become a snapshot, and describe it.
pub(super) fn judge(info: &DumpInfo, size: u64, producer: Option<ProducerOutcome>, allow_incomplete: bool) -> Result<(Source, bool)> {
    if let Some(p) = &producer
        && let Some(failure) = &p.failure
    {
        return Err(StoreError::ProducerFailed { command: p.command.join(" "), status: failure.clone(), stderr_tail: p.stderr_tail.clone() });
    }
    if size == 0 {
        return Err(StoreError::EmptyInput);
    }
    let incomplete = info.is_truncated();
    if incomplete && !allow_incomplete {
        let format = info.format.map(DumpFormat::name).unwrap_or_default().to_string();
        let marker = info.format.and_then(DumpFormat::completion_marker).unwrap_or("end marker");
        return Err(StoreError::Incomplete { format, marker: marker.into() });
    }
    let mut source = Source {
        producer: Some(if producer.is_some() { "command" } else { "stdin" }.into()),
        format: info.format.map(|f| f.name().to_string()),
        tool: info.tool.clone(),
        tool_version: info.tool_version.clone(),
        database: info.database.clone(),
        server_version: info.server_version.clone(),
        encoding: info.encoding.clone(),
        compression: info.compression.clone(),
        batch_separator: info.batch_separator.clone(),
        completion_marker: info.completion_marker,
        warnings: info.compression_warning().into_iter().chain(info.unrecognised_warning(size)).collect(),
        ..Source::default()
    };
    if let Some(p) = producer {
        source.command = Some(p.command);
        source.exit_status = p.exit_status;
        // Bounded, so a tool printing megabytes on one line cannot make the manifest too large
        // to read back (SPEC.md section 15).
        let skip = p.stderr_tail.len().saturating_sub(STDERR_LINES);
        source.stderr_tail = p.stderr_tail.into_iter().skip(skip).map(|l| shorten(l, STDERR_LINE_BYTES)).collect();
    }
    if incomplete {
        source.warnings.push("the dump's completion marker is missing: it was cut short and kept on request (--allow-incomplete)".into());
    }
    Ok((source, incomplete))
}
