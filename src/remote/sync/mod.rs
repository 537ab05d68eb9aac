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
    /// descendant), `unverifiable` (a receipt needed to decide is not here) or `unsigned` (a
    /// checkpoint without a proof that verifies).
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
fn download_raw<'a>(
    backend: &dyn Backend,
    id: &ObjectId,
    key: &str,
    mut open: impl FnMut() -> Result<Box<dyn Write + 'a>, Error>,
) -> Result<Option<odb::Checksum>, Error> {
    // The backend's retries resume a download without writing a byte twice.
    let got = {
        let mut w = Hashing::new(open()?);
        let n = backend.get_to(key, &mut w)?;
        w.flush()
            .map_err(|e| Error::io("writing a download of", key, e))?;
        n.map(|_| w.finish())
    };
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

/// Uploads one item unless the remote has it, telling `on_bytes` of its bytes as they go;
/// (created, bytes).
fn upload(
    repo: &Repo,
    backend: &dyn Backend,
    item: &Item,
    on_bytes: &dyn Fn(u64),
) -> Result<(bool, u64), Error> {
    let key = item.key();
    if let (true, Item::Object(id)) = (is_streamed(item), item) {
        // Checked against its name as it is read: damage is never spread.
        let size = repo.copy_raw(id, &mut std::io::sink())?;
        let path = repo.object_path(id);
        let created = backend.put_file_if_absent(&key, &path, on_bytes)?;
        return Ok((created, size));
    }
    let bytes = local_bytes(repo, item)?;
    let created = backend.put_if_absent(&key, &bytes)?;
    on_bytes(bytes.len() as u64);
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

/// A stored JSON object, checked against its name. Stored bytes that do not even parse were
/// damaged on disk (a flipped byte, a pack entry read at a wrong offset): that is a digest
/// failure of the object, not a schema error of some input.
pub(crate) fn stored_json(repo: &Repo, id: &ObjectId) -> Result<Value, Error> {
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

/// A chain error met while placing a ref on its chain: a repository failure stays one (it is
/// no verdict on what the remote sent).
pub(crate) fn chain_err(e: crate::chain::Error) -> Error {
    match e {
        crate::chain::Error::Odb(e) => Error::Odb(e),
        other => Error::Receipt(Box::new(other)),
    }
}

mod fetch;
mod pull;
mod push;

pub use fetch::fetch;
pub(crate) use fetch::remote_closure;
pub use pull::{clone, pull};
pub use push::push;
