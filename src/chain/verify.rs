//! Chain verification: every check of the reference's verifier (§4.4, §4.5), in its order, over
//! a set of receipt files; then selection and the MMR.
//!
//! Per receipt, every check, each failure recorded (docs/verdicts.md): parse, schema, next_root,
//! owner (assets), attachments, transition types, harbor quorum, at least one valid proof,
//! trust anchors and key lifecycle, digest sets (corridors). A receipt whose bytes do not match
//! its next_root does not link, but its other checks still run on it as it is (a tampered
//! payload is a digest and a signature finding). Then identical receipts merge, the chain is
//! selected from the genesis root (forks need resolutions), and the MMR is computed: a
//! receipt whose signature, quorum or trust fails still links the chain, so the chain, its
//! head and MMR are computed and a checkpoint can still be compared with them. Signature checks
//! run on every core; only a compact [`Link`] per receipt is kept, so memory stays small at a
//! million receipts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::canon::{Digest, Value};
use crate::chain::trust::Error as TrustError;
use crate::mmr::{self, Peak};
use crate::taxonomy::Finding;
use crate::vc::{self, TrustAnchors};
use crate::verdict::{Findings, Refused, Verdict};

use super::harbor::Harbors;
use super::lifecycle::{ChainId, Lifecycle, Position, Standing, Trust};
use super::receipt::{FileList, Receipt};
use super::select::{self, Link, Resolutions, Selection, Stop};
use super::transition_types::Lock;
use super::{Error, Kind};

/// What the verifier checks against.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Signers must include a trust anchor allowing the kind's receipt attestation.
    pub trust_anchors: Option<TrustAnchors>,
    /// Fork resolutions: chosen next_root by (sequence, prev_root).
    pub resolutions: Resolutions,
    /// Corridors: the expected ruleset digest set (compared as a set).
    pub expected_rulesets: Option<Vec<Digest>>,
    /// Corridors: the expected lawpack digest set.
    pub expected_lawpacks: Option<Vec<Digest>>,
    /// Worker threads for signature checks (0: all cores).
    pub threads: usize,
    /// Assets: judge harbor signatures (jurisdiction scopes, the pinned registry policy).
    pub harbors: Option<Arc<Harbors>>,
    /// Let receipts still waiting for harbor signatures pass (cosign must find them).
    pub pending_ok: bool,
    /// Every receipt must pin this transition-type lock and fit it.
    pub transition_types: Option<Arc<Lock>>,
    /// Key rotations and revocations (from the trust-anchors file), enforced by position.
    pub lifecycle: Option<Arc<Lifecycle>>,
    /// The asset chain's purpose (key credentials name chains by it).
    pub purpose: Option<String>,
}

impl Options {
    /// The trust anchors with their key lifecycle, for checks of objects beside the receipts.
    pub fn trust(&self) -> Option<Trust<'_>> {
        self.trust_anchors
            .as_ref()
            .map(|a| Trust::new(a, self.lifecycle.as_deref()))
    }

    /// Whether the chain state in `.msez` may stand in for verifying the module's files: it
    /// follows the head ref, which a resolution may not, so counted resolutions force the
    /// (reference's) path over the files; so do key rotations and revocations, which only a
    /// verified chain can enforce.
    pub fn store_suffices(&self) -> bool {
        let keys = self.lifecycle.as_deref().is_some_and(|l| !l.is_empty());
        self.resolutions.is_empty() && !keys
    }
}

/// A verified chain.
#[derive(Clone, Debug, Serialize)]
pub struct ChainResult {
    /// Asset or corridor.
    pub kind: Kind,
    /// The asset_id or corridor_id.
    pub owner: String,
    /// The genesis root the chain starts from.
    pub genesis_root: Digest,
    /// The chain's next_roots in order (empty after a streaming verification, which keeps
    /// only `roots`).
    #[serde(skip)]
    pub next_roots: Vec<Digest>,
    /// The MMR roots at the sizes the verification was asked for (checkpoint notes).
    #[serde(skip)]
    pub roots: BTreeMap<u64, Digest>,
    /// The files that were verified.
    #[serde(skip)]
    pub files: FileList,
    /// For each chain position, the index in `files` of its receipt (the first of duplicates).
    #[serde(skip)]
    pub chain_files: Vec<u32>,
    /// Number of receipts in the chain.
    pub receipt_count: u64,
    /// The last next_root (the genesis root for an empty chain).
    pub final_root: Digest,
    /// The MMR over the chain.
    pub mmr: Option<mmr::MmrRoot>,
    /// Sorted union of every chain receipt's lawpack digests.
    pub lawpack_digest_set: Vec<Digest>,
    /// Sorted union of every chain receipt's ruleset digests.
    pub ruleset_digest_set: Vec<Digest>,
    /// The first receipt's lawpack digests.
    pub first_lawpack_digest_set: Vec<Digest>,
    /// The first receipt's ruleset digests.
    pub first_ruleset_digest_set: Vec<Digest>,
    /// Receipts read (before merging duplicates).
    pub receipts_read: usize,
    /// Non-fatal observations (resolved forks, unreachable receipts).
    pub warnings: Vec<String>,
}

