//! Objects: `.msez/objects/<type>/<digest>.json` (canonical JSON + LF) or `.bin` (raw bytes),
//! or the same bytes in a pack under `.msez/packs`; written once, never changed, checked
//! against their name on every read.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::Digest as _;

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{self, Digest, DigestRule, Encoding, Value};

use super::index::Checksum;
use super::pack::{self, Pack};
use super::proofs::{merge_proofs, proof_key, proof_list};
use super::write::Staged;
use super::{Error, Repo};

const CHUNK: usize = 1 << 20;

/// What storing an object did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Put {
    /// `TYPE:DIGEST`.
    #[serde(serialize_with = "display")]
    pub id: ObjectId,
    /// Whether the object file was new.
    pub created: bool,
    /// Proofs that were new to the object's proof set (written as proof files).
    pub proofs_added: usize,
    /// Bytes in the object file.
    pub size: u64,
}

fn display<S: serde::Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// A stored object as readers see it.
#[derive(Clone, Debug)]
pub struct Object {
    /// `TYPE:DIGEST`.
    pub id: ObjectId,
    /// The object file (for a packed object, its pack).
    pub path: PathBuf,
    /// For JSON types: the document with the union of its proofs.
    pub value: Option<Value>,
}

/// The packs of a repository as last listed, and the directory's mtime then.
#[derive(Debug, Default)]
pub(crate) struct PackSet {
    stamp: Option<SystemTime>,
    packs: Arc<Vec<Arc<Pack>>>,
    /// The multi-pack index as last opened, and the lookups' view through it.
    midx: Option<(super::midx::Stamp, Arc<super::midx::Midx>)>,
    view: Arc<super::midx::View>,
}

/// The open packs, in name order.
type PackList = Arc<Vec<Arc<Pack>>>;

/// Where a stored object's bytes are.
pub enum Location {
    /// Its own file.
    Loose(PathBuf),
    /// An entry of a pack.
    Packed(Arc<Pack>, pack::Entry),
}

impl Location {
    /// The file holding the bytes.
    pub fn path(&self) -> &Path {
        match self {
            Location::Loose(p) => p,
            Location::Packed(p, _) => p.path(),
        }
    }
}

impl Repo {
    /// Where `id`'s loose file is (or would be).
    pub fn object_path(&self, id: &ObjectId) -> PathBuf {
        artifact::store_path(&self.objects_dir(), id)
    }

    /// Whether `id` is stored (loose or packed).
    pub fn has(&self, id: &ObjectId) -> bool {
        matches!(self.locate(id), Ok(Some(_)))
    }

    /// The packs in `.msez/packs`, listed again when the directory changed.
    pub fn packs(&self) -> Result<Arc<Vec<Arc<Pack>>>, Error> {
        self.load_packs(false)
    }

    /// Has the next lookup list `packs/` again (after this handle wrote or removed a pack:
    /// directory times are too coarse to show every change).
    pub(crate) fn forget_packs(&self) {
        self.packs.lock().unwrap_or_else(|e| e.into_inner()).stamp = None;
    }

    fn load_packs(&self, missed: bool) -> Result<Arc<Vec<Arc<Pack>>>, Error> {
        self.load_view(missed).map(|(packs, _)| packs)
    }

