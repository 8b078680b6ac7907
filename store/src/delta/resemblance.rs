//! Resemblance: finding a delta base for a chunk whose data moved (SPEC.md, "Delta blobs").
//!
//! Positional base selection ([`super::finder`]) proposes the parent's chunk at the same place in the
//! stream; it fails when rows moved or when no unchanged chunk re-anchors the two streams for a
//! long stretch. As a fallback each stored chunk gets a sketch of [`SUPER_FEATURES`]
//! super-features, kept in the local index: two chunks that share most of their content share a
//! super-feature with high probability, whatever the offsets of the shared parts (Odess-style
//! features: content-defined sample positions, the maximum of several linear transforms of the
//! rolling hash at those positions, grouped and hashed). A long chunk is sketched by its two ends
//! ([`SKETCH_SPAN`] bytes each), which its edited versions keep.

use repo_format::Id;
use repo_format::crypto::Keys;

use crate::Result;
use crate::index::Index;

/// Super-features per chunk (each the keyed hash of `FEATURES_PER_SUPER` features).
pub const SUPER_FEATURES: usize = 3;
const FEATURES_PER_SUPER: usize = 4;
const FEATURES: usize = SUPER_FEATURES * FEATURES_PER_SUPER;
/// A position is sampled when the rolling hash's top 6 bits are zero: 1 byte in 64 on average,
/// depending on the 64 bytes before it.
const SAMPLE_SHIFT: u32 = 58;
/// Fewer samples than this (tiny or uniform chunks) give no sketch: it would match too much.
const MIN_SAMPLES: u32 = 8;

/// A chunk longer than twice this is sketched over its first and last this many bytes only.
/// Content-defined cuts keep a chunk's ends where its parent version had them, so the ends
/// identify it as well as the whole does, at a fraction of the cost of sketching it whole
/// (benches/log/2026-11-21-sketch-ends.md).
pub const SKETCH_SPAN: usize = 16 << 10;

/// A chunk's super-features.
pub type Sketch = [u64; SUPER_FEATURES];

/// Super-features a chunk must share with an indexed chunk for that chunk to be tried as its base
/// before the positional proposal.
const RESEMBLANCE_FIRST: usize = 2;

const fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The gear table of the rolling hash.
const GEAR: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = splitmix(i as u64);
        i += 1;
    }
    t
};

/// `(multiplier, addend)` of each feature's transform; multipliers are odd (bijective).
const TRANSFORMS: [(u64, u64); FEATURES] = {
    let mut t = [(0u64, 0u64); FEATURES];
    let mut i = 0;
    while i < FEATURES {
        t[i] = (splitmix(1000 + i as u64) | 1, splitmix(2000 + i as u64));
        i += 1;
    }
    t
};

/// Fold one sample position's hash into the feature maxima.
#[inline]
fn sample(max: &mut [u64; FEATURES], fp: u64) {
    for (m, (a, c)) in max.iter_mut().zip(TRANSFORMS) {
        *m = (*m).max(a.wrapping_mul(fp).wrapping_add(c));
    }
}

/// The sketch of a chunk's plaintext, or `None` if it has too few sample positions.
///
/// The two halves of the chunk (of a chunk longer than `2 * SKETCH_SPAN`: its first and last
/// [`SKETCH_SPAN`] bytes) are hashed in one interleaved loop (each half's hash starts from
/// zero): the rolling hash is a serial dependency chain, and two chains run side by side, which is
/// cheaper than one; four were slower (benches/log/2026-11-21-64k-chunks-and-resemblance.md).
pub fn sketch(keys: &Keys, data: &[u8]) -> Option<Sketch> {
    let (a, b) = if data.len() > 2 * SKETCH_SPAN {
        (&data[..SKETCH_SPAN], &data[data.len() - SKETCH_SPAN..])
    } else {
        data.split_at(data.len() / 2)
    };
    let (mut fa, mut fb) = (0u64, 0u64);
    let mut max = [0u64; FEATURES];
    let mut samples = 0u32;
    for (&x, &y) in a.iter().zip(b) {
        fa = (fa << 1).wrapping_add(GEAR[usize::from(x)]);
        fb = (fb << 1).wrapping_add(GEAR[usize::from(y)]);
        if (fa >> SAMPLE_SHIFT == 0) | (fb >> SAMPLE_SHIFT == 0) {
            for fp in [fa, fb] {
                if fp >> SAMPLE_SHIFT == 0 {
                    samples += 1;
                    sample(&mut max, fp);
                }
            }
        }
    }
    // `b` is one byte longer when the length is odd.
    for &y in &b[a.len()..] {
        fb = (fb << 1).wrapping_add(GEAR[usize::from(y)]);
        if fb >> SAMPLE_SHIFT == 0 {
            samples += 1;
            sample(&mut max, fb);
        }
    }
    if samples < MIN_SAMPLES {
        return None;
    }
    let mut out = [0u64; SUPER_FEATURES];
    for (j, sf) in out.iter_mut().enumerate() {
        let mut input = [0u8; 1 + 8 * FEATURES_PER_SUPER];
        input[0] = j as u8;
        for (k, f) in max[j * FEATURES_PER_SUPER..(j + 1) * FEATURES_PER_SUPER].iter().enumerate() {
            input[1 + 8 * k..9 + 8 * k].copy_from_slice(&f.to_le_bytes());
        }
        *sf = keys.super_feature(&input);
    }
    Some(out)
}

