//! What every mounted source shares: `objects/<type>/<digest>.<ext>`, `refs/...`,
//! `graph/<type>/<digest>/edges/<label>` (links to the objects an object names) and
//! `digest-input/<type>/<digest>.<ext>` (the bytes an object's digest is the SHA-256 of, so
//! `sha256sum` prints the name), over a [`Store`] that says which objects and refs exist and
//! reads them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{self, Digest, DigestRule, Encoding};

use super::Error;
use super::tree::{self, Entries, Entry, Node};

/// The objects and refs of one source.
pub trait Store: Send + Sync + 'static {
    /// The object types present.
    fn types(&self) -> Result<Vec<String>, Error>;
    /// The file names (`<digest>.<ext>`) of one type's objects, produced lazily.
    fn names(
        &self,
        artifact_type: &str,
    ) -> Result<Box<dyn Iterator<Item = Result<String, Error>> + Send>, Error>;
    /// The size an object shows (its stored bytes, with later proofs merged); None if absent.
    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>, Error>;
    /// Makes an object ready to read (fetch and verify it).
    fn open_object(&self, _id: &ObjectId) -> Result<(), Error> {
        Ok(())
    }
    /// Up to `size` bytes of an object at `offset`.
    fn read_object(&self, id: &ObjectId, offset: u64, size: u32) -> Result<Vec<u8>, Error>;
    /// A host file with exactly the bytes an (opened) object shows, for passthrough reads.
    fn backing(&self, _id: &ObjectId) -> Option<std::fs::File> {
        None
    }
    /// What `refs/<rel>` is ("" is `refs/` itself).
    fn ref_stat(&self, rel: &str) -> Result<Option<Node>, Error>;
    /// The entries of the refs directory `refs/<rel>`.
    fn ref_list(&self, rel: &str) -> Result<Vec<Entry>, Error>;
    /// Bytes of the ref file `refs/<rel>`.
    fn ref_read(&self, rel: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error>;
}

/// The object an `objects/<type>/<name>` path names, if `name` is how msez names it.
pub fn object_id(artifact_type: &str, name: &str) -> Option<ObjectId> {
    let t = ArtifactType::new(artifact_type).ok()?;
    let digest: Digest = name.split('.').next()?.parse().ok()?;
    let id = ObjectId::new(t, digest);
    (file_name(&id) == name).then_some(id)
}

/// The file name of an object: `<digest>.<ext>`.
pub fn file_name(id: &ObjectId) -> String {
    artifact::store_path(std::path::Path::new(""), id)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The whole bytes an object shows (fetched and verified first), None if absent.
pub fn object_bytes<S: Store + ?Sized>(
    store: &S,
    id: &ObjectId,
) -> Result<Option<Arc<Vec<u8>>>, Error> {
    let Some(size) = store.object_size(id)? else {
        return Ok(None);
    };
    store.open_object(id)?;
    let mut out = Vec::with_capacity(size as usize);
    while (out.len() as u64) < size {
        let chunk = store.read_object(id, out.len() as u64, 1 << 20)?;
        if chunk.is_empty() {
            break;
        }
        out.extend(chunk);
    }
    Ok(Some(Arc::new(out)))
}

/// The mount path of an object.
pub fn object_path(id: &ObjectId) -> String {
    format!("objects/{}/{}", id.artifact_type, file_name(id))
}

type Edges = Arc<Vec<(String, ObjectId)>>;

/// `objects/`, `refs/`, `graph/` and `digest-input/` of a [`Store`].
pub struct Objects<S> {
    /// The source.
    pub store: S,
    edges: Mutex<HashMap<ObjectId, Edges>>,
    inputs: Mutex<HashMap<ObjectId, Arc<Vec<u8>>>>,
}

/// The bytes a type's digest is the SHA-256 of, as the keys its rule leaves out of the
/// canonical JSON; None for a rule that hashes no bytes of the file (`smart-asset-checkpoint`
/// names its state root, a lawpack hashes its canonicalized parts).
pub fn digest_input_skip(rule: DigestRule) -> Option<&'static [&'static str]> {
    match rule {
        DigestRule::Bytes | DigestRule::Jcs | DigestRule::JcsWithProof => Some(&[]),
        DigestRule::SigningInput(_) => Some(&["proof"]),
        DigestRule::NextRoot(_) => Some(&["proof", "next_root"]),
        DigestRule::AssetId => Some(&["asset_id"]),
        DigestRule::TransitionTypesSnapshot => Some(&[]),
        DigestRule::StateRoot | DigestRule::Lawpack => None,
    }
}

/// `digest-input/` holds a type when its rule hashes bytes the view can show.
fn has_digest_input(artifact_type: &str) -> bool {
    digest_input_skip(canon::rule_for(artifact_type)).is_some()
}

/// Edge lists kept at most (they are rebuilt from the object when evicted).
const EDGE_CACHE: usize = 4096;

