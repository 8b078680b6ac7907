//! Per-stage benchmarks: a regression shows up in the stage where it happens.
//!
//! Run: `cargo bench -p dbvault-benches` (inputs are generated pg_dump-style text).

use std::hint::black_box;
use std::time::Duration;

use chunker::{Chunker, Params};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dbvault_benches::dumpgen::DumpSeries;
use repo_format::blob::{self, BlobKind, Codec};
use repo_format::index_segment::{IndexSegment, PackIndex};
use repo_format::pack::PackEntry;
use repo_format::config::ChunkerConfig;
use repo_format::crypto::MasterKey;
use repo_format::keyfile::KdfParams;
use store::ingest::{IngestOptions, ingest};
use store::restore::restore;
use store::{InitOptions, Repository};

fn dump(rows: usize) -> Vec<u8> {
    DumpSeries::new(rows, 3).dump()
}

fn params() -> Params {
    let c = ChunkerConfig::default();
    Params::new(c.min_size, c.avg_size, c.max_size, c.normalization, 42).unwrap()
}

fn chunks_of(data: &[u8]) -> Vec<Vec<u8>> {
    Chunker::new(data, params(), 8 << 20).flat_map(|b| {
        let b = b.unwrap();
        (0..b.chunks.len()).map(|i| b.chunk(i).to_vec()).collect::<Vec<_>>()
    }).collect()
}

fn stages(c: &mut Criterion) {
    let data = dump(200_000);
    let keys = MasterKey::generate().unwrap().keys();
    let chunks = chunks_of(&data);

    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("chunk", |b| {
        b.iter(|| Chunker::new(data.as_slice(), params(), 8 << 20).map(|x| x.unwrap().chunks.len()).sum::<usize>())
    });
    // The same stream as a file, read into buffers or mapped under a lease (page cache warm).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.sql");
    std::fs::write(&path, &data).unwrap();
    let count = |c: Chunker<std::fs::File>| c.map(|x| x.unwrap().chunks.len()).sum::<usize>();
    g.bench_function("chunk_file_read", |b| b.iter(|| count(Chunker::new(std::fs::File::open(&path).unwrap(), params(), 4 << 20))));
    #[cfg(target_os = "linux")]
    g.bench_function("chunk_file_mapped", |b| {
        b.iter(|| {
            let leased = chunker::PinnedFile::pin(std::fs::File::open(&path).unwrap()).expect("a file of ours is leased");
            count(Chunker::with_input(chunker::Input::Pinned(std::sync::Arc::new(leased)), params(), 4 << 20).unwrap())
        })
    });
    g.bench_function("hash_chunks", |b| b.iter(|| chunks.iter().map(|c| keys.chunk_id(c).0[0]).fold(0u8, |a, x| a ^ x)));
    g.bench_function("stream_digest", |b| b.iter(|| blake3::hash(black_box(&data))));
    // The table of contents of a pg_dump plain dump, fed in 4 MiB batches as ingest reads them.
    g.bench_function("toc_pg_plain", |b| {
        b.iter(|| {
            let mut p: Box<dyn toc::TocParser> = Box::new(toc::pg_plain::PgPlain::new([1; 32]));
            data.chunks(4 << 20).for_each(|c| p.feed(c));
            p.finish().objects.len()
        })
    });
    g.bench_function("compress_seal", |b| {
        b.iter(|| {
            chunks.iter().map(|c| blob::seal(&keys, BlobKind::Chunk, keys.chunk_id(c), c, 3).unwrap().bytes.len()).sum::<usize>()
        })
    });
    let sealed: Vec<_> = chunks.iter().map(|c| blob::seal(&keys, BlobKind::Chunk, keys.chunk_id(c), c, 3).unwrap()).collect();
    g.bench_function("open_verify", |b| {
        b.iter(|| sealed.iter().map(|s| blob::open(&keys, s.kind, s.codec, &s.id, s.raw_len, &s.bytes).unwrap().len()).sum::<usize>())
    });
    g.finish();
    // A post-data section (indexes, no COPY after them), 4 MiB fed at once: every line-taking
    // step must not search the rest of the batch again.
    let post: Vec<u8> = (0..30_000)
        .flat_map(|i| format!("--\n-- Name: t{i}_idx; Type: INDEX; Schema: public; Owner: shop\n--\n\nCREATE INDEX t{i}_idx ON public.t{i} USING btree (id);\n\n\n").into_bytes())
        .collect();
    let mut t = c.benchmark_group("toc");
    t.throughput(Throughput::Bytes(post.len() as u64));
    t.bench_function("pg_post_data_4mib_batches", |b| {
        b.iter(|| {
            let mut p: Box<dyn toc::TocParser> = Box::new(toc::pg_plain::PgPlain::new([1; 32]));
            post.chunks(4 << 20).for_each(|c| p.feed(c));
            p.finish().objects.len()
        })
    });
    t.finish();
    deltas(c, &keys);
}

