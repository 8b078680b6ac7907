//! The rows of table data objects as pg_dump and mysqldump write them, and the rows only in one
//! of two snapshots of a table, printed as TSV, JSON lines and SQL.

#[path = "rows_common/trickle.rs"]
mod trickle;
mod rows_common;

use std::io::Read;

use trickle::Trickle;

use proptest::prelude::*;
use rows_common::{Format, Values, apply, dump, opener, run, strs, values};
use toc::rows::{Dialect, Error, Form, JsonWriter, Options, Row, RowReader, Side, Sink, SqlWriter, Table, TableDef, TsvWriter, diff};


type Read3 = (Vec<Row>, Option<Vec<String>>, Option<Vec<String>>);

/// Every row of `bytes`, with the columns and table named; read whole and a byte at a time, the
/// same.
fn read_all(dialect: Dialect, bytes: &[u8]) -> Result<Read3, Error> {
    let mut out = Vec::new();
    for trickle in [false, true] {
        let input: Box<dyn Read> = if trickle { Box::new(Trickle(bytes)) } else { Box::new(bytes) };
        let mut r = RowReader::new(dialect, input);
        let mut rows = Vec::new();
        while let Some(row) = r.next_row()? {
            rows.push(row.clone());
        }
        assert_eq!(r.rows(), rows.len() as u64);
        out.push((rows, r.columns().map(<[String]>::to_vec), r.table().map(<[String]>::to_vec)));
    }
    let second = out.pop();
    assert_eq!(out.pop(), second, "read whole and a byte at a time");
    Ok(second.unwrap_or_default())
}

fn forms(row: &Row) -> Vec<Form> {
    row.fields().map(|f| f.form).collect()
}

#[test]
fn copy_rows_decode_escapes_nulls_and_tabs() {
    let d = b"--\n-- Data for Name: Order Items; Type: TABLE DATA; Schema: app; Owner: shop\n--\n\n\
        COPY app.\"Order Items\" (id, note, \"Say \"\"x\"\"\") FROM stdin;\n\
        1\ta\\tb\\nc\\\\d\t\\N\n2\t\\\\N\t\n\\N\t\\101\\x42\\103\\u\tx\r\n\\.\n\n\n";
    let (rows, columns, table) = read_all(Dialect::Postgres, d).expect("rows");
    let got: Vec<Values> = rows.iter().map(values).collect();
    assert_eq!(got, [strs(&[Some("1"), Some("a\tb\nc\\d"), None]), strs(&[Some("2"), Some("\\N"), Some("")]), strs(&[None, Some("ABCu"), Some("x")])]);
    assert_eq!(columns.unwrap(), ["id", "note", "Say \"x\""]);
    assert_eq!(table.unwrap(), ["app", "Order Items"]);
    assert!(rows.iter().all(|r| r.fields().all(|f| matches!(f.form, Form::Text | Form::Null))));
}

#[test]
fn mysql_inserts_with_quotes_backslashes_nulls_negatives_and_binary() {
    let d = b"--\n-- Dumping data for table `t`\n--\n\nLOCK TABLES `t` WRITE;\n/*!40000 ALTER TABLE `t` DISABLE KEYS */;\n\
        INSERT INTO `t` VALUES (1,'it\\'s','a\\\\b',NULL,-5,'x),(y'),(2,'two\\nlines \\\"q\\\" \\0 \\Z','',NULL,-1.5e-07,'#-- /* no'),\
        (3,_binary 'b\\0n',0x00FF,b'101',1,\"d''q\");\n/*!40000 ALTER TABLE `t` ENABLE KEYS */;\nUNLOCK TABLES;\n\n";
    let (rows, columns, table) = read_all(Dialect::MySql, d).expect("rows");
    assert_eq!((columns, table), (None, Some(vec!["t".to_string()])));
    let got: Vec<Values> = rows.iter().map(values).collect();
    assert_eq!(got[0], strs(&[Some("1"), Some("it's"), Some("a\\b"), None, Some("-5"), Some("x),(y")]));
    assert_eq!(got[1], strs(&[Some("2"), Some("two\nlines \"q\" \0 \x1a"), Some(""), None, Some("-1.5e-07"), Some("#-- /* no")]));
    assert_eq!(got[2], vec![Some(b"3".to_vec()), Some(b"b\0n".to_vec()), Some(vec![0, 255]), Some(b"101".to_vec()), Some(b"1".to_vec()), Some(b"d''q".to_vec())]);
    assert_eq!(forms(&rows[0]), [Form::Bare, Form::Text, Form::Text, Form::Null, Form::Bare, Form::Text]);
    assert_eq!(forms(&rows[2]), [Form::Bare, Form::Binary, Form::Binary, Form::Bits, Form::Bare, Form::Text]);
    // --complete-insert, REPLACE and INSERT IGNORE.
    let d = b"REPLACE INTO `t` (`id`,`we``ird`) VALUES (1,'a');\nINSERT IGNORE INTO `t` (`id`,`we``ird`) VALUES (2,'b');\n";
    let (rows, columns, _) = read_all(Dialect::MySql, d).expect("rows");
    assert_eq!((rows.len(), columns.unwrap()), (2, vec!["id".to_string(), "we`ird".to_string()]));
}

