//! Publishing a log as static tiles: new full tiles create-if-absent, partial tiles replaced,
//! the checkpoint last and conditionally, so a reader never sees a checkpoint whose tiles are
//! missing.
//!
//! A publisher remembers, per destination, the checkpoint it last wrote there and the version
//! that write returned ([`Memory`]). The next publish trusts nothing it did not write: it
//! skips reading the checkpoint, writes every new tile create-if-absent (a partial tile's key
//! names its width, so nothing a reader of the destination's checkpoint needs is touched), and
//! moves the checkpoint only off the remembered version. Anything else found there (the
//! If-Match fails, a tile holds other bytes) falls back to the full path, which reads and
//! checks the destination's checkpoint first.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::canon::Digest as Hash;
use crate::chain::Kind;
use crate::remote::{Backend, Error as RemoteError, Version, lease::Lease};

use super::Error;
use super::note::{Checkpoint, Note, Verifier};
use super::tiles::{self, Tile, Tree};

/// The key of the checkpoint under a log's prefix.
pub const CHECKPOINT_KEY: &str = "checkpoint";

/// The per-chain prefix of a log on a remote: `tlog/asset/<asset_id>/<purpose>/` or
/// `tlog/corridor/<corridor_id>/`, beside the remote's `objects/` and `refs/`.
pub fn remote_prefix(kind: Kind, owner: &str, purpose: Option<&str>) -> String {
    match kind {
        Kind::Asset => format!("tlog/asset/{owner}/{}/", purpose.unwrap_or("core")),
        Kind::Corridor => format!("tlog/corridor/{owner}/"),
    }
}

/// What a publish did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Published {
    /// The size of the checkpoint the destination had (0: none).
    pub old_size: u64,
    /// The size published.
    pub size: u64,
    /// Tiles and bundles written (the checkpoint not counted).
    pub tiles_written: u64,
    /// Full tiles that were already there with the same bytes.
    pub tiles_present: u64,
    /// Backend requests made (reads and writes, the checkpoint and lease included).
    pub requests: u64,
    /// Whether the destination's checkpoint was taken from this publisher's memory of its
    /// last publish there, unread ([`Memory`]); false when it was read (no memory, or the
    /// memory did not hold: then `requests` includes the attempt).
    pub remembered: bool,
}

/// What a publisher remembers of its last publish to one destination: the checkpoint it
/// wrote there and the version its write returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// The log origin.
    pub origin: String,
    /// The size published.
    pub size: u64,
    /// The root published (hex).
    pub root: String,
    /// The SHA-256 of the checkpoint note written (hex).
    pub note_sha256: String,
    /// The version the checkpoint write returned.
    pub version: String,
}

/// Where a publisher whose state directory is `state` remembers its last publish to the log
/// under `prefix` of the destination `url`.
pub fn memory_path(state: &Path, url: &str, prefix: &str) -> PathBuf {
    let name = crate::canon::sha256(format!("{url}\n{prefix}").as_bytes()).to_hex();
    state
        .join("published")
        .join(format!("{}.json", &name[..32]))
}

