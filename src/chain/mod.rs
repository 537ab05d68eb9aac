//! Receipt chains: smart-asset and corridor receipts, chain selection, checkpoints and
//! inclusion proofs (msez-wire-format.md §4–§6, §8).
//!
//! How the parts fit. The core: [`genesis`] gives the root a chain starts from; [`envelope`]
//! and [`receipt`] build and read receipts; [`select`] picks the canonical chain out of a set of
//! receipts (forks need resolutions, [`fork`]); [`verify`] runs every check of the reference's
//! verifier over a module's receipts and yields a [`verify::ChainResult`] with the MMR;
//! [`checkpoint`] and [`inclusion`] build and check the signed summaries and O(log n) proofs;
//! [`store`] is the chain's state inside `.msez` (head, running MMR peaks, node files) so
//! appends, checkpoints and proofs never rescan the chain; [`ops`] appends to a chain,
//! verifies, checkpoints, proves, co-signs and resolves forks, and owns every rule of those
//! writes (callers build a request and render the result).
//!
//! Beside the core: [`trust`] decides who counts as a signer (key lifecycle, harbors, the
//! registry VC) and [`module`] holds the operators' working trees (asset and corridor modules,
//! checkout, anchoring attachments), each describing its chains as an [`ops::Chain`]. Each has
//! its own error ([`trust::Error`], [`module::Error`]), carried by [`Error`].

pub mod checkpoint;
pub mod envelope;
pub mod evidence;
pub mod fork;
pub mod genesis;
pub mod inclusion;
pub mod incoming;
pub mod module;
pub mod names;
pub mod ops;
pub mod receipt;
pub mod select;
pub mod store;
pub mod tracking;
pub mod transition_types;
pub mod trust;
pub mod verify;

pub use module::{anchor, checkout, corridor, corridor_object};
pub use trust::{harbor, lifecycle, registry};

use std::path::PathBuf;

use crate::canon::Digest;
use crate::taxonomy::{Class, Classify, Detail};

/// Which kind of chain: a smart asset's or a corridor's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `SmartAssetReceipt` chains, one per (asset_id, purpose).
    Asset,
    /// `MSEZCorridorStateReceipt` chains, one per corridor.
    Corridor,
}

impl Kind {
    /// The receipt `type` constant.
    pub fn receipt_type(self) -> &'static str {
        match self {
            Kind::Asset => "SmartAssetReceipt",
            Kind::Corridor => "MSEZCorridorStateReceipt",
        }
    }

    /// The field naming the chain's owner.
    pub fn owner_field(self) -> &'static str {
        match self {
            Kind::Asset => "asset_id",
            Kind::Corridor => "corridor_id",
        }
    }

    /// The artifact type receipts are stored under.
    pub fn receipt_artifact(self) -> &'static str {
        match self {
            Kind::Asset => "smart-asset-receipt",
            Kind::Corridor => "corridor-receipt",
        }
    }

    /// The artifact type checkpoints are stored under.
    pub fn checkpoint_artifact(self) -> &'static str {
        match self {
            Kind::Asset => "smart-asset-receipt-checkpoint",
            Kind::Corridor => "checkpoint",
        }
    }

    /// The embedded schema receipts are validated against.
    pub fn receipt_schema(self) -> &'static str {
        match self {
            Kind::Asset => "smart-asset.receipt.schema.json",
            Kind::Corridor => "corridor.receipt.schema.json",
        }
    }

    /// The trust-anchor attestation a receipt signer needs.
    pub fn receipt_attestation(self) -> &'static str {
        match self {
            Kind::Asset => "smart_asset_receipt",
            Kind::Corridor => "corridor_receipt",
        }
    }
}

