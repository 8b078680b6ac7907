//! Just enough SQL, read from a stream, for the row readers: blanks and comments, words,
//! identifiers and qualified names, quoted text copied as written, and statements skipped whole.
//! PostgreSQL's rules (nested `/* */`, backslashes only in `E'...'`), MySQL's (backslash escapes
//! in `'...'` and `"..."`, backquoted identifiers, `#` comments) or T-SQL's (nested `/* */`, no
//! backslash escapes, bracketed identifiers: see `tsql/lex.rs`).

use std::io::Read;

use super::input::Input;
use super::text::Text;
use super::{Dialect, Encoding, Error, MAX_ROW, Result};

/// The most fields a row may have (PostgreSQL allows 1,600 columns, MySQL 4,096).
pub(crate) const MAX_FIELDS: usize = 1 << 16;
/// The longest identifier or word read (PostgreSQL's are 63 bytes, MySQL's 64).
pub(crate) const MAX_NAME: usize = 1 << 16;

/// Whether `b` may be part of an unquoted word or identifier.
pub(crate) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// A stream of SQL text.
pub(crate) struct Sql<R> {
    pub(crate) input: Input<Text<R>>,
    pub(crate) dialect: Dialect,
}

impl<R: Read> Sql<R> {
    /// The SQL of `input`, in `encoding`; T-SQL's, when none is given, in the one its first
    /// bytes tell, other dialects' as it is.
    pub(crate) fn new(dialect: Dialect, encoding: Option<Encoding>, input: R) -> Self {
        let text = match (dialect, encoding) {
            (Dialect::TSql, _) | (_, Some(_)) => Text::decoded(input, encoding),
            _ => Text::plain(input),
        };
        Sql { input: Input::new(text), dialect }
    }

    pub(crate) fn mysql(&self) -> bool {
        self.dialect == Dialect::MySql
    }

    pub(crate) fn tsql(&self) -> bool {
        self.dialect == Dialect::TSql
    }

    pub(crate) fn syntax(&self, what: &'static str) -> Error {
        Error::Syntax { at: self.input.offset(), what }
    }

    pub(crate) fn truncated(&self, what: &'static str) -> Error {
        Error::Truncated { at: self.input.offset(), what }
    }

    pub(crate) fn too_long(&self) -> Error {
        Error::RowTooLong { at: self.input.offset() }
    }

    pub(crate) fn peek(&mut self) -> Result<Option<u8>> {
        Ok(self.input.peek()?)
    }

    pub(crate) fn bump(&mut self) {
        self.input.consume(1);
    }

    /// The next byte; the end of the stream is an error (inside `what`).
    pub(crate) fn next_in(&mut self, what: &'static str) -> Result<u8> {
        self.input.next()?.ok_or_else(|| self.truncated(what))
    }

    /// Skip spaces, tabs and line ends.
    pub(crate) fn skip_ws(&mut self) -> Result<()> {
        loop {
            let chunk = self.input.chunk()?;
            let n = chunk.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let all = n == chunk.len();
            self.input.consume(n);
            if !all || n == 0 {
                return Ok(());
            }
        }
    }

    /// Skip blanks and comments (`--` to the line end, MySQL's `#`, `/* */`, MySQL's
    /// executable `/*!...*/` included: in table data they hold no rows).
    pub(crate) fn skip_blank(&mut self) -> Result<()> {
        loop {
            self.skip_ws()?;
            match (self.input.peek_at(0)?, self.input.peek_at(1)?) {
                (Some(b'-'), Some(b'-')) => self.skip_line()?,
                (Some(b'#'), _) if self.mysql() => self.skip_line()?,
                (Some(b'/'), Some(b'*')) => self.skip_block_comment()?,
                _ => return Ok(()),
            }
        }
    }

