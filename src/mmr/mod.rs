//! The Merkle Mountain Range over receipt next_roots, and the RFC 6962 / RFC 9162 tree it is.
//!
//! Brief overview (the exact bytes are in docs/mmr.md):
//!
//! - [`hash`]: `leaf_hash(next_root) = SHA256(0x00 || next_root)`, `node_hash = SHA256(0x01 || l || r)`.
//! - [`NodeId`] names a complete subtree; a [`NodeReader`] returns its hash. That is the only
//!   contact with storage: [`MemStore`] keeps every node in memory, an on-disk store can persist
//!   the nodes [`AppendState::append`] reports, append-only.
//! - [`peaks`]: the peak plan of a size and bagging right to left. The bagged MSEZ root over
//!   next_roots *is* the RFC 6962 Merkle tree hash with each next_root's 32 bytes as leaf data,
//!   so one core serves both.
//! - [`rfc6962`]: audit paths and consistency proofs. Each is three functions: `*_indexes`
//!   (which [`Span`]s to read), `root(s)_from_*` (combine) and `verify_*` (compare).
//! - [`proof`]: the MSEZ inclusion-proof object: built with [`prove`], checked with
//!   [`InclusionProof::verify`].
//!
//! Root, inclusion proof and consistency proof of a tree of size n read O(log n) nodes.
//! Pure code: no files, no clock.

pub mod hash;
mod node;
pub mod peaks;
pub mod proof;
pub mod rfc6962;
mod store;

use crate::taxonomy::{Class, Classify, Detail};

pub use hash::{empty_root, leaf_hash, node_hash, parse_hash, rfc6962_leaf_hash};
pub use node::{NodeId, Span};
pub use peaks::{AppendState, Peak, append_peaks, bag, peak_of_leaf, peak_plan};
pub use proof::{
    InclusionProof, MmrRoot, PathStep, Side, build_inclusion_proof, mmr_root_from_next_roots,
    prove, verify_inclusion_proof,
};
pub use rfc6962::{
    consistency_indexes, consistency_proof, inclusion_indexes, inclusion_proof,
    root_from_inclusion, roots_from_consistency, verify_consistency, verify_inclusion,
};
pub use store::{MemStore, root, span_hash, span_hashes};

/// A node hash: 32 bytes, shown as 64 lowercase hex.
pub type Hash = crate::canon::Digest;

/// Where node hashes come from: a store of every complete subtree of the tree.
pub trait NodeReader {
    /// The hash of complete subtree `id`; [`Error::MissingNode`] if the store does not have it.
    fn node(&self, id: NodeId) -> Result<Hash, Error>;
}

impl<R: NodeReader + ?Sized> NodeReader for &R {
    fn node(&self, id: NodeId) -> Result<Hash, Error> {
        (**self).node(id)
    }
}