/// Chain failures. Messages keep the reference's stems.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A receipt or checkpoint field is malformed.
    #[error("invalid {what} schema: {why}")]
    Schema { what: String, why: String },
    /// A file that is not JSON (or not canonical-able).
    #[error("{}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: crate::canon::Error,
    },
    /// The declared next_root is not the computed one.
    #[error("next_root mismatch: {}: declared {declared} computed {computed}", path.display())]
    NextRootMismatch {
        path: PathBuf,
        declared: String,
        computed: Digest,
    },
    /// A receipt of another asset (or corridor).
    #[error("receipt {field} mismatch: {}: expected {expected} found {found}", path.display())]
    OwnerMismatch {
        path: PathBuf,
        field: &'static str,
        expected: String,
        found: String,
    },
    /// A transition whose payload_sha256 does not match its payload.
    #[error("transition payload_sha256 mismatch: declared {declared} computed {computed}")]
    PayloadMismatch { declared: String, computed: String },
    /// A receipt without one valid proof.
    #[error("receipt signature verification failed (no valid proofs): {}", path.display())]
    NoValidProof { path: PathBuf, errors: Vec<String> },
    /// A digest set that differs from the corridor's.
    #[error("{field} mismatch: {}: expected {expected:?} found {found:?}", path.display())]
    DigestSetMismatch {
        path: PathBuf,
        field: &'static str,
        expected: Vec<String>,
        found: Vec<String>,
    },
    /// Two receipts extend one (sequence, prev_root) and no resolution chooses.
    #[error(
        "fork detected at sequence {sequence} prev_root={prev_root} (candidates={candidates}). Provide --fork-resolutions to select the canonical receipt."
    )]
    Fork {
        sequence: u64,
        prev_root: Digest,
        candidates: usize,
    },
    /// A resolution chose a next_root that is not among the candidates.
    #[error(
        "fork-resolution selects next_root={chosen} at sequence {sequence} prev_root={prev_root}, not found among candidates: {candidates:?}"
    )]
    ResolutionNotCandidate {
        sequence: u64,
        prev_root: Digest,
        chosen: Digest,
        candidates: Vec<String>,
    },
    /// Two counted resolutions choose different next_roots for one fork point.
    #[error(
        "conflicting fork resolutions at sequence {sequence} prev_root={prev_root}: {chosen:?} ({})",
        paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    ConflictingResolutions {
        sequence: u64,
        prev_root: Digest,
        chosen: Vec<String>,
        paths: Vec<PathBuf>,
    },
    /// Fork evidence that does not prove a fork.
    #[error("invalid fork evidence: {why}")]
    BadForkEvidence { why: String },
    /// A file among the fork resolutions that is not a fork resolution.
    #[error("not a fork resolution: {}: {why}", path.display())]
    BadResolution { path: PathBuf, why: String },
    /// A fetched receipt that does not link to its parent.
    #[error("receipt {object} does not link: {why}")]
    BadLink {
        object: String,
        why: String,
        expected: String,
        found: String,
    },
    /// No receipt at sequence 0.
    #[error("receipt set does not include an initial receipt (sequence=0)")]
    NoInitial,
    /// Receipts at sequence 0 exist but none links to the genesis root.
    #[error("no canonical chain starts at (sequence=0, prev_root=genesis_root={genesis_root})")]
    NoChainStart { genesis_root: Digest },
    /// Receipts beyond the head that do not link: a receipt in the middle is missing.
    #[error(
        "receipt chain broken after sequence {last}: {count} receipt(s) at higher sequences do not link (missing receipt at sequence {missing})"
    )]
    Gap {
        last: i64,
        missing: u64,
        count: usize,
    },
    /// The chain is empty (a checkpoint or proof needs at least one receipt).
    #[error("the chain {chain} has no receipts")]
    Empty { chain: String },
    /// A checkpoint that disagrees with the verified chain.
    #[error("checkpoint {field} mismatch")]
    CheckpointMismatch {
        field: &'static str,
        expected: String,
        found: String,
    },
    /// An inclusion proof that does not check out.
    #[error("invalid inclusion proof: {why}")]
    BadInclusion {
        why: String,
        expected: String,
        found: String,
    },
    /// The head moved while we appended (another writer): retry on the new head.
    #[error("chain {chain} moved: expected head {expected}, found {found}")]
    StaleHead {
        chain: String,
        expected: String,
        found: String,
    },
    /// No receipt with that sequence in the chain.
    #[error("no receipt at sequence {sequence} (chain has {size})")]
    NoSuchSequence { sequence: u64, size: u64 },
    /// A corridor receipt that does not commit to the asset checkpoint it is said to anchor.
    #[error("not anchored: {why}")]
    NotAnchored {
        why: String,
        expected: String,
        found: String,
    },
    /// A pinned artifact (registry VC, transition-types lock) that is not what the pin names.
    #[error("{what} pin mismatch: {}", path.display())]
    PinMismatch {
        what: &'static str,
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// A transition-type registry or lock that is malformed, or a kind it does not list.
    #[error("transition types: {why}")]
    TransitionTypes { why: String },
    /// An append with no signing key that did not ask for an unsigned receipt.
    #[error(
        "refusing to append an unsigned receipt to {chain}: give --key (msez verify rejects unsigned receipts), or --unsigned to write one as the reference does"
    )]
    Unsigned { chain: String },
    /// A corridor append with no signing key (corridor receipts are always signed).
    #[error("corridor receipts must be signed: give at least one --key")]
    UnsignedCorridor { chain: String },
    /// A digest prefix that names more than one thing.
    #[error("{prefix} is ambiguous; it could be: {}", candidates.join(", "))]
    AmbiguousPrefix {
        prefix: String,
        candidates: Vec<String>,
    },
    /// Typed where a digest goes, but neither 64 hex nor a prefix of at least 7.
    #[error("{typed:?} is neither a digest (64 hex) nor a prefix of one (at least 7 hex)")]
    BadPrefix { typed: String },
    /// A digest prefix that names nothing stored.
    #[error("no {what} begins with {prefix}")]
    NoMatch { prefix: String, what: String },
    /// A file operation failed.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Who counts as a signer (key lifecycle, harbors, trust anchors).
    #[error(transparent)]
    Trust(#[from] trust::Error),
    /// A module working tree (asset.yaml, corridor.yaml, checkout).
    #[error(transparent)]
    Module(#[from] module::Error),
    /// Canonical JSON failure.
    #[error(transparent)]
    Canon(#[from] crate::canon::Error),
    /// Schema validation failure.
    #[error(transparent)]
    SchemaDoc(#[from] crate::schema::Error),
    /// Signature failure.
    #[error(transparent)]
    Vc(#[from] crate::vc::Error),
    /// MMR failure.
    #[error(transparent)]
    Mmr(#[from] crate::mmr::Error),
    /// Repository failure.
    #[error(transparent)]
    Odb(#[from] crate::odb::Error),
    /// A malformed artifact type or object id.
    #[error(transparent)]
    Artifact(#[from] crate::artifact::Error),
    /// Several failures of one verification, all of them (docs/verdicts.md).
    #[error(transparent)]
    Refused(#[from] crate::verdict::Refused),
}

impl Error {
    pub(crate) fn schema(what: impl Into<String>, why: impl Into<String>) -> Error {
        Error::Schema {
            what: what.into(),
            why: why.into(),
        }
    }

    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
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
            Error::Schema { .. } | Error::BadResolution { .. } | Error::TransitionTypes { .. } => {
                Class::Schema
            }
            Error::Parse { source, .. } => source.class(),
            Error::NextRootMismatch { .. }
            | Error::OwnerMismatch { .. }
            | Error::PayloadMismatch { .. }
            | Error::DigestSetMismatch { .. }
            | Error::CheckpointMismatch { .. }
            | Error::BadInclusion { .. }
            | Error::BadForkEvidence { .. }
            | Error::NotAnchored { .. }
            | Error::PinMismatch { .. }
            | Error::BadLink { .. } => Class::Digest,
            Error::NoValidProof { .. } => Class::Signature,
            Error::Fork { .. }
            | Error::ResolutionNotCandidate { .. }
            | Error::ConflictingResolutions { .. } => Class::Fork,
            Error::NoInitial
            | Error::NoChainStart { .. }
            | Error::Gap { .. }
            | Error::Empty { .. }
            | Error::NoSuchSequence { .. } => Class::Missing,
            Error::StaleHead { .. } => Class::Conflict,
            Error::Unsigned { .. }
            | Error::UnsignedCorridor { .. }
            | Error::AmbiguousPrefix { .. }
            | Error::BadPrefix { .. } => Class::Usage,
            Error::NoMatch { .. } => Class::Missing,
            Error::Io { .. } => Class::Io,
            Error::Trust(e) => e.class(),
            Error::Module(e) => e.class(),
            Error::Canon(e) => e.class(),
            Error::SchemaDoc(e) => e.class(),
            Error::Vc(e) => e.class(),
            Error::Mmr(e) => e.class(),
            Error::Odb(e) => e.class(),
            Error::Artifact(e) => e.class(),
            Error::Refused(e) => e.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Schema { .. } => "schema.receipt",
            Error::Parse { source, .. } => source.code(),
            Error::NextRootMismatch { .. } => "digest.next_root_mismatch",
            Error::OwnerMismatch { .. } => "digest.owner_mismatch",
            Error::PayloadMismatch { .. } => "digest.payload_mismatch",
            Error::DigestSetMismatch { .. } => "digest.digest_set_mismatch",
            Error::CheckpointMismatch { .. } => "digest.checkpoint_mismatch",
            Error::BadInclusion { .. } => "digest.inclusion_proof",
            Error::NoValidProof { .. } => "signature.no_valid_proofs",
            Error::BadLink { .. } => "digest.receipt_link",
            Error::Fork { .. } => "fork.detected",
            Error::ResolutionNotCandidate { .. } => "fork.resolution_not_candidate",
            Error::ConflictingResolutions { .. } => "fork.conflicting_resolutions",
            Error::BadResolution { .. } => "schema.fork_resolution",
            Error::BadForkEvidence { .. } => "digest.fork_evidence",
            Error::NoInitial => "missing.initial_receipt",
            Error::NoChainStart { .. } => "missing.chain_start",
            Error::Gap { .. } => "missing.receipt",
            Error::Empty { .. } => "missing.empty_chain",
            Error::NoSuchSequence { .. } => "missing.sequence",
            Error::StaleHead { .. } => "conflict.stale_head",
            Error::Unsigned { .. } => "usage.unsigned_append",
            // The CLI's check before this was in the library said `usage.invalid`: kept.
            Error::UnsignedCorridor { .. } => "usage.invalid",
            Error::AmbiguousPrefix { .. } => "usage.ambiguous_prefix",
            Error::BadPrefix { .. } => "usage.bad_digest_prefix",
            Error::NoMatch { .. } => "missing.prefix",
            Error::NotAnchored { .. } => "digest.not_anchored",
            Error::PinMismatch { .. } => "digest.pin_mismatch",
            Error::TransitionTypes { .. } => "schema.transition_types",
            Error::Io { .. } => "io.file",
            Error::Trust(e) => e.code(),
            Error::Module(e) => e.code(),
            Error::Canon(e) => e.code(),
            Error::SchemaDoc(e) => e.code(),
            Error::Vc(e) => e.code(),
            Error::Mmr(e) => e.code(),
            Error::Odb(e) => e.code(),
            Error::Artifact(e) => e.code(),
            Error::Refused(e) => e.code(),
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Parse { path, source } => Detail {
                path: Some(path.clone()),
                ..source.detail()
            },
            Error::NextRootMismatch {
                path,
                declared,
                computed,
            } => Detail::path(path).mismatch(computed, declared),
            Error::OwnerMismatch {
                path,
                expected,
                found,
                ..
            } => Detail::path(path).mismatch(expected, found),
            Error::PayloadMismatch { declared, computed } => {
                Detail::default().mismatch(computed, declared)
            }
            Error::NoValidProof { path, errors } => {
                Detail::path(path).mismatch("at least one valid proof", errors.join("; "))
            }
            Error::DigestSetMismatch {
                path,
                expected,
                found,
                ..
            } => Detail::path(path).mismatch(expected.join(","), found.join(",")),
            Error::Fork {
                sequence,
                prev_root,
                candidates,
            } => Detail::object(format!("sequence {sequence} prev_root {prev_root}")).mismatch(
                "one candidate or a resolution",
                format!("{candidates} candidates"),
            ),
            Error::ResolutionNotCandidate {
                chosen, candidates, ..
            } => Detail::default().mismatch(candidates.join(","), chosen),
            Error::ConflictingResolutions {
                sequence,
                prev_root,
                chosen,
                ..
            } => Detail::object(format!("sequence {sequence} prev_root {prev_root}"))
                .mismatch("one chosen next_root", chosen.join(",")),
            Error::BadResolution { path, .. } => Detail::path(path),
            Error::BadLink {
                object,
                expected,
                found,
                ..
            } => Detail::object(object.clone()).mismatch(expected, found),
            Error::NoChainStart { genesis_root } => {
                Detail::default().mismatch(format!("prev_root {genesis_root}"), "none")
            }
            Error::Gap { missing, .. } => Detail::object(format!("receipt at sequence {missing}")),
            Error::CheckpointMismatch {
                expected, found, ..
            }
            | Error::BadInclusion {
                expected, found, ..
            } => Detail::default().mismatch(expected, found),
            Error::StaleHead {
                chain,
                expected,
                found,
            } => Detail::object(chain.clone()).mismatch(expected, found),
            Error::Io { path, .. } => Detail::path(path),
            Error::NotAnchored {
                expected, found, ..
            } => Detail::default().mismatch(expected, found),
            Error::PinMismatch {
                path,
                expected,
                found,
                ..
            } => Detail::path(path).mismatch(expected, found),
            Error::Trust(e) => e.detail(),
            Error::Module(e) => e.detail(),
            Error::Canon(e) => e.detail(),
            Error::SchemaDoc(e) => e.detail(),
            Error::Vc(e) => e.detail(),
            Error::Mmr(e) => e.detail(),
            Error::Odb(e) => e.detail(),
            Error::Artifact(e) => e.detail(),
            Error::Refused(e) => e.detail(),
            _ => Detail::default(),
        }
    }

    fn findings(&self) -> Vec<crate::taxonomy::Finding> {
        match self {
            Error::Refused(e) => e.findings(),
            _ => Vec::new(),
        }
    }
}
