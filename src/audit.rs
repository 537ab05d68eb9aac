//! What a witness bundle carries, verified whole: its closure ([`crate::bundle::verify`]) and
//! every receipt chain under its root documents (linkage from genesis without gaps,
//! signatures, trust, fork resolutions, harbor quorums, every checkpoint and inclusion proof
//! against the chain). Building a bundle runs the same chain checks on the module first and
//! refuses an incomplete or broken one unless asked to write it marked partial.
//!
//! Every result is in the one verdict model ([`crate::verdict`]); a bundle claims the whole
//! history, so a gap in one of its chains is `invalid`, never `unknown`.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::bundle::{self, BundleReader};
use crate::canon::Value;
use crate::chain::corridor::CorridorModule;
use crate::chain::lifecycle::{self, Lifecycle};
use crate::chain::module::AssetModule;
use crate::chain::ops::{self, Chain};
use crate::chain::{self, Kind, checkpoint, fork, harbor, inclusion, receipt, registry, verify};
use crate::error::{Classify, Finding};
use crate::graph::{self, Report, Root};
use crate::progress::Progress;
use crate::vc::TrustAnchors;
use crate::verdict::{self, Findings, Item, Verdict};

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
    /// Every finding about this chain.
    pub findings: Vec<Item>,
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
        findings: vec![Item::from(f)],
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

fn check_chain(
    c: &Chain,
    rel: &str,
    trust: &TrustSource,
    own_anchors: Option<PathBuf>,
    asset: Option<&AssetModule>,
    claims: Claims,
) -> ChainReport {
    let mut f = Findings::default();
    let (anchors, lifecycle, trust_name) = anchors_for(trust, own_anchors, &mut f);
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
    let outcome = ops::verify_all(c, &opts);
    let result = outcome.result;
    // The chain's witness policy over its checkpoint notes (docs/tlog.md).
    if let Some(r) = &result {
        crate::tlog::policy::apply(c, &r.next_roots, &mut f);
    }
    let ck_files = receipt::json_files(&c.checkpoints_dir).unwrap_or_else(|e| {
        f.push(&e);
        Vec::new()
    });
    // The largest size a checkpoint here claims: a gap below it is a definite failure.
    let covered = ck_files
        .iter()
        .filter_map(|p| read_json(p).ok())
        .filter_map(|v| v.get("receipt_count").and_then(Value::as_u64))
        .max()
        .unwrap_or(0);
    for e in &outcome.errors {
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

    // Every checkpoint against the chain as it was at the checkpoint's size.
    let mut checkpoints: Vec<(u64, Value)> = Vec::new();
    for path in &ck_files {
        let what = path.display().to_string();
        let ck = match read_json(path) {
            Ok(v) => v,
            Err(e) => {
                f.push(&e);
                continue;
            }
        };
        if let Err(e) = checkpoint::check_signed(c.kind, &ck, &what, false, opts.trust()) {
            // Fields nobody validly signed claim nothing: the signature failure is the finding.
            f.push(&e);
            continue;
        }
        let size = ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0);
        match result
            .as_ref()
            .and_then(|r| checkpoint::summary_at(r, c.purpose.as_deref(), size))
        {
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
                    result.as_ref().map_or(0, |r| r.receipt_count)
                ),
                found: format!("{size} ({what})"),
            }),
        }
        checkpoints.push((size, ck));
    }

    // Every inclusion proof: its receipt, its checkpoint when one of that size is here, and
    // its MMR root against the chain's.
    let proof_files = receipt::json_files(&c.proofs_dir).unwrap_or_else(|e| {
        f.push(&e);
        Vec::new()
    });
    for path in &proof_files {
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
        let Some(receipt_path) = result
            .as_ref()
            .and_then(|r| usize::try_from(leaf).ok().and_then(|i| r.path(i)))
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
        if let Some(s) = result
            .as_ref()
            .and_then(|r| checkpoint::summary_at(r, c.purpose.as_deref(), size))
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

    // Anchors the bundle ships vouch for nothing on their own.
    if trust_name == "bundle" {
        let head = result.as_ref().and_then(|r| {
            r.receipt_count
                .checked_sub(1)
                .and_then(|i| r.path(i as usize))
        });
        let signers = head
            .and_then(|h| {
                verify::check_file(c.kind, &c.owner, &h, &verify::Options::default()).ok()
            })
            .map(|(_, s)| s.iter().map(|d| d.as_str().to_string()).collect())
            .unwrap_or_default();
        f.push(&verdict::Error::SelfTrusted {
            chain: format!("{rel} ({})", c.owner),
            signers,
        });
    }

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
        findings: f.items(),
    }
}

fn read_json(path: &Path) -> Result<Value, chain::Error> {
    let bytes = std::fs::read(path).map_err(|e| chain::Error::io("reading", path, e))?;
    Ok(crate::canon::parse(&bytes)?)
}

/// A verified bundle: the closure check, every chain, and all findings together.
#[derive(Debug)]
pub struct Audited {
    /// The closure and manifest check.
    pub checked: bundle::verify::Checked,
    /// One entry per receipt chain under `root/`.
    pub chains: Vec<ChainReport>,
    /// Every finding: the walk's, the partial mark's, every chain's.
    pub findings: Findings,
}

impl Audited {
    /// The verdict by precedence over every finding.
    pub fn verdict(&self) -> Verdict {
        self.findings.verdict()
    }

    /// The exit code (crate::verdict::exit_code).
    pub fn exit_code(&self) -> u8 {
        self.findings.exit_code()
    }

