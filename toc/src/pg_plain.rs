//! pg_dump's plain SQL format.
//!
//! pg_dump introduces every object with a comment block,
//!
//! ```text
//! --
//! -- Name: orders; Type: TABLE; Schema: public; Owner: shop
//! --
//! ```
//!
//! (`-- Data for Name: ...` for table data). Table data is a `COPY ... FROM stdin;` whose rows are
//! lines up to `\.`, or `INSERT` statements (`--inserts`, `--column-inserts`,
//! `--rows-per-insert`). The dump ends with `-- PostgreSQL database dump complete`.

use crate::blocks::{BlockParser, Dialect, Header};
use crate::sql::Lexer;
use crate::{Kind, Section};

/// pg_dump's plain format, for [`BlockParser`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Pg;

/// The table-of-contents parser of pg_dump plain dumps.
pub type PgPlain = BlockParser<Pg>;

impl BlockParser<Pg> {
    /// A parser whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        BlockParser::with_dialect(Pg, key)
    }
}

impl Dialect for Pg {
    fn opens(&mut self, text: &[u8]) -> Option<Header> {
        if let Some(fields) = text.strip_prefix(b"-- Name: ") {
            parse(&String::from_utf8_lossy(fields), None)
        } else if let Some(fields) = text.strip_prefix(b"-- Data for Name: ") {
            parse(&String::from_utf8_lossy(fields), Some("TABLE DATA"))
        } else if text.starts_with(b"-- PostgreSQL database dump complete") {
            Some(Header { kind: Kind::Trailer, ..Header::default() })
        } else {
            None
        }
    }

    fn section(&self, h: &Header, current: Section) -> Section {
        match h.kind {
            Kind::TableData | Kind::SequenceValue => Section::Data,
            Kind::Index | Kind::Constraint | Kind::ForeignKey | Kind::Trigger => Section::PostData,
            Kind::Other if POST_DATA.contains(&h.tool_kind.as_str()) => Section::PostData,
            _ => current,
        }
    }

    fn lexer(&self) -> Lexer {
        Lexer::default()
    }

    fn copies(&self) -> bool {
        true
    }

    fn digested<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        without_restrict_key(line)
    }
}

/// A psql meta-command line without the random key of `\restrict KEY` / `\unrestrict KEY`
/// (pg_dump 15.14, 16.10, 17.6 and later write a new one into every dump): the same data dumped
/// twice gives the same digests.
pub(crate) fn without_restrict_key(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == b' ') {
        Some(end) if matches!(&line[..end], b"\\restrict" | b"\\unrestrict") => &line[..end],
        _ => line,
    }
}

/// pg_dump's kinds that need the rows loaded (its post-data section), beyond indexes,
/// constraints and triggers.
const POST_DATA: &[&str] = &["RULE", "POLICY", "EVENT TRIGGER", "MATERIALIZED VIEW DATA", "PUBLICATION TABLE", "PUBLICATION TABLES IN SCHEMA", "STATISTICS"];

/// Parse `NAME; Type: TYPE; Schema: SCHEMA; Owner: OWNER[; Tablespace: T]`; `-` means none.
/// pg_dump does not escape the names, which may hold `; Type: ` and the like, so the type is
/// found as pg_dump writes it (upper-case words) followed by `; Schema: ` (the last such, since
/// the name comes first); the schema ends at the first `; Owner: `, and a tablespace is split off
/// the owner's end.
/// A `-- Data for Name:` line prefers the type `expected` where several would fit.
fn parse(fields: &str, expected: Option<&str>) -> Option<Header> {
    let candidates: Vec<(&str, &str, &str)> = fields
        .match_indices("; Type: ")
        .filter_map(|(i, sep)| {
            let after = &fields[i + sep.len()..];
            let kind = &after[..after.find("; Schema: ")?];
            (!kind.is_empty() && kind.bytes().all(|b| b.is_ascii_uppercase() || b == b' ')).then_some((&fields[..i], kind, after))
        })
        .collect();
    // The last fitting field wins: a table's name is the user's to choose, and one holding
    // `; Type: TABLE; Schema: evil` must not move the table to schema evil.
    let (name, _, rest) = expected.and_then(|e| candidates.iter().rfind(|c| c.1 == e)).or(candidates.last()).copied()?;
    let (tool_kind, rest) = rest.split_once("; Schema: ")?;
    let (schema, owner) = rest.split_once("; Owner: ")?;
    let owner = owner.rfind("; Tablespace: ").map_or(owner, |i| &owner[..i]);
    let none_if_dash = |s: &str| (s != "-").then(|| s.to_string());
    Some(Header { kind: kind_of(tool_kind), tool_kind: tool_kind.to_string(), database: None, schema: none_if_dash(schema), name: name.to_string(), owner: none_if_dash(owner) })
}

/// Our kind for a pg_dump object type (as the plain format names it in its block lines and the
/// custom format in its entries' `desc`).
pub(crate) fn kind_of(tool_kind: &str) -> Kind {
    match tool_kind {
        "TABLE" | "FOREIGN TABLE" => Kind::Table,
        "TABLE DATA" => Kind::TableData,
        "SEQUENCE" | "SEQUENCE OWNED BY" => Kind::Sequence,
        "SEQUENCE SET" => Kind::SequenceValue,
        "DEFAULT" => Kind::Default,
        "INDEX" | "INDEX ATTACH" => Kind::Index,
        "CONSTRAINT" | "CHECK CONSTRAINT" => Kind::Constraint,
        "FK CONSTRAINT" => Kind::ForeignKey,
        "TRIGGER" => Kind::Trigger,
        "VIEW" | "MATERIALIZED VIEW" => Kind::View,
        "FUNCTION" | "PROCEDURE" | "AGGREGATE" => Kind::Function,
        "ACL" | "DEFAULT ACL" => Kind::Grant,
        "COMMENT" => Kind::Comment,
        "SCHEMA" => Kind::Schema,
        "EXTENSION" => Kind::Extension,
        "TYPE" | "DOMAIN" => Kind::Type,
        "DATABASE" => Kind::Database,
        _ => Kind::Other,
    }
}

