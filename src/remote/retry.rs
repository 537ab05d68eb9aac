//! Retries with exponential backoff for transient transport failures.

use std::cell::Cell;
use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Backend, Blob, Error, Meta, Version};

thread_local! {
    /// Whether this thread is inside a [`Retry::run`]: only the outermost one retries, so a
    /// caller's retry around a [`Retrying`] backend does not multiply the tries.
    static RETRYING: Cell<bool> = const { Cell::new(false) };
}

/// Clears [`RETRYING`] when the outermost run ends, also by a panic.
struct Outermost;

impl Drop for Outermost {
    fn drop(&mut self) {
        RETRYING.set(false);
    }
}

/// How often and how patiently a transfer is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first one.
    pub retries: u32,
    /// The first backoff; each later one doubles.
    pub backoff: Duration,
    /// Give up on one request after this long (S3 client).
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        // Short on purpose: a dead endpoint should fail a push in seconds, not minutes.
        Retry {
            retries: 3,
            backoff: Duration::from_millis(100),
            timeout: Duration::from_secs(30),
        }
    }
}

static NOTIFY: OnceLock<fn(&str)> = OnceLock::new();

/// Where notes about slow and retried requests go (the CLI: stderr). Unset: nowhere, as the
/// library never prints.
pub fn set_notifier(notify: fn(&str)) {
    let _ = NOTIFY.set(notify);
}

/// Passes a progress note to the notifier, if one is set.
pub(crate) fn notify(note: &str) {
    if let Some(f) = NOTIFY.get() {
        f(note);
    }
}

impl Retry {
    /// Runs `op` until it succeeds, fails for a non-transient reason, or retries run out. This
    /// is the one place requests are retried (the S3 client's own retries are off), so a final
    /// failure says how often and for how long it was tried.
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
        if RETRYING.get() {
            return op();
        }
        RETRYING.set(true);
        let _outermost = Outermost;
        let start = Instant::now();
        let mut delay = self.backoff;
        let mut attempt = 0;
        loop {
            match op() {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    notify(&format!(
                        "{}; retrying in {:.1} s (try {} of {})",
                        e.brief(),
                        delay.as_secs_f64(),
                        attempt + 1,
                        self.retries + 1
                    ));
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                }
                Err(e) if attempt > 0 => return Err(e.with_tries(attempt + 1, start.elapsed())),
                other => return other,
            }
        }
    }
}

/// Requests and bytes through every [`Retrying`] backend of this process, each try counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Requests made (listings count one per 1,000 keys, as S3 pages them).
    pub requests: u64,
    /// Bytes downloaded (object and ref bodies).
    pub bytes_down: u64,
    /// Bytes uploaded.
    pub bytes_up: u64,
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);
static BYTES_DOWN: AtomicU64 = AtomicU64::new(0);
static BYTES_UP: AtomicU64 = AtomicU64::new(0);

/// What every remote moved so far in this process.
pub fn traffic() -> Traffic {
    Traffic {
        requests: REQUESTS.load(Ordering::Relaxed),
        bytes_down: BYTES_DOWN.load(Ordering::Relaxed),
        bytes_up: BYTES_UP.load(Ordering::Relaxed),
    }
}

fn count(requests: u64, down: u64, up: u64) {
    REQUESTS.fetch_add(requests, Ordering::Relaxed);
    BYTES_DOWN.fetch_add(down, Ordering::Relaxed);
    BYTES_UP.fetch_add(up, Ordering::Relaxed);
}

/// A backend whose every request is retried by one [`Retry`] (the S3 client's own retries are
/// off): verbs a caller does not wrap in [`Retry::run`] itself are retried too, and those it
/// does wrap are tried no more often.
pub struct Retrying<B> {
    /// The backend.
    pub inner: B,
    /// How it is retried.
    pub retry: Retry,
}

impl<B: Backend> Backend for Retrying<B> {
    fn url(&self) -> String {
        self.inner.url()
    }
    fn irregular(&self, prefix: &str) -> Result<Vec<super::Irregular>, Error> {
        self.retry.run(|| self.inner.irregular(prefix))
    }
    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error> {
        self.retry.run(|| {
            let r = self.inner.list(prefix);
            let pages = r
                .as_ref()
                .map(|l| l.len().div_ceil(1000).max(1))
                .unwrap_or(1);
            count(pages as u64, 0, 0);
            r
        })
    }
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        self.retry.run(|| {
            let r = self.inner.get(key, range.clone());
            let n = match &r {
                Ok(Some(b)) => b.bytes.len() as u64,
                _ => 0,
            };
            count(1, n, 0);
            r
        })
    }
    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        self.retry.run(|| {
            count(1, 0, 0);
            self.inner.head(key)
        })
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        self.retry.run(|| {
            count(1, 0, bytes.len() as u64);
            self.inner.put(key, bytes)
        })
    }
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        self.retry.run(|| {
            count(1, 0, bytes.len() as u64);
            self.inner.put_if_absent(key, bytes)
        })
    }
    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error> {
        self.retry.run(|| {
            count(1, 0, bytes.len() as u64);
            self.inner.put_if_match(key, bytes, version)
        })
    }
    fn delete(&self, key: &str) -> Result<(), Error> {
        self.retry.run(|| {
            count(1, 0, 0);
            self.inner.delete(key)
        })
    }
    fn atomic_conditionals(&self) -> bool {
        self.inner.atomic_conditionals()
    }
    fn presign_get(&self, key: &str, expires: Duration) -> Result<Option<String>, Error> {
        self.inner.presign_get(key, expires)
    }
    fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<bool, Error> {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        self.retry.run(|| {
            // A multipart upload is one request per part, plus its start and completion.
            let parts = size.div_ceil(super::CHUNK);
            count(if parts > 1 { parts + 2 } else { 1 }, 0, size);
            self.inner.put_file_if_absent(key, path)
        })
    }
    fn get_to(&self, key: &str, out: &mut dyn std::io::Write) -> Result<Option<u64>, Error> {
        // Not retried here: a retry would write again bytes already written (callers retry
        // the whole download into a fresh file). A HEAD, then one request per chunk.
        let r = self.inner.get_to(key, out);
        let n = r.as_ref().ok().copied().flatten().unwrap_or(0);
        count(1 + n.div_ceil(super::CHUNK), n, 0);
        r
    }
}
