//! pg_dump's custom format archive (`pg_dump -Fc`), versions 1.12 to 1.16 (pg_dump 9.0 to 18;
//! pg_dump 13 to 15 write 1.14, 16 writes 1.15, 17 and 18 write 1.16).
//!
//! An archive is a header (`PGDMP`, the version, the sizes of an integer and of an offset, the
//! compression, the creation time, the database's name, the server's and pg_dump's versions), a
//! table of contents (the number of entries, then every entry: dump id, kind (`desc`), name
//! (`tag`), section, SQL, schema (`namespace`), owner, dependencies, data offset, ...), then a data
//! block for every entry with data, in the entries' order: a type byte (table data or large
//! objects), the entry's dump id, and chunks (an int length, that many bytes, length 0 ending the
//! block; a block of large objects is OIDs each followed by its chunks, OID 0 ending it). The data
//! offsets in the entries are "not set" when pg_dump writes to a pipe, so blocks are found by
//! reading through them, never by seeking; their chunks are not decompressed. Integers are a sign
//! byte and little-endian bytes; strings an int length (-1: NULL) and their bytes.
//!
//! Objects, in stream order, their ranges covering the stream without gaps:
//!
//! - the preamble ([`Kind::Preamble`]): the header and the number of entries;
//! - an object for every entry without data (a table's definition, an index, a sequence's value,
//!   a comment, ...), its range the entry's bytes;
//! - an object for every entry with data (`TABLE DATA`, `BLOBS`), placed at its data block: its
//!   range is the block (up to the next block or the stream's end). The entry itself, a few dozen
//!   bytes in the table of contents, is folded into the range of the object before it (the last
//!   entry without data, or the preamble).
//!
//! An object's kind, schema, name and owner are its entry's `desc` (mapped as the plain format's
//! types are), `namespace`, `tag` and owner; its section is the entry's (an entry of no section,
//! a comment or grant, is in the section of the entry before it). There is one database and no
//! object names it.
//!
//! Digests leave out what differs between two dumps of the same data: the header's creation time,
//! dump ids, dependencies (dump ids), data offsets, and catalog OIDs (a restored copy of a database
//! has other OIDs for the same objects, and the plain format has none). An entry's object digests
//! its other fields as they are written; the folded entries of data are digested nowhere (the
//! table's own entry holds the same names). A data object digests its block's payload: the bytes
//! of its chunks (compressed or not), and the OIDs of large objects, without the block's type,
//! dump id and chunk lengths. (The archive holds no `\restrict` key: pg_restore makes one when it
//! writes a script.)
//!
//! Rows are counted in table data of an uncompressed archive (`pg_dump -Fc -Z0`, which dbvault
//! recommends): the lines of `COPY` text before its `\.`, or the rows of `INSERT` statements
//! (`--inserts`). In a compressed archive they are not counted (`None`).
//!
//! Nothing is held but the table of contents' names (each up to 64 KiB) and an entry's small
//! fields: strings and chunks stream through the hashers, whatever their length. An archive this
//! reader does not read (another format or version, or damaged: a length beyond 1 GiB, a sign byte
//! other than 0 or 1, an unknown block, a block of no entry) is not understood from the start of
//! the header, entry or block where it went wrong to the stream's end; one that ends early is not
//! understood from the start of the unit cut short, or, cut between two, of the last object.

mod data;
mod format;

use std::collections::HashMap;
use std::ops::Range;

use data::{CopyRows, Rows};
use format::{BLK_BLOBS, BLK_DATA, Enc, Field, Format, MAX_LEN, OFFSET_NO_DATA, PREFIX, Role};

use crate::pg_plain::kind_of;
use crate::{Header, Kind, Object, Section, Toc, TocParser};

/// Longest text kept of an entry's name, kind, schema or owner; the rest is hashed, not kept.
const KEEP: usize = 1 << 16;

