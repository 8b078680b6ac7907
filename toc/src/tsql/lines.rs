//! What a line of a script says, read from its first bytes (at most [`super::engine::DECIDE`]
//! narrow bytes): a `GO` line, an SSMS object header, or the first line of a statement the table
//! of contents cares about (`INSERT`, `SET IDENTITY_INSERT`, `SET ... ON`, `USE`, `CREATE`,
//! `ALTER TABLE ... ADD`). Structure is read on the narrow text, names are decoded from the
//! original bytes; brackets and quotes are removed and `]]`, `""` unescaped.

use std::ops::Range;

use super::lexer::{LineInfo, is_word};
use super::utf16::Encoding;
use crate::{Header, Kind};

/// The first bytes of a line: narrow, and original (the same bytes in UTF-8).
pub(super) struct Head<'a> {
    /// The narrow text.
    pub narrow: &'a [u8],
    /// The original bytes of the same code units.
    pub orig: &'a [u8],
    /// Their encoding.
    pub enc: Encoding,
}

impl Head<'_> {
    /// The original bytes of narrow range `r`.
    pub(super) fn raw(&self, r: Range<usize>) -> &[u8] {
        let u = self.enc.unit();
        &self.orig[r.start * u..r.end * u]
    }

    /// The original bytes of the line before narrow range `skip` and after it (all of them before
    /// it if there is none): what of the line goes into its object's digest.
    pub(super) fn around(&self, skip: Option<Range<usize>>) -> (&[u8], &[u8]) {
        let u = self.enc.unit();
        match skip {
            Some(r) => (&self.orig[..r.start * u], &self.orig[r.end * u..]),
            None => (self.orig, &[]),
        }
    }

    /// The text of narrow range `r`.
    fn text(&self, r: Range<usize>) -> String {
        self.enc.decode(self.raw(r))
    }
}


/// What a line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// No code: blank, or comments only.
    Blank,
    /// `GO`, `GO 5`, `go -- comment`: the end of a batch.
    Go,
    /// An SSMS object header, `/****** Object:  Table [dbo].[Orders]    Script Date: ... ******/`,
    /// and the narrow range of its script date, if it names one (see [`script_date`]).
    Header(Header, Option<Range<usize>>),
    /// `SET` options `ON` (`SET ANSI_PADDING ON`), which SSMS puts before what they are for, or
    /// `PRINT` (SSDT's `PRINT N'Creating Table [dbo].[Orders]...'` before it creates it).
    Settings,
    /// `INSERT [INTO] table ...`: the table's narrow range.
    Insert(Range<usize>),
    /// `SET IDENTITY_INSERT table ON|OFF`: the table's narrow range, and whether `ON`.
    IdentityInsert(Range<usize>, bool),
    /// `USE database`.
    Use(String),
    /// `CREATE [OR ALTER] kind name`, or `ALTER TABLE t ADD` a constraint or default.
    Creates(Header),
    /// The rest of a statement begun on an earlier line (its first code is `(`, `)`, `,` or `;`).
    Continuation,
    /// Any other statement.
    Other,
}

/// SSMS's header words (SMO's type names), the kind of each, and the `CREATE` words that make
/// the same object in scripts without headers.
const TYPES: &[(&str, Kind, &str)] = &[
    ("Table", Kind::Table, "TABLE"),
    ("View", Kind::View, "VIEW"),
    ("StoredProcedure", Kind::Function, "PROCEDURE"),
    ("StoredProcedure", Kind::Function, "PROC"),
    ("UserDefinedFunction", Kind::Function, "FUNCTION"),
    ("UserDefinedAggregate", Kind::Function, "AGGREGATE"),
    ("Index", Kind::Index, "INDEX"),
    ("Statistic", Kind::Index, "STATISTICS"),
    ("Trigger", Kind::Trigger, "TRIGGER"),
    ("DdlTrigger", Kind::Trigger, ""),
    ("DatabaseDdlTrigger", Kind::Trigger, ""),
    ("Schema", Kind::Schema, "SCHEMA"),
    ("Database", Kind::Database, "DATABASE"),
    ("Sequence", Kind::Sequence, "SEQUENCE"),
    ("UserDefinedDataType", Kind::Type, "TYPE"),
    ("UserDefinedTableType", Kind::Type, ""),
    ("UserDefinedType", Kind::Type, ""),
    ("XmlSchemaCollection", Kind::Type, ""),
    ("ForeignKey", Kind::ForeignKey, ""),
    ("Check", Kind::Constraint, ""),
    ("Default", Kind::Default, ""),
    ("Synonym", Kind::Other, "SYNONYM"),
    ("User", Kind::Other, "USER"),
    ("DatabaseRole", Kind::Other, "ROLE"),
];

