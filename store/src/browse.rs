//! Looking at snapshots: what a snapshot shares with its parent, how two snapshots differ, what
//! each database costs. Everything here reads chunk lists; nothing changes the repository.

use std::collections::{BTreeMap, HashSet};

use repo_format::Id;
use serde::Serialize;

use crate::index::Index;
use crate::marks::Marks;
use crate::pack::PackReader;
use crate::repository::Repository;
use crate::snapshot::{self, Snapshot};
use crate::tree::{StreamChunk, TreeWalk};
use crate::Result;

fn key(id: &Id) -> u128 {
    u128::from_le_bytes(id.0[..16].try_into().expect("16 bytes"))
}

/// Call `f` with every chunk of `snap`'s stream, in order.
fn each_chunk(reader: &PackReader, index: &Index, snap: &Snapshot, mut f: impl FnMut(StreamChunk) -> Result<()>) -> Result<()> {
    let mut walk = TreeWalk::new(reader, index, snap.manifest.tree);
    loop {
        match walk.next_chunk() {
            Ok(Some(c)) => f(c)?,
            Ok(None) => return Ok(()),
            Err(e) => return Err(snap.unreadable(e.node, e.offset, e.source)),
        }
    }
}

/// The set of a snapshot's chunk ids (16-byte prefixes: 16 bytes per chunk in memory).
fn chunk_set(reader: &PackReader, index: &Index, snap: &Snapshot) -> Result<HashSet<u128>> {
    let mut set = HashSet::new();
    each_chunk(reader, index, snap, |c| {
        set.insert(key(&c.id));
        Ok(())
    })?;
    Ok(set)
}

/// How a snapshot relates to its parent.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ParentShare {
    /// The parent, if it still exists.
    pub parent: Option<Id>,
    /// Chunks of this snapshot also in the parent.
    pub shared_chunks: u64,
    /// Bytes of those chunks.
    pub shared_bytes: u64,
}

/// What `snap` shares with its parent (zero when the parent was forgotten).
pub fn share_with_parent(repo: &Repository, snap: &Snapshot) -> Result<ParentShare> {
    let index = repo.index_reader()?;
    let reader = PackReader::new(repo);
    let Some(pid) = snap.manifest.parent else { return Ok(ParentShare::default()) };
    let Ok(parent) = snapshot::resolve(repo, &index, &pid.to_hex(), None) else {
        return Ok(ParentShare { parent: None, ..Default::default() });
    };
    let set = chunk_set(&reader, &index, &parent)?;
    let mut r = ParentShare { parent: Some(pid), ..Default::default() };
    each_chunk(&reader, &index, snap, |c| {
        if set.contains(&key(&c.id)) {
            r.shared_chunks += 1;
            r.shared_bytes += c.len;
        }
        Ok(())
    })?;
    Ok(r)
}

/// How two snapshots differ.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Diff {
    /// Chunks and bytes only in A.
    pub only_a_chunks: u64,
    /// Bytes of A's stream in chunks B lacks.
    pub only_a_bytes: u64,
    /// Chunks and bytes only in B.
    pub only_b_chunks: u64,
    /// Bytes of B's stream in chunks A lacks.
    pub only_b_bytes: u64,
    /// Chunks of B also in A.
    pub shared_chunks: u64,
    /// Bytes of those chunks (in B's stream).
    pub shared_bytes: u64,
    /// Byte ranges `[start, end)` of B's stream made of chunks A lacks, adjacent ones merged.
    pub changed_ranges: Vec<(u64, u64)>,
}

/// Compare `a` with `b` (typically one database on two days).
pub fn diff(repo: &Repository, a: &Snapshot, b: &Snapshot) -> Result<Diff> {
    let index = repo.index_reader()?;
    let reader = PackReader::new(repo);
    let set_a = chunk_set(&reader, &index, a)?;
    let mut set_b = HashSet::new();
    let mut d = Diff::default();
    each_chunk(&reader, &index, b, |c| {
        set_b.insert(key(&c.id));
        if set_a.contains(&key(&c.id)) {
            d.shared_chunks += 1;
            d.shared_bytes += c.len;
        } else {
            d.only_b_chunks += 1;
            d.only_b_bytes += c.len;
            match d.changed_ranges.last_mut() {
                Some(r) if r.1 == c.offset => r.1 += c.len,
                _ => d.changed_ranges.push((c.offset, c.offset + c.len)),
            }
        }
        Ok(())
    })?;
    each_chunk(&reader, &index, a, |c| {
        if !set_b.contains(&key(&c.id)) {
            d.only_a_chunks += 1;
            d.only_a_bytes += c.len;
        }
        Ok(())
    })?;
    Ok(d)
}

