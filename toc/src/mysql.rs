//! mysqldump's and mariadb-dump's format.
//!
//! Both introduce objects with comment blocks,
//!
//! ```text
//! --
//! -- Table structure for table `orders`
//! --
//! ```
//!
//! (`Dumping data for table`, `Temporary view structure for view`, `Final view structure for
//! view`, `Current Database:`, `Dumping routines for database`, `Dumping events for database`).
//! Table data is `INSERT ... VALUES` statements (extended inserts: many rows per statement);
//! strings take backslash escapes. A table's triggers follow its rows with no block line of their
//! own: they are one object of kind trigger named after the table, from the first line of session
//! settings mysqldump saves before each. The dump ends with `-- Dump completed`. Objects are named within
//! the database of the last `Current Database` block (`--databases`, `--all-databases`), or the
//! one the banner's `Host:` line names. In a dump with `Current Database` blocks (of one database
//! or several), objects also name theirs in [`Object::database`](crate::Object::database).

use crate::blocks::{BlockParser, Dialect, Header};
use crate::sql::Lexer;
use crate::{Kind, Section};

/// mysqldump's format, for [`BlockParser`].
#[derive(Clone, Debug, Default)]
pub struct MySql {
    /// The database objects belong to.
    database: Option<String>,
    /// A `Current Database` block named it (not only the banner).
    current: bool,
}

/// The table-of-contents parser of mysqldump and mariadb-dump dumps.
pub type MysqlDump = BlockParser<MySql>;

impl BlockParser<MySql> {
    /// A parser whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        BlockParser::with_dialect(MySql::default(), key)
    }
}

/// Block lines, the kind of object each opens, and mysqldump's name for it.
const BLOCKS: &[(&str, Kind, &str)] = &[
    ("-- Table structure for table ", Kind::Table, "TABLE"),
    ("-- Dumping data for table ", Kind::TableData, "TABLE DATA"),
    ("-- Temporary view structure for view ", Kind::View, "TEMPORARY VIEW"),
    ("-- Temporary table structure for view ", Kind::View, "TEMPORARY VIEW"),
    ("-- Final view structure for view ", Kind::View, "VIEW"),
    ("-- View structure for view ", Kind::View, "VIEW"),
    ("-- Dumping routines for database ", Kind::Function, "ROUTINES"),
    ("-- Dumping events for database ", Kind::Other, "EVENTS"),
    ("-- Current Database: ", Kind::Database, "DATABASE"),
];

impl Dialect for MySql {
    fn opens(&mut self, text: &[u8]) -> Option<Header> {
        let text = String::from_utf8_lossy(text);
        if self.database.is_none()
            && let Some(at) = text.find("Database: ").filter(|_| text.starts_with("-- Host: "))
        {
            // The banner's `-- Host: localhost    Database: shop` line: no object, but a name.
            self.database = Some(text[at + "Database: ".len()..].trim().to_string()).filter(|d| !d.is_empty());
            return None;
        }
        if text.starts_with("-- Dump completed") {
            return Some(Header { kind: Kind::Trailer, ..Header::default() });
        }
        let (prefix, kind, tool_kind) = BLOCKS.iter().find(|(p, _, _)| text.starts_with(p))?;
        let name = unquote(text[prefix.len()..].trim());
        if *kind == Kind::Database {
            self.database = Some(name.clone());
            self.current = true;
            return Some(Header { kind: *kind, tool_kind: tool_kind.to_string(), database: Some(name.clone()), schema: None, name, owner: None });
        }
        let database = self.database.clone().filter(|_| self.current);
        let (schema, name) = match *kind {
            // Routines and events are named by their database.
            Kind::Function | Kind::Other => (Some(name.clone()), String::new()),
            _ => (self.database.clone(), name),
        };
        Some(Header { kind: *kind, tool_kind: tool_kind.to_string(), database, schema, name, owner: None })
    }

    fn section(&self, h: &Header, current: Section) -> Section {
        match h.kind {
            Kind::TableData => Section::Data,
            Kind::Function | Kind::Trigger => Section::PostData,
            Kind::View if h.tool_kind == "VIEW" => Section::PostData,
            Kind::Database | Kind::Table => Section::PreData,
            _ => current,
        }
    }

    fn lexer(&self) -> Lexer {
        Lexer::mysql()
    }

    fn copies(&self) -> bool {
        false
    }

    fn keeps_statement(&self, first: &[u8]) -> bool {
        first.starts_with(b"/*")
    }

    /// A table's triggers, which follow its rows (or its definition, in a dump without data), each
    /// opened by the session settings mysqldump saves first: one object named after the table.
    fn opens_statement(&mut self, line: &[u8], current: &Header) -> Option<Header> {
        let table = matches!(current.kind, Kind::Table | Kind::TableData);
        (table && line.starts_with(TRIGGERS)).then(|| Header {
            kind: Kind::Trigger,
            tool_kind: "TRIGGERS".into(),
            database: current.database.clone(),
            schema: current.schema.clone(),
            name: current.name.clone(),
            owner: None,
        })
    }
}

/// The first line mysqldump writes before each trigger of a table (and nowhere else after a table).
const TRIGGERS: &[u8] = b"/*!50003 SET @saved_cs_client ";

/// A name as mysqldump prints it in a block line: `` `name` `` (backquotes doubled inside) or
/// `'name'`.
fn unquote(s: &str) -> String {
    if let Some(inner) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        inner.replace("``", "`")
    } else if let Some(inner) = s.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.to_string()
    } else {
        s.to_string()
    }
}
