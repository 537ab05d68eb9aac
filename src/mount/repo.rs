//! A repository as a mounted tree: `objects/`, `refs/`, `graph/` (from [`super::store`]) plus
//! each chain under `assets/<asset_id>/<purpose>/` and `corridors/<corridor_id>/`:
//! `receipts/<seq>.json` in canonical chain order (the head ref follows fork resolutions; the
//! order comes from the chain's `next-roots` file), `head.json`, `checkpoints/<digest>.json`
//! (every checkpoint the reflog names) and `forks/<next_root>.json` (losing branches' heads).

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest};
use crate::chain::store::{ChainKey, ChainStore};
use crate::odb::{Location, RefName, Repo};

use super::Error;
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

/// A repository as a tree.
pub struct RepoView {
    objects: Arc<Objects<RepoStore>>,
    chains: Mutex<HashMap<String, Arc<ChainStore>>>,
}

impl RepoView {
    /// The view of `repo`.
    pub fn new(repo: Repo) -> Arc<RepoView> {
        Arc::new(RepoView {
            objects: Arc::new(Objects::new(RepoStore {
                repo,
                merged: Mutex::new(HashMap::new()),
                files: Mutex::new(HashMap::new()),
            })),
            chains: Mutex::new(HashMap::new()),
        })
    }

    fn repo(&self) -> &Repo {
        &self.objects.store.repo
    }

    fn refs_dir(&self) -> PathBuf {
        self.repo().dir().join("refs")
    }

    /// The chain (and the path inside its directory) a path under assets/ or corridors/ names.
    fn chain_of<'p>(&self, parts: &[&'p str]) -> Option<(ChainKey, Vec<&'p str>)> {
        match parts {
            ["assets", id, purpose, rest @ ..] => {
                let d: Digest = id.parse().ok()?;
                Some((ChainKey::asset(&d, purpose), rest.to_vec()))
            }
            ["corridors", id, rest @ ..] => Some((ChainKey::corridor(id), rest.to_vec())),
            _ => None,
        }
    }

    fn store_of(&self, key: &ChainKey) -> Result<Option<Arc<ChainStore>>, Error> {
        let name = key.path();
        if let Some(s) = self.chains.lock().ok().and_then(|c| c.get(&name).cloned()) {
            return Ok(Some(s));
        }
        let Some(s) = ChainStore::inspect(self.repo(), key)? else {
            return Ok(None);
        };
        let s = Arc::new(s);
        if let Ok(mut c) = self.chains.lock() {
            c.insert(name, s.clone());
        }
        Ok(Some(s))
    }

    fn read_ref(&self, name: &str) -> Result<Option<Digest>, Error> {
        match RefName::new(name) {
            Ok(r) => Ok(self.repo().read_ref(&r)?),
            Err(_) => Ok(None),
        }
    }

    /// The object a file inside a chain directory shows.
    fn chain_object(&self, key: &ChainKey, rest: &[&str]) -> Result<Option<ObjectId>, Error> {
        let receipt = |d| ObjectId::new(artifact_type(key.kind.receipt_artifact()), d);
        let checkpoint = |d| ObjectId::new(artifact_type(key.kind.checkpoint_artifact()), d);
        let found = match rest {
            ["head.json"] => self
                .read_ref(&format!("refs/{}/head", key.path()))?
                .map(receipt),
            ["receipts", name] => {
                let Some(seq) = name
                    .strip_suffix(".json")
                    .and_then(|s| s.parse::<u64>().ok())
                else {
                    return Ok(None);
                };
                match self.store_of(key)? {
                    Some(s) if seq < s.state().size && name == &format!("{seq}.json") => {
                        Some(receipt(s.next_root_at(seq)?))
                    }
                    _ => None,
                }
            }
            ["checkpoints", "latest.json"] => self
                .read_ref(&format!("refs/{}/checkpoint", key.path()))?
                .map(checkpoint),
            ["checkpoints", name] => name
                .strip_suffix(".json")
                .and_then(|d| d.parse().ok())
                .map(checkpoint),
            ["forks", name] => {
                let Some(root) = name.strip_suffix(".json") else {
                    return Ok(None);
                };
                self.read_ref(&format!("refs/{}/forks/{root}", key.path()))?
                    .map(receipt)
            }
            _ => None,
        };
        Ok(found)
    }

    fn chain_stat(&self, key: &ChainKey, rest: &[&str]) -> Result<Option<Node>, Error> {
        let dir = self.refs_dir().join(key.path());
        match rest {
            [] => Ok(dir.join("head").is_file().then_some(Node::Dir)),
            ["receipts"] => Ok(dir.join("head").is_file().then_some(Node::Dir)),
            ["checkpoints"] => Ok(dir.join("checkpoint").is_file().then_some(Node::Dir)),
            ["forks"] => Ok(dir.join("forks").is_dir().then_some(Node::Dir)),
            _ => match self.chain_object(key, rest)? {
                Some(id) => Ok(self
                    .objects
                    .store
                    .object_size(&id)?
                    .map(|size| Node::File { size })),
                None => Ok(None),
            },
        }
    }

    fn chain_list(&self, key: &ChainKey, rest: &[&str]) -> Result<Entries, Error> {
        let dir = self.refs_dir().join(key.path());
        match rest {
            [] => {
                let mut out = vec![Entry::file("head.json"), Entry::dir("receipts")];
                if dir.join("checkpoint").is_file() {
                    out.push(Entry::dir("checkpoints"));
                }
                if dir.join("forks").is_dir() {
                    out.push(Entry::dir("forks"));
                }
                Ok(tree::fixed(out))
            }
            ["receipts"] => {
                let size = self.store_of(key)?.map_or(0, |s| s.state().size);
                Ok(Box::new(
                    (0..size).map(|seq| Ok(Entry::file(format!("{seq}.json")))),
                ))
            }
            ["checkpoints"] => {
                let name = RefName::new(&format!("refs/{}/checkpoint", key.path()))?;
                let mut seen = Vec::new();
                for entry in self.repo().reflog(&name)? {
                    if !seen.contains(&entry.new) {
                        seen.push(entry.new);
                    }
                }
                let mut out: Vec<Entry> = seen
                    .iter()
                    .map(|d| Entry::file(format!("{d}.json")))
                    .collect();
                out.push(Entry::file("latest.json"));
                Ok(tree::fixed(out))
            }
            ["forks"] => Ok(tree::fixed(
                dir_names(&dir.join("forks"), false)?
                    .into_iter()
                    .map(|n| Entry::file(format!("{n}.json")))
                    .collect(),
            )),
            _ => Ok(tree::fixed(Vec::new())),
        }
    }
}