/// The chunk sharing the most super-features with `sketch` (ties: the first found), and how many.
pub fn resembling(index: &Index, sketch: &Sketch) -> Result<Option<(Id, usize)>> {
    let mut found: Vec<(Id, usize)> = Vec::with_capacity(SUPER_FEATURES);
    for sf in sketch {
        if let Some(id) = index.feature(*sf)? {
            match found.iter_mut().find(|(f, _)| *f == id) {
                Some((_, n)) => *n += 1,
                None => found.push((id, 1)),
            }
        }
    }
    Ok(found.iter().rev().max_by_key(|(_, n)| *n).copied())
}

/// A new chunk's base candidates, best first: the positional proposal, and the chunk its sketch
/// resembles; the resembling chunk comes first when it shares at least
/// `RESEMBLANCE_FIRST` super-features and the proposal is another chunk (the rows moved: a
/// patch against the proposal would be wasted).
pub fn candidates(proposed: Option<Id>, resembles: Option<(Id, usize)>) -> [Option<Id>; 2] {
    match (proposed, resembles) {
        (Some(p), Some((r, n))) if r != p && n >= RESEMBLANCE_FIRST => [Some(r), Some(p)],
        (Some(p), Some((r, _))) if r != p => [Some(p), Some(r)],
        (p, r) => [p.or(r.map(|(r, _)| r)), None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repo_format::crypto::MasterKey;

    fn text(seed: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 64);
        let mut i = seed;
        while out.len() < len {
            i += 1;
            out.extend_from_slice(format!("{}\t{}\tcustomer-{}\t2026-11-{:02}\n", i, splitmix(i) % 100_000, splitmix(i + 7) % 5000, i % 28 + 1).as_bytes());
        }
        out
    }

    fn shared(a: &Sketch, b: &Sketch) -> usize {
        a.iter().zip(b).filter(|(x, y)| x == y).count()
    }

    #[test]
    fn an_edited_and_shifted_chunk_resembles_its_original_and_others_do_not() {
        let keys = MasterKey::from_bytes([7; 32]).keys();
        let original = text(0, 64 << 10);
        let base = sketch(&keys, &original).unwrap();
        // Three bytes changed, 40 removed, and the chunk starting 300 bytes later: a feature survives.
        let mut edited = original[300..].to_vec();
        for at in [5_000, 20_000, 41_000] {
            edited[at] = b'#';
        }
        edited.drain(30_000..30_040);
        let e = sketch(&keys, &edited).unwrap();
        assert!(shared(&base, &e) >= 1, "an edited chunk lost every super-feature");
        // Different rows share nothing.
        let other = sketch(&keys, &text(1_000_000, 64 << 10)).unwrap();
        assert_eq!(shared(&base, &other), 0);
        // Keyed: another repository's sketch of the same data differs.
        let keys2 = MasterKey::from_bytes([8; 32]).keys();
        assert_eq!(shared(&base, &sketch(&keys2, &original).unwrap()), 0);
        // A long chunk is sketched by its ends: an edit in the middle changes nothing, one at
        // the start does.
        let long = text(0, 4 * SKETCH_SPAN);
        let mut middle = long.clone();
        middle[2 * SKETCH_SPAN..2 * SKETCH_SPAN + 4096].fill(b'#');
        assert_eq!(sketch(&keys, &long), sketch(&keys, &middle));
        let mut start = long.clone();
        start[..SKETCH_SPAN].fill(b'#');
        assert_ne!(sketch(&keys, &long), sketch(&keys, &start));
        // Uniform or tiny data has no sketch.
        assert!(sketch(&keys, &[b' '; 100]).is_none());
    }

    #[test]
    fn a_strong_resemblance_is_tried_before_another_positional_proposal() {
        let (p, r) = (Id([1; 32]), Id([2; 32]));
        assert_eq!(candidates(Some(p), Some((r, 2))), [Some(r), Some(p)], "rows moved");
        assert_eq!(candidates(Some(p), Some((r, 1))), [Some(p), Some(r)], "one shared feature: position first");
        assert_eq!(candidates(Some(p), Some((p, 3))), [Some(p), None], "both agree");
        assert_eq!(candidates(None, Some((r, 1))), [Some(r), None]);
        assert_eq!(candidates(Some(p), None), [Some(p), None]);
        assert_eq!(candidates(None, None), [None, None]);
    }
}