/// MMR failures: bad arguments, malformed proofs, and hashes that do not match.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A leaf index outside the tree.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof asked for from a larger to a smaller tree.
    #[error("old size {old} is larger than new size {new}")]
    SizeOrder { old: u64, new: u64 },
    /// RFC 9162 defines no consistency proof from the empty tree.
    #[error("no consistency proof from the empty tree to size {new}: old size must be at least 1")]
    ConsistencyFromEmpty { new: u64 },
    /// An MSEZ MMR needs at least one leaf.
    #[error("an MSEZ MMR needs at least one leaf")]
    EmptyTree,
    /// A hash that is not 64 hex characters.
    #[error("reading {what}: not a 64-hex hash: {found:?}")]
    BadHash { what: String, found: String },
    /// A proof (object or hash list) with a missing, mistyped or inconsistent field.
    #[error("malformed proof: `{field}` {reason}")]
    MalformedProof { field: String, reason: String },
    /// A proof with the wrong number of hashes for its tree shape.
    #[error("{kind} proof has {found} hashes, the tree shape needs {expected}")]
    ProofLength {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    /// Peak heights that are not the binary decomposition of the size.
    #[error("peak heights {found:?} are not the plan {expected:?} of size {size}")]
    PeakPlan {
        size: u64,
        expected: Vec<u32>,
        found: Vec<u32>,
    },
    /// A leaf hash that does not commit to its next_root.
    #[error("leaf hash mismatch at leaf {index}")]
    LeafMismatch {
        index: u64,
        expected: Hash,
        found: Hash,
    },
    /// A recomputed root that differs from the claimed one.
    #[error("mmr root mismatch for size {size}")]
    RootMismatch {
        size: u64,
        expected: Hash,
        found: Hash,
    },
    /// A proof whose own copy of the leaf's peak differs from the recomputed peak.
    #[error("peak {peak_index} mismatch: the proof's copy differs from the recomputed peak")]
    PeakMismatch {
        peak_index: u64,
        expected: Hash,
        found: Hash,
    },
    /// The store does not hold a node it should.
    #[error("mmr node {node} is not in the store")]
    MissingNode { node: NodeId },
    /// The store could not be read.
    #[error("reading mmr node {node}")]
    Store {
        node: NodeId,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::IndexOutOfRange { .. }
            | Error::SizeOrder { .. }
            | Error::ConsistencyFromEmpty { .. }
            | Error::EmptyTree => Class::Usage,
            Error::BadHash { .. }
            | Error::MalformedProof { .. }
            | Error::ProofLength { .. }
            | Error::PeakPlan { .. } => Class::Schema,
            Error::LeafMismatch { .. }
            | Error::RootMismatch { .. }
            | Error::PeakMismatch { .. } => Class::Digest,
            Error::MissingNode { .. } => Class::Missing,
            Error::Store { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::IndexOutOfRange { .. } => "usage.mmr_index",
            Error::SizeOrder { .. } => "usage.mmr_size_order",
            Error::ConsistencyFromEmpty { .. } => "usage.mmr_empty_consistency",
            Error::EmptyTree => "usage.mmr_empty",
            Error::BadHash { .. } => "schema.mmr_hash",
            Error::MalformedProof { .. } => "schema.mmr_proof",
            Error::ProofLength { .. } => "schema.mmr_proof_length",
            Error::PeakPlan { .. } => "schema.mmr_peak_plan",
            Error::LeafMismatch { .. } => "digest.mmr_leaf_mismatch",
            Error::RootMismatch { .. } => "digest.mmr_root_mismatch",
            Error::PeakMismatch { .. } => "digest.mmr_peak_mismatch",
            Error::MissingNode { .. } => "missing.mmr_node",
            Error::Store { .. } => "io.mmr_store",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::IndexOutOfRange { index, size } => {
                Detail::default().mismatch(format!("index < {size}"), index)
            }
            Error::SizeOrder { old, new } => {
                Detail::default().mismatch(format!("old <= {new}"), old)
            }
            Error::ConsistencyFromEmpty { .. } => Detail::default().mismatch("old >= 1", 0),
            Error::EmptyTree => Detail::default(),
            Error::BadHash { what, found } => {
                Detail::object(what.clone()).mismatch("64 hex characters", found)
            }
            Error::MalformedProof { field, .. } => Detail::object(field.clone()),
            Error::ProofLength {
                kind,
                expected,
                found,
            } => Detail::object(*kind).mismatch(expected, found),
            Error::PeakPlan {
                size,
                expected,
                found,
            } => Detail::object(format!("peaks of size {size}"))
                .mismatch(format!("{expected:?}"), format!("{found:?}")),
            Error::LeafMismatch {
                index,
                expected,
                found,
            } => Detail::object(format!("leaf {index}")).mismatch(expected, found),
            Error::RootMismatch {
                size,
                expected,
                found,
            } => Detail::object(format!("root of size {size}")).mismatch(expected, found),
            Error::PeakMismatch {
                peak_index,
                expected,
                found,
            } => Detail::object(format!("peak {peak_index}")).mismatch(expected, found),
            Error::MissingNode { node } | Error::Store { node, .. } => {
                Detail::object(format!("mmr node {node}"))
            }
        }
    }
}
