//! A write transaction: many objects and working-tree files made durable with one `syncfs`
//! per filesystem instead of an fsync per file.
//!
//! JSON objects go into one pack file (see [`super::Pack`]) when there are at least
//! [`PACK_MIN`]; fewer, and raw ones (downloads), are staged as loose files in the transaction's own directory under `.msez/tmp` and renamed into place;
//! new working-tree files are unnamed files linked under their names on commit. Readers never
//! see a partial file, and a crash before [`Batch::commit`] leaves no name anywhere but in the
//! staging directory (fsck removes it). Callers move refs only after `commit` returns, so a
//! ref never names an object that is not durable.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Value};

use super::index::Checksum;
use super::objects::check_declared;
use super::pack::PackWriter;
use super::write::TEMP_PREFIX;
use super::{Error, Repo};

/// Pending writes of one transaction.
pub struct Batch<'r> {
    repo: &'r Repo,
    /// The transaction's own staging directory (under `.msez/tmp`), flock-ed while it lives so
    /// fsck tells it from a crashed writer's; created on the first staged object.
    staging: Option<(tempfile::TempDir, File)>,
    /// Raw objects staged as files.
    objects: Vec<(PathBuf, ObjectId, Checksum)>,
    /// When the first JSON object came, and the packs there were then.
    first: Option<(
        std::time::SystemTime,
        std::sync::Arc<Vec<std::sync::Arc<super::Pack>>>,
    )>,
    /// The first JSON objects, kept until there are [`PACK_MIN`] (fewer are stored loose).
    small: Vec<(ObjectId, Vec<u8>)>,
    /// The JSON objects of a transaction of at least [`PACK_MIN`].
    pack: Option<PackWriter>,
    files: Vec<StagedFiles>,
    seen: BTreeSet<ObjectId>,
    /// Proofs that objects stored before gained.
    proofs_added: u64,
    /// Whether each type had a directory of loose objects when first seen.
    loose_types: std::collections::HashMap<ArtifactType, bool>,
    /// Directories whose filesystems the commit syncs (working-tree files and others).
    dirs: BTreeSet<PathBuf>,
}

/// A transaction with fewer JSON objects than this stores them loose, as single writes do
/// (a pack per one-receipt append would leave thousands of tiny packs to search).
pub const PACK_MIN: usize = 64;

/// What [`Batch::commit`] published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Object files that were new.
    pub created: u64,
    /// Proofs that objects stored before gained (written as proof files).
    pub proofs_added: u64,
}

/// Working-tree files of a transaction, published by [`Batch::commit`] and not before: a new
/// name is written to an unnamed file (`O_TMPFILE`) and linked on commit, an existing one is
/// staged beside it and renamed over it on commit. A crash before the commit leaves no new
/// name (unnamed files vanish with the process; a named temp file, `.msez-*`, may stay, and
/// readers, which take `*.json` only, ignore it).
#[derive(Default)]
pub struct StagedFiles {
    /// Unnamed files and the names they get.
    unnamed: Vec<(File, PathBuf, std::ffi::CString, PathBuf)>,
    replace: Vec<(tempfile::TempPath, PathBuf)>,
    /// Directories known to exist, open (files are made relative to them).
    dirs: std::collections::BTreeMap<PathBuf, File>,
}

impl StagedFiles {
    /// Stages `bytes` for `dest`, which is replaced atomically on commit.
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> Result<(), Error> {
        self.stage(dest, bytes, true).map(|_| ())
    }

    /// Stages `bytes` for `dest` unless a file has that name (false: nothing staged).
    pub fn create(&mut self, dest: &Path, bytes: &[u8]) -> Result<bool, Error> {
        self.stage(dest, bytes, false)
    }

