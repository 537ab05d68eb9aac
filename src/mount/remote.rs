//! A remote as a mounted tree: `objects/`, `refs/`, `graph/` and `digest-input/` of its
//! `.msez` layout, README.txt, and the chains its refs name under `assets/` and `corridors/`
//! ([`super::chains`]). The
//! remote's key listing is read once (sizes included), so browsing costs no requests; an
//! object's bytes are fetched on first open into a private cache by the same verified fetch
//! as `--store-root` URLs ([`RemoteRoot`]), so they are shown only after they hash to the
//! object's name. Later proof files on the remote are merged as in a repository.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::sync::{Arc, Mutex, OnceLock};

use crate::artifact::{self, ObjectId};
use crate::canon;
use crate::odb::merge_proofs;
use crate::remote::Backend;
use crate::remote::root::RemoteRoot;

use crate::canon::Digest;
use crate::chain::store::ChainKey;

use super::Error;
use super::chains::{Bytes, ChainSource, Chains, Walker};
use super::readme::Mounted;
use super::repo::{asset_name_of, pread, slice};
use super::store::{self, Objects, Store};
use super::tree::{self, Entries, Entry, Node, View};

/// What one listing of the remote found.
#[derive(Default)]
struct Listing {
    /// type -> file name -> size.
    objects: BTreeMap<String, BTreeMap<String, u64>>,
    /// Objects with proof files: their proof keys.
    proofs: HashMap<ObjectId, Vec<String>>,
    /// Every ref key (relative to `refs/`) and its size.
    refs: BTreeMap<String, u64>,
}

/// The objects and refs of a remote.
pub struct RemoteStore {
    /// The backend, and the verified fetch into a private cache.
    root: RemoteRoot,
    listing: OnceLock<Result<Listing, String>>,
    /// Objects fetched and verified (opened in the cache) or merged with their proofs.
    ready: Mutex<HashMap<ObjectId, Ready>>,
}

#[derive(Clone)]
enum Ready {
    File(Arc<File>),
    Merged(Arc<Vec<u8>>),
}

impl RemoteStore {
    /// A store over `backend`, caching fetched objects in a private temp directory.
    pub fn new(backend: Box<dyn Backend>) -> Result<RemoteStore, Error> {
        Ok(RemoteStore {
            root: RemoteRoot::new(backend)?,
            listing: OnceLock::new(),
            ready: Mutex::new(HashMap::new()),
        })
    }

    fn backend(&self) -> &dyn Backend {
        self.root.backend()
    }

    fn listing(&self) -> Result<&Listing, Error> {
        let l = self
            .listing
            .get_or_init(|| self.list().map_err(|e| e.to_string()));
        l.as_ref().map_err(|why| {
            Error::io(
                "listing remote",
                self.backend().url(),
                std::io::Error::other(why.clone()),
            )
        })
    }

    fn list(&self) -> Result<Listing, Error> {
        let mut l = Listing::default();
        for meta in self.backend().list("objects/")? {
            if let Some((t, name)) = meta.key.trim_start_matches("objects/").split_once('/') {
                if store::object_id(t, name).is_some() {
                    l.objects
                        .entry(t.to_string())
                        .or_default()
                        .insert(name.to_string(), meta.size);
                }
            }
        }
        for meta in self.backend().list("proofs/")? {
            let parts: Vec<&str> = meta.key.split('/').collect();
            if let ["proofs", t, digest, _] = parts.as_slice() {
                if let Some(id) = artifact::ArtifactType::new(t)
                    .ok()
                    .zip(digest.parse().ok())
                    .map(|(t, d)| ObjectId::new(t, d))
                {
                    l.proofs.entry(id).or_default().push(meta.key.clone());
                }
            }
        }
        for meta in self.backend().list("refs/")? {
            l.refs
                .insert(meta.key.trim_start_matches("refs/").to_string(), meta.size);
        }
        Ok(l)
    }

