//! mysqldump and mariadb-dump dumps, as they write them, through the table-of-contents parser.

use toc::mysql::MysqlDump;
use toc::{Kind, Section, Toc, TocParser};

fn parse(data: &[u8], piece: usize) -> Toc {
    let mut p: Box<dyn TocParser> = Box::new(MysqlDump::new([3; 32]));
    for c in data.chunks(piece.max(1)) {
        p.feed(c);
    }
    p.finish()
}

fn block(line: &str) -> String {
    format!("--\n-- {line}\n--\n\n")
}

/// `--databases shop crm`: two databases, tables with extended inserts, a view, routines.
fn dump(orders: u32) -> String {
    let mut d = String::from(
        "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n\
         -- Host: localhost    Database: \n-- ------------------------------------------------------\n-- Server version\t10.11.19-MariaDB\n\n\
         /*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\n\n",
    );
    d += &block("Current Database: `shop`");
    d += "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET latin1 */;\n\nUSE `shop`;\n\n";
    d += &block("Table structure for table `orders`");
    d += "DROP TABLE IF EXISTS `orders`;\n/*!40101 SET @saved_cs_client     = @@character_set_client */;\nCREATE TABLE `orders` (\n  `id` bigint(20) NOT NULL,\n  `note` varchar(64) DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n/*!40101 SET character_set_client = @saved_cs_client */;\n\n";
    d += &block("Dumping data for table `orders`");
    d += "LOCK TABLES `orders` WRITE;\n/*!40000 ALTER TABLE `orders` DISABLE KEYS */;\nINSERT INTO `orders` VALUES ";
    let rows: Vec<String> = (0..orders)
        .map(|i| match i {
            1 => "(1,'it\\'s \\\\ (a) row;\\n--\\n-- Table structure for table `fake`\\n--')".to_string(),
            2 => "(2,'two\n--\n-- Dumping data for table `fake`\n--\nlines')".to_string(),
            _ => format!("({i},'note {i}')"),
        })
        .collect();
    d += &rows.join(",");
    d += ";\n/*!40000 ALTER TABLE `orders` ENABLE KEYS */;\nUNLOCK TABLES;\n\n";
    d += &block("Table structure for table `we``ird ta-ble`");
    d += "CREATE TABLE `we``ird ta-ble` (`v` int);\n\n";
    d += &block("Dumping data for table `we``ird ta-ble`");
    d += "LOCK TABLES `we``ird ta-ble` WRITE;\nUNLOCK TABLES;\n\n";
    d += &block("Temporary view structure for view `open_orders`");
    d += "SET @saved_cs_client     = @@character_set_client;\n/*!50001 CREATE VIEW `open_orders` AS SELECT 1 AS `id` */;\n\n";
    d += &block("Dumping routines for database 'shop'");
    d += "DELIMITER ;;\nCREATE PROCEDURE `touch`()\nBEGIN\n  UPDATE orders SET note = 'x';\nEND ;;\nDELIMITER ;\n\n";
    d += &block("Final view structure for view `open_orders`");
    d += "/*!50001 DROP VIEW IF EXISTS `open_orders`*/;\n/*!50001 CREATE VIEW `open_orders` AS select `orders`.`id` AS `id` from `orders` */;\n\n";
    d += &block("Current Database: `crm`");
    d += "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `crm`;\n\nUSE `crm`;\n\n";
    d += &block("Table structure for table `orders`");
    d += "CREATE TABLE `orders` (`id` int);\n\n";
    d += &block("Dumping data for table `orders`");
    d += "LOCK TABLES `orders` WRITE;\nINSERT INTO `orders` VALUES (1),(2),(3);\nINSERT INTO `orders` VALUES (4);\nUNLOCK TABLES;\n\n";
    d += "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n\n-- Dump completed on 2026-12-07 10:00:50\n";
    d
}

