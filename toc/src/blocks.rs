//! The engine of dumps laid out in comment blocks (pg_dump's plain format, mysqldump's): an
//! object is the bytes from the first `--` line of the block that introduces it to the next
//! block's. What a block line says, which lexer reads the SQL and whether `COPY` rows occur are
//! the [`Dialect`]'s.
//!
//! A block line opens an object only outside strings, dollar-quoted function bodies and
//! statements ([`Lexer`] lexes everything but COPY rows), so no text a user wrote can split
//! an object. Lines starting with `--` are kept whole (up to [`MAX_LINE_HEAD`] bytes) until they
//! are known to open an object or not (as are `COPY` lines and psql meta-commands, to be read
//! whole); every other line streams into the current object's digest
//! as it arrives, so no line of data is ever held in memory. Lines that can open nothing (inside
//! a statement, or starting with none of what may be kept) are lexed and hashed many at a time
//! (an update of the digest a line would hash short lines several times slower). Rows are
//! `COPY` lines up to `\.` (counted many lines at a time), or the rows of `INSERT ... VALUES`
//! statements.

use std::ops::Range;

use crate::sql::Lexer;
use crate::{Kind, MAX_LINE_HEAD, Object, Section, Toc, TocParser};

mod dialect;

pub use crate::Header;
pub use dialect::Dialect;

/// What the current line is, as far as it has been seen.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineMode {
    /// Nothing of it yet, or too little to tell what it is (its bytes are in `BlockParser::line`).
    Undecided,
    /// A line that may open an object or start table data, kept whole (in `BlockParser::line`).
    Kept,
    /// Any other line, streamed into the current object as it comes; its first bytes are in
    /// `BlockParser::line` (up to `HEAD`).
    Streamed,
}

/// Bytes of an ordinary line kept from its start and from its end, to recognise it (a `COPY`
/// statement starts with `COPY ` and ends with `FROM stdin;`; rows end at `\.`).
const HEAD: usize = 16;

/// An object whose end is not known yet.
struct Open {
    header: Header,
    section: Section,
    start: u64,
    copy_rows: Option<u64>,
    hasher: blake3::Hasher,
    lexer: Lexer,
}

/// What is known of the stream's next `\nCOPY`.
#[derive(Clone, Copy)]
enum CopyAhead {
    /// It starts at this offset.
    At(u64),
    /// None starts before this offset.
    NoneBefore(u64),
}

/// Builds the table of contents of a block-structured dump (see the module documentation).
pub struct BlockParser<D> {
    dialect: D,
    key: [u8; 32],
    pos: u64,
    line_start: u64,
    mode: LineMode,
    /// The current line's bytes as `mode` says (reused from line to line).
    line: Vec<u8>,
    /// A `--` line that may open the next object's block: (its start, its bytes).
    held: Option<(u64, Vec<u8>)>,
    /// Inside a `COPY ... FROM stdin;` block.
    in_copy: bool,
    /// A `COPY` statement has begun (its table's name may hold a newline) and not yet ended.
    copy_pending: bool,
    /// Where the stream's next `\nCOPY` is, once found, or up to where none is (stream offsets):
    /// each byte is searched once, however many times lines are taken from the same bytes.
    copy_ahead: CopyAhead,
    /// The current line's last bytes (at most `HEAD`), and whether it began outside any string or
    /// statement.
    tail: Vec<u8>,
    line_top: bool,
    current: Open,
    objects: Vec<Object>,
    not_understood: Vec<Range<u64>>,
    /// The section of the last object that had one of its own.
    section: Section,
}

impl<D: Dialect> BlockParser<D> {
    /// A parser of `dialect` whose object digests are keyed with `key`.
    pub fn with_dialect(dialect: D, key: [u8; 32]) -> Self {
        let current = Open::new(&key, dialect.lexer(), Header::of(Kind::Preamble), Section::PreData, 0);
        BlockParser {
            dialect,
            key,
            pos: 0,
            line_start: 0,
            mode: LineMode::Undecided,
            line: Vec::new(),
            held: None,
            in_copy: false,
            copy_pending: false,
            copy_ahead: CopyAhead::NoneBefore(0),
            tail: Vec::new(),
            line_top: true,
            current,
            objects: Vec::new(),
            not_understood: Vec::new(),
            section: Section::PreData,
        }
    }

