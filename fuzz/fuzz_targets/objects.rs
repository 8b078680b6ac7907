//! Raw bytes into every parser of repository objects: no panic, no unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use repo_format::blob::{self, BlobKind, Codec};
use repo_format::config::Config;
use repo_format::crypto::MasterKey;
use repo_format::index_segment::IndexSegment;
use repo_format::keyfile::KeyFile;
use repo_format::manifest::Manifest;
use repo_format::pack;
use repo_format::tree::Node;
use repo_format::Id;

fuzz_target!(|b: &[u8]| {
    let k = MasterKey::from_bytes([7; 32]).keys();
    let _ = Config::decode(b).map(|c| c.verify(&k));
    let _ = KeyFile::decode(b);
    let _ = pack::read_entries(&k, b);
    for v in repo_format::OLDEST_VERSION..=repo_format::FORMAT_VERSION {
        let _ = pack::decode_entries("fuzz", b, None, u64::from(u32::MAX), v);
    }
    let _ = IndexSegment::decode(&k, b);
    let _ = Manifest::decode(&k, b);
    let _ = Node::decode(b);
    let _ = blob::open(&k, BlobKind::Chunk, Codec::Zstd, &Id::default(), 4096, b);
});
