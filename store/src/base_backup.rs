//! Recognising a base backup: the tar stream `pg_basebackup -Ft -D -` writes, read as it passes
//! (SPEC.md section 9.6).
//!
//! Only the tar headers and four small members are looked at: `backup_label` (the first member:
//! where replay starts, the timeline, the label), `PG_VERSION`, `global/pg_control` (its first 8
//! bytes are the cluster's system identifier) and `backup_manifest` (PostgreSQL 13 and later,
//! added at the end of the stream: its `WAL-Ranges` say where the backup ended). Everything else
//! is skipped by its size, so the cost does not depend on the data.

use repo_format::postgres::{BaseBackup, parse_lsn};

/// Tar block size.
const BLOCK: usize = 512;
/// Bytes kept of `backup_label` and of the end of `backup_manifest`.
const KEEP: usize = 64 << 10;

/// What the stream turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recognised {
    /// Not a base backup (its first tar member is not `backup_label`, or it is no tar at all).
    NotBase,
    /// A whole base backup.
    Base(BaseBackup),
    /// A base backup that is cut short or lacks what restoring it needs: why.
    Incomplete(String),
}

/// The member being read.
struct Member {
    name: String,
    left: u64,
    padding: u64,
    /// Bytes of it kept (for the members looked at).
    kept: Vec<u8>,
}

/// Reads a stream's tar structure as it passes.
pub struct Scanner {
    header: Vec<u8>,
    member: Option<Member>,
    /// Name for the next member from a GNU long-name or pax header.
    long_name: Option<String>,
    members: u64,
    zero_blocks: u8,
    label: Option<Vec<u8>>,
    control: Option<Vec<u8>>,
    version: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
    stop: Option<Recognised>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner at the start of a stream.
    pub fn new() -> Scanner {
        Scanner { header: Vec::with_capacity(BLOCK), member: None, long_name: None, members: 0, zero_blocks: 0, label: None, control: None, version: None, manifest: None, stop: None }
    }

