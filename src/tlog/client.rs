//! The client of a published log: reads its checkpoint and tiles from a directory, an HTTP(S)
//! base URL or a remote (S3, IPFS), checks the note signature, every tile against the root,
//! the inclusion of chosen entries, and consistency with the last checkpoint seen for the
//! origin (kept in a local state directory). A checkpoint that is not an extension of the one
//! seen before is a split view: both notes are kept as fork evidence.
//!
//! A verification runs every check it can and reports every failure as a finding of
//! [`Verified`] (docs/verdicts.md); an error means it could not run at all (no checkpoint, a
//! note that does not parse, an `--entry` beyond the log). A checkpoint its origin did not
//! validly sign claims nothing, so its tiles are not compared; a checkpoint that any check
//! failed is never recorded as seen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::canon::Digest as Hash;
use crate::mmr::{self, NodeId, NodeReader};
use crate::remote::{self, Backend};

use super::Error;
use super::note::{Checkpoint, Note, Verifier, open_checkpoint};
use super::publish::CHECKPOINT_KEY;
use super::tiles::{self, Kind, Tree};
use crate::taxonomy::Finding;

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
    /// Every check that failed, in order (empty: the log verified).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// The note's signature lines, each judged on its own: the verifiers that signed it validly,
/// and a finding for each line of a known verifier that does not verify and for an origin that
/// did not sign. Returns the checkpoint only when its origin signed it.
fn signatures(
    note_bytes: &[u8],
    verifiers: &[Verifier],
    findings: &mut Vec<Finding>,
) -> Result<(Checkpoint, Vec<String>, bool), Error> {
    let note = Note::parse(note_bytes)?;
    let ck = Checkpoint::parse(&note.text)?;
    let mut signed: Vec<&Verifier> = Vec::new();
    for line in &note.signatures {
        let one = Note {
            text: note.text.clone(),
            signatures: vec![line.clone()],
        };
        match one.verify(verifiers) {
            Ok(ok) => {
                for v in ok {
                    if !signed.contains(&v) {
                        signed.push(v);
                    }
                }
            }
            Err(e) => findings.push(Finding::from_error(&e)),
        }
    }
    let origin_signed = signed.iter().any(|v| v.name == ck.origin);
    if !origin_signed && findings.is_empty() {
        findings.push(Finding::from_error(&Error::Unsigned {
            origin: ck.origin.clone(),
        }));
    }
    let signed_by = signed.into_iter().map(Verifier::vkey).collect();
    Ok((ck, signed_by, origin_signed))
}

