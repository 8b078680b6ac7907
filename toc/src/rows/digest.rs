//! 16-byte keyed digests of rows and of their keys, and a map keyed by them.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use super::row::{Field, Form, Row};

/// A 128-bit digest; hashed by its first half, which is random already.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Digest(u64, u64);

impl Hash for Digest {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.0);
    }
}

/// A hasher for [`Digest`]s: their bits as they are.
#[derive(Default)]
pub(crate) struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type Map<V> = HashMap<Digest, V, BuildHasherDefault<Identity>>;

/// Keyed digests of rows and keys.
pub(crate) struct Digester {
    key: [u8; 32],
    buf: Vec<u8>,
}

impl Digester {
    pub(crate) fn new() -> Self {
        // A key no one can guess, so no rows can be made to collide: from the standard library's
        // random hash seeds.
        let mut key = [0u8; 32];
        for (i, part) in key.chunks_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_usize(i);
            part.copy_from_slice(&h.finish().to_le_bytes());
        }
        Digester { key, buf: Vec::new() }
    }

    /// The digest of the fields of `row` at `positions` (all of them if `None`): equal for equal
    /// values and NULLs, whatever their quoting; `None` if a position is past the row's end.
    pub(crate) fn of(&mut self, row: &Row, positions: Option<&[usize]>) -> Option<Digest> {
        self.buf.clear();
        let mut add = |f: Field<'_>| {
            self.buf.push(match f.form {
                Form::Null => 0,
                Form::Expr => 2,
                _ => 1,
            });
            self.buf.extend_from_slice(&(f.bytes.len() as u64).to_le_bytes());
            self.buf.extend_from_slice(f.bytes);
        };
        match positions {
            Some(ps) => {
                for &p in ps {
                    add(row.get(p)?);
                }
            }
            None => row.fields().for_each(add),
        }
        let h = blake3::keyed_hash(&self.key, &self.buf);
        let b = h.as_bytes();
        let half = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        Some(Digest(half(0), half(8)))
    }
}
