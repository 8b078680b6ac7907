//! The fast path of MySQL's lexer over the rows of extended inserts, 64 bytes at a time.
//!
//! mysqldump writes rows as `(1,'a\'b',NULL,-2.5,_binary 'x'),(...)`: inside a row only numbers,
//! words and `'...'` strings (with backslash escapes and doubled quotes); between rows only `,`
//! and line ends. A block of such text is lexed with bit masks, as simdjson does with JSON
//! strings: the bytes that backslashes escape follow from the runs of backslashes, the strings
//! from the quotes that are not escaped, and the rows from the parentheses outside strings (when
//! they alternate, a prefix xor tells which text is outside them; nested ones are followed one by
//! one). A `;` outside parentheses ends the statement: the block is lexed up to it. A block that
//! holds anything else (a backslash outside a string, `"`, `` ` ``, `#`, `/`, `--`, or any byte
//! but `,` and white space between rows) is left to the byte-by-byte lexer: the fast path takes a
//! block only when its result is the byte-by-byte lexer's.

use super::classify::{self, Masks};
use super::{Lex, Lexer};

/// Bytes of a block.
pub(super) const BLOCK: usize = 64;

/// Bits of even positions.
const EVEN: u64 = 0x5555_5555_5555_5555;

impl Lexer {
    /// Whether the fast path may start here: a MySQL lexer inside a statement, in code (not in a
    /// word, unless inside parentheses, where the byte-by-byte lexer jumps over words too: none is
    /// ever `VALUES` or `INSERT` there) or in a `'...'` string.
    pub(super) fn rows_ready(&self) -> bool {
        self.mysql
            && self.statement
            && (self.depth > 0 || self.word_len == 0)
            && matches!(self.lex, Lex::Code | Lex::Dash | Lex::Quoted { q: b'\'', escapes: true } | Lex::QuotedBackslash { q: b'\'', escapes: true } | Lex::QuotedEnd { q: b'\'', escapes: true })
    }

    /// Lexes the blocks at the start of `data` that hold only what rows of values hold (none
    /// unless [`Lexer::rows_ready`]); returns the bytes lexed.
    pub(super) fn rows_blocks(&mut self, data: &[u8]) -> usize {
        if !self.rows_ready() {
            return 0;
        }
        let scan = Scan {
            string: matches!(self.lex, Lex::Quoted { .. } | Lex::QuotedBackslash { .. }),
            escaped: matches!(self.lex, Lex::QuotedBackslash { .. }),
            closed: matches!(self.lex, Lex::QuotedEnd { .. }),
            dash: self.lex == Lex::Dash,
            ended: false,
            depth: self.depth,
            rows: self.rows,
        };
        let (scan, done) = scan_blocks(scan, data, self.values);
        if done > 0 {
            let q = b'\'';
            self.lex = match scan {
                Scan { string: true, escaped: true, .. } => Lex::QuotedBackslash { q, escapes: true },
                Scan { string: true, .. } => Lex::Quoted { q, escapes: true },
                Scan { closed: true, .. } => Lex::QuotedEnd { q, escapes: true },
                Scan { dash: true, .. } => Lex::Dash,
                _ => Lex::Code,
            };
            if scan.ended {
                self.statement = false;
                self.values = false;
            }
            self.depth = scan.depth;
            self.rows = scan.rows;
            // (The byte before a quote matters only to PostgreSQL's lexer.)
            self.word_len = 0;
            self.prev = data[done - 1];
        }
        done
    }
}

/// The lexer's state between blocks of rows.
#[derive(Clone, Copy, Debug)]
struct Scan {
    /// Inside a `'...'` string,
    string: bool,
    /// just after a backslash in it,
    escaped: bool,
    /// just after its end,
    closed: bool,
    /// after a `-` in code,
    dash: bool,
    /// or just after the `;` that ends the statement.
    ended: bool,
    /// Parentheses open.
    depth: u32,
    /// Rows counted.
    rows: u64,
}