    /// Bytes that belong to the current object, in stream order.
    fn stream(&mut self, bytes: &[u8]) {
        if let Some((_, held)) = self.held.take() {
            self.absorb(&held);
        }
        self.absorb(bytes);
    }

    fn absorb(&mut self, bytes: &[u8]) {
        self.current.hasher.update(bytes);
        if !self.in_copy {
            self.current.lexer.feed(bytes);
        }
    }

    /// Whether a line starting with `first` (its first bytes, at least two unless the line is
    /// shorter) is kept whole: a possible block line, the `COPY` that starts table data, or a
    /// psql meta-command.
    fn keeps(&self, first: &[u8]) -> bool {
        !(self.in_copy || self.copy_pending || self.current.lexer.in_statement()) && self.kept_head(first)
    }

    /// Whether a line starting with `first` is kept whole where a statement may start.
    fn kept_head(&self, first: &[u8]) -> bool {
        first.starts_with(b"--") || (self.dialect.copies() && first.starts_with(b"CO")) || first.starts_with(b"\\") || self.dialect.keeps_statement(first)
    }

    /// A kept line that opens nothing, with only what the dialect digests of a meta-command.
    fn stream_kept(&mut self, line: &[u8]) {
        let digested = if line.starts_with(b"\\") { self.dialect.digested(line) } else { line };
        if digested.len() == line.len() {
            return self.stream(line);
        }
        if let Some((_, held)) = self.held.take() {
            self.absorb(&held);
        }
        self.current.hasher.update(digested);
        self.current.lexer.feed(line);
    }

    /// Rows of a COPY block, from a line start at `data[0]`: whole lines up to the line `\.` (not
    /// included) or to the end of `data`. Returns the bytes consumed (whole lines only).
    fn copy_rows(&mut self, data: &[u8]) -> usize {
        if data.starts_with(b"\\") {
            return 0; // perhaps the end: the line by line path decides
        }
        let upto = match memchr::memmem::find(data, b"\n\\.") {
            Some(i) => i + 1,
            None => memchr::memrchr(b'\n', data).map_or(0, |i| i + 1),
        };
        let rows = memchr::memchr_iter(b'\n', &data[..upto]).count() as u64;
        if let Some(r) = &mut self.current.copy_rows {
            *r += rows;
        }
        upto
    }

    /// Lines from a line start at `data[0]` that the line-by-line path would stream whole, as it
    /// would: those that start inside a statement, or with none of what [`BlockParser::keeps`]
    /// looks for. Whole lines up to the first that may be kept, or that starts with `COPY` (in a
    /// dialect with COPY rows), or to the end of `data`, lexed and hashed; returns how many bytes.
    fn streamed_lines(&mut self, data: &[u8]) -> usize {
        let Some(last) = memchr::memrchr(b'\n', data) else { return 0 };
        let mut lines = &data[..=last];
        if self.dialect.copies() {
            if lines.starts_with(b"COPY") {
                return 0;
            }
            if let Some(at) = self.next_copy(lines) {
                lines = &lines[..=at];
            }
        }
        let mut at = 0;
        while at < lines.len() {
            if !self.current.lexer.in_statement() && self.kept_head(&lines[at..]) {
                break;
            }
            let lexer = &mut self.current.lexer;
            at += lexer.feed_statement(&lines[at..]);
            if at < lines.len() && lines[at - 1] != b'\n' {
                // The statement ended inside a line: the rest of it too.
                let end = memchr::memchr(b'\n', &lines[at..]).map_or(lines.len(), |i| at + i + 1);
                lexer.feed(&lines[at..end]);
                at = end;
            }
        }
        // In one update: the hasher's SIMD hashes many chunks at once.
        self.current.hasher.update(&lines[..at]);
        at
    }

    /// Where in `data` (which starts at the stream's current offset) the next `\nCOPY` starts, if
    /// there is one in it.
    fn next_copy(&mut self, data: &[u8]) -> Option<usize> {
        const NEEDLE: &[u8] = b"\nCOPY";
        let base = self.pos;
        let end = base + data.len() as u64;
        let from = match self.copy_ahead {
            CopyAhead::At(at) if at >= base => return (at + NEEDLE.len() as u64 <= end).then(|| (at - base) as usize),
            CopyAhead::NoneBefore(to) => to.max(base),
            CopyAhead::At(_) => base,
        };
        match memchr::memmem::find(&data[(from - base) as usize..], NEEDLE) {
            Some(i) => {
                self.copy_ahead = CopyAhead::At(from + i as u64);
                Some((from - base) as usize + i)
            }
            None => {
                // A needle may begin in the last bytes and end in bytes not yet seen.
                self.copy_ahead = CopyAhead::NoneBefore(end.saturating_sub(NEEDLE.len() as u64 - 1).max(from));
                None
            }
        }
    }

