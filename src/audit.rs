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
use crate::graph::{self, Report, Root};
use crate::progress::Progress;
use crate::render::svg::{self, ChainPicture, Status};
use crate::taxonomy::{Classify, Finding};
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
    let mut gap = None;
    let mut forks = Vec::new();
    for e in &outcome.errors {
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

    // Every checkpoint against the chain as it was at the checkpoint's size.
    let mut checkpoints: Vec<(u64, Value)> = Vec::new();
    let mut ck_marks: Vec<svg::Checkpoint> = Vec::new();
    for path in &ck_files {
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
            mark(&f, size, &mut ck_marks);
            continue;
        }
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
        mark(&f, size, &mut ck_marks);
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

    let anchors = match (c.kind, result.as_ref()) {
        (Kind::Corridor, Some(r)) => anchors_in(r, rel),
        _ => Vec::new(),
    };
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
        receipt_count: result.as_ref().map_or(0, |r| r.receipt_count),
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
    if let Some(r) = result.as_ref() {
        for i in svg::wanted_roots(&picture) {
            if let Some(d) = usize::try_from(i).ok().and_then(|i| r.next_roots.get(i)) {
                picture.roots.insert(i, d.to_hex());
            }
        }
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
        picture,
        result: result.map(Arc::new),
        anchors,
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
        // The manifest's entry list is kept typed (it grows with the bundle).
        if let Some(b) = v.get_mut("bundle").and_then(Value::as_object_mut) {
            b.insert(
                "entries".into(),
                serde_json::to_value(&self.checked.entries).unwrap_or_default(),
            );
        }
        v["verdict"] = self.verdict().name().into();
        v["exit_code"] = self.exit_code().into();
        v["partial"] =
            (self.checked.report.partial || manifest_partial(&self.checked.manifest)).into();
        v["chains"] = serde_json::to_value(&self.chains).unwrap_or_default();
        v["findings"] = serde_json::to_value(self.findings.items()).unwrap_or_default();
        v
    }
}

/// Chains of at most this many bytes are unpacked into memory-backed `/dev/shm`.
const SHM_STAGING_MAX: u64 = 256 << 20;

