//! The rows of T-SQL scripts as SSMS writes them (UTF-16 LE and BE with a byte-order mark, UTF-8),
//! read from their table data objects' byte ranges, and the rows only in one of two scripts,
//! printed as TSV and T-SQL.

#[path = "tsql_rows/script.rs"]
mod script;
#[path = "rows_common/trickle.rs"]
mod trickle;

use std::io::Read;

use trickle::Trickle;

use proptest::prelude::*;
use script::{COLUMNS, V, Values, apply, encode, objects, opener, parts, values};
use toc::rows::{Dialect, Encoding, Error, Form, Options, Row, RowReader, Side, SqlWriter, Table, TableDef, TsvWriter, diff};

const LE: Encoding = Encoding::Utf16 { le: true };
const BE: Encoding = Encoding::Utf16 { le: false };
const ENCODINGS: [Encoding; 3] = [LE, BE, Encoding::Utf8];


/// Every row of `bytes` and the columns named: read whole with the encoding told, a byte at a
/// time, and with the encoding given, the same.
fn read_all(bytes: &[u8], enc: Encoding) -> Result<(Vec<Row>, Option<Vec<String>>), Error> {
    let mut out = Vec::new();
    for way in 0..3 {
        let input: Box<dyn Read> = if way == 1 { Box::new(Trickle(bytes)) } else { Box::new(bytes) };
        let mut r = RowReader::with_encoding(Dialect::TSql, (way == 2).then_some(enc), input);
        let mut rows = Vec::new();
        while let Some(row) = r.next_row()? {
            rows.push(row.clone());
        }
        out.push((rows, r.columns().map(<[String]>::to_vec)));
    }
    assert!(out.windows(2).all(|w| w[0] == w[1]), "read whole, a byte at a time, encoding given");
    Ok(out.pop().unwrap_or_default())
}

fn s(x: &str) -> V {
    V::Str(x.into())
}

/// Rows with what SSMS writes: quotes, Unicode, NULLs, dates, decimals, binary data, negative
/// numbers, a string with a line `GO` and a header inside.
fn sample() -> Vec<Vec<V>> {
    vec![
        vec![V::Int(1), s("Zoë 🦀 it's"), V::Ascii("A-1".into()), V::Bin(vec![0x0a, 0x0b, 0xff]), V::Date("2024-01-02T03:04:05.000".into()), V::Dec("12.50".into())],
        vec![V::Int(-2), s("two\r\nGO\r\n/****** Object:  Table [dbo].[X]    Script Date: 1/1/2000 ******/\r\nlines"), V::Null, V::Bin(vec![]), V::Null, V::Dec("-0.01".into())],
        vec![V::Int(3), s(""), V::Ascii("x),(y; -- no [z]]".into()), V::Null, V::Date("1900-01-01T00:00:00.000".into()), V::Null],
    ]
}

fn expected(rows: &[Vec<V>]) -> Vec<Values> {
    rows.iter().map(|r| r.iter().map(V::value).collect()).collect()
}

#[test]
fn ssms_scripts_in_utf16_and_utf8_give_the_same_rows_from_their_data_objects() {
    for enc in ENCODINGS {
        for bom in [true, false] {
            let bytes = encode(&script::script(&sample(), true, true), enc, bom || enc != Encoding::Utf8);
            let (_, data) = objects(&bytes);
            assert!(data.start > 0 && (enc == Encoding::Utf8 || data.start % 2 == 0), "a range in the middle of the script");
            let (rows, columns) = read_all(&bytes[data], enc).expect("rows");
            assert_eq!(rows.iter().map(values).collect::<Vec<_>>(), expected(&sample()), "{enc:?}");
            assert_eq!(columns.unwrap(), COLUMNS);
            let forms: Vec<Form> = rows[0].fields().map(|f| f.form).collect();
            assert_eq!(forms, [Form::Bare, Form::Text, Form::Text, Form::Binary, Form::Text, Form::Bare]);
        }
    }
}

