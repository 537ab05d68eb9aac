//! Remotes: a `.msez`-shaped layout on a local directory, an S3 bucket or an IPFS node.
//!
//! A [`Backend`] is a handful of verbs on keys (`objects/vc/<hex>.json`, `refs/...`); it knows
//! nothing about artifacts. [`Url`] parses what the user typed and [`open`] picks the backend.
//! [`layout`] owns the key names and the format file, [`lease`] guards backends without
//! conditional writes, [`root`] reads a remote as a lazy `--store-root`, [`sync`] holds push, fetch, pull and clone on top, and [`fsck`] checks a remote in place.
//!
//! Write order on a remote (docs/formats.md, "Remotes"): objects and proof files first
//! (create-if-absent, never overwritten), then each ref with a conditional write, so a reader
//! that sees a ref always finds what it names.

pub mod aws;
pub mod checkpoint;
mod error;
pub mod fsck;
pub mod gc;
mod ipfs;
pub mod layout;
pub mod lease;
mod local;
pub mod porcelain;
pub mod reflock;
mod retry;
pub mod root;
mod s3;
pub mod stats;
pub mod sync;
pub mod throttle;
mod url;

pub use error::{Error, S3Failure};
pub use ipfs::Ipfs;
pub use local::Local;
pub use reflock::RefLocked;
pub use retry::{Retry, Retrying, Traffic, set_notifier, traffic};
pub use s3::S3;
pub use url::Url;

use std::io::Write;
use std::ops::Range;
use std::path::Path;

/// The part size of multipart uploads and ranged downloads: memory per transfer stays at this.
pub const CHUNK: u64 = 8 << 20;

/// An opaque token naming one stored version of a key (an S3 ETag, an IPFS CID, a local hash).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version(pub String);

/// A key's bytes and the version they were read at.
#[derive(Clone, Debug)]
pub struct Blob {
    /// The bytes (the requested range only, for ranged reads).
    pub bytes: Vec<u8>,
    /// The version of the whole key when it was read.
    pub version: Version,
}

/// What `head` and `list` say about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The key, relative to the remote's root.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its version, when the backend reports one.
    pub version: Option<Version>,
    /// When it was last written, when the backend's listing says (S3, a directory).
    pub modified: Option<std::time::SystemTime>,
}

/// A key of a remote that is not a regular file (see [`Backend::irregular`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Irregular {
    /// The key, control characters escaped.
    pub key: String,
    /// What it is instead.
    pub why: &'static str,
}

/// The verbs every remote storage offers; keys are `/`-separated and relative to the remote.
pub trait Backend: Send + Sync {
    /// The URL this backend was opened from (for messages).
    fn url(&self) -> String;
    /// Every key under `prefix` (recursively), in no particular order.
    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error>;
    /// A key's bytes (or a byte range of them); None when the key does not exist.
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error>;
    /// A key's size and version; None when it does not exist.
    fn head(&self, key: &str) -> Result<Option<Meta>, Error>;
    /// Writes a key unconditionally.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error>;
    /// Writes a key only if it does not exist; false (and nothing written) when it did.
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error>;
    /// Replaces a key only if it still has `version`; a mismatch is [`Error::Precondition`].
    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error>;
    /// Removes a key (absent is success).
    fn delete(&self, key: &str) -> Result<(), Error>;
    /// Keys under `prefix` that are not regular files (a symlink, FIFO, socket or device in a
    /// directory remote), with why, named with control characters escaped. They are listed
    /// like any key (so a fetch refuses them), but checkers report them and skip them:
    /// `fsck --remote` and `gc --remote` never read, follow or delete them. Only a directory
    /// remote can hold one.
    fn irregular(&self, _prefix: &str) -> Result<Vec<Irregular>, Error> {
        Ok(Vec::new())
    }
    /// Whether `put_if_absent`/`put_if_match` are atomic against other writers. A backend
    /// without them is single-writer: push holds a [`lease`] for its whole run.
    fn atomic_conditionals(&self) -> bool;

    /// A URL anyone can GET the key from until `expires` has passed, signed with our
    /// credentials; None when the backend cannot presign (only S3 can).
    fn presign_get(
        &self,
        _key: &str,
        _expires: std::time::Duration,
    ) -> Result<Option<String>, Error> {
        Ok(None)
    }

    /// Uploads a file unless the key exists, telling `on_bytes` of the bytes as they go (for
    /// progress and pacing). Only for content-addressed keys: a racing writer of the same key
    /// writes the same bytes, so backends may stream without a precondition.
    fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        on_bytes: &dyn Fn(u64),
    ) -> Result<bool, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let created = self.put_if_absent(key, &bytes)?;
        on_bytes(bytes.len() as u64);
        Ok(created)
    }

    /// Streams a key into `out` in [`CHUNK`]-sized ranges; None when the key does not exist.
    fn get_to(&self, key: &str, out: &mut dyn Write) -> Result<Option<u64>, Error> {
        let Some(meta) = self.head(key)? else {
            return Ok(None);
        };
        let mut at = 0;
        while at < meta.size {
            let end = (at + CHUNK).min(meta.size);
            let Some(part) = self.get(key, Some(at..end))? else {
                return Ok(None);
            };
            if part.bytes.is_empty() {
                break;
            }
            out.write_all(&part.bytes)
                .map_err(|e| Error::io("writing a download of", key, e))?;
            at += part.bytes.len() as u64;
        }
        Ok(Some(at))
    }
}

/// Opens the backend a URL names, with the AWS chain's defaults for S3.
pub fn open(url: &Url, retry: Retry) -> Result<Box<dyn Backend>, Error> {
    open_with(url, retry, &aws::Settings::default())
}

/// Opens the backend a URL names, with a named remote's S3 settings.
pub fn open_with(
    url: &Url,
    retry: Retry,
    settings: &aws::Settings,
) -> Result<Box<dyn Backend>, Error> {
    Ok(match url {
        // Wrapped too, for its request and byte counts (its errors are never transient).
        Url::Local(path) => Box::new(Retrying {
            inner: Local::new(path),
            retry,
        }),
        // If-Match alone is not enough on every S3 server (see `reflock`).
        // Retries inside the ref lock: its steps are retried one by one, never the whole
        // lock-write-unlock sequence.
        Url::S3 { bucket, prefix } => {
            let s3 = Retrying {
                inner: S3::with_settings(bucket, prefix, retry, settings)?,
                retry,
            };
            // Only the user can say the server's If-Match is atomic; the default assumes not.
            match settings.atomic_if_match {
                true => Box::new(s3),
                false => Box::new(RefLocked(s3)),
            }
        }
        Url::Ipfs { api, name } => Box::new(Retrying {
            inner: Ipfs::new(api, name),
            retry,
        }),
    })
}
