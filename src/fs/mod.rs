//! The write protocol: the one place that creates, renames and publishes files.
//!
//! Every file msez publishes is written to a temp file in the directory it will be published
//! in (or a staging directory on the same filesystem), fsynced, renamed into place, and the
//! directory fsynced, so a reader sees the old bytes or the new ones, never part of them, and a
//! crash after a call returns loses nothing. A no-replace publish (`renameat2(RENAME_NOREPLACE)`,
//! or `link` + `unlink` where the filesystem lacks it) lets exactly one concurrent creator win.
//!
//! This module sits at the bottom of the stack (it depends on nothing in the crate), so every
//! layer can use it; clippy's `disallowed-methods` (clippy.toml) refuses raw renames, persists
//! and creates anywhere else.

pub mod at;

use std::fs::File;
use std::io::{Seek, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A failed filesystem step: what was being done, to which path, and the OS error.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct Error {
    /// The step, in the words of the callers' own io errors ("syncing directory").
    pub what: &'static str,
    /// The path the step was about.
    pub path: PathBuf,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl Error {
    fn new(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error {
            what,
            path: path.into(),
            source,
        }
    }

    /// Converts into a module's own io error (`e.lift(Error::io)`), keeping step and path.
    pub fn lift<E>(self, io: impl FnOnce(&'static str, PathBuf, std::io::Error) -> E) -> E {
        io(self.what, self.path, self.source)
    }
}

/// A result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The permissions of a file being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Created with this mode, less the umask (as `open(O_CREAT, mode)` does).
    Create(u32),
    /// Set to exactly this mode (no umask) before the file gets its name.
    Exact(u32),
}

/// Readable by its owner only (`0600`): keys, and what a temp file is by default.
pub const PRIVATE: Mode = Mode::Create(0o600);
/// What `File::create` gives (`0666` less the umask): files written for the user.
pub const PUBLIC: Mode = Mode::Create(0o666);
/// The prefix of temp files written next to their destination.
pub const TEMP_PREFIX: &str = ".msez-";

/// A file being written under a temp name, published by [`Staged::commit`] or
/// [`Staged::commit_new`]; dropped unpublished, it is removed.
#[derive(Debug)]
pub struct Staged {
    file: tempfile::NamedTempFile,
    exact: Option<u32>,
}

impl Staged {
    /// A new temp file named `<prefix>…` in `dir` (the destination's directory, or a staging
    /// directory on its filesystem).
    pub fn new_in(dir: &Path, prefix: &str, mode: Mode) -> Result<Staged> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix);
        let exact = match mode {
            Mode::Create(m) => {
                builder.permissions(std::fs::Permissions::from_mode(m));
                None
            }
            Mode::Exact(m) => Some(m),
        };
        let file = builder
            .tempfile_in(dir)
            .map_err(|e| Error::new("creating a temp file in", dir, e))?;
        Ok(Staged { file, exact })
    }

    /// Takes an advisory flock on the temp file so fsck can tell a live writer's file from a
    /// crashed one's (a failure only makes the file look possibly stale later).
    pub fn lock(&self) {
        try_flock(self.file.as_file());
    }

    /// The temp file's current path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The open temp file.
    pub fn as_file(&self) -> &File {
        self.file.as_file()
    }

    /// The open temp file, mutably.
    pub fn as_file_mut(&mut self) -> &mut File {
        self.file.as_file_mut()
    }

    /// Flushes, sets the exact mode if one was asked for, and makes the bytes durable.
    fn finish(&mut self) -> Result<()> {
        let path = self.file.path().to_path_buf();
        self.file
            .flush()
            .map_err(|e| Error::new("writing", &path, e))?;
        if let Some(mode) = self.exact {
            self.file
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::new("setting permissions of", &path, e))?;
        }
        self.file
            .as_file()
            .sync_all()
            .map_err(|e| Error::new("syncing", &path, e))
    }

    /// Keeps the file under its temp name, for a writer that makes it durable and publishes it
    /// itself (with [`rename_noreplace`]).
    pub fn keep(self) -> Result<(File, PathBuf)> {
        let dir = parent_of(self.file.path()).to_path_buf();
        self.file
            .keep()
            .map_err(|e| Error::new("keeping a temp file in", dir, e.error))
    }

    /// Makes the bytes durable and renames them over `dest` (replacing it atomically), then
    /// syncs `dest`'s directory.
    pub fn commit(mut self, dest: &Path) -> Result<()> {
        self.finish()?;
        #[allow(clippy::disallowed_methods)] // the one replacing publish of a temp file
        self.file
            .persist(dest)
            .map_err(|e| Error::new("moving a temp file to", dest, e.error))?;
        sync_dir(parent_of(dest))
    }

    /// Makes the bytes durable and publishes them as `dest` unless `dest` exists; true when
    /// this call created it (false removes the temp file).
    pub fn commit_new(mut self, dest: &Path) -> Result<bool> {
        self.finish()?;
        let (file, temp) = self.file.into_parts();
        drop(file);
        match rename_noreplace(&temp, dest) {
            Ok(()) => {
                // The name is gone already; only keep the guard from removing it again.
                let _ = temp.keep();
                sync_dir(parent_of(dest))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::new("moving a temp file to", dest, e)),
        }
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Staged {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

/// `path`'s directory (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `dest` atomically (replacing it), staged next to it.
pub fn write(dest: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    write_via(parent_of(dest), dest, bytes, mode)
}

/// Writes `bytes` to `dest` atomically (replacing it), staged in `tmp_dir` (same filesystem).
pub fn write_via(tmp_dir: &Path, dest: &Path, bytes: &[u8], mode: Mode) -> Result<()> {
    let mut staged = Staged::new_in(tmp_dir, TEMP_PREFIX, mode)?;
    staged
        .write_all(bytes)
        .map_err(|e| Error::new("writing", dest, e))?;
    staged.commit(dest)
}

/// Writes `bytes` as `dest` atomically unless `dest` exists; true when this call created it.
pub fn create_new(dest: &Path, bytes: &[u8], mode: Mode) -> Result<bool> {
    let mut staged = Staged::new_in(parent_of(dest), TEMP_PREFIX, mode)?;
    staged
        .write_all(bytes)
        .map_err(|e| Error::new("writing", dest, e))?;
    staged.commit_new(dest)
}

/// Renames `from` over `to` (atomic replace). The caller syncs the directory (often once for
/// many renames), or uses [`rename_synced`].
#[allow(clippy::disallowed_methods)] // the one raw rename
pub fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::rename(from, to)
}

/// Renames a temp file over `to`, taking over its name (the guard no longer removes it). The
/// caller has made the bytes durable and syncs the directory.
pub fn rename_temp(from: tempfile::TempPath, to: &Path) -> std::io::Result<()> {
    rename(&from, to)?;
    // The name is gone already; only keep the guard from removing it again.
    let _ = from.keep();
    Ok(())
}

/// Renames `from` over `to` and makes the new name durable.
pub fn rename_synced(from: &Path, to: &Path) -> Result<()> {
    rename(from, to).map_err(|e| Error::new("moving", to, e))?;
    sync_dir(parent_of(to))
}

/// Publishes `from` as `to` unless `to` exists (`AlreadyExists` then): `renameat2` with
/// `RENAME_NOREPLACE`, or, on a filesystem without it, `link` then `unlink` (which also never
/// replaces). Either way `to` only ever shows complete bytes.
#[allow(clippy::disallowed_methods)] // renameat2 is the no-replace rename this module owns
pub fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))
    };
    let (cfrom, cto) = (cstr(from)?, cstr(to)?);
    // SAFETY: both pointers come from live CStrings (NUL-terminated, no interior NUL) that
    // outlive the call; AT_FDCWD makes the paths relative to the working directory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            cfrom.as_ptr(),
            libc::AT_FDCWD,
            cto.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if !matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    ) {
        return Err(e);
    }
    link_noreplace(from, to)?;
    // The new name holds the bytes; a leftover old name is only a temp file.
    let _ = std::fs::remove_file(from);
    Ok(())
}

