//! The bare Ed25519 rates of the crate msez signs and verifies with, for the end-to-end script
//! to divide by: signatures per second on one core, strict verifications per second on one core
//! and on every core. Prints one JSON line. Not a criterion bench: it is a rate, measured for a
//! fixed time, over the same 1 KiB message size as a receipt's signing input.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};

fn rate(threads: usize, dur: Duration, f: impl Fn(u64) + Sync) -> f64 {
    let start = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                s.spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < dur {
                        for i in 0..64 {
                            f(t as u64 * 1_000_000 + n + i);
                        }
                        n += 64;
                    }
                    n
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    counts.iter().sum::<u64>() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: u64 = std::env::var("BASELINE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dur = Duration::from_secs(secs);
    let key = SigningKey::from_bytes(&[7; 32]);
    let vk = key.verifying_key();
    let msg = vec![0x5au8; 1024];
    let sig = key.sign(&msg);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let sign_1 = rate(1, dur, |i| {
        let mut m = msg.clone();
        m[..8].copy_from_slice(&i.to_le_bytes());
        black_box(key.sign(&m));
    });
    let verify_1 = rate(1, dur, |_| {
        assert!(vk.verify_strict(black_box(&msg), &sig).is_ok());
    });
    let verify_all = rate(cores, dur, |_| {
        assert!(vk.verify_strict(black_box(&msg), &sig).is_ok());
    });
    println!(
        "{{\"cores\":{cores},\"sign_per_s_1core\":{sign_1:.0},\"verify_per_s_1core\":{verify_1:.0},\"verify_per_s_all_cores\":{verify_all:.0}}}"
    );
}
