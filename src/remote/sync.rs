//! push, fetch, pull and clone on any [`Backend`] (the remote fsck is [`super::fsck`]).
//!
//! What the remote has is tracked locally, so push never lists the remote after the first time:
//! `refs/remotes/<name>/...` hold the ref values we last saw there, and
//! `.msez/index/remotes/<name>.known` (derived data, append-only, rebuilt by listing when
//! absent) holds the object and proof keys we know it has. A key is recorded only after its
//! upload or download succeeded, so a killed run leaves the record short, never wrong.
//!
//! Fast-forward without chain knowledge: a remote ref may move from V to our value L when V is
//! absent or V is a value our local ref has held (its reflog, which pull's fast-forwards also
//! write): the remote is behind us on our own history. Anything else is a non-fast-forward,
//! refused unless `force_with_lease` and the remote still holds our remote-tracking value.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::{self, Digest, DigestRule, Encoding, Value};
use crate::chain::incoming;
use crate::odb::{self, Event, Expect, HookEnv, RefName, Repo, ref_object_type};
use crate::progress::Progress;
use crate::taxonomy::{Class, Finding};

use super::layout::{self, FORMAT_KEY};
use super::lease::Lease;
use super::{Backend, Error, Retry};

/// How a transfer runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Concurrent transfers.
    pub jobs: usize,
    /// Retries of transient failures.
    pub retry: Retry,
    /// push: overwrite a non-fast-forward remote ref if it still holds our tracking value.
    pub force_with_lease: bool,
    /// push: send every local object and proof file, not only what the pushed refs reach;
    /// fetch, pull, clone: take every listed object, not only what the remote refs reach.
    pub all_objects: bool,
    /// Say what would move (objects, bytes, requests) and move nothing.
    pub dry_run: bool,
    /// Whose fork resolutions count: a chain head crosses a fork (push, fetch, pull) only by a
    /// resolution signed by an anchor allowed `fork_resolution` here. None: nobody's.
    pub trust_anchors: Option<std::sync::Arc<crate::vc::TrustAnchors>>,
    /// The anchors' key lifecycle: a resolution signed by a revoked key does not count.
    pub lifecycle: Option<std::sync::Arc<crate::chain::lifecycle::Lifecycle>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            jobs: 8,
            retry: Retry::default(),
            force_with_lease: false,
            all_objects: false,
            dry_run: false,
            trust_anchors: None,
            lifecycle: None,
        }
    }
}

/// What a `--dry-run` would move.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// Objects that would be transferred.
    pub objects: u64,
    /// Proof files that would be transferred.
    pub proofs: u64,
    /// Their bytes (from the remote's listing or the local files).
    pub bytes: u64,
    /// Requests the transfer would make (one per key; listings and ref reads excluded).
    pub requests: u64,
}

/// One remote ref that moved (or would have).
#[derive(Clone, Debug, Serialize)]
pub struct RefMove {
    /// The ref (`refs/...`).
    pub name: String,
    /// Its value before (None: absent).
    pub old: Option<String>,
    /// Its value after.
    pub new: String,
    /// Whether the move was forced with a lease.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// The fork resolution that let a chain head cross to another branch (`vc:<digest>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

/// A ref push refused, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    /// The ref.
    pub name: String,
    /// The error class (`conflict`, `missing`).
    pub class: Class,
    /// What went wrong.
    pub message: String,
}

/// What a push did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PushReport {
    /// The remote's URL.
    pub url: String,
    /// Object files uploaded.
    pub objects_sent: u64,
    /// Proof files uploaded.
    pub proofs_sent: u64,
    /// Bytes uploaded.
    pub bytes_sent: u64,
    /// Keys that turned out to be on the remote already.
    pub already_there: u64,
    /// Remote refs moved.
    pub refs_moved: Vec<RefMove>,
    /// Refs already equal on the remote.
    pub refs_up_to_date: Vec<String>,
    /// Refs refused (the push exits 70 when any are).
    pub rejected: Vec<Rejection>,
    /// Remote-tracking refs that could not be updated (the remote refs did move).
    pub warnings: Vec<String>,
    /// `--dry-run`: what would be uploaded (nothing was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_send: Option<Plan>,
    /// `--dry-run`: refs whose remote value differs from ours (fast-forward not checked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_move: Vec<String>,
}

/// What a fetch did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FetchReport {
    /// The remote's URL.
    pub url: String,
    /// Objects downloaded (verified before they entered the repository).
    pub objects_received: u64,
    /// Proof files downloaded.
    pub proofs_received: u64,
    /// Bytes downloaded.
    pub bytes_received: u64,
    /// Proofs that were new to a local object.
    pub proofs_added: u64,
    /// Remote-tracking refs moved.
    pub tracking_moved: Vec<RefMove>,
    /// Remote refs whose target the remote lacks (not tracked; the remote is damaged).
    pub dangling: Vec<String>,
    /// Remote keys that are not msez layout (ignored).
    pub ignored: Vec<String>,
    /// Chains where the remote's head and ours extend one receipt differently (exit 69).
    pub forks: Vec<incoming::Fork>,
    /// Chain refs the remote moved off the history we tracked there (rolled back, or replaced
    /// by another branch): their remote-tracking refs did not move (exit 69).
    pub refused: Vec<Refusal>,
    /// Proof files the remote has that do not verify against their object: skipped, not stored.
    pub proofs_rejected: Vec<RejectedProof>,
    /// Remote chain heads that crossed a fork by a resolution our trust anchors count.
    pub resolved: Vec<incoming::Resolved>,
    /// Listed raw objects (blobs) no remote ref reaches, not downloaded (0 with
    /// `--all-objects`).
    pub unreferenced_objects: u64,
    /// Their bytes, from the listing.
    pub unreferenced_bytes: u64,
    /// `--dry-run`: what would have been downloaded (nothing was stored, no ref moved).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_receive: Option<Plan>,
    /// Remote refs and their values, as read.
    #[serde(skip)]
    pub remote_refs: BTreeMap<RefName, Digest>,
}

/// A remote chain ref that does not extend what we tracked there.
#[derive(Clone, Debug, Serialize)]
pub struct Refusal {
    /// The remote ref (`refs/...`).
    pub name: String,
    /// `rollback` (a strict ancestor of our tracking value), `fork` (neither ancestor nor
    /// descendant) or `unverifiable` (a receipt needed to decide is not here).
    pub kind: &'static str,
    /// Our remote-tracking value (unchanged).
    pub tracking: String,
    /// The remote's value.
    pub remote: String,
    /// For a fork: the first sequence where the branches differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// For a fork: the ref that keeps the remote's branch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

/// A remote proof file that was not stored, and why.
#[derive(Clone, Debug, Serialize)]
pub struct RejectedProof {
    /// The object it claims to sign.
    pub object: String,
    /// The remote key.
    pub key: String,
    /// The error code (`signature.*`, `digest.*`, `schema.*`, `missing.*`).
    pub code: &'static str,
    /// Why it was skipped.
    pub message: String,
}

/// What a pull did on top of its fetch.
#[derive(Clone, Debug, Default, Serialize)]
pub struct PullReport {
    /// The fetch.
    pub fetch: FetchReport,
    /// Local refs fast-forwarded (or created).
    pub refs_moved: Vec<RefMove>,
    /// Local refs that diverged from the remote: both kept (the pull exits 69 when any are).
    pub diverged: Vec<Divergence>,
    /// Post-pull hook failures (reported, not undone).
    pub warnings: Vec<String>,
    /// Local chain heads that crossed a fork by a resolution our trust anchors count (the
    /// old head is kept under the chain's `forks/<next_root>` ref).
    pub resolved: Vec<incoming::Resolved>,
}

/// A local ref and its remote counterpart that neither contains the other.
#[derive(Clone, Debug, Serialize)]
pub struct Divergence {
    /// The ref.
    pub name: String,
    /// Our value (unchanged).
    pub local: String,
    /// The remote's value (kept in the remote-tracking ref).
    pub remote: String,
    /// The remote-tracking ref that holds the remote's value.
    pub tracking: String,
}

/// The remote-tracking ref of `name` for remote `remote`.
pub fn tracking_ref(remote: &str, name: &RefName) -> Result<RefName, Error> {
    let rest = name.as_str().strip_prefix("refs/").unwrap_or(name.as_str());
    Ok(RefName::new(&format!("refs/remotes/{remote}/{rest}"))?)
}

/// Checks a remote name: one ref component of letters, digits, `-`, `_` and `.`.
pub fn check_remote_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".lock")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Name {
            what: "invalid name (letters, digits, '-', '_', '.') for",
            name: name.to_string(),
        })
    }
}

