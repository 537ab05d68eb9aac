//! The rotation and revocation credentials themselves: what a new one says, the unsigned
//! document for it, and the schema check of a signed one. Whether one counts is
//! [`super::Lifecycle`]'s business.

use std::collections::BTreeSet;

use crate::artifact::ArtifactType;
use crate::canon::{Digest, Value};
use crate::chain::Error;

use super::{ChainId, Position, REVOCATION_TYPE, ROTATION_TYPE};

/// What a new rotation or revocation says.
#[derive(Clone, Debug)]
pub enum Request {
    /// `new_key` takes over for `anchor_id` from `effective_from` on.
    Rotate {
        /// The anchor.
        anchor_id: String,
        /// The key rotated from.
        previous_key: String,
        /// The key rotated to.
        new_key: String,
        /// From where on, per chain.
        effective_from: Vec<Position>,
    },
    /// `key` is revoked; its proofs count only inside the checkpoint.
    Revoke {
        /// The revoked key.
        key: String,
        /// The checkpoint's chain.
        chain: ChainId,
        /// Its size.
        size: u64,
        /// Its MMR root.
        root: Digest,
        /// Its digest.
        checkpoint_digest: Option<Digest>,
    },
}

/// The unsigned credential for `req`, issued by `issuer` at `now`.
pub fn credential(
    req: &Request,
    issuer: &str,
    now: &str,
    reason: Option<&str>,
) -> Result<Value, Error> {
    let (vc_type, mut subject) = match req {
        Request::Rotate {
            anchor_id,
            previous_key,
            new_key,
            effective_from,
        } => (
            ROTATION_TYPE,
            serde_json::json!({
                "type": "MSEZKeyRotation",
                "anchor_id": anchor_id,
                "previous_key": previous_key,
                "new_key": new_key,
                "effective_from": effective_from.iter().map(|p| serde_json::json!({"chain": p.chain.to_value(), "sequence": p.sequence})).collect::<Vec<_>>(),
            }),
        ),
        Request::Revoke {
            key,
            chain,
            size,
            root,
            checkpoint_digest,
        } => {
            let mut vt =
                serde_json::json!({"chain": chain.to_value(), "size": size, "root": root.to_hex()});
            if let Some(d) = checkpoint_digest {
                vt["checkpoint_digest"] = d.to_hex().into();
            }
            (
                REVOCATION_TYPE,
                serde_json::json!({"type": "MSEZKeyRevocation", "key": key, "valid_through": vt}),
            )
        }
    };
    if let Some(r) = reason {
        subject["reason"] = r.into();
    }
    Ok(serde_json::json!({
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://schemas.momentum-sez.org/contexts/msez/v1",
        ],
        "id": crate::chain::fork::uuid_v4()?,
        "type": ["VerifiableCredential", vc_type],
        "issuer": issuer,
        "issuanceDate": now,
        "credentialSubject": subject,
    }))
}

/// Checks a signed credential against its schema (rotation or revocation, by its type).
pub fn check_shape(value: &Value, what: &str) -> Result<(), Error> {
    let types: BTreeSet<&str> = value
        .get("type")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let schema = if types.contains(ROTATION_TYPE) {
        "vc.key-rotation.schema.json"
    } else {
        "vc.key-revocation.schema.json"
    };
    Ok(crate::schema::validate(schema, value, what)?)
}

/// The `vc` artifact type credentials are stored under in `.msez`.
pub fn artifact_type() -> ArtifactType {
    ArtifactType::new("vc").expect("vc is a valid type")
}
