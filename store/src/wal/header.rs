//! Which cluster a WAL file belongs to: the system identifier in a segment's first page, or in
//! a data directory's `global/pg_control`.

use std::io::Read;
use std::path::Path;

/// `XLP_LONG_HEADER`: the first page of a segment carries the long header.
const XLP_LONG_HEADER: u16 = 0x0002;

/// What the long header of a segment's first page says: the system identifier and the segment
/// size. `None` when `page` does not start with a long page header.
pub fn segment_header(page: &[u8]) -> Option<(u64, u32)> {
    // XLogLongPageHeaderData: the 24-byte short header (magic u16, info u16, timeline u32,
    // page address u64, remaining length u32, padding), then system identifier u64, segment size
    // u32 and block size u32, little-endian on the platforms PostgreSQL archives from here.
    let info = u16::from_le_bytes(page.get(2..4)?.try_into().ok()?);
    if info & XLP_LONG_HEADER == 0 {
        return None;
    }
    let sysid = u64::from_le_bytes(page.get(24..32)?.try_into().ok()?);
    let seg_size = u32::from_le_bytes(page.get(32..36)?.try_into().ok()?);
    (seg_size.is_power_of_two() && (1 << 20..=1 << 30).contains(&seg_size)).then_some((sysid, seg_size))
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
        assert_eq!(segment_header(&page), Some((7312345678901234567, 16 << 20)));
        page[2] = 0;
        assert_eq!(segment_header(&page), None);
        assert_eq!(segment_header(b"short"), None);
    }
}