#[test]
fn every_object_is_found_in_its_database_with_its_rows() {
    let d = dump(6);
    for piece in [1, 13, 4096, 1 << 20] {
        let toc = parse(d.as_bytes(), piece);
        assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
        let got: Vec<(Kind, Option<&str>, &str, Option<u64>)> = toc.objects.iter().map(|o| (o.kind, o.schema.as_deref(), o.name.as_str(), o.rows)).collect();
        assert_eq!(got, [
            (Kind::Preamble, None, "", None),
            (Kind::Database, None, "shop", None),
            (Kind::Table, Some("shop"), "orders", None),
            (Kind::TableData, Some("shop"), "orders", Some(6)),
            (Kind::Table, Some("shop"), "we`ird ta-ble", None),
            (Kind::TableData, Some("shop"), "we`ird ta-ble", Some(0)),
            (Kind::View, Some("shop"), "open_orders", None),
            (Kind::Function, Some("shop"), "", None),
            (Kind::View, Some("shop"), "open_orders", None),
            (Kind::Database, None, "crm", None),
            (Kind::Table, Some("crm"), "orders", None),
            (Kind::TableData, Some("crm"), "orders", Some(4)),
            (Kind::Trailer, None, "", None),
        ], "pieces of {piece}");
        assert_eq!(toc.objects[3].section, Section::Data);
        assert_eq!(toc.len, d.len() as u64);
    }
}

/// A table's triggers as mariadb-dump 11 writes them, after its rows.
fn triggers(table: &str, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!(
                "/*!50003 SET @saved_cs_client      = @@character_set_client */ ;\n/*!50003 SET character_set_client  = utf8mb3 */ ;\n\
                 /*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\nDELIMITER ;;\n\
                 /*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER {n} BEFORE INSERT ON {table} FOR EACH ROW SET NEW.note = CONCAT('x\n/*!50003 SET @saved_cs_client ', NEW.note) \n*/;;\n\
                 DELIMITER ;\n/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n/*!50003 SET character_set_client  = @saved_cs_client */ ;\n"
            )
        })
        .collect()
}

#[test]
fn a_tables_triggers_after_its_rows_are_an_object_of_their_own() {
    let d = dump(4);
    let at = d.find("UNLOCK TABLES;\n\n").unwrap() + "UNLOCK TABLES;\n".len();
    let d = format!("{}{}{}", &d[..at], triggers("orders", &["orders_a", "orders_b"]), &d[at..]);
    // Without data (--no-data), they follow the definition.
    let d = d.replace("CREATE TABLE `we``ird ta-ble` (`v` int);\n\n", &format!("CREATE TABLE `we``ird ta-ble` (`v` int);\n{}\n", triggers("`we``ird ta-ble`", &["w"])));
    for piece in [1, 7, 1 << 20] {
        let toc = parse(d.as_bytes(), piece);
        assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
        let got: Vec<(Kind, &str, Option<u64>)> = toc.objects.iter().map(|o| (o.kind, o.name.as_str(), o.rows)).take(9).collect();
        assert_eq!(got, [
            (Kind::Preamble, "", None),
            (Kind::Database, "shop", None),
            (Kind::Table, "orders", None),
            (Kind::TableData, "orders", Some(4)),
            (Kind::Trigger, "orders", None),
            (Kind::Table, "we`ird ta-ble", None),
            (Kind::Trigger, "we`ird ta-ble", None),
            (Kind::TableData, "we`ird ta-ble", Some(0)),
            (Kind::View, "open_orders", None),
        ], "pieces of {piece}");
        let trigger = &toc.objects[4];
        assert_eq!((trigger.section, trigger.schema.as_deref(), trigger.database.as_deref()), (Section::PostData, Some("shop"), Some("shop")));
        let text = &d[trigger.range.start as usize..trigger.range.end as usize];
        assert!(text.starts_with("/*!50003 SET @saved_cs_client") && text.contains("TRIGGER orders_a") && text.contains("TRIGGER orders_b"), "{text}");
        assert!(d[toc.objects[3].range.start as usize..toc.objects[3].range.end as usize].ends_with("UNLOCK TABLES;\n"));
    }
}

