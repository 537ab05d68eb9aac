//! Resumable multipart uploads: a large object's upload that was cut short (a kill, a lost
//! connection) goes on where the server's acknowledged parts end, instead of starting over.
//!
//! Nothing is kept locally: the server's in-progress upload of the key (ListMultipartUploads)
//! and its parts (ListParts) are the state. A part is reused only when its size is the one
//! this file's part must have and its ETag is the MD5 of our bytes for it (an S3 part's ETag;
//! on a server whose part ETags are something else every part is sent again, never a wrong
//! one kept). Keys are content-addressed, so any upload in progress for a key carries the
//! same bytes, whoever started it; the object's digest is checked again by whoever reads it.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use md5::{Digest as _, Md5};
use object_store::PutPayload;
use object_store::multipart::{MultipartStore, PartId};

use super::{S3, xml_elements, xml_text};
use crate::remote::{CHUNK, Error};

/// What an upload of one file did: parts sent, parts the server already had, bytes sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Upload {
    /// Parts uploaded by this call.
    pub sent: u64,
    /// Parts an earlier, interrupted upload left on the server, checked and kept.
    pub reused: u64,
    /// Bytes uploaded by this call.
    pub bytes: u64,
}

/// One part the server acknowledged: its number (from 1), size and ETag (quotes removed).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Part {
    number: usize,
    size: u64,
    e_tag: String,
}

impl S3 {
    /// Uploads `path` to `key` in [`CHUNK`]-sized parts, going on with an upload of the key
    /// already in progress when there is one; `on_part` hears each part's bytes as they are
    /// acknowledged (sent or kept). Failures leave the upload in progress, to be resumed.
    pub(super) fn upload_resumable(
        &self,
        key: &str,
        path: &Path,
        on_part: &dyn Fn(u64),
    ) -> Result<Upload, Error> {
        let size = std::fs::metadata(path)
            .map_err(|e| Error::io("reading", path, e))?
            .len();
        let mut file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
        let location = self.path(key);
        let count = size.div_ceil(CHUNK) as usize;
        let (id, acknowledged) = match self.in_progress(key)? {
            Some(id) => {
                let parts = self.parts(key, &id)?;
                (id, parts)
            }
            None => {
                let id = self
                    .wait("uploading", key, self.signer.create_multipart(&location))
                    .map_err(|e| self.err("uploading", key, e))?;
                (id, Vec::new())
            }
        };
        let mut done = Upload::default();
        let mut ids = Vec::with_capacity(count);
        // One part in memory and in flight, at any object size.
        let mut buf = vec![0u8; CHUNK as usize];
        for index in 0..count {
            let at = index as u64 * CHUNK;
            let len = CHUNK.min(size - at) as usize;
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut buf[..len]))
                .map_err(|e| Error::io("reading", path, e))?;
            let bytes = &buf[..len];
            let kept = acknowledged
                .iter()
                .find(|p| p.number == index + 1 && p.size == len as u64)
                .filter(|p| p.e_tag == hex::encode(Md5::digest(bytes)));
            let part = match kept {
                Some(p) => {
                    done.reused += 1;
                    PartId {
                        content_id: format!("\"{}\"", p.e_tag),
                    }
                }
                None => {
                    let payload = PutPayload::from(bytes.to_vec());
                    let part = self
                        .wait(
                            "uploading",
                            key,
                            self.signer.put_part(&location, &id, index, payload),
                        )
                        .map_err(|e| self.err("uploading", key, e))?;
                    done.sent += 1;
                    done.bytes += len as u64;
                    part
                }
            };
            on_part(len as u64);
            ids.push(part);
        }
        self.wait(
            "uploading",
            key,
            self.signer.complete_multipart(&location, &id, ids),
        )
        .map_err(|e| self.err("uploading", key, e))?;
        Ok(done)
    }

    /// The newest upload in progress of exactly `key`, if any (ListMultipartUploads).
    fn in_progress(&self, key: &str) -> Result<Option<String>, Error> {
        let full = self.path(key).to_string();
        let body = self.signed_get(
            "ListMultipartUploads",
            "uploading",
            key,
            &object_store::path::Path::from(""),
            vec![("uploads", String::new()), ("prefix", full.clone())],
        )?;
        // Uploads are listed by key, then by initiation time: the last of ours is the newest.
        Ok(xml_elements(&body, "Upload")
            .into_iter()
            .filter(|u| xml_text(u, "Key").as_deref() == Some(full.as_str()))
            .filter_map(|u| xml_text(u, "UploadId"))
            .next_back())
    }

    /// Every part the server holds of upload `id` (ListParts, page by page).
    fn parts(&self, key: &str, id: &str) -> Result<Vec<Part>, Error> {
        let mut out = Vec::new();
        let mut marker = None::<String>;
        loop {
            let mut query = vec![("uploadId", id.to_string())];
            if let Some(m) = &marker {
                query.push(("part-number-marker", m.clone()));
            }
            let body = self.signed_get("ListParts", "uploading", key, &self.path(key), query)?;
            for p in xml_elements(&body, "Part") {
                let number = xml_text(p, "PartNumber").and_then(|n| n.parse().ok());
                let size = xml_text(p, "Size").and_then(|n| n.parse().ok());
                let e_tag = xml_text(p, "ETag").map(|e| e.replace("&quot;", "").replace('"', ""));
                if let (Some(number), Some(size), Some(e_tag)) = (number, size, e_tag) {
                    out.push(Part {
                        number,
                        size,
                        e_tag,
                    });
                }
            }
            let truncated = xml_text(&body, "IsTruncated").is_some_and(|t| t == "true");
            match xml_text(&body, "NextPartNumberMarker") {
                Some(m) if truncated && marker.as_deref() != Some(m.as_str()) => marker = Some(m),
                _ => break,
            }
        }
        Ok(out)
    }
}
