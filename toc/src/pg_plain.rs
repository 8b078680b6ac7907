//! pg_dump's plain SQL format.
//!
//! pg_dump introduces every object with a comment block,
//!
//! ```text
//! --
//! -- Name: orders; Type: TABLE; Schema: public; Owner: shop
//! --
//! ```
//!
//! (`-- Data for Name: ...` for table data), so an object is the bytes from its block's first
//! `--` line to the next block's. Table data is a `COPY ... FROM stdin;` whose rows are lines up to
//! `\.`, or `INSERT` statements (`--inserts`, `--column-inserts`, `--rows-per-insert`), counted by
//! [`RowCounter`]. The dump ends with `-- PostgreSQL database dump complete`.
//!
//! A block line opens an object only outside strings, dollar-quoted function bodies and
//! statements ([`RowCounter`] lexes everything but COPY rows), so no text a user wrote can split
//! an object. Lines starting with `--` are kept whole (up to [`MAX_LINE_HEAD`] bytes) until they are known
//! to open an object or not; every other line streams into the current object's digest as it
//! arrives, so no line of data is ever held in memory.

use std::ops::Range;

use crate::sql::RowCounter;
use crate::{Kind, MAX_LINE_HEAD, Object, Section, Toc, TocParser};

/// What the current line is, as far as it has been seen.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LineMode {
    /// Nothing of it yet, or too little to tell what it is (its bytes are in `PgPlain::line`).
    Undecided,
    /// A line that may open an object or start table data, kept whole (in `PgPlain::line`).
    Kept,
    /// Any other line, streamed into the current object as it comes; its first bytes are in
    /// `PgPlain::line` (up to `HEAD`).
    Streamed,
}

/// Bytes of an ordinary line kept from its start and from its end, to recognise it (a `COPY`
/// statement starts with `COPY ` and ends with `FROM stdin;`; rows end at `\.`).
const HEAD: usize = 16;

/// An object whose end is not known yet.
struct Open {
    kind: Kind,
    tool_kind: String,
    schema: Option<String>,
    name: String,
    owner: Option<String>,
    section: Section,
    start: u64,
    copy_rows: Option<u64>,
    hasher: blake3::Hasher,
    lexer: RowCounter,
}

/// Builds the table of contents of a pg_dump plain-format dump (see the module documentation).
pub struct PgPlain {
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

impl PgPlain {
    /// A parser whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> PgPlain {
        let current = Open::new(&key, Kind::Preamble, String::new(), None, String::new(), None, Section::PreData, 0);
        PgPlain {
            key,
            pos: 0,
            line_start: 0,
            mode: LineMode::Undecided,
            line: Vec::new(),
            held: None,
            in_copy: false,
            copy_pending: false,
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
    /// shorter) is kept whole: a possible block line, or the `COPY` that starts table data.
    fn keeps(&self, first: &[u8]) -> bool {
        if self.in_copy || self.copy_pending || self.current.lexer.in_statement() {
            return false;
        }
        first.starts_with(b"--") || first.starts_with(b"CO")
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
                    self.line.shrink_to(MAX_LINE_HEAD.min(64 << 10));
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
                    self.stream(&line);
                }
                // Whatever the block said the object is: a name that fooled the block line must not
                // make its rows be read as SQL.
                if self.line_top && line.starts_with(b"COPY ") {
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
        let opening = if let Some(fields) = text.strip_prefix(b"-- Name: ") {
            Header::parse(&String::from_utf8_lossy(fields), None)
        } else if let Some(fields) = text.strip_prefix(b"-- Data for Name: ") {
            Header::parse(&String::from_utf8_lossy(fields), Some("TABLE DATA"))
        } else if text.starts_with(b"-- PostgreSQL database dump complete") {
            Some(Header { kind: Kind::Trailer, tool_kind: String::new(), schema: None, name: String::new(), owner: None })
        } else {
            None
        };
        let Some(h) = opening else {
            self.stream(line);
            return;
        };
        let begins = self.held.as_ref().map_or(start, |(s, _)| *s);
        let section = match h.kind {
            Kind::TableData | Kind::SequenceValue => Section::Data,
            Kind::Index | Kind::Constraint | Kind::ForeignKey | Kind::Trigger => Section::PostData,
            Kind::Other if POST_DATA.contains(&h.tool_kind.as_str()) => Section::PostData,
            _ => self.section,
        };
        self.section = section;
        let held = self.held.take();
        let next = Open::new(&self.key, h.kind, h.tool_kind, h.schema, h.name, h.owner, section, begins);
        self.close(begins, next);
        if let Some((_, bytes)) = held {
            self.current.hasher.update(&bytes);
        }
        self.current.hasher.update(line);
    }

    /// End the current object at `end` and make `next` the current one.
    fn close(&mut self, end: u64, next: Open) {
        let o = std::mem::replace(&mut self.current, next);
        if o.start == end && o.kind == Kind::Preamble {
            return; // an empty preamble
        }
        let rows = match o.copy_rows {
            Some(r) => Some(r),
            None => (o.kind == Kind::TableData).then(|| o.lexer.rows()),
        };
        self.objects.push(Object {
            kind: o.kind,
            tool_kind: o.tool_kind,
            schema: o.schema,
            name: o.name,
            owner: o.owner,
            section: o.section,
            range: o.start..end,
            rows,
            digest: *o.hasher.finalize().as_bytes(),
        });
    }
}

impl TocParser for PgPlain {
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
            if self.in_copy {
                if self.mode == LineMode::Kept {
                    let line = std::mem::take(&mut self.line);
                    self.stream(&line);
                }
            } else {
                self.end_line();
            }
        }
        if let Some((_, held)) = self.held.take() {
            self.absorb(&held);
        }
        let end = self.pos;
        if self.in_copy || self.copy_pending || self.current.lexer.in_statement() {
            // Cut short inside table data or a statement: the object is not all there.
            self.not_understood.push(self.current.start..end);
        }
        let key = self.key;
        let placeholder = Open::new(&key, Kind::Trailer, String::new(), None, String::new(), None, Section::PostData, end);
        self.close(end, placeholder);
        Toc { objects: self.objects, not_understood: self.not_understood, len: end }
    }
}