impl ChainResult {
    /// The file of the receipt at chain position `i`.
    pub fn path(&self, i: usize) -> Option<PathBuf> {
        self.chain_files
            .get(i)
            .map(|&f| self.files.path(f as usize))
    }
}

/// A receipt's digest sets, boxed because nearly all are empty.
pub(super) type Sets = Option<Box<(Vec<Digest>, Vec<Digest>)>>;

/// What a receipt that counts only through revoked keys needs from the chain: every group
/// satisfied, a group by the chain matching one of its revocations' checkpoints (indices into
/// the lifecycle's revocations); None for nearly all receipts (boxed twice so the field is
/// one word: a million receipts are held at once).
pub type Needs = Option<Box<Box<[Box<[u16]>]>>>;

/// One receipt after its own checks: 96 bytes.
#[derive(Clone, Debug, Default)]
struct Checked {
    link: Link,
    file: u32,
    sets: Sets,
    /// Counts only if the chain matches these revocations' checkpoints (rare: boxed).
    needs: Needs,
}

impl AsRef<Link> for Checked {
    fn as_ref(&self) -> &Link {
        &self.link
    }
}

const _: () = assert!(std::mem::size_of::<Checked>() == 96);

const FAILED: u32 = u32::MAX;

/// A whole verification: every finding, and what could be computed despite them.
#[derive(Debug)]
pub struct Outcome {
    /// The chain as far as it links from the genesis root (None only when a fork leaves no
    /// single chain to compute).
    pub result: Option<ChainResult>,
    /// Every error: receipt checks in file order (every failing check of a receipt, in check
    /// order), then the chain's (gap, fork, revocations).
    pub errors: Vec<Error>,
    /// Receipt findings past the first [`FINDINGS_KEPT`] (counted, not kept).
    pub dropped: Dropped,
}

/// How many receipt findings a bounded verification keeps (in file order); the rest are
/// counted, so memory does not grow with a chain of bad receipts.
pub const FINDINGS_KEPT: usize = 1000;

/// The receipt findings a bounded verification counted but did not keep.
#[derive(Clone, Debug, Default)]
pub struct Dropped {
    /// How many errors were dropped.
    pub count: u64,
    /// One dropped finding of each class, so the verdict and exit code stay what every
    /// finding gives.
    pub worst: Vec<Finding>,
}

impl Dropped {
    /// Counts `e` as dropped.
    pub fn add(&mut self, e: &Error) {
        self.count += 1;
        for f in Finding::all_of(e) {
            if !self.worst.iter().any(|w| w.class == f.class) {
                self.worst.push(f);
            }
        }
    }
}

impl Outcome {
    /// Every finding, in order.
    pub fn findings(&self) -> Findings {
        let mut f = Findings::default();
        f.extend(&self.errors);
        f
    }

    /// The verdict by precedence.
    pub fn verdict(&self) -> Verdict {
        self.findings().verdict()
    }

    /// The chain when every check passed; else the refusal carrying every finding (an
    /// operation that needs a verified chain stops here).
    pub fn valid(self) -> Result<ChainResult, Error> {
        match (self.result, Error::all(self.errors)) {
            (Some(r), None) => Ok(r),
            (_, Some(e)) => Err(e),
            // A chain is missing only when a fork left none, and the fork is an error.
            (None, None) => Err(Error::NoInitial),
        }
    }
}

/// Verifies every file in `files` as one chain of `kind` owned by `owner` from `genesis_root`:
/// runs every check and reports all (see the module documentation).
pub fn verify(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    files: &FileList,
    opts: &Options,
) -> Outcome {
    verify_capped(kind, owner, genesis_root, files, opts, None)
}

