//! A snapshot's table of contents as stored (SPEC.md section 9.3): the objects of its dump, one
//! JSON line each, in stream order, each with its length rather than its offset so that an object
//! unchanged since the day before gives the same line and the stream deduplicates. The manifest's
//! `toc` field ([`TocRef`]) names the stream's chunk-list tree.

use std::borrow::Cow;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toc::{Kind, Object, Section, Toc};

use crate::{FormatError, Id};

const KIND: &str = "table of contents";

/// Not-understood ranges a manifest records at most; the last one recorded then runs to the end
/// of the stream.
pub const MAX_NOT_UNDERSTOOD: usize = 64;

/// Longest line a reader accepts: parsers keep names of at most 1 MiB
/// ([`toc::MAX_LINE_HEAD`]), and JSON's escapes can make a line of five such names this long.
pub const MAX_LINE: usize = 64 << 20;

/// The manifest's reference to a snapshot's table of contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TocRef {
    /// The format whose parser built it (the stream's `source.format`).
    pub format: String,
    /// Root of the chunk-list tree of its stream of lines.
    pub tree: Id,
    /// Length of that stream.
    pub size: u64,
    /// Plain BLAKE3 of that stream.
    pub digest: Id,
    /// Number of objects (lines).
    pub objects: u64,
    /// Byte ranges of the dump the parser did not understand, as `[start, end]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_understood: Vec<[u64; 2]>,
}

/// One line of the stream (its names borrowed from the object it is written from).
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    kind: Kind,
    tool_kind: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    database: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<Cow<'a, str>>,
    name: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<Cow<'a, str>>,
    section: Section,
    len: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rows: Option<u64>,
    digest: Id,
}

/// Append the lines of `objects` to `out` (a stream of lines is the lines of its objects, in
/// order, however they are taken).
pub fn encode_objects(objects: &[Object], out: &mut Vec<u8>) {
    for o in objects {
        let line = Line {
            kind: o.kind,
            tool_kind: Cow::Borrowed(&o.tool_kind),
            database: o.database.as_deref().map(Cow::Borrowed),
            schema: o.schema.as_deref().map(Cow::Borrowed),
            name: Cow::Borrowed(&o.name),
            owner: o.owner.as_deref().map(Cow::Borrowed),
            section: o.section,
            len: o.range.end - o.range.start,
            rows: o.rows,
            digest: Id(o.digest),
        };
        serde_json::to_writer(&mut *out, &line).expect("a line serialises");
        out.push(b'\n');
    }
}

/// The not-understood ranges of `toc` as a manifest records them (at most [`MAX_NOT_UNDERSTOOD`]).
pub fn not_understood(toc: &Toc) -> Vec<[u64; 2]> {
    let mut out: Vec<[u64; 2]> = toc.not_understood.iter().map(|r| [r.start, r.end]).collect();
    if out.len() > MAX_NOT_UNDERSTOOD {
        out.truncate(MAX_NOT_UNDERSTOOD);
        out[MAX_NOT_UNDERSTOOD - 1][1] = toc.len;
    }
    out
}

