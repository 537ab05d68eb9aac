//! The repository's use of the write protocol ([`crate::fs`]): temp files in `.msez/tmp`,
//! flock-ed while written, errors in the odb's own words.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::fs;

use super::Error;

/// The prefix of every temp file msez writes in `.msez/tmp`.
pub const TEMP_PREFIX: &str = "incoming-";

fn io(e: fs::Error) -> Error {
    e.lift(Error::io)
}

/// A temp file in the repository's tmp dir, flock-ed while we write it so fsck can tell a live
/// writer's file from a crashed one's.
pub(crate) struct Staged {
    pub(crate) file: fs::Staged,
}

impl Staged {
    /// A new locked temp file in `tmp_dir`, given exactly `mode` when published.
    pub(crate) fn new(tmp_dir: &Path, mode: u32) -> Result<Staged, Error> {
        let file = fs::Staged::new_in(tmp_dir, TEMP_PREFIX, fs::Mode::Exact(mode)).map_err(io)?;
        file.lock();
        Ok(Staged { file })
    }

    /// Publishes the file as `dest` unless `dest` exists (then removes it and returns false).
    pub(crate) fn persist_new(self, dest: &Path) -> Result<bool, Error> {
        let parent = dest.parent().expect("object paths have a parent");
        create_dir_all_synced(parent)?;
        self.file.commit_new(dest).map_err(io)
    }

    /// Publishes the file over `dest` (replacing it atomically).
    pub(crate) fn persist_replace(self, dest: &Path) -> Result<(), Error> {
        let parent = dest.parent().expect("written paths have a parent");
        create_dir_all_synced(parent)?;
        self.file.commit(dest).map_err(io)
    }
}

/// Writes `bytes` to `dest` atomically (replacing it), staging in `tmp_dir`.
pub(crate) fn atomic_write(
    tmp_dir: &Path,
    dest: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), Error> {
    let mut staged = Staged::new(tmp_dir, mode)?;
    staged
        .file
        .write_all(bytes)
        .map_err(|e| Error::io("writing", staged.file.path().to_path_buf(), e))?;
    staged.persist_replace(dest)
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
    let mut staged = Staged::new(tmp_dir, mode)?;
    staged
        .file
        .write_all(bytes)
        .map_err(|e| Error::io("writing", staged.file.path().to_path_buf(), e))?;
    staged.persist_new(dest)
}

/// fsyncs a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::sync_dir(dir).map_err(io)
}

/// Creates a directory (and parents) and fsyncs each new one's parent.
pub(crate) fn create_dir_all_synced(dir: &Path) -> Result<(), Error> {
    fs::create_dir_all_synced(dir).map_err(io)
}

/// Renames `from` over `to`, `what` naming the step in an error; the caller syncs the directory.
pub(crate) fn rename(what: &'static str, from: &Path, to: &Path) -> Result<(), Error> {
    fs::rename(from, to).map_err(|e| Error::io(what, to, e))
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
    !fs::try_flock(&f)
}
