//! A repository as a mounted tree: `objects/`, `refs/`, `graph/`, `digest-input/` (from
//! [`super::store`]) plus README.txt and each chain under `assets/<asset_id>/<purpose>/` and
//! `corridors/<corridor_id>/` (from [`super::chains`]): `receipts/<seq>.json` in chain order
//! (the head ref follows fork resolutions; the order comes from the chain's `next-roots`
//! file), `checkpoints/<N>.json` (every checkpoint the reflog names), a checked-out module's
//! `checkpoints/<N>.note`, and `forks/<next_root>.json` (losing branches' heads).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest};
use crate::chain::Kind;
use crate::chain::store::{ChainKey, ChainStore};
use crate::odb::{Location, RefName, Repo};

use super::Error;
use super::chains::{Bytes, ChainSource, Chains, Walker};
use super::readme::Mounted;
use super::store::{self, Objects, Store};
use super::tree::{self, Entries, Entry, Node, View};

/// Open object files kept at most.
const OPEN_FILES: usize = 64;

/// The objects and refs of a repository.
pub struct RepoStore {
    repo: Repo,
    /// Objects with proof files show their proofs merged: those bytes are built once.
    merged: Mutex<HashMap<ObjectId, Arc<Vec<u8>>>>,
    /// Open objects: the file holding the bytes, where they start, how many there are.
    files: Mutex<HashMap<ObjectId, Located>>,
}

/// An object's bytes inside a host file (its loose file, or its pack).
#[derive(Clone)]
struct Located {
    file: Arc<File>,
    path: PathBuf,
    base: u64,
    len: u64,
    packed: bool,
}

