//! A witness bundle as a mounted tree: `manifest.json`, `verify-report.json` (a fresh offline
//! verification, made when first looked at), `raw/` (the zip's entries exactly as stored),
//! `objects/` + `graph/` + `digest-input/` from the bundle's `artifacts/<type>/<digest>[.<ext>]`,
//! README.txt, and the chains of the modules under `root/` in `assets/` and `corridors/` (as in
//! a repository: [`super::chains`]).
//!
//! Mounting reads only the central directory (hostile-input checks included: a bundle the
//! reader refuses does not mount). An entry is decompressed once, when first opened, into
//! memory (small) or the mount's private cache (large); reads are served from there. Objects
//! are shown only if they hash to their names.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::sync::{Arc, Mutex, OnceLock};

use crate::artifact::{self, ObjectId};
use crate::bundle::{BundleReader, MANIFEST};
use crate::canon::{self, DigestRule};

use crate::chain::store::ChainKey;

use super::Error;
use super::chains::{Bytes, ChainSource, Chains};
use super::readme::Mounted;
use super::repo::{asset_name_of, first_purpose_of, pread, slice};
use super::store::{self, Objects, Store};
use super::tree::{self, Entries, Entry, Node, View};

/// Entries up to this size are kept in memory once decompressed.
const IN_MEMORY: u64 = 8 << 20;
/// Decompressed bytes kept in memory at most (then the memory cache starts over).
const MEMORY_BUDGET: u64 = 256 << 20;

/// Decompressed entry content.
#[derive(Clone)]
enum Spilled {
    Memory(Arc<Vec<u8>>),
    File(Arc<File>),
}

impl Spilled {
    fn read(&self, offset: u64, size: u32) -> std::io::Result<Vec<u8>> {
        match self {
            Spilled::Memory(b) => Ok(slice(b, offset, size)),
            Spilled::File(f) => pread(f, offset, size),
        }
    }
}

/// A bundle's entries and objects.
pub struct BundleStore<R: Read + Seek + Send + 'static> {
    label: String,
    reader: Mutex<BundleReader<R>>,
    /// Entry name -> declared size.
    sizes: BTreeMap<String, u64>,
    /// Object -> its entry under artifacts/.
    objects: HashMap<ObjectId, String>,
    spilled: Mutex<(HashMap<String, Spilled>, u64)>,
    cache: tempfile::TempDir,
    report: OnceLock<Vec<u8>>,
}

impl<R: Read + Seek + Send + 'static> BundleStore<R> {
    /// Opens the bundle read by `source` (its central directory only).
    pub fn open(source: R, label: &str) -> Result<Self, Error> {
        let reader = BundleReader::open(source, crate::bundle::verify::limits())?;
        let mut sizes = BTreeMap::new();
        let mut objects = HashMap::new();
        for e in reader.entries() {
            sizes.insert(e.name.clone(), e.size);
            if let Some(id) = artifact_entry(&e.name) {
                objects.insert(id, e.name.clone());
            }
        }
        let cache = tempfile::Builder::new()
            .prefix("msez-mount-")
            .tempdir()
            .map_err(|e| Error::io("creating a cache directory in", std::env::temp_dir(), e))?;
        Ok(BundleStore {
            // Shown in the mounted view: never a presigned URL's signature.
            label: crate::remote::Url::redact(label),
            reader: Mutex::new(reader),
            sizes,
            objects,
            spilled: Mutex::new((HashMap::new(), 0)),
            cache,
            report: OnceLock::new(),
        })
    }

    /// The decompressed content of an entry, decompressed once.
    fn spill(&self, name: &str) -> Result<Spilled, Error> {
        if let Some(s) = self
            .spilled
            .lock()
            .ok()
            .and_then(|s| s.0.get(name).cloned())
        {
            return Ok(s);
        }
        let size = self.sizes.get(name).copied().unwrap_or(0);
        let mut reader = self.reader.lock().map_err(|_| poisoned())?;
        let mut entry = reader.open_entry(name)?;
        let spilled = if size <= IN_MEMORY {
            let mut buf = Vec::with_capacity(size as usize);
            entry
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("decompressing", name, e))?;
            Spilled::Memory(Arc::new(buf))
        } else {
            let mut f = tempfile::tempfile_in(self.cache.path())
                .map_err(|e| Error::io("creating a file in", self.cache.path(), e))?;
            std::io::copy(&mut entry, &mut f).map_err(|e| Error::io("decompressing", name, e))?;
            f.flush().map_err(|e| Error::io("decompressing", name, e))?;
            Spilled::File(Arc::new(f))
        };
        drop(entry);
        drop(reader);
        if let Ok(mut s) = self.spilled.lock() {
            if let Spilled::Memory(b) = &spilled {
                s.1 += b.len() as u64;
                if s.1 > MEMORY_BUDGET {
                    s.0.retain(|_, v| matches!(v, Spilled::File(_)));
                    s.1 = b.len() as u64;
                }
            }
            s.0.insert(name.to_string(), spilled.clone());
        }
        Ok(spilled)
    }

    /// The host file of a large entry decompressed into the cache (small ones stay in memory).
    fn spilled_file(&self, name: &str) -> Option<File> {
        match self.spill(name).ok()? {
            Spilled::File(f) => f.try_clone().ok(),
            Spilled::Memory(_) => None,
        }
    }

    /// The offline verification of the whole bundle, as JSON (an error becomes the report).
    fn report(&self) -> &[u8] {
        self.report.get_or_init(|| {
            let value = match self.reader.lock() {
                // The closure and every chain the bundle carries; no auditor anchors here, so
                // anchors the bundle ships give at most unknown (crate::audit).
                Ok(mut r) => match crate::audit::verify_bundle(
                    &mut r,
                    &self.label,
                    &crate::audit::TrustSource::Bundle,
                    &crate::progress::Silent,
                ) {
                    Ok(audited) => audited.to_value(),
                    Err(e) => serde_json::json!({
                        "verdict": "invalid",
                        "error": {"code": crate::taxonomy::Classify::code(&e), "message": e.to_string()},
                    }),
                },
                Err(_) => serde_json::json!({"verdict": "unknown", "error": "reader poisoned"}),
            };
            let mut text = serde_json::to_vec_pretty(&value).unwrap_or_default();
            text.push(b'\n');
            text
        })
    }
}