#[test]
fn other_generators_values_and_statements() {
    let d = "-- sqlcmd\r\n:setvar x 1\r\nSET NOCOUNT ON;\r\nPRINT N'Inserting [t]'\r\nGO\r\nsEt IDENTITY_INSERT dbo.[t] ON\r\n\
        INSERT INTO dbo.[t] ([a], [we]]ird]) VALUES (N'line1' + CHAR(13) + CHAR(10) + N'line2' + NCHAR(233), CONVERT(datetime2, N'2024-01-02'));\r\n\
        insert [dbo].[t] ([a], [we]]ird]) values (1.5E+20, /* c */ CONVERT(datetime, '01/02/2024', 101)), ([x] , GETDATE()),\r\n  (NULL, 0x)\r\ngo 2\r\n";
    let (rows, columns) = read_all(d.as_bytes(), Encoding::Utf8).expect("rows");
    assert_eq!(columns.unwrap(), ["a", "we]ird"]);
    let got: Vec<Vec<(Form, String)>> = rows.iter().map(|r| r.fields().map(|f| (f.form, String::from_utf8_lossy(f.bytes).into_owned())).collect()).collect();
    let f = |form, s: &str| (form, s.to_string());
    assert_eq!(got, [
        vec![f(Form::Text, "line1\r\nline2é"), f(Form::Text, "2024-01-02")],
        vec![f(Form::Bare, "1.5E+20"), f(Form::Expr, "/* c */ CONVERT(datetime, '01/02/2024', 101)")],
        vec![f(Form::Expr, "[x]"), f(Form::Expr, "GETDATE()")],
        vec![f(Form::Null, ""), f(Form::Binary, "")],
    ]);
}

#[test]
fn definitions_give_columns_keys_and_identity_columns() {
    for enc in ENCODINGS {
        let bytes = encode(&script::script(&[], true, true), enc, enc != Encoding::Utf8);
        let (def, _) = objects(&bytes);
        let d = TableDef::parse(Dialect::TSql, &bytes[def.clone()]).unwrap();
        assert_eq!(d.name.unwrap(), ["dbo", "People"]);
        assert_eq!(d.columns, COLUMNS);
        assert_eq!(d.primary_key.unwrap(), ["Id"]);
        assert_eq!(d.identity, ["Id"]);
        assert_eq!(TableDef::parse_with_encoding(Dialect::TSql, Some(enc), &bytes[def]).unwrap().columns, COLUMNS);
    }
    let alter = "CREATE TABLE [s].[t]([a] [int] NOT NULL, [b]] c] [nchar](2) NOT NULL, [Total] AS ([a]*(2)), INDEX [ix] ([a]))\r\nGO\r\n\
        ALTER TABLE [s].[other] ADD  CONSTRAINT [PK_o] PRIMARY KEY CLUSTERED ([x] ASC)\r\nGO\r\n\
        /* ALTER TABLE [s].[t] ADD CONSTRAINT [no] PRIMARY KEY ([a]) /* nested */ */\r\n\
        ALTER TABLE [s].[t] ADD  CONSTRAINT [PK_t] PRIMARY KEY NONCLUSTERED \r\n(\r\n\t[b]] c] ASC,\r\n\t[a] DESC\r\n)\r\nALTER TABLE [s].[t] ADD DEFAULT (N'x') FOR [a]\r\n";
    let d = TableDef::parse(Dialect::TSql, &encode(alter, LE, false)[..]).unwrap();
    assert_eq!((d.columns, d.generated, d.identity), (vec!["a".to_string(), "b] c".into(), "Total".into()], vec!["Total".to_string()], vec![]));
    assert_eq!(d.primary_key.unwrap(), ["b] c", "a"]);
    let plain = TableDef::parse(Dialect::TSql, &b"CREATE TABLE t (id int NOT NULL PRIMARY KEY, v nvarchar(9))"[..]).unwrap();
    assert_eq!(plain.primary_key.unwrap(), ["id"]);
}

fn people(rows: &[Vec<V>]) -> Vec<Values> {
    expected(rows)
}

/// A and B: B updates row 2, deletes row 3, inserts row 4.
fn a_and_b() -> (Vec<Vec<V>>, Vec<Vec<V>>) {
    let row = |id, name: &str, date: &str| vec![V::Int(id), s(name), V::Null, V::Bin(vec![id as u8]), V::Date(date.into()), V::Dec("1.00".into())];
    let a = vec![row(1, "Zoë", "2024-01-01T00:00:00.000"), row(2, "it's", "2024-01-02T00:00:00.000"), row(3, "🦀", "2024-01-03T00:00:00.000")];
    let b = vec![row(1, "Zoë", "2024-01-01T00:00:00.000"), row(2, "it''s", "2024-01-02T00:00:00.000"), row(4, "new", "2024-01-04T00:00:00.000")];
    (a, b)
}

