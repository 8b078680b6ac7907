//! Anchored matches: a patch's long matches into its base, found at row starts (SPEC.md 6.1,
//! *Patch matcher*).
//!
//! A dump is rows, and a changed chunk is mostly its base's rows, some moved, a few edited. Rows
//! start after a newline (a line of COPY data, an `INSERT`, a row of MariaDB's extended inserts)
//! or after `,(` (a row of MySQL's extended inserts, all on one line), so those positions anchor
//! the search: the base's anchors are indexed by a
//! hash of the 32 bytes that follow them, and at each of the chunk's anchors a base anchor with the
//! same bytes starts a match, extended backwards and forwards as far as the bytes agree. A match
//! runs through unchanged rows at the speed of a byte comparison, and an edited row costs only its
//! differing bytes: the match after it extends backwards over the row's unchanged tail. zstd codes
//! the bytes between matches as usual (in the blob module).

/// Bytes hashed after an anchor.
const ANCHOR_BYTES: usize = 32;
/// Shortest match kept: each covers at least its anchor's hashed bytes, and a match cut short by
/// a later one keeps this much.
const MIN_MATCH: usize = ANCHOR_BYTES;
/// A base with fewer anchors than one per this many bytes has no row structure to anchor on.
const MAX_ANCHOR_SPACING: usize = 1024;
/// An empty slot of the index.
const EMPTY: (u32, u32) = (0, u32::MAX);

/// One match in zstd's raw sequence layout (`rawSeq` in zstd's `zstd_compress_internal.h`): `lit`
/// bytes of the chunk coded by zstd, then `len` bytes copied from `offset` bytes back, where the
/// base precedes the chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawSeq {
    pub offset: u32,
    pub lit: u32,
    pub len: u32,
}

/// Reusable buffers of the matcher.
#[derive(Default)]
pub(crate) struct AnchoredMatcher {
    /// The base's anchors that have [`ANCHOR_BYTES`] after them.
    anchors: Vec<u32>,
    /// The same by hash, open addressing with linear probing: (hash, position).
    table: Vec<(u32, u32)>,
    seqs: Vec<RawSeq>,
}

fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// A hash of the [`ANCHOR_BYTES`] bytes at `at`.
fn hash(b: &[u8], at: usize) -> u32 {
    let h = word(b, at) ^ word(b, at + 8).rotate_left(13) ^ word(b, at + 16).rotate_left(29) ^ word(b, at + 24).rotate_left(43);
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32
}

/// The first anchor after `from`: the position after the next newline or `,(` (`b.len()` if none).
fn next_anchor(b: &[u8], mut from: usize) -> usize {
    while let Some(i) = memchr::memchr2(b'\n', b'(', &b[from..]) {
        let at = from + i;
        if b[at] == b'\n' || (at > 0 && b[at - 1] == b',') {
            return at + 1;
        }
        from = at + 1;
    }
    b.len()
}

/// How many leading bytes `a` and `b` share.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    // 32 bytes per step while they agree (a match runs through many unchanged rows).
    while i + 32 <= n {
        let x = (word(a, i) ^ word(b, i)) | (word(a, i + 8) ^ word(b, i + 8)) | (word(a, i + 16) ^ word(b, i + 16)) | (word(a, i + 24) ^ word(b, i + 24));
        if x != 0 {
            break;
        }
        i += 32;
    }
    while i + 8 <= n {
        let x = word(a, i) ^ word(b, i);
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + a[i..n].iter().zip(&b[i..n]).take_while(|(x, y)| x == y).count()
}

