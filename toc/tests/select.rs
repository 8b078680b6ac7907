//! Choosing the objects that recreate some tables of a dump (`restore --table`).

use toc::mysql::MysqlDump;
use toc::pg_dumpall::PgDumpall;
use toc::pg_plain::PgPlain;
use toc::select::{Dialect, Parts, Piece, Plan, Request, SelectError, plan};
use toc::{Toc, TocParser};

fn block(name: &str, kind: &str, schema: &str) -> String {
    let prefix = if kind == "TABLE DATA" { "Data for Name" } else { "Name" };
    format!("--\n-- {prefix}: {name}; Type: {kind}; Schema: {schema}; Owner: shop\n--\n\n")
}

/// A pg_dump of `app.orders` (owned sequence, default, index, trigger, comment, grant) and
/// `app."Order Items"` whose foreign key references orders, and `other.orders` of the same name.
fn pg_dump() -> String {
    let mut d = String::from("--\n-- PostgreSQL database dump\n--\n\nSET client_encoding = 'UTF8';\n\n");
    d += &block("app", "SCHEMA", "-");
    d += "CREATE SCHEMA app;\n\n";
    d += &block("touch()", "FUNCTION", "app");
    d += "CREATE FUNCTION app.touch() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $$BEGIN RETURN NEW; END$$;\n\n";
    d += &block("unrelated()", "FUNCTION", "app");
    d += "CREATE FUNCTION app.unrelated() RETURNS int\n    LANGUAGE sql\n    AS $$SELECT 1$$;\n\n";
    d += &block("orders", "TABLE", "app");
    d += "CREATE TABLE app.orders (\n    id integer NOT NULL\n);\n\n";
    d += &block("TABLE orders", "COMMENT", "app");
    d += "COMMENT ON TABLE app.orders IS 'the orders';\n\n";
    d += &block("orders_id_seq", "SEQUENCE", "app");
    d += "CREATE SEQUENCE app.orders_id_seq\n    START WITH 1;\n\n";
    d += &block("orders_id_seq", "SEQUENCE OWNED BY", "app");
    d += "ALTER SEQUENCE app.orders_id_seq OWNED BY app.orders.id;\n\n";
    d += &block("Order Items", "TABLE", "app");
    d += "CREATE TABLE app.\"Order Items\" (\n    order_id integer\n);\n\n";
    d += &block("orders", "TABLE", "other");
    d += "CREATE TABLE other.orders (\n    id integer\n);\n\n";
    d += &block("orders id", "DEFAULT", "app");
    d += "ALTER TABLE ONLY app.orders ALTER COLUMN id SET DEFAULT nextval('app.orders_id_seq'::regclass);\n\n";
    d += &block("orders", "TABLE DATA", "app");
    d += "COPY app.orders (id) FROM stdin;\n1\n2\n\\.\n\n";
    d += &block("Order Items", "TABLE DATA", "app");
    d += "COPY app.\"Order Items\" (order_id) FROM stdin;\n1\n\\.\n\n";
    d += &block("orders", "TABLE DATA", "other");
    d += "COPY other.orders (id) FROM stdin;\n7\n\\.\n\n";
    d += &block("orders_id_seq", "SEQUENCE SET", "app");
    d += "SELECT pg_catalog.setval('app.orders_id_seq', 2, true);\n\n";
    d += &block("orders orders_pkey", "CONSTRAINT", "app");
    d += "ALTER TABLE ONLY app.orders\n    ADD CONSTRAINT orders_pkey PRIMARY KEY (id);\n\n";
    d += &block("orders_archive_idx", "INDEX", "app");
    d += "CREATE INDEX orders_archive_idx ON app.orders_archive USING btree (id);\n\n";
    d += &block("items_order_idx", "INDEX", "app");
    d += "CREATE INDEX items_order_idx ON app.\"Order Items\" USING btree (order_id);\n\n";
    d += &block("orders_id_idx", "INDEX", "app");
    d += "CREATE INDEX orders_id_idx ON app.orders USING btree (id);\n\n";
    d += &block("orders orders_touch", "TRIGGER", "app");
    d += "CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();\n\n";
    d += &block("Order Items items_order_fk", "FK CONSTRAINT", "app");
    d += "ALTER TABLE ONLY app.\"Order Items\"\n    ADD CONSTRAINT items_order_fk FOREIGN KEY (order_id) REFERENCES app.orders(id);\n\n";
    d += &block("TABLE orders", "ACL", "app");
    d += "GRANT SELECT ON TABLE app.orders TO reader;\n\n";
    d += "--\n-- PostgreSQL database dump complete\n--\n\n";
    d
}

