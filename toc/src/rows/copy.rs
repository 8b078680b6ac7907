//! PostgreSQL's COPY text format: a row is a line of fields separated by tabs, `\N` is NULL, and
//! backslash escapes stand for tabs, line ends, backslashes and any byte (`\t`, `\n`, `\\`,
//! `\123`, `\x7f`). Decoded for reading COPY rows, encoded for TSV output.

use super::row::{Form, Row};

/// Decode one line of COPY rows (without its line end) into `row`; `Err` with a reason if a field
/// ends in a lone backslash.
pub(crate) fn decode_line(line: &[u8], row: &mut Row) -> Result<(), &'static str> {
    row.clear();
    for field in line.split(|&b| b == b'\t') {
        if field == b"\\N" {
            row.end_field(Form::Null);
            continue;
        }
        let out = row.data_mut();
        let mut rest = field;
        while let Some(i) = memchr::memchr(b'\\', rest) {
            out.extend_from_slice(&rest[..i]);
            let Some(&e) = rest.get(i + 1) else {
                return Err("a COPY field ends in a lone backslash");
            };
            rest = &rest[i + 2..];
            match e {
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(11),
                b'0'..=b'7' => {
                    let n = rest.iter().take(2).take_while(|d| (b'0'..=b'7').contains(d)).count();
                    let v = rest[..n].iter().fold(u32::from(e - b'0'), |v, d| v * 8 + u32::from(d - b'0'));
                    out.push(v as u8);
                    rest = &rest[n..];
                }
                b'x' => {
                    let n = rest.iter().take(2).take_while(|d| d.is_ascii_hexdigit()).count();
                    if n == 0 {
                        out.push(b'x');
                    } else {
                        let v = rest[..n].iter().fold(0u32, |v, d| v * 16 + (*d as char).to_digit(16).unwrap_or(0));
                        out.push(v as u8);
                        rest = &rest[n..];
                    }
                }
                _ => out.push(e),
            }
        }
        out.extend_from_slice(rest);
        row.end_field(Form::Text);
    }
    Ok(())
}

/// Append `value` in COPY text format to `out`: `\N` for NULL, backslash escapes for
/// backslashes and control characters that would break a line or a field.
pub(crate) fn encode(value: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(v) = value else {
        out.extend_from_slice(b"\\N");
        return;
    };
    let mut start = 0;
    for (i, &b) in v.iter().enumerate() {
        let esc = match b {
            b'\\' => b'\\',
            b'\t' => b't',
            b'\n' => b'n',
            b'\r' => b'r',
            8 => b'b',
            11 => b'v',
            12 => b'f',
            _ => continue,
        };
        out.extend_from_slice(&v[start..i]);
        out.extend_from_slice(&[b'\\', esc]);
        start = i + 1;
    }
    out.extend_from_slice(&v[start..]);
}