#[test]
fn pg_inserts_with_quotes_escapes_expressions_and_trailing_clauses() {
    let d = b"--\n-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\n\
        INSERT INTO public.t (id, note, tags) OVERRIDING SYSTEM VALUE VALUES (1, 'it''s a \\ (x)', '{1,2}'::integer[]), \
        (-2, E'a\\nb\\\\c\\'d\\u00e9', NULL) ON CONFLICT DO NOTHING;\n\
        INSERT INTO public.t (id, note, tags) VALUES (3, 'x),(y; -- no', DEFAULT), (4.5e+3, B'0101', true);\n";
    let (rows, columns, table) = read_all(Dialect::Postgres, d).expect("rows");
    assert_eq!((columns.unwrap(), table.unwrap()), (vec!["id".to_string(), "note".into(), "tags".into()], vec!["public".to_string(), "t".into()]));
    let got: Vec<Values> = rows.iter().map(values).collect();
    assert_eq!(got, [
        strs(&[Some("1"), Some("it's a \\ (x)"), Some("'{1,2}' ::integer[]")]),
        strs(&[Some("-2"), Some("a\nb\\c'd\u{e9}"), None]),
        strs(&[Some("3"), Some("x),(y; -- no"), Some("DEFAULT")]),
        strs(&[Some("4.5e+3"), Some("0101"), Some("true")]),
    ]);
    assert_eq!(forms(&rows[0]), [Form::Bare, Form::Text, Form::Expr]);
    assert_eq!(forms(&rows[3]), [Form::Bare, Form::Bits, Form::Bare]);
    // A table of no columns.
    let (rows, _, _) = read_all(Dialect::Postgres, b"INSERT INTO public.t DEFAULT VALUES;\nINSERT INTO public.t DEFAULT VALUES;\n").expect("rows");
    assert_eq!(rows, [Row::default(), Row::default()]);
}

#[test]
fn what_is_no_table_data_is_an_error_not_a_panic() {
    let pg: &[&[u8]] = &[
        b"INSERT INTO t VALUES (1, 'open",
        b"COPY t FROM stdin;\n1\t2\n",
        b"COPY t (a) FROM stdin WITH CSV;\n",
        b"INSERT INTO t SELECT 1;",
        b"INSERT INTO t VALUES 1;",
        b"garbage that never ends",
        b"INSERT INTO a VALUES (1);\nINSERT INTO b VALUES (2);\n",
        b"INSERT INTO a (x) VALUES (1);\nINSERT INTO a (y) VALUES (2);\n",
        b"COPY t FROM stdin;\nab\\\n\\.\n",
        b"INSERT INTO t VALUES (E'\\u12');",
        b"INSERT INTO t VALUES (1 /* x",
    ];
    for d in pg {
        assert!(read_all(Dialect::Postgres, d).is_err(), "{}", String::from_utf8_lossy(d));
    }
    assert!(matches!(read_all(Dialect::MySql, b"INSERT INTO `t` VALUES (0x0G);"), Err(Error::Syntax { .. }) | Ok(_)));
    assert!(matches!(read_all(Dialect::MySql, b"INSERT INTO `t` VALUES ('a\\"), Err(Error::Truncated { .. })));
    // What holds no rows is no error: an empty table's data, statements around rows.
    assert_eq!(read_all(Dialect::MySql, b"LOCK TABLES `t` WRITE;\nUNLOCK TABLES;\n").unwrap().0.len(), 0);
    assert_eq!(read_all(Dialect::Postgres, b"").unwrap().0.len(), 0);
}