fn poisoned() -> Error {
    Error::io(
        "reading",
        "bundle",
        std::io::Error::other("a reader thread panicked"),
    )
}

/// The object an `artifacts/<type>/<digest>[.<ext>]` entry holds.
fn artifact_entry(name: &str) -> Option<ObjectId> {
    let rest = name.strip_prefix("artifacts/")?;
    let (t, file) = rest.split_once('/')?;
    let t = artifact::ArtifactType::new(t).ok()?;
    let digest = file.split('.').next()?.parse().ok()?;
    Some(ObjectId::new(t, digest))
}

impl<R: Read + Seek + Send + 'static> Store for BundleStore<R> {
    fn types(&self) -> Result<Vec<String>, Error> {
        let mut t: Vec<String> = self
            .objects
            .keys()
            .map(|id| id.artifact_type.to_string())
            .collect();
        t.sort();
        t.dedup();
        Ok(t)
    }

    fn names(
        &self,
        artifact_type: &str,
    ) -> Result<Box<dyn Iterator<Item = Result<String, Error>> + Send>, Error> {
        let mut names: Vec<String> = self
            .objects
            .keys()
            .filter(|id| id.artifact_type.as_str() == artifact_type)
            .map(store::file_name)
            .collect();
        names.sort();
        Ok(Box::new(names.into_iter().map(Ok)))
    }

    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>, Error> {
        Ok(self
            .objects
            .get(id)
            .and_then(|n| self.sizes.get(n))
            .copied())
    }

    fn open_object(&self, id: &ObjectId) -> Result<(), Error> {
        let Some(name) = self.objects.get(id) else {
            return Ok(());
        };
        let spilled = self.spill(name)?;
        // Verified before shown: the digest by the type's rule.
        let found = match (&spilled, id.artifact_type.rule()) {
            (Spilled::Memory(b), _) => artifact::digest_bytes(&id.artifact_type, b)?,
            (Spilled::File(f), DigestRule::Bytes) => {
                let mut f2 = f.try_clone().map_err(|e| Error::io("reading", name, e))?;
                f2.rewind().map_err(|e| Error::io("reading", name, e))?;
                let mut h = canon::Hasher::new();
                std::io::copy(&mut f2, &mut h).map_err(|e| Error::io("hashing", name, e))?;
                h.finish()
            }
            (Spilled::File(f), _) => {
                let mut bytes = Vec::new();
                let mut f2 = f.try_clone().map_err(|e| Error::io("reading", name, e))?;
                f2.rewind().map_err(|e| Error::io("reading", name, e))?;
                f2.read_to_end(&mut bytes)
                    .map_err(|e| Error::io("reading", name, e))?;
                artifact::digest_bytes(&id.artifact_type, &bytes)?
            }
        };
        if found != id.digest {
            return Err(Error::Digest {
                object: id.to_string(),
                source_url: self.label.clone(),
                found: found.to_hex(),
            });
        }
        Ok(())
    }

    fn read_object(&self, id: &ObjectId, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        let Some(name) = self.objects.get(id) else {
            return Ok(Vec::new());
        };
        self.spill(name)?
            .read(offset, size)
            .map_err(|e| Error::io("reading", name, e))
    }

    fn backing(&self, id: &ObjectId) -> Option<File> {
        self.spilled_file(self.objects.get(id)?)
    }

    fn ref_stat(&self, rel: &str) -> Result<Option<Node>, Error> {
        Ok(rel.is_empty().then_some(Node::Dir))
    }

    fn ref_list(&self, _rel: &str) -> Result<Vec<Entry>, Error> {
        Ok(Vec::new())
    }

    fn ref_read(&self, _rel: &str, _offset: u64, _size: u32) -> Result<Vec<u8>, Error> {
        Ok(Vec::new())
    }
}

