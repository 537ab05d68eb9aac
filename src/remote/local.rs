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
//! [`layout::max_bytes`] for its kind, checked before the first byte is read. Writes resolve
//! the same way: the key's parent directory and `tmp/` are opened beneath the root with
//! `O_NOFOLLOW`, and the temp file, its rename or link into place, the key lock and a delete
//! all go through those descriptors (`openat`, `renameat`, `linkat`, `unlinkat`), so a
//! component swapped for a symlink after it was checked redirects nothing outside the remote.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use sha2::Digest as _;

use super::{Backend, Blob, Error, Meta, Version, layout};
use crate::fs::at::{self, Staged, is_regular, lstat_at, openat, openat_create};

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

/// Makes a directory's entries durable.
fn sync_fd(dir: &OwnedFd, shown: &Path) -> Result<(), Error> {
    at::fsync(dir).map_err(|e| Error::io("syncing directory", shown, e))
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

    /// Opens the directory `components` beneath the root, one component at a time with
    /// `O_NOFOLLOW` (creating missing ones when `create`): a symlink anywhere below the root is
    /// refused, and every later step works on the descriptor, so swapping a component for a
    /// symlink after this check redirects nothing. None when absent and not `create`.
    fn dir_beneath(
        &self,
        components: &[&str],
        create: bool,
        key: &str,
    ) -> Result<Option<OwnedFd>, Error> {
        if create {
            std::fs::create_dir_all(&self.root)
                .map_err(|e| Error::io("creating", &self.root, e))?;
        }
        let mut dir: OwnedFd = match File::open(&self.root) {
            Ok(f) => f.into(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("opening", &self.root, e)),
        };
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        for c in components {
            let mut opened = openat(&dir, c, flags);
            if create
                && opened
                    .as_ref()
                    .is_err_and(|e| e.raw_os_error() == Some(libc::ENOENT))
            {
                // EEXIST (a racing writer made it) is fine, anything else shows in the
                // openat that follows.
                let _ = at::mkdirat(&dir, c, 0o755);
                opened = openat(&dir, c, flags);
            }
            dir = match opened {
                Ok(fd) => fd,
                Err(e) => match e.raw_os_error() {
                    Some(libc::ENOENT) if !create => return Ok(None),
                    Some(libc::ELOOP) | Some(libc::ENOTDIR) => {
                        return Err(refused(self.shown(key), "a symlink in its path"));
                    }
                    _ => return Err(Error::io("opening", self.shown(key), e)),
                },
            };
        }
        Ok(Some(dir))
    }

    /// The parent directory of `key` (beneath the root, see [`Local::dir_beneath`]) and its
    /// last component; refused when `key` is not a key of the layout or exists as something
    /// other than a regular file. Returns whether it exists.
    fn parent_beneath(
        &self,
        key: &str,
        create: bool,
    ) -> Result<Option<(OwnedFd, String, bool)>, Error> {
        if !layout::is_plain_key(key) {
            return Err(refused(self.shown(key), "not a key of the remote layout"));
        }
        let components: Vec<&str> = key.split('/').collect();
        let (last, parents) = components.split_last().expect("split yields one item");
        let Some(dir) = self.dir_beneath(parents, create, key)? else {
            return Ok(None);
        };
        let exists =
            match lstat_at(&dir, last).map_err(|e| Error::io("reading", self.shown(key), e))? {
                None => false,
                Some(st) if is_regular(&st) => true,
                Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => {
                    return Err(refused(self.shown(key), "a symlink in its path"));
                }
                Some(_) => return Err(refused(self.shown(key), "not a regular file")),
            };
        Ok(Some((dir, (*last).to_string(), exists)))
    }

    /// Removes `tmp/incoming-*` files a killed writer left, once per process, through the
    /// directory's descriptor.
    fn sweep_incoming(&self, tmp: &OwnedFd) {
        if self.swept.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("incoming-") {
                continue;
            }
            let Ok(Some(st)) = lstat_at(tmp, &name) else {
                continue;
            };
            let modified = std::time::UNIX_EPOCH + Duration::from_secs(st.st_mtime.max(0) as u64);
            if is_regular(&st) && now.duration_since(modified).unwrap_or_default() > STALE_INCOMING
            {
                // Best effort: a file still there is swept by the next writer.
                let _ = at::unlinkat(tmp, &name);
            }
        }
    }

    /// A fully written, fsynced temp file in `<root>/tmp`, made through its descriptor.
    fn stage_with(
        &self,
        fill: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<Staged, Error> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = self
            .dir_beneath(&["tmp"], true, "tmp")?
            .expect("created when absent");
        self.sweep_incoming(&tmp);
        let nanos = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(
            "incoming-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let shown = self.root.join("tmp").join(&name);
        let mut staged = Staged::create(tmp, name)
            .map_err(|e| Error::io("creating a temp file in", self.root.join("tmp"), e))?;
        fill(staged.file())
            .and_then(|()| staged.file().sync_all())
            .map_err(|e| Error::io("writing", &shown, e))?;
        Ok(staged)
    }

    fn stage(&self, bytes: &[u8]) -> Result<Staged, Error> {
        self.stage_with(|f| f.write_all(bytes))
    }

    /// Create-if-absent: link(2) refuses an existing name, so exactly one concurrent creator
    /// wins and the name only ever shows complete bytes; all through directory descriptors.
    fn link_if_absent(
        &self,
        key: &str,
        fill: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<bool, Error> {
        let (parent, last, exists) = self.parent_beneath(key, true)?.expect("created");
        if exists {
            return Ok(false);
        }
        let staged = self.stage_with(fill)?;
        let linked = staged
            .link_to(&parent, &last)
            .map_err(|e| Error::io("linking", self.shown(key), e))?;
        if linked {
            sync_fd(&parent, &self.shown(key))?;
        }
        Ok(linked)
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

/// An flock on `<key>.lock`. The kernel drops it when its holder dies, so a killed writer
/// never leaves a key locked; the file itself stays (deleting it would let two writers lock
/// two different inodes).
struct KeyLock(#[allow(dead_code)] File);

impl KeyLock {
    fn acquire(parent: &OwnedFd, name: &str, shown: PathBuf, key: &str) -> Result<KeyLock, Error> {
        use std::os::unix::io::AsRawFd;
        let path = PathBuf::from(format!("{}.lock", shown.display()));
        // A lock planted as a symlink or a FIFO must neither redirect the open nor block it.
        let file = File::from(
            openat_create(parent, name, libc::O_WRONLY | libc::O_NONBLOCK)
                .map_err(|e| Error::io("opening lock", &path, e))?,
        );
        if !file
            .metadata()
            .map_err(|e| Error::io("opening lock", &path, e))?
            .is_file()
        {
            return Err(refused(path, "a lock that is not a regular file"));
        }
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            // SAFETY: a valid descriptor we own; the result is checked.
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
                    modified: meta.modified().ok(),
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
        Ok(self.open_beneath(key)?.map(|(file, size)| Meta {
            key: key.to_string(),
            size,
            version: None,
            modified: file.metadata().and_then(|m| m.modified()).ok(),
        }))
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
        let (parent, last, _) = self.parent_beneath(key, true)?.expect("created");
        let staged = self.stage(bytes)?;
        staged
            .rename_to(&parent, &last)
            .map_err(|e| Error::io("moving a temp file to", self.shown(key), e))?;
        sync_fd(&parent, &self.shown(key))?;
        Ok(version_of(bytes))
    }

    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, Error> {
        self.link_if_absent(key, |f| f.write_all(bytes))
    }

    fn put_if_match(&self, key: &str, bytes: &[u8], version: &Version) -> Result<Version, Error> {
        let (parent, last, _) = self.parent_beneath(key, true)?.expect("created");
        let _lock = KeyLock::acquire(&parent, &format!("{last}.lock"), self.shown(key), key)?;
        if self.read_version(key)?.as_ref() != Some(version) {
            return Err(Error::Precondition {
                key: key.to_string(),
            });
        }
        let staged = self.stage(bytes)?;
        staged
            .rename_to(&parent, &last)
            .map_err(|e| Error::io("moving a temp file to", self.shown(key), e))?;
        sync_fd(&parent, &self.shown(key))?;
        Ok(version_of(bytes))
    }

    fn delete(&self, key: &str) -> Result<(), Error> {
        if !layout::is_plain_key(key) {
            return Ok(());
        }
        let Some((parent, last, exists)) = self.parent_beneath(key, false)? else {
            return Ok(());
        };
        if !exists {
            return Ok(());
        }
        match at::unlinkat(&parent, &last) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            Err(e) => Err(Error::io("removing", self.shown(key), e)),
        }
    }

    fn atomic_conditionals(&self) -> bool {
        true
    }

    fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        on_bytes: &dyn Fn(u64),
    ) -> Result<bool, Error> {
        let mut src = File::open(path).map_err(|e| Error::io("opening", path, e))?;
        self.link_if_absent(key, |f| {
            // 1 MiB at a time, each told to `on_bytes` as it is written.
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = src.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                f.write_all(&buf[..n])?;
                on_bytes(n as u64);
            }
        })
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

    /// Every write resolves the key through directory descriptors opened with O_NOFOLLOW: a
    /// symlink planted at the key, at a parent directory or at `tmp/` is refused (or replaced,
    /// never followed), and nothing is ever written outside the remote.
    #[test]
    fn writes_never_go_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("r");
        let b = Local::new(&root);
        b.put("format", b"x\n").unwrap();
        let key = format!("objects/schema/{}.json", "ab".repeat(32));
        // The key itself, a symlink to a file outside.
        std::fs::create_dir_all(root.join("objects/schema")).unwrap();
        let target = outside.path().join("victim");
        std::fs::write(&target, b"untouched").unwrap();
        std::os::unix::fs::symlink(&target, root.join(&key)).unwrap();
        for r in [
            b.put_if_absent(&key, b"{}").map(|_| ()),
            b.put(&key, b"{}").map(|_| ()),
            b.delete(&key),
        ] {
            assert!(r.unwrap_err().is_refused_key());
        }
        assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
        std::fs::remove_file(root.join(&key)).unwrap();
        // A parent directory, a symlink to a directory outside.
        std::fs::remove_dir(root.join("objects/schema")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("objects/schema")).unwrap();
        assert!(b.put_if_absent(&key, b"{}").unwrap_err().is_refused_key());
        assert!(
            b.put("objects/schema/x.json", b"{}")
                .unwrap_err()
                .is_refused_key()
        );
        assert!(
            b.put_if_match("objects/schema/x.json", b"{}", &Version("v".into()))
                .unwrap_err()
                .is_refused_key()
        );
        // `tmp/`, a symlink to a directory outside.
        std::fs::remove_file(root.join("objects/schema")).unwrap();
        std::fs::remove_dir_all(root.join("tmp")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("tmp")).unwrap();
        assert!(b.put_if_absent(&key, b"{}").unwrap_err().is_refused_key());
        let mut names: Vec<_> = std::fs::read_dir(outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, vec![std::ffi::OsString::from("victim")]);
        // A descriptor opened before a swap keeps pointing at the real directory: the
        // parent is resolved once, and the write lands beneath the root.
        std::fs::remove_file(root.join("tmp")).unwrap();
        let (parent, last, _) = b.parent_beneath(&key, true).unwrap().unwrap();
        std::fs::rename(root.join("objects/schema"), root.join("objects/moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("objects/schema")).unwrap();
        let staged = b.stage(b"{}").unwrap();
        assert!(staged.link_to(&parent, &last).unwrap());
        assert!(root.join("objects/moved").join(&last).is_file());
        assert!(!outside.path().join(&last).exists());
    }
}
