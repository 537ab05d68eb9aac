//! Asset checkpoints anchored in corridor receipts, found and checked against the asset
//! chains audited beside them (docs/anchoring.md).

use serde::Serialize;

use crate::canon::Value;
use crate::chain::{self, Kind, checkpoint, verify};
use crate::render::svg::Status;
use crate::taxonomy::Finding;
use crate::verdict::{self, Item};

use super::*;

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
pub(super) fn anchors_in(r: &verify::ChainResult, rel: &str) -> Vec<AnchorFound> {
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