impl View for RepoView {
    fn stat(&self, path: &str) -> Result<Option<Node>, Error> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            [""] => Ok(Some(Node::Dir)),
            ["assets"] | ["corridors"] => {
                Ok(self.refs_dir().join(parts[0]).is_dir().then_some(Node::Dir))
            }
            ["assets", id] => Ok(self
                .refs_dir()
                .join("assets")
                .join(id)
                .is_dir()
                .then_some(Node::Dir)),
            ["assets", ..] | ["corridors", ..] => match self.chain_of(&parts) {
                Some((key, rest)) => self.chain_stat(&key, &rest),
                None => Ok(None),
            },
            _ => self.objects.stat(path),
        }
    }

    fn list(self: Arc<Self>, path: &str) -> Result<Entries, Error> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            [""] => {
                let mut out = Objects::<RepoStore>::roots().to_vec();
                for top in ["assets", "corridors"] {
                    if self.refs_dir().join(top).is_dir() {
                        out.push(Entry::dir(top));
                    }
                }
                Ok(tree::fixed(out))
            }
            ["assets"] | ["corridors"] => Ok(tree::fixed(
                dir_names(&self.refs_dir().join(parts[0]), true)?
                    .into_iter()
                    .map(Entry::dir)
                    .collect(),
            )),
            ["assets", id] => {
                let dir = self.refs_dir().join("assets").join(id);
                Ok(tree::fixed(
                    dir_names(&dir, true)?
                        .into_iter()
                        .filter(|p| dir.join(p).join("head").is_file())
                        .map(Entry::dir)
                        .collect(),
                ))
            }
            ["assets", ..] | ["corridors", ..] => match self.chain_of(&parts) {
                Some((key, rest)) => self.chain_list(&key, &rest),
                None => Ok(tree::fixed(Vec::new())),
            },
            _ => self.objects.list(path),
        }
    }

    fn open(&self, path: &str) -> Result<(), Error> {
        self.objects.open(path)
    }

    fn backing(&self, path: &str) -> Option<File> {
        let parts: Vec<&str> = path.split('/').collect();
        match self.chain_of(&parts) {
            Some((key, rest)) => {
                let id = self.chain_object(&key, &rest).ok()??;
                self.objects.store.backing(&id)
            }
            None => self.objects.backing(path),
        }
    }

    fn read(&self, path: &str, offset: u64, size: u32) -> Result<Vec<u8>, Error> {
        let parts: Vec<&str> = path.split('/').collect();
        if let Some((key, rest)) = self.chain_of(&parts) {
            return match self.chain_object(&key, &rest)? {
                Some(id) => self.objects.store.read_object(&id, offset, size),
                None => Ok(Vec::new()),
            };
        }
        self.objects.read(path, offset, size)
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