impl<S: Store> Objects<S> {
    /// The views over `store`.
    pub fn new(store: S) -> Self {
        Objects {
            store,
            edges: Mutex::new(HashMap::new()),
            inputs: Mutex::new(HashMap::new()),
        }
    }

    /// The top-level directories this part shows.
    pub fn roots() -> [Entry; 4] {
        [
            Entry::dir("objects"),
            Entry::dir("refs"),
            Entry::dir("graph"),
            Entry::dir("digest-input"),
        ]
    }

    /// The object types present.
    pub fn types(&self) -> Result<Vec<String>, Error> {
        self.store.types()
    }

    /// The bytes of `digest-input/<type>/<name>`: JCS of the object minus the keys its rule
    /// leaves out (a raw object's own bytes are read straight from the store).
    fn digest_input(&self, id: &ObjectId) -> Result<Option<Arc<Vec<u8>>>, Error> {
        let rule = id.artifact_type.rule();
        let Some(skip) = digest_input_skip(rule) else {
            return Ok(None);
        };
        if let Some(b) = self.inputs.lock().ok().and_then(|c| c.get(id).cloned()) {
            return Ok(Some(b));
        }
        let Some(bytes) = object_bytes(&self.store, id)? else {
            return Ok(None);
        };
        let Ok(value) = canon::parse(&bytes) else {
            return Ok(None);
        };
        let value = match rule {
            DigestRule::TransitionTypesSnapshot => match value.get("snapshot") {
                Some(s) => s.clone(),
                None => return Ok(None),
            },
            _ => value,
        };
        let Ok(out) = canon::to_bytes_without(&value, skip) else {
            return Ok(None);
        };
        let out = Arc::new(out);
        if let Ok(mut cache) = self.inputs.lock() {
            if cache.len() >= EDGE_CACHE {
                cache.clear();
            }
            cache.insert(id.clone(), out.clone());
        }
        Ok(Some(out))
    }

    fn input_stat(&self, t: &str, name: &str) -> Result<Option<Node>, Error> {
        let Some(id) = object_id(t, name) else {
            return Ok(None);
        };
        if id.artifact_type.rule().encoding() == Encoding::Raw {
            return Ok(self.store.object_size(&id)?.map(|size| Node::File { size }));
        }
        Ok(self.digest_input(&id)?.map(|b| Node::File {
            size: b.len() as u64,
        }))
    }

