//! The fast strict verifiers (`vc::strict`, `vc::batch::verify_strict_many`) against
//! ed25519-dalek's `verify_strict` on adversarial signatures: small-order keys and `R` in
//! canonical and non-canonical encodings, torsion components, non-canonical `S`, flipped bits,
//! good and bad mixed in one call. Every verdict must be `verify_strict`'s (issue 20, item 2).

use std::collections::HashMap;

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};
use msez::vc::{batch, strict};
use sha2::{Digest, Sha512};

/// ℓ, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// One candidate: key bytes, signature bytes, message.
#[derive(Clone, Debug)]
struct Case {
    key: [u8; 32],
    sig: [u8; 64],
    msg: Vec<u8>,
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn scalar(&mut self) -> Scalar {
        let mut wide = [0u8; 64];
        for chunk in wide.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        Scalar::from_bytes_mod_order_wide(&wide)
    }
}

fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(a)
            .chain_update(msg),
    )
}

/// `S = r + k·a` for the given `R` and `A` encodings: what an honest signer with secret `a` and
/// nonce `r` would publish (a valid signature when `R = [r]B` and `A = [a]B` exactly).
fn sign_as(a: Scalar, a_bytes: [u8; 32], r: Scalar, r_bytes: [u8; 32], msg: &[u8]) -> Case {
    let s = r + challenge(&r_bytes, &a_bytes, msg) * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r_bytes);
    sig[32..].copy_from_slice(s.as_bytes());
    Case {
        key: a_bytes,
        sig,
        msg: msg.to_vec(),
    }
}

/// Little-endian 256-bit addition, `None` on overflow.
fn add_le(x: &[u8; 32], y: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = x[i] as u16 + y[i] as u16 + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    (carry == 0).then_some(out)
}

/// Every encoding of the eight small-order points that decompression may accept: canonical,
/// with the sign bit flipped (non-canonical for x = 0), and `y + p` for y < 19.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for t in EIGHT_TORSION {
        let c = t.compress().to_bytes();
        out.push(c);
        let mut flipped = c;
        flipped[31] ^= 0x80;
        out.push(flipped);
    }
    // y = 0 (order 4) and y = 1 (the identity) as y + p, both signs: p = 2^255 - 19.
    for y in 0..2u8 {
        for sign in [0u8, 0x80] {
            let mut e = [0xffu8; 32];
            e[0] = 0xed + y;
            e[31] = 0x7f | sign;
            out.push(e);
        }
    }
    out
}

/// Non-canonical `y + p` encodings (y < 19) of whatever points they decode to.
fn high_y_encodings() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for y in 0..19u8 {
        for sign in [0u8, 0x80] {
            let mut e = [0xffu8; 32];
            e[0] = 0xed + y;
            e[31] = 0x7f | sign;
            out.push(e);
        }
    }
    out
}

