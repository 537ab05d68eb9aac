//! Merkle Mountain Range over receipt next_roots (RFC 6962 compatible). Placeholder: filled in
//! by the MMR work.

use crate::error::{Class, Classify};

/// MMR failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Placeholder variant.
    #[error("mmr: {0}")]
    Invalid(String),
}

impl Classify for Error {
    fn class(&self) -> Class {
        Class::Digest
    }

    fn code(&self) -> &'static str {
        "digest.mmr"
    }
}
