//! The backend conformance suite: what every backend must do (put/get/range/size/list/delete and
//! create-if-absent), run against the local folder and against a real S3 server (SeaweedFS, started
//! here on loopback; `./test.sh` installs it).

use std::time::Duration;

use dbvault_benches::seaweed::{ACCESS_KEY, SECRET_KEY, Seaweed};
use store::backend::{Backend, BackendError, LocalBackend, S3Backend, S3Location, S3Options};

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