fn toc_of(parser: Box<dyn TocParser>, dump: &str) -> Toc {
    let mut p = parser;
    p.feed(dump.as_bytes());
    p.finish()
}

/// The script `req` gives, as text (with the table renamed to `rename`, if given).
fn script_renamed(dump: &str, dialect: Dialect, req: &Request, rename: Option<&str>) -> Result<String, SelectError> {
    let toc = if dialect == Dialect::Postgres { toc_of(Box::new(PgPlain::new([1; 32])), dump) } else { toc_of(Box::new(MysqlDump::new([1; 32])), dump) };
    let mut read = |ranges: &[std::ops::Range<u64>]| Ok(ranges.iter().map(|r| dump.as_bytes()[r.start as usize..r.end as usize].to_vec()).collect());
    let mut p: Plan = plan(&toc, dialect, req, &mut read)?;
    if let Some(new_name) = rename {
        toc::rename::rename(&mut p, &toc, dialect, new_name, &mut read)?;
    }
    Ok(p.pieces
        .iter()
        .map(|piece| match piece {
            Piece::Dump(r) => dump[r.start as usize..r.end as usize].to_string(),
            Piece::Note(n) => n.clone(),
        })
        .collect())
}

/// The script `req` gives, as text.
fn script(dump: &str, dialect: Dialect, req: &Request) -> Result<String, SelectError> {
    script_renamed(dump, dialect, req, None)
}

fn tables(names: &[&str]) -> Request {
    Request { tables: names.iter().map(|n| n.to_string()).collect(), ..Request::default() }
}

#[test]
fn one_table_comes_with_its_sequence_default_rows_index_constraint_trigger_comment_and_grant() {
    let out = script(&pg_dump(), Dialect::Postgres, &tables(&["app.orders"])).unwrap();
    for wanted in [
        "SET client_encoding",
        "CREATE TABLE app.orders (",
        "COMMENT ON TABLE app.orders",
        "CREATE SEQUENCE app.orders_id_seq",
        "OWNED BY app.orders.id",
        "SET DEFAULT nextval",
        "COPY app.orders (id) FROM stdin;\n1\n2\n\\.",
        "setval('app.orders_id_seq'",
        "orders_pkey PRIMARY KEY",
        "CREATE INDEX orders_id_idx",
        "CREATE TRIGGER orders_touch",
        "CREATE FUNCTION app.touch()",
        "GRANT SELECT ON TABLE app.orders",
    ] {
        assert!(out.contains(wanted), "missing {wanted:?} in\n{out}");
    }
    for unwanted in ["Order Items", "other.orders", "orders_archive_idx", "CREATE SCHEMA", "unrelated"] {
        assert!(!out.contains(unwanted), "{unwanted:?} should not be in\n{out}");
    }
}

