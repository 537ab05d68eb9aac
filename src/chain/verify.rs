//! Chain verification: every check of the reference's verifier (§4.4, §4.5), in its order, over
//! a set of receipt files; then selection and the MMR.
//!
//! Per receipt (the first failure is recorded and the file skipped): parse, schema, next_root,
//! owner (assets), digest sets (corridors), at least one valid proof, trust anchors when given.
//! Then identical receipts merge, the chain is selected from the genesis root (forks need
//! resolutions), and the MMR is computed. Signature checks run on every core; only a compact
//! [`Link`] per receipt is kept, so memory stays small at a million receipts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::canon::{Digest, Value};
use crate::chain::trust::Error as TrustError;
use crate::mmr::{self, Peak};
use crate::taxonomy::{Classify, Finding};
use crate::vc::{self, TrustAnchors};

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
    /// The chain's next_roots in order.
    #[serde(skip)]
    pub next_roots: Vec<Digest>,
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
type Sets = Option<Box<(Vec<Digest>, Vec<Digest>)>>;

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

/// Verifies every file in `files` as one chain of `kind` owned by `owner` from `genesis_root`.
///
/// Errors are collected per file, in file order; if any, they are all returned.
pub fn verify(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    files: &FileList,
    opts: &Options,
) -> Result<ChainResult, Vec<Error>> {
    let (checked, errors) = check_all(kind, owner, files, opts);
    if !errors.is_empty() {
        return Err(errors);
    }
    let (result, errors) = assemble(kind, owner, genesis_root, checked, files, opts);
    match result {
        Some(r) if errors.is_empty() => Ok(r),
        _ => Err(errors),
    }
}

/// A whole verification: every finding, and what could be computed despite them.
#[derive(Debug)]
pub struct Outcome {
    /// The chain as far as it links from the genesis root (None only when a fork leaves no
    /// single chain to compute).
    pub result: Option<ChainResult>,
    /// Every error: receipt checks in file order, then the chain's (gap, fork, revocations).
    pub errors: Vec<Error>,
}

/// Runs every check and reports all ([`verify`] stops at the receipt checks): a receipt
/// whose signature, quorum or trust fails still links the chain, so the chain, its head and
/// MMR are computed and a checkpoint can still be compared with them.
pub fn verify_all(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    files: &FileList,
    opts: &Options,
) -> Outcome {
    let (checked, mut errors) = check_all(kind, owner, files, opts);
    let (result, more) = assemble(kind, owner, genesis_root, checked, files, opts);
    errors.extend(more);
    Outcome { result, errors }
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
                        match check_one(kind, owner, &files.path(i), opts) {
                            Ok(one) => {
                                *slot = Checked {
                                    link: one.link,
                                    file: i as u32,
                                    sets: one.sets,
                                    needs: one.needs,
                                }
                            }
                            // A receipt whose bytes match its next_root still links the
                            // chain even when its later checks fail.
                            Err((Some(link), e)) => {
                                *slot = Checked {
                                    link,
                                    file: i as u32,
                                    sets: None,
                                    needs: None,
                                };
                                errs.push((i, e));
                            }
                            Err((None, e)) => {
                                slot.file = FAILED;
                                errs.push((i, e));
                            }
                        }
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
    check_one(kind, owner, path, opts)
        .map(|one| (one.link, one.signers))
        .map_err(|(_, e)| e)
}

/// What the checks of one receipt keep.
struct One {
    link: Link,
    sets: Sets,
    signers: Vec<vc::Did>,
    needs: Needs,
}

/// Checks one receipt; on failure, its link when its bytes matched its next_root.
#[allow(clippy::result_large_err)] // one per receipt, consumed at once by the caller
fn check_one(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    opts: &Options,
) -> Result<One, (Option<Link>, Error)> {
    let r = Receipt::read(kind, path, Some(owner)).map_err(|e| (None, e))?;
    let link = r.link;
    check_read(kind, owner, path, r, opts).map_err(|e| (Some(link), e))
}

