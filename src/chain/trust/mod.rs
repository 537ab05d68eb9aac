//! Who counts as a signer of a chain: the key lifecycle (rotations and revocations,
//! [`lifecycle`]), harbor jurisdiction and quorum ([`harbor`]) and the asset's Smart Asset
//! Registry VC that pins the harbor policy ([`registry`]). The trust anchors themselves are
//! parsed in [`crate::vc`]; this is what a chain's verification asks of them.

pub mod harbor;
pub mod lifecycle;
pub mod registry;
