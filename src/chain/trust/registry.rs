//! The Smart Asset Registry VC (Layer 1, seed v0.4.36): binds an asset to its jurisdictions
//! (harbor ids) and carries the harbor quorum policy per transition class.
//!
//! It is issued by a trust anchor allowed `smart_asset_registry`, written to the module as
//! `registry.vc.json`, and pinned in asset.yaml by `registry_vc_digest_sha256 =
//! SHA256(JCS(vc − proof))`, so co-signers can add proofs without moving the pin. Verify reads
//! the pinned VC and refuses it unless every check below holds; the policy it carries then
//! decides what each receipt needs from its harbors ([`crate::chain::harbor`]).

use std::path::Path;

use crate::canon::{self, Digest, Value};
use crate::vc::{self, Did, TrustAnchors};

use crate::chain::Error;
use crate::chain::harbor::{Harbors, Jurisdiction, Policy, PolicyFile};
use crate::chain::module::AssetModule;
use crate::chain::trust::Error as TrustError;

/// The file name `asset registry issue` writes in the module.
pub const REGISTRY_FILE: &str = "registry.vc.json";

/// The trust-anchor attestation an issuer needs.
pub const ATTESTATION: &str = "smart_asset_registry";

/// The credential type.
pub const CREDENTIAL_TYPE: &str = "MSEZSmartAssetRegistryCredential";

/// An unsigned registry VC for `asset_id`, binding `jurisdictions` under `policy`.
pub fn credential(
    asset_id: &Digest,
    issuer: &Did,
    issuance_date: &str,
    jurisdictions: &[String],
    policy: &PolicyFile,
    path: &Path,
) -> Result<Value, Error> {
    let mut ids = jurisdictions.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(Error::Trust(TrustError::HarborPolicy {
            path: path.to_path_buf(),
            why: "at least one --jurisdiction is needed".into(),
        }));
    }
    if let Some(h) = policy.inactive_harbors.iter().find(|h| !ids.contains(h)) {
        return Err(Error::Trust(TrustError::HarborPolicy {
            path: path.to_path_buf(),
            why: format!("inactive harbor {h:?} is not among the --jurisdiction ids {ids:?}"),
        }));
    }
    let jurisdictions: Vec<Jurisdiction> = ids
        .into_iter()
        .map(|h| Jurisdiction {
            status: if policy.inactive_harbors.contains(&h) {
                "inactive"
            } else {
                "active"
            }
            .into(),
            harbor_id: h,
        })
        .collect();
    Ok(serde_json::json!({
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://schemas.momentum-sez.org/contexts/msez/v1",
            "https://schemas.momentum-sez.org/contexts/msez/smart-asset/v1"
        ],
        "id": format!("urn:msez:vc:smart-asset-registry:{asset_id}"),
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer.as_str(),
        "issuanceDate": issuance_date,
        "credentialSubject": {
            "asset_id": asset_id.to_hex(),
            "jurisdictions": jurisdictions,
            "harbor_policy": {"rules": policy.rules},
        }
    }))
}

/// Checks a registry VC for `asset_id`: schema, every proof valid, a valid signer that is the
/// issuer and a trust anchor allowed `smart_asset_registry`, the subject's asset; its policy.
pub fn check(
    vc_doc: &Value,
    asset_id: &Digest,
    anchors: Option<&TrustAnchors>,
    path: &Path,
) -> Result<Policy, Error> {
    let what = path.display().to_string();
    crate::schema::validate("vc.smart-asset-registry.schema.json", vc_doc, &what)?;
    let results = vc::require_all_valid(vc_doc, &what)?;
    let signers = vc::valid_signers(&results);
    let issuer = match vc_doc.get("issuer") {
        Some(Value::Object(m)) => m.get("id").and_then(Value::as_str),
        Some(v) => v.as_str(),
        None => None,
    }
    .map(|s| s.split_once('#').map_or(s, |(base, _)| base).to_string())
    .unwrap_or_default();
    let trusted = anchors.is_some_and(|a| {
        signers
            .iter()
            .any(|d| d.as_str() == issuer && a.allows(d.as_str(), Some(ATTESTATION)))
    });
    if !trusted {
        return Err(Error::Trust(TrustError::Untrusted {
            path: path.to_path_buf(),
            attestation: ATTESTATION,
        }));
    }
    let subject = vc_doc.get("credentialSubject").cloned().unwrap_or_default();
    let named = subject
        .get("asset_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if named != asset_id.to_hex() {
        return Err(Error::OwnerMismatch {
            path: path.to_path_buf(),
            field: "credentialSubject.asset_id",
            expected: asset_id.to_hex(),
            found: named.to_string(),
        });
    }
    Policy::from_subject(&subject, path)
}