/// Where a bundle's chains are unpacked: creating thousands of small files on a disk that has
/// just seen heavy churn costs up to 0.35 ms each (ext4 inode allocation), 20x the whole chain
/// check, so a chain that fits a bounded budget goes to `/dev/shm` when it exists; larger ones,
/// and machines without it, use the temp dir (TMPDIR).
fn staging_dir(bytes: u64) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if bytes <= SHM_STAGING_MAX
        && std::env::var_os("TMPDIR").is_none()
        && free_bytes(shm).is_some_and(|free| free / 2 > bytes)
    {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Bytes free to an unprivileged writer on the file system holding `dir` (None: not there).
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` is a valid out-pointer for one statvfs,
    // read only after the call reports success.
    let st = unsafe {
        if libc::statvfs(c.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
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
    let roots: Vec<&bundle::Entry> = reader
        .entries()
        .iter()
        .filter(|e| e.name.starts_with("root/") && !e.name.ends_with('/'))
        .collect();
    let staged: u64 = roots.iter().map(|e| e.size).sum();
    let names: Vec<String> = roots.iter().map(|e| e.name.clone()).collect();
    let base = staging_dir(staged);
    let tmp = tempfile::Builder::new()
        .prefix("msez-audit-")
        .tempdir_in(&base)
        .map_err(|e| bundle::Error::io("creating a temp dir in", &base, e))?;
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

/// An asset checkpoint that a corridor receipt anchors (docs/anchoring.md): the receipt's
/// attachment, as the receipt's own signed bytes state it.
#[derive(Clone, Debug, Serialize)]
pub struct AnchorFound {
    /// The corridor module the receipt is in.
    pub corridor_module: String,
    /// The corridor receipt's sequence.
    pub sequence: u64,
    /// The attachment's artifact_type.
    pub artifact_type: String,
    /// The anchored checkpoint's digest.
    pub digest_sha256: String,
    /// The anchored asset, when the attachment names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// The anchored chain's size, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_count: Option<u64>,
    /// The anchored chain's MMR root, when named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmr_root: Option<String>,
}

/// The asset-checkpoint attachments of a verified corridor chain's receipts.
fn anchors_in(r: &verify::ChainResult, rel: &str) -> Vec<AnchorFound> {
    let mut out = Vec::new();
    for i in 0..r.chain_files.len() {
        // A receipt that cannot be read again is already a finding of the chain check.
        let Some(doc) = r.path(i).and_then(|p| read_json(&p).ok()) else {
            continue;
        };
        let attachments = doc
            .get("transition")
            .and_then(|t| t.get("attachments"))
            .and_then(Value::as_array);
        for a in attachments.into_iter().flatten() {
            let s = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
            let t = s("artifact_type").unwrap_or_default();
            let anchors = t == "smart-asset-receipt-checkpoint"
                || t == "smart-asset-checkpoint"
                || (t == "checkpoint" && a.get("asset_id").is_some());
            if !anchors {
                continue;
            }
            out.push(AnchorFound {
                corridor_module: rel.to_string(),
                sequence: i as u64,
                artifact_type: t,
                digest_sha256: s("digest_sha256").unwrap_or_default(),
                asset_id: s("asset_id"),
                receipt_count: a.get("receipt_count").and_then(Value::as_u64),
                mmr_root: s("mmr_root"),
            });
        }
    }
    out
}

/// An anchor and what checking it against the anchored chain showed.
#[derive(Clone, Debug, Serialize)]
pub struct AnchorCheck {
    /// The anchor.
    #[serde(flatten)]
    pub anchor: AnchorFound,
    /// `verified` (the anchored asset chain in the target has this MMR root at this size),
    /// `mismatch` (it has another: a finding) or `unchecked` (see `why`).
    pub status: &'static str,
    /// Why it is unchecked, or what mismatched.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// Checks every anchor found in the corridor chains against the asset chains of the same
/// target: a corridor receipt stating an MMR root the asset chain does not have at that size
/// is `digest.not_anchored` (invalid). An anchor whose asset chain is not in the target is
/// listed `unchecked` (not a finding: the corridor's own chain is intact either way). The
/// mismatches' findings are also put on their corridor chain's report.
pub fn check_anchors(chains: &mut [ChainReport]) -> (Vec<AnchorCheck>, Vec<Finding>) {
    let mut out = Vec::new();
    let mut found: Vec<(usize, Finding)> = Vec::new();
    for (ci, c) in chains.iter().enumerate() {
        for a in &c.anchors {
            let (status, why) = check_anchor(a, chains);
            if status == "mismatch" {
                found.push((
                    ci,
                    Finding::from_error(&chain::Error::NotAnchored {
                        why: format!(
                            "corridor receipt {} of {} anchors {} at size {}: {why}",
                            a.sequence,
                            a.corridor_module,
                            a.asset_id.as_deref().unwrap_or("?"),
                            a.receipt_count.unwrap_or(0)
                        ),
                        expected: "the asset chain's MMR root at that size".into(),
                        found: a.mmr_root.clone().unwrap_or_default(),
                    }),
                ));
            }
            out.push(AnchorCheck {
                anchor: a.clone(),
                status,
                why,
            });
        }
    }
    let mut k = 0;
    for c in chains.iter_mut() {
        for a in c.picture.anchors.iter_mut() {
            a.status = match out.get(k).map(|x| x.status) {
                Some("verified") => Status::Ok,
                Some("mismatch") => Status::Bad,
                _ => Status::Unknown,
            };
            k += 1;
        }
    }
    let mut findings = Vec::new();
    for (ci, finding) in found {
        let c = &mut chains[ci];
        c.findings.push(Item::from(finding.clone()));
        c.verdict = verdict::verdict_of(c.findings.iter().map(|i| &i.finding));
        findings.push(finding);
    }
    (out, findings)
}

fn check_anchor(a: &AnchorFound, chains: &[ChainReport]) -> (&'static str, String) {
    if a.artifact_type == "smart-asset-checkpoint" {
        return (
            "unchecked",
            "a state-root checkpoint: check it with `msez asset anchor-verify`".into(),
        );
    }
    let (Some(asset), Some(size), Some(root)) = (&a.asset_id, a.receipt_count, &a.mmr_root) else {
        return (
            "unchecked",
            "the attachment names no asset_id, receipt_count and mmr_root".into(),
        );
    };
    let candidates: Vec<&ChainReport> = chains
        .iter()
        .filter(|c| c.kind == Kind::Asset && &c.owner == asset && c.result.is_some())
        .collect();
    if candidates.is_empty() {
        return (
            "unchecked",
            format!("the asset chain {asset} is not in the target"),
        );
    }
    let mut seen = Vec::new();
    for c in &candidates {
        let Some(r) = c.result.as_deref() else {
            continue;
        };
        match checkpoint::summary_at(r, c.purpose.as_deref(), size) {
            Some(s) if s.mmr.root.to_hex().eq_ignore_ascii_case(root) => {
                return ("verified", String::new());
            }
            Some(s) => seen.push(s.mmr.root.to_hex()),
            None => {}
        }
    }
    if seen.is_empty() {
        (
            "unchecked",
            format!("the asset chain {asset} in the target has fewer than {size} receipts"),
        )
    } else {
        (
            "mismatch",
            format!("the asset chain has MMR root {} there", seen.join(" / ")),
        )
    }
}

/// What `msez audit` audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// A witness bundle (file or URL).
    Bundle,
    /// A module directory (or a tree of modules).
    Module,
    /// A repository: its object store (fsck --strict) and the modules of its working tree.
    Repository,
    /// A remote: every object's digest, every chain link and every signature
    /// (`fsck --remote --strict`), without cloning it.
    Remote,
}

/// The whole auditor checklist over one target (`msez audit`): every chain, every anchor,
/// and for a bundle its closure; for a repository its object store.
#[derive(Debug)]
pub struct AuditReport {
    /// The target as given (a URL is redacted by the caller).
    pub target: String,
    /// What it is.
    pub target_kind: TargetKind,
    /// A bundle's closure and manifest check.
    pub closure: Option<bundle::verify::Checked>,
    /// A repository's fsck report.
    pub fsck: Option<crate::fsck::Report>,
    /// A remote's `fsck --remote --strict` report.
    pub remote: Option<crate::remote::fsck::Report>,
    /// One entry per receipt chain.
    pub chains: Vec<ChainReport>,
    /// Every anchor found in corridor receipts.
    pub anchors: Vec<AnchorCheck>,
    /// Every finding: closure, partial mark, object store, chains, anchors.
    pub findings: Findings,
}

impl AuditReport {
    /// The verdict by precedence over every finding.
    pub fn verdict(&self) -> Verdict {
        self.findings.verdict()
    }

    /// The exit code ([`verdict::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        self.findings.exit_code()
    }

    /// Whether a bundle was marked partial or its walk cut short.
    pub fn partial(&self) -> bool {
        self.closure
            .as_ref()
            .is_some_and(|c| c.report.partial || manifest_partial(&c.manifest))
    }

    /// What was checked, one line each, for the summary and the report.
    pub fn checked(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.closure {
            out.push(format!(
                "closure: {} artifact(s) against their digests, {} edge(s), every bundle entry against the manifest",
                c.report.stats.nodes_total, c.report.stats.edges_total
            ));
        }
        if let Some(f) = &self.fsck {
            out.push(format!(
                "object store (fsck --strict): {} object(s), {} proof file(s), {} ref(s), {} chain(s) from their head refs",
                f.objects, f.proof_files, f.refs, f.chains
            ));
        }
        if let Some(f) = &self.remote {
            out.push(format!(
                "remote (fsck --remote --strict): {} object(s) of which {} checked against their digests, {} proof(s) verified, {} ref(s), {} chain(s), {} receipt link(s)",
                f.objects, f.objects_checked, f.proofs_verified, f.refs, f.chains, f.receipts_linked
            ));
            out.extend(f.not_checked.iter().map(|n| format!("not checked: {n}")));
        }
        for c in &self.chains {
            out.push(format!(
                "chain {} ({}): {} receipt(s) linked from genesis with schema, next_root and signatures; trust: {}; forks; harbor quorum; {} checkpoint(s); {} inclusion proof(s)",
                c.module,
                c.owner,
                c.receipt_count.map_or("?".into(), |n| n.to_string()),
                c.trust,
                c.checkpoints_checked,
                c.proofs_checked
            ));
        }
        if !self.anchors.is_empty() {
            let verified = self
                .anchors
                .iter()
                .filter(|a| a.status == "verified")
                .count();
            out.push(format!(
                "anchors: {} asset checkpoint(s) named in corridor receipts, {verified} checked against the asset chain",
                self.anchors.len()
            ));
        }
        out
    }

    /// The report document (schemas/audit-report.schema.json): the verdict, what was checked,
    /// every chain, anchor and finding, and for a bundle its closure report (the
    /// MSEZArtifactGraphVerifyReport of schemas/verify-report.schema.json's base).
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::json!({
            "type": "MSEZAuditReport",
            "target": self.target,
            "target_kind": self.target_kind,
            "verdict": self.verdict().name(),
            "exit_code": self.exit_code(),
            "partial": self.partial(),
            "checked": self.checked(),
            "chains": self.chains,
            "anchors": self.anchors,
            "findings": self.findings.items(),
        });
        if let Some(c) = &self.closure {
            v["closure"] = serde_json::to_value(&c.report).unwrap_or_default();
        }
        if let Some(f) = &self.remote {
            v["fsck"] = serde_json::json!({
                "objects": f.objects,
                "proof_files": f.proof_files,
                "refs": f.refs,
                "chains": f.chains,
                "not_checked": f.not_checked,
            });
        }
        if let Some(f) = &self.fsck {
            v["fsck"] = serde_json::json!({
                "objects": f.objects,
                "proof_files": f.proof_files,
                "refs": f.refs,
                "chains": f.chains,
                "not_checked": f.not_checked,
            });
        }
        v
    }

    /// The closure picture of a bundle.
    pub fn closure_picture(&self) -> Option<svg::ClosurePicture> {
        let c = self.closure.as_ref()?;
        Some(closure_picture(&c.report, &self.target))
    }

    fn finish(mut self) -> AuditReport {
        let (anchors, findings) = check_anchors(&mut self.chains);
        self.anchors = anchors;
        self.findings.0.extend(findings);
        self
    }
}