impl Scan {
    /// The state after `block` (of masks `m`), or after its first bytes up to the `;` that ends
    /// the statement, and how many bytes that is, if they hold only what rows of values hold
    /// (rows counted if `values`); or `None`.
    #[inline(always)]
    fn block(self, block: &[u8; BLOCK], m: Masks, values: bool, prefix_xor: impl Fn(u64) -> u64) -> Option<(Scan, usize)> {
        if self.dash && block[0] == b'-' {
            return None; // `--`
        }
        let (escaped, escapes_next) = escaped(m.backslash, self.escaped);
        let quote = m.quote & !escaped;
        // Bits inside strings, opening quotes included, closing ones not (a doubled quote closes
        // a string and opens another: the same to the lexer).
        let string = prefix_xor(quote) ^ if self.string { !0 } else { 0 };
        let code = !(string | quote);
        let mut special = m.special & code;
        let (mut dash, mut end) = (false, None);
        while special != 0 {
            let at = special.trailing_zeros() as usize;
            // `;` ends the statement; a minus sign is code, but `--` may start a comment; anything
            // else opens a string, identifier or comment.
            match (block[at], block.get(at + 1)) {
                (b';', _) => {
                    end = Some(at);
                    break;
                }
                (b'-', None) => dash = true,
                (b'-', Some(&next)) if next != b'-' => {}
                _ => return None,
            }
            special &= special - 1;
        }
        // What is up to the end of the statement (if it ends here), that `;` excepted.
        let upto = end.map_or(!0, |at| (1 << at) - 1);
        if m.backslash & upto & !string != 0 {
            return None; // a backslash in code: no escape
        }
        let paren = m.paren & code & upto;
        // Rows one after the other, no parentheses in them: a `)` ends each one.
        let close = paren & !m.open;
        let (depth, rows) = match (self.depth <= 1).then(|| alternating(paren, m.open & paren, close, self.depth, &prefix_xor)).flatten() {
            Some((depth, outside)) => {
                let odd = outside & upto & !m.comma;
                if odd != 0 && !ones_between_rows(block, odd) {
                    return None;
                }
                (depth, self.rows + if values { u64::from(close.count_ones()) } else { 0 })
            }
            None => nested(&block[..end.unwrap_or(BLOCK)], paren, self.depth, self.rows, values)?,
        };
        if let Some(at) = end {
            // (A `;` inside parentheses is nothing, but mysqldump writes none there.)
            return (depth == 0).then_some((Scan { string: false, escaped: false, closed: false, dash: false, ended: true, depth, rows }, at + 1));
        }
        let last = 1 << (BLOCK - 1);
        Some((Scan { string: string & last != 0, escaped: escapes_next, closed: quote & last != 0, dash, ended: false, depth, rows }, BLOCK))
    }
}

/// The state after the blocks at the start of `data` that hold only what rows of values hold,
/// and the bytes they make up.
fn scan_blocks(scan: Scan, data: &[u8], values: bool) -> (Scan, usize) {
    match way() {
        #[cfg(target_arch = "x86_64")]
        Way::Best if avx2_cpu() => {
            // SAFETY: the CPU has the features `scan_blocks_avx2` is compiled for (just checked).
            unsafe { scan_blocks_avx2(scan, data, values) }
        }
        Way::Best | Way::Baseline => scan_blocks_with(scan, data, values, classify::classify, classify::prefix_xor),
        Way::Portable => scan_blocks_with(scan, data, values, classify::portable, classify::prefix_xor),
    }
}

/// How blocks are classified (other ways than the best only in tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) enum Way {
    /// The fastest way the CPU has.
    Best,
    /// The way every CPU of the target has (SSE2 on x86_64).
    Baseline,
    /// Byte by byte.
    Portable,
}

#[cfg(test)]
thread_local! {
    /// How blocks are classified in this test's thread.
    pub(super) static WAY: std::cell::Cell<Way> = const { std::cell::Cell::new(Way::Best) };
}

fn way() -> Way {
    #[cfg(test)]
    return WAY.get();
    #[cfg(not(test))]
    Way::Best
}

/// Whether the CPU has what [`scan_blocks_avx2`] is compiled for.
#[cfg(target_arch = "x86_64")]
fn avx2_cpu() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq") && std::is_x86_feature_detected!("popcnt") && std::is_x86_feature_detected!("bmi1")
}

/// [`scan_blocks`] with AVX2, carry-less multiplication and `popcnt`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt,bmi1")]
fn scan_blocks_avx2(scan: Scan, data: &[u8], values: bool) -> (Scan, usize) {
    scan_blocks_with(scan, data, values, |block| classify::avx2(block), |x| classify::prefix_xor_clmul(x))
}

