//! A write transaction: many objects and working-tree files made durable with one `syncfs`
//! per filesystem instead of an fsync per file, then published by rename.
//!
//! Readers never see a partial file (everything is staged as temp files first); a crash before
//! [`Batch::commit`] returns leaves only temp files (fsck removes them). Callers move refs only
//! after `commit` returns, so a ref never names an object that is not durable.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Value};

use super::index::Checksum;
use super::objects::check_declared;
use super::write::Staged;
use super::{Error, Repo};

/// Pending writes of one transaction.
pub struct Batch<'r> {
    repo: &'r Repo,
    objects: Vec<(tempfile::TempPath, PathBuf, ObjectId, Checksum)>,
    files: Vec<(tempfile::TempPath, PathBuf)>,
    seen: BTreeSet<ObjectId>,
}

impl<'r> Batch<'r> {
    /// An empty transaction on `repo`.
    pub fn new(repo: &'r Repo) -> Batch<'r> {
        Batch {
            repo,
            objects: Vec::new(),
            files: Vec::new(),
            seen: BTreeSet::new(),
        }
    }

    /// Stages a JSON object (an existing one only gains proof files, written at once).
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
            self.repo.put_json(artifact_type, value)?;
            return Ok(id);
        }
        let mut bytes = canon::to_bytes(value).map_err(|source| Error::Canon {
            object: id.to_string(),
            source,
        })?;
        bytes.push(b'\n');
        let mut staged = Staged::new(&self.repo.tmp_dir())?;
        staged
            .file
            .write_all(&bytes)
            .map_err(|e| Error::io("writing", staged.file.path().to_path_buf(), e))?;
        let sum = Checksum {
            blake3: *blake3::hash(&bytes).as_bytes(),
            size: bytes.len() as u64,
        };
        // Close the file now (a batch may stage many thousands; only paths are kept).
        let path = staged.into_closed_path(0o444)?;
        self.objects
            .push((path, self.repo.object_path(&id), id.clone(), sum));
        self.seen.insert(id.clone());
        Ok(id)
    }

    /// Stages a working-tree file (replaced atomically on commit).
    pub fn write_file(&mut self, dest: &Path, bytes: &[u8]) -> Result<(), Error> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".msez-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("creating a temp file in", dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| Error::io("writing", dest, e))?;
        self.files.push((tmp.into_temp_path(), dest.to_path_buf()));
        Ok(())
    }

    /// Makes everything durable (one syncfs per filesystem), then publishes it.
    pub fn commit(self) -> Result<(), Error> {
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([self.repo.tmp_dir()]);
        dirs.extend(
            self.files
                .iter()
                .filter_map(|(_, d)| d.parent().map(Path::to_path_buf)),
        );
        sync_filesystems(&dirs)?;
        let mut published_dirs = BTreeSet::new();
        let mut lines = String::new();
        for (staged, dest, id, sum) in self.objects {
            let parent = dest
                .parent()
                .expect("object paths have a parent")
                .to_path_buf();
            if !published_dirs.contains(&parent) {
                super::write::create_dir_all_synced(&parent)?;
            }
            let published = match staged.persist_noclobber(&dest) {
                Ok(()) => true,
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(Error::io("moving a temp file to", &dest, e.error)),
            };
            if published {
                lines.push_str(&format!(
                    "{} {} {} {}\n",
                    id.artifact_type,
                    id.digest,
                    hex::encode(sum.blake3),
                    sum.size
                ));
            }
            published_dirs.insert(parent);
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
        Ok(())
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