/// The delta stages on a day's changed chunks, each with the positional base ingest would propose.
fn deltas(c: &mut Criterion, keys: &repo_format::crypto::Keys) {
    let days = DumpSeries::days(200_000, 3, 2);
    let pairs: Vec<(&[u8], &[u8])> =
        dbvault_benches::positional::pairs(&days[0], &days[1]).into_iter().map(|(c, b)| (&days[1][c], &days[0][b])).collect();
    // Patches made as ingest makes them in a repository made with the defaults (the matcher
    // follows how well each base compresses).
    let level = repo_format::config::Config::new(ChunkerConfig::default()).unwrap().compression_level;
    let matcher = |base: &[u8]| store::delta::choice::patch_matcher(level, base.len() as u32, zstd::bulk::compress(base, level).unwrap().len() as u32);
    let pairs: Vec<(&[u8], &[u8], blob::PatchMatcher)> = pairs.into_iter().map(|(c, b)| (c, b, matcher(b))).collect();
    let patches: Vec<Vec<u8>> = pairs.iter().map(|(c, b, m)| blob::make_patch(c, b, *m).unwrap().unwrap()).collect();
    let mut g = c.benchmark_group("delta");
    g.throughput(Throughput::Bytes(pairs.iter().map(|(c, _, _)| c.len() as u64).sum()));
    g.bench_function("sketch", |b| b.iter(|| pairs.iter().filter_map(|(c, _, _)| store::delta::resemblance::sketch(keys, c)).fold(0u64, |a, s| a ^ s[0])));
    g.bench_function("make_patch", |b| b.iter(|| pairs.iter().map(|(c, base, m)| blob::make_patch(c, base, *m).unwrap().unwrap().len()).sum::<usize>()));
    g.bench_function("apply_patch", |b| {
        b.iter(|| {
            pairs.iter().zip(&patches).map(|((c, base, _), p)| blob::apply_patch(keys, &keys.chunk_id(c), c.len() as u32, p, base).unwrap().len()).sum::<usize>()
        })
    });
    g.finish();
}

/// A fresh repository (cheap key derivation) in a temporary folder, kept while the folder lives.
fn fresh_repo_in_tempdir() -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let opts = InitOptions { kdf: KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 }, chunker: ChunkerConfig::default(), no_deltas: false };
    let repo = Repository::init(&dir.path().join("repo"), b"pw", opts).unwrap();
    (dir, repo)
}

