//! pg_dump custom format archives (`-Fc`), written here as pg_dump 13-17 lays them out, through
//! the table-of-contents parser.

mod pg_custom_archive;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use pg_custom_archive::{Archive, Data, Entry, copy_data, entry};
use proptest::prelude::*;
use toc::pg_custom::PgCustom;
use toc::{Kind, Section, Toc, TocParser};

/// The largest single allocation of this test binary, to show a huge declared length allocates
/// nothing of its size.
struct Counting;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, size: usize) -> *mut u8 {
        LARGEST.fetch_max(size, Ordering::Relaxed);
        unsafe { System.realloc(p, l, size) }
    }
}
#[global_allocator]
static ALLOC: Counting = Counting;

const KEY: [u8; 32] = [7; 32];

/// The entries pg_dump writes for a small application schema; `orders` holds `rows` (and
/// `note` in its first row).
fn entries(rows: usize, note: &str) -> Vec<Entry> {
    let order_rows: Vec<String> = (0..rows).map(|i| if i == 0 { format!("0\t{note}") } else { format!("{i}\t\\\\.") }).collect();
    let order_rows: Vec<&str> = order_rows.iter().map(String::as_str).collect();
    let mut blob = entry(40, "BLOBS", None, "BLOBS", 3, "");
    blob.data = Some(Data::Blobs(vec![(16420, vec![b"hello".to_vec()]), (16421, vec![])]));
    blob.owner = None;
    vec![
        entry(1, "ENCODING", None, "ENCODING", 2, "SET client_encoding = 'UTF8';\n"),
        entry(2, "SCHEMA", None, "app", 2, "CREATE SCHEMA app;\n"),
        entry(3, "FUNCTION", Some("app"), "touch()", 2, "CREATE FUNCTION app.touch() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"),
        entry(4, "TABLE", Some("app"), "orders", 2, "CREATE TABLE app.orders (id integer, note text);\n"),
        entry(5, "TABLE", Some("app"), "Order Items; v2 \u{e9}\u{20ac}", 2, "CREATE TABLE app.\"Order Items; v2 \u{e9}\u{20ac}\" (id integer, note text);\n"),
        entry(6, "SEQUENCE", Some("app"), "orders_id_seq", 2, "CREATE SEQUENCE app.orders_id_seq;\n"),
        entry(7, "VIEW", Some("app"), "open_orders", 2, "CREATE VIEW app.open_orders AS SELECT id FROM app.orders;\n"),
        copy_data(20, "app", "orders", &order_rows),
        copy_data(21, "app", "Order Items; v2 \u{e9}\u{20ac}", &["1\tx", "2\t\\N"]),
        entry(22, "SEQUENCE SET", Some("app"), "orders_id_seq", 3, "SELECT pg_catalog.setval('app.orders_id_seq', 42, true);\n"),
        blob,
        entry(30, "CONSTRAINT", Some("app"), "orders orders_pkey", 4, "ALTER TABLE ONLY app.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n"),
        entry(31, "INDEX", Some("app"), "orders_note_idx", 4, "CREATE INDEX orders_note_idx ON app.orders USING btree (note);\n"),
        entry(32, "FK CONSTRAINT", Some("app"), "Order Items; v2 \u{e9}\u{20ac} items_fk", 4, "ALTER TABLE ONLY app.\"Order Items; v2 \u{e9}\u{20ac}\" ADD CONSTRAINT items_fk FOREIGN KEY (id) REFERENCES app.orders(id);\n"),
        Entry { owner: None, ..entry(33, "ACL", Some("app"), "TABLE orders", 1, "GRANT SELECT ON TABLE app.orders TO reader;\n") },
    ]
}

fn parse_in(data: &[u8], pieces: &[usize]) -> Toc {
    let mut p = Box::new(PgCustom::new(KEY));
    let mut taken = Vec::new();
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = pieces.get(i % pieces.len().max(1)).copied().unwrap_or(data.len()).clamp(1, data.len() - at);
        p.feed(&data[at..at + n]);
        taken.extend(p.take_objects());
        at += n;
        i += 1;
    }
    let mut toc = p.finish();
    taken.append(&mut toc.objects);
    toc.objects = taken;
    covers(&toc);
    toc
}

fn parse(data: &[u8]) -> Toc {
    parse_in(data, &[])
}

/// The objects are in stream order and cover it without gaps.
fn covers(toc: &Toc) {
    let mut at = 0;
    for o in &toc.objects {
        assert_eq!(o.range.start, at, "{toc:#?}");
        assert!(o.range.end >= o.range.start);
        at = o.range.end;
    }
    assert_eq!(at, toc.len);
    assert!(toc.not_understood.iter().all(|r| r.end == toc.len && r.start <= r.end));
}