/// [`verify`], keeping only the first `cap` receipt findings (file order) and counting the rest.
pub fn verify_capped(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    files: &FileList,
    opts: &Options,
    cap: Option<usize>,
) -> Outcome {
    let (checked, mut errors) = check_all(kind, owner, files, opts);
    let mut dropped = Dropped::default();
    if let Some(cap) = cap.filter(|&c| errors.len() > c) {
        for e in errors.drain(cap..) {
            dropped.add(&e);
        }
    }
    let (result, more) = assemble(kind, owner, genesis_root, checked, files, opts);
    errors.extend(more);
    Outcome {
        result,
        errors,
        dropped,
    }
}

/// Checks each file on its own, in parallel, into preallocated slots (no per-file result
/// vectors, so peak memory is one compact record per receipt).
fn check_all(
    kind: Kind,
    owner: &str,
    files: &FileList,
    opts: &Options,
) -> (Vec<Checked>, Vec<Error>) {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    };
    let n = files.len();
    let mut slots: Vec<Checked> = vec![Checked::default(); n];
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let mut errors: Vec<(usize, Error)> = std::thread::scope(|s| {
        let handles: Vec<_> = slots
            .chunks_mut(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    let mut errs = Vec::new();
                    for (j, slot) in part.iter_mut().enumerate() {
                        let i = c * chunk + j;
                        let (one, found) = check_one(kind, owner, &files.path(i), opts);
                        match one {
                            Some(one) if found.is_empty() => {
                                *slot = Checked {
                                    link: one.link,
                                    file: i as u32,
                                    sets: one.sets,
                                    needs: one.needs,
                                }
                            }
                            // A receipt whose bytes match its next_root still links the
                            // chain even when its later checks fail.
                            Some(one) => {
                                *slot = Checked {
                                    link: one.link,
                                    file: i as u32,
                                    sets: None,
                                    needs: None,
                                };
                            }
                            None => slot.file = FAILED,
                        }
                        errs.extend(found.into_iter().map(|e| (i, e)));
                    }
                    errs
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a verify worker does not panic"))
            .collect()
    });
    // Stable: a receipt's findings stay in check order.
    errors.sort_by_key(|(i, _)| *i);
    slots.retain(|c| c.file != FAILED);
    (slots, errors.into_iter().map(|(_, e)| e).collect())
}

/// Every check of one receipt file; its link and valid signers (fork-inspect reports them).
pub fn check_file(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    opts: &Options,
) -> Result<(Link, Vec<vc::Did>), Error> {
    match check_one(kind, owner, path, opts) {
        (Some(one), found) if found.is_empty() => Ok((one.link, one.signers)),
        (_, found) => Err(Error::all(found).unwrap_or(Error::NoInitial)),
    }
}

/// What the checks of one receipt keep.
pub(super) struct One {
    pub(super) link: Link,
    pub(super) sets: Sets,
    signers: Vec<vc::Did>,
    needs: Needs,
}

/// Every check of one receipt and every failure; what it keeps when its bytes match its
/// next_root (it links the chain then, whatever else failed).
pub(super) fn check_one(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    opts: &Options,
) -> (Option<One>, Vec<Error>) {
    let mut errors = Vec::new();
    match Receipt::read(kind, path, Some(owner)) {
        Ok(r) => {
            let one = check_read(kind, owner, path, r, opts, &mut errors);
            (Some(one), errors)
        }
        Err(e) => {
            let unlinked = match &e {
                Error::NextRootMismatch { .. } | Error::OwnerMismatch { .. } => {
                    unlinked(kind, owner, path, &e)
                }
                _ => None,
            };
            errors.push(e);
            if let Some((r, also)) = unlinked {
                errors.extend(also);
                check_read(kind, owner, path, r, opts, &mut errors);
            }
            (None, errors)
        }
    }
}

