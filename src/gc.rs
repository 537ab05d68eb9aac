//! `msez gc`: deletes objects nothing needs, locally or on a remote, in two phases.
//!
//! Roots (ARCHITECTURE.md, "The .msez repository"): every ref (remote-tracking and fork refs
//! included), reflog entries younger than `gc.reflogExpire`, the files of module working trees,
//! and every object younger than `gc.pruneExpire`; what they reach is kept too: embedded
//! ArtifactRefs, a receipt's `prev_root`, the genesis an asset ref names.
//!
//! Mark, then sweep: an unreachable object is first recorded in the marks file with the time it
//! was first seen unreachable (`.msez/gc/marks`, or `gc/marks` on a remote). It is deleted only
//! by a run that finds its mark at least the grace period (= `gc.pruneExpire`) old and, after
//! reading the roots again right before deleting, still finds it unreachable. So:
//! - an object uploaded after a mark is never deleted by that mark's sweep, and objects that
//!   appeared since the mark are roots of the sweep (a concurrent push's objects and what they
//!   reach stay, even before its ref moves);
//! - a remote, which reports no object ages, still never loses an object younger than the grace
//!   period: the object existed when it was marked;
//! - a marked object a push makes reachable again before the sweep is kept.
//!
//! With a zero grace (`--prune-expire 0`) one run marks and sweeps.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{self, Digest, Encoding, Value};
use crate::odb::{self, RefName, Repo};
use crate::progress::Progress;
use crate::taxonomy::{Class, Classify, Detail};

/// The default of `gc.pruneExpire` (like git).
pub const PRUNE_EXPIRE: Duration = Duration::from_secs(14 * 24 * 3600);
/// The default of `gc.reflogExpire`.
pub const REFLOG_EXPIRE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The remote key of the marks file.
pub const REMOTE_MARKS_KEY: &str = "gc/marks";

/// A gc failure: the repository's, a file's, or the store's own (a remote backend's, kept
/// whole with its class and code).
#[derive(Debug)]
pub enum Error {
    /// The object database.
    Odb(odb::Error),
    /// A file of the repository.
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The store's own failure.
    Store(Box<dyn StoreError>),
}

/// An error a [`Store`] brings from below (a remote's), with its class and code.
pub trait StoreError: Classify + Send + Sync + 'static {}

impl<T: Classify + Send + Sync + 'static> StoreError for T {}

impl Error {
    fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

impl From<odb::Error> for Error {
    fn from(e: odb::Error) -> Self {
        Error::Odb(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Odb(e) => e.fmt(f),
            Error::Io { what, path, .. } => write!(f, "{what} {}", path.display()),
            Error::Store(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Odb(e) => e.source(),
            Error::Io { source, .. } => Some(source),
            Error::Store(e) => e.source(),
        }
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Odb(e) => e.class(),
            Error::Io { .. } => Class::Io,
            Error::Store(e) => e.class(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Error::Odb(e) => e.code(),
            Error::Io { .. } => "io.file",
            Error::Store(e) => e.code(),
        }
    }
    fn detail(&self) -> Detail {
        match self {
            Error::Odb(e) => e.detail(),
            Error::Io { path, .. } => Detail::path(path),
            Error::Store(e) => e.detail(),
        }
    }
}

/// What a gc run keeps and how long it waits.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Objects younger than this stay; also the grace between mark and sweep.
    pub prune_expire: Duration,
    /// Reflog entries younger than this are roots.
    pub reflog_expire: Duration,
    /// List what would go; change nothing.
    pub dry_run: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prune_expire: PRUNE_EXPIRE,
            reflog_expire: REFLOG_EXPIRE,
            dry_run: false,
        }
    }
}

