//! T-SQL scripts as SQL Server Management Studio writes them (Generate Scripts, Script Table as),
//! and as SMO-based tools (mssql-scripter) and sqlcmd users keep them.
//!
//! A script is a series of batches, each ended by a line `GO` (any case, perhaps indented,
//! perhaps with a count, `GO 5`, and a `--` comment); a `GO` inside a string (`'...'`,
//! `N'...'`), a bracketed identifier (`[a]]b]`) or a comment (`--`, nested `/* */`) ends nothing.
//! SSMS introduces every object with a header comment line,
//!
//! ```text
//! /****** Object:  Table [dbo].[Orders]    Script Date: 12/7/2026 10:00:00 AM ******/
//! SET ANSI_NULLS ON
//! GO
//! SET QUOTED_IDENTIFIER ON
//! GO
//! CREATE TABLE [dbo].[Orders](
//! ...
//! ) ON [PRIMARY]
//! GO
//! ```
//!
//! (`Table`, `View`, `StoredProcedure`, `UserDefinedFunction`, `Index`, `Trigger`, `Schema`,
//! `User`, `DatabaseRole`, `Database`, `Sequence`, `UserDefinedTableType`, `Synonym`, ...; SSMS
//! 2008 also `ForeignKey`, `Check` and `Default`); an object is the bytes from its header to the
//! next object's. The `SET ANSI_PADDING ON` / `GO` that SSMS writes before an index's header is
//! the index's. SSMS 2012 and later write a script's defaults, foreign keys and check constraints
//! as header-less `ALTER TABLE [dbo].[Orders] ADD DEFAULT ... FOR [Note]` and `ALTER TABLE
//! [dbo].[Orders] WITH CHECK ADD CONSTRAINT [FK_x] FOREIGN KEY ...` batches (followed by `ALTER
//! TABLE ... CHECK CONSTRAINT [FK_x]`): each opens an object, and so does a header-less `CREATE
//! TABLE`, `CREATE VIEW`, `CREATE PROCEDURE`, ... at a batch's start (scripts written without
//! descriptive headers, with the `SET ... ON` and `PRINT` batches before it). A header's own
//! `CREATE` does not.
//!
//! A header's script date (` 12/7/2026 10:00:00 AM `, between `Script Date:` and the stars that
//! close it) is the time of scripting: it is left out of the object's digest (its range keeps all
//! its bytes), so the same objects scripted at another time have the same digests. A header
//! inside a procedure's body or a value is their text, and its date is digested.
//!
//! Table data is one `INSERT [dbo].[Orders] ([Id], [Note]) VALUES (1, N'x')` statement per row,
//! each its own batch (SSMS 2012 and later, after every table's definition) or many in one batch
//! (SSMS 2008, right after the table's definition), with `SET IDENTITY_INSERT [dbo].[Orders] ON`
//! before and `OFF` after for an identity column. Table data has no header: a batch or statement
//! that inserts into another table than the current data's opens the table's data, from its
//! `SET IDENTITY_INSERT ... ON` if there is one. A row is a `VALUES` tuple.
//!
//! `USE [Shop]` names the database of the objects that follow. A database script begins with
//! `USE [master]` and the database's header and `CREATE DATABASE` (an object of kind
//! [`Kind::Database`](crate::Kind::Database), with its `ALTER DATABASE` batches and `USE [Shop]`),
//! and ends with `USE [master]` and `ALTER DATABASE [Shop] SET READ_WRITE`: a `USE` of a system
//! database after the objects opens the trailer, that of another database a section of kind
//! database, and that of the database the script is in already belongs to the next object, as
//! the settings before it do (scripts of single tables put together, each from its `USE`).
//!
//! Scripts are UTF-16 (SSMS's "Unicode", little-endian with a byte-order mark; big-endian; without
//! a mark, told by the zero high bytes of its first 4 KiB) or UTF-8, with a mark or without: they
//! are read as a stream of code units (one byte of ASCII, or a mark, each), and object ranges are
//! byte ranges of the original encoding.

mod engine;
mod lexer;
mod lines;
mod utf16;

pub(crate) use utf16::to_utf8;
pub use utf16::Encoding;

use engine::Engine;

use crate::{Object, Toc, TocParser};

/// Original bytes narrowed at a time (UTF-16): the narrow text's buffer is half as big.
const BLOCK: usize = 64 << 10;

/// The table-of-contents parser of T-SQL scripts (see the module documentation).
pub struct TsqlScript {
    key: [u8; 32],
    /// The first bytes, while they do not tell the encoding yet (at most [`utf16::SAMPLE`]).
    start: Vec<u8>,
    /// Once the encoding is known.
    engine: Option<Engine>,
    enc: Encoding,
    /// A UTF-16 code unit's first byte, whose second is still to come.
    carry: Option<u8>,
    /// The narrow text of a block of UTF-16 (reused).
    narrow: Vec<u8>,
}

impl TsqlScript {
    /// A parser whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        TsqlScript { key, start: Vec::new(), engine: None, enc: Encoding::Utf8, carry: None, narrow: Vec::new() }
    }

    /// Start the engine once the encoding is known from `start`.
    fn begin(&mut self, at_end: bool) -> bool {
        let Some((enc, bom)) = utf16::detect(&self.start, at_end) else { return false };
        self.enc = enc;
        self.engine = Some(Engine::new(self.key, enc, &self.start[..bom]));
        let start = std::mem::take(&mut self.start);
        self.text(&start[bom..]);
        true
    }

    /// Bytes after the byte-order mark.
    fn text(&mut self, mut data: &[u8]) {
        let Some(engine) = &mut self.engine else { return };
        let Encoding::Utf16 { le } = self.enc else { return engine.process(data, data) };
        if let Some(first) = self.carry.take() {
            let Some((&second, rest)) = data.split_first() else {
                self.carry = Some(first);
                return;
            };
            let unit = [first, second];
            self.narrow.clear();
            utf16::narrow_utf16(&unit, le, &mut self.narrow);
            engine.process(&self.narrow, &unit);
            data = rest;
        }
        let whole = data.len() & !1;
        for block in data[..whole].chunks(BLOCK) {
            self.narrow.clear();
            utf16::narrow_utf16(block, le, &mut self.narrow);
            engine.process(&self.narrow, block);
        }
        self.carry = data.get(whole).copied();
    }
}

impl TocParser for TsqlScript {
    fn take_objects(&mut self) -> Vec<Object> {
        self.engine.as_mut().map(Engine::take_objects).unwrap_or_default()
    }

    fn feed(&mut self, data: &[u8]) {
        if self.engine.is_some() {
            return self.text(data);
        }
        let n = (utf16::SAMPLE - self.start.len()).min(data.len());
        self.start.extend_from_slice(&data[..n]);
        if self.begin(false) {
            self.text(&data[n..]);
        }
    }

    fn finish(mut self: Box<Self>) -> Toc {
        if self.engine.is_none() {
            self.begin(true);
        }
        let extra: Vec<u8> = self.carry.take().into_iter().collect();
        self.engine.take().map_or_else(Toc::default, |e| e.finish(&extra))
    }
}