/// Audits a bundle: [`verify_bundle`], then the anchors of its corridor chains.
pub fn audit_bundle<R: Read + Seek>(
    reader: &mut BundleReader<R>,
    label: &str,
    trust: &TrustSource,
    progress: &dyn Progress,
) -> Result<AuditReport, bundle::Error> {
    let Audited {
        checked,
        mut chains,
        mut findings,
    } = verify_bundle(reader, label, trust, progress)?;
    // Chain files were checked in a private temp dir: name them as the bundle's entries.
    for f in findings.0.iter_mut().chain(
        chains
            .iter_mut()
            .flat_map(|c| c.findings.iter_mut().map(|i| &mut i.finding)),
    ) {
        untemp(f);
    }
    Ok(AuditReport {
        target: label.to_string(),
        target_kind: TargetKind::Bundle,
        closure: Some(checked),
        fsck: None,
        remote: None,
        chains,
        anchors: Vec::new(),
        findings,
    }
    .finish())
}

/// Rewrites `<tmp>/msez-audit-XXXX/root/…` as `root/…` in a finding's texts.
fn untemp(f: &mut Finding) {
    fn strip(s: &str) -> String {
        let mut s = s.to_string();
        while let Some(i) = s.find("msez-audit-") {
            let start = s[..i].rfind([' ', '(', '\'', '"']).map_or(0, |j| j + 1);
            let end = s[i..].find('/').map_or(s.len(), |j| i + j + 1);
            s.replace_range(start..end, "");
        }
        s
    }
    f.message = strip(&f.message);
    let d = &mut f.detail;
    for t in [&mut d.object, &mut d.expected, &mut d.found]
        .into_iter()
        .flatten()
    {
        *t = strip(t);
    }
    if let Some(p) = d.path.as_mut() {
        *p = PathBuf::from(strip(&p.to_string_lossy()));
    }
}

