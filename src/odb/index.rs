//! `.msez/index/checksums`: a blake3 checksum of every stored object file (derived data).
//!
//! One line per object write, `<type> <sha256-hex> <blake3-hex> <size>\n`, appended with
//! O_APPEND. It is never the addressing digest: fsck's quick mode and sync use it to skip
//! rehashing files that did not change. It can be deleted and rebuilt at any time.

use std::collections::HashMap;

use crate::artifact::ObjectId;

use super::{Error, Repo, write};

/// The checksum of one stored object file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checksum {
    /// blake3 of the file's bytes.
    pub blake3: [u8; 32],
    /// The file's size.
    pub size: u64,
}

impl Repo {
    fn index_path(&self) -> std::path::PathBuf {
        self.dir().join("index").join("checksums")
    }

    /// Records the checksum of a freshly written object file.
    pub(crate) fn record_checksum(&self, id: &ObjectId, sum: Checksum) -> Result<(), Error> {
        let line = format!(
            "{} {} {} {}\n",
            id.artifact_type,
            id.digest,
            hex::encode(sum.blake3),
            sum.size
        );
        write::append_line(&self.index_path(), &line)
    }

    /// Records several checksum lines at once (a batch commit).
    pub(crate) fn record_checksums(&self, lines: &str) -> Result<(), Error> {
        write::append_line(&self.index_path(), lines)
    }

    /// Every recorded checksum (the last line for an object wins); a malformed line is skipped.
    pub fn checksums(&self) -> Result<HashMap<String, Checksum>, Error> {
        let path = self.index_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(Error::io("reading", &path, e)),
        };
        let mut out = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some(t), Some(d), Some(b), Some(s), None) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                continue;
            };
            let mut blake3 = [0u8; 32];
            if hex::decode_to_slice(b, &mut blake3).is_err() {
                continue;
            }
            let Ok(size) = s.parse() else { continue };
            out.insert(format!("{t}:{d}"), Checksum { blake3, size });
        }
        Ok(out)
    }
}
