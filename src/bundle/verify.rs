//! Verifying a witness bundle offline: the content against the manifest, the artifacts against
//! their digests, and the manifest against a fresh walk of the content. Everything is read in
//! place from the zip through [`BundleReader`]; nothing is extracted or written anywhere.
//!
//! Order of the checks, each deciding the class of the failure: zip structure ([`super::read`],
//! schema 65) → manifest schema (65) → graph walk over the extracted content with strict
//! digests (a missing artifact is `unknown` 68, an altered one `invalid` 66) → every entry
//! against `bundle.entries` (66; a listed entry that is absent is 68) → every other manifest
//! field against the fresh walk (66).

use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use serde::Deserialize as _;

use super::manifest::{self, Hole};
use super::read::{BundleReader, Index, check_name};
use super::write::STORE_ROOT;
use super::{EntryDigest, Error, MANIFEST};
use crate::artifact::{self, ObjectId};
use crate::canon::{Digest, Value};
use crate::graph::{self, Report, Root};
use crate::progress::Progress;
use crate::taxonomy::Finding;

/// Hard caps on what a manifest may ask the verifier to walk: the default node limit, so
/// every bundle msez writes by default verifies completely (docs/limits.md).
pub const MAX_NODES_CAP: u64 = graph::DEFAULT_MAX_NODES as u64;
/// Entries a bundle may have when msez verifies it: one per receipt of a module of a few
/// million receipts, plus its artifacts (the reader's own default is lower).
pub const MAX_ENTRIES: u64 = 4_200_000;

/// The reader limits for verifying bundles msez writes: the hostile-input defaults, with room
/// for one entry per receipt of the largest chain the node cap admits.
pub fn limits() -> super::Limits {
    let d = super::Limits::default();
    super::Limits {
        max_entries: d.max_entries.max(MAX_ENTRIES),
        ..d
    }
}
/// Hard cap on the walk depth a manifest may ask for.
pub const MAX_DEPTH_CAP: u64 = 64;

/// The outcome of a bundle check (the verdict is `report.verdict()`).
#[derive(Debug)]
pub struct Checked {
    /// The fresh walk, in bundle form, with `input_bundle`.
    pub report: Report,
    /// The manifest as stored, without its long arrays (`nodes`, `edges` and
    /// `bundle.entries` are empty: they grow with the closure; see [`super::manifest`]).
    pub manifest: Value,
    /// `bundle.entries` as verified (empty when the walk stopped the check earlier).
    pub entries: Vec<EntryDigest>,
    /// Where the content and the manifest differ: the first entry (by name) that differs,
    /// and the first manifest field a fresh walk does not reproduce.
    pub findings: Vec<Finding>,
    /// SHA-256 of the canonical manifest.
    pub manifest_digest: Digest,
}

/// The manifest fields a fresh walk must reproduce exactly.
const COMPARED: [&str; 8] = [
    "root",
    "options",
    "stats",
    "missing",
    "digest_mismatches",
    "nodes",
    "errors",
    "edges",
];

fn infer_root(manifest: &Value) -> Result<Root, Error> {
    let root = &manifest["root"];
    let mode = root["mode"].as_str().unwrap_or_default();
    if mode == "cas" {
        let id = format!(
            "{}:{}",
            root["artifact_type"].as_str().unwrap_or_default(),
            root["digest_sha256"].as_str().unwrap_or_default()
        );
        return Ok(Root::Cas(id.parse().map_err(crate::graph::Error::from)?));
    }
    let path = root["path"].as_str().unwrap_or_default();
    // The manifest is untrusted: its root path must be a safe name under root/.
    let bad = |why: &'static str| Error::UnsafePath {
        name: format!("manifest root.path {path}"),
        why,
    };
    if !path.starts_with("root/") {
        return Err(bad("must name an entry under root/"));
    }
    if check_name(path, &super::Limits::default())? {
        return Err(bad("must not end in /"));
    }
    let p = PathBuf::from(path);
    Ok(if mode == "dir" {
        Root::Dir(p)
    } else {
        Root::File(p)
    })
}

fn short(v: &Value) -> String {
    let s = crate::canon::to_bytes(v)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| v.to_string());
    if s.len() > 240 {
        format!(
            "{}… ({} bytes)",
            s.chars().take(240).collect::<String>(),
            s.len()
        )
    } else {
        s
    }
}

/// A walk's view of a bundle: root documents under `root/`, artifacts under
/// `artifacts/<type>/<digest>[.<ext>]`, all read in place from the zip.
struct ZipSource<'a, R: Read + Seek> {
    reader: &'a mut BundleReader<R>,
    /// (type, digest hex) → entry names.
    artifacts: HashMap<(String, String), Vec<String>>,
    /// One read buffer for every entry (a fresh one per entry was a third of the CPU time).
    buf: Vec<u8>,
}

