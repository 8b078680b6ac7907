//! `novelty PREV CUR`: the novelty limit of a daily dump, in bytes.
//!
//! Prints the zstd level-3 size of the lines present in CUR but not in PREV (each novel line once,
//! in CUR's order, with its newline). No backup tool can store a day for less without knowing the
//! database's own change log, so benches/compare.sh prints it beside each tool's bytes added.

use std::collections::HashSet;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [prev, cur] = args.as_slice() else {
        eprintln!("usage: novelty PREV CUR");
        std::process::exit(2);
    };
    let read = |p: &str| std::fs::read(p).unwrap_or_else(|e| panic!("reading {p}: {e}"));
    let (prev, cur) = (read(prev), read(cur));
    let old: HashSet<&[u8]> = prev.split(|&b| b == b'\n').collect();
    let mut novel = Vec::new();
    let mut seen = HashSet::new();
    for line in cur.split(|&b| b == b'\n') {
        if !old.contains(line) && seen.insert(line) {
            novel.extend_from_slice(line);
            novel.push(b'\n');
        }
    }
    let compressed = zstd::bulk::compress(&novel, 3).expect("zstd");
    println!("{}", compressed.len());
}
