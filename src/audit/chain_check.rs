//! One receipt chain audited: linkage, signatures, trust, forks, harbor quorums, witness
//! policy, every checkpoint and inclusion proof against the chain, and its picture.

use std::path::PathBuf;
use std::sync::Arc;

use crate::canon::Value;
use crate::chain::module::AssetModule;
use crate::chain::ops::{self, Chain};
use crate::chain::{self, Kind, checkpoint, fork, harbor, inclusion, receipt, registry, verify};
use crate::render::svg::{self, ChainPicture, Status};
use crate::taxonomy::Classify;
use crate::verdict::{self, Findings, Verdict};

use super::*;

pub(super) fn check_chain(
    c: &Chain,
    rel: &str,
    trust: &TrustSource,
    own_anchors: Option<PathBuf>,
    asset: Option<&AssetModule>,
    claims: Claims,
) -> ChainReport {
    let mut f = Findings::default();
    let (opts, trust_name) = verify_options(c, trust, own_anchors, asset, &mut f);
    let outcome = ops::verify(c, &opts);
    let result = outcome.result;
    // The chain's witness policy over its checkpoint notes (docs/tlog.md).
    let witness_policy = result
        .as_ref()
        .and_then(|r| crate::tlog::policy::apply(c, &r.next_roots, &mut f))
        .map(|mut p| {
            relative_paths(&mut p, c, rel);
            serde_json::to_value(&p).unwrap_or_default()
        });
    let ck_files = receipt::json_files(&c.checkpoints_dir).unwrap_or_else(|e| {
        f.push(&e);
        Vec::new()
    });
    let (gap, forks) = chain_errors(&outcome.errors, &ck_files, rel, claims, &mut f);
    let (checkpoints, ck_marks) =
        check_checkpoints(c, &ck_files, result.as_ref(), &opts, claims, &mut f);
    let proof_files = receipt::json_files(&c.proofs_dir).unwrap_or_else(|e| {
        f.push(&e);
        Vec::new()
    });
    check_proofs(
        c,
        &proof_files,
        result.as_ref(),
        &checkpoints,
        &opts,
        &mut f,
    );
    // Anchors the bundle ships vouch for nothing on their own.
    if trust_name == "bundle" {
        self_trusted(c, rel, result.as_ref(), &mut f);
    }
    let anchors = match (c.kind, result.as_ref()) {
        (Kind::Corridor, Some(r)) => anchors_in(r, rel),
        _ => Vec::new(),
    };
    let picture = picture(c, rel, result.as_ref(), ck_marks, gap, forks, &anchors);
    ChainReport {
        kind: c.kind,
        owner: c.owner.clone(),
        purpose: c.purpose.clone(),
        module: rel.to_string(),
        verdict: f.verdict(),
        genesis_root: c.genesis_root.to_hex(),
        receipt_count: result.as_ref().map(|r| r.receipt_count),
        final_root: result.as_ref().map(|r| r.final_root.to_hex()),
        mmr: result
            .as_ref()
            .and_then(|r| r.mmr.as_ref())
            .map(verify::mmr_object),
        checkpoints_checked: ck_files.len() as u64,
        proofs_checked: proof_files.len() as u64,
        trust: trust_name,
        witness_policy,
        findings: f.items(),
        picture,
        result: result.map(Arc::new),
        anchors,
    }
}

/// The policy report's file names under the module named `rel`, not where the tree was
/// read from (a bundle's chains are checked in a temporary directory).
fn relative_paths(p: &mut crate::tlog::policy::Report, c: &Chain, rel: &str) {
    let fix = |path: &mut PathBuf| {
        if let Ok(r) = path.strip_prefix(&c.module_dir) {
            *path = PathBuf::from(rel).join(r);
        }
    };
    fix(&mut p.pinned_in);
    if let Some(ck) = p.checkpoint.as_mut() {
        fix(ck);
    }
    for i in &mut p.ignored {
        fix(&mut i.note);
    }
}

