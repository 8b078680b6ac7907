//! What the T-SQL row tests share: a table's values written as SSMS writes them, whole scripts in
//! SSMS's layout in UTF-16 (LE, BE) or UTF-8, their objects found by the table-of-contents
//! parser, and the T-SQL the SQL writer prints applied to rows (a small interpreter).

use std::io::{Cursor, Read};
use std::ops::Range;

use toc::rows::{Dialect, Encoding, Row, RowReader, TableDef};
use toc::tsql::TsqlScript;
use toc::{Kind, TocParser};

/// A row's values: `None` for NULL.
pub type Values = Vec<Option<Vec<u8>>>;

pub fn values(row: &Row) -> Values {
    row.fields().map(|f| f.value().map(<[u8]>::to_vec)).collect()
}

/// A value of the test table, as SSMS writes its type.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    Null,
    Int(i64),
    /// `nvarchar`: `N'...'`.
    Str(String),
    /// `varchar`: `'...'`.
    Ascii(String),
    /// `varbinary`: `0x...`.
    Bin(Vec<u8>),
    /// `datetime`: `CAST(N'...' AS DateTime)`.
    Date(String),
    /// `decimal(10, 2)`: `CAST(12.50 AS Decimal(10, 2))`.
    Dec(String),
}

impl V {
    /// Its literal, as SSMS writes it.
    pub fn ssms(&self) -> String {
        let quoted = |s: &str| s.replace('\'', "''");
        match self {
            V::Null => "NULL".into(),
            V::Int(i) => i.to_string(),
            V::Str(s) => format!("N'{}'", quoted(s)),
            V::Ascii(s) => format!("'{}'", quoted(s)),
            V::Bin(b) => format!("0x{}", b.iter().map(|x| format!("{x:02X}")).collect::<String>()),
            V::Date(d) => format!("CAST(N'{d}' AS DateTime)"),
            V::Dec(d) => format!("CAST({d} AS Decimal(10, 2))"),
        }
    }

    /// The value a reader should give.
    pub fn value(&self) -> Option<Vec<u8>> {
        match self {
            V::Null => None,
            V::Int(i) => Some(i.to_string().into_bytes()),
            V::Str(s) | V::Ascii(s) | V::Date(s) | V::Dec(s) => Some(s.clone().into_bytes()),
            V::Bin(b) => Some(b.clone()),
        }
    }
}

pub const COLUMNS: [&str; 6] = ["Id", "Name", "Code", "Photo", "Born", "Balance"];

/// `CREATE TABLE [dbo].[People]` as SSMS writes it: with its primary key inside (`key`) or none,
/// `Id` an identity column if `identity`.
pub fn create_table(key: bool, identity: bool) -> String {
    format!(
        "/****** Object:  Table [dbo].[People]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nSET ANSI_NULLS ON\r\nGO\r\nSET QUOTED_IDENTIFIER ON\r\nGO\r\n\
        CREATE TABLE [dbo].[People](\r\n\t[Id] [int] {}NOT NULL,\r\n\t[Name] [nvarchar](100) NULL,\r\n\t[Code] [varchar](20) NULL,\r\n\t[Photo] [varbinary](max) NULL,\r\n\
        \t[Born] [datetime] NULL,\r\n\t[Balance] [decimal](10, 2) NULL{}\r\n) ON [PRIMARY] TEXTIMAGE_ON [PRIMARY]\r\nGO\r\n",
        if identity { "IDENTITY(1,1) " } else { "" },
        if key {
            ",\r\n CONSTRAINT [PK_People] PRIMARY KEY CLUSTERED \r\n(\r\n\t[Id] ASC\r\n)WITH (PAD_INDEX = OFF, STATISTICS_NORECOMPUTE = OFF, IGNORE_DUP_KEY = OFF, ALLOW_ROW_LOCKS = ON, ALLOW_PAGE_LOCKS = ON, OPTIMIZE_FOR_SEQUENTIAL_KEY = OFF) ON [PRIMARY]"
        } else {
            ""
        }
    )
}

/// A whole script of SSMS's Generate Scripts with data: the database's `USE`, the table, its
/// rows (one `INSERT` a batch, inside `SET IDENTITY_INSERT` if `identity`), and a view after them.
pub fn script(rows: &[Vec<V>], key: bool, identity: bool) -> String {
    let mut s = format!("USE [Shop]\r\nGO\r\n{}", create_table(key, identity));
    if identity {
        s.push_str("SET IDENTITY_INSERT [dbo].[People] ON \r\nGO\r\n");
    }
    for r in rows {
        let vals: Vec<String> = r.iter().map(V::ssms).collect();
        s.push_str(&format!("INSERT [dbo].[People] ([Id], [Name], [Code], [Photo], [Born], [Balance]) VALUES ({})\r\nGO\r\n", vals.join(", ")));
    }
    if identity {
        s.push_str("SET IDENTITY_INSERT [dbo].[People] OFF\r\nGO\r\n");
    }
    s.push_str("/****** Object:  View [dbo].[V]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nCREATE VIEW [dbo].[V] AS SELECT 1 AS [x]\r\nGO\r\n");
    s
}

/// `text` in `enc`, with its byte-order mark if `bom`.
pub fn encode(text: &str, enc: Encoding, bom: bool) -> Vec<u8> {
    let mut out = if bom { enc.bom().to_vec() } else { Vec::new() };
    match enc {
        Encoding::Utf8 => out.extend_from_slice(text.as_bytes()),
        Encoding::Utf16 { le } => out.extend(text.encode_utf16().flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })),
    }
    out
}