/// pg_dump's kinds that need the rows loaded (its post-data section), beyond indexes,
/// constraints and triggers.
const POST_DATA: &[&str] = &["RULE", "POLICY", "EVENT TRIGGER", "MATERIALIZED VIEW DATA", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "STATISTICS"];

/// The fields of a block's `Name:` line.
struct Header {
    kind: Kind,
    tool_kind: String,
    schema: Option<String>,
    name: String,
    owner: Option<String>,
}

impl Header {
    /// Parse `NAME; Type: TYPE; Schema: SCHEMA; Owner: OWNER[; Tablespace: T]`; `-` means none.
    /// pg_dump does not escape the names, which may hold `; Type: ` and the like, so the type is
    /// found as pg_dump writes it (upper-case words) followed by `; Schema: `; the schema ends at
    /// the first `; Owner: `, and a tablespace is split off the owner's end.
    /// A `-- Data for Name:` line prefers the type `expected` where several would fit.
    fn parse(fields: &str, expected: Option<&str>) -> Option<Header> {
        let candidates: Vec<(&str, &str, &str)> = fields
            .match_indices("; Type: ")
            .filter_map(|(i, sep)| {
                let after = &fields[i + sep.len()..];
                let kind = &after[..after.find("; Schema: ")?];
                (!kind.is_empty() && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b' ')).then_some((&fields[..i], kind, after))
            })
            .collect();
        let (name, _, rest) = expected.and_then(|e| candidates.iter().find(|c| c.1 == e)).or(candidates.first()).copied()?;
        let (tool_kind, rest) = rest.split_once("; Schema: ")?;
        let (schema, owner) = rest.split_once("; Owner: ")?;
        let owner = owner.rfind("; Tablespace: ").map_or(owner, |i| &owner[..i]);
        let none_if_dash = |s: &str| (s != "-").then(|| s.to_string());
        Some(Header { kind: kind_of(tool_kind), tool_kind: tool_kind.to_string(), schema: none_if_dash(schema), name: name.to_string(), owner: none_if_dash(owner) })
    }
}

/// Our kind for a pg_dump object type.
fn kind_of(tool_kind: &str) -> Kind {
    match tool_kind {
        "TABLE" | "FOREIGN TABLE" => Kind::Table,
        "TABLE DATA" => Kind::TableData,
        "SEQUENCE" | "SEQUENCE OWNED BY" => Kind::Sequence,
        "SEQUENCE SET" => Kind::SequenceValue,
        "DEFAULT" => Kind::Default,
        "INDEX" | "INDEX ATTACH" => Kind::Index,
        "CONSTRAINT" | "CHECK CONSTRAINT" => Kind::Constraint,
        "FK CONSTRAINT" => Kind::ForeignKey,
        "TRIGGER" => Kind::Trigger,
        "VIEW" | "MATERIALIZED VIEW" => Kind::View,
        "FUNCTION" | "PROCEDURE" | "AGGREGATE" => Kind::Function,
        "ACL" | "DEFAULT ACL" => Kind::Grant,
        "COMMENT" => Kind::Comment,
        "SCHEMA" => Kind::Schema,
        "EXTENSION" => Kind::Extension,
        "TYPE" | "DOMAIN" => Kind::Type,
        "DATABASE" => Kind::Database,
        _ => Kind::Other,
    }
}

impl Open {
    #[allow(clippy::too_many_arguments)]
    fn new(key: &[u8; 32], kind: Kind, tool_kind: String, schema: Option<String>, name: String, owner: Option<String>, section: Section, start: u64) -> Open {
        Open { kind, tool_kind, schema, name, owner, section, start, copy_rows: None, hasher: blake3::Hasher::new_keyed(key), lexer: RowCounter::default() }
    }
}

/// `line` without its line end (`\n` or `\r\n`).
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
