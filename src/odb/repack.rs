//! Consolidation: every sound pack (and, by default, every loose JSON object) into one new
//! pack, then the multi-pack index over what is left; and the automatic form after a
//! transaction, like `git gc --auto`.
//!
//! Order, so that a reader or a crash never loses an object: the new pack is written in
//! `tmp/`, fsynced and renamed into `packs/` (and its directory synced) before any old pack or
//! loose file is deleted; the index is rewritten last (a stale one only names packs that are
//! gone, which lookups skip). One repack at a time: `.msez/packs.lock` is flock-ed by repack,
//! by the index rewrite and by gc's pack rewrites. A pack whose BLAKE3 does not hold, and a
//! loose object that does not match its name, are left where they are (fsck reports them):
//! repacking never gives damaged bytes a fresh checksum.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{Digest, Encoding};
use crate::progress::Progress;

use super::pack::{Pack, PackWriter};
use super::{Error, Repo, midx, write};

/// The default of `gc.auto_pack_limit`: past this many packs a transaction consolidates them
/// (git's `gc.autoPackLimit`).
pub const AUTO_PACK_LIMIT: usize = 50;
/// Packs the multi-pack index does not cover past which a transaction rewrites the index.
pub const MIDX_AUTO: usize = 8;

/// What `msez repack` does.
#[derive(Clone, Copy, Debug)]
pub struct RepackOptions {
    /// Pack loose JSON objects too (and delete their files).
    pub loose: bool,
}

impl Default for RepackOptions {
    fn default() -> Self {
        RepackOptions { loose: true }
    }
}

/// What a repack did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RepackReport {
    /// Packs before.
    pub packs_before: u64,
    /// Packs after (the new one, damaged ones left alone, ones added meanwhile).
    pub packs_after: u64,
    /// The new pack's file name (None: nothing to consolidate).
    pub pack: Option<String>,
    /// Objects in the new pack.
    pub objects: u64,
    /// Bytes of those objects.
    pub bytes: u64,
    /// Loose objects packed (their files deleted).
    pub loose_packed: u64,
    /// Packs deleted once the new pack was in place.
    pub packs_removed: u64,
    /// Objects the multi-pack index lists.
    pub midx_objects: u64,
    /// Packs and loose objects left alone because they do not check out (fsck names them).
    pub skipped: Vec<String>,
}

/// What the automatic maintenance after a transaction did.
#[derive(Clone, Debug)]
pub enum Maintained {
    /// Nothing was due (or another process held the packs lock).
    Nothing,
    /// The multi-pack index was rewritten: objects it lists.
    Midx(u64),
    /// The packs were consolidated.
    Repacked(RepackReport),
}