/// The receipts, checkpoints and notes of one chain in a bundle, by entry name.
#[derive(Default)]
struct ChainFiles {
    receipts: BTreeMap<u64, String>,
    checkpoints: BTreeMap<u64, String>,
    notes: BTreeMap<u64, String>,
    genesis: String,
}

/// The chains of the asset and corridor modules a bundle carries (`root/.../asset.yaml`,
/// `root/.../corridor.yaml`): receipts by the sequence in their file names
/// (`receipt.<seq>.json`; a fork branch's `receipt.<seq>.<hex>.json` is not the chain's), from
/// the central directory's names only.
pub struct BundleChains<R: Read + Seek + Send + 'static> {
    objects: Arc<Objects<BundleStore<R>>>,
    index: OnceLock<Vec<(ChainKey, ChainFiles)>>,
}

impl<R: Read + Seek + Send + 'static> BundleChains<R> {
    fn store(&self) -> &BundleStore<R> {
        &self.objects.store
    }

    fn bytes(&self, entry: &str) -> Result<Bytes, Error> {
        match self.store().spill(entry)? {
            Spilled::Memory(b) => Ok(b),
            Spilled::File(f) => {
                let len = f
                    .metadata()
                    .map_err(|e| Error::io("reading", entry, e))?
                    .len();
                let b = pread(&f, 0, u32::try_from(len).unwrap_or(u32::MAX))
                    .map_err(|e| Error::io("reading", entry, e))?;
                Ok(Arc::new(b))
            }
        }
    }

    fn index(&self) -> &[(ChainKey, ChainFiles)] {
        self.index.get_or_init(|| {
            let mut out = Vec::new();
            let modules: Vec<String> = self
                .store()
                .sizes
                .keys()
                .filter(|n| n.starts_with("root/"))
                .filter_map(|n| n.strip_suffix("/asset.yaml").map(str::to_string))
                .collect();
            for m in modules {
                let Ok(yaml) = self.bytes(&format!("{m}/asset.yaml")) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&yaml);
                let Ok(v) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) else {
                    continue;
                };
                let Some(id) = v.get("asset_id").and_then(|i| i.as_str()?.parse().ok()) else {
                    continue;
                };
                let first = first_purpose_of(&text);
                let purposes = v.get("purposes").and_then(|p| p.as_sequence()).cloned();
                for p in purposes
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|p| p.as_str())
                {
                    let sub = if first.as_deref() == Some(p) {
                        String::new()
                    } else {
                        format!("/{p}")
                    };
                    let files = ChainFiles {
                        receipts: self
                            .numbered(&format!("{m}/state/receipts{sub}/receipt."), ".json"),
                        checkpoints: self
                            .numbered(&format!("{m}/state/checkpoints{sub}/checkpoint."), ".json"),
                        notes: self
                            .numbered(&format!("{m}/state/checkpoints{sub}/checkpoint."), ".note"),
                        genesis: format!("{m}/genesis.json"),
                    };
                    if !files.receipts.is_empty() {
                        out.push((ChainKey::asset(&id, p), files));
                    }
                }
            }
            out.extend(self.corridors());
            out
        })
    }

    /// The corridor modules under `root/` (`corridor.yaml`, `corridor-receipt.<seq>.json`).
    fn corridors(&self) -> Vec<(ChainKey, ChainFiles)> {
        let mut out = Vec::new();
        let modules: Vec<String> = self
            .store()
            .sizes
            .keys()
            .filter(|n| n.starts_with("root/"))
            .filter_map(|n| n.strip_suffix("/corridor.yaml").map(str::to_string))
            .collect();
        for m in modules {
            let Ok(yaml) = self.bytes(&format!("{m}/corridor.yaml")) else {
                continue;
            };
            let Ok(v) = serde_yaml_ng::from_slice::<serde_yaml_ng::Value>(&yaml) else {
                continue;
            };
            let Some(id) = v.get("corridor_id").and_then(|i| i.as_str()) else {
                continue;
            };
            let files = ChainFiles {
                receipts: self.numbered(&format!("{m}/state/receipts/corridor-receipt."), ".json"),
                checkpoints: self.numbered(&format!("{m}/state/checkpoints/checkpoint."), ".json"),
                notes: self.numbered(&format!("{m}/state/checkpoints/checkpoint."), ".note"),
                genesis: String::new(),
            };
            if !files.receipts.is_empty() {
                out.push((ChainKey::corridor(id), files));
            }
        }
        out
    }

    /// Entries named `<prefix><n><suffix>`, by n.
    fn numbered(&self, prefix: &str, suffix: &str) -> BTreeMap<u64, String> {
        let mut out = BTreeMap::new();
        for name in self
            .store()
            .sizes
            .range(prefix.to_string()..)
            .map(|(k, _)| k)
        {
            let Some(rest) = name.strip_prefix(prefix) else {
                break;
            };
            if let Some(n) = rest
                .strip_suffix(suffix)
                .and_then(|n| n.parse::<u64>().ok())
            {
                if rest == format!("{n}{suffix}") {
                    out.insert(n, name.clone());
                }
            }
        }
        out
    }

    /// A receipt file, shown only when it is the receipt at `seq` and its next_root is the
    /// digest of its content (as objects are shown only when they hash to their names).
    fn receipt(&self, key: &ChainKey, name: &str, seq: u64) -> Result<Bytes, Error> {
        let bytes = self.bytes(name)?;
        let t = key.kind.receipt_artifact();
        let v = canon::parse(&bytes).map_err(|e| {
            Error::io(
                "parsing",
                name,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        let declared = v
            .get("next_root")
            .and_then(|r| r.as_str())
            .unwrap_or_default();
        let found = canon::rule_for(t).digest_json(&v).map(|d| d.to_hex());
        let sequence = v.get("sequence").and_then(|s| s.as_u64());
        match found {
            Ok(found) if found == declared && sequence == Some(seq) => Ok(bytes),
            found => Err(Error::Digest {
                object: format!("{t}:{declared} ({name}, sequence {seq})"),
                source_url: self.store().label.clone(),
                found: found.unwrap_or_default(),
            }),
        }
    }

    fn files(&self, key: &ChainKey) -> Option<&ChainFiles> {
        self.index().iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }
}

impl<R: Read + Seek + Send + 'static> ChainSource for BundleChains<R> {
    fn chain_keys(&self) -> Result<Vec<ChainKey>, Error> {
        Ok(self.index().iter().map(|(k, _)| k.clone()).collect())
    }

    fn head(&self, key: &ChainKey) -> Result<Option<Bytes>, Error> {
        match self.files(key).and_then(|f| f.receipts.last_key_value()) {
            Some((seq, name)) => self.receipt(key, name, *seq).map(Some),
            None => Ok(None),
        }
    }

    fn receipt_at(&self, key: &ChainKey, seq: u64, _size: u64) -> Result<Option<Bytes>, Error> {
        match self.files(key).and_then(|f| f.receipts.get(&seq)) {
            Some(name) => self.receipt(key, name, seq).map(Some),
            None => Ok(None),
        }
    }

    fn checkpoints(&self, key: &ChainKey) -> Result<Vec<Bytes>, Error> {
        let Some(f) = self.files(key) else {
            return Ok(Vec::new());
        };
        f.checkpoints.values().map(|n| self.bytes(n)).collect()
    }

    fn note(&self, key: &ChainKey, n: u64) -> Result<Option<Bytes>, Error> {
        match self.files(key).and_then(|f| f.notes.get(&n)) {
            Some(name) => self.bytes(name).map(Some),
            None => Ok(None),
        }
    }

    fn asset_name(&self, key: &ChainKey) -> Result<Option<String>, Error> {
        match self.files(key) {
            Some(f) if self.store().sizes.contains_key(&f.genesis) => {
                Ok(asset_name_of(&self.bytes(&f.genesis)?))
            }
            _ => Ok(None),
        }
    }

    fn mounted(&self) -> Mounted {
        let digest = self
            .bytes(MANIFEST)
            .ok()
            .and_then(|b| canon::parse(&b).ok())
            .and_then(|v| canon::digest_of(&v).ok());
        Mounted::Bundle {
            source: self.store().label.clone(),
            manifest_digest: digest.map(|d| d.to_hex()),
        }
    }

    fn source_time(&self) -> Option<std::time::SystemTime> {
        // Zip entries are all dated 1980 (reproducible bundles): the manifest's generated_at.
        let v = canon::parse(&self.bytes(MANIFEST).ok()?).ok()?;
        let t = humantime::parse_rfc3339(v.get("generated_at")?.as_str()?).ok()?;
        (t > humantime::parse_rfc3339("1980-01-02T00:00:00Z").ok()?).then_some(t)
    }
}

/// A bundle as a tree.
pub struct BundleView<R: Read + Seek + Send + 'static> {
    objects: Arc<Objects<BundleStore<R>>>,
    chains: Chains<BundleChains<R>>,
}

