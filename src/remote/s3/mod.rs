//! The S3 backend, through `object_store` (any S3-compatible server).
//!
//! Endpoint, credentials and region come from the AWS configuration chain ([`super::aws`]:
//! the remote's settings, the environment, the shared config and credentials files, web
//! identity, container and EC2 metadata credentials). Create-if-absent is `If-None-Match: *`, if-match is `If-Match: <ETag>`
//! (`PutMode::Create` / `PutMode::Update`); both are atomic on the server.
//!
//! object_store is async; the backend owns a current-thread tokio runtime and blocks on it.
//! Several threads may call in at once: tokio lets one of them drive the I/O while the others
//! wait, so push's worker threads get real request concurrency without a thread pool here.

use std::ops::Range;
use std::sync::{Arc, Once};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as KeyPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload, RetryConfig, UpdateVersion,
};

use super::{Backend, Blob, Error, Meta, Retry, S3Failure, Version, aws};

mod multipart;

/// A remote in an S3 bucket under a key prefix.
pub struct S3 {
    store: Arc<dyn ObjectStore>,
    /// The same client, typed: presigning is AmazonS3's, not ObjectStore's.
    signer: Arc<object_store::aws::AmazonS3>,
    runtime: tokio::runtime::Runtime,
    bucket: String,
    prefix: String,
    /// The HTTP client of listings (made on the first one: it loads the trust store).
    lister: std::sync::OnceLock<ureq::Agent>,
    /// The listing client's whole-request timeout (the remote's `timeout`).
    list_timeout: Duration,
    /// Where the credentials came from.
    source: String,
    /// The remote's per-request timeout, for progress notes.
    timeout: Option<Duration>,
}

/// The variables the AWS chain resolves itself (object_store must not read them on its own:
/// a profile named for the remote beats environment keys).
const CHAIN_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_METADATA_ENDPOINT",
    "AWS_BUCKET",
    "AWS_BUCKET_NAME",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
];

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3({})", self.url())
    }
}

static CRYPTO: Once = Once::new();

impl S3 {
    /// Connects (lazily) to `bucket`, keys under `prefix`, with a short retry policy and the
    /// AWS configuration chain's defaults.
    pub fn new(bucket: &str, prefix: &str, retry: Retry) -> Result<S3, Error> {
        S3::with_settings(bucket, prefix, retry, &aws::Settings::default())
    }