#[test]
fn a_diff_of_scripts_in_different_encodings_pairs_the_update_by_key() {
    let (a, b) = a_and_b();
    for (ea, eb) in [(LE, BE), (BE, Encoding::Utf8), (Encoding::Utf8, LE)] {
        let (def_a, data_a) = parts(&a, true, true, ea);
        let (def_b, data_b) = parts(&b, true, true, eb);
        let mut got: Vec<(Side, Row)> = Vec::new();
        let mut ta = Table::new(def_a.clone(), opener(data_a.clone())).encoding(ea);
        let mut tb = Table::new(def_b.clone(), opener(data_b.clone()));
        let summary = diff(Dialect::TSql, &mut ta, &mut tb, &Options::default(), &mut got).unwrap();
        let got: Vec<(Side, Values)> = got.iter().map(|(s, r)| (*s, values(r))).collect();
        let (pa, pb) = (people(&a), people(&b));
        assert_eq!(got, [(Side::A, pa[1].clone()), (Side::B, pb[1].clone()), (Side::A, pa[2].clone()), (Side::B, pb[2].clone())]);
        assert_eq!((summary.only_a, summary.only_b, summary.updated, summary.key.unwrap()), (2, 2, 1, vec!["Id".to_string()]));

        let mut tsv = TsvWriter::new(Vec::new());
        diff(Dialect::TSql, &mut Table::new(def_a.clone(), opener(data_a.clone())), &mut Table::new(def_b.clone(), opener(data_b.clone())), &Options::default(), &mut tsv).unwrap();
        assert_eq!(String::from_utf8(tsv.into_inner()).unwrap(), "diff\tId\tName\tCode\tPhoto\tBorn\tBalance\n\
            -\t2\tit's\t\\N\t\\\\x02\t2024-01-02T00:00:00.000\t1.00\n+\t2\tit''s\t\\N\t\\\\x02\t2024-01-02T00:00:00.000\t1.00\n\
            -\t3\t🦀\t\\N\t\\\\x03\t2024-01-03T00:00:00.000\t1.00\n+\t4\tnew\t\\N\t\\\\x04\t2024-01-04T00:00:00.000\t1.00\n");

        let mut sql = SqlWriter::new(Vec::new());
        diff(Dialect::TSql, &mut Table::new(def_a, opener(data_a)), &mut Table::new(def_b, opener(data_b)), &Options::default(), &mut sql).unwrap();
        let sql = String::from_utf8(sql.into_inner()).unwrap();
        assert_eq!(sql, "UPDATE [dbo].[People] SET [Name] = N'it''''s', [Code] = NULL, [Photo] = 0x02, [Born] = N'2024-01-02T00:00:00.000', [Balance] = 1.00 WHERE [Id] = 2;\n\
            DELETE FROM [dbo].[People] WHERE [Id] = 3;\n\
            SET IDENTITY_INSERT [dbo].[People] ON;\n\
            INSERT [dbo].[People] ([Id], [Name], [Code], [Photo], [Born], [Balance]) VALUES (4, N'new', NULL, 0x04, N'2024-01-04T00:00:00.000', 1.00);\n\
            SET IDENTITY_INSERT [dbo].[People] OFF;\nGO\n");
        let mut rows = people(&a);
        apply(&sql, &mut rows);
        assert_eq!(rows, people(&b));
    }
}

