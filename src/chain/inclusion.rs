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

/// Runs every verify-inclusion check of §6.5, in order.
pub fn verify(
    kind: Kind,
    receipt_doc: &Value,
    proof: &Value,
    ck: Option<&Value>,
    trust: Option<Trust<'_>>,
) -> Result<(), Error> {
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
                    return Err(bad(format!("{name} {owner_field} mismatch"), owner, other));
                }
            }
        }
    }
    // 2. receipt proofs: present and all valid; 3. checkpoint proofs likewise.
    let receipt_results = vc::require_all_valid(receipt_doc, "receipt")?;
    let ck_results = match ck {
        Some(ck) => Some(vc::require_all_valid(ck, "checkpoint")?),
        None => None,
    };
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
        trust.require_receipt(
            "receipt",
            at.as_ref(),
            &vc::valid_signers(&receipt_results),
            kind.receipt_attestation(),
            proven,
        )?;
        if let Some(results) = &ck_results {
            trust.require_unplaced(
                "checkpoint",
                &vc::valid_signers(results),
                checkpoint::attestations(kind),
            )?;
        }
    }
    // 5. the receipt's next_root recomputes.
    let computed = receipt::next_root(receipt_doc)?;
    let declared = lower(receipt_doc, "next_root").unwrap_or_default();
    if declared != computed.to_hex() {
        return Err(Error::NextRootMismatch {
            path: "receipt".into(),
            declared,
            computed,
        });
    }
    // 6. the proof is about this receipt; 7. at its sequence.
    let named = lower(proof, "receipt_next_root").unwrap_or_default();
    if named != declared {
        return Err(bad(
            "receipt_next_root does not match receipt.next_root",
            &declared,
            named,
        ));
    }
    let seq = receipt_doc.get("sequence").and_then(Value::as_u64);
    let leaf_index = proof.get("leaf_index").and_then(Value::as_u64);
    if seq.is_none() || seq != leaf_index {
        return Err(bad(
            "leaf_index does not match receipt.sequence",
            format!("{seq:?}"),
            format!("{leaf_index:?}"),
        ));
    }
    if let Some(ck) = ck {
        check_tied(kind, proof, ck)?;
        // 12. a first receipt starts at the checkpoint's genesis root (assets).
        if kind == Kind::Asset && seq == Some(0) {
            let (prev, genesis) = (lower(receipt_doc, "prev_root"), lower(ck, "genesis_root"));
            if prev != genesis {
                return Err(Error::CheckpointMismatch {
                    field: "genesis_root",
                    expected: genesis.unwrap_or_default(),
                    found: prev.unwrap_or_default(),
                });
            }
        }
    }
    // 13. the MMR proof itself.
    check_mmr(proof)
}

/// Checks that `proof` puts its `receipt_next_root` inside checkpoint `ck` without the receipt
/// itself: the same owner, then checks 8–11 and 13 of [`verify`].
pub fn verify_leaf(kind: Kind, proof: &Value, ck: &Value) -> Result<(), Error> {
    let field = kind.owner_field();
    let (a, b) = (lower(proof, field), lower(ck, field));
    if a.is_some() && a != b {
        return Err(bad(
            format!("proof {field} mismatch"),
            b.unwrap_or_default(),
            a.unwrap_or_default(),
        ));
    }
    check_tied(kind, proof, ck)?;
    check_mmr(proof)
}

/// Checks 8–11: the proof's MMR is the checkpoint's, and the proof names this checkpoint.
fn check_tied(kind: Kind, proof: &Value, ck: &Value) -> Result<(), Error> {
    let pmmr = proof.get("mmr").cloned().unwrap_or_default();
    // 8. the proof's MMR is the checkpoint's; 9. whose size is its receipt count.
    let cmmr = ck.get("mmr").cloned().unwrap_or_default();
    let (pr, cr) = (lower(&pmmr, "root"), lower(&cmmr, "root"));
    if pr != cr {
        return Err(Error::CheckpointMismatch {
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
        return Err(Error::CheckpointMismatch {
            field: "mmr.size",
            expected: format!("{cs:?}"),
            found: format!("{ps:?}"),
        });
    }
    let count = ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0);
    if count != 0 && Some(count) != cs {
        return Err(Error::CheckpointMismatch {
            field: "receipt_count",
            expected: format!("{cs:?}"),
            found: count.to_string(),
        });
    }
    // 10. the checkpoint the proof names is this one.
    let digest = checkpoint::digest(ck)?;
    let named = proof
        .get("checkpoint_ref")
        .and_then(|r| lower(r, "digest_sha256"))
        .or_else(|| lower(proof, "checkpoint_digest_sha256"));
    if let Some(named) = named {
        if named != digest.to_hex() {
            return Err(bad("checkpoint digest mismatch", digest, named));
        }
    }
    // 11. the checkpoint's final root, as the proof copied it.
    let copied = format!("checkpoint_{}", final_field(kind));
    if let Some(c) = lower(proof, &copied) {
        let actual = lower(ck, final_field(kind)).unwrap_or_default();
        if c != actual {
            return Err(Error::CheckpointMismatch {
                field: final_field(kind),
                expected: actual,
                found: c,
            });
        }
    }
    Ok(())
}

/// Check 13: the MMR path leads from the leaf to the root.
fn check_mmr(proof: &Value) -> Result<(), Error> {
    let pmmr = proof.get("mmr").cloned().unwrap_or_default();
    let mut flat = proof.as_object().cloned().unwrap_or_default();
    flat.insert("size".into(), pmmr.get("size").cloned().unwrap_or_default());
    flat.insert("root".into(), pmmr.get("root").cloned().unwrap_or_default());
    mmr::verify_inclusion_proof(&Value::Object(flat))?;
    Ok(())
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
