//! pg_dump plain dumps, as pg_dump 15-17 writes them, through the table-of-contents parser.

use proptest::prelude::*;
use toc::pg_plain::PgPlain;
use toc::{Kind, Section, Toc, TocParser};

const KEY: [u8; 32] = [7; 32];

fn block(name: &str, kind: &str, schema: &str, data: bool) -> String {
    let prefix = if data { "Data for Name" } else { "Name" };
    format!("--\n-- {prefix}: {name}; Type: {kind}; Schema: {schema}; Owner: shop\n--\n\n")
}

/// A dump with every kind of object pg_dump writes for a small application schema; `orders` holds
/// `rows` rows (COPY), `notes` two rows as INSERT statements, one spanning lines.
fn dump(rows: u32, note: &str) -> String {
    let mut d = String::from(
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict X7k\n\n-- Dumped from database version 15.8\n-- Dumped by pg_dump version 15.8\n\n\
         SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\nSELECT pg_catalog.set_config('search_path', '', false);\n\n",
    );
    d += &block("app", "SCHEMA", "-", false);
    d += "CREATE SCHEMA app;\n\n\nALTER SCHEMA app OWNER TO shop;\n\n";
    d += &block("touch()", "FUNCTION", "app", false);
    d += "CREATE FUNCTION app.touch() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $fn$\n--\n-- Name: fake; Type: TABLE; Schema: app; Owner: shop\n--\nBEGIN NEW.at := now(); RETURN NEW; END $fn$;\n\n";
    d += &block("orders", "TABLE", "app", false);
    d += "CREATE TABLE app.orders (\n    id integer NOT NULL,\n    note text\n);\n\n";
    d += "COMMENT ON TABLE app.orders IS 'one\n--\n-- Name: fake; Type: TABLE; Schema: app; Owner: shop\n--\ntwo';\n\n";
    d += &block("Order Items; v2", "TABLE", "app", false);
    d += "CREATE TABLE app.\"Order Items; v2\" (\n    id integer\n);\n\n";
    d += &block("orders_id_seq", "SEQUENCE", "app", false);
    d += "CREATE SEQUENCE app.orders_id_seq\n    START WITH 1;\n\n";
    d += &block("orders id", "DEFAULT", "app", false);
    d += "ALTER TABLE ONLY app.orders ALTER COLUMN id SET DEFAULT nextval('app.orders_id_seq'::regclass);\n\n";
    d += &block("open_orders", "VIEW", "app", false);
    d += "CREATE VIEW app.open_orders AS\n SELECT orders.id FROM app.orders;\n\n";
    d += &block("orders", "TABLE DATA", "app", true);
    d += "COPY app.orders (id, note) FROM stdin;\n";
    for i in 0..rows {
        // A row whose text starts with `--` and holds a block line must not open an object.
        d += &match i {
            1 => format!("{i}\t-- Name: x; Type: TABLE; Schema: app; Owner: shop\n"),
            // A NULL id starts the line with a backslash; an escaped `\.` is no end marker.
            2 => "\\N\t\\\\.\n".to_string(),
            _ => format!("{i}\t{note}\n"),
        };
    }
    d += "\\.\n\n\n";
    d += &block("Order Items; v2", "TABLE DATA", "app", true);
    d += "INSERT INTO app.\"Order Items; v2\" VALUES (1);\nINSERT INTO app.\"Order Items; v2\" VALUES (2), (3);\n";
    d += "INSERT INTO app.\"Order Items; v2\" VALUES ('two\n--\n-- Name: fake; Type: TABLE; Schema: app; Owner: shop\n--\nlines');\n\n\n";
    d += &block("orders_id_seq", "SEQUENCE SET", "app", false);
    d += &format!("SELECT pg_catalog.setval('app.orders_id_seq', {rows}, true);\n\n\n");
    d += &block("orders orders_pkey", "CONSTRAINT", "app", false);
    d += "ALTER TABLE ONLY app.orders\n    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n\n\n";
    d += &block("orders_note_idx", "INDEX", "app", false);
    d += "CREATE INDEX orders_note_idx ON app.orders USING btree (note);\n\n\n";
    d += &block("orders orders_touch", "TRIGGER", "app", false);
    d += "CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();\n\n\n";
    d += &block("Order Items; v2 items_order_fk", "FK CONSTRAINT", "app", false);
    d += "ALTER TABLE ONLY app.\"Order Items; v2\"\n    ADD CONSTRAINT items_order_fk FOREIGN KEY (id) REFERENCES app.orders(id);\n\n\n";
    d += &block("TABLE orders", "ACL", "app", false);
    d += "GRANT SELECT ON TABLE app.orders TO reporting;\n\n\n";
    d += "--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict X7k\n\n";
    d
}

