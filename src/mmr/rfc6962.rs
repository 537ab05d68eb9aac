//! RFC 6962 / RFC 9162 audit paths and consistency proofs: which spans to read, how to combine
//! them, and whether the result matches, as separate functions.

use super::hash::node_hash;
use super::store::span_hashes;
use super::{Error, Hash, NodeReader, Span};

/// The largest power of two strictly below `n` (`n >= 2`): RFC 6962's split point `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The spans whose hashes form the audit path of leaf `index` in a tree of `size`, leaf first.
///
/// Requires `index < size`. The path is `PATH(m, D[n])` of RFC 6962 §2.1.1: every entry is a
/// complete subtree except possibly one, the bag of the peaks right of the leaf's peak.
pub fn inclusion_indexes(index: u64, size: u64) -> Result<Vec<Span>, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (mut lo, mut hi) = (0, size);
    let mut spans = Vec::new();
    while hi - lo > 1 {
        let k = lo + split(hi - lo);
        if index < k {
            spans.push(Span::new(k, hi));
            hi = k;
        } else {
            spans.push(Span::new(lo, k));
            lo = k;
        }
    }
    spans.reverse();
    Ok(spans)
}

/// The audit path of leaf `index` in the first `size` leaves of the store.
pub fn inclusion_proof<R: NodeReader + ?Sized>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, Error> {
    span_hashes(reader, &inclusion_indexes(index, size)?)
}

