//! `msez fsck --remote`: checks a remote without cloning it, in one of three modes.
//!
//! - [`Mode::Quick`]: the listings (every key is msez layout, every ref holds one digest of an
//!   object the remote lists) plus the content of a sample: every ref's target and about
//!   [`QUICK_SAMPLE`] other objects spread over the listing.
//! - [`Mode::Full`] (the default): every object's digest by its type's rule, every proof file
//!   against its name, and every chain link: each receipt a head or fork ref reaches links by
//!   `prev_root` to a receipt at the sequence below, down to 0 (an asset chain's to its genesis
//!   root).
//! - [`Mode::Strict`]: also every signature: each proof of every object, inline or in a proof
//!   file, verifies against the key it names.
//!
//! Each report lists what its mode did not check. Nothing is written, locally or remotely.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{self, Digest, DigestRule, Encoding, Value};
use crate::chain::Kind;
use crate::chain::store::ChainKey;
use crate::fsck::{self, Link};
use crate::odb::{RefName, ref_object_type};
use crate::progress::Progress;
use crate::taxonomy::{Class, Classify, Detail, Finding};

use super::layout::{self, FORMAT_KEY};
use super::sync::{Options, parallel, verify_object};
use super::{Backend, Error};

/// How much `fsck --remote` checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Listings plus sampled content.
    Quick,
    /// Every object's digest and every chain link.
    #[default]
    Full,
    /// Also every signature.
    Strict,
}

/// How many objects besides the ref targets quick mode downloads and checks.
pub const QUICK_SAMPLE: usize = 64;

/// What a remote fsck found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// The mode it ran in.
    pub mode: Mode,
    /// Objects listed.
    pub objects: u64,
    /// Objects whose content was downloaded and checked.
    pub objects_checked: u64,
    /// Proof files listed.
    pub proof_files: u64,
    /// Proofs whose signature was verified (strict only).
    pub proofs_verified: u64,
    /// Refs checked.
    pub refs: u64,
    /// Chains walked (a head or fork ref each).
    pub chains: u64,
    /// Receipts whose link to the one below was checked.
    pub receipts_linked: u64,
    /// Every problem found.
    pub problems: Vec<Finding>,
    /// What this mode did not check.
    pub not_checked: Vec<String>,
}

impl Report {
    /// 0 when clean; else, by the verdict model (docs/verdicts.md), the lowest code among the
    /// definite failures, so a missing object never outranks a fork; with none, the lowest code
    /// among the other problems (68 missing, 74 io: fsck keeps telling damage it could not read
    /// from damage it found absent).
    pub fn exit_code(&self) -> u8 {
        crate::verdict::lowest_code(&self.problems)
    }

    /// The verdict by precedence: `invalid` for any definite failure; otherwise `unknown` for
    /// any other problem or any integrity check this mode skipped (digests, proof files, chain
    /// links, signatures; not trust, which is `msez audit`'s); otherwise `valid`.
    pub fn verdict(&self) -> crate::verdict::Verdict {
        let found = crate::verdict::verdict_of(&self.problems);
        if found == crate::verdict::Verdict::Valid && self.not_checked.iter().any(|n| n != TRUST) {
            crate::verdict::Verdict::Unknown
        } else {
            found
        }
    }

    /// The problems in the verdict model's shape (each with the verdict it forces).
    pub fn findings(&self) -> Vec<crate::verdict::Item> {
        self.problems.iter().cloned().map(Into::into).collect()
    }
}

/// A remote key as it may be shown: control characters escaped (keys are remote input).
fn shown(key: &str) -> String {
    key.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// One key to check.
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

/// The remote as fsck's shared checks see it: the listing, and the links of the receipts the
/// checks downloaded.
struct Listing<'a> {
    listed: &'a HashSet<ObjectId>,
    links: HashMap<ObjectId, Link>,
}

impl fsck::Store for Listing<'_> {
    fn label(&self) -> &'static str {
        "remote "
    }
    fn has(&self, id: &ObjectId) -> Result<bool, fsck::Error> {
        Ok(self.listed.contains(id))
    }
    fn has_digest(&self, digest: &Digest) -> Result<bool, fsck::Error> {
        Ok(self.listed.iter().any(|id| id.digest == *digest))
    }
    fn link(&self, id: &ObjectId) -> Result<Option<Link>, fsck::Error> {
        Ok(self.links.get(id).copied())
    }
}

impl From<Error> for fsck::Error {
    fn from(e: Error) -> Self {
        fsck::Error::store(e)
    }
}

/// What checking one key gave.
#[derive(Default)]
struct Checked {
    findings: Vec<Finding>,
    link: Option<(ObjectId, Link)>,
    proofs_verified: u64,
}

