//! Chain verification: every check of the reference's verifier (§4.4, §4.5), in its order, over
//! a set of receipt files; then selection and the MMR.
//!
//! Per receipt (the first failure is recorded and the file skipped): parse, schema, next_root,
//! owner (assets), digest sets (corridors), at least one valid proof, trust anchors when given.
//! Then identical receipts merge, the chain is selected from the genesis root (forks need
//! resolutions), and the MMR is computed. Signature checks run on every core; only a compact
//! [`Link`] per receipt is kept, so memory stays small at a million receipts.

use std::path::PathBuf;

use serde::Serialize;

use crate::canon::{Digest, Value};
use crate::error::{Classify, Finding};
use crate::mmr::{self, Peak};
use crate::vc::{self, TrustAnchors};

use super::receipt::Receipt;
use super::select::{self, Link, Resolutions, Selection, Stop};
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
    /// The files of the chain's receipts, in order (one per link; duplicates pick the first).
    #[serde(skip)]
    pub paths: Vec<PathBuf>,
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

/// One receipt after its own checks.
struct Checked {
    link: Link,
    path: PathBuf,
    lawpacks: Vec<Digest>,
    rulesets: Vec<Digest>,
}

/// Verifies every file in `files` as one chain of `kind` owned by `owner` from `genesis_root`.
///
/// Errors are collected per file; if any, the first is returned (the CLI lists all via
/// [`Error::class`] of each in [`verify_report`]).
pub fn verify(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    files: &[PathBuf],
    opts: &Options,
) -> Result<ChainResult, Vec<Error>> {
    let checked = check_all(kind, owner, files, opts);
    let mut ok = Vec::with_capacity(checked.len());
    let mut errors = Vec::new();
    for c in checked {
        match c {
            Ok(c) => ok.push(c),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    assemble(kind, owner, genesis_root, ok, files.len(), opts).map_err(|e| vec![e])
}

/// Checks each file on its own, in parallel, keeping file order.
fn check_all(
    kind: Kind,
    owner: &str,
    files: &[PathBuf],
    opts: &Options,
) -> Vec<Result<Checked, Error>> {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    };
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| check_one(kind, owner, p, opts))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a verify worker does not panic"))
            .collect()
    })
}

fn check_one(
    kind: Kind,
    owner: &str,
    path: &std::path::Path,
    opts: &Options,
) -> Result<Checked, Error> {
    let r = Receipt::read(kind, path, Some(owner))?;
    check_receipt(kind, &r, opts)?;
    let lawpacks = r.digest_set("lawpack_digest_set")?;
    let rulesets = r.digest_set("ruleset_digest_set")?;
    if let Some(expected) = &opts.expected_rulesets {
        compare_set(path, "ruleset_digest_set", expected, &rulesets)?;
    }
    if let Some(expected) = &opts.expected_lawpacks {
        compare_set(path, "lawpack_digest_set", expected, &lawpacks)?;
    }
    Ok(Checked {
        link: r.link,
        path: path.to_path_buf(),
        lawpacks,
        rulesets,
    })
}

/// The signature checks of one receipt: at least one valid proof, and a trusted signer.
pub fn check_receipt(kind: Kind, r: &Receipt, opts: &Options) -> Result<Vec<vc::Did>, Error> {
    let results = vc::verify_proofs(&r.value)?;
    let signers = vc::valid_signers(&results);
    if signers.is_empty() {
        let errors = results.iter().filter_map(|x| x.error.clone()).collect();
        return Err(Error::NoValidProof {
            path: r.path.clone(),
            errors,
        });
    }
    if let Some(anchors) = &opts.trust_anchors {
        let attestation = kind.receipt_attestation();
        if !signers
            .iter()
            .any(|d| anchors.allows(d.as_str(), Some(attestation)))
        {
            return Err(Error::Untrusted {
                path: r.path.clone(),
                attestation,
            });
        }
    }
    Ok(signers)
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

/// Merges duplicates, selects the chain, and computes its MMR.
fn assemble(
    kind: Kind,
    owner: &str,
    genesis_root: Digest,
    checked: Vec<Checked>,
    read: usize,
    opts: &Options,
) -> Result<ChainResult, Error> {
    let links = select::dedup(checked.iter().map(|c| c.link).collect());
    if !links.iter().any(|l| l.sequence == 0) && !links.is_empty() {
        return Err(Error::NoInitial);
    }
    let selection: Selection = match select::select(&links, (0, genesis_root), &opts.resolutions) {
        Ok(s) => s,
        Err(Stop::Fork(p)) => {
            return Err(Error::Fork {
                sequence: p.sequence,
                prev_root: p.prev_root,
                candidates: p.candidates.len(),
            });
        }
        Err(Stop::NotACandidate(p)) => {
            return Err(Error::ResolutionNotCandidate {
                sequence: p.sequence,
                prev_root: p.prev_root,
                chosen: p.chosen.expect("a NotACandidate stop has a choice"),
                candidates: p.candidates.iter().map(Digest::to_hex).collect(),
            });
        }
    };
    if selection.chain.is_empty() && !links.is_empty() {
        return Err(Error::NoChainStart { genesis_root });
    }
    let last = selection.chain.len() as i64 - 1;
    let beyond: Vec<&Link> = selection
        .unreachable
        .iter()
        .map(|&i| &links[i])
        .filter(|l| l.sequence as i64 > last)
        .collect();
    if !beyond.is_empty() {
        return Err(Error::Gap {
            last,
            missing: (last + 1) as u64,
            count: beyond.len(),
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
            .map(|&i| format!("seq {} {}", links[i].sequence, links[i].next_root))
            .collect();
        warnings.push(format!("non-canonical receipts present (fork branches / unreachable segments): {off_chain}; first few: {first:?}"));
    }

    // Per-link data from the first file that carried it.
    let mut by_root: std::collections::HashMap<Digest, &Checked> =
        std::collections::HashMap::with_capacity(checked.len());
    for c in &checked {
        by_root.entry(c.link.next_root).or_insert(c);
    }
    let next_roots: Vec<Digest> = selection
        .chain
        .iter()
        .map(|&i| links[i].next_root)
        .collect();
    let mut result = ChainResult {
        kind,
        owner: owner.to_string(),
        genesis_root,
        paths: Vec::with_capacity(next_roots.len()),
        receipt_count: next_roots.len() as u64,
        final_root: next_roots.last().copied().unwrap_or(genesis_root),
        mmr: None,
        lawpack_digest_set: Vec::new(),
        ruleset_digest_set: Vec::new(),
        first_lawpack_digest_set: Vec::new(),
        first_ruleset_digest_set: Vec::new(),
        receipts_read: read,
        warnings,
        next_roots: Vec::new(),
    };
    for (i, root) in next_roots.iter().enumerate() {
        let c = by_root[root];
        if i == 0 {
            result.first_lawpack_digest_set = c.lawpacks.clone();
            result.first_ruleset_digest_set = c.rulesets.clone();
        }
        result.lawpack_digest_set.extend(c.lawpacks.iter().copied());
        result.ruleset_digest_set.extend(c.rulesets.iter().copied());
        result.paths.push(c.path.clone());
    }
    for set in [
        &mut result.lawpack_digest_set,
        &mut result.ruleset_digest_set,
    ] {
        set.sort();
        set.dedup();
    }
    if !next_roots.is_empty() {
        result.mmr = Some(mmr::mmr_root_from_next_roots(&next_roots)?);
    }
    result.next_roots = next_roots;
    Ok(result)
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
