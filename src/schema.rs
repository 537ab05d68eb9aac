//! JSON Schemas (2020-12) embedded in the binary, and validation against them.
//!
//! Every schema file under `schemas/` is listed in [`SCHEMAS`] by its file name; validators are
//! compiled once, on first use.

use std::sync::OnceLock;

use crate::canon::Value;
use crate::taxonomy::{Class, Classify, Detail};

/// Embeds `schemas/<name>` for each name given.
macro_rules! embed {
    ($($name:literal),* $(,)?) => { &[$(($name, include_str!(concat!("../schemas/", $name)))),*] };
}

/// Every embedded schema: (file name, text).
pub const SCHEMAS: &[(&str, &str)] = embed![
    "artifact-ref.schema.json",
    "trust-anchors.schema.json",
    "proof.schema.json",
    "jwk.schema.json",
    "vc.schema.json",
    "repository-config.schema.json",
    "error.schema.json",
    "smart-asset.receipt.schema.json",
    "corridor.receipt.schema.json",
    "smart-asset.receipt-chain.checkpoint.schema.json",
    "corridor.checkpoint.schema.json",
    "smart-asset.fork-resolution.schema.json",
    "corridor.fork-resolution.schema.json",
    "vc.smart-asset-fork-resolution.schema.json",
    "vc.corridor-fork-resolution.schema.json",
    "fork-evidence.schema.json",
    "smart-asset.receipt-checkpoint.attachment.schema.json",
    "smart-asset.checkpoint.attachment.schema.json",
    "corridor.checkpoint.attachment.schema.json",
    "proof-binding.attachment.schema.json",
    "settlement-anchor.attachment.schema.json",
    "rule-eval-evidence.attachment.schema.json",
    "rule-eval-evidence.schema.json",
    "transition-types.registry.schema.json",
    "transition-types.lock.schema.json",
    "smart-asset.harbor-policy.schema.json",
    "vc.smart-asset-registry.schema.json",
    "artifact.graph-verify-report.schema.json",
    "vc.artifact-witness-bundle.schema.json",
    "bundle-attestation-profile.schema.json",
    "vc.key-rotation.schema.json",
    "vc.key-revocation.schema.json",
    "car-manifest.schema.json",
    "verify-report.schema.json",
];

/// A document that does not match its schema.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Validation failed; `errors` lists each violation as `<pointer>: <message>`.
    #[error("{what} does not match {schema}: {}", errors.join("; "))]
    Invalid {
        what: String,
        schema: &'static str,
        errors: Vec<String>,
    },
    /// No schema of that name is embedded (a bug in msez).
    #[error("no embedded schema named {0}")]
    Unknown(String),
}

impl Classify for Error {
    fn class(&self) -> Class {
        Class::Schema
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "schema.invalid",
            Error::Unknown(_) => "schema.unknown_schema",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Invalid {
                what,
                schema,
                errors,
            } => Detail::object(what.clone())
                .mismatch(format!("a document matching {schema}"), errors.join("; ")),
            Error::Unknown(_) => Detail::default(),
        }
    }
}

/// The compiled validator of schema `i` of [`SCHEMAS`], compiled on first use only: a command
/// pays for the schemas it checks, not for all of them at start-up.
fn validator(i: usize) -> &'static jsonschema::Validator {
    static CELLS: [OnceLock<jsonschema::Validator>; SCHEMAS.len()] =
        [const { OnceLock::new() }; SCHEMAS.len()];
    CELLS[i].get_or_init(|| {
        let schema: Value =
            serde_json::from_str(SCHEMAS[i].1).expect("embedded schemas are valid JSON (tested)");
        jsonschema::draft202012::new(&schema).expect("embedded schemas compile (tested)")
    })
}

/// The text of an embedded schema.
pub fn text(name: &str) -> Option<&'static str> {
    SCHEMAS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Validates `value` against the embedded schema `name`; `what` names the document in errors.
pub fn validate(name: &'static str, value: &Value, what: &str) -> Result<(), Error> {
    let i = SCHEMAS
        .iter()
        .position(|(n, _)| *n == name)
        .ok_or_else(|| Error::Unknown(name.to_string()))?;
    let validator = validator(i);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(8)
        .map(|e| format!("{}: {}", display_pointer(&e.instance_path().to_string()), e))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: what.to_string(),
            schema: name,
            errors,
        })
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_compiles() {
        for i in 0..SCHEMAS.len() {
            validator(i);
        }
    }

    #[test]
    fn artifact_ref_schema_rejects_uppercase_digest() {
        let bad = serde_json::json!({"artifact_type": "vc", "digest_sha256": "AB".repeat(32)});
        assert!(validate("artifact-ref.schema.json", &bad, "ref").is_err());
        let good = serde_json::json!({"artifact_type": "vc", "digest_sha256": "ab".repeat(32)});
        validate("artifact-ref.schema.json", &good, "ref").unwrap();
    }
}