    /// [`S3::new`] under a named remote's own settings ([`super::aws`]).
    pub fn with_settings(
        bucket: &str,
        prefix: &str,
        retry: Retry,
        settings: &aws::Settings,
    ) -> Result<S3, Error> {
        // We build rustls with ring instead of aws-lc (a much shorter build); it has to be
        // installed as the process default before the HTTP client is created.
        CRYPTO.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let what = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let resolved = aws::resolve(settings, &|k| std::env::var(k).ok(), &what)?;
        let s3_err = |e: object_store::Error| Error::S3Config {
            what: what.clone(),
            message: e.to_string(),
        };
        let mut builder = AmazonS3Builder::new();
        // object_store's own tuning variables (checksums, unsigned payload, S3 Express...)
        // still apply; what the chain resolves is set below, from one place.
        for (k, v) in std::env::vars() {
            if k.starts_with("AWS_") && !CHAIN_VARS.contains(&k.as_str()) {
                if let Ok(key) = k.to_ascii_lowercase().parse() {
                    builder = builder.with_config(key, v);
                }
            }
        }
        builder = builder
            .with_bucket_name(bucket)
            .with_region(&resolved.region)
            .with_virtual_hosted_style_request(resolved.virtual_hosted)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: retry.backoff,
                    max_backoff: retry.backoff.saturating_mul(8),
                    base: 2.0,
                },
                // Retries happen in one place, the `Retrying` wrapper `remote::open` puts around
                // this backend, which can say how often and how long it tried; the client's own
                // would multiply with them.
                max_retries: 0,
                retry_timeout: retry.timeout,
            });
        if let Some(e) = &resolved.endpoint {
            builder = builder.with_endpoint(e);
        }
        builder = match resolved.credentials.clone() {
            aws::Credentials::Static { key, secret, token } => {
                let b = builder
                    .with_access_key_id(key)
                    .with_secret_access_key(secret);
                match token {
                    Some(t) => b.with_token(t),
                    None => b,
                }
            }
            aws::Credentials::WebIdentity {
                token_file,
                role_arn,
                session_name,
            } => {
                use object_store::aws::AmazonS3ConfigKey as K;
                let b = builder
                    .with_config(K::WebIdentityTokenFile, token_file)
                    .with_config(K::RoleArn, role_arn);
                match session_name {
                    Some(n) => b.with_config(K::RoleSessionName, n),
                    None => b,
                }
            }
            // object_store reads the container variables itself (passed through above).
            aws::Credentials::Container => builder,
            aws::Credentials::Instance { endpoint } => builder.with_metadata_endpoint(endpoint),
        };
        let mut client = ClientOptions::new().with_allow_http(resolved.allow_http);
        if let Some(t) = settings.timeout {
            client = client.with_timeout(t);
        }
        if let Some(t) = settings.connect_timeout {
            client = client.with_connect_timeout(t);
        }
        let store = builder
            .with_client_options(client)
            .build()
            .map_err(s3_err)?;
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
            lister: std::sync::OnceLock::new(),
            list_timeout: settings.timeout.unwrap_or(Duration::from_secs(120)),
            source: resolved.source,
            timeout: settings.timeout,
        })
    }

    /// Where the credentials came from (`environment`, `profile ci in ~/.aws/credentials`).
    pub fn credentials_source(&self) -> &str {
        &self.source
    }

    fn path(&self, key: &str) -> KeyPath {
        if self.prefix.is_empty() {
            KeyPath::from(key)
        } else {
            KeyPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn err(&self, what: &'static str, key: &str, source: object_store::Error) -> Error {
        Error::S3 {
            what,
            key: self.shown(key),
            failure: Box::new(decode(operation(what), &source)),
        }
    }

    /// `s3://bucket/prefix/key`, escaped for messages.
    fn shown(&self, key: &str) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            super::layout::shown_key(self.path(key).as_ref())
        )
    }

    /// Runs one request, saying every few seconds that it is still waiting (a slow or silent
    /// server is not silence on the terminal).
    fn wait<T>(&self, what: &'static str, key: &str, request: impl Future<Output = T>) -> T {
        use futures_util::future::{Either, select};
        const STEP: Duration = Duration::from_secs(5);
        self.runtime.block_on(async {
            let mut request = std::pin::pin!(request);
            let mut waited = Duration::ZERO;
            loop {
                let tick = std::pin::pin!(tokio::time::sleep(STEP));
                match select(request.as_mut(), tick).await {
                    Either::Left((out, _)) => return out,
                    Either::Right(((), _)) => {
                        waited += STEP;
                        super::retry::notify(&format!(
                            "{} {}: no answer yet after {} s (timeout {})",
                            operation(what),
                            self.shown(key),
                            waited.as_secs(),
                            self.timeout
                                .map(|t| format!("{} s", t.as_secs_f64()))
                                .unwrap_or_else(|| "30 s".into())
                        ));
                    }
                }
            }
        })
    }
}

/// The S3 operation behind one of our verbs (as `aws` names it in errors).
fn operation(what: &str) -> &'static str {
    match what {
        "reading" => "GetObject",
        "checking" => "HeadObject",
        "writing" | "creating" | "replacing" => "PutObject",
        "deleting" => "DeleteObject",
        "uploading" => "multipart upload",
        "listing" => "ListObjectsV2",
        "presigning" => "presigning",
        _ => "request",
    }
}