/// Gives `from`'s file the extra name `to`, refusing (`AlreadyExists`) if `to` exists.
#[allow(clippy::disallowed_methods)] // link(2) never replaces: the no-replace publish
pub fn link_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to)
}

/// Whether `name` exists in the open directory `dir` (a symlink counts, not followed).
pub fn exists_at(dir: &File, name: &std::ffi::CStr) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: the descriptor is borrowed from the open `dir`, `name` is a NUL-terminated C
    // string that outlives the call, and `st` is a valid out-pointer for one stat (never read).
    unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        ) == 0
    }
}

/// A new file without a name in the open directory `dir` (`O_TMPFILE`), given one later by
/// [`link_unnamed`]; a crash before that leaves nothing behind. Fails (`EOPNOTSUPP`, `EISDIR`,
/// `EINVAL`) where the filesystem cannot, and the caller stages a named temp file instead.
pub fn create_unnamed(dir: &File, mode: u32) -> std::io::Result<File> {
    use std::os::unix::io::FromRawFd;
    // SAFETY: the descriptor is borrowed from the open `dir` and `c"."` is a static
    // NUL-terminated string; the returned descriptor is checked before use.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c".".as_ptr(),
            libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened (checked non-negative) and nothing else owns it.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Links the unnamed file `f` as `name` in the open directory `dir`, refusing an existing name
/// (`AlreadyExists`): by descriptor where the kernel allows it (`CAP_DAC_READ_SEARCH`), else
/// through `/proc/self/fd`.
#[allow(clippy::disallowed_methods)] // linkat is the publish of an unnamed file this module owns
pub fn link_unnamed(f: &File, dir: &File, name: &std::ffi::CStr) -> std::io::Result<()> {
    let (fd, dirfd) = (f.as_raw_fd(), dir.as_raw_fd());
    // SAFETY: both descriptors are borrowed from open files, and both names are NUL-terminated
    // C strings that outlive the call.
    let mut r =
        unsafe { libc::linkat(fd, c"".as_ptr(), dirfd, name.as_ptr(), libc::AT_EMPTY_PATH) };
    if r != 0
        && matches!(
            std::io::Error::last_os_error().raw_os_error(),
            Some(libc::ENOENT | libc::EPERM)
        )
    {
        let proc =
            std::ffi::CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in a number");
        // SAFETY: as above: `proc` and `name` are live C strings, `dirfd` an open directory.
        r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                proc.as_ptr(),
                dirfd,
                name.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
    }
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// fsyncs a directory so a rename or creation inside it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(test)]
    tests::SYNCED.with(|s| s.borrow_mut().push(dir.to_path_buf()));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::new("syncing directory", dir, e))
}

