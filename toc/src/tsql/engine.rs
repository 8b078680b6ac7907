//! The line and batch engine: the script's narrow text a line at a time (see [`super::utf16`]),
//! its original bytes hashed into the object they belong to.
//!
//! A line that starts in code is kept (its first [`DECIDE`] narrow bytes) until it is known to
//! open an object or not; every other line, and the rest of a long one, streams into the current
//! object's digest as it arrives. Object boundaries are always at line starts: the opening line's,
//! or the start of the batches of `SET ... ON` before it (SSMS writes `SET ANSI_PADDING ON` / `GO`
//! before an index's header), which are held back, up to [`HELD_MAX`] bytes, until it is known
//! whose they are.

use std::ops::Range;

use super::lexer::Lexer;
use super::lines::{self, Head, Line};
use super::utf16::Encoding;
use crate::{Header, Kind, Object, Section, Toc};

/// Narrow bytes of a line kept to tell what it is: far more than a header or an `INSERT`'s
/// table name takes (names are at most 128 characters).
pub(super) const DECIDE: usize = 4096;

/// Original bytes of `SET ... ON` batches held back at most.
const HELD_MAX: usize = 64 << 10;

/// Bytes gathered for the current object's digest before they are hashed: BLAKE3 hashes many
/// kilobytes at once several times faster than a line at a time.
const HASH_BATCH: usize = 64 << 10;

/// What the current batch holds so far, line by line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Batch {
    /// No code yet.
    Empty,
    /// `SET ... ON` statements only.
    Settings,
    /// Table data: `INSERT` and `SET IDENTITY_INSERT` statements (after settings, perhaps).
    Data,
    /// Anything else (a procedure's body, say): no line in it opens an object.
    Other,
}

/// An object whose end is not known yet.
struct Open {
    named: Header,
    database: Option<String>,
    section: Section,
    start: u64,
    /// Rows the lexer had counted when the object began.
    rows_start: u64,
    hasher: blake3::Hasher,
    /// Opened by an SSMS header.
    by_header: bool,
    /// Opened by a header and no statement came yet: its `CREATE` (or `ALTER TABLE ... ADD`)
    /// opens no other object.
    awaiting: bool,
    /// For table data: the table's name as the script spells it, in original bytes.
    table_raw: Vec<u8>,
}

/// Builds the table of contents from a script's narrow text and original bytes.
pub(super) struct Engine {
    key: [u8; 32],
    enc: Encoding,
    pos: u64,
    line_start: u64,
    /// A line has begun and not ended.
    in_line: bool,
    /// The current line is kept and not yet decided.
    kept: bool,
    /// The kept line's narrow bytes, and its original bytes (UTF-16 only).
    head: Vec<u8>,
    head_orig: Vec<u8>,
    /// The lexer's rows when the line began.
    line_rows: u64,
    /// The line's first code was read when it was decided.
    line_read: bool,
    lexer: Lexer,
    batch: Batch,
    /// Where the bytes held back begin, and the lexer's rows there.
    held: Option<(u64, u64)>,
    held_bytes: Vec<u8>,
    current: Open,
    /// Bytes of the current object not yet hashed (at most [`HASH_BATCH`]).
    unhashed: Vec<u8>,
    objects: Vec<Object>,
    not_understood: Vec<Range<u64>>,
    /// The database of the last `USE`.
    database: Option<String>,
    /// Table data came since the last database began.
    data_seen: bool,
}

impl Engine {
    /// An engine for a script in `enc` whose digests are keyed with `key`; `bom` are the
    /// byte-order mark's bytes, the preamble's first.
    pub(super) fn new(key: [u8; 32], enc: Encoding, bom: &[u8]) -> Self {
        let preamble = Header::of(Kind::Preamble);
        let mut current = Open::new(&key, preamble, None, Section::PreData, 0, 0, false);
        current.hasher.update(bom);
        let pos = bom.len() as u64;
        Engine {
            key,
            enc,
            pos,
            line_start: pos,
            in_line: false,
            kept: false,
            head: Vec::new(),
            head_orig: Vec::new(),
            line_rows: 0,
            line_read: false,
            lexer: Lexer::new(),
            batch: Batch::Empty,
            held: Some((pos, 0)),
            held_bytes: Vec::new(),
            current,
            unhashed: Vec::with_capacity(HASH_BATCH),
            objects: Vec::new(),
            not_understood: Vec::new(),
            database: None,
            data_seen: false,
        }
    }