/// The adversarial families, about a thousand cases, good and bad interleaved.
fn adversarial(rng: &mut Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let a = rng.scalar();
    let a_point = EdwardsPoint::mul_base(&a);
    let a_bytes = a_point.compress().to_bytes();
    let msg = |i: usize| format!("receipt {i}").into_bytes();
    let honest = |rng: &mut Rng, i: usize| {
        let r = rng.scalar();
        sign_as(
            a,
            a_bytes,
            r,
            EdwardsPoint::mul_base(&r).compress().to_bytes(),
            &msg(i),
        )
    };
    // Valid signatures, and each with one bit flipped in M, R, S or A.
    for i in 0..40 {
        let good = honest(rng, i);
        cases.push(good.clone());
        let mut bad = good.clone();
        let byte = rng.below(bad.msg.len());
        bad.msg[byte] ^= 1 << rng.below(8);
        cases.push(bad);
        for part in 0..3 {
            let mut bad = good.clone();
            let bit = rng.below(256);
            match part {
                0 => bad.sig[bit / 8] ^= 1 << (bit % 8),
                1 => bad.sig[32 + bit / 8] ^= 1 << (bit % 8),
                _ => bad.key[bit / 8] ^= 1 << (bit % 8),
            }
            cases.push(bad);
        }
    }
    // Non-canonical S: S + ℓ, S + 2ℓ…, S = ℓ, and S with the top bits set.
    for i in 0..10 {
        let good = honest(rng, 100 + i);
        let mut s: [u8; 32] = good.sig[32..].try_into().unwrap();
        for _ in 0..3 {
            let Some(next) = add_le(&s, &ELL) else { break };
            s = next;
            let mut bad = good.clone();
            bad.sig[32..].copy_from_slice(&s);
            cases.push(bad);
        }
        let mut bad = good.clone();
        bad.sig[32..].copy_from_slice(&ELL);
        cases.push(bad);
        let mut bad = good.clone();
        bad.sig[63] |= 0xe0;
        cases.push(bad);
    }
    // Small-order R with an honest key and S = k·a: [S]B − [k]A is the identity, so for R the
    // identity (canonically encoded) only the small-order rule rejects it.
    for (i, r_bytes) in small_order_encodings().into_iter().enumerate() {
        cases.push(sign_as(a, a_bytes, Scalar::ZERO, r_bytes, &msg(200 + i)));
    }
    // R with a torsion component: R = [r]B + T, S = r + k·a.
    for (i, t) in EIGHT_TORSION.iter().enumerate() {
        let r = rng.scalar();
        let big_r = (EdwardsPoint::mul_base(&r) + t).compress().to_bytes();
        cases.push(sign_as(a, a_bytes, r, big_r, &msg(300 + i)));
    }
    // A with a torsion component, A = [a]B + T: strict verification accepts exactly when
    // [k]T is the identity, so about 1/ord(T) of these are valid; and R with torsion too.
    for (j, ta) in EIGHT_TORSION.iter().enumerate() {
        let key = (a_point + ta).compress().to_bytes();
        for i in 0..12 {
            let r = rng.scalar();
            let tr = EIGHT_TORSION[rng.below(8)];
            let r_point = EdwardsPoint::mul_base(&r) + if i % 2 == 0 { tr } else { -tr };
            let m = msg(400 + 16 * j + i);
            cases.push(sign_as(a, key, r, r_point.compress().to_bytes(), &m));
            let r_bytes = EdwardsPoint::mul_base(&r).compress().to_bytes();
            cases.push(sign_as(a, key, r, r_bytes, &m));
        }
    }
    // Small-order A (every encoding) with small-order R and S in {0, 1, random}: every
    // cofactorless equation [S]B = R + [k]A with S = 0 has solutions here.
    for (j, key) in small_order_encodings().into_iter().enumerate() {
        for (i, r_bytes) in small_order_encodings().into_iter().enumerate() {
            let s = match (i + j) % 3 {
                0 => Scalar::ZERO,
                1 => Scalar::ONE,
                _ => rng.scalar(),
            };
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(&r_bytes);
            sig[32..].copy_from_slice(s.as_bytes());
            cases.push(Case {
                key,
                sig,
                msg: msg(1000 + 32 * j + i),
            });
        }
        // And an honest-looking R.
        cases.push(sign_as(
            Scalar::ZERO,
            key,
            Scalar::ONE,
            ED25519_BASEPOINT_POINT.compress().to_bytes(),
            &msg(2000 + j),
        ));
    }
    // R encoded with y ≥ p, with S chosen so that [S]B − [k]A is the point R decodes to when
    // that point is small order (the rest cannot be forged, and are rejected either way).
    for (i, r_bytes) in high_y_encodings().into_iter().enumerate() {
        cases.push(sign_as(a, a_bytes, Scalar::ZERO, r_bytes, &msg(3000 + i)));
        let r = rng.scalar();
        cases.push(sign_as(a, a_bytes, r, r_bytes, &msg(3100 + i)));
    }
    cases
}

/// The reference verdict; `None` when the key bytes do not decode (no call is possible).
fn reference(c: &Case) -> Option<(VerifyingKey, Signature, bool)> {
    let key = VerifyingKey::from_bytes(&c.key).ok()?;
    let sig = Signature::from_bytes(&c.sig);
    let ok = key.verify_strict(&c.msg, &sig).is_ok();
    Some((key, sig, ok))
}

