//! T-SQL scripts as SQL Server Management Studio writes them, in UTF-16 and UTF-8, through the
//! table-of-contents parser. The samples (`tsql/samples.rs`) are written after the layouts of real
//! SSMS output (SSMS 2008's and SSMS 18-20's Generate Scripts, Script Table as, a script without
//! descriptive headers), one piece per object, so that every object's range can be checked byte
//! for byte.

use proptest::prelude::*;
use toc::tsql::TsqlScript;
use toc::{Kind, Toc, TocParser};

#[path = "tsql/samples.rs"]
mod samples;

use samples::*;

const KEY: [u8; 32] = [5; 32];

#[derive(Clone, Copy, Debug)]
enum Enc {
    Utf16Le,
    Utf16Be,
    Utf16LeNoBom,
    Utf8,
    Utf8Bom,
}

const ENCODINGS: [Enc; 5] = [Enc::Utf16Le, Enc::Utf16Be, Enc::Utf16LeNoBom, Enc::Utf8, Enc::Utf8Bom];

fn bom(enc: Enc) -> &'static [u8] {
    match enc {
        Enc::Utf16Le => b"\xff\xfe",
        Enc::Utf16Be => b"\xfe\xff",
        Enc::Utf8Bom => b"\xef\xbb\xbf",
        Enc::Utf16LeNoBom | Enc::Utf8 => b"",
    }
}

/// `text` with SSMS's line ends, in `enc` (without a byte-order mark).
fn encode(text: &str, enc: Enc) -> Vec<u8> {
    let text = text.replace('\n', "\r\n");
    match enc {
        Enc::Utf16Le | Enc::Utf16LeNoBom => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Enc::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Enc::Utf8 | Enc::Utf8Bom => text.into_bytes(),
    }
}

/// The script of `pieces` in `enc`, and each piece's byte range (the byte-order mark is the
/// preamble's).
fn script(pieces: &[(Want, &str)], enc: Enc) -> (Vec<u8>, Vec<std::ops::Range<u64>>) {
    let mut out = bom(enc).to_vec();
    let mut ranges = Vec::new();
    for (i, (_, text)) in pieces.iter().enumerate() {
        let start = if i == 0 { 0 } else { out.len() as u64 };
        out.extend(encode(text, enc));
        ranges.push(start..out.len() as u64);
    }
    (out, ranges)
}

/// Parse `data` fed in pieces of `sizes`, over and over.
fn parse(data: &[u8], sizes: &[usize]) -> Toc {
    let mut p: Box<dyn TocParser> = Box::new(TsqlScript::new(KEY));
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes[i % sizes.len()].clamp(1, data.len() - at);
        p.feed(&data[at..at + n]);
        (at, i) = (at + n, i + 1);
    }
    p.finish()
}

/// The dates SSMS wrote into the samples' headers (the headers inside a value and a procedure's
/// body carry dates of their own, which are their text).
const DATES: [&str; 2] = ["12/7/2026 10:00:00 AM", "05/29/2010 02:10:37"];

/// `text` with every SSMS header's script date (what lies between `Script Date:` and the stars
/// that close the header) made `date`.
fn redate(text: &str, date: &str) -> String {
    DATES.iter().fold(text.to_string(), |t, d| t.replace(&format!("Script Date: {d} ******/"), &format!("Script Date:{date}******/")))
}

/// `pieces` with their texts made by `f`.
fn remade(pieces: &[(Want, &str)], f: impl Fn(usize, &str) -> String) -> Vec<(Want, String)> {
    pieces.iter().enumerate().map(|(i, (w, t))| (*w, f(i, t))).collect()
}

/// Owned pieces borrowed, for [`script`].
fn borrowed(pieces: &[(Want, String)]) -> Vec<(Want, &str)> {
    pieces.iter().map(|(w, t)| (*w, t.as_str())).collect()
}

