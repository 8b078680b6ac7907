//! The encodings SSMS and sqlcmd scripts come in, told from the stream's first bytes as dbvault's
//! format recognition tells them: a byte-order mark (UTF-16 LE `FF FE`, UTF-16 BE `FE FF`, UTF-8
//! `EF BB BF`), or else UTF-16 LE when (nearly) every odd byte of the first 4 KiB is zero, or else
//! UTF-8.
//!
//! The parser reads a *narrow* form of the text: one byte per code unit (per byte in UTF-8), the
//! unit itself when it is ASCII and `0x80` when it is not (surrogates, lone or paired, included).
//! Everything T-SQL's structure depends on is ASCII, so the narrow text is lexed as the script
//! is, and narrow offset `i` is original bytes `i * unit .. (i + 1) * unit`: byte ranges in the
//! original encoding come for free. Names are decoded from the original bytes.
//!
//! The row reader needs the values themselves: it decodes UTF-16 to UTF-8 as a
//! stream ([`to_utf8`]), and tells the encoding of a part of a script, which has no byte-order
//! mark, from where its zero bytes are ([`Encoding::of_part`]).

/// How many first bytes decide between UTF-16 LE without a byte-order mark and UTF-8.
pub(super) const SAMPLE: usize = 4096;

/// A script's encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (or anything that is not UTF-16: bytes are read as they are).
    Utf8,
    /// UTF-16, little-endian when `le`.
    Utf16 {
        /// Little-endian.
        le: bool,
    },
}

impl Encoding {
    /// The encoding of a whole script whose first bytes (4 KiB, or all if it is shorter) are
    /// `head`, as the table-of-contents parser tells it.
    pub fn of_script(head: &[u8]) -> Encoding {
        detect(head, true).map_or(Encoding::Utf8, |(enc, _)| enc)
    }

    /// The encoding of a part of a script (an object's bytes: whole code units, no byte-order mark
    /// unless it starts the script) whose first bytes are `sample` (4 KiB or so): its byte-order
    /// mark, or else UTF-16 when zero bytes are frequent at one parity and rare at the other (LE:
    /// the high bytes of ASCII text are the odd ones), or else UTF-8.
    pub fn of_part(sample: &[u8]) -> Encoding {
        if let Some((enc, bom)) = detect(sample, false)
            && bom > 0
        {
            return enc;
        }
        let zeros = |parity: usize| sample.iter().skip(parity).step_by(2).filter(|&&b| b == 0).count();
        let (even, odd) = (zeros(0), zeros(1));
        let pairs = sample.len() / 2;
        let frequent = |n: usize| n > 0 && n * 8 >= pairs;
        if frequent(odd) && odd > even * 4 {
            Encoding::Utf16 { le: true }
        } else if frequent(even) && even > odd * 4 {
            Encoding::Utf16 { le: false }
        } else {
            Encoding::Utf8
        }
    }

    /// The byte-order mark that starts a script in this encoding (UTF-8's is optional).
    pub fn bom(self) -> &'static [u8] {
        match self {
            Encoding::Utf8 => b"\xef\xbb\xbf",
            Encoding::Utf16 { le: true } => b"\xff\xfe",
            Encoding::Utf16 { le: false } => b"\xfe\xff",
        }
    }

    /// Original bytes per narrow byte.
    pub(super) fn unit(self) -> usize {
        match self {
            Encoding::Utf8 => 1,
            Encoding::Utf16 { .. } => 2,
        }
    }

    /// `text` in this encoding (without a byte-order mark).
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Utf16 { le } => text.encode_utf16().flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() }).collect(),
        }
    }

    /// `orig` (whole code units) as text; what cannot be decoded becomes U+FFFD.
    pub fn decode(self, orig: &[u8]) -> String {
        match self {
            Encoding::Utf8 => String::from_utf8_lossy(orig).into_owned(),
            Encoding::Utf16 { le } => {
                let units = orig.chunks_exact(2).map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) });
                char::decode_utf16(units).map(|r| r.unwrap_or('\u{fffd}')).collect()
            }
        }
    }
}