/// Creates a directory (and parents) and fsyncs each new one's parent.
pub fn create_dir_all_synced(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all_synced(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(Error::new("creating directory", dir, e)),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// `syncfs(2)` of the filesystem holding `file`: one call makes every file written there
/// durable (a transaction's alternative to an fsync per file).
pub fn syncfs(file: &File) -> std::io::Result<()> {
    // SAFETY: the descriptor is open for the duration of the call (borrowed from `file`).
    if unsafe { libc::syncfs(file.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Tries to take an exclusive flock without blocking; true when taken.
pub fn try_flock(file: &File) -> bool {
    // SAFETY: the descriptor is open for the duration of the call (borrowed from `file`);
    // flock has no memory effects.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Creates (or truncates) a file in place, not atomically: for a file nobody reads before it
/// is complete (in a private staging directory published by a rename of its own, or scratch
/// space), or an output the user named, which may be a device or a pipe (`/dev/stdout`) that a
/// rename could not replace.
#[allow(clippy::disallowed_methods)] // in place by design: see the doc comment
pub fn create_in_place(path: &Path) -> Result<File> {
    File::create(path).map_err(|e| Error::new("creating", path, e))
}

/// Writes a file in place, not atomically (only where [`create_in_place`] fits).
#[allow(clippy::disallowed_methods)] // in place by design: see create_in_place
pub fn write_in_place(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::new("writing", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    thread_local! {
        /// The directories [`sync_dir`] synced on this thread.
        pub(super) static SYNCED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
    }

    fn synced() -> Vec<PathBuf> {
        SYNCED.with(|s| s.borrow().clone())
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect()
    }

    #[test]
    fn a_reader_never_sees_a_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let (a, b) = (vec![b'a'; 1 << 20], vec![b'b'; 1 << 20]);
        write(&dest, &a, PUBLIC).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let mut reads = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let got = std::fs::read(&dest).unwrap();
                    assert!(got == a || got == b, "a torn read of {} bytes", got.len());
                    reads += 1;
                }
                reads
            });
            for i in 0..40 {
                write(&dest, if i % 2 == 0 { &b } else { &a }, PUBLIC).unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(reader.join().unwrap() > 0);
        });
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn write_syncs_the_directory_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub").join("key");
        create_dir_all_synced(dest.parent().unwrap()).unwrap();
        assert!(synced().contains(&dir.path().to_path_buf()));
        write(&dest, b"secret", PRIVATE).unwrap();
        assert!(synced().contains(&dest.parent().unwrap().to_path_buf()));
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let ro = dir.path().join("ro");
        write(&ro, b"x", Mode::Exact(0o444)).unwrap();
        let mode = std::fs::metadata(&ro).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o444);
    }

    #[test]
    fn no_replace_refuses_an_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        assert!(create_new(&dest, b"first", PUBLIC).unwrap());
        assert!(synced().contains(&dir.path().to_path_buf()));
        assert!(!create_new(&dest, b"second", PUBLIC).unwrap());
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        assert!(
            temp_files(dir.path()).is_empty(),
            "the loser's temp file is removed"
        );
        let other = dir.path().join("g");
        write_in_place(&other, b"g").unwrap();
        let e = rename_noreplace(&other, &dest).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&dest).unwrap(), b"first");
        let e = link_noreplace(&other, &dest).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        rename_noreplace(&other, &dir.path().join("h")).unwrap();
        assert!(!other.exists());
    }

    #[test]
    fn a_failure_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be renamed over: the publish step fails.
        let dest = dir.path().join("d");
        std::fs::create_dir(&dest).unwrap();
        write_in_place(&dest.join("x"), b"x").unwrap();
        let e = write(&dest, b"bytes", PUBLIC).unwrap_err();
        assert_eq!(e.what, "moving a temp file to");
        assert_eq!(e.path, dest);
        assert!(temp_files(dir.path()).is_empty());
        // A staged file dropped before its commit is removed too.
        let mut staged = Staged::new_in(dir.path(), TEMP_PREFIX, PUBLIC).unwrap();
        staged.write_all(b"half").unwrap();
        let path = staged.path().to_path_buf();
        drop(staged);
        assert!(!path.exists());
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn an_unnamed_file_gets_its_name_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = File::open(dir.path()).unwrap();
        let name = c"f";
        assert!(!exists_at(&d, name));
        let Ok(mut f) = create_unnamed(&d, 0o644) else {
            return; // no O_TMPFILE on this filesystem: callers stage named files instead
        };
        f.write_all(b"bytes").unwrap();
        assert!(temp_files(dir.path()).is_empty() && !dir.path().join("f").exists());
        link_unnamed(&f, &d, name).unwrap();
        assert!(exists_at(&d, name));
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"bytes");
        let e = link_unnamed(&f, &d, name).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn lift_keeps_step_and_path() {
        let e = Error::new("syncing", "/x", std::io::ErrorKind::Other.into());
        let (what, path) = e.lift(|w, p, _| (w, p));
        assert_eq!((what, path), ("syncing", PathBuf::from("/x")));
    }
}