/// What is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum At {
    /// The first bytes: magic, version, sizes, format.
    Prefix,
    /// The fixed part of `fields[step]` (a string's length).
    Field,
    /// The text of the string `fields[step]` (or of one of its list): bytes left.
    Text(u64),
    /// A data block's type and dump id.
    Block,
    /// A chunk's length (0: the end of the data).
    ChunkLen,
    /// A chunk's bytes: bytes left.
    Chunk(u64),
    /// A large object's OID (0: the end of the block).
    BlobOid,
    /// The end of the archive: every entry and block read.
    End,
    /// Bytes not understood, up to the stream's end.
    Garbled,
}


/// An object whose end is not known yet.
struct Open {
    named: Header,
    section: Section,
    start: u64,
    hasher: blake3::Hasher,
    rows: Rows,
}

/// The entry being read.
struct Entry {
    hasher: blake3::Hasher,
    dump_id: i64,
    /// Kept text of its tag, desc, namespace and owner.
    text: [Vec<u8>; 4],
    /// Its section code (1: none, 2: pre-data, 3: data, 4: post-data).
    section: i64,
    /// Its data is `COPY` text (it has a non-empty `COPY` statement).
    copy: bool,
    /// It has a data block.
    data: bool,
}

/// Builds the table of contents of a custom format archive (see the module documentation).
pub struct PgCustom {
    key: [u8; 32],
    pos: u64,
    at: At,
    /// The bytes of the fixed-size item being read.
    item: Vec<u8>,
    format: Option<Format>,
    /// The fields being read: the header's, then (once it is read) an entry's.
    fields: Vec<Field>,
    step: usize,
    in_entries: bool,
    /// Where the header, entry or block being read (or the next one) starts.
    unit: u64,
    entries_left: u64,
    compressed: bool,
    entry: Entry,
    /// Entries whose data block has not come yet, by dump id, and whether their data is `COPY`.
    pending: HashMap<i64, ((Header, Section), bool)>,
    /// The block being read holds large objects.
    blobs: bool,
    /// The section of the last entry that had one of its own.
    section: Section,
    current: Open,
    objects: Vec<Object>,
    not_understood: Vec<Range<u64>>,
}

impl PgCustom {
    /// A parser whose object digests are keyed with `key`.
    pub fn new(key: [u8; 32]) -> Self {
        let preamble = Header::of(Kind::Preamble);
        PgCustom {
            key,
            pos: 0,
            at: At::Prefix,
            item: Vec::with_capacity(32),
            format: None,
            fields: Vec::new(),
            step: 0,
            in_entries: false,
            unit: 0,
            entries_left: 0,
            compressed: false,
            entry: Entry { hasher: blake3::Hasher::new_keyed(&key), dump_id: 0, text: Default::default(), section: 1, copy: false, data: false },
            pending: HashMap::new(),
            blobs: false,
            section: Section::PreData,
            current: Open { named: preamble, section: Section::PreData, start: 0, hasher: blake3::Hasher::new_keyed(&key), rows: Rows::Uncounted },
            objects: Vec::new(),
            not_understood: Vec::new(),
        }
    }

    /// Bytes of the fixed-size item being read.
    fn want(&self) -> usize {
        let int = self.format.map_or(0, |f| f.size(Enc::Int));
        match (self.at, self.format) {
            (At::Field, Some(f)) => f.size(self.fields[self.step].enc),
            (At::Block, _) => 1 + int,
            (At::ChunkLen | At::BlobOid, _) => int,
            _ => PREFIX,
        }
    }

    /// Where the bytes of a field go: the entry's digest, or the preamble's.
    fn sink(&mut self) -> &mut blake3::Hasher {
        if self.in_entries { &mut self.entry.hasher } else { &mut self.current.hasher }
    }

    /// The archive is not understood from the start of the current unit on.
    fn garble(&mut self) {
        self.at = At::Garbled;
    }