/// The verification options for `c`: the anchors that judge it, its harbor policy and its fork
/// resolutions; failures to load them are findings.
fn verify_options(
    c: &Chain,
    trust: &TrustSource,
    own_anchors: Option<PathBuf>,
    asset: Option<&AssetModule>,
    f: &mut Findings,
) -> (verify::Options, &'static str) {
    let (anchors, lifecycle, trust_name) = anchors_for(trust, own_anchors, f);
    let harbors = match asset {
        Some(m) => match registry::pinned(m, anchors.as_ref()) {
            Ok(policy) => Some(Arc::new(harbor::Harbors {
                policy,
                anchors: anchors.clone(),
                ..harbor::Harbors::default()
            })),
            Err(e) => {
                f.push(&e);
                None
            }
        },
        None => None,
    };
    let mut opts = verify::Options {
        trust_anchors: anchors,
        harbors,
        pending_ok: false,
        lifecycle,
        ..Default::default()
    };
    let loaded = fork::load(
        c,
        &c.forks_dir,
        fork::Policy {
            anchors: opts.trust_anchors.as_ref(),
            lifecycle: opts.lifecycle.as_deref(),
            allow_unsigned: false,
        },
    );
    f.extend(&loaded.errors);
    opts.resolutions = loaded.resolutions;
    (opts, trust_name)
}

/// The chain's own errors as findings: a gap is `invalid` where something claims the history
/// complete (the bundle, or a checkpoint covering it). Returns the gap and the forks.
fn chain_errors(
    errors: &[chain::Error],
    ck_files: &[PathBuf],
    rel: &str,
    claims: Claims,
    f: &mut Findings,
) -> (Option<(u64, u64)>, Vec<String>) {
    // The largest size a checkpoint here claims: a gap below it is a definite failure.
    let covered = ck_files
        .iter()
        .filter_map(|p| read_json(p).ok())
        .filter_map(|v| v.get("receipt_count").and_then(Value::as_u64))
        .max()
        .unwrap_or(0);
    let mut gap = None;
    let mut forks = Vec::new();
    for e in errors {
        if let chain::Error::Gap { missing, count, .. } = e {
            gap = Some((*missing, *count as u64));
        }
        if e.class() == crate::taxonomy::Class::Fork {
            forks.push(e.to_string());
        }
        match e {
            chain::Error::Gap { missing, count, .. }
                if claims.complete || (claims.files_complete && *missing < covered) =>
            {
                let what = if claims.complete {
                    format!("the bundle's chain {rel}")
                } else {
                    format!("a checkpoint of {rel} (receipt_count {covered})")
                };
                f.push(&verdict::Error::Incomplete {
                    what,
                    missing: *missing,
                    count: *count,
                })
            }
            e => f.push(e),
        }
    }
    (gap, forks)
}

/// Every checkpoint against the chain as it was at the checkpoint's size. Returns the
/// checkpoints read (size, document) and their marks for the picture.
fn check_checkpoints(
    c: &Chain,
    ck_files: &[PathBuf],
    result: Option<&verify::ChainResult>,
    opts: &verify::Options,
    claims: Claims,
    f: &mut Findings,
) -> (Vec<(u64, Value)>, Vec<svg::Checkpoint>) {
    let mut checkpoints: Vec<(u64, Value)> = Vec::new();
    let mut ck_marks: Vec<svg::Checkpoint> = Vec::new();
    for path in ck_files {
        let what = path.display().to_string();
        let before = f.0.len();
        let mark = |f: &Findings, size: u64, marks: &mut Vec<svg::Checkpoint>| {
            let status = match verdict::verdict_of(&f.0[before..]) {
                Verdict::Valid => Status::Ok,
                Verdict::Unknown => Status::Unknown,
                Verdict::Invalid => Status::Bad,
            };
            marks.push(svg::Checkpoint { size, status });
        };
        let ck = match read_json(path) {
            Ok(v) => v,
            Err(e) => {
                f.push(&e);
                continue;
            }
        };
        let size = ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0);
        if let Err(e) = checkpoint::check_signed(c.kind, &ck, &what, false, opts.trust()) {
            // Fields nobody validly signed claim nothing: the signature failure is the finding.
            f.push(&e);
            mark(f, size, &mut ck_marks);
            continue;
        }
        match result.and_then(|r| checkpoint::summary_at(r, c.purpose.as_deref(), size)) {
            Some(s) => f.extend(&checkpoint::mismatches(&ck, &s)),
            None if !claims.files_complete => f.push(&verdict::Error::Unchecked {
                what: format!("checkpoint {what} (receipt_count {size})"),
                why:
                    "the bundle's root scan was cut short: the receipts it covers are not all here"
                        .into(),
            }),
            None => f.push(&chain::Error::CheckpointMismatch {
                field: "receipt_count",
                expected: format!(
                    "at most {} (the receipts that link from genesis)",
                    result.map_or(0, |r| r.receipt_count)
                ),
                found: format!("{size} ({what})"),
            }),
        }
        mark(f, size, &mut ck_marks);
        checkpoints.push((size, ck));
    }
    (checkpoints, ck_marks)
}