#[test]
fn without_a_key_rows_compare_as_a_multiset_and_without_a_definition_sql_says_so() {
    let x = vec![V::Int(1), s("x"), V::Null, V::Null, V::Null, V::Null];
    let y = vec![V::Int(1), s("y"), V::Null, V::Null, V::Null, V::Null];
    let (a, b) = (vec![x.clone(), x.clone(), y.clone()], vec![y.clone(), x.clone(), y.clone()]);
    let (def_a, data_a) = parts(&a, false, false, LE);
    let (_, data_b) = parts(&b, false, false, Encoding::Utf8);
    assert_eq!((def_a.primary_key.clone(), def_a.identity.clone()), (None, vec![]));
    let mut got: Vec<(Side, Row)> = Vec::new();
    diff(Dialect::TSql, &mut Table::new(def_a.clone(), opener(data_a.clone())), &mut Table::new(def_a.clone(), opener(data_b.clone())), &Options::default(), &mut got).unwrap();
    let got: Vec<(Side, Values)> = got.iter().map(|(s, r)| (*s, values(r))).collect();
    assert_eq!(got, [(Side::A, people(&[x])[0].clone()), (Side::B, people(std::slice::from_ref(&y))[0].clone())]);

    let mut sql = SqlWriter::new(Vec::new());
    diff(Dialect::TSql, &mut Table::new(TableDef::default(), opener(data_a)), &mut Table::new(TableDef::default(), opener(data_b)), &Options::default(), &mut sql).unwrap();
    let sql = String::from_utf8(sql.into_inner()).unwrap();
    assert_eq!(sql, "DELETE TOP (1) FROM [dbo].[People] WHERE [Id] = 1 AND [Name] = N'x' AND [Code] IS NULL AND [Photo] IS NULL AND [Born] IS NULL AND [Balance] IS NULL;\n\
        -- dbvault: no definition of [dbo].[People] was read: if it has an IDENTITY column, run SET IDENTITY_INSERT [dbo].[People] ON before these INSERTs and OFF after them.\n\
        INSERT [dbo].[People] ([Id], [Name], [Code], [Photo], [Born], [Balance]) VALUES (1, N'y', NULL, NULL, NULL, NULL);\nGO\n");
    let mut rows = people(&a);
    apply(&sql, &mut rows);
    rows.sort();
    let mut want = people(&b);
    want.sort();
    assert_eq!(rows, want);
}