fn seen(toc: &Toc) -> Vec<Want> {
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let opt = |s: &Option<String>| s.as_deref().map(leak);
    toc.objects.iter().map(|o| (o.kind, leak(&o.tool_kind), opt(&o.database), opt(&o.schema), leak(&o.name), o.section, o.rows)).collect()
}

/// Every sample in every encoding: the same objects, each range exactly its piece's bytes (in the
/// script's own encoding), each digest the keyed hash of those bytes but its header's script date.
#[test]
fn every_object_is_exactly_its_batches_in_every_encoding() {
    let two_tables = [SCRIPT_TABLE_AS, NEXT_TABLE_AS].concat();
    let samples = [("2019", SSMS_2019), ("2008", SSMS_2008), ("no headers", NO_HEADERS), ("script table as", SCRIPT_TABLE_AS), ("two tables", &two_tables)];
    for (sample, pieces) in samples {
        for enc in ENCODINGS {
            let (data, ranges) = script(pieces, enc);
            for sizes in [&[1 << 20][..], &[1], &[3, 7, 1, 4096]] {
                let toc = parse(&data, sizes);
                let what = format!("{sample} in {enc:?}, pieces of {sizes:?}");
                assert_eq!(seen(&toc), pieces.iter().map(|p| p.0).collect::<Vec<_>>(), "{what}");
                assert_eq!(toc.objects.iter().map(|o| o.range.clone()).collect::<Vec<_>>(), ranges, "{what}");
                assert!(toc.not_understood.is_empty(), "{what}: {:?}", toc.not_understood);
                assert_eq!(toc.len, data.len() as u64);
                for (i, (o, (_, text))) in toc.objects.iter().zip(pieces).enumerate() {
                    let mut keyed = blake3::Hasher::new_keyed(&KEY);
                    keyed.update(if i == 0 { bom(enc) } else { b"" });
                    keyed.update(&encode(&redate(text, ""), enc));
                    assert_eq!(o.digest, *keyed.finalize().as_bytes(), "{what}: {}", o.name);
                }
            }
        }
    }
}

/// Encodings in which SSMS saves scripts, each with and without a byte-order mark among them.
const SAVED: [Enc; 3] = [Enc::Utf8, Enc::Utf16Le, Enc::Utf16Be];

/// Piece sizes that split every header somewhere, and a whole script at once.
const SIZES: [&[usize]; 4] = [&[1], &[3], &[7], &[1 << 20]];

/// The same objects scripted at other times, in other locales' date formats: every object's
/// digest is the same (and its range still all its bytes), in UTF-8 and UTF-16 LE and BE, fed in
/// pieces of any size.
#[test]
fn script_dates_are_left_out_of_digests() {
    let two_tables = [SCRIPT_TABLE_AS, NEXT_TABLE_AS].concat();
    let samples = [("2019", SSMS_2019), ("2008", SSMS_2008), ("script table as", SCRIPT_TABLE_AS), ("two tables", &two_tables)];
    for (sample, pieces) in samples {
        for enc in SAVED {
            let (data, _) = script(pieces, enc);
            let digests = |toc: &Toc| toc.objects.iter().map(|o| o.digest).collect::<Vec<_>>();
            let first = digests(&parse(&data, &[1 << 20]));
            for later in [" 1/2/2027 3:04:05 PM ", " 2027/1/2 下午 03:04:05 ", " 02.01.2027 15:04:05 ", ""] {
                let redated = remade(pieces, |_, t| redate(t, later));
                let (other, ranges) = script(&borrowed(&redated), enc);
                assert_ne!(data, other);
                for sizes in SIZES {
                    let what = format!("{sample} in {enc:?} dated {later:?}, pieces of {sizes:?}");
                    assert_eq!(digests(&parse(&data, sizes)), first, "{what}");
                    let toc = parse(&other, sizes);
                    assert_eq!(digests(&toc), first, "{what}");
                    assert_eq!(toc.objects.iter().map(|o| o.range.clone()).collect::<Vec<_>>(), ranges, "{what}");
                }
            }
        }
    }
}

