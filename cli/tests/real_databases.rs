//! End to end against real servers: PostgreSQL and MariaDB from Debian packages, each started
//! privately in a temporary folder and reachable only through a Unix socket (no TCP listener).
//! `./test.sh` installs the packages; without them these tests fail and say what to install.

mod common;
mod servers;

use std::process::{Command, Stdio};

use common::*;
use servers::*;
use serde_json::Value;

const PG_SCHEMA: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE);
CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), created timestamptz NOT NULL);
CREATE TABLE order_items (order_id int REFERENCES orders(id) ON DELETE CASCADE, product_id int REFERENCES products(id),
  qty int NOT NULL, PRIMARY KEY (order_id, product_id));
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.org' FROM generate_series(1, 2000) g;
INSERT INTO products SELECT g, 'product ' || g, (g % 97) + 0.99 FROM generate_series(1, 500) g;
INSERT INTO orders SELECT g, 1 + g % 2000, '2026-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 3000) g;
INSERT INTO order_items SELECT o, 1 + (o * 7 + k) % 500, 1 + k FROM generate_series(1, 3000) o, generate_series(0, 2) k;
";

/// Restore `snapshot` (an id, or `latest --db NAME`) into `cmd`.
fn restore_into(e: &Env, snapshot: &str, cmd: &[String]) {
    let mut args: Vec<&str> = vec!["restore"];
    args.extend(snapshot.split(' '));
    args.push("--");
    args.extend(cmd.iter().map(String::as_str));
    e.ok(&args, b"");
}

