//! `MsezEd25519Signature2025` proofs: what is signed, how a proof looks, how it is checked.
//!
//! The signed bytes are `canon::to_bytes(object minus its top-level "proof")`; the signature is
//! raw Ed25519 (RFC 8032, no prehash) over them, stored unpadded base64url in `jws`. Everything
//! else in the proof (`created`, `proofPurpose`, the fragment) is not signed. Shape is checked
//! before any crypto, in the reference's order, and signatures are checked with `verify_strict`'s
//! exact verdicts (`super::strict`, faster for a key that signs many objects).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{Did, Error, KeyPair, kind_of};
use crate::canon::{self, Map, Value};

/// The one proof type msez signs and verifies.
pub const PROOF_TYPE: &str = "MsezEd25519Signature2025";
/// The one accepted proofPurpose.
pub const PROOF_PURPOSE: &str = "assertionMethod";

/// Decodes any base64url length, ignoring trailing bits, so a short signature reports its length.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// One proof as written: `{type, created, verificationMethod, proofPurpose, jws}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// Always [`PROOF_TYPE`].
    #[serde(rename = "type")]
    pub proof_type: String,
    /// When it was made, `YYYY-MM-DDTHH:MM:SSZ` (not signed).
    pub created: String,
    /// `did:key:z…#fragment` of the signer.
    #[serde(rename = "verificationMethod")]
    pub verification_method: String,
    /// Always [`PROOF_PURPOSE`].
    #[serde(rename = "proofPurpose")]
    pub proof_purpose: String,
    /// The 64-byte Ed25519 signature, base64url without padding (not a JWS).
    pub jws: String,
}

impl Proof {
    /// The proof as a JSON object.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a Proof always serializes")
    }
}

/// The verdict on one proof, as `vc verify` and the chain verifiers report it.
#[derive(Debug, Serialize)]
pub struct ProofResult {
    /// The proof's verificationMethod, when it has a string one.
    pub verification_method: Option<String>,
    /// Whether the proof is well formed and its signature verifies.
    pub ok: bool,
    /// Why not, in words.
    pub error: Option<String>,
    /// Why not, as a stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Why not, as the typed error.
    #[serde(skip)]
    pub failure: Option<Error>,
}

/// A proof that passed every shape check: what remains is the signature equation.
#[derive(Clone, Debug)]
pub struct CheckedProof {
    /// The verificationMethod as written.
    pub verification_method: String,
    /// The resolved signer.
    pub did: Did,
    /// The signature bytes.
    pub signature: Signature,
}

impl CheckedProof {
    /// The signer's public key.
    pub fn key(&self) -> VerifyingKey {
        self.did.verifying_key()
    }

    /// Strict Ed25519 verification over `input` (the signing input).
    pub fn verify(&self, input: &[u8]) -> Result<(), Error> {
        if super::strict::verify(&self.key(), input, &self.signature) {
            Ok(())
        } else {
            Err(Error::Invalid {
                verification_method: self.verification_method.clone(),
            })
        }
    }
}

/// The bytes every proof on `obj` signs: canonical JSON of `obj` without its top-level proof.
pub fn signing_input(obj: &Value) -> Result<Vec<u8>, Error> {
    as_object(obj, "the object to sign")?;
    Ok(canon::to_bytes_without(obj, &["proof"])?)
}

/// Signs `obj` with `key`; the proof says it was made at `created`.
pub fn sign(obj: &Value, key: &KeyPair, created: &str) -> Result<Proof, Error> {
    if !is_created(created) {
        return Err(Error::BadCreated {
            verification_method: key.verification_method().to_string(),
            found: created.into(),
        });
    }
    let input = signing_input(obj)?;
    let signature = key.signing_key().sign(&input);
    Ok(Proof {
        proof_type: PROOF_TYPE.into(),
        created: created.into(),
        verification_method: key.verification_method().into(),
        proof_purpose: PROOF_PURPOSE.into(),
        jws: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
    })
}

/// Signs `obj` now (see [`now_utc`]) and attaches the proof; returns it.
pub fn add_proof(obj: &mut Value, key: &KeyPair) -> Result<Proof, Error> {
    add_proof_at(obj, key, &now_utc())
}

