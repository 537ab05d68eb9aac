//! The client of a published log: reads its checkpoint and tiles from a directory, an HTTP(S)
//! base URL or a remote (S3, IPFS), checks the note signature, every tile against the root,
//! the inclusion of chosen entries, and consistency with the last checkpoint seen for the
//! origin (kept in a local state directory). A checkpoint that is not an extension of the one
//! seen before is a split view: both notes are kept as fork evidence.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::canon::Digest as Hash;
use crate::mmr::{self, NodeId, NodeReader};
use crate::remote::{self, Backend};

use super::Error;
use super::note::{Checkpoint, Verifier, open_checkpoint};
use super::publish::CHECKPOINT_KEY;
use super::tiles::{self, Kind, Tree};

/// Where a published log is read from.
pub trait Source {
    /// The source, for messages.
    fn describe(&self) -> String;
    /// The bytes at `path` (relative to the log's root); None when absent.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Error>;
}

/// A log on a remote backend (a directory, S3, IPFS), under a key prefix.
pub struct BackendSource {
    backend: Box<dyn Backend>,
    prefix: String,
}

impl BackendSource {
    /// The log under `prefix` (empty, or ending in `/`) of `backend`.
    pub fn new(backend: Box<dyn Backend>, prefix: String) -> BackendSource {
        BackendSource { backend, prefix }
    }
}

impl Source for BackendSource {
    fn describe(&self) -> String {
        format!("{}/{}", self.backend.url(), self.prefix)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .backend
            .get(&format!("{}{path}", self.prefix), None)?
            .map(|b| b.bytes))
    }
}

/// A log served over HTTP(S) from a base URL.
pub struct HttpSource {
    agent: ureq::Agent,
    base: String,
}

impl HttpSource {
    /// The log at `base` (an `http://` or `https://` URL of its root).
    pub fn new(base: &str) -> Result<HttpSource, Error> {
        let roots = crate::http::trust_roots().map_err(|e| Error::Http {
            url: base.to_string(),
            reason: e.to_string(),
        })?;
        Ok(HttpSource {
            agent: crate::http::agent(Duration::from_secs(60), crate::http::Tls::Roots(roots)),
            base: base.trim_end_matches('/').to_string(),
        })
    }
}

impl Source for HttpSource {
    fn describe(&self) -> String {
        self.base.clone()
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        let url = format!("{}/{path}", self.base);
        let err = |reason: String| Error::Http {
            url: url.clone(),
            reason,
        };
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| err(crate::http::describe(&e)))?;
        match resp.status().as_u16() {
            200 => resp
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .map(Some)
                .map_err(|e| err(crate::http::describe(&e))),
            404 => Ok(None),
            s => Err(err(format!("HTTP {s}"))),
        }
    }
}

/// Opens SOURCE: an `http(s)://` base URL, or a path / `file://` / `s3://` / `ipfs://` URL
/// whose root is the log's root.
pub fn open_source(text: &str, cwd: &Path) -> Result<Box<dyn Source>, Error> {
    if text.starts_with("http://") || text.starts_with("https://") {
        return Ok(Box::new(HttpSource::new(text)?));
    }
    let url = remote::Url::parse(text, cwd)?;
    let backend = remote::open(&url, remote::Retry::default())?;
    Ok(Box::new(BackendSource::new(backend, String::new())))
}

/// What a verified log looks like.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// The origin.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash (hex).
    pub root: Hash,
    /// The verifier keys whose signatures verified.
    pub signed_by: Vec<String>,
    /// Hash tiles and entry bundles read and checked.
    pub tiles_checked: u64,
    /// Entries checked against their leaf hashes.
    pub entries_checked: u64,
    /// The `--entry` inclusions proved.
    pub inclusions: Vec<Inclusion>,
    /// The checkpoint seen before for this origin (size, root), if any.
    pub previous: Option<(u64, Hash)>,
    /// Whether the source showed an older checkpoint than the one seen before (kept as seen).
    pub stale: bool,
}

/// One proved inclusion.
#[derive(Clone, Debug, Serialize)]
pub struct Inclusion {
    /// The entry index.
    pub index: u64,
    /// The entry (hex).
    pub entry: String,
    /// Its RFC 6962 audit path, leaf first.
    pub path: Vec<Hash>,
}