/// Audits a module directory (or a tree of modules) as a working tree still being written: a
/// gap below the head is `unknown`, below a checkpoint `invalid`.
pub fn audit_dir(dir: &Path, trust: &TrustSource) -> AuditReport {
    let chains = check_chains(
        dir,
        trust,
        Claims {
            complete: false,
            files_complete: true,
        },
    );
    let mut findings = Findings::default();
    for c in &chains {
        findings
            .0
            .extend(c.findings.iter().map(|i| i.finding.clone()));
    }
    AuditReport {
        target: dir.display().to_string(),
        target_kind: TargetKind::Module,
        closure: None,
        fsck: None,
        remote: None,
        chains,
        anchors: Vec::new(),
        findings,
    }
    .finish()
}

/// Audits a repository: `fsck --strict` of its object store, then the modules of its working
/// tree as [`audit_dir`] does.
pub fn audit_repository(
    repo: &crate::odb::Repo,
    work_tree: &Path,
    trust: &TrustSource,
    progress: &dyn Progress,
) -> Result<AuditReport, crate::odb::Error> {
    let opts = crate::fsck::Options {
        strict: true,
        ..Default::default()
    };
    let report = crate::fsck::fsck(
        repo,
        &opts,
        progress,
        &std::sync::atomic::AtomicBool::new(false),
    )?;
    let mut audit = audit_dir(work_tree, trust);
    let mut findings = Findings(report.problems.clone());
    findings.0.append(&mut audit.findings.0);
    audit.findings = findings;
    audit.target_kind = TargetKind::Repository;
    audit.fsck = Some(report);
    Ok(audit)
}