fn parse(data: &[u8], piece: usize) -> Toc {
    let mut p: Box<dyn TocParser> = Box::new(PgPlain::new(KEY));
    for c in data.chunks(piece.max(1)) {
        p.feed(c);
    }
    p.finish()
}

fn names(toc: &Toc) -> Vec<(Kind, String, Option<u64>)> {
    toc.objects.iter().map(|o| (o.kind, o.name.clone(), o.rows)).collect()
}

#[test]
fn every_object_is_found_with_its_kind_name_rows_and_section() {
    let d = dump(5, "a note");
    let toc = parse(d.as_bytes(), 1 << 20);
    assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
    let expected = [
        (Kind::Preamble, "", None),
        (Kind::Schema, "app", None),
        (Kind::Function, "touch()", None),
        (Kind::Table, "orders", None),
        (Kind::Table, "Order Items; v2", None),
        (Kind::Sequence, "orders_id_seq", None),
        (Kind::Default, "orders id", None),
        (Kind::View, "open_orders", None),
        (Kind::TableData, "orders", Some(5)),
        (Kind::TableData, "Order Items; v2", Some(4)),
        (Kind::SequenceValue, "orders_id_seq", None),
        (Kind::Constraint, "orders orders_pkey", None),
        (Kind::Index, "orders_note_idx", None),
        (Kind::Trigger, "orders orders_touch", None),
        (Kind::ForeignKey, "Order Items; v2 items_order_fk", None),
        (Kind::Grant, "TABLE orders", None),
        (Kind::Trailer, "", None),
    ];
    let got = names(&toc);
    assert_eq!(got, expected.iter().map(|(k, n, r)| (*k, n.to_string(), *r)).collect::<Vec<_>>());
    let schema_of = |i: usize| toc.objects[i].schema.clone();
    assert_eq!((schema_of(1), schema_of(3)), (None, Some("app".into())), "`-` is no schema");
    let sections: Vec<Section> = toc.objects.iter().map(|o| o.section).collect();
    assert_eq!(&sections[..8], &[Section::PreData; 8]);
    assert_eq!(&sections[8..11], &[Section::Data; 3]);
    assert_eq!(&sections[11..15], &[Section::PostData; 4]);
    // The ranges cover the stream without gap or overlap, each from its block's first `--`.
    assert_eq!(toc.len, d.len() as u64);
    let mut at = 0;
    for o in &toc.objects {
        assert_eq!(o.range.start, at, "{o:?}");
        at = o.range.end;
        if o.kind != Kind::Preamble {
            assert!(d[o.range.start as usize..].starts_with("--\n-- "), "{o:?}");
        }
    }
    assert_eq!(at, d.len() as u64);
}

#[test]
fn digests_tell_which_objects_changed() {
    let (a, b) = (dump(5, "a note"), dump(5, "a changed note"));
    let (ta, tb) = (parse(a.as_bytes(), 4096), parse(b.as_bytes(), 4096));
    let changed: Vec<&str> = ta.objects.iter().zip(&tb.objects).filter(|(x, y)| x.digest != y.digest).map(|(x, _)| x.name.as_str()).collect();
    assert_eq!(changed, ["orders"], "only the table data whose rows changed");
    let o = ta.objects.iter().find(|o| o.kind == Kind::TableData).unwrap();
    let mut keyed = blake3::Hasher::new_keyed(&KEY);
    keyed.update(&a.as_bytes()[o.range.start as usize..o.range.end as usize]);
    assert_eq!(o.digest, *keyed.finalize().as_bytes(), "the digest is the keyed hash of the object's bytes");
    let other = { let mut p = PgPlain::new([8; 32]); p.feed(a.as_bytes()); Box::new(p).finish() };
    assert_ne!(other.objects[3].digest, ta.objects[3].digest, "another key, other digests");
}

#[test]
fn the_random_restrict_key_of_each_dump_changes_no_digest() {
    let a = dump(5, "same");
    let b = a.replace("\\restrict X7k", "\\restrict Q9zLm2");
    assert_ne!(a, b);
    let digests = |d: &str| parse(d.as_bytes(), 7).objects.iter().map(|o| o.digest).collect::<Vec<_>>();
    assert_eq!(digests(&a), digests(&b));
}

#[test]
fn a_dump_cut_inside_table_data_says_so() {
    let d = dump(50, "note");
    let cut = d.find("\\.\n").unwrap() - 20;
    let toc = parse(&d.as_bytes()[..cut], 1000);
    let last = toc.objects.last().unwrap();
    assert_eq!((last.kind, toc.len), (Kind::TableData, cut as u64));
    assert_eq!(toc.not_understood, std::slice::from_ref(&last.range));
}

