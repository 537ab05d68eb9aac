//! MMR inclusion proofs (the JSON proof object of `msez mmr verify`) and RFC 6962 inclusion and
//! consistency proofs (sizes, index and hashes taken from the input bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use msez::mmr::{self, Hash};

/// Splits the input into (u64, u64, u64, hashes) for the RFC 6962 checks.
fn numbers(data: &[u8]) -> Option<(u64, u64, u64, Vec<Hash>)> {
    let word = |i: usize| -> Option<u64> {
        let b: [u8; 8] = data.get(i * 8..i * 8 + 8)?.try_into().ok()?;
        // Small sizes reach the interesting shapes; large ones check there is no overflow.
        let n = u64::from_le_bytes(b);
        Some(if n & 1 == 0 { n >> 1 & 0xffff } else { n >> 1 })
    };
    let (a, b, c) = (word(0)?, word(1)?, word(2)?);
    let hashes = data[24..]
        .chunks_exact(32)
        .map(|c| {
            let arr: [u8; 32] = c.try_into().expect("chunks_exact gives 32 bytes");
            msez::canon::Digest(arr)
        })
        .collect();
    Some((a, b, c, hashes))
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            let Ok(value) = msez::canon::parse(rest) else {
                return;
            };
            let _ = mmr::verify_inclusion_proof(&value);
        }
        1 => {
            let Some((index, size, _, hashes)) = numbers(rest) else {
                return;
            };
            let Some((leaf, path)) = hashes.split_first() else {
                return;
            };
            let _ = mmr::root_from_inclusion(index, size, leaf, path);
        }
        _ => {
            let Some((old, new, _, hashes)) = numbers(rest) else {
                return;
            };
            let Some(((old_root, new_root), proof)) = hashes
                .split_first()
                .and_then(|(a, r)| r.split_first().map(|(b, p)| ((a, b), p)))
            else {
                return;
            };
            if mmr::verify_consistency(old, new, old_root, new_root, proof).is_ok() {
                assert!(old <= new, "consistency accepted with old > new");
            }
        }
    }
});
