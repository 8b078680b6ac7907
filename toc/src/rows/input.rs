//! A buffered byte stream with one byte of look-ahead and its offset, for the row readers.

use std::io::{self, Read};

/// Bytes read at a time.
const BUF: usize = 64 << 10;

/// A reader's bytes, buffered, with the offset of the next one.
pub(crate) struct Input<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// Bytes before `buf[0]`.
    before: u64,
    eof: bool,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R) -> Self {
        Input { inner, buf: vec![0; BUF].into_boxed_slice(), pos: 0, len: 0, before: 0, eof: false }
    }

    /// The offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.before + self.pos as u64
    }

    /// The bytes buffered from the next one on: empty only at the end of the stream.
    pub(crate) fn chunk(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len && !self.eof {
            self.before += self.len as u64;
            self.pos = 0;
            self.len = 0;
            loop {
                match self.inner.read(&mut self.buf) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.len = n.min(self.buf.len()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
                break;
            }
        }
        Ok(&self.buf[self.pos..self.len])
    }

    /// Skip `n` bytes of the current chunk.
    pub(crate) fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }

    /// The next byte, without taking it.
    pub(crate) fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.chunk()?.first().copied())
    }

    /// The byte `i` places after the next one, without taking anything (`i` is small).
    pub(crate) fn peek_at(&mut self, i: usize) -> io::Result<Option<u8>> {
        if self.pos + i >= self.len && !self.eof {
            // Move what is left to the front and read more behind it.
            self.buf.copy_within(self.pos..self.len, 0);
            self.before += self.pos as u64;
            self.len -= self.pos;
            self.pos = 0;
            while self.len <= i && !self.eof {
                match self.inner.read(&mut self.buf[self.len..]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => self.len = (self.len + n).min(self.buf.len()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(if self.pos + i < self.len { Some(self.buf[self.pos + i]) } else { None })
    }

    /// Take the next byte.
    pub(crate) fn next(&mut self) -> io::Result<Option<u8>> {
        let b = self.peek()?;
        self.consume(1);
        Ok(b)
    }

    /// Append the bytes up to the next line end (included) to `out`, at most `max` of them in
    /// all; whether a line end was found (false at the end of the stream or past `max`).
    pub(crate) fn read_line(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<bool> {
        loop {
            let chunk = self.chunk()?;
            if chunk.is_empty() {
                return Ok(false);
            }
            let (n, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = max.saturating_sub(out.len());
            out.extend_from_slice(&chunk[..n.min(room)]);
            self.consume(n);
            if n > room {
                return Ok(false);
            }
            if found {
                return Ok(true);
            }
        }
    }
}