impl<'a, R: Read + Seek> ZipSource<'a, R> {
    fn new(reader: &'a mut BundleReader<R>) -> Self {
        let mut artifacts: HashMap<(String, String), Vec<String>> = HashMap::new();
        for e in reader.entries() {
            let mut parts = e.name.splitn(3, '/');
            let (Some(STORE_ROOT), Some(t), Some(file)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let b = file.as_bytes();
            let named = !file.contains('/') && (b.len() == 64 || (b.len() > 64 && b[64] == b'.'));
            if named {
                artifacts
                    .entry((t.to_string(), file[..64].to_string()))
                    .or_default()
                    .push(e.name.clone());
            }
        }
        for names in artifacts.values_mut() {
            names.sort();
        }
        ZipSource {
            reader,
            artifacts,
            buf: vec![0u8; 64 * 1024],
        }
    }
}

fn entry_name(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

impl<R: Read + Seek> graph::Source for ZipSource<'_, R> {
    fn list(&mut self, dir: &Path) -> Result<Vec<String>, graph::Error> {
        let prefix = format!("{}/", dir.display());
        Ok(self
            .reader
            .entries()
            .iter()
            .filter_map(|e| e.name.strip_prefix(&prefix).map(str::to_string))
            .collect())
    }

    fn read(&mut self, path: &Path) -> Result<Vec<u8>, String> {
        let name = entry_name(path)?;
        self.reader
            .read_entry(name, crate::canon::MAX_JSON_BYTES as u64)
            .map_err(|e| e.to_string())
    }

    fn hash(&mut self, path: &Path) -> Result<Digest, String> {
        let name = entry_name(path)?;
        hash_entry(self.reader, name, &mut self.buf)
            .map(|(d, _)| d)
            .map_err(|e| e.to_string())
    }

    fn resolve(&mut self, id: &ObjectId) -> Result<Option<PathBuf>, artifact::Error> {
        let key = (id.artifact_type.to_string(), id.digest.to_hex());
        match self.artifacts.get(&key).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(PathBuf::from(one))),
            Some(many) => Err(artifact::Error::Ambiguous {
                object: id.to_string(),
                paths: many.iter().map(PathBuf::from).collect(),
            }),
        }
    }

    fn store_roots(&self) -> Vec<String> {
        vec![STORE_ROOT.to_string()]
    }
}

