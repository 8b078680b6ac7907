//! The `dbvault` binary as users and scripts drive it: the command contract, exit codes,
//! JSON output, crash and concurrency behaviour.

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn daily_loop_contract() {
    let e = Env::new();
    let d = dumps(20_000, 2);
    let s0 = e.ingest("shop", &d[0]);
    let s1 = e.json(&["ingest", "--db", "shop", "--host", "db1", "--tag", "daily", "--tag", "pre-upgrade"], &d[1]);
    for key in ["id", "db", "size", "added_bytes", "chunks", "new_chunks", "elapsed_secs"] {
        assert!(!s1[key].is_null(), "ingest --json lacks {key}: {s1}");
    }
    assert_eq!(s1["size"], d[1].len());
    assert_eq!(s1["parent"], s0["id"]);
    assert!(s1["added_bytes"].as_u64().unwrap() < s0["added_bytes"].as_u64().unwrap() / 2);

    let list = e.json(&["snapshots"], b"");
    let arr = list.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let last = &arr[1];
    for key in ["id", "db", "host", "time", "size", "added_bytes", "parent", "tags"] {
        assert!(last.get(key).is_some(), "snapshots --json lacks {key}: {last}");
    }
    assert_eq!(last["host"], "db1");
    assert_eq!(last["tags"], serde_json::json!(["daily", "pre-upgrade"]));
    assert!(jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%.fZ", last["time"].as_str().unwrap()).is_ok() || last["time"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok());
    assert_eq!(e.run(&["snapshots", "--db", "other"], b"").status.code(), Some(1), "a database without snapshots is an error, as for log");

    let table = String::from_utf8(e.ok(&["snapshots"], b"").stdout).unwrap();
    assert!(table.starts_with("ID") && table.contains("shop") && table.contains("db1"), "{table}");

    // restore: latest to stdout, id prefix to a file.
    let out = e.ok(&["restore", "latest", "--db", "shop"], b"");
    assert!(out.stdout == d[1], "stdout restore differs");
    let id0 = s0["id"].as_str().unwrap();
    let file = e.dir.path().join("day0.sql");
    e.ok(&["restore", &id0[..8], "-o", file.to_str().unwrap()], b"");
    assert!(std::fs::read(&file).unwrap() == d[0]);
    // An existing file is not replaced without --force.
    let o = e.run(&["restore", &id0[..8], "-o", file.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"));
    e.ok(&["restore", "latest", "--db", "shop", "-o", file.to_str().unwrap(), "--force"], b"");
    assert!(std::fs::read(&file).unwrap() == d[1]);
}

/// A restore into a redirected file (`> f`, `>> f`, or after other output to the same file) writes
/// the dump where the file's position is and leaves it after the dump, as a plain stream would.
/// Such a standard output is written through a duplicate descriptor, which must share the
/// position (a file reopened by its path would not).
#[test]
fn restore_into_a_redirected_file_writes_at_its_position() {
    let e = Env::new();
    let d = dumps(20_000, 1);
    e.ingest("shop", &d[0]);
    assert!(d[0].len() > 8 * store::small_writes::WRITE_BYTES, "several writes");
    for append in [false, true] {
        let path = e.dir.path().join(format!("out-{append}.sql"));
        let mut f = std::fs::OpenOptions::new().create(true).write(true).append(append).open(&path).unwrap();
        f.write_all(b"-- before\n").unwrap();
        let mut c = e.cmd(&["restore", "latest", "--db", "shop"]);
        let status = c.stdin(std::process::Stdio::null()).stdout(f.try_clone().unwrap()).status().unwrap();
        assert!(status.success());
        f.write_all(b"-- after\n").unwrap();
        assert!(std::fs::read(&path).unwrap() == [&b"-- before\n"[..], &d[0], b"-- after\n"].concat(), "append: {append}");
    }
}

/// `dbvault ingest < dump.sql` maps the file when nobody writes it, and reads it when someone
/// does: either way the snapshot is the bytes from the file's offset to its end, and the offset
/// is left at the end, as reading would leave it.
#[test]
fn ingest_from_a_redirected_file_starts_at_its_offset_and_leaves_it_at_the_end() {
    use std::io::{Read, Seek};
    let e = Env::new();
    let d = dumps(20_000, 1);
    let path = e.dir.path().join("dump.sql");
    std::fs::write(&path, [&b"-- skipped\n"[..], &d[0]].concat()).unwrap();
    for someone_writing in [false, true] {
        let _writer = someone_writing.then(|| std::fs::OpenOptions::new().append(true).open(&path).unwrap());
        let mut f = std::fs::File::open(&path).unwrap();
        f.read_exact(&mut [0u8; 11]).unwrap();
        let mut c = e.cmd(&["ingest", "--db", "shop", "--json"]);
        let out = c.stdin(f.try_clone().unwrap()).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(f.stream_position().unwrap(), 11 + d[0].len() as u64, "someone writing: {someone_writing}");
        let restored = e.ok(&["restore", "latest", "--db", "shop"], b"").stdout;
        assert!(restored == d[0], "someone writing: {someone_writing}");
    }
}

#[test]
fn exit_codes_and_messages() {
    let e = Env::new();
    e.ingest("shop", b"-- tiny dump\n");
    // Wrong password: 3, and a message that says so.
    let o = e.run_with(
        {
            let mut c = e.cmd(&["snapshots"]);
            c.env("DBVAULT_PASSWORD", "nope");
            c
        },
        b"",
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong password"));
    // No password and no terminal: a clear error naming the ways to give one.
    let o = e.run_with(
        {
            let mut c = e.cmd(&["snapshots"]);
            c.env_remove("DBVAULT_PASSWORD");
            c
        },
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("DBVAULT_PASSWORD_FILE"), "{}", stderr(&o));
    // init refuses a non-empty folder.
    let o = e.run(&["init"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    // Unknown snapshot, ambiguous usage.
    let o = e.run(&["restore", "deadbeef"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no snapshot matches"));
    // Not a repository.
    let o = e.run_with(
        {
            let mut c = e.cmd(&["snapshots"]);
            c.env("DBVAULT_REPOSITORY", e.dir.path());
            c
        },
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a dbvault repository"), "{}", stderr(&o));
    // Usage errors are clap's 2.
    assert_eq!(e.run(&["ingest"], b"").status.code(), Some(2));
}

#[test]
fn password_file_and_command() {
    let e = Env::new();
    let pwfile = e.dir.path().join("pw");
    std::fs::write(&pwfile, "pw\n").unwrap();
    let mut c = e.cmd(&["snapshots", "--password-file", pwfile.to_str().unwrap()]);
    c.env_remove("DBVAULT_PASSWORD");
    assert!(e.run_with(c, b"").status.success());
    let mut c = e.cmd(&["snapshots"]);
    c.env_remove("DBVAULT_PASSWORD").env("DBVAULT_PASSWORD_COMMAND", "echo pw");
    assert!(e.run_with(c, b"").status.success());
    let mut c = e.cmd(&["snapshots", "--password-command", "exit 7"]);
    c.env_remove("DBVAULT_PASSWORD");
    let o = e.run_with(c, b"");
    assert!(!o.status.success() && stderr(&o).contains("password command"));
}

#[test]
fn corrupted_pack_fails_restore_with_code_5_and_leaves_no_file() {
    let e = Env::new();
    let d = dumps(20_000, 1);
    let s = e.ingest("shop", &d[0]);
    let mut packs = Vec::new();
    let mut stack = vec![e.repo().join("packs")];
    while let Some(dir) = stack.pop() {
        for ent in std::fs::read_dir(dir).unwrap() {
            let p = ent.unwrap().path();
            if p.is_dir() { stack.push(p) } else { packs.push(p) }
        }
    }
    for p in &packs {
        let mut b = std::fs::read(p).unwrap();
        let at = b.len() / 2;
        b[at] ^= 0x80;
        std::fs::write(p, b).unwrap();
    }
    let target = e.dir.path().join("out.sql");
    let o = e.run(&["restore", s["id"].as_str().unwrap(), "-o", target.to_str().unwrap()], b"");
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("db shop") && msg.contains(&s["id"].as_str().unwrap()[..8]) && msg.contains("chunk"), "{msg}");
    assert!(!target.exists(), "a failed restore left {}", target.display());
    let leftovers: Vec<_> = std::fs::read_dir(e.dir.path()).unwrap().filter_map(|x| x.ok()).filter(|x| x.file_name().to_string_lossy().starts_with(".dbvault-restore")).collect();
    assert!(leftovers.is_empty(), "temporary restore file left behind");
}

#[test]
fn killed_ingest_leaves_previous_snapshots_intact_and_next_ingest_works() {
    let e = Env::new();
    let d = dumps(200_000, 3);
    let first = e.ingest("shop", &d[0]);
    let mut orphans_seen = 0;
    for round in 0..3 {
        let mut child = e.cmd(&["ingest", "--db", "shop"]).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Feed the whole dump but never close the pipe: the ingest chunks, seals and writes packs,
        // then waits for the end of the stream. SIGKILL it at different moments.
        stdin.write_all(&d[1]).unwrap();
        std::thread::sleep(Duration::from_millis(50 + 200 * round));
        child.kill().unwrap();
        child.wait().unwrap();
        drop(stdin);
        orphans_seen += count_files(&e.repo().join("local/tmp"));
        let list = e.json(&["snapshots"], b"");
        assert_eq!(list.as_array().unwrap().len(), 1, "a killed ingest must not commit a snapshot");
        let out = e.ok(&["restore", first["id"].as_str().unwrap()], b"");
        assert!(out.stdout == d[0]);
    }
    assert!(orphans_seen > 0, "the kills never landed while a pack was being written; the test proves nothing");
    let next = e.ingest("shop", &d[2]);
    assert_eq!(next["parent"], first["id"]);
    assert!(e.ok(&["restore", "latest", "--db", "shop"], b"").stdout == d[2]);
    // The killed runs' temporary packs were orphaned; the next ingest removed them.
    assert_eq!(count_files(&e.repo().join("local/tmp")), 0, "orphaned temporary packs were not cleaned up");
}

#[test]
fn concurrent_ingests_of_different_databases_all_commit() {
    let e = Env::new();
    let d = dumps(40_000, 4);
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut c = e.cmd(&["ingest", "--db", &format!("db{i}"), "--json"]).spawn().unwrap();
            let mut stdin = c.stdin.take().unwrap();
            let data = d[i].clone();
            let w = std::thread::spawn(move || stdin.write_all(&data).unwrap());
            (c, w)
        })
        .collect();
    for (c, w) in children {
        w.join().unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let list = e.json(&["snapshots"], b"");
    assert_eq!(list.as_array().unwrap().len(), 4);
    for (i, dump) in d.iter().enumerate() {
        let out = e.ok(&["restore", "latest", "--db", &format!("db{i}")], b"");
        assert!(out.stdout == *dump, "db{i} did not restore identically");
    }
    let o = e.run(&["check", "--read-data"], b"");
    assert!(o.status.success(), "check after concurrent ingests: {}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn help_teaches_the_daily_commands() {
    let o = Command::new(BIN).arg("--help").output().unwrap();
    let h = String::from_utf8_lossy(&o.stdout);
    assert!(h.contains("pg_dump shop | dbvault ingest --db shop") && h.contains("Exit codes"), "{h}");
    let o = Command::new(BIN).args(["ingest", "--help"]).output().unwrap();
    let h = String::from_utf8_lossy(&o.stdout);
    for must in ["--db", "dbvault ingest --db shop -- pg_dump", "--jobs", "--allow-incomplete", "defeat deduplication", "exit code 7"] {
        assert!(h.contains(must), "ingest --help lacks {must:?}: {h}");
    }
}

/// A script in the layout SSMS's Generate Scripts writes, CRLF line ends.
const SSMS_SCRIPT: &str = "USE [master]\r\nGO\r\n\
/****** Object:  Database [Shop]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nCREATE DATABASE [Shop]\r\nGO\r\nUSE [Shop]\r\nGO\r\n\
/****** Object:  Table [dbo].[Customers]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nSET ANSI_NULLS ON\r\nGO\r\nCREATE TABLE [dbo].[Customers](\r\n\t[Id] [int] NOT NULL\r\n) ON [PRIMARY]\r\nGO\r\n\
/****** Object:  Table [dbo].[Orders]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nSET ANSI_NULLS ON\r\nGO\r\nCREATE TABLE [dbo].[Orders](\r\n\t[Id] [int] NOT NULL,\r\n\t[Note] [nvarchar](50) NULL\r\n) ON [PRIMARY]\r\nGO\r\n\
INSERT [dbo].[Customers] ([Id]) VALUES (1)\r\nGO\r\n\
INSERT [dbo].[Orders] ([Id], [Note]) VALUES (10, N'caf\u{e9} GO')\r\nGO\r\nINSERT [dbo].[Orders] ([Id], [Note]) VALUES (11, N'x')\r\nGO\r\n\
/****** Object:  Index [IX_Orders_Note]    Script Date: 12/7/2026 10:00:00 AM ******/\r\nCREATE NONCLUSTERED INDEX [IX_Orders_Note] ON [dbo].[Orders]\r\n(\r\n\t[Note] ASC\r\n)\r\nGO\r\n\
ALTER TABLE [dbo].[Orders]  WITH CHECK ADD  CONSTRAINT [FK_Orders_Customers] FOREIGN KEY([Id])\r\nREFERENCES [dbo].[Customers] ([Id])\r\nGO\r\n\
USE [master]\r\nGO\r\n";

#[test]
fn a_utf16_ssms_script_lists_its_tables_and_restores_one_in_its_own_encoding() {
    let e = Env::new();
    let utf16: Vec<u8> = [0xff, 0xfe].into_iter().chain(SSMS_SCRIPT.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let day0 = e.ingest("shop", &utf16);
    let ls = e.json(&["ls", "latest", "--db", "shop"], b"");
    let rows: Vec<(String, u64)> = ls["objects"].as_array().unwrap().iter().filter(|o| o["kind"] == "table_data").map(|o| (o["name"].as_str().unwrap().to_string(), o["rows"].as_u64().unwrap())).collect();
    assert_eq!(rows, [("Customers".to_string(), 1), ("Orders".to_string(), 2)], "{ls}");
    let out = e.dir.path().join("orders.sql");
    e.ok(&["restore", "latest", "--db", "shop", "--table", "dbo.Orders", "-o", out.to_str().unwrap()], b"");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..2], &[0xff, 0xfe], "UTF-16 LE with its byte order mark, like the dump");
    let units: Vec<u16> = bytes[2..].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let text = String::from_utf16(&units).unwrap();
    assert!(text.starts_with("USE [Shop]\nGO\n"), "{text}");
    for wanted in ["CREATE TABLE [dbo].[Orders]", "VALUES (10, N'caf\u{e9} GO')", "VALUES (11, N'x')", "CREATE NONCLUSTERED INDEX [IX_Orders_Note]", "dbvault: foreign key Orders FK_Orders_Customers left out"] {
        assert!(text.contains(wanted), "missing {wanted:?} in {text}");
    }
    for unwanted in ["[dbo].[Customers](", "VALUES (1)\r", "USE [master]", "CREATE DATABASE"] {
        assert!(!text.contains(unwanted), "{unwanted:?} in {text}");
    }

    // The next day's script, in UTF-8 this time: --rows reads both encodings, and without a
    // primary key compares whole rows (one changed, one added).
    let next = SSMS_SCRIPT.replace("VALUES (11, N'x')", "VALUES (11, N'y')\r\nGO\r\nINSERT [dbo].[Orders] ([Id], [Note]) VALUES (12, N'it''s')");
    let day1 = e.ingest("shop", next.as_bytes());
    let (a, b) = (day0["id"].as_str().unwrap(), day1["id"].as_str().unwrap());
    let lines = String::from_utf8(e.ok(&["diff", a, b, "--rows", "dbo.Orders", "--format", "json"], b"").stdout).unwrap();
    let rows: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3, "{lines}");
    assert!(rows.iter().any(|r| r["side"] == "a" && r.to_string().contains("\"x\"")), "{lines}");
    assert!(rows.iter().any(|r| r["side"] == "b" && r.to_string().contains("it's")), "{lines}");
    let sql = String::from_utf8(e.ok(&["diff", a, b, "--rows", "Orders", "--format", "sql"], b"").stdout).unwrap();
    assert!(sql.contains("INSERT [dbo].[Orders] ([Id], [Note]) VALUES (12, N'it''s');") && sql.contains("DELETE TOP (1) FROM [dbo].[Orders] WHERE"), "{sql}");
}

#[test]
fn ls_lists_the_tables_of_a_pg_dump_and_says_which_formats_it_cannot_list() {
    let e = Env::new();
    let d = dumps(3_000, 2);
    let day0 = e.ingest("shop", &d[0]);
    let day1 = e.ingest("shop", &d[1]);
    let diff: Value = serde_json::from_slice(&e.ok(&["--json", "diff", day0["id"].as_str().unwrap(), day1["id"].as_str().unwrap(), "--objects"], b"").stdout).unwrap();
    let changed: Vec<&str> = diff["changes"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(changed, ["orders"], "only the rows changed: {diff}");
    assert!(diff["unchanged"].as_u64().unwrap() >= 1, "the table's definition: {diff}");
    assert_eq!(diff["complete"], true);
    let ls: Value = serde_json::from_slice(&e.ok(&["--json", "ls", day0["id"].as_str().unwrap()], b"").stdout).unwrap();
    let objects = ls["objects"].as_array().unwrap();
    let data: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "table_data").collect();
    assert_eq!(data.len(), 1, "{ls}");
    assert_eq!((data[0]["schema"].as_str(), data[0]["name"].as_str(), data[0]["rows"].as_u64()), (Some("public"), Some("orders"), Some(3_000)));
    // The objects cover the dump from its first byte to its last.
    let total: u64 = objects.iter().map(|o| o["bytes"].as_u64().unwrap()).sum();
    assert_eq!((objects[0]["offset"].as_u64(), total), (Some(0), d[0].len() as u64));
    let text = String::from_utf8(e.ok(&["ls", day0["id"].as_str().unwrap()], b"").stdout).unwrap();
    assert!(text.contains("public.orders") && text.contains("3000"), "{text}");

    // A dump of a format without a parser yet: a clear error, nothing else.
    let mut tar = b"toc.dat".to_vec();
    tar.resize(512, 0);
    tar.extend_from_slice(b"PGDMP\x01\x0e\x00\x04\x08\x03 a pg_dump tar archive");
    tar.resize(1024 + 1024, 0); // a member's block, then tar's end-of-archive blocks
    e.ingest("archive", &tar);
    let o = e.run(&["ls", "latest", "--db", "archive"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pg_dump-tar dump") && stderr(&o).contains("pg_dump-plain, pg_dump-custom, pg_dumpall, mysqldump, t-sql"), "{}", stderr(&o));
    // A dump whose objects have no comment blocks: an empty list, said out loud.
    e.ingest("bare", b"-- MySQL dump 10.13  Distrib 8.0.36\nCREATE TABLE `t` (`v` int);\nINSERT INTO `t` VALUES (1),(2);\n-- Dump completed on 2026-12-07\n");
    let o = e.run(&["ls", "latest", "--db", "bare"], b"");
    assert!(o.status.success() && stderr(&o).contains("no objects were recognised"), "{}", stderr(&o));
    let o = e.run(&["ls", "nosuchid"], b"");
    assert!(!o.status.success() && o.stdout.is_empty(), "{}", stderr(&o));
}

#[test]
fn rename_to_copies_binary_rows_byte_for_byte() {
    let e = Env::new();
    let mut d = b"-- MariaDB dump 10.19  Distrib 11.8.3-MariaDB\n--\n-- Host: localhost    Database: shop\n-- ------\n\n--\n-- Table structure for table `t`\n--\n\nDROP TABLE IF EXISTS `t`;\nCREATE TABLE `t` (`id` int, `b` blob);\n\n--\n-- Dumping data for table `t`\n--\n\nLOCK TABLES `t` WRITE;\nINSERT INTO `t` VALUES (1,'\xff\xfe\x80 not utf-8'),(2,'ok');\nINSERT INTO `t` VALUES (3,'\xc3');\nUNLOCK TABLES;\n\n".to_vec();
    d.extend_from_slice(b"-- Dump completed on 2026-12-07 10:00:00\n");
    e.ingest("shop", &d);
    let out = e.ok(&["restore", "latest", "--db", "shop", "--table", "t", "--rename-to", "t_copy"], b"").stdout;
    let has = |needle: &[u8]| out.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"INSERT INTO `t_copy` VALUES (1,'\xff\xfe\x80 not utf-8'),(2,'ok');\nINSERT INTO `t_copy` VALUES (3,'\xc3');\nUNLOCK TABLES;"), "{}", String::from_utf8_lossy(&out));
    assert!(has(b"LOCK TABLES `t_copy` WRITE;") && !has(b"`t`"), "{}", String::from_utf8_lossy(&out));
}