/// `.msez/packs.lock`, flock-ed while held; released when dropped.
pub struct PacksLock(#[allow(dead_code)] File);

impl Repo {
    /// Takes `.msez/packs.lock`: waiting for it, or (not `wait`) None when another holds it.
    pub fn lock_packs(&self, wait: bool) -> Result<Option<PacksLock>, Error> {
        let path = self.dir().join("packs.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening", &path, e))?;
        let op = if wait {
            libc::LOCK_EX
        } else {
            libc::LOCK_EX | libc::LOCK_NB
        };
        loop {
            // SAFETY: flock takes an open descriptor and no pointers.
            if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
                return Ok(Some(PacksLock(file)));
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EWOULDBLOCK) if !wait => return Ok(None),
                _ => return Err(Error::io("locking", &path, e)),
            }
        }
    }

    /// Rewrites the multi-pack index over the packs there are now (under the packs lock).
    pub fn write_midx(&self) -> Result<u64, Error> {
        let _lock = self.lock_packs(true)?;
        self.write_midx_locked()
    }

    fn write_midx_locked(&self) -> Result<u64, Error> {
        self.forget_packs();
        let packs = self.packs()?;
        let n = midx::write(&self.packs_dir(), &self.tmp_dir(), &packs)?;
        self.forget_packs();
        Ok(n)
    }

    /// The multi-pack index's state for fsck: None when there is no file, else whether it
    /// opens and checks out.
    pub fn midx_check(&self) -> Option<Result<midx::Midx, Error>> {
        let path = self.packs_dir().join(midx::FILE_NAME);
        path.exists().then(|| midx::Midx::open(&path))
    }

    /// After a transaction: consolidates the packs when there are more than
    /// `gc.auto_pack_limit` (0: never), else rewrites the index when [`MIDX_AUTO`] packs or
    /// more are outside it. Skipped while another process holds the packs lock.
    pub fn maintain_packs(&self) -> Result<Maintained, Error> {
        let limit = self
            .config()
            .gc
            .auto_pack_limit
            .unwrap_or(AUTO_PACK_LIMIT as u64) as usize;
        let (packs, view) = self.load_view(false)?;
        let repack = limit > 0 && packs.len() > limit;
        if !repack && view.uncovered() < MIDX_AUTO {
            return Ok(Maintained::Nothing);
        }
        let Some(_lock) = self.lock_packs(false)? else {
            return Ok(Maintained::Nothing);
        };
        if repack {
            let opts = RepackOptions { loose: false };
            return self
                .repack_locked(&opts, &crate::progress::Silent)
                .map(Maintained::Repacked);
        }
        self.write_midx_locked().map(Maintained::Midx)
    }

    /// Whether `gc --auto` has work: more packs than `gc.auto_pack_limit` (0: never).
    pub fn auto_repack_due(&self) -> Result<bool, Error> {
        let limit = self
            .config()
            .gc
            .auto_pack_limit
            .unwrap_or(AUTO_PACK_LIMIT as u64) as usize;
        Ok(limit > 0 && self.packs()?.len() > limit)
    }

    /// Consolidates the packs (and loose JSON objects) into one pack, deletes what it
    /// replaced, and rewrites the multi-pack index; waits for the packs lock.
    pub fn repack_all(
        &self,
        opts: &RepackOptions,
        progress: &dyn Progress,
    ) -> Result<RepackReport, Error> {
        let _lock = self.lock_packs(true)?;
        self.repack_locked(opts, progress)
    }

    fn repack_locked(
        &self,
        opts: &RepackOptions,
        progress: &dyn Progress,
    ) -> Result<RepackReport, Error> {
        self.forget_packs();
        let packs = self.packs()?;
        let mut report = RepackReport {
            packs_before: packs.len() as u64,
            ..RepackReport::default()
        };
        let mut sound: Vec<Arc<Pack>> = Vec::new();
        for p in packs.iter() {
            match p.verify() {
                Ok(()) => sound.push(p.clone()),
                Err(e) => report.skipped.push(e.to_string()),
            }
        }
        let loose = if opts.loose {
            self.loose_json()?
        } else {
            Vec::new()
        };
        let total: u64 = sound.iter().map(|p| p.len()).sum::<u64>() + loose.len() as u64;
        progress.set_total(total);
        if sound.len() > 1 || !loose.is_empty() {
            self.consolidate(&sound, loose, progress, &mut report)?;
        }
        report.midx_objects = self.write_midx_locked()?;
        report.packs_after = self.packs()?.len() as u64;
        Ok(report)
    }

    /// Writes the new pack from `sound` and `loose`, then deletes what it replaced.
    fn consolidate(
        &self,
        sound: &[Arc<Pack>],
        mut loose: Vec<(ObjectId, PathBuf)>,
        progress: &dyn Progress,
        report: &mut RepackReport,
    ) -> Result<(), Error> {
        loose.sort_by(|a, b| {
            (a.0.digest, a.0.artifact_type.as_str()).cmp(&(b.0.digest, b.0.artifact_type.as_str()))
        });
        let mut youngest = None::<SystemTime>;
        let mut newer = |t: Option<SystemTime>| {
            if let Some(t) = t {
                youngest = Some(youngest.map_or(t, |y| y.max(t)));
            }
        };
        for p in sound {
            newer(std::fs::metadata(p.path()).and_then(|m| m.modified()).ok());
        }
        let mut w = PackWriter::staged(&self.tmp_dir())?;
        let types = midx::merged_types(sound);
        // Loose objects that are in a sound pack too: their files go, the packed copy stays.
        let mut duplicate = vec![false; loose.len()];
        let mut li = 0;
        let mut reader = midx::Reader::new(sound);
        midx::merge(sound, &types, |m| {
            let ty = types[m.rank as usize].as_str();
            while li < loose.len()
                && (loose[li].0.digest.0, loose[li].0.artifact_type.as_str()) < (m.digest, ty)
            {
                li += 1;
            }
            if li < loose.len()
                && (loose[li].0.digest.0, loose[li].0.artifact_type.as_str()) == (m.digest, ty)
            {
                duplicate[li] = true;
            }
            let buf = reader.read(m.slot as usize, m.offset, m.len)?;
            let id = ObjectId::new(types[m.rank as usize].clone(), Digest(m.digest));
            w.add(&id, &buf)?;
            report.bytes += m.len;
            progress.inc(1);
            Ok(true)
        })?;
        let mut packed = Vec::new();
        for ((id, path), dup) in loose.into_iter().zip(duplicate) {
            progress.inc(1);
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // gone since it was listed (gc): nothing to keep
            };
            if !dup {
                if let Err(e) = super::objects::parse_checked(&id, &path, &bytes) {
                    report.skipped.push(e.to_string());
                    continue;
                }
                w.add(&id, &bytes)?;
                report.bytes += bytes.len() as u64;
            }
            newer(std::fs::metadata(&path).and_then(|m| m.modified()).ok());
            packed.push(path);
        }
        report.objects = w.len() as u64;
        let dest = w.finish(&self.packs_dir())?;
        if let Some(t) = youngest {
            // As old as its youngest source, so gc's age rule never sees an object as older
            // than it was (a repack must not make anything collectable sooner).
            let _ = File::open(&dest).and_then(|f| f.set_modified(t));
        }
        write::sync_dir(&self.packs_dir())?;
        report.pack = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        super::txn::crash_point("repack-pack-written");
        for p in sound.iter().filter(|p| p.path() != dest) {
            match std::fs::remove_file(p.path()) {
                Ok(()) => report.packs_removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("removing", p.path(), e)),
            }
        }
        write::sync_dir(&self.packs_dir())?;
        super::txn::crash_point("repack-packs-removed");
        let mut dirs = std::collections::BTreeSet::new();
        for path in packed {
            match std::fs::remove_file(&path) {
                Ok(()) => report.loose_packed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("removing", &path, e)),
            }
            if let Some(d) = path.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        for d in dirs {
            write::sync_dir(&d)?;
        }
        self.forget_packs();
        Ok(())
    }

    /// Every loose JSON object (id, file); names that are not objects are fsck's business.
    fn loose_json(&self) -> Result<Vec<(ObjectId, PathBuf)>, Error> {
        let root = self.objects_dir();
        let mut out = Vec::new();
        let types = std::fs::read_dir(&root).map_err(|e| Error::io("listing", &root, e))?;
        for t in types.flatten() {
            let Some(artifact_type) = t
                .file_name()
                .to_str()
                .and_then(|s| ArtifactType::new(s).ok())
            else {
                continue;
            };
            if artifact_type.rule().encoding() != Encoding::Json {
                continue;
            }
            let Ok(files) = std::fs::read_dir(t.path()) else {
                continue;
            };
            for f in files.flatten() {
                let id = f.file_name().to_str().and_then(|name| {
                    let (stem, _) = name.split_once('.')?;
                    let id = ObjectId::new(artifact_type.clone(), stem.parse().ok()?);
                    (artifact::store_path(&root, &id) == f.path()).then_some(id)
                });
                if let Some(id) = id {
                    out.push((id, f.path()));
                }
            }
        }
        Ok(out)
    }
}