/// What a gc run did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The repository or remote collected.
    pub store: String,
    /// Objects listed at the mark.
    pub objects: u64,
    /// Objects reachable from the roots (or young) at the mark.
    pub reachable: u64,
    /// Unreachable objects recorded in the marks file (deleted ones included).
    pub marked: u64,
    /// Marked objects still inside their grace period.
    pub waiting: u64,
    /// Objects deleted (`type:digest`), or that would be with `dry_run`.
    pub deleted: Vec<String>,
    /// Objects due for deletion that the sweep found reachable again (kept).
    pub rescued: Vec<String>,
    /// Proof files deleted with their objects.
    pub proofs_deleted: u64,
    /// Bytes freed (object and proof files).
    pub bytes_freed: u64,
    /// Remote only: expired ref-lock objects (`locks/...`) deleted, or that would be.
    pub locks_deleted: u64,
    /// Proof files deleted (or that would be) because their object is not stored (orphans) or
    /// they do not verify against it (a bad name, not a proof, a signature that fails).
    pub bad_proofs: Vec<BadProof>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Remote only: keys that are not regular files (a directory remote's symlinks, FIFOs,
    /// devices), reported and never read, followed or deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub irregular: Vec<IrregularKey>,
}

/// A remote key gc leaves alone because it is not a regular file.
#[derive(Clone, Debug, Serialize)]
pub struct IrregularKey {
    /// `schema.remote_key_irregular`.
    pub code: &'static str,
    /// The key, control characters escaped.
    pub key: String,
    /// What it is instead.
    pub why: String,
}

/// A proof file gc removes, and why.
#[derive(Clone, Debug, Serialize)]
pub struct BadProof {
    /// The object it claims to sign (`type:digest`).
    pub object: String,
    /// The file (a path, or a remote key).
    pub file: String,
    /// Why it goes.
    pub why: String,
}

pub use crate::reach::Root;

/// What gc needs from a repository or a remote.
pub trait Store {
    /// The store's name, for the report.
    fn describe(&self) -> String;
    /// Every object, with its age when the store knows it.
    fn objects(&self) -> Result<Vec<(ObjectId, Option<Duration>)>, Error>;
    /// The roots other than young objects.
    fn roots(&self, now: SystemTime, reflog_expire: Duration) -> Result<Vec<Root>, Error>;
    /// A JSON object's value (None: absent); only called for JSON types.
    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error>;
    /// Deletes an object and its proof files: (bytes freed, proof files deleted).
    fn delete(&self, id: &ObjectId) -> Result<(u64, u64), Error>;
    /// The marks file: when each object was first seen unreachable (unix seconds).
    fn load_marks(&self) -> Result<HashMap<ObjectId, u64>, Error>;
    /// Replaces the marks file.
    fn save_marks(&self, marks: &BTreeMap<ObjectId, u64>) -> Result<(), Error>;
    /// Completes deletions [`Store::delete`] could only queue (packed objects): bytes freed.
    fn finish_deletes(&self) -> Result<u64, Error> {
        Ok(0)
    }
    /// Proof files whose object is not stored, or that do not sign it.
    fn bad_proofs(&self) -> Result<Vec<BadProof>, Error> {
        Ok(Vec::new())
    }
    /// Deletes one such proof file: bytes freed.
    fn delete_proof(&self, _proof: &BadProof) -> Result<u64, Error> {
        Ok(0)
    }
    /// The bytes deleting an object would free, as far as the store knows without reading it
    /// (what `dry_run` reports).
    fn size(&self, _id: &ObjectId) -> u64 {
        0
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The marks file's text: `<unix-seconds> <type>:<digest>` per line.
pub(crate) fn marks_text(marks: &BTreeMap<ObjectId, u64>) -> String {
    marks.iter().map(|(id, t)| format!("{t} {id}\n")).collect()
}

/// Parses a marks file; a line cut by a crash is dropped (its object is marked again later).
pub(crate) fn parse_marks(text: &str) -> HashMap<ObjectId, u64> {
    text.lines()
        .filter_map(|l| {
            let (t, id) = l.split_once(' ')?;
            Some((id.parse().ok()?, t.parse().ok()?))
        })
        .collect()
}

use crate::reach::ref_roots;

/// The listing of a store, indexed for the walk.
struct Listing {
    ids: HashSet<ObjectId>,
    by_digest: HashMap<Digest, Vec<ObjectId>>,
}

impl Listing {
    fn new(objects: &[(ObjectId, Option<Duration>)]) -> Listing {
        let mut by_digest: HashMap<Digest, Vec<ObjectId>> = HashMap::new();
        for (id, _) in objects {
            by_digest.entry(id.digest).or_default().push(id.clone());
        }
        Listing {
            ids: objects.iter().map(|(id, _)| id.clone()).collect(),
            by_digest,
        }
    }

    fn expand(&self, roots: impl IntoIterator<Item = Root>) -> Vec<ObjectId> {
        let mut out = Vec::new();
        for r in roots {
            match r {
                Root::Id(id) => out.push(id),
                Root::Digest(d) => {
                    out.extend(self.by_digest.get(&d).into_iter().flatten().cloned())
                }
            }
        }
        out
    }
}

/// Adds to `seen` every stored object reachable from `start`. Objects the store lacks are
/// skipped: a dangling link is fsck's business, not a reason to keep or delete anything.
/// The walk's view of a store: only what the listing holds is there.
struct Listed<'a> {
    store: &'a dyn Store,
    listing: &'a Listing,
}

impl crate::reach::Source for Listed<'_> {
    type Error = Error;
    fn has(&self, id: &ObjectId) -> Result<bool, Error> {
        Ok(self.listing.ids.contains(id))
    }
    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        self.store.read_json(id)
    }
    fn missing(&self, id: &ObjectId) -> Error {
        // Never asked: gc requires nothing.
        Error::Odb(odb::Error::Missing {
            object: id.to_string(),
        })
    }
}