/// [`scan_blocks`], classifying with `classify`.
#[inline(always)]
fn scan_blocks_with(mut scan: Scan, data: &[u8], values: bool, classify: impl Fn(&[u8; BLOCK]) -> Masks, prefix_xor: impl Fn(u64) -> u64 + Copy) -> (Scan, usize) {
    let mut done = 0;
    for block in data.chunks_exact(BLOCK) {
        let Ok(block) = block.try_into() else { break };
        let Some((next, n)) = scan.block(block, classify(block), values, prefix_xor) else { break };
        (scan, done) = (next, done + n);
        if scan.ended {
            break;
        }
    }
    (scan, done)
}

/// The depth after `paren` (the parentheses in code, `(` in `open`, `)` in `close`) from
/// `depth` 0 or 1, and the bits outside them, if they alternate: `None` if they nest.
#[inline(always)]
fn alternating(paren: u64, open: u64, close: u64, depth: u32, prefix_xor: impl Fn(u64) -> u64) -> Option<(u32, u64)> {
    // Bits from each parenthesis of even rank (the first, third, ...) to the next one.
    let odd = prefix_xor(paren);
    let (first, outside) = if depth == 0 { (open, !odd) } else { (close, odd) };
    (paren & odd == first).then_some((depth ^ (odd >> 63) as u32, outside & !paren))
}

/// The depth and rows after `paren` (the parentheses in code, in `block`) from `depth`, if the
/// text outside parentheses holds only what is between rows.
#[cold]
fn nested(block: &[u8], mut paren: u64, mut depth: u32, mut rows: u64, values: bool) -> Option<(u32, u64)> {
    // Where the text outside parentheses began (only `,` and white space may be there).
    let mut outside = (depth == 0).then_some(0);
    while paren != 0 {
        let at = paren.trailing_zeros() as usize;
        if block[at] == b'(' {
            if let Some(from) = outside.take()
                && !between_rows(&block[from..at])
            {
                return None;
            }
            depth = depth.saturating_add(1);
        } else {
            if depth == 0 {
                return None;
            }
            if depth == 1 && values {
                rows += 1;
            }
            depth -= 1;
            if depth == 0 {
                outside = Some(at + 1);
            }
        }
        paren &= paren - 1;
    }
    if let Some(from) = outside
        && !between_rows(&block[from..])
    {
        return None;
    }
    Some((depth, rows))
}

/// Whether the bytes of `block` at the bits of `ones` are all what may be between rows.
fn ones_between_rows(block: &[u8; BLOCK], mut ones: u64) -> bool {
    while ones != 0 {
        if !between_rows(&[block[ones.trailing_zeros() as usize]]) {
            return false;
        }
        ones &= ones - 1;
    }
    true
}

/// Whether `text`, outside parentheses and strings, holds only what mysqldump writes between rows:
/// commas and white space, none of which changes the lexer's state inside a statement.
fn between_rows(text: &[u8]) -> bool {
    text.iter().all(|b| matches!(b, b',' | b' ' | b'\t' | b'\r' | b'\n'))
}

/// The bits of the bytes that `backslash` escapes (each backslash not itself escaped escapes the
/// next byte; the first byte is escaped if `first`), and whether the block's last byte escapes
/// the next block's first (simdjson's branchless algorithm).
fn escaped(backslash: u64, first: bool) -> (u64, bool) {
    let first = u64::from(first);
    if backslash == 0 {
        return (first, false);
    }
    let backslash = backslash & !first;
    let follows = backslash << 1 | first;
    // Runs of backslashes starting at odd positions; adding the runs carries past their ends.
    let odd_starts = backslash & !EVEN & !follows;
    let (even_runs, next) = odd_starts.overflowing_add(backslash);
    ((EVEN ^ (even_runs << 1)) & follows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `escaped`, byte by byte.
    fn escaped_slowly(backslash: u64, first: bool) -> (u64, bool) {
        let (mut out, mut escaping) = (0, first);
        for i in 0..64 {
            if escaping {
                out |= 1 << i;
                escaping = false;
            } else if backslash >> i & 1 == 1 {
                escaping = true;
            }
        }
        (out, escaping)
    }

    #[test]
    fn escapes_follow_from_runs_of_backslashes() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut patterns = vec![0, !0, 1, 1 << 63, 3 << 62, EVEN, !EVEN];
        patterns.extend((0..1 << 16).map(|p: u64| p | p << 47));
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            patterns.push(x & x.rotate_left(7)); // long and short runs
            patterns.push(x);
        }
        for p in patterns {
            for first in [false, true] {
                assert_eq!(escaped(p, first), escaped_slowly(p, first), "{p:064b} {first}");
            }
        }
    }

}
