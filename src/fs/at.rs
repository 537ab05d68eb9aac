//! The write protocol through directory descriptors, for trees msez does not trust (a directory
//! remote another party can write to).
//!
//! Every name is resolved relative to a directory already opened, one component at a time and
//! never following a symlink (`openat` with `O_NOFOLLOW`, `fstatat` with
//! `AT_SYMLINK_NOFOLLOW`), and the publish steps (`renameat`, `linkat`, `unlinkat`) take the
//! same descriptors: a component swapped for a symlink after it was checked redirects nothing.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn cstr(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Checks a libc return value.
fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `openat(dir, name, flags)`, as an owned descriptor.
pub fn openat(dir: &impl AsRawFd, name: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    // SAFETY: a valid descriptor and a NUL-terminated name; the result is checked.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, flags | O_CREAT | O_NOFOLLOW, 0644)`: a file created (or opened) in
/// `dir`, never through a symlink.
pub fn openat_create(dir: &impl AsRawFd, name: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    // SAFETY: a valid descriptor, a NUL-terminated name and a mode for O_CREAT; checked.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What `name` in `dir` is, without following it: None when absent.
pub fn lstat_at(dir: &impl AsRawFd, name: &str) -> io::Result<Option<libc::stat>> {
    let c = cstr(name)?;
    // SAFETY: an all-zero `stat` is a valid value for fstatat to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor, a NUL-terminated name and a valid out pointer; checked.
    let r = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            c.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(r) {
        Ok(()) => Ok(Some(st)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a `stat` describes a regular file.
pub fn is_regular(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// `mkdirat(dir, name, mode)`.
pub fn mkdirat(dir: &impl AsRawFd, name: &str, mode: libc::mode_t) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: a valid descriptor and a NUL-terminated name; checked.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) })
}

/// `unlinkat(dir, name, 0)`: removes a file (never a directory) in `dir`.
pub fn unlinkat(dir: &impl AsRawFd, name: &str) -> io::Result<()> {
    let c = cstr(name)?;
    // SAFETY: a valid descriptor and a NUL-terminated name; checked.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) })
}

/// Makes a directory's entries durable.
pub fn fsync(dir: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: a valid descriptor; checked.
    check(unsafe { libc::fsync(dir.as_raw_fd()) })
}

/// A temp file created and named through its directory's descriptor (so a directory swapped
/// for a symlink after it was opened redirects nothing); removed on drop unless it was renamed
/// into place.
pub struct Staged {
    dir: OwnedFd,
    name: String,
    file: File,
    placed: bool,
}

impl Staged {
    /// Creates `name` in `dir` exclusively (it must not exist), for writing.
    pub fn create(dir: OwnedFd, name: String) -> io::Result<Staged> {
        let fd = openat_create(&dir, &name, libc::O_WRONLY | libc::O_EXCL)?;
        Ok(Staged {
            dir,
            name,
            file: File::from(fd),
            placed: false,
        })
    }

    /// The open temp file, to fill and fsync.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Renames the temp file over `last` in `parent` (renameat: no path is resolved again).
    #[allow(clippy::disallowed_methods)] // the replacing publish through descriptors
    pub fn rename_to(mut self, parent: &impl AsRawFd, last: &str) -> io::Result<()> {
        let (from, to) = (cstr(&self.name)?, cstr(last)?);
        // SAFETY: valid descriptors and NUL-terminated names; checked.
        check(unsafe {
            libc::renameat(
                self.dir.as_raw_fd(),
                from.as_ptr(),
                parent.as_raw_fd(),
                to.as_ptr(),
            )
        })?;
        self.placed = true;
        Ok(())
    }

    /// Hard-links the temp file as `last` in `parent`: false when that name exists (link(2)
    /// refuses an existing name, so exactly one concurrent creator wins).
    #[allow(clippy::disallowed_methods)] // the no-replace publish through descriptors
    pub fn link_to(&self, parent: &impl AsRawFd, last: &str) -> io::Result<bool> {
        let (from, to) = (cstr(&self.name)?, cstr(last)?);
        // SAFETY: valid descriptors and NUL-terminated names; checked.
        let r = unsafe {
            libc::linkat(
                self.dir.as_raw_fd(),
                from.as_ptr(),
                parent.as_raw_fd(),
                to.as_ptr(),
                0,
            )
        };
        match check(r) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.placed {
            // Failure is harmless: a stale temp file is swept later.
            let _ = unlinkat(&self.dir, &self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(path: &std::path::Path) -> OwnedFd {
        openat(
            &File::open("/").unwrap(),
            path.to_str().unwrap().trim_start_matches('/'),
            libc::O_RDONLY | libc::O_DIRECTORY,
        )
        .unwrap()
    }

    #[test]
    fn a_staged_file_links_once_renames_over_and_is_removed_when_dropped() {
        let t = tempfile::tempdir().unwrap();
        let d = dir(t.path());
        let mut s = Staged::create(dir(t.path()), "tmp-1".into()).unwrap();
        std::io::Write::write_all(s.file(), b"one").unwrap();
        assert!(s.link_to(&d, "key").unwrap());
        assert!(
            !s.link_to(&d, "key").unwrap(),
            "an existing name is refused"
        );
        drop(s);
        assert!(
            lstat_at(&d, "tmp-1").unwrap().is_none(),
            "dropped unplaced: removed"
        );
        let mut s = Staged::create(dir(t.path()), "tmp-2".into()).unwrap();
        std::io::Write::write_all(s.file(), b"two").unwrap();
        s.rename_to(&d, "key").unwrap();
        assert_eq!(std::fs::read(t.path().join("key")).unwrap(), b"two");
        assert!(lstat_at(&d, "tmp-2").unwrap().is_none());
    }

    #[test]
    fn names_are_never_followed_through_a_symlink() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), t.path().join("link")).unwrap();
        let d = dir(t.path());
        let e = openat(&d, "link", libc::O_RDONLY | libc::O_NOFOLLOW).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        // As a directory, the symlink is not one (ENOTDIR): refused all the same.
        let e = openat(
            &d,
            "link",
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        );
        assert!(e.is_err());
        assert!(openat_create(&d, "link", libc::O_WRONLY).is_err());
        let st = lstat_at(&d, "link").unwrap().unwrap();
        assert!(!is_regular(&st));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
