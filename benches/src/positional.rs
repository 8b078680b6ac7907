//! Pairs of a day's new chunks with their positional bases, as ingest proposes them: the parent
//! chunk overlapping most the new chunk's byte range counted from the last shared chunk. Used to
//! measure the delta stages on real pairs (`stages` bench, `examples/patchcost.rs`).

use std::collections::HashMap;
use std::ops::Range;

use chunker::{Chunker, Params};
use repo_format::Id;
use repo_format::config::ChunkerConfig;

/// (offset, len, id) of each chunk of `data`, cut with the default chunker settings.
pub fn chunks(data: &[u8]) -> Vec<(usize, usize, Id)> {
    let c = ChunkerConfig::default();
    let params = Params::new(c.min_size, c.avg_size, c.max_size, c.normalization, 0x5eed).expect("default chunker settings");
    let mut out = Vec::new();
    let mut off = 0;
    for batch in Chunker::new(data, params, 8 << 20) {
        let batch = batch.expect("reading from memory");
        for i in 0..batch.chunks.len() {
            let c = batch.chunk(i);
            out.push((off, c.len(), Id::of_bytes(c)));
            off += c.len();
        }
    }
    out
}

/// (new chunk of `day`, its positional base in `parent`), as byte ranges of each.
pub fn pairs(parent: &[u8], day: &[u8]) -> Vec<(Range<usize>, Range<usize>)> {
    let (pc, dc) = (chunks(parent), chunks(day));
    let pos: HashMap<Id, usize> = pc.iter().enumerate().map(|(i, c)| (c.2, i)).collect();
    let mut anchor = (0usize, 0usize);
    let mut out = Vec::new();
    for c in &dc {
        if let Some(&i) = pos.get(&c.2) {
            anchor = (c.0 + c.1, pc[i].0 + pc[i].1);
            continue;
        }
        let target = anchor.1 + (c.0 - anchor.0);
        let mut j = pc.partition_point(|x| x.0 + x.1 <= target).min(pc.len() - 1);
        if j + 1 < pc.len() {
            let in_j = (pc[j].0 + pc[j].1).saturating_sub(target).min(c.1);
            if c.1 - in_j > in_j {
                j += 1;
            }
        }
        out.push((c.0..c.0 + c.1, pc[j].0..pc[j].0 + pc[j].1));
    }
    out
}
