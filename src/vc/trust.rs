//! Trust anchors: which DIDs may sign which attestation kinds (`trust-anchors.yaml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::did::strip_fragment;
use super::{Did, Error};
use crate::canon::Value;

/// The attestation name that allows every attestation kind.
pub const WILDCARD: &str = "*";

/// One anchor: an identifier and the attestation kinds it may sign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchor {
    /// A name for humans and reports.
    pub anchor_id: String,
    /// `did`, `x509`, `jwk`, `pgp` or `other`; only `did` anchors can match a signer.
    #[serde(rename = "type")]
    pub kind: String,
    /// The identifier, with any `#fragment` stripped on load.
    pub identifier: String,
    /// Attestation kinds (`corridor_receipt`, …) or `*`.
    pub allowed_attestations: Vec<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

impl TrustAnchor {
    /// Whether this anchor allows `attestation` (`*` allows all); `None` asks "any at all".
    pub fn allows(&self, attestation: Option<&str>) -> bool {
        match attestation {
            None => !self.allowed_attestations.is_empty(),
            Some(a) => self
                .allowed_attestations
                .iter()
                .any(|x| x == a || x == WILDCARD),
        }
    }
}

/// Where a key-lifecycle credential or policy file is: a path (relative to the trust-anchors
/// file) and/or its digest (a `vc` object in `.msez`, or the pin of the file at `path`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// The file, relative to the trust-anchors file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The digest (`vc` artifact digest for credentials, raw SHA-256 for the policy file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_sha256: Option<String>,
}

/// A trust-anchors file: `{version, trust_anchors: [...]}`, plus msez's key-lifecycle references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnchors {
    /// Format version (≥ 1).
    pub version: u64,
    /// The anchors, in file order.
    pub trust_anchors: Vec<TrustAnchor>,
    /// `MSEZKeyRotationCredential`s (docs/forks.md, Key lifecycle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_rotations: Vec<FileRef>,
    /// `MSEZKeyRevocationCredential`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_revocations: Vec<FileRef>,
    /// The reference's key-rotation policy file (advisory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rotation_policy: Option<FileRef>,
}

impl TrustAnchors {
    /// Reads a YAML or JSON trust-anchors file.
    pub fn load(path: &Path) -> Result<TrustAnchors, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading trust anchors", path, e))?;
        TrustAnchors::parse(&bytes, path)
    }

    /// Parses YAML or JSON text (JSON is YAML); `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<TrustAnchors, Error> {
        let bad = |reason: String| Error::BadTrustAnchors {
            path: PathBuf::from(path),
            reason,
        };
        let value: Value = serde_yaml_ng::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        TrustAnchors::from_value(&value, &path.display().to_string()).map_err(|e| match e {
            Error::BadTrustAnchors { reason, .. } => bad(reason),
            other => other,
        })
    }

    /// Validates against trust-anchors.schema.json and strips identifier fragments.
    pub fn from_value(value: &Value, what: &str) -> Result<TrustAnchors, Error> {
        crate::schema::validate("trust-anchors.schema.json", value, what)?;
        let mut anchors: TrustAnchors =
            serde_json::from_value(value.clone()).map_err(|e| Error::BadTrustAnchors {
                path: PathBuf::from(what),
                reason: e.to_string(),
            })?;
        for anchor in &mut anchors.trust_anchors {
            anchor.identifier = strip_fragment(&anchor.identifier).to_string();
        }
        Ok(anchors)
    }

    /// Whether `did` (fragment ignored) is an anchor allowing `attestation`; `None` = any kind.
    pub fn allows(&self, did: &str, attestation: Option<&str>) -> bool {
        let did = strip_fragment(did);
        self.trust_anchors
            .iter()
            .any(|a| a.identifier == did && a.allows(attestation))
    }

    /// The harbor a `did` anchor names in `metadata.harbor_id` (fragment ignored), if any.
    pub fn harbor_id(&self, did: &str) -> Option<&str> {
        let did = strip_fragment(did);
        self.trust_anchors
            .iter()
            .filter(|a| a.identifier == did && a.kind == "did")
            .find_map(|a| {
                a.metadata
                    .as_ref()
                    .and_then(|m| m.get("harbor_id"))
                    .and_then(Value::as_str)
                    .filter(|h| !h.is_empty())
            })
    }

    /// The signers among `signers` that are anchors allowing `attestation`; `Untrusted` if none.
    pub fn require_trusted(
        &self,
        signers: &[Did],
        attestation: Option<&str>,
        object: &str,
    ) -> Result<Vec<Did>, Error> {
        let trusted: Vec<Did> = signers
            .iter()
            .filter(|d| self.allows(d.as_str(), attestation))
            .cloned()
            .collect();
        if trusted.is_empty() {
            return Err(Error::Untrusted {
                object: object.to_string(),
                attestation: attestation.unwrap_or("any attestation").to_string(),
                signers: signers.iter().map(|d| d.to_string()).collect(),
            });
        }
        Ok(trusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "version: 1\ntrust_anchors:\n  - anchor_id: zone-a\n    type: did\n    identifier: did:key:zA#key-1\n    allowed_attestations: [corridor_receipt]\n  - anchor_id: ops\n    type: did\n    identifier: did:key:zB\n    allowed_attestations: ['*']\n";

    #[test]
    fn yaml_anchors_load_with_fragments_stripped() -> Result<(), Error> {
        let t = TrustAnchors::parse(YAML.as_bytes(), Path::new("t.yaml"))?;
        assert_eq!(t.trust_anchors[0].identifier, "did:key:zA");
        assert!(t.allows("did:key:zA#other", Some("corridor_receipt")));
        assert!(!t.allows("did:key:zA", Some("corridor_checkpoint")));
        assert!(t.allows("did:key:zB", Some("anything")));
        assert!(!t.allows("did:key:zC", None));
        Ok(())
    }

    #[test]
    fn a_file_missing_allowed_attestations_fails_the_schema() {
        let bad =
            "version: 1\ntrust_anchors:\n  - {anchor_id: a, type: did, identifier: did:key:zA}\n";
        assert!(matches!(
            TrustAnchors::parse(bad.as_bytes(), Path::new("t.yaml")),
            Err(Error::Schema(_))
        ));
    }
}
