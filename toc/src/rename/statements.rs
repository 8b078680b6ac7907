//! The statements of a table data object, with the head of each rewritten and everything else
//! verbatim: `INSERT INTO orders VALUES (...)` becomes `INSERT INTO orders_old VALUES (...)` without
//! the rows ever being held in memory or looked at (a table's rows may be many gigabytes). The
//! object is read in windows and lexed as it passes, so that a line inside a string value that
//! looks like a statement is never taken for one.

use std::ops::Range;

use super::one;
use crate::select::{Piece, ReadRanges, SelectError};
use crate::sql::Lexer;

/// Bytes read at a time.
const WINDOW: u64 = 8 << 20;

/// Longest head of a statement rewritten (an `INSERT` naming 1,600 long columns).
pub(super) const HEAD: usize = 256 << 10;

/// The pieces that write `range` with the head of every statement that starts at a line start
/// rewritten by `edit`: it gets the statement's first line up to its `VALUES` (an `INSERT` or
/// `REPLACE`) or whole (anything else, if shorter than [`HEAD`]), and returns its new text, or
/// `None` to keep it. Lines inside statements and values are written verbatim.
pub(super) fn rewrite_heads(
    range: Range<u64>,
    mut lexer: Lexer,
    read: &mut ReadRanges<'_>,
    edit: &mut dyn FnMut(&str) -> Result<Option<String>, SelectError>,
) -> Result<Vec<Piece>, SelectError> {
    let mut out = Out::default();
    let mut w = Window { read, end: range.end, buf: Vec::new(), start: range.start };
    let mut at = range.start;
    while at < range.end {
        let starts = !lexer.in_statement();
        let mut kept = 0;
        let mut whole = false;
        if starts {
            let head = w.at(at, HEAD)?;
            let head = &head[..head.len().min(HEAD)];
            let line = memchr::memchr(b'\n', head).map(|i| &head[..=i]);
            let opens = |word: &[u8]| head.get(..word.len()).is_some_and(|h| h.eq_ignore_ascii_case(word));
            let text = if opens(b"INSERT") || opens(b"REPLACE") {
                // Left as it is, it would load the rows into the live table.
                let head = values_end(line.unwrap_or(head)).and_then(|end| std::str::from_utf8(&head[..end]).ok());
                Some(head.ok_or_else(|| SelectError::Rename(format!("the INSERT statement at byte {at} of the dump is longer than dbvault rewrites (or not UTF-8)")))?)
            } else {
                line.and_then(|t| std::str::from_utf8(t).ok())
            };
            if let Some(text) = text
                && let Some(new) = edit(text)?
            {
                kept = text.len();
                whole = text.ends_with('\n');
                lexer.feed(text.as_bytes());
                out.note(new);
            }
        }
        // The rest of the line, verbatim, read as far as it goes.
        let mut pos = at + kept as u64;
        loop {
            if whole {
                break;
            }
            let rest = w.at(pos, 1)?;
            if rest.is_empty() {
                break;
            }
            let n = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            lexer.feed(&rest[..n]);
            out.dump(pos..pos + n as u64);
            pos += n as u64;
            if rest[n - 1] == b'\n' {
                break;
            }
        }
        at = pos;
    }
    Ok(out.pieces)
}

/// Where the `VALUES` keyword of an `INSERT` line ends, if the line has it.
fn values_end(line: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b" VALUES";
    line.windows(KEY.len())
        .enumerate()
        .filter(|(_, w)| w.eq_ignore_ascii_case(KEY))
        .map(|(i, _)| i + KEY.len())
        .find(|&e| line.get(e).is_none_or(|c| matches!(c, b' ' | b'\n' | b'\r' | b'(')))
}

/// The pieces written so far, consecutive dump ranges merged.
#[derive(Default)]
struct Out {
    pieces: Vec<Piece>,
}

impl Out {
    fn note(&mut self, text: String) {
        self.pieces.push(Piece::Note(text));
    }

    fn dump(&mut self, r: Range<u64>) {
        if let Some(Piece::Dump(last)) = self.pieces.last_mut()
            && last.end == r.start
        {
            last.end = r.end;
            return;
        }
        self.pieces.push(Piece::Dump(r));
    }
}

/// The bytes of a range, read a window at a time.
struct Window<'r, 'a> {
    read: &'r mut ReadRanges<'a>,
    end: u64,
    buf: Vec<u8>,
    /// The offset of `buf[0]`.
    start: u64,
}

impl Window<'_, '_> {
    /// The bytes from `at` on that are read: at least `want` of them, if the range has them
    /// (empty at its end).
    fn at(&mut self, at: u64, want: usize) -> Result<&[u8], SelectError> {
        let have = self.start + self.buf.len() as u64;
        if at + want as u64 > have && have < self.end {
            self.buf.drain(..(at.min(have) - self.start) as usize);
            self.start = at.min(have);
            let to = (have + WINDOW).max(at + want as u64).min(self.end);
            let more = one(self.read, have..to)?;
            self.buf.extend_from_slice(&more);
        }
        Ok(self.buf.get((at - self.start) as usize..).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, lexer: Lexer) -> String {
        let mut read = |rs: &[Range<u64>]| Ok(rs.iter().map(|r| text.as_bytes()[r.start as usize..r.end as usize].to_vec()).collect());
        let mut edit = |head: &str| Ok(head.contains("`t`").then(|| head.replace("`t`", "`n`")));
        let pieces = rewrite_heads(0..text.len() as u64, lexer, &mut read, &mut edit).unwrap();
        pieces
            .iter()
            .map(|p| match p {
                Piece::Note(n) => n.clone(),
                Piece::Dump(r) => text[r.start as usize..r.end as usize].to_string(),
            })
            .collect()
    }

    #[test]
    fn only_heads_of_statements_change() {
        let text = "LOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES (1,'`t`'),(2,'a\nINSERT INTO `t` VALUES (3)');\nINSERT INTO `t` VALUES\n(4,'`t`');\nUNLOCK TABLES;";
        assert_eq!(
            run(text, Lexer::mysql()),
            "LOCK TABLES `n` WRITE;\nINSERT INTO `n` VALUES (1,'`t`'),(2,'a\nINSERT INTO `t` VALUES (3)');\nINSERT INTO `n` VALUES\n(4,'`t`');\nUNLOCK TABLES;"
        );
    }
}