#[test]
fn a_foreign_key_to_a_table_not_restored_is_left_out_with_a_note() {
    let out = script(&pg_dump(), Dialect::Postgres, &tables(&["Order Items"])).unwrap();
    assert!(out.contains("CREATE TABLE app.\"Order Items\""), "{out}");
    assert!(out.contains("CREATE INDEX items_order_idx"), "an index on a quoted name is found: {out}");
    assert!(!out.contains("ADD CONSTRAINT items_order_fk"), "{out}");
    assert!(out.contains("-- dbvault: foreign key Order Items items_order_fk left out: it references app.orders, which is not restored"), "{out}");
    let both = script(&pg_dump(), Dialect::Postgres, &tables(&["Order Items", "app.orders"])).unwrap();
    assert!(both.contains("ADD CONSTRAINT items_order_fk"), "both tables restored: the key stays: {both}");
}

#[test]
fn schema_only_and_data_only() {
    let mut req = tables(&["app.orders"]);
    req.parts = Parts::SchemaOnly;
    let schema = script(&pg_dump(), Dialect::Postgres, &req).unwrap();
    assert!(schema.contains("CREATE TABLE app.orders") && schema.contains("orders_pkey"));
    assert!(!schema.contains("COPY app.orders") && !schema.contains("setval"), "{schema}");
    req.parts = Parts::DataOnly;
    let data = script(&pg_dump(), Dialect::Postgres, &req).unwrap();
    assert!(data.contains("COPY app.orders") && data.contains("setval"));
    assert!(!data.contains("CREATE TABLE") && !data.contains("CREATE INDEX"), "{data}");
}

