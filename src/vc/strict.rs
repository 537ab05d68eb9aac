//! Strict Ed25519 verification with exactly the verdicts of ed25519-dalek's `verify_strict`,
//! faster for a key that signs many messages (a chain is usually signed by one or two keys).
//!
//! `verify_strict` (ed25519-dalek 3.0) accepts iff, in this order: `S` is canonical (`S < ℓ`),
//! `R` decompresses, neither `R` nor `A` is of small order, and
//! `compress([S]B − [k]A) == R_bytes` with `k = SHA-512(R_bytes ‖ A_bytes ‖ M) mod ℓ`. Its cost is
//! one decompression of `R` (a square root), a variable-base double scalar multiplication
//! (≈ 253 doublings) and one compression (an inversion).
//!
//! [`KeyTable`] computes the same `R' = [S]B + [k](−A)` from two variable-time fixed-base
//! tables, one of `B` (shared) and one of `−A` built once per key: about 86 additions and no
//! doublings, instead of 253 doublings. It also skips the decompression of
//! `R`, which strict verification needs only for the small-order check, because the final
//! comparison makes it redundant:
//!
//! - if `compress(R') == R_bytes`, then `R_bytes` is the canonical encoding of `R'`, so it
//!   decompresses, and to `R'` itself; `R` is of small order exactly when `R'` is;
//! - if `compress(R') != R_bytes`, strict verification rejects too (at the decompression, the
//!   small-order check, or the same comparison).
//!
//! So "`S` canonical, `A` not of small order, `compress(R') == R_bytes`, `R'` not of small order"
//! is the strict verdict, term for term; tests/it/strict_equiv.rs checks it against
//! `verify_strict` on adversarial inputs. Building a table costs about as much as a few dozen
//! verifications, so [`verify`] keeps a few per thread and builds one only for a key it has
//! already seen [`TABLE_AFTER`] times.

use std::cell::RefCell;
use std::rc::Rc;

use std::sync::OnceLock;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// Signatures by one key, checked one by one, before [`verify`] builds the key's table: the
/// table costs about 0.35 ms and saves about 15 µs a signature (benches/sign_verify.rs).
pub const TABLE_AFTER: u32 = 32;

/// Keys whose use counts and tables each thread keeps (least recently used dropped first).
const CACHED_KEYS: usize = 8;

/// Digit width of [`VartimeTable`]: 2^5 multiples per position, 44 positions (220 KB).
const WINDOW: usize = 6;
/// Multiples stored per position (digits are signed, so half the radix).
const HALF: usize = 1 << (WINDOW - 1);
/// Positions: enough digits for any 256-bit integer plus a final carry.
const POSITIONS: usize = 256usize.div_ceil(WINDOW) + 1;

/// The basepoint's table, shared by all threads.
static BASEPOINT: OnceLock<VartimeTable> = OnceLock::new();

/// A variable-time fixed-base table of `P`: `j·2^(6i)·P` for `j = 1..=32` at position `i`.
/// Verification handles only public data, so unlike curve25519-dalek's tables (which read every
/// entry to hide the index) it reads just the entry it needs, and its wider window needs ≈ 43
/// additions per multiplication instead of 64.
struct VartimeTable(Vec<EdwardsPoint>);

impl VartimeTable {
    fn new(p: &EdwardsPoint) -> Self {
        let mut table = Vec::with_capacity(POSITIONS * HALF);
        let mut base = *p;
        for _ in 0..POSITIONS {
            let mut multiple = base;
            for _ in 0..HALF {
                table.push(multiple);
                multiple += base;
            }
            // 2^6·base is twice the last entry, 32·base.
            let last = table[table.len() - 1];
            base = last + last;
        }
        VartimeTable(table)
    }

    /// `[s]P`, for the integer `s` encodes (signed radix-2^6 digits in [−31, 32], exact: no
    /// reduction is involved, so it also holds for points with a torsion component).
    fn mul(&self, s: &Scalar) -> EdwardsPoint {
        let bytes = s.as_bytes();
        let bit = |k: usize| k < 256 && (bytes[k / 8] >> (k % 8)) & 1 == 1;
        let mut acc = EdwardsPoint::identity();
        let mut carry = 0i32;
        for i in 0..POSITIONS {
            let mut digit = carry;
            for b in 0..WINDOW {
                if bit(i * WINDOW + b) {
                    digit += 1 << b;
                }
            }
            carry = i32::from(digit > HALF as i32);
            digit -= carry << WINDOW;
            let at = i * HALF + digit.unsigned_abs() as usize;
            match digit.signum() {
                1 => acc += self.0[at - 1],
                -1 => acc -= self.0[at - 1],
                _ => {}
            }
        }
        acc
    }
}