    fn stage(&mut self, dest: &Path, bytes: &[u8], replace: bool) -> Result<bool, Error> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        if !self.dirs.contains_key(dir) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
            let handle = File::open(dir).map_err(|e| Error::io("opening", dir, e))?;
            self.dirs.insert(dir.to_path_buf(), handle);
        }
        let dirf = &self.dirs[dir];
        let name = std::ffi::CString::new(dest.file_name().unwrap_or_default().as_bytes())
            .map_err(|_| Error::io("naming", dest, std::io::ErrorKind::InvalidInput.into()))?;
        let exists = crate::fs::exists_at(dirf, &name);
        if exists && !replace {
            return Ok(false);
        }
        if !exists && self.unnamed.len() < unnamed_budget() {
            let e = match crate::fs::create_unnamed(dirf, 0o644) {
                Ok(mut f) => {
                    f.write_all(bytes)
                        .map_err(|e| Error::io("writing", dest, e))?;
                    self.unnamed
                        .push((f, dir.to_path_buf(), name, dest.to_path_buf()));
                    return Ok(true);
                }
                Err(e) => e,
            };
            // No O_TMPFILE here, or out of descriptors: a named temp file instead.
            if !matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::EMFILE | libc::ENFILE)
            ) {
                return Err(Error::io("creating a file in", dir, e));
            }
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".msez-")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)
            .map_err(|e| Error::io("creating a temp file in", dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| Error::io("writing", dest, e))?;
        self.replace
            .push((tmp.into_temp_path(), dest.to_path_buf()));
        Ok(true)
    }

    /// Gives the unnamed files their names; one that appeared meanwhile is replaced.
    fn link(&mut self) -> Result<(), Error> {
        for (f, dir, name, dest) in self.unnamed.drain(..) {
            let dirf = &self.dirs[&dir];
            match crate::fs::link_unnamed(&f, dirf, &name) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let tmp = tempfile::Builder::new()
                        .prefix(".msez-")
                        .make_in(&dir, |p| {
                            let c = std::ffi::CString::new(
                                p.file_name().unwrap_or_default().as_bytes(),
                            )
                            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
                            crate::fs::link_unnamed(&f, dirf, &c)
                        })
                        .map_err(|e| Error::io("writing", &dest, e))?;
                    crate::fs::rename_temp(tmp.into_temp_path(), &dest)
                        .map_err(|e| Error::io("writing", &dest, e))?;
                }
                Err(e) => return Err(Error::io("writing", &dest, e)),
            }
        }
        Ok(())
    }
}

/// How many unnamed files a transaction keeps open: the open-file limit less a reserve for
/// everything else the process opens (past it, files are staged with names).
fn unnamed_budget() -> usize {
    static BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BUDGET.get_or_init(|| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
        let cur = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            lim.rlim_cur
        } else {
            1024
        };
        usize::try_from(cur)
            .unwrap_or(usize::MAX)
            .saturating_sub(512)
    })
}

/// A JSON object's id and stored bytes (canonical JSON + LF), its declared digest checked.
pub(crate) fn canonical(
    artifact_type: &ArtifactType,
    value: &Value,
) -> Result<(ObjectId, Vec<u8>), Error> {
    let rule = artifact_type.rule();
    let digest = rule.digest_json(value).map_err(|source| Error::Canon {
        object: format!("{artifact_type}:(new)"),
        source,
    })?;
    let id = ObjectId::new(artifact_type.clone(), digest);
    check_declared(rule, value, &id)?;
    let mut bytes = canon::to_bytes(value).map_err(|source| Error::Canon {
        object: id.to_string(),
        source,
    })?;
    bytes.push(b'\n');
    Ok((id, bytes))
}

