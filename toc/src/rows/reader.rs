//! The row reader: the rows of a table data object, one at a time, whichever statements hold
//! them (`COPY ... FROM stdin;` and its lines, `INSERT`/`REPLACE ... VALUES (...), (...);`), with
//! the statements around them skipped (`SET`, `LOCK TABLES`, `/*!40000 ALTER TABLE ... */`, ...;
//! T-SQL's `SET IDENTITY_INSERT ... ON`, `GO` lines, ...).

use std::io::Read;

use super::copy::decode_line;
use super::row::Row;
use super::lex::{Sql, is_word_byte};
use super::{Dialect, Encoding, Error, MAX_ROW, Result};

/// Where the reader is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between statements.
    Between,
    /// In the lines of a `COPY`.
    Copy,
    /// After `VALUES` or a row's `,`: a row follows.
    Values,
    /// After a row of `VALUES`.
    AfterRow,
    /// At the end of the stream.
    Done,
}

/// Reads the rows of one table data object from a stream, one at a time; its memory is the
/// current row (and a 64 KiB buffer), whatever the table's size.
pub struct RowReader<R> {
    sql: Sql<R>,
    state: State,
    row: Row,
    line: Vec<u8>,
    columns: Option<Vec<String>>,
    table: Option<Vec<String>>,
    statements: u64,
    rows: u64,
}

impl<R: Read> RowReader<R> {
    /// A reader of `input`, the bytes of a table data object of a dump in `dialect` (the whole
    /// object, its comment block included, or only its statements). A T-SQL script's bytes are in
    /// the encoding their first bytes tell ([`Encoding::of_part`]).
    pub fn new(dialect: Dialect, input: R) -> Self {
        RowReader::with_encoding(dialect, None, input)
    }

    /// A reader of `input` in `encoding` (told from its first bytes if `None`, for T-SQL; read
    /// as it is for other dialects): the values come out as UTF-8. A byte-order mark that starts
    /// `input` is passed over. Error offsets count bytes of the text decoded to UTF-8.
    pub fn with_encoding(dialect: Dialect, encoding: Option<Encoding>, input: R) -> Self {
        let sql = Sql::new(dialect, encoding, input);
        RowReader { sql, state: State::Between, row: Row::default(), line: Vec::new(), columns: None, table: None, statements: 0, rows: 0 }
    }

    /// The next row, or `None` at the end of the stream. An error (bytes that are no table data,
    /// a stream cut short, a failed read) ends the reading: calling again gives `None`.
    pub fn next_row(&mut self) -> Result<Option<&Row>> {
        match self.advance() {
            Ok(true) => {
                self.rows += 1;
                Ok(Some(&self.row))
            }
            Ok(false) => Ok(None),
            Err(e) => {
                self.state = State::Done;
                Err(e)
            }
        }
    }

    /// The columns the statements name (`COPY t (a, b)`, `INSERT INTO t (a, b)`), if they do.
    pub fn columns(&self) -> Option<&[String]> {
        self.columns.as_deref()
    }

    /// The table the statements name (its qualified name's parts, unquoted), once one was read.
    pub fn table(&self) -> Option<&[String]> {
        self.table.as_deref()
    }

    /// Rows read so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes read so far (of the text decoded to UTF-8, for a script in UTF-16).
    pub fn offset(&self) -> u64 {
        self.sql.input.offset()
    }

    /// Move to the next row (in `self.row`); false at the end.
    fn advance(&mut self) -> Result<bool> {
        let pg = self.sql.dialect == Dialect::Postgres;
        let tsql = self.sql.tsql();
        loop {
            match self.state {
                State::Done => return Ok(false),
                State::Between => {
                    self.sql.skip_blank()?;
                    match self.sql.peek()? {
                        None => {
                            self.state = State::Done;
                            return Ok(false);
                        }
                        Some(b';') => self.sql.bump(),
                        // A psql meta-command (`\connect`, `\restrict`), to its line end.
                        Some(b'\\') if pg => self.sql.skip_line()?,
                        Some(b) if is_word_byte(b) => {
                            let word = self.sql.read_word()?.to_ascii_uppercase();
                            match word.as_str() {
                                "COPY" if pg => self.copy_header()?,
                                "INSERT" | "REPLACE" => {
                                    if self.insert_header()? {
                                        return Ok(true);
                                    }
                                }
                                _ => self.sql.skip_statement()?,
                            }
                        }
                        Some(b) if tsql && !Sql::<R>::starts_tsql_statement(b) => return Err(self.sql.syntax("a T-SQL statement")),
                        Some(_) => self.sql.skip_statement()?,
                    }
                }
                State::Copy => {
                    self.line.clear();
                    let ended = self.sql.input.read_line(&mut self.line, MAX_ROW + 2)?;
                    if self.line.len() > MAX_ROW + 1 {
                        return Err(Error::RowTooLong { at: self.offset() });
                    }
                    let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if text == b"\\." {
                        self.state = State::Between;
                        continue;
                    }
                    if !ended {
                        return Err(self.sql.truncated("COPY rows (no `\\.` line ends them)"));
                    }
                    decode_line(text, &mut self.row).map_err(|what| Error::Syntax { at: self.sql.input.offset(), what })?;
                    return Ok(true);
                }
                State::Values => {
                    self.sql.skip_blank()?;
                    match self.sql.peek()? {
                        Some(b'(') => {
                            self.sql.bump();
                            self.sql.read_row(&mut self.row)?;
                            self.state = State::AfterRow;
                            return Ok(true);
                        }
                        Some(_) => return Err(self.sql.syntax("a row of values: `(`")),
                        None => return Err(self.sql.truncated("an INSERT statement")),
                    }
                }
                State::AfterRow => {
                    self.sql.skip_blank()?;
                    match self.sql.peek()? {
                        Some(b',') => {
                            self.sql.bump();
                            self.state = State::Values;
                        }
                        Some(b';') => {
                            self.sql.bump();
                            self.state = State::Between;
                        }
                        // T-SQL's next statement, on the next line: no `;` ended this one; nor
                        // does one end the last (an object's range ends with its last row's line,
                        // whatever statement follows, a `GO` or another table's INSERT).
                        Some(_) | None if tsql => self.state = State::Between,
                        // `ON CONFLICT DO NOTHING`, `ON DUPLICATE KEY UPDATE ...`.
                        Some(_) => {
                            self.sql.skip_statement()?;
                            self.state = State::Between;
                        }
                        None => return Err(self.sql.truncated("an INSERT statement")),
                    }
                }
            }
        }
    }

