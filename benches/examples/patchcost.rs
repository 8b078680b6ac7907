//! Time and size of zstd patches under several compression parameters, to choose how ingest makes
//! delta blobs.
//!
//! `cargo run --release -p dbvault-benches --example patchcost -- PARENT_DUMP DUMP [NAME]`
//!
//! Both dumps are cut with the default chunker; each chunk of DUMP not in PARENT_DUMP gets the
//! positional base ingest would propose (the parent chunk overlapping most its range counted from
//! the last shared chunk). Every configuration patches all those pairs with the base as a raw
//! prefix; it prints seconds (best of 3), MB/s of new chunks, the patches' total size and the
//! seconds to decode them all (best of 3), beside compressing the chunks alone at level 1.
//! "anchored (now)" is what ingest uses (SPEC.md 6.1, *Patch matcher*): long matches found at row
//! starts, zstd coding the rest. The two marked "fallback" are what it uses for a base without row
//! starts: zstd's long-distance matcher with 128-byte long matches and a short-match table too
//! small to index more than the base's last 2 KiB ("h8 c6 mm128") for repetitive data, the
//! short-match finder "fast h17 mm6" for other data.
//! A third argument runs only the configuration of that name.

use std::time::Instant;

use dbvault_benches::positional::pairs;
use repo_format::blob::{PatchMatcher, make_patch};
use zstd::zstd_safe::{CCtx, CParameter, ResetDirective, Strategy};

const ANCHORED: &str = "anchored (now)";

fn main() {
    // As the CLI does (cli/src/main.rs): chunk-sized buffers from the heap, not fresh mappings.
    // SAFETY: mallopt only sets allocator parameters; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parent = std::fs::read(&args[0]).unwrap();
    let day = std::fs::read(&args[1]).unwrap();
    let pairs = pairs(&parent, &day);
    let raw: usize = pairs.iter().map(|(c, _)| c.len()).sum();
    println!("{} new chunks, {:.1} MB", pairs.len(), raw as f64 / 1e6);
    let long = || CParameter::EnableLongDistanceMatching(true);
    let configs: Vec<(&str, Vec<CParameter>)> = vec![
        ("level 3", vec![CParameter::CompressionLevel(3)]),
        ("level 1", vec![CParameter::CompressionLevel(1)]),
        ("level 2", vec![CParameter::CompressionLevel(2)]),
        ("fast h17 mm6 (fallback, other data)", vec![CParameter::Strategy(Strategy::ZSTD_fast), CParameter::HashLog(17), CParameter::MinMatch(6), CParameter::TargetLength(0)]),
        ("dfast h16 c15", vec![CParameter::Strategy(Strategy::ZSTD_dfast), CParameter::HashLog(16), CParameter::ChainLog(15), CParameter::MinMatch(5)]),
        ("level 1 long", vec![CParameter::CompressionLevel(1), long()]),
        ("level 3 long", vec![CParameter::CompressionLevel(3), long()]),
        ("level 1 long mm96", vec![CParameter::CompressionLevel(1), long(), CParameter::LdmMinMatch(96)]),
        ("level 1 long b2", vec![CParameter::CompressionLevel(1), long(), CParameter::LdmBucketSizeLog(2)]),
        ("fast h12 long", vec![CParameter::Strategy(Strategy::ZSTD_fast), CParameter::HashLog(12), CParameter::MinMatch(6), long()]),
        ("level 1 long h8 c6 mm128 (fallback, repetitive data)", vec![CParameter::CompressionLevel(1), long(), CParameter::HashLog(8), CParameter::ChainLog(6), CParameter::LdmMinMatch(128)]),
        ("level 1 long h8 c6", vec![CParameter::CompressionLevel(1), long(), CParameter::HashLog(8), CParameter::ChainLog(6)]),
        ("level 1 long h12 c6", vec![CParameter::CompressionLevel(1), long(), CParameter::HashLog(12), CParameter::ChainLog(6)]),
        ("level 1 long h6 c6", vec![CParameter::CompressionLevel(1), long(), CParameter::HashLog(6), CParameter::ChainLog(6)]),
        // Not zstd parameters: dbvault's anchored matcher (blob::PatchMatcher::Anchored).
        (ANCHORED, vec![]),
    ];
    let mut cctx = CCtx::create();
    let t = Instant::now();
    let alone: usize = pairs.iter().map(|(c, _)| zstd::bulk::compress(&day[c.clone()], 1).unwrap().len()).sum();
    println!("{:<16} {:6.3}s {:7.0} MB/s {:9} bytes", "alone level 1", t.elapsed().as_secs_f64(), raw as f64 / t.elapsed().as_secs_f64() / 1e6, alone);
    let only = args.get(2);
    for (name, params) in configs.into_iter().filter(|(n, _)| only.is_none_or(|o| o == n)) {
        // Best of 3 runs; the last run's patches are decoded below.
        let (mut best, mut patches) = (f64::MAX, Vec::new());
        for _ in 0..3 {
            let t = Instant::now();
            patches = pairs
                .iter()
                .map(|(c, b)| {
                    if name == ANCHORED {
                        let matcher = PatchMatcher::Anchored { repetitive: true };
                        return make_patch(&day[c.clone()], &parent[b.clone()], matcher).unwrap().expect("a base");
                    }
                    cctx.reset(ResetDirective::SessionAndParameters).unwrap();
                    for p in &params {
                        cctx.set_parameter(*p).unwrap();
                    }
                    cctx.ref_prefix(&parent[b.clone()]).unwrap();
                    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(c.len()));
                    cctx.compress2(&mut out, &day[c.clone()]).unwrap();
                    out
                })
                .collect::<Vec<Vec<u8>>>();
            best = best.min(t.elapsed().as_secs_f64());
        }
        let size: usize = patches.iter().map(Vec::len).sum();
        let mut dctx = zstd::zstd_safe::DCtx::create();
        let mut decode = f64::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            for ((c, b), p) in pairs.iter().zip(&patches) {
                let mut rebuilt = Vec::with_capacity(c.len());
                dctx.decompress_using_dict(&mut rebuilt, p, &parent[b.clone()]).unwrap();
                assert_eq!(rebuilt.len(), c.len());
            }
            decode = decode.min(t.elapsed().as_secs_f64());
        }
        println!("{name:<16} {best:6.3}s {:7.0} MB/s {size:9} bytes, decoded in {decode:.3}s", raw as f64 / best / 1e6);
    }
}