type Row<'a> = (Kind, &'a str, Option<&'a str>, &'a str, Option<&'a str>, Section, Option<u64>);

fn rows_of(toc: &Toc) -> Vec<Row<'_>> {
    toc.objects.iter().map(|o| (o.kind, o.tool_kind.as_str(), o.schema.as_deref(), o.name.as_str(), o.owner.as_deref(), o.section, o.rows)).collect()
}

const ITEMS: &str = "Order Items; v2 \u{e9}\u{20ac}";

#[test]
fn entries_and_data_blocks_become_objects() {
    use Section::*;
    let (data, blocks) = Archive::new(entries(3, "first")).write();
    let toc = parse(&data);
    assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
    let shop = Some("shop");
    let app = Some("app");
    let want: Vec<Row> = vec![
        (Kind::Preamble, "", None, "", None, PreData, None),
        (Kind::Other, "ENCODING", None, "ENCODING", shop, PreData, None),
        (Kind::Schema, "SCHEMA", None, "app", shop, PreData, None),
        (Kind::Function, "FUNCTION", app, "touch()", shop, PreData, None),
        (Kind::Table, "TABLE", app, "orders", shop, PreData, None),
        (Kind::Table, "TABLE", app, ITEMS, shop, PreData, None),
        (Kind::Sequence, "SEQUENCE", app, "orders_id_seq", shop, PreData, None),
        (Kind::View, "VIEW", app, "open_orders", shop, PreData, None),
        (Kind::SequenceValue, "SEQUENCE SET", app, "orders_id_seq", shop, Data, None),
        (Kind::Constraint, "CONSTRAINT", app, "orders orders_pkey", shop, PostData, None),
        (Kind::Index, "INDEX", app, "orders_note_idx", shop, PostData, None),
        (Kind::ForeignKey, "FK CONSTRAINT", app, "Order Items; v2 \u{e9}\u{20ac} items_fk", shop, PostData, None),
        (Kind::Grant, "ACL", app, "TABLE orders", None, PostData, None),
        (Kind::TableData, "TABLE DATA", app, "orders", shop, Data, Some(3)),
        (Kind::TableData, "TABLE DATA", app, ITEMS, shop, Data, Some(2)),
        (Kind::Other, "BLOBS", None, "BLOBS", None, Data, None),
    ];
    assert_eq!(rows_of(&toc), want);
    assert!(toc.objects.iter().all(|o| o.database.is_none()));
    // Data objects are their blocks, the last up to the end.
    let data_objects: Vec<_> = toc.objects.iter().filter(|o| o.section == Data && o.kind != Kind::SequenceValue).collect();
    for (o, (_, start)) in data_objects.iter().zip(&blocks) {
        assert_eq!(o.range.start, *start as u64, "{}", o.name);
    }
    assert_eq!(toc.objects.last().unwrap().range.end, data.len() as u64);
}

#[test]
fn versions_pg_dump_13_to_18_write_read_alike() {
    let names = |v: (u8, u8, u8)| {
        let (data, _) = Archive { version: v, ..Archive::new(entries(2, "x")) }.write();
        let toc = parse(&data);
        assert!(toc.not_understood.is_empty(), "{v:?}");
        toc.objects.iter().map(|o| (o.kind, o.name.clone(), o.rows)).collect::<Vec<_>>()
    };
    let v14 = names((1, 14, 0));
    assert_eq!(v14.len(), 16);
    for v in [(1, 12, 0), (1, 13, 0), (1, 15, 0), (1, 16, 0), (1, 16, 1)] {
        assert_eq!(names(v), v14, "{v:?}");
    }
    // Newer (fields this reader does not know) or older: not understood, from the start.
    for v in [(1, 17, 0), (2, 0, 0), (1, 11, 0)] {
        let (data, _) = Archive { version: v, ..Archive::new(entries(2, "x")) }.write();
        let toc = parse(&data);
        assert_eq!(toc.not_understood, vec![0..data.len() as u64], "{v:?}");
        assert_eq!(toc.objects.len(), 1);
    }
    // Not an archive at all, or another format (the directory format's toc.dat says 5).
    let toc = parse(b"--\n-- PostgreSQL database dump\n--\n");
    assert_eq!(toc.not_understood, vec![0..toc.len]);
    let (mut data, _) = Archive::new(entries(1, "x")).write();
    data[10] = 5;
    assert_eq!(parse(&data).not_understood, vec![0..data.len() as u64]);
}