impl RepoStore {
    fn merged(&self, id: &ObjectId) -> Result<Option<Arc<Vec<u8>>>, Error> {
        if let Some(m) = self.merged.lock().ok().and_then(|m| m.get(id).cloned()) {
            return Ok(Some(m));
        }
        if !self.repo.proofs_dir(id).is_dir() {
            return Ok(None);
        }
        let value = self.repo.read_json(id)?;
        let mut bytes = canon::to_bytes(&value).map_err(|source| crate::odb::Error::Canon {
            object: id.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        let bytes = Arc::new(bytes);
        if let Ok(mut m) = self.merged.lock() {
            m.insert(id.clone(), bytes.clone());
        }
        Ok(Some(bytes))
    }

    /// Where `id`'s bytes are, if it is stored.
    fn locate(&self, id: &ObjectId) -> Result<Option<Located>, Error> {
        if let Some(f) = self.files.lock().ok().and_then(|f| f.get(id).cloned()) {
            return Ok(Some(f));
        }
        let located = match self.repo.locate(id)? {
            None => return Ok(None),
            Some(Location::Loose(path)) => {
                let file = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
                let len = file
                    .metadata()
                    .map_err(|e| Error::io("reading", &path, e))?
                    .len();
                Located {
                    file: Arc::new(file),
                    path,
                    base: 0,
                    len,
                    packed: false,
                }
            }
            Some(Location::Packed(pack, e)) => {
                let path = pack.path().to_path_buf();
                let file = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
                Located {
                    file: Arc::new(file),
                    path,
                    base: e.offset,
                    len: e.len,
                    packed: true,
                }
            }
        };
        if let Ok(mut files) = self.files.lock() {
            if files.len() >= OPEN_FILES {
                files.clear();
            }
            files.insert(id.clone(), located.clone());
        }
        Ok(Some(located))
    }

    fn refs_path(&self, rel: &str) -> Option<PathBuf> {
        let ok = rel
            .split('/')
            .all(|c| c != ".." && c != "." && !c.ends_with(".lock"));
        ok.then(|| self.repo.dir().join("refs").join(rel))
    }
}

impl Store for RepoStore {
    fn types(&self) -> Result<Vec<String>, Error> {
        let types = self.repo.object_types()?;
        Ok(types.iter().map(|t| t.as_str().to_string()).collect())
    }

    fn names(
        &self,
        artifact_type: &str,
    ) -> Result<Box<dyn Iterator<Item = Result<String, Error>> + Send>, Error> {
        let dir = self.repo.objects_dir().join(artifact_type);
        let t = artifact_type.to_string();
        let loose: Box<dyn Iterator<Item = _> + Send> = match std::fs::read_dir(&dir) {
            Ok(entries) => Box::new(entries.filter_map(move |e| match e {
                Ok(e) => {
                    let name = e.file_name().to_string_lossy().into_owned();
                    store::object_id(&t, &name).map(|_| Ok(name))
                }
                Err(e) => Some(Err(Error::io("listing", &dir, e))),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Box::new(std::iter::empty()),
            Err(e) => return Err(Error::io("listing", &dir, e)),
        };
        // Packed objects of the type, each once (a loose copy is listed above).
        let mut packed = Vec::new();
        for p in self.repo.packs()?.iter() {
            for e in p.entries()? {
                if e.id.artifact_type.as_str() == artifact_type
                    && !self.repo.object_path(&e.id).exists()
                {
                    packed.push(store::file_name(&e.id));
                }
            }
        }
        packed.sort();
        packed.dedup();
        Ok(Box::new(loose.chain(packed.into_iter().map(Ok))))
    }

    fn object_size(&self, id: &ObjectId) -> Result<Option<u64>, Error> {
        let Some(at) = self.locate(id)? else {
            return Ok(None);
        };
        Ok(Some(match self.merged(id)? {
            Some(bytes) => bytes.len() as u64,
            None => at.len,
        }))
    }

    fn read_object(&self, id: &ObjectId, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        if let Some(bytes) = self.merged(id)? {
            return Ok(slice(&bytes, offset, size));
        }
        let Some(at) = self.locate(id)? else {
            return Err(crate::odb::Error::Missing {
                object: id.to_string(),
            }
            .into());
        };
        let size = u64::from(size).min(at.len.saturating_sub(offset)) as u32;
        pread(&at.file, at.base + offset, size).map_err(|e| Error::io("reading", &at.path, e))
    }

    fn backing(&self, id: &ObjectId) -> Option<File> {
        match (self.merged(id), self.locate(id)) {
            (Ok(None), Ok(Some(at))) if !at.packed => File::open(&at.path).ok(),
            _ => None,
        }
    }

    fn ref_stat(&self, rel: &str) -> Result<Option<Node>, Error> {
        let Some(path) = self.refs_path(rel) else {
            return Ok(None);
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => Ok(Some(Node::Dir)),
            Ok(m) => Ok(Some(Node::File { size: m.len() })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }

    fn ref_list(&self, rel: &str) -> Result<Vec<Entry>, Error> {
        let Some(dir) = self.refs_path(rel) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io("listing", &dir, e))? {
            let e = e.map_err(|e| Error::io("listing", &dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".lock") || name.starts_with('.') {
                continue;
            }
            out.push(match e.file_type() {
                Ok(t) if t.is_dir() => Entry::dir(name),
                _ => Entry::file(name),
            });
        }
        Ok(out)
    }

    fn ref_read(&self, rel: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        let Some(path) = self.refs_path(rel) else {
            return Ok(Vec::new());
        };
        let f = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
        pread(&f, offset, size).map_err(|e| Error::io("reading", &path, e))
    }
}

/// The chains of a repository: heads and checkpoints from refs, the sequence order from the
/// chain's `next-roots` file (a walk back from the head when that lags the head ref).
pub struct RepoChains {
    objects: Arc<Objects<RepoStore>>,
    stores: Mutex<HashMap<String, Option<Arc<ChainStore>>>>,
    walker: Walker,
}

impl RepoChains {
    fn repo(&self) -> &Repo {
        &self.objects.store.repo
    }

    fn read_ref(&self, name: &str) -> Result<Option<Digest>, Error> {
        match RefName::new(name) {
            Ok(r) => Ok(self.repo().read_ref(&r)?),
            Err(_) => Ok(None),
        }
    }

    fn receipt(&self, key: &ChainKey, d: Digest) -> Result<Option<Bytes>, Error> {
        let id = ObjectId::new(artifact_type(key.kind.receipt_artifact()), d);
        store::object_bytes(&self.objects.store, &id)
    }

    fn store_of(&self, key: &ChainKey) -> Result<Option<Arc<ChainStore>>, Error> {
        let name = key.path();
        if let Some(s) = self.stores.lock().ok().and_then(|c| c.get(&name).cloned()) {
            return Ok(s);
        }
        let s = ChainStore::inspect(self.repo(), key)?.map(Arc::new);
        if let Ok(mut c) = self.stores.lock() {
            c.insert(name, s.clone());
        }
        Ok(s)
    }

    /// The module directory of an asset in the work tree.
    fn module_dir(&self, key: &ChainKey) -> PathBuf {
        let kind = match key.kind {
            Kind::Asset => "smart-assets",
            Kind::Corridor => "corridors",
        };
        self.repo()
            .worktree()
            .join("modules")
            .join(kind)
            .join(&key.owner)
    }
}

impl ChainSource for RepoChains {
    fn chain_keys(&self) -> Result<Vec<ChainKey>, Error> {
        let refs = self.repo().dir().join("refs");
        let mut out = Vec::new();
        for id in dir_names(&refs.join("assets"), true)? {
            let Ok(d) = id.parse::<Digest>() else {
                continue;
            };
            for p in dir_names(&refs.join("assets").join(&id), true)? {
                if refs
                    .join("assets")
                    .join(&id)
                    .join(&p)
                    .join("head")
                    .is_file()
                {
                    out.push(ChainKey::asset(&d, &p));
                }
            }
        }
        for id in dir_names(&refs.join("corridors"), true)? {
            if refs.join("corridors").join(&id).join("head").is_file() {
                out.push(ChainKey::corridor(&id));
            }
        }
        Ok(out)
    }

    fn head(&self, key: &ChainKey) -> Result<Option<Bytes>, Error> {
        match self.read_ref(&format!("refs/{}/head", key.path()))? {
            Some(d) => self.receipt(key, d),
            None => Ok(None),
        }
    }

    fn receipt_at(&self, key: &ChainKey, seq: u64, size: u64) -> Result<Option<Bytes>, Error> {
        let Some(head) = self.read_ref(&format!("refs/{}/head", key.path()))? else {
            return Ok(None);
        };
        if let Some(s) = self.store_of(key)? {
            // The store is the last local write: it orders the chain when it names this head.
            if s.state().head == Some(head) && s.state().size == size {
                return self.receipt(key, s.next_root_at(seq)?);
            }
        }
        self.walker
            .receipt_at(key, head, seq, size, |d| self.receipt(key, *d))
    }

    fn checkpoints(&self, key: &ChainKey) -> Result<Vec<Bytes>, Error> {
        let name = format!("refs/{}/checkpoint", key.path());
        let Ok(r) = RefName::new(&name) else {
            return Ok(Vec::new());
        };
        let mut seen: Vec<Digest> = self.repo().reflog(&r)?.iter().map(|e| e.new).collect();
        seen.extend(self.read_ref(&name)?);
        seen.dedup();
        let t = artifact_type(key.kind.checkpoint_artifact());
        let mut out = Vec::new();
        for d in seen {
            if let Some(b) = store::object_bytes(&self.objects.store, &ObjectId::new(t.clone(), d))?
            {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn note(&self, key: &ChainKey, n: u64) -> Result<Option<Bytes>, Error> {
        let dir = self.module_dir(key).join("state/checkpoints");
        let file = format!("checkpoint.{n}.note");
        let first = first_purpose(&self.module_dir(key).join("asset.yaml"));
        let path = match &key.purpose {
            Some(p) if first.as_deref() != Some(p.as_str()) => dir.join(p).join(&file),
            _ => dir.join(&file),
        };
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(Arc::new(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }

    fn forks(&self, key: &ChainKey) -> Result<Vec<(String, Bytes)>, Error> {
        let dir = self
            .repo()
            .dir()
            .join("refs")
            .join(key.path())
            .join("forks");
        let mut out = Vec::new();
        for root in dir_names(&dir, false)? {
            if let Some(d) = self.read_ref(&format!("refs/{}/forks/{root}", key.path()))? {
                if let Some(b) = self.receipt(key, d)? {
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
        let id = ObjectId::new(artifact_type("smart-asset-genesis"), d);
        Ok(store::object_bytes(&self.objects.store, &id)?.and_then(|b| asset_name_of(&b)))
    }

    fn mounted(&self) -> Mounted {
        let w = self.repo().worktree();
        let w = std::fs::canonicalize(w).unwrap_or_else(|_| w.to_path_buf());
        Mounted::Repository(w.display().to_string())
    }

    fn source_time(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(self.repo().dir().join("refs"))
            .and_then(|m| m.modified())
            .ok()
    }
}

/// The genesis `asset_name` in a genesis document's bytes.
pub(crate) fn asset_name_of(bytes: &[u8]) -> Option<String> {
    let v = canon::parse(bytes).ok()?;
    Some(v.get("asset_name")?.as_str()?.to_string())
}

/// The first purpose an asset.yaml lists (its receipts live at the top of `state/receipts/`).
pub(crate) fn first_purpose(asset_yaml: &Path) -> Option<String> {
    let text = std::fs::read_to_string(asset_yaml).ok()?;
    first_purpose_of(&text)
}

/// The first purpose of asset.yaml text.
pub(crate) fn first_purpose_of(text: &str) -> Option<String> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    Some(v.get("purposes")?.get(0)?.as_str()?.to_string())
}

/// A repository as a tree.
pub struct RepoView {
    objects: Arc<Objects<RepoStore>>,
    chains: Chains<RepoChains>,
}

impl RepoView {
    /// The view of `repo`.
    pub fn new(repo: Repo) -> Arc<RepoView> {
        let objects = Arc::new(Objects::new(RepoStore {
            repo,
            merged: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
        }));
        Arc::new(RepoView {
            chains: Chains::new(RepoChains {
                objects: objects.clone(),
                stores: Mutex::new(HashMap::new()),
                walker: Walker::default(),
            }),
            objects,
        })
    }

    fn types(&self) -> Result<Vec<String>, Error> {
        self.objects.types()
    }
}

impl View for RepoView {
    fn stat(&self, path: &str) -> Result<Option<Node>, Error> {
        if path.is_empty() {
            return Ok(Some(Node::Dir));
        }
        if Chains::<RepoChains>::owns(path) {
            return self.chains.stat_owned(path, &|| self.types());
        }
        self.objects.stat(path)
    }

    fn list(self: Arc<Self>, path: &str) -> Result<Entries, Error> {
        if path.is_empty() {
            let mut out = Objects::<RepoStore>::roots().to_vec();
            out.extend(self.chains.root_entries());
            return Ok(tree::fixed(out));
        }
        if Chains::<RepoChains>::owns(path) {
            return self.chains.list(path);
        }
        self.objects.list(path)
    }

    fn open(&self, path: &str) -> Result<(), Error> {
        self.objects.open(path)
    }

    fn backing(&self, path: &str) -> Option<File> {
        self.objects.backing(path)
    }

    fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        if Chains::<RepoChains>::owns(path) {
            return self.chains.read_owned(path, offset, size, &|| self.types());
        }
        self.objects.read(path, offset, size)
    }

    fn time(&self, path: &str) -> Option<std::time::SystemTime> {
        self.chains.time_any(path)
    }
}

fn artifact_type(name: &str) -> ArtifactType {
    ArtifactType::new(name).expect("chain artifact types are valid")
}

/// The names in `dir` (directories only, or files only), sorted; a missing dir is empty.
fn dir_names(dir: &Path, dirs: bool) -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io("listing", dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".lock") {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) == dirs {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// `size` bytes of `bytes` from `offset`.
pub(crate) fn slice(bytes: &[u8], offset: u64, size: u32) -> Vec<u8> {
    let start = (offset as usize).min(bytes.len());
    let end = start.saturating_add(size as usize).min(bytes.len());
    bytes[start..end].to_vec()
}

/// Up to `size` bytes of `f` at `offset` (fewer only at the end of the file).
pub(crate) fn pread(f: &File, offset: u64, size: u32) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0; size as usize];
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}