    /// A fixed-size item read whole.
    fn fixed(&mut self, item: &[u8]) {
        let Some(format) = self.format else {
            match Format::from_prefix(item) {
                Some(f) => {
                    self.current.hasher.update(item);
                    self.format = Some(f);
                    self.fields = f.header();
                    self.at = At::Field;
                }
                None => self.garble(),
            }
            return;
        };
        let int = || format.int(item).filter(|&v| v >= 0);
        match self.at {
            At::Field => self.field(format, item),
            At::Block => self.block(format, item),
            At::ChunkLen => match int() {
                Some(0) if self.blobs => self.at = At::BlobOid,
                Some(0) => self.block_done(),
                Some(len) if len as u64 <= MAX_LEN => self.at = At::Chunk(len as u64),
                _ => self.garble(),
            },
            At::BlobOid => match int() {
                Some(0) => self.block_done(),
                Some(_) => {
                    self.current.hasher.update(item);
                    self.at = At::ChunkLen;
                }
                None => self.garble(),
            },
            _ => {}
        }
    }

    /// The fixed part of `fields[step]` read whole.
    fn field(&mut self, format: Format, item: &[u8]) {
        let Field { enc, role } = self.fields[self.step];
        if role.digested() {
            self.sink().update(item);
        }
        let value = match enc {
            Enc::Byte | Enc::Offset => Some(i64::from(item[0])),
            _ => format.int(item),
        };
        let Some(value) = value else { return self.garble() };
        if matches!(enc, Enc::Str | Enc::StrList) {
            if role == Role::CopyStmt {
                self.entry.copy = value > 0;
            }
            match value {
                -1 => self.next_field(), // NULL: also the end of a list
                0 if enc == Enc::StrList => {}
                0 => self.next_field(),
                len if len > 0 && len as u64 <= MAX_LEN => self.at = At::Text(len as u64),
                _ => self.garble(),
            }
            return;
        }
        let ok = match role {
            Role::Compression if format.compression_byte() => (0..=3).contains(&value), // none, gzip, lz4, zstd
            Role::Compression => (-1..=9).contains(&value),                               // a zlib level, 0: none
            Role::Count => value >= 0,
            Role::DumpId => value > 0,
            Role::HadDumper => (0..=1).contains(&value),
            Role::Section => (1..=4).contains(&value),
            Role::DataOffset => (1..=3).contains(&value),
            _ => true,
        };
        if !ok {
            return self.garble();
        }
        match role {
            Role::Compression => self.compressed = value != 0,
            Role::Count => self.entries_left = value as u64,
            Role::DumpId => self.entry.dump_id = value,
            Role::Section => self.entry.section = value,
            Role::DataOffset => self.entry.data = value != i64::from(OFFSET_NO_DATA),
            _ => {}
        }
        self.next_field();
    }

    /// Text of the string `fields[step]`, `left` bytes of it still to come.
    fn text(&mut self, bytes: &[u8], left: u64) {
        let Field { enc, role } = self.fields[self.step];
        if role.digested() {
            self.sink().update(bytes);
        }
        if let Some(i) = role.kept() {
            let kept = &mut self.entry.text[i];
            let room = KEEP.saturating_sub(kept.len()).min(bytes.len());
            kept.extend_from_slice(&bytes[..room]);
        }
        self.at = match (left, enc) {
            (0, Enc::StrList) => At::Field, // the next string of the list
            (0, _) => return self.next_field(),
            _ => At::Text(left),
        };
    }

    fn next_field(&mut self) {
        self.step += 1;
        self.at = At::Field;
        if self.step < self.fields.len() {
            return;
        }
        self.step = 0;
        if self.in_entries {
            self.entry_done();
            if self.at == At::Garbled {
                return;
            }
        } else if let Some(f) = self.format {
            self.fields = f.entry();
            self.in_entries = true;
        }
        self.unit = self.pos;
        if self.entries_left == 0 {
            self.at = if self.pending.is_empty() { At::End } else { At::Block };
        }
    }

    /// An entry read whole: an object, or one waiting for its data block.
    fn entry_done(&mut self) {
        self.entries_left -= 1;
        let e = &mut self.entry;
        let [tag, desc, namespace, owner] = e.text.each_mut().map(|t| {
            let s = String::from_utf8_lossy(t).into_owned();
            t.clear();
            s
        });
        let section = match e.section {
            2 => Section::PreData,
            3 => Section::Data,
            4 => Section::PostData,
            _ => self.section,
        };
        self.section = section;
        let some = |s: String| (!s.is_empty()).then_some(s);
        let named = (Header { kind: kind_of(&desc), tool_kind: desc, schema: some(namespace), name: tag, owner: some(owner), database: None }, section);
        let hasher = std::mem::replace(&mut e.hasher, blake3::Hasher::new_keyed(&self.key));
        if e.data {
            if self.pending.insert(e.dump_id, (named, e.copy)).is_some() {
                self.garble(); // two entries of one dump id
            }
        } else {
            let next = Open { named: named.0, section: named.1, start: self.unit, hasher, rows: Rows::Uncounted };
            self.close(self.unit, next);
        }
    }