#[test]
fn digests_leave_out_what_differs_between_dumps_of_the_same_data() {
    let base = Archive::new(entries(5, "first"));
    let digests = |a: &Archive| parse(&a.write().0).objects.iter().map(|o| (o.name.clone(), o.kind, o.digest)).collect::<Vec<_>>();
    let reference = digests(&base);
    // Another time, offsets set (written to a file), other dump ids, dependencies and OIDs.
    let mut again = Archive { time: [1, 2, 3, 4, 5, 127, 1], offsets: true, ..base.clone() };
    for e in &mut again.entries {
        e.id += 1000;
        e.oid += 77;
        e.deps = vec![e.id - 1, 3];
    }
    assert_eq!(digests(&again), reference);
    // A changed row changes that table's data, nothing else.
    let changed = digests(&Archive::new(entries(5, "second")));
    let differ: Vec<_> = reference.iter().zip(&changed).filter(|(a, b)| a != b).map(|(a, _)| (a.0.as_str(), a.1)).collect();
    assert_eq!(differ, [("orders", Kind::TableData)]);
    // A changed definition changes that object.
    let mut view = base.clone();
    view.entries[6].defn = "CREATE VIEW app.open_orders AS SELECT 1;\n".into();
    let changed = digests(&view);
    let differ: Vec<_> = reference.iter().zip(&changed).filter(|(a, b)| a != b).map(|(a, _)| a.0.as_str()).collect();
    assert_eq!(differ, ["open_orders"]);
    // The same payload cut into other chunks is the same data.
    let mut rechunked = base.clone();
    if let Some(Data::Chunks(c)) = &mut rechunked.entries[7].data {
        let all = c.concat();
        *c = all.chunks(3).map(<[u8]>::to_vec).collect();
    }
    assert_eq!(digests(&rechunked), reference);
    // Different keys, different digests.
    let mut p = PgCustom::new([8; 32]);
    p.feed(&base.write().0);
    assert_ne!(Box::new(p).finish().objects[1].digest, parse(&base.write().0).objects[1].digest);
}

#[test]
fn rows_of_copy_inserts_and_compressed_data() {
    let mut es = entries(4, "x");
    // --inserts: no COPY statement, INSERT statements in small chunks, one of two rows.
    es[8] = Entry {
        copy: None,
        data: Some(Data::Chunks(["INSERT INTO app.\"it\" VALUES ", "(1, 'a;b'),", "\n\t(2, 'c')", ";\n", "INSERT INTO app.\"it\" VALUES (3, ');(');\n"].map(|s| s.as_bytes().to_vec()).to_vec())),
        ..es[8].clone()
    };
    let (data, _) = Archive::new(es.clone()).write();
    let rows: Vec<_> = parse(&data).of_kind(Kind::TableData).map(|o| o.rows).collect();
    assert_eq!(rows, [Some(4), Some(3)]);
    // An empty table: rows 0, whether the block holds the end marker or nothing at all.
    let mut empty = es.clone();
    empty[7].data = Some(Data::Chunks(vec![b"\\.\n\n\n".to_vec()]));
    empty[8].data = Some(Data::Chunks(vec![]));
    let rows: Vec<_> = parse(&Archive::new(empty).write().0).of_kind(Kind::TableData).map(|o| o.rows).collect();
    assert_eq!(rows, [Some(0), Some(0)]);
    // Compressed (gzip level -1 before 1.15; an algorithm byte after): rows unknown.
    for (version, compression) in [((1, 14, 0), -1), ((1, 14, 0), 6), ((1, 15, 0), 1), ((1, 16, 0), 3)] {
        let mut es = es.clone();
        es[7].data = Some(Data::Chunks(vec![vec![0x78, 0x9c, 1, 2, 3], vec![4, 5]]));
        let (data, _) = Archive { version, compression, ..Archive::new(es) }.write();
        let toc = parse(&data);
        assert!(toc.not_understood.is_empty());
        let rows: Vec<_> = toc.of_kind(Kind::TableData).map(|o| o.rows).collect();
        assert_eq!(rows, [None, None], "{version:?} {compression}");
    }
    // An algorithm this reader does not know.
    let (data, _) = Archive { version: (1, 16, 0), compression: 4, ..Archive::new(es) }.write();
    assert_eq!(parse(&data).not_understood, vec![0..data.len() as u64]);
}

#[test]
fn pieces_of_one_byte_read_as_the_whole() {
    let (data, _) = Archive { version: (1, 16, 0), ..Archive::new(entries(6, "a\\tb")) }.write();
    assert_eq!(parse_in(&data, &[1]), parse(&data));
    assert_eq!(parse_in(&data, &[1, 2, 3, 5, 8, 13]), parse(&data));
}

