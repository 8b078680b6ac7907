//! The rows only in A and only in B, as multisets, from 16-byte keyed digests of rows.
//!
//! 1. Each side is read once: each row's digest and position, sorted: a row that A holds n times
//!    and B m < n times has A's first n - m copies only in A (and the other way round).
//! 2. Without a primary key: A is read again and its first surplus copies of each row are printed
//!    in A's order ([`Side::A`]), then B's likewise ([`Side::B`]).
//! 3. With one: B is read again to list its surplus rows (position and key digest), then A: each
//!    surplus row of A is printed, followed, if B has a surplus row with the same key, by that row
//!    (an update; those rows are fetched from B in batches of bounded size, one more read of B
//!    each). Last, B's surplus rows that no row of A took are printed in B's order.
//!
//! Memory: 24 bytes a row of A and B while they are sorted (a digest and a position), about 40
//! bytes a row only in B, and B's rows only in B and a batch of A's with their partners, up to
//! [`Options::batch_bytes`] each.

use std::collections::HashMap;
use std::io::{self, Read};

use super::def::TableDef;
use super::digest::{Digest, Digester, Map};
use super::reader::RowReader;
use super::render::Sink;
use super::row::Row;
use super::{Dialect, Encoding, Error, Result, Side};

/// Opens a fresh reader of one side's table data object.
pub type Opener<'a> = dyn FnMut() -> io::Result<Box<dyn Read>> + 'a;

/// One side of a diff: how to read its table data object (as often as needed), and what the
/// table's definition in that snapshot says.
pub struct Table<F> {
    /// Opens a fresh reader of the table data object's bytes.
    pub open: F,
    /// The table's definition in this snapshot (its columns and primary key).
    pub def: TableDef,
    /// The encoding of a T-SQL script's bytes; `None`: told from the object's first bytes.
    pub encoding: Option<Encoding>,
}

impl<F: FnMut() -> io::Result<Box<dyn Read>>> Table<F> {
    /// A side whose data `open` reads and whose definition is `def`.
    pub fn new(def: TableDef, open: F) -> Self {
        Table { open, def, encoding: None }
    }

    /// The same side, its bytes in `encoding` (the script's: [`Encoding::of_script`]).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = Some(encoding);
        self
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
    /// The positions of generated columns (computed by the database) among `columns`.
    pub generated: Vec<usize>,
    /// The positions of T-SQL's `IDENTITY` columns among `columns`; `None` when no definition
    /// tells (no `CREATE TABLE` was read).
    pub identity: Option<Vec<usize>>,
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

/// One side while the diff runs.
struct Reading<'o, 'f> {
    open: &'o mut Opener<'f>,
    dialect: Dialect,
    encoding: Option<Encoding>,
    /// B's fields taken in A's column order, when B names A's columns in another order.
    order: Option<Vec<usize>>,
    scratch: Row,
}

impl Reading<'_, '_> {
    /// Read every row (in A's column order), calling `f(position, row)` until it returns false.
    fn scan(&mut self, mut f: impl FnMut(u64, &Row) -> Result<bool>) -> Result<()> {
        let mut reader = RowReader::with_encoding(self.dialect, self.encoding, (self.open)()?);
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
        let mut reader = RowReader::with_encoding(self.dialect, self.encoding, (self.open)()?);
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
            Some(n) if self.rows == 0 || (self.min == n.len() && self.max == n.len()) => Layout { columns: n.to_vec(), named: true, ..Layout::default() },
            _ => Layout { columns: (1..=self.max).map(|i| format!("column{i}")).collect(), ..Layout::default() },
        }
    }
}

/// Positions of `key` among `layout`'s columns, if it names them all.
fn positions(dialect: Dialect, layout: &Layout, key: &[String]) -> Option<Vec<usize>> {
    if !layout.named {
        return None;
    }
    key.iter().map(|k| layout.columns.iter().position(|c| same_name(dialect, c, k))).collect()
}

/// Whether two column names are one (MySQL's are case-insensitive, SQL Server's in its default
/// collations).
fn same_name(dialect: Dialect, a: &str, b: &str) -> bool {
    if dialect == Dialect::Postgres { a == b } else { a.eq_ignore_ascii_case(b) }
}

