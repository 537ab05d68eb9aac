//! Logs published on a remote (docs/tlog.md, "Static tiles"): the per-chain prefixes under
//! `tlog/` that `tlog publish` writes beside `objects/` and `refs/`. Listed for `remote stats`
//! and `gc --remote` (which never deletes them: they are not garbage), and checked for
//! `fsck --remote`: the checkpoint note parses, names the chain its prefix is for, and every
//! tile and entry bundle hashes to its root.
//!
//! The note's signature is not checked here: that needs the log's vkey, which the remote does
//! not say (`msez tlog verify --vkey` is the client that does).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::remote::Backend;
use crate::taxonomy::Finding;

use super::Error;
use super::note::Checkpoint;
use super::publish::CHECKPOINT_KEY;
use super::tiles::{self, Kind, Tree};

/// The remote prefix all published logs live under.
pub const TLOG_PREFIX: &str = "tlog/";

/// One published log on a remote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Log {
    /// Its prefix (`tlog/asset/<asset_id>/<purpose>/`, `tlog/corridor/<corridor_id>/`).
    pub prefix: String,
    /// The origin its checkpoint names (None: no checkpoint, or one that does not parse).
    pub origin: Option<String>,
    /// The size its checkpoint names.
    pub size: Option<u64>,
    /// Keys under the prefix.
    pub keys: u64,
    /// Their bytes, as listed.
    pub bytes: u64,
    /// Hash tiles (`tile/<L>/…`).
    pub tiles: u64,
    /// Entry bundles (`tile/entries/…`).
    pub entry_bundles: u64,
}

/// The log prefix a key under `tlog/` belongs to: everything before its `checkpoint` or
/// `tile/` component (None: a key of no log's shape).
fn log_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(TLOG_PREFIX)?;
    let cut = if let Some(i) = rest.find("/tile/") {
        i + 1
    } else {
        rest.strip_suffix(CHECKPOINT_KEY)
            .filter(|p| p.ends_with('/'))?
            .len()
    };
    (cut > 0).then(|| &key[..TLOG_PREFIX.len() + cut])
}

/// The published logs of `backend`, one listing of `tlog/` and one read per checkpoint, and
/// the keys under `tlog/` that belong to no log.
pub fn list(backend: &dyn Backend) -> Result<(Vec<Log>, Vec<String>), Error> {
    let mut logs: BTreeMap<String, Log> = BTreeMap::new();
    let mut stray = Vec::new();
    for m in backend.list(TLOG_PREFIX)? {
        let Some(prefix) = log_prefix(&m.key) else {
            stray.push(m.key);
            continue;
        };
        let log = logs.entry(prefix.to_string()).or_insert_with(|| Log {
            prefix: prefix.to_string(),
            ..Log::default()
        });
        log.keys += 1;
        log.bytes += m.size;
        let rel = &m.key[prefix.len()..];
        if rel.starts_with("tile/entries/") {
            log.entry_bundles += 1;
        } else if rel.starts_with("tile/") {
            log.tiles += 1;
        }
    }
    let mut out: Vec<Log> = logs.into_values().collect();
    for log in &mut out {
        let key = format!("{}{CHECKPOINT_KEY}", log.prefix);
        if let Some(blob) = backend.get(&key, None)? {
            if let Ok(ck) = parse_checkpoint(&blob.bytes, &key) {
                log.origin = Some(ck.origin);
                log.size = Some(ck.size);
            }
        }
    }
    Ok((out, stray))
}

/// The checkpoint body of a note, whatever signature lines follow it.
fn parse_checkpoint(bytes: &[u8], key: &str) -> Result<Checkpoint, Error> {
    let note = super::policy::parse_lenient(bytes)
        .ok_or_else(|| Error::bad_note(key, "not a signed note"))?;
    Checkpoint::parse(&note.text)
}

/// What checking the published logs of a remote found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Checked {
    /// The logs (as [`list`] gives them).
    pub logs: Vec<Log>,
    /// Tiles and entry bundles read and checked.
    pub tiles_checked: u64,
    /// Every problem, one per log at most (the first one found).
    pub problems: Vec<Finding>,
}

