//! did:key, Ed25519 JWKs, `MsezEd25519Signature2025` proofs and trust anchors. Placeholder:
//! filled in by the VC work.

use crate::error::{Class, Classify};

/// Credential and key failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder variant.
    #[error("vc: {0}")]
    Invalid(String),
}

impl Classify for Error {
    fn class(&self) -> Class {
        Class::Signature
    }

    fn code(&self) -> &'static str {
        "signature.invalid"
    }
}

/// One proof's verification result (placeholder until the VC work lands).
pub struct ProofResult {
    /// The proof's verificationMethod.
    pub verification_method: String,
    /// Ok, or why the proof is invalid.
    pub outcome: Result<(), Error>,
}

/// Verifies every proof of an object (placeholder).
pub fn verify_proofs(_value: &crate::canon::Value) -> Vec<ProofResult> {
    Vec::new()
}
