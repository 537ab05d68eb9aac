//! `msez gc --remote`: a remote as a [`gc::Store`], collected under a lease when it has no
//! conditional writes. Keys that are not regular files (a directory remote's symlinks and
//! FIFOs) are never read, followed or deleted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::artifact::ObjectId;
use crate::canon::{self, Encoding, Value};
use crate::gc::{
    self, BadProof, IrregularKey, Options, REMOTE_MARKS_KEY, Report, Root, Store, marks_text,
    parse_marks, proof_bytes_problem,
};
use crate::odb::{RefName, Repo};
use crate::progress::Progress;
use crate::reach::ref_roots;

use super::{Backend, Error, layout, lease::Lease, reflock};

impl From<Error> for gc::Error {
    fn from(e: Error) -> Self {
        gc::Error::Store(Box::new(e))
    }
}

/// A remote as a gc store. Its JSON objects are read from the local repository when it has
/// them (same name, same content) and otherwise downloaded and checked against their name.
pub struct Remote<'a> {
    backend: &'a dyn Backend,
    local: Option<&'a Repo>,
    /// Object sizes from the listing (for a dry run's bytes).
    sizes: std::sync::Mutex<HashMap<ObjectId, u64>>,
    /// Keys that are not regular files: never read, followed or deleted.
    irregular: HashSet<String>,
}

impl<'a> Remote<'a> {
    /// Collects the remote behind `backend`, reading objects from `local` where it can.
    pub fn new(backend: &'a dyn Backend, local: Option<&'a Repo>) -> Remote<'a> {
        Remote {
            backend,
            local,
            sizes: std::sync::Mutex::new(HashMap::new()),
            irregular: HashSet::new(),
        }
    }

    /// Leaves `keys` alone (see [`IrregularKey`]).
    pub fn with_irregular(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        self.irregular.extend(keys);
        self
    }
}