/// The encoding of a stream that starts with `head`, and the length of its byte-order mark; `None`
/// while more bytes are needed to tell (`at_end`: there are no more).
pub(super) fn detect(head: &[u8], at_end: bool) -> Option<(Encoding, usize)> {
    if head.starts_with(b"\xff\xfe") {
        return Some((Encoding::Utf16 { le: true }, 2));
    }
    if head.starts_with(b"\xfe\xff") {
        return Some((Encoding::Utf16 { le: false }, 2));
    }
    if head.starts_with(b"\xef\xbb\xbf") {
        return Some((Encoding::Utf8, 3));
    }
    if head.len() < SAMPLE && !at_end {
        return None;
    }
    let sample = &head[..head.len().min(SAMPLE)];
    let odd_zeros = sample.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    // ASCII-range text in UTF-16 LE without a byte-order mark: (nearly) every odd byte is zero.
    if sample.len() >= 64 && odd_zeros * 10 >= (sample.len() / 2) * 8 {
        return Some((Encoding::Utf16 { le: true }, 0));
    }
    Some((Encoding::Utf8, 0))
}

/// Append the UTF-8 of the UTF-16 code units of `orig` to `out` (U+FFFD for a lone surrogate);
/// the number of bytes taken. Unless `end` (no more bytes follow), a last odd byte and a last high
/// surrogate, whose other half may follow, are left for the next call.
pub(crate) fn to_utf8(orig: &[u8], le: bool, end: bool, out: &mut Vec<u8>) -> usize {
    if le { to_utf8_units::<0>(orig, end, out) } else { to_utf8_units::<1>(orig, end, out) }
}

/// [`to_utf8`] of code units whose low byte is their byte `LOW` (0: little-endian).
fn to_utf8_units<const LOW: usize>(orig: &[u8], end: bool, out: &mut Vec<u8>) -> usize {
    let unit = |i: usize| u16::from(orig[i + LOW]) | u16::from(orig[i + 1 - LOW]) << 8;
    let mask = u128::from_ne_bytes(std::array::from_fn(|i| if i % 2 == LOW { 0x80 } else { 0xff }));
    let mut i = 0;
    while i + 1 < orig.len() {
        // Eight ASCII code units at a time: their low bytes.
        if let Some(block) = orig.get(i..i + 16)
            && u128::from_ne_bytes(block.try_into().expect("16 bytes")) & mask == 0
        {
            out.extend(block.iter().skip(LOW).step_by(2));
            i += 16;
            continue;
        }
        let u = unit(i);
        let c = match u {
            0xD800..0xDC00 if i + 3 < orig.len() => {
                let low = unit(i + 2);
                if (0xDC00..0xE000).contains(&low) {
                    i += 2;
                    char::from_u32(0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(low) - 0xDC00))
                } else {
                    None
                }
            }
            // A high surrogate at the end: its other half may be in the next bytes.
            0xD800..0xDC00 if !end => return i,
            _ => char::from_u32(u32::from(u)),
        };
        out.extend_from_slice(c.unwrap_or('\u{fffd}').encode_utf8(&mut [0; 4]).as_bytes());
        i += 2;
    }
    if end && i < orig.len() {
        // A last odd byte: half a code unit.
        out.extend_from_slice("\u{fffd}".as_bytes());
        i = orig.len();
    }
    i
}

/// Append the narrow form of `orig` (whole UTF-16 code units) to `out`.
pub(super) fn narrow_utf16(orig: &[u8], le: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + orig.len() / 2, 0);
    if le {
        narrow_units::<0>(orig, &mut out[start..]);
    } else {
        narrow_units::<1>(orig, &mut out[start..]);
    }
}

