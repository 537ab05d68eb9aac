//! did:key, Ed25519 JWKs, `MsezEd25519Signature2025` proofs and trust anchors.
//!
//! How the parts fit:
//! - [`Did`] names an Ed25519 public key (`did:key:z…`) and resolves back to it; it is the only
//!   DID method msez can verify.
//! - [`KeyPair`] is a private key loaded from (or written to) an OKP JWK file; it signs.
//! - [`proof`] builds and checks proofs: the signed bytes are `canon::to_bytes(object − proof)`,
//!   the signature is raw Ed25519 over them, and verification is strict (`verify_strict`).
//!   [`verify_proofs`] reports each proof; [`all_valid`] and [`valid_signers`] are the two ways
//!   callers judge such a report; [`merge_proofs`] is the grow-only union used by co-signing.
//! - [`strict`] is `verify_strict`'s exact verdict through a per-key precomputed table, which
//!   [`proof`] uses for every signature; [`batch`] verifies many signatures at once, never
//!   accepting what `verify_strict` would reject.
//! - [`TrustAnchors`] says which DIDs may sign which attestation kinds.
//!
//! docs/credentials.md is the byte-level description a second implementation can follow.

pub mod batch;
mod did;
mod jwk;
pub mod proof;
pub mod strict;
mod trust;

use std::path::PathBuf;

pub use did::{Did, strip_fragment};
pub use jwk::{Jwk, KeyPair};
pub use proof::{
    Proof, ProofResult, add_proof, add_proof_at, all_valid, merge_proofs, require_all_valid,
    signing_input, valid_signers, verify_proofs,
};
pub use trust::{FileRef, TrustAnchor, TrustAnchors};

use crate::taxonomy::{Class, Classify, Detail};