impl AnchoredMatcher {
    /// The matches of `chunk` into `base`, in chunk order, or `None` when `base` has too few
    /// anchors ([`MAX_ANCHOR_SPACING`]). Each match copies bytes of `base` (its offset counts back
    /// from its start in `chunk` across the base, which zstd places before the chunk) and ends
    /// within `chunk`.
    pub(crate) fn find(&mut self, base: &[u8], chunk: &[u8]) -> Option<&mut [RawSeq]> {
        self.anchors.clear();
        let mut p = 0;
        while p + ANCHOR_BYTES <= base.len() {
            self.anchors.push(p as u32);
            p = next_anchor(base, p);
        }
        if self.anchors.len() < 2 || self.anchors.len() < base.len() / MAX_ANCHOR_SPACING {
            return None;
        }
        // At most half full, so probes stay short; every anchor is kept.
        let mask = (2 * self.anchors.len()).next_power_of_two() - 1;
        self.table.clear();
        self.table.resize(mask + 1, EMPTY);
        for &p in &self.anchors {
            let h = hash(base, p as usize);
            let mut i = h as usize & mask;
            while self.table[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.table[i] = (h, p);
        }
        let table = &self.table;
        self.seqs.clear();
        // `lit`: first chunk byte not yet covered; `s`: the anchor tried; `shift`: base position
        // minus chunk position of the last match (the next row is most often where it continues).
        let (mut lit, mut s, mut shift) = (0usize, 0usize, None::<isize>);
        while s + ANCHOR_BYTES <= chunk.len() {
            let same = |q: usize| q + ANCHOR_BYTES <= base.len() && base[q..q + ANCHOR_BYTES] == chunk[s..s + ANCHOR_BYTES];
            // An anchor inside the last match's tail is tried in the index only: the last match's
            // own continuation ends where it did.
            let continued = if s < lit { None } else { shift.and_then(|d| usize::try_from(s as isize + d).ok()).filter(|&q| same(q)) };
            let candidate = continued.or_else(|| {
                let h = hash(chunk, s);
                let probes = (0..).map(|k| table[(h as usize + k) & mask]).take_while(|&e| e != EMPTY);
                probes.filter(|&(eh, _)| eh == h).map(|(_, q)| q as usize).find(|&q| same(q))
            });
            let Some(q) = candidate else {
                s = next_anchor(chunk, s);
                continue;
            };
            let end = s + ANCHOR_BYTES + common_prefix(&chunk[s + ANCHOR_BYTES..], &base[q + ANCHOR_BYTES..]);
            if s < lit {
                if end <= lit {
                    s = next_anchor(chunk, s);
                    continue;
                }
                // The last match ran a few bytes into this row by coincidence (a moved row whose
                // first digits agree with the row that followed in the base): it ends here.
                self.seqs.last_mut().expect("a match ends at `lit`").len -= (lit - s) as u32;
                lit = s;
            }
            let back = chunk[lit..s].iter().rev().zip(base[..q].iter().rev()).take_while(|(a, b)| a == b).count();
            let (start, from) = (s - back, q - back);
            self.seqs.push(RawSeq { offset: (base.len() - from + start) as u32, lit: (start - lit) as u32, len: (end - start) as u32 });
            lit = end;
            shift = Some(from as isize - start as isize);
            // Next: the anchors in the match's last bytes, then those after it.
            s = next_anchor(chunk, (end - ANCHOR_BYTES).max(start + MIN_MATCH));
        }
        Some(&mut self.seqs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rebuild `chunk` from `base` and the matches, as a decoder would, checking every bound.
    fn replay(base: &[u8], chunk: &[u8], seqs: &[RawSeq]) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for s in seqs {
            out.extend_from_slice(&chunk[out.len()..out.len() + s.lit as usize]);
            let pos = base.len() + out.len();
            let from = pos.checked_sub(s.offset as usize).expect("offset within base and chunk");
            for k in 0..s.len as usize {
                let b = if from + k < base.len() { base[from + k] } else { out[from + k - base.len()] };
                out.push(b);
            }
        }
        assert!(out.len() <= chunk.len());
        out.extend_from_slice(&chunk[out.len()..]);
        out
    }

    fn rows(ids: impl Iterator<Item = u32>, balance: impl Fn(u32) -> i64) -> Vec<u8> {
        ids.flat_map(|i| format!("{i}\t{}\t{}\t{:84}\n", i / 1000, balance(i), "").into_bytes()).collect()
    }

    #[test]
    fn edited_and_moved_rows_cost_only_their_changes() {
        let base = rows(0..2000, |_| 0);
        // Every 50th row's balance changes, and rows 500..520 moved to the end.
        let ids: Vec<u32> = (0..500).chain(520..2000).chain(500..520).collect();
        let chunk = rows(ids.into_iter(), |i| if i % 50 == 7 { -4821 } else { 0 });
        let mut m = AnchoredMatcher::default();
        let seqs = m.find(&base, &chunk).expect("rows are anchored").to_vec();
        assert_eq!(replay(&base, &chunk, &seqs), chunk);
        let literals: usize = seqs.iter().map(|s| s.lit as usize).sum::<usize>() + chunk.len() - seqs.iter().map(|s| (s.lit + s.len) as usize).sum::<usize>();
        // 40 edits of a few bytes each, not 40 rows of 100.
        assert!(literals < 40 * 16, "{literals} literal bytes");
    }

    #[test]
    fn long_extended_insert_lines_are_anchored_at_each_row() {
        let row = |i: u32, s: &str| format!("({i},'{s}',{}.25,'c4ca4238a0b923820dcc509a6f75849b')", i * 7);
        let line = |edit: u32| format!("INSERT INTO `t` VALUES {};\n", (0..3000).map(|i| row(i, if i == edit { "paid" } else { "new" })).collect::<Vec<_>>().join(","));
        let (base, chunk) = (line(u32::MAX).into_bytes(), line(1234).into_bytes());
        let mut m = AnchoredMatcher::default();
        let seqs = m.find(&base, &chunk).expect("rows are anchored").to_vec();
        assert_eq!(replay(&base, &chunk, &seqs), chunk);
        assert!(seqs.len() <= 3, "one edit splits one match: {seqs:?}");
    }

    #[test]
    fn data_without_rows_is_not_anchored() {
        let base: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80).collect();
        assert!(AnchoredMatcher::default().find(&base, &base).is_none());
        assert!(AnchoredMatcher::default().find(b"", b"(1)\n").is_none());
    }

    proptest::proptest! {
        #[test]
        fn matches_always_rebuild_the_chunk(
            base in proptest::collection::vec(proptest::sample::select(b"ab,(\n\t 0123".to_vec()), 0..3000),
            edits in proptest::collection::vec((0usize..3000, 0usize..40, proptest::collection::vec(proptest::sample::select(b",(\n9".to_vec()), 0..40)), 0..8),
        ) {
            let mut chunk = base.clone();
            for (at, cut, insert) in edits {
                let at = at.min(chunk.len());
                let cut = cut.min(chunk.len() - at);
                chunk.splice(at..at + cut, insert);
            }
            let mut m = AnchoredMatcher::default();
            if let Some(seqs) = m.find(&base, &chunk) {
                let seqs = seqs.to_vec();
                proptest::prop_assert_eq!(replay(&base, &chunk, &seqs), chunk);
            }
        }
    }
}