#[test]
fn primary_keys_are_found_in_definitions() {
    let pg = "--\n-- Name: t; Type: TABLE; Schema: app; Owner: shop\n--\n\nCREATE TABLE app.t (\n    \"Id\" integer NOT NULL,\n    k2 text DEFAULT 'a,b',\n    CONSTRAINT c CHECK ((k2 <> 'x'))\n);\n\n\
        ALTER TABLE ONLY app.other\n    ADD CONSTRAINT other_pkey PRIMARY KEY (nope);\n\
        --\n-- Name: t t_pkey; Type: CONSTRAINT; Schema: app; Owner: shop\n--\n\nALTER TABLE ONLY app.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (\"Id\", k2);\n";
    let def = TableDef::parse(Dialect::Postgres, pg.as_bytes()).unwrap();
    assert_eq!(def.name.unwrap(), ["app", "t"]);
    assert_eq!(def.columns, ["Id", "k2"]);
    assert_eq!(def.primary_key.unwrap(), ["Id", "k2"]);
    let my = "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `key` varchar(9),\n  PRIMARY KEY (`id`,`key`(4)) USING BTREE,\n  UNIQUE KEY `u` (`key`),\n  KEY `k` (`id`)\n) ENGINE=InnoDB /*!50100 PARTITION BY HASH (`id`) */;\n";
    let def = TableDef::parse(Dialect::MySql, my.as_bytes()).unwrap();
    assert_eq!((def.columns, def.primary_key.unwrap()), (vec!["id".to_string(), "key".into()], vec!["id".to_string(), "key".into()]));
    let inline = TableDef::parse(Dialect::Postgres, &b"CREATE TABLE t (id int PRIMARY KEY, v text);"[..]).unwrap();
    assert_eq!(inline.primary_key.unwrap(), ["id"]);
    let generated = "CREATE TABLE `t` (`id` int, `g` int GENERATED ALWAYS AS (`id` * 2) VIRTUAL, `h` int AS (1) STORED);";
    assert_eq!(TableDef::parse(Dialect::MySql, generated.as_bytes()).unwrap().generated, ["g", "h"]);
    let identity = "CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY (START WITH 1), g int GENERATED ALWAYS AS (id * 2) STORED);";
    assert_eq!(TableDef::parse(Dialect::Postgres, identity.as_bytes()).unwrap().generated, ["g"]);
    let none = TableDef::parse(Dialect::MySql, &b"CREATE TABLE `t` (`v` int);"[..]).unwrap();
    assert_eq!((none.columns, none.primary_key), (vec!["v".to_string()], None));
}

fn r(v: &[Option<&str>]) -> Values {
    strs(v)
}

#[test]
fn an_update_is_paired_by_its_key_and_inserts_and_deletes_follow_the_order_of_each_side() {
    let a = [r(&[Some("1"), Some("a"), None]), r(&[Some("2"), Some("b"), Some("y")]), r(&[Some("3"), Some("c"), Some("z")]), r(&[Some("5"), Some("e"), None])];
    let b = [r(&[Some("6"), Some("f"), None]), r(&[Some("1"), Some("a"), None]), r(&[Some("3"), Some("C"), Some("z")]), r(&[Some("2"), Some("B"), None]), r(&[Some("4"), Some("d"), Some("w")])];
    for format in [Format::Copy, Format::PgInsert, Format::MySql] {
        let (got, summary) = run(format, true, &a, &b, &Options::default());
        let expected = vec![(Side::A, a[1].clone()), (Side::B, b[3].clone()), (Side::A, a[2].clone()), (Side::B, b[2].clone()), (Side::A, a[3].clone()), (Side::B, b[0].clone()), (Side::B, b[4].clone())];
        assert_eq!(got, expected, "{format:?}");
        assert_eq!((summary.rows_a, summary.rows_b, summary.only_a, summary.only_b, summary.updated), (4, 5, 3, 4, 2));
        assert_eq!(summary.key.unwrap(), ["id"]);
    }
}