/// Drops what we remember about a remote's keys (its URL changed or it was removed).
pub fn forget(repo: &Repo, remote: &str) -> Result<(), Error> {
    let path = Known::path(repo, remote);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

/// The keys we know a remote has (`.msez/index/remotes/<name>.known`).
struct Known {
    path: PathBuf,
    keys: HashSet<String>,
    file: Mutex<Option<std::fs::File>>,
}

impl Known {
    fn path(repo: &Repo, remote: &str) -> PathBuf {
        repo.dir()
            .join("index")
            .join("remotes")
            .join(format!("{remote}.known"))
    }

    fn load(repo: &Repo, remote: &str) -> Result<Known, Error> {
        let path = Known::path(repo, remote);
        let keys = match std::fs::read_to_string(&path) {
            // A line cut by a crash is not a key we know: keep only well-formed ones.
            Ok(text) => text
                .lines()
                .filter(|l| {
                    layout::parse_object_key(l).is_some() || layout::parse_proof_key(l).is_some()
                })
                .map(str::to_string)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashSet::new(),
            Err(e) => return Err(Error::io("reading", &path, e)),
        };
        Ok(Known {
            path,
            keys,
            file: Mutex::new(None),
        })
    }

    fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    fn record(&self, keys: &[String]) -> Result<(), Error> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| Error::io("opening", &self.path, e))?;
            *guard = Some(f);
        }
        let mut text = String::new();
        for k in keys {
            text.push_str(k);
            text.push('\n');
        }
        if let Some(f) = guard.as_mut() {
            f.write_all(text.as_bytes())
                .map_err(|e| Error::io("appending to", &self.path, e))?;
        }
        Ok(())
    }
}