    /// The narrow text `narrow` of original bytes `orig` (whole code units).
    pub(super) fn process(&mut self, narrow: &[u8], orig: &[u8]) {
        let u = self.enc.unit();
        let mut i = 0;
        while i < narrow.len() {
            if !self.in_line {
                self.begin_line();
            }
            let (end, ends) = match memchr::memchr(b'\n', &narrow[i..]) {
                Some(k) => (i + k + 1, true),
                None => (narrow.len(), false),
            };
            let (n, o) = (&narrow[i..end], &orig[i * u..end * u]);
            self.lexer.feed(n);
            self.pos += o.len() as u64;
            self.take(n, o, ends);
            if ends {
                self.end_line();
            }
            i = end;
        }
    }

    /// The objects completed since the last call.
    pub(super) fn take_objects(&mut self) -> Vec<Object> {
        std::mem::take(&mut self.objects)
    }

    /// The stream has ended; `extra` are bytes that were no whole code unit.
    pub(super) fn finish(mut self, extra: &[u8]) -> Toc {
        if self.in_line {
            self.end_line();
        }
        self.sink(extra);
        self.pos += extra.len() as u64;
        self.flush_held();
        let end = self.pos;
        if self.lexer.cut_short() || self.batch != Batch::Empty || !extra.is_empty() {
            // Cut short inside a string, comment or batch: the object is not all there.
            self.not_understood.push(self.current.start..end);
        }
        let rows = self.lexer.rows();
        self.hash_now();
        let trailer = Header::of(Kind::Trailer);
        let last = std::mem::replace(&mut self.current, Open::new(&self.key, trailer, None, Section::PostData, end, rows, false));
        self.close(last, end, rows);
        Toc { objects: self.objects, not_understood: self.not_understood, len: end, whole: None }
    }

    /// A line begins: kept if it begins in code, where it may say what it is.
    fn begin_line(&mut self) {
        self.in_line = true;
        self.line_start = self.pos;
        self.kept = self.lexer.in_code();
        self.line_rows = self.lexer.rows();
        self.line_read = false;
        self.head.clear();
        self.head_orig.clear();
        self.lexer.start_line();
    }

    /// The next narrow bytes `n` of the current line and their original bytes `o` (`ends`: up to
    /// its line end).
    fn take(&mut self, n: &[u8], o: &[u8], ends: bool) {
        if !self.kept {
            return self.sink(o);
        }
        let k = (DECIDE - self.head.len()).min(n.len());
        self.head.extend_from_slice(&n[..k]);
        if self.enc != Encoding::Utf8 {
            self.head_orig.extend_from_slice(&o[..k * self.enc.unit()]);
        }
        if self.head.len() < DECIDE || (k == n.len() && ends) {
            return;
        }
        // A long line: what its first bytes say it is, it is.
        self.decide(false);
        self.sink(&o[k * self.enc.unit()..]);
    }

    /// The line ended (its line end included).
    fn end_line(&mut self) {
        if self.kept {
            self.decide(true);
        } else if !self.line_read
            && let Some((_, b)) = self.lexer.line().first_code
        {
            // Code on a line that began in a string or comment, or after a long head.
            self.statement(if b"(),;".contains(&b) { Line::Continuation } else { Line::Other });
        }
        self.in_line = false;
    }

