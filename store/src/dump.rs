//! What a dump stream is, recognised from its first and last bytes only.
//!
//! Ingest keeps the first and last [`EDGE`] bytes of every stream (no extra pass, no parse of the
//! body) and asks [`recognize`] what they show: the dump tool and its version, the source database
//! and server version when the header names them, the text encoding, whether the stream is
//! compressed (which defeats deduplication), and, for formats that end with one, whether the
//! completion marker is there. A recognised format whose marker is missing is a truncated dump.

use serde::Serialize;

/// Bytes kept from each end of the stream.
pub const EDGE: usize = 64 * 1024;
/// Completion markers must lie in the stream's last bytes, not merely somewhere in its tail
/// (a row of data could quote the marker text).
const MARKER_WINDOW: usize = 4096;

/// A dump format dbvault recognises, by the name manifests record (SPEC.md 9.1, "Recognising dumps").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    /// pg_dump's plain SQL script.
    PgDumpPlain,
    /// pg_dumpall's SQL script of a whole cluster.
    PgDumpall,
    /// pg_dump's custom archive (`-Fc`).
    PgDumpCustom,
    /// pg_dump's tar archive (`-Ft`).
    PgDumpTar,
    /// mysqldump's or mariadb-dump's SQL script.
    Mysqldump,
    /// A T-SQL script (SQL Server Management Studio, sqlcmd).
    TSql,
    /// A compressed stream, by its compressor's name (`gzip`, `zstd`, ...).
    Compressed(&'static str),
    /// A base backup (`pg_basebackup -Ft -D -`).
    PgBasebackup,
    /// A WAL file (`dbvault wal push`).
    PgWal,
}

impl DumpFormat {
    /// The name manifests record.
    pub fn name(self) -> &'static str {
        match self {
            DumpFormat::PgDumpPlain => "pg_dump-plain",
            DumpFormat::PgDumpall => "pg_dumpall",
            DumpFormat::PgDumpCustom => "pg_dump-custom",
            DumpFormat::PgDumpTar => "pg_dump-tar",
            DumpFormat::Mysqldump => "mysqldump",
            DumpFormat::TSql => "t-sql",
            DumpFormat::Compressed(c) => c,
            DumpFormat::PgBasebackup => "pg_basebackup-tar",
            DumpFormat::PgWal => "pg-wal",
        }
    }

    /// The line a complete dump of a text format ends with (a dump without it was cut short).
    fn marker_line(self) -> Option<&'static str> {
        match self {
            DumpFormat::PgDumpPlain => Some("-- PostgreSQL database dump complete"),
            DumpFormat::PgDumpall => Some("-- PostgreSQL database cluster dump complete"),
            DumpFormat::Mysqldump => Some("-- Dump completed"),
            _ => None,
        }
    }

    /// What a complete dump of this format ends with, in words for a user; `None` when the format
    /// has no completion marker.
    pub fn completion_marker(self) -> Option<&'static str> {
        match self {
            DumpFormat::PgDumpTar => Some("tar end-of-archive blocks"),
            DumpFormat::PgDumpCustom => Some("the end of the last data block its table of contents announces"),
            f => f.marker_line(),
        }
    }
}

impl Serialize for DumpFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// What the stream's edges show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DumpInfo {
    /// The format; `None` if not recognised.
    pub format: Option<DumpFormat>,
    /// The dump tool (`pg_dump`, `mysqldump`, `mariadb-dump`, ...).
    pub tool: Option<String>,
    /// The tool's version as it states it.
    pub tool_version: Option<String>,
    /// Database name, when the header states it.
    pub database: Option<String>,
    /// Server version, when the header states it.
    pub server_version: Option<String>,
    /// Text encoding: `utf-8`, `utf-8-bom`, `utf-16le`, `utf-16be` (with BOM), or `utf-16le-nobom`.
    pub encoding: Option<String>,
    /// Compression of the stream or of the dump's data, if any.
    pub compression: Option<String>,
    /// T-SQL batch separator seen (`GO`).
    pub batch_separator: Option<String>,
    /// Whether the format's completion marker was found; `None` when the format has none.
    pub completion_marker: Option<bool>,
}

