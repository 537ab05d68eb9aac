//! Canonical JSON throughput: msez canonicalize + SHA-256 digest vs `serde_json::to_vec` of the
//! same values (the baseline docs/benchmarks.md reports the ratio against).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A receipt-like document with nested transition payload, sets and a proof.
fn receipt(i: u64) -> serde_json::Value {
    serde_json::json!({
        "type": "SmartAssetReceipt",
        "asset_id": "37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5",
        "sequence": i,
        "timestamp": "2026-01-01T00:00:00Z",
        "prev_root": "483787be59415d8a2c133f893b23a868347e2fd970e76af5f6096dde38b0559b",
        "lawpack_digest_set": ["1111111111111111111111111111111111111111111111111111111111111111"],
        "ruleset_digest_set": ["2222222222222222222222222222222222222222222222222222222222222222"],
        "transition": {
            "type": "MSEZTransitionEnvelope",
            "kind": "transfer",
            "payload": {"from": "Zoë", "to": "東京 Ltd.", "amount": "100000.00", "memo": "line\nbreak", "n": 123456789012345678u64},
            "payload_sha256": "4d99a1d536e35caa4da38ab2f0883e5dfd27b16b79477def77e1880127e35f34"
        },
        "proof": [{"type": "MsezEd25519Signature2025", "created": "2026-01-01T00:00:00Z",
                   "verificationMethod": "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze#key-1",
                   "proofPurpose": "assertionMethod", "jws": "xXVNN-AhebdBzqeLAsf_eKuiMRy_u5dKXADS9HKTE1AJKjgR_08B8fm8mnovbMJgXR4yak_SVF5qg4-XwcwlCQ"}],
        "next_root": "057e4bfc43010e4c6766e2abfcb062f0c77edf8c21265debc4c7d299ef7e0b4f"
    })
}

fn bench(c: &mut Criterion) {
    let docs: Vec<serde_json::Value> = (0..1000).map(receipt).collect();
    let bytes: u64 = docs
        .iter()
        .map(|d| msez::canon::to_bytes(d).unwrap().len() as u64)
        .sum();
    // Checked once, outside the timed loops.
    assert_eq!(
        msez::canon::to_bytes(&docs[0]).unwrap(),
        msez::canon::canonicalize(&serde_json::to_vec(&docs[0]).unwrap()).unwrap()
    );

    let mut g = c.benchmark_group("canon");
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(
        BenchmarkId::new("msez_canonical_bytes", "1000 receipts"),
        |b| {
            b.iter(|| {
                docs.iter()
                    .map(|d| msez::canon::to_bytes(black_box(d)).unwrap().len())
                    .sum::<usize>()
            })
        },
    );
    g.bench_function(
        BenchmarkId::new("msez_digest_next_root", "1000 receipts"),
        |b| {
            let rule = msez::canon::rule_for("smart-asset-receipt");
            b.iter(|| {
                docs.iter()
                    .map(|d| rule.digest_json(black_box(d)).unwrap().0[0] as usize)
                    .sum::<usize>()
            })
        },
    );
    g.bench_function(
        BenchmarkId::new("serde_json_to_vec", "1000 receipts"),
        |b| {
            b.iter(|| {
                docs.iter()
                    .map(|d| serde_json::to_vec(black_box(d)).unwrap().len())
                    .sum::<usize>()
            })
        },
    );
    let texts: Vec<Vec<u8>> = docs
        .iter()
        .map(|d| serde_json::to_vec_pretty(d).unwrap())
        .collect();
    g.bench_function(
        BenchmarkId::new("msez_parse_and_canonicalize", "1000 receipts"),
        |b| {
            b.iter(|| {
                texts
                    .iter()
                    .map(|t| msez::canon::canonicalize(black_box(t)).unwrap().len())
                    .sum::<usize>()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