/// Marks what `start` reaches in `seen` (absent objects are skipped: gc never needs them).
fn walk(
    store: &dyn Store,
    listing: &Listing,
    start: Vec<ObjectId>,
    seen: &mut HashSet<ObjectId>,
) -> Result<(), Error> {
    let start = start.into_iter().map(|id| (id, false)).collect();
    let source = Listed { store, listing };
    crate::reach::walk(
        &source,
        start,
        crate::reach::Require::Nothing,
        seen,
        &|_| false,
    )?;
    Ok(())
}

/// One gc run on `store`: mark, then (after `between`, where tests run a concurrent writer)
/// sweep what has been marked for at least the grace period and is still unreachable.
pub fn run(
    store: &dyn Store,
    opts: &Options,
    progress: &dyn Progress,
    between: &mut dyn FnMut(),
) -> Result<Report, Error> {
    let now = SystemTime::now();
    let now_s = unix(now);
    let grace = opts.prune_expire.as_secs();
    let young = |age: &Option<Duration>| age.is_some_and(|a| a < opts.prune_expire);

    // Phase 1: mark.
    let listed = store.objects()?;
    let listing = Listing::new(&listed);
    progress.set_total(listed.len() as u64);
    let mut roots = listing.expand(store.roots(now, opts.reflog_expire)?);
    roots.extend(
        listed
            .iter()
            .filter(|(_, a)| young(a))
            .map(|(id, _)| id.clone()),
    );
    let mut reach = HashSet::new();
    walk(store, &listing, roots, &mut reach)?;
    let previous = store.load_marks()?;
    let marks: BTreeMap<ObjectId, u64> = listing
        .ids
        .iter()
        .filter(|id| !reach.contains(*id))
        .map(|id| (id.clone(), previous.get(id).copied().unwrap_or(now_s)))
        .collect();
    let in_grace = |t: u64| now_s.saturating_sub(t) < grace;
    // Objects still in their grace period keep what they reach, as young objects do.
    let waiting: Vec<ObjectId> = marks
        .iter()
        .filter(|(_, t)| in_grace(**t))
        .map(|(id, _)| id.clone())
        .collect();
    let mut protected = reach.clone();
    walk(store, &listing, waiting.clone(), &mut protected)?;
    let due: Vec<ObjectId> = marks
        .keys()
        .filter(|id| !protected.contains(*id))
        .cloned()
        .collect();
    let mut report = Report {
        store: store.describe(),
        objects: listed.len() as u64,
        reachable: reach.len() as u64,
        marked: marks.len() as u64,
        waiting: waiting.len() as u64,
        dry_run: opts.dry_run,
        ..Report::default()
    };
    // Proofs are kept only while they sign a stored object: no grace, they protect nothing.
    report.bad_proofs = store.bad_proofs()?;
    // Those of an object this run deletes go with it.
    let going: HashSet<String> = due.iter().map(ToString::to_string).collect();
    report.bad_proofs.retain(|p| !going.contains(&p.object));
    if opts.dry_run {
        report.deleted = due.iter().map(ToString::to_string).collect();
        report.bytes_freed = due.iter().map(|id| store.size(id)).sum();
        return Ok(report);
    }
    for p in &report.bad_proofs {
        report.bytes_freed += store.delete_proof(p)?;
    }
    store.save_marks(&marks)?;
    between();
    if due.is_empty() {
        return Ok(report);
    }

    // Phase 2: sweep, against the roots as they are now.
    let relisted = store.objects()?;
    let now_listing = Listing::new(&relisted);
    let mut roots = now_listing.expand(store.roots(SystemTime::now(), opts.reflog_expire)?);
    // What appeared since the mark (a concurrent push) and what is young is kept with its
    // closure, even before a ref names it.
    roots.extend(
        relisted
            .iter()
            .filter(|(id, age)| young(age) || !listing.ids.contains(id))
            .map(|(id, _)| id.clone()),
    );
    roots.extend(waiting);
    let mut keep = HashSet::new();
    walk(store, &now_listing, roots, &mut keep)?;
    let mut remaining = marks;
    for id in due {
        if keep.contains(&id) {
            report.rescued.push(id.to_string());
            continue;
        }
        if !now_listing.ids.contains(&id) {
            remaining.remove(&id);
            continue;
        }
        let (bytes, proofs) = store.delete(&id)?;
        report.bytes_freed += bytes;
        report.proofs_deleted += proofs;
        report.deleted.push(id.to_string());
        remaining.remove(&id);
        progress.inc(1);
    }
    report.bytes_freed += store.finish_deletes()?;
    store.save_marks(&remaining)?;
    Ok(report)
}