fn end_to_end(c: &mut Criterion) {
    let [day0, day1]: [Vec<u8>; 2] = DumpSeries::days(300_000, 5, 2).try_into().unwrap();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(day0.len() as u64));
    g.bench_function("ingest_new_dump", |b| {
        b.iter_batched(
            fresh_repo_in_tempdir,
            |(_dir, repo)| ingest(&repo, day0.as_slice(), IngestOptions { db: "b".into(), ..Default::default() }).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let (_dir, repo) = fresh_repo_in_tempdir();
    let snap = ingest(&repo, day0.as_slice(), IngestOptions { db: "b".into(), ..Default::default() }).unwrap().snapshot;
    g.bench_function("ingest_next_day", |b| {
        b.iter(|| ingest(&repo, day1.as_slice(), IngestOptions { db: "b".into(), ..Default::default() }).unwrap())
    });
    g.bench_function("restore", |b| {
        let index = repo.index_reader().unwrap();
        b.iter(|| restore(&repo, &index, &snap, &mut std::io::sink(), None).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("index");
    let idx = repo.index_reader().unwrap();
    let absent: Vec<repo_format::Id> = (0..10_000u32).map(|i| repo_format::Id::of_bytes(&i.to_le_bytes())).collect();
    g.throughput(Throughput::Elements(absent.len() as u64));
    g.bench_function("lookup_absent", |b| b.iter(|| absent.iter().filter(|id| idx.contains(id).unwrap()).count()));
    let present: Vec<repo_format::Id> = idx_ids(&repo, &snap).into_iter().take(10_000).collect();
    g.throughput(Throughput::Elements(present.len() as u64));
    g.bench_function("lookup_present", |b| b.iter(|| present.iter().filter(|id| idx.get(id).unwrap().is_some()).count()));
    let seg = synthetic_segment(10_000);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("insert_segment", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let (index, _) = store::index::Index::open_write(dir.path(), Duration::from_secs(1), false).unwrap();
                (dir, index)
            },
            |(_dir, index)| index.apply_segment(&repo_format::Id::of_bytes(b"seg"), &seg).unwrap(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The chunk ids of a snapshot, in stream order.
fn idx_ids(repo: &Repository, snap: &store::snapshot::Snapshot) -> Vec<repo_format::Id> {
    let index = repo.index_reader().unwrap();
    let reader = store::pack::PackReader::new(repo);
    let mut walk = store::tree::TreeWalk::new(&reader, &index, snap.manifest.tree);
    std::iter::from_fn(|| walk.next_chunk().unwrap()).map(|c| c.id).collect()
}

/// An index segment describing `n` blobs in packs of 4096 blobs.
fn synthetic_segment(n: u32) -> IndexSegment {
    let packs = (0..n.div_ceil(4096))
        .map(|p| PackIndex {
            pack_id: repo_format::Id::of_bytes(&p.to_be_bytes()),
            pack_len: 16 << 20,
            entries: (p * 4096..(n).min((p + 1) * 4096))
                .map(|i| PackEntry { id: repo_format::Id::of_bytes(&i.to_le_bytes()), kind: BlobKind::Chunk, codec: Codec::Zstd, offset: i % 4096 * 1600, stored_len: 1600, raw_len: 4096, delta: None })
                .collect(),
        })
        .collect();
    IndexSegment { packs }
}

/// Sealed blobs appended to packs (write, hash, header, fsync, rename), on a fresh repository.
fn pack_writing(c: &mut Criterion) {
    let data = dump(200_000);
    let (_keys_repo_dir, repo) = fresh_repo_in_tempdir();
    let level = repo.config().compression_level;
    let sealed: Vec<_> = chunks_of(&data).iter().map(|c| blob::seal(repo.keys(), BlobKind::Chunk, repo.keys().chunk_id(c), c, level).unwrap()).collect();
    let bytes: u64 = sealed.iter().map(|s| s.bytes.len() as u64).sum();
    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("pack_write", |b| {
        b.iter_batched(
            fresh_repo_in_tempdir,
            |(_dir, repo)| {
                let mut w = store::pack::PackWriter::new(&repo);
                sealed.iter().for_each(|s| w.add(s).unwrap());
                w.finish_pack().unwrap();
                w.bytes_written()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = stages, pack_writing, end_to_end
}
criterion_main!(benches);