/// Checks a remote without cloning it; an error is a run that could not decide (the remote
/// unreachable, not an msez remote), with the remote's own class and code.
pub fn fsck(
    backend: &dyn Backend,
    mode: Mode,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<Report, fsck::Error> {
    run(backend, mode, opts, progress, stop).map_err(Into::into)
}

fn run(
    backend: &dyn Backend,
    mode: Mode,
    opts: &Options,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<Report, Error> {
    let mut report = Report {
        mode,
        not_checked: not_checked(mode),
        ..Report::default()
    };
    if !layout::check_format(backend)? {
        return Err(Error::Missing {
            what: "the format file (not an msez remote?)",
            key: format!("{}/{FORMAT_KEY}", backend.url()),
        });
    }
    // Symlinks, FIFOs and devices in a directory remote: reported, never read or followed.
    let irregular: HashSet<String> = backend
        .irregular("")?
        .into_iter()
        .map(|k| {
            report.problems.push(irregular_finding(&k.key, k.why));
            k.key
        })
        .collect();
    let mut objects: Vec<ObjectId> = Vec::new();
    let mut proofs: Vec<(ObjectId, String)> = Vec::new();
    for prefix in ["objects/", "proofs/"] {
        for m in backend.list(prefix)? {
            if irregular.contains(&m.key) {
                continue;
            }
            if let Some(id) = layout::parse_object_key(&m.key) {
                objects.push(id);
            } else if let Some((id, h)) = layout::parse_proof_key(&m.key) {
                proofs.push((id, h));
            } else {
                report.problems.push(Finding {
                    class: Class::Schema,
                    code: "schema.bad_object_name",
                    message: format!("remote key {} is not msez layout", shown(&m.key)),
                    detail: Detail::object(shown(&m.key)),
                });
            }
        }
    }
    objects.sort();
    objects.dedup();
    report.objects = objects.len() as u64;
    report.proof_files = proofs.len() as u64;
    let listed: HashSet<ObjectId> = objects.iter().cloned().collect();
    let refs = check_refs(backend, &listed, &irregular, &mut report)?;

    let items: Vec<Item> = match mode {
        Mode::Quick => sample(&objects, &refs, &listed)
            .into_iter()
            .map(Item::Object)
            .collect(),
        Mode::Full | Mode::Strict => objects
            .iter()
            .cloned()
            .map(Item::Object)
            .chain(proofs.iter().cloned().map(|(id, h)| Item::Proof(id, h)))
            .collect(),
    };
    progress.set_total(items.len() as u64);
    let results = parallel(&items, opts.jobs, stop, |item| {
        let r = check_item(backend, mode, item);
        progress.inc(1);
        match r {
            Ok(c) => Ok((item.clone(), c)),
            // A key the backend refuses to read (too large, not a regular file, ...) is a
            // finding; only a remote we cannot talk to (io) ends the run.
            Err(e) if e.is_refused_key() => Ok((
                item.clone(),
                Checked {
                    findings: vec![irregular_finding(&item.key(), "refused when read")],
                    ..Checked::default()
                },
            )),
            Err(e) if e.class() != Class::Io => Ok((
                item.clone(),
                Checked {
                    findings: vec![Finding::from_error(&e)],
                    ..Checked::default()
                },
            )),
            Err(e) => Err(e),
        }
    })?;
    let mut links = Listing {
        listed: &listed,
        links: HashMap::new(),
    };
    for (item, checked) in results {
        if matches!(item, Item::Object(_)) {
            report.objects_checked += 1;
        }
        report.proofs_verified += checked.proofs_verified;
        report.problems.extend(checked.findings);
        if let Some((id, link)) = checked.link {
            links.links.insert(id, link);
        }
    }
    if mode == Mode::Quick {
        let unchecked = report.objects.saturating_sub(report.objects_checked);
        if unchecked > 0 {
            report.not_checked.insert(
                0,
                format!(
                    "the digests of {unchecked} of {} objects (quick checks the ref targets and a sample of {QUICK_SAMPLE})",
                    report.objects
                ),
            );
        }
    } else {
        check_chains(&refs, &links, &mut report);
    }
    report.problems.sort_by(|a, b| a.message.cmp(&b.message));
    Ok(report)
}

/// Trust is never fsck's to judge (`msez audit` is): listed as not checked, it does not make
/// the verdict unknown.
const TRUST: &str =
    "trust: whether the signers are trust anchors, and harbor quorums (msez verify, msez audit)";

/// What `mode` leaves unchecked, for the report.
fn not_checked(mode: Mode) -> Vec<String> {
    let trust = TRUST;
    match mode {
        Mode::Quick => vec![
            "proof files' content (only their names)".into(),
            "chain links".into(),
            "signatures".into(),
            trust.into(),
        ],
        Mode::Full => vec![
            "signatures: no proof was verified (--strict verifies every proof)".into(),
            trust.into(),
        ],
        Mode::Strict => vec![trust.into()],
    }
}

/// Every ref on the remote: a valid name holding one digest of an object the remote lists.
/// A key that is not a regular file (`schema.remote_key_irregular`).
fn irregular_finding(key: &str, why: &str) -> Finding {
    let key = shown(key);
    Finding {
        class: Class::Schema,
        code: "schema.remote_key_irregular",
        message: format!(
            "remote key {key} is not a regular file ({why}): never read, followed or deleted"
        ),
        detail: Detail::object(key).mismatch("a regular file", why),
    }
}

fn check_refs(
    backend: &dyn Backend,
    listed: &HashSet<ObjectId>,
    irregular: &HashSet<String>,
    report: &mut Report,
) -> Result<Vec<(RefName, Digest)>, Error> {
    let mut out = Vec::new();
    for m in backend.list("refs/")? {
        report.refs += 1;
        if irregular.contains(&m.key) {
            continue;
        }
        let bad = || Finding {
            class: Class::Schema,
            code: "schema.bad_ref_value",
            message: format!(
                "remote ref {} is not a valid ref holding one digest",
                shown(&m.key)
            ),
            detail: Detail::object(shown(&m.key)),
        };
        let Ok(name) = RefName::new(&m.key) else {
            report.problems.push(bad());
            continue;
        };
        let blob = match backend.get(&m.key, None) {
            Ok(Some(blob)) => blob,
            // Listed, then gone: deleted by a writer meanwhile, not damage.
            Ok(None) => continue,
            Err(e) if e.is_refused_key() => {
                report
                    .problems
                    .push(irregular_finding(&m.key, "refused when read"));
                continue;
            }
            Err(e) if e.class() != Class::Io => {
                report.problems.push(Finding::from_error(&e));
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(d) = layout::parse_ref_value(&blob.bytes) else {
            report.problems.push(bad());
            continue;
        };
        let view = Listing {
            listed,
            links: HashMap::new(),
        };
        if !fsck::ref_target_exists(&view, &name, &d).unwrap_or(false) {
            report.problems.push(Finding {
                class: Class::Missing,
                code: "missing.ref_target",
                message: format!("remote ref {name} points at {d}, which the remote lacks"),
                detail: Detail::object(name.to_string()).mismatch("a stored object", "nothing"),
            });
        }
        out.push((name, d));
    }
    out.sort();
    Ok(out)
}

/// Quick mode's sample: every ref target the remote lists, and up to [`QUICK_SAMPLE`] other
/// objects at even strides over the sorted listing (so the whole key range is touched).
fn sample(
    objects: &[ObjectId],
    refs: &[(RefName, Digest)],
    listed: &HashSet<ObjectId>,
) -> Vec<ObjectId> {
    let mut out: Vec<ObjectId> = Vec::new();
    for (name, d) in refs {
        match ref_object_type(name).and_then(|t| ArtifactType::new(t).ok()) {
            Some(t) => out.push(ObjectId::new(t, *d)),
            None => out.extend(objects.iter().filter(|id| id.digest == *d).cloned()),
        }
    }
    out.retain(|id| listed.contains(id));
    let stride = objects.len().div_ceil(QUICK_SAMPLE).max(1);
    out.extend(objects.iter().step_by(stride).cloned());
    out.sort();
    out.dedup();
    out
}

/// Downloads one key and checks it as `mode` asks.
fn check_item(backend: &dyn Backend, mode: Mode, item: &Item) -> Result<Checked, Error> {
    let key = item.key();
    let mut out = Checked::default();
    if let Item::Object(id) = item {
        if id.artifact_type.rule() == DigestRule::Bytes {
            // Raw objects are streamed through the hash, never held in memory.
            if let Some(e) = stream_check(backend, id, &key)? {
                out.findings.push(Finding::from_error(&e));
            }
            return Ok(out);
        }
    }
    let Some(blob) = backend.get(&key, None)? else {
        // Listed, then removed (a gc --remote meanwhile): nothing to check.
        return Ok(out);
    };
    match item {
        Item::Object(id) => {
            if let Err(e) = verify_object(id, &key, &blob.bytes) {
                out.findings.push(Finding::from_error(&e));
                return Ok(out);
            }
            if id.artifact_type.rule().encoding() != Encoding::Json {
                return Ok(out);
            }
            let Ok(value) = canon::parse(&blob.bytes) else {
                return Ok(out);
            };
            if let DigestRule::NextRoot(_) = id.artifact_type.rule() {
                out.link = Some((id.clone(), fsck::link_of(&value)));
            }
            if mode == Mode::Strict && value.get("proof").is_some() {
                verify_signatures(id, &value, None, &mut out);
            }
        }
        Item::Proof(id, h) => {
            let proof = match super::sync::verify_proof(id, h, &key, &blob.bytes) {
                Ok(proof) => proof,
                Err(e) => {
                    out.findings.push(Finding::from_error(&e));
                    return Ok(out);
                }
            };
            if mode == Mode::Strict {
                // A proof file's signature is over its object: fetch that too.
                let object_key = layout::object_key(id);
                match backend.get(&object_key, None)? {
                    Some(object) if verify_object(id, &object_key, &object.bytes).is_ok() => {
                        if let Ok(value) = canon::parse(&object.bytes) {
                            verify_signatures(id, &value, Some((h, proof)), &mut out);
                        }
                    }
                    // A damaged object is reported on its own; an absent one here:
                    Some(_) => {}
                    None => out.findings.push(Finding {
                        class: Class::Missing,
                        code: "missing.proof_object",
                        message: format!(
                            "remote proof file {} belongs to {id}, which the remote lacks",
                            shown(&key)
                        ),
                        detail: Detail::object(id.to_string())
                            .mismatch("a stored object", "nothing"),
                    }),
                }
            }
        }
    }
    Ok(out)
}

/// Streams a raw object through SHA-256; the tamper error when its bytes do not give its name.
fn stream_check(backend: &dyn Backend, id: &ObjectId, key: &str) -> Result<Option<Error>, Error> {
    struct Sha(sha2::Sha256);
    impl Write for Sha {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            sha2::Digest::update(&mut self.0, buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // The backend's retries resume a download without hashing a byte twice.
    let got = {
        let mut w = Sha(<sha2::Sha256 as sha2::Digest>::new());
        backend
            .get_to(key, &mut w)?
            .map(|_| Digest(sha2::Digest::finalize(w.0).into()))
    };
    Ok(match got {
        Some(d) if d != id.digest => Some(Error::Tampered {
            object: id.to_string(),
            key: key.to_string(),
            expected: id.digest.to_hex(),
            found: d.to_hex(),
        }),
        _ => None,
    })
}

/// Verifies the inline proofs of `value` or, with `file`, that one proof file's proof.
fn verify_signatures(id: &ObjectId, value: &Value, file: Option<(&str, Value)>, out: &mut Checked) {
    let (subject, where_) = match file {
        Some((h, proof)) => {
            let mut v = value.clone();
            if let Some(map) = v.as_object_mut() {
                map.insert("proof".into(), proof);
            }
            (v, format!("proof file {h}"))
        }
        None => (value.clone(), "inline proof".to_string()),
    };
    let (verified, findings) = crate::fsck::proof_findings(id, &subject, |vm| {
        format!("remote {id}: {where_} by {}", shown(vm))
    });
    out.proofs_verified += verified;
    out.findings.extend(findings);
}

/// Walks every chain from its head and fork refs through the receipts the remote holds
/// ([`fsck::walk_chain`]): each links to one at the sequence below, down to 0, and an asset
/// chain's 0 to its genesis root.
fn check_chains(refs: &[(RefName, Digest)], store: &Listing<'_>, report: &mut Report) {
    // Receipts already walked from another ref of the same chain (a fork shares its base).
    let mut done: HashSet<ObjectId> = HashSet::new();
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    for (name, head) in refs {
        let Some(rtype) = ref_object_type(name)
            .filter(|t| t.ends_with("-receipt"))
            .and_then(|t| ArtifactType::new(t).ok())
        else {
            continue;
        };
        report.chains += 1;
        let genesis_root = chain_key(name).and_then(|key| match key.kind {
            Kind::Asset => crate::chain::genesis::asset_genesis_root(
                &Digest::parse_loose(&key.owner).ok()?,
                key.purpose.as_deref()?,
            )
            .ok(),
            Kind::Corridor => None,
        });
        let head = ObjectId::new(rtype, *head);
        // The listing answers from memory: it never fails.
        if let Ok(n) = fsck::walk_chain(store, name, head, genesis_root, &mut done, &mut findings) {
            report.receipts_linked += n;
        }
    }
    report.problems.extend(findings.into_values());
}

/// The chain a head or fork ref belongs to.
fn chain_key(name: &RefName) -> Option<ChainKey> {
    let parts: Vec<&str> = name.as_str().split('/').collect();
    let head = match parts.as_slice() {
        ["refs", "assets", id, purpose, ..] => format!("refs/assets/{id}/{purpose}/head"),
        ["refs", "corridors", id, ..] => format!("refs/corridors/{id}/head"),
        _ => return None,
    };
    ChainKey::from_head_ref(&RefName::new(&head).ok()?)
}