    /// The packs, and the lookups' view of them through the multi-pack index.
    pub(crate) fn load_view(
        &self,
        missed: bool,
    ) -> Result<(PackList, Arc<super::midx::View>), Error> {
        let dir = self.packs_dir();
        let stamp = match std::fs::metadata(&dir) {
            Ok(m) => m.modified().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("reading", &dir, e)),
        };
        let mut set = self.packs.lock().unwrap_or_else(|e| e.into_inner());
        // A directory changed within the timestamp granularity may have changed again unseen:
        // after a miss, list it again while its mtime is recent.
        let recent = stamp.is_some_and(|t| {
            SystemTime::now()
                .duration_since(t)
                .is_ok_and(|age| age < Duration::from_secs(2))
        });
        if set.stamp == stamp && !(missed && recent) {
            return Ok((set.packs.clone(), set.view.clone()));
        }
        let mut packs = Vec::new();
        if stamp.is_some() {
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| Error::io("listing", &dir, e))?
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| pack::is_pack_name(n))
                .collect();
            names.sort();
            for name in names {
                let path = dir.join(&name);
                match set.packs.iter().find(|p| p.path() == path) {
                    Some(p) => packs.push(p.clone()),
                    None => match Pack::open(&path) {
                        Ok(p) => packs.push(Arc::new(p)),
                        // Deleted by gc since it was listed (its objects are elsewhere now),
                        // or torn by a crash before its transaction committed (so no ref
                        // needs it; fsck reports it).
                        Err(Error::BadPack { .. }) => {}
                        Err(Error::Io { source, .. })
                            if source.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    },
                }
            }
        }
        set.stamp = stamp;
        set.midx = super::midx::load(&dir, set.midx.take());
        set.view = Arc::new(super::midx::View::new(
            set.midx.as_ref().map(|(_, m)| m.clone()),
            &packs,
        ));
        set.packs = Arc::new(packs);
        Ok((set.packs.clone(), set.view.clone()))
    }

    /// Where `id`'s bytes are: its loose file, else the first pack that holds it.
    pub fn locate(&self, id: &ObjectId) -> Result<Option<Location>, Error> {
        let path = self.object_path(id);
        if path.is_file() {
            return Ok(Some(Location::Loose(path)));
        }
        match self.find_packed(id, false)? {
            Some(found) => Ok(Some(found)),
            None => self.find_packed(id, true),
        }
    }

    /// `id` in the packs, as listed (`missed`: after a miss, see [`Repo::packs`]).
    fn find_packed(&self, id: &ObjectId, missed: bool) -> Result<Option<Location>, Error> {
        let (_, view) = self.load_view(missed)?;
        Ok(view.find(id)?.map(|(p, e)| Location::Packed(p, e)))
    }

    /// The stored bytes of `id`, unchecked (loose file or pack entry); `Missing` if absent.
    pub fn object_bytes(&self, id: &ObjectId) -> Result<(Vec<u8>, PathBuf), Error> {
        let missing = || Error::Missing {
            object: id.to_string(),
        };
        match self.locate(id)?.ok_or_else(missing)? {
            Location::Loose(path) => match std::fs::read(&path) {
                Ok(b) => Ok((b, path)),
                // Deleted by gc since we looked.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing()),
                Err(e) => Err(Error::io("reading", &path, e)),
            },
            Location::Packed(p, e) => Ok((p.read(&e)?, p.path().to_path_buf())),
        }
    }

    /// The artifact types of the stored objects (a directory in `.msez/objects`, or a pack's
    /// type table), sorted.
    pub fn object_types(&self) -> Result<Vec<ArtifactType>, Error> {
        let root = self.objects_dir();
        let mut types: Vec<ArtifactType> = std::fs::read_dir(&root)
            .map_err(|e| Error::io("listing", &root, e))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|s| ArtifactType::new(s).ok())
            })
            .collect();
        for p in self.packs()?.iter() {
            types.extend(p.types().iter().cloned());
        }
        types.sort();
        types.dedup();
        Ok(types)
    }

    /// The stored object with this digest, of whichever type has one (the first in type
    /// order): for a ref whose namespace names no type.
    pub fn find_digest(&self, digest: Digest) -> Result<Option<ObjectId>, Error> {
        Ok(self
            .object_types()?
            .into_iter()
            .map(|t| ObjectId::new(t, digest))
            .find(|id| self.has(id)))
    }

    /// Stores a JSON artifact; an existing object gains the proofs it lacked.
    pub fn put_json(&self, artifact_type: &ArtifactType, value: &Value) -> Result<Put, Error> {
        let rule = artifact_type.rule();
        let label = || format!("{artifact_type}:(new)");
        let digest = rule.digest_json(value).map_err(|source| Error::Canon {
            object: label(),
            source,
        })?;
        let id = ObjectId::new(artifact_type.clone(), digest);
        check_declared(rule, value, &id)?;
        if let Some(at) = self.locate(&id)? {
            return self.merge_into_existing(&id, value, at.path());
        }
        let path = self.object_path(&id);
        let mut bytes = canon::to_bytes(value).map_err(|source| Error::Canon {
            object: id.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        let mut staged = Staged::new(&self.tmp_dir(), 0o444)?;
        staged
            .file
            .write_all(&bytes)
            .map_err(|e| Error::io("writing", staged.file.path().to_path_buf(), e))?;
        let sum = Checksum {
            blake3: *blake3::hash(&bytes).as_bytes(),
            size: bytes.len() as u64,
        };
        if !staged.persist_new(&path)? {
            // Another writer stored it between our check and our rename.
            return self.merge_into_existing(&id, value, &path);
        }
        self.record_checksum(&id, sum)?;
        Ok(Put {
            id,
            created: true,
            proofs_added: 0,
            size: sum.size,
        })
    }

    pub(super) fn merge_into_existing(
        &self,
        id: &ObjectId,
        value: &Value,
        path: &Path,
    ) -> Result<Put, Error> {
        let size = match self.locate(id)? {
            Some(Location::Packed(_, e)) => e.len,
            _ => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        };
        if !id.artifact_type.rule().proofs_outside_digest() {
            return Ok(Put {
                id: id.clone(),
                created: false,
                proofs_added: 0,
                size,
            });
        }
        let stored = self.read_json(id)?;
        let known: Vec<(String, String)> = proof_list(&stored).iter().map(proof_key).collect();
        let mut added = 0;
        for proof in proof_list(value) {
            if !known.contains(&proof_key(&proof)) && self.add_proof_file(id, &proof)? {
                added += 1;
            }
        }
        Ok(Put {
            id: id.clone(),
            created: false,
            proofs_added: added,
            size,
        })
    }

    /// Stores an artifact from a stream. Raw types are streamed (memory stays flat at any
    /// size); JSON types are read whole, up to [`canon::MAX_JSON_BYTES`], and canonicalized.
    pub fn put_reader(
        &self,
        artifact_type: &ArtifactType,
        mut reader: impl Read,
    ) -> Result<Put, Error> {
        let rule = artifact_type.rule();
        if rule.encoding() == Encoding::Json {
            let mut bytes = Vec::new();
            (&mut reader)
                .take(canon::MAX_JSON_BYTES as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io("reading input for", artifact_type.as_str(), e))?;
            let value = canon::parse(&bytes).map_err(|source| Error::Canon {
                object: format!("{artifact_type}:(input)"),
                source,
            })?;
            return self.put_json(artifact_type, &value);
        }
        let mut staged = Staged::new(&self.tmp_dir(), 0o444)?;
        let fd = std::os::unix::io::AsRawFd::as_raw_fd(staged.file.as_file());
        let (mut digest, sum) = hash_copy(&mut reader, &mut staged.file, |size| {
            start_writeback(fd, size)
        })?;
        if rule == DigestRule::Lawpack {
            // A lawpack is named by its canonicalized parts, read back from the staged copy.
            digest = lawpack_digest_of(staged.file.path(), artifact_type)?;
        }
        let id = ObjectId::new(artifact_type.clone(), digest);
        let path = self.object_path(&id);
        if staged.persist_new(&path)? {
            self.record_checksum(&id, sum)?;
            Ok(Put {
                id,
                created: true,
                proofs_added: 0,
                size: sum.size,
            })
        } else {
            Ok(Put {
                id,
                created: false,
                proofs_added: 0,
                size: sum.size,
            })
        }
    }

    /// Reads a JSON object, checks it against its name, and adds its later proofs.
    pub fn read_json(&self, id: &ObjectId) -> Result<Value, Error> {
        let (bytes, path) = self.object_bytes(id)?;
        let mut value = parse_checked(id, &path, &bytes)?;
        let extra: Vec<Value> = self.proof_files(id)?.into_iter().map(|(_, v)| v).collect();
        if !extra.is_empty() {
            merge_proofs(&mut value, &extra);
        }
        Ok(value)
    }

    /// Reads any object: JSON types parsed (with proofs), raw types only located.
    pub fn object(&self, id: &ObjectId) -> Result<Object, Error> {
        let Some(at) = self.locate(id)? else {
            return Err(Error::Missing {
                object: id.to_string(),
            });
        };
        let value = match id.artifact_type.rule().encoding() {
            Encoding::Json => Some(self.read_json(id)?),
            Encoding::Raw => None,
        };
        Ok(Object {
            id: id.clone(),
            path: at.path().to_path_buf(),
            value,
        })
    }

    /// Streams a raw object's bytes into `out`, checking them against the name as they pass;
    /// a mismatch is reported after the copy (the caller discards what it wrote).
    pub fn copy_raw(&self, id: &ObjectId, out: &mut impl Write) -> Result<u64, Error> {
        let path = self.object_path(id);
        let file = match File::open(&path) {
            Ok(f) => f,
            // Transactions pack JSON objects only, so a raw object is loose (or absent).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Missing {
                    object: id.to_string(),
                });
            }
            Err(e) => return Err(Error::io("opening", &path, e)),
        };
        let rule = id.artifact_type.rule();
        if rule == DigestRule::Lawpack {
            let digest = lawpack_digest_of(&path, &id.artifact_type)?;
            if digest != id.digest {
                return Err(Error::Corrupt {
                    object: id.to_string(),
                    path,
                    method: rule.method(),
                    expected: id.digest.to_hex(),
                    found: digest.to_hex(),
                });
            }
            let mut file = file;
            return std::io::copy(&mut file, out).map_err(|e| Error::io("copying", &path, e));
        }
        let (digest, sum) = hash_copy(&mut BufReader::with_capacity(CHUNK, file), out, |_| {})?;
        if digest != id.digest {
            return Err(Error::Corrupt {
                object: id.to_string(),
                path,
                method: "bytes",
                expected: id.digest.to_hex(),
                found: digest.to_hex(),
            });
        }
        Ok(sum.size)
    }

    /// Every stored object (walking `objects/`, then the packs' indexes), sorted, each once;
    /// files whose names are not `<digest>.<ext>`, and type directories that cannot be listed,
    /// are returned as `Err(path)` (one bad entry does not hide the rest). A pack whose index
    /// cannot be read adds nothing (fsck names it).
    pub fn list_objects(&self) -> Result<Vec<Result<ObjectId, PathBuf>>, Error> {
        let mut out = self.list_loose_objects()?;
        for p in self.packs()?.iter() {
            if let Ok(entries) = p.entries() {
                out.extend(entries.into_iter().map(|e| Ok(e.id)));
            }
        }
        sort_listing(&mut out);
        Ok(out)
    }

    /// Like [`Repo::list_objects`], the loose objects only (packed ones are streamed from
    /// the packs' indexes where a caller can).
    pub fn list_loose_objects(&self) -> Result<Vec<Result<ObjectId, PathBuf>>, Error> {
        let root = self.objects_dir();
        let mut out = Vec::new();
        let types = std::fs::read_dir(&root).map_err(|e| Error::io("listing", &root, e))?;
        for t in types {
            let t = t.map_err(|e| Error::io("listing", &root, e))?;
            let tpath = t.path();
            let Some(artifact_type) = t
                .file_name()
                .to_str()
                .and_then(|s| ArtifactType::new(s).ok())
            else {
                out.push(Err(tpath));
                continue;
            };
            let Ok(files) = std::fs::read_dir(&tpath) else {
                out.push(Err(tpath));
                continue;
            };
            for f in files {
                let Ok(f) = f else {
                    out.push(Err(tpath.clone()));
                    break;
                };
                let id = f.file_name().to_str().and_then(|name| {
                    let (stem, _) = name.split_once('.')?;
                    let id = ObjectId::new(artifact_type.clone(), stem.parse().ok()?);
                    (artifact::store_path(&root, &id) == f.path()).then_some(id)
                });
                out.push(id.ok_or_else(|| f.path()));
            }
        }
        sort_listing(&mut out);
        Ok(out)
    }
}