impl NodeReader for Tree {
    fn node(&self, id: NodeId) -> Result<Hash, mmr::Error> {
        Tree::node(self, id.level, id.index).ok_or(mmr::Error::MissingNode { node: id })
    }
}

/// The last checkpoint seen per origin, and the evidence of split views, in one directory.
pub struct Seen {
    dir: PathBuf,
}

impl Seen {
    /// The state kept in `dir` (`seen/` and `evidence/` below it).
    pub fn new(dir: PathBuf) -> Seen {
        Seen { dir }
    }

    fn name(origin: &str) -> String {
        hex::encode(Sha256::digest(origin.as_bytes()))
    }

    fn seen_path(&self, origin: &str) -> PathBuf {
        self.dir
            .join("seen")
            .join(format!("{}.checkpoint", Seen::name(origin)))
    }

    /// The note last seen for `origin`.
    pub fn load(&self, origin: &str) -> Result<Option<Vec<u8>>, Error> {
        let p = self.seen_path(origin);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", p, e)),
        }
    }

    /// Records `note` as the last seen for `origin` (atomically, durably).
    pub fn save(&self, origin: &str, note: &[u8]) -> Result<(), Error> {
        let p = self.seen_path(origin);
        crate::chain::module::write_file(&p, note).map_err(|e| Error::Io {
            what: "writing",
            path: p,
            source: std::io::Error::other(e.to_string()),
        })
    }

    /// Writes the two notes of a split view; returns the evidence file.
    pub fn evidence(&self, origin: &str, seen: &[u8], shown: &[u8]) -> Result<PathBuf, Error> {
        let doc = serde_json::json!({
            "type": "MsezTlogSplitView",
            "origin": origin,
            "seen_checkpoint": String::from_utf8_lossy(seen),
            "shown_checkpoint": String::from_utf8_lossy(shown),
        });
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        bytes.push(b'\n');
        let id = hex::encode(&Sha256::digest(&bytes)[..8]);
        let p = self
            .dir
            .join("evidence")
            .join(format!("{}.{id}.json", Seen::name(origin)));
        crate::chain::module::write_file(&p, &bytes).map_err(|e| Error::Io {
            what: "writing",
            path: p.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(p)
    }
}

fn need(src: &dyn Source, path: &str) -> Result<Vec<u8>, Error> {
    src.read(path)?.ok_or_else(|| Error::Missing {
        path: path.to_string(),
        source_url: src.describe(),
    })
}

/// Reads and checks the whole log at `src`; see the module documentation.
pub fn verify(
    src: &dyn Source,
    verifiers: &[Verifier],
    entries: &[u64],
    seen: &Seen,
) -> Result<Verified, Error> {
    let note_bytes = need(src, CHECKPOINT_KEY)?;
    let (note, ck) = open_checkpoint(&note_bytes, verifiers)?;
    let signed_by = note
        .verify(verifiers)?
        .into_iter()
        .map(Verifier::vkey)
        .collect();
    for &index in entries {
        if index >= ck.size {
            return Err(Error::NoSuchEntry {
                index,
                size: ck.size,
            });
        }
    }
    let mut tiles_checked = 0;
    // Level 0 gives every leaf hash; the tree over them must give the signed root, and every
    // higher tile must hold exactly the nodes that tree has. Tiles are read one at a time, so a
    // checkpoint claiming a huge size fails at its first missing tile, not on allocation.
    let mut leaves = Vec::with_capacity(ck.size.min(1 << 20) as usize);
    for t in tiles::tiles_of(ck.size, Kind::Hash(0)) {
        leaves.extend(tiles::parse_hash_tile(&t, &need(src, &t.path())?)?);
        tiles_checked += 1;
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
            let bytes = need(src, &t.path())?;
            if Some(bytes) != tree.tile_bytes(&t) {
                return Err(Error::BadTile {
                    path: t.path(),
                    why: "its hashes are not the tree's nodes".into(),
                });
            }
            tiles_checked += 1;
        }
    }
    let mut entries_checked = 0;
    let mut chosen = Vec::new();
    for t in tiles::tiles_of(ck.size, Kind::Entries) {
        let bundle = tiles::parse_bundle(&t, &need(src, &t.path())?)?;
        for (i, e) in bundle.iter().enumerate() {
            let index = t.index * tiles::WIDTH + i as u64;
            if tree.node(0, index) != Some(tiles::entry_leaf_hash(e)) {
                return Err(Error::BadTile {
                    path: t.path(),
                    why: format!("entry {index} does not hash to its leaf"),
                });
            }
            if entries.contains(&index) {
                chosen.push((index, e.clone()));
            }
        }
        entries_checked += bundle.len() as u64;
        tiles_checked += 1;
    }
    let mut inclusions = Vec::new();
    for &index in entries {
        let Some((_, entry)) = chosen.iter().find(|(i, _)| *i == index) else {
            continue;
        };
        let path = mmr::inclusion_proof(&tree, index, ck.size)?;
        mmr::verify_inclusion(
            index,
            ck.size,
            &tiles::entry_leaf_hash(entry),
            &path,
            &ck.root,
        )?;
        inclusions.push(Inclusion {
            index,
            entry: hex::encode(entry),
            path,
        });
    }
    let differs = |size: u64, root: &Hash| {
        let found = tree.root_at(size).unwrap_or_default();
        Ok((found != *root).then(|| found.to_hex()))
    };
    let (previous, stale) = consistency(seen, &ck, &differs, &note_bytes, verifiers)?;
    Ok(Verified {
        origin: ck.origin,
        size: ck.size,
        root: ck.root,
        signed_by,
        tiles_checked,
        entries_checked,
        inclusions,
        previous,
        stale,
    })
}