#[test]
fn lines_longer_than_what_is_kept_are_counted_and_hashed() {
    let long = "x".repeat(3 * toc::MAX_LINE_HEAD);
    let d = dump(3, &long);
    let toc = parse(d.as_bytes(), 777);
    assert_eq!(names(&toc)[8], (Kind::TableData, "orders".into(), Some(3)));
    // A comment line too long to be a block line is an ordinary line.
    let odd = d.replacen("SET statement_timeout", &format!("-- {long}\nSET statement_timeout"), 1);
    assert_eq!(names(&parse(odd.as_bytes(), 777)), names(&toc));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Pieces of any size give the same table of contents.
    #[test]
    fn pieces_of_any_size_give_the_same_toc(piece in 1usize..300) {
        let d = dump(7, "some text");
        prop_assert_eq!(parse(d.as_bytes(), piece), parse(d.as_bytes(), 1 << 20));
    }

    /// Any bytes: no panic, and the objects still cover the stream.
    #[test]
    fn any_bytes_give_a_toc_that_covers_them(data in proptest::collection::vec(any::<u8>(), 0..4000), piece in 1usize..64, cut in 0usize..3000) {
        let mut d = dump(2, "n").into_bytes();
        d.truncate(cut.min(d.len()));
        d.extend_from_slice(&data);
        let toc = parse(&d, piece);
        prop_assert_eq!(toc.len, d.len() as u64);
        let mut at = 0;
        for o in &toc.objects {
            prop_assert_eq!(o.range.start, at);
            at = o.range.end;
        }
        prop_assert_eq!(at, d.len() as u64);
    }
}

/// A dump of the tables `(name, COPY line, rows)`, each with its definition and data blocks.
fn tables(list: &[(&str, String, u32)]) -> String {
    let mut d = String::from("--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n");
    // pg_dump writes a newline of a name as a space in its block lines.
    for (name, _, _) in list {
        d += &block(&name.replace('\n', " "), "TABLE", "public", false);
        d += "CREATE TABLE public.t (v text);\n\n";
    }
    for (name, copy, rows) in list {
        d += &block(&name.replace('\n', " "), "TABLE DATA", "public", true);
        d += copy;
        for i in 0..*rows {
            d += &format!("{i}\n");
        }
        d += "\\.\n\n\n";
    }
    d + "--\n-- PostgreSQL database dump complete\n--\n\n"
}

fn rows_of(toc: &Toc) -> Vec<(String, Option<u64>)> {
    toc.of_kind(Kind::TableData).map(|o| (o.name.clone(), o.rows)).collect()
}

#[test]
fn wide_copy_lines_and_names_holding_newlines_still_start_table_data() {
    let wide: Vec<String> = (0..300).map(|i| format!("customer_attribute_{i:03}_value_with_a_long_descriptive_name")).collect();
    let d = tables(&[
        ("crm_wide", format!("COPY public.crm_wide ({}) FROM stdin;\n", wide.join(", ")), 2),
        ("a\nb", "COPY public.\"a\nb\" (v) FROM stdin;\n".into(), 3),
        ("it's", "COPY public.\"it's\" (v) FROM stdin;\n".into(), 4),
        ("orders", "COPY public.orders (v) FROM stdin;\n".into(), 5),
    ]);
    for piece in [1, 7, 4096, 1 << 20] {
        let toc = parse(d.as_bytes(), piece);
        assert_eq!(rows_of(&toc), [("crm_wide".into(), Some(2)), ("a b".into(), Some(3)), ("it's".into(), Some(4)), ("orders".into(), Some(5))], "pieces of {piece}");
        assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
    }
}

#[test]
fn a_name_holding_a_block_line_does_not_move_its_table_to_another_schema() {
    let name = "x; Type: TABLE; Schema: evil; Owner: postgres";
    let d = format!("--\n-- PostgreSQL database dump\n--\n\n--\n-- Name: {name}; Type: TABLE; Schema: public; Owner: shop\n--\n\nCREATE TABLE public.\"{name}\" (v int);\n\n");
    let toc = parse(d.as_bytes(), 1 << 20);
    let t = toc.of_kind(Kind::Table).next().unwrap();
    assert_eq!((t.schema.as_deref(), t.name.as_str(), t.owner.as_deref()), (Some("public"), name, Some("shop")));
}