    /// Tell what the kept line is and act on it.
    fn decide(&mut self, complete: bool) {
        self.kept = false;
        let info = self.lexer.line();
        self.line_read = info.first_code.is_some_and(|(at, _)| at < self.head.len());
        let (head, orig) = (std::mem::take(&mut self.head), std::mem::take(&mut self.head_orig));
        let h = Head { narrow: &head, orig: if self.enc == Encoding::Utf8 { &head } else { &orig }, enc: self.enc };
        let opens = self.batch != Batch::Other; // no line inside a procedure's body opens an object
        match lines::classify(&h, info, complete) {
            Line::Go => {
                self.sink(h.orig);
                self.batch = Batch::Empty;
                self.lexer.end_batch();
                if self.held.is_none() {
                    self.held = Some((self.pos, self.lexer.rows()));
                }
            }
            Line::Blank => self.sink(h.orig),
            Line::Header(named, date) if opens => {
                // The script date is left out of the digest (the same objects scripted at another
                // time give the same digests); the line's bytes, and the range, stay whole.
                let (before, after) = h.around(date);
                if self.current.by_header && self.current.named == named {
                    // SSMS repeats a header before the CREATE that follows a DROP.
                    self.current.awaiting = true;
                    self.flush_held();
                    self.hash(before);
                } else {
                    self.open(named, true, before);
                }
                self.hash(after);
            }
            // A header inside a procedure's body is the procedure's text, its date included.
            Line::Header(..) => self.sink(h.orig),
            Line::Settings if matches!(self.batch, Batch::Empty | Batch::Settings) => {
                self.batch = Batch::Settings;
                self.sink(h.orig);
            }
            Line::Insert(table) if opens => self.data(&h, table, true),
            Line::IdentityInsert(table, on) if opens => self.data(&h, table, on),
            Line::Use(db) if opens => self.use_database(&h, db),
            Line::Creates(named) if opens => {
                self.batch = Batch::Other;
                if std::mem::take(&mut self.current.awaiting) {
                    self.goes_on(&h); // the header's own CREATE
                } else {
                    self.open(named, false, h.orig);
                }
            }
            line => {
                self.sink(h.orig);
                self.statement(line);
            }
        }
        (self.head, self.head_orig) = (head, orig);
    }

    /// A line of the current object, after what was held back.
    fn goes_on(&mut self, h: &Head) {
        self.flush_held();
        self.sink(h.orig);
    }

    /// A line of table data into `table` (a narrow range of `h`); `opens`: it may open the
    /// table's data (an `INSERT`, a `SET IDENTITY_INSERT ... ON`).
    fn data(&mut self, h: &Head, table: Range<usize>, opens: bool) {
        self.batch = Batch::Data;
        self.current.awaiting = false;
        let raw = h.raw(table.clone());
        let c = &self.current;
        let same = c.named.kind == Kind::TableData
            && (c.table_raw == raw || {
                let (schema, name) = lines::schema_and_name(h, table.clone());
                c.named.schema == schema && c.named.name == name
            });
        if same || !opens {
            return self.goes_on(h);
        }
        let (schema, name) = lines::schema_and_name(h, table);
        self.open(Header { kind: Kind::TableData, tool_kind: "Table Data".into(), schema, name, ..Header::default() }, false, h.orig);
        self.current.table_raw = raw.to_vec();
    }

    /// A `USE db` line.
    fn use_database(&mut self, h: &Head, db: String) {
        let before_objects = matches!(self.current.named.kind, Kind::Preamble | Kind::Database | Kind::Trailer);
        if !before_objects && matches!(self.batch, Batch::Empty | Batch::Settings) && self.database.as_deref() == Some(&db) {
            // The database it is in already, after objects: like a setting, the next object's
            // (scripts of single tables put together, each from its `USE`).
            self.batch = Batch::Settings;
            return self.sink(h.orig);
        }
        self.batch = Batch::Other;
        self.current.awaiting = false;
        if before_objects {
            self.goes_on(h);
        } else {
            // A database's section, or (`USE [master]`) the end of the script.
            const SYSTEM: [&str; 4] = ["master", "tempdb", "model", "msdb"];
            let kind = if SYSTEM.iter().any(|s| s.eq_ignore_ascii_case(&db)) { Kind::Trailer } else { Kind::Database };
            self.open(Header { kind, tool_kind: "USE".into(), name: db.clone(), ..Header::default() }, false, h.orig);
        }
        self.database = Some(db);
    }

