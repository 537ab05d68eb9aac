//! A `Read + Seek` view of a bundle served over HTTP, fetched with range requests.
//!
//! [`RangeReader`] fetches aligned blocks on demand and keeps a few of them, so
//! [`super::BundleReader::open`] costs the end-of-central-directory record and the central
//! directory only: a hostile bundle is rejected before any entry is downloaded, and a lazy
//! reader (a FUSE mount) fetches only the entries it is asked for. The server must answer
//! `Range: bytes=a-b` with `206` and `Content-Range: bytes a-b/LEN`.
//!
//! `http://` and `https://` URLs are read; an `https://` server must present a certificate
//! that chains to a root [`crate::http::trust_roots`] trusts (a private CA through
//! `SSL_CERT_FILE`).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use super::Error;

/// Bytes per range request.
pub const BLOCK: u64 = 1 << 20;
/// Blocks kept in memory.
pub const CACHED_BLOCKS: usize = 8;

/// A seekable reader over a URL.
pub struct RangeReader {
    agent: ureq::Agent,
    url: String,
    len: u64,
    pos: u64,
    cache: HashMap<u64, Vec<u8>>,
    order: VecDeque<u64>,
    requests: u64,
    fetched: u64,
}

fn http_err(url: &str, why: impl std::fmt::Display) -> Error {
    Error::Http {
        url: crate::remote::Url::redact(url),
        reason: why.to_string(),
    }
}

/// A failed range request, carried through `std::io::Error` so that the zip reader's errors
/// still say it was the network (I/O, 74) and not the bundle's bytes (schema, 65).
#[derive(Debug, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct Transport {
    /// The URL, redacted (a presigned URL's signature is a secret).
    pub url: String,
    /// What failed.
    pub reason: String,
}

/// Parses `bytes a-b/len` into (a, b, len).
fn content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, len) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?, len.parse().ok()?))
}

impl RangeReader {
    /// Asks the server for the first byte to learn the length and that ranges work.
    pub fn open(url: &str) -> Result<RangeReader, Error> {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(http_err(url, "not an http:// or https:// URL"));
        }
        // Roots are loaded for http:// too: a server may redirect to https://.
        let roots = crate::http::trust_roots().map_err(|e| http_err(url, e))?;
        let agent = crate::http::agent(Duration::from_secs(60), crate::http::Tls::Roots(roots));
        let mut r = RangeReader {
            agent,
            url: url.to_string(),
            len: 0,
            pos: 0,
            cache: HashMap::new(),
            order: VecDeque::new(),
            requests: 0,
            fetched: 0,
        };
        let (_, len) = r.range(0, 0).map_err(|e| {
            let reason = match e.get_ref().and_then(|i| i.downcast_ref::<Transport>()) {
                Some(t) => t.reason.clone(),
                None => e.to_string(),
            };
            http_err(url, reason)
        })?;
        r.len = len;
        Ok(r)
    }

    /// The size of the remote file.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the remote file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Range requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Body bytes received so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetched
    }

    fn io_err(&self, why: impl std::fmt::Display) -> std::io::Error {
        let url = crate::remote::Url::redact(&self.url);
        // A client error may quote the URL it was given.
        let reason = why.to_string().replace(&self.url, &url);
        std::io::Error::other(Transport { url, reason })
    }

    /// GET bytes a..=b; returns them and the total length the server reports.
    fn range(&mut self, a: u64, b: u64) -> std::io::Result<(Vec<u8>, u64)> {
        self.requests += 1;
        let mut resp = self
            .agent
            .get(&self.url)
            .header("Range", &format!("bytes={a}-{b}"))
            .call()
            .map_err(|e| self.io_err(crate::http::describe(&e)))?;
        if resp.status().as_u16() != 206 {
            return Err(self.io_err(format!(
                "HTTP {} to a range request (the server must support Range)",
                resp.status().as_u16()
            )));
        }
        let cr = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(content_range)
            .ok_or_else(|| self.io_err("a 206 without a usable Content-Range"))?;
        if cr.0 != a || cr.1 > b {
            return Err(self.io_err(format!("asked for bytes {a}-{b}, got {}-{}", cr.0, cr.1)));
        }
        let want = cr.1 - cr.0 + 1;
        let body = resp
            .body_mut()
            .with_config()
            .limit(want)
            .read_to_vec()
            .map_err(|e| self.io_err(crate::http::describe(&e)))?;
        if body.len() as u64 != want {
            return Err(self.io_err(format!(
                "a {want}-byte range came with {} bytes",
                body.len()
            )));
        }
        self.fetched += want;
        Ok((body, cr.2))
    }

    fn block(&mut self, index: u64) -> std::io::Result<&[u8]> {
        if !self.cache.contains_key(&index) {
            let a = index * BLOCK;
            let b = (a + BLOCK).min(self.len) - 1;
            let (bytes, len) = self.range(a, b)?;
            if len != self.len {
                return Err(self.io_err("the remote file changed size while being read"));
            }
            if self.order.len() >= CACHED_BLOCKS {
                if let Some(old) = self.order.pop_front() {
                    self.cache.remove(&old);
                }
            }
            self.order.push_back(index);
            self.cache.insert(index, bytes);
        }
        Ok(&self.cache[&index])
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let (index, offset) = (self.pos / BLOCK, (self.pos % BLOCK) as usize);
        let block = self.block(index)?;
        let n = buf.len().min(block.len() - offset);
        buf[..n].copy_from_slice(&block[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse_strictly() {
        assert_eq!(content_range("bytes 0-0/1234"), Some((0, 0, 1234)));
        assert_eq!(content_range("bytes */1234"), None);
        assert_eq!(content_range("items 0-1/2"), None);
    }
}