#[test]
fn duplicates_count_and_without_a_key_rows_are_compared_whole() {
    let (x, y, z) = (r(&[Some("1"), Some("x"), None]), r(&[Some("1"), Some("y"), None]), r(&[Some("2"), None, Some("")]));
    let a = [x.clone(), x.clone(), y.clone()];
    let b = [y.clone(), x.clone(), z.clone(), y.clone()];
    for format in [Format::Copy, Format::PgInsert, Format::MySql] {
        let (got, summary) = run(format, false, &a, &b, &Options::default());
        // B's first copies beyond A's count are the ones only in B.
        assert_eq!(got, [(Side::A, x.clone()), (Side::B, y.clone()), (Side::B, z.clone())], "{format:?}");
        assert_eq!((summary.only_a, summary.only_b, summary.updated, summary.key), (1, 2, 0, None));
    }
    let (got, _) = run(Format::Copy, false, &a, &a, &Options::default());
    assert!(got.is_empty(), "no difference");
}

#[test]
fn the_same_columns_in_another_order_are_no_change() {
    let a = b"COPY t (id, a) FROM stdin;\n1\tx\n2\ty\n\\.\n".to_vec();
    let b = b"COPY t (a, id) FROM stdin;\ny\t2\nz\t1\n\\.\n".to_vec();
    let def = TableDef::parse(Dialect::Postgres, &b"ALTER TABLE ONLY t ADD CONSTRAINT k PRIMARY KEY (id);"[..]).unwrap();
    let mut got: Vec<(Side, Row)> = Vec::new();
    diff(Dialect::Postgres, &mut Table::new(def.clone(), opener(a)), &mut Table::new(def, opener(b)), &Options::default(), &mut got).unwrap();
    let got: Vec<(Side, Values)> = got.iter().map(|(s, r)| (*s, values(r))).collect();
    assert_eq!(got, [(Side::A, r(&[Some("1"), Some("x")])), (Side::B, r(&[Some("1"), Some("z")]))]);
}

/// The small case the renderings print: an update, a delete and an insert.
fn render<S: Sink>(format: Format, key: bool, sink: &mut S) {
    let a = [r(&[Some("1"), Some("a\tb"), None]), r(&[Some("2"), Some("it's"), Some("x")]), r(&[Some("3"), Some("c"), Some("d")])];
    let b = [r(&[Some("1"), Some("a\tb"), None]), r(&[Some("2"), Some("it's"), Some("y\\z")]), r(&[Some("4"), Some("new"), None])];
    let mut ta = Table::new(rows_common::def(format, key), opener(dump(format, &a, 2)));
    let mut tb = Table::new(rows_common::def(format, key), opener(dump(format, &b, 2)));
    diff(format.dialect(), &mut ta, &mut tb, &Options::default(), sink).unwrap();
}

