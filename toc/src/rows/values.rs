//! The values of `INSERT ... VALUES` rows, decoded into a [`Row`]: strings (PostgreSQL's
//! standard `'...'` and `E'...'`, MySQL's backslash-escaped `'...'` and `"..."`), numbers and
//! keywords as written, bit strings, MySQL's binary literals (`0x...`, `X'...'`, `_binary '...'`),
//! and any other expression as its SQL text.

use std::io::Read;

use super::lex::{MAX_FIELDS, MAX_NAME, Sql, is_word_byte};
use super::row::{Form, Row};
use super::script::literal;
use super::{Dialect, MAX_ROW, Result};

/// How backslashes behave in a quoted string.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Esc {
    /// Not at all (PostgreSQL's standard strings, identifiers, bit strings).
    None,
    /// PostgreSQL's `E'...'` escapes.
    Pg,
    /// MySQL's escapes.
    MySql,
}

/// Whether `b` may be part of a bare value (a number, a keyword).
fn is_token_byte(b: u8) -> bool {
    is_word_byte(b) || matches!(b, b'.' | b'+' | b'-')
}

impl<R: Read> Sql<R> {
    /// The values of one row of `VALUES`, from after its `(` to its `)`, into `row`.
    pub(crate) fn read_row(&mut self, row: &mut Row) -> Result<()> {
        row.clear();
        self.skip_ws()?;
        if self.peek()? == Some(b')') {
            self.bump();
            return Ok(());
        }
        loop {
            self.read_value(row)?;
            if row.len() > MAX_FIELDS {
                return Err(self.syntax("more values than a table can have columns"));
            }
            self.skip_ws()?;
            match self.next_in("a row of values")? {
                b',' => {}
                b')' => return Ok(()),
                _ => return Err(self.syntax("`,` or `)` after a value")),
            }
        }
    }

    /// One value, appended to `row`.
    fn read_value(&mut self, row: &mut Row) -> Result<()> {
        if self.tsql() {
            return self.read_tsql_value(row);
        }
        self.skip_ws()?;
        let start = row.field_start();
        let mysql = self.mysql();
        let form = match self.peek()?.ok_or_else(|| self.truncated("a row of values"))? {
            b'\'' => {
                self.bump();
                self.read_string(b'\'', if mysql { Esc::MySql } else { Esc::None }, row)?;
                Form::Text
            }
            b'"' if mysql => {
                self.bump();
                self.read_string(b'"', Esc::MySql, row)?;
                Form::Text
            }
            b if is_token_byte(b) => self.read_token(row, start)?,
            _ => {
                // An expression that starts with no value (`(1 + 2)`, `ARRAY[...]` after a
                // cast...): its text.
                self.read_expr(row.data_mut())?;
                row.end_field(Form::Expr);
                return Ok(());
            }
        };
        let data = row.data_mut();
        if data.len() > MAX_ROW {
            return Err(self.too_long());
        }
        self.skip_ws()?;
        if matches!(self.peek()?, Some(b',' | b')')) {
            row.end_field(form);
            return Ok(());
        }
        // More follows (`'x'::text`, `now()`): the value is the start of an expression.
        let value = data.split_off(start);
        literal(self.dialect, form, &value, data);
        if form != Form::Bare {
            data.push(b' ');
        }
        self.read_expr(data)?;
        row.end_field(Form::Expr);
        Ok(())
    }

    /// A value that starts with a token: a number, `NULL`, a keyword, or a string's prefix
    /// (`E'`, `B'`, `X'`, `N'`, `_binary '`).
    fn read_token(&mut self, row: &mut Row, start: usize) -> Result<Form> {
        while let Some(b) = self.peek()? {
            if !is_token_byte(b) || row.data_mut().len() - start > MAX_NAME {
                break;
            }
            row.data_mut().push(b);
            self.bump();
        }
        let data = row.data_mut();
        let raw = &data[start..];
        let mysql = self.dialect == Dialect::MySql;
        let hex = mysql && raw.len() > 2 && raw[..2].eq_ignore_ascii_case(b"0x") && raw[2..].iter().all(u8::is_ascii_hexdigit);
        // The words looked for are short: an upper-cased copy of at most 8 bytes, on the stack
        // (this runs for every number of every row).
        let mut up = [0u8; 8];
        let n = if raw.len() <= up.len() { raw.len() } else { 0 };
        up[..n].copy_from_slice(&raw[..n]);
        up[..n].make_ascii_uppercase();
        let token = &up[..n];
        let introducer = mysql && raw.starts_with(b"_");
        if token == b"NULL" {
            data.truncate(start);
            return Ok(Form::Null);
        }
        if hex {
            let digits = data.split_off(start + 2);
            data.truncate(start);
            unhex(&digits, data).ok_or_else(|| self.syntax("hexadecimal digits"))?;
            return Ok(Form::Binary);
        }
        if introducer {
            // A character set introducer: `_binary '...'`, `_utf8mb4'...'`.
            self.skip_ws()?;
            if self.peek()? == Some(b'\'') {
                data.truncate(start);
                self.bump();
                self.read_string(b'\'', Esc::MySql, row)?;
                return Ok(if token == b"_BINARY" { Form::Binary } else { Form::Text });
            }
            return Ok(Form::Bare);
        }
        if self.peek()? != Some(b'\'') {
            return Ok(Form::Bare);
        }
        let (esc, form) = match (token, mysql) {
            (b"E", false) => (Esc::Pg, Form::Text),
            (b"N", _) => (if mysql { Esc::MySql } else { Esc::None }, Form::Text),
            (b"B", _) => (Esc::None, Form::Bits),
            (b"X", true) => (Esc::None, Form::Binary),
            _ => return Ok(Form::Bare), // read on as an expression
        };
        data.truncate(start);
        self.bump();
        self.read_string(b'\'', esc, row)?;
        if form == Form::Binary {
            let digits = row.data_mut().split_off(start);
            unhex(&digits, row.data_mut()).ok_or_else(|| self.syntax("hexadecimal digits in X'...'"))?;
        }
        Ok(form)
    }

