//! The rows of one table only in dump A or only in dump B, as `dbvault diff A B --rows TABLE`
//! will print them: `cargo run --release -p dbvault-toc --example diff_dumps -- pg|mysql|tsql A.sql
//! B.sql TABLE [tsv|json|sql]`. Finds the table's data and definition objects in each dump's table
//! of contents, as the CLI does in a snapshot (a T-SQL script's encoding told from its first
//! bytes).

use std::io::{Cursor, Read};
use std::sync::Arc;

use toc::rows::{Dialect, Encoding, JsonWriter, Options, Sink, SqlWriter, Table, TableDef, TsvWriter, diff};
use toc::{Kind, TocParser};

/// A dump's bytes, its encoding, and its table's definition (`CREATE TABLE`, its constraints) and
/// the byte range of its data.
type Loaded = (Arc<[u8]>, Encoding, TableDef, std::ops::Range<usize>);

fn load(dialect: Dialect, path: &str, name: &str) -> Result<Loaded, Box<dyn std::error::Error>> {
    let bytes: Arc<[u8]> = std::fs::read(path)?.into();
    let mut parser: Box<dyn TocParser> = match dialect {
        Dialect::MySql => Box::new(toc::mysql::MysqlDump::new([0; 32])),
        Dialect::Postgres => Box::new(toc::pg_plain::PgPlain::new([0; 32])),
        Dialect::TSql => Box::new(toc::tsql::TsqlScript::new([0; 32])),
    };
    let encoding = if dialect == Dialect::TSql { Encoding::of_script(&bytes[..bytes.len().min(4096)]) } else { Encoding::Utf8 };
    parser.feed(&bytes);
    let toc = parser.finish();
    let range = |o: &toc::Object| o.range.start as usize..o.range.end as usize;
    let mut defs = Vec::new();
    for o in &toc.objects {
        let ours = match o.kind {
            Kind::Table => o.name == name,
            Kind::Constraint => o.name == name || o.name.strip_prefix(name).is_some_and(|rest| rest.starts_with(' ')),
            _ => false,
        };
        if ours {
            defs.extend_from_slice(&bytes[range(o)]);
        }
    }
    let data = toc.of_kind(Kind::TableData).find(|o| o.name == name).map(range).ok_or("no such table data")?;
    Ok((bytes.clone(), encoding, TableDef::parse_with_encoding(dialect, Some(encoding), &defs[..])?, data))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dialect, a, b, table, rest @ ..] = &args[..] else {
        return Err("usage: diff_dumps pg|mysql|tsql A.sql B.sql TABLE [tsv|json|sql]".into());
    };
    let dialect = match dialect.as_str() {
        "mysql" => Dialect::MySql,
        "tsql" => Dialect::TSql,
        _ => Dialect::Postgres,
    };
    let (bytes_a, enc_a, def_a, range_a) = load(dialect, a, table)?;
    let (bytes_b, enc_b, def_b, range_b) = load(dialect, b, table)?;
    let open = |bytes: Arc<[u8]>, r: std::ops::Range<usize>| move || Ok(Box::new(Cursor::new(bytes[r.clone()].to_vec())) as Box<dyn Read>);
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut sink: Box<dyn Sink> = match rest.first().map(String::as_str) {
        Some("json") => Box::new(JsonWriter::new(out)),
        Some("sql") => Box::new(SqlWriter::new(out)),
        _ => Box::new(TsvWriter::new(out)),
    };
    let mut ta = Table::new(def_a, open(bytes_a, range_a)).encoding(enc_a);
    let mut tb = Table::new(def_b, open(bytes_b, range_b)).encoding(enc_b);
    let summary = diff(dialect, &mut ta, &mut tb, &Options::default(), &mut *sink)?;
    eprintln!("{summary:?}");
    Ok(())
}
