//! Bundle attestations: `MSEZArtifactWitnessBundleCredential` (msez-wire-format.md §9) and the
//! asset-history bundle attestation profile (who may attest bundles, and how many must).
//!
//! A credential commits to the manifest digest, SHA256(JCS(manifest.json)); the manifest lists
//! the SHA-256 of every other entry, so one signature covers the whole bundle. Attestations by
//! several attesters are separate credentials; [`evaluate`] counts them together.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Error;
use crate::canon::{Digest, Value};
use crate::taxonomy::{Classify, Finding};
use crate::vc::{self, KeyPair};

/// The credential's type (after `VerifiableCredential`).
pub const CREDENTIAL_TYPE: &str = "MSEZArtifactWitnessBundleCredential";
/// The credential schema (embedded).
pub const CREDENTIAL_SCHEMA: &str = "vc.artifact-witness-bundle.schema.json";
/// The profile schema (embedded).
pub const PROFILE_SCHEMA: &str = "bundle-attestation-profile.schema.json";
/// `profile` of an asset-history bundle attestation profile.
pub const PROFILE_KIND: &str = "msez.asset-history-bundle-attestation.v1";

/// A deterministic credential id: a UUID (version 8, RFC 9562 "custom") made of the first 16
/// bytes of SHA256(manifest digest ‖ issuer ‖ issuanceDate), so re-attesting the same bundle at
/// the same time (SOURCE_DATE_EPOCH) gives the same bytes; the reference used a random uuid4.
fn credential_id(digest: &Digest, issuer: &str, issued: &str) -> String {
    let h = crate::canon::sha256(format!("{digest}\0{issuer}\0{issued}").as_bytes());
    let mut b: [u8; 16] = h.0[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "urn:msez:vc:artifact-witness-bundle:{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// A DID without its `#fragment`.
fn strip_fragment(s: &str) -> &str {
    s.split('#').next().unwrap_or(s)
}

/// Builds and signs the credential over `manifest` (whose digest is `digest`).
pub fn attest(
    manifest: &Value,
    digest: &Digest,
    issuer: &str,
    statement: &str,
    key: &KeyPair,
) -> Result<Value, Error> {
    let issued = vc::proof::now_utc();
    let mut credential = serde_json::json!({
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://schemas.momentum-sez.org/contexts/msez/v1"],
        "id": credential_id(digest, issuer, &issued),
        "type": ["VerifiableCredential", CREDENTIAL_TYPE],
        "issuer": issuer,
        "issuanceDate": issued,
        "credentialSubject": {
            "bundle": {"format": super::FORMAT, "version": super::VERSION},
            "manifest_digest_sha256": digest.to_hex(),
            "manifest_path": super::MANIFEST,
            "root": manifest["root"],
            "stats": manifest["stats"],
            "options": manifest["options"],
            "statement": statement,
        }
    });
    vc::add_proof_at(&mut credential, key, &issued)?;
    Ok(credential)
}

/// What one attestation says, once checked.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    /// Where it came from.
    pub path: String,
    /// Its issuer DID (fragment stripped).
    pub issuer: String,
    /// The DIDs of its valid proofs, sorted.
    pub signers: Vec<String>,
    /// Whether the issuer itself signed it (it counts, and is named, only by its signers).
    pub issuer_signed: bool,
    /// Its statement.
    pub statement: String,
    /// Remarks that do not fail the check.
    pub warnings: Vec<String>,
    /// Every check that failed (schema, manifest digest, each bad proof); it counts for
    /// nobody unless this is empty (docs/verdicts.md).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

impl Checked {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks one credential: schema, manifest digest, and every proof (all must verify); every
/// failure is a finding of the result, none stops the others.
pub fn check(credential: &Value, path: &str, digest: &Digest) -> Checked {
    let mut findings = Vec::new();
    let mut found = |e: &dyn Classify| findings.extend(Finding::all_of(e));
    if let Err(e) = crate::schema::validate(CREDENTIAL_SCHEMA, credential, path) {
        found(&Error::from(e));
    }
    let subject = &credential["credentialSubject"];
    // An absent or malformed digest is the schema's finding; a different one is this one.
    if let Some(claimed) = subject["manifest_digest_sha256"].as_str() {
        if claimed != digest.to_hex() {
            found(&Error::AttestationDigest {
                path: path.into(),
                expected: claimed.into(),
                found: digest.to_hex(),
            });
        }
    }
    let results = vc::verify_proofs(credential).unwrap_or_else(|e| {
        found(&Error::from(e));
        Vec::new()
    });
    for bad in results.iter().filter(|r| !r.ok) {
        found(&Error::Attestation {
            path: path.into(),
            why: bad.error.clone().unwrap_or_else(|| "invalid proof".into()),
        });
    }
    if results.is_empty() {
        found(&Error::Attestation {
            path: path.into(),
            why: "no proofs present".into(),
        });
    }
    let signers: Vec<String> = vc::valid_signers(&results)
        .iter()
        .map(|d| d.to_string())
        .collect();
    let issuer = match &credential["issuer"] {
        Value::String(s) => s.as_str(),
        v => v["id"].as_str().unwrap_or_default(),
    };
    let issuer = strip_fragment(issuer).to_string();
    let issuer_signed = signers.contains(&issuer);
    let mut warnings = Vec::new();
    if !issuer_signed {
        warnings.push(format!(
            "issuer {issuer} did not sign this attestation: it counts only for its signers ({})",
            signers.join(", ")
        ));
    }
    Checked {
        path: path.into(),
        issuer,
        signers,
        issuer_signed,
        statement: subject["statement"].as_str().unwrap_or_default().into(),
        warnings,
        findings,
    }
}

/// One attester a profile admits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attester {
    /// A name for reports.
    pub id: String,
    /// Its did:key.
    pub did: String,
    /// Roles (e.g. `auditor`, `operator`), for `quorum.required_roles`.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// How many attestations a bundle needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quorum {
    /// Distinct admitted attesters with a valid attestation.
    pub min_attesters: u64,
    /// Roles that need at least one counted attester each.
    #[serde(default)]
    pub required_roles: Vec<String>,
}

/// What the bundle itself must look like.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BundleRules {
    /// Allowed `root.mode`s (empty: any).
    #[serde(default)]
    pub root_modes: Vec<String>,
    /// The manifest must have been built with strict digests.
    #[serde(default)]
    pub require_strict: bool,
}

/// `profiles/asset-history-bundle-attestation/profile.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// [`PROFILE_KIND`].
    pub profile: String,
    /// Format version (1).
    pub version: u64,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Who may attest.
    pub attesters: Vec<Attester>,
    /// How many must.
    pub quorum: Quorum,
    /// Rules on the bundle.
    #[serde(default)]
    pub bundle: BundleRules,
}

