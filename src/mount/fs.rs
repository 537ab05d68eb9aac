//! The fuser adapter: inode numbers, attributes and handles. It knows nothing of msez; every
//! question goes to the [`View`].

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    BackingId, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, MountOption, OpenFlags, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, Request,
};

use super::Error;
use super::tree::{self, Entries, Entry, Kind, Node, View};

/// Content is immutable for the life of a mount: let the kernel cache everything for long.
const TTL: Duration = Duration::from_secs(24 * 3600);

/// Reports an error the kernel only sees as an errno (the CLI prints it).
pub type OnError = Box<dyn Fn(&str, &Error) + Send + Sync>;

/// The inode number of a path: stable across mounts (a hash of the path, which names the
/// digest), the root is 1.
pub fn ino(path: &str) -> u64 {
    if path.is_empty() {
        return INodeNo::ROOT.0;
    }
    let h = blake3::hash(path.as_bytes());
    let n = u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"));
    n.max(2)
}

struct Inode {
    path: Arc<str>,
    node: Node,
    lookups: u64,
    time: SystemTime,
}

/// A directory being read: the listing resumes where the last readdir stopped.
struct DirHandle {
    path: String,
    /// Index (in ".", "..", entries...) of the next entry to send.
    next: u64,
    entries: Option<Entries>,
    /// An entry taken from `entries` that did not fit in the last reply.
    held: Option<Entry>,
}

/// A [`View`] as a FUSE filesystem.
pub struct Fs {
    view: Arc<dyn View>,
    inodes: RwLock<HashMap<u64, Inode>>,
    dirs: Mutex<HashMap<u64, DirHandle>>,
    next_fh: AtomicU64,
    /// Whether the kernel reads files with a host file behind them directly (FUSE passthrough).
    passthrough: bool,
    /// The passthrough registration of each open file, dropped on release.
    backing: Mutex<HashMap<u64, BackingId>>,
    on_error: OnError,
    uid: u32,
    gid: u32,
    /// When the mount was made: the time of paths the view has none for.
    started: SystemTime,
}

impl Fs {
    /// A filesystem showing `view`.
    pub fn new(view: Arc<dyn View>, on_error: OnError) -> Fs {
        let mut inodes = HashMap::new();
        inodes.insert(
            INodeNo::ROOT.0,
            Inode {
                path: Arc::from(""),
                node: Node::Dir,
                lookups: 1,
                // Asked of the view at the first getattr (a remote lists itself then).
                time: UNIX_EPOCH,
            },
        );
        Fs {
            view,
            inodes: RwLock::new(inodes),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            passthrough: false,
            backing: Mutex::new(HashMap::new()),
            on_error,
            // SAFETY: getuid and getgid take no arguments and cannot fail.
            uid: unsafe { libc::getuid() },
            // SAFETY: as above.
            gid: unsafe { libc::getgid() },
            started: SystemTime::now(),
        }
    }

    /// The time `path` shows: the view's, else when the mount was made (never 1970).
    fn time_of(&self, path: &str) -> SystemTime {
        self.view.time(path).unwrap_or(self.started)
    }

    fn attr(&self, ino: u64, node: &Node, time: SystemTime) -> FileAttr {
        let (kind, perm, size) = match node {
            Node::Dir => (FileType::Directory, 0o555, 0),
            Node::File { size } => (FileType::RegularFile, 0o444, *size),
            Node::Link { target } => (FileType::Symlink, 0o777, target.len() as u64),
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: time,
            mtime: time,
            ctime: time,
            crtime: time,
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            flags: 0,
            blksize: 128 * 1024,
        }
    }

    fn node(&self, ino: INodeNo) -> Result<(Arc<str>, Node), Errno> {
        let inodes = self.inodes.read().map_err(|_| Errno::EIO)?;
        let inode = inodes.get(&ino.0).ok_or(Errno::ENOENT)?;
        Ok((inode.path.clone(), inode.node.clone()))
    }