/// Decodes an object_store error: the status and the S3 error XML's `Code` and `Message`
/// when the server answered, the transport's innermost cause when it did not.
fn decode(operation: &'static str, e: &object_store::Error) -> S3Failure {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut text = String::new();
    let mut kind = None;
    let mut innermost = String::new();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(h) = c.downcast_ref::<HttpError>() {
            kind = Some(h.kind());
        }
        innermost = c.to_string();
        text.push_str(&innermost);
        text.push('\n');
        cause = c.source();
    }
    let status = text
        .find("status code: ")
        .and_then(|at| text.get(at + 13..at + 16))
        .and_then(|s| s.parse::<u16>().ok());
    let code = xml_text(&text, "Code").map(|c| super::layout::shown_key(&c));
    let message = match xml_text(&text, "Message") {
        Some(m) => m,
        // Without an S3 answer, the innermost cause says it best ("Connection refused").
        None if status.is_none() => innermost,
        None => String::new(),
    };
    let mut message = super::layout::shown_key(message.trim());
    if message.len() > 240 {
        let cut = (0..=240)
            .rev()
            .find(|&i| message.is_char_boundary(i))
            .unwrap_or(0);
        message.truncate(cut);
        message.push('…');
    }
    let timed_out = matches!(kind, Some(HttpErrorKind::Timeout)) || text.contains("timed out");
    let unreachable = status.is_none()
        && (matches!(kind, Some(HttpErrorKind::Connect)) || text.contains("onnection refused"));
    let transient = match status {
        Some(s) => s >= 500 || s == 429 || s == 408,
        None => {
            matches!(
                kind,
                Some(
                    HttpErrorKind::Connect
                        | HttpErrorKind::Request
                        | HttpErrorKind::Timeout
                        | HttpErrorKind::Interrupted
                )
            ) || timed_out
                || unreachable
        }
    };
    S3Failure {
        operation,
        status,
        code,
        message,
        transient,
        timed_out,
        unreachable,
        tries: None,
    }
}

/// One page of a ListObjectsV2 answer.
struct ListPage {
    /// (full key, size, ETag, last modified) per object.
    contents: Vec<(String, u64, Option<String>, Option<std::time::SystemTime>)>,
    /// The continuation token when the listing goes on.
    next: Option<String>,
}

