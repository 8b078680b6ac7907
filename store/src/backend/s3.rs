//! The S3 backend: objects in a bucket of an S3-compatible store, through `object_store`.
//!
//! Repository URLs (SPEC.md, "Backends"):
//! - `s3:http://127.0.0.1:8333/bucket/prefix`: an endpoint (MinIO, SeaweedFS, Ceph, R2, ...),
//!   addressed path-style, with an optional key prefix;
//! - `s3://bucket/prefix`: Amazon S3 itself, virtual-hosted style.
//!
//! Credentials and region come from the usual environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` / `AWS_DEFAULT_REGION`). Requests
//! that fail transiently (connection refused or reset, 5xx, throttling) are retried with
//! exponential backoff by the client; a request that still fails is a
//! [`BackendError::Remote`]. Creation of an object that must not exist uses a conditional PUT
//! (`If-None-Match: *`), so two writers can never both create `config`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig};

use super::{Backend, BackendError};

/// Concurrent pack uploads per ingest.
const PARALLEL_PUTS: usize = 4;

/// Where an S3 repository is: endpoint (none for Amazon S3), bucket, key prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// `http(s)://host[:port]` of an S3-compatible server; `None` for Amazon S3.
    pub endpoint: Option<String>,
    /// The bucket (must exist).
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
}

impl FromStr for S3Location {
    type Err = String;

    /// Parse `s3:http(s)://host[:port]/bucket[/prefix]` or `s3://bucket[/prefix]`.
    fn from_str(url: &str) -> Result<S3Location, String> {
        let shown = crate::redact::text(url);
        let bad = |why: &str| format!("{shown:?} is not an S3 repository URL ({why}); use s3:http://HOST:PORT/BUCKET/PREFIX or s3://BUCKET/PREFIX");
        let (endpoint, path) = if let Some(rest) = url.strip_prefix("s3://") {
            (None, rest)
        } else if let Some(rest) = url.strip_prefix("s3:") {
            let (scheme, after) = rest.split_once("://").ok_or_else(|| bad("no http:// or https:// endpoint"))?;
            if scheme != "http" && scheme != "https" {
                return Err(bad("the endpoint must be http:// or https://"));
            }
            let (host, path) = after.split_once('/').unwrap_or((after, ""));
            if host.is_empty() {
                return Err(bad("no host"));
            }
            if host.contains('@') {
                return Err(bad("credentials do not belong in the URL, where they would be shown and logged: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
            }
            (Some(format!("{scheme}://{host}")), path)
        } else {
            return Err(bad("it does not start with s3:"));
        };
        let path = path.trim_matches('/');
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        if !prefix.is_empty() && prefix.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(bad("empty, . or .. part in the prefix"));
        }
        Ok(S3Location { endpoint, bucket: bucket.to_string(), prefix: prefix.to_string() })
    }
}

impl fmt::Display for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint {
            Some(e) => write!(f, "s3:{e}/{}", self.bucket)?,
            None => write!(f, "s3://{}", self.bucket)?,
        }
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// A repository in an S3 bucket. Calls block the calling thread on a small private runtime.
pub struct S3Backend {
    store: AmazonS3,
    location: S3Location,
    runtime: tokio::runtime::Runtime,
}

impl fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Backend").field("location", &self.location).finish()
    }
}

/// The value of the first of the environment variables `names` that is set and not empty.
fn env_any(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// Credentials, region and patience for an S3 connection.
#[derive(Clone, Debug)]
pub struct S3Options {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// `AWS_REGION` or `AWS_DEFAULT_REGION`; `us-east-1` when `None`.
    pub region: Option<String>,
    /// How long one request is retried before it fails.
    pub retry_timeout: Duration,
}

impl S3Options {
    /// Credentials and region from the usual `AWS_*` environment variables.
    pub fn from_env(retry_timeout: Duration) -> S3Options {
        S3Options {
            access_key_id: env_any(&["AWS_ACCESS_KEY_ID"]),
            secret_access_key: env_any(&["AWS_SECRET_ACCESS_KEY"]),
            session_token: env_any(&["AWS_SESSION_TOKEN"]),
            region: env_any(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            retry_timeout,
        }
    }
}

impl S3Backend {
    /// Connect to `location`.
    pub fn new(location: S3Location, opts: S3Options) -> Result<S3Backend, BackendError> {
        let fail = |why: String| BackendError::Remote { key: location.to_string(), source: why.into() };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(opts.region.unwrap_or_else(|| "us-east-1".into()))
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                backoff: BackoffConfig { init_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(10), base: 2.0 },
                max_retries: 10,
                retry_timeout: opts.retry_timeout,
            });
        match (opts.access_key_id, opts.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(token) = opts.session_token {
                    builder = builder.with_token(token);
                }
            }
            (None, None) if location.endpoint.is_none() => {} // Amazon S3: instance or task credentials
            _ => return Err(fail("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the S3 endpoint".into())),
        }
        if let Some(endpoint) = &location.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://")).with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(|e| fail(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dbvault-s3")
            .enable_all()
            .build()
            .map_err(|e| fail(format!("starting the S3 client: {e}")))?;
        Ok(S3Backend { store, location, runtime })
    }

    /// The bucket and prefix this backend reads and writes.
    pub fn location(&self) -> &S3Location {
        &self.location
    }

    fn path(&self, key: &str) -> ObjectPath {
        if self.location.prefix.is_empty() { ObjectPath::from(key) } else { ObjectPath::from(format!("{}/{key}", self.location.prefix)) }
    }

    fn error(&self, key: &str, e: object_store::Error) -> BackendError {
        match e {
            // A missing bucket reads as "not found" too: say what is missing.
            e if e.to_string().contains("NoSuchBucket") => BackendError::Remote {
                key: key.to_string(),
                source: format!("bucket {:?} does not exist on the server; create it first", self.location.bucket).into(),
            },
            object_store::Error::NotFound { .. } => BackendError::NotFound { key: key.to_string() },
            object_store::Error::AlreadyExists { .. } => BackendError::AlreadyExists { key: key.to_string() },
            other => BackendError::Remote { key: key.to_string(), source: Box::new(other) },
        }
    }

    fn put(&self, key: &str, bytes: PutPayload, mode: PutMode) -> Result<(), BackendError> {
        let opts = PutOptions { mode, ..PutOptions::default() };
        self.runtime.block_on(self.store.put_opts(&self.path(key), bytes, opts)).map(drop).map_err(|e| self.error(key, e))
    }
}