/// A well-formed receipt that fails its next_root or owner check, as it is (with the link its
/// bytes give, which the chain does not use), so that its other checks still run; and an owner
/// mismatch behind a next_root mismatch. None when it cannot be read again.
fn unlinked(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    first: &Error,
) -> Option<(Receipt, Option<Error>)> {
    let value = crate::canon::parse(&std::fs::read(path).ok()?).ok()?;
    let mut fixed = value.clone();
    let computed = super::receipt::next_root(&value).ok()?;
    fixed
        .as_object_mut()?
        .insert("next_root".into(), computed.to_hex().into());
    let (checked, also) = match Receipt::check(kind, fixed.clone(), path, Some(owner)) {
        Err(e @ Error::OwnerMismatch { .. }) => {
            let also = (!matches!(first, Error::OwnerMismatch { .. })).then_some(e);
            (Receipt::check(kind, fixed, path, None).ok()?, also)
        }
        other => (other.ok()?, None),
    };
    // The signatures are judged over the file's bytes, not over the corrected copy.
    Some((Receipt { value, ..checked }, also))
}

/// The checks of a receipt after its bytes: each failure goes to `errors`.
fn check_read(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    r: Receipt,
    opts: &Options,
    errors: &mut Vec<Error>,
) -> One {
    let mut keep = |res: Result<(), Error>| {
        if let Err(e) = res {
            errors.push(e);
        }
    };
    keep(super::anchor::check_attachments(&r.value, path));
    if let Some(lock) = &opts.transition_types {
        keep(lock.check_receipt(&r.value, path));
    }
    let (signers, needs) = match check_receipt(kind, owner, &r, opts) {
        Ok(ok) => ok,
        Err(found) => {
            errors.extend(found);
            (Vec::new(), None)
        }
    };
    // A set that does not parse is not also compared (its finding stands for that).
    let mut set = |field: &'static str, expected: &Option<Vec<Digest>>| {
        let found = r.digest_set(field).map_err(|e| errors.push(e)).ok()?;
        if let Some(expected) = expected {
            if let Err(e) = compare_set(path, field, expected, &found) {
                errors.push(e);
            }
        }
        Some(found)
    };
    let rulesets = set("ruleset_digest_set", &opts.expected_rulesets);
    let lawpacks = set("lawpack_digest_set", &opts.expected_lawpacks);
    let (lawpacks, rulesets) = (lawpacks.unwrap_or_default(), rulesets.unwrap_or_default());
    let sets = if lawpacks.is_empty() && rulesets.is_empty() {
        None
    } else {
        Some(Box::new((lawpacks, rulesets)))
    };
    One {
        link: r.link,
        sets,
        signers,
        needs,
    }
}