/// The narrow form of code units whose low byte is their byte `LOW` (0: little-endian).
fn narrow_units<const LOW: usize>(orig: &[u8], out: &mut [u8]) {
    let narrow = |c: &[u8]| if c[1 - LOW] == 0 && c[LOW] < 0x80 { c[LOW] } else { 0x80 };
    // Eight code units at a time while they are all ASCII (their high bytes zero, their low
    // bytes below 0x80): the low bytes are the narrow text.
    let mask = u128::from_ne_bytes(std::array::from_fn(|i| if i % 2 == LOW { 0x80 } else { 0xff }));
    let mut blocks = orig.chunks_exact(16);
    let mut outs = out.chunks_exact_mut(8);
    for (block, o) in (&mut blocks).zip(&mut outs) {
        let units: [u8; 16] = block.try_into().expect("16 bytes");
        if u128::from_ne_bytes(units) & mask == 0 {
            for (k, x) in o.iter_mut().enumerate() {
                *x = units[2 * k + LOW];
            }
        } else {
            for (k, x) in o.iter_mut().enumerate() {
                *x = narrow(&units[2 * k..2 * k + 2]);
            }
        }
    }
    for (c, x) in blocks.remainder().chunks_exact(2).zip(outs.into_remainder()) {
        *x = narrow(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str, le: bool) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() }).collect()
    }

    #[test]
    fn encodings_are_told_as_format_recognition_tells_them() {
        let text = "USE [Shop]\r\nGO\r\n".repeat(10);
        assert_eq!(detect(b"\xff\xfeU\0", false), Some((Encoding::Utf16 { le: true }, 2)));
        assert_eq!(detect(b"\xfe\xff\0U", false), Some((Encoding::Utf16 { le: false }, 2)));
        assert_eq!(detect(b"\xef\xbb\xbfUSE", false), Some((Encoding::Utf8, 3)));
        assert_eq!(detect(&utf16(&text, true), false), None, "too few bytes to tell yet");
        assert_eq!(detect(&utf16(&text, true), true), Some((Encoding::Utf16 { le: true }, 0)));
        assert_eq!(detect(text.as_bytes(), true), Some((Encoding::Utf8, 0)));
        assert_eq!(detect(b"", true), Some((Encoding::Utf8, 0)));
    }

    #[test]
    fn narrow_text_keeps_ascii_and_marks_the_rest() {
        let s = "[Zürich 🦀]\n";
        let mut out = Vec::new();
        narrow_utf16(&utf16(s, false), false, &mut out);
        assert_eq!(out, b"[Z\x80rich \x80\x80]\n", "a surrogate pair is two code units");
        let le = utf16(s, true);
        assert_eq!(Encoding::Utf16 { le: true }.decode(&le), s);
        assert_eq!(Encoding::Utf16 { le: true }.decode(&le[..le.len() - 6]), "[Zürich \u{fffd}", "a lone surrogate");
    }

    #[test]
    fn utf8_comes_out_of_utf16_in_pieces_of_any_size() {
        let s = "INSERT [dbo].[t] ([x]) VALUES (N'Zoë 🦀 中文, a longer ASCII run of text')\r\n";
        for le in [true, false] {
            let orig = utf16(s, le);
            for piece in 1..orig.len() {
                let (mut out, mut pending) = (Vec::new(), Vec::new());
                for chunk in orig.chunks(piece) {
                    pending.extend_from_slice(chunk);
                    let n = to_utf8(&pending, le, false, &mut out);
                    pending.drain(..n);
                }
                to_utf8(&pending, le, true, &mut out);
                assert_eq!(String::from_utf8(out).unwrap(), s, "pieces of {piece}");
            }
        }
        let mut out = Vec::new();
        assert_eq!(to_utf8(b"\x3d\xd8a", true, true, &mut out), 3);
        assert_eq!(String::from_utf8(out).unwrap(), "\u{fffd}\u{fffd}", "a lone surrogate, half a unit");
    }

    #[test]
    fn a_part_of_a_script_is_told_by_its_zero_bytes() {
        let s = "INSERT [dbo].[t] ([x]) VALUES (N'中文中文中文中文中文中文')\r\nGO\r\n";
        assert_eq!(Encoding::of_part(&utf16(s, true)), Encoding::Utf16 { le: true });
        assert_eq!(Encoding::of_part(&utf16(s, false)), Encoding::Utf16 { le: false });
        assert_eq!(Encoding::of_part(s.as_bytes()), Encoding::Utf8);
        assert_eq!(Encoding::of_part(b"\xfe\xff"), Encoding::Utf16 { le: false });
        assert_eq!(Encoding::of_part(b""), Encoding::Utf8);
        assert_eq!(Encoding::of_script(&utf16(&"INSERT [t] VALUES (1)\r\nGO\r\n".repeat(200), true)), Encoding::Utf16 { le: true });
    }
}
