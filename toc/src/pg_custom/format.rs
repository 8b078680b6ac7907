//! The encoding of a custom format archive: its versions, the fields of its header and of its
//! table of contents' entries in the order pg_dump writes them, and how an integer is written.

/// The archive's first bytes.
pub(super) const MAGIC: &[u8; 5] = b"PGDMP";

/// The bytes before any integer: the magic, the version (major, minor, revision), the size of an
/// integer, the size of an offset and the format.
pub(super) const PREFIX: usize = 11;

/// pg_dump's code for the custom format (`archCustom`).
const CUSTOM: u8 = 1;

/// The oldest version read: pg_dump 9.0's (1.12). Older archives lack fields this reader needs
/// (sections, tablespaces) and no supported pg_dump writes them.
const OLDEST: u32 = version(1, 12, 0);

/// The newest version read: 1.16, any revision (pg_dump 17 and 18). A newer minor version may
/// have added fields, so it is not read.
const NEWEST: u32 = version(1, 16, 255);

/// Longest string or data chunk believed (PostgreSQL allocates no more than 1 GiB at once): a
/// longer one means the archive is damaged. Neither is ever held in memory whole.
pub(super) const MAX_LEN: u64 = 1 << 30;

/// Block types after the table of contents.
pub(super) const BLK_DATA: u8 = 1;
/// A block of large objects.
pub(super) const BLK_BLOBS: u8 = 3;

/// Data offset flag: the entry has no data block.
pub(super) const OFFSET_NO_DATA: u8 = 3;

const fn version(major: u8, minor: u8, rev: u8) -> u32 {
    ((major as u32) << 16) | ((minor as u32) << 8) | rev as u32
}

/// How a field is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Enc {
    /// One byte.
    Byte,
    /// A sign byte (0 or 1) and `int_size` little-endian bytes.
    Int,
    /// An int length (-1: NULL) and as many bytes.
    Str,
    /// Strings up to a NULL one.
    StrList,
    /// A flag byte and `off_size` bytes.
    Offset,
}

/// What a field is to the table of contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Nothing but its bytes (digested).
    Plain,
    /// The compression: an algorithm byte (1.15 and later) or a level int (0: none).
    Compression,
    /// Part of the archive's creation time.
    Timestamp,
    /// The number of entries.
    Count,
    /// An entry's dump id.
    DumpId,
    /// Whether the entry has data (0 or 1).
    HadDumper,
    /// A catalog OID (the entry's table OID and OID, as strings).
    Oid,
    /// The entry's name.
    Tag,
    /// The entry's kind.
    Desc,
    /// The entry's section.
    Section,
    /// The `COPY` statement of its data, if the data is `COPY` rows.
    CopyStmt,
    /// The entry's schema.
    Namespace,
    /// The entry's owner.
    Owner,
    /// The dump ids the entry depends on.
    Deps,
    /// Where its data block is (the last field of an entry).
    DataOffset,
}

impl Role {
    /// Whether the field goes into its object's digest: not what differs between two dumps of
    /// the same data (the time, dump ids, data offsets), nor OIDs (a restored copy of a database
    /// has others for the same objects, and the plain format names none).
    pub(super) fn digested(self) -> bool {
        !matches!(self, Role::Timestamp | Role::DumpId | Role::Oid | Role::Deps | Role::DataOffset)
    }

    /// Where the text of a string field is kept (tag, desc, namespace, owner), if it is (the
    /// others are only hashed).
    pub(super) fn kept(self) -> Option<usize> {
        [Role::Tag, Role::Desc, Role::Namespace, Role::Owner].iter().position(|&r| r == self)
    }
}

/// One field of the header or of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Field {
    /// How it is written.
    pub enc: Enc,
    /// What it is.
    pub role: Role,
}

const fn f(enc: Enc, role: Role) -> Field {
    Field { enc, role }
}

/// An archive's version and sizes, from its first [`PREFIX`] bytes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Format {
    version: u32,
    /// Bytes of an integer (after its sign byte).
    pub int_size: usize,
    /// Bytes of an offset (after its flag byte).
    pub off_size: usize,
}

impl Format {
    /// The format the prefix describes, if it is a custom format archive of a version read here.
    pub(super) fn from_prefix(p: &[u8]) -> Option<Format> {
        let (magic, rest) = p.split_first_chunk::<5>()?;
        let &[major, minor, rev, int_size, off_size, format] = rest else { return None };
        let version = version(major, minor, rev);
        let ok = magic == MAGIC && (OLDEST..=NEWEST).contains(&version) && (1..=8).contains(&int_size) && (1..=16).contains(&off_size) && format == CUSTOM;
        ok.then_some(Format { version, int_size: int_size as usize, off_size: off_size as usize })
    }

    /// The bytes of a field's fixed part (a string's length).
    pub(super) fn size(&self, enc: Enc) -> usize {
        match enc {
            Enc::Byte => 1,
            Enc::Int | Enc::Str | Enc::StrList => 1 + self.int_size,
            Enc::Offset => 1 + self.off_size,
        }
    }

    /// An integer's value, if it is one pg_dump writes (sign byte 0 or 1, value within `i64`).
    pub(super) fn int(&self, bytes: &[u8]) -> Option<i64> {
        let (&sign, digits) = bytes.split_first()?;
        let magnitude = digits.iter().rev().fold(0u64, |v, &b| (v << 8) | u64::from(b));
        let magnitude = i64::try_from(magnitude).ok()?;
        match sign {
            0 => Some(magnitude),
            1 => Some(-magnitude),
            _ => None,
        }
    }

    /// Whether the compression field is an algorithm byte rather than a level int.
    pub(super) fn compression_byte(&self) -> bool {
        self.version >= version(1, 15, 0)
    }

    /// The header's fields after the prefix, up to the number of entries.
    pub(super) fn header(&self) -> Vec<Field> {
        let compression = f(if self.compression_byte() { Enc::Byte } else { Enc::Int }, Role::Compression);
        let mut fields = vec![compression];
        fields.extend([f(Enc::Int, Role::Timestamp); 7]); // seconds, minutes, hours, day, month, year, DST
        fields.extend([f(Enc::Str, Role::Plain); 3]); // database name, server version, pg_dump version
        fields.push(f(Enc::Int, Role::Count));
        fields
    }

    /// An entry's fields, the custom format's data offset last.
    pub(super) fn entry(&self) -> Vec<Field> {
        let mut fields = vec![f(Enc::Int, Role::DumpId), f(Enc::Int, Role::HadDumper), f(Enc::Str, Role::Oid), f(Enc::Str, Role::Oid), f(Enc::Str, Role::Tag), f(Enc::Str, Role::Desc), f(Enc::Int, Role::Section)];
        // defn, dropStmt, copyStmt, namespace, tablespace
        fields.extend([f(Enc::Str, Role::Plain), f(Enc::Str, Role::Plain), f(Enc::Str, Role::CopyStmt), f(Enc::Str, Role::Namespace), f(Enc::Str, Role::Plain)]);
        if self.version >= version(1, 14, 0) {
            fields.push(f(Enc::Str, Role::Plain)); // tableam
        }
        if self.version >= version(1, 16, 0) {
            fields.push(f(Enc::Int, Role::Plain)); // relkind
        }
        // owner, "with OIDs" ("false"), dependencies, data offset
        fields.extend([f(Enc::Str, Role::Owner), f(Enc::Str, Role::Plain), f(Enc::StrList, Role::Deps), f(Enc::Offset, Role::DataOffset)]);
        fields
    }
}