    fn getattr_of(&self, ino: INodeNo) -> Result<FileAttr, Errno> {
        let (path, node, time) = {
            let inodes = self.inodes.read().map_err(|_| Errno::EIO)?;
            let inode = inodes.get(&ino.0).ok_or(Errno::ENOENT)?;
            (inode.path.clone(), inode.node.clone(), inode.time)
        };
        if time != UNIX_EPOCH {
            return Ok(self.attr(ino.0, &node, time));
        }
        let time = self.time_of(&path);
        if let Some(inode) = self.inodes.write().map_err(|_| Errno::EIO)?.get_mut(&ino.0) {
            inode.time = time;
        }
        Ok(self.attr(ino.0, &node, time))
    }

    fn fail(&self, path: &str, e: Error) -> Errno {
        (self.on_error)(path, &e);
        e.errno()
    }

    fn lookup_child(&self, parent: INodeNo, name: &OsStr) -> Result<FileAttr, Errno> {
        let (dir, _) = self.node(parent)?;
        let name = name.to_str().ok_or(Errno::ENOENT)?;
        let path = tree::child(&dir, name);
        let node = match self.view.stat(&path) {
            Ok(Some(node)) => node,
            Ok(None) => return Err(Errno::ENOENT),
            Err(e) => return Err(self.fail(&path, e)),
        };
        let ino = ino(&path);
        let time = self.time_of(&path);
        let mut inodes = self.inodes.write().map_err(|_| Errno::EIO)?;
        let inode = inodes.entry(ino).or_insert_with(|| Inode {
            path: Arc::from(path.as_str()),
            node: node.clone(),
            lookups: 0,
            time,
        });
        if *inode.path != *path {
            // Two paths with one 64-bit hash: refuse the second rather than alias them.
            return Err(Errno::EIO);
        }
        inode.lookups += 1;
        Ok(self.attr(ino, &node, time))
    }

    fn fill(
        &self,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: &mut ReplyDirectory,
    ) -> Result<(), Errno> {
        let mut dirs = self.dirs.lock().map_err(|_| Errno::EIO)?;
        let h = dirs.get_mut(&fh.0).ok_or(Errno::EBADF)?;
        if h.next != offset || h.entries.is_none() {
            // A rewind or a seek: list again and skip to `offset`.
            h.entries = Some(
                self.view
                    .clone()
                    .list(&h.path)
                    .map_err(|e| self.fail(&h.path, e))?,
            );
            h.held = None;
            h.next = 0;
            while h.next < offset {
                if h.next >= 2 && next_entry(h).map_err(|e| self.fail(&h.path, e))?.is_none() {
                    return Ok(());
                }
                h.next += 1;
            }
        }
        loop {
            let (name, kind, child_ino) = match h.next {
                0 => (".".to_string(), Kind::Dir, ino.0),
                1 => (
                    "..".to_string(),
                    Kind::Dir,
                    self::ino(tree::parent(&h.path)),
                ),
                _ => match next_entry(h).map_err(|e| self.fail(&h.path, e))? {
                    Some(e) => {
                        let child_ino = self::ino(&tree::child(&h.path, &e.name));
                        let out = (e.name.clone(), e.kind, child_ino);
                        h.held = Some(e);
                        out
                    }
                    None => return Ok(()),
                },
            };
            let kind = match kind {
                Kind::Dir => FileType::Directory,
                Kind::File => FileType::RegularFile,
                Kind::Link => FileType::Symlink,
            };
            if reply.add(INodeNo(child_ino), h.next + 1, kind, &name) {
                return Ok(()); // full: the held entry goes first next time
            }
            h.held = None;
            h.next += 1;
        }
    }
}

/// The held entry, else the next one from the listing.
fn next_entry(h: &mut DirHandle) -> Result<Option<Entry>, Error> {
    if let Some(e) = h.held.take() {
        return Ok(Some(e));
    }
    match h.entries.as_mut().and_then(Iterator::next) {
        Some(r) => r.map(Some),
        None => Ok(None),
    }
}

