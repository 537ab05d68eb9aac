//! A write transaction: many objects and working-tree files made durable with one `syncfs`
//! per filesystem instead of an fsync per file, then published by rename.
//!
//! Readers never see a partial file (everything is staged first: objects in the transaction's
//! own directory under `.msez/tmp`, working-tree files beside their destination); a crash
//! before [`Batch::commit`] returns leaves only staged files (fsck removes them). Callers move refs only
//! after `commit` returns, so a ref never names an object that is not durable.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Value};

use super::index::Checksum;
use super::objects::check_declared;
use super::write::TEMP_PREFIX;
use super::{Error, Repo};

/// Pending writes of one transaction.
pub struct Batch<'r> {
    repo: &'r Repo,
    /// The transaction's own staging directory (under `.msez/tmp`), flock-ed while it lives so
    /// fsck tells it from a crashed writer's; created on the first staged object.
    staging: Option<(tempfile::TempDir, File)>,
    objects: Vec<(PathBuf, ObjectId, Checksum)>,
    files: Vec<(tempfile::TempPath, PathBuf)>,
    seen: BTreeSet<ObjectId>,
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
            files: Vec::new(),
            seen: BTreeSet::new(),
            dirs: BTreeSet::new(),
        }
    }

    /// Stages a JSON object. One that turns out to be stored already (found when it is
    /// published) only gains the proofs it lacked.
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
        if self.seen.contains(&id) {
            self.repo.put_json(artifact_type, value)?;
            return Ok(id);
        }
        let mut bytes = canon::to_bytes(value).map_err(|source| Error::Canon {
            object: id.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        let n = self.objects.len();
        let staged = self.staging_dir()?.join(n.to_string());
        // Read-only from birth: no chmod per object.
        OpenOptions::new()
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
        self.objects.push((staged, id.clone(), sum));
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
    pub fn commit(self) -> Result<Committed, Error> {
        let mut committed = Committed::default();
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
                Err(e)
                    if e.kind() == std::io::ErrorKind::AlreadyExists
                        && id.artifact_type.rule().encoding() != crate::canon::Encoding::Json =>
                {
                    let _ = std::fs::remove_file(staged);
                }
                // Stored before (by another branch or writer): keep it, add our proofs to it.
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

/// `renameat2(RENAME_NOREPLACE)`: publishes `from` as `to` unless `to` exists.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
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
