//! Atomic file writes: temp file in `.msez/tmp`, fsync, rename, fsync the directory.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::Error;

/// The prefix of every temp file msez writes in `.msez/tmp`.
pub const TEMP_PREFIX: &str = "incoming-";

/// A temp file in the repository's tmp dir, flock-ed while we write it so fsck can tell a live
/// writer's file from a crashed one's.
pub(crate) struct Staged {
    pub(crate) file: tempfile::NamedTempFile,
}

impl Staged {
    /// A new locked temp file in `tmp_dir`.
    pub(crate) fn new(tmp_dir: &Path) -> Result<Staged, Error> {
        let file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(tmp_dir)
            .map_err(|e| Error::io("creating a temp file in", tmp_dir, e))?;
        // Advisory only: a failed flock just makes fsck treat the file as possibly stale later.
        unsafe {
            libc::flock(file.as_file().as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB);
        }
        Ok(Staged { file })
    }

    /// Flushes the file, sets its mode and makes its bytes durable.
    fn finish(&mut self, mode: u32) -> Result<(), Error> {
        let tmp_path = self.file.path().to_path_buf();
        self.file
            .flush()
            .map_err(|e| Error::io("writing", &tmp_path, e))?;
        let f = self.file.as_file();
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("setting permissions of", &tmp_path, e))?;
        f.sync_all().map_err(|e| Error::io("syncing", &tmp_path, e))
    }

    /// Flushes, fsyncs, sets `mode`, and renames to `dest` unless `dest` exists.
    /// Returns false (and removes the temp file) when `dest` already existed.
    pub(crate) fn persist_new(mut self, dest: &Path, mode: u32) -> Result<bool, Error> {
        self.finish(mode)?;
        let parent = dest.parent().expect("object paths have a parent");
        create_dir_all_synced(parent)?;
        match self.file.persist_noclobber(dest) {
            Ok(_) => {
                sync_dir(parent)?;
                Ok(true)
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io("moving a temp file to", dest, e.error)),
        }
    }

    /// Flushes, fsyncs, and renames over `dest` (replacing it atomically).
    pub(crate) fn persist_replace(mut self, dest: &Path, mode: u32) -> Result<(), Error> {
        self.finish(mode)?;
        let parent = dest.parent().expect("written paths have a parent");
        create_dir_all_synced(parent)?;
        self.file
            .persist(dest)
            .map_err(|e| Error::io("moving a temp file to", dest, e.error))?;
        sync_dir(parent)
    }
}

/// Writes `bytes` to `dest` atomically (replacing it), staging in `tmp_dir`.
pub(crate) fn atomic_write(
    tmp_dir: &Path,
    dest: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), Error> {
    let mut staged = Staged::new(tmp_dir)?;
    staged
        .file
        .write_all(bytes)
        .map_err(|e| Error::io("writing", staged.file.path().to_path_buf(), e))?;
    staged.persist_replace(dest, mode)
}

/// Writes `bytes` to `dest` atomically unless it exists; true when this call created it.
pub(crate) fn atomic_create(
    tmp_dir: &Path,
    dest: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<bool, Error> {
    if dest.exists() {
        return Ok(false);
    }
    let mut staged = Staged::new(tmp_dir)?;
    staged
        .file
        .write_all(bytes)
        .map_err(|e| Error::io("writing", staged.file.path().to_path_buf(), e))?;
    staged.persist_new(dest, mode)
}

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing directory", dir, e))
}

/// Creates a directory (and parents) and fsyncs each new one's parent.
pub(crate) fn create_dir_all_synced(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_synced(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::io("creating directory", dir, e)),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Appends one line to a log file and fsyncs it (O_APPEND keeps concurrent lines whole).
pub(crate) fn append_line(path: &Path, line: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        create_dir_all_synced(parent)?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io("opening", path, e))?;
    f.write_all(line.as_bytes())
        .map_err(|e| Error::io("appending to", path, e))?;
    f.sync_data().map_err(|e| Error::io("syncing", path, e))
}

/// Whether another process holds the flock of a temp file or staging directory (a live
/// writer's).
pub fn is_locked(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    r != 0
}
