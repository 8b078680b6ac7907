//! The text the row readers read: a dump's bytes as they are, or a T-SQL script's decoded from
//! UTF-16 to UTF-8 as they stream past (memory: 64 KiB of each), its encoding given or told from
//! its first bytes ([`Encoding::of_part`]). A byte-order mark that starts the bytes is left out;
//! a lone surrogate becomes U+FFFD, and a stream that ends inside a code unit is an error.

use std::io::{self, Read};

use crate::tsql::{Encoding, to_utf8};

/// Original bytes read at a time.
const BUF: usize = 64 << 10;
/// First bytes looked at to tell the encoding.
const SAMPLE: usize = 4096;

/// What is known of the encoding.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Still to tell, from the first bytes.
    Sniff,
    /// Told or given, its byte-order mark not yet looked for.
    Start(Encoding),
    /// Bytes as they are.
    Plain,
    /// UTF-16, decoded.
    Utf16 { le: bool },
}

/// A reader of UTF-8 text out of bytes in an [`Encoding`].
pub(crate) struct Text<R> {
    inner: R,
    mode: Mode,
    /// Original bytes read and not yet decoded: `raw[at..]`.
    raw: Vec<u8>,
    at: usize,
    /// Decoded bytes not yet given: `out[given..]`.
    out: Vec<u8>,
    given: usize,
    eof: bool,
}

impl<R: Read> Text<R> {
    /// The bytes of `inner` as they are.
    pub(crate) fn plain(inner: R) -> Self {
        Text { inner, mode: Mode::Plain, raw: Vec::new(), at: 0, out: Vec::new(), given: 0, eof: false }
    }

    /// The text of `inner`, in `encoding`, or in the one its first bytes tell if `None`.
    pub(crate) fn decoded(inner: R, encoding: Option<Encoding>) -> Self {
        let mode = encoding.map_or(Mode::Sniff, Mode::Start);
        Text { mode, ..Text::plain(inner) }
    }

    /// Read more original bytes after those not yet decoded; false at the end of the stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.raw.drain(..self.at);
        self.at = 0;
        let len = self.raw.len();
        self.raw.resize(len + BUF, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[len..]) {
                Ok(n) => break n.min(BUF),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.raw.truncate(len);
                    return Err(e);
                }
            }
        };
        self.raw.truncate(len + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Tell the encoding (from the first bytes if need be) and pass its byte-order mark.
    fn start(&mut self) -> io::Result<()> {
        if self.mode == Mode::Sniff {
            while self.raw.len() < SAMPLE && self.fill()? {}
            self.mode = Mode::Start(Encoding::of_part(&self.raw));
        }
        if let Mode::Start(enc) = self.mode {
            while self.raw.len() < enc.bom().len() && self.fill()? {}
            if self.raw.starts_with(enc.bom()) {
                self.at = enc.bom().len();
            }
            self.mode = match enc {
                Encoding::Utf8 => Mode::Plain,
                Encoding::Utf16 { le } => Mode::Utf16 { le },
            };
        }
        Ok(())
    }
}

impl<R: Read> Read for Text<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.start()?;
        loop {
            let copy = |from: &[u8], buf: &mut [u8]| {
                let n = from.len().min(buf.len());
                buf[..n].copy_from_slice(&from[..n]);
                n
            };
            if self.given < self.out.len() {
                let n = copy(&self.out[self.given..], buf);
                self.given += n;
                return Ok(n);
            }
            let Mode::Utf16 { le } = self.mode else {
                // Bytes read ahead to tell the encoding, then the stream itself.
                if self.at < self.raw.len() {
                    let n = copy(&self.raw[self.at..], buf);
                    self.at += n;
                    return Ok(n);
                }
                return self.inner.read(buf);
            };
            if self.eof && (self.raw.len() - self.at) % 2 == 1 {
                self.at = self.raw.len();
                return Err(io::Error::new(io::ErrorKind::InvalidData, "the stream ends inside a UTF-16 code unit"));
            }
            self.out.clear();
            self.given = 0;
            self.at += to_utf8(&self.raw[self.at..], le, self.eof, &mut self.out);
            if self.out.is_empty() {
                if self.eof {
                    return Ok(0);
                }
                self.fill()?;
            }
        }
    }
}
