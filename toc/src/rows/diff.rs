//! The rows only in A and only in B, as multisets, from 16-byte keyed digests of rows.
//!
//! 1. Each side is read once: a map from each row's digest to (its count in A) - (its count in B).
//!    Rows whose counts cancel out are forgotten: what is left is small when few rows changed.
//! 2. Without a primary key: A is read again and its first surplus copies of each row are printed
//!    in A's order ([`Side::A`]), then B's likewise ([`Side::B`]).
//! 3. With one: B is read again to list its surplus rows (position and key digest), then A: each
//!    surplus row of A is printed, followed, if B has a surplus row with the same key, by that row
//!    (an update; those rows are fetched from B in batches of bounded size, one more read of B
//!    each). Last, B's surplus rows that no row of A took are printed in B's order.
//!
//! Memory: the map (24 bytes a distinct row), about 40 bytes a row only in B, and a batch of rows only
//! in A with their partners ([`Options::batch_bytes`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::io::{self, Read};

use super::def::TableDef;
use super::reader::RowReader;
use super::render::Sink;
use super::row::{Form, Row};
use super::{Dialect, Error, Result, Side};

/// Opens a fresh reader of one side's table data object.
pub type Opener<'a> = dyn FnMut() -> io::Result<Box<dyn Read>> + 'a;

/// One side of a diff: how to read its table data object (as often as needed), and what the
/// table's definition in that snapshot says.
pub struct Table<F> {
    /// Opens a fresh reader of the table data object's bytes.
    pub open: F,
    /// The table's definition in this snapshot (its columns and primary key).
    pub def: TableDef,
}

impl<F: FnMut() -> io::Result<Box<dyn Read>>> Table<F> {
    /// A side whose data `open` reads and whose definition is `def`.
    pub fn new(def: TableDef, open: F) -> Self {
        Table { open, def }
    }
}

/// How a diff runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Bytes of rows (A's updated rows and their new versions from B) held before they are
    /// printed; each batch reads B once more.
    pub batch_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { batch_bytes: 64 << 20 }
    }
}

/// One side's columns, as the rows given to a [`Sink`] have them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The columns' names: as the data or the definition names them, else `column1`,
    /// `column2`, ...
    pub columns: Vec<String>,
    /// Whether the names are the table's (false: made up from the rows' widths).
    pub named: bool,
    /// The primary key's positions among `columns`, when rows are paired by it.
    pub key: Option<Vec<usize>>,
}

/// What a [`Sink`] is told before the rows.
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    /// The dump's dialect.
    pub dialect: Dialect,
    /// The table's qualified name (unquoted parts) as the dump names it; empty if it does not.
    pub table: &'a [String],
    /// A's columns. When B names the same columns in another order, B's rows are given in A's.
    pub a: &'a Layout,
    /// B's columns.
    pub b: &'a Layout,
    /// The primary key's columns, when rows are paired by it.
    pub key: Option<&'a [String]>,
}

/// What a diff found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// A's rows.
    pub rows_a: u64,
    /// B's rows.
    pub rows_b: u64,
    /// Rows only in A (updates' old versions included).
    pub only_a: u64,
    /// Rows only in B (updates' new versions included).
    pub only_b: u64,
    /// Rows of A paired with a row of B by their primary key (updates).
    pub updated: u64,
    /// The primary key's columns, when rows were paired by it.
    pub key: Option<Vec<String>>,
}

/// A 128-bit digest; hashed by its first half, which is random already.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Digest(u64, u64);

impl Hash for Digest {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.0);
    }
}

/// A hasher for [`Digest`]s: their bits as they are.
#[derive(Default)]
struct Identity(u64);

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

type Map<V> = HashMap<Digest, V, BuildHasherDefault<Identity>>;

/// Keyed digests of rows and keys.
struct Digester {
    key: [u8; 32],
    buf: Vec<u8>,
}

