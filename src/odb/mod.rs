//! The `.msez` repository: objects, proofs, refs and reflog, locks, config, hooks.
//!
//! A [`Repo`] is a work tree with a `.msez` directory (layout in docs/formats.md). Objects are
//! written once under `objects/<type>/<digest>.<ext>` and never changed, so `.msez/objects` is
//! itself an MSEZ store root; proofs that arrive later are their own immutable files under
//! `proofs/`; refs move only under a lock with compare-and-swap, and every move is logged.
//! Every write is atomic (temp file in `tmp/`, fsync, rename, fsync the directory: the
//! protocol of [`crate::fs`]). A
//! transaction stores its JSON objects in one pack file under `packs/` instead; readers look
//! for an object's loose file first, then in the packs.

mod batch;
mod config;
mod error;
mod hooks;
mod index;
mod lock;
mod midx;
mod objects;
mod pack;
mod proofs;
mod refs;
mod repack;
mod txn;
mod write;

pub use batch::{Batch, Committed, PACK_MIN, StagedFiles};
pub use config::{Config, Gc as GcConfig, Remote as RemoteConfig};
pub use error::Error;
pub use hooks::{Event, HookEnv};
pub use index::Checksum;
pub use lock::{Expect, RefLock};
pub use midx::{FILE_NAME as MIDX_FILE_NAME, Midx, merge_objects as merge_packs, merged_types};
pub use objects::{Location, Object, Put, parse_checked};
pub use pack::{Entry as PackEntry, Pack, is_pack_name};
pub use proofs::{merge_proofs, proof_key, proof_list};
pub use refs::{RefName, RefUpdate, ReflogEntry, ref_object_type};
pub use repack::{AUTO_PACK_LIMIT, MIDX_AUTO, Maintained, PacksLock, RepackOptions, RepackReport};
pub use txn::{
    FileEncoding, Journal, Recovered, Transaction, TxnCommitted, crash_point, journal_dir,
    journal_path, journal_ref, journals, recover,
};
pub use write::{TEMP_PREFIX, is_locked as temp_in_use};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The name of the repository directory inside a work tree.
pub const DIR_NAME: &str = ".msez";
/// The repository format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// An open repository.
#[derive(Debug, Clone)]
pub struct Repo {
    worktree: PathBuf,
    dir: PathBuf,
    config: Config,
    /// The open packs, shared by clones of this handle.
    packs: Arc<Mutex<objects::PackSet>>,
}

impl Repo {
    /// Creates `<worktree>/.msez` with the standard layout; refuses to clobber an existing one.
    pub fn init(worktree: &Path, sample_hooks: &[(&str, &str)]) -> Result<Repo, Error> {
        let dir = worktree.join(DIR_NAME);
        if dir.exists() {
            return Err(Error::AlreadyExists { path: dir });
        }
        std::fs::create_dir_all(worktree).map_err(|e| Error::io("creating", worktree, e))?;
        // Build the whole layout in a staging directory, then rename it into place, so a crash
        // never leaves a half-initialized `.msez` that `open` would accept.
        let staging = tempfile::Builder::new()
            .prefix(".msez-init-")
            .tempdir_in(worktree)
            .map_err(|e| Error::io("creating a staging directory in", worktree, e))?;
        for sub in [
            "objects",
            "packs",
            "proofs",
            "refs",
            "logs/refs",
            "index",
            "mmr",
            "hooks",
            "tmp",
        ] {
            let p = staging.path().join(sub);
            std::fs::create_dir_all(&p).map_err(|e| Error::io("creating", &p, e))?;
        }
        let config = Config::default();
        write::atomic_write(
            &staging.path().join("tmp"),
            &staging.path().join("config"),
            config.to_toml().as_bytes(),
            0o644,
        )?;
        for (name, text) in sample_hooks {
            let p = staging.path().join("hooks").join(format!("{name}.sample"));
            write::atomic_write(&staging.path().join("tmp"), &p, text.as_bytes(), 0o755)?;
        }
        let staged = staging.keep();
        crate::fs::rename(&staged, &dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            Error::io("moving the new repository into", &dir, e)
        })?;
        write::sync_dir(worktree)?;
        Ok(Repo {
            worktree: worktree.to_path_buf(),
            dir,
            config,
            packs: Arc::default(),
        })
    }

    /// Opens the repository whose work tree is `worktree`.
    pub fn open(worktree: &Path) -> Result<Repo, Error> {
        let dir = worktree.join(DIR_NAME);
        if !dir.is_dir() {
            return Err(Error::NotARepository {
                start: worktree.to_path_buf(),
            });
        }
        let config = Config::load(&dir.join("config"))?;
        Ok(Repo {
            worktree: worktree.to_path_buf(),
            dir,
            config,
            packs: Arc::default(),
        })
    }

    /// Finds the repository enclosing `start` (itself or a parent), if any.
    pub fn find(start: &Path) -> Result<Option<Repo>, Error> {
        let mut cur = Some(start);
        while let Some(p) = cur {
            if p.join(DIR_NAME).is_dir() {
                return Repo::open(p).map(Some);
            }
            cur = p.parent();
        }
        Ok(None)
    }

    /// Like [`Repo::find`], but no repository is an error with a hint to run `msez init`.
    pub fn discover(start: &Path) -> Result<Repo, Error> {
        Repo::find(start)?.ok_or_else(|| Error::NotARepository {
            start: start.to_path_buf(),
        })
    }

    /// The work tree (the directory holding `.msez`).
    pub fn worktree(&self) -> &Path {
        &self.worktree
    }

    /// The `.msez` directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The repository configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `.msez/objects`, the loose objects: an MSEZ store root (packed objects are not in it).
    pub fn objects_dir(&self) -> PathBuf {
        self.dir.join("objects")
    }

    /// `.msez/packs`, where transactions store their JSON objects (see [`Pack`]).
    pub fn packs_dir(&self) -> PathBuf {
        self.dir.join("packs")
    }

    /// Replaces the configuration and writes `.msez/config` atomically.
    pub fn save_config(&mut self, config: Config) -> Result<(), Error> {
        let path = self.dir.join("config");
        write::atomic_write(&self.tmp_dir(), &path, config.to_toml().as_bytes(), 0o644)?;
        self.config = config;
        Ok(())
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }
}
