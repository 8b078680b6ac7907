//! A table's columns and primary key, from its definition objects: `CREATE TABLE name (...)` (its
//! columns, and a `PRIMARY KEY` inside it: MySQL's, SSMS's `CONSTRAINT [PK_t] PRIMARY KEY
//! CLUSTERED ([id] ASC)`, or a column's), and `ALTER TABLE [ONLY] name ADD CONSTRAINT x PRIMARY
//! KEY (a, b)` (pg_dump's constraint objects). T-SQL's statements end at `GO` lines, or where the
//! next `CREATE` or `ALTER` starts.

use std::io::Read;

use super::text::Text;
use super::{Dialect, Encoding, Error, Result};

/// The most bytes of definitions read.
const MAX_DEF: u64 = 64 << 20;

/// What a table's definition says of its rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableDef {
    /// The table's qualified name (unquoted parts), as `CREATE TABLE` names it.
    pub name: Option<Vec<String>>,
    /// Its columns in order, as `CREATE TABLE` lists them (empty if it does not).
    pub columns: Vec<String>,
    /// Its primary key's columns, if it has one.
    pub primary_key: Option<Vec<String>>,
    /// Its generated columns (`GENERATED ALWAYS AS (...)`, MySQL's `AS (...)`), whose values the
    /// database computes: an `INSERT` must not give them.
    pub generated: Vec<String>,
    /// Its T-SQL `IDENTITY` columns, whose values an `INSERT` gives only with
    /// `SET IDENTITY_INSERT ... ON`, and an `UPDATE` never.
    pub identity: Vec<String>,
}

/// A token of SQL text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// A word or identifier: its text (folded as the dialect folds unquoted ones) and whether it
    /// was quoted.
    Word(String, bool),
    /// Any other byte of code.
    Punct(u8),
    /// A string or number literal.
    Literal,
}

impl Tok {
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Tok::Word(w, false) if w.eq_ignore_ascii_case(kw))
    }
}

impl TableDef {
    /// Read the definition objects of one table, `input` (several may be concatenated, in any
    /// order: the table's and its constraints'), in `dialect`. A `PRIMARY KEY` of an
    /// `ALTER TABLE` of another table than the one created is ignored. Text that holds no
    /// definition gives an empty `TableDef`. A T-SQL script's bytes are in the encoding their
    /// first bytes tell ([`Encoding::of_part`]).
    pub fn parse(dialect: Dialect, input: impl Read) -> Result<TableDef> {
        TableDef::parse_with_encoding(dialect, None, input)
    }

    /// [`TableDef::parse`] of bytes in `encoding` (told from the first bytes if `None`, for
    /// T-SQL; read as they are for other dialects).
    pub fn parse_with_encoding(dialect: Dialect, encoding: Option<Encoding>, input: impl Read) -> Result<TableDef> {
        let mut text = Vec::new();
        let input = match (dialect, encoding) {
            (Dialect::TSql, _) | (_, Some(_)) => Text::decoded(input, encoding),
            _ => Text::plain(input),
        };
        input.take(MAX_DEF + 1).read_to_end(&mut text)?;
        if text.len() as u64 > MAX_DEF {
            return Err(Error::Syntax { at: MAX_DEF, what: "table definitions longer than 64 MiB" });
        }
        let tokens = tokenize(dialect, &text);
        let mut def = TableDef::default();
        let mut keys: Vec<(Option<Vec<String>>, Vec<String>)> = Vec::new();
        for st in tokens.split(|t| *t == Tok::Punct(b';')) {
            let Some(first) = st.first() else { continue };
            if first.is_kw("CREATE") {
                let Some(at) = st.iter().take(8).position(|t| t.is_kw("TABLE")) else { continue };
                if def.name.is_some() {
                    continue;
                }
                let mut i = at + 1;
                while st.get(i).is_some_and(|t| t.is_kw("IF") || t.is_kw("NOT") || t.is_kw("EXISTS")) {
                    i += 1;
                }
                let (name, i) = qualified(st, i);
                def.name = Some(name.clone());
                if st.get(i) == Some(&Tok::Punct(b'(')) {
                    let (columns, key, generated, identity) = elements(&st[i + 1..]);
                    def.columns = columns;
                    def.generated = generated;
                    if dialect == Dialect::TSql {
                        def.identity = identity;
                    }
                    if let Some(k) = key {
                        keys.push((Some(name), k));
                    }
                }
            } else if first.is_kw("ALTER") && st.get(1).is_some_and(|t| t.is_kw("TABLE")) {
                let mut i = 2;
                while st.get(i).is_some_and(|t| t.is_kw("ONLY") || t.is_kw("IF") || t.is_kw("EXISTS")) {
                    i += 1;
                }
                let (name, i) = qualified(st, i);
                if let Some(k) = (i..st.len()).find_map(|j| key_list(&st[j..])) {
                    keys.push((Some(name), k));
                }
            }
        }
        let ours = |n: &Option<Vec<String>>| match (n, &def.name) {
            (Some(n), Some(d)) => same_table(dialect, n, d),
            _ => true,
        };
        def.primary_key = keys.iter().find(|(n, _)| ours(n)).map(|(_, k)| k.clone());
        Ok(def)
    }
}

