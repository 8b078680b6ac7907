//! SQL that turns A's rows into B's: `DELETE` for a row only in A (by its primary key, or by all
//! its columns, one row at a time, when the table has none), `INSERT` for a row only in B
//! (PostgreSQL's with `OVERRIDING SYSTEM VALUE`, so identity columns take the row's values;
//! T-SQL's between `SET IDENTITY_INSERT ... ON` and `OFF` when the table has an `IDENTITY`
//! column, and ended by `GO`). Names and values are quoted as the dialect quotes them.

use std::io::Write;

use super::diff::{Header, Layout};
use super::render::Sink;
use super::row::{Form, Row};
use super::{Dialect, Error, Result, Side};

/// Append the SQL literal of a value to `out`: strings quoted (PostgreSQL: `'...'` with `''`,
/// `E'...'` when it holds a backslash; MySQL: `'...'` with backslash escapes; T-SQL: `N'...'`
/// with `''`, control characters but tabs and line ends as `NCHAR(n)`), numbers and
/// expressions as they were written, bit strings as `B'...'`, binary data as `X'...'`
/// (PostgreSQL: a `bytea` string; T-SQL: `0x...`).
pub(crate) fn literal(dialect: Dialect, form: Form, bytes: &[u8], out: &mut Vec<u8>) {
    match (form, dialect) {
        (Form::Null, _) => out.extend_from_slice(b"NULL"),
        (Form::Bare | Form::Expr, _) => out.extend_from_slice(bytes),
        (Form::Bits, _) => {
            out.extend_from_slice(b"B'");
            out.extend(bytes.iter().filter(|b| matches!(b, b'0' | b'1')));
            out.push(b'\'');
        }
        (Form::Binary, Dialect::MySql) => {
            out.extend_from_slice(b"X'");
            hex(bytes, out);
            out.push(b'\'');
        }
        (Form::Binary, Dialect::Postgres) => {
            out.extend_from_slice(b"'\\x");
            hex(bytes, out);
            out.push(b'\'');
        }
        (Form::Binary, Dialect::TSql) => {
            out.extend_from_slice(b"0x");
            hex(bytes, out);
        }
        (Form::Text, Dialect::TSql) => {
            out.extend_from_slice(b"N'");
            for &b in bytes {
                match b {
                    b'\'' => out.extend_from_slice(b"''"),
                    b'\t' | b'\n' | b'\r' => out.push(b),
                    0..0x20 => out.extend_from_slice(format!("' + NCHAR({b}) + N'").as_bytes()),
                    _ => out.push(b),
                }
            }
            out.push(b'\'');
        }
        (Form::Text, Dialect::Postgres) => {
            let escapes = bytes.contains(&b'\\');
            if escapes {
                out.push(b'E');
            }
            out.push(b'\'');
            for &b in bytes {
                match b {
                    b'\'' => out.extend_from_slice(b"''"),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    _ => out.push(b),
                }
            }
            out.push(b'\'');
        }
        (Form::Text, Dialect::MySql) => {
            out.push(b'\'');
            for &b in bytes {
                match b {
                    0 => out.extend_from_slice(b"\\0"),
                    b'\'' => out.extend_from_slice(b"\\'"),
                    b'"' => out.extend_from_slice(b"\\\""),
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    26 => out.extend_from_slice(b"\\Z"),
                    _ => out.push(b),
                }
            }
            out.push(b'\'');
        }
    }
}

/// Append `bytes` in lower-case hexadecimal digits.
pub(crate) fn hex(bytes: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
    }
}

/// Append a quoted identifier: `"name"` (PostgreSQL), `` `name` `` (MySQL), `[name]` (T-SQL).
pub(crate) fn ident(dialect: Dialect, name: &str, out: &mut Vec<u8>) {
    let (open, close) = match dialect {
        Dialect::Postgres => (b'"', b'"'),
        Dialect::MySql => (b'`', b'`'),
        Dialect::TSql => (b'[', b']'),
    };
    out.push(open);
    for &b in name.as_bytes() {
        out.push(b);
        if b == close {
            out.push(close);
        }
    }
    out.push(close);
}

/// Writes SQL statements that turn A's table into B's: for each row only in A a `DELETE`, for
/// each row only in B an `INSERT`, and for an update (a row of A followed by the row of B with
/// the same primary key) an `UPDATE` — never a delete and an insert, which would fire delete
/// triggers and cascade to the rows that reference it (but for T-SQL, where an `IDENTITY` column
/// cannot be updated, when the update changes one).
pub struct SqlWriter<W> {
    out: W,
    table: Option<Vec<String>>,
    dialect: Dialect,
    layouts: [Layout; 2],
    buf: Vec<u8>,
    /// A row of A held back while the next row may be its update.
    pending: Option<Row>,
    /// T-SQL: `SET IDENTITY_INSERT ... ON` was written (`OFF` is due at the end), or a comment
    /// that says it may be needed.
    identity_said: bool,
    identity_on: bool,
}

