//! The rows of one table, read out of a dump's bytes, and which rows are only in one of two
//! snapshots of it: the library side of `dbvault diff A B --rows TABLE`.
//!
//! - [`RowReader`] streams the rows of a table data object (pg_dump's `COPY ... FROM stdin;` or
//!   `INSERT` statements, mysqldump's and mariadb-dump's extended `INSERT`s, the one-row `INSERT`s
//!   of T-SQL scripts as SSMS writes them, in UTF-16 or UTF-8), one [`Row`] at a time, with the
//!   column names when the dump names them. Its memory is one row, never the table.
//! - [`TableDef`] reads a table's columns and primary key out of its definition objects
//!   (`CREATE TABLE`, pg_dump's `ALTER TABLE ONLY ... ADD CONSTRAINT ... PRIMARY KEY (...)`,
//!   SSMS's `CONSTRAINT [PK_t] PRIMARY KEY CLUSTERED ([id] ASC)`).
//! - [`diff`] finds the rows only in A and only in B (a multiset: a row twice in A and once in B is
//!   once only in A), pairs an update by its primary key, and hands them to a [`Sink`] in a
//!   deterministic order. It keeps 16-byte keyed digests of rows, not their text, and reads each
//!   side more than once.
//! - [`TsvWriter`], [`JsonWriter`] and [`SqlWriter`] are sinks that print the difference.
//!
//! Values are kept as the bytes they stand for (strings decoded, `\N` and `NULL` as [`Form::Null`]),
//! with how they were written ([`Form`]), so that comparisons see values and SQL output can write
//! numbers, bit strings and expressions back as the dump wrote them. T-SQL's `CAST(x AS T)` and
//! `CONVERT(T, x)` are compared by their `x`, and written back as `x` alone (SQL Server converts
//! it to the column's type).

use std::io;

mod copy;
mod def;
mod diff;
mod digest;
mod input;
mod lex;
mod reader;
mod render;
mod row;
mod script;
mod text;
mod tsql;
mod values;

pub use crate::tsql::Encoding;

pub use def::TableDef;
pub use diff::{Header, Layout, Options, Summary, Table, diff};
pub use reader::RowReader;
pub use render::{JsonWriter, Sink, TsvWriter};
pub use row::{Field, Form, Row};
pub use script::SqlWriter;

pub use crate::Dialect;

/// Which snapshot a row is only in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Only in A (the older snapshot): a row B no longer has, or an update's old version.
    A,
    /// Only in B: a row B added, or an update's new version.
    B,
}

/// The longest row read (all its fields' bytes): PostgreSQL's longest value is 1 GiB.
pub const MAX_ROW: usize = 1 << 30;

/// Why rows could not be read, compared or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a dump or writing the output failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The bytes are not the SQL or COPY text expected at that byte.
    #[error("not understood at byte {at}: {what}")]
    Syntax {
        /// The offset in the stream where it was noticed.
        at: u64,
        /// What was expected or found.
        what: &'static str,
    },
    /// The stream ended inside a statement, a value or COPY rows: the object was cut short.
    #[error("cut short at byte {at}: the stream ends inside {what}")]
    Truncated {
        /// The stream's length.
        at: u64,
        /// What it ends inside.
        what: &'static str,
    },
    /// A row longer than [`MAX_ROW`] bytes.
    #[error("a row at byte {at} is longer than {MAX_ROW} bytes")]
    RowTooLong {
        /// Where it was noticed.
        at: u64,
    },
    /// Statements of one table data object that name different tables or columns.
    #[error("the statements of one table's data differ: {0}")]
    Mixed(String),
    /// SQL output needs a name that neither the dump's statements nor the table's definition
    /// give: the table's, or its columns' (to match a row to delete).
    #[error("SQL output needs {0}, which neither the data nor the definition names")]
    Unnamed(&'static str),
}

/// What this module's functions return.
pub type Result<T> = std::result::Result<T, Error>;