/// Checks every published log of `backend` (see the module documentation).
pub fn check(backend: &dyn Backend) -> Result<Checked, Error> {
    let (logs, stray) = list(backend)?;
    let mut out = Checked::default();
    for key in stray {
        out.problems.push(Finding::from_error(&Error::BadTile {
            path: key,
            why: "a key under tlog/ that is no published log's checkpoint or tile".into(),
        }));
    }
    for log in &logs {
        match check_log(backend, log) {
            Ok(n) => out.tiles_checked += n,
            Err(e) => out.problems.push(Finding::from_error(&e)),
        }
    }
    out.logs = logs;
    Ok(out)
}

fn need(backend: &dyn Backend, key: String) -> Result<Vec<u8>, Error> {
    match backend.get(&key, None)? {
        Some(b) => Ok(b.bytes),
        None => Err(Error::Missing {
            path: key,
            source_url: backend.url(),
        }),
    }
}

/// One log: its note names the chain of its prefix, and every tile fits the note's root.
/// Returns the tiles read.
fn check_log(backend: &dyn Backend, log: &Log) -> Result<u64, Error> {
    let key = format!("{}{CHECKPOINT_KEY}", log.prefix);
    let ck = parse_checkpoint(&need(backend, key.clone())?, &key)?;
    // `tlog/<kind>/<id>[/<purpose>]/` must be the end of the origin: a checkpoint of another
    // chain under this chain's prefix would mislead every reader of it.
    let chain = log.prefix[TLOG_PREFIX.len()..].trim_end_matches('/');
    if !ck.origin.ends_with(&format!("/{chain}")) {
        return Err(Error::bad_note(
            key,
            format!(
                "its origin {} is not the chain of this prefix ({chain})",
                ck.origin
            ),
        ));
    }
    let at = |t: &tiles::Tile| format!("{}{}", log.prefix, t.path());
    let mut read = 0;
    let mut leaves = Vec::with_capacity(ck.size.min(1 << 20) as usize);
    for t in tiles::tiles_of(ck.size, Kind::Hash(0)) {
        leaves.extend(tiles::parse_hash_tile(&t, &need(backend, at(&t))?)?);
        read += 1;
    }
    let tree = Tree::from_leaf_hashes(leaves);
    if tree.root() != ck.root {
        return Err(Error::RootMismatch {
            what: format!("the level-0 tiles of {} (size {})", ck.origin, ck.size),
            expected: ck.root.to_hex(),
            found: tree.root().to_hex(),
        });
    }
    for level in 1..tiles::levels(ck.size) {
        for t in tiles::tiles_of(ck.size, Kind::Hash(level)) {
            if Some(need(backend, at(&t))?) != tree.tile_bytes(&t) {
                return Err(Error::BadTile {
                    path: at(&t),
                    why: "its hashes are not the tree's nodes".into(),
                });
            }
            read += 1;
        }
    }
    for t in tiles::tiles_of(ck.size, Kind::Entries) {
        let bundle = tiles::parse_bundle(&t, &need(backend, at(&t))?)?;
        for (i, e) in bundle.iter().enumerate() {
            let index = t.index * tiles::WIDTH + i as u64;
            if tree.node(0, index) != Some(tiles::entry_leaf_hash(e)) {
                return Err(Error::BadTile {
                    path: at(&t),
                    why: format!("entry {index} does not hash to its leaf"),
                });
            }
        }
        read += 1;
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_belong_to_the_log_whose_checkpoint_or_tiles_they_are() {
        assert_eq!(
            log_prefix("tlog/asset/ab/core/checkpoint"),
            Some("tlog/asset/ab/core/")
        );
        assert_eq!(
            log_prefix("tlog/asset/ab/core/tile/0/x001/002.p/3"),
            Some("tlog/asset/ab/core/")
        );
        assert_eq!(
            log_prefix("tlog/corridor/c/tile/entries/000"),
            Some("tlog/corridor/c/")
        );
        assert_eq!(log_prefix("tlog/checkpoint"), None);
        assert_eq!(log_prefix("tlog/asset/ab/core/other"), None);
        assert_eq!(log_prefix("objects/x"), None);
    }
}