/// What the line whose first bytes are `head` is; `info` is what the lexer saw of it, `complete`
/// whether `head` is the whole line.
pub(super) fn classify(head: &Head, info: LineInfo, complete: bool) -> Line {
    let s = head.narrow;
    let Some((at, first)) = info.first_code.filter(|&(at, _)| at < s.len()) else {
        return match header(head, info, complete) {
            Some((h, date)) => Line::Header(h, date),
            None if info.first_code.is_none() => Line::Blank,
            None => Line::Other,
        };
    };
    if b"(),;".contains(&first) {
        return Line::Continuation;
    }
    let mut c = Cursor { s, i: at };
    let mut upper = [0; 8];
    let word = c.word();
    if word.len() <= upper.len() {
        upper[..word.len()].copy_from_slice(word);
    }
    let word = &mut upper[..word.len().min(8)];
    word.make_ascii_uppercase();
    c.ws();
    match &*word {
        b"GO" if complete && s[..at].iter().all(u8::is_ascii_whitespace) && go_rest(&mut c) => Line::Go,
        b"INSERT" => {
            if c.keyword("INTO") {
                c.ws();
            }
            c.span().map_or(Line::Other, Line::Insert)
        }
        b"SET" if c.keyword("IDENTITY_INSERT") => {
            c.ws();
            let Some(span) = c.span() else { return Line::Other };
            c.ws();
            if c.keyword("ON") {
                Line::IdentityInsert(span, true)
            } else if c.keyword("OFF") {
                Line::IdentityInsert(span, false)
            } else {
                Line::Other
            }
        }
        b"SET" if complete && settings_on(&mut c) => Line::Settings,
        b"PRINT" => Line::Settings,
        b"USE" => c.part().map_or(Line::Other, |p| Line::Use(p.text(head))),
        b"CREATE" => create(head, &mut c).map_or(Line::Other, Line::Creates),
        b"ALTER" => alter_add(head, &mut c).map_or(Line::Other, Line::Creates),
        _ => Line::Other,
    }
}

/// The schema and name of the multi-part name at narrow range `span` (`[db].[dbo].[t]`: `dbo`, `t`).
pub(super) fn schema_and_name(head: &Head, span: Range<usize>) -> (Option<String>, String) {
    let mut c = Cursor { s: &head.narrow[..span.end], i: span.start };
    let parts = c.multipart().map(|(p, _)| p).unwrap_or_default();
    split(head, &parts)
}

/// The schema (the next to last part) and the name (the last) of a name's `parts`.
fn split(head: &Head, parts: &[Part]) -> (Option<String>, String) {
    match parts {
        [] => (None, String::new()),
        [name] => (None, name.text(head)),
        [.., schema, name] => (Some(schema.text(head)), name.text(head)),
    }
}

/// `/****** Object:  Type [schema].[name]    Script Date: ... ******/`, a line of comment only, and
/// the narrow range of its script date.
fn header(head: &Head, info: LineInfo, complete: bool) -> Option<(Header, Option<Range<usize>>)> {
    if !complete || !info.ends_in_code || info.first_code.is_some() {
        return None;
    }
    let mut c = Cursor { s: head.narrow, i: 0 };
    c.ws();
    let stars = c.s[c.i..].strip_prefix(b"/**")?.iter().take_while(|&&b| b == b'*').count();
    c.i += 3 + stars;
    c.ws();
    c.s[c.i..].starts_with(b"Object:").then_some(())?;
    c.i += "Object:".len();
    c.ws();
    let tool_kind = String::from_utf8_lossy(c.word()).into_owned();
    c.ws();
    let (parts, _) = c.multipart()?;
    let kind = TYPES.iter().find(|t| t.0 == tool_kind).map_or(Kind::Other, |t| t.1);
    let (schema, name) = split(head, &parts);
    let date = script_date(&mut c);
    (!tool_kind.is_empty()).then_some((Header { kind, tool_kind, schema, name, ..Header::default() }, date))
}

