//! How RocksDB is configured for the local index: bounded memory whatever the number of blobs,
//! and opening and committing with few threads and fsyncs.

use rocksdb::{BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Options};

use super::{ALL_CFS, CF_BLOBS};

// Memory is bounded by constants, never by the number of indexed blobs: index and filter blocks
// live in the block cache, memtables are capped, and segments are applied in bounded batches.
/// Block cache shared by all column families (data, index and filter blocks).
const BLOCK_CACHE: usize = 8 << 20;
/// Memtable budget across all column families.
const WRITE_BUFFERS: usize = 16 << 20;

/// The database's options, for a writer or a read-only view.
pub(super) fn options(read_only: bool) -> Options {
    let mut o = Options::default();
    o.set_db_write_buffer_size(WRITE_BUFFERS);
    o.create_if_missing(!read_only);
    o.create_missing_column_families(!read_only);
    o.set_compression_type(DBCompressionType::None);
    o.set_keep_log_file_num(2);
    o.set_max_log_file_size(1 << 20);
    // All table files are opened at open time: a read-only view survives a writer's compactions.
    o.set_max_open_files(-1);
    // One thread opens them: RocksDB's default starts 16 threads per column family at every open,
    // which costs more than reading a few dozen table footers in turn
    // (benches/log/2026-11-22-fewer-threads-like-for-like-restores.md).
    o.set_max_file_opening_threads(1);
    // A commit's flush of every column family is one job with one manifest update, not one per
    // family, which halves a commit's fsyncs (benches/log/2026-12-04-new-machine-runs-ff-to-jj.md).
    o.set_atomic_flush(true);
    o
}

fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::None);
    o.set_write_buffer_size(WRITE_BUFFERS / 2);
    o.set_max_write_buffer_number(2);
    let mut t = BlockBasedOptions::default();
    t.set_block_cache(cache);
    // Index and filter blocks live beside the cache, loaded once per table file (about 2 bytes
    // per entry). In the small block cache random lookups evicted them, and every miss re-read and
    // re-checksummed a whole filter (benches/log/2026-11-21-memory-and-scale.md).
    t.set_cache_index_and_filter_blocks(false);
    if name == CF_BLOBS {
        // New chunks are lookups of absent keys: a bloom filter answers most without disk reads.
        t.set_bloom_filter(10.0, false);
    }
    o.set_block_based_table_factory(&t);
    o
}

/// Every column family, sharing one block cache.
pub(super) fn descriptors() -> Vec<ColumnFamilyDescriptor> {
    let cache = Cache::new_lru_cache(BLOCK_CACHE);
    ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n, &cache))).collect()
}
