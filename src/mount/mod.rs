//! A read-only FUSE view of a repository, a witness bundle or a remote (ARCHITECTURE.md
//! "Mount").
//!
//! [`tree`] is the model (paths, nodes, lazy listings; no FUSE), [`fs`] the fuser adapter (no
//! msez), and [`store`] the part every source shares: `objects/`, `refs/` and `graph/` over a
//! [`store::Store`]. Each source is one module: [`repo`] (which adds the chains under
//! `assets/` and `corridors/`), [`remote`] (objects fetched lazily and verified before they
//! are shown) and [`bundle`] (manifest, verify report, raw entries; central directory only at
//! mount time).

pub mod bundle;
pub mod chains;
pub mod fs;
pub mod readme;
pub mod remote;
pub mod repo;
pub mod store;
pub mod tree;

use std::path::{Path, PathBuf};

use fuser::Errno;

use crate::taxonomy::{Class, Classify, Detail};

/// Why a mount or a read in it failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mountpoint is a FUSE mount whose process is gone.
    #[error(
        "{} is a stale mount (transport endpoint is not connected); unmount it with: fusermount3 -u {}",
        path.display(), path.display()
    )]
    Stale { path: PathBuf },
    /// The mountpoint is not a directory.
    #[error("mountpoint {} is not a directory", path.display())]
    NotADir { path: PathBuf },
    /// A fetched object does not hash to its name.
    #[error("object {object} from {source_url} does not match its digest (found {found})")]
    Digest {
        object: String,
        source_url: String,
        found: String,
    },
    /// A file operation failed.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The repository failed.
    #[error(transparent)]
    Odb(Box<crate::odb::Error>),
    /// A chain view failed.
    #[error(transparent)]
    Chain(Box<crate::chain::Error>),
    /// A remote failed.
    #[error(transparent)]
    Remote(Box<crate::remote::Error>),
    /// An artifact name failed.
    #[error(transparent)]
    Artifact(Box<crate::artifact::Error>),
    /// A bundle failed (or was refused as hostile).
    #[error(transparent)]
    Bundle(Box<crate::bundle::Error>),
}

// Boxed: a read error in the mount stays small on the hot path.
macro_rules! boxed_from {
    ($($variant:ident: $t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::$variant(Box::new(e))
            }
        }
    )*};
}
boxed_from!(Odb: crate::odb::Error, Chain: crate::chain::Error, Remote: crate::remote::Error, Artifact: crate::artifact::Error, Bundle: crate::bundle::Error);

impl Error {
    pub(crate) fn io(what: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The errno a reader of the mount sees.
    pub fn errno(&self) -> Errno {
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Errno::ENOENT
            }
            _ => Errno::EIO,
        }
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Stale { .. } => Class::Conflict,
            Error::NotADir { .. } => Class::Usage,
            Error::Digest { .. } => Class::Digest,
            Error::Io { .. } => Class::Io,
            Error::Odb(e) => e.class(),
            Error::Chain(e) => e.class(),
            Error::Remote(e) => e.class(),
            Error::Artifact(e) => e.class(),
            Error::Bundle(e) => e.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Stale { .. } => "conflict.stale_mount",
            Error::NotADir { .. } => "usage.mountpoint",
            Error::Digest { .. } => "digest.remote_object_mismatch",
            Error::Io { .. } => "io.mount",
            Error::Odb(e) => e.code(),
            Error::Chain(e) => e.code(),
            Error::Remote(e) => e.code(),
            Error::Artifact(e) => e.code(),
            Error::Bundle(e) => e.code(),
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Stale { path } | Error::NotADir { path } | Error::Io { path, .. } => {
                Detail::path(path)
            }
            Error::Digest { object, found, .. } => {
                Detail::object(object.clone()).mismatch(object.clone(), found.clone())
            }
            Error::Odb(e) => e.detail(),
            Error::Chain(e) => e.detail(),
            Error::Remote(e) => e.detail(),
            Error::Artifact(e) => e.detail(),
            Error::Bundle(e) => e.detail(),
        }
    }
}

/// The view `msez mount SOURCE` shows: a witness bundle (a zip file, or an `http(s)://` URL read
/// with range requests), a repository (a directory holding `.msez`, or the `.msez` directory
/// itself), else a remote URL (a directory remote, `s3://`, `ipfs://`).
pub fn open_source(source: &str, cwd: &Path) -> Result<std::sync::Arc<dyn tree::View>, Error> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let reader = crate::bundle::http::RangeReader::open(source)?;
        return Ok(bundle::BundleView::open(reader, source)?);
    }
    let path = cwd.join(source);
    if path.is_file() {
        let f = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
        return Ok(bundle::BundleView::open(
            std::io::BufReader::new(f),
            &path.display().to_string(),
        )?);
    }
    let worktree = if path.file_name().is_some_and(|n| n == ".msez") {
        path.parent().map(Path::to_path_buf)
    } else {
        Some(path.clone())
    };
    if let Some(w) = worktree.filter(|w| w.join(".msez").is_dir()) {
        return Ok(repo::RepoView::new(crate::odb::Repo::open(&w)?));
    }
    let url = crate::remote::Url::parse(source, cwd)?;
    let backend = crate::remote::open(&url, crate::remote::Retry::default())?;
    Ok(remote::RemoteView::new(backend)?)
}

/// Checks that `path` can be mounted on: a directory, and not a dead FUSE mount.
pub fn check_mountpoint(path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::NotADir {
            path: path.to_path_buf(),
        }),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Err(Error::Stale {
            path: path.to_path_buf(),
        }),
        Err(e) => Err(Error::io("reading mountpoint", path, e)),
    }
}

/// Whether `path` is a mountpoint now (per /proc/self/mountinfo).
pub fn is_mounted(path: &Path) -> bool {
    let Ok(abs) = std::fs::canonicalize(path).or_else(|_| std::path::absolute(path)) else {
        return false;
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    // Field 5 is the mount point, with spaces escaped as \040.
    let want = abs.to_string_lossy().replace(' ', "\\040");
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}
