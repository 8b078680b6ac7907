//! Which cluster a WAL file belongs to: the system identifier in a segment's first page, or in
//! a data directory's `global/pg_control`.

use std::io::Read;
use std::path::Path;

/// `XLP_LONG_HEADER`: the first page of a segment carries the long header.
const XLP_LONG_HEADER: u16 = 0x0002;

/// What the long header of a segment's first page says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The cluster's system identifier.
    pub cluster: u64,
    /// The cluster's segment size.
    pub segment_size: u32,
    /// The position (LSN) of the page: the segment's start.
    pub page_address: u64,
    /// The timeline the page was written on.
    pub timeline: u32,
}

/// The long header of a segment's first page; `None` when `page` does not start with one.
pub fn segment_header(page: &[u8]) -> Option<SegmentHeader> {
    // XLogLongPageHeaderData: the 24-byte short header (magic u16, info u16, timeline u32,
    // page address u64, remaining length u32, padding), then system identifier u64, segment size
    // u32 and block size u32, little-endian on the platforms PostgreSQL archives from here.
    let info = u16::from_le_bytes(page.get(2..4)?.try_into().ok()?);
    if info & XLP_LONG_HEADER == 0 {
        return None;
    }
    let timeline = u32::from_le_bytes(page.get(4..8)?.try_into().ok()?);
    let page_address = u64::from_le_bytes(page.get(8..16)?.try_into().ok()?);
    let cluster = u64::from_le_bytes(page.get(24..32)?.try_into().ok()?);
    let segment_size = u32::from_le_bytes(page.get(32..36)?.try_into().ok()?);
    (segment_size.is_power_of_two() && (1 << 20..=1 << 30).contains(&segment_size)).then_some(SegmentHeader { cluster, segment_size, page_address, timeline })
}

/// The system identifier of the cluster whose data directory is `dir`, from the first 8 bytes of
/// its `global/pg_control`; `None` when `dir` holds none.
pub fn data_directory_cluster(dir: &Path) -> Option<u64> {
    let mut bytes = [0u8; 8];
    std::fs::File::open(dir.join("global").join("pg_control")).and_then(|mut f| f.read_exact(&mut bytes)).ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_page_header_names_its_cluster_and_other_bytes_do_not() {
        let mut page = vec![0u8; 8192];
        page[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
        page[2..4].copy_from_slice(&(XLP_LONG_HEADER | 0x4).to_le_bytes());
        page[24..32].copy_from_slice(&7312345678901234567u64.to_le_bytes());
        page[32..36].copy_from_slice(&(16u32 << 20).to_le_bytes());
        page[8..16].copy_from_slice(&(3u64 << 24).to_le_bytes());
        page[4..8].copy_from_slice(&2u32.to_le_bytes());
        assert_eq!(segment_header(&page), Some(SegmentHeader { cluster: 7312345678901234567, segment_size: 16 << 20, page_address: 3 << 24, timeline: 2 }));
        page[2] = 0;
        assert_eq!(segment_header(&page), None);
        assert_eq!(segment_header(b"short"), None);
    }
}