/// The positions among `layout`'s columns of those `names` names.
fn positions_of(dialect: Dialect, layout: &Layout, names: &[String]) -> Vec<usize> {
    let named = |c: &&String| layout.named && names.iter().any(|n| same_name(dialect, c, n));
    layout.columns.iter().enumerate().filter(|(_, c)| named(c)).map(|(i, _)| i).collect()
}

/// The positions of `def`'s identity columns among `layout`'s, if the definition was read and the
/// layout names them.
fn identity(dialect: Dialect, layout: &Layout, def: &TableDef) -> Option<Vec<usize>> {
    let unknown = def.name.is_none() || (!layout.named && !def.identity.is_empty());
    (!unknown).then(|| positions_of(dialect, layout, &def.identity))
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
    let mut ra = Reading { open: &mut a.open, dialect, encoding: a.encoding, order: None, scratch: Row::default() };
    let mut rb = Reading { open: &mut b.open, dialect, encoding: b.encoding, order: None, scratch: Row::default() };
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

    // 1. Each row's digest and position; sorted, equal rows are side by side.
    let mut digester = Digester::new();
    let (mut shape_a, mut shape_b) = (Shape::default(), Shape::default());
    let (mut digests_a, mut digests_b) = (Vec::new(), Vec::new());
    ra.scan(|i, row| {
        shape_a.add(row.len());
        digests_a.push((digester.of(row, None).unwrap_or_default(), i));
        Ok(true)
    })?;
    rb.scan(|i, row| {
        shape_b.add(row.len());
        digests_b.push((digester.of(row, None).unwrap_or_default(), i));
        Ok(true)
    })?;
    let (only_a, only_b) = surplus(digests_a, digests_b);

    let mut layout_a = shape_a.layout(names_a.as_deref());
    let mut layout_b = if rb.order.is_some() { shape_b.layout(names_a.as_deref()) } else { shape_b.layout(names_b.as_deref()) };
    layout_a.generated = positions_of(dialect, &layout_a, &a.def.generated);
    layout_b.generated = positions_of(dialect, &layout_b, &b.def.generated);
    layout_a.identity = identity(dialect, &layout_a, &a.def);
    layout_b.identity = identity(dialect, &layout_b, &b.def);
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
    let mut summary = Summary { rows_a: shape_a.rows, rows_b: shape_b.rows, only_a: only_a.len() as u64, only_b: only_b.len() as u64, updated: 0, key: key.clone() };

    let (Some(key_a), Some(key_b)) = (layout_a.key.clone(), layout_b.key.clone()) else {
        // 2. No key: A's surplus rows, then B's.
        emit(&mut ra, &only_a, Side::A, sink)?;
        emit(&mut rb, &only_b, Side::B, sink)?;
        sink.end()?;
        return Ok(summary);
    };

    // 3. B's surplus rows: their keys, and as many rows as the budget holds.
    let mut keys_b: Vec<Option<Digest>> = Vec::with_capacity(only_b.len());
    let mut stash: HashMap<u64, Row> = HashMap::new();
    let mut stash_bytes = 0;
    let mut next = 0;
    if !only_b.is_empty() {
        rb.scan(|i, row| {
            if only_b.get(next) == Some(&i) {
                keys_b.push(digester.of(row, Some(&key_b)));
                if stash_bytes + size(row) <= options.batch_bytes {
                    stash_bytes += size(row);
                    stash.insert(i, row.clone());
                }
                next += 1;
            }
            Ok(next < only_b.len())
        })?;
    }
    if keys_b.len() != only_b.len() {
        return Err(Error::Mixed("B's rows changed between two reads".into()));
    }
    let mut by_key: Vec<u32> = (0..only_b.len() as u32).filter(|&i| keys_b[i as usize].is_some()).collect();
    by_key.sort_unstable_by_key(|&i| (keys_b[i as usize], i));
    let mut taken: Map<u32> = Map::default();
    let mut paired = vec![false; only_b.len()];

    // A's surplus rows, each followed by the row of B with its key, if any.
    let mut batch: Vec<(Row, Option<u64>)> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut next = 0;
    if !only_a.is_empty() {
        ra.scan(|i, row| {
            if only_a.get(next) != Some(&i) {
                return Ok(true);
            }
            next += 1;
            let partner = digester.of(row, Some(&key_a)).and_then(|k| {
                let first = by_key.partition_point(|&j| keys_b[j as usize] < Some(k));
                let n = taken.get(&k).copied().unwrap_or(0);
                let j = *by_key.get(first + n as usize)? as usize;
                (keys_b[j] == Some(k)).then(|| {
                    taken.insert(k, n + 1);
                    paired[j] = true;
                    only_b[j]
                })
            });
            summary.updated += u64::from(partner.is_some());
            match partner.map(|p| stash.get(&p)) {
                None if batch.is_empty() => sink.row(Side::A, row)?,
                Some(Some(b)) if batch.is_empty() => {
                    sink.row(Side::A, row)?;
                    sink.row(Side::B, b)?;
                }
                _ => {
                    batch_bytes += size(row) * 2;
                    batch.push((row.clone(), partner));
                    if batch_bytes >= options.batch_bytes {
                        flush(&mut rb, &mut batch, &stash, sink)?;
                        batch_bytes = 0;
                    }
                }
            }
            Ok(next < only_a.len())
        })?;
    }
    flush(&mut rb, &mut batch, &stash, sink)?;

    // B's surplus rows no row of A took.
    let rest: Vec<u64> = only_b.iter().zip(&paired).filter(|(_, p)| !**p).map(|(i, _)| *i).collect();
    if rest.iter().all(|i| stash.contains_key(i)) {
        for i in &rest {
            if let Some(row) = stash.get(i) {
                sink.row(Side::B, row)?;
            }
        }
    } else {
        emit(&mut rb, &rest, Side::B, sink)?;
    }
    sink.end()?;
    Ok(summary)
}

