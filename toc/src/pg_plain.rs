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
//! Lines starting with `--` are kept whole (up to [`MAX_LINE_HEAD`] bytes) until they are known
//! to open an object or not; every other line streams into the current object's digest as it
//! arrives, so no line of data is ever held in memory.

use std::ops::Range;

use crate::sql::RowCounter;
use crate::{Kind, MAX_LINE_HEAD, Object, Section, Toc, TocParser};

/// What the current line is, as far as it has been seen.
enum LineMode {
    /// Its first byte or two: whether it starts with `--` is not known yet.
    Undecided(Vec<u8>),
    /// A comment line, kept whole until it ends.
    Comment(Vec<u8>),
    /// Any other line, streamed; its first bytes kept to recognise it.
    Streamed { head: Vec<u8> },
}

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
    inserts: RowCounter,
    inserted: bool,
}

/// Builds the table of contents of a pg_dump plain-format dump (see the module documentation).
pub struct PgPlain {
    key: [u8; 32],
    pos: u64,
    line_start: u64,
    line: LineMode,
    /// A `--` line that may open the next object's block: (its start, its bytes).
    held: Option<(u64, Vec<u8>)>,
    /// Inside a `COPY ... FROM stdin;` block.
    in_copy: bool,
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
        PgPlain { key, pos: 0, line_start: 0, line: LineMode::Undecided(Vec::new()), held: None, in_copy: false, current, objects: Vec::new(), not_understood: Vec::new(), section: Section::PreData }
    }

    /// Stream `bytes` of a line that is not a comment into the current object.
    fn stream(&mut self, bytes: &[u8]) {
        self.flush_held();
        self.current.hasher.update(bytes);
        if self.current.kind == Kind::TableData && !self.in_copy {
            self.current.inserted |= !bytes.is_empty();
            self.current.inserts.feed(bytes);
        }
    }

    /// A held `--` line turned out not to open an object: it belongs to the current one.
    fn flush_held(&mut self) {
        if let Some((_, bytes)) = self.held.take() {
            self.current.hasher.update(&bytes);
            if self.current.kind == Kind::TableData && !self.in_copy {
                self.current.inserts.feed(&bytes);
            }
        }
    }

    fn take(&mut self, piece: &[u8], ends: bool) {
        let mut piece = piece;
        if let LineMode::Undecided(first) = &mut self.line {
            let want = (2 - first.len()).min(piece.len());
            first.extend_from_slice(&piece[..want]);
            piece = &piece[want..];
            if first.len() < 2 && !ends {
                return;
            }
            let first = std::mem::take(first);
            if first.starts_with(b"--") && self.may_open_object() {
                self.line = LineMode::Comment(first);
            } else {
                self.line = LineMode::Streamed { head: Vec::new() };
                self.streamed(&first);
            }
        }
        match &mut self.line {
            LineMode::Comment(buf) => {
                buf.extend_from_slice(piece);
                if buf.len() > MAX_LINE_HEAD {
                    // Too long for a block line: an ordinary one.
                    let buf = std::mem::take(buf);
                    self.line = LineMode::Streamed { head: Vec::new() };
                    self.streamed(&buf);
                }
            }
            LineMode::Streamed { .. } => self.streamed(piece),
            LineMode::Undecided(_) => unreachable!("decided above"),
        }
        if ends {
            self.end_line();
        }
    }

    /// Whether a comment line starting here could open an object: not inside COPY rows or inside
    /// a value of an `INSERT`.
    fn may_open_object(&self) -> bool {
        !self.in_copy && (self.current.kind != Kind::TableData || self.current.inserts.at_top_level())
    }

    fn streamed(&mut self, bytes: &[u8]) {
        if let LineMode::Streamed { head } = &mut self.line {
            let room = MAX_LINE_HEAD.saturating_sub(head.len()).min(bytes.len());
            head.extend_from_slice(&bytes[..room]);
        }
        self.stream(bytes);
    }

    fn end_line(&mut self) {
        let start = self.line_start;
        match std::mem::replace(&mut self.line, LineMode::Undecided(Vec::new())) {
            LineMode::Comment(buf) => self.comment_line(start, buf),
            LineMode::Streamed { head } => {
                let text = trim_eol(&head);
                if self.in_copy {
                    if text == b"\\." {
                        self.in_copy = false;
                    } else if let Some(r) = &mut self.current.copy_rows {
                        *r += 1;
                    }
                } else if self.current.kind == Kind::TableData && text.starts_with(b"COPY ") && text.ends_with(b"FROM stdin;") {
                    self.in_copy = true;
                    self.current.copy_rows.get_or_insert(0);
                }
            }
            LineMode::Undecided(_) => unreachable!("a line that ends is decided"),
        }
    }

    fn comment_line(&mut self, start: u64, buf: Vec<u8>) {
        let text = trim_eol(&buf);
        if text == b"--" {
            self.flush_held();
            self.held = Some((start, buf));
            return;
        }
        let opening = if let Some(fields) = text.strip_prefix(b"-- Name: ").or_else(|| text.strip_prefix(b"-- Data for Name: ")) {
            Header::parse(&String::from_utf8_lossy(fields))
        } else if text.starts_with(b"-- PostgreSQL database dump complete") {
            Some(Header { kind: Kind::Trailer, tool_kind: String::new(), schema: None, name: String::new(), owner: None })
        } else {
            None
        };
        let Some(h) = opening else {
            self.flush_held();
            self.current.hasher.update(&buf);
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
        let next = Open::new(&self.key, h.kind, h.tool_kind, h.schema, h.name, h.owner, section, begins);
        self.close(begins, next);
        if let Some((_, bytes)) = self.held.take() {
            self.current.hasher.update(&bytes);
        }
        self.current.hasher.update(&buf);
    }

    /// End the current object at `end` and make `next` the current one.
    fn close(&mut self, end: u64, next: Open) {
        let o = std::mem::replace(&mut self.current, next);
        if o.start == end && o.kind == Kind::Preamble {
            return; // an empty preamble
        }
        let rows = match (o.copy_rows, o.inserted) {
            (Some(r), _) => Some(r),
            (None, true) => Some(o.inserts.rows()),
            (None, false) => (o.kind == Kind::TableData).then_some(0),
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
            // A last line without a newline.
            if let LineMode::Undecided(first) = std::mem::replace(&mut self.line, LineMode::Streamed { head: Vec::new() }) {
                self.streamed(&first);
            }
            self.end_line();
        }
        self.flush_held();
        let end = self.pos;
        if self.in_copy || (self.current.kind == Kind::TableData && !self.current.inserts.at_top_level()) {
            // Cut short inside table data: its rows are not all there.
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
    /// Parse `NAME; Type: TYPE; Schema: SCHEMA; Owner: OWNER[; Tablespace: T]`, from the right (a
    /// name may hold `; `); `-` means none.
    fn parse(fields: &str) -> Option<Header> {
        let fields = fields.rfind("; Tablespace: ").map_or(fields, |i| &fields[..i]);
        let (rest, owner) = fields.rsplit_once("; Owner: ")?;
        let (rest, schema) = rest.rsplit_once("; Schema: ")?;
        let (name, tool_kind) = rest.rsplit_once("; Type: ")?;
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
        Open { kind, tool_kind, schema, name, owner, section, start, copy_rows: None, hasher: blake3::Hasher::new_keyed(key), inserts: RowCounter::default(), inserted: false }
    }
}

/// `line` without its line end (`\n` or `\r\n`).
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
