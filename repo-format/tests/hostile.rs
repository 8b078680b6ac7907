//! Every parser of repository objects is fed random bytes, mutated valid objects, and (for sealed
//! objects) random plaintexts sealed with the right key, so the parser itself is reached past
//! authentication. No input may panic or allocate from an unchecked length field: each returns a
//! value or a typed error.

use proptest::prelude::*;
use repo_format::blob::{self, BlobKind, Codec};
use repo_format::config::{ChunkerConfig, Config};
use repo_format::crypto::{Keys, MasterKey};
use repo_format::index_segment::{IndexSegment, PackIndex};
use repo_format::keyfile::{KdfParams, KeyFile};
use repo_format::manifest::Manifest;
use repo_format::pack::{self, PackEntry};
use repo_format::tree::{Node, TreeEntry};
use repo_format::Id;

fn keys() -> Keys {
    // A fixed key keeps cases reproducible; only its use matters here.
    thread_local!(static K: Keys = MasterKey::generate().unwrap().keys());
    K.with(Clone::clone)
}

/// Apply `edits` (position, xor mask) and an optional truncation or extension to `base`.
fn mutate(base: &[u8], edits: &[(usize, u8)], cut: Option<usize>, extra: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    for &(at, x) in edits {
        if !b.is_empty() {
            let i = at % b.len();
            b[i] ^= x;
        }
    }
    if let Some(c) = cut {
        b.truncate(c % (b.len() + 1));
    }
    b.extend_from_slice(extra);
    b
}

fn valid_objects(k: &Keys) -> Vec<Vec<u8>> {
    let entries = vec![
        PackEntry { id: Id([1; 32]), kind: BlobKind::Chunk, codec: Codec::Zstd, offset: 8, stored_len: 60, raw_len: 100, delta: None },
        PackEntry { id: Id([2; 32]), kind: BlobKind::TreeNode, codec: Codec::Stored, offset: 68, stored_len: 50, raw_len: 10, delta: None },
        PackEntry {
            id: Id([6; 32]),
            kind: BlobKind::Delta,
            codec: Codec::Zstd,
            offset: 118,
            stored_len: 50,
            raw_len: 4000,
            delta: Some(blob::DeltaRef { base: Id([1; 32]), depth: 1 }),
        },
    ];
    let mut packfile = pack::magic(2).to_vec();
    packfile.resize(168, 0);
    packfile.extend_from_slice(&pack::encode_header(k, &entries, 2).unwrap());
    let seg = IndexSegment { packs: vec![PackIndex { pack_id: Id([3; 32]), pack_len: 500, entries }] };
    let node = Node::encode(0, &[TreeEntry { id: Id([4; 32]), len: 77 }]);
    let repo = Id([5; 32]);
    let kf = KeyFile::wrap(&MasterKey::generate().unwrap(), b"pw", &repo, KdfParams { memory_kib: 64, iterations: 1, parallelism: 1 }, "h").unwrap();
    vec![Config::new(ChunkerConfig::default()).unwrap().encode(k), kf.encode(), packfile, seg.encode(k, 2).unwrap(), node]
}

fn all_parsers(k: &Keys, b: &[u8]) {
    let _ = Config::decode(b).map(|c| c.verify(k));
    let _ = KeyFile::decode(b);
    let _ = pack::read_entries(k, b);
    if b.len() >= pack::TRAILER_LEN {
        let _ = pack::locate_header(b.len() as u64, &b[b.len() - pack::TRAILER_LEN..]);
    }
    let _ = pack::decode_entries("t", b, None, u64::from(u32::MAX), 2);
    let _ = pack::decode_entries("t", b, Some(3), u64::from(u32::MAX), 1);
    let _ = IndexSegment::decode(k, b);
    let _ = Manifest::decode(k, b);
    let _ = Node::decode(b);
    let _ = blob::open(k, BlobKind::Chunk, Codec::Zstd, &Id::default(), 100, b);
    let _ = blob::open_patch(k, Codec::Zstd, &Id::default(), &Id([1; 32]), 100, b);
    let _ = blob::apply_patch(k, &Id::default(), 100, b, b"base");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..4096)) {
        all_parsers(&keys(), &b);
    }

    #[test]
    fn mutated_objects_never_panic(which in 0usize..5, edits in proptest::collection::vec((any::<usize>(), 1u8..=255), 0..6),
                                   cut in proptest::option::of(any::<usize>()), extra in proptest::collection::vec(any::<u8>(), 0..64)) {
        let k = keys();
        let base = &valid_objects(&k)[which];
        let m = mutate(base, &edits, cut, &extra);
        all_parsers(&k, &m);
        // A sealed object that was changed in any way must not decode as valid.
        if m != *base && which == 3 {
            prop_assert!(IndexSegment::decode(&k, &m).is_err());
        }
    }

    /// Past authentication: random payloads sealed exactly as a writer would seal them.
    #[test]
    fn sealed_random_plaintexts_are_typed_errors(payload in proptest::collection::vec(any::<u8>(), 0..2048), count in any::<u32>()) {
        let k = keys();
        // Index segment: a hostile count in front of random bytes.
        let mut p = count.to_le_bytes().to_vec();
        p.extend_from_slice(&payload);
        let mut seg = b"dbvindx\x01".to_vec();
        k.seal_into(b"dbvindx\x01", &p, &mut seg).unwrap();
        let _ = IndexSegment::decode(&k, &seg);
        // Pack header: random entries under a valid seal.
        let sealed = k.seal(b"dbvault pack header v1", &payload).unwrap();
        let _ = pack::decode_header(&k, &sealed, 1 << 20, 2);
        // Manifest: random bytes, and random bytes that are valid zstd, under a valid seal.
        for body in [payload.clone(), zstd::bulk::compress(&payload, 1).unwrap()] {
            let mut m = b"dbvsnap\x01".to_vec();
            k.seal_into(b"dbvsnap\x01", &body, &mut m).unwrap();
            prop_assert!(Manifest::decode(&k, &m).is_err());
        }
        // Blob: a valid seal whose zstd frame claims any size.
        let id = k.chunk_id(&payload);
        let s = blob::seal(&k, BlobKind::Chunk, id, &payload, 1).unwrap();
        prop_assert_eq!(blob::open(&k, s.kind, s.codec, &id, s.raw_len, &s.bytes).unwrap(), payload.clone());
        let _ = blob::open(&k, s.kind, s.codec, &id, count % (blob::MAX_RAW_LEN + 10), &s.bytes);
    }
}

#[test]
fn a_huge_count_is_refused_before_allocating() {
    let k = keys();
    let mut p = u32::MAX.to_le_bytes().to_vec();
    p.extend_from_slice(&[0u8; 44]);
    let mut seg = b"dbvindx\x01".to_vec();
    k.seal_into(b"dbvindx\x01", &p, &mut seg).unwrap();
    let err = IndexSegment::decode(&k, &seg).unwrap_err().to_string();
    assert!(err.contains("claims"), "{err}");
    let mut kf: KeyFile = KeyFile::decode(&valid_objects(&k)[1]).unwrap();
    kf.params.memory_kib = 2 * 1024 * 1024;
    assert!(kf.unwrap_key(b"pw", &Id([5; 32])).is_err(), "a 2 GiB Argon2 request must be refused");
}