/// `id` as a member of database number `n`'s set: its first 8 bytes xor `n` (ids are uniformly
/// random, so two members of different sets coincide only if their other 24 bytes do).
fn in_db(id: &Id, n: u64) -> Id {
    let mut out = *id;
    let head = u64::from_le_bytes(out.0[..8].try_into().expect("8 bytes")) ^ n;
    out.0[..8].copy_from_slice(&head.to_le_bytes());
    out
}

/// What one database (or the whole repository) costs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Snapshots counted.
    pub snapshots: usize,
    /// Sum of their stream sizes.
    pub ingested_bytes: u64,
    /// Plaintext bytes of their distinct chunks.
    pub unique_bytes: u64,
    /// Stored (compressed, sealed) bytes of their distinct chunks.
    pub stored_bytes: u64,
    /// Distinct chunks.
    pub unique_chunks: u64,
    /// Of those, the chunks stored as deltas.
    pub delta_chunks: u64,
    /// Plaintext bytes of the chunks stored as deltas.
    pub delta_raw_bytes: u64,
    /// Stored bytes of those deltas (included in `stored_bytes`).
    pub delta_stored_bytes: u64,
}

impl Stats {
    /// Ingested / unique.
    pub fn dedup_ratio(&self) -> f64 {
        self.ingested_bytes as f64 / self.unique_bytes.max(1) as f64
    }

    /// Unique / stored.
    pub fn compression_ratio(&self) -> f64 {
        self.unique_bytes as f64 / self.stored_bytes.max(1) as f64
    }
}

/// Stats per database (restricted to `db` if given), plus the whole repository's pack bytes.
pub fn stats(repo: &Repository, db: Option<&str>) -> Result<(BTreeMap<String, Stats>, u64)> {
    let _one = crate::lock::acquire(&repo.local_dir().join(crate::lock::STATS), false, repo.lock_wait(), "stats (another stats is running)")?;
    let index = repo.index_reader()?;
    let reader = PackReader::new(repo);
    let mut by_db: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
    for s in snapshot::list_some(repo, &index, db)? {
        by_db.entry(s.manifest.db.clone()).or_default().push(s);
    }
    let mut out = BTreeMap::new();
    // One on-disk set for every database (opening and destroying a RocksDB per database cost
    // about a second each, waiting on its threads), each database's ids kept apart by `in_db`.
    let seen = Marks::open(repo, "stats-marks")?;
    for (n, (name, snaps)) in by_db.into_iter().enumerate() {
        let mut st = Stats { snapshots: snaps.len(), ..Default::default() };
        for s in &snaps {
            st.ingested_bytes += s.manifest.size;
            // Ids found since the last flush to disk (bounded: flushed every 4096).
            let mut fresh: HashSet<Id> = HashSet::new();
            each_chunk(&reader, &index, s, |c| {
                let key = in_db(&c.id, n as u64);
                if !fresh.contains(&key) && !seen.contains(&key)? {
                    st.unique_chunks += 1;
                    st.unique_bytes += c.len;
                    let loc = index.locate(&c.id)?;
                    st.stored_bytes += u64::from(loc.entry.stored_len);
                    if loc.entry.delta.is_some() {
                        st.delta_chunks += 1;
                        st.delta_raw_bytes += c.len;
                        st.delta_stored_bytes += u64::from(loc.entry.stored_len);
                    }
                    fresh.insert(key);
                    if fresh.len() >= 4096 {
                        seen.insert_all(&fresh.drain().collect::<Vec<_>>())?;
                    }
                }
                Ok(())
            })?;
            seen.insert_all(&fresh.into_iter().collect::<Vec<_>>())?;
        }
        out.insert(name, st);
    }
    let mut packs = 0;
    for (_, len, _) in index.packs()? {
        packs += len;
    }
    Ok((out, packs))
}
