//! Inclusion-proof objects (§6.5): "this receipt is leaf i of that checkpoint's MMR", and the
//! verify-inclusion checks in the reference's order.

use crate::canon::{Digest, Map, Value};
use crate::mmr;
use crate::vc;

use super::checkpoint::{self, final_field};
use super::lifecycle::{ChainId, Position, Trust};
use super::receipt;
use super::{Error, Kind};

/// The inclusion-proof `type` constant.
pub fn proof_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "SmartAssetReceiptInclusionProof",
        Kind::Corridor => "MSEZCorridorReceiptInclusionProof",
    }
}

/// A checkpoint the proof is tied to: its document and where it is (for `uri`).
pub struct Anchor<'a> {
    /// The checkpoint document.
    pub checkpoint: &'a Value,
    /// Its path or URI as written into `checkpoint_ref.uri`.
    pub uri: &'a str,
}

/// Builds the proof object around an MMR inclusion proof.
pub fn build(
    kind: Kind,
    owner: &str,
    p: &mmr::InclusionProof,
    anchor: Option<&Anchor<'_>>,
    generated_at: &str,
) -> Result<Value, Error> {
    let mut m = Map::new();
    m.insert("type".into(), proof_type(kind).into());
    m.insert(kind.owner_field().into(), owner.into());
    if kind == Kind::Corridor {
        m.insert("generated_at".into(), generated_at.into());
    }
    m.insert("mmr".into(), serde_json::json!({"type": "MSEZReceiptMMR", "algorithm": "sha256", "size": p.size, "root": p.root.to_hex()}));
    m.insert("leaf_index".into(), p.leaf_index.into());
    m.insert(
        "receipt_next_root".into(),
        p.receipt_next_root.to_hex().into(),
    );
    m.insert("leaf_hash".into(), p.leaf_hash.to_hex().into());
    m.insert("peak_index".into(), p.peak_index.into());
    m.insert("peak_height".into(), p.peak_height.into());
    m.insert(
        "path".into(),
        serde_json::to_value(&p.path).expect("paths serialize"),
    );
    m.insert(
        "peaks".into(),
        serde_json::to_value(&p.peaks).expect("peaks serialize"),
    );
    if let Some(peak) = p.computed_peak_root {
        m.insert("computed_peak_root".into(), peak.to_hex().into());
    }
    if let Some(a) = anchor {
        let ck = a.checkpoint;
        let digest = checkpoint::digest(ck)?;
        let mmr = ck.get("mmr").cloned().unwrap_or_default();
        if mmr.get("root").and_then(Value::as_str) != Some(&p.root.to_hex())
            || mmr.get("size").and_then(Value::as_u64) != Some(p.size)
        {
            return Err(Error::CheckpointMismatch {
                field: "mmr.root",
                expected: format!("{} (size {})", p.root, p.size),
                found: format!(
                    "{} (size {})",
                    mmr.get("root").and_then(Value::as_str).unwrap_or_default(),
                    mmr.get("size").and_then(Value::as_u64).unwrap_or(0)
                ),
            });
        }
        m.insert("checkpoint_digest_sha256".into(), digest.to_hex().into());
        let field = final_field(kind);
        match kind {
            Kind::Corridor => {
                m.insert("checkpoint_path".into(), a.uri.into());
                m.insert("checkpoint_mmr_root".into(), p.root.to_hex().into());
                m.insert(
                    "checkpoint_receipt_count".into(),
                    ck.get("receipt_count").cloned().unwrap_or_default(),
                );
                m.insert(
                    "checkpoint_final_state_root".into(),
                    ck.get(field).cloned().unwrap_or_default(),
                );
                m.insert(
                    "checkpoint_ref".into(),
                    serde_json::json!({"artifact_type": "checkpoint", "digest_sha256": digest.to_hex(), "uri": a.uri, "media_type": "application/json"}),
                );
            }
            Kind::Asset => {
                m.insert("checkpoint_ref".into(), serde_json::json!({"artifact_type": "smart-asset-receipt-checkpoint", "digest_sha256": digest.to_hex(), "uri": a.uri}));
                m.insert(
                    "checkpoint_final_chain_root".into(),
                    ck.get(field).cloned().unwrap_or_default(),
                );
                m.insert(
                    "checkpoint_genesis_root".into(),
                    ck.get("genesis_root").cloned().unwrap_or_default(),
                );
                m.insert(
                    "checkpoint_receipt_count".into(),
                    ck.get("receipt_count").cloned().unwrap_or_default(),
                );
            }
        }
    }
    Ok(Value::Object(m))
}