/// The narrow range of a header's script date, its name read up to `c`: what lies between
/// `Script Date:` (after white space only, so no name holding the words is taken for them) and
/// the stars of the first `*/` after it, ` 12/7/2026 10:00:00 AM ` in
/// `Script Date: 12/7/2026 10:00:00 AM ******/`. SSMS writes the time of scripting there, so it
/// differs in every script of the same objects, and is left out of their digests.
fn script_date(c: &mut Cursor) -> Option<Range<usize>> {
    const LABEL: &[u8] = b"Script Date:";
    c.ws();
    c.s[c.i..].starts_with(LABEL).then_some(())?;
    let start = c.i + LABEL.len();
    let close = start + memchr::memmem::find(&c.s[start..], b"*/")?;
    let stars = c.s[start..close].iter().rev().take_while(|&&b| b == b'*').count();
    Some(start..close - stars)
}

/// After `GO`: an optional count, an optional `--` comment, nothing else.
fn go_rest(c: &mut Cursor) -> bool {
    c.i += c.s[c.i..].iter().take_while(|b| b.is_ascii_digit()).count();
    c.ws();
    let rest = &c.s[c.i..];
    rest.iter().all(u8::is_ascii_whitespace) || rest.starts_with(b"--")
}

/// After `SET`: option names (comma-separated) and `ON`, and nothing else.
fn settings_on(c: &mut Cursor) -> bool {
    let mut words = 0;
    loop {
        let w = c.word();
        if w.is_empty() {
            return false;
        }
        c.ws();
        if w.eq_ignore_ascii_case(b"ON") && words > 0 {
            if c.s.get(c.i) == Some(&b';') {
                c.i += 1;
            }
            return go_rest(c);
        }
        words += 1;
        if c.s.get(c.i) == Some(&b',') {
            c.i += 1;
            c.ws();
        }
    }
}

/// After `CREATE`: `[OR ALTER] kind name`, for the kinds SSMS writes headers for.
fn create(head: &Head, c: &mut Cursor) -> Option<Header> {
    if c.keyword("OR") {
        c.ws();
        c.keyword("ALTER").then_some(())?;
        c.ws();
    }
    let mut word = c.word().to_ascii_uppercase();
    const INDEX_WORDS: [&[u8]; 7] = [b"UNIQUE", b"CLUSTERED", b"NONCLUSTERED", b"COLUMNSTORE", b"PRIMARY", b"XML", b"SPATIAL"];
    while INDEX_WORDS.contains(&&word[..]) {
        c.ws();
        word = c.word().to_ascii_uppercase();
    }
    let &(mut tool_kind, kind, _) = TYPES.iter().find(|t| !t.2.is_empty() && t.2.as_bytes() == word)?;
    c.ws();
    let (parts, _) = c.multipart()?;
    let (mut schema, name) = split(head, &parts);
    if kind == Kind::Index {
        // `CREATE INDEX [ix] ON [dbo].[t]`: the index is in its table's schema.
        c.ws();
        if c.keyword("ON") {
            c.ws();
            schema = c.multipart().and_then(|(p, _)| split(head, &p).0);
        }
    }
    if kind == Kind::Type && contains_words(&c.s[c.i..], b"AS TABLE") {
        tool_kind = "UserDefinedTableType";
    }
    Some(Header { kind, tool_kind: tool_kind.to_string(), schema, name, ..Header::default() })
}

/// After `ALTER`: `TABLE t [WITH CHECK|NOCHECK] ADD [CONSTRAINT c] DEFAULT|FOREIGN KEY|CHECK|PRIMARY
/// KEY|UNIQUE`, named `t c` (an unnamed default `t column`, another unnamed constraint `t`).
fn alter_add(head: &Head, c: &mut Cursor) -> Option<Header> {
    c.keyword("TABLE").then_some(())?;
    c.ws();
    let (table, _) = c.multipart()?;
    let (schema, table) = split(head, &table);
    c.ws();
    if c.keyword("WITH") {
        c.ws();
        (c.keyword("CHECK") || c.keyword("NOCHECK")).then_some(())?;
        c.ws();
    }
    c.keyword("ADD").then_some(())?;
    c.ws();
    let mut constraint = None;
    if c.keyword("CONSTRAINT") {
        c.ws();
        constraint = Some(c.part()?.text(head));
        c.ws();
    }
    let (kind, tool_kind) = match &c.word().to_ascii_uppercase()[..] {
        b"DEFAULT" => (Kind::Default, "Default"),
        b"FOREIGN" => (Kind::ForeignKey, "ForeignKey"),
        b"CHECK" => (Kind::Constraint, "Check"),
        b"PRIMARY" => (Kind::Constraint, "PrimaryKey"),
        b"UNIQUE" => (Kind::Constraint, "UniqueKey"),
        _ => return None,
    };
    if constraint.is_none() && kind == Kind::Default {
        // `ADD DEFAULT ((0)) FOR [column]`
        c.ws();
        c.skip_expression();
        c.ws();
        if c.keyword("FOR") {
            c.ws();
            constraint = c.part().map(|p| p.text(head));
        }
    }
    let name = constraint.map_or(table.clone(), |x| format!("{table} {x}"));
    Some(Header { kind, tool_kind: tool_kind.to_string(), schema, name, ..Header::default() })
}