#[test]
fn tsv_json_and_sql_renderings_are_exact() {
    let mut tsv = TsvWriter::new(Vec::new());
    render(Format::Copy, true, &mut tsv);
    assert_eq!(String::from_utf8(tsv.into_inner()).unwrap(), "diff\tid\ta\tb\n-\t2\tit's\tx\n+\t2\tit's\ty\\\\z\n-\t3\tc\td\n+\t4\tnew\t\\N\n");
    let mut json = JsonWriter::new(Vec::new());
    render(Format::MySql, true, &mut json);
    let json = String::from_utf8(json.into_inner()).unwrap();
    assert_eq!(json, "{\"side\":\"a\",\"key\":{\"id\":\"2\"},\"row\":{\"id\":\"2\",\"a\":\"it's\",\"b\":\"x\"}}\n\
        {\"side\":\"b\",\"key\":{\"id\":\"2\"},\"row\":{\"id\":\"2\",\"a\":\"it's\",\"b\":\"y\\\\z\"}}\n\
        {\"side\":\"a\",\"key\":{\"id\":\"3\"},\"row\":{\"id\":\"3\",\"a\":\"c\",\"b\":\"d\"}}\n\
        {\"side\":\"b\",\"key\":{\"id\":\"4\"},\"row\":{\"id\":\"4\",\"a\":\"new\",\"b\":null}}\n");
    for line in json.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON");
    }
    let mut pg = SqlWriter::new(Vec::new());
    render(Format::Copy, true, &mut pg);
    assert_eq!(String::from_utf8(pg.into_inner()).unwrap(), "UPDATE \"public\".\"t\" SET \"id\" = '2', \"a\" = 'it''s', \"b\" = E'y\\\\z' WHERE \"id\" = '2';\n\
        DELETE FROM \"public\".\"t\" WHERE \"id\" = '3';\n\
        INSERT INTO \"public\".\"t\" (\"id\", \"a\", \"b\") OVERRIDING SYSTEM VALUE VALUES ('4', 'new', NULL);\n");
    let mut my = SqlWriter::new(Vec::new());
    render(Format::MySql, true, &mut my);
    assert_eq!(String::from_utf8(my.into_inner()).unwrap(), "UPDATE `t` SET `id` = 2, `a` = 'it\\'s', `b` = 'y\\\\z' WHERE `id` = 2;\n\
        DELETE FROM `t` WHERE `id` = 3;\n\
        INSERT INTO `t` (`id`, `a`, `b`) VALUES (4, 'new', NULL);\n");
    let mut nokey = SqlWriter::new(Vec::new());
    render(Format::PgInsert, false, &mut nokey);
    assert_eq!(String::from_utf8(nokey.into_inner()).unwrap(), "DELETE FROM \"public\".\"t\" WHERE ctid = (SELECT ctid FROM \"public\".\"t\" WHERE \"id\" = 2 AND \"a\" = 'it''s' AND \"b\" = 'x' LIMIT 1);\n\
        DELETE FROM \"public\".\"t\" WHERE ctid = (SELECT ctid FROM \"public\".\"t\" WHERE \"id\" = 3 AND \"a\" = 'c' AND \"b\" = 'd' LIMIT 1);\n\
        INSERT INTO \"public\".\"t\" (\"id\", \"a\", \"b\") OVERRIDING SYSTEM VALUE VALUES (2, 'it''s', E'y\\\\z');\n\
        INSERT INTO \"public\".\"t\" (\"id\", \"a\", \"b\") OVERRIDING SYSTEM VALUE VALUES (4, 'new', NULL);\n");
}

/// The SQL output of a diff of `a` and `b`, applied to `a`'s rows, gives `b`'s (as multisets).
fn sql_turns_a_into_b(format: Format, key: bool, a: &[Values], b: &[Values], options: &Options) {
    let mut sql = SqlWriter::new(Vec::new());
    let mut ta = Table::new(rows_common::def(format, key), opener(dump(format, a, 3)));
    let mut tb = Table::new(rows_common::def(format, key), opener(dump(format, b, 2)));
    diff(format.dialect(), &mut ta, &mut tb, options, &mut sql).unwrap();
    let mut rows = a.to_vec();
    apply(format.dialect(), &sql.into_inner(), &["id", "a", "b"], &mut rows);
    rows.sort();
    let mut expected = b.to_vec();
    expected.sort();
    assert_eq!(rows, expected);
}

#[test]
fn sql_output_applied_to_a_gives_b() {
    let tricky = ["it's", "a\\b", "x),(y", "'; DROP", "tab\there", "line\nend", "\"q\"", "é", "\\N", ""];
    let row = |i: usize, v: Option<&str>, w: Option<&str>| vec![Some(i.to_string().into_bytes()), v.map(|s| s.as_bytes().to_vec()), w.map(|s| s.as_bytes().to_vec())];
    let a: Vec<Values> = (0..tricky.len()).map(|i| row(i, Some(tricky[i]), None)).chain([row(3, Some("dup"), None), row(3, Some("dup"), None)]).collect();
    let b: Vec<Values> = (0..tricky.len()).filter(|i| i % 3 != 0).map(|i| row(i, Some(tricky[i]), (i % 2 == 0).then_some(tricky[(i + 1) % tricky.len()]))).chain([row(3, Some("dup"), None), row(20, Some("x'\\y"), Some(""))]).collect();
    for format in [Format::Copy, Format::PgInsert, Format::MySql] {
        sql_turns_a_into_b(format, false, &a, &b, &Options::default());
    }
    let a: Vec<Values> = a[..tricky.len()].to_vec();
    let b: Vec<Values> = b.iter().filter(|r| r[1].as_deref() != Some(b"dup")).cloned().collect();
    for format in [Format::Copy, Format::PgInsert, Format::MySql] {
        sql_turns_a_into_b(format, true, &a, &b, &Options::default());
    }
}

/// A value of a random table: from few strings (so rows repeat), or NULL.
fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![Just(None), prop::collection::vec(prop::sample::select(b"ab'\\\t\n\r,()\";-# xN0".to_vec()), 0..6).prop_map(Some)]
}