impl DumpInfo {
    /// True when a format with a completion marker lacks it: the dump was cut short.
    pub fn is_truncated(&self) -> bool {
        self.completion_marker == Some(false)
    }

    /// Why a stream that is not a recognised dump deserves a look, if it is not one.
    pub fn unrecognised_warning(&self, size: u64) -> Option<String> {
        self.format.is_none().then(|| {
            format!(
                "the stream ({size} bytes) is not recognised as a database dump (pg_dump, pg_dumpall, mysqldump, mariadb-dump, T-SQL): \
                 if the dump tool wrote to a file instead of standard output, this snapshot holds only what it printed"
            )
        })
    }

    /// The loud warning for compressed input, if it applies.
    pub fn compression_warning(&self) -> Option<String> {
        let c = self.compression.as_ref()?;
        let fix = if matches!(self.format, Some(DumpFormat::PgDumpCustom | DumpFormat::PgDumpTar)) {
            "dump with --format=plain, or keep --format=custom and add --compress=0"
        } else {
            "feed the dump uncompressed (pg_dump --format=plain, mysqldump or mariadb-dump without `| gzip`)"
        };
        Some(format!(
            "input is compressed ({c}): deduplication cannot find repeated data inside compressed bytes, \
             so every snapshot will be stored in full, and whether the dump inside is complete cannot be checked \
             (only a dump command's exit status can tell). To fix it, {fix}; dbvault compresses after deduplicating."
        ))
    }
}

/// The rest of the line that starts after `prefix` (first occurrence), trimmed.
fn line_after(text: &str, prefix: &str) -> Option<String> {
    let at = text.find(prefix)? + prefix.len();
    let rest = &text[at..];
    let line = rest.split(['\n', '\r']).next().unwrap_or("").trim();
    (!line.is_empty()).then(|| line.to_string())
}

fn last_bytes(tail: &[u8], n: usize) -> &[u8] {
    &tail[tail.len().saturating_sub(n)..]
}

/// True when some line of the stream's last bytes, trimmed, starts with `format`'s marker line.
fn ends_with_marker(tail: &[u8], format: DumpFormat) -> bool {
    let marker = format.marker_line().expect("a text format with a marker line");
    String::from_utf8_lossy(last_bytes(tail, MARKER_WINDOW)).lines().any(|l| l.trim_end().starts_with(marker))
}

fn compression_magic(head: &[u8]) -> Option<&'static str> {
    const MAGICS: [(&[u8], &str); 6] = [
        (b"\x1f\x8b", "gzip"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"BZh", "bzip2"),
        (b"PK\x03\x04", "zip"),
        (b"\x04\x22\x4d\x18", "lz4"),
    ];
    MAGICS.iter().find(|(m, _)| head.starts_with(m)).map(|(_, n)| *n)
}