impl<W: Write> SqlWriter<W> {
    /// A writer to `out`; the statements name the table as the dump's statements named it.
    pub fn new(out: W) -> Self {
        SqlWriter { out, table: None, dialect: Dialect::Postgres, layouts: Default::default(), buf: Vec::new(), pending: None, identity_said: false, identity_on: false }
    }

    /// Name the table `name` (its qualified name's parts, unquoted) instead.
    pub fn table(mut self, name: Vec<String>) -> Self {
        self.table = Some(name);
        self
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn name(&mut self) -> Result<()> {
        let table = self.table.as_deref().filter(|t| !t.is_empty()).ok_or(Error::Unnamed("the table"))?;
        for (i, part) in table.iter().enumerate() {
            if i > 0 {
                self.buf.push(b'.');
            }
            ident(self.dialect, part, &mut self.buf);
        }
        Ok(())
    }

    /// `"a" = 'x' AND "b" IS NULL` for the fields of `row` at `positions`.
    fn matching(&mut self, layout: usize, row: &Row, positions: &[usize]) {
        let mut first = true;
        for &p in positions {
            let Some(f) = row.get(p) else { continue };
            if f.form == Form::Bare && f.bytes.eq_ignore_ascii_case(b"DEFAULT") {
                continue; // a generated column: no value to match
            }
            if !first {
                self.buf.extend_from_slice(b" AND ");
            }
            first = false;
            let name = &self.layouts[layout].columns[p];
            ident(self.dialect, name, &mut self.buf);
            if f.is_null() {
                self.buf.extend_from_slice(b" IS NULL");
            } else {
                self.buf.extend_from_slice(b" = ");
                literal(self.dialect, f.form, f.bytes, &mut self.buf);
            }
        }
        if first {
            self.buf.extend_from_slice(b"1 = 1");
        }
    }

    fn delete(&mut self, row: &Row) -> Result<()> {
        let layout = &self.layouts[0];
        if !layout.named || row.len() > layout.columns.len() {
            return Err(Error::Unnamed("the table's columns: a row to delete cannot be matched"));
        }
        let top = self.dialect == Dialect::TSql && self.layouts[0].key.is_none();
        self.buf.extend_from_slice(if top { b"DELETE TOP (1) FROM " } else { b"DELETE FROM " });
        self.name()?;
        self.buf.extend_from_slice(b" WHERE ");
        if let Some(key) = self.layouts[0].key.clone() {
            self.matching(0, row, &key);
        } else {
            // No key: one row with these values, however many there are (generated columns
            // left out: they follow from the others).
            let all: Vec<usize> = (0..row.len()).filter(|i| !self.layouts[0].generated.contains(i)).collect();
            match self.dialect {
                Dialect::Postgres => {
                    self.buf.extend_from_slice(b"ctid = (SELECT ctid FROM ");
                    self.name()?;
                    self.buf.extend_from_slice(b" WHERE ");
                    self.matching(0, row, &all);
                    self.buf.extend_from_slice(b" LIMIT 1)");
                }
                Dialect::MySql => {
                    self.matching(0, row, &all);
                    self.buf.extend_from_slice(b" LIMIT 1");
                }
                Dialect::TSql => self.matching(0, row, &all),
            }
        }
        self.buf.extend_from_slice(b";\n");
        Ok(())
    }

    /// Whether `b` (a row of B) has the primary key of `a` (a row of A).
    fn same_key(&self, a: &Row, b: &Row) -> bool {
        let (Some(ka), Some(kb)) = (&self.layouts[0].key, &self.layouts[1].key) else { return false };
        ka.len() == kb.len()
            && ka.iter().zip(kb).all(|(&i, &j)| match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.is_null() == y.is_null() && x.bytes == y.bytes,
                _ => false,
            })
    }

    /// Whether `b` (a row of B) has another value than `a` (a row of A) in an identity column.
    fn identity_changed(&self, a: &Row, b: &Row) -> bool {
        let [la, lb] = &self.layouts;
        lb.identity.iter().flatten().any(|&i| {
            let j = la.columns.iter().position(|c| lb.columns.get(i) == Some(c));
            j.and_then(|j| a.get(j)) != b.get(i)
        })
    }

    /// `UPDATE ... SET` every column of B's row but generated (and T-SQL's identity) ones `WHERE`
    /// A's row's key.
    fn update(&mut self, a: &Row, b: &Row) -> Result<()> {
        let layout = self.layouts[1].clone();
        if !layout.named || b.len() > layout.columns.len() {
            return Err(Error::Unnamed("the table's columns: an update cannot name them"));
        }
        if self.dialect == Dialect::TSql && self.identity_changed(a, b) {
            // SQL Server updates no identity column: the old row goes, the new one comes.
            self.delete(a)?;
            return self.insert(b);
        }
        let identity = if self.dialect == Dialect::TSql { layout.identity.clone().unwrap_or_default() } else { Vec::new() };
        self.buf.extend_from_slice(b"UPDATE ");
        self.name()?;
        self.buf.extend_from_slice(b" SET ");
        for (n, i) in (0..b.len()).filter(|i| !layout.generated.contains(i) && !identity.contains(i)).enumerate() {
            if n > 0 {
                self.buf.extend_from_slice(b", ");
            }
            ident(self.dialect, &layout.columns[i], &mut self.buf);
            self.buf.extend_from_slice(b" = ");
            match b.get(i) {
                Some(f) if !f.is_null() => literal(self.dialect, f.form, f.bytes, &mut self.buf),
                _ => self.buf.extend_from_slice(b"NULL"),
            }
        }
        self.buf.extend_from_slice(b" WHERE ");
        let key = self.layouts[0].key.clone().unwrap_or_default();
        self.matching(0, a, &key);
        self.buf.extend_from_slice(b";\n");
        Ok(())
    }

