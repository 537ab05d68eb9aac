//! `msez audit`: one report over a bundle, a module tree, a repository or a remote.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{self, BundleReader};
use crate::canon::Value;
use crate::graph::Report;
use crate::progress::Progress;
use crate::render::svg::{self};
use crate::taxonomy::Finding;
use crate::verdict::{Findings, Verdict};

use super::*;

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
) -> Result<AuditReport, crate::fsck::Error> {
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
) -> Result<AuditReport, crate::fsck::Error> {
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
