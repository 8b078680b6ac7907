//! Simulate delta compression of new chunks against the parent dump, to choose the design.
//!
//! `cargo run --release -p dbvault-benches --example deltasim -- AVG DAY0 DAY1 ...`
//!
//! For each later day: chunks not seen on earlier days are new; each gets a positional base (the
//! parent's chunk at the same offset after the last shared chunk) and the zstd patch against it is
//! compared with compressing the chunk alone. Prints raw sums (no per-blob overhead) so layouts can
//! be costed: new chunks, their sizes alone, as patches, and the chunk-list nodes the day adds.
//!
//! Environment: `LEVEL` zstd level (default 1); `OVERLAP=1` takes the parent chunk overlapping the
//! new chunk's range most instead of the one holding its first byte (the rule ingest uses);
//! `SPAN=N` also tries the N parent chunks on either side and keeps the smallest patch.

use std::collections::{HashMap, HashSet};

use chunker::{Chunker, Params};
use repo_format::Id;
use repo_format::tree::{TreeBuilder, TreeEntry};

struct Day {
    data: Vec<u8>,
    /// (offset, len, id)
    chunks: Vec<(usize, usize, Id)>,
}

fn chunk(data: Vec<u8>, params: Params) -> Day {
    let mut chunks = Vec::new();
    let mut off = 0;
    for batch in Chunker::new(data.as_slice(), params, 8 << 20) {
        let batch = batch.unwrap();
        for i in 0..batch.chunks.len() {
            let c = batch.chunk(i);
            chunks.push((off, c.len(), Id::of_bytes(c)));
            off += c.len();
        }
    }
    Day { data, chunks }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let avg: u32 = args[0].parse().unwrap();
    let level: i32 = std::env::var("LEVEL").map_or(1, |l| l.parse().unwrap());
    let params = Params::new(avg / 4, avg, avg * 8, 1, 0x5eed).unwrap();
    let mut seen: HashSet<Id> = HashSet::new();
    let mut seen_nodes: HashSet<Id> = HashSet::new();
    let mut prev: Option<Day> = None;
    let mut cctx = zstd::zstd_safe::CCtx::create();
    println!("avg {avg} level {level}");
    println!("day chunks new new_raw full patch deltas nodes node_bytes node_entries_changed");
    for (d, f) in args[1..].iter().enumerate() {
        let day = chunk(std::fs::read(f).unwrap(), params);
        let mut tree = TreeBuilder::new();
        let (mut nodes, mut node_bytes) = (0u64, 0u64);
        let mut emit = |plain: &[u8]| -> Result<Id, ()> {
            let id = Id::of_bytes(plain);
            if seen_nodes.insert(id) {
                nodes += 1;
                node_bytes += zstd::bulk::compress(plain, level).unwrap().len() as u64;
            }
            Ok(id)
        };
        for c in &day.chunks {
            tree.push(TreeEntry { id: c.2, len: c.1 as u64 }, &mut emit).unwrap();
        }
        tree.finish(&mut emit).unwrap();
        let (mut new, mut new_raw, mut full, mut patch, mut deltas, mut dbytes, mut fulls_tail) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        let pos: HashMap<Id, usize> = prev.as_ref().map(|p| p.chunks.iter().enumerate().map(|(i, c)| (c.2, i)).collect()).unwrap_or_default();
        // (current stream offset, parent stream offset) of the end of the last shared chunk
        let mut anchor = (0usize, 0usize);
        let mut in_run: HashSet<Id> = HashSet::new();
        for c in &day.chunks {
            let plain = &day.data[c.0..c.0 + c.1];
            if let Some(&i) = pos.get(&c.2) {
                let p = &prev.as_ref().unwrap().chunks[i];
                anchor = (c.0 + c.1, p.0 + p.1);
            }
            if seen.contains(&c.2) || !in_run.insert(c.2) {
                continue;
            }
            new += 1;
            new_raw += c.1 as u64;
            let alone = zstd::bulk::compress(plain, level).unwrap().len() as u64;
            full += alone;
            let mut best = alone;
            if let Some(p) = &prev {
                let target = anchor.1 + (c.0 - anchor.0);
                let mut j = p.chunks.partition_point(|x| x.0 + x.1 <= target).min(p.chunks.len() - 1);
                if std::env::var("OVERLAP").is_ok() && j + 1 < p.chunks.len() {
                    // the parent chunk overlapping [target, target + len) the most
                    let a = p.chunks[j];
                    let in_j = (a.0 + a.1).saturating_sub(target).min(c.1);
                    if c.1 - in_j > in_j {
                        j += 1;
                    }
                }
                let span: i64 = std::env::var("SPAN").map_or(0, |s| s.parse().unwrap());
                for k in (j as i64 - span).max(0)..=(j as i64 + span).min(p.chunks.len() as i64 - 1) {
                    let b = p.chunks[k as usize];
                    let base = &p.data[b.0..b.0 + b.1];
                    let mut out = Vec::with_capacity(plain.len() + 64);
                    cctx.compress_using_dict(&mut out, plain, base, level).unwrap();
                    if (out.len() as u64) + 8 < best {
                        best = out.len() as u64;
                    }
                }
                if best < alone {
                    deltas += 1;
                    dbytes += best;
                } else {
                    fulls_tail += u64::from(c.0 > day.data.len() * 95 / 100);
                }
            }
            patch += best;
        }
        seen.extend(in_run);
        println!("{d} {} {new} {new_raw} {full} {patch} {deltas} {nodes} {node_bytes} delta_bytes {dbytes} fulls_in_last_5% {fulls_tail}", day.chunks.len());
        prev = Some(day);
    }
}
