//! Retries with exponential backoff for transient transport failures, in one place: the
//! [`Retrying`] wrapper that [`super::open`] puts around every backend it opens. The S3 client's
//! own retries are off and no caller retries a verb itself, so a request is tried at most
//! `retries + 1` times and a final failure says how often and for how long.

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Backend, Blob, Error, Meta, Version};

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
    /// Runs `op` until it succeeds, fails for a non-transient reason, or retries run out. In the
    /// crate only [`Retrying`] calls it (clippy.toml refuses it elsewhere): the one place
    /// requests are retried.
    pub fn run<T>(&self, mut op: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
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
/// off, and callers never retry): [`super::open`] wraps every backend it opens in one.
pub struct Retrying<B> {
    /// The backend.
    pub inner: B,
    /// How it is retried.
    pub retry: Retry,
}

#[allow(clippy::disallowed_methods)] // Retry::run: this wrapper is the one place it belongs
impl<B: Backend> Backend for Retrying<B> {
    fn url(&self) -> String {
        self.inner.url()
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
    fn irregular(&self, prefix: &str) -> Result<Vec<super::Irregular>, Error> {
        self.retry.run(|| {
            count(1, 0, 0);
            self.inner.irregular(prefix)
        })
    }
    fn atomic_conditionals(&self) -> bool {
        self.inner.atomic_conditionals()
    }
    fn presign_get(&self, key: &str, expires: Duration) -> Result<Option<String>, Error> {
        self.inner.presign_get(key, expires)
    }
    fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        on_bytes: &dyn Fn(u64),
    ) -> Result<bool, Error> {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        self.retry.run(|| {
            // A multipart upload is one request per part, plus a HEAD, the search for an
            // upload to resume, its start and its completion (a resumed one also lists its
            // parts, and sends fewer).
            let parts = size.div_ceil(super::CHUNK);
            count(if parts > 1 { parts + 4 } else { 1 }, 0, size);
            self.inner.put_file_if_absent(key, path, on_bytes)
        })
    }
    fn get_to(&self, key: &str, out: &mut dyn std::io::Write) -> Result<Option<u64>, Error> {
        // A retry downloads again from the start but passes on only the bytes past those
        // already written, so `out` sees each byte once (objects are immutable, and callers
        // check the digest of what they got).
        let mut resume = Resume {
            out,
            written: 0,
            skip: 0,
        };
        self.retry.run(|| {
            resume.skip = resume.written;
            let r = self.inner.get_to(key, &mut resume);
            let n = r.as_ref().ok().copied().flatten().unwrap_or(0);
            // A HEAD, then one request per chunk.
            count(1 + n.div_ceil(super::CHUNK), n, 0);
            r
        })
    }
}

/// The writer a retried download goes through: it drops the first `skip` bytes of an attempt
/// (written by an earlier one) and counts what reached `out`.
struct Resume<'a> {
    out: &'a mut dyn std::io::Write,
    written: u64,
    skip: u64,
}

impl std::io::Write for Resume<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let dropped = usize::try_from(self.skip.min(buf.len() as u64)).unwrap_or(buf.len());
        self.skip -= dropped as u64;
        if dropped < buf.len() {
            self.out.write_all(&buf[dropped..])?;
            self.written += (buf.len() - dropped) as u64;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A backend whose `get` fails transiently `failures` times (after writing `torn` bytes of
    /// the object, for `get_to`), then serves `bytes`; every try is counted.
    struct Flaky {
        bytes: Vec<u8>,
        failures: Mutex<u32>,
        torn: usize,
        tries: Mutex<u32>,
        permanent: bool,
    }

    impl Flaky {
        fn new(failures: u32) -> Flaky {
            Flaky {
                bytes: b"0123456789".to_vec(),
                failures: Mutex::new(failures),
                torn: 0,
                tries: Mutex::new(0),
                permanent: false,
            }
        }

        fn tries(&self) -> u32 {
            *self.tries.lock().unwrap()
        }

        /// Counts a try; the error this try fails with, if it fails.
        fn attempt(&self) -> Option<Error> {
            *self.tries.lock().unwrap() += 1;
            if self.permanent {
                return Some(Error::Precondition { key: "k".into() });
            }
            let mut left = self.failures.lock().unwrap();
            (*left > 0).then(|| {
                *left -= 1;
                Error::Ipfs {
                    what: "reading",
                    key: "k".into(),
                    message: "connection reset".into(),
                }
            })
        }
    }

    impl Backend for Flaky {
        fn url(&self) -> String {
            "flaky://".into()
        }
        fn list(&self, _: &str) -> Result<Vec<Meta>, Error> {
            unreachable!()
        }
        fn get(&self, _: &str, _: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
            match self.attempt() {
                Some(e) => Err(e),
                None => Ok(Some(Blob {
                    bytes: self.bytes.clone(),
                    version: Version("v".into()),
                })),
            }
        }
        fn head(&self, _: &str) -> Result<Option<Meta>, Error> {
            unreachable!()
        }
        fn put(&self, _: &str, _: &[u8]) -> Result<Version, Error> {
            unreachable!()
        }
        fn put_if_absent(&self, _: &str, _: &[u8]) -> Result<bool, Error> {
            unreachable!()
        }
        fn put_if_match(&self, _: &str, _: &[u8], _: &Version) -> Result<Version, Error> {
            unreachable!()
        }
        fn delete(&self, _: &str) -> Result<(), Error> {
            unreachable!()
        }
        fn atomic_conditionals(&self) -> bool {
            true
        }
        fn get_to(&self, _: &str, out: &mut dyn std::io::Write) -> Result<Option<u64>, Error> {
            let failing = self.attempt();
            let n = if failing.is_some() {
                self.torn
            } else {
                self.bytes.len()
            };
            out.write_all(&self.bytes[..n]).unwrap();
            match failing {
                Some(e) => Err(e),
                None => Ok(Some(n as u64)),
            }
        }
    }

    fn wrapped(inner: Flaky) -> Retrying<Flaky> {
        Retrying {
            inner,
            retry: Retry {
                retries: 3,
                backoff: Duration::from_millis(1),
                ..Retry::default()
            },
        }
    }

    #[test]
    fn a_transient_failure_is_retried_exactly_as_the_policy_says() {
        // Two failures, then success: three tries, and the caller sees only the success.
        let b = wrapped(Flaky::new(2));
        assert_eq!(b.get("k", None).unwrap().unwrap().bytes, b"0123456789");
        assert_eq!(b.inner.tries(), 3);
        // Failing every time: 1 + retries tries, and the error says so.
        let b = wrapped(Flaky::new(u32::MAX));
        let e = b.get("k", None).unwrap_err();
        assert_eq!(b.inner.tries(), 4);
        assert!(e.to_string().contains("after 4 tries"), "{e}");
        // A permanent failure is tried once.
        let mut flaky = Flaky::new(0);
        flaky.permanent = true;
        let b = wrapped(flaky);
        assert!(b.get("k", None).is_err());
        assert_eq!(b.inner.tries(), 1);
    }

    #[test]
    fn a_retried_download_writes_each_byte_once() {
        let mut flaky = Flaky::new(2);
        flaky.torn = 4;
        let b = wrapped(flaky);
        let mut out = Vec::new();
        assert_eq!(b.get_to("k", &mut out).unwrap(), Some(10));
        assert_eq!(b.inner.tries(), 3);
        assert_eq!(out, b"0123456789");
    }
}
