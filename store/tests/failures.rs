//! Bad passwords, damaged packs, failing input: clear errors, nothing lost, nothing wrong returned.

mod common;

use std::io::{self, Read};

use common::*;
use repo_format::blob::{self, BlobKind};
use store::ingest::{IngestOptions, ingest};
use store::{Repository, StoreError};

fn text(n: u32) -> Vec<u8> {
    (0..n).flat_map(|i| format!("INSERT INTO t VALUES ({i}, 'row {}');\n", i * 7919 % 1000).into_bytes()).collect()
}

#[test]
fn wrong_password_is_refused_and_modifies_nothing() {
    let t = TestRepo::new(fast_init());
    t.ingest("db", &text(1000));
    let before = tree_contents(&t.path());
    let err = Repository::open(&t.path(), b"not it").unwrap_err();
    assert!(matches!(err, StoreError::WrongPassword { keys: 1, .. }), "{err}");
    assert_eq!(tree_contents(&t.path()), before);
}

#[test]
fn missing_keys_and_non_repositories_are_named() {
    let t = TestRepo::new(fast_init());
    for k in std::fs::read_dir(t.path().join("keys")).unwrap() {
        std::fs::remove_file(k.unwrap().path()).unwrap();
    }
    assert!(matches!(Repository::open(&t.path(), PASSWORD), Err(StoreError::NoKey)));
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(Repository::open(empty.path(), PASSWORD), Err(StoreError::NotARepository { .. })));
    assert!(matches!(Repository::init(&t.path(), PASSWORD, fast_init()), Err(StoreError::NotEmpty { .. })));
}

#[test]
fn a_flipped_bit_in_a_pack_fails_restore_naming_snapshot_and_chunk() {
    let t = TestRepo::new(small_chunks());
    let data = text(20_000);
    let s = t.ingest("shop", &data);
    for (i, pack) in packs(&t.path()).iter().enumerate() {
        let mut bytes = std::fs::read(pack).unwrap();
        let at = 8 + (bytes.len() / 3) * (i % 2 + 1) / 2;
        bytes[at] ^= 0x04;
        std::fs::write(pack, bytes).unwrap();
    }
    let err = t.restore(&s.snapshot).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Unreadable { .. }), "{msg}");
    assert!(err.is_integrity());
    assert!(msg.contains(&s.snapshot.id.short()) && msg.contains("db shop") && msg.contains("chunk"), "{msg}");
}

#[test]
fn a_chunk_sealed_over_other_bytes_fails_restore_naming_it() {
    // What only a writer's bug could leave: an envelope that authenticates, holding bytes that are
    // not its chunk. Restore checks lengths per chunk and the stream digest as a whole; on a
    // mismatch it must still say which chunk is wrong, not only that the stream is.
    let t = TestRepo::new(small_chunks());
    let s = t.ingest("shop", &noise(64 << 10, 7));
    let index = t.repo.index_reader().unwrap();
    let reader = store::pack::PackReader::new(&t.repo);
    let mut walk = store::tree::TreeWalk::new(&reader, &index, s.snapshot.manifest.tree);
    let victim = (0..5).map(|_| walk.next_chunk().unwrap().unwrap()).last().unwrap();
    let loc = index.locate(&victim.id).unwrap();
    let forged = blob::seal(t.repo.keys(), BlobKind::Chunk, victim.id, &noise(victim.len as usize, 8), 3).unwrap();
    assert_eq!(forged.bytes.len(), loc.entry.stored_len as usize, "stored as is, like the original");
    let path = t.path().join(repo_format::object_key::pack(&loc.pack));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[loc.entry.offset as usize..][..forged.bytes.len()].copy_from_slice(&forged.bytes);
    std::fs::write(&path, bytes).unwrap();

    let err = t.restore(&s.snapshot).unwrap_err();
    let msg = err.to_string();
    assert!(err.is_integrity(), "{msg}");
    match &err {
        StoreError::Unreadable { chunk, offset, .. } => assert_eq!((*chunk, *offset), (victim.id, victim.offset), "{msg}"),
        other => panic!("expected the chunk to be named: {other}"),
    }
    assert!(msg.contains("hashing to"), "{msg}");
}

