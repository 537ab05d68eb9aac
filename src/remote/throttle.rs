//! A bandwidth limit (`--limit-rate`): a backend wrapper that paces the bytes it moves, up and
//! down together, to a rate shared by every job of a transfer.
//!
//! Each transfer of n bytes occupies the next n / rate seconds of a shared timeline, and the
//! caller waits until its slot has passed: over any stretch the average stays at the rate
//! plus at most one request's bytes (one 8 MiB part or range of a large object). Idle time is
//! not saved up, so a burst after a pause is paced too.

use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Backend, Blob, Error, Irregular, Meta, Version};

/// A rate in bytes per second, shared by everything that takes from it.
#[derive(Debug)]
pub struct Limit {
    rate: u64,
    /// When the last accounted transfer's slot ends.
    next: Mutex<Option<Instant>>,
}

impl Limit {
    /// A limit of `rate` bytes per second (at least 1).
    pub fn new(rate: u64) -> Limit {
        Limit {
            rate: rate.max(1),
            next: Mutex::new(None),
        }
    }

    /// The rate, in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Accounts `n` bytes and waits until their slot on the shared timeline has passed.
    pub fn take(&self, n: u64) {
        let until = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = next.filter(|t| *t > now).unwrap_or(now);
            let end = start + Duration::from_secs_f64(n as f64 / self.rate as f64);
            *next = Some(end);
            end
        };
        let now = Instant::now();
        if until > now {
            std::thread::sleep(until - now);
        }
    }
}

/// Parses a rate: bytes per second, with an optional K, M or G (powers of 1024), as
/// `--limit-rate 512K` or `10M` (curl's and rclone's notation).
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit.trim_end_matches("/s").trim_end_matches(['B', 'b']) {
        "" => 0,
        "k" | "K" => 10,
        "m" | "M" => 20,
        "g" | "G" => 30,
        _ => {
            return Err(format!(
                "{text:?}: a rate is a number of bytes per second with an optional K, M or G (512K, 10M)"
            ));
        }
    };
    let value: f64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: a rate is a number of bytes per second with an optional K, M or G (512K, 10M)"))?;
    let rate = (value * (1u64 << shift) as f64) as u64;
    if rate == 0 {
        return Err(format!(
            "{text:?}: the rate must be at least 1 byte per second"
        ));
    }
    Ok(rate)
}

/// A backend whose transfers are paced by a [`Limit`].
pub struct Throttled {
    /// The backend.
    pub inner: Box<dyn Backend>,
    /// The shared rate.
    pub limit: Arc<Limit>,
}

/// A writer that paces what passes through it.
struct Paced<'a> {
    out: &'a mut dyn Write,
    limit: &'a Limit,
}

impl Write for Paced<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.limit.take(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

// Every method is forwarded, the defaulted ones too: a default here would bypass the inner
// backend's own implementation.
impl Backend for Throttled {
    fn url(&self) -> String {
        self.inner.url()
    }
    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error> {
        self.inner.list(prefix)
    }
    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        let got = self.inner.get(key, range)?;
        if let Some(b) = &got {
            self.limit.take(b.bytes.len() as u64);
        }
        Ok(got)
    }
    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        self.inner.head(key)
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        self.limit.take(bytes.len() as u64);
        self.inner.put(key, bytes)
    }
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        self.limit.take(bytes.len() as u64);
        self.inner.put_if_absent(key, bytes)
    }
    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error> {
        self.limit.take(bytes.len() as u64);
        self.inner.put_if_match(key, bytes, version)
    }
    fn delete(&self, key: &str) -> Result<(), Error> {
        self.inner.delete(key)
    }
    fn irregular(&self, prefix: &str) -> Result<Vec<Irregular>, Error> {
        self.inner.irregular(prefix)
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
        self.inner.put_file_if_absent(key, path, &|n| {
            self.limit.take(n);
            on_bytes(n);
        })
    }
    fn get_to(&self, key: &str, out: &mut dyn Write) -> Result<Option<u64>, Error> {
        let mut paced = Paced {
            out,
            limit: &self.limit,
        };
        self.inner.get_to(key, &mut paced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_curl_and_rclone_write_them() {
        assert_eq!(parse_rate("1000"), Ok(1000));
        assert_eq!(parse_rate("512K"), Ok(512 << 10));
        assert_eq!(parse_rate("10M"), Ok(10 << 20));
        assert_eq!(parse_rate("1.5M"), Ok(3 << 19));
        assert_eq!(parse_rate("2G"), Ok(2 << 30));
        assert_eq!(parse_rate("4MB/s"), Ok(4 << 20));
        for bad in ["", "fast", "10X", "0", "-1M"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn transfers_take_consecutive_slots_on_one_timeline() {
        // Two takes of half a second's bytes each end no earlier than a second after the first
        // began: the second waits for the first's slot (a lower bound, so a loaded machine
        // cannot make it fail).
        let limit = Limit::new(1000);
        let start = Instant::now();
        limit.take(500);
        limit.take(500);
        assert!(
            start.elapsed() >= Duration::from_millis(990),
            "{:?}",
            start.elapsed()
        );
    }
}
