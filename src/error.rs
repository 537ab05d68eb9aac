//! The library's aggregate error: any module's error, classified.
//!
//! Only callers above every module (the CLI, tests, embedders) use it; modules return their own
//! errors and import the ground types from [`crate::taxonomy`], so this file sits on top of the
//! module graph instead of closing a cycle through it.

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// The library's top-level error: any module error, classified.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Canon(#[from] crate::canon::Error),
    #[error(transparent)]
    Artifact(#[from] crate::artifact::Error),
    #[error(transparent)]
    Odb(#[from] crate::odb::Error),
    #[error(transparent)]
    Vc(#[from] crate::vc::Error),
    #[error(transparent)]
    Mmr(#[from] crate::mmr::Error),
    #[error(transparent)]
    Schema(#[from] crate::schema::Error),
    #[error(transparent)]
    Chain(#[from] crate::chain::Error),
    #[error(transparent)]
    Remote(#[from] crate::remote::Error),
    #[error(transparent)]
    Gc(#[from] crate::gc::Error),
    #[error(transparent)]
    Fsck(#[from] crate::fsck::Error),
    #[error(transparent)]
    Mount(#[from] crate::mount::Error),
    #[error(transparent)]
    Graph(#[from] crate::graph::Error),
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error(transparent)]
    Car(#[from] crate::car::Error),
    #[error(transparent)]
    Tlog(#[from] crate::tlog::Error),
    #[error(transparent)]
    Render(#[from] crate::render::Error),
    /// A verification that found several things, all of them (docs/verdicts.md).
    #[error(transparent)]
    Refused(#[from] crate::verdict::Refused),
    /// A command was called with arguments that cannot work.
    #[error("{0}")]
    Usage(String),
    /// An I/O failure outside any module (reading an input file, writing output).
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Canon(e) => e.class(),
            Error::Artifact(e) => e.class(),
            Error::Odb(e) => e.class(),
            Error::Vc(e) => e.class(),
            Error::Mmr(e) => e.class(),
            Error::Schema(e) => e.class(),
            Error::Chain(e) => e.class(),
            Error::Remote(e) => e.class(),
            Error::Gc(e) => e.class(),
            Error::Fsck(e) => e.class(),
            Error::Mount(e) => e.class(),
            Error::Graph(e) => e.class(),
            Error::Bundle(e) => e.class(),
            Error::Car(e) => e.class(),
            Error::Tlog(e) => e.class(),
            Error::Render(e) => e.class(),
            Error::Refused(e) => e.class(),
            Error::Usage(_) => Class::Usage,
            Error::Io { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Canon(e) => e.code(),
            Error::Artifact(e) => e.code(),
            Error::Odb(e) => e.code(),
            Error::Vc(e) => e.code(),
            Error::Mmr(e) => e.code(),
            Error::Schema(e) => e.code(),
            Error::Chain(e) => e.code(),
            Error::Remote(e) => e.code(),
            Error::Gc(e) => e.code(),
            Error::Fsck(e) => e.code(),
            Error::Mount(e) => e.code(),
            Error::Graph(e) => e.code(),
            Error::Bundle(e) => e.code(),
            Error::Car(e) => e.code(),
            Error::Tlog(e) => e.code(),
            Error::Render(e) => e.code(),
            Error::Refused(e) => e.code(),
            Error::Usage(_) => "usage.invalid",
            Error::Io { .. } => "io.file",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Canon(e) => e.detail(),
            Error::Artifact(e) => e.detail(),
            Error::Odb(e) => e.detail(),
            Error::Vc(e) => e.detail(),
            Error::Mmr(e) => e.detail(),
            Error::Schema(e) => e.detail(),
            Error::Chain(e) => e.detail(),
            Error::Remote(e) => e.detail(),
            Error::Gc(e) => e.detail(),
            Error::Fsck(e) => e.detail(),
            Error::Mount(e) => e.detail(),
            Error::Graph(e) => e.detail(),
            Error::Bundle(e) => e.detail(),
            Error::Car(e) => e.detail(),
            Error::Tlog(e) => e.detail(),
            Error::Render(e) => e.detail(),
            Error::Refused(e) => e.detail(),
            Error::Usage(_) => Detail::default(),
            Error::Io { path, .. } => Detail::path(path),
        }
    }

    fn findings(&self) -> Vec<crate::taxonomy::Finding> {
        match self {
            Error::Chain(e) => e.findings(),
            Error::Refused(e) => e.findings(),
            _ => Vec::new(),
        }
    }
}
