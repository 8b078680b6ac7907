//! T-SQL's lexical rules for the row readers: bracketed identifiers, and statements that end at
//! their line end when no `;` ends them (SSMS writes none).

use std::io::Read;

use super::super::lex::{MAX_NAME, Sql, is_word_byte};
use super::super::{MAX_ROW, Result};

impl<R: Read> Sql<R> {
    /// Whether `b` may start a T-SQL statement: a word (`SET`, `GO`, `PRINT`, ...), or sqlcmd's
    /// `:command`.
    pub(crate) fn starts_tsql_statement(b: u8) -> bool {
        is_word_byte(b) || b == b':'
    }

    /// A bracketed identifier's bytes as written, from after its `[` to its `]`, both appended to
    /// `out` if given (`]]` is an escaped `]`).
    pub(crate) fn copy_bracketed(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<()> {
        if let Some(o) = out.as_deref_mut() {
            o.push(b'[');
        }
        loop {
            let b = self.next_in("a bracketed identifier")?;
            let escaped = b == b']' && self.peek()? == Some(b']');
            if escaped {
                self.bump();
            }
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
                if escaped {
                    o.push(b']');
                }
                if o.len() > MAX_ROW {
                    return Err(self.too_long());
                }
            }
            if b == b']' && !escaped {
                return Ok(());
            }
        }
    }

    /// A bracketed identifier, from its `[`: its name, `]]` made `]`.
    pub(crate) fn read_bracketed(&mut self) -> Result<String> {
        self.bump();
        let mut name = Vec::new();
        loop {
            match self.next_in("a bracketed identifier")? {
                b']' if self.peek()? == Some(b']') => {
                    self.bump();
                    name.push(b']');
                }
                b']' => return Ok(String::from_utf8_lossy(&name).into_owned()),
                b => name.push(b),
            }
            if name.len() > MAX_NAME {
                return Err(self.syntax("a name longer than 64 KiB"));
            }
        }
    }

    /// Skip the rest of a T-SQL statement: to its `;` or its line end (included), outside strings,
    /// identifiers and comments.
    pub(crate) fn skip_tsql_statement(&mut self) -> Result<()> {
        loop {
            match (self.input.peek_at(0)?, self.input.peek_at(1)?) {
                (None, _) => return Ok(()),
                (Some(b'\n' | b';'), _) => {
                    self.bump();
                    return Ok(());
                }
                (Some(b'-'), Some(b'-')) => return self.skip_line(),
                (Some(b'/'), Some(b'*')) => self.skip_block_comment()?,
                (Some(q @ (b'\'' | b'"')), _) => {
                    self.bump();
                    self.copy_quoted(q, false, None)?;
                }
                (Some(b'['), _) => {
                    self.bump();
                    self.copy_bracketed(None)?;
                }
                (Some(_), _) => self.bump(),
            }
        }
    }
}