impl Store for Remote<'_> {
    fn describe(&self) -> String {
        self.backend.url()
    }

    fn objects(&self) -> Result<Vec<(ObjectId, Option<Duration>)>, gc::Error> {
        let listed = self.backend.list("objects/")?;
        let mut sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
        Ok(listed
            .into_iter()
            .filter(|m| !self.irregular.contains(&m.key))
            .filter_map(|m| {
                let id = layout::parse_object_key(&m.key)?;
                sizes.insert(id.clone(), m.size);
                Some((id, None))
            })
            .collect())
    }

    fn size(&self, id: &ObjectId) -> u64 {
        let sizes = self.sizes.lock().unwrap_or_else(|p| p.into_inner());
        sizes.get(id).copied().unwrap_or(0)
    }

    fn roots(&self, _now: SystemTime, _reflog_expire: Duration) -> Result<Vec<Root>, gc::Error> {
        let mut out = Vec::new();
        // A ref we must not read could name anything, and an object we must not read could
        // link to anything: with one of either, everything listed stays.
        if self
            .irregular
            .iter()
            .any(|k| (k.starts_with("refs/") && !k.ends_with(".lock")) || k.starts_with("objects/"))
        {
            return Ok(self
                .objects()?
                .into_iter()
                .map(|(id, _)| Root::Id(id))
                .collect());
        }
        for m in self.backend.list("refs/")? {
            let Ok(name) = RefName::new(&m.key) else {
                continue;
            };
            let Some(blob) = self.backend.get(&m.key, None)? else {
                continue;
            };
            match layout::parse_ref_value(&blob.bytes) {
                Some(d) => ref_roots(&name, d, &mut out),
                // A ref we cannot read could name anything: collecting would be a guess.
                None => {
                    return Err(Error::Missing {
                        what: "a readable value of ref",
                        key: m.key,
                    }
                    .into());
                }
            }
        }
        Ok(out)
    }

    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, gc::Error> {
        if let Some(repo) = self.local.filter(|r| r.has(id)) {
            return gc::Local::new(repo).read_json(id);
        }
        let key = layout::object_key(id);
        let Some(blob) = self.backend.get(&key, None)? else {
            return Ok(None);
        };
        // A tampered object could hide links and get what it names deleted: refuse.
        crate::remote::sync::verify_object(id, &key, &blob.bytes)?;
        Ok(canon::parse(&blob.bytes).ok())
    }

    fn delete(&self, id: &ObjectId) -> Result<(u64, u64), gc::Error> {
        let key = layout::object_key(id);
        let mut bytes = self.backend.head(&key)?.map(|m| m.size).unwrap_or(0);
        let prefix = format!("proofs/{}/{}/", id.artifact_type, id.digest);
        let mut proofs = self.backend.list(&prefix)?;
        proofs.retain(|p| !self.irregular.contains(&p.key));
        self.backend.delete(&key)?;
        for p in &proofs {
            bytes += p.size;
            self.backend.delete(&p.key)?;
        }
        Ok((bytes, proofs.len() as u64))
    }

    fn load_marks(&self) -> Result<HashMap<ObjectId, u64>, gc::Error> {
        Ok(self
            .backend
            .get(REMOTE_MARKS_KEY, None)?
            .map(|b| parse_marks(&String::from_utf8_lossy(&b.bytes)))
            .unwrap_or_default())
    }

    fn save_marks(&self, marks: &BTreeMap<ObjectId, u64>) -> Result<(), gc::Error> {
        let text = marks_text(marks);
        self.backend.put(REMOTE_MARKS_KEY, text.as_bytes())?;
        Ok(())
    }

    /// Every proof file is read (one GET each): a remote holds few, only later co-signatures.
    fn bad_proofs(&self) -> Result<Vec<BadProof>, gc::Error> {
        let objects: HashSet<ObjectId> = self.objects()?.into_iter().map(|(id, _)| id).collect();
        let mut values: HashMap<ObjectId, Option<Value>> = HashMap::new();
        let mut out = Vec::new();
        for m in self.backend.list("proofs/")? {
            if self.irregular.contains(&m.key) {
                continue;
            }
            // A key outside the layout names no object: not ours to judge here.
            let Some((id, h)) = layout::parse_proof_key(&m.key) else {
                continue;
            };
            let bad = |why: String| BadProof {
                object: id.to_string(),
                file: m.key.clone(),
                why,
            };
            if !objects.contains(&id) {
                out.push(bad("orphan: its object is not on the remote".into()));
                continue;
            }
            if id.artifact_type.rule().encoding() != Encoding::Json {
                continue;
            }
            let object = match values.get(&id) {
                Some(v) => v.clone(),
                None => {
                    let v = self.read_json(&id)?;
                    values.insert(id.clone(), v.clone());
                    v
                }
            };
            let Some(object) = object else { continue };
            let Some(blob) = self.backend.get(&m.key, None)? else {
                continue;
            };
            if let Some(why) = proof_bytes_problem(&h, &blob.bytes, &object) {
                out.push(bad(why));
            }
        }
        Ok(out)
    }

    fn delete_proof(&self, proof: &BadProof) -> Result<u64, gc::Error> {
        let size = self.backend.head(&proof.file)?.map(|m| m.size).unwrap_or(0);
        self.backend.delete(&proof.file)?;
        Ok(size)
    }
}

/// gc on a remote: single-writer remotes are leased for the run, like a push.
pub fn run_remote(
    backend: &dyn Backend,
    local: Option<&Repo>,
    opts: &Options,
    progress: &dyn Progress,
    between: &mut dyn FnMut(),
) -> Result<Report, gc::Error> {
    if !layout::check_format(backend)? {
        return Err(Error::Missing {
            what: "the format file (not an msez remote?)",
            key: format!("{}/{}", backend.url(), layout::FORMAT_KEY),
        }
        .into());
    }
    let lease = if backend.atomic_conditionals() || opts.dry_run {
        None
    } else {
        Some(Lease::acquire(backend)?)
    };
    let irregular = backend.irregular("")?;
    let store = Remote::new(backend, local).with_irregular(irregular.iter().map(|k| k.key.clone()));
    let result = gc::run(&store, opts, progress, between).and_then(|mut report| {
        report.irregular = irregular
            .iter()
            .map(|k| IrregularKey {
                code: "schema.remote_key_irregular",
                key: k.key.clone(),
                why: k.why.to_string(),
            })
            .collect();
        // Ref locks outlive their moves by design (see `reflock`); the stale ones of
        // versions a ref has left are garbage.
        let locks = reflock::sweep_locks(backend, reflock::LOCKS_PREFIX, opts.dry_run)?;
        report.locks_deleted = locks.len() as u64;
        Ok(report)
    });
    if let Some(lease) = lease {
        lease.release(backend)?;
    }
    result
}