/// Signs `obj` and attaches the proof as the reference does: none → one object, a list →
/// appended (an empty list stays a list), one object → `[old, new]`.
pub fn add_proof_at(obj: &mut Value, key: &KeyPair, created: &str) -> Result<Proof, Error> {
    let proof = sign(obj, key, created)?;
    let map = obj
        .as_object_mut()
        .expect("sign checked that obj is an object");
    let new = proof.to_value();
    match map.remove("proof") {
        None => {
            map.insert("proof".into(), new);
        }
        Some(Value::Array(mut list)) => {
            list.push(new);
            map.insert("proof".into(), Value::Array(list));
        }
        Some(old) => {
            map.insert("proof".into(), Value::Array(vec![old, new]));
        }
    }
    Ok(proof)
}

/// Checks one proof's shape in the reference's order and resolves its signer; no crypto yet.
pub fn check(proof: &Value, index: usize) -> Result<CheckedProof, Error> {
    let map = proof.as_object().ok_or(Error::MalformedProof {
        index,
        found: kind_of(proof),
    })?;
    let vm_text = match map.get("verificationMethod") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => format!("<{}>", kind_of(other)),
        None => "<missing>".to_string(),
    };
    let field = |name: &str| match map.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => format!("<{}>", kind_of(other)),
        None => "<missing>".to_string(),
    };
    let proof_type = field("type");
    if proof_type != PROOF_TYPE {
        return Err(Error::UnsupportedProofType {
            verification_method: vm_text,
            found: proof_type,
        });
    }
    let created = field("created");
    if !is_created(&created) || !matches!(map.get("created"), Some(Value::String(_))) {
        return Err(Error::BadCreated {
            verification_method: vm_text,
            found: created,
        });
    }
    let vm = match map.get("verificationMethod") {
        Some(Value::String(s)) if s.starts_with("did:key:") => s.clone(),
        _ => return Err(Error::NotDidKey { found: vm_text }),
    };
    let purpose = field("proofPurpose");
    if purpose != PROOF_PURPOSE {
        return Err(Error::UnsupportedPurpose {
            verification_method: vm,
            found: purpose,
        });
    }
    let jws = match map.get("jws") {
        Some(Value::String(s))
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            s
        }
        _ => {
            return Err(Error::BadJws {
                verification_method: vm,
                found: field("jws"),
            });
        }
    };
    let bad_jws = || Error::BadJws {
        verification_method: vm.clone(),
        found: jws.clone(),
    };
    let bytes = LENIENT.decode(jws).map_err(|_| bad_jws())?;
    let bytes: [u8; 64] = bytes.as_slice().try_into().map_err(|_| Error::BadLength {
        verification_method: vm.clone(),
        len: bytes.len(),
    })?;
    // Trailing bits must be zero: one signature has one spelling, so proofs dedupe by jws.
    if URL_SAFE_NO_PAD.encode(bytes) != *jws {
        return Err(bad_jws());
    }
    let did = Did::parse(&vm)?;
    Ok(CheckedProof {
        verification_method: vm,
        did,
        signature: Signature::from_bytes(&bytes),
    })
}

/// Checks one proof against precomputed signing-input bytes.
pub fn verify_proof(proof: &Value, input: &[u8]) -> Result<CheckedProof, Error> {
    let checked = check(proof, 0)?;
    checked.verify(input)?;
    Ok(checked)
}

/// The proof entries of `obj`: none, the list, or a single non-list value wrapped in a list.
pub fn proofs_of(obj: &Value) -> Vec<&Value> {
    match obj.get("proof") {
        None => Vec::new(),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
    }
}

/// Verifies every proof on `obj`, one result each; `Err` only when nothing can be checked (not
/// an object, or no canonical bytes, e.g. a float in the signed body).
pub fn verify_proofs(obj: &Value) -> Result<Vec<ProofResult>, Error> {
    let input = signing_input(obj)?;
    Ok(proofs_of(obj)
        .into_iter()
        .enumerate()
        .map(|(index, proof)| {
            let written_vm = proof
                .get("verificationMethod")
                .and_then(Value::as_str)
                .map(str::to_string);
            match check(proof, index).and_then(|c| c.verify(&input)) {
                Ok(()) => ProofResult {
                    verification_method: written_vm,
                    ok: true,
                    error: None,
                    code: None,
                    failure: None,
                },
                Err(e) => ProofResult {
                    verification_method: written_vm,
                    ok: false,
                    error: Some(e.to_string()),
                    code: Some(crate::taxonomy::Classify::code(&e)),
                    failure: Some(e),
                },
            }
        })
        .collect())
}

/// At least one proof, and every proof valid (`vc verify`, verify-inclusion, checkpoint audit).
pub fn all_valid(results: &[ProofResult]) -> bool {
    !results.is_empty() && results.iter().all(|r| r.ok)
}

