//! The IPFS backend: the remote layout as an MFS folder, through a Kubo-compatible HTTP RPC.
//!
//! Keys are files under `/<NAME>/` (`files/write`, `files/read`, `files/ls`, `files/stat`,
//! `files/rm`); a key's version is its CID from `files/stat`. MFS has no conditional writes,
//! so `put_if_absent`/`put_if_match` check then write: an IPFS remote is single-writer and push
//! holds the remote's lease (see `lease`) for its whole run.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;

use super::{Backend, Blob, Error, Meta, Version};

/// Largest body we accept from the RPC (objects are read whole for now).
const MAX_BODY: u64 = 1 << 32;

/// A remote in an IPFS node's MFS.
pub struct Ipfs {
    api: String,
    name: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Ipfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ipfs({})", self.url())
    }
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Deserialize)]
struct Stat {
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "Size", default)]
    size: u64,
    #[serde(rename = "Type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct Ls {
    #[serde(rename = "Entries", default)]
    entries: Option<Vec<LsEntry>>,
}

#[derive(Deserialize)]
struct LsEntry {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Type", default)]
    kind: serde_json::Value,
    #[serde(rename = "Size", default)]
    size: u64,
}

/// Percent-encodes a query value (everything but unreserved characters and `/`).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Ipfs {
    /// The remote in folder `/NAME` of the node whose RPC is at `api` (`http://HOST:PORT`).
    pub fn new(api: &str, name: &str) -> Ipfs {
        // The RPC API is addressed as http://HOST:PORT only: no trust store is needed.
        let agent = crate::http::agent(Duration::from_secs(60), crate::http::Tls::None);
        Ipfs {
            api: api.trim_end_matches('/').to_string(),
            name: name.to_string(),
            agent,
        }
    }

    fn mfs(&self, key: &str) -> String {
        let key = key.trim_matches('/');
        if key.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{}/{key}", self.name)
        }
    }

    fn fail(&self, what: &'static str, key: &str, message: impl ToString) -> Error {
        Error::Ipfs {
            what,
            key: format!("{}{}", self.api, self.mfs(key)),
            message: message.to_string(),
        }
    }

    /// Calls `files/<verb>`; Ok(None) when the node says the path does not exist.
    fn call(
        &self,
        what: &'static str,
        verb: &str,
        key: &str,
        query: &str,
        body: Option<&[u8]>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let url = format!(
            "{}/api/v0/files/{verb}?arg={}{query}",
            self.api,
            encode(&self.mfs(key))
        );
        let request = self.agent.post(&url);
        let response = match body {
            None => request.send_empty(),
            Some(bytes) => {
                // A hand-built multipart body: one part named "file", as `ipfs files write` sends.
                let boundary = format!("msez-{}", crate::canon::sha256(bytes).to_hex());
                let mut data = Vec::with_capacity(bytes.len() + 256);
                data.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                data.extend_from_slice(bytes);
                data.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                request
                    .header(
                        "Content-Type",
                        &format!("multipart/form-data; boundary={boundary}"),
                    )
                    .send(&data[..])
            }
        };
        let mut response = response.map_err(|e| self.fail(what, key, e))?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.fail(what, key, e))?;
        if status == 200 {
            return Ok(Some(bytes));
        }
        let message = serde_json::from_slice::<RpcError>(&bytes)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        let lower = message.to_lowercase();
        if lower.contains("does not exist") || lower.contains("not found") {
            return Ok(None);
        }
        Err(self.fail(what, key, format!("HTTP {status}: {message}")))
    }

    fn stat(&self, key: &str) -> Result<Option<Stat>, Error> {
        match self.call("checking", "stat", key, "", None)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.fail("checking", key, e)),
        }
    }

    fn write(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        self.call(
            "writing",
            "write",
            key,
            "&create=true&truncate=true&parents=true&raw-leaves=true",
            Some(bytes),
        )?
        .ok_or_else(|| self.fail("writing", key, "the node says the path does not exist"))?;
        let stat = self
            .stat(key)?
            .ok_or_else(|| self.fail("writing", key, "the file is gone right after writing"))?;
        Ok(Version(stat.hash))
    }
}

impl Backend for Ipfs {
    fn url(&self) -> String {
        format!(
            "ipfs://{}/{}",
            self.api.trim_start_matches("http://"),
            self.name
        )
    }

    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error> {
        let mut out = Vec::new();
        let mut stack = vec![prefix.trim_matches('/').to_string()];
        while let Some(dir) = stack.pop() {
            let Some(bytes) = self.call("listing", "ls", &dir, "&long=true", None)? else {
                continue;
            };
            let ls: Ls =
                serde_json::from_slice(&bytes).map_err(|e| self.fail("listing", &dir, e))?;
            for entry in ls.entries.unwrap_or_default() {
                let key = if dir.is_empty() {
                    entry.name.clone()
                } else {
                    format!("{dir}/{}", entry.name)
                };
                let is_dir = entry.kind == serde_json::json!(1)
                    || entry.kind == serde_json::json!("directory");
                if is_dir {
                    stack.push(key);
                } else {
                    // A name msez could not have written (a newline, ESC...) is listed escaped,
                    // as the other backends do: no parser takes it, so it is reported as
                    // ignored and safe to print.
                    let key = if super::layout::is_plain_key(&key) {
                        key
                    } else {
                        super::layout::shown_key(&key)
                    };
                    out.push(Meta {
                        key,
                        size: entry.size,
                        version: None,
                        modified: None,
                    });
                }
            }
        }
        Ok(out)
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        let Some(stat) = self.stat(key)? else {
            return Ok(None);
        };
        if stat.kind == "directory" {
            return Ok(None);
        }
        let query = match &range {
            Some(r) => format!(
                "&offset={}&count={}",
                r.start,
                r.end.saturating_sub(r.start)
            ),
            None => String::new(),
        };
        let Some(bytes) = self.call("reading", "read", key, &query, None)? else {
            return Ok(None);
        };
        Ok(Some(Blob {
            bytes,
            version: Version(stat.hash),
        }))
    }

    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        Ok(self
            .stat(key)?
            .filter(|s| s.kind != "directory")
            .map(|s| Meta {
                key: key.to_string(),
                size: s.size,
                version: Some(Version(s.hash)),
                modified: None,
            }))
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        self.write(key, bytes)
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        if self.stat(key)?.is_some() {
            return Ok(false);
        }
        self.write(key, bytes).map(|_| true)
    }

    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error> {
        match self.stat(key)? {
            Some(s) if s.hash == version.0 => self.write(key, bytes),
            _ => Err(Error::Precondition { key: self.mfs(key) }),
        }
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        self.call("deleting", "rm", key, "&force=true", None)
            .map(|_| ())
    }

    fn atomic_conditionals(&self) -> bool {
        false
    }
}