/// The memory at `path` (None: none, or one that does not parse: the full path then).
pub fn recall(path: &Path) -> Option<Memory> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn remember(path: &Path, memory: Option<&Memory>) -> Result<(), Error> {
    let Some(m) = memory else {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("removing", path, e))
            }
            _ => Ok(()),
        };
    };
    let bytes = serde_json::to_vec(m).map_err(|e| Error::io("writing", path, e.into()))?;
    crate::chain::module::write_file(path, &bytes).map_err(|e| Error::Io {
        what: "writing",
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Publishes the log `tree` (entries `entries`, leaf hashes `SHA-256(0x00 || entry)`) with
/// its signed checkpoint `note` under `prefix` of `backend`.
///
/// The destination's checkpoint, if any, must verify with `log_key` and be a prefix of `tree`:
/// a destination holding another history is a split view and nothing is written. With
/// `memory` (a [`memory_path`]) the publisher remembers what it wrote, and uses it next time
/// (see the module documentation).
pub fn publish(
    backend: &dyn Backend,
    prefix: &str,
    tree: &Tree,
    entries: &[Hash],
    note: &Note,
    log_key: &Verifier,
    memory: Option<&Path>,
) -> Result<Published, Error> {
    let lease = if backend.atomic_conditionals() {
        None
    } else {
        Some(Lease::acquire(backend)?)
    };
    let log = Log {
        backend,
        prefix,
        tree,
        entries,
    };
    let result = publish_locked(&log, note, log_key, memory);
    if let Some(lease) = lease {
        lease.release(backend)?;
    }
    result
}

/// The destination and the log published to it.
struct Log<'a> {
    backend: &'a dyn Backend,
    prefix: &'a str,
    tree: &'a Tree,
    entries: &'a [Hash],
}

impl Log<'_> {
    /// The bytes of a tile or entry bundle of the log.
    fn bytes(&self, tile: &Tile) -> Vec<u8> {
        match tile.kind {
            tiles::Kind::Hash(_) => self.tree.tile_bytes(tile).unwrap_or_default(),
            tiles::Kind::Entries => {
                let start = (tile.index * tiles::WIDTH) as usize;
                let end = start + tile.width as usize;
                tiles::bundle_bytes(self.entries[start..end].iter().map(|e| &e.0[..]))
            }
        }
    }

    /// The tiles and bundles a log growing from `old` to `new` entries adds.
    fn work(old: u64, new: u64) -> Vec<Tile> {
        let mut work: Vec<Tile> = tiles::new_tiles(old, new);
        work.extend(tiles::new_bundles(old, new));
        work
    }
}

fn publish_locked(
    log: &Log,
    note: &Note,
    log_key: &Verifier,
    memory: Option<&Path>,
) -> Result<Published, Error> {
    let ck = Checkpoint::parse(&note.text)?;
    let tree = log.tree;
    if ck.size != tree.size() || Some(ck.root) != tree.root_at(ck.size) {
        return Err(Error::RootMismatch {
            what: format!("the checkpoint of {} (size {})", ck.origin, ck.size),
            expected: tree.root().to_hex(),
            found: ck.root.to_hex(),
        });
    }
    let bytes = note.to_bytes();
    let written = |version: Option<Version>| Memory {
        origin: ck.origin.clone(),
        size: ck.size,
        root: ck.root.to_hex(),
        note_sha256: crate::canon::sha256(&bytes).to_hex(),
        version: version.map(|v| v.0).unwrap_or_default(),
    };
    let mut spent = 0;
    if let Some(m) = memory.and_then(recall) {
        match from_memory(log, &ck, &bytes, &m)? {
            Remembered::Published(mut done, version) => {
                if let Some(path) = memory {
                    // The log is published; a memory that could not be written only costs the
                    // next publish its read (a stale one fails its If-Match and falls back).
                    let _ = remember(path, Some(&written(Some(version))));
                }
                done.remembered = true;
                return Ok(done);
            }
            Remembered::Unusable(n) => spent = n,
        }
    }
    let result = full(log, &ck, &bytes, log_key);
    if let Some(path) = memory {
        // A version we did not get back (a created checkpoint) or a failed publish leaves
        // nothing to remember: the next publish reads the destination.
        let m = match &result {
            Ok((_, Some(v))) => Some(written(Some(v.clone()))),
            _ => None,
        };
        let _ = remember(path, m.as_ref());
    }
    let (mut done, _) = result?;
    done.requests += spent;
    Ok(done)
}

/// What publishing from memory came to.
enum Remembered {
    /// Published, with the checkpoint's new version.
    Published(Published, Version),
    /// The memory does not hold (or does not apply): requests spent finding out.
    Unusable(u64),
}

