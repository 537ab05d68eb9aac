//! Many (message, signature, key) triples at once, with the exact verdicts of one-by-one
//! `verify_strict`.
//!
//! [`verify_strict_many`] is the entry point and picks the fastest sound strategy: keys with at
//! least [`strict::TABLE_AFTER`] items (counting this thread's earlier calls) go through their fixed-base table ([`strict::KeyTable`],
//! the same equation as `verify_strict`), with the final compressions of a whole chunk sharing one
//! field inversion; the others are checked one by one with `verify_strict`; chunks run on all
//! cores. [`verify_strict_many_batched`] is the random-linear-combination strategy, kept tested
//! and benchmarked (benches/sign_verify.rs) for when it pays: with ed25519-dalek 3's public API
//! the torsion check on each `R` costs more than a verification, so it never has (docs/credentials.md).
//!
//! ed25519-dalek's `verify_batch` checks one random linear combination of the cofactorless
//! equations. It skips what `verify_strict` checks, and a residual in the small torsion subgroup
//! can cancel in the combination, so a batch pass alone could accept a signature strict
//! verification rejects. Before batching we therefore require, per item, what makes the two
//! agree: a canonical S (signature parsing), R that decodes canonically, neither R nor A of small
//! order, and both torsion-free (A checked once per distinct key). Any item failing those, or a
//! failed batch, is decided by `verify_strict` alone.

use std::collections::HashMap;
use std::rc::Rc;

use curve25519_dalek::EdwardsPoint;
use ed25519_dalek::{Signature, VerifyingKey};

use super::strict::{self, KeyTable};

/// Items below which [`verify_strict_many`] stays on the calling thread.
const PARALLEL_MIN: usize = 256;

/// One signature to check.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// The signed bytes.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a Signature,
    /// The signer's key.
    pub key: &'a VerifyingKey,
}

/// Each item's strict verdict (`true` = valid), in input order, on all cores.
pub fn verify_strict_many(items: &[Item<'_>]) -> Vec<bool> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < PARALLEL_MIN {
        return verify_chunk(items);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || verify_chunk(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("verification does not panic"))
            .collect()
    })
}

/// [`verify_strict_many`] on one thread.
fn verify_chunk(items: &[Item<'_>]) -> Vec<bool> {
    let mut uses: HashMap<[u8; 32], u32> = HashMap::new();
    for item in items {
        let n = uses.entry(item.key.to_bytes()).or_default();
        *n = n.saturating_add(1);
    }
    let tables: HashMap<[u8; 32], Rc<KeyTable>> = uses
        .into_iter()
        .filter_map(|(bytes, n)| {
            let key = items.iter().find(|it| it.key.as_bytes() == &bytes)?.key;
            Some((bytes, strict::table_for(key, n)?))
        })
        .collect();
    let mut verdicts = vec![false; items.len()];
    let mut pending: Vec<(usize, &KeyTable)> = Vec::new();
    let mut points: Vec<EdwardsPoint> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match tables.get(item.key.as_bytes()) {
            None => verdicts[i] = single(item),
            Some(table) => {
                if let Some(r) = table.candidate(item.message, item.signature) {
                    pending.push((i, &**table));
                    points.push(r);
                }
            }
        }
    }
    // One inversion for all compressions (Montgomery's trick) instead of one per signature.
    let compressed = EdwardsPoint::compress_batch_alloc(&points);
    for (((i, table), r), c) in pending.into_iter().zip(&points).zip(&compressed) {
        verdicts[i] = table.accepts(r, c, items[i].signature);
    }
    verdicts
}

/// The same verdicts as [`verify_strict_many`], through one batch equation where that is sound.
pub fn verify_strict_many_batched(items: &[Item<'_>]) -> Vec<bool> {
    let mut verdicts = vec![false; items.len()];
    let mut key_ok: HashMap<[u8; 32], bool> = HashMap::new();
    let mut batchable = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let a_ok = *key_ok
            .entry(item.key.to_bytes())
            .or_insert_with(|| point_is_prime_order(item.key));
        if a_ok && r_is_prime_order(item.signature) {
            batchable.push(i);
        } else {
            verdicts[i] = single(item);
        }
    }
    if batchable.len() >= 2 {
        let messages: Vec<&[u8]> = batchable.iter().map(|&i| items[i].message).collect();
        let signatures: Vec<Signature> = batchable.iter().map(|&i| *items[i].signature).collect();
        let keys: Vec<VerifyingKey> = batchable.iter().map(|&i| *items[i].key).collect();
        if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
            for &i in &batchable {
                verdicts[i] = true;
            }
            return verdicts;
        }
    }
    // A failed batch says only that something failed: find out what, one by one.
    for &i in &batchable {
        verdicts[i] = single(&items[i]);
    }
    verdicts
}