/// Whether two qualified names name the same table (a schema named on one side only matches).
fn same_table(dialect: Dialect, a: &[String], b: &[String]) -> bool {
    let eq = |x: &String, y: &String| if dialect == Dialect::Postgres { x == y } else { x.eq_ignore_ascii_case(y) };
    a.iter().rev().zip(b.iter().rev()).all(|(x, y)| eq(x, y))
}

/// The qualified name starting at token `i`, and the index after it.
fn qualified(st: &[Tok], mut i: usize) -> (Vec<String>, usize) {
    let mut parts = Vec::new();
    while let Some(Tok::Word(w, _)) = st.get(i) {
        parts.push(w.clone());
        i += 1;
        if st.get(i) != Some(&Tok::Punct(b'.')) {
            break;
        }
        i += 1;
    }
    (parts, i)
}

/// `PRIMARY KEY (a, b)` (T-SQL's `PRIMARY KEY CLUSTERED ([a] ASC, [b] DESC)`) at the start of
/// `st`: its columns.
fn key_list(st: &[Tok]) -> Option<Vec<String>> {
    if !(st.first()?.is_kw("PRIMARY") && st.get(1)?.is_kw("KEY")) {
        return None;
    }
    let open = if st.get(2)?.is_kw("CLUSTERED") || st.get(2)?.is_kw("NONCLUSTERED") { 3 } else { 2 };
    if *st.get(open)? != Tok::Punct(b'(') {
        return None;
    }
    let (parts, _) = split_top(&st[open + 1..]);
    let names: Vec<String> = parts.iter().filter_map(|p| match p.first() {
        Some(Tok::Word(w, _)) => Some(w.clone()),
        _ => None,
    }).collect();
    (!names.is_empty() && names.len() == parts.len()).then_some(names)
}