/// Bytes a row held in memory takes, about.
fn size(row: &Row) -> usize {
    row.bytes() + 16 * row.len() + 64
}

/// The positions of each side's surplus copies of rows: of a row A holds 3 times and B once, A's
/// first 2 copies. Ascending.
fn surplus(mut a: Vec<(Digest, u64)>, mut b: Vec<(Digest, u64)>) -> (Vec<u64>, Vec<u64>) {
    a.sort_unstable();
    b.sort_unstable();
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    loop {
        let d = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.min(y.0),
            (Some(x), None) => x.0,
            (None, Some(y)) => y.0,
            (None, None) => break,
        };
        let na = a[i..].iter().take_while(|x| x.0 == d).count();
        let nb = b[j..].iter().take_while(|x| x.0 == d).count();
        only_a.extend(a[i..i + na.saturating_sub(nb)].iter().map(|x| x.1));
        only_b.extend(b[j..j + nb.saturating_sub(na)].iter().map(|x| x.1));
        i += na;
        j += nb;
    }
    only_a.sort_unstable();
    only_b.sort_unstable();
    (only_a, only_b)
}

/// Give the rows at `positions` (ascending) of one side to `sink`.
fn emit<S: Sink + ?Sized>(r: &mut Reading<'_, '_>, positions: &[u64], side: Side, sink: &mut S) -> Result<()> {
    let mut next = 0;
    if !positions.is_empty() {
        r.scan(|i, row| {
            if positions.get(next) == Some(&i) {
                sink.row(side, row)?;
                next += 1;
            }
            Ok(next < positions.len())
        })?;
    }
    if next < positions.len() {
        return Err(Error::Mixed("rows changed between two reads".into()));
    }
    Ok(())
}

/// Give `batch`'s rows of A to `sink`, each followed by its partner from B (from `stash`, or
/// read in one more read of B).
fn flush<S: Sink + ?Sized>(rb: &mut Reading<'_, '_>, batch: &mut Vec<(Row, Option<u64>)>, stash: &HashMap<u64, Row>, sink: &mut S) -> Result<()> {
    let mut wanted: Vec<u64> = batch.iter().filter_map(|(_, p)| *p).filter(|p| !stash.contains_key(p)).collect();
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
            let b = stash.get(&p).or_else(|| found.get(&p)).ok_or_else(|| Error::Mixed("B's rows changed between two reads".into()))?;
            sink.row(Side::B, b)?;
        }
    }
    Ok(())
}