/// What is not an SSMS header's script date still counts, dates changed or not: a column's type,
/// a header's date inside a procedure's body or inside a value (their text), the header's own
/// stars. Only the object changed has another digest.
#[test]
fn a_change_outside_the_script_date_changes_its_objects_digest() {
    let changes = [
        ("Orders", Kind::Table, "[Qty] [int]", "[Qty] [bigint]"),
        ("Touch", Kind::Function, "2/2/2000 12:00:00 AM", "2/3/2000 12:00:00 AM"),
        ("Customers", Kind::TableData, "1/1/2000 12:00:00 AM", "1/1/2000 12:00:01 AM"),
        ("Total", Kind::Function, "AM ******/", "AM *****/"),
    ];
    for (name, kind, from, to) in changes {
        let at = SSMS_2019.iter().position(|p| p.0.0 == kind && p.0.4 == name).expect(name);
        assert!(SSMS_2019[at].1.contains(from), "{name}");
        for later in [None, Some(" 1/2/2027 3:04:05 PM ")] {
            let changed = remade(SSMS_2019, |i, t| {
                let t = if i == at { t.replacen(from, to, 1) } else { t.to_string() };
                later.map_or_else(|| t.clone(), |d| redate(&t, d))
            });
            for enc in SAVED {
                let (a, _) = script(SSMS_2019, enc);
                let (b, _) = script(&borrowed(&changed), enc);
                let first = parse(&a, &[1 << 20]);
                for sizes in SIZES {
                    let toc = parse(&b, sizes);
                    let what = format!("{name} in {enc:?}, dates {later:?}, pieces of {sizes:?}");
                    assert_eq!(seen(&toc), seen(&first), "{what}");
                    for (i, (x, y)) in first.objects.iter().zip(&toc.objects).enumerate() {
                        assert_eq!(x.digest == y.digest, i != at, "{what}: object {i}, {}", x.name);
                    }
                }
            }
        }
    }
}

#[test]
fn a_table_cut_out_of_the_script_is_its_create_table_and_nothing_else() {
    let (data, _) = script(SSMS_2019, Enc::Utf16Le);
    let toc = parse(&data, &[4096]);
    let orders = toc.objects.iter().find(|o| o.kind == Kind::Table && o.name == "Orders").unwrap();
    let bytes = &data[orders.range.start as usize..orders.range.end as usize];
    let units: Vec<u16> = bytes.chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).unwrap();
    assert!(text.starts_with("/****** Object:  Table [dbo].[Orders]") && text.ends_with(") ON [PRIMARY]\r\nGO\r\n"), "{text}");
    assert_eq!(text.matches("CREATE TABLE").count(), 1);
}

/// Lines that would end a batch or open an object outside strings and comments, inside them.
#[test]
fn go_and_headers_inside_strings_comments_and_bodies_split_nothing() {
    let body = "CREATE PROCEDURE [dbo].[p] AS\nSELECT 'x\nGO\n', [a\nGO\n]\n/*\nGO\n*/\nINSERT [dbo].[T] VALUES (1)\n\
                /****** Object:  Table [dbo].[Fake]    Script Date: 12/7/2026 10:00:00 AM ******/\nSELECT 1 -- \nGO\n";
    let text = format!("USE [Shop]\nGO\n/****** Object:  StoredProcedure [dbo].[p]    Script Date: 12/7/2026 10:00:00 AM ******/\n{body}");
    for enc in ENCODINGS {
        let (data, _) = script(&[((Kind::Preamble, "", None, None, "", PRE, None), &text)], enc);
        let toc = parse(&data, &[5]);
        let kinds: Vec<(Kind, &str)> = toc.objects.iter().map(|o| (o.kind, o.name.as_str())).collect();
        assert_eq!(kinds, [(Kind::Preamble, ""), (Kind::Function, "p")], "{enc:?}");
        assert!(toc.not_understood.is_empty(), "{enc:?}");
    }
}

