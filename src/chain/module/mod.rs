//! The operators' working trees: an asset module ([`asset`]) and a corridor module
//! ([`corridor`]), each describing its chains as an [`crate::chain::ops::Chain`]; checking a
//! chain out of `.msez` into a module ([`checkout`]); and the typed attachments that anchor one
//! chain in another ([`anchor`]).

pub mod anchor;
pub mod asset;
pub mod checkout;
pub mod corridor;

pub use asset::*;