impl<R: Read + Seek + Send + 'static> BundleView<R> {
    /// The view of the bundle read by `source`.
    pub fn open(source: R, label: &str) -> Result<Arc<Self>, Error> {
        let objects = Arc::new(Objects::new(BundleStore::open(source, label)?));
        Ok(Arc::new(BundleView {
            chains: Chains::new(BundleChains {
                objects: objects.clone(),
                index: OnceLock::new(),
            }),
            objects,
        }))
    }

    fn store(&self) -> &BundleStore<R> {
        &self.objects.store
    }

    fn types(&self) -> Result<Vec<String>, Error> {
        self.objects.types()
    }
}

impl<R: Read + Seek + Send + 'static> View for BundleView<R> {
    fn stat(&self, path: &str) -> Result<Option<Node>, Error> {
        if Chains::<BundleChains<R>>::owns(path) {
            return self.chains.stat_owned(path, &|| self.types());
        }
        match path
            .split_once('/')
            .map_or((path, None), |(a, b)| (a, Some(b)))
        {
            ("", None) | ("raw", None) => Ok(Some(Node::Dir)),
            ("manifest.json", None) => Ok(self
                .store()
                .sizes
                .get(MANIFEST)
                .map(|s| Node::File { size: *s })),
            ("verify-report.json", None) => Ok(Some(Node::File {
                size: self.store().report().len() as u64,
            })),
            ("raw", Some(rel)) => Ok(tree::key_stat(&self.store().sizes, rel)),
            _ => self.objects.stat(path),
        }
    }

    fn list(self: Arc<Self>, path: &str) -> Result<Entries, Error> {
        if Chains::<BundleChains<R>>::owns(path) {
            return self.chains.list(path);
        }
        match path
            .split_once('/')
            .map_or((path, None), |(a, b)| (a, Some(b)))
        {
            ("", None) => {
                let mut out = vec![
                    Entry::file("manifest.json"),
                    Entry::file("verify-report.json"),
                    Entry::dir("raw"),
                ];
                out.extend(Objects::<BundleStore<R>>::roots());
                out.extend(self.chains.root_entries());
                Ok(tree::fixed(out))
            }
            ("raw", rel) => Ok(tree::fixed(tree::key_list(
                &self.store().sizes,
                rel.unwrap_or(""),
            ))),
            _ => self.objects.list(path),
        }
    }

    fn open(&self, path: &str) -> Result<(), Error> {
        self.objects.open(path)
    }

    fn backing(&self, path: &str) -> Option<File> {
        match path.split_once('/') {
            Some(("raw", rel)) => self.store().spilled_file(rel),
            _ => self.objects.backing(path),
        }
    }

    fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        if Chains::<BundleChains<R>>::owns(path) {
            return self.chains.read_owned(path, offset, size, &|| self.types());
        }
        let entry = match path
            .split_once('/')
            .map_or((path, None), |(a, b)| (a, Some(b)))
        {
            ("manifest.json", None) => MANIFEST,
            ("verify-report.json", None) => return Ok(slice(self.store().report(), offset, size)),
            ("raw", Some(rel)) => rel,
            _ => return self.objects.read(path, offset, size),
        };
        self.store()
            .spill(entry)?
            .read(offset, size)
            .map_err(|e| Error::io("reading", entry, e))
    }

    fn time(&self, path: &str) -> Option<std::time::SystemTime> {
        self.chains.time_any(path)
    }
}