impl Filesystem for Fs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Passthrough (Linux 6.9+, root) lets the kernel read host files itself: no copy through
        // this process. Without it, every read comes here.
        self.passthrough = config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
            && config.set_max_stack_depth(1).is_ok();
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_child(parent, name) {
            Ok(attr) => reply.entry(&TTL, &attr, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if ino == INodeNo::ROOT {
            return;
        }
        if let Ok(mut inodes) = self.inodes.write() {
            if let Some(inode) = inodes.get_mut(&ino.0) {
                inode.lookups = inode.lookups.saturating_sub(nlookup);
                if inode.lookups == 0 {
                    inodes.remove(&ino.0);
                }
            }
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.getattr_of(ino) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.node(ino) {
            Ok((_, Node::Link { target })) => reply.data(target.as_bytes()),
            Ok(_) => reply.error(Errno::EINVAL),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if flags.0 & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(Errno::EROFS);
        }
        match self.node(ino) {
            Ok((path, Node::File { .. })) => match self.view.open(&path) {
                Ok(()) => {
                    let direct = self
                        .passthrough
                        .then(|| self.view.backing(&path))
                        .flatten()
                        .and_then(|f| reply.open_backing(&f).ok());
                    match (direct, self.backing.lock()) {
                        (Some(id), Ok(mut open)) => {
                            let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
                            reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &id);
                            open.insert(fh, id);
                        }
                        _ => reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE),
                    }
                }
                Err(e) => reply.error(self.fail(&path, e)),
            },
            Ok(_) => reply.error(Errno::EISDIR),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.node(ino) {
            Ok((path, _)) => match self.view.read(&path, offset, size) {
                Ok(bytes) => reply.data(&bytes),
                Err(e) => reply.error(self.fail(&path, e)),
            },
            Err(e) => reply.error(e),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        if let Ok(mut open) = self.backing.lock() {
            open.remove(&fh.0);
        }
        reply.ok();
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let path = match self.node(ino) {
            Ok((path, Node::Dir)) => path,
            Ok(_) => return reply.error(Errno::ENOTDIR),
            Err(e) => return reply.error(e),
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let handle = DirHandle {
            path: path.to_string(),
            next: 0,
            entries: None,
            held: None,
        };
        match self.dirs.lock() {
            Ok(mut dirs) => {
                dirs.insert(fh, handle);
                reply.opened(
                    FileHandle(fh),
                    FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_CACHE_DIR,
                );
            }
            Err(_) => reply.error(Errno::EIO),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.fill(ino, fh, offset, &mut reply) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        if let Ok(mut dirs) = self.dirs.lock() {
            dirs.remove(&fh.0);
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(0, 0, 0, 0, 0, 128 * 1024, 255, 0);
    }
}

/// Mounts `fs` read-only at `mountpoint`; the filesystem lives until the session is dropped
/// or unmounted.
pub fn spawn(fs: Fs, mountpoint: &Path, fsname: &str) -> Result<fuser::BackgroundSession, Error> {
    // The fsname is world-readable in /proc/mounts: a presigned bundle URL's signature or a
    // URL's credentials must not reach it, nor a comma that would read as another option.
    let fsname = match fsname.strip_prefix("msez:") {
        Some(source) => format!("msez:{}", crate::remote::Url::redact(source)),
        None => crate::remote::Url::redact(fsname),
    }
    .replace(',', "%2C");
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::RO,
        MountOption::FSName(fsname),
        MountOption::Subtype("msez".to_string()),
        MountOption::DefaultPermissions,
        MountOption::NoExec,
        MountOption::NoSuid,
        MountOption::NoDev,
    ];
    config.n_threads = Some(2);
    fuser::spawn_mount(fs, mountpoint, &config).map_err(|e| Error::io("mounting at", mountpoint, e))
}