    /// What `path` is; `Ok(None)` if it does not exist; `Err` also for paths not ours.
    pub fn stat(&self, path: &str) -> Result<Option<Node>, Error> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["objects"] | ["graph"] | ["digest-input"] => Ok(Some(Node::Dir)),
            ["objects", t] | ["graph", t] => Ok(self.has_type(t)?.then_some(Node::Dir)),
            ["digest-input", t] => {
                Ok((has_digest_input(t) && self.has_type(t)?).then_some(Node::Dir))
            }
            ["digest-input", t, name] if has_digest_input(t) => self.input_stat(t, name),
            ["objects", t, name] => Ok(match object_id(t, name) {
                Some(id) => self.store.object_size(&id)?.map(|size| Node::File { size }),
                None => None,
            }),
            ["graph", t, d] => Ok(self.graph_id(t, d)?.map(|_| Node::Dir)),
            ["graph", t, d, "edges"] => Ok(self.graph_id(t, d)?.map(|_| Node::Dir)),
            ["graph", t, d, "edges", label] => {
                let Some(id) = self.graph_id(t, d)? else {
                    return Ok(None);
                };
                Ok(self
                    .edges(&id)?
                    .iter()
                    .find(|(l, _)| l == label)
                    .map(|(_, to)| Node::Link {
                        target: tree::relative(path, &object_path(to)),
                    }))
            }
            ["refs", rest @ ..] => self.store.ref_stat(&rest.join("/")),
            _ => Ok(None),
        }
    }

    /// The entries of the directory `path`.
    pub fn list(self: &Arc<Self>, path: &str) -> Result<Entries, Error> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["objects"] | ["graph"] => Ok(tree::fixed(
                self.store.types()?.into_iter().map(Entry::dir).collect(),
            )),
            ["digest-input"] => Ok(tree::fixed(
                self.store
                    .types()?
                    .into_iter()
                    .filter(|t| has_digest_input(t))
                    .map(Entry::dir)
                    .collect(),
            )),
            ["objects", t] => Ok(Box::new(self.store.names(t)?.map(|n| n.map(Entry::file)))),
            ["digest-input", t] if has_digest_input(t) => {
                Ok(Box::new(self.store.names(t)?.map(|n| n.map(Entry::file))))
            }
            ["graph", t] => Ok(Box::new(self.store.names(t)?.map(|n| {
                n.map(|n| Entry::dir(n.split('.').next().unwrap_or_default().to_string()))
            }))),
            ["graph", _, _] => Ok(tree::fixed(vec![Entry::dir("edges")])),
            ["graph", t, d, "edges"] => {
                let Some(id) = self.graph_id(t, d)? else {
                    return Ok(tree::fixed(Vec::new()));
                };
                let edges = self.edges(&id)?;
                Ok(tree::fixed(
                    edges.iter().map(|(l, _)| Entry::link(l.clone())).collect(),
                ))
            }
            ["refs", rest @ ..] => Ok(tree::fixed(self.store.ref_list(&rest.join("/"))?)),
            _ => Ok(tree::fixed(Vec::new())),
        }
    }

    /// Prepares the file at `path` for reading.
    pub fn open(&self, path: &str) -> Result<(), Error> {
        match path.split('/').collect::<Vec<_>>().as_slice() {
            ["objects", t, name] | ["digest-input", t, name] => match object_id(t, name) {
                Some(id) => self.store.open_object(&id),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Reads the file at `path`.
    pub fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        match path.split('/').collect::<Vec<_>>().as_slice() {
            ["objects", t, name] => match object_id(t, name) {
                Some(id) => self.store.read_object(&id, offset, size),
                None => Ok(Vec::new()),
            },
            ["refs", rest @ ..] => self.store.ref_read(&rest.join("/"), offset, size),
            ["digest-input", t, name] => match object_id(t, name) {
                Some(id) if id.artifact_type.rule().encoding() == Encoding::Raw => {
                    self.store.read_object(&id, offset, size)
                }
                Some(id) => Ok(self
                    .digest_input(&id)?
                    .map(|b| super::repo::slice(&b, offset, size))
                    .unwrap_or_default()),
                None => Ok(Vec::new()),
            },
            _ => Ok(Vec::new()),
        }
    }

    /// The host file behind the file at `path`, if the store has one.
    pub fn backing(&self, path: &str) -> Option<std::fs::File> {
        match path.split('/').collect::<Vec<_>>().as_slice() {
            ["objects", t, name] => self.store.backing(&object_id(t, name)?),
            ["digest-input", t, name] => {
                let id = object_id(t, name)?;
                (id.artifact_type.rule().encoding() == Encoding::Raw)
                    .then(|| self.store.backing(&id))
                    .flatten()
            }
            _ => None,
        }
    }

    fn has_type(&self, t: &str) -> Result<bool, Error> {
        Ok(self.store.types()?.iter().any(|x| x == t))
    }

    /// The object of `graph/<t>/<digest>`, if stored.
    fn graph_id(&self, t: &str, digest: &str) -> Result<Option<ObjectId>, Error> {
        let (Ok(t), Ok(d)) = (ArtifactType::new(t), digest.parse::<Digest>()) else {
            return Ok(None);
        };
        let id = ObjectId::new(t, d);
        Ok(self.store.object_size(&id)?.map(|_| id))
    }

    /// The objects `id` names: its embedded ArtifactRefs (labelled by their JSON pointer) and,
    /// for a receipt, the receipt before it (`prev`).
    fn edges(&self, id: &ObjectId) -> Result<Edges, Error> {
        if let Some(e) = self.edges.lock().ok().and_then(|c| c.get(id).cloned()) {
            return Ok(e);
        }
        let mut edges = Vec::new();
        if id.artifact_type.rule().encoding() == Encoding::Json {
            let size = self.store.object_size(id)?.unwrap_or(0);
            let mut bytes = Vec::new();
            while (bytes.len() as u64) < size {
                let chunk = self.store.read_object(id, bytes.len() as u64, 1 << 20)?;
                if chunk.is_empty() {
                    break;
                }
                bytes.extend(chunk);
            }
            if let Ok(value) = canon::parse(&bytes) {
                for r in artifact::embedded_refs(&value) {
                    let Ok(to) = r.id() else { continue };
                    let label = match r.pointer.trim_start_matches('/') {
                        "" => "self".to_string(),
                        p => p.replace('/', "."),
                    };
                    if !edges.iter().any(|(l, _)| *l == label) {
                        edges.push((label, to));
                    }
                }
                if let (DigestRule::NextRoot(_), Some(prev)) = (
                    id.artifact_type.rule(),
                    value.get("prev_root").and_then(|v| v.as_str()),
                ) {
                    if let Ok(d) = Digest::parse_loose(prev) {
                        let to = ObjectId::new(id.artifact_type.clone(), d);
                        if self.store.object_size(&to)?.is_some() {
                            edges.push(("prev".to_string(), to));
                        }
                    }
                }
            }
        }
        let edges = Arc::new(edges);
        if let Ok(mut cache) = self.edges.lock() {
            if cache.len() >= EDGE_CACHE {
                cache.clear();
            }
            cache.insert(id.clone(), edges.clone());
        }
        Ok(edges)
    }
}