#[test]
fn a_truncated_pack_is_an_error_not_a_crash() {
    let t = TestRepo::new(small_chunks());
    let data = text(20_000);
    let s = t.ingest("shop", &data);
    for pack in packs(&t.path()) {
        let len = std::fs::metadata(&pack).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&pack).unwrap().set_len(len / 2).unwrap();
    }
    let err = t.restore(&s.snapshot).unwrap_err();
    assert!(err.is_integrity(), "{err}");
}

#[test]
fn a_swapped_manifest_or_index_segment_is_detected() {
    let t = TestRepo::new(small_chunks());
    let s = t.ingest("shop", &text(5000));
    let snap_file = t.path().join("snapshots").join(s.snapshot.id.to_hex());
    let mut bytes = std::fs::read(&snap_file).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&snap_file, bytes).unwrap();
    std::fs::remove_dir_all(t.path().join("local")).unwrap();
    let repo = Repository::open(&t.path(), PASSWORD).unwrap();
    let idx = repo.index_reader().unwrap();
    assert!(store::snapshot::list(&repo, &idx, None).unwrap().is_empty());
    let warnings = repo.take_warnings();
    assert!(warnings.iter().any(|w| w.contains(&s.snapshot.id.to_hex())), "{warnings:?}");
}

/// A reader that fails after `ok` bytes, like a dump tool's pipe breaking.
struct Failing {
    data: Vec<u8>,
    pos: usize,
    ok: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.ok {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "producer died"));
        }
        let n = buf.len().min(self.ok - self.pos).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[test]
fn a_failed_input_commits_nothing_and_the_next_ingest_works() {
    let t = TestRepo::new(small_chunks());
    let good = t.ingest("shop", &text(10_000));
    let data = text(400_000);
    let r = ingest(&t.repo, Failing { data: data.clone(), pos: 0, ok: data.len() / 2 }, IngestOptions { db: "shop".into(), ..Default::default() });
    assert!(matches!(r, Err(StoreError::Input { .. })), "{r:?}");
    let idx = t.repo.index_reader().unwrap();
    assert_eq!(store::snapshot::list(&t.repo, &idx, None).unwrap().len(), 1, "no snapshot from a failed stream");
    drop(idx);
    assert_eq!(t.restore(&good.snapshot).unwrap(), text(10_000));
    let next = t.ingest("shop", &data);
    assert_eq!(next.snapshot.manifest.parent, Some(good.snapshot.id));
    assert_eq!(t.restore(&next.snapshot).unwrap(), data);
}

/// A file given as a leased input (mapped, not read) that someone opens for writing after the
/// first batch, or once every batch is read: the ingest stops with an input error, commits
/// nothing, and every blob it stored is sound.
#[cfg(target_os = "linux")]
#[test]
fn a_mapped_input_file_opened_for_writing_mid_ingest_commits_nothing() {
    use std::sync::Arc;
    use store::ingest::{Input, PinnedFile, ingest_input};
    let t = TestRepo::new(small_chunks());
    let good = t.ingest("shop", &text(10_000));
    let data = text(400_000);
    let path = t.dir.path().join("dump.sql");
    for at_the_end in [false, true] {
        std::fs::write(&path, &data).unwrap();
        let leased = Arc::new(PinnedFile::pin(std::fs::File::open(&path).unwrap()).expect("a file of ours is leased"));
        let writer = std::sync::Mutex::new(None);
        let progress = |done: u64| {
            let mut w = writer.lock().unwrap();
            if w.is_none() && (!at_the_end || done == data.len() as u64) {
                // A writer opens the file, and waits for the lease's release.
                let p = path.clone();
                *w = Some(std::thread::spawn(move || {
                    use std::io::Write;
                    std::fs::OpenOptions::new().append(true).open(p).unwrap().write_all(b"-- more\n").unwrap();
                }));
                while leased.intact() {
                    std::thread::yield_now();
                }
            }
        };
        let input = Input::<&[u8]>::Pinned(Arc::clone(&leased));
        let r = ingest_input(&t.repo, input, IngestOptions { db: "shop".into(), progress: Some(&progress), ..Default::default() });
        let Err(StoreError::Input { source, .. }) = &r else { panic!("at the end: {at_the_end}: {r:?}") };
        assert!(source.to_string().contains("opened for writing or truncated while it was read"), "{source}");
        drop(leased);
        writer.into_inner().unwrap().expect("the writer was started").join().unwrap();
    }
    let idx = t.repo.index_reader().unwrap();
    assert_eq!(store::snapshot::list(&t.repo, &idx, None).unwrap().len(), 1, "no snapshot from a changed file");
    drop(idx);
    // Everything stored, listed or not, is sound: every blob of every pack proves its id.
    store::repair::index(&t.repo, false, None).unwrap();
    let report = store::check::check(&t.repo, store::check::ReadData::All, None).unwrap();
    assert!(report.ok() && report.packs_read == report.packs && report.unindexed_packs == 0, "{report:?}");
    assert_eq!(t.restore(&good.snapshot).unwrap(), text(10_000));
}

