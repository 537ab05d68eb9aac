//! The operators' working trees: an asset module ([`asset`]) and a corridor module
//! ([`corridor`]), each describing its chains as an [`crate::chain::ops::Chain`]; checking a
//! chain out of `.msez` into a module ([`checkout`]); and the typed attachments that anchor one
//! chain in another ([`anchor`]).

pub mod anchor;
pub mod asset;
pub mod checkout;
pub mod corridor;
pub mod corridor_object;

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
    /// A corridor module object (`refs/corridors/<id>/module`) whose inputs do not give its
    /// chain's genesis root, or do not match their digests: refused, nothing stored.
    #[error("corridor module {name}: {why}")]
    ModuleObject { name: String, why: String },
    /// A corridor chain whose repository holds no module object to check it out from.
    #[error(
        "refs/corridors/{corridor_id}/module: the repository holds no corridor module object (made before msez stored them): run `msez checkout {corridor_id}` or append once where the module folder is, then push"
    )]
    NoModuleObject { corridor_id: String },
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Module { .. } => Class::Schema,
            Error::CheckoutConflict { .. } => Class::Conflict,
            Error::ModuleObject { .. } => Class::Digest,
            Error::NoModuleObject { .. } => Class::Missing,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Module { .. } => "schema.module",
            Error::CheckoutConflict { .. } => "conflict.checkout",
            Error::ModuleObject { .. } => "digest.corridor_module",
            Error::NoModuleObject { .. } => "missing.corridor_module",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Module { path, .. } | Error::CheckoutConflict { path, .. } => Detail::path(path),
            Error::ModuleObject { name, .. } => Detail::object(name.clone()),
            Error::NoModuleObject { corridor_id } => {
                Detail::object(format!("refs/corridors/{corridor_id}/module"))
            }
        }
    }
}