impl<'r> Batch<'r> {
    /// An empty transaction on `repo`.
    pub fn new(repo: &'r Repo) -> Batch<'r> {
        Batch {
            repo,
            staging: None,
            objects: Vec::new(),
            first: None,
            small: Vec::new(),
            pack: None,
            files: Vec::new(),
            seen: BTreeSet::new(),
            proofs_added: 0,
            loose_types: Default::default(),
            dirs: BTreeSet::new(),
        }
    }

    /// Stages a JSON object in the transaction's pack. One stored already only gains the
    /// proofs it lacked (at once: proof files are grow-only).
    pub fn put_json(
        &mut self,
        artifact_type: &ArtifactType,
        value: &Value,
    ) -> Result<ObjectId, Error> {
        let (id, bytes) = canonical(artifact_type, value)?;
        self.put_canonical(id, &bytes)
    }

    /// Stages a JSON object given as `id` and its stored bytes (canonical JSON + LF), for a
    /// caller that has just made both from one value (an append knows each receipt's
    /// next_root): nothing is computed again.
    pub fn put_canonical(&mut self, id: ObjectId, bytes: &[u8]) -> Result<ObjectId, Error> {
        debug_assert_eq!(
            canon::parse(bytes)
                .ok()
                .and_then(|v| id.artifact_type.rule().digest_json(&v).ok()),
            Some(id.digest)
        );
        if self.first.is_none() {
            self.first = Some((std::time::SystemTime::now(), self.repo.packs()?));
        }
        let before = &self.first.as_ref().expect("just set").1;
        // One look at whether the type has loose objects at all (a chain's receipts are packed):
        // one that appears while the transaction runs is caught by `merge_concurrent`.
        let loose = &mut self.loose_types;
        if !loose.contains_key(&id.artifact_type) {
            let dir = self.repo.objects_dir().join(id.artifact_type.as_str());
            loose.insert(id.artifact_type.clone(), dir.is_dir());
        }
        let maybe_loose = loose[&id.artifact_type];
        let stored = || -> Result<bool, Error> {
            if maybe_loose && self.repo.object_path(&id).is_file() {
                return Ok(true);
            }
            for p in before.iter() {
                if p.find(&id)?.is_some() {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        if self.seen.contains(&id) || stored()? {
            let value = canon::parse(bytes).map_err(|source| Error::Canon {
                object: id.to_string(),
                source,
            })?;
            let put = self.repo.put_json(&id.artifact_type, &value)?;
            self.proofs_added += put.proofs_added as u64;
            return Ok(id);
        }
        self.seen.insert(id.clone());
        if self.pack.is_none() {
            if self.small.len() + 1 < PACK_MIN {
                self.small.push((id.clone(), bytes.to_vec()));
                return Ok(id);
            }
            let mut pack = PackWriter::create(self.staging_dir()?.join("pack"))?;
            for (id, bytes) in self.small.drain(..) {
                pack.add(&id, &bytes)?;
            }
            self.pack = Some(pack);
        }
        self.pack.as_mut().expect("just created").add(&id, bytes)?;
        Ok(id)
    }

    /// Stages an object whose bytes are already in a file under `.msez/tmp` (a download,
    /// checked against its name by the caller); the file is moved into the store on commit.
    /// Only for types whose file is their bytes (raw types): JSON goes through
    /// [`Batch::put_json`], which canonicalizes.
    pub fn put_file(&mut self, id: ObjectId, staged: PathBuf, sum: Checksum) -> Result<(), Error> {
        if id.artifact_type.rule().encoding() == crate::canon::Encoding::Json {
            return Err(Error::io(
                "staging a raw file for the JSON object",
                staged,
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            ));
        }
        if !self.seen.insert(id.clone()) {
            return Ok(());
        }
        // Read-only like every object file; the rename keeps the mode.
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o444))
            .map_err(|e| Error::io("setting permissions of", &staged, e))?;
        self.objects.push((staged, id, sum));
        Ok(())
    }

    fn staging_dir(&mut self) -> Result<&Path, Error> {
        if self.staging.is_none() {
            let tmp = self.repo.tmp_dir();
            let dir = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .tempdir_in(&tmp)
                .map_err(|e| Error::io("creating a staging directory in", &tmp, e))?;
            let lock = File::open(dir.path()).map_err(|e| Error::io("opening", dir.path(), e))?;
            // Advisory only: a failed flock just makes fsck treat the directory as possibly stale.
            crate::fs::try_flock(&lock);
            self.staging = Some((dir, lock));
        }
        Ok(self.staging.as_ref().expect("just created").0.path())
    }

    /// Creates `name` in the transaction's staging directory (a journal being written: it has
    /// no name outside `.msez/tmp` until moved, and goes with the directory otherwise).
    pub(crate) fn staging_file(&mut self, name: &str) -> Result<(File, PathBuf), Error> {
        let path = self.staging_dir()?.join(name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o444)
            .open(&path)
            .map_err(|e| Error::io("creating", &path, e))?;
        Ok((file, path))
    }

    /// Adds working-tree files written (possibly on another thread) to the transaction.
    pub fn add_files(&mut self, files: StagedFiles) {
        self.dirs.extend(files.dirs.keys().cloned());
        self.files.push(files);
    }

    /// Has [`Batch::commit`] make the files already written under `dir` durable too.
    pub fn sync_with(&mut self, dir: &Path) {
        self.dirs.insert(dir.to_path_buf());
    }

    /// Makes everything durable (one syncfs per filesystem), then publishes it.
    pub fn commit(mut self) -> Result<Committed, Error> {
        let mut committed = Committed {
            created: 0,
            proofs_added: self.proofs_added,
        };
        if let (Some(pack), Some((started, before))) = (self.pack.take(), &self.first) {
            committed.created += pack.len() as u64;
            let path = pack.finish(&self.repo.packs_dir())?;
            self.repo.forget_packs();
            committed.proofs_added += self.merge_concurrent(&path, *started, before)?;
            // Past the thresholds, consolidate or reindex (docs/formats.md, "Packs"). Best
            // effort: the objects are published already, and the next transaction, repack or
            // gc does what this one could not.
            let _ = self.repo.maintain_packs();
        }
        for (id, bytes) in std::mem::take(&mut self.small) {
            let n = self.objects.len().to_string();
            let staged = self.staging_dir()?.join(n);
            // Read-only from birth: no chmod per object.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o444)
                .open(&staged)
                .and_then(|mut f| f.write_all(&bytes))
                .map_err(|e| Error::io("writing", &staged, e))?;
            let sum = Checksum {
                blake3: *blake3::hash(&bytes).as_bytes(),
                size: bytes.len() as u64,
            };
            self.objects.push((staged, id, sum));
        }
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([self.repo.tmp_dir()]);
        dirs.extend(self.dirs.iter().cloned());
        if self.files.iter().any(|f| !f.unnamed.is_empty()) {
            // The bytes (files, pack, MMR nodes) are written back while the names are made;
            // the syncfs below then only has the names left to make durable.
            let files = &mut self.files;
            std::thread::scope(|s| -> Result<(), Error> {
                let data = s.spawn(|| sync_filesystems(&dirs));
                let linked = files.iter_mut().try_for_each(StagedFiles::link);
                data.join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
                linked
            })?;
        }
        sync_filesystems(&dirs)?;
        let mut published_dirs = BTreeSet::new();
        let mut lines = String::new();
        for (staged, id, sum) in &self.objects {
            let dest = self.repo.object_path(id);
            let parent = dest.parent().expect("object paths have a parent");
            if !published_dirs.contains(parent) {
                super::write::create_dir_all_synced(parent)?;
                published_dirs.insert(parent.to_path_buf());
            }
            match crate::fs::rename_noreplace(staged, &dest) {
                Ok(()) => {
                    committed.created += 1;
                    lines.push_str(&format!(
                        "{} {} {} {}\n",
                        id.artifact_type,
                        id.digest,
                        hex::encode(sum.blake3),
                        sum.size
                    ))
                }
                // A raw object stored before has the same bytes (its name is their digest).
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && id.artifact_type.rule().encoding() != crate::canon::Encoding::Json =>
                {
                    let _ = std::fs::remove_file(staged);
                }
                // Stored meanwhile (by another writer): keep it, add our proofs to it.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let bytes =
                        std::fs::read(staged).map_err(|e| Error::io("reading", staged, e))?;
                    let value = canon::parse(&bytes).map_err(|source| Error::Canon {
                        object: id.to_string(),
                        source,
                    })?;
                    let put = self.repo.merge_into_existing(id, &value, &dest)?;
                    committed.proofs_added += put.proofs_added as u64;
                }
                Err(e) => return Err(Error::io("moving a staged object to", &dest, e)),
            }
        }
        for files in &mut self.files {
            for (tmp, dest) in files.replace.drain(..) {
                crate::fs::rename_temp(tmp, &dest).map_err(|e| Error::io("writing", &dest, e))?;
                published_dirs.extend(dest.parent().map(Path::to_path_buf));
            }
        }
        // The renames are durable once their directories are: one more syncfs covers them all.
        if !published_dirs.is_empty() {
            sync_filesystems(&published_dirs)?;
        }
        if !lines.is_empty() {
            self.repo.record_checksums(&lines)?;
        }
        Ok(committed)
    }
}

impl Batch<'_> {
    /// Another writer may have stored some of the pack's objects while the transaction ran (a
    /// loose file, or another pack): whichever copy a reader finds, it must see every proof, so
    /// both copies' proofs become proof files. Cheap when nobody did: one stat per type and a
    /// listing of `packs/`.
    fn merge_concurrent(
        &self,
        ours: &Path,
        started: std::time::SystemTime,
        before: &[std::sync::Arc<super::Pack>],
    ) -> Result<u64, Error> {
        let pack = super::Pack::open(ours)?;
        // Directory times are coarse: a change in the tick the transaction started counts.
        let since = started - std::time::Duration::from_secs(2);
        let changed: Vec<&ArtifactType> = pack
            .types()
            .iter()
            .filter(|t| t.rule().proofs_outside_digest())
            .filter(|t| {
                std::fs::metadata(self.repo.objects_dir().join(t.as_str()))
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m >= since)
            })
            .collect();
        let others: Vec<_> = self
            .repo
            .packs()?
            .iter()
            .filter(|p| p.path() != ours && !before.iter().any(|b| b.path() == p.path()))
            .cloned()
            .collect();
        if changed.is_empty() && others.is_empty() {
            return Ok(0);
        }
        let mut added = 0;
        for e in pack.entries()? {
            if !e.id.artifact_type.rule().proofs_outside_digest() {
                continue;
            }
            let loose = self.repo.object_path(&e.id);
            let mut copies = Vec::new();
            if changed.contains(&&e.id.artifact_type) && loose.is_file() {
                copies
                    .push(std::fs::read(&loose).map_err(|err| Error::io("reading", &loose, err))?);
            }
            for p in &others {
                if let Some(o) = p.find(&e.id)? {
                    copies.push(p.read(&o)?);
                }
            }
            if copies.is_empty() {
                continue;
            }
            copies.push(pack.read(&e)?);
            for bytes in copies {
                let value = canon::parse(&bytes).map_err(|source| Error::Canon {
                    object: e.id.to_string(),
                    source,
                })?;
                for proof in super::proof_list(&value) {
                    added += u64::from(self.repo.add_proof_file(&e.id, &proof)?);
                }
            }
        }
        Ok(added)
    }
}

