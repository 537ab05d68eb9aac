//! What a witness bundle carries, verified whole: its closure ([`crate::bundle::verify`]) and
//! every receipt chain under its root documents (linkage from genesis without gaps,
//! signatures, trust, fork resolutions, harbor quorums, every checkpoint and inclusion proof
//! against the chain). Building a bundle runs the same chain checks on the module first and
//! refuses an incomplete or broken one unless asked to write it marked partial.
//!
//! Every result is in the one verdict model ([`crate::verdict`]); a bundle claims the whole
//! history, so a gap in one of its chains is `invalid`, never `unknown`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::canon::Value;
use crate::chain::corridor::CorridorModule;
use crate::chain::lifecycle::{self, Lifecycle};
use crate::chain::module::AssetModule;
use crate::chain::ops::Chain;
use crate::chain::{self, Kind, verify};
use crate::render::svg::ChainPicture;
use crate::taxonomy::{Classify, Finding};
use crate::vc::TrustAnchors;
use crate::verdict::{self, Findings, Item, Verdict};

mod anchors;
mod bundle_check;
mod chain_check;
mod report;

use anchors::anchors_in;
pub use anchors::{AnchorCheck, AnchorFound, check_anchors};
use bundle_check::manifest_partial;
pub use bundle_check::{Audited, Build, build_bundle, verify_bundle, verify_bundle_file};
use chain_check::check_chain;
pub use report::{
    AuditReport, TargetKind, audit_bundle, audit_dir, audit_remote, audit_repository,
    closure_picture,
};

/// Whose trust anchors judge the chains' signers.
#[derive(Clone, Debug)]
pub enum TrustSource {
    /// The auditor's own (`--trust-anchors`): authoritative.
    Auditor {
        /// The anchors.
        anchors: TrustAnchors,
        /// Their key rotations and revocations.
        lifecycle: Option<Arc<Lifecycle>>,
    },
    /// The module's own anchors file, authoritative: its owner builds a bundle of it.
    Module,
    /// The anchors file the bundle itself ships: a forger can ship their own, so a chain it
    /// alone vouches for is at most `unknown` (the signers are named).
    Bundle,
}

/// The verification of one receipt chain.
#[derive(Clone, Debug, Serialize)]
pub struct ChainReport {
    /// `asset` or `corridor`.
    pub kind: Kind,
    /// The asset_id or corridor_id.
    pub owner: String,
    /// The purpose (assets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The module directory, relative to the checked tree.
    pub module: String,
    /// This chain's verdict.
    pub verdict: Verdict,
    /// The genesis root the chain must start from.
    pub genesis_root: String,
    /// Receipts linked from genesis (computed even when other checks fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_count: Option<u64>,
    /// The head's next_root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_root: Option<String>,
    /// The MMR over the chain (`MSEZReceiptMMR`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmr: Option<Value>,
    /// Checkpoint files checked against the chain.
    pub checkpoints_checked: u64,
    /// Inclusion proofs checked against the chain.
    pub proofs_checked: u64,
    /// Whose anchors judged trust: `auditor`, `module`, `bundle` (at most unknown) or `none`
    /// (signatures only: no anchors anywhere).
    pub trust: &'static str,
    /// The chain's witness policy check over its checkpoint notes (docs/tlog.md), paths
    /// relative to the checked tree; absent when the chain pins no policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness_policy: Option<Value>,
    /// Every finding about this chain.
    pub findings: Vec<Item>,
    /// What the chain picture shows (`msez audit --html`); not part of the JSON report.
    #[serde(skip)]
    pub picture: ChainPicture,
    /// The verified chain, for checks across chains (anchors); not part of the JSON report.
    #[serde(skip)]
    pub result: Option<Arc<verify::ChainResult>>,
    /// Asset checkpoints this chain's receipts anchor (corridors).
    #[serde(skip)]
    pub anchors: Vec<AnchorFound>,
}

/// Directories never searched for modules: a chain's state (a million receipts are not
/// modules), repositories, bundles.
fn skipped(name: &str) -> bool {
    matches!(name, "state" | ".msez" | ".git" | "witness" | "dist")
}

