//! The two hash functions of the tree (RFC 6962 §2.1) and hex parsing of node hashes.

use sha2::{Digest as _, Sha256};

use super::Error;
use crate::canon::Digest as Hash;

/// Prefix byte of a leaf hash (RFC 6962 domain separation).
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix byte of an interior node hash.
pub const NODE_PREFIX: u8 = 0x01;

/// The MSEZ leaf hash of a receipt next_root: `SHA256(0x00 || next_root)` over its 32 raw bytes.
pub fn leaf_hash(next_root: &Hash) -> Hash {
    rfc6962_leaf_hash(next_root.as_bytes())
}

/// The RFC 6962 leaf hash of arbitrary leaf data: `SHA256(0x00 || data)`.
pub fn rfc6962_leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    Hash(h.finalize().into())
}

/// An interior node: `SHA256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.as_bytes());
    h.update(right.as_bytes());
    Hash(h.finalize().into())
}

/// The RFC 6962 hash of the empty tree, `SHA256("")`; MSEZ itself never uses a size-0 tree.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([0u8; 0]).into())
}

/// Parses a node hash: exactly 64 hex characters; upper case is accepted because the reference
/// lowercases before decoding, whitespace is not.
pub fn parse_hash(s: &str, what: &str) -> Result<Hash, Error> {
    let bad = || Error::BadHash {
        what: what.to_string(),
        found: s.chars().take(80).collect(),
    };
    if s.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
    Ok(Hash(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_root_is_the_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn the_empty_leaf_matches_rfc6962() {
        assert_eq!(
            rfc6962_leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
    }

    #[test]
    fn upper_case_hex_is_accepted_and_whitespace_is_not() -> Result<(), Error> {
        let lower = "ab".repeat(32);
        assert_eq!(
            parse_hash(&lower.to_uppercase(), "x")?,
            parse_hash(&lower, "x")?
        );
        assert!(parse_hash(&format!(" {}", &lower[1..]), "x").is_err());
        assert!(parse_hash(&lower[..62], "x").is_err());
        assert!(parse_hash(&"zz".repeat(32), "x").is_err());
        Ok(())
    }
}
