//! Ref locks: `<ref>.lock`, created exclusively and flock-ed while held; the compare-and-swap
//! happens under it. A lock whose holder died (no flock) is removed by the next taker.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::SystemTime;

use serde::Serialize;

use crate::canon::Digest;

use super::refs::{ReflogEntry, read_ref_file};
use super::{Error, RefName, Repo, write};

/// What a ref must hold before it moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Expect {
    /// Move whatever it holds.
    Any,
    /// Move only if the ref does not exist.
    Absent,
    /// Move only if the ref holds exactly this.
    Exactly(Digest),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Any => f.write_str("any value"),
            Expect::Absent => f.write_str("no ref"),
            Expect::Exactly(d) => write!(f, "{d}"),
        }
    }
}

/// A held ref lock. Dropped without [`RefLock::commit`], it removes the lock and changes nothing.
#[must_use = "a lock does nothing until committed; dropping it releases it"]
pub struct RefLock<'r> {
    repo: &'r Repo,
    name: RefName,
    ref_path: PathBuf,
    lock_path: PathBuf,
    file: Option<File>,
}

impl<'r> RefLock<'r> {
    /// Takes the lock of `name`, failing at once if someone else holds it.
    pub fn acquire(repo: &'r Repo, name: &RefName) -> Result<RefLock<'r>, Error> {
        repo.refuse_symlinks(name)?;
        let ref_path = repo.ref_path(name);
        let lock_path = PathBuf::from(format!("{}.lock", ref_path.display()));
        if let Some(parent) = ref_path.parent() {
            write::create_dir_all_synced(parent)?;
        }
        // Two tries: the first may find the lock of a process that died holding it.
        for _ in 0..2 {
            // The lock is flock-ed before it gets its name (made in tmp, then hard-linked into
            // place, which fails if the name exists), so nobody sees it unlocked while live.
            let tmp = repo.tmp_dir();
            let staged = tempfile::Builder::new()
                .prefix(write::TEMP_PREFIX)
                .tempfile_in(&tmp)
                .map_err(|e| Error::io("creating a temp file in", &tmp, e))?;
            flock(staged.as_file());
            match crate::fs::link_noreplace(staged.path(), &lock_path) {
                Ok(()) => {
                    let (file, _unlinked) = staged.into_parts();
                    return Ok(RefLock {
                        repo,
                        name: name.clone(),
                        ref_path,
                        lock_path,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if !remove_if_abandoned(&lock_path) {
                        break;
                    }
                }
                Err(e) => return Err(Error::io("creating lock", &lock_path, e)),
            }
        }
        let age_secs = std::fs::metadata(&lock_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Err(Error::Locked {
            name: name.to_string(),
            path: lock_path,
            age_secs,
        })
    }

    /// The ref this lock guards.
    pub fn name(&self) -> &RefName {
        &self.name
    }

    /// The ref's value now (read under the lock).
    pub fn current(&self) -> Result<Option<Digest>, Error> {
        read_ref_file(&self.ref_path, &self.name)
    }

    /// Checks the precondition under the lock; returns the current value.
    pub fn check(&self, expect: Expect) -> Result<Option<Digest>, Error> {
        let found = self.current()?;
        let ok = match expect {
            Expect::Any => true,
            Expect::Absent => found.is_none(),
            Expect::Exactly(d) => found == Some(d),
        };
        if ok {
            Ok(found)
        } else {
            Err(Error::RefMoved {
                name: self.name.to_string(),
                expected: expect.to_string(),
                found: found
                    .map(|d| d.to_hex())
                    .unwrap_or_else(|| "no ref".to_string()),
            })
        }
    }

    /// Writes `new`, logs the move, and renames the lock over the ref (durable on return).
    pub fn commit(
        mut self,
        old: Option<Digest>,
        new: Digest,
        reason: &str,
    ) -> Result<ReflogEntry, Error> {
        let mut file = self
            .file
            .take()
            .expect("an uncommitted lock holds its file");
        file.write_all(format!("{new}\n").as_bytes())
            .map_err(|e| Error::io("writing", &self.lock_path, e))?;
        file.sync_all()
            .map_err(|e| Error::io("syncing", &self.lock_path, e))?;
        // The reflog is written first, as git does: a crash before the rename leaves a log line
        // for a move that did not happen (harmless), never a move without its log line.
        let entry = ReflogEntry::now(old, new, reason);
        write::append_line(&self.repo.reflog_path(&self.name), &entry.line())?;
        write::rename("moving lock over", &self.lock_path, &self.ref_path)?;
        // Only now let go of the flock: until the rename, the lock file is live.
        drop(file);
        write::sync_dir(self.ref_path.parent().expect("refs have a parent"))?;
        Ok(entry)
    }
}

fn flock(file: &File) -> bool {
    crate::fs::try_flock(file)
}

/// Removes a lock file whose holder died (nobody holds its flock); true if it did.
fn remove_if_abandoned(lock_path: &std::path::Path) -> bool {
    let Ok(file) = File::open(lock_path) else {
        return true; // released meanwhile: try again
    };
    if !flock(&file) {
        return false;
    }
    // Still the same file under that name? (Another process may have replaced it meanwhile.)
    let same = match (file.metadata(), std::fs::metadata(lock_path)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    };
    same && std::fs::remove_file(lock_path).is_ok()
}

impl Drop for RefLock<'_> {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.lock_path);
        }
    }
}