    /// A quoted string's value, from after its opening quote `q`, appended to `row`.
    pub(crate) fn read_string(&mut self, q: u8, esc: Esc, row: &mut Row) -> Result<()> {
        loop {
            let chunk = self.input.chunk()?;
            if chunk.is_empty() {
                return Err(self.truncated("a quoted string"));
            }
            let hit = if esc == Esc::None { memchr::memchr(q, chunk) } else { memchr::memchr2(q, b'\\', chunk) };
            let n = hit.unwrap_or(chunk.len());
            let out = row.data_mut();
            out.extend_from_slice(&chunk[..n]);
            self.input.consume(n);
            if out.len() > MAX_ROW {
                return Err(self.too_long());
            }
            if hit.is_none() {
                continue;
            }
            if self.next_in("a quoted string")? == q {
                if self.peek()? != Some(q) {
                    return Ok(());
                }
                self.bump();
                row.data_mut().push(q);
                continue;
            }
            let e = self.next_in("a quoted string")?;
            match esc {
                Esc::MySql => mysql_escape(e, row.data_mut()),
                _ => self.pg_escape(e, row.data_mut())?,
            }
        }
    }

    /// What PostgreSQL's `E'...'` makes of a backslash and `e`.
    fn pg_escape(&mut self, e: u8, out: &mut Vec<u8>) -> Result<()> {
        match e {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match self.peek()? {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            self.bump();
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let mut v = None;
                for _ in 0..2 {
                    match self.peek()?.and_then(|d| (d as char).to_digit(16)) {
                        Some(d) => {
                            v = Some(v.unwrap_or(0) * 16 + d);
                            self.bump();
                        }
                        None => break,
                    }
                }
                out.push(v.map_or(b'x', |v| v as u8));
            }
            b'u' | b'U' => {
                let mut c = self.hex_digits(if e == b'u' { 4 } else { 8 })?;
                if (0xD800..0xDC00).contains(&c) {
                    // A surrogate pair: `\uD83D\uDE00`.
                    if self.next_in("a quoted string")? != b'\\' || self.next_in("a quoted string")? != b'u' {
                        return Err(self.syntax("the second half of a surrogate pair"));
                    }
                    let low = self.hex_digits(4)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.syntax("the second half of a surrogate pair"));
                    }
                    c = 0x10000 + ((c - 0xD800) << 10) + (low - 0xDC00);
                }
                let c = char::from_u32(c).ok_or_else(|| self.syntax("a Unicode escape"))?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
            _ => out.push(e),
        }
        Ok(())
    }

    fn hex_digits(&mut self, n: usize) -> Result<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self.next_in("a quoted string")?;
            v = v * 16 + (d as char).to_digit(16).ok_or_else(|| self.syntax("hexadecimal digits in a Unicode escape"))?;
        }
        Ok(v)
    }

    /// The text of an expression, as written, up to the `,` or `)` that ends it (not taken).
    pub(crate) fn read_expr(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let mut depth = 0u32;
        let mysql = self.mysql();
        loop {
            let b = self.peek()?.ok_or_else(|| self.truncated("a row of values"))?;
            if depth == 0 && matches!(b, b',' | b')') {
                return Ok(());
            }
            self.bump();
            match b {
                b'[' if self.tsql() => {
                    self.copy_bracketed(Some(out))?;
                    continue;
                }
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth = depth.saturating_sub(1),
                b'\'' | b'"' => {
                    let backslash = mysql || (b == b'\'' && self.dialect == Dialect::Postgres && matches!(out.last(), Some(b'E' | b'e')));
                    self.copy_quoted(b, backslash, Some(out))?;
                    continue;
                }
                b'`' if mysql => {
                    self.copy_quoted(b, false, Some(out))?;
                    continue;
                }
                _ => {}
            }
            out.push(b);
            if out.len() > MAX_ROW {
                return Err(self.too_long());
            }
        }
    }
}

/// What MySQL makes of a backslash and `e` in a string.
fn mysql_escape(e: u8, out: &mut Vec<u8>) {
    match e {
        b'0' => out.push(0),
        b'b' => out.push(8),
        b'n' => out.push(b'\n'),
        b'r' => out.push(b'\r'),
        b't' => out.push(b'\t'),
        b'Z' => out.push(26),
        // Kept with their backslash (for LIKE patterns).
        b'%' | b'_' => out.extend_from_slice(&[b'\\', e]),
        _ => out.push(e),
    }
}

/// Hexadecimal digits as bytes, appended to `out` (an odd count has a leading 0); `None` if one
/// is no digit.
pub(crate) fn unhex(digits: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let (first, rest) = if digits.len() % 2 == 1 { (Some(digits[0]), &digits[1..]) } else { (None, digits) };
    if let Some(f) = first {
        out.push(digit(f)?);
    }
    for pair in rest.chunks_exact(2) {
        out.push(digit(pair[0])? << 4 | digit(pair[1])?);
    }
    Some(())
}
