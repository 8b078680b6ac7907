//! The backend conformance suite: what every backend must do (put/get/range/size/list/delete and
//! create-if-absent), run against the local folder, memory, and a real S3 server (SeaweedFS,
//! started here on loopback; `./test.sh` installs it). Then each fault the memory backend injects.

use std::time::{Duration, Instant};

use dbvault_benches::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use store::backend::{Backend, BackendError, Fault, LocalBackend, MemoryBackend, Op, S3Backend, S3Location, S3Options};

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every rule of the `Backend` contract, on an empty repository root.
fn conformance(b: &dyn Backend, scratch: &std::path::Path) {
    // Create-if-absent and whole reads.
    b.put_new("snapshots/aa", b"one").unwrap();
    let again = b.put_new("snapshots/aa", b"two").unwrap_err();
    assert!(matches!(again, BackendError::AlreadyExists { .. }), "{again:?}");
    assert_eq!(b.get("snapshots/aa").unwrap(), b"one", "a refused create leaves the object as it was");
    assert!(matches!(b.get("snapshots/zz"), Err(BackendError::NotFound { .. })));
    assert!(matches!(b.size("snapshots/zz"), Err(BackendError::NotFound { .. })));

    // Ranges, and a range past the end told apart as a short object.
    b.put_new("index/seg", b"0123456789").unwrap();
    assert_eq!(b.get_range("index/seg", 2, 3).unwrap(), b"234");
    assert_eq!(b.get_range("index/seg", 0, 10).unwrap(), b"0123456789");
    assert_eq!(b.get_range("index/seg", 10, 0).unwrap(), b"");
    for (off, len) in [(8, 5), (10, 1), (20, 4)] {
        let e = b.get_range("index/seg", off, len).unwrap_err();
        assert!(matches!(e, BackendError::Short { size: 10, .. }), "range {off}+{len}: {e:?}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
    assert!(matches!(b.get_range("index/none", 0, 1), Err(BackendError::NotFound { .. })));
    assert_eq!(b.size("index/seg").unwrap(), 10);

    // Files become objects and are consumed; an existing content-addressed object is fine.
    let pack = vec![7u8; 3 << 20];
    let file = scratch.join("pack");
    std::fs::write(&file, &pack).unwrap();
    b.put_new_file("packs/ab/abcd", &file).unwrap();
    assert!(!file.exists(), "the file is consumed");
    assert_eq!(b.get("packs/ab/abcd").unwrap(), pack);
    std::fs::write(&file, &pack).unwrap();
    b.put_new_file("packs/ab/abcd", &file).unwrap();
    assert!(!file.exists());
    assert!(b.put_new_file("packs/ab/none", &scratch.join("missing")).is_err());

    // Listing: recursive, keys relative to the root, only under the folder asked for.
    b.put_new("packs/cd/cdef", b"p").unwrap();
    b.put_new("keys/k1", b"k").unwrap();
    b.put_new("config", b"c").unwrap();
    assert_eq!(sorted(b.list("packs").unwrap()), vec!["packs/ab/abcd", "packs/cd/cdef"]);
    assert_eq!(sorted(b.list("packs/").unwrap()), vec!["packs/ab/abcd", "packs/cd/cdef"]);
    assert_eq!(b.list("keys").unwrap(), vec!["keys/k1"]);
    assert_eq!(b.list("snapshots").unwrap(), vec!["snapshots/aa"]);
    assert!(b.list("locks").unwrap().is_empty(), "an absent folder lists empty");
    assert!(b.list("pack").unwrap().is_empty(), "a folder name is not a string prefix");

    // Deleting: idempotent.
    b.delete("snapshots/aa").unwrap();
    b.delete("snapshots/aa").unwrap();
    assert!(matches!(b.get("snapshots/aa"), Err(BackendError::NotFound { .. })));
    assert!(b.list("snapshots").unwrap().is_empty());
    b.put_new("snapshots/aa", b"three").unwrap();
    assert_eq!(b.get("snapshots/aa").unwrap(), b"three", "a deleted key can be created again");
}

#[test]
fn local_folder_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    conformance(&LocalBackend::new(&root), dir.path());
}

#[test]
fn memory_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance(&MemoryBackend::new(), dir.path());
    // Faults planned elsewhere change nothing, and a backend that uploads in parallel is the same.
    let b = MemoryBackend::new().with_parallel_puts(4);
    b.inject(Fault::fail(Op::Put).under("elsewhere/").always());
    b.inject(Fault::fail(Op::Get).nth(1_000));
    conformance(&b, dir.path());
    assert_eq!((b.faults_fired(), b.parallel_puts()), (0, 4));
}