/// Whether every item verifies strictly (and there is at least one).
pub fn verify_strict_all(items: &[Item<'_>]) -> bool {
    !items.is_empty() && verify_strict_many(items).into_iter().all(|ok| ok)
}

fn single(item: &Item<'_>) -> bool {
    item.key.verify_strict(item.message, item.signature).is_ok()
}

fn point_is_prime_order(key: &VerifyingKey) -> bool {
    let point = key.to_edwards();
    !point.is_small_order() && point.is_torsion_free()
}

fn r_is_prime_order(signature: &Signature) -> bool {
    // VerifyingKey::from_bytes is just "decompress"; R must also re-encode to the same bytes,
    // since strict verification compares encodings while the batch compares points.
    let r_bytes = signature.r_bytes();
    match VerifyingKey::from_bytes(r_bytes) {
        Ok(r) => r.to_edwards().compress().to_bytes() == *r_bytes && point_is_prime_order(&r),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn a_batch_with_one_bad_signature_names_exactly_that_one() {
        let keys: Vec<SigningKey> = (0..8u8)
            .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let msgs: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 10]).collect();
        let mut sigs: Vec<Signature> = keys.iter().zip(&msgs).map(|(k, m)| k.sign(m)).collect();
        let vks: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
        let mut bytes = sigs[5].to_bytes();
        bytes[40] ^= 1;
        sigs[5] = Signature::from_bytes(&bytes);
        let items: Vec<Item<'_>> = (0..8)
            .map(|i| Item {
                message: &msgs[i],
                signature: &sigs[i],
                key: &vks[i],
            })
            .collect();
        let verdicts = verify_strict_many_batched(&items);
        assert_eq!(verdicts, (0..8).map(|i| i != 5).collect::<Vec<_>>());
        assert_eq!(verify_strict_many(&items), verdicts);
        assert!(!verify_strict_all(&items));
        assert!(verify_strict_all(&items[..5]));
    }

    #[test]
    fn a_small_order_key_and_identity_signature_is_rejected_even_in_a_batch() {
        // A = identity, R = identity, s = 0 satisfies every cofactorless equation; strict rejects it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = VerifyingKey::from_bytes(&identity).expect("the identity decodes");
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&identity);
        let forged = Signature::from_bytes(&forged);
        let good_key = SigningKey::from_bytes(&[3; 32]);
        let good_sig = good_key.sign(b"m");
        let good_vk = good_key.verifying_key();
        let items = [
            Item {
                message: b"m",
                signature: &good_sig,
                key: &good_vk,
            },
            Item {
                message: b"anything",
                signature: &forged,
                key: &weak,
            },
        ];
        assert_eq!(verify_strict_many_batched(&items), vec![true, false]);
    }

    #[test]
    fn a_torsion_component_in_r_is_rejected_even_when_the_raw_batch_accepts_it() {
        use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
        use curve25519_dalek::scalar::Scalar;
        use sha2::Digest;

        let good_key = SigningKey::from_bytes(&[4; 32]);
        let (good_sig, good_vk) = (good_key.sign(b"good"), good_key.verifying_key());
        // A signer who puts an order-2 point into R: [s]B - [k]A = R - T, so the cofactorless
        // single check fails, while a batch with an even coefficient for it cancels T.
        let key = SigningKey::from_bytes(&[5; 32]);
        let vk = key.verifying_key();
        let r = Scalar::from(123_456_789u64);
        let big_r = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[4]).compress();
        let mut found = None;
        for i in 0u32..256 {
            let msg = i.to_le_bytes().to_vec();
            let mut wide = [0u8; 64];
            let hash = sha2::Sha512::new()
                .chain_update(big_r.as_bytes())
                .chain_update(vk.as_bytes())
                .chain_update(&msg)
                .finalize();
            wide.copy_from_slice(&hash);
            let s = r + Scalar::from_bytes_mod_order_wide(&wide) * key.to_scalar();
            let mut bytes = [0u8; 64];
            bytes[..32].copy_from_slice(big_r.as_bytes());
            bytes[32..].copy_from_slice(&s.to_bytes());
            let sig = Signature::from_bytes(&bytes);
            assert!(vk.verify_strict(&msg, &sig).is_err());
            let msgs: [&[u8]; 2] = [b"good", &msg];
            if ed25519_dalek::verify_batch(&msgs, &[good_sig, sig], &[good_vk, vk]).is_ok() {
                found = Some((msg, sig));
                break;
            }
        }
        let (msg, sig) =
            found.expect("about half of all messages give the torsion an even coefficient");
        let items = [
            Item {
                message: b"good",
                signature: &good_sig,
                key: &good_vk,
            },
            Item {
                message: &msg,
                signature: &sig,
                key: &vk,
            },
        ];
        assert_eq!(verify_strict_many_batched(&items), vec![true, false]);
        assert_eq!(verify_strict_many(&items), vec![true, false]);
    }
}