proptest! {
    #[test]
    fn pieces_of_any_size_read_as_the_whole(pieces in prop::collection::vec(1usize..200, 1..20), rows in 0usize..30) {
        let (data, _) = Archive::new(entries(rows, "n\u{e9}")).write();
        prop_assert_eq!(parse_in(&data, &pieces), parse(&data));
    }

    #[test]
    fn garbage_never_panics(noise in prop::collection::vec(any::<u8>(), 0..400), at in 0usize..3000, pieces in prop::collection::vec(1usize..50, 1..5)) {
        let (mut data, _) = Archive::new(entries(3, "x")).write();
        let at = at.min(data.len());
        data.splice(at..(at + noise.len()).min(data.len()), noise);
        let toc = parse_in(&data, &pieces);
        prop_assert_eq!(toc.len, data.len() as u64);
    }
}

#[test]
fn every_prefix_is_not_understood_and_never_panics() {
    let (data, _) = Archive::new(entries(2, "x")).write();
    let whole = parse(&data);
    for n in 0..data.len() {
        let toc = parse(&data[..n]);
        assert_eq!(toc.len, n as u64);
        assert!(!toc.not_understood.is_empty(), "a prefix of {n} bytes of {}", data.len());
        // What was read whole is as in the whole archive (but the last object, cut short).
        let known = toc.objects.len().saturating_sub(1);
        for (a, b) in toc.objects[..known].iter().zip(&whole.objects) {
            assert_eq!((a.kind, &a.name, &a.range), (b.kind, &b.name, &b.range), "prefix {n}");
        }
    }
}

#[test]
fn flipped_bytes_never_panic() {
    let (data, _) = Archive::new(entries(2, "x")).write();
    for i in 0..data.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut d = data.clone();
            d[i] ^= flip;
            let toc = parse(&d);
            assert_eq!(toc.len, d.len() as u64);
        }
    }
}

#[test]
fn bytes_after_the_archive_are_not_understood() {
    let (mut data, _) = Archive::new(entries(2, "x")).write();
    let end = data.len() as u64;
    data.extend_from_slice(b"\x01trailing");
    let toc = parse(&data);
    assert_eq!(toc.not_understood, vec![end..data.len() as u64]);
    // A block of no entry, or of an unknown type.
    let (mut data, blocks) = Archive::new(entries(2, "x")).write();
    data[blocks[1].1 + 1] = 99; // the second block's dump id
    assert_eq!(parse(&data).not_understood, vec![blocks[1].1 as u64..data.len() as u64]);
    let (mut data, _) = Archive::new(entries(2, "x")).write();
    data[blocks[1].1] = 2; // BLK_BLOB, which pg_dump no longer writes
    assert_eq!(parse(&data).not_understood, vec![blocks[1].1 as u64..data.len() as u64]);
}

#[test]
fn huge_lengths_allocate_nothing_of_their_size() {
    let (data, _) = Archive::new(entries(1, "x")).write();
    // The function's definition: a length of nearly 1 GiB, and the archive cut soon after.
    let defn = b"CREATE FUNCTION app.touch()";
    let at = data.windows(defn.len()).position(|w| w == defn).unwrap() - 5;
    let mut d = data[..at].to_vec();
    d.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0x3f]);
    d.extend(std::iter::repeat_n(b'x', 8 << 20));
    let mut p = Box::new(PgCustom::new(KEY));
    d.chunks(64 << 10).for_each(|c| p.feed(c));
    let toc = p.finish();
    assert!(LARGEST.load(Ordering::Relaxed) < 64 << 20, "largest allocation {}", LARGEST.load(Ordering::Relaxed));
    assert_eq!(toc.objects.last().unwrap().kind, Kind::Schema); // the function was cut short
    assert!(!toc.not_understood.is_empty());
    // Beyond 1 GiB: damaged, even with bytes enough after it.
    let mut d = data.clone();
    d[at..at + 5].copy_from_slice(&[0, 0x01, 0, 0, 0x40]);
    let toc = parse(&d);
    assert_eq!(toc.not_understood.len(), 1);
    assert!(toc.not_understood[0].start < at as u64);
}

#[test]
fn long_strings_stream_and_names_are_capped() {
    let mut es = entries(1, "x");
    es[3].defn = format!("CREATE TABLE app.orders ({});\n", "c integer, ".repeat(300_000));
    es[4].tag = "n".repeat(100_000);
    let (data, _) = Archive::new(es).write();
    let toc = parse_in(&data, &[4096, 1, 77]);
    assert!(toc.not_understood.is_empty());
    assert_eq!(toc.objects[5].name.len(), 1 << 16);
    assert_eq!(toc, parse(&data));
}