impl S3 {
    /// One signed GET of an S3 API answer we parse ourselves (object_store has no call for
    /// it): the body of a 200, or the failure decoded from the error XML.
    fn signed_get(
        &self,
        operation: &'static str,
        what: &'static str,
        key: &str,
        path: &KeyPath,
        query: Vec<(&'static str, String)>,
    ) -> Result<String, Error> {
        use object_store::signer::{Method, SignedUrlOptions, Signer};
        let fail = |failure: S3Failure| Error::S3 {
            what,
            key: self.shown(key),
            failure: Box::new(failure),
        };
        let broken = |why: String| {
            fail(S3Failure {
                operation,
                message: why,
                ..S3Failure::default()
            })
        };
        let options = SignedUrlOptions::new().with_query(query);
        // The signed URL is a credential for a few minutes: it never appears in a message.
        let url = self
            .runtime
            .block_on(self.signer.signed_url_opts(
                Method::GET,
                path,
                Duration::from_secs(300),
                &options,
            ))
            .map_err(|e| self.err(what, key, e))?;
        let agent = match self.lister.get() {
            Some(a) => a,
            None => {
                let roots = crate::http::trust_roots().map_err(|e| broken(e.to_string()))?;
                let agent = crate::http::agent(self.list_timeout, crate::http::Tls::Roots(roots));
                self.lister.get_or_init(|| agent)
            }
        };
        let mut resp = agent.get(url.as_str()).call().map_err(|e| {
            let timed_out = matches!(e, ureq::Error::Timeout(_));
            let unreachable =
                matches!(e, ureq::Error::ConnectionFailed | ureq::Error::HostNotFound)
                    || matches!(&e, ureq::Error::Io(io) if matches!(io.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset));
            fail(S3Failure {
                operation,
                message: crate::http::describe(&e).replace(url.as_str(), "<signed URL>"),
                transient: true,
                timed_out,
                unreachable,
                ..S3Failure::default()
            })
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| {
                fail(S3Failure {
                    operation,
                    message: format!("reading the answer: {}", crate::http::describe(&e)),
                    transient: true,
                    timed_out: matches!(e, ureq::Error::Timeout(_)),
                    ..S3Failure::default()
                })
            })?;
        if status != 200 {
            let message = xml_text(&body, "Message").unwrap_or_default();
            return Err(fail(S3Failure {
                operation,
                status: Some(status),
                code: xml_text(&body, "Code").map(|c| super::layout::shown_key(&c)),
                message: super::layout::shown_key(message.trim()),
                transient: status >= 500 || status == 429 || status == 408,
                ..S3Failure::default()
            }));
        }
        Ok(body)
    }

    /// One ListObjectsV2 request (`encoding-type=url`, so any byte in a key survives the XML).
    fn list_page(&self, prefix: &str, full: &str, token: Option<&str>) -> Result<ListPage, Error> {
        let key = prefix.trim_end_matches('/');
        let broken = |why: String| Error::S3 {
            what: "listing",
            key: self.shown(key),
            failure: Box::new(S3Failure {
                operation: "ListObjectsV2",
                message: why,
                ..S3Failure::default()
            }),
        };
        let mut query = vec![
            ("list-type", "2".to_string()),
            ("encoding-type", "url".to_string()),
        ];
        if !full.is_empty() {
            query.push(("prefix", full.to_string()));
        }
        if let Some(t) = token {
            query.push(("continuation-token", t.to_string()));
        }
        let body = self.signed_get("ListObjectsV2", "listing", key, &KeyPath::from(""), query)?;
        let url_encoded = xml_text(&body, "EncodingType").is_some_and(|e| e == "url");
        let mut contents = Vec::new();
        for item in xml_elements(&body, "Contents") {
            let Some(key) = xml_text(item, "Key") else {
                continue;
            };
            let key = if url_encoded {
                percent_decode(&key)
            } else {
                key
            };
            let size = xml_text(item, "Size")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| broken("a listed object without a size".into()))?;
            // RFC 3339 with milliseconds (`2026-12-07T22:42:37.000Z`); an odd one is no time.
            let modified =
                xml_text(item, "LastModified").and_then(|t| humantime::parse_rfc3339_weak(&t).ok());
            contents.push((key, size, xml_text(item, "ETag"), modified));
        }
        let truncated = xml_text(&body, "IsTruncated").is_some_and(|t| t == "true");
        let next = match xml_text(&body, "NextContinuationToken") {
            Some(t) if truncated && !t.is_empty() => Some(t),
            None | Some(_) if truncated => {
                return Err(broken(
                    "a truncated listing without a continuation token".into(),
                ));
            }
            _ => None,
        };
        Ok(ListPage { contents, next })
    }
}

/// The bodies of every `<name>...</name>` element in `xml`, in order (S3 answers are flat
/// enough that no nesting of the same name occurs).
fn xml_elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&open) {
        let body = &rest[at + open.len()..];
        let Some(end) = body.find(&close) else {
            break;
        };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

/// The unescaped text of the first `<name>` element.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    xml_elements(xml, name).first().map(|t| xml_unescape(t))
}