#[test]
fn a_script_cut_short_says_so_and_a_cut_row_is_not_counted() {
    let (data, ranges) = script(SSMS_2019, Enc::Utf16Le);
    let in_string = (ranges[10].start + ranges[10].end) / 2; // inside the value that holds a GO line
    for cut in [in_string, in_string + 1] {
        let toc = parse(&data[..cut as usize], &[333]);
        let last = toc.objects.last().unwrap();
        assert_eq!((last.kind, last.name.as_str(), last.rows), (Kind::TableData, "Customers", Some(1)), "cut at {cut}");
        assert_eq!(toc.not_understood, std::slice::from_ref(&last.range), "cut at {cut}");
    }
    // Cut after a batch's GO: whole objects, nothing not understood.
    let toc = parse(&data[..ranges[11].end as usize], &[333]);
    assert!(toc.not_understood.is_empty());
    // Cut in a batch, outside any string: its GO never came.
    let toc = parse(&data[..ranges[6].end as usize - 8], &[333]);
    assert_eq!(toc.not_understood.len(), 1);
}

#[test]
fn lines_longer_than_any_head_still_open_objects_and_count_rows() {
    let long = "ü".repeat(3 * toc::MAX_LINE_HEAD);
    let text = format!(
        "/****** Object:  Table [dbo].[t]    Script Date: 12/7/2026 10:00:00 AM ******/\nCREATE TABLE [dbo].[t] ([v] nvarchar(max))\nGO\n\
         -- {long}\nINSERT [dbo].[t] ([v]) VALUES (N'{long}')\nGO\nINSERT [dbo].[t] ([v]) VALUES (N'{long}'), (N'x')\nGO\n\
         INSERT [dbo].[{}] ([v]) VALUES (1)\nGO\n",
        "u".repeat(5000)
    );
    for enc in [Enc::Utf16Le, Enc::Utf8] {
        let (data, _) = script(&[((Kind::Preamble, "", None, None, "", PRE, None), &text)], enc);
        let toc = parse(&data, &[777_777]);
        let got: Vec<(Kind, Option<u64>)> = toc.objects.iter().map(|o| (o.kind, o.rows)).collect();
        // The preamble is the byte-order mark; a name longer than a line's head is read no
        // further: its rows go on in the table's.
        assert_eq!(got[got.len() - 2..], [(Kind::Table, None), (Kind::TableData, Some(4))], "{enc:?}");
        let preamble = toc.of_kind(Kind::Preamble).map(|o| o.range.clone()).next();
        assert_eq!(preamble.unwrap_or_default(), 0..bom(enc).len() as u64, "{enc:?}");
        assert!(toc.not_understood.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Pieces of any sizes give the same table of contents.
    #[test]
    fn pieces_of_any_size_give_the_same_toc(sizes in proptest::collection::vec(1usize..400, 1..16), enc in 0usize..5) {
        let (data, _) = script(SSMS_2019, ENCODINGS[enc]);
        prop_assert_eq!(parse(&data, &sizes), parse(&data, &[1 << 20]));
    }

    /// Any bytes, after any part of a script (odd lengths of UTF-16 and lone surrogates
    /// included): no panic, and the objects cover the stream.
    #[test]
    fn any_bytes_give_a_toc_that_covers_them(tail in proptest::collection::vec(any::<u8>(), 0..3000), cut in 0usize..6000,
                                             enc in 0usize..5, size in 1usize..64) {
        let (mut data, _) = script(SSMS_2019, ENCODINGS[enc]);
        data.truncate(cut.min(data.len()));
        data.extend_from_slice(&tail);
        let toc = parse(&data, &[size]);
        prop_assert_eq!(toc.len, data.len() as u64);
        let mut at = 0;
        for o in &toc.objects {
            prop_assert_eq!(o.range.start, at);
            at = o.range.end;
        }
        prop_assert_eq!(at, data.len() as u64);
    }
}