    /// Take `piece`, the rest of the current line or a part of it (`ends`: up to its newline).
    fn take(&mut self, piece: &[u8], ends: bool) {
        if self.tail.len() + piece.len() > HEAD {
            let keep = HEAD.saturating_sub(piece.len()).min(self.tail.len());
            self.tail.drain(..self.tail.len() - keep);
        }
        self.tail.extend_from_slice(&piece[piece.len().saturating_sub(HEAD)..]);
        let mut piece = piece;
        if self.mode == LineMode::Undecided {
            let want = (2 - self.line.len()).min(piece.len());
            self.line.extend_from_slice(&piece[..want]);
            piece = &piece[want..];
            if self.line.len() < 2 && !ends {
                return;
            }
            self.line_top = !self.in_copy && self.current.lexer.at_top_level();
            if self.keeps(&self.line) {
                self.mode = LineMode::Kept;
            } else {
                self.mode = LineMode::Streamed;
                let first = std::mem::take(&mut self.line);
                self.stream(&first);
                self.line = first;
            }
        }
        match self.mode {
            LineMode::Kept => {
                self.line.extend_from_slice(piece);
                if self.line.len() > MAX_LINE_HEAD {
                    // Too long for a block line or a COPY line: an ordinary one.
                    self.mode = LineMode::Streamed;
                    let kept = std::mem::take(&mut self.line);
                    self.stream(&kept);
                    self.line = kept;
                    self.line.truncate(HEAD);
                    self.line.shrink_to(64 << 10); // a long line's buffer is not kept
                }
            }
            LineMode::Streamed => {
                let room = HEAD.saturating_sub(self.line.len()).min(piece.len());
                self.line.extend_from_slice(&piece[..room]);
                self.stream(piece);
            }
            LineMode::Undecided => unreachable!("decided above"),
        }
        if ends {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        let start = self.line_start;
        let mode = std::mem::replace(&mut self.mode, LineMode::Undecided);
        let line = std::mem::take(&mut self.line);
        match mode {
            LineMode::Kept if line.starts_with(b"--") => self.comment_line(start, &line),
            LineMode::Kept | LineMode::Streamed if !self.in_copy => {
                if mode == LineMode::Kept {
                    if self.line_top
                        && let Some(h) = self.dialect.opens_statement(trim_eol(&line), &self.current.header)
                    {
                        self.open_at(start, h);
                    }
                    self.stream_kept(&line);
                }
                // Whatever the block said the object is: a name that fooled the block line must not
                // make its rows be read as SQL.
                if self.line_top && self.dialect.copies() && line.starts_with(b"COPY ") {
                    self.copy_pending = true;
                }
                // The statement ends at a line end outside quotes (a table's name may hold one).
                if self.copy_pending && self.current.lexer.at_top_level() {
                    self.copy_pending = false;
                    if trim_eol(&self.tail).ends_with(b"FROM stdin;") {
                        self.in_copy = true;
                        self.current.copy_rows.get_or_insert(0);
                    }
                }
            }
            LineMode::Kept | LineMode::Streamed => {
                if trim_eol(&line) == b"\\." {
                    self.in_copy = false;
                } else if let Some(r) = &mut self.current.copy_rows {
                    *r += 1;
                }
            }
            LineMode::Undecided => unreachable!("a line that ends is decided"),
        }
        self.line = line;
        self.line.clear();
        self.tail.clear();
    }

    fn comment_line(&mut self, start: u64, line: &[u8]) {
        let text = trim_eol(line);
        if text == b"--" {
            if let Some((_, held)) = self.held.take() {
                self.absorb(&held);
            }
            self.held = Some((start, line.to_vec()));
            return;
        }
        let Some(h) = self.dialect.opens(text) else {
            self.stream(line);
            return;
        };
        let begins = self.held.as_ref().map_or(start, |(s, _)| *s);
        let section = self.dialect.section(&h, self.section);
        self.section = section;
        let held = self.held.take();
        let next = Open::new(&self.key, self.dialect.lexer(), h, section, begins);
        self.close(begins, next);
        if let Some((_, bytes)) = held {
            self.current.hasher.update(&bytes);
        }
        self.current.hasher.update(line);
    }

    /// Open the object `h` at `start`, a line start outside statements (what a held `--` line
    /// before it belongs to the object it ends).
    fn open_at(&mut self, start: u64, h: Header) {
        if let Some((_, held)) = self.held.take() {
            self.absorb(&held);
        }
        let section = self.dialect.section(&h, self.section);
        self.section = section;
        let next = Open::new(&self.key, self.dialect.lexer(), h, section, start);
        self.close(start, next);
    }

    /// End the current object at `end` and make `next` the current one.
    fn close(&mut self, end: u64, next: Open) {
        let o = std::mem::replace(&mut self.current, next);
        if o.start == end && o.header.kind == Kind::Preamble {
            return; // an empty preamble
        }
        let rows = match o.copy_rows {
            Some(r) => Some(r),
            None => (o.header.kind == Kind::TableData).then(|| o.lexer.rows()),
        };
        self.objects.push(o.header.object(o.section, o.start..end, rows, *o.hasher.finalize().as_bytes()));
    }
}

impl<D: Dialect> TocParser for BlockParser<D> {
    fn take_objects(&mut self) -> Vec<Object> {
        std::mem::take(&mut self.objects)
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.in_copy && self.pos == self.line_start && self.held.is_none() {
                // Rows, many lines at a time: counted and hashed in one go.
                let n = self.copy_rows(data);
                if n > 0 {
                    self.absorb(&data[..n]);
                    self.pos += n as u64;
                    self.line_start = self.pos;
                    data = &data[n..];
                    continue;
                }
            }
            if !self.in_copy && !self.copy_pending && self.pos == self.line_start && self.held.is_none() && many_lines() {
                // Lines that open nothing, many at a time.
                let n = self.streamed_lines(data);
                if n > 0 {
                    self.pos += n as u64;
                    self.line_start = self.pos;
                    data = &data[n..];
                    continue;
                }
            }
            let (piece, ends) = match memchr::memchr(b'\n', data) {
                Some(i) => (&data[..=i], true),
                None => (data, false),
            };
            self.take(piece, ends);
            self.pos += piece.len() as u64;
            if ends {
                self.line_start = self.pos;
            }
            data = &data[piece.len()..];
        }
    }