/// Publishes from the memory `m` of the last publish: no read of the destination's
/// checkpoint; new tiles create-if-absent; the checkpoint moved only off `m`'s version.
fn from_memory(log: &Log, ck: &Checkpoint, bytes: &[u8], m: &Memory) -> Result<Remembered, Error> {
    let ours = log.tree.root_at(m.size).map(|r| r.to_hex());
    let same_bytes = m.note_sha256 == crate::canon::sha256(bytes).to_hex();
    // Only a checkpoint of this log's history that ours extends, and a version to match; the
    // same note again goes the full way (it checks the destination still holds it).
    if m.origin != ck.origin
        || m.size > ck.size
        || ours.as_deref() != Some(m.root.as_str())
        || m.version.is_empty()
        || (m.size == ck.size && same_bytes)
    {
        return Ok(Remembered::Unusable(0));
    }
    let mut done = Published {
        old_size: m.size,
        size: ck.size,
        ..Published::default()
    };
    for tile in Log::work(m.size, ck.size) {
        let tile_bytes = log.bytes(&tile);
        let key = format!("{}{}", log.prefix, tile.path());
        done.requests += 1;
        if log.backend.put_if_absent(&key, &tile_bytes)? {
            done.tiles_written += 1;
            continue;
        }
        // Already there: the same bytes (a publish of this history got this far) or a
        // surprise the full path judges.
        done.requests += 1;
        let there = log.backend.get(&key, None)?.map(|b| b.bytes);
        if there.as_deref() != Some(&tile_bytes[..]) {
            return Ok(Remembered::Unusable(done.requests));
        }
        done.tiles_present += 1;
    }
    let ck_key = format!("{}{CHECKPOINT_KEY}", log.prefix);
    done.requests += 1;
    match log
        .backend
        .put_if_match(&ck_key, bytes, &Version(m.version.clone()))
    {
        Ok(v) => Ok(Remembered::Published(done, v)),
        // Someone else moved it (or it is gone): the full path reads what is there now.
        Err(RemoteError::Precondition { .. }) => Ok(Remembered::Unusable(done.requests)),
        Err(e) => Err(e.into()),
    }
}

/// The full path: reads and checks the destination's checkpoint, writes the tiles it lacks,
/// then the checkpoint conditionally; returns the checkpoint's new version when the write
/// gave one.
fn full(
    log: &Log,
    ck: &Checkpoint,
    bytes: &[u8],
    log_key: &Verifier,
) -> Result<(Published, Option<Version>), Error> {
    let (backend, prefix, tree) = (log.backend, log.prefix, log.tree);
    let ck = ck.clone();
    let mut done = Published {
        size: ck.size,
        ..Published::default()
    };
    let ck_key = format!("{prefix}{CHECKPOINT_KEY}");
    done.requests += 1;
    let old = backend.get(&ck_key, None)?;
    if let Some(blob) = &old {
        let (_, old_ck) = super::note::open_checkpoint(&blob.bytes, std::slice::from_ref(log_key))?;
        if old_ck.origin == ck.origin && old_ck.size > ck.size && tree.root_at(ck.size).is_some() {
            // Maybe only a stale clone; if it is another history, the tiles at DEST show it.
            return Err(Error::Behind {
                dest: backend.url(),
                origin: ck.origin,
                dest_size: old_ck.size,
                size: ck.size,
            });
        }
        if old_ck.origin != ck.origin || tree.root_at(old_ck.size) != Some(old_ck.root) {
            return Err(Error::SplitView(Box::new(super::SplitView {
                origin: old_ck.origin,
                seen_size: old_ck.size,
                size: ck.size,
                seen_root: old_ck.root.to_hex(),
                root: tree
                    .root_at(old_ck.size.min(ck.size))
                    .unwrap_or_default()
                    .to_hex(),
                evidence: backend.url().into(),
            })));
        }
        done.old_size = old_ck.size;
    }
    let old_size = done.old_size.min(ck.size);
    for tile in Log::work(old_size, ck.size) {
        let bytes = log.bytes(&tile);
        let key = format!("{prefix}{}", tile.path());
        done.requests += 1;
        if !tile.is_full() {
            backend.put(&key, &bytes)?;
            done.tiles_written += 1;
        } else if backend.put_if_absent(&key, &bytes)? {
            done.tiles_written += 1;
        } else {
            // A full tile never changes; one that differs is damage or another history.
            done.requests += 1;
            let there = backend.get(&key, None)?.map(|b| b.bytes);
            if there.as_deref() != Some(&bytes[..]) {
                return Err(Error::BadTile {
                    path: key,
                    why: "a full tile already there holds other bytes".into(),
                });
            }
            done.tiles_present += 1;
        }
    }
    done.requests += 1;
    let version = match &old {
        Some(blob) => Some(backend.put_if_match(&ck_key, bytes, &blob.version)?),
        None => {
            if !backend.put_if_absent(&ck_key, bytes)? {
                return Err(RemoteError::Precondition { key: ck_key }.into());
            }
            None
        }
    };
    Ok((done, version))
}
