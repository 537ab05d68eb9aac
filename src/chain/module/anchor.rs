//! Typed attachments and anchoring (seed v0.4.34, msez-wire-format.md §10.1).
//!
//! `receipt-init --attach-*` puts a typed ArtifactRef into `transition.attachments`; everything
//! in it, `uri` included, is hashed into `next_root`. A corridor receipt that carries a
//! `smart-asset-receipt-checkpoint` attachment anchors that asset chain's head inside the
//! corridor's chain, and [`verify`] proves "this asset state is inside that corridor state"
//! from a handful of small files, without the asset history (docs/anchoring.md lists the checks).

use std::path::{Component, Path};

use serde::Serialize;

use crate::canon::{self, Digest, Map, Value};

use crate::chain::lifecycle::Trust;

use crate::chain::checkpoint;
use crate::chain::inclusion;
use crate::chain::{Error, Kind};

/// The typed attachments `receipt-init` can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachKind {
    /// A `SmartAssetReceiptChainCheckpoint` (an asset chain's head).
    SmartAssetReceiptCheckpoint,
    /// A `SmartAssetCheckpoint` (an asset state root).
    SmartAssetCheckpoint,
    /// An `MSEZCorridorStateCheckpoint`.
    CorridorCheckpoint,
    /// A proof binding.
    ProofBinding,
    /// A settlement anchor.
    SettlementAnchor,
    /// An `MSEZRuleEvaluationEvidence`.
    RuleEvalEvidence,
}

/// Every kind, for lookups by artifact type.
const ALL: [AttachKind; 6] = [
    AttachKind::SmartAssetReceiptCheckpoint,
    AttachKind::SmartAssetCheckpoint,
    AttachKind::CorridorCheckpoint,
    AttachKind::ProofBinding,
    AttachKind::SettlementAnchor,
    AttachKind::RuleEvalEvidence,
];

impl AttachKind {
    /// The attachment's `artifact_type`.
    pub fn artifact_type(self) -> &'static str {
        match self {
            AttachKind::SmartAssetReceiptCheckpoint => "smart-asset-receipt-checkpoint",
            AttachKind::SmartAssetCheckpoint => "smart-asset-checkpoint",
            AttachKind::CorridorCheckpoint => "checkpoint",
            AttachKind::ProofBinding => "proof-binding",
            AttachKind::SettlementAnchor => "settlement-anchor",
            AttachKind::RuleEvalEvidence => "rule-eval-evidence",
        }
    }

    /// The type the attached document is stored under in `.msez` by an append (None: a
    /// SmartAssetCheckpoint, a state root that is not an msez artifact).
    pub fn stored_type(self) -> Option<crate::artifact::ArtifactType> {
        (self != AttachKind::SmartAssetCheckpoint)
            .then(|| crate::artifact::ArtifactType::new(self.artifact_type()).expect("valid type"))
    }

    /// The embedded schema an attachment of this kind must match.
    pub fn schema(self) -> &'static str {
        match self {
            AttachKind::SmartAssetReceiptCheckpoint => {
                "smart-asset.receipt-checkpoint.attachment.schema.json"
            }
            AttachKind::SmartAssetCheckpoint => "smart-asset.checkpoint.attachment.schema.json",
            AttachKind::CorridorCheckpoint => "corridor.checkpoint.attachment.schema.json",
            AttachKind::ProofBinding => "proof-binding.attachment.schema.json",
            AttachKind::SettlementAnchor => "settlement-anchor.attachment.schema.json",
            AttachKind::RuleEvalEvidence => "rule-eval-evidence.attachment.schema.json",
        }
    }

    /// The kind whose artifact type is `t` (compared trimmed and lowercased).
    pub fn of_type(t: &str) -> Option<AttachKind> {
        let t = t.trim().to_ascii_lowercase();
        ALL.into_iter().find(|k| k.artifact_type() == t)
    }
}

