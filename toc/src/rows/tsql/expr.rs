//! The T-SQL values SSMS and other generators write, understood from their text: `NULL`,
//! numbers as written, `0x...` binary data, `N'...'`/`'...'` strings, strings put together with
//! `+`, `CHAR(n)` (ASCII) and `NCHAR(n)`, and the value inside `CAST(x AS T)` and `CONVERT(T, x)`
//! (without a style: a style makes the text mean something else). Anything else is not
//! understood: its text is the value.

use super::super::row::Form;
use super::super::values::unhex;

/// How deep `CAST`s and `CONVERT`s may nest.
const MAX_DEPTH: usize = 8;

/// A token of a value's text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok<'a> {
    /// A string's value.
    Str(Vec<u8>),
    /// A number, as written.
    Num(&'a [u8]),
    /// `0x` and hexadecimal digits: the digits.
    Hex(&'a [u8]),
    /// A word.
    Word(&'a [u8]),
    /// A quoted identifier (`[...]`, `"..."`): a type's name, or a column's (no value).
    Quoted,
    /// Any other byte.
    Punct(u8),
}

/// Append a string's literal: `N'...'` (or `'...'`), quotes doubled.
pub(super) fn quote(national: bool, value: &[u8], out: &mut Vec<u8>) {
    if national {
        out.push(b'N');
    }
    out.push(b'\'');
    for &b in value {
        out.push(b);
        if b == b'\'' {
            out.push(b'\'');
        }
    }
    out.push(b'\'');
}

/// The value `text` (trimmed) stands for, appended to `out`, and its form; `None` (with `out` to
/// be cut back by the caller) if it is not understood.
pub(super) fn understand(text: &[u8], out: &mut Vec<u8>) -> Option<Form> {
    let toks = tokens(text)?;
    let mut p = Parser { toks, i: 0 };
    let form = p.value(0, out)?;
    (p.i == p.toks.len()).then_some(form)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'@' | b'#' | b'$') || b >= 0x80
}

/// The tokens of `text`; `None` if it holds a comment or an unclosed quote.
fn tokens(text: &[u8]) -> Option<Vec<Tok<'_>>> {
    let mut out = Vec::new();
    let mut i = 0;
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let run = |mut i: usize, f: fn(u8) -> bool| {
        while i < text.len() && f(text[i]) {
            i += 1;
        }
        i
    };
    while i < text.len() {
        let b = text[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'\'' || (matches!(b, b'N' | b'n') && at(i + 1) == b'\'') {
            i += if b == b'\'' { 1 } else { 2 };
            let mut s = Vec::new();
            loop {
                match text.get(i)? {
                    b'\'' if at(i + 1) == b'\'' => {
                        s.push(b'\'');
                        i += 2;
                    }
                    b'\'' => break,
                    &c => {
                        s.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if b == b'0' && matches!(at(i + 1), b'x' | b'X') {
            let end = run(i + 2, is_word);
            let digits = &text[i + 2..end];
            if !digits.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(Tok::Hex(digits));
            i = end;
        } else if b.is_ascii_digit() || (b == b'.' && at(i + 1).is_ascii_digit()) {
            let start = i;
            i = run(i, |c| c.is_ascii_digit() || c == b'.');
            if matches!(at(i), b'e' | b'E') {
                i += 1 + usize::from(matches!(at(i + 1), b'+' | b'-'));
                i = run(i, |c| c.is_ascii_digit());
            }
            if is_word(at(i)) {
                return None;
            }
            out.push(Tok::Num(&text[start..i]));
        } else if is_word(b) {
            let end = run(i, is_word);
            out.push(Tok::Word(&text[i..end]));
            i = end;
        } else if b == b'[' || b == b'"' {
            let close = if b == b'[' { b']' } else { b'"' };
            let end = i + 1 + text[i + 1..].iter().position(|&c| c == close)?;
            out.push(Tok::Quoted);
            i = end + 1;
        } else if (b == b'-' && at(i + 1) == b'-') || (b == b'/' && at(i + 1) == b'*') {
            return None;
        } else {
            out.push(Tok::Punct(b));
            i += 1;
        }
    }
    Some(out)
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<&Tok<'_>> {
        self.toks.get(self.i + k)
    }

    fn word(&self, k: usize, w: &str) -> bool {
        matches!(self.peek(k), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w.as_bytes()))
    }

    fn punct(&self, k: usize, c: u8) -> bool {
        self.peek(k) == Some(&Tok::Punct(c))
    }

    /// One value, appended to `out`.
    fn value(&mut self, depth: usize, out: &mut Vec<u8>) -> Option<Form> {
        if depth > MAX_DEPTH {
            return None;
        }
        if self.word(0, "CAST") && self.punct(1, b'(') {
            self.i += 2;
            let form = self.value(depth + 1, out)?;
            if !self.word(0, "AS") {
                return None;
            }
            self.i += 1;
            self.skip_type(b')')?;
            self.i += 1;
            return Some(form);
        }
        if self.word(0, "CONVERT") && self.punct(1, b'(') {
            self.i += 2;
            self.skip_type(b',')?;
            self.i += 1;
            let form = self.value(depth + 1, out)?;
            // `CONVERT(T, x, style)`: the style is not read.
            self.punct(0, b')').then(|| self.i += 1)?;
            return Some(form);
        }
        if self.word(0, "NULL") {
            self.i += 1;
            return Some(Form::Null);
        }
        let tok = self.peek(0)?.clone();
        match tok {
            Tok::Punct(sign @ (b'-' | b'+')) => {
                let Some(&Tok::Num(n)) = self.peek(1) else { return None };
                out.push(sign);
                out.extend_from_slice(n);
                self.i += 2;
                Some(Form::Bare)
            }
            Tok::Num(n) => {
                out.extend_from_slice(n);
                self.i += 1;
                Some(Form::Bare)
            }
            Tok::Hex(digits) => {
                unhex(digits, out)?;
                self.i += 1;
                Some(Form::Binary)
            }
            Tok::Word(w) if !self.punct(1, b'(') && !self.punct(1, b'+') => {
                out.extend_from_slice(w);
                self.i += 1;
                Some(Form::Bare)
            }
            _ => {
                // Strings, `CHAR(n)` and `NCHAR(n)` put together with `+`.
                self.piece(out)?;
                while self.punct(0, b'+') {
                    self.i += 1;
                    self.piece(out)?;
                }
                Some(Form::Text)
            }
        }
    }

    /// A string, `CHAR(n)` or `NCHAR(n)`, appended to `out`.
    fn piece(&mut self, out: &mut Vec<u8>) -> Option<()> {
        if let Some(Tok::Str(s)) = self.peek(0) {
            out.extend_from_slice(s);
            self.i += 1;
            return Some(());
        }
        let national = self.word(0, "NCHAR");
        if !(national || self.word(0, "CHAR")) || !self.punct(1, b'(') || !self.punct(3, b')') {
            return None;
        }
        let Some(Tok::Num(n)) = self.peek(2) else { return None };
        let n: u32 = std::str::from_utf8(n).ok()?.parse().ok()?;
        // CHAR(n) above 127 is a character of the database's code page.
        let c = char::from_u32(n).filter(|_| national || n < 128)?;
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        self.i += 4;
        Some(())
    }

    /// Pass a type (`DateTime`, `Decimal(10, 2)`, `[nvarchar](max)`) up to the `end` that
    /// follows it outside parentheses (not taken).
    fn skip_type(&mut self, end: u8) -> Option<()> {
        let mut depth = 0usize;
        loop {
            match self.peek(0)? {
                Tok::Punct(c) if *c == end && depth == 0 => return Some(()),
                Tok::Punct(b'(') => depth += 1,
                Tok::Punct(b')') => depth = depth.checked_sub(1)?,
                Tok::Word(_) | Tok::Quoted | Tok::Num(_) | Tok::Punct(b',') => {}
                _ => return None,
            }
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn got(text: &str) -> Option<(Form, String)> {
        let mut out = Vec::new();
        understand(text.as_bytes(), &mut out).map(|f| (f, String::from_utf8_lossy(&out).into_owned()))
    }

    #[test]
    fn what_ssms_writes_is_understood() {
        let t = |s: &str| Some((Form::Text, s.to_string()));
        let bare = |s: &str| Some((Form::Bare, s.to_string()));
        assert_eq!(got("CAST(N'2024-01-02T03:04:05.000' AS DateTime)"), t("2024-01-02T03:04:05.000"));
        assert_eq!(got("CAST(12.50 AS Decimal(10, 2))"), bare("12.50"));
        assert_eq!(got("cast(-1.5E+07 as [float])"), bare("-1.5E+07"));
        assert_eq!(got("CAST(N'x' AS [nvarchar](max))"), t("x"));
        assert_eq!(got("CONVERT(DateTime2(7), N'2024-01-02')"), t("2024-01-02"));
        assert_eq!(got("CAST(NULL AS int)"), Some((Form::Null, String::new())));
        assert_eq!(got("N'line1' + CHAR(13) + CHAR(10) + N'it''s' + NCHAR(129408)"), t("line1\r\nit's🦀"));
        assert_eq!(got("0x0A0B"), Some((Form::Binary, "\n\u{b}".to_string())));
        assert_eq!(got("0x"), Some((Form::Binary, String::new())));
        assert_eq!(got("DEFAULT"), bare("DEFAULT"));
        for not in ["[x]", "CONVERT(DateTime, '01/02/2024', 101)", "CHAR(200)", "1 + 2", "geography::Point(1, 2, 4326)", "0x0G", "N'x' /* c */", "CAST(1 AS", "GETDATE()"] {
            assert_eq!(got(not), None, "{not}");
        }
        let deep = format!("{}1{}", "CAST(".repeat(20), " AS int)".repeat(20));
        assert_eq!(got(&deep), None, "too deep");
    }
}