/// The byte ranges of the table's definition and of its data (empty if it has no rows) in
/// `bytes`, from the script's table of contents.
pub fn objects(bytes: &[u8]) -> (Range<usize>, Range<usize>) {
    let mut p: Box<dyn TocParser> = Box::new(TsqlScript::new([0; 32]));
    p.feed(bytes);
    let toc = p.finish();
    let range = |k: Kind| toc.of_kind(k).find(|o| o.name == "People").map(|o| o.range.start as usize..o.range.end as usize);
    (range(Kind::Table).expect("the table"), range(Kind::TableData).unwrap_or(0..0))
}

/// A script's table definition and data bytes.
pub fn parts(rows: &[Vec<V>], key: bool, identity: bool, enc: Encoding) -> (TableDef, Vec<u8>) {
    let bytes = encode(&script(rows, key, identity), enc, enc != Encoding::Utf8);
    let (def, data) = objects(&bytes);
    (TableDef::parse(Dialect::TSql, &bytes[def]).expect("a definition"), bytes[data].to_vec())
}

pub fn opener(bytes: Vec<u8>) -> impl FnMut() -> std::io::Result<Box<dyn Read>> {
    move || Ok(Box::new(Cursor::new(bytes.clone())) as Box<dyn Read>)
}

/// The value of one literal (or `+` concatenation), decoded by the row reader.
fn decode(lit: &str) -> Option<Vec<u8>> {
    let stmt = format!("INSERT [x] VALUES ({lit})");
    let mut r = RowReader::new(Dialect::TSql, stmt.as_bytes());
    values(r.next_row().expect("a literal").expect("a row")).remove(0)
}

/// `[name] = literal` pairs separated by `sep` in `s`, up to the end of `s`.
fn pairs(s: &str, sep: &str) -> Vec<(String, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let close = rest.find("] ").expect("a name");
        let name = rest[1..close].replace("]]", "]");
        rest = &rest[close + 2..];
        if let Some(after) = rest.strip_prefix("IS NULL") {
            out.push((name, None));
            rest = after.strip_prefix(sep).unwrap_or(after);
            continue;
        }
        rest = rest.strip_prefix("= ").expect("=");
        // The literal ends at `sep` outside quotes.
        let (mut quoted, mut end) = (false, rest.len());
        for (i, c) in rest.char_indices() {
            if c == '\'' {
                quoted = !quoted;
            } else if !quoted && rest[i..].starts_with(sep) {
                end = i;
                break;
            }
        }
        out.push((name, decode(&rest[..end])));
        rest = rest[end..].strip_prefix(sep).unwrap_or("");
    }
    out
}

/// Apply the SQL writer's T-SQL to `rows` (of columns [`COLUMNS`]): each `DELETE` removes the rows
/// its conditions match (one with `TOP (1)`), each `UPDATE` sets the row its key matches, each
/// `INSERT` adds its row; `SET`, `GO` and comments do nothing. Statements are one a line.
pub fn apply(sql: &str, rows: &mut Vec<Values>) {
    let col = |n: &str| COLUMNS.iter().position(|c| *c == n).expect("a column");
    for mut stmt in sql.split_inclusive(";\n") {
        while let Some(s) = stmt.strip_prefix("SET IDENTITY_INSERT [dbo].[People] O").and_then(|s| s.split_once('\n')).map(|x| x.1) {
            stmt = s;
        }
        while let Some((_, s)) = stmt.strip_prefix("-- ").and_then(|s| s.split_once('\n')) {
            stmt = s;
        }
        if stmt == "GO\n" || stmt.is_empty() {
            continue;
        }
        let stmt = stmt.strip_suffix(";\n").unwrap_or_else(|| panic!("a statement: {stmt:?}"));
        if stmt.starts_with("INSERT [dbo].[People] (") {
            let mut r = RowReader::new(Dialect::TSql, stmt.as_bytes());
            let row = values(r.next_row().expect("an INSERT").expect("a row"));
            let mut full = vec![None; COLUMNS.len()];
            for (n, v) in r.columns().expect("columns").iter().zip(row) {
                full[col(n)] = v;
            }
            rows.push(full);
        } else if let Some(rest) = stmt.strip_prefix("UPDATE [dbo].[People] SET ") {
            let (sets, conds) = rest.split_once(" WHERE ").expect("WHERE");
            let conds = pairs(conds, " AND ");
            let matching: Vec<usize> = (0..rows.len()).filter(|&r| conds.iter().all(|(n, v)| rows[r][col(n)] == *v)).collect();
            assert_eq!(matching.len(), 1, "a key matches one row: {stmt}");
            for (n, v) in pairs(sets, ", ") {
                rows[matching[0]][col(&n)] = v;
            }
        } else {
            let (top, rest) = match stmt.strip_prefix("DELETE TOP (1) FROM [dbo].[People] WHERE ") {
                Some(rest) => (true, rest),
                None => (false, stmt.strip_prefix("DELETE FROM [dbo].[People] WHERE ").unwrap_or_else(|| panic!("a statement: {stmt}"))),
            };
            let conds = pairs(rest, " AND ");
            let matches = |r: &Values| conds.iter().all(|(n, v)| r[col(n)] == *v);
            if top {
                let at = rows.iter().position(matches).expect("a row to delete");
                rows.remove(at);
            } else {
                let before = rows.len();
                rows.retain(|r| !matches(r));
                assert_eq!(before - rows.len(), 1, "a key matches one row: {stmt}");
            }
        }
    }
}
