//! pg_dumpall dumps, as pg_dumpall 15.18 writes them (shortened), through the table-of-contents
//! parser.

use proptest::prelude::*;
use toc::pg_dumpall::PgDumpall;
use toc::{Kind, Section, Toc, TocParser};

const KEY: [u8; 32] = [5; 32];

fn parse(data: &[u8], piece: usize) -> Toc {
    let mut p: Box<dyn TocParser> = Box::new(PgDumpall::new(KEY));
    for c in data.chunks(piece.max(1)) {
        p.feed(c);
    }
    p.finish()
}

fn block(line: &str) -> String {
    format!("--\n-- {line}\n--\n\n")
}

fn object(name: &str, kind: &str, schema: &str) -> String {
    block(&format!("Name: {name}; Type: {kind}; Schema: {schema}; Owner: postgres"))
}

const SETS: &str = "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\nSELECT pg_catalog.set_config('search_path', '', false);\n\n";

/// The globals: roles, a role's settings, memberships, a tablespace (`restrict`: pg_dumpall's
/// random key, different in every dump).
fn globals(restrict: &str) -> String {
    let mut d = block("PostgreSQL database cluster dump");
    d += &format!("\\restrict {restrict}\n\nSET default_transaction_read_only = off;\n\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n");
    d += &block("Roles");
    d += "CREATE ROLE postgres;\nALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;\n";
    d += "CREATE ROLE \"reporting role\";\nALTER ROLE shop WITH LOGIN PASSWORD 'SCRAM-SHA-256$4096:F4Ls==$E+Lc=:24V6=';\n\n";
    d += &block("User Configurations");
    d += &block("User Config \"shop\"");
    d += "ALTER ROLE shop SET search_path TO 'app', 'public';\n\n\n";
    d += &block("Role memberships");
    d += "GRANT \"reporting role\" TO shop GRANTED BY postgres;\n\n\n\n\n";
    d += &block("Tablespaces");
    d += &format!("CREATE TABLESPACE fast OWNER postgres LOCATION '/srv/ts';\n\n\n\\unrestrict {restrict}\n\n");
    d
}

/// One database's block and pg_dump's dump of it: `orders` (in schema `Sales "EU"`) with
/// `orders` rows, `customers` with two, as COPY or as INSERT statements.
fn database(name: &str, orders: u32, inserts: bool, restrict: &str) -> String {
    let mut d = block(&format!("Database \"{name}\" dump"));
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let connect = if name == "postgres" { "\\connect postgres\n\n".to_string() } else { String::new() };
    d += &connect;
    d += &block("PostgreSQL database dump");
    d += &format!("\\restrict {restrict}\n\n-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)\n\n{SETS}");
    if connect.is_empty() {
        d += &object(name, "DATABASE", "-");
        d += &format!("CREATE DATABASE {quoted} WITH TEMPLATE = template0 ENCODING = 'UTF8';\n\n\nALTER DATABASE {quoted} OWNER TO postgres;\n\n");
        d += &format!("\\unrestrict {restrict}\n\\connect -reuse-previous=on \"dbname='{}'\"\n\\restrict {restrict}\n\n{SETS}", name.replace('\'', "\\'"));
    }
    d += &object("Sales \"EU\"", "SCHEMA", "-");
    d += "CREATE SCHEMA \"Sales \"\"EU\"\"\";\n\n\nALTER SCHEMA \"Sales \"\"EU\"\"\" OWNER TO postgres;\n\n";
    d += &object("touch()", "FUNCTION", "public");
    d += "CREATE FUNCTION public.touch() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $$BEGIN\n--\n-- Database \"ghost\" dump\n--\nRETURN NEW; END$$;\n\n\n";
    d += &object("orders", "TABLE", "Sales \"EU\"");
    d += "CREATE TABLE \"Sales \"\"EU\"\"\".orders (\n    id integer NOT NULL,\n    note text\n);\n\n\n";
    d += &object("customers", "TABLE", "public");
    d += "CREATE TABLE public.customers (\n    id integer NOT NULL,\n    name text\n);\n\n\n";
    let rows = |table: &str, values: Vec<String>| -> String {
        if inserts {
            values.iter().map(|v| format!("INSERT INTO {table} VALUES ({v});\n")).collect()
        } else {
            let copy: String = values.iter().map(|v| v.replace(", ", "\t").replace('\'', "") + "\n").collect();
            format!("COPY {table} FROM stdin;\n{copy}\\.\n")
        }
    };
    d += &block("Data for Name: orders; Type: TABLE DATA; Schema: Sales \"EU\"; Owner: postgres");
    d += &rows("\"Sales \"\"EU\"\"\".orders", (0..orders).map(|i| format!("{i}, 'note {i} -- Name: x; Type: TABLE; Schema: public; Owner: shop'")).collect());
    d += "\n\n";
    d += &block("Data for Name: customers; Type: TABLE DATA; Schema: public; Owner: postgres");
    d += &rows("public.customers", vec!["1, 'Ann'".into(), "2, 'Bob'".into()]);
    d += "\n\n";
    d += &object("orders orders_pkey", "CONSTRAINT", "Sales \"EU\"");
    d += "ALTER TABLE ONLY \"Sales \"\"EU\"\"\".orders\n    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n\n\n";
    d += &object("TABLE customers", "ACL", "public");
    d += "GRANT SELECT ON TABLE public.customers TO \"reporting role\";\n\n\n";
    d += &block("PostgreSQL database dump complete");
    d += &format!("\\unrestrict {restrict}\n\n");
    d
}