/// What a log shown has at an old size when that is not the given root (None: it extends it).
type Differs<'a> = dyn Fn(u64, &Hash) -> Result<Option<String>, Error> + 'a;

/// Compares with the checkpoint seen before; records this one when it extends it.
///
/// `differs(old_size, old_root)` says what the log shown has at `old_size` when that is not
/// `old_root` (None: it extends it).
fn consistency(
    seen: &Seen,
    ck: &Checkpoint,
    differs: &Differs,
    note_bytes: &[u8],
    verifiers: &[Verifier],
) -> Result<(Option<(u64, Hash)>, bool), Error> {
    let old = match seen.load(&ck.origin)? {
        Some(bytes) => {
            // Only a checkpoint that verified then and still verifies counts as seen.
            let (_, old) = open_checkpoint(&bytes, verifiers)?;
            Some((bytes, old))
        }
        None => None,
    };
    let Some((old_bytes, old)) = old else {
        seen.save(&ck.origin, note_bytes)?;
        return Ok((None, false));
    };
    let previous = Some((old.size, old.root));
    // An older checkpoint than the one seen cannot be checked against it here.
    let split = if old.size <= ck.size {
        differs(old.size, &old.root)?
    } else {
        None
    };
    if let Some(found) = split {
        let evidence = seen.evidence(&ck.origin, &old_bytes, note_bytes)?;
        return Err(Error::SplitView(Box::new(super::SplitView {
            origin: ck.origin.clone(),
            seen_size: old.size,
            size: ck.size,
            seen_root: old.root.to_hex(),
            root: found,
            evidence,
        })));
    }
    if old.size < ck.size {
        seen.save(&ck.origin, note_bytes)?;
    }
    Ok((previous, old.size > ck.size))
}

/// Reads the node hashes a proof needs from the tiles that hold them, each tile once.
///
/// Nothing it returns is trusted by itself: every hash goes into a proof checked against the
/// signed root.
struct TileNodes<'s> {
    src: &'s dyn Source,
    size: u64,
    tiles: std::cell::RefCell<std::collections::HashMap<tiles::Tile, Vec<Hash>>>,
    failed: std::cell::RefCell<Option<Error>>,
}

