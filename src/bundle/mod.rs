//! Witness bundles (msez-wire-format.md §9): one zip that carries an artifact closure, its
//! root documents and a manifest (the graph-verify report of the bundle's own content).
//!
//! - [`write`] builds a bundle deterministically: same input, same bytes, on any machine.
//! - [`read`] opens a bundle as hostile input over any `Read + Seek` source and checks the zip
//!   structure (names, symlinks, duplicates, sizes, ratios, entry count) before anything is read.
//! - [`verify`] rechecks a bundle offline: every entry against the manifest, every artifact
//!   against its digest, and the manifest against a fresh graph walk of the content.
//! - [`manifest`] writes and parses manifest.json item by item (it grows with the closure).
//! - [`http`] reads a bundle over HTTP with range requests (central directory first).
//! - [`attest`] signs and checks `MSEZArtifactWitnessBundleCredential`s over the manifest
//!   digest, and evaluates the attestation profile (who may attest, quorum).

pub mod attest;
pub mod http;
pub mod manifest;
pub mod read;
pub mod verify;
pub mod write;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::taxonomy::{Class, Classify, Detail};

pub use read::{BundleReader, Entry, Limits};

/// `bundle.format` of msez witness bundles.
pub const FORMAT: &str = "msez-artifact-witness-bundle";
/// `bundle.format` version.
pub const VERSION: u64 = 1;
/// The manifest's entry name.
pub const MANIFEST: &str = "manifest.json";
/// The fixed README entry name.
pub const README: &str = "README.txt";
/// The fixed README text.
pub const README_TEXT: &str = "MSEZ artifact witness bundle\n\
\n\
manifest.json   MSEZArtifactGraphVerifyReport of this bundle's content (bundle.entries lists\n\
                the SHA-256 of every other entry)\n\
root/           the root documents the closure was computed from\n\
artifacts/      the closure, laid out as an MSEZ store root: artifacts/<type>/<digest>[.<ext>]\n\
\n\
Verify offline:  msez artifact graph verify --from-bundle THIS.zip\n\
Attestations:    msez artifact bundle verify THIS.zip --attestation VC.json [--profile P.yaml]\n";

/// One entry of `bundle.entries`: a file of the bundle and its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDigest {
    /// The entry name (relative, `/`-separated).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// SHA-256 of its bytes (64 lowercase hex).
    pub sha256: String,
}

/// `bundle` of a manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u64,
    /// Files included (every entry but the manifest).
    pub included_files: u64,
    /// Their total size.
    pub included_bytes: u64,
    /// Files left out (always empty: msez has no size cap that silently drops files).
    pub excluded: Vec<crate::canon::Value>,
    /// Whether the root scan was truncated at max_nodes.
    pub truncated: bool,
    /// Every entry but the manifest, sorted by name.
    pub entries: Vec<EntryDigest>,
}