#[derive(Clone, Debug)]
enum Edit {
    Keep,
    Delete,
    Update(Option<Vec<u8>>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![6 => Just(Edit::Keep), 1 => Just(Edit::Delete), 2 => value().prop_map(Edit::Update)]
}

proptest! {
    // PROPTEST_CASES=N for a longer search.
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(64)))]

    #[test]
    fn random_edits_of_a_random_table_come_back_exactly(
        rows in prop::collection::vec((value(), value(), edit()), 0..24),
        inserts in prop::collection::vec((value(), value(), 0usize..30), 0..6),
        format in prop::sample::select(vec![Format::Copy, Format::PgInsert, Format::MySql]),
        batch in prop::sample::select(vec![1usize, 200, 1 << 20]),
    ) {
        let options = Options { batch_bytes: batch };
        let row = |id: usize, a: &Option<Vec<u8>>, b: &Option<Vec<u8>>| vec![Some(id.to_string().into_bytes()), a.clone(), b.clone()];
        let a: Vec<Values> = rows.iter().enumerate().map(|(i, (x, y, _))| row(i, x, y)).collect();
        let mut b = Vec::new();
        let mut expected = Vec::new();
        for (i, (x, y, e)) in rows.iter().enumerate() {
            match e {
                Edit::Keep => b.push(a[i].clone()),
                Edit::Delete => expected.push((Side::A, a[i].clone())),
                Edit::Update(v) if v == y => b.push(a[i].clone()),
                Edit::Update(v) => {
                    b.push(row(i, x, v));
                    expected.extend([(Side::A, a[i].clone()), (Side::B, row(i, x, v))]);
                }
            }
        }
        for (j, (x, y, at)) in inserts.iter().enumerate() {
            b.insert((*at).min(b.len()), row(1000 + j, x, y));
        }
        expected.extend(b.iter().filter(|r| r[0].as_ref().is_some_and(|id| id.len() == 4)).map(|r| (Side::B, r.clone())));
        let (got, summary) = run(format, true, &a, &b, &options);
        prop_assert_eq!(got, expected);
        prop_assert_eq!(summary.rows_b, b.len() as u64);
        sql_turns_a_into_b(format, true, &a, &b, &options);
        sql_turns_a_into_b(format, false, &a, &b, &options);
    }

    #[test]
    fn any_bytes_give_rows_or_an_error_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), mysql in any::<bool>()) {
        let dialect = if mysql { Dialect::MySql } else { Dialect::Postgres };
        let mut r = RowReader::new(dialect, &bytes[..]);
        while let Ok(Some(_)) = r.next_row() {}
        let _ = TableDef::parse(dialect, &bytes[..]);
        let mut sink = SqlWriter::new(Vec::new());
        let good = dump(if mysql { Format::MySql } else { Format::Copy }, &[strs(&[Some("1"), None, Some("x")])], 1);
        let _ = diff(dialect, &mut Table::new(TableDef::default(), opener(bytes.clone())), &mut Table::new(TableDef::default(), opener(good)), &Options::default(), &mut sink);
    }

    #[test]
    fn a_cut_or_damaged_dump_never_panics(cut in 0usize..400, flip in 0usize..400, byte in any::<u8>(), mysql in any::<bool>()) {
        let format = if mysql { Format::MySql } else { Format::PgInsert };
        let mut d = dump(format, &[strs(&[Some("1"), Some("it's (a) \\ row"), None]), strs(&[Some("-2"), Some("x),(y"), Some("")])], 2);
        if let Some(b) = d.get_mut(flip) {
            *b = byte;
        }
        d.truncate(cut);
        let mut r = RowReader::new(format.dialect(), &d[..]);
        while let Ok(Some(_)) = r.next_row() {}
    }
}

#[test]
fn a_quoted_name_never_closed_is_an_error_at_its_limit() {
    let mut text = b"INSERT INTO t (\"a".to_vec();
    text.resize(text.len() + (4 << 20), b'x');
    let mut r = RowReader::new(Dialect::Postgres, text.as_slice());
    let err = r.next_row().unwrap_err().to_string();
    assert!(err.contains("longer than 64 KiB"), "{err}");
    assert!(r.offset() < 1 << 20, "it stopped at the limit, after {} bytes", r.offset());
}