/// `file` as a `/`-separated path relative to `base` (both made absolute first), so that two
/// operators attaching the same file from different checkouts hash the same `uri`.
pub fn relative_uri(file: &Path, base: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (file, base) = (abs(file), abs(base));
    let f: Vec<Component> = file.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = f.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); b.len() - common];
    parts.extend(
        f[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn text<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Builds the typed attachment of `doc` (checked as the kind requires), with `uri` as given.
pub fn attachment(kind: AttachKind, doc: &Value, uri: &str) -> Result<Value, Error> {
    let what = format!("{} attachment {uri}", kind.artifact_type());
    let mut extra = Map::new();
    let digest = match kind {
        AttachKind::SmartAssetCheckpoint => {
            let d = text(doc, "state_root_sha256")
                .and_then(|s| s.parse::<Digest>().ok())
                .ok_or_else(|| Error::schema(&what, "state_root_sha256 must be 64 hex"))?;
            if let Some(a) = text(doc, "asset_id") {
                extra.insert("asset_id".into(), a.into());
            }
            d
        }
        AttachKind::SmartAssetReceiptCheckpoint => {
            crate::schema::validate(
                "smart-asset.receipt-chain.checkpoint.schema.json",
                doc,
                &what,
            )?;
            if let Some(a) = text(doc, "asset_id") {
                extra.insert("asset_id".into(), a.into());
            }
            if let Some(n) = doc
                .get("receipt_count")
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
            {
                extra.insert("receipt_count".into(), n.into());
            }
            if let Some(r) = doc.get("mmr").and_then(|m| text(m, "root")) {
                extra.insert("mmr_root".into(), r.into());
            }
            checkpoint::digest(doc)?
        }
        AttachKind::CorridorCheckpoint => {
            crate::schema::validate("corridor.checkpoint.schema.json", doc, &what)?;
            if let Some(c) = text(doc, "corridor_id") {
                extra.insert("corridor_id".into(), c.into());
            }
            if let Some(n) = doc
                .get("receipt_count")
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
            {
                extra.insert("receipt_count".into(), n.into());
            }
            if let Some(r) = text(doc, "final_state_root") {
                extra.insert("final_state_root".into(), r.into());
            }
            if let Some(r) = doc.get("mmr").and_then(|m| text(m, "root")) {
                extra.insert("mmr_root".into(), r.into());
            }
            checkpoint::digest(doc)?
        }
        AttachKind::ProofBinding | AttachKind::SettlementAnchor => {
            if !doc.is_object() {
                return Err(Error::schema(&what, "must be a JSON object"));
            }
            let keys: &[&str] = if kind == AttachKind::ProofBinding {
                &["purpose"]
            } else {
                &["settlement_id", "relationship"]
            };
            for k in keys {
                if let Some(v) = text(doc, k) {
                    extra.insert((*k).into(), v.into());
                }
            }
            canon::digest_without(doc, &["proof"])?
        }
        AttachKind::RuleEvalEvidence => {
            crate::schema::validate("rule-eval-evidence.schema.json", doc, &what)?;
            for k in ["harbor_id", "result"] {
                if let Some(v) = text(doc, k) {
                    extra.insert(k.into(), v.into());
                }
            }
            canon::digest_without(doc, &["proof"])?
        }
    };
    let mut m = Map::new();
    m.insert("artifact_type".into(), kind.artifact_type().into());
    m.insert("digest_sha256".into(), digest.to_hex().into());
    m.insert("uri".into(), uri.into());
    m.insert("media_type".into(), "application/json".into());
    m.extend(extra);
    let att = Value::Object(m);
    crate::schema::validate(kind.schema(), &att, &what)?;
    Ok(att)
}

/// Rule-evaluation evidence must be about this transition: the same kind, and the same payload
/// digest when it names one.
pub fn check_evidence_fits(evidence: &Value, transition: &Value) -> Result<(), Error> {
    let (ek, tk) = (
        text(evidence, "transition_kind").unwrap_or_default(),
        text(transition, "kind").unwrap_or_default(),
    );
    if ek != tk {
        return Err(Error::schema(
            "rule-eval-evidence",
            format!("transition_kind {ek:?} is not the transition's kind {tk:?}"),
        ));
    }
    if let (Some(e), Some(t)) = (
        text(evidence, "payload_sha256"),
        text(transition, "payload_sha256"),
    ) {
        if !e.eq_ignore_ascii_case(t) {
            return Err(Error::PayloadMismatch {
                declared: e.to_string(),
                computed: t.to_string(),
            });
        }
    }
    Ok(())
}

/// The (lowercased type, digest) an attachment is deduplicated on; bare strings are blobs.
fn identity(att: &Value) -> (String, String) {
    match att {
        Value::String(s) => ("blob".into(), s.trim().to_ascii_lowercase()),
        v => (
            text(v, "artifact_type")
                .unwrap_or("blob")
                .trim()
                .to_ascii_lowercase(),
            text(v, "digest_sha256")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase(),
        ),
    }
}

/// Appends `att` to `envelope.attachments` (created if absent) unless an attachment with the
/// same type and digest is already there; whether it was added.
pub fn add(envelope: &mut Value, att: Value) -> Result<bool, Error> {
    let env = envelope
        .as_object_mut()
        .ok_or_else(|| Error::schema("transition", "must be an object to carry attachments"))?;
    let list = env
        .entry("attachments")
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = list else {
        return Err(Error::schema("transition", "attachments must be a list"));
    };
    let id = identity(&att);
    if items.iter().any(|a| identity(a) == id) {
        return Ok(false);
    }
    items.push(att);
    Ok(true)
}

/// Every typed attachment of a receipt's transition must match its schema (untyped legacy
/// attachments and unknown types are left alone, as the reference does).
pub fn check_attachments(receipt: &Value, path: &Path) -> Result<(), Error> {
    match receipt.get("transition") {
        Some(t) => check_transition_attachments(t, path),
        None => Ok(()),
    }
}

/// [`check_attachments`] for one transition envelope.
pub fn check_transition_attachments(transition: &Value, path: &Path) -> Result<(), Error> {
    let Some(items) = transition.get("attachments").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, att) in items.iter().enumerate() {
        if let Some(kind) = text(att, "artifact_type").and_then(AttachKind::of_type) {
            let what = format!("{} transition.attachments[{i}]", path.display());
            crate::schema::validate(kind.schema(), att, &what)?;
        }
    }
    Ok(())
}

/// What anchor verification is given.
pub struct Inputs<'a> {
    /// The corridor receipt that carries the attachment.
    pub corridor_receipt: &'a Value,
    /// Its inclusion proof in the corridor checkpoint.
    pub corridor_proof: &'a Value,
    /// The signed corridor checkpoint.
    pub corridor_checkpoint: &'a Value,
    /// The asset's receipt-chain checkpoint the attachment should name.
    pub asset_checkpoint: Option<&'a Value>,
    /// An inclusion proof of one asset receipt in that checkpoint.
    pub asset_proof: Option<&'a Value>,
    /// The asset receipt the proof is about (else only its next_root is proven).
    pub asset_receipt: Option<&'a Value>,
    /// Signers must count, by anchors and key lifecycle, for the attestations of each object.
    pub trust: Option<Trust<'a>>,
}