/// Checks every fast path against `verify_strict` on `cases`, named `what` in failures.
fn check_all(cases: &[Case], what: &str) -> (usize, usize) {
    let decoded: Vec<(usize, VerifyingKey, Signature, bool)> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, c)| reference(c).map(|(k, s, ok)| (i, k, s, ok)))
        .collect();
    // The per-key table, forced (whatever the use count).
    let mut tables: HashMap<[u8; 32], strict::KeyTable> = HashMap::new();
    for (i, key, sig, ok) in &decoded {
        let table = tables
            .entry(key.to_bytes())
            .or_insert_with(|| strict::KeyTable::new(key));
        assert_eq!(
            table.verify(&cases[*i].msg, sig),
            *ok,
            "{what}: KeyTable disagrees with verify_strict on case {i}: {:?}",
            cases[*i]
        );
    }
    // The per-thread cached path, repeated past the table threshold.
    for round in 0..2 {
        for (i, key, sig, ok) in &decoded {
            for _ in 0..if round == 0 { 1 } else { 3 } {
                assert_eq!(
                    strict::verify(key, &cases[*i].msg, sig),
                    *ok,
                    "{what}: strict::verify disagrees on case {i} (round {round}): {:?}",
                    cases[*i]
                );
            }
        }
    }
    // All at once, mixed good and bad: culprits named individually.
    let items: Vec<batch::Item<'_>> = decoded
        .iter()
        .map(|(i, key, sig, _)| batch::Item {
            message: &cases[*i].msg,
            signature: sig,
            key,
        })
        .collect();
    let expected: Vec<bool> = decoded.iter().map(|d| d.3).collect();
    assert_eq!(batch::verify_strict_many(&items), expected, "{what}: many");
    assert_eq!(
        batch::verify_strict_many_batched(&items),
        expected,
        "{what}: batched"
    );
    let valid = expected.iter().filter(|ok| **ok).count();
    (valid, expected.len() - valid)
}

#[test]
fn fast_strict_verification_gives_verify_strict_verdicts_on_adversarial_signatures() {
    let mut rng = Rng(0x5eed_2020_0000_0001);
    let cases = adversarial(&mut rng);
    let (valid, invalid) = check_all(&cases, "adversarial");
    // Both kinds are present in bulk, and the torsioned keys give some valid ones.
    assert!(
        valid >= 50 && invalid >= 500,
        "valid {valid}, invalid {invalid}"
    );
}

#[test]
fn fast_strict_verification_matches_on_ten_thousand_random_mutations() {
    let mut rng = Rng(0x0000_ddc0_ffee_2020);
    let keys: Vec<(Scalar, [u8; 32])> = (0..3)
        .map(|_| {
            let a = rng.scalar();
            (a, EdwardsPoint::mul_base(&a).compress().to_bytes())
        })
        .collect();
    let smalls = small_order_encodings();
    let mut cases = Vec::with_capacity(10_000);
    for i in 0..10_000usize {
        let (a, a_bytes) = keys[rng.below(keys.len())];
        let r = rng.scalar();
        let msg = (i as u64).to_le_bytes();
        let mut c = sign_as(
            a,
            a_bytes,
            r,
            EdwardsPoint::mul_base(&r).compress().to_bytes(),
            &msg,
        );
        match rng.below(10) {
            0..=2 => {} // valid
            3 => {
                let bit = rng.below(512);
                c.sig[bit / 8] ^= 1 << (bit % 8);
            }
            4 => c.msg[rng.below(8)] ^= 1 << rng.below(8),
            5 => {
                let bit = rng.below(256);
                c.key[bit / 8] ^= 1 << (bit % 8);
            }
            6 => {
                let s: [u8; 32] = c.sig[32..].try_into().unwrap();
                if let Some(s) = add_le(&s, &ELL) {
                    c.sig[32..].copy_from_slice(&s);
                }
            }
            7 => {
                let t = EIGHT_TORSION[rng.below(8)];
                let big_r = (EdwardsPoint::mul_base(&r) + t).compress().to_bytes();
                c = sign_as(a, a_bytes, r, big_r, &msg);
            }
            8 => c.sig[..32].copy_from_slice(&smalls[rng.below(smalls.len())]),
            _ => c.key = smalls[rng.below(smalls.len())],
        }
        cases.push(c);
    }
    let (valid, invalid) = check_all(&cases, "random");
    assert!(
        valid > 2_000 && invalid > 5_000,
        "valid {valid}, invalid {invalid}"
    );
}