#[test]
fn invalid_db_names_are_refused() {
    let t = TestRepo::new(fast_init());
    for bad in ["", "a\nb"] {
        let r = ingest(&t.repo, &b"x"[..], IngestOptions { db: bad.into(), ..Default::default() });
        assert!(matches!(r, Err(StoreError::Invalid(_))));
    }
}

#[test]
fn a_config_is_reconstructed_when_no_key_file_holds_a_copy() {
    let mut t = TestRepo::new(fast_init());
    let data = text(5_000);
    let s = t.ingest("shop", &data);
    let original = repo_format::config::Config::decode(&std::fs::read(t.path().join("config")).unwrap()).unwrap().verify(t.repo.keys()).unwrap();
    // A key file as written before config copies existed (named by its new bytes).
    for k in std::fs::read_dir(t.path().join("keys")).unwrap() {
        let path = k.unwrap().path();
        let mut kf = repo_format::keyfile::KeyFile::decode(&std::fs::read(&path).unwrap()).unwrap();
        assert!(kf.sealed_config().is_some(), "new key files hold a copy of the config");
        kf.config = None;
        let bytes = kf.encode();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(t.path().join("keys").join(repo_format::Id::of_bytes(&bytes).to_hex()), bytes).unwrap();
    }
    std::fs::remove_file(t.path().join("config")).unwrap();
    let err = Repository::open(&t.path(), PASSWORD).unwrap_err();
    assert!(matches!(err, StoreError::ConfigLost { .. }) && err.to_string().contains("repair config"), "{err}");
    let backend = store::backend::LocalBackend::new(t.path());
    assert!(matches!(store::repair::config(&backend, b"wrong"), Err(StoreError::WrongPassword { .. })));
    let r = store::repair::config(&backend, PASSWORD).unwrap();
    assert_eq!((r.id, r.from_key), (original.id, None));
    assert!(r.warnings[0].contains("reconstructed"), "{:?}", r.warnings);
    t.reopen();
    let c = t.repo.config();
    assert_eq!((c.version, c.chunker, c.deltas, c.compression_level), (original.version, original.chunker, original.deltas, original.compression_level));
    assert_eq!(t.restore(&s.snapshot).unwrap(), data);
    // The next ingest of the same dump deduplicates: same chunker, same seed.
    assert_eq!(t.ingest("shop", &data).snapshot.manifest.added.chunks, 0);
}

#[test]
fn a_segment_deleted_by_hand_is_found_by_check_and_repaired() {
    let t = TestRepo::new(small_chunks());
    let data = noise(1 << 20, 21);
    let s = t.ingest("shop", &data);
    // The index on this machine still lists the segment's entries; `snapshots/` is unchanged.
    for seg in std::fs::read_dir(t.path().join("index")).unwrap() {
        std::fs::remove_file(seg.unwrap().path()).unwrap();
    }
    let r = store::check::check(&t.repo, store::check::ReadData::No, None).unwrap();
    assert!(!r.ok() && r.damaged.len() == 1 && r.damaged[0].missing > 0, "{r:?}");
    assert!(r.problems.iter().any(|p| p.contains("repair index")), "the way back is named: {:?}", r.problems);
    store::repair::index(&t.repo, false, None).unwrap();
    let r = store::check::check(&t.repo, store::check::ReadData::All, None).unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(t.restore(&s.snapshot).unwrap(), data);
}
