//! The S3 backend, through `object_store` (any S3-compatible server).
//!
//! Endpoint, credentials and region come from the standard AWS environment variables
//! (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ALLOW_HTTP`). Create-if-absent is `If-None-Match: *`, if-match is `If-Match: <ETag>`
//! (`PutMode::Create` / `PutMode::Update`); both are atomic on the server.
//!
//! object_store is async; the backend owns a current-thread tokio runtime and blocks on it.
//! Several threads may call in at once: tokio lets one of them drive the I/O while the others
//! wait, so push's worker threads get real request concurrency without a thread pool here.

use std::ops::Range;
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as KeyPath;
use object_store::{
    BackoffConfig, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload, RetryConfig, UpdateVersion,
};

use super::{Backend, Blob, Error, Meta, Retry, Version};

/// A remote in an S3 bucket under a key prefix.
pub struct S3 {
    store: Arc<dyn ObjectStore>,
    /// The same client, typed: presigning is AmazonS3's, not ObjectStore's.
    signer: Arc<object_store::aws::AmazonS3>,
    runtime: tokio::runtime::Runtime,
    bucket: String,
    prefix: String,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3({})", self.url())
    }
}

static CRYPTO: Once = Once::new();

impl S3 {
    /// Connects (lazily) to `bucket`, keys under `prefix`, with a short retry policy.
    pub fn new(bucket: &str, prefix: &str, retry: Retry) -> Result<S3, Error> {
        // We build rustls with ring instead of aws-lc (a much shorter build); it has to be
        // installed as the process default before the HTTP client is created.
        CRYPTO.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let s3_err = |source| Error::S3 {
            what: "configuring",
            key: format!("s3://{bucket}"),
            source,
        };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: retry.backoff,
                    max_backoff: retry.backoff.saturating_mul(8),
                    base: 2.0,
                },
                max_retries: retry.retries as usize,
                retry_timeout: retry.timeout,
            });
        // Local test servers take any region; a missing one would make the builder guess.
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        let store = builder.build().map_err(s3_err)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the S3 runtime", "<tokio>", e))?;
        let signer = Arc::new(store);
        Ok(S3 {
            store: signer.clone(),
            signer,
            runtime,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    fn path(&self, key: &str) -> KeyPath {
        if self.prefix.is_empty() {
            KeyPath::from(key)
        } else {
            KeyPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn rel(&self, location: &KeyPath) -> String {
        let full = location.as_ref();
        if self.prefix.is_empty() {
            full.to_string()
        } else {
            full.strip_prefix(&self.prefix)
                .map(|s| s.trim_start_matches('/'))
                .unwrap_or(full)
                .to_string()
        }
    }

    fn err(&self, what: &'static str, key: &str, source: object_store::Error) -> Error {
        Error::S3 {
            what,
            key: self.path(key).to_string(),
            source,
        }
    }
}

fn version(e_tag: Option<String>, version: Option<String>) -> Version {
    Version(e_tag.or(version).unwrap_or_default())
}

impl Backend for S3 {
    fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error> {
        let path = self.path(prefix.trim_end_matches('/'));
        let listed: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(Some(&path)).try_collect())
            .map_err(|e| self.err("listing", prefix, e))?;
        Ok(listed
            .into_iter()
            .map(|m| Meta {
                key: self.rel(&m.location),
                size: m.size,
                version: Some(version(m.e_tag, m.version)),
            })
            .collect())
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        let path = self.path(key);
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.runtime.block_on(async {
            let r = self.store.get_opts(&path, opts).await?;
            let meta = r.meta.clone();
            let bytes = r.bytes().await?;
            Ok::<_, object_store::Error>((meta, bytes))
        });
        match result {
            Ok((meta, bytes)) => Ok(Some(Blob {
                bytes: bytes.to_vec(),
                version: version(meta.e_tag, meta.version),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("reading", key, e)),
        }
    }

    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        match self.runtime.block_on(self.store.head(&self.path(key))) {
            Ok(m) => Ok(Some(Meta {
                key: key.to_string(),
                size: m.size,
                version: Some(version(m.e_tag, m.version)),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("checking", key, e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        let payload = PutPayload::from(bytes.to_vec());
        let r = self
            .runtime
            .block_on(self.store.put(&self.path(key), payload))
            .map_err(|e| self.err("writing", key, e))?;
        Ok(version(r.e_tag, r.version))
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self
            .runtime
            .block_on(self.store.put_opts(&self.path(key), payload, opts))
        {
            Ok(_) => Ok(true),
            // S3 answers 412 to If-None-Match on an existing key; object_store maps it to
            // AlreadyExists, some servers' 409 to Precondition: both mean "it is there".
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err("creating", key, e)),
        }
    }

    fn put_if_match(&self, key: &str, bytes: &[u8], version_: &Version) -> Result<Version, Error> {
        let opts = PutOptions {
            mode: PutMode::Update(UpdateVersion {
                e_tag: Some(version_.0.clone()),
                version: None,
            }),
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self
            .runtime
            .block_on(self.store.put_opts(&self.path(key), payload, opts))
        {
            Ok(r) => Ok(version(r.e_tag, r.version)),
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::NotFound { .. }) => Err(Error::Precondition {
                key: self.path(key).to_string(),
            }),
            Err(e) => Err(self.err("replacing", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        match self.runtime.block_on(self.store.delete(&self.path(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("deleting", key, e)),
        }
    }

    fn presign_get(&self, key: &str, expires: Duration) -> Result<Option<String>, Error> {
        use object_store::signer::{Method, Signer};
        let path = self.path(key);
        let url = self
            .runtime
            .block_on(self.signer.signed_url(Method::GET, &path, expires))
            .map_err(|e| self.err("presigning", key, e))?;
        Ok(Some(url.to_string()))
    }

    fn atomic_conditionals(&self) -> bool {
        true
    }

    fn put_file_if_absent(&self, key: &str, path: &std::path::Path) -> Result<bool, Error> {
        use std::io::Read;
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io("reading", path, e))?
            .len();
        if size <= super::CHUNK {
            let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
            return self.put_if_absent(key, &bytes);
        }
        // S3 has no create-if-absent for multipart uploads; the key is content-addressed, so
        // a racing upload of it carries the same bytes and overwriting is harmless.
        if self.head(key)?.is_some() {
            return Ok(false);
        }
        let mut file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let location = self.path(key);
        self.runtime
            .block_on(async {
                let mut upload = self.store.put_multipart(&location).await?;
                let result = async {
                    loop {
                        // One part in flight, one chunk in memory, at any object size.
                        let mut buf = vec![0u8; super::CHUNK as usize];
                        let n = read_full(&mut file, &mut buf).map_err(|e| {
                            object_store::Error::Generic {
                                store: "file",
                                source: Box::new(e),
                            }
                        })?;
                        if n == 0 {
                            break;
                        }
                        buf.truncate(n);
                        upload.put_part(PutPayload::from(buf)).await?;
                    }
                    upload.complete().await
                }
                .await;
                if result.is_err() {
                    let _ = upload.abort().await;
                }
                result
            })
            .map_err(|e| self.err("uploading", key, e))?;
        fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
            let mut filled = 0;
            while filled < buf.len() {
                match file.read(&mut buf[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            Ok(filled)
        }
        Ok(true)
    }
}