    /// `COPY name [(columns)] FROM stdin;` after `COPY`, to its line end.
    fn copy_header(&mut self) -> Result<()> {
        let table = self.sql.read_name(None)?;
        let columns = self.column_list()?;
        for expected in ["FROM", "STDIN"] {
            self.sql.skip_blank()?;
            if !self.sql.read_word()?.eq_ignore_ascii_case(expected) {
                return Err(self.sql.syntax("COPY ... FROM stdin; (other forms of COPY hold no rows here)"));
            }
        }
        self.sql.skip_ws()?;
        if self.sql.peek()? != Some(b';') {
            return Err(self.sql.syntax("`;` after COPY ... FROM stdin (COPY options are not read)"));
        }
        self.sql.bump();
        // The rest of the line: blanks.
        let mut rest = Vec::new();
        self.sql.input.read_line(&mut rest, 4096)?;
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Err(self.sql.syntax("a line end after COPY ... FROM stdin;"));
        }
        self.statement(table, columns)?;
        self.state = State::Copy;
        Ok(())
    }

    /// `INSERT [IGNORE] [INTO] name [(columns)] [OVERRIDING ... VALUE] VALUES`, after `INSERT`;
    /// true if it was `DEFAULT VALUES`, a row of no fields (pg_dump's, of a table of no columns).
    fn insert_header(&mut self) -> Result<bool> {
        let mut first = None;
        loop {
            self.sql.skip_blank()?;
            if !self.sql.peek()?.is_some_and(is_word_byte) {
                break;
            }
            let word = self.sql.read_word()?;
            match word.to_ascii_uppercase().as_str() {
                "LOW_PRIORITY" | "DELAYED" | "HIGH_PRIORITY" | "IGNORE" => {}
                "INTO" => break,
                _ => {
                    first = Some(word);
                    break;
                }
            }
        }
        let table = self.sql.read_name(first)?;
        let columns = self.column_list()?;
        self.sql.skip_blank()?;
        let mut word = self.sql.read_word()?.to_ascii_uppercase();
        if word == "OVERRIDING" {
            // `OVERRIDING SYSTEM VALUE` (pg_dump, for identity columns).
            for _ in 0..2 {
                self.sql.skip_blank()?;
                self.sql.read_word()?;
            }
            self.sql.skip_blank()?;
            word = self.sql.read_word()?.to_ascii_uppercase();
        }
        if word == "DEFAULT" {
            self.sql.skip_blank()?;
            if self.sql.read_word()?.eq_ignore_ascii_case("VALUES") {
                self.statement(table, columns)?;
                self.row.clear();
                self.state = State::AfterRow;
                return Ok(true);
            }
        }
        if word != "VALUES" && word != "VALUE" {
            return Err(self.sql.syntax("INSERT ... VALUES (other forms of INSERT are not read)"));
        }
        self.statement(table, columns)?;
        self.state = State::Values;
        Ok(false)
    }

    /// A statement's column list, if one follows.
    fn column_list(&mut self) -> Result<Option<Vec<String>>> {
        self.sql.skip_blank()?;
        if self.sql.peek()? != Some(b'(') {
            return Ok(None);
        }
        self.sql.bump();
        Ok(Some(self.sql.read_ident_list()?))
    }

    /// A statement of rows names `table` and `columns`: the same as the ones before it.
    fn statement(&mut self, table: Vec<String>, columns: Option<Vec<String>>) -> Result<()> {
        self.statements += 1;
        if self.statements == 1 {
            self.table = Some(table);
            self.columns = columns;
            return Ok(());
        }
        if self.table.as_ref() != Some(&table) {
            return Err(Error::Mixed(format!("rows of {} after rows of {}", table.join("."), self.table.as_deref().unwrap_or_default().join("."))));
        }
        if self.columns != columns {
            return Err(Error::Mixed(format!("columns ({}) after columns ({})", columns.unwrap_or_default().join(", "), self.columns.as_deref().unwrap_or_default().join(", "))));
        }
        Ok(())
    }
}