/// `op` on `key` of `b` (puts write `bytes`), as a result without its value.
fn run(b: &MemoryBackend, op: Op, key: &str) -> Result<(), BackendError> {
    match op {
        Op::Get => b.get(key).map(drop),
        Op::GetRange => b.get_range(key, 0, 1).map(drop),
        Op::Size => b.size(key).map(drop),
        Op::Put => b.put_new(key, b"new"),
        Op::List => b.list(key).map(drop),
        Op::Delete => b.delete(key),
    }
}

#[test]
fn memory_fails_the_nth_operation_of_a_kind_under_a_prefix() {
    for op in [Op::Get, Op::GetRange, Op::Size, Op::Put, Op::List, Op::Delete] {
        let b = MemoryBackend::new();
        for k in ["packs/1", "packs/2", "packs/3", "index/1", "index/2"] {
            b.set_object(k, b"old");
        }
        let key = |n: u32| if op == Op::List { "packs".to_string() } else { format!("packs/{n}") };
        if op == Op::Put {
            b.remove_object("packs/2");
            b.remove_object("packs/3");
        }
        b.inject(Fault::fail(op).under("packs/").nth(2));
        run(&b, op, match op {
            Op::List => "index",
            Op::Put => "index/3",
            _ => "index/1",
        })
        .unwrap();
        run(&b, op, &key(1)).unwrap_or_else(|e| if op == Op::Put { assert!(matches!(e, BackendError::AlreadyExists { .. })) } else { panic!("{op:?}: {e}") });
        let e = run(&b, op, &key(2)).unwrap_err();
        assert!(matches!(&e, BackendError::Remote { key: k, .. } if *k == key(2)), "{op:?}: {e:?}");
        assert!(e.to_string().contains("fault injected") && e.to_string().contains(&key(2)), "{e}");
        assert_eq!(b.faults_fired(), 1, "{op:?}");
        // Nothing happened to the object, and the fault is spent.
        let expected: Option<&[u8]> = if op == Op::Put { None } else { Some(b"old") };
        assert_eq!(b.object("packs/2").as_deref(), expected, "{op:?}");
        run(&b, op, &key(3)).unwrap();
        assert_eq!(b.count(op, "packs/"), 3, "{op:?}: failed operations are counted too");
        assert_eq!(b.count(op, ""), 4, "{op:?}");
    }
}

#[test]
fn memory_reports_not_found_and_repeats_faults_as_told() {
    let b = MemoryBackend::new();
    b.set_object("snapshots/a", b"m");
    b.inject(Fault::not_found(Op::Get).under("snapshots/").nth(2).times(2));
    let got: Vec<bool> = (0..5).map(|_| b.get("snapshots/a").is_ok()).collect();
    assert_eq!(got, [true, false, false, true, true]);
    assert!(matches!(b.get_range("snapshots/a", 0, 1), Ok(v) if v == b"m"), "another kind of operation is not hit");
    b.inject(Fault::not_found(Op::List).always());
    for _ in 0..3 {
        assert!(matches!(b.list("snapshots"), Err(BackendError::NotFound { key }) if key == "snapshots"));
    }
    assert_eq!(b.faults_fired(), 5);
    b.clear_faults();
    assert_eq!(b.list("snapshots").unwrap(), ["snapshots/a"]);
    assert_eq!(b.count(Op::Get, "snapshots/"), 5);
    b.reset_counts();
    assert_eq!(b.count(Op::Get, ""), 0);
}

#[test]
fn memory_delays_an_operation_and_still_carries_it_out() {
    let b = MemoryBackend::new();
    b.set_object("index/s", b"seg");
    b.inject(Fault::delay(Op::Get, Duration::from_millis(300)).nth(2));
    b.inject(Fault::fail(Op::Get).nth(2));
    let t0 = Instant::now();
    assert_eq!(b.get("index/s").unwrap(), b"seg");
    assert!(t0.elapsed() < Duration::from_millis(300));
    let t1 = Instant::now();
    assert!(matches!(b.get("index/s"), Err(BackendError::Remote { .. })), "a delayed operation can fail too");
    assert!(t1.elapsed() >= Duration::from_millis(300), "{:?}", t1.elapsed());
    assert_eq!(b.faults_fired(), 2);
}