/// A key's precomputation: a fixed-base table of `−A` and whether `A` is of small order.
pub struct KeyTable {
    a_bytes: [u8; 32],
    a_small_order: bool,
    minus_a: VartimeTable,
}

impl KeyTable {
    /// Precomputes for `key` (about 0.35 ms).
    pub fn new(key: &VerifyingKey) -> Self {
        let point = key.to_edwards();
        KeyTable {
            a_bytes: key.to_bytes(),
            a_small_order: point.is_small_order(),
            minus_a: VartimeTable::new(&-point),
        }
    }

    /// The key's encoding as given (hashed into `k`, as `verify_strict` does).
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.a_bytes
    }

    /// `verify_strict(message, signature).is_ok()` for this key.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        match self.candidate(message, signature) {
            Some(r) => self.accepts(&r, &r.compress(), signature),
            None => false,
        }
    }

    /// `R' = [S]B + [k](−A)`, or `None` when strict verification rejects before computing it
    /// (`S ≥ ℓ`, or `A` of small order).
    pub(crate) fn candidate(&self, message: &[u8], signature: &Signature) -> Option<EdwardsPoint> {
        let s: Scalar = Option::from(Scalar::from_canonical_bytes(*signature.s_bytes()))?;
        if self.a_small_order {
            return None;
        }
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(signature.r_bytes())
                .chain_update(self.a_bytes)
                .chain_update(message),
        );
        let b = BASEPOINT.get_or_init(|| VartimeTable::new(&ED25519_BASEPOINT_POINT));
        Some(b.mul(&s) + self.minus_a.mul(&k))
    }

    /// The rest of the strict verdict, given `R'` and its compression.
    pub(crate) fn accepts(
        &self,
        r: &EdwardsPoint,
        compressed: &CompressedEdwardsY,
        signature: &Signature,
    ) -> bool {
        compressed.as_bytes() == signature.r_bytes() && !r.is_small_order()
    }
}

/// One cache slot: a key, how often this thread has verified with it, and its table once built.
struct Slot {
    key: [u8; 32],
    uses: u32,
    table: Option<Rc<KeyTable>>,
}

thread_local! {
    static CACHE: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// `key.verify_strict(message, signature).is_ok()`, through the key's table once this thread
/// has seen the key [`TABLE_AFTER`] times.
pub fn verify(key: &VerifyingKey, message: &[u8], signature: &Signature) -> bool {
    match table_for(key, 1) {
        Some(table) => table.verify(message, signature),
        None => key.verify_strict(message, signature).is_ok(),
    }
}

/// This thread's table for `key`, counting `uses` more verifications with it, and building the
/// table when the count reaches [`TABLE_AFTER`].
pub fn table_for(key: &VerifyingKey, uses: u32) -> Option<Rc<KeyTable>> {
    CACHE.with(|cache| {
        let mut slots = cache.borrow_mut();
        let bytes = key.as_bytes();
        let at = match slots.iter().position(|s| &s.key == bytes) {
            Some(at) => at,
            None => {
                if slots.len() == CACHED_KEYS {
                    slots.pop();
                }
                slots.push(Slot {
                    key: *bytes,
                    uses: 0,
                    table: None,
                });
                slots.len() - 1
            }
        };
        // Most recently used first, so the lookup usually ends at the first slot.
        slots[..=at].rotate_right(1);
        let slot = &mut slots[0];
        slot.uses = slot.uses.saturating_add(uses);
        if slot.table.is_none() && slot.uses >= TABLE_AFTER {
            slot.table = Some(Rc::new(KeyTable::new(key)));
        }
        slot.table.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::EIGHT_TORSION;

    #[test]
    fn the_vartime_table_multiplies_exactly_even_with_torsion() {
        let minus_one = -Scalar::ONE;
        let mut scalars = vec![Scalar::ZERO, Scalar::ONE, minus_one, Scalar::from(32u8)];
        scalars.extend((0..40u64).map(|i| {
            Scalar::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * Scalar::from(0xdead_beef_u64 + i)
        }));
        let bytes = |b: u8| Scalar::from_bytes_mod_order([b; 32]);
        scalars.extend([bytes(0x20), bytes(0x1f), bytes(0xff), bytes(0x55)]);
        let points = [
            ED25519_BASEPOINT_POINT,
            ED25519_BASEPOINT_POINT * Scalar::from(7u8) + EIGHT_TORSION[1],
            EIGHT_TORSION[4],
        ];
        for p in points {
            let table = VartimeTable::new(&p);
            for s in &scalars {
                assert_eq!(table.mul(s), p * s);
            }
        }
    }
}
