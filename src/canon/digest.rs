//! The digest rule of every artifact type: one table, named rules (msez-wire-format.md §2).

use super::{Digest, Document, Error, Value, digest_of, digest_without, parse};

/// How an artifact type's digest is computed. The names are the reference's `method` labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestRule {
    /// SHA-256 of the raw file bytes (`bytes`): blobs, circuits, proof keys, unknown types.
    Bytes,
    /// SHA-256 of the canonical JSON (`jcs-json`): schemas, rulesets.
    Jcs,
    /// SHA-256 of the whole canonical JSON, proofs included (`smart-asset.attestation.jcs-json`).
    JcsWithProof,
    /// SHA-256 of the canonical JSON minus the top-level `proof` (`vc.signing-input`,
    /// `checkpoint.payload`, `*.signing-input`).
    SigningInput(&'static str),
    /// `next_root` = SHA-256 of the canonical JSON minus `proof` and `next_root`.
    NextRoot(&'static str),
    /// `asset_id` = SHA-256 of the canonical genesis minus `asset_id`.
    AssetId,
    /// The file's own `state_root_sha256` field (the state it commits to is not in the file).
    StateRoot,
    /// SHA-256 of the canonical `snapshot` of a transition-types lock.
    TransitionTypesSnapshot,
    /// The lawpack v1 digest over a lawpack zip's canonicalized parts.
    Lawpack,
}

/// How objects of a type are stored in a store root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Canonical JSON + LF, file suffix `.json`.
    Json,
    /// Raw bytes, file suffix `.bin`.
    Raw,
}

/// The digest rule of `artifact_type`; any type not listed is hashed as raw bytes.
pub fn rule_for(artifact_type: &str) -> DigestRule {
    match artifact_type {
        "vc" => DigestRule::SigningInput("vc.signing-input"),
        "corridor-receipt" => DigestRule::NextRoot("corridor-receipt.next_root"),
        "smart-asset-receipt" => DigestRule::NextRoot("smart-asset.receipt.next_root"),
        "checkpoint" | "smart-asset-receipt-checkpoint" => {
            DigestRule::SigningInput("checkpoint.payload")
        }
        "smart-asset-genesis" => DigestRule::AssetId,
        "smart-asset-checkpoint" => DigestRule::StateRoot,
        "smart-asset-attestation" => DigestRule::JcsWithProof,
        "proof-binding" => DigestRule::SigningInput("proof-binding.signing-input"),
        "settlement-anchor" => DigestRule::SigningInput("settlement-anchor.signing-input"),
        "settlement-plan" => DigestRule::SigningInput("settlement-plan.signing-input"),
        "rule-eval-evidence" => DigestRule::SigningInput("rule-eval-evidence.signing-input"),
        "schema" | "ruleset" => DigestRule::Jcs,
        "transition-types" => DigestRule::TransitionTypesSnapshot,
        "lawpack" => DigestRule::Lawpack,
        _ => DigestRule::Bytes,
    }
}