impl Digester {
    fn new() -> Self {
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
    fn of(&mut self, row: &Row, positions: Option<&[usize]>) -> Option<Digest> {
        self.buf.clear();
        let mut add = |f: super::row::Field<'_>| {
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

/// One side while the diff runs.
struct Reading<'o, 'f> {
    open: &'o mut Opener<'f>,
    dialect: Dialect,
    /// B's fields taken in A's column order, when B names A's columns in another order.
    order: Option<Vec<usize>>,
    scratch: Row,
}

impl Reading<'_, '_> {
    /// Read every row (in A's column order), calling `f(position, row)` until it returns false.
    fn scan(&mut self, mut f: impl FnMut(u64, &Row) -> Result<bool>) -> Result<()> {
        let mut reader = RowReader::new(self.dialect, (self.open)()?);
        let mut i = 0u64;
        while let Some(row) = reader.next_row()? {
            let row = match &self.order {
                Some(o) if row.len() != o.len() => return Err(Error::Mixed(format!("a row of {} values for {} columns", row.len(), o.len()))),
                Some(o) => {
                    row.reorder_into(o, &mut self.scratch);
                    &self.scratch
                }
                None => row,
            };
            if !f(i, row)? {
                break;
            }
            i += 1;
        }
        Ok(())
    }

    /// The table and columns the first statement of rows names.
    fn probe(&mut self) -> Result<[Option<Vec<String>>; 2]> {
        let mut reader = RowReader::new(self.dialect, (self.open)()?);
        reader.next_row()?;
        Ok([reader.table().map(<[String]>::to_vec), reader.columns().map(<[String]>::to_vec)])
    }
}

/// What the first pass learns of a side.
#[derive(Default)]
struct Shape {
    rows: u64,
    min: usize,
    max: usize,
}

impl Shape {
    fn add(&mut self, width: usize) {
        if self.rows == 0 || width < self.min {
            self.min = width;
        }
        self.max = self.max.max(width);
        self.rows += 1;
    }

    /// The layout of a side whose rows had this shape and whose names are `names`.
    fn layout(&self, names: Option<&[String]>) -> Layout {
        match names {
            Some(n) if self.rows == 0 || (self.min == n.len() && self.max == n.len()) => Layout { columns: n.to_vec(), named: true, key: None },
            _ => Layout { columns: (1..=self.max).map(|i| format!("column{i}")).collect(), named: false, key: None },
        }
    }
}

/// Positions of `key` among `layout`'s columns, if it names them all.
fn positions(dialect: Dialect, layout: &Layout, key: &[String]) -> Option<Vec<usize>> {
    let same = |a: &String, b: &String| if dialect == Dialect::MySql { a.eq_ignore_ascii_case(b) } else { a == b };
    if !layout.named {
        return None;
    }
    key.iter().map(|k| layout.columns.iter().position(|c| same(c, k))).collect()
}

/// The rows only in `a` and only in `b`, given to `sink` (see the module documentation for the
/// order). `dialect` is the dumps' dialect; the sides' definitions give column names when the
/// data does not, and the primary key that pairs updates (B's, or A's if B's does not fit both
/// sides; without one rows are compared whole).
pub fn diff<FA, FB, S>(dialect: Dialect, a: &mut Table<FA>, b: &mut Table<FB>, options: &Options, sink: &mut S) -> Result<Summary>
where
    FA: FnMut() -> io::Result<Box<dyn Read>>,
    FB: FnMut() -> io::Result<Box<dyn Read>>,
    S: Sink + ?Sized,
{
    let mut ra = Reading { open: &mut a.open, dialect, order: None, scratch: Row::default() };
    let mut rb = Reading { open: &mut b.open, dialect, order: None, scratch: Row::default() };
    let [table_a, cols_a] = ra.probe()?;
    let [table_b, cols_b] = rb.probe()?;
    let def_names = |d: &TableDef| (!d.columns.is_empty()).then(|| d.columns.clone());
    let names_a = cols_a.or_else(|| def_names(&a.def));
    let names_b = cols_b.or_else(|| def_names(&b.def));
    // B naming A's columns in another order: B's rows are compared (and given) in A's order.
    if let (Some(na), Some(nb)) = (&names_a, &names_b)
        && na != nb
        && na.len() == nb.len()
    {
        let order: Option<Vec<usize>> = na.iter().map(|n| nb.iter().position(|m| m == n)).collect();
        let mut sorted = order.clone().unwrap_or_default();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() == na.len() {
            rb.order = order;
        }
    }

    // 1. Counts.
    let mut digester = Digester::new();
    let mut counts: Map<i64> = Map::default();
    let (mut shape_a, mut shape_b) = (Shape::default(), Shape::default());
    ra.scan(|_, row| {
        shape_a.add(row.len());
        *counts.entry(digester.of(row, None).unwrap_or(Digest(0, 0))).or_default() += 1;
        Ok(true)
    })?;
    rb.scan(|_, row| {
        shape_b.add(row.len());
        *counts.entry(digester.of(row, None).unwrap_or(Digest(0, 0))).or_default() -= 1;
        Ok(true)
    })?;
    counts.retain(|_, c| *c != 0);
    counts.shrink_to_fit();

    let mut layout_a = shape_a.layout(names_a.as_deref());
    let mut layout_b = if rb.order.is_some() { shape_b.layout(names_a.as_deref()) } else { shape_b.layout(names_b.as_deref()) };
    let mut key = None;
    for k in [&b.def.primary_key, &a.def.primary_key].into_iter().flatten() {
        if let (Some(pa), Some(pb)) = (positions(dialect, &layout_a, k), positions(dialect, &layout_b, k)) {
            layout_a.key = Some(pa);
            layout_b.key = Some(pb);
            key = Some(k.clone());
            break;
        }
    }
    let table = table_b.or(table_a).or_else(|| b.def.name.clone()).or_else(|| a.def.name.clone()).unwrap_or_default();
    sink.begin(&Header { dialect, table: &table, a: &layout_a, b: &layout_b, key: key.as_deref() })?;
    let mut summary = Summary { rows_a: shape_a.rows, rows_b: shape_b.rows, key: key.clone(), ..Summary::default() };
    if counts.is_empty() {
        sink.end()?;
        return Ok(summary);
    }

    // Whether `row` is one of its side's surplus copies (`sign` 1 for A, -1 for B); takes it.
    let mut take = |digester: &mut Digester, row: &Row, sign: i64| {
        let d = digester.of(row, None).unwrap_or(Digest(0, 0));
        match counts.get_mut(&d) {
            Some(c) if *c * sign > 0 => {
                *c -= sign;
                true
            }
            _ => false,
        }
    };

    let (Some(key_a), Some(key_b)) = (layout_a.key.clone(), layout_b.key.clone()) else {
        // 2. No key: A's surplus rows, then B's.
        ra.scan(|_, row| {
            if take(&mut digester, row, 1) {
                summary.only_a += 1;
                sink.row(Side::A, row)?;
            }
            Ok(true)
        })?;
        rb.scan(|_, row| {
            if take(&mut digester, row, -1) {
                summary.only_b += 1;
                sink.row(Side::B, row)?;
            }
            Ok(true)
        })?;
        sink.end()?;
        return Ok(summary);
    };

    // 3. B's surplus rows: their positions and keys, and the ones sorted by key.
    let mut only_b: Vec<(u64, Option<Digest>)> = Vec::new();
    rb.scan(|i, row| {
        if take(&mut digester, row, -1) {
            only_b.push((i, digester.of(row, Some(&key_b))));
        }
        Ok(true)
    })?;
    summary.only_b = only_b.len() as u64;
    let mut by_key: Vec<u32> = (0..only_b.len() as u32).filter(|&i| only_b[i as usize].1.is_some()).collect();
    by_key.sort_unstable_by_key(|&i| (only_b[i as usize].1, only_b[i as usize].0));
    let mut taken: Map<u32> = Map::default();
    let mut paired = vec![false; only_b.len()];

    // A's surplus rows, each followed by the row of B with its key, if any.
    let mut batch: Vec<(Row, Option<u64>)> = Vec::new();
    let mut batch_bytes = 0usize;
    ra.scan(|_, row| {
        if !take(&mut digester, row, 1) {
            return Ok(true);
        }
        summary.only_a += 1;
        let partner = digester.of(row, Some(&key_a)).and_then(|k| {
            let first = by_key.partition_point(|&i| only_b[i as usize].1 < Some(k));
            let n = taken.get(&k).copied().unwrap_or(0);
            let &j = by_key.get(first + n as usize)?;
            (only_b[j as usize].1 == Some(k)).then(|| {
                taken.insert(k, n + 1);
                paired[j as usize] = true;
                only_b[j as usize].0
            })
        });
        if partner.is_none() && batch.is_empty() {
            return sink.row(Side::A, row).map(|_| true);
        }
        summary.updated += u64::from(partner.is_some());
        batch_bytes += row.bytes() * 2 + 64;
        batch.push((row.clone(), partner));
        if batch_bytes >= options.batch_bytes {
            flush(&mut rb, &mut batch, sink)?;
            batch_bytes = 0;
        }
        Ok(true)
    })?;
    flush(&mut rb, &mut batch, sink)?;

    // B's surplus rows no row of A took.
    let mut next = 0;
    if paired.iter().any(|p| !p) {
        rb.scan(|i, row| {
        if only_b.get(next).is_some_and(|&(at, _)| at == i) {
            if !paired[next] {
                sink.row(Side::B, row)?;
            }
            next += 1;
        }
            Ok(next < only_b.len())
        })?;
    }
    sink.end()?;
    Ok(summary)
}

/// Give `batch`'s rows of A to `sink`, each followed by its partner from B (read once).
fn flush<S: Sink + ?Sized>(rb: &mut Reading<'_, '_>, batch: &mut Vec<(Row, Option<u64>)>, sink: &mut S) -> Result<()> {
    let mut wanted: Vec<u64> = batch.iter().filter_map(|(_, p)| *p).collect();
    wanted.sort_unstable();
    let mut found: HashMap<u64, Row> = HashMap::with_capacity(wanted.len());
    if let Some(&last) = wanted.last() {
        rb.scan(|i, row| {
            if wanted.binary_search(&i).is_ok() {
                found.insert(i, row.clone());
            }
            Ok(i < last)
        })?;
    }
    for (row, partner) in batch.drain(..) {
        sink.row(Side::A, &row)?;
        if let Some(p) = partner {
            let b = found.get(&p).ok_or_else(|| Error::Mixed("B's rows changed between two reads".into()))?;
            sink.row(Side::B, b)?;
        }
    }
    Ok(())
}
