//! A table of contents of a database dump, built while the dump streams past: every object the
//! dump holds (schemas, table definitions, table data, sequences, indexes, constraints, triggers,
//! views, functions, grants, ...), with its kind, qualified name, byte range in the stream, a keyed
//! digest of its bytes and, for table data, its row count.
//!
//! A parser is fed the stream in pieces of any size ([`TocParser::feed`]) and never looks back:
//! no second pass over the dump, no temporary file. Its memory is bounded by the number of objects
//! (a few hundred bytes each) and by [`MAX_LINE_HEAD`] bytes of the current line, whatever the
//! length of the dump's lines. A dump it does not understand is never an error: the table of
//! contents says which bytes were not understood.
//!
//! Formats: pg_dump's plain SQL ([`pg_plain`]), pg_dumpall's (a whole cluster: its globals, then
//! every database's pg_dump plain dump, [`pg_dumpall`]), mysqldump's and mariadb-dump's
//! ([`mysql`]), all on one engine for dumps laid out in comment blocks ([`blocks`]); T-SQL scripts
//! as SQL Server Management Studio and sqlcmd write them, in UTF-16 or UTF-8 ([`tsql`]); pg_dump's
//! custom format archives (`pg_dump -Fc`), read through their binary table of contents and data
//! blocks ([`pg_custom`]).
//!
//! [`select`] chooses the objects that recreate some tables (`dbvault restore --table`); [`rows`]
//! reads the rows of one table out of its table data object and tells which rows are only in one
//! of two snapshots of it (`dbvault diff A B --rows TABLE`).

use std::ops::Range;

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod block_equivalence;
pub mod blocks;
pub mod compare;
pub mod load_order;
pub mod mysql;
pub mod pg_dumpall;
pub mod pg_custom;
pub mod pg_plain;
pub mod rename;
pub mod rows;
pub mod select;
pub mod sql;
pub mod tsql;

/// Longest line kept whole to recognise it (a block line naming a function of many arguments, a
/// `COPY` of 1,600 long column names). Longer lines are still counted and hashed, but their text
/// is not looked at beyond their first and last bytes.
pub const MAX_LINE_HEAD: usize = 1 << 20;

/// Whose SQL a dump is written in: it decides the lexical rules (quotes, escapes, comments), which
/// statements hold rows, and how names are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL (pg_dump plain and custom, pg_dumpall): `COPY ... FROM stdin;` rows in text
    /// format, or `INSERT` statements.
    Postgres,
    /// MySQL and MariaDB (mysqldump, mariadb-dump): `INSERT` (or `REPLACE`) statements with
    /// backslash escapes.
    MySql,
    /// T-SQL scripts as SQL Server Management Studio and sqlcmd write them: one
    /// `INSERT [dbo].[t] (...) VALUES (...)` a row, `GO` lines, `[bracketed]` names, `N'...'`
    /// strings; in UTF-16 or UTF-8 ([`tsql::Encoding`]).
    TSql,
}

impl Dialect {
    /// The dialect of a dump in `format` (as manifests name formats), if dbvault reads its SQL.
    pub fn of_format(format: &str) -> Option<Dialect> {
        match format {
            "pg_dump-plain" | "pg_dump-custom" | "pg_dumpall" => Some(Dialect::Postgres),
            "mysqldump" => Some(Dialect::MySql),
            "t-sql" => Some(Dialect::TSql),
            _ => None,
        }
    }
}

/// What kind of object a part of a dump holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// What precedes the first object: the tool's banner and session settings.
    Preamble,
    /// A database (`CREATE DATABASE`, or a section of a multi-database dump).
    Database,
    /// A schema (namespace).
    Schema,
    /// An extension.
    Extension,
    /// A type or domain.
    Type,
    /// A table's definition.
    Table,
    /// A table's rows.
    TableData,
    /// A sequence's definition (and ownership).
    Sequence,
    /// A sequence's current value.
    SequenceValue,
    /// A column default.
    Default,
    /// An index.
    Index,
    /// A constraint (primary key, unique, check, exclusion).
    Constraint,
    /// A foreign key.
    ForeignKey,
    /// A trigger.
    Trigger,
    /// A view or materialized view.
    View,
    /// A function, procedure or aggregate.
    Function,
    /// Privileges (`GRANT`, `REVOKE`).
    Grant,
    /// A comment on an object.
    Comment,
    /// What follows the last object: the tool's completion marker.
    Trailer,
    /// Another kind of object, named in [`Object::tool_kind`] (and any kind a later version names
    /// that this one does not know).
    #[default]
    #[serde(other)]
    Other,
}