/// The root implied by a leaf hash and its audit path (RFC 9162 §2.1.3.2, steps 1–5).
///
/// Requires `index < size` and a path of exactly the length the tree shape gives.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
) -> Result<Hash, Error> {
    let expected = inclusion_indexes(index, size)?.len();
    if path.len() != expected {
        return Err(Error::ProofLength {
            kind: "inclusion",
            expected,
            found: path.len(),
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            // Skip the levels where this subtree is a lone right-edge peak.
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    Ok(r)
}

/// Verifies an RFC 6962 audit path against a trusted root.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    let found = root_from_inclusion(index, size, leaf, path)?;
    if found == *root {
        Ok(())
    } else {
        Err(Error::RootMismatch {
            size,
            expected: *root,
            found,
        })
    }
}

/// The spans whose hashes form the RFC 9162 consistency proof from `old` to `new` leaves.
///
/// Requires `0 < old <= new`; equal sizes give an empty proof. This is `SUBPROOF(m, D[n], true)`
/// of RFC 9162 §2.1.4.1, unrolled top-down and then reversed to its bottom-up order.
pub fn consistency_indexes(old: u64, new: u64) -> Result<Vec<Span>, Error> {
    if old > new {
        return Err(Error::SizeOrder { old, new });
    }
    if old == 0 {
        return Err(Error::ConsistencyFromEmpty { new });
    }
    let (mut lo, mut hi, mut m) = (0, new, old);
    let mut complete = true;
    let mut spans = Vec::new();
    loop {
        if m == hi - lo {
            // The old tree is this whole subtree; the verifier knows its hash unless it is
            // only part of the old tree (then the subtree hash must be sent).
            if !complete {
                spans.push(Span::new(lo, hi));
            }
            break;
        }
        let k = split(hi - lo);
        if m <= k {
            spans.push(Span::new(lo + k, hi));
            hi = lo + k;
        } else {
            spans.push(Span::new(lo, lo + k));
            lo += k;
            m -= k;
            complete = false;
        }
    }
    spans.reverse();
    Ok(spans)
}

/// The consistency proof from the first `old` to the first `new` leaves of the store.
pub fn consistency_proof<R: NodeReader + ?Sized>(
    reader: &R,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, Error> {
    span_hashes(reader, &consistency_indexes(old, new)?)
}

/// The old and new roots implied by a consistency proof and the old root (RFC 9162 §2.1.4.2).
///
/// The old root is an input because, when `old` is a power of two, the proof omits it.
pub fn roots_from_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Result<(Hash, Hash), Error> {
    let expected = consistency_indexes(old, new)?.len();
    if proof.len() != expected {
        return Err(Error::ProofLength {
            kind: "consistency",
            expected,
            found: proof.len(),
        });
    }
    if old == new {
        return Ok((*old_root, *old_root));
    }
    let mut path = proof.iter();
    let first = if old.is_power_of_two() {
        *old_root
    } else {
        // Non-empty: the length check above guarantees it.
        *path.next().ok_or(Error::ProofLength {
            kind: "consistency",
            expected,
            found: 0,
        })?
    };
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in path {
        if sn == 0 {
            return Err(Error::ProofLength {
                kind: "consistency",
                expected,
                found: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    Ok((fr, sr))
}

/// Verifies that the tree with `new_root` extends the tree with `old_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), Error> {
    let (fr, sr) = roots_from_consistency(old, new, old_root, proof)?;
    if fr != *old_root {
        return Err(Error::RootMismatch {
            size: old,
            expected: *old_root,
            found: fr,
        });
    }
    if sr != *new_root {
        return Err(Error::RootMismatch {
            size: new,
            expected: *new_root,
            found: sr,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmr::hash::rfc6962_leaf_hash;
    use crate::mmr::store::{MemStore, root};

    fn store(n: u8) -> MemStore {
        let leaves: Vec<Hash> = (0..n).map(|i| rfc6962_leaf_hash(&[i])).collect();
        MemStore::from_leaf_hashes(&leaves)
    }

    #[test]
    fn the_path_of_leaf_five_in_eight_is_three_complete_subtrees() -> Result<(), Error> {
        let spans = inclusion_indexes(5, 8)?;
        assert_eq!(
            spans,
            vec![Span::new(4, 5), Span::new(6, 8), Span::new(0, 4)]
        );
        Ok(())
    }

    #[test]
    fn the_path_of_an_early_leaf_bags_the_right_peaks() -> Result<(), Error> {
        assert_eq!(inclusion_indexes(0, 7)?.last(), Some(&Span::new(4, 7)));
        Ok(())
    }

    #[test]
    fn an_index_at_size_is_a_usage_error() {
        assert!(matches!(
            inclusion_indexes(3, 3),
            Err(Error::IndexOutOfRange { index: 3, size: 3 })
        ));
    }

    #[test]
    fn every_leaf_of_a_small_tree_proves_against_its_root() -> Result<(), Error> {
        let s = store(13);
        for size in 1..=13 {
            let r = root(&s, size)?;
            for index in 0..size {
                let path = inclusion_proof(&s, index, size)?;
                verify_inclusion(
                    index,
                    size,
                    &s.node(crate::mmr::NodeId::leaf(index))?,
                    &path,
                    &r,
                )?;
            }
        }
        Ok(())
    }

    #[test]
    fn every_pair_of_small_sizes_is_consistent() -> Result<(), Error> {
        let s = store(13);
        for new in 1..=13 {
            for old in 1..=new {
                let proof = consistency_proof(&s, old, new)?;
                verify_consistency(old, new, &root(&s, old)?, &root(&s, new)?, &proof)?;
            }
        }
        Ok(())
    }

    #[test]
    fn a_proof_from_the_empty_tree_is_refused() {
        assert!(matches!(
            consistency_indexes(0, 4),
            Err(Error::ConsistencyFromEmpty { new: 4 })
        ));
    }

    #[test]
    fn a_truncated_path_is_a_length_error() -> Result<(), Error> {
        let s = store(8);
        let mut path = inclusion_proof(&s, 5, 8)?;
        path.pop();
        let leaf = s.node(crate::mmr::NodeId::leaf(5))?;
        assert!(matches!(
            root_from_inclusion(5, 8, &leaf, &path),
            Err(Error::ProofLength {
                expected: 3,
                found: 2,
                ..
            })
        ));
        Ok(())
    }
}