/// Whether `s` holds `words` (upper-case, single-spaced) as words, whatever their case and spaces.
fn contains_words(s: &[u8], words: &[u8]) -> bool {
    let squeezed: Vec<u8> = s.split(u8::is_ascii_whitespace).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(&b' ');
    squeezed.to_ascii_uppercase().windows(words.len()).any(|w| w == words)
}

/// One part of a name: its narrow range inside the quotes, and the quote that closes it.
#[derive(Clone, Debug)]
struct Part {
    inner: Range<usize>,
    close: Option<u8>,
}

impl Part {
    /// The part's text, unescaped.
    fn text(&self, head: &Head) -> String {
        let t = head.text(self.inner.clone());
        match self.close {
            Some(b']') => t.replace("]]", "]"),
            Some(_) => t.replace("\"\"", "\""),
            None => t,
        }
    }
}

/// Reads a line's narrow text from `i`.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// Skip white space.
    fn ws(&mut self) {
        self.i += self.s[self.i..].iter().take_while(|b| b.is_ascii_whitespace()).count();
    }

    /// The word at the cursor (ASCII letters, digits and `_`), perhaps empty.
    fn word(&mut self) -> &'a [u8] {
        let n = self.s[self.i..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
        self.i += n;
        &self.s[self.i - n..self.i]
    }

    /// Whether the word at the cursor is `kw` (any case); if so, the cursor moves past it.
    fn keyword(&mut self, kw: &str) -> bool {
        let rest = &self.s[self.i..];
        let hit = rest.len() >= kw.len() && rest[..kw.len()].eq_ignore_ascii_case(kw.as_bytes()) && !rest.get(kw.len()).is_some_and(|&b| is_word(b));
        if hit {
            self.i += kw.len();
        }
        hit
    }

    /// One part of a name: `[a]]b]`, `"a""b"` or a plain identifier.
    fn part(&mut self) -> Option<Part> {
        let close = match self.s.get(self.i)? {
            b'[' => b']',
            b'"' => b'"',
            _ => {
                let n = self.s[self.i..].iter().take_while(|&&b| is_word(b)).count();
                self.i += n;
                return (n > 0).then(|| Part { inner: self.i - n..self.i, close: None });
            }
        };
        let start = self.i + 1;
        let mut j = start;
        loop {
            let k = j + memchr::memchr(close, self.s.get(j..)?)?;
            if self.s.get(k + 1) == Some(&close) {
                j = k + 2; // doubled
            } else {
                self.i = k + 1;
                return Some(Part { inner: start..k, close: Some(close) });
            }
        }
    }

    /// The narrow range of a name of up to four parts separated by dots.
    fn span(&mut self) -> Option<Range<usize>> {
        let start = self.i;
        self.part()?;
        for _ in 1..4 {
            if self.s.get(self.i) != Some(&b'.') {
                break;
            }
            self.i += 1;
            self.part()?;
        }
        Some(start..self.i)
    }

    /// A name of up to four parts separated by dots, and its narrow range.
    fn multipart(&mut self) -> Option<(Vec<Part>, Range<usize>)> {
        let start = self.i;
        let mut parts = vec![self.part()?];
        while parts.len() < 4 && self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            parts.push(self.part()?);
        }
        Some((parts, start..self.i))
    }

    /// Skip an expression: balanced parentheses and strings, up to white space at depth 0.
    fn skip_expression(&mut self) {
        let mut depth = 0u32;
        while let Some(&b) = self.s.get(self.i) {
            match b {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                b'\'' => {
                    self.i += 1;
                    while let Some(k) = memchr::memchr(b'\'', &self.s[self.i..]) {
                        self.i += k + 1;
                        if self.s.get(self.i) != Some(&b'\'') {
                            break;
                        }
                        self.i += 1;
                    }
                    continue;
                }
                _ if depth == 0 && b.is_ascii_whitespace() => return,
                _ => {}
            }
            self.i += 1;
        }
    }
}
