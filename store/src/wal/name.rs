//! The names PostgreSQL gives WAL files, which say what each file is and where it belongs.

use crate::{Result, StoreError};

/// What kind of WAL file a name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalKind {
    /// A 16 MiB (or `wal_segment_size`) segment: `000000010000000000000003`.
    Segment,
    /// The unfinished last segment of a timeline, archived at a promotion: `...0003.partial`.
    Partial,
    /// A timeline's history: `00000002.history`.
    History,
    /// A base backup's start and stop: `...0003.00000028.backup`.
    Backup,
}

/// A parsed WAL file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalName {
    /// Its kind.
    pub kind: WalKind,
    /// The timeline it belongs to.
    pub timeline: u32,
    /// For a segment (or the segment a `.partial` or `.backup` file is named after): the log and
    /// segment numbers of its name.
    pub segment: Option<(u32, u32)>,
}

fn hex8(s: &str) -> Option<u32> {
    (s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))).then(|| u32::from_str_radix(s, 16).ok()).flatten()
}

impl WalName {
    /// Parse `name`; anything PostgreSQL never archives is refused.
    pub fn parse(name: &str) -> Result<WalName> {
        let bad = || StoreError::NotWalName(name.to_string());
        let segment = |s: &str| -> Option<(u32, (u32, u32))> {
            if s.len() != 24 {
                return None;
            }
            Some((hex8(&s[..8])?, (hex8(&s[8..16])?, hex8(&s[16..])?)))
        };
        let parts: Vec<&str> = name.split('.').collect();
        let (kind, (timeline, seg)) = match parts.as_slice() {
            [s] => (WalKind::Segment, segment(s).map(|(t, g)| (t, Some(g))).ok_or_else(bad)?),
            [s, "partial"] => (WalKind::Partial, segment(s).map(|(t, g)| (t, Some(g))).ok_or_else(bad)?),
            [s, offset, "backup"] if hex8(offset).is_some() => (WalKind::Backup, segment(s).map(|(t, g)| (t, Some(g))).ok_or_else(bad)?),
            [t, "history"] => (WalKind::History, (hex8(t).ok_or_else(bad)?, None)),
            _ => return Err(bad()),
        };
        if timeline == 0 {
            return Err(bad());
        }
        Ok(WalName { kind, timeline, segment: seg })
    }

    /// The segment's number for a segment size, counting from the start of the log.
    pub fn segment_number(&self, segment_size: u64) -> Option<u64> {
        let (log, seg) = self.segment?;
        Some(u64::from(log) * (0x1_0000_0000 / segment_size) + u64::from(seg))
    }
}

/// The name of segment `number` of `timeline`, for a segment size.
pub fn segment_name(timeline: u32, number: u64, segment_size: u64) -> String {
    let per_log = 0x1_0000_0000 / segment_size;
    format!("{timeline:08X}{:08X}{:08X}", number / per_log, number % per_log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_postgres_archives_parse_and_nothing_else_does() {
        let seg = WalName::parse("00000001000000020000003F").unwrap();
        assert_eq!((seg.kind, seg.timeline, seg.segment), (WalKind::Segment, 1, Some((2, 0x3F))));
        assert_eq!(seg.segment_number(16 << 20), Some(2 * 256 + 0x3F));
        assert_eq!(segment_name(1, 2 * 256 + 0x3F, 16 << 20), "00000001000000020000003F");
        assert_eq!(WalName::parse("00000002.history").unwrap().kind, WalKind::History);
        assert_eq!(WalName::parse("000000010000000000000002.00000028.backup").unwrap().kind, WalKind::Backup);
        assert_eq!(WalName::parse("000000010000000000000003.partial").unwrap().kind, WalKind::Partial);
        for bad in ["", "RECOVERYXLOG", "../../etc/passwd", "00000001000000000000000g", "0000000100000000000000003", "00000000000000000000000A", "00000002.history.x", "00000001000000000000000a", "pg_wal/000000010000000000000001"] {
            assert!(WalName::parse(bad).is_err(), "{bad:?}");
        }
    }
}
