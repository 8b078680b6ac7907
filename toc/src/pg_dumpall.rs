//! pg_dumpall's format: a whole PostgreSQL cluster as plain SQL (PostgreSQL 11 and later).
//!
//! The dump opens with a banner (`-- PostgreSQL database cluster dump`), then the cluster's
//! globals in comment blocks of their own (`-- Roles`, `-- User Configurations` with a
//! `-- User Config "name"` block per role, `-- Role memberships`, `-- Tablespaces`, ...), then
//! every database in a block,
//!
//! ```text
//! --
//! -- Database "shop" dump
//! --
//! ```
//!
//! followed by pg_dump's plain dump of that database (read as [`pg_plain`](crate::pg_plain) reads
//! it, up to its `-- PostgreSQL database dump complete`), and it ends with
//! `-- PostgreSQL database cluster dump complete`. pg_dumpall prints names in these blocks as they
//! are, quotes and all, between the block's fixed words (newlines become spaces).
//!
//! Globals are objects of no database; a database's block is a [`Kind::Database`] object, and it
//! and every object of its dump name it in [`Object::database`](crate::Object::database). The
//! sections start over with each database. A dump that ends before the cluster's completion line
//! (pg_dump failed on a database, the dump was cut) says its last object was not understood.

use crate::blocks::{BlockParser, Dialect, Header};
use crate::pg_plain::Pg;
use crate::sql::Lexer;
use crate::{Kind, Section};

/// pg_dumpall's format, for [`BlockParser`]: pg_dump's ([`Pg`]) within each database.
#[derive(Clone, Debug, Default)]
pub struct PgAll {
    /// The database whose dump is being read, once the first one began.
    database: Option<String>,
    /// That database's dump has not ended yet.
    in_dump: bool,
    /// The cluster's completion line was read (and nothing opened after it).
    complete: bool,
    /// A database's dump ended without its completion line.
    broken: bool,
}

/// The table-of-contents parser of pg_dumpall dumps.
pub type PgDumpall = BlockParser<PgAll>;

impl BlockParser<PgAll> {
    /// A parser whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        BlockParser::with_dialect(PgAll::default(), key)
    }
}

/// The globals' block lines, the kind of object each opens, and our name for it.
const GLOBALS: &[(&str, Kind, &str)] = &[
    ("-- Drop databases (except postgres and template1)", Kind::Other, "DROP DATABASES"),
    ("-- Drop databases", Kind::Other, "DROP DATABASES"),
    ("-- Drop roles", Kind::Other, "DROP ROLES"),
    ("-- Drop tablespaces", Kind::Other, "DROP TABLESPACES"),
    ("-- Roles", Kind::Other, "ROLES"),
    ("-- User Configurations", Kind::Other, "USER CONFIGURATIONS"),
    ("-- Role memberships", Kind::Grant, "ROLE MEMBERSHIPS"),
    ("-- Role privileges on configuration parameters", Kind::Grant, "PARAMETER PRIVILEGES"),
    ("-- Tablespaces", Kind::Other, "TABLESPACES"),
    ("-- Databases", Kind::Other, "DATABASES"),
];

impl Dialect for PgAll {
    fn opens(&mut self, text: &[u8]) -> Option<Header> {
        if let Some(name) = between(text, "-- Database \"", "\" dump") {
            self.broken |= self.in_dump;
            self.in_dump = true;
            self.complete = false;
            self.database = Some(name.clone());
            return Some(Header { kind: Kind::Database, tool_kind: "DATABASE".into(), database: Some(name.clone()), name, ..Header::default() });
        }
        if text == b"-- PostgreSQL database cluster dump complete" {
            self.broken |= self.in_dump;
            self.in_dump = false;
            self.complete = true;
            return Some(Header { kind: Kind::Trailer, ..Header::default() });
        }
        if self.database.is_none() {
            if let Some(name) = between(text, "-- User Config \"", "\"") {
                return Some(Header { kind: Kind::Other, tool_kind: "USER CONFIG".into(), name, ..Header::default() });
            }
            if let Some((_, kind, tool_kind)) = GLOBALS.iter().find(|(line, _, _)| text == line.as_bytes()) {
                return Some(Header { kind: *kind, tool_kind: tool_kind.to_string(), ..Header::default() });
            }
        }
        let mut h = Pg.opens(text)?;
        if h.kind == Kind::Trailer {
            // This database's dump is complete; the cluster's is not yet.
            self.in_dump = false;
        }
        self.complete = false;
        h.database.clone_from(&self.database);
        Some(h)
    }

    fn section(&self, h: &Header, current: Section) -> Section {
        match h.kind {
            // Each database's definitions come before its data (globals come before any).
            Kind::Database => Section::PreData,
            _ => Pg.section(h, current),
        }
    }

    fn lexer(&self) -> Lexer {
        Pg.lexer()
    }

    fn copies(&self) -> bool {
        Pg.copies()
    }

    fn complete(&self) -> bool {
        self.complete && !self.broken
    }

    /// pg_dump's `\restrict KEY` and `\unrestrict KEY` (since 17.6, 16.10, 15.14, 14.19, 13.22) take
    /// a random key in every dump, and pg_dumpall's objects hold them (a database's block, its
    /// `DATABASE` objects, the last global): the key is left out of their digests.
    fn digested<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        crate::pg_plain::without_restrict_key(line)
    }
}

/// The text of a block line between `prefix` and `suffix` (pg_dumpall's names are not escaped:
/// the name is all that lies between the block's fixed words).
fn between(text: &[u8], prefix: &str, suffix: &str) -> Option<String> {
    let name = text.strip_prefix(prefix.as_bytes())?.strip_suffix(suffix.as_bytes())?;
    Some(String::from_utf8_lossy(name).into_owned())
}