/// The distinct signers of the valid proofs, sorted (chain verifiers need at least one).
pub fn valid_signers(results: &[ProofResult]) -> Vec<Did> {
    let mut dids: Vec<Did> = results
        .iter()
        .filter(|r| r.ok)
        .filter_map(|r| r.verification_method.as_deref())
        .filter_map(|vm| Did::parse(vm).ok())
        .collect();
    dids.sort();
    dids.dedup();
    dids
}

/// Verifies `obj` (named `what` in errors) and fails unless [`all_valid`]: no proofs is
/// `NoProofs`, else the first failing proof's error.
pub fn require_all_valid(obj: &Value, what: &str) -> Result<Vec<ProofResult>, Error> {
    let mut results = verify_proofs(obj)?;
    if results.is_empty() {
        return Err(Error::NoProofs {
            object: what.to_string(),
        });
    }
    if let Some(failed) = results.iter_mut().find(|r| !r.ok) {
        let vm = failed.verification_method.clone().unwrap_or_default();
        return Err(failed.failure.take().unwrap_or(Error::Invalid {
            verification_method: vm,
        }));
    }
    Ok(results)
}

/// The union of two `proof` field values (`Null` = absent), deduplicated by
/// (verificationMethod, jws) and sorted by it, so merging is commutative and idempotent. The
/// result is one object when the union holds exactly one proof and no input was a list; an empty
/// union is `Null`, or `[]` when an input was a list.
pub fn merge_proofs(a: &Value, b: &Value) -> Value {
    let was_list = a.is_array() || b.is_array();
    let mut union: BTreeMap<(String, String), (Vec<u8>, Value)> = BTreeMap::new();
    for proof in [a, b].into_iter().flat_map(entries) {
        let bytes = canon::to_bytes(proof).unwrap_or_else(|_| proof.to_string().into_bytes());
        let key = match (
            proof.get("verificationMethod").and_then(Value::as_str),
            proof.get("jws").and_then(Value::as_str),
        ) {
            (Some(vm), Some(jws)) => (vm.to_string(), jws.to_string()),
            // Entries without both fields cannot be told apart by them; their bytes decide.
            _ => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
        };
        // Two proofs with one signature but different unsigned metadata: keep the smaller bytes,
        // whatever order they came in.
        match union.get(&key) {
            Some((kept, _)) if *kept <= bytes => {}
            _ => {
                union.insert(key, (bytes, proof.clone()));
            }
        }
    }
    let mut proofs: Vec<Value> = union.into_values().map(|(_, v)| v).collect();
    match proofs.len() {
        0 if was_list => Value::Array(proofs),
        0 => Value::Null,
        1 if !was_list => proofs.pop().expect("one element"),
        _ => Value::Array(proofs),
    }
}

fn entries(v: &Value) -> Vec<&Value> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(list) => list.iter().collect(),
        one => vec![one],
    }
}

/// Now in UTC as `YYYY-MM-DDTHH:MM:SSZ`; `SOURCE_DATE_EPOCH` (integer seconds) overrides the clock.
pub fn now_utc() -> String {
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok());
    let secs = epoch.unwrap_or_else(|| {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        }
    });
    format_utc(secs)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days: exact for every day in i64 range we care about.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether `s` matches `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$` (ASCII digits).