    /// Fetches, verifies and (with proof files) merges an object once.
    fn ready(&self, id: &ObjectId) -> Result<Ready, Error> {
        if let Some(r) = self.ready.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(r);
        }
        if !self.root.fetch(id)? {
            let key = format!("objects/{}/{}", id.artifact_type, store::file_name(id));
            return Err(Error::io(
                "fetching",
                &key,
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        let path = artifact::store_path(self.root.cache_dir(), id);
        let file = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
        let proofs = self.listing()?.proofs.get(id).cloned().unwrap_or_default();
        let ready = if proofs.is_empty() {
            Ready::File(Arc::new(file))
        } else {
            let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
            let mut value = canon::parse(&bytes)
                .map_err(|e| Error::io("parsing", &path, std::io::Error::other(e)))?;
            let mut extra = Vec::new();
            for k in proofs {
                if let Some(blob) = self.backend().get(&k, None)? {
                    if let Ok(p) = canon::parse(&blob.bytes) {
                        extra.push(p);
                    }
                }
            }
            merge_proofs(&mut value, &extra);
            let mut merged = canon::to_bytes(&value)
                .map_err(|e| Error::io("encoding", &path, std::io::Error::other(e)))?;
            merged.push(b'\n');
            Ready::Merged(Arc::new(merged))
        };
        if let Ok(mut m) = self.ready.lock() {
            m.insert(id.clone(), ready.clone());
        }
        Ok(ready)
    }
}

impl Store for RemoteStore {
    fn types(&self) -> Result<Vec<String>, Error> {
        Ok(self.listing()?.objects.keys().cloned().collect())
    }

    fn names(
        &self,
        artifact_type: &str,
    ) -> Result<Box<dyn Iterator<Item = Result<String, Error>> + Send>, Error> {
        let names: Vec<String> = self
            .listing()?
            .objects
            .get(artifact_type)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        Ok(Box::new(names.into_iter().map(Ok)))
    }

    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>, Error> {
        let l = self.listing()?;
        let Some(size) = l
            .objects
            .get(id.artifact_type.as_str())
            .and_then(|m| m.get(&store::file_name(id)))
        else {
            return Ok(None);
        };
        if l.proofs.contains_key(id) {
            if let Ready::Merged(bytes) = self.ready(id)? {
                return Ok(Some(bytes.len() as u64));
            }
        }
        Ok(Some(*size))
    }

    fn open_object(&self, id: &ObjectId) -> Result<(), Error> {
        self.ready(id).map(|_| ())
    }

    fn read_object(&self, id: &ObjectId, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        match self.ready(id)? {
            Ready::Merged(bytes) => Ok(slice(&bytes, offset, size)),
            Ready::File(f) => {
                pread(&f, offset, size).map_err(|e| Error::io("reading", id.to_string(), e))
            }
        }
    }

    fn backing(&self, id: &ObjectId) -> Option<File> {
        match self.ready(id).ok()? {
            Ready::File(f) => f.try_clone().ok(),
            Ready::Merged(_) => None,
        }
    }

    fn ref_stat(&self, rel: &str) -> Result<Option<Node>, Error> {
        Ok(tree::key_stat(&self.listing()?.refs, rel))
    }

    fn ref_list(&self, rel: &str) -> Result<Vec<Entry>, Error> {
        Ok(tree::key_list(&self.listing()?.refs, rel))
    }

    fn ref_read(&self, rel: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        let blob = self.backend().get(&format!("refs/{rel}"), None)?;
        Ok(blob
            .map(|b| slice(&b.bytes, offset, size))
            .unwrap_or_default())
    }
}

/// The chains of a remote: heads and checkpoints from its refs, receipts by walking back from
/// the head along `prev_root` (a remote keeps no sequence index; see [`Walker`]).
pub struct RemoteChains {
    objects: Arc<Objects<RemoteStore>>,
    walker: Walker,
}

impl RemoteChains {
    fn store(&self) -> &RemoteStore {
        &self.objects.store
    }

    fn read_ref(&self, rel: &str) -> Result<Option<Digest>, Error> {
        if !self.store().listing()?.refs.contains_key(rel) {
            return Ok(None);
        }
        let bytes = self.store().ref_read(rel, 0, 4096)?;
        Ok(String::from_utf8_lossy(&bytes).trim().parse().ok())
    }

    fn object(&self, t: &str, d: Digest) -> Result<Option<Bytes>, Error> {
        let t = artifact::ArtifactType::new(t).map_err(|e| Error::Artifact(Box::new(e)))?;
        store::object_bytes(self.store(), &ObjectId::new(t, d))
    }
}

impl ChainSource for RemoteChains {
    fn chain_keys(&self) -> Result<Vec<ChainKey>, Error> {
        let mut out = Vec::new();
        for k in self.store().listing()?.refs.keys() {
            if let Ok(name) = crate::odb::RefName::new(&format!("refs/{k}")) {
                out.extend(ChainKey::from_head_ref(&name));
            }
        }
        Ok(out)
    }

    fn head(&self, key: &ChainKey) -> Result<Option<Bytes>, Error> {
        match self.read_ref(&format!("{}/head", key.path()))? {
            Some(d) => self.object(key.kind.receipt_artifact(), d),
            None => Ok(None),
        }
    }

    fn receipt_at(&self, key: &ChainKey, seq: u64, size: u64) -> Result<Option<Bytes>, Error> {
        let Some(head) = self.read_ref(&format!("{}/head", key.path()))? else {
            return Ok(None);
        };
        let t = key.kind.receipt_artifact();
        self.walker
            .receipt_at(key, head, seq, size, |d| self.object(t, *d))
    }

    fn checkpoints(&self, key: &ChainKey) -> Result<Vec<Bytes>, Error> {
        match self.read_ref(&format!("{}/checkpoint", key.path()))? {
            Some(d) => Ok(self
                .object(key.kind.checkpoint_artifact(), d)?
                .into_iter()
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    fn forks(&self, key: &ChainKey) -> Result<Vec<(String, Bytes)>, Error> {
        let prefix = format!("{}/forks/", key.path());
        let roots: Vec<String> = self
            .store()
            .listing()?
            .refs
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect();
        let mut out = Vec::new();
        for root in roots {
            if let Some(d) = self.read_ref(&format!("{prefix}{root}"))? {
                if let Some(b) = self.object(key.kind.receipt_artifact(), d)? {
                    out.push((root, b));
                }
            }
        }
        Ok(out)
    }

    fn asset_name(&self, key: &ChainKey) -> Result<Option<String>, Error> {
        let Ok(d) = key.owner.parse::<Digest>() else {
            return Ok(None);
        };
        Ok(self
            .object("smart-asset-genesis", d)?
            .and_then(|b| asset_name_of(&b)))
    }

    fn mounted(&self) -> Mounted {
        Mounted::Remote(crate::remote::Url::redact(&self.store().backend().url()))
    }
}

/// A remote as a tree: `objects/`, `refs/`, `graph/`, `digest-input/`, README.txt and the
/// chains its refs name.
pub struct RemoteView {
    objects: Arc<Objects<RemoteStore>>,
    chains: Chains<RemoteChains>,
}

impl RemoteView {
    /// The view of `backend`.
    pub fn new(backend: Box<dyn Backend>) -> Result<Arc<RemoteView>, Error> {
        let objects = Arc::new(Objects::new(RemoteStore::new(backend)?));
        Ok(Arc::new(RemoteView {
            chains: Chains::new(RemoteChains {
                objects: objects.clone(),
                walker: Walker::default(),
            }),
            objects,
        }))
    }

    fn types(&self) -> Result<Vec<String>, Error> {
        self.objects.types()
    }
}

impl View for RemoteView {
    fn stat(&self, path: &str) -> Result<Option<Node>, Error> {
        if path.is_empty() {
            return Ok(Some(Node::Dir));
        }
        if Chains::<RemoteChains>::owns(path) {
            return self.chains.stat_owned(path, &|| self.types());
        }
        self.objects.stat(path)
    }

    fn list(self: Arc<Self>, path: &str) -> Result<Entries, Error> {
        if path.is_empty() {
            let mut out = Objects::<RemoteStore>::roots().to_vec();
            out.extend(self.chains.root_entries());
            return Ok(tree::fixed(out));
        }
        if Chains::<RemoteChains>::owns(path) {
            return self.chains.list(path);
        }
        self.objects.list(path)
    }

    fn open(&self, path: &str) -> Result<(), Error> {
        self.objects.open(path)
    }

    fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        if Chains::<RemoteChains>::owns(path) {
            return self.chains.read_owned(path, offset, size, &|| self.types());
        }
        self.objects.read(path, offset, size)
    }

    fn backing(&self, path: &str) -> Option<File> {
        self.objects.backing(path)
    }

    fn time(&self, path: &str) -> Option<std::time::SystemTime> {
        self.chains.time_any(path)
    }
}