/// Audits a remote without cloning it: `fsck --remote --strict` (every object's digest, every
/// chain link from each head and fork ref, every signature). Chain pictures and checkpoint
/// checks need the history here: `msez clone` it and audit the repository.
pub fn audit_remote(
    backend: &dyn crate::remote::Backend,
    label: &str,
    progress: &dyn Progress,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<AuditReport, crate::remote::Error> {
    let report = crate::remote::fsck::fsck(
        backend,
        crate::remote::fsck::Mode::Strict,
        &crate::remote::sync::Options::default(),
        progress,
        stop,
    )?;
    Ok(AuditReport {
        target: label.to_string(),
        target_kind: TargetKind::Remote,
        closure: None,
        fsck: None,
        findings: Findings(report.problems.clone()),
        remote: Some(report),
        chains: Vec::new(),
        anchors: Vec::new(),
    })
}

/// What the closure picture of a graph walk shows (artifacts by type, missing, altered).
pub fn closure_picture(report: &Report, root: &str) -> svg::ClosurePicture {
    let mut p = svg::ClosurePicture {
        root: root.to_string(),
        missing: report.stats.missing_total,
        mismatched: report.stats.digest_mismatch_total,
        cut_short: report.partial,
        root_files: serde_json::to_value(&report.root)
            .ok()
            .and_then(|r| r["files_scanned"].as_u64())
            .unwrap_or(0),
        ..Default::default()
    };
    for n in report.nodes.iter().filter(|n| n.resolved) {
        *p.by_type.entry(n.artifact_type.clone()).or_default() += 1;
    }
    p
}