#[test]
fn the_banner_names_the_database_of_a_single_database_dump_and_a_cut_is_reported() {
    let d = dump(3).replace("-- Host: localhost    Database: \n", "-- Host: localhost    Database: shop\n");
    let d = d[d.find("--\n-- Table structure").unwrap()..].to_string();
    let d = format!("-- MySQL dump 10.13  Distrib 8.0.36\n--\n-- Host: localhost    Database: shop\n\n{d}");
    let toc = parse(d.as_bytes(), 100);
    assert_eq!(toc.objects[1].schema.as_deref(), Some("shop"));
    let cut = d.find("(2,'two").unwrap() + 5;
    let toc = parse(&d.as_bytes()[..cut], 100);
    assert_eq!(toc.not_understood.len(), 1, "cut inside a string of an INSERT");
}

#[test]
fn identifiers_comments_and_strings_the_mysql_way_never_hide_or_invent_objects() {
    let mut d = String::from("-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n--\n-- Host: localhost    Database: h\n\n");
    // Names and a column that would open a string, a comment or a parenthesis elsewhere.
    for (name, column) in [("cols", "`don't`"), ("a--b", "`v`"), ("dq\"x", "`v`"), ("it's", "`v`"), ("paren(", "`v`"), ("a/*b", "`v`")] {
        d += &block(&format!("Table structure for table `{name}`"));
        d += &format!("CREATE TABLE `{name}` (\n  {column} int\n);\n\n");
        d += &block(&format!("Dumping data for table `{name}`"));
        d += &format!("LOCK TABLES `{name}` WRITE;\nINSERT INTO `{name}` VALUES (1),(2);\nUNLOCK TABLES;\n\n");
    }
    // Routine bodies and triggers with `#` comments, `"..."` strings with \" and executable
    // comments holding quotes, and `--` that is no comment.
    d += &block("Dumping routines for database 'h'");
    d += "DELIMITER ;;\nCREATE PROCEDURE `p`()\nBEGIN\n  # it's a comment\n  SELECT \"a\\\"b;\", 1--1;\n  SELECT 'x;\n--\n-- Dumping data for table `ghost`\n--\nINSERT INTO ghost VALUES (1),(2);\n';  # '\nEND ;;\nDELIMITER ;\n";
    d += "/*!50003 CREATE*/ /*!50003 TRIGGER `t` BEFORE INSERT ON `cols` FOR EACH ROW SET @x = '/* x' */;;\n\n";
    d += &block("Table structure for table `last`");
    d += "CREATE TABLE `last` (`v` int);\n\n";
    d += &block("Dumping data for table `last`");
    d += "INSERT INTO `last` VALUES (1),(2),(3);\n\n-- Dump completed on 2026-12-07 10:00:50\n";
    for piece in [1, 5, 4096] {
        let toc = parse(d.as_bytes(), piece);
        assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
        let rows: Vec<(&str, Option<u64>)> = toc.of_kind(Kind::TableData).map(|o| (o.name.as_str(), o.rows)).collect();
        assert_eq!(rows, [("cols", Some(2)), ("a--b", Some(2)), ("dq\"x", Some(2)), ("it's", Some(2)), ("paren(", Some(2)), ("a/*b", Some(2)), ("last", Some(3))], "pieces of {piece}");
    }
}

