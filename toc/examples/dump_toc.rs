//! Print the table of contents of a dump read from standard input, one object a line, and the
//! parser's speed on standard error: `cargo run --release -p dbvault-toc --example dump_toc --
//! [pg|pg_dumpall|pg_custom|mysql|tsql] < dump.sql` (pg_dump plain by default).

use std::io::Read;
use std::time::Instant;

use toc::TocParser;

fn main() -> std::io::Result<()> {
    let mut parser: Box<dyn TocParser> = match std::env::args().nth(1).as_deref() {
        Some("mysql") => Box::new(toc::mysql::MysqlDump::new([0; 32])),
        Some("pg_dumpall") => Box::new(toc::pg_dumpall::PgDumpall::new([0; 32])),
        Some("pg_custom") => Box::new(toc::pg_custom::PgCustom::new([0; 32])),
        Some("tsql") => Box::new(toc::tsql::TsqlScript::new([0; 32])),
        _ => Box::new(toc::pg_plain::PgPlain::new([0; 32])),
    };
    let mut buf = vec![0u8; 4 << 20];
    let (mut total, mut busy) = (0u64, std::time::Duration::ZERO);
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let t = Instant::now();
        parser.feed(&buf[..n]);
        busy += t.elapsed();
        total += n as u64;
    }
    let toc = parser.finish();
    for o in &toc.objects {
        println!("{:?}\t{}\t{}\t{}\t{}\t{}..{}\t{}", o.kind, o.tool_kind, o.database.as_deref().unwrap_or("-"), o.schema.as_deref().unwrap_or("-"), o.name, o.range.start, o.range.end, o.rows.map_or("-".to_string(), |r| r.to_string()));
    }
    for r in &toc.not_understood {
        println!("not understood: {}..{}", r.start, r.end);
    }
    eprintln!("{total} bytes, {} objects, parsed at {:.0} MB/s", toc.objects.len(), total as f64 / busy.as_secs_f64() / 1e6);
    Ok(())
}