#[test]
fn postgres_daily_loop_restores_every_snapshot_exactly() {
    let pg = Postgres::start();
    let e = Env::new();
    pg.sql("postgres", "CREATE DATABASE shop");
    pg.sql("shop", PG_SCHEMA);
    let ingest = |e: &Env| -> Value {
        let mut a = vec!["--json".to_string(), "ingest".into(), "--db".into(), "shop".into(), "--".into()];
        a.extend(pg.dump_cmd("shop"));
        let args: Vec<&str> = a.iter().map(String::as_str).collect();
        serde_json::from_slice(&e.ok(&args, b"").stdout).unwrap()
    };
    let day0 = ingest(&e);
    let sums0 = pg.checksums("shop");
    assert_eq!(day0["source"]["tool"], "pg_dump");
    assert_eq!(day0["source"]["completion_marker"], true);
    assert_eq!(day0["source"]["exit_status"], 0);
    assert!(day0["source"]["tool_version"].as_str().unwrap().starts_with(char::is_numeric));

    pg.sql("shop", "UPDATE customers SET email = 'new' || id || '@example.org' WHERE id % 97 = 0;
                    DELETE FROM orders WHERE id % 250 = 0;
                    INSERT INTO orders SELECT g, 1 + g % 2000, now() FROM generate_series(3001, 3050) g;
                    UPDATE products SET price = price + 1 WHERE id < 5;");
    let day1 = ingest(&e);
    let sums1 = pg.checksums("shop");
    // `ls` finds every table of the dump with the rows the server counts.
    for day in [&day0, &day1] {
        let ls: Value = serde_json::from_slice(&e.ok(&["--json", "ls", day["id"].as_str().unwrap()], b"").stdout).unwrap();
        let data: Vec<&Value> = ls["objects"].as_array().unwrap().iter().filter(|o| o["kind"] == "table_data").collect();
        let mut names: Vec<&str> = data.iter().map(|o| o["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["customers", "order_items", "orders", "products"], "{ls}");
        if std::ptr::eq(day, &day1) {
            for o in data {
                let counted = pg.sql("shop", &format!("SELECT count(*) FROM {}.{}", o["schema"].as_str().unwrap(), o["name"].as_str().unwrap()));
                assert_eq!(o["rows"].as_u64().unwrap().to_string(), counted.trim(), "rows of {}", o["name"]);
            }
        }
        assert!(ls["objects"].as_array().unwrap().iter().any(|o| o["kind"] == "foreign_key"), "{ls}");
        assert!(ls["not_understood"].as_array().unwrap().is_empty());
    }
    // `diff --objects` names exactly the tables the day changed (order_items by the cascade).
    let (id0, id1) = (day0["id"].as_str().unwrap(), day1["id"].as_str().unwrap());
    let d: Value = serde_json::from_slice(&e.ok(&["--json", "diff", id0, id1, "--objects"], b"").stdout).unwrap();
    let mut changed: Vec<(&str, &str)> = d["changes"].as_array().unwrap().iter().map(|c| (c["status"].as_str().unwrap(), c["name"].as_str().unwrap())).collect();
    changed.sort();
    assert_eq!(changed, [("changed", "customers"), ("changed", "order_items"), ("changed", "orders"), ("changed", "products")], "{d}");
    let orders = d["changes"].as_array().unwrap().iter().find(|c| c["name"] == "orders").unwrap();
    assert_eq!((orders["rows_before"].as_u64(), orders["rows_after"].as_u64()), (Some(3000), Some(3000 - 12 + 50)), "{orders}");
    assert_ne!(sums0, sums1);
    assert_eq!(day1["parent"], day0["id"]);
    assert!(day1["added_bytes"].as_u64().unwrap() < day0["added_bytes"].as_u64().unwrap());

    for (snap, sums, target) in [(&day0, &sums0, "shop_r0"), (&day1, &sums1, "shop_r1")] {
        pg.sql("postgres", &format!("CREATE DATABASE {target}"));
        let mut psql = pg.client("psql", target);
        psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
        restore_into(&e, snap["id"].as_str().unwrap(), &psql);
        assert_eq!(&pg.checksums(target), sums, "restored {target} differs from the source at dump time");
    }

    // pg_dump's custom format: the compressed default draws the warning, -Z0 does not.
    let mut a = vec!["--json".to_string(), "ingest".into(), "--db".into(), "shop_fc".into(), "--".into()];
    a.extend(pg.dump_cmd("shop"));
    a.push("-Fc".into());
    let o = e.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    assert!(stderr(&o).contains("WARNING") && stderr(&o).contains("--compress=0"), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"]["format"], "pg_dump-custom");
    assert_eq!(v["source"]["database"], "shop");
    a.push("-Z0".into());
    let o = e.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    assert!(!stderr(&o).contains("WARNING"), "{}", stderr(&o));
    // ... and restores through pg_restore reading standard input.
    pg.sql("postgres", "CREATE DATABASE shop_fc");
    restore_into(&e, "latest --db shop_fc", &[pg.bin.join("pg_restore").display().to_string(), "-h".into(), pg.sock(), "-U".into(), "postgres".into(), "-d".into(), "shop_fc".into()]);
    assert_eq!(pg.checksums("shop_fc"), sums1);
}

/// `SELECT count(*)` and an ordered checksum of one table.
fn pg_table_sum(pg: &Postgres, db: &str, table: &str) -> String {
    pg.sql(db, &format!("SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM {table} x"))
}

/// Feed `sql` to psql (stopping at the first error) in database `db`.
fn pg_apply(pg: &Postgres, db: &str, sql: &[u8]) {
    let c = pg.client("psql", db);
    let mut cmd = Command::new(&c[0]);
    cmd.args(&c[1..]).args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run_piped(cmd, sql);
    assert!(out.status.success(), "psql failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn postgres_single_tables_restore_and_row_diffs_name_exactly_the_changed_rows() {
    let pg = Postgres::start();
    let e = Env::new();
    pg.sql("postgres", "CREATE DATABASE shop");
    pg.sql("shop", PG_SCHEMA);
    pg.sql("shop", "CREATE TABLE events (id serial PRIMARY KEY, what text NOT NULL, at timestamptz);
                    CREATE INDEX events_what_idx ON events (what);
                    CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at := '2026-01-01'; RETURN NEW; END$$;
                    CREATE TRIGGER events_stamp BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION stamp();
                    CREATE VIEW big_orders AS SELECT * FROM orders WHERE id > 2000;
                    INSERT INTO events (what) SELECT 'event ' || g FROM generate_series(1, 300) g;");
    let ingest = || -> String {
        let mut a = vec!["--json".to_string(), "ingest".into(), "--db".into(), "shop".into(), "--".into()];
        a.extend(pg.dump_cmd("shop"));
        let v: Value = serde_json::from_slice(&e.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"").stdout).unwrap();
        v["id"].as_str().unwrap().to_string()
    };
    let day0 = ingest();
    // Each table alone into a fresh database: its rows exactly, its owned sequence, index and
    // trigger (with the function it calls) along; foreign keys to tables left behind are left out.
    for table in ["customers", "orders", "order_items", "events"] {
        let target = format!("one_{table}");
        pg.sql("postgres", &format!("CREATE DATABASE {target}"));
        let mut psql = pg.client("psql", &target);
        psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
        let mut args = vec!["--json", "restore", &day0, "--table", table, "--"];
        args.extend(psql.iter().map(String::as_str));
        let doc: Value = serde_json::from_slice(&e.ok(&args, b"").stdout).unwrap();
        assert_eq!(doc["part"]["tables"], serde_json::json!([format!("public.{table}")]), "{doc}");
        assert_eq!(pg_table_sum(&pg, &target, table), pg_table_sum(&pg, "shop", table), "{table} restored alone");
    }
    assert_eq!(pg.sql("one_events", "SELECT count(*) FROM pg_indexes WHERE indexname = 'events_what_idx'").trim(), "1");
    pg.sql("one_events", "INSERT INTO events (what) VALUES ('after')");
    assert_eq!(pg.sql("one_events", "SELECT id, at FROM events WHERE what = 'after'").trim(), "301|2026-01-01 00:00:00+00", "sequence value and trigger restored");
    // Definitions, then rows, as two scripts.
    pg.sql("postgres", "CREATE DATABASE two_steps");
    let mut psql = pg.client("psql", "two_steps");
    psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
    for part in ["--schema-only", "--data-only"] {
        let mut args = vec!["restore", &day0, "--table", "customers", part, "--"];
        args.extend(psql.iter().map(String::as_str));
        e.ok(&args, b"");
    }
    assert_eq!(pg_table_sum(&pg, "two_steps", "customers"), pg_table_sum(&pg, "shop", "customers"));
    // Tables that reference each other, definitions then rows: the rows load parents first (the
    // dump has order_items' rows before orders').
    pg.sql("postgres", "CREATE DATABASE linked");
    let mut psql = pg.client("psql", "linked");
    psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
    for part in ["--schema-only", "--data-only"] {
        let mut args = vec!["restore", &day0, "--table", "order_items", "--table", "orders", "--table", "products", "--table", "customers", part, "--"];
        args.extend(psql.iter().map(String::as_str));
        e.ok(&args, b"");
    }
    for table in ["order_items", "orders"] {
        assert_eq!(pg_table_sum(&pg, "linked", table), pg_table_sum(&pg, "shop", table), "{table}");
    }
    // Next to the live table, under another name: its sequence, key and index renamed with it.
    let mut psql = pg.client("psql", "shop");
    psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
    let mut args = vec!["restore", &day0, "--table", "events", "--rename-to", "events_restored", "--"];
    args.extend(psql.iter().map(String::as_str));
    e.ok(&args, b"");
    assert_eq!(pg_table_sum(&pg, "shop", "events_restored"), pg_table_sum(&pg, "shop", "events"));
    pg.sql("shop", "INSERT INTO events_restored (what) VALUES ('after')");
    assert_eq!(pg.sql("shop", "SELECT id FROM events_restored WHERE what = 'after'").trim(), "301", "its own sequence, at the dumped value");
    assert_eq!(pg.sql("shop", "SELECT count(*) FROM events").trim(), "300", "the live table untouched");
    // Again, into a psql not told to stop at errors: the script stops itself at the name taken,
    // and nothing of it stays (the table, its sequence, its rows).
    let before = pg_table_sum(&pg, "shop", "events_restored");
    let mut args = vec!["restore", &day0, "--table", "events", "--rename-to", "events_restored", "--"];
    let plain_psql = pg.client("psql", "shop");
    args.extend(plain_psql.iter().map(String::as_str));
    let o = e.run(&args, b"");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(pg_table_sum(&pg, "shop", "events_restored"), before);
    // The same from a dump of INSERT statements (pg_dump --inserts): only their heads change.
    let mut a = vec!["--json".to_string(), "ingest".into(), "--db".into(), "shop_inserts".into(), "--".into()];
    let mut dump = pg.dump_cmd("shop");
    dump.insert(1, "--inserts".into());
    a.extend(dump);
    let v: Value = serde_json::from_slice(&e.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"").stdout).unwrap();
    let mut args = vec!["restore", v["id"].as_str().unwrap(), "--table", "events", "--rename-to", "events_from_inserts", "--"];
    args.extend(psql.iter().map(String::as_str));
    e.ok(&args, b"");
    assert_eq!(pg_table_sum(&pg, "shop", "events_from_inserts"), pg_table_sum(&pg, "shop", "events"));
    // A pg_dump custom archive: `ls` lists its entries with the rows of each table (uncompressed,
    // -Z0), and one table restores through pg_restore with its index, trigger and sequence.
    for (db, compress) in [("shop_custom", "-Z0"), ("shop_custom_gz", "-Z6")] {
        let mut a = vec!["--json".to_string(), "ingest".into(), "--db".into(), db.into(), "--".into()];
        let mut dump = pg.dump_cmd("shop");
        dump.splice(1..1, ["-Fc".to_string(), compress.into()]);
        a.extend(dump);
        let v: Value = serde_json::from_slice(&e.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"").stdout).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert_eq!(v["source"]["format"], "pg_dump-custom");
        let ls: Value = serde_json::from_slice(&e.ok(&["--json", "ls", &id], b"").stdout).unwrap();
        let events = ls["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "table_data" && o["name"] == "events").cloned().unwrap_or_default();
        assert_eq!(events["rows"], if compress == "-Z0" { serde_json::json!(300) } else { Value::Null }, "{ls}");
        let target = format!("from_{db}");
        pg.sql("postgres", &format!("CREATE DATABASE {target}"));
        let mut psql = pg.client("psql", &target);
        psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
        let mut args = vec!["restore", &id, "--table", "events", "--"];
        args.extend(psql.iter().map(String::as_str));
        e.ok(&args, b"");
        assert_eq!(pg_table_sum(&pg, &target, "events"), pg_table_sum(&pg, "shop", "events"));
        assert_eq!(pg.sql(&target, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'").trim(), "events", "only the table asked for");
        pg.sql(&target, "INSERT INTO events (what) VALUES ('after')");
        assert_eq!(pg.sql(&target, "SELECT id, at FROM events WHERE what = 'after'").trim(), "301|2026-01-01 00:00:00+00", "sequence value and trigger restored");
        assert_eq!(pg.sql(&target, "SELECT count(*) FROM pg_indexes WHERE indexname = 'events_what_idx'").trim(), "1");
        let o = e.run(&["restore", &id, "--table", "events", "--rename-to", "x"], b"");
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        // Definitions, then rows: the rows load as dumped, the trigger (made to stamp another
        // date here) does not fire on them.
        let target = format!("steps_{db}");
        pg.sql("postgres", &format!("CREATE DATABASE {target}"));
        let mut psql = pg.client("psql", &target);
        psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
        for part in ["--schema-only", "--data-only"] {
            let mut args = vec!["restore", &id, "--table", "events", part, "--"];
            args.extend(psql.iter().map(String::as_str));
            e.ok(&args, b"");
            pg.sql(&target, "CREATE OR REPLACE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at := '1999-01-01'; RETURN NEW; END$$");
        }
        assert_eq!(pg_table_sum(&pg, &target, "events"), pg_table_sum(&pg, "shop", "events"), "rows as dumped");
    }
    // A mistyped name: the close names, and nothing written.
    let o = e.run(&["restore", &day0, "--table", "ordrs"], b"");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("did you mean") && stderr(&o).contains("orders"), "{}", stderr(&o));

    // A day of updates, deletes and inserts: --rows names exactly those rows, and its SQL turns
    // the old table into the new one.
    pg.sql("shop", "UPDATE orders SET created = created + interval '1 day' WHERE id % 100 = 1;
                    DELETE FROM orders WHERE id % 250 = 0;
                    INSERT INTO orders SELECT g, 1 + g % 2000, '2026-06-01' FROM generate_series(3001, 3050) g;
                    CREATE TABLE newbie (id int PRIMARY KEY, v text); INSERT INTO newbie VALUES (1, 'a'), (2, NULL), (3, 'c');");
    let day1 = ingest();
    // A table that day 0 did not have: all its rows are only in B.
    let o = e.ok(&["diff", &day0, &day1, "--rows", "newbie", "--format", "json"], b"");
    let sides: Vec<Value> = String::from_utf8(o.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(sides.iter().filter(|v| v["side"] == "b").count(), 3, "{sides:?}");
    assert_eq!(sides.len(), 3);
    assert!(stderr(&o).contains("not in snapshot"), "{}", stderr(&o));
    let o = e.run(&["diff", &day0, &day1, "--rows", "nobody"], b"");
    assert_eq!(o.status.code(), Some(2), "in neither snapshot: {}", stderr(&o));
    let lines = e.ok(&["diff", &day0, &day1, "--rows", "orders", "--format", "json"], b"").stdout;
    let sides: Vec<String> = String::from_utf8(lines).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["side"].as_str().unwrap().to_string()).collect();
    assert_eq!((sides.iter().filter(|s| *s == "a").count(), sides.iter().filter(|s| *s == "b").count()), (30 + 12, 30 + 50));
    let sql = e.ok(&["diff", &day0, &day1, "--rows", "public.orders", "--format", "sql"], b"").stdout;
    pg.sql("one_orders", "ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_customer_id_fkey");
    pg_apply(&pg, "one_orders", &sql);
    assert_eq!(pg_table_sum(&pg, "one_orders", "orders"), pg_table_sum(&pg, "shop", "orders"));
    // Applied to the whole of day 0, updates stay updates: order_items (ON DELETE CASCADE) keeps
    // the items of updated orders and loses only those of deleted ones, as the source did.
    pg.sql("postgres", "CREATE DATABASE whole0");
    let mut psql = pg.client("psql", "whole0");
    psql.extend(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"].map(String::from));
    restore_into(&e, &day0, &psql);
    pg_apply(&pg, "whole0", &sql);
    for table in ["orders", "order_items"] {
        assert_eq!(pg_table_sum(&pg, "whole0", table), pg_table_sum(&pg, "shop", table), "{table}");
    }
}

#[test]
fn postgres_failed_or_cut_dumps_never_become_snapshots() {
    let pg = Postgres::start();
    let e = Env::new();
    pg.sql("postgres", "CREATE DATABASE shop");
    pg.sql("shop", PG_SCHEMA);
    // A wrong database name: pg_dump fails, dbvault exits 7 and names it.
    let mut a = vec!["ingest".to_string(), "--db".into(), "shop".into(), "--".into()];
    a.extend(pg.dump_cmd("no_such_db"));
    let o = e.run(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("pg_dump") && stderr(&o).contains("no_such_db") && stderr(&o).contains("exited with status 1"), "{}", stderr(&o));
    // A wrapper that kills itself after pg_dump finished: the status still counts.
    let dump = pg.dump_cmd("shop").join(" ");
    let o = e.run(&["ingest", "--db", "shop", "--", "sh", "-c", &format!("{dump}; kill -9 $$")], b"");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    // A wrapper that cuts pg_dump short but exits 0: the missing completion marker catches it.
    let o = e.run(&["ingest", "--db", "shop", "--", "sh", "-c", &format!("{dump} | head -c 30000")], b"");
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    // The same truncated dump piped on stdin is refused too.
    let full = run(Command::new("sh").args(["-c", &dump]));
    let o = e.run(&["ingest", "--db", "shop"], &full.as_bytes()[..full.len() / 2]);
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    // gzip'd dumps draw the warning.
    let o = e.ok(&["ingest", "--db", "shop_gz", "--", "sh", "-c", &format!("{dump} | gzip")], b"");
    assert!(stderr(&o).contains("WARNING") && stderr(&o).contains("gzip"), "{}", stderr(&o));
    let list = e.json(&["snapshots"], b"");
    assert_eq!(list.as_array().unwrap().len(), 1, "only the gzip'd dump was committed: {list}");
}

const MARIA_SCHEMA: &str = "
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100) UNIQUE) ENGINE=InnoDB;
CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(100) NOT NULL, price DECIMAL(10,2) NOT NULL) ENGINE=InnoDB;
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, created DATETIME NOT NULL,
  FOREIGN KEY (customer_id) REFERENCES customers(id)) ENGINE=InnoDB;
CREATE TABLE order_items (order_id INT, product_id INT, qty INT NOT NULL, PRIMARY KEY (order_id, product_id),
  FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE, FOREIGN KEY (product_id) REFERENCES products(id)) ENGINE=InnoDB;
CREATE INDEX orders_created ON orders (created);
CREATE TRIGGER orders_stamp BEFORE INSERT ON orders FOR EACH ROW SET NEW.created = COALESCE(NEW.created, '2026-01-01');
CREATE VIEW recent_orders AS SELECT id, created FROM orders WHERE created > '2026-03-01';
CREATE PROCEDURE count_orders() SELECT COUNT(*) FROM orders;
INSERT INTO customers SELECT seq, CONCAT('customer ', seq), CONCAT('c', seq, '@example.org') FROM seq_1_to_2000;
INSERT INTO products SELECT seq, CONCAT('product ', seq), (seq % 97) + 0.99 FROM seq_1_to_500;
INSERT INTO orders SELECT seq, 1 + seq % 2000, '2026-01-01' + INTERVAL seq HOUR FROM seq_1_to_3000;
INSERT INTO order_items SELECT o.seq, 1 + (o.seq * 7 + k.seq) % 500, 1 + k.seq FROM seq_1_to_3000 o, seq_0_to_2 k;
";

#[test]
fn mariadb_daily_loop_restores_every_snapshot_exactly() {
    let m = MariaDb::start();
    let e = Env::new();
    m.sql("mysql", "CREATE DATABASE shop");
    m.sql("shop", MARIA_SCHEMA);
    let ingest = |e: &Env| -> Value {
        let mut a = vec!["--json".to_string(), "ingest".into(), "--db".into(), "shop".into(), "--".into()];
        a.extend(m.client("mariadb-dump"));
        a.extend(["--single-transaction".to_string(), "shop".into()]);
        serde_json::from_slice(&e.ok(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"").stdout).unwrap()
    };
    let day0 = ingest(&e);
    let sums0 = m.checksums("shop");
    assert_eq!(day0["source"]["format"], "mysqldump");
    assert_eq!(day0["source"]["tool"], "mariadb-dump");
    assert_eq!(day0["source"]["completion_marker"], true);
    assert!(day0["source"]["server_version"].as_str().unwrap().contains("MariaDB"));

    m.sql("shop", "ALTER TABLE customers ADD COLUMN tier INT DEFAULT 1;
                   UPDATE customers SET email = CONCAT('new', id, '@example.org') WHERE id % 97 = 0;
                   DELETE FROM orders WHERE id % 250 = 0;
                   INSERT INTO orders SELECT seq, 1 + seq % 2000, NOW() FROM seq_3001_to_3050;");
    let day1 = ingest(&e);
    let sums1 = m.checksums("shop");
    assert_ne!(sums0, sums1);
    // `ls` finds every table with the rows the server counts; `diff --objects` the three changed.
    let ls: Value = serde_json::from_slice(&e.ok(&["--json", "ls", day1["id"].as_str().unwrap()], b"").stdout).unwrap();
    let data: Vec<&Value> = ls["objects"].as_array().unwrap().iter().filter(|o| o["kind"] == "table_data").collect();
    assert_eq!(data.len(), 4, "{ls}");
    for o in data {
        assert_eq!(o["schema"], "shop");
        let counted = m.sql("shop", &format!("SELECT count(*) FROM `{}`", o["name"].as_str().unwrap()));
        assert_eq!(o["rows"].as_u64().unwrap().to_string(), counted.trim(), "rows of {}", o["name"]);
    }
    let d: Value = serde_json::from_slice(&e.ok(&["--json", "diff", day0["id"].as_str().unwrap(), day1["id"].as_str().unwrap(), "--objects"], b"").stdout).unwrap();
    let mut changed: Vec<&str> = d["changes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    changed.sort();
    assert_eq!(changed, ["customers", "customers", "order_items", "orders"], "{d}");
    assert!(d["changes"].as_array().unwrap().iter().any(|c| c["name"] == "customers" && c["kind"] == "table"), "the added column changed the definition: {d}");
    assert_eq!(day1["parent"], day0["id"]);
    assert!(day1["added_bytes"].as_u64().unwrap() < day0["added_bytes"].as_u64().unwrap());

    for (snap, sums, target) in [(&day0, &sums0, "shop_r0"), (&day1, &sums1, "shop_r1")] {
        m.sql("mysql", &format!("CREATE DATABASE {target}"));
        let mut client = m.client("mariadb");
        client.push(target.into());
        restore_into(&e, snap["id"].as_str().unwrap(), &client);
        assert_eq!(&m.checksums(target), sums, "restored {target} differs from the source at dump time");
    }

    // One table alone into a fresh database equals the source's; --rows names exactly the rows
    // the day changed, and its SQL turns day 0's table into day 1's.
    let (id0, id1) = (day0["id"].as_str().unwrap(), day1["id"].as_str().unwrap());
    let orders_sum = |db: &str| m.checksums(db).into_iter().find(|l| l.starts_with("orders ")).unwrap();
    m.sql("mysql", "CREATE DATABASE one_orders");
    let mut client = m.client("mariadb");
    client.push("one_orders".into());
    let mut args = vec!["restore", id1, "--table", "orders", "--"];
    args.extend(client.iter().map(String::as_str));
    e.ok(&args, b"");
    let one = m.sql("one_orders", "SELECT COUNT(*) FROM orders");
    assert_eq!(one.trim(), m.sql("shop", "SELECT COUNT(*) FROM orders").trim());
    assert_eq!(m.sql("one_orders", "SHOW TABLES").trim(), "orders", "only the table asked for");
    let lines = e.ok(&["diff", id0, id1, "--rows", "orders", "--format", "json"], b"").stdout;
    let sides: Vec<String> = String::from_utf8(lines).unwrap().lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["side"].as_str().unwrap().to_string()).collect();
    assert_eq!((sides.iter().filter(|s| *s == "a").count(), sides.iter().filter(|s| *s == "b").count()), (12, 50));
    // A column added between the days is said.
    let o = e.ok(&["diff", id0, id1, "--rows", "customers"], b"");
    assert!(stderr(&o).contains("columns of customers changed") && stderr(&o).contains("added: tier"), "{}", stderr(&o));
    let sql = e.ok(&["diff", id0, id1, "--rows", "orders", "--format", "sql"], b"").stdout;
    let c = m.client("mariadb");
    let mut cmd = Command::new(&c[0]);
    cmd.args(&c[1..]).arg("shop_r0").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run_piped(cmd, &sql);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(orders_sum("shop_r0"), orders_sum("shop"));

    // --rename-to: next to the live table in its own database, its foreign key's and trigger's
    // names (which a database holds once) renamed with it, the original untouched.
    let live = orders_sum("shop");
    let mut client = m.client("mariadb");
    client.push("shop".into());
    let mut args = vec!["restore", id1, "--table", "orders", "--rename-to", "orders_copy", "--"];
    args.extend(client.iter().map(String::as_str));
    e.ok(&args, b"");
    let copy_sum = m.sql("shop", "CHECKSUM TABLE orders_copy");
    assert_eq!(copy_sum.split_whitespace().last(), live.split_whitespace().last(), "{copy_sum} vs {live}");
    assert_eq!(orders_sum("shop"), live, "the live table is untouched");
    let triggers = m.sql("shop", "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop' ORDER BY 1");
    assert_eq!(triggers.trim(), "orders\torders_stamp\norders_copy\torders_copy_stamp");
    let fks = m.sql("shop", "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE TABLE_NAME = 'orders_copy'");
    assert_eq!(fks.trim(), "orders_copy_ibfk_1");
    // Again, now that a table of that name exists: the script stops at it, never drops it.
    m.sql("shop", "DELETE FROM orders_copy WHERE id > 10");
    let kept = m.sql("shop", "CHECKSUM TABLE orders_copy");
    let o = e.run(&args, b"");
    assert!(!o.status.success(), "a second restore over a live table of the new name must fail");
    assert_eq!(m.sql("shop", "CHECKSUM TABLE orders_copy"), kept, "the table of the new name is untouched");

    // --schema-only then --data-only of two linked tables: the trigger comes with the definition,
    // not again with the rows.
    m.sql("mysql", "CREATE DATABASE two_steps");
    let mut client = m.client("mariadb");
    client.push("two_steps".into());
    for part in ["--schema-only", "--data-only"] {
        let mut args = vec!["restore", id1, "--table", "orders", "--table", "customers", part, "--"];
        args.extend(client.iter().map(String::as_str));
        let o = e.ok(&args, b"");
        // MySQL cannot turn a trigger off: the rows' restore says they fire.
        assert_eq!(stderr(&o).contains("orders has triggers in the dump"), part == "--data-only", "{}", stderr(&o));
    }
    assert_eq!(m.sql("two_steps", "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'two_steps'").trim(), "orders_stamp");
    let two = m.sql("two_steps", "CHECKSUM TABLE orders");
    assert_eq!(two.split_whitespace().last(), live.split_whitespace().last(), "{two} vs {live}");

    // A dump of a database that does not exist fails, and nothing is committed.
    let mut a = vec!["ingest".to_string(), "--db".into(), "ghost".into(), "--".into()];
    a.extend(m.client("mariadb-dump"));
    a.push("no_such_db".into());
    let o = e.run(&a.iter().map(String::as_str).collect::<Vec<_>>(), b"");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert_eq!(e.run(&["snapshots", "--db", "ghost"], b"").status.code(), Some(1), "a failed dump left a snapshot");
}
