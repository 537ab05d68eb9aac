//! Signing and verifying `MsezEd25519Signature2025` proofs: one sign, one strict verify, 64
//! signatures one by one vs through the strict batch path and the per-key tables, and one key's
//! signatures through `verify_strict` vs its precomputed table (src/vc/strict.rs).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use msez::vc::{self, KeyPair, batch};
use serde_json::json;

fn object(i: u64) -> serde_json::Value {
    json!({
        "type": "MSEZCorridorStateReceipt",
        "corridor_id": "org.momentum.msez.corridor.bench",
        "sequence": i,
        "prev_root": "00".repeat(32),
        "next_root": "11".repeat(32),
        "timestamp": "2026-01-01T00:00:00Z",
    })
}

fn bench(c: &mut Criterion) {
    let key = KeyPair::from_seed(&[42; 32], None);
    let mut g = c.benchmark_group("proof");
    g.throughput(Throughput::Elements(1));
    let obj = object(0);
    g.bench_function("sign", |b| {
        b.iter(|| vc::proof::sign(black_box(&obj), &key, "2026-01-01T00:00:00Z"))
    });
    let mut signed = object(0);
    vc::add_proof_at(&mut signed, &key, "2026-01-01T00:00:00Z").expect("signs");
    assert!(vc::all_valid(
        &vc::verify_proofs(&signed).expect("canonical")
    ));
    g.bench_function("verify", |b| {
        b.iter(|| vc::verify_proofs(black_box(&signed)))
    });
    g.finish();

    // 64 receipts from 4 signers, as a chain verifier would see them.
    let keys: Vec<KeyPair> = (0..4u8)
        .map(|i| KeyPair::from_seed(&[i + 1; 32], None))
        .collect();
    let inputs: Vec<Vec<u8>> = (0..64)
        .map(|i| vc::signing_input(&object(i)).expect("canonical"))
        .collect();
    let sigs: Vec<Signature> = inputs
        .iter()
        .enumerate()
        .map(|(i, m)| ed25519_dalek::Signer::sign(keys[i % 4].signing_key(), m))
        .collect();
    let vks: Vec<VerifyingKey> = (0..64).map(|i| keys[i % 4].verifying_key()).collect();
    let items: Vec<batch::Item<'_>> = (0..64)
        .map(|i| batch::Item {
            message: &inputs[i],
            signature: &sigs[i],
            key: &vks[i],
        })
        .collect();
    assert!(batch::verify_strict_all(&items));
    let mut g = c.benchmark_group("verify64");
    g.throughput(Throughput::Elements(64));
    g.bench_function("single_strict", |b| {
        b.iter(|| {
            black_box(&items)
                .iter()
                .all(|it| it.key.verify_strict(it.message, it.signature).is_ok())
        })
    });
    g.bench_function("batch_strict", |b| {
        b.iter(|| {
            batch::verify_strict_many_batched(black_box(&items))
                .into_iter()
                .all(|ok| ok)
        })
    });
    g.bench_function("dalek_verify_batch_unchecked", |b| {
        let msgs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        b.iter(|| ed25519_dalek::verify_batch(black_box(&msgs), &sigs, &vks).is_ok())
    });
    g.bench_function("many_tables", |b| {
        b.iter(|| {
            batch::verify_strict_many(black_box(&items))
                .into_iter()
                .all(|ok| ok)
        })
    });
    g.finish();

    // One key signing many receipts (a chain): `verify_strict` against the key's precomputed
    // table, on one core; and what the table costs to build (the break-even point).
    let one = &keys[0];
    let vk = one.verifying_key();
    let one_sigs: Vec<Signature> = inputs
        .iter()
        .map(|m| ed25519_dalek::Signer::sign(one.signing_key(), m))
        .collect();
    let table = vc::strict::KeyTable::new(&vk);
    let mut g = c.benchmark_group("one_key");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("verify_strict", |b| {
        b.iter(|| {
            i = (i + 1) % 64;
            vk.verify_strict(black_box(&inputs[i]), &one_sigs[i])
                .is_ok()
        })
    });
    g.bench_function("key_table", |b| {
        b.iter(|| {
            i = (i + 1) % 64;
            table.verify(black_box(&inputs[i]), &one_sigs[i])
        })
    });
    g.bench_function("cached_strict_verify", |b| {
        b.iter(|| {
            i = (i + 1) % 64;
            vc::strict::verify(&vk, black_box(&inputs[i]), &one_sigs[i])
        })
    });
    g.bench_function("key_table_build", |b| {
        b.iter(|| vc::strict::KeyTable::new(black_box(&vk)))
    });
    g.finish();
    let one_items: Vec<batch::Item<'_>> = (0..64)
        .map(|i| batch::Item {
            message: &inputs[i],
            signature: &one_sigs[i],
            key: &vk,
        })
        .collect();
    let mut g = c.benchmark_group("verify64_one_key");
    g.throughput(Throughput::Elements(64));
    g.bench_function("single_strict", |b| {
        b.iter(|| {
            black_box(&one_items)
                .iter()
                .all(|it| it.key.verify_strict(it.message, it.signature).is_ok())
        })
    });
    g.bench_function("many_tables", |b| {
        b.iter(|| {
            batch::verify_strict_many(black_box(&one_items))
                .into_iter()
                .all(|ok| ok)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