fn xml_unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Decodes `%XX` escapes (and `+` as a space, as S3's url encoding-type writes it).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(())
                {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
        // object_store fails a whole listing on one key it cannot parse as a path (a newline,
        // `//`): anyone able to write one key would stop every fetch, clone, fsck and gc. So
        // the listing is our own ListObjectsV2 request, signed by object_store, and a key
        // msez could not have written comes back escaped, to be reported and skipped.
        let rel = prefix.trim_end_matches('/');
        let mut full = match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        };
        if !full.is_empty() {
            full.push('/');
        }
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list_page(prefix, &full, token.as_deref())?;
            for (key, size, e_tag, modified) in page.contents {
                let rel = if self.prefix.is_empty() {
                    key.as_str()
                } else {
                    key.strip_prefix(&self.prefix)
                        .and_then(|k| k.strip_prefix('/'))
                        .unwrap_or(&key)
                };
                let key = if super::layout::is_plain_key(rel) {
                    rel.to_string()
                } else {
                    super::layout::shown_key(rel)
                };
                out.push(Meta {
                    key,
                    size,
                    version: Some(version(e_tag, None)),
                    modified,
                });
            }
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        let path = self.path(key);
        let limit = range
            .is_none()
            .then(|| super::layout::max_bytes(key))
            .flatten();
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        // A whole read is bounded by its kind's limit, checked on the answer's headers before
        // the body is read.
        let result = self.wait("reading", key, async {
            let r = self.store.get_opts(&path, opts).await?;
            let meta = r.meta.clone();
            if limit.is_some_and(|l| meta.size > l) {
                return Ok(Err(meta.size));
            }
            let bytes = r.bytes().await?;
            Ok::<_, object_store::Error>(Ok((meta, bytes)))
        });
        match result {
            Ok(Err(size)) => Err(Error::Io {
                what: "refusing remote key",
                path: format!("{}/{}", self.url(), super::layout::shown_key(key)).into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{size} bytes, over the {}-byte limit for its kind",
                        limit.unwrap_or_default()
                    ),
                ),
            }),
            Ok(Ok((meta, bytes))) => Ok(Some(Blob {
                bytes: bytes.to_vec(),
                version: version(meta.e_tag, meta.version),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("reading", key, e)),
        }
    }

    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        match self.wait("checking", key, self.store.head(&self.path(key))) {
            Ok(m) => Ok(Some(Meta {
                key: key.to_string(),
                size: m.size,
                version: Some(version(m.e_tag, m.version)),
                modified: Some(m.last_modified.into()),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("checking", key, e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        let payload = PutPayload::from(bytes.to_vec());
        let r = self
            .wait("writing", key, self.store.put(&self.path(key), payload))
            .map_err(|e| self.err("writing", key, e))?;
        Ok(version(r.e_tag, r.version))
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self.wait(
            "creating",
            key,
            self.store.put_opts(&self.path(key), payload, opts),
        ) {
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
        match self.wait(
            "replacing",
            key,
            self.store.put_opts(&self.path(key), payload, opts),
        ) {
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
        match self.wait("deleting", key, self.store.delete(&self.path(key))) {
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

    fn put_file_if_absent(
        &self,
        key: &str,
        path: &std::path::Path,
        on_bytes: &dyn Fn(u64),
    ) -> Result<bool, Error> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io("reading", path, e))?
            .len();
        if size <= super::CHUNK {
            let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
            let created = self.put_if_absent(key, &bytes)?;
            on_bytes(bytes.len() as u64);
            return Ok(created);
        }
        // S3 has no create-if-absent for multipart uploads; the key is content-addressed, so
        // a racing upload of it carries the same bytes and overwriting is harmless.
        if self.head(key)?.is_some() {
            return Ok(false);
        }
        self.upload_resumable(key, path, on_bytes)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_answers_are_read_whatever_bytes_a_key_holds() {
        let xml = "<ListBucketResult><EncodingType>url</EncodingType>\
            <Contents><Key>p/refs/heads/evil%0Aname%1B%5B31m</Key><Size>1</Size>\
            <ETag>&quot;abc&quot;</ETag></Contents>\
            <Contents><Key>p/objects/a+b%2</Key><Size>2</Size></Contents>\
            <IsTruncated>false</IsTruncated></ListBucketResult>";
        let items = xml_elements(xml, "Contents");
        assert_eq!(items.len(), 2);
        assert_eq!(
            percent_decode(&xml_text(items[0], "Key").unwrap()),
            "p/refs/heads/evil\nname\u{1b}[31m"
        );
        assert_eq!(xml_text(items[0], "ETag").as_deref(), Some("\"abc\""));
        // A truncated escape stays as it is; `+` is a space in S3's url encoding.
        assert_eq!(
            percent_decode(&xml_text(items[1], "Key").unwrap()),
            "p/objects/a b%2"
        );
        assert_eq!(xml_unescape("&#x41;&#66;&bogus;&amp"), "AB&bogus;&amp");
    }
}