impl TileNodes<'_> {
    fn tile(&self, t: tiles::Tile) -> Result<Vec<Hash>, Error> {
        if let Some(h) = self.tiles.borrow().get(&t) {
            return Ok(h.clone());
        }
        let hashes = tiles::parse_hash_tile(&t, &need(self.src, &t.path())?)?;
        self.tiles.borrow_mut().insert(t, hashes.clone());
        Ok(hashes)
    }

    fn read(&self, id: NodeId) -> Result<Option<Hash>, Error> {
        let (level, sub) = (id.level / tiles::HEIGHT, id.level % tiles::HEIGHT);
        let count = self.size >> (level * tiles::HEIGHT);
        let first = id.index << sub;
        let n = 1u64 << sub;
        if first + n > count {
            return Ok(None);
        }
        let index = first >> tiles::HEIGHT;
        let width = (count - index * tiles::WIDTH).min(tiles::WIDTH);
        let hashes = self.tile(tiles::Tile {
            kind: Kind::Hash(level),
            index,
            width,
        })?;
        let at = (first - index * tiles::WIDTH) as usize;
        let mut layer: Vec<Hash> = hashes[at..at + n as usize].to_vec();
        while layer.len() > 1 {
            layer = layer
                .chunks_exact(2)
                .map(|p| mmr::node_hash(&p[0], &p[1]))
                .collect();
        }
        Ok(layer.first().copied())
    }
}

impl NodeReader for TileNodes<'_> {
    fn node(&self, id: NodeId) -> Result<Hash, mmr::Error> {
        match self.read(id) {
            Ok(Some(h)) => Ok(h),
            Ok(None) => Err(mmr::Error::MissingNode { node: id }),
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                Err(mmr::Error::MissingNode { node: id })
            }
        }
    }
}

/// Like [`verify`], as a light client: the note, the `entries`' inclusion proofs and the
/// consistency proof from the checkpoint seen before, from the few tiles those proofs need
/// (every hash read is checked through a proof against the signed root; the rest of the log
/// is not read).
pub fn verify_light(
    src: &dyn Source,
    verifiers: &[Verifier],
    entries: &[u64],
    seen: &Seen,
) -> Result<Verified, Error> {
    let note_bytes = need(src, CHECKPOINT_KEY)?;
    let (note, ck) = open_checkpoint(&note_bytes, verifiers)?;
    let signed_by = note
        .verify(verifiers)?
        .into_iter()
        .map(Verifier::vkey)
        .collect();
    let nodes = TileNodes {
        src,
        size: ck.size,
        tiles: Default::default(),
        failed: Default::default(),
    };
    let fetch_err =
        |e: mmr::Error| -> Error { nodes.failed.borrow_mut().take().unwrap_or(e.into()) };
    let mut bundles_read = 0;
    let mut inclusions = Vec::new();
    for &index in entries {
        if index >= ck.size {
            return Err(Error::NoSuchEntry {
                index,
                size: ck.size,
            });
        }
        let b = tiles::tiles_of(ck.size, Kind::Entries)
            .nth((index / tiles::WIDTH) as usize)
            .ok_or(Error::NoSuchEntry {
                index,
                size: ck.size,
            })?;
        let bundle = tiles::parse_bundle(&b, &need(src, &b.path())?)?;
        bundles_read += 1;
        let entry = bundle[(index % tiles::WIDTH) as usize].clone();
        let path = mmr::inclusion_proof(&nodes, index, ck.size).map_err(fetch_err)?;
        mmr::verify_inclusion(
            index,
            ck.size,
            &tiles::entry_leaf_hash(&entry),
            &path,
            &ck.root,
        )
        .map_err(|_| Error::RootMismatch {
            what: format!(
                "the inclusion of entry {index} in {} (size {})",
                ck.origin, ck.size
            ),
            expected: ck.root.to_hex(),
            found: "another root from its tiles and entry bundle".into(),
        })?;
        inclusions.push(Inclusion {
            index,
            entry: hex::encode(entry),
            path,
        });
    }
    let differs = |size: u64, root: &Hash| -> Result<Option<String>, Error> {
        if size == ck.size {
            return Ok((*root != ck.root).then(|| ck.root.to_hex()));
        }
        let proof = mmr::consistency_proof(&nodes, size, ck.size).map_err(fetch_err)?;
        Ok(
            mmr::verify_consistency(size, ck.size, root, &ck.root, &proof)
                .err()
                .map(|_| "(no consistency proof from its tiles)".to_string()),
        )
    };
    let (previous, stale) = consistency(seen, &ck, &differs, &note_bytes, verifiers)?;
    let tiles_checked = nodes.tiles.borrow().len() as u64 + bundles_read;
    Ok(Verified {
        origin: ck.origin,
        size: ck.size,
        root: ck.root,
        signed_by,
        tiles_checked,
        entries_checked: inclusions.len() as u64,
        inclusions,
        previous,
        stale,
    })
}