/// A local repository as a gc store.
pub struct Local<'r> {
    repo: &'r Repo,
    /// Packed objects to drop, by pack, with [`Store::finish_deletes`].
    repack: std::sync::Mutex<BTreeMap<PathBuf, HashSet<ObjectId>>>,
}

impl<'r> Local<'r> {
    /// Collects `repo`.
    pub fn new(repo: &'r Repo) -> Local<'r> {
        Local {
            repo,
            repack: Default::default(),
        }
    }

    fn marks_path(&self) -> PathBuf {
        self.repo.dir().join("gc").join("marks")
    }

    /// Every reflog, by walking `logs/refs` (the logs of deleted refs too).
    fn reflog_roots(&self, since: u64, out: &mut Vec<Root>) -> Result<(), Error> {
        let logs = self.repo.dir().join("logs");
        for path in files_under(&logs.join("refs"))? {
            let rel = path.strip_prefix(&logs).unwrap_or(&path);
            let Ok(name) = RefName::new(&rel.to_string_lossy()) else {
                continue;
            };
            for e in self.repo.reflog(&name)? {
                if e.time >= since {
                    for d in e.old.into_iter().chain([e.new]) {
                        ref_roots(&name, d, out);
                    }
                }
            }
        }
        Ok(())
    }

    /// The objects module working-tree files are: a receipt by its next_root, any other JSON
    /// file under the digest rule of every JSON type the store holds, and what they embed.
    fn module_roots(&self, out: &mut Vec<Root>) -> Result<(), Error> {
        let mut types: Vec<ArtifactType> = self.repo.object_types()?;
        types.retain(|t| t.rule().encoding() == Encoding::Json);
        for path in files_under(&self.repo.worktree().join("modules"))? {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
            let Ok(value) = canon::parse(&bytes) else {
                continue;
            };
            out.extend(
                artifact::embedded_refs(&value)
                    .iter()
                    .filter_map(|r| r.id().ok())
                    .map(Root::Id),
            );
            if let Some(d) = value
                .get("next_root")
                .and_then(Value::as_str)
                .and_then(|s| Digest::parse_loose(s).ok())
            {
                out.push(Root::Digest(d));
                continue;
            }
            for t in &types {
                if let Ok(d) = t.rule().digest_json(&value) {
                    out.push(Root::Id(ObjectId::new(t.clone(), d)));
                }
            }
        }
        Ok(())
    }
}

/// Why a proof file of `object` must go (None: it is `<sha256 of its canonical proof>.json`
/// and a valid signature over the object by the key it names).
fn proof_file_problem(file: &Path, object: &Value) -> Option<String> {
    let stem = file
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"));
    let Some(stem) = stem else {
        return Some("not a proof file name (<sha256>.json)".into());
    };
    match std::fs::read(file) {
        Ok(bytes) => proof_bytes_problem(stem, &bytes, object),
        Err(e) => Some(format!("unreadable: {e}")),
    }
}

/// Why proof bytes named `stem` (`<sha256>`) are no proof of `object` (None: they are one).
pub fn proof_bytes_problem(stem: &str, bytes: &[u8], object: &Value) -> Option<String> {
    let value = match canon::parse(bytes) {
        Ok(v) => v,
        Err(e) => return Some(format!("not JSON: {e}")),
    };
    match canon::digest_of(&value) {
        Ok(d) if d.to_hex() == stem => {}
        Ok(d) => return Some(format!("its content gives {d}, not its name")),
        Err(e) => return Some(format!("no digest: {e}")),
    }
    crate::fsck::proof_signs(object, &value)
        .err()
        .map(|e| format!("does not sign its object: {e}"))
}

/// Every file under `dir` (none when it does not exist); hidden entries are skipped.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("listing", &d, e)),
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    crate::fs::write(path, bytes, crate::fs::PUBLIC).map_err(|e| e.lift(Error::io))
}

