//! The rows of an uncompressed data block, counted as its payload streams past.
//!
//! A `COPY` block (its entry has a `COPY` statement) holds `COPY` text: a row a line, and pg_dump
//! ends it with the line `\.` (and two empty lines, which are no rows). Any other table data block
//! holds `INSERT` statements (`--inserts`, `--column-inserts`, `--rows-per-insert`), whose rows
//! the SQL lexer counts as for the plain format.

use crate::sql::Lexer;

/// How a data block's rows are counted.
pub(super) enum Rows {
    /// Not at all (compressed data, large objects).
    Uncounted,
    /// `COPY` text.
    Copy(CopyRows),
    /// `INSERT` statements.
    Inserts(Box<Lexer>),
}

impl Rows {
    /// The next payload bytes.
    pub(super) fn feed(&mut self, bytes: &[u8]) {
        match self {
            Rows::Uncounted => {}
            Rows::Copy(c) => c.feed(bytes),
            Rows::Inserts(l) => l.feed(bytes),
        }
    }

    /// The rows counted.
    pub(super) fn count(&self) -> Option<u64> {
        match self {
            Rows::Uncounted => None,
            Rows::Copy(c) => Some(c.rows),
            Rows::Inserts(l) => Some(l.rows()),
        }
    }
}

/// Where in a line of `COPY` text the bytes so far end.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Line {
    /// At its start.
    #[default]
    Start,
    /// After a backslash at its start.
    Backslash,
    /// After `\.` at its start.
    BackslashDot,
    /// Anywhere else.
    Inside,
    /// After the end marker `\.`: nothing more is a row.
    Ended,
}

/// Counts the lines of `COPY` text before its end marker.
#[derive(Default)]
pub(super) struct CopyRows {
    rows: u64,
    line: Line,
}

impl CopyRows {
    fn feed(&mut self, mut bytes: &[u8]) {
        while let Some((&b, rest)) = bytes.split_first() {
            self.line = match (self.line, b) {
                (Line::Ended, _) => return,
                (Line::Inside, _) => match memchr::memchr(b'\n', bytes) {
                    Some(i) => {
                        self.rows += 1;
                        bytes = &bytes[i + 1..];
                        self.line = Line::Start;
                        continue;
                    }
                    None => return,
                },
                (Line::BackslashDot, b'\n') => Line::Ended,
                (_, b'\n') => {
                    self.rows += 1;
                    Line::Start
                }
                (Line::Start, b'\\') => Line::Backslash,
                (Line::Backslash, b'.') => Line::BackslashDot,
                _ => Line::Inside,
            };
            bytes = rest;
        }
    }
}