    fn finish(mut self: Box<Self>) -> Toc {
        if self.pos > self.line_start {
            // A last line without a newline: a row cut short is not counted.
            if self.mode == LineMode::Undecided {
                self.mode = LineMode::Streamed;
                let first = std::mem::take(&mut self.line);
                self.stream(&first);
                self.line = first;
            }
            // (Inside COPY rows a line is never kept, and its bytes are streamed already.)
            if !self.in_copy {
                self.end_line();
            }
        }
        if let Some((_, held)) = self.held.take() {
            self.absorb(&held);
        }
        let end = self.pos;
        let whole = self.dialect.complete() || self.current.start == end;
        if self.in_copy || self.copy_pending || self.current.lexer.in_statement() || !whole {
            // Cut short inside table data or a statement, or before the dump's end: the object
            // is not all there.
            self.not_understood.push(self.current.start..end);
        }
        let key = self.key;
        let placeholder = Open::new(&key, self.dialect.lexer(), Header::of(Kind::Trailer), Section::PostData, end);
        self.close(end, placeholder);
        Toc { objects: self.objects, not_understood: self.not_understood, len: end, whole: None }
    }
}

impl Open {
    fn new(key: &[u8; 32], lexer: Lexer, h: Header, section: Section, start: u64) -> Open {
        Open { header: h, section, start, copy_rows: None, hasher: blake3::Hasher::new_keyed(key), lexer }
    }
}

#[cfg(test)]
thread_local! {
    /// Every line on its own in this test's thread, as before lines were taken many at a time
    /// (the equivalence test compares the two).
    pub(crate) static LINE_BY_LINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether lines that open nothing are taken many at a time.
fn many_lines() -> bool {
    #[cfg(test)]
    return !LINE_BY_LINE.get();
    #[cfg(not(test))]
    true
}

/// `line` without its line end (`\n` or `\r\n`).
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
