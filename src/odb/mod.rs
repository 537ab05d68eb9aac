//! The `.msez` repository.

use crate::error::{Class, Classify};

/// Repository failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("odb: {0}")]
    Invalid(String),
}

impl Classify for Error {
    fn class(&self) -> Class {
        Class::Io
    }

    fn code(&self) -> &'static str {
        "io.odb"
    }
}
