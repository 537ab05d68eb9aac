//! The directory backend: keys are files under a root, written through `<root>/tmp`.
//!
//! Create-if-absent is a hard link of a fully written temp file (link(2) fails on an existing
//! name, atomically); if-match takes an flock on `<key>.lock`, compares, and renames over.
//! A key's version is the SHA-256 of its bytes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Backend, Blob, Error, Meta, Version};

/// How long an if-match waits for another writer's key lock before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// A remote in a local directory.
#[derive(Clone, Debug)]
pub struct Local {
    root: PathBuf,
}

impl Local {
    /// The remote rooted at `root` (created on first write).
    pub fn new(root: &Path) -> Local {
        Local {
            root: root.to_path_buf(),
        }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// A fully written, fsynced temp file in `<root>/tmp`.
    fn stage(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile, Error> {
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        let mut file = tempfile::Builder::new()
            .prefix("incoming-")
            .tempfile_in(&tmp)
            .map_err(|e| Error::io("creating a temp file in", &tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|e| Error::io("writing", file.path().to_path_buf(), e))?;
        Ok(file)
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
        match std::fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(version_of(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", self.path(key), e)),
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
        use std::os::unix::io::AsRawFd;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("opening lock", &path, e))?;
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
        let mut stack = vec![self.path(prefix.trim_end_matches('/'))];
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

    fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<Option<Blob>, Error> {
        let path = self.path(key);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("opening", &path, e)),
        };
        let mut all = Vec::new();
        file.read_to_end(&mut all)
            .map_err(|e| Error::io("reading", &path, e))?;
        let version = version_of(&all);
        let bytes = match range {
            None => all,
            Some(r) => {
                // Re-read only the range so the semantics match a ranged GET.
                let len = r.end.saturating_sub(r.start);
                let mut part = Vec::with_capacity(len as usize);
                file.seek(SeekFrom::Start(r.start))
                    .and_then(|_| (&mut file).take(len).read_to_end(&mut part))
                    .map_err(|e| Error::io("reading", &path, e))?;
                part
            }
        };
        Ok(Some(Blob { bytes, version }))
    }

    fn head(&self, key: &str) -> Result<Option<Meta>, Error> {
        let path = self.path(key);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(Meta {
                key: key.to_string(),
                size: m.len(),
                version: None,
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<Version, Error> {
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
        let dest = self.path(key);
        if dest.exists() {
            return Ok(false);
        }
        let parent = self.parent_of(key)?;
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
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
        let path = self.path(key);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("opening", &path, e)),
        };
        std::io::copy(&mut file, out)
            .map(Some)
            .map_err(|e| Error::io("copying", &path, e))
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