/// What `asset registry issue` wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Issued {
    /// The credential file.
    pub path: std::path::PathBuf,
    /// Its pinned digest.
    pub digest: Digest,
    /// The issuer.
    pub issuer: String,
    /// The asset.
    pub asset_id: Digest,
}

/// Builds, signs and checks the registry VC, writes it to `out` and pins it in asset.yaml.
pub fn issue(
    module: AssetModule,
    anchors: &TrustAnchors,
    key: &vc::KeyPair,
    issuance_date: &str,
    jurisdictions: &[String],
    policy: &PolicyFile,
    out: &Path,
) -> Result<Issued, Error> {
    issue_with(
        module,
        anchors,
        key,
        issuance_date,
        jurisdictions,
        policy,
        &serde_json::Map::new(),
        out,
    )
}

/// [`issue`] with `extra` fields added to `credentialSubject` before signing (the
/// transparency-log keys `witness_policy` and `tlog_origin_prefix`, docs/tlog.md).
#[allow(clippy::too_many_arguments)]
pub fn issue_with(
    mut module: AssetModule,
    anchors: &TrustAnchors,
    key: &vc::KeyPair,
    issuance_date: &str,
    jurisdictions: &[String],
    policy: &PolicyFile,
    extra: &serde_json::Map<String, Value>,
    out: &Path,
) -> Result<Issued, Error> {
    let mut doc = credential(
        &module.asset_id,
        &key.did(),
        issuance_date,
        jurisdictions,
        policy,
        out,
    )?;
    if let Some(subject) = doc
        .get_mut("credentialSubject")
        .and_then(Value::as_object_mut)
    {
        for (k, v) in extra {
            subject.insert(k.clone(), v.clone());
        }
    }
    vc::add_proof_at(&mut doc, key, issuance_date)?;
    // Refuse to pin what verify would refuse (an issuer not allowed smart_asset_registry).
    check(&doc, &module.asset_id, Some(anchors), out)?;
    crate::chain::module::write_pretty(out, &doc)?;
    let d = digest(&doc)?;
    module.set_config_keys(&[
        (
            "registry_vc_path",
            crate::chain::anchor::relative_uri(out, &module.dir),
        ),
        ("registry_vc_digest_sha256", d.to_hex()),
    ])?;
    Ok(Issued {
        path: out.to_path_buf(),
        digest: d,
        issuer: key.did().to_string(),
        asset_id: module.asset_id,
    })
}

/// `SHA256(JCS(vc − proof))`: what asset.yaml pins.
pub fn digest(vc_doc: &Value) -> Result<Digest, Error> {
    Ok(canon::digest_without(vc_doc, &["proof"])?)
}

/// How an asset's receipts' harbor signatures are judged: by the registry policy its
/// asset.yaml pins, else by each receipt's own jurisdiction fields; either way only anchors
/// naming a harbor_id count.
pub fn harbors(module: &AssetModule, anchors: Option<&TrustAnchors>) -> Result<Harbors, Error> {
    Ok(Harbors {
        policy: pinned(module, anchors)?,
        anchors: anchors.cloned(),
        ..Harbors::default()
    })
}

/// The policy of the registry VC asset.yaml pins, checked (None: nothing pinned).
pub fn pinned(
    module: &AssetModule,
    anchors: Option<&TrustAnchors>,
) -> Result<Option<Policy>, Error> {
    let (rel, pin) = match (
        &module.config.registry_vc_path,
        &module.config.registry_vc_digest_sha256,
    ) {
        (None, None) => return Ok(None),
        (rel, pin) => (
            rel.clone().unwrap_or_else(|| REGISTRY_FILE.into()),
            pin.clone(),
        ),
    };
    let path = module.dir.join(&rel);
    let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
    let doc = canon::parse(&bytes).map_err(|e| Error::Parse {
        path: path.clone(),
        source: e,
    })?;
    let actual = digest(&doc)?;
    let expected = pin.unwrap_or_default();
    if Digest::parse_loose(&expected).ok() != Some(actual) {
        return Err(Error::PinMismatch {
            what: "registry_vc_digest_sha256",
            path,
            expected,
            found: actual.to_hex(),
        });
    }
    check(&doc, &module.asset_id, anchors, &path).map(Some)
}