impl Store for Local<'_> {
    fn describe(&self) -> String {
        self.repo.worktree().display().to_string()
    }

    fn objects(&self) -> Result<Vec<(ObjectId, Option<Duration>)>, Error> {
        let now = SystemTime::now();
        let age = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .map(|t| now.duration_since(t).unwrap_or_default())
        };
        // A packed object is as old as its pack: one stat a pack, not one an object.
        let mut pack_ages: HashMap<PathBuf, Option<Duration>> = HashMap::new();
        let mut out = Vec::new();
        for id in self.repo.list_objects()?.into_iter().flatten() {
            let age = match std::fs::metadata(self.repo.object_path(&id)) {
                Ok(m) => m
                    .modified()
                    .ok()
                    .map(|t| now.duration_since(t).unwrap_or_default()),
                Err(_) => match self.repo.locate(&id)? {
                    Some(odb::Location::Packed(p, _)) => *pack_ages
                        .entry(p.path().to_path_buf())
                        .or_insert_with(|| age(p.path())),
                    Some(at) => age(at.path()),
                    None => None,
                },
            };
            out.push((id, age));
        }
        Ok(out)
    }

    fn roots(&self, now: SystemTime, reflog_expire: Duration) -> Result<Vec<Root>, Error> {
        let mut out = Vec::new();
        for (name, value) in self.repo.refs()? {
            ref_roots(&name, value, &mut out);
        }
        self.reflog_roots(unix(now).saturating_sub(reflog_expire.as_secs()), &mut out)?;
        self.module_roots(&mut out)?;
        Ok(out)
    }

    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        match self.repo.read_json(id) {
            Ok(v) => Ok(Some(v)),
            Err(odb::Error::Missing { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn size(&self, id: &ObjectId) -> u64 {
        // Loose objects only: a packed one frees its bytes when its pack is rewritten.
        std::fs::metadata(self.repo.object_path(id))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn delete(&self, id: &ObjectId) -> Result<(u64, u64), Error> {
        let path = self.repo.object_path(id);
        let mut bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let dir = self.repo.proofs_dir(id);
        let proofs = files_under(&dir)?;
        for p in &proofs {
            bytes += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        }
        // The object goes first: a crash in between leaves orphan proof files, never an
        // object that lost its co-signatures.
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing", &path, e)),
        }
        let mut packed = false;
        for p in self.repo.packs()?.iter() {
            if p.find(id)?.is_some() {
                packed = true;
                let mut repack = self.repack.lock().unwrap_or_else(|e| e.into_inner());
                repack
                    .entry(p.path().to_path_buf())
                    .or_default()
                    .insert(id.clone());
            }
        }
        if packed {
            // Its proof files go once the packs without it are in place.
            return Ok((bytes, proofs.len() as u64));
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing", &dir, e)),
        }
        Ok((bytes, proofs.len() as u64))
    }

    fn load_marks(&self) -> Result<HashMap<ObjectId, u64>, Error> {
        let path = self.marks_path();
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(parse_marks(&t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
            Err(e) => Err(Error::io("reading", &path, e)),
        }
    }

    fn save_marks(&self, marks: &BTreeMap<ObjectId, u64>) -> Result<(), Error> {
        write_atomic(&self.marks_path(), marks_text(marks).as_bytes())
    }

    fn bad_proofs(&self) -> Result<Vec<BadProof>, Error> {
        let root = self.repo.dir().join("proofs");
        let mut out = Vec::new();
        let mut by_dir: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
        for path in files_under(&root)? {
            let dir = path.parent().unwrap_or(&root).to_path_buf();
            by_dir.entry(dir).or_default().push(path);
        }
        for (dir, files) in by_dir {
            // `<type>/<digest>` under proofs/: anything else names no object.
            let id = dir.strip_prefix(&root).ok().and_then(|rel| {
                let mut parts = rel.iter().filter_map(|c| c.to_str());
                let (t, d) = (parts.next()?, parts.next()?);
                if parts.next().is_some() {
                    return None;
                }
                Some(ObjectId::new(ArtifactType::new(t).ok()?, d.parse().ok()?))
            });
            let object = match &id {
                Some(id) if id.artifact_type.rule().encoding() == Encoding::Json => {
                    match self.repo.object_bytes(id) {
                        Ok((bytes, _)) => canon::parse(&bytes).ok(),
                        Err(odb::Error::Missing { .. }) => None,
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => None,
            };
            let name = id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_else(|| dir.display().to_string());
            for file in files {
                let why = match (&id, &object) {
                    (Some(id), None) if self.repo.has(id) => {
                        // A damaged object is fsck's to report; its proofs wait for it.
                        continue;
                    }
                    (_, None) => Some("orphan: its object is not stored".to_string()),
                    (Some(_), Some(object)) => proof_file_problem(&file, object),
                    (None, Some(_)) => None,
                };
                if let Some(why) = why {
                    out.push(BadProof {
                        object: name.clone(),
                        file: file.display().to_string(),
                        why,
                    });
                }
            }
        }
        Ok(out)
    }

    fn delete_proof(&self, proof: &BadProof) -> Result<u64, Error> {
        let path = PathBuf::from(&proof.file);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(Error::io("removing", &path, e)),
        }
    }

    fn finish_deletes(&self) -> Result<u64, Error> {
        let repack = std::mem::take(&mut *self.repack.lock().unwrap_or_else(|e| e.into_inner()));
        if repack.is_empty() {
            return Ok(0);
        }
        // One pack rewriter at a time (repack deletes the packs it consolidates).
        let lock = self.repo.lock_packs(true)?;
        // Found again under the lock: a repack since the mark may have moved them.
        let gone: HashSet<ObjectId> = repack.into_values().flatten().collect();
        let mut by_pack: Vec<(std::sync::Arc<odb::Pack>, HashSet<ObjectId>)> = Vec::new();
        self.repo.forget_packs();
        for p in self.repo.packs()?.iter() {
            let here: HashSet<ObjectId> = gone
                .iter()
                .filter(|id| matches!(p.find(id), Ok(Some(_))))
                .cloned()
                .collect();
            if !here.is_empty() {
                by_pack.push((p.clone(), here));
            }
        }
        let mut freed = 0;
        for (pack, here) in by_pack {
            freed += self.repo.repack(&pack, |id| !here.contains(id))?;
        }
        for id in gone {
            let dir = self.repo.proofs_dir(&id);
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("removing", &dir, e)),
            }
        }
        drop(lock);
        // The index named the packs just replaced: list their successors in it.
        if self.repo.packs_dir().join(odb::MIDX_FILE_NAME).exists() {
            self.repo.write_midx()?;
        }
        Ok(freed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_cut_lines_are_dropped() {
        let id: ObjectId = format!("schema:{}", "ab".repeat(32)).parse().unwrap();
        let marks = BTreeMap::from([(id.clone(), 1_700_000_000u64)]);
        let text = marks_text(&marks);
        assert_eq!(parse_marks(&text), HashMap::from([(id, 1_700_000_000)]));
        assert!(parse_marks(&text[..text.len() - 10]).is_empty());
    }
}