#[test]
fn a_typo_lists_the_close_names_and_a_shared_name_asks_to_qualify() {
    match script(&pg_dump(), Dialect::Postgres, &tables(&["ordrs"])) {
        Err(e @ SelectError::NoSuchTable { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("did you mean") && msg.contains("orders"), "{msg}");
        }
        other => panic!("expected NoSuchTable, got {other:?}"),
    }
    match script(&pg_dump(), Dialect::Postgres, &tables(&["orders"])) {
        Err(SelectError::Ambiguous { candidates, .. }) => assert_eq!(candidates, vec!["app.orders", "other.orders"]),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    let other = script(&pg_dump(), Dialect::Postgres, &tables(&["other.orders"])).unwrap();
    assert!(other.contains("COPY other.orders") && !other.contains("COPY app.orders"));
    // A name holding a quote is suggested as --table reads it back.
    let d = "-- MariaDB dump 10.19  Distrib 11.8.3-MariaDB\n--\n-- Host: localhost    Database: shop\n-- ------\n\n\
             --\n-- Table structure for table `we``ird tab`\n--\n\nCREATE TABLE `we``ird tab` (`v` int);\n\n\
             --\n-- Dumping data for table `we``ird tab`\n--\n\nINSERT INTO `we``ird tab` VALUES (1);\n\n-- Dump completed on 2026-12-07 10:00:00\n";
    let Err(SelectError::NoSuchTable { close, .. }) = script(d, Dialect::MySql, &tables(&["we`ird tb"])) else { panic!("a typo") };
    assert!(!close.is_empty() && close.iter().all(|c| c.contains("\"we`ird tab\"")), "{close:?}");
    for suggested in &close {
        assert!(script(d, Dialect::MySql, &tables(&[suggested])).unwrap().contains("VALUES (1)"), "{suggested} does not read back");
    }
}

#[test]
fn a_whole_schema() {
    let req = Request { schemas: vec!["other".into()], ..Request::default() };
    let out = script(&pg_dump(), Dialect::Postgres, &req).unwrap();
    assert!(out.contains("CREATE TABLE other.orders") && out.contains("COPY other.orders"));
    assert!(!out.contains("app.orders"), "{out}");
    let typo = script(&pg_dump(), Dialect::Postgres, &Request { schemas: vec!["othr".into()], ..Request::default() }).unwrap_err().to_string();
    assert!(typo.contains("did you mean other"), "{typo}");
}

#[test]
fn mysql_one_table_with_its_rows_and_the_session_settings() {
    let d = "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n--\n-- Host: localhost    Database: shop\n-- ------\n\
             /*!40101 SET NAMES utf8mb4 */;\n\n\
             --\n-- Current Database: `shop`\n--\n\nDROP DATABASE IF EXISTS `shop`;\nCREATE DATABASE `shop`;\n\nUSE `shop`;\n\n\
             --\n-- Table structure for table `customers`\n--\n\nCREATE TABLE `customers` (\n  `id` int NOT NULL\n);\n\n\
             --\n-- Dumping data for table `customers`\n--\n\nINSERT INTO `customers` VALUES (1),(2);\n\n\
             --\n-- Table structure for table `orders`\n--\n\nCREATE TABLE `orders` (\n  `id` int NOT NULL\n);\n\n\
             --\n-- Dumping data for table `orders`\n--\n\nINSERT INTO `orders` VALUES (5);\n\n\
             -- Dump completed on 2026-12-07 10:00:00\n";
    let out = script(d, Dialect::MySql, &tables(&["orders"])).unwrap();
    assert!(out.contains("SET NAMES utf8mb4") && out.contains("CREATE TABLE `orders`") && out.contains("INSERT INTO `orders` VALUES (5);"), "{out}");
    assert!(!out.contains("customers"), "{out}");
    assert!(!out.contains("USE `shop`") && !out.contains("DROP DATABASE"), "the script goes to the database the client names: {out}");
    assert!(out.contains("-- Dump completed"));
}

#[test]
fn a_clean_dumps_drop_statements_and_restrict_key_stay_behind() {
    let d = pg_dump().replace(
        "SET client_encoding = 'UTF8';\n",
        "\\restrict K3y\nSET client_encoding = 'UTF8';\nALTER TABLE IF EXISTS ONLY app.\"Order Items\" DROP CONSTRAINT IF EXISTS items_order_fk;\nDROP TABLE IF EXISTS app.\"Order Items\";\nDROP TABLE IF EXISTS app.orders;\nDROP SCHEMA IF EXISTS app;\n",
    ) + "\\unrestrict K3y\n";
    let out = script(&d, Dialect::Postgres, &tables(&["app.orders"])).unwrap();
    assert!(!out.contains("DROP ") && !out.contains("restrict K3y"), "{out}");
    assert!(out.contains("SET client_encoding") && out.contains("5 line(s) of the dump's preamble that drop objects"), "{out}");
}

#[test]
fn names_with_dots_quotes_and_spaces() {
    let mut d = pg_dump();
    d = d.replace("--\n-- PostgreSQL database dump complete", &format!("{}CREATE TABLE app.\"other.orders\" (x int);\n\n{}COMMENT ON TABLE app.\"Order Items\" IS 'items';\n\n--\n-- PostgreSQL database dump complete", block("other.orders", "TABLE", "app"), block("TABLE \"Order Items\"", "COMMENT", "app")));
    // `other.orders` is both a table of schema other and a table of app whose name holds a dot.
    match script(&d, Dialect::Postgres, &tables(&["other.orders"])) {
        Err(SelectError::Ambiguous { candidates, .. }) => assert_eq!(candidates, vec!["app.\"other.orders\"", "other.orders"]),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    let quoted = script(&d, Dialect::Postgres, &tables(&["app.\"other.orders\""])).unwrap();
    assert!(quoted.contains("CREATE TABLE app.\"other.orders\"") && !quoted.contains("CREATE TABLE other.orders"), "{quoted}");
    let items = script(&d, Dialect::Postgres, &tables(&["\"Order Items\""])).unwrap();
    assert!(items.contains("COMMENT ON TABLE app.\"Order Items\""), "a comment on a quoted name comes along: {items}");
    assert!(script(&d, Dialect::Postgres, &tables(&[""])).is_err());
}

#[test]
fn a_table_in_two_databases_of_a_cluster_dump_asks_for_one() {
    let db = |name: &str| format!("--\n-- Database \"{name}\" dump\n--\n\n--\n-- PostgreSQL database dump\n--\n\n{}CREATE TABLE public.t (x int);\n\n--\n-- PostgreSQL database dump complete\n--\n\n", block("t", "TABLE", "public"));
    let d = format!("--\n-- PostgreSQL database cluster dump\n--\n\n{}{}--\n-- PostgreSQL database cluster dump complete\n--\n\n", db("a"), db("b"));
    let toc = toc_of(Box::new(PgDumpall::new([1; 32])), &d);
    let mut read = |ranges: &[std::ops::Range<u64>]| Ok(ranges.iter().map(|r| d.as_bytes()[r.start as usize..r.end as usize].to_vec()).collect());
    match plan(&toc, Dialect::Postgres, &tables(&["t"]), &mut read) {
        Err(SelectError::Ambiguous { candidates, .. }) => assert_eq!(candidates, vec!["public.t (--database a)", "public.t (--database b)"]),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    let one = plan(&toc, Dialect::Postgres, &Request { database: Some("b".into()), ..tables(&["t"]) }, &mut read).unwrap();
    assert_eq!(one.tables, vec!["b.public.t"]);
}

#[test]
fn a_partition_without_its_parent_is_not_attached() {
    let mut d = pg_dump();
    d = d.replace("--\n-- PostgreSQL database dump complete", &format!("{}CREATE TABLE app.orders_2026 (id integer NOT NULL);\n\n{}ALTER TABLE ONLY app.orders ATTACH PARTITION app.orders_2026 FOR VALUES FROM (1) TO (9);\n\n--\n-- PostgreSQL database dump complete", block("orders_2026", "TABLE", "app"), block("orders_2026", "TABLE ATTACH", "app")));
    let alone = script(&d, Dialect::Postgres, &tables(&["app.orders_2026"])).unwrap();
    assert!(!alone.contains("ATTACH PARTITION") && alone.contains("orders_2026 is not attached as a partition of app.orders"), "{alone}");
    let both = script(&d, Dialect::Postgres, &tables(&["app.orders_2026", "app.orders"])).unwrap();
    assert!(both.contains("ATTACH PARTITION app.orders_2026"), "{both}");
}

#[test]
fn rename_to_creates_the_table_and_its_schema_wide_names_under_the_new_name() {
    let req = tables(&["app.orders"]);
    let out = script_renamed(&pg_dump(), Dialect::Postgres, &req, Some("orders_old")).unwrap();
    assert!(out.starts_with("\\set ON_ERROR_STOP on\nBEGIN;\n") && out.ends_with("\nCOMMIT;\n"), "a name taken already stops it, and nothing stays:\n{out}");
    for wanted in [
        "CREATE TABLE app.orders_old (",
        "CREATE SEQUENCE app.orders_old_id_seq",
        "OWNED BY app.orders_old.id",
        "nextval('app.orders_old_id_seq'::regclass)",
        "ADD CONSTRAINT orders_old_pkey PRIMARY KEY",
        "CREATE INDEX orders_old_id_idx ON app.orders_old USING",
        "COPY app.orders_old (id) FROM stdin;\n1\n2\n\\.",
        "setval('app.orders_old_id_seq', 2, true)",
        "BEFORE UPDATE ON app.orders_old FOR EACH ROW",
        "COMMENT ON TABLE app.orders_old IS",
        "GRANT SELECT ON TABLE app.orders_old TO reader",
    ] {
        assert!(out.contains(wanted), "missing {wanted:?} in\n{out}");
    }
    for gone in ["app.orders ", "app.orders(", "app.orders;", "app.orders_id_seq", " orders_pkey", "orders_id_idx ", "CREATE FUNCTION"] {
        assert!(!out.contains(gone), "{gone:?} left in\n{out}");
    }
    // pg_dump --inserts: each statement's head, never a value that looks like one.
    let inserts = pg_dump().replace("COPY app.orders (id) FROM stdin;\n1\n2\n\\.\n", "INSERT INTO app.orders VALUES (1, 'a\nINSERT INTO app.orders VALUES (2);');\nINSERT INTO app.orders (id) VALUES (3);\n");
    let out = script_renamed(&inserts, Dialect::Postgres, &req, Some("orders_old")).unwrap();
    assert!(out.contains("INSERT INTO app.orders_old VALUES (1, 'a\nINSERT INTO app.orders VALUES (2);');\nINSERT INTO app.orders_old (id) VALUES (3);\n"), "{out}");
    // One table, a new name.
    let two = tables(&["app.orders", "other.orders"]);
    assert!(matches!(script_renamed(&pg_dump(), Dialect::Postgres, &two, Some("x")), Err(SelectError::Rename(_))));
    assert!(matches!(script_renamed(&pg_dump(), Dialect::Postgres, &req, Some("Order Items")), Err(SelectError::Rename(m)) if m.contains("already has")));
}

#[test]
fn data_only_loads_the_referenced_table_first() {
    // The dump has "Order Items" (which references orders) before orders' rows? Make it so.
    let d = pg_dump();
    let items = format!("{}COPY app.\"Order Items\" (order_id) FROM stdin;\n1\n\\.\n\n", block("Order Items", "TABLE DATA", "app"));
    let d = d.replacen(&items, "", 1).replacen(&block("orders", "TABLE DATA", "app"), &format!("{items}{}", block("orders", "TABLE DATA", "app")), 1);
    let req = Request { parts: Parts::DataOnly, ..tables(&["Order Items", "app.orders"]) };
    let out = script(&d, Dialect::Postgres, &req).unwrap();
    let (orders, items) = (out.find("COPY app.orders ").unwrap(), out.find("COPY app.\"Order Items\"").unwrap());
    assert!(d.find("COPY app.\"Order Items\"").unwrap() < d.find("COPY app.orders ").unwrap(), "the dump has the child first");
    assert!(orders < items, "the parent's rows first:\n{out}");
}

#[test]
fn mysql_rename_to_renames_the_table_its_constraints_and_triggers_and_no_row() {
    let d = "-- MariaDB dump 10.19  Distrib 11.8.3-MariaDB\n--\n-- Host: localhost    Database: shop\n-- ------\n/*!40014 SET FOREIGN_KEY_CHECKS=0 */;\n\n\
             --\n-- Table structure for table `orders`\n--\n\nDROP TABLE IF EXISTS `orders`;\nCREATE TABLE `orders` (\n  `id` int NOT NULL,\n  `orders` int,\n  PRIMARY KEY (`id`),\n  KEY `orders_c` (`orders`),\n  CONSTRAINT `orders_ibfk_1` FOREIGN KEY (`orders`) REFERENCES `customers` (`id`),\n  CONSTRAINT `self` FOREIGN KEY (`orders`) REFERENCES `orders` (`id`)\n);\n\n\
             --\n-- Dumping data for table `orders`\n--\n\nLOCK TABLES `orders` WRITE;\n/*!40000 ALTER TABLE `orders` DISABLE KEYS */;\nINSERT INTO `orders` VALUES\n(1,NULL),\n(2,'INSERT INTO `orders` VALUES');\nINSERT INTO `orders` VALUES (3,'\\nLOCK TABLES `orders` WRITE;');\n/*!40000 ALTER TABLE `orders` ENABLE KEYS */;\nUNLOCK TABLES;\n\
             /*!50003 SET @saved_cs_client      = @@character_set_client */ ;\n/*!50032 DROP TRIGGER IF EXISTS `stamp` */;\nDELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 trigger stamp before insert on orders for each row set NEW.orders = 1 */;;\nDELIMITER ;\n\n\
             -- Dump completed on 2026-12-07 10:00:00\n";
    let out = script_renamed(d, Dialect::MySql, &tables(&["orders"]), Some("orders_old")).unwrap();
    for wanted in [
        "CREATE TABLE `orders_old` (\n  `id` int NOT NULL,\n  `orders` int,",
        "KEY `orders_c` (`orders`)",
        "CONSTRAINT `orders_old_ibfk_1` FOREIGN KEY (`orders`) REFERENCES `customers` (`id`)",
        "CONSTRAINT `orders_old_self` FOREIGN KEY (`orders`) REFERENCES `orders_old` (`id`)",
        "LOCK TABLES `orders_old` WRITE;\n/*!40000 ALTER TABLE `orders_old` DISABLE KEYS */;\nINSERT INTO `orders_old` VALUES\n(1,NULL),\n(2,'INSERT INTO `orders` VALUES');\nINSERT INTO `orders_old` VALUES (3,'\\nLOCK TABLES `orders` WRITE;');",
        "trigger `orders_old_stamp` before insert on `orders_old` for each row set NEW.orders = 1 */;;",
        "-- Dump completed",
    ] {
        assert!(out.contains(wanted), "missing {wanted:?} in\n{out}");
    }
    assert!(!out.lines().any(|l| l.trim_start_matches("/*!50032 ").starts_with("DROP TRIGGER")), "the original's trigger stays:\n{out}");
    assert!(!out.lines().any(|l| l.starts_with("DROP TABLE")), "a table of the new name on the server must stop the script, not be dropped:\n{out}");
    let with_view = d.replace("-- Dump completed", "--\n-- Final view structure for view `v`\n--\n\n/*!50001 CREATE VIEW `v` AS select 1 AS `x` */;\n\n-- Dump completed");
    assert!(matches!(script_renamed(&with_view, Dialect::MySql, &tables(&["v"]), Some("w")), Err(SelectError::Rename(m)) if m.contains("is a view")));
    for bad in ["orders", "ORDERS", "", " ", "x ", "shop.x", &"x".repeat(60)] {
        assert!(matches!(script_renamed(d, Dialect::MySql, &tables(&["orders"]), Some(bad)), Err(SelectError::Rename(_))), "{bad:?} accepted");
    }
}

#[test]
fn data_only_turns_the_tables_triggers_off_while_rows_load() {
    let req = Request { parts: Parts::DataOnly, ..tables(&["app.orders"]) };
    let out = script(&pg_dump(), Dialect::Postgres, &req).unwrap();
    let off = out.find("ALTER TABLE \"app\".\"orders\" DISABLE TRIGGER \"orders_touch\";").unwrap();
    let (copy, on) = (out.find("COPY app.orders ").unwrap(), out.find("ALTER TABLE \"app\".\"orders\" ENABLE TRIGGER \"orders_touch\";").unwrap());
    assert!(off < copy && copy < on, "{out}");
    assert!(out.find("SET client_encoding").unwrap() < off, "after the settings: {out}");
    // As the dump leaves each: one it disables stays off, one it enables ALWAYS is so again.
    let create = "CREATE TRIGGER orders_touch BEFORE UPDATE ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();\n";
    let disabled = pg_dump().replace(create, &format!("{create}\nALTER TABLE app.orders DISABLE TRIGGER orders_touch;\n"));
    assert!(!script(&disabled, Dialect::Postgres, &req).unwrap().contains("orders_touch\";"), "a disabled trigger is not touched");
    let always = pg_dump().replace(create, &format!("{create}\nALTER TABLE app.orders ENABLE ALWAYS TRIGGER orders_touch;\n"));
    assert!(script(&always, Dialect::Postgres, &req).unwrap().contains("ALTER TABLE \"app\".\"orders\" ENABLE ALWAYS TRIGGER \"orders_touch\";"));
    // A table without triggers: nothing added.
    let req = Request { parts: Parts::DataOnly, ..tables(&["Order Items"]) };
    assert!(!script(&pg_dump(), Dialect::Postgres, &req).unwrap().contains("TRIGGER"));
}