/// Recognise a stream from its first and last bytes (`head` and `tail` may overlap for short streams).
pub fn recognize(head: &[u8], tail: &[u8]) -> DumpInfo {
    if head.starts_with(b"PGDMP") {
        return pg_archive(head, DumpFormat::PgDumpCustom, None);
    }
    if head.len() >= 517 && head[..8] == *b"toc.dat\0" && head[512..517] == *b"PGDMP" {
        // pg_dump --format=tar: a tar archive whose first member is the PGDMP table of contents.
        // Its end-of-archive marker is two zeroed 512-byte blocks.
        let end = last_bytes(tail, 1024);
        return pg_archive(&head[512..], DumpFormat::PgDumpTar, Some(end.len() == 1024 && end.iter().all(|&b| b == 0)));
    }
    if let Some(c) = compression_magic(head) {
        return DumpInfo { format: Some(DumpFormat::Compressed(c)), compression: Some(c.into()), ..Default::default() };
    }
    let (encoding, text_head, text_tail) = decode_text(head, tail);
    let mut info = DumpInfo { encoding: Some(encoding.into()), ..Default::default() };
    let start = &text_head[..floor_char_boundary(&text_head, 4096)];
    if start.contains("-- PostgreSQL database cluster dump") {
        info.format = Some(DumpFormat::PgDumpall);
        info.tool = Some("pg_dumpall".into());
        info.completion_marker = Some(ends_with_marker(text_tail.as_bytes(), DumpFormat::PgDumpall));
    } else if start.contains("-- PostgreSQL database dump") {
        info.format = Some(DumpFormat::PgDumpPlain);
        info.tool = Some("pg_dump".into());
        info.tool_version = line_after(start, "-- Dumped by pg_dump version ");
        info.server_version = line_after(start, "-- Dumped from database version ");
        info.database = line_after(&text_head, "CREATE DATABASE ")
            .and_then(|l| l.split_whitespace().next().map(|n| n.trim_matches('"').to_string()));
        info.completion_marker = Some(ends_with_marker(text_tail.as_bytes(), DumpFormat::PgDumpPlain));
    } else if let Some((tool, prefix)) = [("mariadb-dump", "-- MariaDB dump "), ("mysqldump", "-- MySQL dump ")]
        .into_iter()
        .find(|(_, p)| start.contains(p))
    {
        info.format = Some(DumpFormat::Mysqldump);
        info.tool = Some(tool.into());
        info.tool_version = line_after(start, prefix);
        info.server_version = line_after(start, "-- Server version");
        info.database = line_after(start, "Database: ");
        info.completion_marker = Some(ends_with_marker(text_tail.as_bytes(), DumpFormat::Mysqldump));
    } else if is_tsql(&text_head) {
        info.format = Some(DumpFormat::TSql);
        info.tool = Some(if text_head.contains("/****** Object:") { "SSMS Generate Scripts" } else { "T-SQL script" }.into());
        if text_head.lines().chain(text_tail.lines()).any(|l| l.trim().eq_ignore_ascii_case("GO")) {
            info.batch_separator = Some("GO".into());
        }
        info.database = tsql_database(&text_head);
    }
    info
}

/// The database a T-SQL script works in: the first `USE [name]` (or `USE name`) that is not a
/// system database (install scripts begin with `USE [master]` to create theirs).
fn tsql_database(text: &str) -> Option<String> {
    const SYSTEM: [&str; 4] = ["master", "tempdb", "model", "msdb"];
    text.lines()
        .filter_map(|l| {
            let t = l.trim().trim_start_matches('\u{feff}');
            let rest = t.get(..4).filter(|p| p.eq_ignore_ascii_case("USE ")).map(|_| &t[4..])?;
            let name = rest.trim().trim_end_matches(';').trim();
            let name = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
            (!name.is_empty()).then(|| name.to_string())
        })
        .find(|n| !SYSTEM.contains(&n.to_ascii_lowercase().as_str()))
}

fn is_tsql(text: &str) -> bool {
    text.contains("/****** Object:")
        || text.lines().any(|l| l.trim().eq_ignore_ascii_case("GO"))
        || ["SET ANSI_NULLS ON", "SET QUOTED_IDENTIFIER ON", "USE ["].iter().any(|m| text.contains(m))
}

/// The largest index at most `max` that starts a character of `s` (`str::floor_char_boundary`,
/// which needs a newer Rust than this crate's minimum).
fn floor_char_boundary(s: &str, max: usize) -> usize {
    (0..=max.min(s.len())).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

/// Decode the edges to text for marker searches; never used to change what is stored.
fn decode_text(head: &[u8], tail: &[u8]) -> (&'static str, String, String) {
    let utf16 = |b: &[u8], le: bool| -> String {
        let units = b.chunks_exact(2).map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) });
        char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect()
    };
    // The tail may start in the middle of a code unit: align it to the stream's 2-byte grid is not
    // possible without its offset, so try both alignments and keep the one with fewer NULs.
    let tail16 = |le: bool| {
        let a = utf16(tail, le);
        let b = utf16(tail.get(1..).unwrap_or(&[]), le);
        if a.matches('\0').count() <= b.matches('\0').count() { a } else { b }
    };
    if head.starts_with(b"\xff\xfe") {
        return ("utf-16le", utf16(&head[2..], true), tail16(true));
    }
    if head.starts_with(b"\xfe\xff") {
        return ("utf-16be", utf16(&head[2..], false), tail16(false));
    }
    let sample = &head[..head.len().min(4096)];
    let odd_zeros = sample.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    // ASCII-range text in UTF-16LE without a BOM: (nearly) every odd byte is zero.
    if sample.len() >= 64 && odd_zeros * 10 >= (sample.len() / 2) * 8 {
        return ("utf-16le-nobom", utf16(head, true), tail16(true));
    }
    let enc = if head.starts_with(b"\xef\xbb\xbf") { "utf-8-bom" } else { "utf-8" };
    (enc, String::from_utf8_lossy(head).into_owned(), String::from_utf8_lossy(tail).into_owned())
}