/// A cluster: globals, then `shop`, `my "db" ünï 'q'` and `postgres` (whose `orders` hold 3, 4
/// and `crm_orders` rows).
fn cluster(crm_orders: u32, inserts: bool, restrict: &str) -> String {
    let mut d = globals(restrict);
    d += &block("Databases");
    d += &database("shop", 3, inserts, restrict);
    d += &database("my \"db\" ünï 'q'", 4, inserts, restrict);
    d += &database("postgres", crm_orders, inserts, restrict);
    d + &block("PostgreSQL database cluster dump complete")
}

type Seen<'a> = (Kind, &'a str, Option<&'a str>, Option<&'a str>, &'a str, Option<u64>);

fn seen(toc: &Toc) -> Vec<Seen<'_>> {
    toc.objects.iter().map(|o| (o.kind, o.tool_kind.as_str(), o.database.as_deref(), o.schema.as_deref(), o.name.as_str(), o.rows)).collect()
}

/// What a database's dump holds, as [`seen`] lists it (`create`: a `CREATE DATABASE` block).
fn in_database<'a>(db: &'a str, create: bool, orders: u64) -> Vec<Seen<'a>> {
    let d = Some(db);
    let mut v = vec![(Kind::Database, "DATABASE", d, None, db, None)];
    if create {
        v.push((Kind::Database, "DATABASE", d, None, db, None));
    }
    v.extend([
        (Kind::Schema, "SCHEMA", d, None, "Sales \"EU\"", None),
        (Kind::Function, "FUNCTION", d, Some("public"), "touch()", None),
        (Kind::Table, "TABLE", d, Some("Sales \"EU\""), "orders", None),
        (Kind::Table, "TABLE", d, Some("public"), "customers", None),
        (Kind::TableData, "TABLE DATA", d, Some("Sales \"EU\""), "orders", Some(orders)),
        (Kind::TableData, "TABLE DATA", d, Some("public"), "customers", Some(2)),
        (Kind::Constraint, "CONSTRAINT", d, Some("Sales \"EU\""), "orders orders_pkey", None),
        (Kind::Grant, "ACL", d, Some("public"), "TABLE customers", None),
        (Kind::Trailer, "", d, None, "", None),
    ]);
    v
}

