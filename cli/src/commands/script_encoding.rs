//! The text encoding of a dump's script (as ingest recognised it: SSMS writes UTF-16), for what
//! dbvault reads out of it as text and what it adds to a script made of its parts.

use std::io;
use std::ops::Range;

use store::Repository;
use store::index::Index;
use store::snapshot::Snapshot;
use toc::rows::Encoding;

/// An encoding, and whether the dump starts with a byte-order mark.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ScriptEncoding {
    /// The encoding.
    pub encoding: Encoding,
    bom: bool,
}

impl ScriptEncoding {
    /// The encoding ingest recorded for `snap`'s dump.
    pub fn of(snap: &Snapshot) -> ScriptEncoding {
        let (encoding, bom) = match snap.manifest.source.encoding.as_deref() {
            Some("utf-16le") => (Encoding::Utf16 { le: true }, true),
            Some("utf-16le-nobom") => (Encoding::Utf16 { le: true }, false),
            Some("utf-16be") => (Encoding::Utf16 { le: false }, true),
            Some("utf-8-bom") => (Encoding::Utf8, true),
            _ => (Encoding::Utf8, false),
        };
        ScriptEncoding { encoding, bom }
    }

    /// The byte-order mark the dump starts with (none if it has none).
    pub fn bom(self) -> &'static [u8] {
        if self.bom { self.encoding.bom() } else { b"" }
    }

    /// `text` in the dump's encoding.
    pub fn encode(self, text: &str) -> Vec<u8> {
        self.encoding.encode(text)
    }

    /// `bytes` of the dump as UTF-8, a byte-order mark dropped. A UTF-8 dump's bytes are kept as
    /// they are, whatever they hold (binary rows of a mysqldump dump): offsets into them are
    /// offsets into the dump, which `--rename-to` relies on. UTF-16 is decoded, what is not text
    /// replaced.
    pub fn decode(self, bytes: &[u8]) -> Vec<u8> {
        let bytes = bytes.strip_prefix(self.encoding.bom()).unwrap_or(bytes);
        match self.encoding {
            Encoding::Utf8 => bytes.to_vec(),
            Encoding::Utf16 { .. } => self.encoding.decode(bytes).into_bytes(),
        }
    }

    /// A reader of ranges of `snap`'s dump as UTF-8 text (each chunk read verified), as
    /// [`toc::select::plan`] wants them.
    pub fn text_reader<'a>(self, repo: &'a Repository, index: &'a Index, snap: &'a Snapshot) -> impl FnMut(&[Range<u64>]) -> io::Result<Vec<Vec<u8>>> + 'a {
        move |ranges| {
            let texts = store::extract::read_ranges(repo, index, snap, ranges).map_err(io::Error::other)?;
            Ok(texts.into_iter().map(|t| self.decode(&t)).collect())
        }
    }
}