/// Credential and key failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `proof.type` is not `MsezEd25519Signature2025`.
    #[error("Unsupported proof.type: {found}")]
    UnsupportedProofType {
        verification_method: String,
        found: String,
    },
    /// `verificationMethod` is missing, empty, or not a did:key.
    #[error("Only did:key verificationMethod is supported, got {found:?}")]
    NotDidKey { found: String },
    /// `created` is not `YYYY-MM-DDTHH:MM:SSZ`.
    #[error("proof.created must be YYYY-MM-DDTHH:MM:SSZ, got {found:?}")]
    BadCreated {
        verification_method: String,
        found: String,
    },
    /// `proofPurpose` is not `assertionMethod`.
    #[error("Unsupported proof.proofPurpose: {found}")]
    UnsupportedPurpose {
        verification_method: String,
        found: String,
    },
    /// `jws` is missing, empty, or not unpadded base64url.
    #[error("proof.jws must be non-empty base64url without padding, got {found:?}")]
    BadJws {
        verification_method: String,
        found: String,
    },
    /// The decoded signature is not 64 bytes.
    #[error("Ed25519 signature must be 64 bytes, got {len}")]
    BadLength {
        verification_method: String,
        len: usize,
    },
    /// A did:key that does not decode to an Ed25519 public key.
    #[error("cannot resolve {did:?}: {reason}")]
    BadDid { did: String, reason: &'static str },
    /// The signature does not verify (strict Ed25519) over the signing input.
    #[error("Ed25519 signature verification failed for {verification_method}")]
    Invalid { verification_method: String },
    /// A proof entry that is not a JSON object.
    #[error("proof #{index} is not a JSON object but {found}")]
    MalformedProof { index: usize, found: &'static str },
    /// The object carries no proof at all.
    #[error("no proofs present in {object}")]
    NoProofs { object: String },
    /// No valid signer is a trust anchor allowing the attestation.
    #[error("no valid signer of {object} is a trust anchor allowing {attestation:?} (signers: {})", signers.join(", "))]
    Untrusted {
        object: String,
        attestation: String,
        signers: Vec<String>,
    },
    /// The value to sign or verify is not a JSON object.
    #[error("{what} is not a JSON object but {found}")]
    NotAnObject { what: String, found: &'static str },
    /// A key file or key object that is not a usable Ed25519 OKP JWK.
    #[error("bad Ed25519 JWK {what}: {reason}")]
    BadKey { what: String, reason: String },
    /// A trust-anchors file that does not parse.
    #[error("bad trust anchors file {}: {reason}", path.display())]
    BadTrustAnchors { path: PathBuf, reason: String },
    /// A key file that already exists (key gen never overwrites).
    #[error("refusing to overwrite existing key file {}", path.display())]
    Exists { path: PathBuf },
    /// The system random number generator failed.
    #[error("reading the system random number generator: {0}")]
    Random(String),
    /// The signing input could not be built (a float, a lone surrogate, too deep).
    #[error("building the signing input")]
    Canon(#[source] crate::canon::Error),
    /// A document that does not match its schema.
    #[error(transparent)]
    Schema(#[from] crate::schema::Error),
    /// A file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::canon::Error> for Error {
    fn from(e: crate::canon::Error) -> Self {
        Error::Canon(e)
    }
}

impl Error {
    /// An I/O error while doing `what` to `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// The verificationMethod the error is about, when it is about one proof.
    pub fn verification_method(&self) -> Option<&str> {
        match self {
            Error::UnsupportedProofType {
                verification_method,
                ..
            }
            | Error::BadCreated {
                verification_method,
                ..
            }
            | Error::UnsupportedPurpose {
                verification_method,
                ..
            }
            | Error::BadJws {
                verification_method,
                ..
            }
            | Error::BadLength {
                verification_method,
                ..
            }
            | Error::Invalid {
                verification_method,
            } => Some(verification_method),
            Error::NotDidKey { found } => Some(found),
            Error::BadDid { did, .. } => Some(did),
            _ => None,
        }
    }
}

/// A JSON value's kind, for messages.
pub(crate) fn kind_of(value: &crate::canon::Value) -> &'static str {
    use crate::canon::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::UnsupportedProofType { .. }
            | Error::NotDidKey { .. }
            | Error::BadCreated { .. }
            | Error::UnsupportedPurpose { .. }
            | Error::BadJws { .. }
            | Error::BadLength { .. }
            | Error::BadDid { .. }
            | Error::Invalid { .. }
            | Error::MalformedProof { .. }
            | Error::NoProofs { .. }
            | Error::Untrusted { .. } => Class::Signature,
            Error::NotAnObject { .. } | Error::BadKey { .. } | Error::BadTrustAnchors { .. } => {
                Class::Schema
            }
            Error::Canon(e) => e.class(),
            Error::Schema(e) => e.class(),
            Error::Exists { .. } => Class::Conflict,
            Error::Random(_) | Error::Io { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::UnsupportedProofType { .. } => "signature.unsupported_proof_type",
            Error::NotDidKey { .. } => "signature.not_did_key",
            Error::BadCreated { .. } => "signature.bad_created",
            Error::UnsupportedPurpose { .. } => "signature.unsupported_purpose",
            Error::BadJws { .. } => "signature.bad_encoding",
            Error::BadLength { .. } => "signature.bad_length",
            Error::BadDid { .. } => "signature.bad_did",
            Error::Invalid { .. } => "signature.invalid",
            Error::MalformedProof { .. } => "signature.malformed_proof",
            Error::NoProofs { .. } => "signature.no_proofs",
            Error::Untrusted { .. } => "signature.untrusted",
            Error::NotAnObject { .. } => "schema.not_an_object",
            Error::BadKey { .. } => "schema.bad_key",
            Error::BadTrustAnchors { .. } => "schema.bad_trust_anchors",
            Error::Exists { .. } => "conflict.exists",
            Error::Random(_) => "io.random",
            Error::Canon(e) => e.code(),
            Error::Schema(e) => e.code(),
            Error::Io { .. } => "io.file",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::UnsupportedProofType {
                verification_method,
                found,
            } => Detail::object(verification_method).mismatch(proof::PROOF_TYPE, found),
            Error::NotDidKey { found } => {
                Detail::object("proof.verificationMethod").mismatch("did:key:z…", found)
            }
            Error::BadCreated {
                verification_method,
                found,
            } => Detail::object(verification_method).mismatch("YYYY-MM-DDTHH:MM:SSZ", found),
            Error::UnsupportedPurpose {
                verification_method,
                found,
            } => Detail::object(verification_method).mismatch(proof::PROOF_PURPOSE, found),
            Error::BadJws {
                verification_method,
                found,
            } => Detail::object(verification_method).mismatch("base64url without padding", found),
            Error::BadLength {
                verification_method,
                len,
            } => Detail::object(verification_method).mismatch("64 bytes", format!("{len} bytes")),
            Error::BadDid { did, reason } => {
                Detail::object(did).mismatch("did:key:z + base58btc(ED 01 || 32-byte key)", reason)
            }
            Error::Invalid {
                verification_method,
            } => Detail::object(verification_method),
            Error::MalformedProof { index, found } => {
                Detail::object(format!("proof #{index}")).mismatch("an object", found)
            }
            Error::NoProofs { object } => {
                Detail::object(object).mismatch("at least one proof", "none")
            }
            Error::Untrusted {
                object,
                attestation,
                signers,
            } => Detail::object(object).mismatch(
                format!("a trust anchor allowing {attestation}"),
                signers.join(", "),
            ),
            Error::NotAnObject { what, found } => Detail::object(what).mismatch("an object", found),
            Error::BadKey { what, .. } => Detail::object(what),
            Error::BadTrustAnchors { path, .. }
            | Error::Exists { path }
            | Error::Io { path, .. } => Detail::path(path),
            Error::Canon(e) => e.detail(),
            Error::Schema(e) => e.detail(),
            Error::Random(_) => Detail::default(),
        }
    }
}

/// Checks that `value` has the W3C VC 1.1 shape of schemas/vc.schema.json (no JSON-LD processing).
pub fn check_credential(value: &crate::canon::Value, what: &str) -> Result<(), Error> {
    Ok(crate::schema::validate("vc.schema.json", value, what)?)
}
