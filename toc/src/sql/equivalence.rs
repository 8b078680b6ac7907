//! The lexer against the one before its fast path ([`super::oracle`]) on random SQL-ish text fed
//! in random pieces: after every piece, the same rows, the same `at_top_level` and the same
//! `in_statement` as the old lexer fed all the text so far at once.

use proptest::prelude::*;

use super::values::{WAY, Way};
use super::{Lexer, oracle};

/// What the text is made of: rows as mysqldump and pg_dump write them, and everything that
/// opens, closes or escapes a string, identifier or comment, in both dialects.
const FRAGMENTS: &[&str] = &[
    "INSERT INTO `t` VALUES ",
    "INSERT INTO t VALUES\n",
    "INSERT",
    "VALUES",
    "values",
    "(1,14910,'new',88.10,'2026-01-01 00:00:07','c4ca4238a0b923820dcc509a6f75849b')",
    "(2,-5,NULL,_binary 'a\\0\\'(b',0x1F,'x\\\\','it''s',1e-3)",
    "(3,'',' ','\\n\\r\\Z\\\"\\t')",
    ",\n",
    ",",
    "(",
    ")",
    "),(",
    "),\n(",
    "(1,",
    "'",
    "''",
    "\\",
    "\\\\",
    "\\'",
    "'abc'",
    "'2026-01-01'",
    "'a\\'b'",
    "\"",
    "\"x\\\"y\"",
    "`",
    "`id`",
    "--",
    "-- c\n",
    "--x",
    "-- ')(\n",
    "--\t(\n",
    "-",
    "-",
    "# ')\n",
    "/* '( */",
    "-",
    "-5",
    "#",
    "# c\n",
    "/",
    "/*",
    "*/",
    "*",
    "!",
    "/*!40101 SET x=1 */",
    "/* c */",
    "\n",
    "\r\n",
    "\t",
    " ",
    ";",
    ";\n",
    "NULL",
    "12345",
    "2.5",
    "x",
    "ab_c",
    "$",
    "$$",
    "$a$",
    "$1",
    "E'",
    "(E'\\'",
    "(a$b$",
    "e'x\\'",
    "\\connect x\n",
    "é",
    "\0",
];

/// Random text of fragments, and the sizes of the pieces to feed it in.
fn text_and_pieces() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    let text = prop::collection::vec(prop::sample::select(FRAGMENTS), 0..160).prop_map(|f| f.concat().into_bytes());
    let pieces = prop::collection::vec(prop_oneof![1..8usize, 8..70usize, 60..400usize], 1..40);
    (text, pieces)
}

/// What the lexers tell of the text so far.
type Seen = (u64, bool, bool);

fn new_after_pieces(mut lexer: Lexer, text: &[u8], pieces: &[usize], by_statement: bool) -> Vec<(usize, Seen)> {
    let (mut at, mut seen) = (0, Vec::new());
    for &size in pieces.iter().cycle() {
        if at == text.len() {
            break;
        }
        let end = text.len().min(at + size);
        if by_statement {
            // As the block parser feeds statements: up to each end of a statement.
            let mut from = at;
            while from < end {
                let n = lexer.feed_statement(&text[from..end]);
                assert!(n > 0);
                from += n;
                seen.push((from, (lexer.rows(), lexer.at_top_level(), lexer.in_statement())));
                assert!(from == end || !lexer.in_statement(), "stopped inside a statement");
            }
        } else {
            lexer.feed(&text[at..end]);
            seen.push((end, (lexer.rows(), lexer.at_top_level(), lexer.in_statement())));
        }
        at = end;
    }
    seen
}

fn old_at(mysql: bool, text: &[u8]) -> Seen {
    let mut old = if mysql { oracle::Lexer::mysql() } else { oracle::Lexer::default() };
    old.feed(text);
    (old.rows(), old.at_top_level(), old.in_statement())
}

/// The new lexer (classifying blocks in each way there is) against the old one.
fn check(mysql: bool, text: &[u8], pieces: &[usize], by_statement: bool) -> Result<(), TestCaseError> {
    let old: Vec<(usize, Seen)> = new_after_pieces(Lexer::default(), text, pieces, false).into_iter().map(|(end, _)| (end, old_at(mysql, &text[..end]))).collect();
    for way in [Way::Best, Way::Baseline, Way::Portable] {
        WAY.set(way);
        let lexer = if mysql { Lexer::mysql() } else { Lexer::default() };
        let new = new_after_pieces(lexer, text, pieces, by_statement);
        WAY.set(Way::Best);
        for (end, seen) in new {
            let old = old.iter().find(|(e, _)| *e == end).map_or_else(|| old_at(mysql, &text[..end]), |(_, seen)| *seen);
            prop_assert_eq!(seen, old, "{:?}, mysql {}, after {} bytes of {:?}", way, mysql, end, String::from_utf8_lossy(text));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn the_lexer_reads_any_text_in_any_pieces_as_the_old_one_did((text, pieces) in text_and_pieces(), mysql: bool, by_statement: bool) {
        check(mysql, &text, &pieces, by_statement)?;
    }

    #[test]
    fn rows_with_odd_bytes_read_the_same((rows, odd, pieces) in (prop::collection::vec(0..3usize, 1..60), prop::collection::vec((0..2000usize, prop::sample::select(FRAGMENTS)), 0..4), prop::collection::vec(1..300usize, 1..8))) {
        // Long runs of ordinary rows (the fast path's), with a few odd fragments inserted.
        let mut text = b"INSERT INTO `t` VALUES\n".to_vec();
        for r in rows {
            text.extend_from_slice(FRAGMENTS[5 + r].as_bytes());
            text.extend_from_slice(b",\n");
        }
        for (at, fragment) in odd {
            let at = at.min(text.len());
            text.splice(at..at, fragment.bytes());
        }
        text.extend_from_slice(b";\n");
        check(true, &text, &pieces, false)?;
        check(true, &text, &pieces, true)?;
    }
}

#[test]
fn a_real_row_block_takes_the_fast_path() {
    let mut lexer = Lexer::mysql();
    lexer.feed(b"INSERT INTO `orders` VALUES\n");
    let rows = b"(1,14910,'new',88.10,'2026-01-01 00:00:07','c4ca4238a0b923820dcc509a6f75849b'),\n".repeat(64);
    assert_eq!(lexer.rows_blocks(&rows), rows.len());
    assert_eq!(lexer.rows(), 64);
    lexer.feed(b"(2,'it\\'s'),(3,'x''y',-1);\n");
    assert_eq!((lexer.rows(), lexer.in_statement()), (66, false));
}

#[test]
fn odd_fragments_read_the_same_wherever_they_fall_in_rows() {
    let rows = "(1,14910,'new',88.10,'2026-01-01 00:00:07','c4ca4238a0b923820dcc509a6f75849b'),\n(2,-5,NULL,_binary 'a\\0\\'(b','it''s'),(3,'x'),\n(4,'y')";
    let base = format!("INSERT INTO `t` VALUES\n{rows},{rows};\nINSERT INTO `t` VALUES {rows};\n");
    let odd = ["-- ')(\n", "--x", "-", "\\", "'", "# ')\n", "/* ') */", ";", ";\n", "INSERT", "VALUES", "(", ")", "\"'\"", "`'`"];
    for fragment in odd {
        for at in 0..=base.len() {
            let mut text = base.clone().into_bytes();
            text.splice(at..at, fragment.bytes());
            for pieces in [[text.len()], [at.max(1)]] {
                check(true, &text, &pieces, false).unwrap();
                check(true, &text, &pieces, true).unwrap();
            }
        }
    }
}
