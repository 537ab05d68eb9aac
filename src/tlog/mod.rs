//! Transparency-log interop (docs/tlog.md): every msez chain as a C2SP transparency log.
//!
//! - [`origin`]: the log origin of a chain, derived from its identity under a recorded prefix.
//! - [`note`]: c2sp.org/signed-note (Ed25519) and c2sp.org/tlog-checkpoint bodies.
//! - [`tiles`]: c2sp.org/tlog-tiles paths, hash tiles and entry bundles over a tree in memory.
//! - [`publish`]: writing a log's tiles and checkpoint to a directory or a remote, incrementally.
//! - [`client`]: reading a published log back and checking it, with the last checkpoint seen.
//! - [`policy`]: a chain's witness policy (k of n cosigners) and its check in verification.
//! - [`published`]: the logs published on a remote (`tlog/`), listed and checked.
//! - [`travel`]: checkpoint notes kept in the repository and moved by push and fetch.
//!
//! The MSEZ MMR root of a chain is the RFC 6962 tree hash over its next_roots, so the log's
//! entries are the 32-byte next_roots and its root is the checkpoint VC's `mmr.root`.

pub mod client;
pub mod note;
pub mod origin;
pub mod policy;
pub mod publish;
pub mod published;
pub mod tiles;
pub mod travel;
pub mod witness;

use std::path::PathBuf;

use crate::taxonomy::{Class, Classify, Detail};

/// Why a transparency-log operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A signed note or checkpoint body that does not parse.
    #[error("malformed {what}: {why}")]
    BadNote { what: String, why: String },
    /// A verifier key (`name+id+base64`) that does not parse.
    #[error("bad verifier key {given:?}: {why}")]
    BadVkey { given: String, why: String },
    /// A log origin prefix that cannot make an origin line.
    #[error("bad tlog origin prefix {prefix:?}: {why}")]
    BadOrigin { prefix: String, why: String },
    /// No signature on the note by any of the given verifier keys for its origin.
    #[error("checkpoint of {origin} carries no signature by a given verifier key for that origin")]
    Unsigned { origin: String },
    /// A signature line names a given key but does not verify.
    #[error("the note signature by {name} does not verify")]
    BadSignature { name: String },
    /// Hashes that should give a root give another one.
    #[error("{what}: root mismatch")]
    RootMismatch {
        what: String,
        expected: String,
        found: String,
    },
    /// A tile or entry bundle whose bytes do not fit the tree or its neighbours.
    #[error("{path}: {why}")]
    BadTile { path: String, why: String },
    /// A tile, entry bundle or checkpoint the log should have is not there.
    #[error("{path} is missing from {source_url}")]
    Missing { path: String, source_url: String },
    /// The MSEZ checkpoint VC and the note of one size disagree.
    #[error("{path}: the MSEZ checkpoint and the note disagree: {why}")]
    Disagree { path: PathBuf, why: String },
    /// Two signed checkpoints of one origin that no single append-only log can have produced.
    #[error(
        "split view of {}: a checkpoint seen earlier (size {}) is not a prefix of this one (size {}); evidence: {}",
        .0.origin, .0.seen_size, .0.size, .0.evidence.display()
    )]
    SplitView(Box<SplitView>),
    /// The destination already publishes a larger checkpoint of this log than the chain here.
    #[error(
        "{dest} already publishes size {dest_size} of {origin}; this chain has {size}: pull first"
    )]
    Behind {
        dest: String,
        origin: String,
        dest_size: u64,
        size: u64,
    },
    /// `--entry N` beyond the log.
    #[error("entry {index} is not in a log of size {size}")]
    NoSuchEntry { index: u64, size: u64 },
    /// An audit path could not be built or does not verify.
    #[error(transparent)]
    Mmr(#[from] crate::mmr::Error),
    /// A remote backend failed.
    #[error(transparent)]
    Remote(Box<crate::remote::Error>),
    /// A local file could not be read or written.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An HTTP(S) source failed.
    #[error("GET {url}: {reason}")]
    Http { url: String, reason: String },
}

/// The two sides of a split view.
#[derive(Debug)]
pub struct SplitView {
    /// The log origin.
    pub origin: String,
    /// The size of the checkpoint seen (or published) before.
    pub seen_size: u64,
    /// The size of the checkpoint shown now.
    pub size: u64,
    /// The root seen before at `seen_size`.
    pub seen_root: String,
    /// What the log shown now has at `seen_size`.
    pub root: String,
    /// Where the evidence is (a file, or the destination that holds the other history).
    pub evidence: PathBuf,
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

    pub(crate) fn bad_note(what: impl Into<String>, why: impl Into<String>) -> Self {
        Error::BadNote {
            what: what.into(),
            why: why.into(),
        }
    }
}

impl From<crate::remote::Error> for Error {
    fn from(e: crate::remote::Error) -> Self {
        Error::Remote(Box::new(e))
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::BadNote { .. } | Error::BadOrigin { .. } => Class::Schema,
            Error::BadVkey { .. } | Error::NoSuchEntry { .. } => Class::Usage,
            Error::Unsigned { .. } | Error::BadSignature { .. } => Class::Signature,
            Error::RootMismatch { .. } | Error::BadTile { .. } | Error::Disagree { .. } => {
                Class::Digest
            }
            Error::Missing { .. } => Class::Missing,
            Error::SplitView(_) => Class::Fork,
            Error::Behind { .. } => Class::Conflict,
            Error::Remote(e) => e.class(),
            Error::Mmr(e) => e.class(),
            Error::Io { .. } | Error::Http { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::BadNote { .. } => "schema.tlog_note",
            Error::BadOrigin { .. } => "schema.tlog_origin",
            Error::BadVkey { .. } => "usage.tlog_vkey",
            Error::NoSuchEntry { .. } => "usage.tlog_entry",
            Error::Unsigned { .. } => "signature.tlog_unsigned",
            Error::BadSignature { .. } => "signature.tlog_signature",
            Error::RootMismatch { .. } => "digest.tlog_root",
            Error::BadTile { .. } => "digest.tlog_tile",
            Error::Disagree { .. } => "digest.tlog_checkpoint_mismatch",
            Error::Missing { .. } => "missing.tlog_tile",
            Error::SplitView(_) => "fork.tlog_split_view",
            Error::Behind { .. } => "conflict.tlog_behind",
            Error::Remote(e) => e.code(),
            Error::Mmr(e) => e.code(),
            Error::Io { .. } => "io.tlog",
            Error::Http { .. } => "io.tlog_http",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::RootMismatch {
                what,
                expected,
                found,
            } => Detail::object(what.clone()).mismatch(expected, found),
            Error::SplitView(v) => Detail {
                object: Some(v.origin.clone()),
                path: Some(v.evidence.clone()),
                expected: Some(v.seen_root.clone()),
                found: Some(v.root.clone()),
            },
            Error::BadTile { path, .. } | Error::Missing { path, .. } => {
                Detail::object(path.clone())
            }
            Error::Disagree { path, .. } | Error::Io { path, .. } => Detail::path(path),
            Error::Remote(e) => e.detail(),
            Error::Mmr(e) => e.detail(),
            _ => Detail::default(),
        }
    }
}