    /// Take in the next bytes of the stream.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.stop.is_none() && self.zero_blocks < 2 {
            if let Some(m) = &mut self.member {
                if m.left > 0 {
                    let n = usize::try_from(m.left).unwrap_or(usize::MAX).min(data.len());
                    keep(&m.name, &mut m.kept, &data[..n]);
                    m.left -= n as u64;
                    data = &data[n..];
                } else if m.padding > 0 {
                    let n = usize::try_from(m.padding).unwrap_or(usize::MAX).min(data.len());
                    m.padding -= n as u64;
                    data = &data[n..];
                }
                if m.left == 0 && m.padding == 0 {
                    let m = self.member.take().expect("a member is being read");
                    self.member_done(m);
                }
                continue;
            }
            let n = (BLOCK - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() == BLOCK {
                let header = std::mem::replace(&mut self.header, Vec::with_capacity(BLOCK));
                self.header_done(&header);
            }
        }
    }

    fn header_done(&mut self, h: &[u8]) {
        if h.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            return;
        }
        if self.zero_blocks > 0 {
            self.zero_blocks = 0;
        }
        let Some((name, size, kind)) = parse_header(h) else {
            self.stop = Some(if self.members == 0 { Recognised::NotBase } else { Recognised::Incomplete("a tar header is damaged".into()) });
            return;
        };
        let name = self.long_name.take().unwrap_or(name);
        let name = name.strip_prefix("./").unwrap_or(&name).to_string();
        if self.members == 0 && !(name == "backup_label" && is_file(kind)) {
            self.stop = Some(Recognised::NotBase);
            return;
        }
        let padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let name = match kind {
            b'L' => "\0long name".to_string(),
            b'x' => "\0pax".to_string(),
            _ if is_file(kind) => {
                self.members += 1;
                name
            }
            _ => String::new(),
        };
        let m = Member { name, left: size, padding, kept: Vec::new() };
        if size == 0 {
            self.member_done(m);
        } else {
            self.member = Some(m);
        }
    }

    fn member_done(&mut self, m: Member) {
        match m.name.as_str() {
            "\0long name" => self.long_name = Some(String::from_utf8_lossy(&m.kept).trim_end_matches('\0').to_string()),
            "\0pax" => self.long_name = pax_path(&m.kept),
            "backup_label" => self.label = Some(m.kept),
            "global/pg_control" => self.control = Some(m.kept),
            "PG_VERSION" => self.version = Some(m.kept),
            "backup_manifest" => self.manifest = Some(m.kept),
            _ => {}
        }
    }

    /// What the stream was, once it has ended.
    pub fn finish(self) -> Recognised {
        if let Some(r) = self.stop {
            return r;
        }
        if self.members == 0 {
            return Recognised::NotBase;
        }
        if self.member.is_some() || self.zero_blocks < 2 && !self.header.is_empty() {
            return Recognised::Incomplete("the tar stream ends inside a member".into());
        }
        if self.zero_blocks == 0 {
            return Recognised::Incomplete("the tar stream ends without its end-of-archive blocks".into());
        }
        let Some(label) = self.label.as_deref().and_then(|l| std::str::from_utf8(l).ok()) else {
            return Recognised::Incomplete("backup_label is not text".into());
        };
        let field = |key: &str| label.lines().find_map(|l| l.strip_prefix(key)).map(str::trim);
        let lsn = |key: &str| field(key).and_then(|v| v.split_whitespace().next()).and_then(parse_lsn);
        let (Some(start_lsn), Some(checkpoint_lsn), Some(timeline)) = (lsn("START WAL LOCATION:"), lsn("CHECKPOINT LOCATION:"), field("START TIMELINE:").and_then(|t| t.parse().ok())) else {
            return Recognised::Incomplete("backup_label lacks its start location, checkpoint or timeline".into());
        };
        let Some(cluster) = self.control.as_deref().and_then(|c| c.get(..8)).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))) else {
            return Recognised::Incomplete("global/pg_control is missing (it comes last in a base backup)".into());
        };
        let Some(stop_lsn) = self.manifest.as_deref().and_then(wal_ranges_end) else {
            return Recognised::Incomplete(
                "backup_manifest with its WAL-Ranges is missing: use pg_basebackup 13 or later without --no-manifest, writing to standard output (-D - -Ft)".into(),
            );
        };
        let version = self.version.and_then(|v| String::from_utf8(v).ok()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        Recognised::Base(BaseBackup { cluster, timeline, start_lsn, checkpoint_lsn, stop_lsn, label: field("LABEL:").unwrap_or_default().to_string(), pg_version: version })
    }
}

/// Keep what is needed of a member's bytes: all of the small ones, the end of the manifest.
fn keep(name: &str, kept: &mut Vec<u8>, data: &[u8]) {
    match name {
        "backup_label" | "\0long name" | "\0pax" | "PG_VERSION" => kept.extend_from_slice(&data[..data.len().min(KEEP.saturating_sub(kept.len()))]),
        "global/pg_control" => kept.extend_from_slice(&data[..data.len().min(8usize.saturating_sub(kept.len()))]),
        "backup_manifest" => {
            kept.extend_from_slice(data);
            if kept.len() > 2 * KEEP {
                kept.drain(..kept.len() - KEEP);
            }
        }
        _ => {}
    }
}

fn is_file(kind: u8) -> bool {
    kind == b'0' || kind == 0
}

/// Name, size and type of a ustar header whose checksum is right.
fn parse_header(h: &[u8]) -> Option<(String, u64, u8)> {
    let sum: u64 = h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { u64::from(b' ') } else { u64::from(b) }).sum();
    if octal(&h[148..156])? != sum {
        return None;
    }
    let text = |f: &[u8]| String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())]).into_owned();
    let (name, prefix) = (text(&h[0..100]), if &h[257..262] == b"ustar" { text(&h[345..500]) } else { String::new() });
    let name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
    let size = if h[124] & 0x80 != 0 { h[125..136].iter().fold(0u64, |n, &b| n.wrapping_shl(8) | u64::from(b)) } else { octal(&h[124..136])? };
    Some((name, size, h[156]))
}

