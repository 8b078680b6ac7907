//! Restore: a snapshot's stream out, byte-identical, or an error naming what is wrong.
//!
//! Chunks are read and verified in parallel a batch at a time (each is authenticated, decompressed
//! and re-hashed against its id) and written strictly in stream order. The whole stream is hashed
//! again and compared with the manifest's digest and size at the end.

use std::io::Write;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use repo_format::Id;
use repo_format::blob::BlobKind;

use crate::pack::PackReader;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::tree::{StreamChunk, TreeWalk};
use crate::{Result, StoreError};

/// Plaintext bytes fetched and verified in parallel before being written.
const BATCH_BYTES: u64 = 8 << 20;

/// What a restore did.
#[derive(Clone, Copy, Debug)]
pub struct RestoreSummary {
    /// Bytes written.
    pub bytes: u64,
    /// Chunks read.
    pub chunks: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Write the stream of `snap` to `out`, verifying every chunk and the whole-stream digest.
pub fn restore(repo: &Repository, snap: &Snapshot, out: &mut dyn Write, progress: Option<&(dyn Fn(u64) + Sync)>) -> Result<RestoreSummary> {
    let t0 = Instant::now();
    let index = repo.index_reader()?;
    let reader = PackReader::new(repo);
    let m = &snap.manifest;
    let mut walk = TreeWalk::new(&reader, &index, m.tree);
    let mut hasher = blake3::Hasher::new();
    let (mut bytes, mut chunks) = (0u64, 0u64);
    let mut batch: Vec<StreamChunk> = Vec::new();
    let mut batch_len = 0u64;
    loop {
        let next = walk.next_chunk().map_err(|e| snap.unreadable(e.node, e.offset, e.source))?;
        if let Some(c) = next.filter(|_| batch_len < BATCH_BYTES) {
            batch_len += c.len;
            batch.push(c);
            continue;
        }
        let loaded: Vec<Result<Vec<u8>>> = batch
            .par_iter()
            .map(|c| {
                let data = reader.load(&index, &c.id, BlobKind::Chunk)?;
                if data.len() as u64 != c.len {
                    return Err(StoreError::format(
                        format!("chunk {}", c.id.short()),
                        repo_format::FormatError::malformed("chunk", format!("is {} bytes, the chunk list says {}", data.len(), c.len)),
                    ));
                }
                Ok(data)
            })
            .collect();
        for (c, data) in batch.iter().zip(loaded) {
            let data = data.map_err(|e| snap.unreadable(c.id, c.offset, e))?;
            hasher.update(&data);
            out.write_all(&data).map_err(|e| StoreError::io("writing the restored stream", e))?;
            bytes += data.len() as u64;
            chunks += 1;
        }
        if let Some(p) = progress {
            p(bytes);
        }
        batch.clear();
        match next {
            Some(c) => {
                batch_len = c.len;
                batch.push(c);
            }
            None => break,
        }
    }
    out.flush().map_err(|e| StoreError::io("writing the restored stream", e))?;
    let actual = Id(*hasher.finalize().as_bytes());
    if actual != m.digest || bytes != m.size {
        return Err(StoreError::DigestMismatch {
            snapshot: snap.id,
            db: m.db.clone(),
            expected: m.digest,
            actual,
            expected_size: m.size,
            actual_size: bytes,
        });
    }
    Ok(RestoreSummary { bytes, chunks, elapsed: t0.elapsed() })
}