/// Bundle failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The zip itself does not parse.
    #[error("bundle {what}: {reason}")]
    Zip { what: String, reason: String },
    /// An entry name that could escape the extraction directory or is not portable.
    #[error("unsafe entry name {name:?}: {why}")]
    UnsafePath { name: String, why: &'static str },
    /// A symlink entry.
    #[error("symlink entry {name:?} (bundles hold regular files only)")]
    Symlink { name: String },
    /// Two entries with one name.
    #[error("duplicate entry name {name:?}")]
    Duplicate { name: String },
    /// An entry, or the whole bundle, over a documented limit.
    #[error("{what} of {name:?} is {found}, over the limit {limit}")]
    Limit {
        name: String,
        what: &'static str,
        limit: u64,
        found: u64,
    },
    /// A required entry is absent.
    #[error("bundle has no {name}")]
    NoEntry { name: String },
    /// An entry whose bytes are not what the manifest lists, or an entry it does not list.
    #[error("entry {name} does not match the manifest: expected {expected}, found {found}")]
    Entry {
        name: String,
        expected: String,
        found: String,
    },
    /// The manifest says something the content does not.
    #[error("manifest.json lies about the content: {field} differs from a fresh walk")]
    Manifest {
        field: String,
        expected: String,
        found: String,
    },
    /// An attestation over another manifest.
    #[error("attestation {path} is over manifest {expected}, the bundle's is {found}")]
    AttestationDigest {
        path: String,
        expected: String,
        found: String,
    },
    /// An attestation that is not signed by its issuer.
    #[error("attestation {path}: {why}")]
    Attestation { path: String, why: String },
    /// The attestations do not meet the profile's quorum.
    #[error("attestation quorum not met: {why}")]
    Quorum { why: String, counted: Vec<String> },
    /// A profile that cannot be used.
    #[error("bad attestation profile {}: {reason}", path.display())]
    Profile { path: PathBuf, reason: String },
    /// The graph walk failed.
    #[error(transparent)]
    Graph(#[from] crate::graph::Error),
    /// A document does not match its schema.
    #[error(transparent)]
    Schema(#[from] crate::schema::Error),
    /// A credential or key problem.
    #[error(transparent)]
    Vc(#[from] crate::vc::Error),
    /// A canonicalization failure (floats, depth) in the manifest.
    #[error(transparent)]
    Canon(#[from] crate::canon::Error),
    /// A bundle URL that cannot be fetched: connection, TLS, HTTP status, no range support.
    #[error("fetching bundle {url}: {reason}")]
    Http { url: String, reason: String },
    /// Disk failures.
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
            Error::Zip { .. }
            | Error::UnsafePath { .. }
            | Error::Symlink { .. }
            | Error::Duplicate { .. }
            | Error::Limit { .. }
            | Error::Profile { .. } => Class::Schema,
            Error::NoEntry { .. } => Class::Missing,
            Error::Entry { .. } | Error::Manifest { .. } | Error::AttestationDigest { .. } => {
                Class::Digest
            }
            Error::Attestation { .. } | Error::Quorum { .. } => Class::Signature,
            Error::Graph(e) => e.class(),
            Error::Schema(e) => e.class(),
            Error::Vc(e) => e.class(),
            Error::Canon(e) => e.class(),
            Error::Http { .. } | Error::Io { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Zip { .. } => "schema.bundle_zip",
            Error::UnsafePath { .. } => "schema.bundle_path",
            Error::Symlink { .. } => "schema.bundle_symlink",
            Error::Duplicate { .. } => "schema.bundle_duplicate",
            Error::Limit { .. } => "schema.bundle_limit",
            Error::Profile { .. } => "schema.bundle_profile",
            Error::NoEntry { .. } => "missing.bundle_entry",
            Error::Entry { .. } => "digest.bundle_entry",
            Error::Manifest { .. } => "digest.bundle_manifest",
            Error::AttestationDigest { .. } => "digest.bundle_attestation",
            Error::Attestation { .. } => "signature.bundle_attestation",
            Error::Quorum { .. } => "signature.bundle_quorum",
            Error::Graph(e) => e.code(),
            Error::Schema(e) => e.code(),
            Error::Vc(e) => e.code(),
            Error::Canon(e) => e.code(),
            Error::Http { .. } => "io.bundle_http",
            Error::Io { .. } => "io.bundle",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::UnsafePath { name, .. }
            | Error::Symlink { name }
            | Error::Duplicate { name }
            | Error::NoEntry { name } => Detail::path(name),
            Error::Limit {
                name, limit, found, ..
            } => Detail::path(name).mismatch(format!("at most {limit}"), found),
            Error::Entry {
                name,
                expected,
                found,
            } => Detail::path(name).mismatch(expected, found),
            Error::Manifest {
                field,
                expected,
                found,
            } => Detail::object(format!("manifest.json#{field}")).mismatch(expected, found),
            Error::AttestationDigest {
                path,
                expected,
                found,
            } => Detail::path(path).mismatch(expected, found),
            Error::Attestation { path, .. } => Detail::path(path),
            Error::Profile { path, .. } | Error::Io { path, .. } => Detail::path(path),
            Error::Http { url, .. } => Detail::object(url.clone()),
            Error::Graph(e) => e.detail(),
            Error::Schema(e) => e.detail(),
            Error::Vc(e) => e.detail(),
            Error::Canon(e) => e.detail(),
            Error::Zip { .. } | Error::Quorum { .. } => Detail::default(),
        }
    }
}