/// What anchor verification established.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Anchored {
    /// The corridor.
    pub corridor_id: String,
    /// The corridor receipt's sequence.
    pub corridor_sequence: u64,
    /// The corridor receipt's next_root.
    pub corridor_receipt_next_root: String,
    /// The corridor checkpoint's digest.
    pub corridor_checkpoint_digest: Digest,
    /// The asset-checkpoint attachments the receipt carries: `type:digest`.
    pub attachments: Vec<String>,
    /// The asset (when an asset checkpoint was given).
    pub asset_id: Option<String>,
    /// The anchored asset checkpoint's digest.
    pub receipt_checkpoint_digest: Option<Digest>,
    /// Its head (`final_chain_root`), the asset state the corridor anchors.
    pub final_chain_root: Option<String>,
    /// Its receipt count.
    pub receipt_count: Option<u64>,
    /// The anchored state root (when the asset checkpoint is a `SmartAssetCheckpoint`).
    pub state_root: Option<Digest>,
    /// The proven asset receipt (leaf index, next_root), when an asset proof was given.
    pub asset_leaf: Option<(u64, String)>,
}

fn not_anchored(why: impl Into<String>, expected: impl ToString, found: impl ToString) -> Error {
    Error::NotAnchored {
        why: why.into(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Proves that an asset checkpoint (and optionally one of its receipts) is inside a signed
/// corridor checkpoint, in the order docs/anchoring.md gives; the first failure (see [`check`]
/// for all of them).
pub fn verify(i: &Inputs<'_>) -> Result<Anchored, Error> {
    let r = check(i);
    match r.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(r.anchored),
    }
}

/// Everything an anchor verification found and what it established on the way.
#[derive(Debug, Default)]
pub struct Report {
    /// What was established (each field as far as it could be computed).
    pub anchored: Anchored,
    /// Every failure, in the order of the checks.
    pub errors: Vec<Error>,
}

impl Report {
    /// The findings in the verdict model's shape (docs/verdicts.md).
    pub fn findings(&self) -> crate::verdict::Findings {
        let mut f = crate::verdict::Findings::default();
        f.extend(&self.errors);
        f
    }

    /// Records `e` unless the same failure is already recorded (the checkpoint's signature is
    /// checked both on its own and by verify-inclusion).
    fn push(&mut self, e: Error) {
        let text = e.to_string();
        if !self.errors.iter().any(|x| x.to_string() == text) {
            self.errors.push(e);
        }
    }
}

/// Runs every anchor check its inputs allow, collecting every failure; a check that needs what
/// an earlier one failed to establish (the attachment naming the asset checkpoint) is skipped.
pub fn check(i: &Inputs<'_>) -> Report {
    let mut r = Report::default();
    // 1. The corridor receipt and checkpoint are well-formed, and the receipt is leaf
    //    `sequence` of the signed checkpoint (verify-inclusion, every §6.5 check).
    if let Err(e) = crate::schema::validate(
        Kind::Corridor.receipt_schema(),
        i.corridor_receipt,
        "corridor receipt",
    ) {
        r.push(e.into());
    }
    if let Err(e) = checkpoint::check_signed(
        Kind::Corridor,
        i.corridor_checkpoint,
        "corridor checkpoint",
        true,
        i.trust,
    ) {
        r.push(e);
    }
    for e in inclusion::check(
        Kind::Corridor,
        i.corridor_receipt,
        i.corridor_proof,
        Some(i.corridor_checkpoint),
        i.trust,
    )
    .errors
    {
        r.push(e);
    }
    // The attachments of a receipt whose signature fails are not authenticated: judging them
    // would only restate the alteration (docs/verdicts.md).
    let receipt_signed = crate::vc::require_all_valid(i.corridor_receipt, "receipt").is_ok();
    r.anchored = Anchored {
        corridor_id: text(i.corridor_receipt, "corridor_id")
            .unwrap_or_default()
            .to_string(),
        corridor_sequence: i
            .corridor_receipt
            .get("sequence")
            .and_then(Value::as_u64)
            .unwrap_or_default(),
        corridor_receipt_next_root: text(i.corridor_receipt, "next_root")
            .unwrap_or_default()
            .to_ascii_lowercase(),
        ..Anchored::default()
    };
    match checkpoint::digest(i.corridor_checkpoint) {
        Ok(d) => r.anchored.corridor_checkpoint_digest = d,
        Err(e) => r.push(e),
    }
    // 2. The receipt carries asset-checkpoint attachments (the reference's legacy type
    //    `checkpoint` with an asset_id counts too), each well-formed.
    if let Err(e) = check_attachments(i.corridor_receipt, Path::new("corridor receipt")) {
        r.push(e);
    }
    let attached = asset_checkpoint_attachments(i.corridor_receipt);
    r.anchored.attachments = attached
        .iter()
        .map(|a| {
            let (t, d) = identity(a);
            format!("{t}:{d}")
        })
        .collect();
    if !receipt_signed {
        return r;
    }
    if attached.is_empty() {
        r.push(not_anchored(
            "the corridor receipt has no smart-asset-receipt-checkpoint or smart-asset-checkpoint attachment",
            "an attachment naming the asset checkpoint",
            "none",
        ));
    }
    let Some(ck) = i.asset_checkpoint else {
        return r;
    };
    if text(ck, "type") == Some("SmartAssetCheckpoint") {
        if !attached.is_empty() {
            match state_anchored(ck, &attached, i.asset_proof.is_some(), r.anchored.clone()) {
                Ok(a) => r.anchored = a,
                Err(e) => r.push(e),
            }
        }
        return r;
    }
    // 3. The asset checkpoint: schema, every proof valid, trusted signer when anchors are given.
    let n = r.errors.len();
    if let Err(e) = checkpoint::check_signed(Kind::Asset, ck, "asset checkpoint", true, i.trust) {
        r.push(e);
    }
    // An asset checkpoint that fails its own checks is not judged further (as above).
    let ck_signed = r.errors.len() == n;
    r.anchored.asset_id = text(ck, "asset_id").map(str::to_string);
    r.anchored.final_chain_root = text(ck, "final_chain_root").map(str::to_ascii_lowercase);
    r.anchored.receipt_count = ck.get("receipt_count").and_then(Value::as_u64);
    match checkpoint::digest(ck) {
        Ok(digest) => {
            r.anchored.receipt_checkpoint_digest = Some(digest);
            // 4. The corridor receipt names exactly this checkpoint by digest.
            let att = attached.iter().find(|a| {
                identity(a).0 != "smart-asset-checkpoint" && identity(a).1 == digest.to_hex()
            });
            match att {
                _ if !ck_signed => {}
                Some(att) => hints(ck, att, &mut r),
                None if attached.is_empty() => {}
                None => r.push(not_anchored(
                    "no attachment of the corridor receipt names the asset checkpoint's digest",
                    digest,
                    r.anchored.attachments.join(", "),
                )),
            }
        }
        Err(e) => r.push(e),
    }
    // 6. Optionally, one asset receipt (or just its next_root) is a leaf of that checkpoint.
    if let Some(proof) = i.asset_proof.filter(|_| ck_signed) {
        match i.asset_receipt {
            Some(receipt) => {
                for e in inclusion::check(Kind::Asset, receipt, proof, Some(ck), i.trust).errors {
                    r.push(e);
                }
            }
            None => {
                if let Err(e) = inclusion::verify_leaf(Kind::Asset, proof, ck) {
                    r.push(e);
                }
            }
        }
        let leaf = proof.get("leaf_index").and_then(Value::as_u64).unwrap_or(0);
        let root = text(proof, "receipt_next_root")
            .unwrap_or_default()
            .to_ascii_lowercase();
        r.anchored.asset_leaf = Some((leaf, root));
    }
    r
}

/// The corridor receipt's attachments naming an asset checkpoint (the reference's legacy type
/// `checkpoint` with an asset_id counts too).
fn asset_checkpoint_attachments(corridor_receipt: &Value) -> Vec<&Value> {
    corridor_receipt
        .get("transition")
        .and_then(|t| t.get("attachments"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|a| {
                    let (t, _) = identity(a);
                    t == "smart-asset-receipt-checkpoint"
                        || t == "smart-asset-checkpoint"
                        || (t == "checkpoint" && a.get("asset_id").is_some())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Step 5: the attachment's hints (hashed into the corridor receipt) agree with the checkpoint.
fn hints(ck: &Value, att: &Value, r: &mut Report) {
    let ck_mmr_root = ck.get("mmr").and_then(|m| text(m, "root"));
    let hints = [
        ("asset_id", text(ck, "asset_id").map(str::to_string)),
        (
            "receipt_count",
            ck.get("receipt_count").map(|v| v.to_string()),
        ),
        ("mmr_root", ck_mmr_root.map(str::to_string)),
    ];
    for (field, actual) in hints {
        let Some(hint) = att.get(field) else { continue };
        let hint = hint
            .as_str()
            .map(str::to_string)
            .unwrap_or(hint.to_string());
        let actual = actual.unwrap_or_default();
        if !hint.trim().eq_ignore_ascii_case(actual.trim()) {
            r.push(not_anchored(
                format!("the attachment's {field} is not the asset checkpoint's"),
                actual,
                hint,
            ));
        }
    }
}

/// Steps 3–5 for a `SmartAssetCheckpoint` (a state root, as the reference's anchor-verify also
/// accepts): its `state_root_sha256` is named by a `smart-asset-checkpoint` attachment whose
/// `asset_id` hint, if any, agrees. A state checkpoint carries no signature and no receipt MMR.
fn state_anchored(
    ck: &Value,
    attached: &[&Value],
    with_proof: bool,
    mut out: Anchored,
) -> Result<Anchored, Error> {
    if with_proof {
        return Err(Error::schema(
            "--asset-proof",
            "a SmartAssetCheckpoint has no receipt MMR to prove a receipt in",
        ));
    }
    let root = text(ck, "state_root_sha256")
        .and_then(|s| Digest::parse_loose(s).ok())
        .ok_or_else(|| Error::schema("asset checkpoint", "state_root_sha256 must be 64 hex"))?;
    let att = attached
        .iter()
        .find(|a| identity(a) == ("smart-asset-checkpoint".into(), root.to_hex()))
        .ok_or_else(|| {
            not_anchored(
                "no smart-asset-checkpoint attachment of the corridor receipt names this state root",
                root,
                out.attachments.join(", "),
            )
        })?;
    let asset = text(ck, "asset_id").unwrap_or_default();
    if let Some(hint) = text(att, "asset_id") {
        if !hint.eq_ignore_ascii_case(asset) {
            return Err(not_anchored(
                "the attachment's asset_id is not the state checkpoint's",
                asset,
                hint,
            ));
        }
    }
    out.asset_id = Some(asset.to_string()).filter(|a| !a.is_empty());
    out.state_root = Some(root);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_to_the_module() {
        let t = tempfile::tempdir().unwrap();
        let module = t.path().join("modules/corridors/c");
        let ck = t
            .path()
            .join("modules/smart-assets/a/state/checkpoints/checkpoint.1.json");
        std::fs::create_dir_all(&module).unwrap();
        std::fs::create_dir_all(ck.parent().unwrap()).unwrap();
        std::fs::write(&ck, b"{}").unwrap();
        assert_eq!(
            relative_uri(&ck, &module),
            "../../smart-assets/a/state/checkpoints/checkpoint.1.json"
        );
    }

    #[test]
    fn attachments_dedupe_on_type_and_digest() {
        let mut env = serde_json::json!({"kind": "noop", "payload": {}});
        let a =
            serde_json::json!({"artifact_type": "Proof-Binding", "digest_sha256": "ab".repeat(32)});
        let b = serde_json::json!({"artifact_type": "proof-binding", "digest_sha256": "AB".repeat(32), "uri": "x"});
        assert!(add(&mut env, a).unwrap());
        assert!(!add(&mut env, b).unwrap());
        assert_eq!(env["attachments"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_state_checkpoint_attachment_uses_its_state_root() {
        let ck = serde_json::json!({"type": "SmartAssetCheckpoint", "state_root_sha256": "cd".repeat(32), "asset_id": "ef".repeat(32)});
        let att = attachment(AttachKind::SmartAssetCheckpoint, &ck, "c.json").unwrap();
        assert_eq!(att["digest_sha256"], "cd".repeat(32));
        assert_eq!(att["asset_id"], "ef".repeat(32));
    }
}
