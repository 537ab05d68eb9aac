//! msez: a content-addressed store for signed, hash-chained records.
//!
//! The MSEZ artifact layer in Rust, byte-compatible with the MSEZ reference implementation.
//! Layers, bottom up (dependencies point down only; `scripts/arch-check.py` enforces it):
//!
//! - [`fs`]: the write protocol: atomic writes, directory syncs, no-replace renames.
//! - [`taxonomy`]: the error classes, exit codes, evidence and findings every module shares.
//! - [`canon`]: canonical JSON bytes and the digest rule of every artifact type (pure).
//! - [`mmr`]: the Merkle Mountain Range over receipt next_roots, RFC 6962 compatible (pure).
//! - [`vc`]: did:key, Ed25519 JWKs, `MsezEd25519Signature2025` proofs, trust anchors.
//! - [`artifact`]: ArtifactRef, embedded-ref discovery, store-root resolution.
//! - [`graph`]: closure walks over embedded refs and `artifact graph verify` reports.
//! - [`bundle`]: deterministic witness bundles, their hostile-input reader, attestations.
//! - [`odb`]: the `.msez` repository: objects, proofs, refs, reflog, locks, hooks, config.
//! - [`verdict`]: the one verdict model: findings, precedence, exit codes.
//! - [`chain`]: receipt chains, selection, checkpoints and inclusion proofs.
//! - [`car`]: CARv1 export and import of an artifact closure (IPFS, offline).
//! - [`audit`]: a witness bundle verified whole: its closure and every chain it carries.
//! - [`render`]: pictures of verified chains and closures as self-contained SVG.
//! - [`fsck`]: the whole-repository check.
//! - [`gc`]: two-phase garbage collection of a repository or a remote.
//! - [`remote`]: push, fetch, pull and clone over local, S3 and IPFS backends.
//! - [`tlog`]: C2SP transparency-log interop: checkpoint notes, static tiles, their client.
//! - [`http`]: the HTTP(S) client every HTTP user shares (timeouts, TLS trust roots).
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