/// Every inclusion proof: its receipt, its checkpoint when one of that size is here, and its
/// MMR root against the chain's.
fn check_proofs(
    c: &Chain,
    proof_files: &[PathBuf],
    result: Option<&verify::ChainResult>,
    checkpoints: &[(u64, Value)],
    opts: &verify::Options,
    f: &mut Findings,
) {
    for path in proof_files {
        let what = path.display().to_string();
        let p = match read_json(path) {
            Ok(v) => v,
            Err(e) => {
                f.push(&e);
                continue;
            }
        };
        let leaf = p.get("leaf_index").and_then(Value::as_u64).unwrap_or(0);
        let size = p["mmr"]["size"].as_u64().unwrap_or(0);
        let Some(receipt_path) =
            result.and_then(|r| usize::try_from(leaf).ok().and_then(|i| r.path(i)))
        else {
            f.push(&verdict::Error::Incomplete {
                what: format!("inclusion proof {what}"),
                missing: leaf,
                count: 1,
            });
            continue;
        };
        let receipt_doc = match read_json(&receipt_path) {
            Ok(v) => v,
            Err(e) => {
                f.push(&e);
                continue;
            }
        };
        let ck = checkpoints.iter().find(|(n, _)| *n == size).map(|(_, v)| v);
        if let Err(e) = inclusion::verify(c.kind, &receipt_doc, &p, ck, opts.trust()) {
            f.push(&e);
        }
        if let Some(s) = result.and_then(|r| checkpoint::summary_at(r, c.purpose.as_deref(), size))
        {
            let root = p["mmr"]["root"].as_str().unwrap_or_default();
            if !root.eq_ignore_ascii_case(&s.mmr.root.to_hex()) {
                f.push(&chain::Error::CheckpointMismatch {
                    field: "inclusion proof mmr.root",
                    expected: s.mmr.root.to_hex(),
                    found: format!("{root} ({what})"),
                });
            }
        }
    }
}

/// Anchors the bundle ships vouch for nothing on their own: the head's signers are named.
fn self_trusted(c: &Chain, rel: &str, result: Option<&verify::ChainResult>, f: &mut Findings) {
    let head = result.and_then(|r| {
        r.receipt_count
            .checked_sub(1)
            .and_then(|i| r.path(i as usize))
    });
    let signers = head
        .and_then(|h| verify::check_file(c.kind, &c.owner, &h, &verify::Options::default()).ok())
        .map(|(_, s)| s.iter().map(|d| d.as_str().to_string()).collect())
        .unwrap_or_default();
    f.push(&verdict::Error::SelfTrusted {
        chain: format!("{rel} ({})", c.owner),
        signers,
    });
}

/// The chain's picture: its receipts, checkpoints, gap, forks and anchors.
fn picture(
    c: &Chain,
    rel: &str,
    result: Option<&verify::ChainResult>,
    ck_marks: Vec<svg::Checkpoint>,
    gap: Option<(u64, u64)>,
    forks: Vec<String>,
    anchors: &[super::AnchorFound],
) -> ChainPicture {
    let mut picture = ChainPicture {
        title: {
            // Asset modules are usually named by their asset_id: the owner only when it differs.
            let owner = if rel.ends_with(&c.owner) {
                String::new()
            } else {
                format!(" · {}", c.owner)
            };
            match &c.purpose {
                Some(p) => format!("{rel}{owner} [{p}]"),
                None => format!("{rel}{owner}"),
            }
        },
        receipt_count: result.map_or(0, |r| r.receipt_count),
        checkpoints: ck_marks,
        gap,
        forks,
        anchors: anchors
            .iter()
            .map(|a| svg::Anchor {
                sequence: a.sequence,
                label: format!(
                    "{} @{}",
                    a.asset_id
                        .as_deref()
                        .map_or("asset", |id| id.get(..8).unwrap_or(id)),
                    a.receipt_count.map(|n| n.to_string()).unwrap_or_default()
                ),
                status: Status::Unknown,
            })
            .collect(),
        ..ChainPicture::default()
    };
    if let Some(r) = result {
        for i in svg::wanted_roots(&picture) {
            if let Some(d) = usize::try_from(i).ok().and_then(|i| r.next_roots.get(i)) {
                picture.roots.insert(i, d.to_hex());
            }
        }
    }
    picture
}