    /// Write the held-back row of A as a `DELETE`.
    fn flush_pending(&mut self) -> Result<()> {
        if let Some(a) = self.pending.take() {
            self.buf.clear();
            self.delete(&a)?;
            self.out.write_all(&self.buf)?;
        }
        Ok(())
    }

    /// T-SQL, before the first `INSERT`: `SET IDENTITY_INSERT ... ON` if the table has an
    /// identity column, or a comment if no definition tells whether it has.
    fn identity_insert(&mut self) -> Result<()> {
        if self.dialect != Dialect::TSql || self.identity_said {
            return Ok(());
        }
        self.identity_said = true;
        match &self.layouts[1].identity {
            Some(ids) if ids.is_empty() => {}
            Some(_) => {
                self.identity_on = true;
                self.buf.extend_from_slice(b"SET IDENTITY_INSERT ");
                self.name()?;
                self.buf.extend_from_slice(b" ON;\n");
            }
            None => {
                self.buf.extend_from_slice(b"-- dbvault: no definition of ");
                self.name()?;
                self.buf.extend_from_slice(b" was read: if it has an IDENTITY column, run SET IDENTITY_INSERT ");
                self.name()?;
                self.buf.extend_from_slice(b" ON before these INSERTs and OFF after them.\n");
            }
        }
        Ok(())
    }

    fn insert(&mut self, row: &Row) -> Result<()> {
        self.identity_insert()?;
        self.buf.extend_from_slice(if self.dialect == Dialect::TSql { b"INSERT " } else { b"INSERT INTO " });
        self.name()?;
        let layout = &self.layouts[1];
        // Generated columns are left out: the database computes them.
        let named = layout.named && row.len() <= layout.columns.len();
        let given = |i: &usize| !(named && layout.generated.contains(i));
        if named {
            self.buf.extend_from_slice(b" (");
            for (n, i) in (0..row.len()).filter(given).enumerate() {
                if n > 0 {
                    self.buf.extend_from_slice(b", ");
                }
                ident(self.dialect, &layout.columns[i], &mut self.buf);
            }
            self.buf.push(b')');
        }
        if self.dialect == Dialect::Postgres {
            // Values for identity columns too (`GENERATED ALWAYS AS IDENTITY`), as pg_dump does.
            self.buf.extend_from_slice(b" OVERRIDING SYSTEM VALUE");
        }
        self.buf.extend_from_slice(b" VALUES (");
        for (n, i) in (0..row.len()).filter(given).enumerate() {
            if n > 0 {
                self.buf.extend_from_slice(b", ");
            }
            if let Some(f) = row.get(i) {
                literal(self.dialect, f.form, f.bytes, &mut self.buf);
            }
        }
        self.buf.extend_from_slice(b");\n");
        Ok(())
    }
}

impl<W: Write> Sink for SqlWriter<W> {
    fn begin(&mut self, header: &Header<'_>) -> Result<()> {
        self.dialect = header.dialect;
        if self.table.is_none() {
            self.table = Some(header.table.to_vec());
        }
        self.layouts = [header.a.clone(), header.b.clone()];
        Ok(())
    }

    fn row(&mut self, side: Side, row: &Row) -> Result<()> {
        match side {
            // Held back while a key pairs rows: the next row may be its new version.
            Side::A if self.layouts[0].key.is_some() && self.layouts[1].key.is_some() => {
                self.flush_pending()?;
                self.pending = Some(row.clone());
                return Ok(());
            }
            Side::A => {
                self.flush_pending()?;
                self.buf.clear();
                self.delete(row)?;
            }
            Side::B => {
                let pending = self.pending.take();
                self.buf.clear();
                match pending {
                    Some(a) if self.same_key(&a, row) => self.update(&a, row)?,
                    Some(a) => {
                        self.delete(&a)?;
                        self.insert(row)?;
                    }
                    None => self.insert(row)?,
                }
            }
        }
        self.out.write_all(&self.buf)?;
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        self.flush_pending()?;
        if self.identity_on {
            self.buf.clear();
            self.buf.extend_from_slice(b"SET IDENTITY_INSERT ");
            self.name()?;
            self.buf.extend_from_slice(b" OFF;\n");
            self.out.write_all(&self.buf)?;
        }
        if self.dialect == Dialect::TSql {
            self.out.write_all(b"GO\n")?;
        }
        self.out.flush()?;
        Ok(())
    }
}
