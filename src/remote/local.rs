//! The directory backend: keys are files under a root, written through `<root>/tmp`.
//!
//! Create-if-absent is a hard link of a fully written temp file (link(2) fails on an existing
//! name, atomically); if-match takes an flock on `<key>.lock`, compares, and renames over.
//! A key's version is the SHA-256 of its bytes.
//!
//! The directory is hostile input like any remote: a key is opened beneath the root one
//! component at a time with `O_NOFOLLOW` (the root itself may be a symlink, nothing below it
//! may), only a regular file is read (a FIFO or a device is opened non-blocking, seen by
//! `fstat` and refused, never read), and a whole read is bounded by the file's size and by
//! [`layout::max_bytes`] for its kind, checked before the first byte is read.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest as _;

use super::{Backend, Blob, Error, Meta, Version, layout};

/// How long an if-match waits for another writer's key lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// A `tmp/incoming-*` file older than this was left by a killed writer (a live one writes
/// and links its file within one upload) and is removed by the next writer.
const STALE_INCOMING: Duration = Duration::from_secs(3600);

/// A remote in a local directory.
#[derive(Clone, Debug)]
pub struct Local {
    root: PathBuf,
    /// Whether this process already swept stale `tmp/incoming-*` files.
    swept: Arc<AtomicBool>,
}

/// Why a key was refused: something other than a regular file beneath the root.
fn refused(path: PathBuf, why: &'static str) -> Error {
    Error::Io {
        what: "refusing remote key",
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why),
    }
}

