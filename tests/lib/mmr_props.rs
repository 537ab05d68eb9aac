//! Property tests: the store-backed MMR against a naive recursive RFC 6962 tree (the oracle).

use msez::mmr::{self, AppendState, Hash, MemStore};
use proptest::prelude::*;

/// RFC 6962 §2.1, written as the RFC reads; used only as an oracle.
mod naive {
    use msez::mmr::{Hash, empty_root, node_hash, rfc6962_leaf_hash};

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// `MTH(D[n])`.
    pub fn mth(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => rfc6962_leaf_hash(&leaves[0]),
            n => {
                let k = split(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// `PATH(m, D[n])`.
    pub fn path(m: usize, leaves: &[Vec<u8>]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    /// `SUBPROOF(m, D[n], b)` of RFC 9162.
    pub fn subproof(m: usize, leaves: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &leaves[..k], b);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }
}

fn store_of(leaves: &[Vec<u8>]) -> MemStore {
    let hashes: Vec<Hash> = leaves.iter().map(|d| mmr::rfc6962_leaf_hash(d)).collect();
    MemStore::from_leaf_hashes(&hashes)
}

fn flip(h: &mut Hash, bit: usize) {
    h.0[(bit / 8) % 32] ^= 1 << (bit % 8);
}

fn leaves_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 1..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn the_root_matches_the_recursive_tree_at_every_prefix(leaves in leaves_strategy()) {
        let store = store_of(&leaves);
        let mut state = AppendState::new();
        for (n, data) in leaves.iter().enumerate() {
            state.append(mmr::rfc6962_leaf_hash(data));
            let want = naive::mth(&leaves[..=n]);
            prop_assert_eq!(state.root(), Some(want));
            prop_assert_eq!(mmr::root(&store, n as u64 + 1).ok(), Some(want));
        }
        prop_assert_eq!(mmr::root(&store, 0).ok(), Some(mmr::empty_root()));
    }

    #[test]
    fn every_inclusion_proof_is_the_rfc_path_and_a_flipped_bit_fails(
        leaves in leaves_strategy(), bit in 0usize..256, pick in any::<prop::sample::Index>()
    ) {
        let store = store_of(&leaves);
        let size = leaves.len() as u64;
        let root = naive::mth(&leaves);
        for (m, data) in leaves.iter().enumerate() {
            let leaf = mmr::rfc6962_leaf_hash(data);
            let path = mmr::inclusion_proof(&store, m as u64, size).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&path, &naive::path(m, &leaves));
            prop_assert!(mmr::verify_inclusion(m as u64, size, &leaf, &path, &root).is_ok());
            if !path.is_empty() {
                let mut bad = path.clone();
                let at = pick.index(bad.len());
                flip(&mut bad[at], bit);
                prop_assert!(mmr::verify_inclusion(m as u64, size, &leaf, &bad, &root).is_err());
            }
            let mut bad_root = root;
            flip(&mut bad_root, bit);
            prop_assert!(mmr::verify_inclusion(m as u64, size, &leaf, &path, &bad_root).is_err());
        }
    }

    #[test]
    fn random_consistency_proofs_match_the_rfc_and_a_flipped_bit_fails(
        leaves in leaves_strategy(), a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>(),
        bit in 0usize..256, pick in any::<prop::sample::Index>()
    ) {
        let store = store_of(&leaves);
        let (x, y) = (a.index(leaves.len()) + 1, b.index(leaves.len()) + 1);
        let (old, new) = (x.min(y), x.max(y));
        let proof = mmr::consistency_proof(&store, old as u64, new as u64)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&proof, &naive::subproof(old, &leaves[..new], true));
        let (r1, r2) = (naive::mth(&leaves[..old]), naive::mth(&leaves[..new]));
        prop_assert!(mmr::verify_consistency(old as u64, new as u64, &r1, &r2, &proof).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = pick.index(bad.len());
                flip(&mut bad[at], bit);
            prop_assert!(mmr::verify_consistency(old as u64, new as u64, &r1, &r2, &bad).is_err());
        }
        let mut bad_r2 = r2;
        flip(&mut bad_r2, bit);
        prop_assert!(mmr::verify_consistency(old as u64, new as u64, &r1, &bad_r2, &proof).is_err());
    }

    #[test]
    fn every_msez_proof_verifies_and_a_flipped_bit_anywhere_fails(
        n in 1u64..200, seed in any::<u64>(), bit in 0usize..256, pick in any::<prop::sample::Index>()
    ) {
        let next_roots: Vec<Hash> = (0..n).map(|i| msez::canon::sha256(format!("{seed}-{i}").as_bytes())).collect();
        let want = naive::mth(&next_roots.iter().map(|h| h.0.to_vec()).collect::<Vec<_>>());
        let store = MemStore::from_next_roots(&next_roots);
        for index in 0..n {
            let proof = mmr::prove(&store, n, index, &next_roots[index as usize])
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(proof.root, want, "the MSEZ root is the RFC 6962 root over next_root bytes");
            prop_assert!(proof.verify().is_ok());
            // Every hash the proof carries is bound: flip one and it must fail.
            let slots = proof.path.len() + proof.peaks.len() + 3;
            let mut bad = proof.clone();
            match pick.index(slots) {
                i if i < proof.path.len() => flip(&mut bad.path[i].hash, bit),
                i if i < proof.path.len() + proof.peaks.len() => flip(&mut bad.peaks[i - proof.path.len()].hash, bit),
                i if i == slots - 3 => flip(&mut bad.root, bit),
                i if i == slots - 2 => flip(&mut bad.leaf_hash, bit),
                _ => flip(&mut bad.receipt_next_root, bit),
            }
            prop_assert!(bad.verify().is_err());
        }
    }
}
