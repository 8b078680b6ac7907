//! Which patch matcher suits which data: short against long matches, grouped by how well each
//! base compresses alone (SPEC.md 6.1, *Patch matcher*).
//!
//! `cargo run --release -p dbvault-benches --example crossover -- PARENT_DUMP DUMP`
//!
//! Each chunk of DUMP not in PARENT_DUMP is patched against the positional base ingest would
//! propose, with both matchers; the sums are printed per half-octave of the base's zstd level-1
//! ratio.

use std::collections::BTreeMap;

use dbvault_benches::positional::pairs;
use repo_format::blob::{PatchMatcher, make_patch};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parent = std::fs::read(&args[0]).unwrap();
    let day = std::fs::read(&args[1]).unwrap();
    let patch = |c: &[u8], b: &[u8], m| make_patch(c, b, m).unwrap().map_or(c.len(), |p| p.len());
    // half-octave of the ratio -> (chunks, short bytes, long bytes)
    let mut groups: BTreeMap<i32, (usize, usize, usize)> = BTreeMap::new();
    for (c, b) in pairs(&parent, &day) {
        let (chunk, base) = (&day[c], &parent[b]);
        let ratio = base.len() as f64 / zstd::bulk::compress(base, 1).unwrap().len() as f64;
        let g = groups.entry((ratio.log2() * 2.0).floor() as i32).or_default();
        g.0 += 1;
        g.1 += patch(chunk, base, PatchMatcher::Short);
        g.2 += patch(chunk, base, PatchMatcher::LongOnly);
    }
    for (k, (n, short, long)) in groups {
        let from = 2f64.powf(f64::from(k) / 2.0);
        println!("bases compressing {from:5.1}x+: {n:5} chunks, short {short:9} B, long {long:9} B, short/long {:.2}", short as f64 / long as f64);
    }
}