#[test]
fn memory_loses_or_truncates_a_write_it_reports_as_done() {
    let dir = tempfile::tempdir().unwrap();
    let b = MemoryBackend::new();
    b.inject(Fault::lose_write().under("packs/"));
    b.put_new("index/s", b"kept").unwrap();
    let file = dir.path().join("pack");
    std::fs::write(&file, b"0123456789").unwrap();
    b.put_new_file("packs/ab/p", &file).unwrap();
    assert!(!file.exists(), "the file is consumed as if it were stored");
    assert!(matches!(b.get("packs/ab/p"), Err(BackendError::NotFound { .. })));
    assert!(b.list("packs").unwrap().is_empty());
    assert_eq!(b.get("index/s").unwrap(), b"kept");

    b.inject(Fault::truncate_write(4));
    b.put_new("snapshots/m", b"0123456789").unwrap();
    assert_eq!(b.get("snapshots/m").unwrap(), b"0123");
    assert!(matches!(b.get_range("snapshots/m", 2, 5), Err(BackendError::Short { end: 7, size: 4, .. })));
    b.put_new("snapshots/n", b"whole").unwrap();
    assert_eq!(b.size("snapshots/n").unwrap(), 5, "the fault is spent");
    assert_eq!(b.faults_fired(), 2);
}

#[test]
fn memory_stores_a_write_whose_reply_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let b = MemoryBackend::new();
    b.inject(Fault::fail_after_storing().times(3));
    let e = b.put_new("config", b"c").unwrap_err();
    assert!(matches!(e, BackendError::Remote { .. }), "{e:?}");
    assert_eq!(b.object("config").as_deref(), Some(&b"c"[..]), "it landed");
    assert!(matches!(b.put_new("config", b"c"), Err(BackendError::AlreadyExists { .. })), "create-only, also for a retry");
    let file = dir.path().join("pack");
    std::fs::write(&file, b"p").unwrap();
    assert!(b.put_new_file("packs/00/p", &file).is_err());
    assert!(file.exists(), "a failed upload keeps its file");
    b.put_new_file("packs/00/p", &file).unwrap();
    assert!(!file.exists());
    assert_eq!(b.get("packs/00/p").unwrap(), b"p");
}

#[test]
fn memory_locations_are_equal_only_when_they_are_the_same_backend() {
    use std::sync::Arc;
    use store::Location;
    let (a, b) = (Arc::new(MemoryBackend::new()), Arc::new(MemoryBackend::new()));
    assert_eq!(Location::Memory(a.clone()), Location::Memory(a.clone()));
    assert_ne!(Location::Memory(a.clone()), Location::Memory(b));
    assert_eq!(Location::Memory(a.clone()).to_string(), a.describe());
    assert!(a.describe().starts_with("memory:"));
}

fn s3_options() -> S3Options {
    S3Options {
        access_key_id: Some(ACCESS_KEY.into()),
        secret_access_key: Some(SECRET_KEY.into()),
        session_token: None,
        region: None,
        retry_timeout: Duration::from_secs(10),
    }
}

#[test]
fn s3_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let server = Seaweed::start(dir.path(), "conformance");
    // Twice: at the bucket's root and under a prefix, which must isolate the two.
    let at_root: S3Location = server.url("").parse().unwrap();
    let prefixed: S3Location = server.url("team/shop").parse().unwrap();
    assert_eq!(prefixed.prefix, "team/shop");
    let b = S3Backend::new(prefixed, s3_options()).unwrap();
    conformance(&b, dir.path());
    let root = S3Backend::new(at_root, s3_options()).unwrap();
    assert!(root.list("packs").unwrap().is_empty(), "the prefix's objects are not at the root");
    conformance(&root, dir.path());
    assert_eq!(b.list("keys").unwrap(), vec!["keys/k1"], "the root's objects are not under the prefix");
}

#[test]
fn s3_with_wrong_credentials_or_no_server_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Seaweed::start(dir.path(), "creds");
    let loc: S3Location = server.url("p").parse().unwrap();
    let wrong = S3Backend::new(loc.clone(), S3Options { secret_access_key: Some("wrong".into()), ..s3_options() }).unwrap();
    let e = wrong.get("config").unwrap_err();
    assert!(matches!(e, BackendError::Remote { .. }), "a refused signature is not 'not found': {e:?}");
    let mut missing = loc.clone();
    missing.bucket = "no-such-bucket".into();
    let e = S3Backend::new(missing, s3_options()).unwrap().list("keys").unwrap_err();
    assert!(e.to_string().contains("bucket \"no-such-bucket\" does not exist"), "{e}");
    let none = S3Backend::new(loc.clone(), S3Options { access_key_id: None, ..s3_options() }).unwrap_err();
    assert!(none.to_string().contains("AWS_ACCESS_KEY_ID"), "{none}");
    server.stop();
    let gone = S3Backend::new(loc, S3Options { retry_timeout: Duration::from_secs(1), ..s3_options() }).unwrap();
    let t0 = std::time::Instant::now();
    let e = gone.put_new("config", b"x").unwrap_err();
    assert!(matches!(e, BackendError::Remote { .. }), "{e:?}");
    assert!(t0.elapsed() < Duration::from_secs(30), "retries are bounded by the retry timeout: {:?}", t0.elapsed());
}
