//! A write transaction: many objects and working-tree files made durable with one `syncfs`
//! per filesystem instead of an fsync per file, then published by rename.
//!
//! JSON objects go into one pack file (see [`super::Pack`]), raw ones (downloads) are staged
//! as loose files. Readers never see a partial file (everything is staged first: the pack and
//! raw objects in the transaction's own directory under `.msez/tmp`, working-tree files beside
//! their destination); a crash before [`Batch::commit`] returns leaves only staged files (fsck
//! removes them). Callers move refs only after `commit` returns, so a ref never names an object
//! that is not durable.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
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
    /// JSON objects, created on the first; with when that was and which packs there were.
    pack: Option<(PackWriter, std::time::SystemTime, Vec<PathBuf>)>,
    files: Vec<(tempfile::TempPath, PathBuf)>,
    seen: BTreeSet<ObjectId>,
    /// Proofs that objects stored before gained.
    proofs_added: u64,
    /// Directories whose filesystems the commit syncs (working-tree files and others).
    dirs: BTreeSet<PathBuf>,
}

/// What [`Batch::commit`] published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Object files that were new.
    pub created: u64,
    /// Proofs that objects stored before gained (written as proof files).
    pub proofs_added: u64,
}

/// Working-tree files staged beside their destinations, published by [`Batch::commit`].
#[derive(Default)]
pub struct StagedFiles {
    files: Vec<(tempfile::TempPath, PathBuf)>,
    /// Directories known to exist.
    dirs: BTreeSet<PathBuf>,
}

impl StagedFiles {
    /// Stages `bytes` for `dest` (which is replaced atomically on commit).
    pub fn write(&mut self, dest: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        if !self.dirs.contains(dir) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
            self.dirs.insert(dir.to_path_buf());
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".msez-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("creating a temp file in", dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| Error::io("writing", dest, e))?;
        self.files.push((tmp.into_temp_path(), dest.to_path_buf()));
        Ok(())
    }
}

impl<'r> Batch<'r> {
    /// An empty transaction on `repo`.
    pub fn new(repo: &'r Repo) -> Batch<'r> {
        Batch {
            repo,
            staging: None,
            objects: Vec::new(),
            pack: None,
            files: Vec::new(),
            seen: BTreeSet::new(),
            proofs_added: 0,
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
        let rule = artifact_type.rule();
        let digest = rule.digest_json(value).map_err(|source| Error::Canon {
            object: format!("{artifact_type}:(new)"),
            source,
        })?;
        let id = ObjectId::new(artifact_type.clone(), digest);
        check_declared(rule, value, &id)?;
        if self.seen.contains(&id) || self.repo.has(&id) {
            self.proofs_added += self.repo.put_json(artifact_type, value)?.proofs_added as u64;
            return Ok(id);
        }
        let mut bytes = canon::to_bytes(value).map_err(|source| Error::Canon {
            object: id.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        if self.pack.is_none() {
            let started = std::time::SystemTime::now();
            let packs = self.repo.packs()?;
            let before = packs.iter().map(|p| p.path().to_path_buf()).collect();
            let path = self.staging_dir()?.join("pack");
            self.pack = Some((PackWriter::create(path)?, started, before));
        }
        self.pack
            .as_mut()
            .expect("just created")
            .0
            .add(&id, &bytes)?;
        self.seen.insert(id.clone());
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
            unsafe {
                libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB);
            }
            self.staging = Some((dir, lock));
        }
        Ok(self.staging.as_ref().expect("just created").0.path())
    }

    /// Adds working-tree files staged (possibly on another thread) to the transaction.
    pub fn add_files(&mut self, files: StagedFiles) {
        self.files.extend(files.files);
        self.dirs.extend(files.dirs);
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
        if let Some((pack, started, before)) = self.pack.take() {
            committed.created += pack.len() as u64;
            let path = pack.finish(&self.repo.packs_dir())?;
            self.repo.forget_packs();
            committed.proofs_added += self.merge_concurrent(&path, started, &before)?;
        }
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([self.repo.tmp_dir()]);
        dirs.extend(self.dirs.iter().cloned());
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
            match rename_noreplace(staged, &dest) {
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
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let _ = std::fs::remove_file(staged);
                }
                Err(e) => return Err(Error::io("moving a staged object to", &dest, e)),
            }
        }
        for (tmp, dest) in self.files {
            tmp.persist(&dest)
                .map_err(|e| Error::io("writing", &dest, e.error))?;
            published_dirs.extend(dest.parent().map(Path::to_path_buf));
        }
        // The renames are durable once their directories are: one more syncfs covers them all.
        sync_filesystems(&published_dirs)?;
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
        before: &[PathBuf],
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
            .filter(|p| p.path() != ours && !before.iter().any(|b| b == p.path()))
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

/// `renameat2(RENAME_NOREPLACE)`: publishes `from` as `to` unless `to` exists.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (from, to) = (cstr(from)?, cstr(to)?);
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
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
        if done.insert(dev) && unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            return Err(Error::io(
                "syncing the filesystem of",
                dir,
                std::io::Error::last_os_error(),
            ));
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
