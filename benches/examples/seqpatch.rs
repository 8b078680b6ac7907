//! A lead for cheaper delta patches: find the matches against the base ourselves and let zstd only
//! entropy-code them (`ZSTD_compressSequences`), instead of zstd's match finder loading the whole
//! base into its hash tables for every patch (`ZSTD_fillDoubleHashTable`, then the largest cost of
//! a later pgbench day: benches/log/2026-11-21-cheaper-deltas.md). The output is an ordinary zstd
//! frame against the base as raw prefix, so readers would not change; each patch is decoded and
//! compared here before anything is timed.
//!
//! `cargo run --release -p dbvault-benches --example seqpatch -- PARENT_DUMP DUMP [MIN_MATCH] [STEP]`
//!
//! The match finder indexes one 8-byte gram of the base every STEP bytes (default 8), tries the
//! last match's offset first, extends matches both ways and keeps those of MIN_MATCH bytes or more
//! (default 8). It prints time and bytes of the whole day's patches beside zstd level 3 (what
//! ingest used when this was written; it makes anchored patches now), then literal and sequence
//! counts of both on the first 300 pairs.

use std::time::Instant;

use dbvault_benches::positional::pairs;
use zstd::zstd_safe::{DCtx, zstd_sys as zs};

fn word(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Greedy matches of `chunk` against `base`, as zstd sequences (offsets count back from the chunk
/// position through the base, which zstd sees as the bytes just before the chunk).
fn matches(base: &[u8], chunk: &[u8], min_len: usize, step: usize, table: &mut Vec<u32>, out: &mut Vec<zs::ZSTD_Sequence>) {
    out.clear();
    let (m, n) = (base.len(), chunk.len());
    if m < 16 || n < 16 {
        return;
    }
    let bits = ((m / step).max(1).next_power_of_two().trailing_zeros() + 1).clamp(8, 20);
    table.clear();
    table.resize(1 << bits, 0);
    let hash = |v: u64| (v.wrapping_mul(0x9E37_79B1_85EB_CA87) >> (64 - bits)) as usize;
    for j in (0..=m - 8).step_by(step) {
        table[hash(word(base, j))] = j as u32 + 1;
    }
    let (mut i, mut literals_from, mut last_offset) = (0usize, 0usize, 0usize);
    while i + 8 <= n {
        let v = word(chunk, i);
        let by_last = (last_offset > 0 && m + i >= last_offset && m + i - last_offset + 8 <= m)
            .then(|| m + i - last_offset)
            .filter(|&p| word(base, p) == v);
        let found = by_last.or_else(|| {
            let t = table[hash(v)] as usize;
            (t > 0 && word(base, t - 1) == v).then(|| t - 1)
        });
        let Some(p) = found else {
            i += 1 + ((i - literals_from) >> 7); // skip faster through long literal runs
            continue;
        };
        let (mut start, mut from) = (i, p);
        while start > literals_from && from > 0 && base[from - 1] == chunk[start - 1] {
            start -= 1;
            from -= 1;
        }
        let (mut end, mut to) = (i + 8, p + 8);
        while end + 8 <= n && to + 8 <= m {
            let diff = word(chunk, end) ^ word(base, to);
            if diff != 0 {
                let same = (diff.trailing_zeros() / 8) as usize;
                (end, to) = (end + same, to + same);
                break;
            }
            (end, to) = (end + 8, to + 8);
        }
        while end < n && to < m && chunk[end] == base[to] {
            end += 1;
            to += 1;
        }
        if end - start < min_len {
            i += 1;
            continue;
        }
        let offset = m + start - from;
        out.push(zs::ZSTD_Sequence { offset: offset as u32, litLength: (start - literals_from) as u32, matchLength: (end - start) as u32, rep: 0 });
        (i, literals_from, last_offset) = (end, end, offset);
    }
}

/// A zstd compression context used through the experimental sequence API.
struct SequenceEncoder(*mut zs::ZSTD_CCtx);

impl SequenceEncoder {
    fn new() -> Self {
        // SAFETY: returns a fresh context or null (checked).
        let cctx = unsafe { zs::ZSTD_createCCtx() };
        assert!(!cctx.is_null(), "zstd context");
        SequenceEncoder(cctx)
    }

    /// One zstd frame of `chunk` from `seqs` (made by [`matches`] against `base`), with `base` as
    /// its raw prefix. zstd's own match finder indexes only the last 512 bytes of the base (hash
    /// and chain tables of 2^6), so loading the prefix costs nothing.
    fn encode(&mut self, base: &[u8], chunk: &[u8], seqs: &[zs::ZSTD_Sequence], out: &mut Vec<u8>) -> usize {
        use zs::ZSTD_cParameter::*;
        let check = |r: usize| {
            // SAFETY: ZSTD_getErrorName returns a static C string for any code.
            assert_eq!(unsafe { zs::ZSTD_isError(r) }, 0, "{:?}", unsafe { std::ffi::CStr::from_ptr(zs::ZSTD_getErrorName(r)) });
            r
        };
        // SAFETY: the context is valid until drop; `base`, `chunk` and `seqs` outlive the call
        // that reads them (the prefix is referenced only until the frame is written); `out` has
        // `capacity` writable bytes and its length is set to what zstd reports it wrote.
        unsafe {
            let cctx = self.0;
            check(zs::ZSTD_CCtx_reset(cctx, zs::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters));
            for (p, v) in [
                (ZSTD_c_compressionLevel, 3),
                (ZSTD_c_strategy, 1), // ZSTD_fast
                (ZSTD_c_hashLog, 6),
                (ZSTD_c_chainLog, 6),
                (ZSTD_c_minMatch, 4),
                (ZSTD_c_experimentalParam5, 1), // literal compression mode: Huffman
            ] {
                check(zs::ZSTD_CCtx_setParameter(cctx, p, v));
            }
            check(zs::ZSTD_CCtx_refPrefix(cctx, base.as_ptr().cast(), base.len()));
            out.clear();
            out.reserve(zs::ZSTD_compressBound(chunk.len()));
            let n = check(zs::ZSTD_compressSequences(cctx, out.as_mut_ptr().cast(), out.capacity(), seqs.as_ptr(), seqs.len(), chunk.as_ptr().cast(), chunk.len()));
            out.set_len(n);
            n
        }
    }
}

impl Drop for SequenceEncoder {
    fn drop(&mut self) {
        // SAFETY: created by ZSTD_createCCtx, freed once.
        unsafe { zs::ZSTD_freeCCtx(self.0) };
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parent = std::fs::read(&args[0]).expect("parent dump");
    let day = std::fs::read(&args[1]).expect("dump");
    let min_len: usize = args.get(2).map_or(8, |s| s.parse().expect("MIN_MATCH"));
    let step: usize = args.get(3).map_or(8, |s| s.parse().expect("STEP"));
    let pairs = pairs(&parent, &day);
    let raw: usize = pairs.iter().map(|(c, _)| c.len()).sum();
    println!("{} new chunks, {:.1} MB; min match {min_len}, base indexed every {step} bytes", pairs.len(), raw as f64 / 1e6);
    let (mut encoder, mut table, mut seqs, mut out) = (SequenceEncoder::new(), Vec::new(), Vec::new(), Vec::new());
    let mut dctx = DCtx::create();
    for (c, b) in &pairs {
        let (c, b) = (&day[c.clone()], &parent[b.clone()]);
        matches(b, c, min_len, step, &mut table, &mut seqs);
        encoder.encode(b, c, &seqs, &mut out);
        let mut rebuilt = Vec::with_capacity(c.len());
        dctx.decompress_using_dict(&mut rebuilt, &out, b).expect("a valid frame");
        assert!(rebuilt == c, "a patch rebuilt other bytes");
    }
    println!("every patch decodes to its chunk");
    let mut cctx = zstd::zstd_safe::CCtx::create();
    for _ in 0..3 {
        let t = Instant::now();
        let mut ours = 0;
        for (c, b) in &pairs {
            let (c, b) = (&day[c.clone()], &parent[b.clone()]);
            matches(b, c, min_len, step, &mut table, &mut seqs);
            ours += encoder.encode(b, c, &seqs, &mut out);
        }
        let t_ours = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut level3 = 0;
        for (c, b) in &pairs {
            let (c, b) = (&day[c.clone()], &parent[b.clone()]);
            out.clear();
            out.reserve(c.len());
            level3 += cctx.compress_using_dict(&mut out, c, b, 3).expect("zstd");
        }
        println!("sequences {t_ours:.3} s {ours} bytes | zstd level 3 {:.3} s {level3} bytes", t.elapsed().as_secs_f64());
    }
    let (mut our_lits, mut our_seqs, mut z_lits, mut z_seqs) = (0, 0, 0, 0);
    for (c, b) in pairs.iter().take(300) {
        let (c, b) = (&day[c.clone()], &parent[b.clone()]);
        matches(b, c, min_len, step, &mut table, &mut seqs);
        our_seqs += seqs.len();
        our_lits += c.len() - seqs.iter().map(|s| s.matchLength as usize).sum::<usize>();
        let mut z = vec![zs::ZSTD_Sequence { offset: 0, litLength: 0, matchLength: 0, rep: 0 }; c.len() + 16];
        // SAFETY: a fresh context, `z` holds `z.len()` sequences, inputs outlive the calls.
        let k = unsafe {
            let cc = zs::ZSTD_createCCtx();
            zs::ZSTD_CCtx_setParameter(cc, zs::ZSTD_cParameter::ZSTD_c_compressionLevel, 3);
            zs::ZSTD_CCtx_refPrefix(cc, b.as_ptr().cast(), b.len());
            let k = zs::ZSTD_generateSequences(cc, z.as_mut_ptr(), z.len(), c.as_ptr().cast(), c.len());
            zs::ZSTD_freeCCtx(cc);
            assert_eq!(zs::ZSTD_isError(k), 0, "ZSTD_generateSequences");
            k
        };
        z_seqs += z[..k].iter().filter(|s| s.matchLength > 0).count();
        z_lits += c.len() - z[..k].iter().map(|s| s.matchLength as usize).sum::<usize>();
    }
    println!("first 300 chunks: ours {our_seqs} sequences, {our_lits} literal bytes; zstd level 3 {z_seqs} sequences, {z_lits} literal bytes");
}