/// The module directories under `dir` (itself included), asset and corridor, sorted.
pub fn find_modules(dir: &Path) -> Vec<(Kind, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.join("asset.yaml").is_file() {
            out.push((Kind::Asset, d.clone()));
        }
        if d.join("corridor.yaml").is_file() {
            out.push((Kind::Corridor, d.clone()));
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if !skipped(&name) && e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// How much of the history a tree claims to hold.
#[derive(Clone, Copy, Debug)]
pub struct Claims {
    /// The tree claims every chain whole (a witness bundle not marked partial): a gap is a
    /// definite failure.
    pub complete: bool,
    /// Every chain file the module has is here (not cut by a root scan's cap): a checkpoint
    /// beyond the chain, or a gap below a checkpoint, is a definite failure; otherwise it
    /// cannot be checked (unknown).
    pub files_complete: bool,
}

/// Checks every chain of every module under `dir`, by what the tree claims.
pub fn check_chains(dir: &Path, trust: &TrustSource, claims: Claims) -> Vec<ChainReport> {
    let mut out = Vec::new();
    for (kind, module_dir) in find_modules(dir) {
        let rel = module_dir
            .strip_prefix(dir)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| module_dir.display().to_string());
        // The tree's own top directory is named by its name (a module's, usually).
        let rel = if rel.is_empty() {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into())
        } else {
            rel
        };
        match kind {
            Kind::Asset => match AssetModule::open(&module_dir, dir) {
                Ok(m) => {
                    for p in m.config.purposes.clone() {
                        match m.chain(Some(&p)) {
                            Ok(c) => out.push(check_asset(&m, &c, &rel, trust, claims)),
                            Err(e) => out.push(unopened(kind, &rel, &e)),
                        }
                    }
                    if m.config.purposes.is_empty() {
                        match m.chain(None) {
                            Ok(c) => out.push(check_asset(&m, &c, &rel, trust, claims)),
                            Err(e) => out.push(unopened(kind, &rel, &e)),
                        }
                    }
                }
                Err(e) => out.push(unopened(kind, &rel, &e)),
            },
            Kind::Corridor => match CorridorModule::open(&module_dir, dir) {
                Ok(m) => {
                    let c = m.chain();
                    let anchors = m.trust_anchors_path();
                    out.push(check_chain(&c, &rel, trust, anchors, None, claims));
                }
                Err(e) => out.push(unopened(kind, &rel, &e)),
            },
        }
    }
    out
}

fn unopened(kind: Kind, rel: &str, e: &chain::Error) -> ChainReport {
    let f = Finding::from_error(e);
    ChainReport {
        kind,
        owner: String::new(),
        purpose: None,
        module: rel.to_string(),
        verdict: Verdict::of_class(f.class),
        genesis_root: String::new(),
        receipt_count: None,
        final_root: None,
        mmr: None,
        checkpoints_checked: 0,
        proofs_checked: 0,
        trust: "none",
        witness_policy: None,
        findings: vec![Item::from(f)],
        picture: ChainPicture {
            title: rel.to_string(),
            ..ChainPicture::default()
        },
        result: None,
        anchors: Vec::new(),
    }
}

fn check_asset(
    m: &AssetModule,
    c: &Chain,
    rel: &str,
    trust: &TrustSource,
    claims: Claims,
) -> ChainReport {
    check_chain(c, rel, trust, m.trust_anchors_path(), Some(m), claims)
}

/// The anchors that judge this chain, whose they are, and a finding when they cannot load.
fn anchors_for(
    trust: &TrustSource,
    own: Option<PathBuf>,
    f: &mut Findings,
) -> (Option<TrustAnchors>, Option<Arc<Lifecycle>>, &'static str) {
    match trust {
        TrustSource::Auditor { anchors, lifecycle } => {
            (Some(anchors.clone()), lifecycle.clone(), "auditor")
        }
        TrustSource::Module | TrustSource::Bundle => {
            let who = if matches!(trust, TrustSource::Module) {
                "module"
            } else {
                "bundle"
            };
            // The module's own repository holds key credentials its anchors reference by
            // digest; a bundle has none (it must carry them by path).
            let repo = match trust {
                TrustSource::Module => own
                    .as_deref()
                    .and_then(|p| p.parent())
                    .and_then(|d| crate::odb::Repo::find(d).ok().flatten()),
                _ => None,
            };
            match own.filter(|p| p.is_file()) {
                Some(p) => match lifecycle::load_anchors(&p, repo.as_ref()) {
                    Ok((a, l)) => (Some(a), l, who),
                    Err(e) => {
                        f.push(&e);
                        (None, None, who)
                    }
                },
                None => (None, None, "none"),
            }
        }
    }
}

fn read_json(path: &Path) -> Result<Value, chain::Error> {
    let bytes = std::fs::read(path).map_err(|e| chain::Error::io("reading", path, e))?;
    Ok(crate::canon::parse(&bytes)?)
}

/// The exit code of an error in the one model (for callers that report errors as findings).
pub fn error_code<E: Classify + ?Sized>(e: &E) -> u8 {
    verdict::exit_code(&[Finding::from_error(e)])
}