    /// A line of code that opens no object (its bytes are sunk already).
    fn statement(&mut self, line: Line) {
        match (line, self.batch) {
            // More rows of a statement, or settings, inside table data.
            (Line::Continuation | Line::Settings, Batch::Data) => {}
            (Line::Settings, Batch::Other) => {}
            _ => {
                self.batch = Batch::Other;
                self.current.awaiting = false;
                self.flush_held();
            }
        }
    }

    /// Open `named` at the start of the bytes held back, or else at the current line's start;
    /// `line` (the line's original bytes, or what of them is digested first) are its first.
    fn open(&mut self, named: Header, by_header: bool, line: &[u8]) {
        let (start, rows) = self.held.take().unwrap_or((self.line_start, self.line_rows));
        let section = match named.kind {
            Kind::TableData => {
                self.data_seen = true;
                Section::Data
            }
            Kind::Database => {
                self.data_seen = false;
                Section::PreData
            }
            Kind::Schema | Kind::Type | Kind::Table | Kind::Sequence => Section::PreData,
            Kind::Trailer => Section::PostData,
            _ if self.data_seen => Section::PostData,
            _ => Section::PreData,
        };
        let database = if matches!(named.kind, Kind::Database | Kind::Trailer) { None } else { self.database.clone() };
        let next = Open::new(&self.key, named, database, section, start, rows, by_header);
        self.hash_now();
        let old = std::mem::replace(&mut self.current, next);
        self.close(old, start, rows);
        self.held_bytes_to_current();
        self.hash(line);
    }

    /// Bytes of the current line that belong to the bytes held back, if any, or else to the
    /// current object.
    fn sink(&mut self, bytes: &[u8]) {
        if self.held.is_some() {
            if self.held_bytes.len() + bytes.len() <= HELD_MAX {
                self.held_bytes.extend_from_slice(bytes);
                return;
            }
            self.flush_held();
        }
        self.hash(bytes);
    }

    /// The bytes held back belong to the current object.
    fn flush_held(&mut self) {
        if self.held.take().is_some() {
            self.held_bytes_to_current();
        }
    }

    /// Hash the bytes held back into the current object, and keep their buffer small.
    fn held_bytes_to_current(&mut self) {
        let held = std::mem::take(&mut self.held_bytes);
        self.hash(&held);
        self.held_bytes = held;
        self.held_bytes.clear();
        self.held_bytes.shrink_to(HELD_MAX);
    }

    /// Bytes of the current object, for its digest.
    fn hash(&mut self, bytes: &[u8]) {
        if self.unhashed.len() + bytes.len() > HASH_BATCH {
            self.hash_now();
            if bytes.len() >= HASH_BATCH {
                self.current.hasher.update(bytes);
                return;
            }
        }
        self.unhashed.extend_from_slice(bytes);
    }

    /// Hash what the current object's digest still lacks (before it ends).
    fn hash_now(&mut self) {
        self.current.hasher.update(&self.unhashed);
        self.unhashed.clear();
    }

    /// End `o` at `end`, where the lexer had counted `rows`.
    fn close(&mut self, o: Open, end: u64, rows: u64) {
        if o.start == end && o.named.kind == Kind::Preamble {
            return; // an empty preamble
        }
        let rows = (o.named.kind == Kind::TableData).then(|| rows - o.rows_start);
        let named = Header { database: o.database, ..o.named };
        self.objects.push(named.object(o.section, o.start..end, rows, *o.hasher.finalize().as_bytes()));
    }
}

impl Open {
    /// An object that begins at `start`, where the lexer had counted `rows_start` rows.
    fn new(key: &[u8; 32], named: Header, database: Option<String>, section: Section, start: u64, rows_start: u64, by_header: bool) -> Open {
        let hasher = blake3::Hasher::new_keyed(key);
        Open { named, database, section, start, rows_start, hasher, by_header, awaiting: by_header, table_raw: Vec::new() }
    }
}