    /// A block's type and dump id read whole: its entry's object starts.
    fn block(&mut self, format: Format, item: &[u8]) {
        let id = format.int(&item[1..]);
        let Some(((named, section), copy)) = id.and_then(|id| self.pending.remove(&id)).filter(|_| matches!(item[0], BLK_DATA | BLK_BLOBS)) else { return self.garble() };
        self.blobs = item[0] == BLK_BLOBS;
        let rows = if self.blobs || self.compressed || named.kind != Kind::TableData {
            Rows::Uncounted
        } else if copy {
            Rows::Copy(CopyRows::default())
        } else {
            Rows::Inserts(Box::default())
        };
        let next = Open { named, section, start: self.unit, hasher: blake3::Hasher::new_keyed(&self.key), rows };
        self.close(self.unit, next);
        self.at = if self.blobs { At::BlobOid } else { At::ChunkLen };
    }

    fn block_done(&mut self) {
        self.unit = self.pos;
        self.at = if self.pending.is_empty() { At::End } else { At::Block };
    }

    /// End the current object at `end` and make `next` the current one.
    fn close(&mut self, end: u64, next: Open) {
        let o = std::mem::replace(&mut self.current, next);
        if o.start == end && o.named.kind == Kind::Preamble {
            return; // an empty stream's preamble
        }
        self.objects.push(o.named.object(o.section, o.start..end, o.rows.count(), *o.hasher.finalize().as_bytes()));
    }
}

impl TocParser for PgCustom {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match self.at {
                At::Garbled => {
                    self.pos += data.len() as u64;
                    return;
                }
                At::End => self.garble(), // bytes after the archive's end
                At::Text(left) | At::Chunk(left) => {
                    let n = left.min(data.len() as u64) as usize;
                    let (bytes, rest) = data.split_at(n);
                    self.pos += n as u64;
                    data = rest;
                    let left = left - n as u64;
                    if let At::Text(_) = self.at {
                        self.text(bytes, left);
                    } else {
                        self.current.hasher.update(bytes);
                        self.current.rows.feed(bytes);
                        self.at = if left == 0 { At::ChunkLen } else { At::Chunk(left) };
                    }
                }
                _ => {
                    let want = self.want();
                    let n = want.saturating_sub(self.item.len()).min(data.len());
                    self.item.extend_from_slice(&data[..n]);
                    self.pos += n as u64;
                    data = &data[n..];
                    if self.item.len() >= want {
                        let item = std::mem::take(&mut self.item);
                        self.fixed(&item);
                        self.item = item;
                        self.item.clear();
                    }
                }
            }
        }
    }

    fn take_objects(&mut self) -> Vec<Object> {
        std::mem::take(&mut self.objects)
    }

    fn finish(mut self: Box<Self>) -> Toc {
        let end = self.pos;
        // At its end, or cut inside a header, entry or block; garbled bytes tell nothing.
        let whole = match self.at {
            At::End => Some(true),
            At::Garbled => None,
            _ => Some(false),
        };
        if self.at != At::End {
            // Damaged, or cut short: inside a unit, or between two (then the last object is
            // what is known to be incomplete).
            let from = if self.unit < end { self.unit } else { self.current.start };
            self.not_understood.push(from..end);
        }
        let placeholder = Open { named: Header::of(Kind::Trailer), section: Section::PostData, start: end, hasher: blake3::Hasher::new(), rows: Rows::Uncounted };
        self.close(end, placeholder);
        Toc { objects: self.objects, not_understood: self.not_understood, len: end, whole }
    }
}
