//! The operators' working trees: an asset module ([`asset`]) and a corridor module
//! ([`corridor`]), each describing its chains as an [`crate::chain::ops::Chain`]; checking a
//! chain out of `.msez` into a module ([`checkout`]); and the typed attachments that anchor one
//! chain in another ([`anchor`]).

pub mod anchor;
pub mod asset;
pub mod checkout;
pub mod corridor;

pub use asset::*;

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// Failures of a module working tree.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A module directory problem (asset.yaml, corridor.yaml, genesis).
    #[error("module {}: {why}", path.display())]
    Module { path: PathBuf, why: String },
    /// A checkout that would overwrite a module file holding something else.
    #[error("checkout: {}: {why}", path.display())]
    CheckoutConflict { path: PathBuf, why: String },
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Module { .. } => Class::Schema,
            Error::CheckoutConflict { .. } => Class::Conflict,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Module { .. } => "schema.module",
            Error::CheckoutConflict { .. } => "conflict.checkout",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Module { path, .. } | Error::CheckoutConflict { path, .. } => Detail::path(path),
        }
    }
}
