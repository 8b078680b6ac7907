//! `chunk-sizes`: measure bytes added per day for several average chunk sizes.
//!
//! Runs a generated daily dump series (scattered updates, see `dumpgen`) through the real chunker
//! and chunk-list tree, and counts what a repository would store each day: zstd-3 of every new
//! chunk and chunk-list node plus the fixed per-blob overhead (envelope, pack header entry, index
//! segment entry). Prints one markdown row per average size. Used to choose the default chunker
//! parameters recorded in SPEC.md.
//!
//! Usage: `chunk-sizes [ROWS] [DAYS]` (a generated series; defaults 400000 rows, 5 days), or
//! `chunk-sizes --files DAY0 DAY1 ...` for real dumps (e.g. from `benches/series.sh`).

use std::collections::HashSet;

use chunker::{Chunker, Params};
use dbvault_benches::dumpgen::{DailyChange, DumpSeries};
use repo_format::Id;
use repo_format::tree::{TreeBuilder, TreeEntry};

/// Envelope (40) + pack header entry (48) + index segment entry (48).
const PER_BLOB: u64 = 40 + 48 + 48;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dumps, what) = if args.first().is_some_and(|a| a == "--files") {
        let files = &args[1..];
        assert!(files.len() >= 2, "--files needs at least two days");
        (files.iter().map(|f| std::fs::read(f).expect("reading a dump")).collect::<Vec<_>>(), format!("{} dump files", files.len()))
    } else {
        let rows: usize = args.first().map_or(400_000, |a| a.parse().expect("ROWS"));
        let days: u32 = args.get(1).map_or(5, |a| a.parse().expect("DAYS"));
        let mut series = DumpSeries::new(rows, 11);
        let mut dumps = vec![series.dump()];
        for _ in 1..days {
            series.advance_day(DailyChange::default());
            dumps.push(series.dump());
        }
        (dumps, format!("{days} generated daily dumps of {rows} rows"))
    };
    let mean = dumps.iter().map(Vec::len).sum::<usize>() / dumps.len();
    println!("{what}, {:.1} MB each on average\n", mean as f64 / 1e6);
    println!("| avg chunk | chunks/day | day 0 stored | added per later day (median) | share of day 0 |");
    println!("|---|---|---|---|---|");
    for avg in [2048u32, 4096, 8192, 16384, 32768, 65536, 1 << 20] {
        let params = Params::new(avg / 4, avg, avg * 8, 1, 0x5eed).expect("params");
        let mut seen: HashSet<Id> = HashSet::new();
        let mut added = Vec::new();
        let mut chunks = 0;
        for dump in &dumps {
            let mut day_bytes = 0u64;
            let mut tree = TreeBuilder::new();
            let mut emit = |plain: &[u8]| -> Result<Id, ()> {
                let id = Id::of_bytes(plain);
                if seen.insert(id) {
                    day_bytes += zstd::bulk::compress(plain, 3).expect("zstd").len() as u64 + PER_BLOB;
                }
                Ok(id)
            };
            chunks = 0;
            for batch in Chunker::new(dump.as_slice(), params, 8 << 20) {
                let batch = batch.expect("in-memory read");
                for i in 0..batch.chunks.len() {
                    let data = batch.chunk(i);
                    let id = Id::of_bytes(data);
                    chunks += 1;
                    emit(data).expect("infallible");
                    tree.push(TreeEntry { id, len: data.len() as u64 }, &mut |p: &[u8]| emit(p)).expect("infallible");
                }
            }
            tree.finish(&mut emit).expect("infallible");
            added.push(day_bytes);
        }
        let mut later = added[1..].to_vec();
        later.sort_unstable();
        let median = later[later.len() / 2];
        println!(
            "| {} KiB | {chunks} | {:.2} MB | {:.2} MB | {:.3} |",
            avg / 1024,
            added[0] as f64 / 1e6,
            median as f64 / 1e6,
            median as f64 / added[0] as f64
        );
    }
}
