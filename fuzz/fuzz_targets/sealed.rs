//! Random plaintexts sealed exactly as a writer seals them, so the parsers behind authentication
//! (index segment payloads, pack headers, manifests, zstd frames) see hostile lengths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repo_format::blob::{self, BlobKind};
use repo_format::crypto::MasterKey;
use repo_format::index_segment::IndexSegment;
use repo_format::manifest::Manifest;
use repo_format::pack;

fuzz_target!(|p: &[u8]| {
    let k = MasterKey::from_bytes([9; 32]).keys();
    let mut seg = b"dbvindx\x01".to_vec();
    k.seal_into(b"dbvindx\x01", p, &mut seg).unwrap();
    let _ = IndexSegment::decode(&k, &seg);
    let header = k.seal(b"dbvault pack header v1", p).unwrap();
    for v in repo_format::OLDEST_VERSION..=repo_format::FORMAT_VERSION {
        let _ = pack::decode_header(&k, &header, 1 << 24, v);
    }
    let mut m = b"dbvsnap\x01".to_vec();
    k.seal_into(b"dbvsnap\x01", p, &mut m).unwrap();
    let _ = Manifest::decode(&k, &m);
    // A zstd frame from the fuzzer, under a valid seal, with a claimed length.
    let id = k.chunk_id(p);
    if let Ok(s) = blob::seal(&k, BlobKind::Chunk, id, p, 1) {
        let claimed = p.first().map_or(0, |&x| u32::from(x) << 12);
        let _ = blob::open(&k, s.kind, s.codec, &id, claimed, &s.bytes);
    }
});