/// Read the header of a pg_dump archive (custom format, or the tar format's `toc.dat`).
fn pg_archive(h: &[u8], format: DumpFormat, completion: Option<bool>) -> DumpInfo {
    let mut info = DumpInfo { format: Some(format), tool: Some("pg_dump".into()), completion_marker: completion, ..Default::default() };
    let (Some(&vmaj), Some(&vmin), Some(&int_size)) = (h.get(5), h.get(6), h.get(8)) else { return info };
    let vrev = h.get(7).copied().unwrap_or(0);
    info.tool_version = Some(format!("archive {vmaj}.{vmin}.{vrev}"));
    if !(1..=8).contains(&int_size) {
        return info;
    }
    let mut at = 11; // after magic (5), version (3), int size, offset size, format
    // ReadInt: a sign byte, then `int_size` bytes, least significant first.
    let read_int = |at: &mut usize| -> Option<i64> {
        let sign = *h.get(*at)?;
        let bytes = h.get(*at + 1..*at + 1 + int_size as usize)?;
        *at += 1 + int_size as usize;
        let v = bytes.iter().rev().fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
        Some(if sign != 0 { -v } else { v })
    };
    let compression = if (vmaj, vmin) >= (1, 15) {
        let alg = h.get(at).copied();
        at += 1;
        match alg {
            Some(0) => None,
            Some(1) => Some("gzip".to_string()),
            Some(2) => Some("lz4".to_string()),
            Some(3) => Some("zstd".to_string()),
            Some(n) => Some(format!("algorithm {n}")),
            None => return info,
        }
    } else {
        match read_int(&mut at) {
            Some(0) => None,
            Some(-1) => Some("gzip (default level)".to_string()),
            Some(l) => Some(format!("gzip level {l}")),
            None => return info,
        }
    };
    info.compression = compression.map(|c| format!("pg_dump {} data, {c}", format.name()));
    for _ in 0..7 {
        if read_int(&mut at).is_none() {
            return info;
        }
    }
    let read_str = |at: &mut usize| -> Option<String> {
        let len = read_int(at)?;
        if !(0..=1024).contains(&len) {
            return None;
        }
        let s = h.get(*at..*at + len as usize)?;
        *at += len as usize;
        Some(String::from_utf8_lossy(s).into_owned())
    };
    info.database = read_str(&mut at);
    info.server_version = read_str(&mut at);
    if let Some(v) = read_str(&mut at) {
        info.tool_version = Some(v);
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &[u8]) -> DumpInfo {
        recognize(&s[..s.len().min(EDGE)], &s[s.len().saturating_sub(EDGE)..])
    }

    #[test]
    fn the_head_is_cut_on_a_character_boundary() {
        let s = "ab\u{e9}c"; // 'é' takes bytes 2..4
        assert_eq!((floor_char_boundary(s, 3), floor_char_boundary(s, 4)), (2, 4));
        assert_eq!((floor_char_boundary(s, 99), floor_char_boundary("", 4096)), (s.len(), 0));
    }

    const PG: &str = "--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)\n\
        -- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)\n\nCREATE DATABASE shop WITH TEMPLATE = template0;\n\
        COPY t (a) FROM stdin;\n1\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n";

    #[test]
    fn pg_dump_plain_complete_and_truncated() {
        let i = rec(PG.as_bytes());
        assert_eq!(i.format.map(DumpFormat::name), Some("pg_dump-plain"));
        assert_eq!(i.tool_version.as_deref(), Some("15.18 (Debian 15.18-0+deb12u1)"));
        assert_eq!((i.database.as_deref(), i.completion_marker), (Some("shop"), Some(true)));
        let cut = &PG.as_bytes()[..PG.len() - 60];
        assert!(rec(cut).is_truncated());
        // The marker quoted far from the end does not count.
        let mut long = PG.replace("-- PostgreSQL database dump complete", "x").into_bytes();
        long.extend_from_slice(b"-- PostgreSQL database dump complete\n");
        long.extend(std::iter::repeat_n(b'y', 10_000));
        assert!(rec(&long).is_truncated());
    }

    #[test]
    fn mysqldump_and_mariadb_dump() {
        let m = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19-11.4.2-MariaDB, for debian-linux-gnu (x86_64)\n--\n\
                 -- Host: 127.0.0.1    Database: shop\n-- ------------------------------------------------------\n\
                 -- Server version\t10.11.6-MariaDB-0+deb12u1\n\nINSERT INTO t VALUES (1);\n-- Dump completed on 2026-11-21 14:00:00\n";
        let i = rec(m.as_bytes());
        assert_eq!((i.format.map(DumpFormat::name), i.tool.as_deref()), (Some("mysqldump"), Some("mariadb-dump")));
        assert_eq!(i.database.as_deref(), Some("shop"));
        assert_eq!(i.server_version.as_deref(), Some("10.11.6-MariaDB-0+deb12u1"));
        assert_eq!(i.completion_marker, Some(true));
        let cut = m.replace("-- Dump completed on 2026-11-21 14:00:00\n", "");
        assert!(rec(cut.as_bytes()).is_truncated());
        let my = "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost    Database: crm\n-- Dump completed\n";
        let i = rec(my.as_bytes());
        assert_eq!(i.tool.as_deref(), Some("mysqldump"));
        assert_eq!(i.tool_version.as_deref(), Some("10.13  Distrib 8.0.36, for Linux (x86_64)"));
        assert_eq!(i.completion_marker, Some(true));
    }

    fn utf16(s: &str, le: bool) -> Vec<u8> {
        let mut v = if le { vec![0xff, 0xfe] } else { vec![0xfe, 0xff] };
        for u in s.encode_utf16() {
            v.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        v
    }

    #[test]
    fn tsql_scripts_in_every_encoding() {
        let script = "USE [shop]\r\nGO\r\n/****** Object:  Table [dbo].[orders]    Script Date: 21.11.2026 ******/\r\n\
                      SET ANSI_NULLS ON\r\nGO\r\nCREATE TABLE [dbo].[orders]([id] [int] NOT NULL)\r\nGO\r\n";
        for (bytes, enc) in [
            (utf16(script, true), "utf-16le"),
            (utf16(script, false), "utf-16be"),
            ([b"\xef\xbb\xbf".as_slice(), script.as_bytes()].concat(), "utf-8-bom"),
            (script.as_bytes().to_vec(), "utf-8"),
            (utf16(script, true)[2..].to_vec(), "utf-16le-nobom"),
        ] {
            let i = rec(&bytes);
            assert_eq!(i.encoding.as_deref(), Some(enc));
            assert_eq!(i.format.map(DumpFormat::name), Some("t-sql"), "{enc}");
            assert_eq!(i.tool.as_deref(), Some("SSMS Generate Scripts"));
            assert_eq!(i.batch_separator.as_deref(), Some("GO"));
            assert_eq!(i.database.as_deref(), Some("shop"));
            assert_eq!(i.completion_marker, None, "T-SQL scripts have no completion marker");
        }
    }

    #[test]
    fn a_tsql_install_script_names_its_own_database_not_master() {
        let script = "USE [master]\r\nGO\r\nCREATE DATABASE [pubs]\r\nGO\r\nuse pubs;\r\nGO\r\nCREATE TABLE authors (id int)\r\nGO\r\n";
        assert_eq!(rec(script.as_bytes()).database.as_deref(), Some("pubs"));
        assert_eq!(rec(b"USE [master]\r\nGO\r\nSELECT 1\r\nGO\r\n").database, None, "only a system database");
    }

    #[test]
    fn compressed_inputs_are_named_and_warned_about() {
        for (magic, name) in [(&b"\x1f\x8b\x08\x00"[..], "gzip"), (b"\x28\xb5\x2f\xfd\x00", "zstd"), (b"\xfd7zXZ\x00\x00", "xz"), (b"BZh91AY", "bzip2"), (b"PK\x03\x04", "zip")] {
            let i = rec(magic);
            assert_eq!(i.compression.as_deref(), Some(name));
            assert!(i.compression_warning().unwrap().contains("deduplication"));
        }
        assert_eq!(rec(PG.as_bytes()).compression_warning(), None);
    }

    /// The first bytes of real `pg_dump -Fc` output (PostgreSQL 15, archive 1.14), compressed and `-Z0`.
    fn pg_custom(compressed: bool) -> Vec<u8> {
        let mut h = b"PGDMP\x01\x0e\x00\x04\x08\x01".to_vec();
        h.extend_from_slice(if compressed { b"\x01\x01\x00\x00\x00" } else { b"\x00\x00\x00\x00\x00" });
        for v in [0u8, 14, 21, 10, 126, 0, 0] {
            h.extend_from_slice(&[0, v, 0, 0, 0]);
        }
        for s in ["shop", "15.18 (Debian 15.18-0+deb12u1)", "15.18 (Debian 15.18-0+deb12u1)"] {
            h.extend_from_slice(&[0, s.len() as u8, 0, 0, 0]);
            h.extend_from_slice(s.as_bytes());
        }
        h
    }

    #[test]
    fn pg_dump_custom_and_tar_headers() {
        let i = rec(&pg_custom(true));
        assert_eq!(i.format.map(DumpFormat::name), Some("pg_dump-custom"));
        assert_eq!(i.database.as_deref(), Some("shop"));
        assert_eq!(i.server_version.as_deref(), Some("15.18 (Debian 15.18-0+deb12u1)"));
        assert_eq!(i.compression.as_deref(), Some("pg_dump pg_dump-custom data, gzip (default level)"));
        assert!(i.compression_warning().unwrap().contains("--compress=0"));
        assert_eq!(i.completion_marker, None);
        assert_eq!(rec(&pg_custom(false)).compression, None);

        let mut tar = b"toc.dat".to_vec();
        tar.resize(512, 0);
        tar.extend_from_slice(&pg_custom(false));
        tar.resize(4096, 0);
        let i = rec(&tar);
        assert_eq!((i.format.map(DumpFormat::name), i.completion_marker), (Some("pg_dump-tar"), Some(true)));
        tar.truncate(3000);
        tar.push(1);
        assert!(rec(&tar).is_truncated());
    }

    proptest::proptest! {
        /// Any bytes, and any damage to a real header, give an answer, never a panic.
        #[test]
        fn recognize_never_panics(head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6000),
                                  tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6000),
                                  cut in 0usize..200, flip in 0usize..200) {
            let _ = recognize(&head, &tail);
            for base in [pg_custom(true), PG.as_bytes().to_vec()] {
                let mut b = base[..cut.min(base.len())].to_vec();
                if let Some(x) = b.get_mut(flip) { *x ^= 0xff; }
                let _ = recognize(&b, &b);
                let mut with_bom = vec![0xff, 0xfe];
                with_bom.extend_from_slice(&head);
                let _ = recognize(&with_bom, &tail);
            }
        }
    }

    #[test]
    fn hostile_and_unknown_edges_do_not_panic() {
        assert_eq!(rec(b"").format, None);
        assert_eq!(rec(b"hello world\n").format, None);
        let mut h = b"PGDMP\x01\x0e\x00\xff".to_vec();
        h.extend(std::iter::repeat_n(0xffu8, 40));
        assert_eq!(rec(&h).format.map(DumpFormat::name), Some("pg_dump-custom"));
        let mut h = b"PGDMP\x01\x0e\x00\x04\x08\x01\x00\x00\x00\x00\x00".to_vec();
        h.extend_from_slice(&[0u8; 35]);
        h.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0x7f]); // a hostile string length
        assert_eq!(rec(&h).database, None);
    }
}
