//! Where the diff's rows go ([`Sink`]), and two sinks that print them: tab-separated values in
//! PostgreSQL's COPY text format, and JSON lines.

use std::io::Write;

use super::copy::encode;
use super::diff::{Header, Layout};
use super::row::{Field, Form, Row};
use super::{Result, Side};

/// Receives the rows a diff finds: `begin` once, `row` for each row only in A or only in B (an
/// update's two versions one after the other), `end` once.
pub trait Sink {
    /// Before the first row: the table's name and each side's columns.
    fn begin(&mut self, header: &Header<'_>) -> Result<()>;
    /// A row only in A or only in B, its fields in the order of that side's layout.
    fn row(&mut self, side: Side, row: &Row) -> Result<()>;
    /// After the last row.
    fn end(&mut self) -> Result<()>;
}

/// Collects the rows, in order.
impl Sink for Vec<(Side, Row)> {
    fn begin(&mut self, _: &Header<'_>) -> Result<()> {
        Ok(())
    }

    fn row(&mut self, side: Side, row: &Row) -> Result<()> {
        self.push((side, row.clone()));
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The value a field prints as: its bytes (binary data as PostgreSQL's hex text, `\x0aff`, so
/// that no byte is lost to an encoding), or `None` for NULL.
fn shown<'a>(f: Option<Field<'a>>) -> Option<std::borrow::Cow<'a, [u8]>> {
    let f = f?;
    let v = f.value()?;
    Some(match f.form {
        Form::Binary => {
            let mut hex = Vec::with_capacity(2 + 2 * v.len());
            hex.extend_from_slice(b"\\x");
            super::script::hex(v, &mut hex);
            hex.into()
        }
        _ => v.into(),
    })
}

/// Writes tab-separated values: a header line `diff` and the columns' names, then one line a row,
/// `-` (only in A) or `+` (only in B) and its fields in COPY text format (`\N` for NULL,
/// backslash escapes for tabs, line ends and backslashes; binary values in hex, as COPY writes a
/// `bytea`: `\\x0aff`). When A and B have different
/// columns, the header names them all (A's, then those only B has), and a row has `\N` for a
/// column its side does not have.
pub struct TsvWriter<W> {
    out: W,
    /// For each printed column, its position in A's and in B's layout.
    columns: Vec<[Option<usize>; 2]>,
    buf: Vec<u8>,
}

impl<W: Write> TsvWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        TsvWriter { out, columns: Vec::new(), buf: Vec::new() }
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for TsvWriter<W> {
    fn begin(&mut self, header: &Header<'_>) -> Result<()> {
        let mut names: Vec<&str> = header.a.columns.iter().map(String::as_str).collect();
        names.extend(header.b.columns.iter().map(String::as_str).filter(|n| !header.a.columns.iter().any(|a| a == n)));
        let at = |l: &Layout, n: &str| l.columns.iter().position(|c| c == n);
        self.columns = names.iter().map(|n| [at(header.a, n), at(header.b, n)]).collect();
        self.buf.clear();
        self.buf.extend_from_slice(b"diff");
        for n in names {
            self.buf.push(b'\t');
            encode(Some(n.as_bytes()), &mut self.buf);
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    fn row(&mut self, side: Side, row: &Row) -> Result<()> {
        self.buf.clear();
        self.buf.push(if side == Side::A { b'-' } else { b'+' });
        let s = if side == Side::A { 0 } else { 1 };
        for c in &self.columns {
            self.buf.push(b'\t');
            encode(shown(c[s].and_then(|p| row.get(p))).as_deref(), &mut self.buf);
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

/// Writes JSON lines, one a row:
/// `{"side":"a","key":{"id":"7"},"row":{"id":"7","note":null}}` — `side` `a` (only in A) or
/// `b` (only in B), `key` the primary key's values (`null` when rows are compared whole), `row`
/// the values by column. Values are strings or `null`; binary values (`0x...`, `_binary '...'`)
/// print as `\x` and their bytes in hex, and other bytes that are not UTF-8 as U+FFFD (TSV and
/// SQL output keep them).
pub struct JsonWriter<W> {
    out: W,
    layouts: [Layout; 2],
    buf: Vec<u8>,
}

impl<W: Write> JsonWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        JsonWriter { out, layouts: Default::default(), buf: Vec::new() }
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Append `s` as a JSON string.
fn json_str(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for c in String::from_utf8_lossy(s).chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if u32::from(c) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes()),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

/// Append `{"name":value,...}` for the fields of `row` at `positions`.
fn json_object(layout: &Layout, row: &Row, positions: impl Iterator<Item = usize>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, p) in positions.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let fallback;
        let name = match layout.columns.get(p) {
            Some(n) => n.as_str(),
            None => {
                fallback = format!("column{}", p + 1);
                &fallback
            }
        };
        json_str(name.as_bytes(), out);
        out.push(b':');
        match shown(row.get(p)) {
            Some(v) => json_str(&v, out),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.push(b'}');
}

impl<W: Write> Sink for JsonWriter<W> {
    fn begin(&mut self, header: &Header<'_>) -> Result<()> {
        self.layouts = [header.a.clone(), header.b.clone()];
        Ok(())
    }

    fn row(&mut self, side: Side, row: &Row) -> Result<()> {
        let layout = &self.layouts[if side == Side::A { 0 } else { 1 }];
        self.buf.clear();
        self.buf.extend_from_slice(if side == Side::A { b"{\"side\":\"a\",\"key\":" } else { b"{\"side\":\"b\",\"key\":" });
        match &layout.key {
            Some(key) => json_object(layout, row, key.iter().copied(), &mut self.buf),
            None => self.buf.extend_from_slice(b"null"),
        }
        self.buf.extend_from_slice(b",\"row\":");
        json_object(layout, row, 0..row.len(), &mut self.buf);
        self.buf.extend_from_slice(b"}\n");
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}
