//! The table-of-contents parsers on arbitrary bytes, fed in pieces whose sizes the input chooses
//! (its first byte: the size, and by its remainder modulo 5 the format: pg_dump, mysqldump,
//! pg_dumpall, T-SQL or pg_dump's custom archive): they never panic, and their objects cover the stream exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toc::TocParser;

fuzz_target!(|input: &[u8]| {
    let Some((&split, data)) = input.split_first() else { return };
    let piece = usize::from(split).max(1);
    let mut parser: Box<dyn TocParser> = match split % 5 {
        0 => Box::new(toc::pg_plain::PgPlain::new([0; 32])),
        1 => Box::new(toc::mysql::MysqlDump::new([0; 32])),
        2 => Box::new(toc::pg_dumpall::PgDumpall::new([0; 32])),
        3 => Box::new(toc::tsql::TsqlScript::new([0; 32])),
        _ => Box::new(toc::pg_custom::PgCustom::new([0; 32])),
    };
    for c in data.chunks(piece) {
        parser.feed(c);
    }
    let toc = parser.finish();
    let mut at = 0;
    for o in &toc.objects {
        assert_eq!(o.range.start, at);
        at = o.range.end;
    }
    assert_eq!(at, data.len() as u64);
});