impl Backend for S3Backend {
    fn get(&self, key: &str) -> Result<Vec<u8>, BackendError> {
        self.runtime
            .block_on(async { self.store.get(&self.path(key)).await?.bytes().await })
            .map(Vec::from)
            .map_err(|e| self.error(key, e))
    }

    fn get_range(&self, key: &str, offset: u64, len: usize) -> Result<Vec<u8>, BackendError> {
        let end = offset + len as u64;
        if len == 0 {
            let size = self.size(key)?;
            return if size < end { Err(BackendError::Short { key: key.to_string(), end, size }) } else { Ok(Vec::new()) };
        }
        let got = match self.runtime.block_on(self.store.get_range(&self.path(key), offset..end)) {
            Ok(b) if b.len() == len => return Ok(Vec::from(b)),
            other => other,
        };
        // A range past the end is refused (416) or cut short: tell a truncated object apart.
        if let Ok(size) = self.size(key)
            && size < end
        {
            return Err(BackendError::Short { key: key.to_string(), end, size });
        }
        match got {
            Ok(b) => Err(BackendError::Remote { key: key.to_string(), source: format!("asked for {len} bytes, got {}", b.len()).into() }),
            Err(e) => Err(self.error(key, e)),
        }
    }

    fn size(&self, key: &str) -> Result<u64, BackendError> {
        self.runtime.block_on(self.store.head(&self.path(key))).map(|m| m.size).map_err(|e| self.error(key, e))
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<(), BackendError> {
        match self.put(key, PutPayload::from(bytes.to_vec()), PutMode::Create) {
            // A retried request whose first attempt landed finds its own bytes there.
            Err(BackendError::AlreadyExists { .. }) if self.get(key).is_ok_and(|there| there == bytes) => Ok(()),
            other => other,
        }
    }

    fn put_new_file(&self, key: &str, file: &Path) -> Result<(), BackendError> {
        let bytes = std::fs::read(file).map_err(|e| BackendError::from_io(key, e))?;
        // Content-addressed: an object already there has these bytes, so overwriting is harmless
        // and makes the request idempotent (safe to retry after a timeout).
        self.put(key, PutPayload::from(bytes), PutMode::Overwrite)?;
        std::fs::remove_file(file).map_err(|e| BackendError::from_io(key, e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let folder = self.path(prefix.trim_end_matches('/'));
        let strip = if self.location.prefix.is_empty() { String::new() } else { format!("{}/", self.location.prefix) };
        let metas: Vec<_> = self.runtime.block_on(self.store.list(Some(&folder)).try_collect()).map_err(|e: object_store::Error| self.error(if prefix.is_empty() { "the bucket's listing" } else { prefix }, e))?;
        Ok(metas.into_iter().filter_map(|m| m.location.as_ref().strip_prefix(&strip).map(str::to_string)).collect())
    }

    fn delete(&self, key: &str) -> Result<(), BackendError> {
        match self.runtime.block_on(self.store.delete(&self.path(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(key, e)),
        }
    }

    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }

    fn parallel_puts(&self) -> usize {
        PARALLEL_PUTS
    }

    fn describe(&self) -> String {
        self.location.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_endpoint_bucket_and_prefix() {
        let l: S3Location = "s3:http://127.0.0.1:8333/bucket/some/prefix/".parse().unwrap();
        assert_eq!(l, S3Location { endpoint: Some("http://127.0.0.1:8333".into()), bucket: "bucket".into(), prefix: "some/prefix".into() });
        assert_eq!(l.to_string(), "s3:http://127.0.0.1:8333/bucket/some/prefix");
        let l: S3Location = "s3://b".parse().unwrap();
        assert_eq!(l, S3Location { endpoint: None, bucket: "b".into(), prefix: String::new() });
        assert_eq!(l.to_string(), "s3://b");
        for bad in ["s3:", "s3:ftp://h/b", "s3:http:///b", "s3:http://h", "s3://", "s3://b/x//y", "s3://b/../y", "/tmp/x"] {
            let e = bad.parse::<S3Location>().unwrap_err();
            assert!(e.contains("not an S3 repository URL"), "{bad}: {e}");
        }
        let e = "s3:http://AKIA:S3CRET@127.0.0.1:9/b/p".parse::<S3Location>().unwrap_err();
        assert!(e.contains("credentials do not belong in the URL") && !e.contains("S3CRET"), "{e}");
    }
}