impl DigestRule {
    /// The reference's label for this rule (the `method` of graph-verify reports).
    pub fn method(self) -> &'static str {
        match self {
            DigestRule::Bytes => "bytes",
            DigestRule::Jcs => "jcs-json",
            DigestRule::JcsWithProof => "smart-asset.attestation.jcs-json",
            DigestRule::SigningInput(label) | DigestRule::NextRoot(label) => label,
            DigestRule::AssetId => "smart-asset.genesis.asset_id",
            DigestRule::StateRoot => "smart-asset.checkpoint.state_root",
            DigestRule::TransitionTypesSnapshot => "transition-types.snapshot.v1",
            DigestRule::Lawpack => "lawpack.v1",
        }
    }

    /// How objects under this rule are stored.
    pub fn encoding(self) -> Encoding {
        match self {
            DigestRule::Bytes | DigestRule::Lawpack => Encoding::Raw,
            _ => Encoding::Json,
        }
    }

    /// Whether the proofs of an object are outside its digest (so they can grow later).
    pub fn proofs_outside_digest(self) -> bool {
        matches!(self, DigestRule::SigningInput(_) | DigestRule::NextRoot(_))
    }

    /// The digest of a parsed JSON object under this rule.
    ///
    /// For [`DigestRule::Bytes`] and [`DigestRule::Lawpack`] the caller hashes bytes instead;
    /// given a value, they fall back to SHA-256 of its canonical bytes.
    pub fn digest_json(self, value: &Value) -> Result<Digest, Error> {
        match self {
            DigestRule::Jcs
            | DigestRule::JcsWithProof
            | DigestRule::Bytes
            | DigestRule::Lawpack => digest_of(value),
            DigestRule::SigningInput(_) => digest_without(value, &["proof"]),
            DigestRule::NextRoot(label) => {
                require_object(value, label)?;
                digest_without(value, &["proof", "next_root"])
            }
            DigestRule::AssetId => {
                require_object(value, "smart-asset.genesis.asset_id")?;
                digest_without(value, &["asset_id"])
            }
            DigestRule::StateRoot => {
                let field = value
                    .get("state_root_sha256")
                    .and_then(Value::as_str)
                    .ok_or(Error::Field {
                        rule: "smart-asset.checkpoint.state_root",
                        field: "state_root_sha256",
                        problem: "is missing or not a string",
                    })?;
                Digest::parse_loose(field)
            }
            DigestRule::TransitionTypesSnapshot => {
                let snapshot =
                    value
                        .get("snapshot")
                        .filter(|s| s.is_object())
                        .ok_or(Error::Field {
                            rule: "transition-types.snapshot.v1",
                            field: "snapshot",
                            problem: "is missing or not an object",
                        })?;
                digest_of(snapshot)
            }
        }
    }

    /// [`DigestRule::digest_json`] of a document given as bytes: the same digest and errors,
    /// canonicalized from the bytes (no tree) for every rule that hashes the whole document.
    pub fn digest_document(self, bytes: &[u8]) -> Result<Digest, Error> {
        let skip: &[&str] = match self {
            // These read one field of a (small) document: the tree is simplest.
            DigestRule::StateRoot | DigestRule::TransitionTypesSnapshot => {
                return self.digest_json(&parse(bytes)?);
            }
            DigestRule::Jcs
            | DigestRule::JcsWithProof
            | DigestRule::Bytes
            | DigestRule::Lawpack => &[],
            DigestRule::SigningInput(_) => &["proof"],
            DigestRule::NextRoot(_) => &["proof", "next_root"],
            DigestRule::AssetId => &["asset_id"],
        };
        let doc = Document::parse(bytes)?;
        let rule = match self {
            DigestRule::NextRoot(label) => Some(label),
            DigestRule::AssetId => Some("smart-asset.genesis.asset_id"),
            _ => None,
        };
        if let Some(rule) = rule.filter(|_| !doc.is_object()) {
            return Err(Error::Field {
                rule,
                field: "(root)",
                problem: "must be a JSON object",
            });
        }
        doc.digest_without(skip)
    }

    /// The digest a stored JSON object declares for itself, when its rule has one
    /// (`next_root` of receipts, `asset_id` of geneses, `snapshot_digest_sha256` of locks).
    pub fn declared(self, value: &Value) -> Option<&str> {
        let field = match self {
            DigestRule::NextRoot(_) => "next_root",
            DigestRule::AssetId => "asset_id",
            DigestRule::TransitionTypesSnapshot => "snapshot_digest_sha256",
            _ => return None,
        };
        value.get(field).and_then(Value::as_str)
    }
}

fn require_object(value: &Value, rule: &'static str) -> Result<(), Error> {
    if value.is_object() {
        Ok(())
    } else {
        Err(Error::Field {
            rule,
            field: "(root)",
            problem: "must be a JSON object",
        })
    }
}

/// `payload_sha256` of a transition envelope: SHA-256 of the canonical payload.
pub fn payload_sha256(payload: &Value) -> Result<Digest, Error> {
    digest_of(payload)
}

/// The corridor head commitment (§6.3), used to dedupe gossip about one corridor head.
pub fn head_commitment(
    corridor_id: &str,
    genesis_root: &Digest,
    receipt_count: u64,
    final_state_root: &Digest,
    mmr_root: &Digest,
) -> Result<Digest, Error> {
    digest_of(&serde_json::json!({
        "corridor_id": corridor_id.trim(),
        "genesis_root": genesis_root.to_hex(),
        "receipt_count": receipt_count,
        "final_state_root": final_state_root.to_hex(),
        "mmr_root": mmr_root.to_hex(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_hash_raw_bytes() {
        assert_eq!(rule_for("my-custom-type"), DigestRule::Bytes);
        assert_eq!(rule_for("vc").encoding(), Encoding::Json);
        assert_eq!(rule_for("blob").encoding(), Encoding::Raw);
    }

    #[test]
    fn vc_digest_ignores_proof() {
        let a = serde_json::json!({"id": "x", "proof": {"jws": "a"}});
        let b = serde_json::json!({"id": "x"});
        let rule = rule_for("vc");
        assert_eq!(rule.digest_json(&a).unwrap(), rule.digest_json(&b).unwrap());
    }

    #[test]
    fn attestation_digest_covers_proof() {
        let a = serde_json::json!({"id": "x", "proof": {"jws": "a"}});
        let b = serde_json::json!({"id": "x"});
        let rule = rule_for("smart-asset-attestation");
        assert_ne!(rule.digest_json(&a).unwrap(), rule.digest_json(&b).unwrap());
    }
}