/// `syncfs` once for each distinct filesystem holding one of `dirs`.
fn sync_filesystems(dirs: &BTreeSet<PathBuf>) -> Result<(), Error> {
    let mut done = BTreeSet::new();
    for dir in dirs {
        let f = std::fs::File::open(dir).map_err(|e| Error::io("opening", dir, e))?;
        let dev = f
            .metadata()
            .map_err(|e| Error::io("reading", dir, e))?
            .dev();
        if done.insert(dev) {
            crate::fs::syncfs(&f).map_err(|e| Error::io("syncing the filesystem of", dir, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vc(jws: &str) -> Value {
        json!({"type": ["VerifiableCredential"], "credentialSubject": {"x": 1},
               "proof": {"verificationMethod": format!("did:key:{jws}"), "jws": jws}})
    }

    #[test]
    fn working_tree_files_appear_on_commit_and_not_before() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), &[]).unwrap();
        let (a, b) = (dir.path().join("w/a.json"), dir.path().join("w/b.json"));
        std::fs::create_dir_all(dir.path().join("w")).unwrap();
        std::fs::write(&b, "old").unwrap();
        let mut files = StagedFiles::default();
        assert!(files.create(&a, b"new a").unwrap());
        assert!(
            !files.create(&b, b"x").unwrap(),
            "an existing name is left alone"
        );
        files.write(&b, b"new b").unwrap();
        // Nothing is visible before the commit: no new name, no temp name for the new one.
        assert!(!a.exists());
        assert_eq!(std::fs::read(&b).unwrap(), b"old");
        let names = std::fs::read_dir(dir.path().join("w")).unwrap().count();
        assert_eq!(names, 2, "b and the staged replacement of b");
        let mut batch = Batch::new(&repo);
        batch.add_files(files);
        batch.commit().unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read_dir(dir.path().join("w")).unwrap().count(), 2);
        // A name that appears between staging and commit is replaced by the staged bytes.
        let d = dir.path().join("w/d.json");
        let mut files = StagedFiles::default();
        assert!(files.create(&d, b"staged d").unwrap());
        std::fs::write(&d, "someone else's d").unwrap();
        let mut batch = Batch::new(&repo);
        batch.add_files(files);
        batch.commit().unwrap();
        assert_eq!(std::fs::read(&d).unwrap(), b"staged d");
        std::fs::remove_file(&d).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("w")).unwrap().count(), 2);
        // A transaction dropped before its commit leaves nothing.
        let c = dir.path().join("w/c.json");
        let mut files = StagedFiles::default();
        files.create(&c, b"c").unwrap();
        files.write(&a, b"other a").unwrap();
        let mut batch = Batch::new(&repo);
        batch.add_files(files);
        drop(batch);
        assert!(!c.exists());
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read_dir(dir.path().join("w")).unwrap().count(), 2);
    }

    #[test]
    fn an_object_stored_meanwhile_gains_the_batch_proofs_and_nothing_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path(), &[]).unwrap();
        let t = ArtifactType::new("vc").unwrap();
        let mut batch = Batch::new(&repo);
        let id = batch.put_json(&t, &vc("b")).unwrap();
        // Another writer stores the same object (other proof) before this batch commits.
        repo.put_json(&t, &vc("a")).unwrap();
        batch.commit().unwrap();
        let proofs = repo.read_json(&id).unwrap()["proof"].clone();
        let jws: Vec<_> = proofs
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["jws"].clone())
            .collect();
        assert_eq!(jws, [json!("a"), json!("b")]);
        // The staging directory is gone with the batch.
        assert_eq!(std::fs::read_dir(repo.tmp_dir()).unwrap().count(), 0);
    }
}