/// The signature checks of one receipt: the harbor quorum, at least one valid proof, and a
/// trusted signer that the key lifecycle lets count at the receipt's position. Returns the
/// valid signers and, when only revoked keys count, the revocations whose checkpoint the chain
/// must match; else every failure (a bad signature beside a pending quorum is both).
pub fn check_receipt(
    kind: Kind,
    owner: &str,
    r: &Receipt,
    opts: &Options,
) -> Result<(Vec<vc::Did>, Needs), Vec<Error>> {
    let results = vc::verify_proofs(&r.value).map_err(|e| vec![e.into()])?;
    let mut errors = Vec::new();
    let signers = vc::valid_signers(&results);
    // The receipt's position and name matter only to a key lifecycle; most chains have none,
    // and this runs once per receipt, so they are made only then.
    let lifecycle = opts
        .lifecycle
        .as_deref()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let at = Position {
                chain: ChainId::new(kind, owner, opts.purpose.as_deref()),
                sequence: r.link.sequence,
            };
            (l, at, r.path.display().to_string())
        });
    let mut groups: Vec<Box<[u16]>> = Vec::new();
    if let (Kind::Asset, Some(harbors)) = (kind, &opts.harbors) {
        let quorum = match &lifecycle {
            None => harbors.check(&r.value, &signers, &r.path),
            Some((l, at, object)) => {
                // A revoked harbor key counts toward the quorum only where its revocation
                // places the receipt, and only when the quorum needs it.
                let super::lifecycle::QuorumSigners {
                    firm,
                    conditional,
                    ruled_out,
                } = l.quorum_signers(object, at, &signers);
                let mut quorum = harbors.check(&r.value, &firm, &r.path);
                if matches!(quorum, Err(Error::Trust(TrustError::PendingQuorum { .. })))
                    && !conditional.is_empty()
                {
                    let all: Vec<vc::Did> = firm
                        .iter()
                        .cloned()
                        .chain(conditional.iter().map(|(d, _)| d.clone()))
                        .collect();
                    quorum = harbors.check(&r.value, &all, &r.path);
                    if quorum.is_ok() {
                        groups.extend(conditional.into_iter().map(|(_, ids)| ids.into()));
                    }
                }
                // The keys ruled out are why the quorum is short: each one is the finding.
                match (quorum, Error::all(ruled_out)) {
                    (Err(Error::Trust(TrustError::PendingQuorum { .. })), Some(e))
                        if !opts.pending_ok =>
                    {
                        Err(e)
                    }
                    (quorum, _) => quorum,
                }
            }
        };
        match quorum {
            Err(Error::Trust(TrustError::PendingQuorum { .. }))
                if opts.pending_ok && signers.is_empty() =>
            {
                return Ok((signers, None));
            }
            Err(Error::Trust(TrustError::PendingQuorum { .. })) if opts.pending_ok => {}
            Err(e) => errors.push(e),
            Ok(_) => {}
        }
    }
    if signers.is_empty() {
        // Without a valid signer, trust has nothing to judge: the bad proofs are the finding.
        let why = results.iter().filter_map(|x| x.error.clone()).collect();
        errors.push(Error::NoValidProof {
            path: r.path.clone(),
            errors: why,
        });
        return Err(errors);
    }
    let untrusted = || {
        Error::Trust(TrustError::Untrusted {
            path: r.path.clone(),
            attestation: kind.receipt_attestation(),
        })
    };
    if let Some((lifecycle, at, object)) = lifecycle {
        let trust = opts
            .trust_anchors
            .as_ref()
            .map(|a| (a, kind.receipt_attestation()));
        match lifecycle.standing(&object, Some(&at), &signers, trust) {
            Ok(Some(Standing::Counts)) => {}
            Ok(Some(Standing::IfInside(ids))) => groups.push(ids.into()),
            Ok(None) => errors.push(untrusted()),
            Err(e) => errors.push(e),
        }
    } else if let Some(anchors) = &opts.trust_anchors {
        let attestation = kind.receipt_attestation();
        if !signers
            .iter()
            .any(|d| anchors.allows(d.as_str(), Some(attestation)))
        {
            errors.push(untrusted());
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let needs = (!groups.is_empty()).then(|| Box::new(groups.into_boxed_slice()));
    Ok((signers, needs))
}

fn compare_set(
    path: &std::path::Path,
    field: &'static str,
    expected: &[Digest],
    found: &[Digest],
) -> Result<(), Error> {
    if expected == found {
        return Ok(());
    }
    Err(Error::DigestSetMismatch {
        path: path.to_path_buf(),
        field,
        expected: expected.iter().map(Digest::to_hex).collect(),
        found: found.iter().map(Digest::to_hex).collect(),
    })
}

/// Merges identical receipts (one link in several files) into one entry.
fn merge_identical(checked: &mut Vec<Checked>) {
    // Sorting by (link, file) and keeping the first of equal links merges identical receipts
    // deterministically: the first file by name represents them.
    checked.sort_unstable_by_key(|c| (c.link, c.file));
    checked.dedup_by(|b, a| {
        if a.link != b.link {
            return false;
        }
        // Identical receipts' proofs merge: if either counts outright, the receipt does. When
        // both need revocation checkpoints, one group each is exact (either suffices); with
        // more groups, the copy needing fewer is kept (never counts what neither would).
        match (&mut a.needs, b.needs.take()) {
            (_, None) => a.needs = None,
            (Some(x), Some(y)) if x.len() == 1 && y.len() == 1 => {
                **x = Box::new([x[0].iter().chain(y[0].iter()).copied().collect()])
            }
            (Some(x), Some(y)) if y.len() < x.len() => *x = y,
            _ => {}
        }
        true
    });
}

/// Merges duplicates, selects the chain, and computes its MMR (streaming: O(log n) memory).
/// Every chain-level failure is returned; the chain is computed as far as it links.
fn assemble(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    mut checked: Vec<Checked>,
    files: &FileList,
    opts: &Options,
) -> (Option<ChainResult>, Vec<Error>) {
    let mut errors = Vec::new();
    merge_identical(&mut checked);
    let links = &checked[..];
    let no_initial = !links.is_empty() && !links.iter().any(|l| l.link.sequence == 0);
    if no_initial {
        errors.push(Error::NoInitial);
    }
    let selection: Selection = match select::select(links, (0, genesis_root), &opts.resolutions) {
        Ok(s) => s,
        Err(Stop::Fork(p)) => {
            errors.push(Error::Fork {
                sequence: p.sequence,
                prev_root: p.prev_root,
                candidates: p.candidates.len(),
            });
            return (None, errors);
        }
        Err(Stop::NotACandidate(p)) => {
            errors.push(Error::ResolutionNotCandidate {
                sequence: p.sequence,
                prev_root: p.prev_root,
                chosen: p.chosen.expect("a NotACandidate stop has a choice"),
                candidates: p.candidates.iter().map(Digest::to_hex).collect(),
            });
            return (None, errors);
        }
    };
    if selection.chain.is_empty() && !links.is_empty() && !no_initial {
        errors.push(Error::NoChainStart { genesis_root });
    }
    let last = selection.chain.len() as i64 - 1;
    let beyond = selection
        .unreachable
        .iter()
        .filter(|&&i| links[i].link.sequence as i64 > last)
        .count();
    if beyond > 0 && !selection.chain.is_empty() {
        errors.push(Error::Gap {
            last,
            missing: (last + 1) as u64,
            count: beyond,
        });
    }
    let mut warnings: Vec<String> = selection
        .resolved
        .iter()
        .map(|p| {
            format!(
                "fork resolved at seq={} prev_root={} -> next_root={}",
                p.sequence,
                p.prev_root,
                p.chosen.map(|d| d.to_hex()).unwrap_or_default()
            )
        })
        .collect();
    let off_chain = selection.unreachable.len() + selection.fork_branches.len();
    if off_chain > 0 {
        let first: Vec<String> = selection
            .unreachable
            .iter()
            .chain(&selection.fork_branches)
            .take(5)
            .map(|&i| format!("seq {} {}", links[i].link.sequence, links[i].link.next_root))
            .collect();
        warnings.push(format!("non-canonical receipts present (fork branches / unreachable segments): {off_chain}; first few: {first:?}"));
    }

    let mut result = ChainResult {
        kind,
        owner: owner.to_string(),
        genesis_root,
        next_roots: Vec::with_capacity(selection.chain.len()),
        roots: BTreeMap::new(),
        files: files.clone(),
        chain_files: Vec::with_capacity(selection.chain.len()),
        receipt_count: selection.chain.len() as u64,
        final_root: genesis_root,
        mmr: None,
        lawpack_digest_set: Vec::new(),
        ruleset_digest_set: Vec::new(),
        first_lawpack_digest_set: Vec::new(),
        first_ruleset_digest_set: Vec::new(),
        receipts_read: files.len(),
        warnings,
    };
    let lifecycle = opts.lifecycle.as_deref().filter(|l| !l.is_empty());
    let chain_id = ChainId::new(kind, owner, opts.purpose.as_deref());
    let checkpoints = lifecycle
        .map(|l| l.checkpoints_on(&chain_id))
        .unwrap_or_default();
    let mut roots: BTreeMap<u64, Digest> = BTreeMap::new();
    let mut acc = mmr::AppendState::new();
    for (pos, &i) in selection.chain.iter().enumerate() {
        let c = &links[i];
        if let Some(sets) = &c.sets {
            if pos == 0 {
                result.first_lawpack_digest_set = sets.0.clone();
                result.first_ruleset_digest_set = sets.1.clone();
            }
            result.lawpack_digest_set.extend(sets.0.iter().copied());
            result.ruleset_digest_set.extend(sets.1.iter().copied());
        }
        result.next_roots.push(c.link.next_root);
        result.chain_files.push(c.file);
        acc.append(mmr::leaf_hash(&c.link.next_root));
        if checkpoints.iter().any(|&(_, size, _)| size == acc.size()) {
            if let Some(root) = acc.root() {
                roots.insert(acc.size(), root);
            }
        }
    }
    if let Some(l) = lifecycle {
        errors.extend(enforce_checkpoints(
            l,
            &checkpoints,
            &roots,
            &selection.chain,
            links,
            files,
        ));
        if l.policy.is_some() {
            let uses = policy_uses(kind, &selection.chain, links, files);
            result.warnings.extend(l.policy_warnings(&chain_id, &uses));
        }
    }
    for set in [
        &mut result.lawpack_digest_set,
        &mut result.ruleset_digest_set,
    ] {
        set.sort();
        set.dedup();
    }
    if let (Some(root), Some(&last)) = (acc.root(), result.next_roots.last()) {
        result.final_root = last;
        result.mmr = Some(mmr::MmrRoot {
            size: acc.size(),
            root,
            peaks: acc.peaks(),
        });
    }
    (Some(result), errors)
}

/// Every chain receipt that counts only through revoked keys whose valid_through checkpoint
/// the selected chain does not match at its size (one finding per receipt).
fn enforce_checkpoints(
    l: &Lifecycle,
    checkpoints: &[(u16, u64, Digest)],
    roots: &BTreeMap<u64, Digest>,
    chain: &[usize],
    links: &[Checked],
    files: &FileList,
) -> Vec<Error> {
    let matched: Vec<u16> = checkpoints
        .iter()
        .filter(|(_, size, root)| roots.get(size) == Some(root))
        .map(|(i, _, _)| *i)
        .collect();
    let mut errors = Vec::new();
    for &i in chain {
        let c = &links[i];
        let unmet = c.needs.iter().flat_map(|n| n.iter());
        if let Some(group) = unmet
            .into_iter()
            .find(|g| !g.iter().any(|n| matched.contains(n)))
        {
            let object = files.path(c.file as usize).display().to_string();
            errors.push(l.outside(&object, c.link.sequence, group, roots));
        }
    }
    errors
}

/// (sequence, timestamp, proof signers) of each chain receipt, for the advisory policy; the
/// receipts are read again, which only a trust-anchors file naming a policy asks for.
fn policy_uses(
    kind: Kind,
    chain: &[usize],
    links: &[Checked],
    files: &FileList,
) -> Vec<(u64, String, Vec<String>)> {
    chain
        .iter()
        .filter_map(|&i| {
            let c = &links[i];
            let r = Receipt::read(kind, &files.path(c.file as usize), None).ok()?;
            let ts = r.value.get("timestamp")?.as_str()?.to_string();
            let signers = vc::verify_proofs(&r.value)
                .map(|res| {
                    vc::valid_signers(&res)
                        .iter()
                        .map(|d| d.as_str().to_string())
                        .collect()
                })
                .unwrap_or_default();
            Some((c.link.sequence, ts, signers))
        })
        .collect()
}

/// The reference's MMR object: `{type: MSEZReceiptMMR, algorithm, size, root, peaks}`.
pub fn mmr_object(root: &mmr::MmrRoot) -> Value {
    serde_json::json!({
        "type": "MSEZReceiptMMR",
        "algorithm": "sha256",
        "size": root.size,
        "root": root.root.to_hex(),
        "peaks": root.peaks.iter().map(|p: &Peak| serde_json::json!({"height": p.height, "hash": p.hash.to_hex()})).collect::<Vec<_>>(),
    })
}

impl Error {
    /// Several failures of one verification as one error: the one itself when they say one
    /// thing, else a refusal carrying every distinct finding (it reads as the one the
    /// precedence picks); None when there is none.
    pub fn all(errors: Vec<Error>) -> Option<Error> {
        // A set, not a scan: a million failing receipts are a million findings.
        let mut seen = std::collections::HashSet::new();
        let findings: Vec<Finding> = errors
            .iter()
            .flat_map(Finding::all_of)
            .filter(|f| seen.insert(format!("{f:?}")))
            .collect();
        if findings.len() <= 1 {
            return errors.into_iter().next();
        }
        Refused::new(findings).map(Error::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::{Class, Classify};

    #[test]
    fn several_errors_are_one_refusal_that_reads_as_the_precedences_pick() {
        let gap = || Error::Gap {
            last: 0,
            missing: 1,
            count: 1,
        };
        let bad = || Error::NoValidProof {
            path: "r.json".into(),
            errors: Vec::new(),
        };
        assert!(Error::all(Vec::new()).is_none());
        assert!(matches!(Error::all(vec![gap()]), Some(Error::Gap { .. })));
        // One thing said twice stays that one typed error.
        assert!(matches!(
            Error::all(vec![gap(), gap()]),
            Some(Error::Gap { .. })
        ));
        // A missing receipt found first does not outrank a bad signature.
        let e = Error::all(vec![gap(), bad()]).unwrap();
        assert_eq!(e.class(), Class::Signature);
        assert_eq!(e.code(), "signature.no_valid_proofs");
        let codes: Vec<&str> = e.findings().iter().map(|f| f.code).collect();
        assert_eq!(codes, ["missing.receipt", "signature.no_valid_proofs"]);
    }
}