fn octal(f: &[u8]) -> Option<u64> {
    let t = std::str::from_utf8(f).ok()?.trim_matches(|c: char| c == '\0' || c == ' ');
    if t.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(t, 8).ok()
}

/// The `path` record of a pax extended header.
fn pax_path(records: &[u8]) -> Option<String> {
    String::from_utf8_lossy(records).lines().find_map(|l| l.split_once(' ').and_then(|(_, kv)| kv.strip_prefix("path=")).map(str::to_string))
}

/// Where the last of a backup manifest's `WAL-Ranges` ends, from the manifest's last bytes.
fn wal_ranges_end(tail: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Range {
        #[serde(rename = "End-LSN")]
        end: String,
    }
    let text = String::from_utf8_lossy(tail);
    let at = text.rfind("\"WAL-Ranges\"")?;
    let rest = text[at + "\"WAL-Ranges\"".len()..].trim_start().strip_prefix(':')?;
    let ranges: Vec<Range> = serde_json::Deserializer::from_str(rest).into_iter().next()?.ok()?;
    ranges.iter().filter_map(|r| parse_lsn(&r.end)).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    const LABEL: &str = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\n\
BACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-07 10:00:00 UTC\nLABEL: nightly\nSTART TIMELINE: 1\n";
    const MANIFEST: &str = r#"{ "PostgreSQL-Backup-Manifest-Version": 1,
"Files": [ { "Path": "PG_VERSION", "Size": 3 } ],
"WAL-Ranges": [
{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }
],
"Manifest-Checksum": "abc"}"#;

    fn backup() -> Vec<u8> {
        let mut t = member("backup_label", LABEL.as_bytes());
        t.extend(member("PG_VERSION", b"15\n"));
        t.extend(member("base/1/1259", &vec![7u8; 100_000]));
        t.extend(member("global/pg_control", &0x1234_5678_9abc_def0u64.to_le_bytes().repeat(1024)));
        t.extend(member("backup_manifest", MANIFEST.as_bytes()));
        t.extend([0u8; 1024]);
        t
    }

    fn scan(bytes: &[u8], piece: usize) -> Recognised {
        let mut s = Scanner::new();
        bytes.chunks(piece).for_each(|c| s.update(c));
        s.finish()
    }

    #[test]
    fn a_base_backup_is_recognised_whatever_the_pieces_it_arrives_in() {
        let expected = BaseBackup {
            cluster: 0x1234_5678_9abc_def0,
            timeline: 1,
            start_lsn: 0x2000028,
            checkpoint_lsn: 0x2000060,
            stop_lsn: 0x2000100,
            label: "nightly".into(),
            pg_version: Some("15".into()),
        };
        for piece in [1, 511, 512, 4096, 1 << 20] {
            assert_eq!(scan(&backup(), piece), Recognised::Base(expected.clone()), "pieces of {piece}");
        }
    }

    #[test]
    fn a_cut_base_backup_is_incomplete_and_other_streams_are_not_base_backups() {
        let b = backup();
        for cut in [600, b.len() / 2, b.len() - 2048, b.len() - 1024] {
            assert!(matches!(scan(&b[..cut], 4096), Recognised::Incomplete(_)), "cut at {cut}");
        }
        assert_eq!(scan(b"-- PostgreSQL database dump\n", 7), Recognised::NotBase);
        assert_eq!(scan(&member("toc.dat", b"PGDMP"), 100), Recognised::NotBase);
        assert_eq!(scan(&[], 1), Recognised::NotBase);
        let no_manifest: Vec<u8> = [member("backup_label", LABEL.as_bytes()), member("global/pg_control", &[1; 16]), vec![0; 1024]].concat();
        assert!(matches!(scan(&no_manifest, 512), Recognised::Incomplete(why) if why.contains("backup_manifest")));
    }
}