/// Sorts a listing (ids first, then bad paths) and drops repeats.
fn sort_listing(out: &mut Vec<Result<ObjectId, PathBuf>>) {
    out.sort_by(|a, b| match (a, b) {
        (Ok(x), Ok(y)) => x.cmp(y),
        (Err(x), Err(y)) => x.cmp(y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
    });
    out.dedup();
}

/// Starts writing back each finished 16 MiB window while the copy goes on, so the final fsync
/// waits for the tail only and hashing overlaps the disk (large objects are disk-bound).
fn start_writeback(fd: std::os::unix::io::RawFd, size: u64) {
    const WINDOW: u64 = 16 << 20;
    if size % WINDOW < CHUNK as u64 && size >= WINDOW {
        let start = (size / WINDOW - 1) * WINDOW;
        // Advisory: a failure only means the final fsync does all the work.
        // SAFETY: sync_file_range takes no pointers; `fd` is the caller's open temp file, and
        // a stale descriptor would only make the call fail.
        unsafe {
            libc::sync_file_range(
                fd,
                start as libc::off64_t,
                WINDOW as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
}

/// The lawpack v1 digest of a lawpack zip file.
fn lawpack_digest_of(path: &Path, artifact_type: &ArtifactType) -> Result<Digest, Error> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    canon::lawpack_digest(BufReader::new(file)).map_err(|source| Error::Canon {
        object: format!("{artifact_type}:(lawpack)"),
        source,
    })
}

/// Parses a stored JSON object and checks that its content gives the digest in its name.
pub fn parse_checked(id: &ObjectId, path: &Path, bytes: &[u8]) -> Result<Value, Error> {
    let value = canon::parse(bytes).map_err(|source| Error::Canon {
        object: id.to_string(),
        source,
    })?;
    let rule = id.artifact_type.rule();
    let digest = rule.digest_json(&value).map_err(|source| Error::Canon {
        object: id.to_string(),
        source,
    })?;
    if digest != id.digest {
        return Err(Error::Corrupt {
            object: id.to_string(),
            path: path.to_path_buf(),
            method: rule.method(),
            expected: id.digest.to_hex(),
            found: digest.to_hex(),
        });
    }
    check_declared(rule, &value, id)?;
    Ok(value)
}

/// A receipt's `next_root` (or a genesis' `asset_id`, a lock's snapshot digest) must be the
/// digest its content gives.
pub(crate) fn check_declared(rule: DigestRule, value: &Value, id: &ObjectId) -> Result<(), Error> {
    let Some(declared) = rule.declared(value) else {
        return match rule {
            DigestRule::NextRoot(_) => Err(Error::DeclaredMismatch {
                object: id.to_string(),
                field: "next_root",
                declared: "(absent)".to_string(),
                computed: id.digest.to_hex(),
            }),
            _ => Ok(()),
        };
    };
    if Digest::parse_loose(declared).ok() == Some(id.digest) {
        return Ok(());
    }
    let field = match rule {
        DigestRule::NextRoot(_) => "next_root",
        DigestRule::AssetId => "asset_id",
        _ => "snapshot_digest_sha256",
    };
    Err(Error::DeclaredMismatch {
        object: id.to_string(),
        field,
        declared: declared.to_string(),
        computed: id.digest.to_hex(),
    })
}

/// Copies `reader` to `out` while computing SHA-256 (the name) and blake3 (the index checksum).
///
/// SHA-256 runs on a second thread so the two hashes and the copy overlap on two cores.
fn hash_copy(
    reader: &mut impl Read,
    out: &mut impl Write,
    mut written: impl FnMut(u64),
) -> Result<(Digest, Checksum), Error> {
    use std::sync::mpsc;
    let (tx, rx) = mpsc::sync_channel::<std::sync::Arc<Vec<u8>>>(4);
    std::thread::scope(|scope| {
        let sha = scope.spawn(move || {
            let mut h = sha2::Sha256::new();
            for chunk in rx {
                h.update(&chunk[..]);
            }
            Digest(h.finalize().into())
        });
        let mut b3 = blake3::Hasher::new();
        let mut size = 0u64;
        let result = (|| {
            loop {
                let mut buf = vec![0u8; CHUNK];
                let mut filled = 0;
                while filled < CHUNK {
                    match reader.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io("reading input", "<stream>", e)),
                    }
                }
                if filled == 0 {
                    return Ok(());
                }
                buf.truncate(filled);
                let chunk = std::sync::Arc::new(buf);
                if tx.send(chunk.clone()).is_err() {
                    return Ok(());
                }
                b3.update(&chunk);
                out.write_all(&chunk)
                    .map_err(|e| Error::io("writing", "<object>", e))?;
                size += filled as u64;
                written(size);
            }
        })();
        drop(tx);
        let digest = sha.join().expect("the hashing thread does not panic");
        result.map(|()| {
            (
                digest,
                Checksum {
                    blake3: *b3.finalize().as_bytes(),
                    size,
                },
            )
        })
    })
}