/// An `--entry` beyond the log is the caller's mistake (usage), not the log's.
fn in_range(entries: &[u64], ck: &Checkpoint) -> Result<(), Error> {
    match entries.iter().find(|&&i| i >= ck.size) {
        Some(&index) => Err(Error::NoSuchEntry {
            index,
            size: ck.size,
        }),
        None => Ok(()),
    }
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

/// What both clients start from: the checkpoint note read and its signature lines judged.
struct Opened {
    note_bytes: Vec<u8>,
    ck: Checkpoint,
    origin_signed: bool,
    findings: Vec<Finding>,
    v: Verified,
}

/// Reads the checkpoint, judges each signature line and checks `entries` against its size.
fn open(src: &dyn Source, verifiers: &[Verifier], entries: &[u64]) -> Result<Opened, Error> {
    let note_bytes = need(src, CHECKPOINT_KEY)?;
    let mut findings = Vec::new();
    let (ck, signed_by, origin_signed) = signatures(&note_bytes, verifiers, &mut findings)?;
    in_range(entries, &ck)?;
    let v = Verified {
        origin: ck.origin.clone(),
        size: ck.size,
        root: ck.root,
        signed_by,
        tiles_checked: 0,
        entries_checked: 0,
        inclusions: Vec::new(),
        previous: None,
        stale: false,
        findings: Vec::new(),
    };
    Ok(Opened {
        note_bytes,
        ck,
        origin_signed,
        findings,
        v,
    })
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
    let Opened {
        note_bytes,
        ck,
        origin_signed,
        mut findings,
        mut v,
    } = open(src, verifiers, entries)?;
    if origin_signed {
        if let Some(tree) = check_tiles(src, &ck, entries, &mut v, &mut findings) {
            // Only the signed tree can show a split view, and only a log that passed every
            // check is recorded as seen.
            let differs = |size: u64, root: &Hash| {
                let found = tree.root_at(size).unwrap_or_default();
                Ok((found != *root).then(|| found.to_hex()))
            };
            let record = findings.is_empty();
            match consistency(seen, &ck, &differs, &note_bytes, verifiers, record) {
                Ok((previous, stale)) => (v.previous, v.stale) = (previous, stale),
                Err(e) => findings.push(Finding::from_error(&e)),
            }
        }
    }
    v.findings = findings;
    Ok(v)
}

/// Every tile against the tree the level-0 tiles give and that tree against the signed root,
/// every entry against its leaf, and the `entries`' inclusions; each failure a finding. The
/// tree when it is the signed one.
fn check_tiles(
    src: &dyn Source,
    ck: &Checkpoint,
    entries: &[u64],
    v: &mut Verified,
    findings: &mut Vec<Finding>,
) -> Option<Tree> {
    let mut found = |e: Error| findings.push(Finding::from_error(&e));
    // Level 0 gives every leaf hash; the tree over them must give the signed root, and every
    // higher tile must hold exactly the nodes that tree has. Tiles are read one at a time, so a
    // checkpoint claiming a huge size fails at its first missing tile, not on allocation.
    let mut leaves = Vec::with_capacity(ck.size.min(1 << 20) as usize);
    let mut whole = true;
    for t in tiles::tiles_of(ck.size, Kind::Hash(0)) {
        match need(src, &t.path()).and_then(|b| tiles::parse_hash_tile(&t, &b)) {
            Ok(hashes) => leaves.extend(hashes),
            Err(e) => {
                found(e);
                whole = false;
                // A missing tile says the log is cut short here: the rest would say the same.
                break;
            }
        }
        v.tiles_checked += 1;
    }
    if !whole {
        return None;
    }
    let tree = Tree::from_leaf_hashes(leaves);
    let signed = tree.root() == ck.root;
    if !signed {
        found(Error::RootMismatch {
            what: format!("the level-0 tiles of {} (size {})", ck.origin, ck.size),
            expected: ck.root.to_hex(),
            found: tree.root().to_hex(),
        });
    }
    for level in 1..tiles::levels(ck.size) {
        for t in tiles::tiles_of(ck.size, Kind::Hash(level)) {
            match need(src, &t.path()) {
                Ok(bytes) if Some(&bytes) == tree.tile_bytes(&t).as_ref() => {}
                Ok(_) => found(Error::BadTile {
                    path: t.path(),
                    why: "its hashes are not the tree's nodes".into(),
                }),
                Err(e) => found(e),
            }
            v.tiles_checked += 1;
        }
    }
    let mut chosen = Vec::new();
    for t in tiles::tiles_of(ck.size, Kind::Entries) {
        let bundle = match need(src, &t.path()).and_then(|b| tiles::parse_bundle(&t, &b)) {
            Ok(b) => b,
            Err(e) => {
                found(e);
                continue;
            }
        };
        let mut bad = (0..).zip(&bundle).filter(|(i, e)| {
            tree.node(0, t.index * tiles::WIDTH + i) != Some(tiles::entry_leaf_hash(e))
        });
        if let Some((i, _)) = bad.next() {
            let more = bad.count();
            let index = t.index * tiles::WIDTH + i;
            let also = match more {
                0 => String::new(),
                n => format!(" (and {n} more of its entries)"),
            };
            found(Error::BadTile {
                path: t.path(),
                why: format!("entry {index} does not hash to its leaf{also}"),
            });
        }
        for (i, e) in (0..).zip(&bundle) {
            let index = t.index * tiles::WIDTH + i;
            if entries.contains(&index) {
                chosen.push((index, e.clone()));
            }
        }
        v.entries_checked += bundle.len() as u64;
        v.tiles_checked += 1;
    }
    for &index in entries {
        let Some((_, entry)) = chosen.iter().find(|(i, _)| *i == index) else {
            continue;
        };
        let leaf = tiles::entry_leaf_hash(entry);
        let proved = mmr::inclusion_proof(&tree, index, ck.size).and_then(|path| {
            mmr::verify_inclusion(index, ck.size, &leaf, &path, &ck.root).map(|_| path)
        });
        match proved {
            Ok(path) => v.inclusions.push(Inclusion {
                index,
                entry: hex::encode(entry),
                path,
            }),
            Err(e) => found(e.into()),
        }
    }
    signed.then_some(tree)
}

/// What a log shown has at an old size when that is not the given root (None: it extends it).
type Differs<'a> = dyn Fn(u64, &Hash) -> Result<Option<String>, Error> + 'a;

/// Compares with the checkpoint seen before; records this one when it extends it and `record`
/// (every other check passed).
///
/// `differs(old_size, old_root)` says what the log shown has at `old_size` when that is not
/// `old_root` (None: it extends it).
fn consistency(
    seen: &Seen,
    ck: &Checkpoint,
    differs: &Differs,
    note_bytes: &[u8],
    verifiers: &[Verifier],
    record: bool,
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
        if record {
            seen.save(&ck.origin, note_bytes)?;
        }
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
    if old.size < ck.size && record {
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
    let Opened {
        note_bytes,
        ck,
        origin_signed,
        mut findings,
        mut v,
    } = open(src, verifiers, entries)?;
    if !origin_signed {
        v.findings = findings;
        return Ok(v);
    }
    let nodes = TileNodes {
        src,
        size: ck.size,
        tiles: Default::default(),
        failed: Default::default(),
    };
    let fetch_err =
        |e: mmr::Error| -> Error { nodes.failed.borrow_mut().take().unwrap_or(e.into()) };
    let mut bundles_read = 0;
    for &index in entries {
        match light_inclusion(src, &ck, &nodes, index, &fetch_err) {
            Ok(i) => {
                v.inclusions.push(i);
                bundles_read += 1;
            }
            Err(e) => findings.push(Finding::from_error(&e)),
        }
    }
    // The consistency proof comes from the same tiles: after a failure above it would only
    // restate it (or, from a damaged tile, claim a split view that is not one).
    if findings.is_empty() {
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
        match consistency(seen, &ck, &differs, &note_bytes, verifiers, true) {
            Ok((previous, stale)) => (v.previous, v.stale) = (previous, stale),
            Err(e) => findings.push(Finding::from_error(&e)),
        }
    }
    v.tiles_checked = nodes.tiles.borrow().len() as u64 + bundles_read;
    v.entries_checked = v.inclusions.len() as u64;
    v.findings = findings;
    Ok(v)
}

/// One entry's inclusion, light: its entry bundle and the tiles its proof needs.
fn light_inclusion(
    src: &dyn Source,
    ck: &Checkpoint,
    nodes: &TileNodes<'_>,
    index: u64,
    fetch_err: &dyn Fn(mmr::Error) -> Error,
) -> Result<Inclusion, Error> {
    let b = tiles::tiles_of(ck.size, Kind::Entries)
        .nth((index / tiles::WIDTH) as usize)
        .ok_or(Error::NoSuchEntry {
            index,
            size: ck.size,
        })?;
    let bundle = tiles::parse_bundle(&b, &need(src, &b.path())?)?;
    let entry = bundle[(index % tiles::WIDTH) as usize].clone();
    let path = mmr::inclusion_proof(nodes, index, ck.size).map_err(fetch_err)?;
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
    Ok(Inclusion {
        index,
        entry: hex::encode(entry),
        path,
    })
}