    /// The report document: the reference's report shape plus `verdict`, `exit_code`,
    /// `partial`, `chains` and `findings`.
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::to_value(&self.checked.report).unwrap_or_default();
        v["verdict"] = self.verdict().name().into();
        v["exit_code"] = self.exit_code().into();
        v["partial"] =
            (self.checked.report.partial || manifest_partial(&self.checked.manifest)).into();
        v["chains"] = serde_json::to_value(&self.chains).unwrap_or_default();
        v["findings"] = serde_json::to_value(self.findings.items()).unwrap_or_default();
        v
    }
}

fn manifest_partial(manifest: &Value) -> bool {
    manifest.get("partial").and_then(Value::as_bool) == Some(true)
}

/// Verifies a bundle whole: the closure and manifest ([`bundle::verify::verify`]; a bundle
/// whose content contradicts its manifest is an error), then every chain under `root/`,
/// unpacked into a private temporary directory.
pub fn verify_bundle<R: Read + Seek>(
    reader: &mut BundleReader<R>,
    label: &str,
    trust: &TrustSource,
    progress: &dyn Progress,
) -> Result<Audited, bundle::Error> {
    let checked = bundle::verify::verify(reader, label, progress)?;
    let mut findings = Findings(checked.report.findings());
    if manifest_partial(&checked.manifest) {
        findings.push(&verdict::Error::Partial {
            what: label.to_string(),
        });
    }
    let tmp = tempfile::Builder::new()
        .prefix("msez-audit-")
        .tempdir()
        .map_err(|e| bundle::Error::io("creating a temp dir in", std::env::temp_dir(), e))?;
    let names: Vec<String> = reader
        .entries()
        .iter()
        .filter(|e| e.name.starts_with("root/") && !e.name.ends_with('/'))
        .map(|e| e.name.clone())
        .collect();
    for name in names {
        // Names passed the reader's zip-slip checks; root files are documents (≤ 64 MiB).
        let dest = tmp.path().join(&name);
        let bytes = match reader.read_entry(&name, crate::canon::MAX_JSON_BYTES as u64) {
            Ok(b) => b,
            Err(e) => {
                findings.push(&verdict::Error::Unreadable {
                    what: "reading bundle entry",
                    path: PathBuf::from(&name),
                    reason: e.to_string(),
                });
                continue;
            }
        };
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| bundle::Error::io("creating", parent, e))?;
        }
        std::fs::write(&dest, bytes).map_err(|e| bundle::Error::io("writing", &dest, e))?;
    }
    let claims = Claims {
        complete: !manifest_partial(&checked.manifest),
        files_complete: checked.manifest["root"]["files_truncated"] != Value::Bool(true),
    };
    let mut chains = check_chains(&tmp.path().join("root"), trust, claims);
    for c in &mut chains {
        // check_chains named the top directory `root`: the module dirs are under it.
        c.module = match c.module.as_str() {
            "root" => "root".to_string(),
            m => format!("root/{m}"),
        };
        findings
            .0
            .extend(c.findings.iter().map(|i| i.finding.clone()));
    }
    Ok(Audited {
        checked,
        chains,
        findings,
    })
}

/// Opens a bundle file and verifies it whole (see [`verify_bundle`]).
pub fn verify_bundle_file(
    path: &Path,
    trust: &TrustSource,
    progress: &dyn Progress,
) -> Result<Audited, bundle::Error> {
    let f = std::fs::File::open(path).map_err(|e| bundle::Error::io("opening", path, e))?;
    let mut reader = BundleReader::open(std::io::BufReader::new(f), bundle::verify::limits())?;
    verify_bundle(&mut reader, &path.display().to_string(), trust, progress)
}

/// What a bundle build did.
#[derive(Debug)]
pub enum Build {
    /// The bundle was written (marked partial when it is).
    Written {
        /// The bundle.
        built: bundle::write::Built,
        /// The module's chains as checked before writing.
        chains: Vec<ChainReport>,
        /// Every finding (empty for a complete, valid bundle).
        findings: Findings,
    },
    /// Nothing was written: the closure was cut short or a chain does not verify.
    Refused {
        /// The walk.
        report: Report,
        /// The module's chains.
        chains: Vec<ChainReport>,
        /// Why.
        findings: Findings,
    },
}

/// Walks `root`, checks the chains of the modules it holds, and writes the bundle only when
/// all is valid, or, with `allow_partial`, anyway, marked `partial` in the manifest.
pub fn build_bundle(
    root: &Root,
    opts: &graph::Options,
    out: &Path,
    allow_partial: bool,
    progress: &dyn Progress,
) -> Result<Build, bundle::Error> {
    let mut report = bundle::write::walk(root, opts, progress)?;
    let mut findings = Findings(report.findings());
    let chains = match root {
        Root::Dir(dir) => check_chains(
            dir,
            &TrustSource::Module,
            Claims {
                complete: true,
                files_complete: true,
            },
        ),
        _ => Vec::new(),
    };
    for c in &chains {
        findings
            .0
            .extend(c.findings.iter().map(|i| i.finding.clone()));
    }
    if !findings.is_empty() {
        if !allow_partial {
            return Ok(Build::Refused {
                report,
                chains,
                findings,
            });
        }
        report.partial = true;
    }
    let built = bundle::write::write(report, root, out)?;
    Ok(Build::Written {
        built,
        chains,
        findings,
    })
}

/// The exit code of an error in the one model (for callers that report errors as findings).
pub fn error_code<E: Classify + ?Sized>(e: &E) -> u8 {
    verdict::exit_code(&[Finding::from_error(e)])
}