pub fn is_created(s: &str) -> bool {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE).all(|(c, &p)| {
            if p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map, Error> {
    value.as_object().ok_or_else(|| Error::NotAnObject {
        what: what.to_string(),
        found: kind_of(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dev() -> KeyPair {
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode("oaMkOt1bv_JCzB8gaNw14FY82E0KDv_oSHA3V-FtGNE")
            .unwrap()
            .try_into()
            .unwrap();
        KeyPair::from_seed(&seed, None)
    }

    fn signed() -> Value {
        let mut obj = json!({"id": "urn:example:obj:1", "hello": "world"});
        add_proof_at(&mut obj, &dev(), "2026-01-01T00:00:00Z").unwrap();
        obj
    }

    #[test]
    fn the_dev_key_reproduces_the_derived_signature_vector() {
        assert_eq!(
            signed()["proof"]["jws"],
            "xXVNN-AhebdBzqeLAsf_eKuiMRy_u5dKXADS9HKTE1AJKjgR_08B8fm8mnovbMJgXR4yak_SVF5qg4-XwcwlCQ"
        );
    }

    #[test]
    fn proofs_attach_as_object_then_list_and_empty_lists_stay_lists() {
        let mut obj = signed();
        assert!(obj["proof"].is_object());
        add_proof_at(&mut obj, &dev(), "2026-01-01T00:00:01Z").unwrap();
        assert_eq!(obj["proof"].as_array().map(Vec::len), Some(2));
        add_proof_at(&mut obj, &dev(), "2026-01-01T00:00:02Z").unwrap();
        assert_eq!(obj["proof"].as_array().map(Vec::len), Some(3));
        let mut empty = json!({"a": 1, "proof": []});
        add_proof_at(&mut empty, &dev(), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(empty["proof"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn every_shape_rule_has_its_own_error() {
        let cases: &[(&str, Value, &str)] = &[
            (
                "type",
                json!("Ed25519Signature2020"),
                "signature.unsupported_proof_type",
            ),
            (
                "created",
                json!("2026-01-01T00:00:00.5Z"),
                "signature.bad_created",
            ),
            (
                "verificationMethod",
                json!("did:web:example.com#k"),
                "signature.not_did_key",
            ),
            (
                "proofPurpose",
                json!("authentication"),
                "signature.unsupported_purpose",
            ),
            ("jws", json!("abc="), "signature.bad_encoding"),
            (
                "jws",
                json!(URL_SAFE_NO_PAD.encode([0u8; 63])),
                "signature.bad_length",
            ),
        ];
        for (field, value, code) in cases {
            let mut obj = signed();
            obj["proof"][*field] = value.clone();
            let results = verify_proofs(&obj).unwrap();
            assert_eq!(results[0].code, Some(*code), "{field}");
        }
    }

    #[test]
    fn a_short_signature_reports_its_length() {
        let mut obj = signed();
        obj["proof"]["jws"] = json!(URL_SAFE_NO_PAD.encode([7u8; 63]));
        let err = require_all_valid(&obj, "obj").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Ed25519 signature must be 64 bytes, got 63"
        );
    }

    #[test]
    fn a_tampered_body_or_a_flipped_bit_fails_verification() {
        let mut obj = signed();
        obj["hello"] = json!("World");
        assert!(!all_valid(&verify_proofs(&obj).unwrap()));
        let mut obj = signed();
        let mut sig = URL_SAFE_NO_PAD
            .decode(obj["proof"]["jws"].as_str().unwrap())
            .unwrap();
        sig[10] ^= 1;
        obj["proof"]["jws"] = json!(URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(
            verify_proofs(&obj).unwrap()[0].code,
            Some("signature.invalid")
        );
    }

    #[test]
    fn non_canonical_trailing_bits_in_jws_are_rejected() {
        let mut obj = signed();
        let jws = obj["proof"]["jws"].as_str().unwrap().to_string();
        let last = jws.chars().last().unwrap();
        let twin = match last {
            'Q' => 'R',
            'A' => 'B',
            'g' => 'h',
            'w' => 'x',
            c => c,
        };
        obj["proof"]["jws"] = json!(format!("{}{twin}", &jws[..jws.len() - 1]));
        assert_eq!(
            verify_proofs(&obj).unwrap()[0].code,
            Some("signature.bad_encoding")
        );
    }

    #[test]
    fn no_proofs_and_a_float_body_are_errors_not_results() {
        let err = require_all_valid(&json!({"a": 1}), "obj").unwrap_err();
        assert_eq!(crate::taxonomy::Classify::code(&err), "signature.no_proofs");
        let float: Value = canon::parse(br#"{"a": 1.5, "proof": []}"#).unwrap();
        assert_eq!(
            crate::taxonomy::Classify::class(&verify_proofs(&float).unwrap_err()),
            crate::taxonomy::Class::Schema
        );
    }

    #[test]
    fn a_non_object_proof_is_a_failed_result() {
        let results = verify_proofs(&json!({"a": 1, "proof": "x"})).unwrap();
        assert_eq!(results[0].code, Some("signature.malformed_proof"));
    }

    #[test]
    fn merge_keeps_a_single_object_and_sorts_a_union() {
        let one = signed()["proof"].clone();
        assert_eq!(merge_proofs(&one, &one), one);
        assert_eq!(merge_proofs(&one, &Value::Null), one);
        let mut two = signed();
        add_proof_at(
            &mut two,
            &KeyPair::from_seed(&[9; 32], None),
            "2026-01-01T00:00:00Z",
        )
        .unwrap();
        let merged = merge_proofs(&one, &two["proof"]);
        assert_eq!(merged.as_array().map(Vec::len), Some(2));
        assert_eq!(merge_proofs(&json!([]), &Value::Null), json!([]));
    }

    #[test]
    fn utc_formatting_matches_known_instants() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_735_689_600), "2025-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_766_361_599), "2025-12-21T23:59:59Z");
        assert!(is_created(&now_utc()));
    }
}
