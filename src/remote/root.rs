//! Store roots that may be remotes: `--store-root s3://bucket/prefix` (or `ipfs://`, `file://`)
//! reads `<remote>/objects` lazily, read-only.
//!
//! A remote root downloads an object only when a resolution asks for it, checks it against its
//! name (digest by its type's rule) before anyone sees it, and keeps it in a temp directory
//! that is itself a store root, so the resolution is the ordinary one over directories. A plain
//! path stays a directory root, as before.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::artifact::{self, ObjectId};
use crate::canon::DigestRule;

use super::{Backend, Error, Retry, Url, layout};

/// One `--store-root`: a directory, or a remote read on demand.
pub enum StoreRoot {
    /// A directory store root.
    Dir(PathBuf),
    /// A remote's `objects/`, fetched into a temp directory when asked.
    Remote(RemoteRoot),
}

/// A remote's `objects/` as a lazy, read-only store root.
pub struct RemoteRoot {
    backend: Box<dyn Backend>,
    cache: tempfile::TempDir,
    /// Objects asked for and found absent (asked once).
    absent: Mutex<HashSet<ObjectId>>,
}

impl RemoteRoot {
    /// A lazy root over `backend`, caching into a fresh temp directory.
    pub fn new(backend: Box<dyn Backend>) -> Result<RemoteRoot, Error> {
        let cache = tempfile::Builder::new()
            .prefix("msez-remote-root-")
            .tempdir()
            .map_err(|e| Error::io("creating a temp dir in", std::env::temp_dir(), e))?;
        Ok(RemoteRoot {
            backend,
            cache,
            absent: Mutex::new(HashSet::new()),
        })
    }

    /// The temp directory objects land in (a store root).
    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    /// The remote's URL.
    pub fn url(&self) -> String {
        self.backend.url()
    }

    /// The backend it reads.
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    fn absent(&self) -> std::sync::MutexGuard<'_, HashSet<ObjectId>> {
        self.absent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Downloads `id` into the cache unless it is there; false when the remote lacks it.
    /// A download whose content does not give its name is [`Error::Tampered`] and is not kept.
    pub fn fetch(&self, id: &ObjectId) -> Result<bool, Error> {
        let dest = artifact::store_path(self.cache.path(), id);
        if dest.is_file() {
            return Ok(true);
        }
        if self.absent().contains(id) {
            return Ok(false);
        }
        let key = layout::object_key(id);
        let dir = dest.parent().unwrap_or(self.cache.path());
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io("creating a temp file in", dir, e))?;
        let found = if id.artifact_type.rule() == DigestRule::Bytes {
            // Raw objects stream through a hash, in ranges: constant memory.
            let path = tmp.path().to_path_buf();
            let file = tmp.as_file_mut();
            // The backend's retries resume a download without writing a byte twice.
            let (got, digest) = {
                let mut w = crate::car::Hashing::new(&mut *file);
                let got = self.backend.get_to(&key, &mut w)?;
                w.flush().map_err(|e| Error::io("writing", &path, e))?;
                (got, w.finish())
            };
            if got.is_some() && digest != id.digest {
                return Err(Error::Tampered {
                    object: id.to_string(),
                    key: format!("{}/{key}", self.backend.url()),
                    expected: id.digest.to_hex(),
                    found: digest.to_hex(),
                });
            }
            got.is_some()
        } else {
            match self.backend.get(&key, None)? {
                None => false,
                Some(blob) => {
                    let shown = format!("{}/{key}", self.backend.url());
                    match id.artifact_type.rule() {
                        DigestRule::Lawpack => {
                            let d = artifact::digest_bytes(&id.artifact_type, &blob.bytes).ok();
                            if d != Some(id.digest) {
                                return Err(Error::Tampered {
                                    object: id.to_string(),
                                    key: shown,
                                    expected: id.digest.to_hex(),
                                    found: d.map(|d| d.to_hex()).unwrap_or("no digest".into()),
                                });
                            }
                        }
                        _ => super::sync::verify_object(id, &shown, &blob.bytes)?,
                    }
                    tmp.write_all(&blob.bytes)
                        .map_err(|e| Error::io("writing", tmp.path(), e))?;
                    true
                }
            }
        };
        if !found {
            self.absent().insert(id.clone());
            return Ok(false);
        }
        // A private cache: the rename only has to be atomic, not durable.
        crate::fs::rename_temp(tmp.into_temp_path(), &dest)
            .map_err(|e| Error::io("writing", &dest, e))?;
        Ok(true)
    }
}