#[test]
fn what_is_no_table_data_is_an_error_not_a_panic() {
    let bad: &[&str] = &[
        "INSERT [t] ([a]) VALUES (N'open",
        "INSERT [t] ([a]) VALUES (1",
        "INSERT [t] ([a]) VALUES 1",
        "INSERT [t] ([a]) SELECT 1",
        "INSERT [t ([a]) VALUES (1)",
        "INSERT [a] VALUES (1)\r\nINSERT [b] VALUES (2)\r\n",
        "INSERT [a] ([x]) VALUES (1)\r\nINSERT [a] ([y]) VALUES (2)\r\n",
        "INSERT [t] VALUES (1) (2)\r\n",
        "INSERT [t] VALUES (CAST(N'x' AS",
        "SET IDENTITY_INSERT [t ON\r\n",
        "/* not closed\r\nINSERT [t] VALUES (1)",
        "\u{1}\u{2}garbage\r\n",
        ")))\r\n",
    ];
    for d in bad {
        for enc in ENCODINGS {
            assert!(read_all(&encode(d, enc, false), enc).is_err(), "{d:?} in {enc:?}");
        }
    }
    let odd = [0xff, 0xfe, b'I', 0, b'N', 0, b'S'];
    assert!(read_all(&odd, LE).is_err(), "half a code unit at the end");
    // What holds no rows is no error.
    assert_eq!(read_all(b"SET IDENTITY_INSERT [t] ON\r\nGO\r\nSET IDENTITY_INSERT [t] OFF\r\nGO\r\n", Encoding::Utf8).unwrap().0.len(), 0);
    assert_eq!(read_all(b"", LE).unwrap().0.len(), 0);
    // A table's rows whose range ends where another table's INSERT follows with no GO between
    // them: the last statement ends with its row, at the end of the range (or of the script).
    for tail in ["INSERT [dbo].[Od] ([O]) VALUES (1)\r\nINSERT [dbo].[Od] ([O]) VALUES (2)\r\n", "INSERT [dbo].[Od] ([O]) VALUES (1)\r\nINSERT [dbo].[Od] ([O]) VALUES (2)"] {
        for enc in ENCODINGS {
            assert_eq!(read_all(&encode(tail, enc, false), enc).unwrap().0.len(), 2, "{tail:?} in {enc:?}");
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    // Quotes, brackets, line ends, control characters, Latin, CJK and emoji; no `;` (the test's
    // interpreter splits statements at `;` and a line end).
    prop::collection::vec(prop::sample::select(vec!['a', 'Z', '\'', '[', ']', '(', ')', ',', ' ', '\r', '\n', '\t', '\0', '\u{1}', 'é', 'ë', '中', '🦀', '-', '*', '/', 'N', 'G', 'O']), 0..12).prop_map(|v| v.into_iter().collect())
}

fn value(col: usize) -> BoxedStrategy<V> {
    let v = match col {
        1 => text().prop_map(V::Str).boxed(),
        2 => "[ -~&&[^;]]{0,8}".prop_map(V::Ascii).boxed(),
        3 => prop::collection::vec(any::<u8>(), 0..6).prop_map(V::Bin).boxed(),
        4 => (1900u32..2100, 1u32..13, 1u32..29, 0u32..1000).prop_map(|(y, m, d, ms)| V::Date(format!("{y}-{m:02}-{d:02}T10:00:00.{ms:03}"))).boxed(),
        _ => (-99999i64..99999).prop_map(|c| V::Dec(format!("{}{}.{:02}", if c < 0 { "-" } else { "" }, c.abs() / 100, c.abs() % 100))).boxed(),
    };
    prop_oneof![1 => Just(V::Null), 4 => v].boxed()
}

fn row(id: i64) -> impl Strategy<Value = Vec<V>> {
    (value(1), value(2), value(3), value(4), value(5)).prop_map(move |(a, b, c, d, e)| vec![V::Int(id), a, b, c, d, e])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn values_written_as_ssms_writes_them_read_back_equal(rows in prop::collection::vec(row(7), 0..8), enc in prop::sample::select(ENCODINGS.to_vec())) {
        let (_, data) = parts(&rows, true, true, enc);
        let (got, _) = read_all(&data, enc).expect("rows");
        prop_assert_eq!(got.iter().map(values).collect::<Vec<_>>(), expected(&rows));
    }

    #[test]
    fn the_sql_of_a_diff_turns_a_into_b(
        a in prop::collection::vec(row(0), 0..10),
        edits in prop::collection::vec((0u8..4, row(0)), 0..10),
        key in any::<bool>(),
        encs in (prop::sample::select(ENCODINGS.to_vec()), prop::sample::select(ENCODINGS.to_vec())),
    ) {
        let a: Vec<Vec<V>> = a.into_iter().enumerate().map(|(i, mut r)| { r[0] = V::Int(i as i64); r }).collect();
        let mut b = a.clone();
        for (j, (op, mut r)) in edits.into_iter().enumerate() {
            match (op, b.len()) {
                (0, n) if n > 0 => { b.remove(j % n); }
                (1, n) if n > 0 => { let id = b[j % n][0].clone(); r[0] = id; b[j % n] = r; }
                _ => { r[0] = V::Int(100 + j as i64); b.push(r); }
            }
        }
        let (def_a, data_a) = parts(&a, key, key, encs.0);
        let (def_b, data_b) = parts(&b, key, key, encs.1);
        let mut sql = SqlWriter::new(Vec::new());
        diff(Dialect::TSql, &mut Table::new(def_a, opener(data_a)), &mut Table::new(def_b, opener(data_b)), &Options::default(), &mut sql).unwrap();
        let sql = String::from_utf8(sql.into_inner()).unwrap();
        let mut rows = people(&a);
        apply(&sql, &mut rows);
        let mut want = people(&b);
        rows.sort();
        want.sort();
        prop_assert_eq!(rows, want);
    }

    #[test]
    fn any_bytes_give_rows_or_an_error_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..300), utf16 in any::<bool>()) {
        let mut bytes = bytes;
        if utf16 {
            bytes = bytes.iter().flat_map(|&b| [b, 0]).collect();
        }
        let mut r = RowReader::new(Dialect::TSql, &bytes[..]);
        while let Ok(Some(_)) = r.next_row() {}
        let _ = TableDef::parse(Dialect::TSql, &bytes[..]);
    }

    #[test]
    fn a_cut_or_damaged_script_never_panics(cut in 0usize..1200, flip in 0usize..1200, byte in any::<u8>(), enc in prop::sample::select(ENCODINGS.to_vec())) {
        let (_, mut d) = parts(&sample(), true, true, enc);
        if let Some(b) = d.get_mut(flip) {
            *b = byte;
        }
        d.truncate(cut);
        let mut r = RowReader::new(Dialect::TSql, &d[..]);
        while let Ok(Some(_)) = r.next_row() {}
    }
}