/// Runs `f` on every item with up to `jobs` threads; stops at the first error or interrupt.
pub(super) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    stop: &AtomicBool,
    f: impl Fn(&T) -> Result<R, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let results: Mutex<Vec<R>> = Mutex::new(Vec::with_capacity(items.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, 64).min(items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        return;
                    }
                    if stop.load(Ordering::Relaxed) {
                        failed.store(true, Ordering::Relaxed);
                        let mut e = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        e.get_or_insert(Error::Interrupted);
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    match f(item) {
                        Ok(r) => results.lock().unwrap_or_else(|p| p.into_inner()).push(r),
                        Err(err) => {
                            failed.store(true, Ordering::Relaxed);
                            let mut e = first_error.lock().unwrap_or_else(|p| p.into_inner());
                            e.get_or_insert(err);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The stored object a ref names (its type from the namespace, else whichever type has it).
fn local_target(repo: &Repo, name: &RefName, digest: Digest) -> Result<Option<ObjectId>, Error> {
    if let Some(t) = ref_object_type(name) {
        let id = ObjectId::new(ArtifactType::new(t).map_err(odb::Error::from)?, digest);
        return Ok(repo.has(&id).then_some(id));
    }
    Ok(repo.find_digest(digest)?)
}

/// Whether the remote (as listed) holds the object a ref names.
fn remote_has_target(objects: &HashSet<ObjectId>, name: &RefName, digest: Digest) -> bool {
    match ref_object_type(name) {
        Some(t) => ArtifactType::new(t)
            .map(|t| objects.contains(&ObjectId::new(t, digest)))
            .unwrap_or(false),
        None => objects.iter().any(|id| id.digest == digest),
    }
}

/// Checks bytes from a remote against the object key they came from, before they are stored.
pub(crate) fn verify_object(id: &ObjectId, key: &str, bytes: &[u8]) -> Result<(), Error> {
    let tampered = |found: String| Error::Tampered {
        object: id.to_string(),
        key: key.to_string(),
        expected: id.digest.to_hex(),
        found,
    };
    let rule = id.artifact_type.rule();
    if rule.encoding() == Encoding::Raw {
        let d = artifact::digest_bytes(&id.artifact_type, bytes)
            .map_err(|e| tampered(format!("no digest ({e})")))?;
        return if d == id.digest {
            Ok(())
        } else {
            Err(tampered(d.to_hex()))
        };
    }
    let value = canon::parse(bytes).map_err(|e| tampered(format!("unparsable JSON ({e})")))?;
    let d = rule
        .digest_json(&value)
        .map_err(|e| tampered(format!("no digest ({e})")))?;
    if d != id.digest {
        return Err(tampered(d.to_hex()));
    }
    // A receipt's next_root (a genesis' asset_id, ...) must agree with what its content gives.
    match rule.declared(&value) {
        Some(declared) if Digest::parse_loose(declared).ok() != Some(id.digest) => {
            Err(tampered(format!("a declared digest of {declared}")))
        }
        None if matches!(rule, DigestRule::NextRoot(_)) => {
            Err(tampered("no declared next_root".to_string()))
        }
        _ => Ok(()),
    }
}

/// Checks a proof file's bytes against its name; returns the proof.
pub(super) fn verify_proof(
    id: &ObjectId,
    h: &str,
    key: &str,
    bytes: &[u8],
) -> Result<Value, Error> {
    let tampered = |found: String| Error::Tampered {
        object: format!("proof {h} of {id}"),
        key: key.to_string(),
        expected: h.to_string(),
        found,
    };
    let value = canon::parse(bytes).map_err(|e| tampered(format!("unparsable JSON ({e})")))?;
    let d = canon::digest_of(&value).map_err(|e| tampered(format!("no digest ({e})")))?;
    if d.to_hex() != h {
        return Err(tampered(d.to_hex()));
    }
    Ok(value)
}

/// A writer that hashes what passes through it: SHA-256 (the raw types' digest) and blake3
/// (the store's checksum index).
struct Hashing<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    b3: blake3::Hasher,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.b3.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        use sha2::Digest as _;
        Hashing {
            inner,
            hasher: sha2::Sha256::new(),
            b3: blake3::Hasher::new(),
            size: 0,
        }
    }

    fn finish(self) -> (Digest, odb::Checksum) {
        use sha2::Digest as _;
        let sum = odb::Checksum {
            blake3: *self.b3.finalize().as_bytes(),
            size: self.size,
        };
        (Digest(self.hasher.finalize().into()), sum)
    }
}

/// Raw objects named by the SHA-256 of their bytes are streamed, never held in memory.
fn is_streamed(item: &Item) -> bool {
    matches!(item, Item::Object(id) if id.artifact_type.rule() == DigestRule::Bytes)
}

/// Streams a remote raw object into `out`, hashing as it passes; Ok(None) when absent, else
/// the checksum of what was written.
fn download_raw(
    backend: &dyn Backend,
    opts: &Options,
    id: &ObjectId,
    key: &str,
    mut open: impl FnMut() -> Result<Box<dyn Write>, Error>,
) -> Result<Option<odb::Checksum>, Error> {
    let got = opts.retry.run(|| {
        // A retry starts the file over, so a half-written attempt never counts.
        let mut w = Hashing::new(open()?);
        let n = backend.get_to(key, &mut w)?;
        w.flush()
            .map_err(|e| Error::io("writing a download of", key, e))?;
        Ok(n.map(|_| w.finish()))
    })?;
    let Some((digest, sum)) = got else {
        return Ok(None);
    };
    if digest != id.digest {
        return Err(Error::Tampered {
            object: id.to_string(),
            key: key.to_string(),
            expected: id.digest.to_hex(),
            found: digest.to_hex(),
        });
    }
    Ok(Some(sum))
}

/// Uploads one item unless the remote has it; (created, bytes).
fn upload(
    repo: &Repo,
    backend: &dyn Backend,
    opts: &Options,
    item: &Item,
) -> Result<(bool, u64), Error> {
    let key = item.key();
    if let (true, Item::Object(id)) = (is_streamed(item), item) {
        // Checked against its name as it is read: damage is never spread.
        let size = repo.copy_raw(id, &mut std::io::sink())?;
        let path = repo.object_path(id);
        let created = opts.retry.run(|| backend.put_file_if_absent(&key, &path))?;
        return Ok((created, size));
    }
    let bytes = local_bytes(repo, item)?;
    let created = opts.retry.run(|| backend.put_if_absent(&key, &bytes))?;
    Ok((created, bytes.len() as u64))
}

/// Every local object and proof file, as remote keys.
fn local_keys(repo: &Repo) -> Result<Vec<Item>, Error> {
    let mut out = Vec::new();
    for entry in repo.list_objects()? {
        let Ok(id) = entry else { continue };
        out.push(Item::Object(id.clone()));
        if id.artifact_type.rule().encoding() == Encoding::Json {
            for (path, _) in repo.proof_files(&id)? {
                if let Some(h) = path.file_stem().and_then(|s| s.to_str()) {
                    out.push(Item::Proof(id.clone(), h.to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// One thing to transfer.
#[derive(Clone, Debug)]
enum Item {
    Object(ObjectId),
    Proof(ObjectId, String),
}

impl Item {
    fn key(&self) -> String {
        match self {
            Item::Object(id) => layout::object_key(id),
            Item::Proof(id, h) => layout::proof_key(id, h),
        }
    }
}

/// The bytes to upload for an item, checked against their name first (never spread damage).
fn local_bytes(repo: &Repo, item: &Item) -> Result<Vec<u8>, Error> {
    let (bytes, path) = match item {
        Item::Object(id) => repo.object_bytes(id)?,
        Item::Proof(id, h) => {
            let path = repo.proofs_dir(id).join(format!("{h}.json"));
            let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
            (bytes, path)
        }
    };
    let check = match item {
        Item::Object(id) => verify_object(id, &item.key(), &bytes).map(|_| ()),
        Item::Proof(id, h) => {
            let proof = verify_proof(id, h, &item.key(), &bytes)?;
            // A proof file that does not sign its object is not spread (gc removes it).
            let object = repo.read_json(id)?;
            if let Err(e) = crate::fsck::proof_signs(&object, &proof) {
                return Err(Error::ProofFile {
                    object: id.to_string(),
                    file: path.clone(),
                    source: e,
                });
            }
            Ok(())
        }
    };
    check.map_err(|e| match e {
        Error::Tampered {
            object,
            expected,
            found,
            ..
        } => Error::Odb(odb::Error::Corrupt {
            object,
            path: path.clone(),
            method: "bytes",
            expected,
            found,
        }),
        other => other,
    })?;
    Ok(bytes)
}

/// The inline proofs of a stored JSON object, as proof-file items with their bytes.
fn inline_proofs(repo: &Repo, id: &ObjectId) -> Result<Vec<(Item, Vec<u8>)>, Error> {
    if !id.artifact_type.rule().proofs_outside_digest() {
        return Ok(Vec::new());
    }
    let (bytes, _) = repo.object_bytes(id)?;
    let Ok(value) = canon::parse(&bytes) else {
        return Ok(Vec::new());
    };
    let proofs = match value.get("proof") {
        Some(Value::Array(items)) => items.clone(),
        Some(p @ Value::Object(_)) => vec![p.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for p in proofs {
        let Ok(mut b) = canon::to_bytes(&p) else {
            continue;
        };
        let h = canon::sha256(&b).to_hex();
        b.push(b'\n');
        out.push((Item::Proof(id.clone(), h), b));
    }
    Ok(out)
}

/// Pushes local refs (all but `refs/remotes/`, or `only`) and what they need to a remote.
pub fn push(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    only: &[RefName],
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<PushReport, Error> {
    let lease = if backend.atomic_conditionals() {
        None
    } else {
        Some(Lease::acquire(backend)?)
    };
    let result = push_inner(repo, remote, backend, only, opts, progress, stop);
    if let Some(lease) = lease {
        lease.release(backend)?;
    }
    result
}

fn push_inner(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    only: &[RefName],
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<PushReport, Error> {
    let mut report = PushReport {
        url: backend.url(),
        ..PushReport::default()
    };
    let all_refs = repo.refs()?;
    let refs: Vec<(RefName, Digest)> = if only.is_empty() {
        all_refs
            .iter()
            .filter(|(n, _)| !n.as_str().starts_with("refs/remotes/"))
            .cloned()
            .collect()
    } else {
        let mut out = Vec::new();
        for name in only {
            let value = repo.read_ref(name)?.ok_or_else(|| odb::Error::Missing {
                object: name.to_string(),
            })?;
            out.push((name.clone(), value));
        }
        out
    };
    // pre-push sees every ref it is about to send and can veto the whole push.
    let mut tracking = Vec::with_capacity(refs.len());
    for (name, value) in &refs {
        let t = repo.read_ref(&tracking_ref(remote, name)?)?;
        let reason = format!("push {remote} {}", backend.url());
        let env = HookEnv {
            ref_name: name.as_str(),
            old: t.map(|d| d.to_hex()).unwrap_or_default(),
            new: value.to_hex(),
            reason: &reason,
        };
        repo.run_hook(Event::PrePush, &env)?;
        tracking.push(t);
    }

    // The remote refs we are about to move, read first: their values say what the remote
    // already holds (a ref's closure is always there before the ref), and their versions are
    // what the conditional writes below expect.
    let mut current = Vec::with_capacity(refs.len());
    for (name, _) in &refs {
        let key = layout::ref_key(name);
        let blob = opts.retry.run(|| backend.get(&key, None))?;
        let value =
            match &blob {
                Some(b) => Some(layout::parse_ref_value(&b.bytes).ok_or_else(|| {
                    Error::NotFastForward {
                        name: name.to_string(),
                        found: String::from_utf8_lossy(&b.bytes).chars().take(80).collect(),
                        why: "the remote ref is not a digest",
                    }
                })?),
                None => None,
            };
        current.push((blob, value));
    }
    // A remote ref that still holds what we last saw there means this is the msez remote we
    // checked before: its format file is read again only when that is not so (a first push, a
    // remote that moved or was replaced).
    let familiar = tracking
        .iter()
        .zip(&current)
        .any(|(t, (_, v))| t.is_some() && t == v);
    // A dry run writes nothing there, not even the format file of a new remote.
    if !familiar && !layout::check_format(backend)? && !opts.dry_run {
        opts.retry
            .run(|| backend.put_if_absent(FORMAT_KEY, &layout::format_bytes()))?;
        layout::check_format(backend)?;
    }

    // Objects and proof files first: a ref must never name something the remote lacks.
    let known = Known::load(repo, remote)?;
    let mut known_now: HashSet<String> = known.keys.clone();
    if known_now.is_empty() {
        // First contact: one listing beats one conditional PUT per object.
        let mut seen = Vec::new();
        for prefix in ["objects/", "proofs/"] {
            for m in opts.retry.run(|| backend.list(prefix))? {
                seen.push(m.key);
            }
        }
        known.record(&seen)?;
        known_now.extend(seen);
    }
    let candidates = if opts.all_objects {
        local_keys(repo)?
    } else {
        // What the remote holds for sure: the closures of the values just read, and of the
        // remote-tracking refs of refs this push does not move.
        let pushed: HashSet<&RefName> = refs.iter().map(|(n, _)| n).collect();
        let mut covering: Vec<(RefName, Digest)> = refs
            .iter()
            .zip(&current)
            .filter_map(|((n, _), (_, v))| v.map(|v| (n.clone(), v)))
            .collect();
        let prefix = format!("refs/remotes/{remote}/");
        for (n, v) in &all_refs {
            let Some(rest) = n.as_str().strip_prefix(&prefix) else {
                continue;
            };
            if let Ok(own) = RefName::new(&format!("refs/{rest}")) {
                if !pushed.contains(&own) {
                    covering.push((own, *v));
                }
            }
        }
        closure_keys(repo, &refs, &covering, &known_now)?
    };
    let todo: Vec<Item> = candidates
        .into_iter()
        .filter(|i| !known_now.contains(&i.key()))
        .collect();
    if opts.dry_run {
        let mut plan = Plan::default();
        for item in &todo {
            plan.bytes += match item {
                // Streamed objects are loose files: their size is their length.
                Item::Object(id) if is_streamed(item) => std::fs::metadata(repo.object_path(id))
                    .map(|m| m.len())
                    .unwrap_or(0),
                _ => local_bytes(repo, item)?.len() as u64,
            };
            match item {
                Item::Object(_) => plan.objects += 1,
                Item::Proof(..) => plan.proofs += 1,
            }
        }
        for ((name, value), (_, remote_value)) in refs.iter().zip(&current) {
            if *remote_value != Some(*value) {
                report.would_move.push(name.to_string());
            }
        }
        // One conditional PUT per key, one per ref (S3 adds a lock object's create and
        // delete around each ref write).
        plan.requests = plan.objects + plan.proofs + report.would_move.len() as u64;
        report.would_send = Some(plan);
        return Ok(report);
    }
    progress.set_total(todo.len() as u64);
    let objects_sent = AtomicUsize::new(0);
    let proofs_sent = AtomicUsize::new(0);
    let bytes_sent = AtomicUsize::new(0);
    let already = AtomicUsize::new(0);
    // Objects this run saw on the remote (created, or found there by create-if-absent).
    let present: Mutex<HashSet<ObjectId>> = Mutex::new(HashSet::new());
    let count = |item: &Item, created: bool, size: u64| -> Result<(), Error> {
        if created {
            bytes_sent.fetch_add(size as usize, Ordering::Relaxed);
            match item {
                Item::Object(_) => objects_sent.fetch_add(1, Ordering::Relaxed),
                Item::Proof(..) => proofs_sent.fetch_add(1, Ordering::Relaxed),
            };
        } else {
            already.fetch_add(1, Ordering::Relaxed);
        }
        if let Item::Object(id) = item {
            present
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone());
        }
        known.record(std::slice::from_ref(&item.key()))
    };
    parallel(&todo, opts.jobs, stop, |item| {
        let (created, size) = upload(repo, backend, opts, item)?;
        count(item, created, size)?;
        // The remote had this object from someone else, perhaps with other inline proofs:
        // ours travel as proof files so neither side's signatures are lost.
        if let (false, Item::Object(id)) = (created, item) {
            for (proof, bytes) in inline_proofs(repo, id)? {
                let key = proof.key();
                let created = opts.retry.run(|| backend.put_if_absent(&key, &bytes))?;
                count(&proof, created, bytes.len() as u64)?;
            }
        }
        progress.inc(1);
        Ok(())
    })?;
    report.objects_sent = objects_sent.load(Ordering::Relaxed) as u64;
    report.proofs_sent = proofs_sent.load(Ordering::Relaxed) as u64;
    report.bytes_sent = bytes_sent.load(Ordering::Relaxed) as u64;
    report.already_there = already.load(Ordering::Relaxed) as u64;
    let present = present.into_inner().unwrap_or_else(|p| p.into_inner());

    for (((name, value), old_tracking), (blob, remote_value)) in
        refs.into_iter().zip(tracking).zip(current)
    {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Interrupted);
        }
        let seen = RemoteRef {
            tracking: old_tracking,
            blob,
            value: remote_value,
        };
        match push_ref(
            repo,
            remote,
            backend,
            &name,
            value,
            &seen,
            &present,
            opts,
            &mut report.warnings,
        ) {
            Ok(Some(m)) => report.refs_moved.push(m),
            Ok(None) => report.refs_up_to_date.push(name.to_string()),
            Err(e) if matches!(e.class_of(), Class::Conflict | Class::Missing) => {
                report.rejected.push(Rejection {
                    name: name.to_string(),
                    class: e.class_of(),
                    message: Finding::from_error(&e).message,
                })
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// What a push needs to send for `refs`: the objects they reach, walked from their values and
/// stopped at the closures of `covering` (refs whose values the remote holds: a receipt chain
/// head covers every earlier receipt, an object its links); plus every local proof file the
/// remote is not known to have, of an object it has or gets (a later co-signature on an old
/// receipt travels though the receipt does not).
fn closure_keys(
    repo: &Repo,
    refs: &[(RefName, Digest)],
    covering: &[(RefName, Digest)],
    known: &HashSet<String>,
) -> Result<Vec<Item>, Error> {
    let mut roots = Vec::new();
    for (name, value) in covering {
        crate::reach::ref_roots(name, *value, &mut roots);
    }
    let mut covered_ids = HashSet::new();
    let mut covered_digests = HashSet::new();
    for r in roots {
        match r {
            crate::reach::Root::Id(id) => covered_ids.insert(id),
            crate::reach::Root::Digest(d) => covered_digests.insert(d),
        };
    }
    let mut roots = Vec::new();
    for (name, value) in refs {
        crate::reach::ref_roots(name, *value, &mut roots);
    }
    // (object, whether it must be here): a ref's typed target, an asset chain's genesis and a
    // receipt's parent must (a clone could not verify the chain without them); the guesses of
    // an untyped ref and embedded references may be absent (a dangling embedded reference is
    // fsck's business, not a hole in a chain).
    let mut stack: Vec<(ObjectId, bool)> = Vec::new();
    for r in roots {
        match r {
            crate::reach::Root::Id(id) => {
                let required = id.artifact_type.rule().encoding() == Encoding::Json;
                stack.push((id, required))
            }
            // Every stored type with that digest, as gc marks it.
            crate::reach::Root::Digest(d) => stack.extend(
                repo.object_types()?
                    .into_iter()
                    .map(|t| (ObjectId::new(t, d), false)),
            ),
        }
    }
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let covered = |id: &ObjectId| covered_ids.contains(id) || covered_digests.contains(&id.digest);
    let out: Vec<Item> = crate::reach::walk(
        &Verified(repo),
        stack,
        crate::reach::Require::Chains,
        &mut seen,
        &covered,
    )?
    .into_iter()
    .map(Item::Object)
    .collect();
    let mut out = out;
    // Proof files live apart from their objects and only for proofs that came later, so this
    // walk is as long as the list of objects that gained a proof, not the store.
    for (id, h) in local_proof_files(repo)? {
        let key = layout::proof_key(&id, &h);
        if known.contains(&key) {
            continue;
        }
        let remote_has = seen.contains(&id)
            || covered_ids.contains(&id)
            || covered_digests.contains(&id.digest)
            || known.contains(&layout::object_key(&id));
        if remote_has {
            out.push(Item::Proof(id, h));
        }
    }
    Ok(out)
}

/// A stored JSON object, checked against its name. Stored bytes that do not even parse were
/// damaged on disk (a flipped byte, a pack entry read at a wrong offset): that is a digest
/// failure of the object, not a schema error of some input.
fn stored_json(repo: &Repo, id: &ObjectId) -> Result<Value, Error> {
    repo.read_json(id).map_err(|e| match e {
        odb::Error::Canon { object, source } => {
            let path = repo
                .locate(id)
                .ok()
                .flatten()
                .map(|at| at.path().to_path_buf())
                .unwrap_or_else(|| repo.object_path(id));
            Error::Odb(odb::Error::Corrupt {
                object,
                path,
                method: id.artifact_type.rule().method(),
                expected: id.digest.to_hex(),
                found: format!("bytes that are not canonical-able JSON ({source})"),
            })
        }
        other => Error::Odb(other),
    })
}

/// The repository as push's walk reads it: each JSON object checked against its name as it
/// is read (a flipped byte stops the push), a hole in a chain stops it before any ref moves.
struct Verified<'r>(&'r Repo);

impl crate::reach::Source for Verified<'_> {
    type Error = Error;
    fn has(&self, id: &ObjectId) -> Result<bool, Error> {
        Ok(self.0.has(id))
    }
    fn read_json(&self, id: &ObjectId) -> Result<Option<Value>, Error> {
        stored_json(self.0, id).map(Some)
    }
    fn missing(&self, id: &ObjectId) -> Error {
        Error::Odb(odb::Error::Missing {
            object: id.to_string(),
        })
    }
}

/// Every proof file under `.msez/proofs` (`<type>/<digest>/<h>.json`), by object and hash.
fn local_proof_files(repo: &Repo) -> Result<Vec<(ObjectId, String)>, Error> {
    let root = repo.dir().join("proofs");
    let list = |dir: &Path| -> Result<Vec<std::fs::DirEntry>, Error> {
        match std::fs::read_dir(dir) {
            Ok(entries) => Ok(entries.flatten().collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io("listing", dir, e)),
        }
    };
    let mut out = Vec::new();
    for t in list(&root)? {
        let Some(artifact_type) = t
            .file_name()
            .to_str()
            .and_then(|s| ArtifactType::new(s).ok())
        else {
            continue;
        };
        for d in list(&t.path())? {
            let Some(digest) = d.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let id = ObjectId::new(artifact_type.clone(), digest);
            for f in list(&d.path())? {
                let name = f.file_name();
                let Some(h) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                    continue;
                };
                if h.parse::<Digest>().is_ok() {
                    out.push((id.clone(), h.to_string()));
                }
            }
        }
    }
    Ok(out)
}

/// What push knows about one remote ref before moving it.
struct RemoteRef {
    /// Our remote-tracking value (what we last saw there).
    tracking: Option<Digest>,
    /// The remote ref as read at the start of the push (None: absent).
    blob: Option<super::Blob>,
    /// Its value.
    value: Option<Digest>,
}

impl Error {
    fn class_of(&self) -> Class {
        crate::taxonomy::Classify::class(self)
    }
}

/// Moves one remote ref to `value` by a conditional write; None when it already was there.
#[allow(clippy::too_many_arguments)]
fn push_ref(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    name: &RefName,
    value: Digest,
    seen: &RemoteRef,
    present: &HashSet<ObjectId>,
    opts: &Options,
    warnings: &mut Vec<String>,
) -> Result<Option<RefMove>, Error> {
    let key = layout::ref_key(name);
    let tracking_name = tracking_ref(remote, name)?;
    let tracking = seen.tracking;
    let remote_value = seen.value;
    // The remote-tracking ref is only our memory of the remote: failing to move it (say, a
    // lock left by a killed msez) must not fail a push whose remote ref did move.
    let mut record = |reason: &str| {
        if tracking != Some(value) {
            if let Err(e) = repo.update_ref(&tracking_name, value, Expect::Any, reason) {
                warnings.push(format!("{tracking_name} not updated: {e}"));
            }
        }
    };
    if remote_value == Some(value) {
        record(&format!("push {remote}: already there"));
        return Ok(None);
    }
    // The target must be on the remote before the ref names it, whatever our record says
    // (a remote gc may have taken what an interrupted push left unreferenced): unless this
    // run's own upload just saw it there, ask.
    let target = local_target(repo, name, value)?.ok_or_else(|| odb::Error::Missing {
        object: format!("*:{value} (from {name})"),
    })?;
    let target_key = layout::object_key(&target);
    if !present.contains(&target) && opts.retry.run(|| backend.head(&target_key))?.is_none() {
        upload(repo, backend, opts, &Item::Object(target.clone()))?;
        for (path, _) in repo.proof_files(&target)? {
            if let Some(h) = path.file_stem().and_then(|s| s.to_str()) {
                upload(
                    repo,
                    backend,
                    opts,
                    &Item::Proof(target.clone(), h.to_string()),
                )?;
            }
        }
    }
    if let (true, Some(v)) = (incoming::is_chain_ref(name), remote_value) {
        // A chain ref moves only to a value that extends the remote's, checked by the
        // receipts' links: never by "a value we once held", and a lease does not override it.
        let mut resolution = None;
        let why = match incoming::relate_ref(repo, name, v, value).map_err(chain_err)? {
            incoming::Relation::Extends | incoming::Relation::Same => None,
            incoming::Relation::Behind => Some("it would roll the remote's chain back"),
            incoming::Relation::Fork {
                sequence,
                prev_root,
            } => {
                // The one way across a fork: a resolution our anchors count, sent first so
                // that it travels with the head and every receiver can check it.
                resolution = incoming::resolution_for(
                    repo,
                    name,
                    value,
                    sequence,
                    prev_root,
                    opts.trust_anchors.as_deref(),
                    opts.lifecycle.as_deref(),
                )
                .map_err(chain_err)?;
                resolution.is_none().then_some(
                    "the remote's chain forked from ours and no fork resolution our trust \
                     anchors count chooses our branch",
                )
            }
            incoming::Relation::Unknown => {
                Some("the remote's value is not on our chain (fetch it first)")
            }
        };
        if let Some(why) = why {
            return Err(Error::NotFastForward {
                name: name.to_string(),
                found: v.to_hex(),
                why,
            });
        }
        if let Some(r) = &resolution {
            let cred = Item::Object(r.credential.clone());
            if opts.retry.run(|| backend.head(&cred.key()))?.is_none() {
                upload(repo, backend, opts, &cred)?;
            }
            for (path, _) in repo.proof_files(&r.credential)? {
                if let Some(h) = path.file_stem().and_then(|s| s.to_str()) {
                    let item = Item::Proof(r.credential.clone(), h.to_string());
                    upload(repo, backend, opts, &item)?;
                }
            }
        }
        return move_remote_ref(backend, opts, &key, value, &seen.blob).map(|()| {
            record(&format!("push {remote}"));
            Some(RefMove {
                name: name.to_string(),
                old: remote_value.map(|d| d.to_hex()),
                new: value.to_hex(),
                forced: false,
                resolution: resolution.map(|r| r.credential.to_string()),
            })
        });
    }
    let history: HashSet<Digest> = repo
        .reflog(name)?
        .into_iter()
        .flat_map(|e| [e.old, Some(e.new)])
        .flatten()
        .chain([value])
        .collect();
    let fast_forward = match remote_value {
        None => true,
        Some(v) => history.contains(&v),
    };
    let forced = !fast_forward && opts.force_with_lease && remote_value == tracking;
    if !fast_forward && !forced {
        let why = if opts.force_with_lease {
            "the remote no longer holds what we last fetched"
        } else {
            "not a fast-forward"
        };
        return Err(Error::NotFastForward {
            name: name.to_string(),
            found: remote_value.map(|d| d.to_hex()).unwrap_or_default(),
            why,
        });
    }
    move_remote_ref(backend, opts, &key, value, &seen.blob)?;
    record(&format!("push {remote}"));
    Ok(Some(RefMove {
        name: name.to_string(),
        old: remote_value.map(|d| d.to_hex()),
        new: value.to_hex(),
        forced,
        resolution: None,
    }))
}

/// A chain error met while placing a ref on its chain: a repository failure stays one (it is
/// no verdict on what the remote sent).
pub(super) fn chain_err(e: crate::chain::Error) -> Error {
    match e {
        crate::chain::Error::Odb(e) => Error::Odb(e),
        other => Error::Receipt(Box::new(other)),
    }
}

/// Writes a remote ref by a conditional write against the version read at the push's start.
fn move_remote_ref(
    backend: &dyn Backend,
    opts: &Options,
    key: &str,
    value: Digest,
    blob: &Option<super::Blob>,
) -> Result<(), Error> {
    let bytes = format!("{value}\n").into_bytes();
    match blob {
        None => {
            if !opts.retry.run(|| backend.put_if_absent(key, &bytes))? {
                return Err(Error::Precondition {
                    key: key.to_string(),
                });
            }
        }
        Some(blob) => {
            opts.retry
                .run(|| backend.put_if_match(key, &bytes, &blob.version))?;
        }
    }
    Ok(())
}

/// A verified download waiting to enter the repository.
enum Staged {
    /// An object file in the staging directory; raw types carry the checksum of its bytes.
    Object(ObjectId, PathBuf, Option<odb::Checksum>),
    /// A proof file whose name is its digest (its signature is checked before it is kept).
    Proof(ObjectId, Value, String),
    /// A proof file that is not kept, and why.
    Rejected(RejectedProof),
}

/// Keeps the fetched proof files that sign their object, stored here or staged by this fetch;
/// the others become [`Staged::Rejected`] entries in `rejected`.
fn check_fetched_proofs(
    repo: &Repo,
    staged: Vec<Staged>,
    rejected: &mut Vec<RejectedProof>,
) -> Result<Vec<Staged>, Error> {
    let files: HashMap<ObjectId, PathBuf> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Object(id, p, _) => Some((id.clone(), p.clone())),
            _ => None,
        })
        .collect();
    // One read per object however many proofs it has.
    let mut objects: HashMap<ObjectId, Option<Value>> = HashMap::new();
    let mut out = Vec::with_capacity(staged.len());
    for s in staged {
        let (id, value, key) = match s {
            Staged::Proof(id, value, key) => (id, value, key),
            Staged::Rejected(r) => {
                rejected.push(r);
                continue;
            }
            other => {
                out.push(other);
                continue;
            }
        };
        let object = match objects.get(&id) {
            Some(v) => v.clone(),
            None => {
                let v = if id.artifact_type.rule().encoding() != Encoding::Json {
                    None
                } else if let Some(path) = files.get(&id) {
                    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
                    canon::parse(&bytes).ok()
                } else if repo.has(&id) {
                    Some(repo.read_json(&id)?)
                } else {
                    None
                };
                objects.insert(id.clone(), v.clone());
                v
            }
        };
        let verdict = match &object {
            None => Err((
                "missing.proof_object",
                format!(
                    "proof file {key} signs {id}, which is no JSON object here or on the remote"
                ),
            )),
            Some(o) => crate::fsck::proof_signs(o, &value).map_err(|e| {
                (
                    crate::taxonomy::Classify::code(&e),
                    format!("proof file {key} does not sign {id}: {e}"),
                )
            }),
        };
        match verdict {
            Ok(()) => out.push(Staged::Proof(id, value, key)),
            Err((code, message)) => rejected.push(RejectedProof {
                object: id.to_string(),
                key,
                code,
                message,
            }),
        }
    }
    Ok(out)
}

/// Downloads what the remote has and we lack, verifies all of it, then stores it and moves
/// the remote-tracking refs. A tampered object fails the fetch before anything is stored.
pub fn fetch(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<FetchReport, Error> {
    let mut report = FetchReport {
        url: backend.url(),
        ..FetchReport::default()
    };
    if !layout::check_format(backend)? {
        return Err(Error::Missing {
            what: "the format file (not an msez remote?)",
            key: format!("{}/{FORMAT_KEY}", backend.url()),
        });
    }
    // Refs first: whatever they name was on the remote before they were written.
    let mut remote_refs = BTreeMap::new();
    for m in opts.retry.run(|| backend.list("refs/"))? {
        let Ok(name) = RefName::new(&m.key) else {
            report.ignored.push(m.key);
            continue;
        };
        let Some(blob) = opts.retry.run(|| backend.get(&m.key, None))? else {
            continue;
        };
        match layout::parse_ref_value(&blob.bytes) {
            Some(d) => {
                remote_refs.insert(name, d);
            }
            None => report.ignored.push(m.key),
        }
    }
    let known = Known::load(repo, remote)?;
    let mut remote_objects = HashSet::new();
    let mut listed_objects = Vec::new();
    let mut listed_proofs = Vec::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let mut seen = Vec::new();
    for prefix in ["objects/", "proofs/"] {
        for m in opts.retry.run(|| backend.list(prefix))? {
            if let Some(id) = layout::parse_object_key(&m.key) {
                listed_objects.push(id.clone());
                remote_objects.insert(id);
            } else if let Some((id, h)) = layout::parse_proof_key(&m.key) {
                listed_proofs.push((id, h));
            } else {
                report.ignored.push(m.key.clone());
                continue;
            }
            sizes.insert(m.key.clone(), m.size);
            seen.push(m.key);
        }
    }
    // Only the bytes the remote refs reach, as push sends only what the pushed refs reach: a
    // raw object (a blob, the bulk of a store) no ref reaches is not downloaded. JSON objects
    // and proof files are all taken, and all verified: a fork resolution travels beside the
    // chain head it lets across (no ref links it), and a forged receipt or proof planted on a
    // remote must be reported, not silently left. The JSON objects on the closure are read
    // once, by the walk, and kept for the staging below.
    let (wanted, prefetched) = if opts.all_objects {
        (None, HashMap::new())
    } else {
        let (closure, cache) =
            remote_closure(repo, backend, opts, &remote_refs, &remote_objects, stop)?;
        (Some(closure), cache)
    };
    let mut todo = Vec::new();
    for id in listed_objects {
        let raw = id.artifact_type.rule().encoding() != Encoding::Json;
        if raw && wanted.as_ref().is_some_and(|w| !w.contains(&id)) {
            report.unreferenced_objects += 1;
            report.unreferenced_bytes += sizes.get(&layout::object_key(&id)).copied().unwrap_or(0);
            continue;
        }
        // Also fetch an object we have but never saw there: its inline proofs may be ones we
        // lack (put merges them as proof files).
        let have = repo.has(&id);
        if !have
            || (!known.contains(&layout::object_key(&id))
                && id.artifact_type.rule().proofs_outside_digest())
        {
            todo.push(Item::Object(id));
        }
    }
    for (id, h) in listed_proofs {
        if !repo.proofs_dir(&id).join(format!("{h}.json")).is_file() {
            todo.push(Item::Proof(id, h));
        }
    }
    if opts.dry_run {
        let mut plan = Plan::default();
        for item in &todo {
            match item {
                Item::Object(_) => plan.objects += 1,
                Item::Proof(..) => plan.proofs += 1,
            }
            plan.bytes += sizes.get(&item.key()).copied().unwrap_or(0);
            // What the closure walk already read is not read again.
            if !matches!(item, Item::Object(id) if prefetched.contains_key(id)) {
                plan.requests += 1;
            }
        }
        report.would_receive = Some(plan);
        report.remote_refs = remote_refs;
        return Ok(report);
    }
    let staging = tempfile::Builder::new()
        .prefix("fetch-")
        .tempdir_in(repo.dir().join("tmp"))
        .map_err(|e| Error::io("creating a staging directory in", repo.dir().join("tmp"), e))?;
    progress.set_total(todo.len() as u64);
    let counter = AtomicUsize::new(0);
    let bytes_received = AtomicUsize::new(0);
    let staged = parallel(&todo, opts.jobs, stop, |item| {
        let key = item.key();
        let missing = || Error::Missing {
            what: "listed key",
            key: key.clone(),
        };
        if let (true, Item::Object(id)) = (is_streamed(item), item) {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let path = staging.path().join(n.to_string());
            let sum = download_raw(backend, opts, id, &key, || {
                let f =
                    std::fs::File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
                Ok(Box::new(std::io::BufWriter::new(f)))
            })?
            .ok_or_else(missing)?;
            bytes_received.fetch_add(sum.size as usize, Ordering::Relaxed);
            progress.inc(1);
            return Ok(Staged::Object(id.clone(), path, Some(sum)));
        }
        let blob = match item {
            Item::Object(id) if prefetched.contains_key(id) => super::Blob {
                bytes: prefetched.get(id).cloned().unwrap_or_default(),
                version: super::Version(String::new()),
            },
            _ => opts
                .retry
                .run(|| backend.get(&key, None))?
                .ok_or_else(missing)?,
        };
        bytes_received.fetch_add(blob.bytes.len(), Ordering::Relaxed);
        let out = match item {
            Item::Object(id) => {
                verify_object(id, &key, &blob.bytes)?;
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let path = staging.path().join(n.to_string());
                std::fs::write(&path, &blob.bytes).map_err(|e| Error::io("writing", &path, e))?;
                let sum =
                    (id.artifact_type.rule().encoding() == Encoding::Raw).then(|| odb::Checksum {
                        blake3: *blake3::hash(&blob.bytes).as_bytes(),
                        size: blob.bytes.len() as u64,
                    });
                Staged::Object(id.clone(), path, sum)
            }
            Item::Proof(id, h) => match verify_proof(id, h, &key, &blob.bytes) {
                Ok(v) => Staged::Proof(id.clone(), v, key.clone()),
                Err(e) => Staged::Rejected(RejectedProof {
                    object: id.to_string(),
                    key: key.clone(),
                    code: crate::taxonomy::Classify::code(&e),
                    message: e.to_string(),
                }),
            },
        };
        progress.inc(1);
        Ok(out)
    })?;
    report.bytes_received = bytes_received.load(Ordering::Relaxed) as u64;

    // Receipts must also be chain links with a valid proof; one that is not stops the fetch.
    let receipts: Vec<(ObjectId, PathBuf)> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Object(id, p, _) if incoming::receipt_kind(&id.artifact_type).is_some() => {
                Some((id.clone(), p.clone()))
            }
            _ => None,
        })
        .collect();
    // A proof file is kept only if it signs its object (here, or fetched with it): a forged
    // signature, a bare value or a proof of nothing is reported and dropped.
    let staged = check_fetched_proofs(repo, staged, &mut report.proofs_rejected)?;
    let fetched_proofs: Vec<(ObjectId, Value)> = staged
        .iter()
        .filter_map(|s| match s {
            Staged::Proof(id, v, _) => Some((id.clone(), v.clone())),
            _ => None,
        })
        .collect();
    incoming::check(repo, &receipts, &fetched_proofs).map_err(|e| Error::Receipt(Box::new(e)))?;

    // Everything verified: now it may enter the repository, objects before proofs and refs.
    // One transaction: every object is made durable by one syncfs, not an fsync each, and
    // published by rename only after it; the refs below move only after that.
    let (objects, proofs): (Vec<_>, Vec<_>) = staged
        .into_iter()
        .partition(|s| matches!(s, Staged::Object(..)));
    let mut batch = odb::Batch::new(repo);
    // The remote's copy of an object we already have can only add proofs: each is checked
    // like a proof file, and only the ones that sign the object are kept.
    let mut merged: Vec<(ObjectId, Value)> = Vec::new();
    for s in objects {
        let Staged::Object(id, path, sum) = s else {
            continue;
        };
        match sum {
            Some(sum) => batch.put_file(id, path, sum)?,
            None => {
                let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
                let value = canon::parse(&bytes).map_err(|e| Error::Tampered {
                    object: id.to_string(),
                    key: layout::object_key(&id),
                    expected: id.digest.to_hex(),
                    found: format!("unparsable JSON ({e})"),
                })?;
                if id.artifact_type.rule().proofs_outside_digest() && repo.has(&id) {
                    for proof in odb::proof_list(&value) {
                        match crate::fsck::proof_signs(&value, &proof) {
                            Ok(()) => merged.push((id.clone(), proof)),
                            Err(e) => report.proofs_rejected.push(RejectedProof {
                                object: id.to_string(),
                                key: layout::object_key(&id),
                                code: crate::taxonomy::Classify::code(&e),
                                message: format!(
                                    "an inline proof of the remote's copy of {id} does not \
                                     sign it: {e}"
                                ),
                            }),
                        }
                    }
                    continue;
                }
                let stored = batch.put_json(&id.artifact_type, &value)?;
                if stored != id {
                    return Err(Error::Tampered {
                        object: id.to_string(),
                        key: layout::object_key(&id),
                        expected: id.digest.to_hex(),
                        found: stored.digest.to_hex(),
                    });
                }
            }
        }
    }
    let committed = batch.commit()?;
    report.objects_received += committed.created;
    report.proofs_added += committed.proofs_added;
    // A proof file the object already carries inline (a pusher re-sends its inline proofs as
    // files when the remote had the object) adds nothing: storing it would only make this
    // repository's files differ from the pusher's.
    let mut inline: HashMap<ObjectId, HashSet<(String, String)>> = HashMap::new();
    let merged =
        merged
            .into_iter()
            .map(|(id, p)| (id, p, false))
            .chain(proofs.into_iter().filter_map(|s| match s {
                Staged::Proof(id, value, _) => Some((id, value, true)),
                _ => None,
            }));
    for (id, value, file) in merged {
        {
            report.proofs_received += u64::from(file);
            let carried = inline.entry(id.clone()).or_insert_with(|| {
                repo.read_json(&id)
                    .map(|v| {
                        crate::odb::proof_list(&v)
                            .iter()
                            .map(crate::odb::proof_key)
                            .collect()
                    })
                    .unwrap_or_default()
            });
            if !carried.contains(&crate::odb::proof_key(&value))
                && repo.add_proof_file(&id, &value)?
            {
                report.proofs_added += 1;
            }
        }
    }
    known.record(&seen)?;
    drop(staging);

    // Heads first: a checkpoint may follow its head across a counted fork resolution.
    let mut order: Vec<(&RefName, &Digest)> = remote_refs.iter().collect();
    order.sort_by_key(|(n, _)| incoming::checkpoint_kind(n).is_some());
    for (name, value) in order {
        if !remote_has_target(&remote_objects, name, *value) {
            report.dangling.push(name.to_string());
            continue;
        }
        let tracking = tracking_ref(remote, name)?;
        let old = repo.read_ref(&tracking)?;
        let follows = super::checkpoint::follows_resolved_head(
            repo,
            name,
            *value,
            &remote_refs,
            &report.resolved,
        );
        if !follows {
            if let Some(refusal) =
                check_history(repo, remote, name, old, *value, opts, &mut report.resolved)?
            {
                report.refused.push(refusal);
                continue;
            }
        }
        if old != Some(*value) {
            repo.update_ref(&tracking, *value, Expect::Any, &format!("fetch {remote}"))?;
            report.tracking_moved.push(RefMove {
                name: tracking.to_string(),
                old: old.map(|d| d.to_hex()),
                new: value.to_hex(),
                forced: false,
                resolution: None,
            });
        }
    }
    // Our chain heads against theirs: a fork is reported and their branch kept.
    let tracked: Vec<(RefName, Digest)> = remote_refs
        .iter()
        .filter(|(n, _)| !report.dangling.contains(&n.to_string()))
        .filter(|(n, _)| !report.refused.iter().any(|r| r.name == n.as_str()))
        .map(|(n, d)| (n.clone(), *d))
        .collect();
    report.forks =
        incoming::forks_with(repo, remote, &tracked).map_err(|e| Error::Receipt(Box::new(e)))?;
    report.remote_refs = remote_refs;
    Ok(report)
}

/// Remote JSON objects read (and checked) by the closure walk, by id.
type Prefetched = HashMap<ObjectId, Vec<u8>>;

/// The objects the remote refs reach, walked through local copies where we have them and
/// through the remote's JSON objects otherwise (read wave by wave, `jobs` at a time, each
/// checked against its name before its links are followed); returns the closure and the
/// bytes read on the way.
pub(super) fn remote_closure(
    repo: &Repo,
    backend: &dyn Backend,
    opts: &Options,
    refs: &BTreeMap<RefName, Digest>,
    listed: &HashSet<ObjectId>,
    stop: &AtomicBool,
) -> Result<(HashSet<ObjectId>, Prefetched), Error> {
    let mut roots = Vec::new();
    for (name, value) in refs {
        crate::reach::ref_roots(name, *value, &mut roots);
    }
    let mut frontier: Vec<ObjectId> = Vec::new();
    let local_types = repo.object_types()?;
    for r in roots {
        match r {
            crate::reach::Root::Id(id) => frontier.push(id),
            // An untyped ref names a digest: every object with it, there or here.
            crate::reach::Root::Digest(d) => {
                frontier.extend(listed.iter().filter(|o| o.digest == d).cloned());
                frontier.extend(local_types.iter().map(|t| ObjectId::new(t.clone(), d)));
            }
        }
    }
    let mut closure: HashSet<ObjectId> = HashSet::new();
    let mut cache: HashMap<ObjectId, Vec<u8>> = HashMap::new();
    while !frontier.is_empty() {
        let wave: Vec<ObjectId> = std::mem::take(&mut frontier)
            .into_iter()
            .filter(|id| closure.insert(id.clone()))
            .collect();
        let is_json = |id: &ObjectId| id.artifact_type.rule().encoding() == Encoding::Json;
        let remote_only: Vec<Item> = wave
            .iter()
            .filter(|id| is_json(id) && !repo.has(id) && listed.contains(*id))
            .map(|id| Item::Object(id.clone()))
            .collect();
        let read = parallel(&remote_only, opts.jobs, stop, |item| {
            let key = item.key();
            let Item::Object(id) = item else {
                return Ok(None);
            };
            let Some(blob) = opts.retry.run(|| backend.get(&key, None))? else {
                return Ok(None);
            };
            verify_object(id, &key, &blob.bytes)?;
            Ok(Some((id.clone(), blob.bytes)))
        })?;
        for (id, bytes) in read.into_iter().flatten() {
            let value = canon::parse(&bytes).map_err(|e| Error::Tampered {
                object: id.to_string(),
                key: layout::object_key(&id),
                expected: id.digest.to_hex(),
                found: format!("unparsable JSON ({e})"),
            })?;
            frontier.extend(crate::reach::links(&id, &value));
            cache.insert(id, bytes);
        }
        for id in wave.iter().filter(|id| is_json(id) && repo.has(id)) {
            let value = stored_json(repo, id)?;
            frontier.extend(crate::reach::links(id, &value));
        }
        frontier.retain(|id| !closure.contains(id));
    }
    Ok((closure, cache))
}

/// Whether a remote chain ref's value `value` extends `tracking`, our remote-tracking value:
/// None when it does (or nothing was tracked, or `name` is not a chain ref), else why the
/// tracking ref must stay. A remote branch off our history is kept under the chain's fork ref.
fn check_history(
    repo: &Repo,
    remote: &str,
    name: &RefName,
    tracking: Option<Digest>,
    value: Digest,
    opts: &Options,
    resolved: &mut Vec<incoming::Resolved>,
) -> Result<Option<Refusal>, Error> {
    let Some(old) = tracking.filter(|_| incoming::is_chain_ref(name)) else {
        return Ok(None);
    };
    let rel = incoming::relate_ref(repo, name, old, value).map_err(chain_err)?;
    let refusal = |kind, sequence, kept| Refusal {
        name: name.to_string(),
        kind,
        tracking: old.to_hex(),
        remote: value.to_hex(),
        sequence,
        kept,
    };
    Ok(match rel {
        incoming::Relation::Same | incoming::Relation::Extends => None,
        incoming::Relation::Behind => Some(refusal("rollback", None, None)),
        incoming::Relation::Unknown => Some(refusal("unverifiable", None, None)),
        incoming::Relation::Fork {
            sequence,
            prev_root,
        } => {
            // A resolution that travelled with the head, counted by our own anchors.
            if let Some(r) = incoming::resolution_for(
                repo,
                name,
                value,
                sequence,
                prev_root,
                opts.trust_anchors.as_deref(),
                opts.lifecycle.as_deref(),
            )
            .map_err(chain_err)?
            {
                resolved.push(r);
                return Ok(None);
            }
            // Their branch stays reachable (and gc-safe) beside ours.
            let kept = match crate::chain::store::ChainKey::from_head_ref(name) {
                Some(key) => {
                    let kept = key.fork_ref(&value).map_err(chain_err)?;
                    repo.update_ref(
                        &kept,
                        value,
                        Expect::Any,
                        &format!("fetch {remote}: the remote forked at sequence {sequence}"),
                    )?;
                    Some(kept.to_string())
                }
                None => None,
            };
            Some(refusal("fork", Some(sequence), kept))
        }
    })
}

/// Moves local chain head `name` from `ours` across a fork to `theirs`, which a counted
/// resolution `r` chooses; our branch is kept under the chain's fork ref, as `fork-resolve`
/// keeps a losing branch.
fn adopt_resolved(
    repo: &Repo,
    name: &RefName,
    ours: Digest,
    theirs: Digest,
    reason: &str,
    r: incoming::Resolved,
    report: &mut PullReport,
) -> Result<odb::RefUpdate, Error> {
    if let Some(key) = crate::chain::store::ChainKey::from_head_ref(name) {
        let kept = key.fork_ref(&ours).map_err(chain_err)?;
        repo.update_ref(
            &kept,
            ours,
            Expect::Any,
            &format!("fork-resolution: losing branch ({reason})"),
        )?;
    }
    let u = repo.update_ref(
        name,
        theirs,
        Expect::Exactly(ours),
        &format!(
            "fork-resolution: adopt the selected branch ({reason}, {})",
            r.credential
        ),
    )?;
    incoming::drop_state_after_crossing(repo, name).map_err(chain_err)?;
    report.resolved.push(r);
    Ok(u)
}

/// The head (ref, new value) of checkpoint ref `name`'s chain if that head crossed a fork in
/// this pull.
fn crossed_head(name: &RefName, crossed: &[(RefName, Digest)]) -> Option<(RefName, Digest)> {
    incoming::checkpoint_kind(name)?;
    let prefix = name.as_str().strip_suffix("checkpoint")?;
    crossed
        .iter()
        .find(|(h, _)| h.as_str().strip_suffix("head") == Some(prefix))
        .cloned()
}

/// After a head crossed a fork: its checkpoint ref follows it (see [`super::checkpoint`]).
fn settle_checkpoint(
    repo: &Repo,
    head: &(RefName, Digest),
    remote_ck: Option<Digest>,
    remote: &str,
    report: &mut PullReport,
) -> Result<(), Error> {
    let s = super::checkpoint::settle(repo, &head.0, head.1, remote_ck, &format!("pull {remote}"))?;
    let name = crate::chain::store::ChainKey::from_head_ref(&head.0)
        .and_then(|k| k.checkpoint_ref().ok())
        .map(|n| n.to_string())
        .unwrap_or_default();
    if let Some((kept, value)) = &s.kept {
        report.refs_moved.push(RefMove {
            name: kept.to_string(),
            old: None,
            new: value.to_hex(),
            forced: false,
            resolution: None,
        });
    }
    if let Some(new) = s.moved_to {
        report.refs_moved.push(RefMove {
            name: name.clone(),
            old: s.old.map(|d| d.to_hex()),
            new: new.to_hex(),
            forced: false,
            resolution: None,
        });
    }
    if s.removed {
        report.warnings.push(format!(
            "{name} removed: its checkpoint is off the adopted branch (kept under refs/forks/) and no checkpoint of the adopted branch checks against the new head"
        ));
    }
    Ok(())
}

/// A local ref the remote's value neither extends nor trails: both values stay.
fn divergence(
    remote: &str,
    name: &RefName,
    local: Digest,
    value: Digest,
) -> Result<Divergence, Error> {
    Ok(Divergence {
        name: name.to_string(),
        local: local.to_hex(),
        remote: value.to_hex(),
        tracking: tracking_ref(remote, name)?.to_string(),
    })
}

/// fetch, then fast-forward local refs; a diverged ref is reported and both values kept.
pub fn pull(
    repo: &Repo,
    remote: &str,
    backend: &dyn Backend,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<PullReport, Error> {
    let before: BTreeMap<RefName, Option<Digest>> = repo
        .refs()?
        .into_iter()
        .filter_map(|(n, d)| {
            let rest = n
                .as_str()
                .strip_prefix(&format!("refs/remotes/{remote}/"))?;
            Some((RefName::new(rest).ok()?, Some(d)))
        })
        .collect();
    let fetch = fetch(repo, remote, backend, opts, progress, stop)?;
    if opts.dry_run {
        // Nothing was fetched, so no local ref can move.
        return Ok(PullReport {
            fetch,
            ..PullReport::default()
        });
    }
    let mut report = PullReport::default();
    // Heads first: a checkpoint ref follows its head when the head crosses a fork.
    let mut order: Vec<(&RefName, &Digest)> = fetch.remote_refs.iter().collect();
    order.sort_by_key(|(n, _)| incoming::checkpoint_kind(n).is_some());
    let mut crossed: Vec<(RefName, Digest)> = Vec::new();
    for (name, value) in order {
        if let Some(head) = crossed_head(name, &crossed) {
            let remote_ck = (!fetch.dangling.contains(&name.to_string())).then_some(*value);
            settle_checkpoint(repo, &head, remote_ck, remote, &mut report)?;
            crossed.retain(|(h, _)| h != &head.0);
            continue;
        }
        if fetch.dangling.contains(&name.to_string()) {
            continue;
        }
        if fetch.refused.iter().any(|r| r.name == name.as_str()) {
            // The remote left the history we tracked: our ref stays where it is.
            continue;
        }
        let local = repo.read_ref(name)?;
        let old_tracking = before.get(name).copied().flatten();
        let reason = format!("pull {remote}");
        let moved = if incoming::is_chain_ref(name) {
            match local {
                Some(l) if l == *value => None,
                None => Some(repo.update_ref(name, *value, Expect::Absent, &reason)?),
                Some(l) => match incoming::relate_ref(repo, name, l, *value).map_err(chain_err)? {
                    incoming::Relation::Extends => {
                        Some(repo.update_ref(name, *value, Expect::Exactly(l), &reason)?)
                    }
                    // The remote is behind us on our own chain: we are ahead.
                    incoming::Relation::Same | incoming::Relation::Behind => None,
                    incoming::Relation::Fork {
                        sequence,
                        prev_root,
                    } if let Some(r) = incoming::resolution_for(
                        repo,
                        name,
                        *value,
                        sequence,
                        prev_root,
                        opts.trust_anchors.as_deref(),
                        opts.lifecycle.as_deref(),
                    )
                    .map_err(chain_err)? =>
                    {
                        crossed.push((name.clone(), *value));
                        Some(adopt_resolved(
                            repo,
                            name,
                            l,
                            *value,
                            &reason,
                            r,
                            &mut report,
                        )?)
                    }
                    incoming::Relation::Fork { .. } | incoming::Relation::Unknown => {
                        report.diverged.push(divergence(remote, name, l, *value)?);
                        None
                    }
                },
            }
        } else {
            // Other refs: compare-and-swap against what we last saw there, or our own history.
            match local {
                Some(l) if l == *value => None,
                None => Some(repo.update_ref(name, *value, Expect::Absent, &reason)?),
                Some(l) if Some(l) == old_tracking => {
                    Some(repo.update_ref(name, *value, Expect::Exactly(l), &reason)?)
                }
                Some(l) => {
                    let ours: HashSet<Digest> = repo
                        .reflog(name)?
                        .into_iter()
                        .flat_map(|e| [e.old, Some(e.new)])
                        .flatten()
                        .collect();
                    if !ours.contains(value) {
                        report.diverged.push(divergence(remote, name, l, *value)?);
                    }
                    // Else the remote is behind us on our own history: nothing to do.
                    None
                }
            }
        };
        if let Some(u) = moved {
            report.warnings.extend(u.warnings);
            report.refs_moved.push(RefMove {
                name: name.to_string(),
                old: u.entry.old.map(|d| d.to_hex()),
                new: u.entry.new.to_hex(),
                forced: false,
                resolution: None,
            });
        }
    }
    // Crossed chains whose remote has no checkpoint ref: ours may be on the losing branch.
    for head in crossed {
        settle_checkpoint(repo, &head, None, remote, &mut report)?;
    }
    let reason = format!("pull {remote} {}", backend.url());
    let env = HookEnv {
        ref_name: "",
        old: String::new(),
        new: String::new(),
        reason: &reason,
    };
    if let Some(w) = repo.run_hook(Event::PostPull, &env)? {
        report.warnings.push(w);
    }
    report.fetch = fetch;
    Ok(report)
}

/// Creates `dir` as a clone of the remote: init, remote `origin`, fetch, local refs.
pub fn clone(
    url: &super::Url,
    backend: &dyn Backend,
    dir: &Path,
    sample_hooks: &[(&str, &str)],
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<(Repo, PullReport), Error> {
    let existed = dir.exists();
    if existed
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let result = (|| {
        let mut repo = Repo::init(dir, sample_hooks)?;
        let mut config = repo.config().clone();
        config.remote.insert(
            "origin".to_string(),
            odb::RemoteConfig {
                url: url.to_string(),
                ..Default::default()
            },
        );
        repo.save_config(config)?;
        let report = pull(&repo, "origin", backend, opts, progress, stop)?;
        Ok((repo, report))
    })();
    if result.is_err() {
        // Like git: a failed clone leaves nothing behind.
        if existed {
            let _ = std::fs::remove_dir_all(dir.join(odb::DIR_NAME));
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}