#[test]
fn block_lines_are_read_however_the_names_are_spelled() {
    let mut d = String::from("--\n-- PostgreSQL database dump\n--\n\n");
    d += "--\n-- Name: y; Tablespace: z; Type: TABLE; Schema: public; Owner: shop\n--\n\nCREATE TABLE public.\"y; Tablespace: z\" (v int);\n\n";
    d += "--\n-- Name: owned; Type: TABLE; Schema: public; Owner: evil; Owner: bob\n--\n\nCREATE TABLE public.owned (v int);\n\n";
    d += "--\n-- Name: x; Type: y; Type: TABLE; Schema: public; Owner: shop; Tablespace: fast\n--\n\nCREATE TABLE public.\"x; Type: y\" (v int);\n\n";
    // A name holding a whole block line: its data block is still table data, and its rows never
    // swallow the next table's, whatever the block line made of it.
    let fake = "x; Type: TABLE; Schema: public; Owner: shop";
    d += &format!("--\n-- Data for Name: {fake}; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\nCOPY public.\"{fake}\" (v) FROM stdin;\nit's\n(\n\\.\n\n");
    d += "--\n-- Data for Name: after; Type: TABLE DATA; Schema: public; Owner: shop\n--\n\nCOPY public.after (v) FROM stdin;\n1\n2\n\\.\n\n";
    let toc = parse(d.as_bytes(), 1 << 20);
    type Seen<'a> = (Kind, &'a str, Option<&'a str>, Option<&'a str>, Option<u64>);
    let got: Vec<Seen> = toc.objects[1..].iter().map(|o| (o.kind, o.name.as_str(), o.schema.as_deref(), o.owner.as_deref(), o.rows)).collect();
    assert_eq!(got, [
        (Kind::Table, "y; Tablespace: z", Some("public"), Some("shop"), None),
        (Kind::Table, "owned", Some("public"), Some("evil; Owner: bob"), None),
        (Kind::Table, "x; Type: y", Some("public"), Some("shop"), None),
        (Kind::TableData, "x; Type: TABLE; Schema: public; Owner: shop", Some("public"), Some("shop"), Some(2)),
        (Kind::TableData, "after", Some("public"), Some("shop"), Some(2)),
    ]);
    assert!(toc.not_understood.is_empty());
}

#[test]
fn a_dump_cut_anywhere_inside_a_statement_or_a_row_says_so() {
    let d = dump(40, "note");
    // Cut inside a statement of the post-data section, and inside a COPY row.
    let in_statement = d.find("ADD CONSTRAINT orders_pkey").unwrap() + 10;
    let toc = parse(&d.as_bytes()[..in_statement], 333);
    assert_eq!(toc.not_understood, std::slice::from_ref(&toc.objects.last().unwrap().range), "cut mid-statement");
    let in_row = d.find("39\tnote").unwrap() + 4;
    let toc = parse(&d.as_bytes()[..in_row], 333);
    assert_eq!(toc.objects.last().unwrap().rows, Some(39), "the row cut short is not counted");
    assert_eq!(toc.not_understood.len(), 1);
    // A block comment holding a quote is a comment.
    let commented = d.replacen("SET client_encoding", "/* it's a comment /* nested */ still */ SET client_encoding", 1);
    let toc = parse(commented.as_bytes(), 333);
    assert!(toc.not_understood.is_empty() && toc.objects.len() == parse(d.as_bytes(), 333).objects.len(), "{:?}", toc.not_understood);
}

#[test]
fn comparing_two_days_names_what_changed_was_added_and_was_removed() {
    use toc::compare::{Status, compare};
    let a = dump(5, "a note");
    let b = dump(6, "a note").replace("CREATE VIEW app.open_orders AS\n SELECT orders.id FROM app.orders;", "CREATE VIEW app.open_orders AS\n SELECT orders.id, orders.note FROM app.orders;");
    let b = b.replacen(&block("orders_note_idx", "INDEX", "app", false), &block("orders_note_idx2", "INDEX", "app", false), 1);
    let (ta, tb) = (parse(a.as_bytes(), 999), parse(b.as_bytes(), 999));
    let changes = compare(&ta, &tb);
    let not_unchanged: Vec<(Status, &str)> = changes.iter().filter(|c| c.status != Status::Unchanged).map(|c| (c.status, c.object().name.as_str())).collect();
    assert_eq!(not_unchanged, [
        (Status::Changed, "open_orders"),
        (Status::Changed, "orders"),
        (Status::Changed, "orders_id_seq"),
        (Status::Added, "orders_note_idx2"),
        (Status::Removed, "orders_note_idx"),
    ]);
    let orders = changes.iter().find(|c| c.object().kind == Kind::TableData && c.object().name == "orders").unwrap();
    assert_eq!((orders.before.unwrap().rows, orders.after.unwrap().rows), (Some(5), Some(6)));
    assert_eq!(changes.iter().filter(|c| c.status == Status::Unchanged).count(), 11);
}
