//! Where the bytes that matter in rows of values are in a block of 64 bytes: one bit a byte, with
//! SSE2 on x86_64 (part of its baseline) and byte by byte elsewhere.

/// Bits of a block's bytes (bit `i` for byte `i`) by what they may be to the lexer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Masks {
    /// `'`.
    pub quote: u64,
    /// `\`.
    pub backslash: u64,
    /// `(` and `)`.
    pub paren: u64,
    /// `(`.
    pub open: u64,
    /// `,` and line feeds (what separates rows).
    pub comma: u64,
    /// What else may open a string, identifier or comment in code (`"`, `` ` ``, `#`, `-` and
    /// `/`), or end a statement (`;`).
    pub special: u64,
}

/// The masks of `block`.
#[cfg(target_arch = "x86_64")]
pub(super) fn classify(block: &[u8; 64]) -> Masks {
    // SAFETY: SSE2 is part of x86_64's baseline: every CPU this code runs on has it.
    unsafe { sse2(block) }
}

/// The masks of `block`, 16 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sse2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};

    let bits = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16);
    let (quote, backslash, paren, dq_hash, tick, dash_slash) = (
        _mm_set1_epi8(b'\'' as i8),
        _mm_set1_epi8(b'\\' as i8),
        _mm_set1_epi8(b')' as i8),
        _mm_set1_epi8(b'#' as i8),
        _mm_set1_epi8(b'`' as i8),
        _mm_set1_epi8(b'/' as i8),
    );
    let semicolon = _mm_set1_epi8(b';' as i8);
    let (one, two) = (_mm_set1_epi8(1), _mm_set1_epi8(2));
    let (open, comma, line_feed) = (_mm_set1_epi8(b'(' as i8), _mm_set1_epi8(b',' as i8), _mm_set1_epi8(b'\n' as i8));
    let mut m = Masks { quote: 0, backslash: 0, paren: 0, open: 0, comma: 0, special: 0 };
    for (k, part) in block.chunks_exact(16).enumerate() {
        // SAFETY: `part` is 16 readable bytes, and `_mm_loadu_si128` takes them unaligned.
        let v = unsafe { _mm_loadu_si128(part.as_ptr().cast::<__m128i>()) };
        let shift = 16 * k;
        m.quote |= bits(_mm_cmpeq_epi8(v, quote)) << shift;
        m.backslash |= bits(_mm_cmpeq_epi8(v, backslash)) << shift;
        // `(` is 0x28 and `)` 0x29, `"` 0x22 and `#` 0x23, `-` 0x2d and `/` 0x2f (and none
        // else gives 0x2f with bit 1 set).
        m.paren |= bits(_mm_cmpeq_epi8(_mm_or_si128(v, one), paren)) << shift;
        m.open |= bits(_mm_cmpeq_epi8(v, open)) << shift;
        m.comma |= bits(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, line_feed))) << shift;
        let special = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(v, one), dq_hash), _mm_cmpeq_epi8(v, tick)),
            _mm_or_si128(_mm_cmpeq_epi8(_mm_or_si128(v, two), dash_slash), _mm_cmpeq_epi8(v, semicolon)),
        );
        m.special |= bits(special) << shift;
    }
    m
}

/// The masks of `block`, 32 bytes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{__m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8};

    let bits = |v: __m256i| u64::from(_mm256_movemask_epi8(v) as u32);
    let eq = |v: __m256i, b: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b as i8));
    let mut m = Masks { quote: 0, backslash: 0, paren: 0, open: 0, comma: 0, special: 0 };
    for (k, part) in block.chunks_exact(32).enumerate() {
        // SAFETY: `part` is 32 readable bytes, and `_mm256_loadu_si256` takes them unaligned.
        let v = unsafe { _mm256_loadu_si256(part.as_ptr().cast::<__m256i>()) };
        let (or1, or2) = (_mm256_or_si256(v, _mm256_set1_epi8(1)), _mm256_or_si256(v, _mm256_set1_epi8(2)));
        let shift = 32 * k;
        m.quote |= bits(eq(v, b'\'')) << shift;
        m.backslash |= bits(eq(v, b'\\')) << shift;
        m.paren |= bits(eq(or1, b')')) << shift;
        m.open |= bits(eq(v, b'(')) << shift;
        m.comma |= bits(_mm256_or_si256(eq(v, b','), eq(v, b'\n'))) << shift;
        let special = _mm256_or_si256(_mm256_or_si256(eq(or1, b'#'), eq(v, b'`')), _mm256_or_si256(eq(or2, b'/'), eq(v, b';')));
        m.special |= bits(special) << shift;
    }
    m
}

/// Bit `i` is the parity of bits `0..=i` of `x`.
pub(super) fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// [`prefix_xor`] in one carry-less multiplication (by all ones).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
pub(super) fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8};

    _mm_cvtsi128_si64(_mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0)) as u64
}

/// The masks of `block`.
#[cfg(not(target_arch = "x86_64"))]
pub(super) fn classify(block: &[u8; 64]) -> Masks {
    portable(block)
}

/// The masks of `block`, byte by byte.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(super) fn portable(block: &[u8; 64]) -> Masks {
    let mut m = Masks { quote: 0, backslash: 0, paren: 0, open: 0, comma: 0, special: 0 };
    for (i, &b) in block.iter().enumerate() {
        let bit = 1 << i;
        match b {
            b'\'' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'(' => {
                m.paren |= bit;
                m.open |= bit;
            }
            b')' => m.paren |= bit,
            b',' | b'\n' => m.comma |= bit,
            b'"' | b'#' | b'`' | b'-' | b'/' | b';' => m.special |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_portable_masks_agree_on_every_byte() {
        let mut block = [0u8; 64];
        for start in (0..=255u8).step_by(64) {
            for (i, b) in block.iter_mut().enumerate() {
                *b = start.wrapping_add(i as u8);
            }
            assert_eq!(classify(&block), portable(&block), "bytes from {start}");
            block.reverse();
            assert_eq!(classify(&block), portable(&block), "bytes from {start}, reversed");
        }
        let m = portable(b"(1,'a\\'b',\"c\",`d`,#e\n-f/g)......................................");
        let counts = [m.quote, m.backslash, m.paren, m.open, m.comma, m.special].map(u64::count_ones);
        assert_eq!(counts, [3, 1, 2, 1, 5, 7]);
    }

    #[test]
    fn avx2_masks_and_carry_less_parities_agree() {
        if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq")) {
            return;
        }
        let mut block = [0u8; 64];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for round in 0..2000 {
            for b in block.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = if round % 2 == 0 { x as u8 } else { b"'\\()\"#`-/,\n x"[(x % 13) as usize] };
            }
            // SAFETY: the CPU has AVX2 and carry-less multiplication (checked above).
            let (simd, clmul) = unsafe { (avx2(&block), prefix_xor_clmul(x)) };
            assert_eq!(simd, portable(&block));
            assert_eq!(clmul, prefix_xor(x));
        }
        assert_eq!(prefix_xor(0b1001_0100_0001), 0b0111_0011_1111);
    }
}
