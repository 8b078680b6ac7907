//! What a block-structured dump format says of itself to the engine ([`super::BlockParser`]):
//! which lines open objects and what they are, its sections, its lexer.

use crate::sql::Lexer;
use crate::{Header, Section};

/// What a block-structured dump format says of itself.
pub trait Dialect {
    /// The object a block comment line (without its line end) opens, if it opens one.
    fn opens(&mut self, text: &[u8]) -> Option<Header>;
    /// The section of an object that `header` opens after an object of section `current`.
    fn section(&self, header: &Header, current: Section) -> Section;
    /// A lexer for the dump's SQL.
    fn lexer(&self) -> Lexer;
    /// Whether the format holds `COPY ... FROM stdin;` blocks of rows.
    fn copies(&self) -> bool;
    /// Whether a dump that ends here is whole as far as its blocks tell (a format whose dumps
    /// must end with a completion line says no before it): if not, the last object is reported
    /// as not understood.
    fn complete(&self) -> bool {
        true
    }
    /// What of a line starting with a backslash outside statements (a psql meta-command) goes
    /// into its object's digest: all of it, unless the dialect knows a part that differs in every
    /// dump of the same data.
    fn digested<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        line
    }
    /// Whether a line starting with `first` (its first two bytes) outside statements may open an
    /// object without a block of its own (see [`Dialect::opens_statement`]), and is kept whole.
    fn keeps_statement(&self, _first: &[u8]) -> bool {
        false
    }
    /// The object a line (without its line end) outside statements opens, after the object
    /// `current` opened: mysqldump writes a table's triggers after its rows with no block line.
    fn opens_statement(&mut self, _line: &[u8], _current: &Header) -> Option<Header> {
        None
    }
}
