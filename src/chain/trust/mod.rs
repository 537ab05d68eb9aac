//! Who counts as a signer of a chain: the key lifecycle (rotations and revocations,
//! [`lifecycle`]), harbor jurisdiction and quorum ([`harbor`]) and the asset's Smart Asset
//! Registry VC that pins the harbor policy ([`registry`]). The trust anchors themselves are
//! parsed in [`crate::vc`]; this is what a chain's verification asks of them.

pub mod harbor;
pub mod lifecycle;
pub mod registry;

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// Failures of who counts as a signer: trust anchors, the key lifecycle, harbor quorums.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No valid signer is trusted for this attestation.
    #[error("no valid signer of {} is a trust anchor allowing {attestation}", path.display())]
    Untrusted {
        path: PathBuf,
        attestation: &'static str,
    },
    /// A signer the key lifecycle rules out at this position (revoked, not yet rotated in).
    #[error("{}: key {} does not count ({}): {}", .0.object, .0.key, .0.credential, .0.reason)]
    KeyLifecycle(Box<lifecycle::KeyFault>),
    /// A key credential the trust-anchors file references by digest is not in `.msez`.
    #[error("key credential {reference} is not in the repository")]
    KeyCredentialMissing { reference: String },
    /// A receipt still waiting for harbor signatures: verdict unknown until they arrive.
    #[error(
        "{}: unknown (pending quorum {required} of {listed}: missing {})",
        path.display(), missing.join(", ")
    )]
    PendingQuorum {
        path: PathBuf,
        required: usize,
        listed: usize,
        signed: Vec<String>,
        missing: Vec<String>,
    },
    /// A jurisdiction claim or harbor policy that is malformed or can never be met.
    #[error("harbor policy: {}: {why}", path.display())]
    HarborPolicy { path: PathBuf, why: String },
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            // A key whose place in the lifecycle cannot be established is unknown, not bad.
            Error::KeyLifecycle(f) if f.code.starts_with("missing.") => Class::Missing,
            Error::Untrusted { .. } | Error::KeyLifecycle(_) => Class::Signature,
            Error::KeyCredentialMissing { .. } | Error::PendingQuorum { .. } => Class::Missing,
            Error::HarborPolicy { .. } => Class::Schema,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Untrusted { .. } => "signature.untrusted",
            Error::KeyLifecycle(f) => f.code,
            Error::KeyCredentialMissing { .. } => "missing.key_credential",
            Error::PendingQuorum { .. } => "missing.pending_quorum",
            Error::HarborPolicy { .. } => "schema.harbor_policy",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Untrusted { path, attestation } => {
                Detail::path(path).mismatch(format!("a signer allowed {attestation}"), "none")
            }
            Error::KeyLifecycle(f) => Detail::object(format!("{}: {}", f.object, f.key))
                .mismatch("a key that counts at this chain position", &f.reason),
            Error::KeyCredentialMissing { reference } => Detail::object(reference),
            Error::PendingQuorum {
                path,
                required,
                listed,
                missing,
                ..
            } => Detail::path(path).mismatch(
                format!("{required} of {listed} harbor signatures"),
                format!("missing {}", missing.join(", ")),
            ),
            Error::HarborPolicy { path, .. } => Detail::path(path),
        }
    }
}
