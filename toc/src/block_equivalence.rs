//! Lines taken many at a time against every line on its own (as the parser took them before),
//! on random dump-like text fed in random pieces: the same table of contents, objects, ranges,
//! rows and digests, in every block-structured format.

use proptest::prelude::*;

use crate::blocks::LINE_BY_LINE;
use crate::{Toc, TocParser};

/// What the text is made of: block lines of each format, statements, rows, COPY data,
/// meta-commands, and what opens or closes strings and comments around them.
const FRAGMENTS: &[&str] = &[
    "--\n-- Table structure for table `t`\n--\n\n",
    "-- Dumping data for table `t`\n",
    "--\n-- Current Database: `d`\n--\n\n",
    "-- Host: h    Database: d\n",
    "-- Dump completed on 2026-12-07\n",
    "--\n-- Name: t; Type: TABLE; Schema: public; Owner: o\n--\n\n",
    "-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: o\n",
    "-- PostgreSQL database dump complete\n",
    "-- Database \"d\" dump\n",
    "-- PostgreSQL database cluster dump complete\n",
    "--\n",
    "-- c\n",
    "--",
    "\n",
    "\r\n",
    " ",
    ";",
    ";\n",
    "SELECT 1",
    "CREATE TABLE t (\n  a int,\n  b text\n);\n",
    "INSERT INTO `t` VALUES ",
    "INSERT INTO t VALUES\n",
    "(1,14910,'new',88.10,'2026-01-01 00:00:07','c4ca4238a0b923820dcc509a6f75849b')",
    "(2,-5,NULL,_binary 'a\\0\\'(b','x\\\\','it''s')",
    "),(",
    ",\n",
    "(",
    ")",
    "'",
    "'\n-- Name: x; Type: TABLE; Schema: public; Owner: o\n'",
    "\\",
    "\"",
    "`",
    "/*!40101 SET x = 1 */;\n",
    "/*",
    "*/",
    "# c\n",
    "$$",
    "$f$",
    "E'\\''",
    "CO",
    "COPY",
    "COPY public.t (a, b) FROM stdin;\n",
    "1\tx\n",
    "\\N\t\\\\\n",
    "\\.\n",
    "\\connect d\n",
    "\\restrict abc\n",
    "\\unrestrict abc\n",
];

fn parsers() -> Vec<Box<dyn TocParser>> {
    let key = [5; 32];
    vec![Box::new(crate::mysql::MysqlDump::new(key)), Box::new(crate::pg_plain::PgPlain::new(key)), Box::new(crate::pg_dumpall::PgDumpall::new(key))]
}

fn parse(mut parser: Box<dyn TocParser>, text: &[u8], pieces: &[usize], line_by_line: bool) -> Toc {
    LINE_BY_LINE.set(line_by_line);
    let mut at = 0;
    for &size in pieces.iter().cycle() {
        if at == text.len() {
            break;
        }
        let end = text.len().min(at + size);
        parser.feed(&text[at..end]);
        at = end;
    }
    let toc = parser.finish();
    LINE_BY_LINE.set(false);
    toc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lines_many_at_a_time_make_the_same_table_of_contents(
        text in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..120).prop_map(|f| f.concat().into_bytes()),
        pieces in prop::collection::vec(prop_oneof![1..8usize, 8..100usize, 100..2000usize], 1..20),
    ) {
        for (old, new) in parsers().into_iter().zip(parsers()) {
            let expected = parse(old, &text, &[text.len().max(1)], true);
            prop_assert_eq!(&parse(new, &text, &pieces, false), &expected, "{:?}", String::from_utf8_lossy(&text));
        }
    }
}