/// SHA-256 and size of an entry, streamed.
fn hash_entry<R: Read + Seek>(
    reader: &mut BundleReader<R>,
    name: &str,
    buf: &mut [u8],
) -> Result<(Digest, u64), Error> {
    let mut r = reader.open_entry(name)?;
    let mut h = sha2::Sha256::new();
    let mut n_total = 0u64;
    loop {
        // A network failure under an HTTP range reader stays I/O (74), not a bad zip.
        let n = r.read(buf).map_err(|e| super::read::read_err(name, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((Digest(h.finalize().into()), n_total))
}

/// Checks the bundle read by `reader` (named `label` in the report), in place.
pub fn verify<R: Read + Seek>(
    reader: &mut BundleReader<R>,
    label: &str,
    progress: &dyn Progress,
) -> Result<Checked, Error> {
    let (scanned, listed) = read_manifest(reader)?;
    let manifest = scanned.skeleton.clone();
    let manifest_digest = scanned.digest;
    let opts = graph::Options {
        strict: true,
        emit_edges: true,
        max_nodes: manifest["options"]["max_nodes"]
            .as_u64()
            .unwrap_or(graph::DEFAULT_MAX_NODES as u64)
            .min(MAX_NODES_CAP) as usize,
        max_depth: manifest["options"]["max_depth"]
            .as_u64()
            .unwrap_or(u64::from(graph::DEFAULT_MAX_DEPTH))
            .min(MAX_DEPTH_CAP) as u32,
        store_roots: Vec::new(),
    };
    let root = infer_root(&manifest)?;
    let mut report = graph::verify_in(&mut ZipSource::new(reader), &root, &opts, progress)?;
    // A bundle written from a truncated root scan carries only the files scanned, so a fresh
    // walk cannot see the truncation: the manifest's own claim of it is taken (it can only
    // weaken the verdict, to unknown).
    if manifest["root"]["files_truncated"] == Value::Bool(true) {
        if let graph::RootInfo::Dir {
            files_truncated, ..
        } = &mut report.root
        {
            *files_truncated = true;
            report.partial = true;
        }
    }
    report.generated_at = manifest["generated_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    report.input_bundle = Some(serde_json::json!({
        "path": label,
        "extracted_store_root": STORE_ROOT,
        "root_inferred_from_manifest": true,
        "manifest_digest_sha256": manifest_digest.to_hex(),
    }));
    // A closure with missing or altered artifacts is reported as found; a cut-short one
    // (partial) still has its entries and manifest checked.
    if !report.missing.is_empty() || !report.digest_mismatches.is_empty() {
        return Ok(Checked {
            report,
            manifest,
            manifest_digest,
            entries: Vec::new(),
            findings: Vec::new(),
        });
    }
    // What the content says against what the manifest claims is a finding, not the end: the
    // chains the bundle carries are still checked (a missing receipt entry is a gap, invalid,
    // which a `missing.bundle_entry` alone would leave unknown).
    let mut findings = Vec::new();
    let entries = match check_entries(reader, &listed) {
        Ok(entries) => entries,
        Err(e) if content(&e) => {
            findings.push(Finding::from_error(&e));
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    match compare(&mut report, &scanned) {
        Ok(()) => {}
        Err(e) if content(&e) => findings.push(Finding::from_error(&e)),
        Err(e) => return Err(e),
    }
    if findings.is_empty() {
        report.bundle = manifest.get("bundle").cloned();
    }
    Ok(Checked {
        report,
        manifest,
        manifest_digest,
        entries,
        findings,
    })
}

/// A difference between the bundle's content and its manifest (as opposed to a zip or I/O
/// failure, which ends the check).
fn content(e: &Error) -> bool {
    matches!(
        e,
        Error::Entry { .. } | Error::NoEntry { .. } | Error::Manifest { .. }
    )
}

/// The manifest's `bundle.entries`, checked against the zip's entries as they stream by:
/// only a size and a digest per entry are kept.
struct Listed {
    /// (bytes, SHA-256) the manifest lists, by position in [`BundleReader::entries`].
    by_entry: Vec<Option<(u64, [u8; 32])>>,
    prev: Option<String>,
    /// The first listed name with no entry of its own (absent, the manifest, or listed twice).
    absent: Option<String>,
    /// The first listed name out of order.
    unsorted: Option<String>,
}

impl Listed {
    fn new(n: usize) -> Self {
        Listed {
            by_entry: vec![None; n],
            prev: None,
            absent: None,
            unsorted: None,
        }
    }

    fn item(&mut self, index: &Index<'_>, hole: Hole, i: u64, v: &Value) -> Result<(), Error> {
        if hole != Hole::Entries {
            return Ok(());
        }
        if i == 0 {
            *self = Listed::new(self.by_entry.len());
        }
        let bad = |e: String| {
            Error::Schema(crate::schema::Error::Invalid {
                what: MANIFEST.into(),
                schema: manifest::SCHEMA,
                errors: vec![format!("/bundle/entries/{i}: {e}")],
            })
        };
        let e = EntryDigest::deserialize(v).map_err(|e| bad(e.to_string()))?;
        let sha: Digest = e
            .sha256
            .parse()
            .map_err(|e: crate::canon::Error| bad(e.to_string()))?;
        if let Some(prev) = &self.prev {
            if *prev == e.path {
                self.absent.get_or_insert_with(|| e.path.clone());
            } else if *prev > e.path {
                self.unsorted.get_or_insert_with(|| e.path.clone());
            }
        }
        match index.position(&e.path).filter(|_| e.path != MANIFEST) {
            Some(p) => self.by_entry[p] = Some((e.bytes, sha.0)),
            None => {
                self.absent.get_or_insert_with(|| e.path.clone());
            }
        }
        self.prev = Some(e.path);
        Ok(())
    }
}

/// Streams manifest.json once (or, when its keys are not in canonical order, parses it whole
/// under the fixed JSON cap), checking its schema and collecting `bundle.entries`.
fn read_manifest<R: Read + Seek>(
    reader: &mut BundleReader<R>,
) -> Result<(manifest::Scanned, Listed), Error> {
    let n = reader.entries().len();
    let cap = manifest::max_bytes(reader.limits().max_manifest_bytes, n as u64);
    let size = reader
        .entry(MANIFEST)
        .ok_or_else(|| Error::NoEntry {
            name: MANIFEST.into(),
        })?
        .size;
    if size > cap {
        return Err(Error::Limit {
            name: MANIFEST.into(),
            what: "size",
            limit: cap,
            found: size,
        });
    }
    let mut listed = Listed::new(n);
    let streamed = {
        let (r, index) = reader.open_entry_indexed(MANIFEST)?;
        manifest::scan(r, cap, &mut |h, i, v| listed.item(&index, h, i, v))?
    };
    let scanned = match streamed {
        Some(s) => s,
        None => {
            let bytes = reader.read_entry(MANIFEST, crate::canon::MAX_JSON_BYTES as u64)?;
            let value = crate::canon::parse(&bytes)?;
            drop(bytes);
            let index = reader.index();
            manifest::scan_value(value, &mut |h, i, v| listed.item(&index, h, i, v))?
        }
    };
    Ok((scanned, listed))
}

/// Every entry against the manifest's list, both ways, in name order (the first difference by
/// name is the one reported). Returns the list.
fn check_entries<R: Read + Seek>(
    reader: &mut BundleReader<R>,
    listed: &Listed,
) -> Result<Vec<EntryDigest>, Error> {
    if let Some(name) = &listed.unsorted {
        return Err(Error::Entry {
            name: name.clone(),
            expected: "manifest bundle.entries sorted by name".into(),
            found: "an entry listed out of order".into(),
        });
    }
    let all = reader.entries();
    let mut order: Vec<usize> = (0..all.len())
        .filter(|&p| all[p].name != MANIFEST)
        .collect();
    order.sort_by(|&a, &b| all[a].name.cmp(&all[b].name));
    // Digests only while hashing: a string kept per entry between the inflater's large
    // short-lived buffers fragments the heap (20 KB an entry, measured).
    let mut hashed: Vec<(usize, Digest, u64)> = Vec::with_capacity(order.len());
    let mut buf = vec![0u8; 64 * 1024];
    for p in order {
        let name = reader.entries()[p].name.as_str();
        if let Some(a) = listed.absent.as_ref().filter(|a| a.as_str() < name) {
            return Err(Error::NoEntry { name: a.clone() });
        }
        let name = name.to_string();
        let (d, bytes) = hash_entry(reader, &name, &mut buf)?;
        match listed.by_entry[p] {
            Some((lb, ls)) if ls == d.0 && lb == bytes => {}
            Some((lb, ls)) => {
                return Err(Error::Entry {
                    name,
                    expected: format!("sha256 {} ({lb} bytes)", hex::encode(ls)),
                    found: format!("sha256 {d} ({bytes} bytes)"),
                });
            }
            None => {
                return Err(Error::Entry {
                    name,
                    expected: "an entry listed in manifest bundle.entries".into(),
                    found: format!("an unlisted entry (sha256 {d})"),
                });
            }
        }
        drop(name);
        hashed.push((p, d, bytes));
    }
    let all = reader.entries();
    let found = hashed
        .into_iter()
        .map(|(p, d, bytes)| EntryDigest {
            path: all[p].name.clone(),
            bytes,
            sha256: d.to_hex(),
        })
        .collect();
    if let Some(a) = &listed.absent {
        return Err(Error::NoEntry { name: a.clone() });
    }
    Ok(found)
}

/// Every other claim of the manifest against the fresh walk; the long arrays by their
/// canonical digests.
fn compare(report: &mut Report, scanned: &manifest::Scanned) -> Result<(), Error> {
    let nodes = std::mem::take(&mut report.nodes);
    let edges = report.edges.as_mut().map(std::mem::take);
    let fresh = serde_json::to_value(&*report);
    report.nodes = nodes;
    report.edges = edges;
    let fresh = fresh.map_err(|e| Error::Zip {
        what: "report".into(),
        reason: e.to_string(),
    })?;
    for field in COMPARED {
        let differ = |expected, found| Error::Manifest {
            field: field.to_string(),
            expected,
            found,
        };
        match field {
            "nodes" | "edges" => {
                let (want, got) = if field == "nodes" {
                    (manifest::Summary::of(Some(&report.nodes))?, &scanned.nodes)
                } else {
                    (
                        manifest::Summary::of(report.edges.as_deref())?,
                        &scanned.edges,
                    )
                };
                if want != *got {
                    return Err(differ(want.short(), got.short()));
                }
            }
            _ => {
                let (want, got) = (&fresh[field], &scanned.skeleton[field]);
                if want != got {
                    return Err(differ(short(want), short(got)));
                }
            }
        }
    }
    Ok(())
}

/// Opens a bundle file and verifies it (see [`verify`]).
pub fn verify_file(path: &Path, progress: &dyn Progress) -> Result<Checked, Error> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut reader = BundleReader::open(std::io::BufReader::new(f), limits())?;
    verify(&mut reader, &path.display().to_string(), progress)
}

/// The manifest (without its long arrays, see [`super::manifest`]) and its digest, after the
/// structural and schema checks only.
pub fn manifest_of(path: &Path) -> Result<(Value, Digest), Error> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut reader = BundleReader::open(std::io::BufReader::new(f), limits())?;
    let (scanned, _) = read_manifest(&mut reader)?;
    Ok((scanned.skeleton, scanned.digest))
}