fn covers(toc: &Toc, d: &str) {
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
fn every_object_is_found_in_its_database_and_globals_in_none() {
    for inserts in [false, true] {
        let d = cluster(5, inserts, "xZo87CQ");
        let toc = parse(d.as_bytes(), 1 << 20);
        assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
        let mut expected: Vec<Seen> = vec![
            (Kind::Preamble, "", None, None, "", None),
            (Kind::Other, "ROLES", None, None, "", None),
            (Kind::Other, "USER CONFIGURATIONS", None, None, "", None),
            (Kind::Other, "USER CONFIG", None, None, "shop", None),
            (Kind::Grant, "ROLE MEMBERSHIPS", None, None, "", None),
            (Kind::Other, "TABLESPACES", None, None, "", None),
            (Kind::Other, "DATABASES", None, None, "", None),
        ];
        expected.extend(in_database("shop", true, 3));
        expected.extend(in_database("my \"db\" ünï 'q'", true, 4));
        expected.extend(in_database("postgres", false, 5));
        expected.push((Kind::Trailer, "", None, None, "", None));
        assert_eq!(seen(&toc), expected, "inserts: {inserts}");
        covers(&toc, &d);
        // The sections start over with each database.
        let sections: Vec<(Option<&str>, Kind, Section)> = toc.objects.iter().filter(|o| matches!(o.kind, Kind::Database | Kind::Table | Kind::TableData | Kind::Constraint)).map(|o| (o.database.as_deref(), o.kind, o.section)).collect();
        for db in ["shop", "postgres"] {
            let of: Vec<(Kind, Section)> = sections.iter().filter(|s| s.0 == Some(db)).map(|s| (s.1, s.2)).collect();
            assert_eq!(of[of.len() - 5..], [(Kind::Table, Section::PreData), (Kind::Table, Section::PreData), (Kind::TableData, Section::Data), (Kind::TableData, Section::Data), (Kind::Constraint, Section::PostData)]);
            assert_eq!(of[0], (Kind::Database, Section::PreData), "{db}");
        }
    }
}

#[test]
fn a_globals_only_dump_is_whole() {
    let d = globals("k") + &block("PostgreSQL database cluster dump complete");
    let toc = parse(d.as_bytes(), 7);
    assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
    assert!(toc.objects.iter().all(|o| o.database.is_none() && o.section == Section::PreData));
    assert_eq!(toc.objects.iter().map(|o| o.tool_kind.as_str()).collect::<Vec<_>>(), ["", "ROLES", "USER CONFIGURATIONS", "USER CONFIG", "ROLE MEMBERSHIPS", "TABLESPACES", ""]);
    covers(&toc, &d);
}

#[test]
fn the_same_table_in_two_databases_is_two_objects_and_only_what_changed_differs() {
    use toc::compare::{Status, compare};
    // Two days of the same cluster: other \restrict keys, and rows added to one database only.
    let (a, b) = (cluster(5, false, "xZo87CQ"), cluster(6, false, "wFMXY3i"));
    let (ta, tb) = (parse(a.as_bytes(), 4096), parse(b.as_bytes(), 4096));
    let orders: Vec<(Option<&str>, Option<u64>)> = tb.of_kind(Kind::TableData).filter(|o| o.name == "orders").map(|o| (o.database.as_deref(), o.rows)).collect();
    assert_eq!(orders, [(Some("shop"), Some(3)), (Some("my \"db\" ünï 'q'"), Some(4)), (Some("postgres"), Some(6))]);
    let changes = compare(&ta, &tb);
    let changed: Vec<(Status, Option<&str>, &str)> = changes.iter().filter(|c| c.status != Status::Unchanged).map(|c| (c.status, c.object().database.as_deref(), c.object().name.as_str())).collect();
    assert_eq!(changed, [(Status::Changed, Some("postgres"), "orders")], "the \\restrict keys are no change");
    // Besides those keys, a digest is the keyed hash of the object's bytes.
    let o = ta.of_kind(Kind::TableData).next().unwrap();
    let mut keyed = blake3::Hasher::new_keyed(&KEY);
    keyed.update(&a.as_bytes()[o.range.start as usize..o.range.end as usize]);
    assert_eq!(o.digest, *keyed.finalize().as_bytes());
}

#[test]
fn a_dump_cut_inside_a_database_says_so() {
    let d = cluster(40, false, "k");
    // Cut where pg_dump failed (pg_dumpall 15.18 on a database named "line\nbreak": only its
    // block is written), between two objects, inside a statement, inside the rows.
    let failed = d.find("--\n-- Database \"postgres\" dump").unwrap() + block("Database \"postgres\" dump").len();
    let between = d.find("--\n-- Name: orders orders_pkey; Type: CONSTRAINT").unwrap();
    let statement = d.find("ADD CONSTRAINT").unwrap();
    let row = d.find("39\tnote 39").unwrap() + 5;
    let before_trailer = d.rfind("--\n-- PostgreSQL database cluster dump complete").unwrap();
    for (what, cut) in [("failed", failed), ("between", between), ("statement", statement), ("row", row), ("before the trailer", before_trailer)] {
        for piece in [1, 333] {
            let toc = parse(&d.as_bytes()[..cut], piece);
            let last = toc.objects.last().unwrap();
            assert_eq!(toc.not_understood, std::slice::from_ref(&last.range), "{what}, pieces of {piece}");
            assert!(last.database.is_some(), "{what}");
            covers(&toc, &d[..cut]);
        }
    }
    let toc = parse(&d.as_bytes()[..row], 333);
    assert_eq!(toc.objects.last().unwrap().rows, Some(39), "the row cut short is not counted");
    // A database whose dump has no completion line is not whole, even if the cluster's is there.
    let spliced = d.replacen(&block("Database \"postgres\" dump"), &(block("Database \"postgres\" dump") + &block("Database \"x\" dump")), 1);
    assert_eq!(parse(spliced.as_bytes(), 100).not_understood.len(), 1);
    // A pg_dump plain dump is no cluster dump.
    let plain = &d[d.find("--\n-- PostgreSQL database dump\n").unwrap()..d.find("--\n-- Database \"my").unwrap()];
    assert_eq!(parse(plain.as_bytes(), 100).not_understood.len(), 1);
}

#[test]
fn database_names_are_read_whole_whatever_they_hold() {
    let mut d = globals("k");
    for name in ["a\" dump", "-- Database \"x", "", "Sales \"EU\" dump\" dump"] {
        d += &database(name, 1, false, "k");
    }
    d += &block("PostgreSQL database cluster dump complete");
    let toc = parse(d.as_bytes(), 50);
    assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
    let dbs: Vec<&str> = toc.objects.iter().filter(|o| o.tool_kind == "DATABASE" && o.range.start != 0).step_by(2).map(|o| o.name.as_str()).collect();
    assert_eq!(dbs, ["a\" dump", "-- Database \"x", "", "Sales \"EU\" dump\" dump"]);
    covers(&toc, &d);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Pieces of any size give the same table of contents.
    #[test]
    fn pieces_of_any_size_give_the_same_toc(piece in 1usize..300, inserts in any::<bool>()) {
        let d = cluster(7, inserts, "bYJ5VmE");
        prop_assert_eq!(parse(d.as_bytes(), piece), parse(d.as_bytes(), 1 << 20));
    }

    /// Any bytes after any part of a dump: no panic, and the objects still cover the stream.
    #[test]
    fn any_bytes_give_a_toc_that_covers_them(data in proptest::collection::vec(any::<u8>(), 0..3000), piece in 1usize..64, cut in 0usize..9000) {
        let mut d = cluster(2, false, "k").into_bytes();
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
