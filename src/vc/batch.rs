//! Batch verification: many (message, signature, key) triples at once, with the exact verdicts of
//! one-by-one `verify_strict`.
//!
//! ed25519-dalek's `verify_batch` checks one random linear combination of the cofactorless
//! equations. It skips what `verify_strict` checks, and a residual in the small torsion subgroup
//! can cancel in the combination, so a batch pass alone could accept a signature strict
//! verification rejects. Before batching we therefore require, per item, what makes the two
//! agree: a canonical S (signature parsing), R that decodes canonically, neither R nor A of small
//! order, and both torsion-free (A checked once per distinct key). Any item failing those, or a
//! failed batch, is decided by `verify_strict` alone.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};

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

/// Each item's strict verdict (`true` = valid), in input order.
pub fn verify_strict_many(items: &[Item<'_>]) -> Vec<bool> {
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
        let verdicts = verify_strict_many(&items);
        assert_eq!(verdicts, (0..8).map(|i| i != 5).collect::<Vec<_>>());
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
        assert_eq!(verify_strict_many(&items), vec![true, false]);
    }
}