fn check_read(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    r: Receipt,
    opts: &Options,
) -> Result<One, Error> {
    super::anchor::check_attachments(&r.value, path)?;
    if let Some(lock) = &opts.transition_types {
        lock.check_receipt(&r.value, path)?;
    }
    let (signers, needs) = check_receipt(kind, owner, &r, opts)?;
    let lawpacks = r.digest_set("lawpack_digest_set")?;
    let rulesets = r.digest_set("ruleset_digest_set")?;
    if let Some(expected) = &opts.expected_rulesets {
        compare_set(path, "ruleset_digest_set", expected, &rulesets)?;
    }
    if let Some(expected) = &opts.expected_lawpacks {
        compare_set(path, "lawpack_digest_set", expected, &lawpacks)?;
    }
    let sets = if lawpacks.is_empty() && rulesets.is_empty() {
        None
    } else {
        Some(Box::new((lawpacks, rulesets)))
    };
    Ok(One {
        link: r.link,
        sets,
        signers,
        needs,
    })
}

/// The signature checks of one receipt: at least one valid proof, and a trusted signer that
/// the key lifecycle lets count at the receipt's position. Returns the valid signers and, when
/// only revoked keys count, the revocations whose checkpoint the chain must match.
pub fn check_receipt(
    kind: Kind,
    owner: &str,
    r: &Receipt,
    opts: &Options,
) -> Result<(Vec<vc::Did>, Needs), Error> {
    let results = vc::verify_proofs(&r.value)?;
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
                match (quorum, ruled_out) {
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
            other => {
                other?;
            }
        }
    }
    let needs =
        |groups: Vec<Box<[u16]>>| (!groups.is_empty()).then(|| Box::new(groups.into_boxed_slice()));
    if signers.is_empty() {
        let errors = results.iter().filter_map(|x| x.error.clone()).collect();
        return Err(Error::NoValidProof {
            path: r.path.clone(),
            errors,
        });
    }
    if let Some((lifecycle, at, object)) = lifecycle {
        let trust = opts
            .trust_anchors
            .as_ref()
            .map(|a| (a, kind.receipt_attestation()));
        return match lifecycle.standing(&object, Some(&at), &signers, trust)? {
            Some(Standing::Counts) => Ok((signers, needs(groups))),
            Some(Standing::IfInside(ids)) => {
                groups.push(ids.into());
                Ok((signers, needs(groups)))
            }
            None => Err(Error::Trust(TrustError::Untrusted {
                path: r.path.clone(),
                attestation: kind.receipt_attestation(),
            })),
        };
    }
    if let Some(anchors) = &opts.trust_anchors {
        let attestation = kind.receipt_attestation();
        if !signers
            .iter()
            .any(|d| anchors.allows(d.as_str(), Some(attestation)))
        {
            return Err(Error::Trust(TrustError::Untrusted {
                path: r.path.clone(),
                attestation,
            }));
        }
    }
    Ok((signers, None))
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
        if let Err(e) = enforce_checkpoints(l, &checkpoints, &roots, &selection.chain, links, files)
        {
            errors.push(e);
        }
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

/// Fails on the first chain receipt that counts only through revoked keys whose
/// valid_through checkpoint the selected chain does not match at its size.
fn enforce_checkpoints(
    l: &Lifecycle,
    checkpoints: &[(u16, u64, Digest)],
    roots: &BTreeMap<u64, Digest>,
    chain: &[usize],
    links: &[Checked],
    files: &FileList,
) -> Result<(), Error> {
    let matched: Vec<u16> = checkpoints
        .iter()
        .filter(|(_, size, root)| roots.get(size) == Some(root))
        .map(|(i, _, _)| *i)
        .collect();
    for &i in chain {
        let c = &links[i];
        for group in c.needs.iter().flat_map(|n| n.iter()) {
            if !group.iter().any(|n| matched.contains(n)) {
                let object = files.path(c.file as usize).display().to_string();
                return Err(l.outside(&object, c.link.sequence, group, roots));
            }
        }
    }
    Ok(())
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

/// Findings for a list of verify errors (the CLI reports all of them).
pub fn findings(errors: &[Error]) -> Vec<Finding> {
    errors.iter().map(Finding::from_error).collect()
}

impl Error {
    /// The exit code of the most fundamental of several errors.
    pub fn worst_exit(errors: &[Error]) -> u8 {
        errors
            .iter()
            .map(|e| e.class().exit_code())
            .min()
            .unwrap_or(0)
    }
}