/// The comma-separated parts of a parenthesised list whose `(` was just passed, up to its `)`;
/// and the index after the `)`.
fn split_top(st: &[Tok]) -> (Vec<&[Tok]>, usize) {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, t) in st.iter().enumerate() {
        match t {
            Tok::Punct(b'(') => depth += 1,
            Tok::Punct(b')') if depth == 0 => {
                parts.push(&st[start..i]);
                return (parts, i + 1);
            }
            Tok::Punct(b')') => depth -= 1,
            Tok::Punct(b',') if depth == 0 => {
                parts.push(&st[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&st[start..]);
    (parts, st.len())
}

/// Words that start a table constraint or index rather than a column in `CREATE TABLE`.
const NOT_COLUMNS: &[&str] = &["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE", "KEY", "INDEX", "FULLTEXT", "SPATIAL", "PERIOD"];

/// What `CREATE TABLE`'s elements (after its `(`) define.
type Elements = (Vec<String>, Option<Vec<String>>, Vec<String>, Vec<String>);

/// The columns of `CREATE TABLE`'s elements (after its `(`), its primary key if it names one,
/// its generated columns, and its columns that say `IDENTITY`.
fn elements(st: &[Tok]) -> Elements {
    let (parts, _) = split_top(st);
    let mut columns = Vec::new();
    let mut key = None;
    let mut generated = Vec::new();
    let mut identity = Vec::new();
    for part in parts {
        let Some(Tok::Word(name, quoted)) = part.first() else { continue };
        if !quoted && NOT_COLUMNS.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            if key.is_none() {
                key = (0..part.len()).find_map(|j| key_list(&part[j..]));
            }
            continue;
        }
        columns.push(name.clone());
        // `AS (expression)`; not `AS IDENTITY`, whose values an INSERT may give.
        if part.windows(2).any(|w| w[0].is_kw("AS") && w[1] == Tok::Punct(b'(')) {
            generated.push(name.clone());
        }
        if part.iter().skip(1).any(|t| t.is_kw("IDENTITY")) {
            identity.push(name.clone());
        }
        // A column's own `PRIMARY KEY`.
        if key.is_none() && part.windows(2).any(|w| w[0].is_kw("PRIMARY") && w[1].is_kw("KEY")) {
            key = Some(vec![name.clone()]);
        }
    }
    (columns, key, generated, identity)
}

/// The tokens of `text`: comments and blanks left out, strings and numbers as literals; T-SQL's
/// `GO` lines, and its `CREATE` and `ALTER` outside parentheses, end a statement as `;` does.
fn tokenize(dialect: Dialect, text: &[u8]) -> Vec<Tok> {
    let mysql = dialect == Dialect::MySql;
    let tsql = dialect == Dialect::TSql;
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    while i < text.len() {
        let b = text[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if (b == b'-' && at(i + 1) == b'-') || (b == b'#' && mysql) {
            i = memchr::memchr(b'\n', &text[i..]).map_or(text.len(), |n| i + n + 1);
        } else if b == b'/' && at(i + 1) == b'*' {
            if mysql && at(i + 2) == b'!' {
                // MySQL's executable comment: its text is code.
                i += 3;
                while at(i).is_ascii_digit() {
                    i += 1;
                }
            } else if tsql {
                i = nested_comment_end(text, i);
            } else {
                i = memchr::memmem::find(&text[i + 2..], b"*/").map_or(text.len(), |n| i + 2 + n + 2);
            }
        } else if b == b'*' && at(i + 1) == b'/' && mysql {
            i += 2; // the end of an executable comment
        } else if b == b'\'' || b == b'"' || (b == b'`' && mysql) || (b == b'[' && tsql) {
            // A string ('...', MySQL's "..."), or a quoted identifier.
            let string = b == b'\'' || (b == b'"' && mysql);
            let backslash = string && (mysql || (dialect == Dialect::Postgres && matches!(text.get(i.wrapping_sub(1)), Some(b'E' | b'e'))));
            let close = if b == b'[' { b']' } else { b };
            i += 1;
            let mut inner = Vec::new();
            while i < text.len() {
                let c = text[i];
                if backslash && c == b'\\' {
                    i += 2;
                } else if c == close && at(i + 1) == close {
                    inner.push(close);
                    i += 2;
                } else if c == close {
                    i += 1;
                    break;
                } else {
                    inner.push(c);
                    i += 1;
                }
            }
            out.push(if string { Tok::Literal } else { Tok::Word(String::from_utf8_lossy(&inner).into_owned(), true) });
        } else if b.is_ascii_digit() {
            while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Literal);
        } else if tsql && matches!(b, b'N' | b'n') && at(i + 1) == b'\'' {
            i += 1; // `N'...'`: the string follows
        } else if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            let start = i;
            while i < text.len() && (text[i].is_ascii_alphanumeric() || matches!(text[i], b'_' | b'$') || text[i] >= 0x80) {
                i += 1;
            }
            let w = String::from_utf8_lossy(&text[start..i]).into_owned();
            if tsql && w.eq_ignore_ascii_case("GO") && text[..start].rsplit(|&c| c == b'\n').next().is_some_and(|l| l.iter().all(u8::is_ascii_whitespace)) {
                depth = 0;
                out.push(Tok::Punct(b';'));
                continue;
            }
            if tsql && depth == 0 && (w.eq_ignore_ascii_case("CREATE") || w.eq_ignore_ascii_case("ALTER")) && out.last().is_some_and(|t| *t != Tok::Punct(b';')) {
                out.push(Tok::Punct(b';'));
            }
            out.push(Tok::Word(if mysql || tsql { w } else { w.to_ascii_lowercase() }, false));
        } else {
            match b {
                b'(' => depth += 1,
                b')' => depth = depth.saturating_sub(1),
                _ => {}
            }
            out.push(Tok::Punct(b));
            i += 1;
        }
    }
    out
}

/// The end of T-SQL's (nesting) `/* */` comment that starts at `text[i]`.
fn nested_comment_end(text: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i + 1 < text.len() {
        match &text[i..i + 2] {
            b"/*" => {
                depth += 1;
                i += 2;
            }
            b"*/" => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    text.len()
}