/// `openat(dir, name, flags)`, as an owned descriptor.
fn openat(dir: &impl AsRawFd, name: &str, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let c =
        CString::new(name).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid descriptor and a NUL-terminated name; the result is checked.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Local {
    /// The remote rooted at `root` (created on first write).
    pub fn new(root: &Path) -> Local {
        Local {
            root: root.to_path_buf(),
            swept: Arc::new(AtomicBool::new(false)),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// A path for messages: control characters in the key escaped.
    fn shown(&self, key: &str) -> PathBuf {
        self.root.join(layout::shown_key(key))
    }

    /// Opens `key` for reading beneath the root without following any symlink below it:
    /// Ok(None) when there is no such file (or the key is not one msez could have written);
    /// a symlink, FIFO, socket or device is refused without being read. Returns the file and
    /// its size.
    fn open_beneath(&self, key: &str) -> Result<Option<(File, u64)>, Error> {
        if !layout::is_plain_key(key) {
            return Ok(None);
        }
        let shown = || self.shown(key);
        let mut dir: OwnedFd = match File::open(&self.root) {
            Ok(f) => f.into(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("opening", &self.root, e)),
        };
        let components: Vec<&str> = key.split('/').collect();
        let (last, parents) = components.split_last().expect("split yields one item");
        for c in parents {
            dir = match openat(
                &dir,
                c,
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            ) {
                Ok(fd) => fd,
                Err(e) => match e.raw_os_error() {
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) => return Ok(None),
                    Some(libc::ELOOP) => return Err(refused(shown(), "a symlink in its path")),
                    _ => return Err(Error::io("opening", shown(), e)),
                },
            };
        }
        // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
        let fd = match openat(&dir, last, flags) {
            Ok(fd) => fd,
            Err(e) => match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => return Ok(None),
                Some(libc::ELOOP) => return Err(refused(shown(), "a symlink")),
                _ => return Err(Error::io("opening", shown(), e)),
            },
        };
        let file = File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| Error::io("reading", shown(), e))?;
        if meta.is_dir() {
            return Ok(None);
        }
        if !meta.is_file() {
            return Err(refused(
                shown(),
                "not a regular file (a FIFO, socket or device)",
            ));
        }
        Ok(Some((file, meta.len())))
    }

    /// Checks, before a write, that no existing component of `key` below the root is a
    /// symlink and that the key itself, if present, is a regular file.
    fn check_writable(&self, key: &str) -> Result<(), Error> {
        if !layout::is_plain_key(key) {
            return Err(refused(self.shown(key), "not a key of the remote layout"));
        }
        let mut path = self.root.clone();
        let components: Vec<&str> = key.split('/').collect();
        for (i, c) in components.iter().enumerate() {
            path.push(c);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(refused(self.shown(key), "a symlink in its path"));
                }
                Ok(m) if i + 1 == components.len() && !m.is_file() => {
                    return Err(refused(self.shown(key), "not a regular file"));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(Error::io("reading", self.shown(key), e)),
            }
        }
        Ok(())
    }

    /// Removes `tmp/incoming-*` files a killed writer left, once per process.
    fn sweep_incoming(&self, tmp: &Path) {
        if self.swept.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(tmp) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let stale = entry.file_name().to_string_lossy().starts_with("incoming-")
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_INCOMING);
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// A fully written, fsynced temp file in `<root>/tmp`.
    fn stage(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile, Error> {
        let tmp = self.incoming_dir()?;
        let mut file = tempfile::Builder::new()
            .prefix("incoming-")
            .tempfile_in(&tmp)
            .map_err(|e| Error::io("creating a temp file in", &tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| Error::io("writing", file.path().to_path_buf(), e))?;
        Ok(file)
    }

    /// `<root>/tmp`, created (and refused if it is a symlink), swept of stale temp files.
    fn incoming_dir(&self) -> Result<PathBuf, Error> {
        let tmp = self.root.join("tmp");
        if std::fs::symlink_metadata(&tmp).is_ok_and(|m| !m.is_dir()) {
            return Err(refused(tmp, "not a directory (a symlink?)"));
        }
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        self.sweep_incoming(&tmp);
        Ok(tmp)
    }

    /// Reads all of an open file, at most `size` bytes (its size when opened), hashing it.
    fn read_bounded(&self, key: &str, file: &File, size: u64) -> Result<(Vec<u8>, Version), Error> {
        let mut all = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // One byte past the size shows a file that grew while read.
        let n = file
            .take(size.saturating_add(1))
            .read_to_end(&mut all)
            .map_err(|e| Error::io("reading", self.shown(key), e))?;
        if n as u64 != size {
            return Err(refused(self.shown(key), "it changed size while being read"));
        }
        let version = version_of(&all);
        Ok((all, version))
    }

    /// The version of an open file, hashed in chunks (constant memory at any size).
    fn hash_bounded(&self, key: &str, file: &File, size: u64) -> Result<Version, Error> {
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; 64 << 10];
        let mut r = file.take(size);
        loop {
            let n = r
                .read(&mut buf)
                .map_err(|e| Error::io("reading", self.shown(key), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Version(hex::encode(hasher.finalize())))
    }

    fn parent_of(&self, key: &str) -> Result<PathBuf, Error> {
        let path = self.path(key);
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating", &parent, e))?;
        Ok(parent)
    }

    fn read_version(&self, key: &str) -> Result<Option<Version>, Error> {
        match self.open_beneath(key)? {
            Some((file, size)) => Ok(Some(self.hash_bounded(key, &file, size)?)),
            None => Ok(None),
        }
    }
}

fn version_of(bytes: &[u8]) -> Version {
    Version(crate::canon::sha256(bytes).to_hex())
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing directory", dir, e))
}

/// An flock on `<key>.lock`. The kernel drops it when its holder dies, so a killed writer
/// never leaves a key locked; the file itself stays (deleting it would let two writers lock
/// two different inodes).
struct KeyLock(#[allow(dead_code)] File);

impl KeyLock {
    fn acquire(path: PathBuf, key: &str) -> Result<KeyLock, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        use std::os::unix::io::AsRawFd;
        // A lock planted as a symlink or a FIFO must neither redirect the open nor block it.
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|e| Error::io("opening lock", &path, e))?;
        if !file
            .metadata()
            .map_err(|e| Error::io("opening lock", &path, e))?
            .is_file()
        {
            return Err(refused(path, "a lock that is not a regular file"));
        }
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if r == 0 {
                return Ok(KeyLock(file));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(Error::io("locking", &path, err));
            }
            if Instant::now() >= deadline {
                // Another writer is mid-swap for longer than a swap takes: the key is in flux.
                return Err(Error::Precondition {
                    key: format!("{key} (locked by another writer: {})", path.display()),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Backend for Local {
    fn url(&self) -> String {
        self.root.display().to_string()
    }

    fn list(&self, prefix: &str) -> Result<Vec<Meta>, Error> {
        let mut out = Vec::new();
        let prefix = prefix.trim_end_matches('/');
        // The listing starts beneath the root too: a symlinked `objects/` lists nothing.
        let mut at = self.root.clone();
        for c in prefix.split('/').filter(|c| !c.is_empty()) {
            at.push(c);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(refused(at, "a symlink in the remote's layout"));
            }
        }
        let mut stack = vec![self.path(prefix)];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        || e.kind() == std::io::ErrorKind::NotADirectory =>
                {
                    continue;
                }
                Err(e) => return Err(Error::io("listing", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| Error::io("listing", &dir, e))?;
                let path = entry.path();
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::io("reading", &path, e))?;
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = rel.to_string_lossy().into_owned();
                // A name msez could not have written (a newline, ESC...) is listed escaped:
                // no parser takes it, so it is reported as ignored and safe to print.
                let key = if layout::is_plain_key(&key) {
                    key
                } else {
                    layout::shown_key(&key)
                };
                if key.ends_with(".lock") || key.starts_with("tmp/") {
                    continue;
                }
                out.push(Meta {
                    key,
                    size: meta.len(),
                    version: None,
                });
            }
        }
        Ok(out)
    }

    fn irregular(&self, prefix: &str) -> Result<Vec<super::Irregular>, Error> {
        let mut out = Vec::new();
        let prefix = prefix.trim_end_matches('/');
        let mut stack = vec![self.path(prefix)];
        while let Some(dir) = stack.pop() {
            // lstat: a symlinked directory is itself irregular, never entered.
            match std::fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                _ => continue,
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&self.root) else {
                    continue;
                };
                let key = layout::shown_key(&rel.to_string_lossy());
                if key.starts_with("tmp/") {
                    continue;
                }
                let why = if ft.is_symlink() {
                    "a symlink"
                } else if ft.is_file() {
                    continue;
                } else {
                    "not a regular file (a FIFO, socket or device)"
                };
                out.push(super::Irregular { key, why });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        let Some((mut file, size)) = self.open_beneath(key)? else {
            return Ok(None);
        };
        let Some(r) = range else {
            if let Some(limit) = layout::max_bytes(key).filter(|&l| size > l) {
                return Err(Error::Io {
                    what: "refusing remote key",
                    path: self.shown(key),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{size} bytes, over the {limit}-byte limit for its kind"),
                    ),
                });
            }
            let (bytes, version) = self.read_bounded(key, &file, size)?;
            return Ok(Some(Blob { bytes, version }));
        };
        let version = self.hash_bounded(key, &file, size)?;
        // Only the range is read, as a ranged GET would.
        let len = r.end.min(size).saturating_sub(r.start);
        let mut part = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.seek(SeekFrom::Start(r.start))
            .and_then(|_| (&mut file).take(len).read_to_end(&mut part))
            .map_err(|e| Error::io("reading", self.shown(key), e))?;
        Ok(Some(Blob {
            bytes: part,
            version,
        }))
    }

    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        Ok(self.open_beneath(key)?.map(|(_, size)| Meta {
            key: key.to_string(),
            size,
            version: None,
        }))
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        self.check_writable(key)?;
        let parent = self.parent_of(key)?;
        let staged = self.stage(bytes)?;
        let dest = self.path(key);
        staged
            .persist(&dest)
            .map_err(|e| Error::io("moving a temp file to", &dest, e.error))?;
        sync_dir(&parent)?;
        Ok(version_of(bytes))
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        self.check_writable(key)?;
        let dest = self.path(key);
        if dest.exists() {
            return Ok(false);
        }
        let parent = self.parent_of(key)?;
        let staged = self.stage(bytes)?;
        // link(2) refuses an existing name: exactly one concurrent creator wins, and the name
        // only ever shows complete bytes.
        match std::fs::hard_link(staged.path(), &dest) {
            Ok(()) => {
                sync_dir(&parent)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io("linking", &dest, e)),
        }
    }

    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error> {
        self.check_writable(key)?;
        let parent = self.parent_of(key)?;
        let dest = self.path(key);
        let _lock = KeyLock::acquire(PathBuf::from(format!("{}.lock", dest.display())), key)?;
        if self.read_version(key)?.as_ref() != Some(version) {
            return Err(Error::Precondition {
                key: key.to_string(),
            });
        }
        let staged = self.stage(bytes)?;
        staged
            .persist(&dest)
            .map_err(|e| Error::io("moving a temp file to", &dest, e.error))?;
        sync_dir(&parent)?;
        Ok(version_of(bytes))
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        if !layout::is_plain_key(key) {
            return Ok(());
        }
        self.check_writable(key)?;
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("removing", &path, e)),
        }
    }

    fn atomic_conditionals(&self) -> bool {
        true
    }

    fn put_file_if_absent(&self, key: &str, path: &Path) -> Result<bool, Error> {
        self.check_writable(key)?;
        let dest = self.path(key);
        if dest.exists() {
            return Ok(false);
        }
        let parent = self.parent_of(key)?;
        let tmp = self.incoming_dir()?;
        let staged = tempfile::Builder::new()
            .prefix("incoming-")
            .tempfile_in(&tmp)
            .map_err(|e| Error::io("creating a temp file in", &tmp, e))?;
        let mut src = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        std::io::copy(&mut src, &mut staged.as_file())
            .and_then(|_| staged.as_file().sync_all())
            .map_err(|e| Error::io("copying to", staged.path().to_path_buf(), e))?;
        match std::fs::hard_link(staged.path(), &dest) {
            Ok(()) => {
                sync_dir(&parent)?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io("linking", &dest, e)),
        }
    }

    fn get_to(&self, key: &str, out: &mut dyn Write) -> Result<Option<u64>, Error> {
        let Some((file, size)) = self.open_beneath(key)? else {
            return Ok(None);
        };
        // Streamed (constant memory), and no more than the file had when opened.
        std::io::copy(&mut file.take(size), out)
            .map(Some)
            .map_err(|e| Error::io("copying", self.shown(key), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_writes_refuse_what_they_should() {
        let dir = tempfile::tempdir().unwrap();
        let b = Local::new(dir.path());
        assert!(b.put_if_absent("refs/a", b"1\n").unwrap());
        assert!(!b.put_if_absent("refs/a", b"2\n").unwrap());
        let got = b.get("refs/a", None).unwrap().unwrap();
        assert_eq!(got.bytes, b"1\n");
        let v2 = b.put_if_match("refs/a", b"2\n", &got.version).unwrap();
        assert!(matches!(
            b.put_if_match("refs/a", b"3\n", &got.version),
            Err(Error::Precondition { .. })
        ));
        b.put_if_match("refs/a", b"3\n", &v2).unwrap();
        assert_eq!(b.get("refs/a", Some(0..1)).unwrap().unwrap().bytes, b"3");
        let keys: Vec<String> = b.list("refs").unwrap().into_iter().map(|m| m.key).collect();
        assert_eq!(keys, vec!["refs/a".to_string()]);
        b.delete("refs/a").unwrap();
        assert!(b.head("refs/a").unwrap().is_none());
    }
}
