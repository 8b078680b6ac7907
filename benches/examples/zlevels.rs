use std::time::Instant;
use chunker::{Chunker, Params};
use repo_format::config::ChunkerConfig;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let data = std::fs::read(&path).unwrap();
    let c = ChunkerConfig::default();
    let p = Params::new(c.min_size, c.avg_size, c.max_size, c.normalization, 42).unwrap();
    let chunks: Vec<Vec<u8>> = Chunker::new(data.as_slice(), p, 8 << 20).flat_map(|b| { let b = b.unwrap(); (0..b.chunks.len()).map(|i| b.chunk(i).to_vec()).collect::<Vec<_>>() }).collect();
    println!("{} bytes, {} chunks", data.len(), chunks.len());
    for level in [-5, -1, 1, 2, 3] {
        let mut comp = zstd::bulk::Compressor::new(level).unwrap();
        let mut out = Vec::with_capacity(64 << 10);
        for _ in 0..2 {
            let t = Instant::now();
            let mut total = 0usize;
            for ch in &chunks { out.clear(); out.reserve(ch.len() + 128); total += comp.compress_to_buffer(ch, &mut out).unwrap(); }
            let dt = t.elapsed().as_secs_f64();
            println!("level {level:>3}: {:.0} MB/s, ratio {:.2}", data.len() as f64 / dt / 1e6, data.len() as f64 / total as f64);
        }
    }
    let t = Instant::now();
    let whole = zstd::bulk::compress(&data, 3).unwrap();
    println!("whole file level 3: {:.0} MB/s ratio {:.2}", data.len() as f64 / t.elapsed().as_secs_f64() / 1e6, data.len() as f64 / whole.len() as f64);
}