    /// Skip to the next line end, included.
    pub(crate) fn skip_line(&mut self) -> Result<()> {
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    self.input.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.input.consume(n);
                }
            }
        }
    }

    /// Skip a `/* */` comment (PostgreSQL's and T-SQL's nest), from its `/*`.
    pub(crate) fn skip_block_comment(&mut self) -> Result<()> {
        self.input.consume(2);
        let mut depth = 1u32;
        loop {
            match self.next_in("a comment")? {
                b'*' if self.peek()? == Some(b'/') => {
                    self.bump();
                    depth -= 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b'/' if !self.mysql() && self.peek()? == Some(b'*') => {
                    self.bump();
                    depth = depth.saturating_add(1);
                }
                _ => {}
            }
        }
    }

    /// Skip the rest of a statement, to its `;` outside strings, identifiers and comments (T-SQL's:
    /// or its line end).
    pub(crate) fn skip_statement(&mut self) -> Result<()> {
        if self.tsql() {
            return self.skip_tsql_statement();
        }
        let mut prev = b' ';
        loop {
            self.skip_blank()?;
            let b = self.next_in("a statement")?;
            match b {
                b';' => return Ok(()),
                b'\'' | b'"' | b'`' => {
                    let backslash = self.mysql() || (b == b'\'' && self.dialect == Dialect::Postgres && matches!(prev, b'E' | b'e'));
                    self.copy_quoted(b, backslash, None)?;
                }
                _ => {}
            }
            prev = b;
        }
    }

    /// Read a quoted string's bytes as they are written, from after its opening quote `q` to its
    /// closing quote, both appended to `out` if given.
    pub(crate) fn copy_quoted(&mut self, q: u8, backslash: bool, mut out: Option<&mut Vec<u8>>) -> Result<()> {
        if let Some(o) = out.as_deref_mut() {
            o.push(q);
        }
        loop {
            let b = self.next_in("a quoted string")?;
            let escaped = if backslash && b == b'\\' { Some(self.next_in("a quoted string")?) } else { None };
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
                o.extend(escaped);
                if o.len() > MAX_ROW {
                    return Err(self.too_long());
                }
            }
            if b == q && escaped.is_none() {
                if self.peek()? != Some(q) {
                    return Ok(());
                }
                self.bump();
                if let Some(o) = out.as_deref_mut() {
                    o.push(q);
                }
            }
        }
    }

    /// A word (letters, digits, `_`, `$`), as written; empty if none starts here.
    pub(crate) fn read_word(&mut self) -> Result<String> {
        let mut w = Vec::new();
        while let Some(b) = self.peek()? {
            if !is_word_byte(b) {
                break;
            }
            if w.len() == MAX_NAME {
                return Err(self.syntax("a word or name longer than 64 KiB"));
            }
            w.push(b);
            self.bump();
        }
        Ok(String::from_utf8_lossy(&w).into_owned())
    }

    /// An unquoted identifier as the database folds it (PostgreSQL: lower case).
    fn fold(&self, word: String) -> String {
        match self.dialect {
            Dialect::Postgres => word.to_ascii_lowercase(),
            Dialect::MySql | Dialect::TSql => word,
        }
    }

    /// One identifier: quoted (`"..."`, MySQL's `` `...` ``, T-SQL's `[...]`) or a word, which
    /// `first` may already hold.
    pub(crate) fn read_ident(&mut self, first: Option<String>) -> Result<String> {
        if let Some(w) = first {
            return Ok(self.fold(w));
        }
        self.skip_blank()?;
        match self.peek()? {
            Some(b'[') if self.tsql() => self.read_bracketed(),
            Some(q @ (b'"' | b'`')) if q == b'"' || self.mysql() => {
                self.bump();
                // Without its quotes, doubled quotes made single, never held beyond its limit (a
                // quote that is never closed must not make it read the rest of the table).
                let mut name = Vec::new();
                loop {
                    let b = self.next_in("a quoted name")?;
                    if b == q {
                        if self.peek()? != Some(q) {
                            break;
                        }
                        self.bump();
                    }
                    name.push(b);
                    if name.len() > MAX_NAME {
                        return Err(self.syntax("a name longer than 64 KiB"));
                    }
                }
                Ok(String::from_utf8_lossy(&name).into_owned())
            }
            Some(b) if is_word_byte(b) => {
                let w = self.read_word()?;
                Ok(self.fold(w))
            }
            Some(_) => Err(self.syntax("an identifier")),
            None => Err(self.truncated("a statement")),
        }
    }

    /// A qualified name (`schema.table`), whose first part `first` may hold.
    pub(crate) fn read_name(&mut self, first: Option<String>) -> Result<Vec<String>> {
        let mut parts = vec![self.read_ident(first)?];
        loop {
            self.skip_blank()?;
            if self.peek()? != Some(b'.') || parts.len() == 4 {
                return Ok(parts);
            }
            self.bump();
            parts.push(self.read_ident(None)?);
        }
    }

    /// A parenthesised list of identifiers, from after its `(`.
    pub(crate) fn read_ident_list(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        loop {
            names.push(self.read_ident(None)?);
            if names.len() > MAX_FIELDS {
                return Err(self.syntax("more columns than a table can have"));
            }
            self.skip_blank()?;
            match self.next_in("a column list")? {
                b',' => {}
                b')' => return Ok(names),
                _ => return Err(self.syntax("`,` or `)` in a column list")),
            }
        }
    }
}
