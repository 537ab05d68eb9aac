//! msez: a content-addressed store for signed, hash-chained records.
//!
//! The MSEZ artifact layer in Rust, byte-compatible with the MSEZ reference implementation.
//! Layers, bottom up (dependencies point down only; `scripts/arch-check.py` enforces it):
//!
//! - [`fs`]: the write protocol: atomic writes, directory syncs, no-replace renames.
//! - [`taxonomy`]: the error classes, exit codes, evidence and findings every module shares.
//! - [`http`], [`progress`], [`render`]: the HTTP client; progress callbacks; SVG pictures.
//! - [`canon`]: canonical JSON bytes and the digest rule of every artifact type (pure).
//! - [`verdict`]: the one verdict model: findings, precedence, exit codes.
//! - [`artifact`], [`mmr`], [`schema`]: ArtifactRef; the Merkle Mountain Range (pure); schemas.
//! - [`vc`]: did:key, Ed25519 JWKs, `MsezEd25519Signature2025` proofs, trust anchors.
//! - [`odb`]: the `.msez` repository: objects, proofs, refs, reflog, locks, hooks, transactions.
//! - [`reach`]: reachability, once: edges, roots, one walker over a source.
//! - [`graph`]: closure verification reports (`artifact graph verify`).
//! - [`chain`]: receipt chains: core, `ops` (every write's rules), `trust`, `module`.
//! - [`car`]: CARv1 export and import of an artifact closure (IPFS, offline).
//! - [`fsck`]: the whole-repository check.
//! - [`gc`]: two-phase garbage collection over a store.
//! - [`remote`]: backends, push, fetch, pull and clone, and the remote forms of fsck and gc.
//! - [`tlog`]: C2SP transparency-log interop: checkpoint notes, static tiles, their client.
//! - [`bundle`]: deterministic witness bundles, their hostile-input reader, attestations.
//! - [`audit`]: a witness bundle (or module, repository, remote) verified whole.
//! - [`mount`]: the read-only FUSE filesystem.
//! - [`error`]: the aggregate of every module's error, for the CLI and embedders.
//!
//! docs/architecture.md draws the layers and the data paths.
//!
//! The library never prints; `src/cli` is the only place that renders results.

// Unit tests forge and damage fixture files with plain std::fs on purpose; the one write
// protocol (`fs`, clippy.toml) binds the library's own code, checked in the non-test build.
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod artifact;
pub mod audit;
pub mod bundle;
pub mod canon;
pub mod car;
pub mod chain;
pub mod error;
pub mod fs;
pub mod fsck;
pub mod gc;
pub mod graph;
pub mod http;
pub mod mmr;
pub mod mount;
pub mod odb;
pub mod progress;
pub mod reach;
pub mod remote;
pub mod render;
pub mod schema;
pub mod taxonomy;
pub mod tlog;
pub mod vc;
pub mod verdict;

pub use error::Error;
pub use taxonomy::{Class, Classify, Detail, Finding};