fn bad(why: impl Into<String>, expected: impl ToString, found: impl ToString) -> Error {
    Error::BadInclusion {
        why: why.into(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

fn lower(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_ascii_lowercase())
}

/// The values a verify-inclusion computed, present whatever failed (each when it could be
/// computed at all).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Computed {
    /// The receipt's next_root, recomputed from its content.
    pub receipt_next_root: Option<Digest>,
    /// The receipt's sequence.
    pub sequence: Option<u64>,
    /// The proof's leaf index.
    pub leaf_index: Option<u64>,
    /// The MMR size the proof claims.
    pub mmr_size: Option<u64>,
    /// The MMR root recomputed from the proof's leaf, path and peaks.
    pub mmr_root: Option<Digest>,
    /// The digest of the checkpoint given, when one was.
    pub checkpoint_digest: Option<Digest>,
}

/// Everything a verify-inclusion found: every failure of the checks of §6.5, in the
/// reference's order, and the values computed on the way.
#[derive(Debug, Default)]
pub struct Report {
    /// The failures, the reference's first failure first.
    pub errors: Vec<Error>,
    /// The computed values.
    pub computed: Computed,
}

impl Report {
    /// The findings in the verdict model's shape (docs/verdicts.md).
    pub fn findings(&self) -> crate::verdict::Findings {
        let mut f = crate::verdict::Findings::default();
        f.extend(&self.errors);
        f
    }
}

/// Runs every verify-inclusion check of §6.5 and reports the first failure (the reference's
/// answer); [`check`] reports them all.
pub fn verify(
    kind: Kind,
    receipt_doc: &Value,
    proof: &Value,
    ck: Option<&Value>,
    trust: Option<Trust<'_>>,
) -> Result<(), Error> {
    match check(kind, receipt_doc, proof, ck, trust)
        .errors
        .into_iter()
        .next()
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A document's proof results: all valid, else the failure recorded and the results kept so
/// the trust check still sees the signers whose proofs are valid.
fn signatures(doc: &Value, what: &str, errors: &mut Vec<Error>) -> Vec<vc::ProofResult> {
    match vc::require_all_valid(doc, what) {
        Ok(r) => r,
        Err(e) => {
            errors.push(e.into());
            vc::verify_proofs(doc).unwrap_or_default()
        }
    }
}

/// Runs every verify-inclusion check of §6.5 that its inputs allow, collecting every failure
/// rather than stopping at the first: a wrong root never hides a bad signature, nor the reverse.
pub fn check(
    kind: Kind,
    receipt_doc: &Value,
    proof: &Value,
    ck: Option<&Value>,
    trust: Option<Trust<'_>>,
) -> Report {
    let mut errors = Vec::new();
    let mut computed = Computed::default();
    let owner_field = kind.owner_field();
    // 1. object ids agree where present.
    let owner = receipt_doc
        .get(owner_field)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string());
    for (name, doc) in [("proof", Some(proof)), ("checkpoint", ck)] {
        if let (Some(doc), Some(owner)) = (doc, &owner) {
            if let Some(other) = doc.get(owner_field).and_then(Value::as_str) {
                if other.trim() != owner {
                    errors.push(bad(format!("{name} {owner_field} mismatch"), owner, other));
                }
            }
        }
    }
    // 2. receipt proofs: present and all valid; 3. checkpoint proofs likewise.
    // A document whose signature fails is not authenticated: the checks of its content
    // (5 for the receipt, 8–12 for the checkpoint) would only restate that it was altered, so
    // they are skipped and the signature finding stands for them.
    let n = errors.len();
    let receipt_results = signatures(receipt_doc, "receipt", &mut errors);
    let receipt_signed = errors.len() == n;
    let n = errors.len();
    let ck_results = ck.map(|ck| signatures(ck, "checkpoint", &mut errors));
    let ck_signed = errors.len() == n;
    // 4. trust anchors, with the key lifecycle: the receipt at its position (a revoked key
    //    counts when the proof's MMR is its valid_through checkpoint), the checkpoint by the
    //    rule for objects outside the receipts.
    if let Some(trust) = trust {
        let seq = receipt_doc.get("sequence").and_then(Value::as_u64);
        let purpose = ck
            .and_then(|c| c.get("purpose"))
            .and_then(Value::as_str)
            .map(str::trim);
        let at = owner.as_deref().zip(seq).map(|(o, sequence)| Position {
            chain: ChainId::new(kind, o, purpose),
            sequence,
        });
        let pmmr = proof.get("mmr").cloned().unwrap_or_default();
        let proven = pmmr
            .get("size")
            .and_then(Value::as_u64)
            .zip(lower(&pmmr, "root").and_then(|r| Digest::parse_loose(&r).ok()));
        if let Err(e) = trust.require_receipt(
            "receipt",
            at.as_ref(),
            &vc::valid_signers(&receipt_results),
            kind.receipt_attestation(),
            proven,
        ) {
            errors.push(e);
        }
        if let Some(results) = &ck_results {
            if let Err(e) = trust.require_unplaced(
                "checkpoint",
                &vc::valid_signers(results),
                checkpoint::attestations(kind),
            ) {
                errors.push(e);
            }
        }
    }
    // 5. the receipt's next_root recomputes.
    let declared = lower(receipt_doc, "next_root").unwrap_or_default();
    match receipt::next_root(receipt_doc) {
        Ok(c) => {
            computed.receipt_next_root = Some(c);
            if receipt_signed && declared != c.to_hex() {
                errors.push(Error::NextRootMismatch {
                    path: "receipt".into(),
                    declared: declared.clone(),
                    computed: c,
                });
            }
        }
        Err(e) if receipt_signed => errors.push(e),
        Err(_) => {}
    }
    // 6. the proof is about this receipt; 7. at its sequence.
    let named = lower(proof, "receipt_next_root").unwrap_or_default();
    let about = errors.len();
    if named != declared {
        errors.push(bad(
            "receipt_next_root does not match receipt.next_root",
            &declared,
            named,
        ));
    }
    let seq = receipt_doc.get("sequence").and_then(Value::as_u64);
    let leaf_index = proof.get("leaf_index").and_then(Value::as_u64);
    (computed.sequence, computed.leaf_index) = (seq, leaf_index);
    if seq.is_none() || seq != leaf_index {
        errors.push(bad(
            "leaf_index does not match receipt.sequence",
            format!("{seq:?}"),
            format!("{leaf_index:?}"),
        ));
    }
    let other_leaf = errors.len() > about;
    computed.checkpoint_digest = ck.and_then(|ck| checkpoint::digest(ck).ok());
    if let Some(ck) = ck.filter(|_| ck_signed) {
        tied(kind, proof, ck, &mut errors);
        // 12. a first receipt starts at the checkpoint's genesis root (assets).
        if kind == Kind::Asset && seq == Some(0) {
            let (prev, genesis) = (lower(receipt_doc, "prev_root"), lower(ck, "genesis_root"));
            if prev != genesis {
                errors.push(Error::CheckpointMismatch {
                    field: "genesis_root",
                    expected: genesis.unwrap_or_default(),
                    found: prev.unwrap_or_default(),
                });
            }
        }
    }
    // 13. the MMR proof itself. A proof about another leaf (6, 7) has no path worth judging:
    //     its failures would only restate that, under another class; the root it computes is
    //     still reported.
    let mut path_errors = Vec::new();
    let (size, root) = mmr_of(proof, &mut path_errors);
    if !other_leaf {
        errors.extend(path_errors);
    }
    computed.mmr_size = size;
    computed.mmr_root = root;
    Report { errors, computed }
}

/// Checks that `proof` puts its `receipt_next_root` inside checkpoint `ck` without the receipt
/// itself: the same owner, then checks 8–11 and 13 of [`verify`].
pub fn verify_leaf(kind: Kind, proof: &Value, ck: &Value) -> Result<(), Error> {
    let mut errors = Vec::new();
    let field = kind.owner_field();
    let (a, b) = (lower(proof, field), lower(ck, field));
    if a.is_some() && a != b {
        errors.push(bad(
            format!("proof {field} mismatch"),
            b.unwrap_or_default(),
            a.unwrap_or_default(),
        ));
    }
    tied(kind, proof, ck, &mut errors);
    mmr_of(proof, &mut errors);
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Checks 8–11: the proof's MMR is the checkpoint's, and the proof names this checkpoint.
fn tied(kind: Kind, proof: &Value, ck: &Value, errors: &mut Vec<Error>) {
    let pmmr = proof.get("mmr").cloned().unwrap_or_default();
    // 8. the proof's MMR is the checkpoint's; 9. whose size is its receipt count.
    let cmmr = ck.get("mmr").cloned().unwrap_or_default();
    let (pr, cr) = (lower(&pmmr, "root"), lower(&cmmr, "root"));
    if pr != cr {
        errors.push(Error::CheckpointMismatch {
            field: "mmr.root",
            expected: cr.unwrap_or_default(),
            found: pr.unwrap_or_default(),
        });
    }
    let (ps, cs) = (
        pmmr.get("size").and_then(Value::as_u64),
        cmmr.get("size").and_then(Value::as_u64),
    );
    if ps != cs {
        errors.push(Error::CheckpointMismatch {
            field: "mmr.size",
            expected: format!("{cs:?}"),
            found: format!("{ps:?}"),
        });
    }
    let count = ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0);
    if count != 0 && Some(count) != cs {
        errors.push(Error::CheckpointMismatch {
            field: "receipt_count",
            expected: format!("{cs:?}"),
            found: count.to_string(),
        });
    }
    // 10. the checkpoint the proof names is this one.
    match checkpoint::digest(ck) {
        Ok(digest) => {
            let named = proof
                .get("checkpoint_ref")
                .and_then(|r| lower(r, "digest_sha256"))
                .or_else(|| lower(proof, "checkpoint_digest_sha256"));
            if let Some(named) = named {
                if named != digest.to_hex() {
                    errors.push(bad("checkpoint digest mismatch", digest, named));
                }
            }
        }
        Err(e) => errors.push(e),
    }
    // 11. the checkpoint's final root, as the proof copied it.
    let copied = format!("checkpoint_{}", final_field(kind));
    if let Some(c) = lower(proof, &copied) {
        let actual = lower(ck, final_field(kind)).unwrap_or_default();
        if c != actual {
            errors.push(Error::CheckpointMismatch {
                field: final_field(kind),
                expected: actual,
                found: c,
            });
        }
    }
}

/// Check 13: the MMR path leads from the leaf to the root. Returns the proof's size and the
/// root recomputed from its path and peaks (when the path could be followed at all).
fn mmr_of(proof: &Value, errors: &mut Vec<Error>) -> (Option<u64>, Option<Digest>) {
    let pmmr = proof.get("mmr").cloned().unwrap_or_default();
    let mut flat = proof.as_object().cloned().unwrap_or_default();
    flat.insert("size".into(), pmmr.get("size").cloned().unwrap_or_default());
    flat.insert("root".into(), pmmr.get("root").cloned().unwrap_or_default());
    let size = pmmr.get("size").and_then(Value::as_u64);
    let parsed = match mmr::InclusionProof::from_value(&Value::Object(flat)) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e.into());
            return (size, None);
        }
    };
    let (found, root) = parsed.check();
    errors.extend(found.into_iter().map(Error::from));
    (size, root)
}

/// The next_root a proof claims, parsed.
pub fn claimed_next_root(proof: &Value) -> Result<Digest, Error> {
    Ok(Digest::parse_loose(
        proof
            .get("receipt_next_root")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    )?)
}