impl StoreRoots {
    /// A directory root that is a repository's `.msez/objects` also holds the repository's
    /// packed objects: the first such root that has `id` gives a copy in a temp directory.
    fn unpack(&self, dirs: &[PathBuf], id: &ObjectId) -> Result<Option<PathBuf>, Error> {
        for d in dirs {
            let Some(worktree) = d
                .ends_with(Path::new(crate::odb::DIR_NAME).join("objects"))
                .then(|| d.parent().and_then(Path::parent))
                .flatten()
            else {
                continue;
            };
            let Ok(repo) = crate::odb::Repo::open(worktree) else {
                continue;
            };
            let (bytes, _) = match repo.object_bytes(id) {
                Ok(found) => found,
                Err(crate::odb::Error::Missing { .. }) => continue,
                Err(e) => return Err(Error::Odb(e)),
            };
            let cache = match self.unpacked.get() {
                Some(c) => c,
                None => {
                    let dir = tempfile::Builder::new()
                        .prefix("msez-unpacked-")
                        .tempdir()
                        .map_err(|e| {
                            Error::io("creating a temp dir in", std::env::temp_dir(), e)
                        })?;
                    self.unpacked.get_or_init(|| dir)
                }
            };
            let path = artifact::store_path(cache.path(), id);
            let parent = path.parent().expect("store paths have a parent");
            std::fs::create_dir_all(parent).map_err(|e| Error::io("writing", &path, e))?;
            crate::fs::write_in_place(&path, &bytes).map_err(|e| e.lift(Error::io))?;
            return Ok(Some(path));
        }
        Ok(None)
    }
}

/// Where a resolution found an artifact.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// A local file with its bytes (for a remote root, a verified copy in a temp directory
    /// that lives as long as the [`StoreRoots`]).
    pub path: PathBuf,
    /// The remote key it came from, as a URL, when a remote root supplied it.
    pub remote: Option<String>,
}

/// The store roots of one command, in the order given.
pub struct StoreRoots {
    roots: Vec<StoreRoot>,
    /// Packed objects of repository roots (`.msez/objects`), copied out when asked.
    unpacked: std::sync::OnceLock<tempfile::TempDir>,
}

impl StoreRoots {
    /// Reads `--store-root` values: `s3://`, `ipfs://` and `file://` URLs are remotes (their
    /// `objects/`), anything else a directory (relative to `cwd`).
    pub fn parse(values: &[String], cwd: &Path, retry: Retry) -> Result<StoreRoots, Error> {
        let mut roots = Vec::new();
        for v in values {
            let is_url = ["s3://", "ipfs://", "file://"]
                .iter()
                .any(|p| v.starts_with(p));
            if is_url {
                let url = Url::parse(v, cwd)?;
                roots.push(StoreRoot::Remote(RemoteRoot::new(super::open(
                    &url, retry,
                )?)?));
            } else {
                roots.push(StoreRoot::Dir(cwd.join(v)));
            }
        }
        Ok(StoreRoots {
            roots,
            unpacked: Default::default(),
        })
    }

    /// Directory roots only.
    pub fn dirs(dirs: Vec<PathBuf>) -> StoreRoots {
        StoreRoots {
            roots: dirs.into_iter().map(StoreRoot::Dir).collect(),
            unpacked: Default::default(),
        }
    }

    /// Whether no root was given.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Finds the one file for `id` ([`artifact::resolve`]'s rules over the directory roots).
    /// Only when no directory root has it are remote roots asked, in order, and the first
    /// that has it is used: no request for what is local, and no ambiguity between a
    /// directory and a remote holding the same bytes.
    pub fn resolve(&self, id: &ObjectId) -> Result<Resolved, Error> {
        let mut dirs = Vec::new();
        for root in &self.roots {
            if let StoreRoot::Dir(d) = root {
                dirs.push(d.clone());
            }
        }
        match artifact::resolve(&dirs, id) {
            Err(artifact::Error::Missing { .. }) => {}
            other => {
                return other
                    .map(|path| Resolved { path, remote: None })
                    .map_err(|e| Error::Odb(e.into()));
            }
        }
        if let Some(path) = self.unpack(&dirs, id)? {
            return Ok(Resolved { path, remote: None });
        }
        for root in &self.roots {
            if let StoreRoot::Remote(r) = root {
                if r.fetch(id)? {
                    return Ok(Resolved {
                        path: artifact::store_path(r.cache_dir(), id),
                        remote: Some(format!("{}/{}", r.url(), layout::object_key(id))),
                    });
                }
            }
        }
        Err(Error::Odb(
            artifact::Error::Missing {
                object: id.to_string(),
                roots: self.roots.len(),
            }
            .into(),
        ))
    }
}