/// The table of contents of a dump of `stream_len` bytes from its stream of lines `bytes`,
/// checked against `r`: every line well-formed, as many objects as `r` says, and lengths that add
/// up to the dump's.
pub fn decode(bytes: &[u8], r: &TocRef, stream_len: u64) -> Result<Toc, FormatError> {
    let mut objects = Vec::with_capacity(r.objects.min(1 << 20) as usize);
    let mut at = 0u64;
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    for (n, text) in body.split(|&b| b == b'\n').enumerate().filter(|_| !bytes.is_empty()) {
        if text.len() > MAX_LINE {
            return Err(FormatError::malformed(KIND, format!("line {} is {} bytes long", n + 1, text.len())));
        }
        let l: Line = serde_json::from_slice(text).map_err(|e| FormatError::malformed(KIND, format!("line {}: {e}", n + 1)))?;
        let end = at.checked_add(l.len).filter(|e| *e <= stream_len).ok_or_else(|| {
            FormatError::malformed(KIND, format!("line {}: objects run past the end of the {stream_len}-byte dump", n + 1))
        })?;
        objects.push(Object {
            kind: l.kind,
            tool_kind: l.tool_kind.into_owned(),
            database: l.database.map(Cow::into_owned),
            schema: l.schema.map(Cow::into_owned),
            name: l.name.into_owned(),
            owner: l.owner.map(Cow::into_owned),
            section: l.section,
            range: at..end,
            rows: l.rows,
            digest: l.digest.0,
        });
        at = end;
    }
    if objects.len() as u64 != r.objects {
        return Err(FormatError::malformed(KIND, format!("{} objects, the manifest says {}", objects.len(), r.objects)));
    }
    if at != stream_len && !objects.is_empty() {
        return Err(FormatError::malformed(KIND, format!("objects cover {at} bytes of the {stream_len}-byte dump")));
    }
    if r.not_understood.len() > MAX_NOT_UNDERSTOOD {
        return Err(FormatError::malformed(KIND, format!("{} not-understood ranges, more than the {MAX_NOT_UNDERSTOOD} a manifest holds", r.not_understood.len())));
    }
    let not_understood: Vec<Range<u64>> = r.not_understood.iter().map(|[s, e]| *s..*e).collect();
    if not_understood.iter().any(|nu| nu.start > nu.end || nu.end > stream_len) {
        return Err(FormatError::malformed(KIND, "a not-understood range lies outside the dump"));
    }
    Ok(Toc { objects, not_understood, len: stream_len, whole: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream of lines of `toc`.
    fn encode(toc: &Toc) -> Vec<u8> {
        let mut out = Vec::new();
        encode_objects(&toc.objects, &mut out);
        out
    }

    fn object(kind: Kind, name: &str, range: Range<u64>, rows: Option<u64>) -> Object {
        Object {
            kind,
            tool_kind: format!("{kind:?}"),
            database: None,
            schema: Some("public".into()),
            name: name.into(),
            owner: None,
            section: Section::PreData,
            range,
            rows,
            digest: [range_byte(name); 32],
        }
    }

    fn range_byte(name: &str) -> u8 {
        name.len() as u8
    }

    fn sample() -> Toc {
        Toc {
            objects: vec![
                object(Kind::Preamble, "", 0..10, None),
                object(Kind::Table, "Order \"Items\"\n", 10..50, None),
                object(Kind::TableData, "orders", 50..1000, Some(12)),
            ],
            not_understood: std::iter::once(900..1000).collect(),
            len: 1000,
            whole: None,
        }
    }

    fn reference(toc: &Toc, bytes: &[u8]) -> TocRef {
        TocRef {
            format: "pg_dump-plain".into(),
            tree: Id([1; 32]),
            size: bytes.len() as u64,
            digest: Id::of_bytes(bytes),
            objects: toc.objects.len() as u64,
            not_understood: not_understood(toc),
        }
    }

    #[test]
    fn round_trip() {
        let toc = sample();
        let bytes = encode(&toc);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 3, "one line per object, newlines in names escaped");
        assert_eq!(decode(&bytes, &reference(&toc, &bytes), 1000).unwrap(), toc);
        let empty = Toc { objects: vec![], not_understood: vec![], len: 0, whole: None };
        assert_eq!(decode(&encode(&empty), &reference(&empty, b""), 0).unwrap(), empty);
    }

    #[test]
    fn an_unchanged_object_gives_the_same_line_wherever_it_lies() {
        let mut later = sample();
        later.objects[0].range = 0..20;
        for o in &mut later.objects[1..] {
            o.range = o.range.start + 10..o.range.end + 10;
        }
        let (a, b) = (encode(&sample()), encode(&later));
        let lines = |b: &[u8]| b.split(|&c| c == b'\n').map(|l| l.to_vec()).collect::<Vec<_>>();
        assert_ne!(lines(&a)[0], lines(&b)[0]);
        assert_eq!(lines(&a)[1..], lines(&b)[1..]);
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let toc = sample();
        let bytes = encode(&toc);
        let r = reference(&toc, &bytes);
        assert!(decode(&bytes, &r, 999).is_err(), "longer than the dump");
        assert!(decode(&bytes, &r, 1001).is_err(), "shorter than the dump");
        assert!(decode(&bytes, &TocRef { objects: 2, ..r.clone() }, 1000).is_err(), "object count");
        assert!(decode(b"{\"kind\":\"table\"}\n", &r, 1000).is_err(), "a line missing fields");
        assert!(decode(b"garbage\n", &r, 1000).is_err());
        assert!(decode(&bytes, &TocRef { not_understood: vec![[5, 2000]], ..r.clone() }, 1000).is_err());
        assert!(decode(&bytes, &TocRef { not_understood: vec![[5, 6]; MAX_NOT_UNDERSTOOD + 1], ..r.clone() }, 1000).is_err(), "more ranges than a manifest holds");
        let unknown_section = String::from_utf8(bytes.clone()).unwrap().replacen("\"section\":\"pre_data\"", "\"section\":\"mid_data\"", 1);
        assert!(decode(unknown_section.as_bytes(), &r, 1000).is_err(), "a section this reader does not know");
        let later_key = String::from_utf8(bytes.clone()).unwrap().replacen("{", "{\"colour\":\"blue\",", 1);
        assert_eq!(decode(later_key.as_bytes(), &r, 1000).unwrap(), toc, "a key this reader does not know is ignored");
    }

    #[test]
    fn a_kind_from_a_later_version_reads_as_other() {
        let line = br#"{"kind":"hologram","tool_kind":"HOLOGRAM","name":"x","section":"pre_data","len":3,"digest":"0000000000000000000000000000000000000000000000000000000000000000"}"#;
        let toc = Toc { objects: vec![object(Kind::Other, "x", 0..3, None)], not_understood: vec![], len: 3, whole: None };
        let got = decode(line, &reference(&toc, line), 3).unwrap();
        assert_eq!(got.objects[0].kind, Kind::Other);
        assert_eq!(got.objects[0].tool_kind, "HOLOGRAM");
    }

    #[test]
    fn many_not_understood_ranges_are_capped() {
        let toc = Toc { objects: vec![], not_understood: (0..100).map(|i| i * 10..i * 10 + 5).collect(), len: 2000, whole: None };
        let nu = not_understood(&toc);
        assert_eq!(nu.len(), MAX_NOT_UNDERSTOOD);
        assert_eq!(nu[MAX_NOT_UNDERSTOOD - 1], [630, 2000]);
    }
}