/// Where in a dump an object lies: before the data, the data, or after it (indexes, constraints
/// and triggers, which a restore creates once the rows are loaded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// Definitions.
    PreData,
    /// Rows and sequence values.
    Data,
    /// Indexes, constraints, triggers and what else needs the rows loaded.
    PostData,
}

/// One object of a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Object {
    /// Its kind.
    pub kind: Kind,
    /// The kind as the dump tool names it (pg_dump: `TABLE DATA`, `FK CONSTRAINT`, ...).
    pub tool_kind: String,
    /// The database it belongs to in a dump of several (pg_dumpall's `Database "X" dump` sections,
    /// mysqldump's `Current Database` blocks); `None` in a dump of one database that names none,
    /// and for what belongs to no database (pg_dumpall's roles and tablespaces).
    pub database: Option<String>,
    /// Its schema (PostgreSQL) or database (MySQL), if the dump names one.
    pub schema: Option<String>,
    /// Its name as the dump tool prints it (pg_dump: `orders`, or `orders orders_pkey` for a
    /// table's constraint).
    pub name: String,
    /// Its owner, if the dump names one.
    pub owner: Option<String>,
    /// Its section.
    pub section: Section,
    /// Its bytes in the stream: from the comment that introduces it to the next object's.
    pub range: Range<u64>,
    /// For table data: the rows.
    pub rows: Option<u64>,
    /// BLAKE3 of its bytes, keyed with the key the parser was given: equal digests mean the object
    /// did not change between two dumps. (A format may leave out what differs in every dump of the
    /// same data: pg_dumpall's `\restrict` keys, SSMS's script dates.)
    pub digest: [u8; 32],
}

/// What an object is, as a parser learns it before the object ends: an [`Object`] but where it
/// lies and what its bytes hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Its kind.
    pub kind: Kind,
    /// Its kind as the dump tool names it.
    pub tool_kind: String,
    /// The database it belongs to, in a dump of several.
    pub database: Option<String>,
    /// Its schema (MySQL: database), if named.
    pub schema: Option<String>,
    /// Its name.
    pub name: String,
    /// Its owner, if named.
    pub owner: Option<String>,
}

impl Header {
    /// A header of `kind` that names nothing (a preamble, a trailer).
    pub fn of(kind: Kind) -> Header {
        Header { kind, ..Header::default() }
    }

    /// The object it heads, in `section`, over `range` of the stream, with its `rows` and `digest`.
    pub fn object(self, section: Section, range: Range<u64>, rows: Option<u64>, digest: [u8; 32]) -> Object {
        Object { kind: self.kind, tool_kind: self.tool_kind, database: self.database, schema: self.schema, name: self.name, owner: self.owner, section, range, rows, digest }
    }
}

/// The table of contents of one dump.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Toc {
    /// The objects, in stream order; their ranges cover the stream without gaps.
    pub objects: Vec<Object>,
    /// Byte ranges the parser did not understand (their objects may be incomplete).
    pub not_understood: Vec<Range<u64>>,
    /// The stream's length.
    pub len: u64,
    /// Whether the stream ended where its format says a whole dump ends (`Some(false)`: cut
    /// short), for a format whose parser can tell (a pg_dump custom archive: its table of contents
    /// and every data block it announces read to their ends); `None` where it cannot (other formats
    /// end with a completion line instead, and a damaged archive tells nothing).
    pub whole: Option<bool>,
}

impl Toc {
    /// The objects of `kind`.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        self.objects.iter().filter(move |o| o.kind == kind)
    }
}

/// A parser that builds a table of contents from a stream fed to it in pieces.
pub trait TocParser {
    /// The next bytes of the stream.
    fn feed(&mut self, data: &[u8]);
    /// The objects completed since the last call, in stream order. A caller that stores them as
    /// they come keeps memory bounded whatever the number of objects; [`TocParser::finish`] then
    /// returns only those not taken.
    fn take_objects(&mut self) -> Vec<Object>;
    /// The stream has ended: the table of contents.
    fn finish(self: Box<Self>) -> Toc;
}
