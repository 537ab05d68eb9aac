//! Publishing a log as static tiles: new full tiles create-if-absent, partial tiles replaced,
//! the checkpoint last and conditionally, so a reader never sees a checkpoint whose tiles are
//! missing.

use serde::Serialize;

use crate::canon::Digest as Hash;
use crate::chain::Kind;
use crate::remote::{Backend, Error as RemoteError, lease::Lease};

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
}

/// Publishes the log `tree` (entries `entries`, leaf hashes `SHA-256(0x00 || entry)`) with
/// its signed checkpoint `note` under `prefix` of `backend`.
///
/// The destination's checkpoint, if any, must verify with `log_key` and be a prefix of `tree`:
/// a destination holding another history is a split view and nothing is written.
pub fn publish(
    backend: &dyn Backend,
    prefix: &str,
    tree: &Tree,
    entries: &[Hash],
    note: &Note,
    log_key: &Verifier,
) -> Result<Published, Error> {
    let lease = if backend.atomic_conditionals() {
        None
    } else {
        Some(Lease::acquire(backend)?)
    };
    let result = publish_locked(backend, prefix, tree, entries, note, log_key);
    if let Some(lease) = lease {
        lease.release(backend)?;
    }
    result
}

fn publish_locked(
    backend: &dyn Backend,
    prefix: &str,
    tree: &Tree,
    entries: &[Hash],
    note: &Note,
    log_key: &Verifier,
) -> Result<Published, Error> {
    let ck = Checkpoint::parse(&note.text)?;
    if ck.size != tree.size() || Some(ck.root) != tree.root_at(ck.size) {
        return Err(Error::RootMismatch {
            what: format!("the checkpoint of {} (size {})", ck.origin, ck.size),
            expected: tree.root().to_hex(),
            found: ck.root.to_hex(),
        });
    }
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
    let mut work: Vec<Tile> = tiles::new_tiles(old_size, ck.size);
    work.extend(tiles::new_bundles(old_size, ck.size));
    for tile in work {
        let bytes = match tile.kind {
            tiles::Kind::Hash(_) => tree.tile_bytes(&tile).unwrap_or_default(),
            tiles::Kind::Entries => {
                let start = (tile.index * tiles::WIDTH) as usize;
                let end = start + tile.width as usize;
                tiles::bundle_bytes(entries[start..end].iter().map(|e| &e.0[..]))
            }
        };
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
    let bytes = note.to_bytes();
    done.requests += 1;
    match &old {
        Some(blob) => {
            backend.put_if_match(&ck_key, &bytes, &blob.version)?;
        }
        None => {
            if !backend.put_if_absent(&ck_key, &bytes)? {
                return Err(RemoteError::Precondition { key: ck_key }.into());
            }
        }
    }
    Ok(done)
}