impl Profile {
    /// Reads a YAML (or JSON) profile and checks it against its schema.
    pub fn load(path: &Path) -> Result<Profile, Error> {
        let bad = |reason: String| Error::Profile {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let value: Value = serde_yaml_ng::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        crate::schema::validate(PROFILE_SCHEMA, &value, &path.display().to_string())?;
        let p: Profile = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        if p.quorum.min_attesters as usize > p.attesters.len() {
            return Err(bad(format!(
                "quorum.min_attesters {} exceeds the {} attesters listed",
                p.quorum.min_attesters,
                p.attesters.len()
            )));
        }
        Ok(p)
    }
}

/// The quorum outcome under a profile.
#[derive(Clone, Debug, Serialize)]
pub struct QuorumReport {
    /// Admitted attesters with a valid, issuer-signed attestation.
    pub counted: Vec<String>,
    /// Signers that did not count, and why.
    pub ignored: Vec<String>,
    /// `quorum.min_attesters`.
    pub required: u64,
}

/// Counts `attestations` under `profile` for the bundle whose manifest is `manifest`;
/// `Quorum` when too few admitted attesters (or a required role, or a bundle rule) fail.
pub fn evaluate(
    profile: &Profile,
    manifest: &Value,
    attestations: &[Checked],
) -> Result<QuorumReport, Error> {
    let admitted: BTreeMap<&str, &Attester> = profile
        .attesters
        .iter()
        .map(|a| (strip_fragment(&a.did), a))
        .collect();
    let mut counted: BTreeMap<String, &Attester> = BTreeMap::new();
    let mut ignored = Vec::new();
    // An attestation counts for the keys that signed it, never for its `issuer` field alone.
    for a in attestations {
        // An attestation that failed a check counts for nobody.
        if !a.ok() {
            ignored.push(format!("{}: it failed its checks", a.path));
            continue;
        }
        if !a.issuer_signed {
            ignored.push(format!(
                "{}: issuer {} did not sign it (it counts only for its signers)",
                a.path, a.issuer
            ));
        }
        for signer in &a.signers {
            let did = strip_fragment(signer);
            match admitted.get(did) {
                Some(att) => {
                    counted.insert(did.to_string(), att);
                }
                None => ignored.push(format!(
                    "{}: {did} is not an attester of the profile",
                    a.path
                )),
            }
        }
    }
    let names: Vec<String> = counted
        .values()
        .map(|a| format!("{} ({})", a.id, a.did))
        .collect();
    let fail = |why: String| Error::Quorum {
        why,
        counted: names.clone(),
    };
    let mode = manifest["root"]["mode"].as_str().unwrap_or_default();
    if !profile.bundle.root_modes.is_empty() && !profile.bundle.root_modes.iter().any(|m| m == mode)
    {
        return Err(fail(format!(
            "the profile admits root modes {:?}, the bundle's is {mode:?}",
            profile.bundle.root_modes
        )));
    }
    if profile.bundle.require_strict && manifest["options"]["strict"] != Value::Bool(true) {
        return Err(fail("the profile requires a strict manifest".into()));
    }
    if (counted.len() as u64) < profile.quorum.min_attesters {
        let mut why = format!(
            "{} of {} required attesters",
            counted.len(),
            profile.quorum.min_attesters
        );
        if !ignored.is_empty() {
            why.push_str(&format!(" (not counted: {})", ignored.join("; ")));
        }
        return Err(fail(why));
    }
    for role in &profile.quorum.required_roles {
        if !counted.values().any(|a| a.roles.contains(role)) {
            return Err(fail(format!("no counted attester has the role {role:?}")));
        }
    }
    Ok(QuorumReport {
        counted: names,
        ignored,
        required: profile.quorum.min_attesters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids_are_uuid_shaped_and_deterministic() {
        let d = crate::canon::sha256(b"m");
        let a = credential_id(&d, "did:key:z1", "2026-01-01T00:00:00Z");
        assert_eq!(a, credential_id(&d, "did:key:z1", "2026-01-01T00:00:00Z"));
        assert_ne!(a, credential_id(&d, "did:key:z2", "2026-01-01T00:00:00Z"));
        let uuid = a.rsplit(':').next().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "8");
    }

    #[test]
    fn every_failed_check_of_an_attestation_is_a_finding() {
        let key = KeyPair::from_seed(&[7; 32], None);
        let issuer = key.did().to_string();
        let manifest = serde_json::json!({"root": {"mode": "asset"}, "stats": {}, "options": {}});
        let digest = crate::canon::sha256(b"manifest");
        let vc = attest(&manifest, &digest, &issuer, "seen", &key).unwrap();
        let good = check(&vc, "good", &digest);
        assert!(good.ok(), "{:?}", good.findings);
        assert_eq!(good.signers, [issuer]);
        // Its statement changed (the proof fails) and checked against another manifest.
        let mut bad = vc.clone();
        bad["credentialSubject"]["statement"] = "other".into();
        let other = crate::canon::sha256(b"another manifest");
        let codes: Vec<&str> = check(&bad, "bad", &other)
            .findings
            .iter()
            .map(|f| f.code)
            .collect();
        assert_eq!(
            codes,
            ["digest.bundle_attestation", "signature.bundle_attestation"]
        );
    }
}