/// `mariadb-dump --databases shop crm --routines --events` as 10.11.19 writes it (shortened): each
/// database's tables, then a second round of `Current Database` blocks for the final views.
fn databases(crm_rows: u32) -> String {
    let mut d = String::from("/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)\n--\n-- Host: localhost    Database: shop\n-- ------------------------------------------------------\n-- Server version\t10.11.19-MariaDB-0+deb12u1\n\n/*!40101 SET NAMES utf8mb4 */;\n\n");
    for (db, rows) in [("shop", 3), ("crm", crm_rows)] {
        d += &block(&format!("Current Database: `{db}`"));
        d += &format!("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `{db}` /*!40100 DEFAULT CHARACTER SET latin1 COLLATE latin1_swedish_ci */;\n\nUSE `{db}`;\n\n");
        d += &block("Table structure for table `orders`");
        d += "DROP TABLE IF EXISTS `orders`;\nCREATE TABLE `orders` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n\n";
        d += &block("Dumping data for table `orders`");
        let values: Vec<String> = (1..=rows).map(|i| format!("({i})")).collect();
        d += &format!("LOCK TABLES `orders` WRITE;\n/*!40000 ALTER TABLE `orders` DISABLE KEYS */;\nINSERT INTO `orders` VALUES\n{};\n/*!40000 ALTER TABLE `orders` ENABLE KEYS */;\nUNLOCK TABLES;\n\n", values.join(",\n"));
        if db == "shop" {
            d += &block("Temporary table structure for view `v`");
            d += "DROP TABLE IF EXISTS `v`;\n/*!50001 DROP VIEW IF EXISTS `v`*/;\n/*!50001 CREATE VIEW `v` AS SELECT\n NULL AS `id` */;\n\n";
        }
        d += &block(&format!("Dumping events for database '{db}'"));
        d += &block(&format!("Dumping routines for database '{db}'"));
    }
    d += &block("Current Database: `shop`");
    d += "USE `shop`;\n\n";
    d += &block("Final view structure for view `v`");
    d += "/*!50001 DROP VIEW IF EXISTS `v`*/;\n/*!50001 VIEW `v` AS select `orders`.`id` AS `id` from `orders` */;\n\n";
    d += &block("Current Database: `crm`");
    d += "USE `crm`;\n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n-- Dump completed on 2026-12-07 12:25:59\n";
    d
}

#[test]
fn objects_of_a_dump_of_several_databases_name_theirs() {
    let d = databases(5);
    for piece in [1, 29, 1 << 20] {
        let toc = parse(d.as_bytes(), piece);
        assert!(toc.not_understood.is_empty(), "{:?}", toc.not_understood);
        type Seen<'a> = (Kind, Option<&'a str>, Option<&'a str>, &'a str, Option<u64>);
        let got: Vec<Seen> = toc.objects.iter().map(|o| (o.kind, o.database.as_deref(), o.schema.as_deref(), o.name.as_str(), o.rows)).collect();
        let (shop, crm) = (Some("shop"), Some("crm"));
        assert_eq!(got, [
            (Kind::Preamble, None, None, "", None),
            (Kind::Database, shop, None, "shop", None),
            (Kind::Table, shop, shop, "orders", None),
            (Kind::TableData, shop, shop, "orders", Some(3)),
            (Kind::View, shop, shop, "v", None),
            (Kind::Other, shop, shop, "", None),
            (Kind::Function, shop, shop, "", None),
            (Kind::Database, crm, None, "crm", None),
            (Kind::Table, crm, crm, "orders", None),
            (Kind::TableData, crm, crm, "orders", Some(5)),
            (Kind::Other, crm, crm, "", None),
            (Kind::Function, crm, crm, "", None),
            (Kind::Database, shop, None, "shop", None),
            (Kind::View, shop, shop, "v", None),
            (Kind::Database, crm, None, "crm", None),
            (Kind::Trailer, None, None, "", None),
        ], "pieces of {piece}");
    }
    // The same table in two databases: a change in one is a change of that one only.
    use toc::compare::{Status, compare};
    let (a, b) = (parse(d.as_bytes(), 4096), parse(databases(6).as_bytes(), 4096));
    let changes = compare(&a, &b);
    let changed: Vec<(Option<&str>, Kind, &str)> = changes.iter().filter(|c| c.status != Status::Unchanged).map(|c| (c.object().database.as_deref(), c.object().kind, c.object().name.as_str())).collect();
    assert_eq!(changed, [(Some("crm"), Kind::TableData, "orders")]);
    // A dump of one database without `Current Database` blocks names none.
    let one = d.replacen(&block("Current Database: `shop`"), "", 1);
    let one = &one[..one.find(&block("Current Database: `crm`")).unwrap()];
    assert!(parse(one.as_bytes(), 100).objects.iter().all(|o| o.database.is_none()));
}
