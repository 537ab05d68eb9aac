//! MMR benchmarks on the in-memory store: append, root, RFC 6962 path, MSEZ proof, consistency.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use msez::mmr::{self, Hash, MemStore};

const SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];

fn next_roots(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| msez::canon::sha256(&i.to_be_bytes()))
        .collect()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("mmr/append");
    group.sample_size(10);
    for n in SIZES {
        let leaves: Vec<Hash> = next_roots(n).iter().map(mmr::leaf_hash).collect();
        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::from_parameter(n), &leaves, |b, leaves| {
            b.iter(|| MemStore::from_leaf_hashes(black_box(leaves)))
        });
    }
    group.finish();
}

fn reads(c: &mut Criterion) {
    let mut root_group = c.benchmark_group("mmr/root");
    let stores: Vec<(u64, Vec<Hash>, MemStore)> = SIZES
        .iter()
        .map(|&n| {
            let roots = next_roots(n);
            let store = MemStore::from_next_roots(&roots);
            (n, roots, store)
        })
        .collect();
    for (n, roots, store) in &stores {
        // Checked once, outside the timed loop.
        let want = mmr::mmr_root_from_next_roots(roots).map(|r| r.root).ok();
        assert_eq!(mmr::root(store, *n).ok(), want);
        root_group.bench_with_input(BenchmarkId::from_parameter(n), store, |b, s| {
            b.iter(|| mmr::root(s, black_box(*n)))
        });
    }
    root_group.finish();

    let mut proof_group = c.benchmark_group("mmr/inclusion_proof");
    for (n, roots, store) in &stores {
        let index = n / 3;
        let root = mmr::root(store, *n).expect("the store holds every node of its own size");
        let path = mmr::inclusion_proof(store, index, *n).expect("index < size");
        let leaf = mmr::leaf_hash(&roots[index as usize]);
        assert!(mmr::verify_inclusion(index, *n, &leaf, &path, &root).is_ok());
        proof_group.bench_with_input(BenchmarkId::new("rfc6962", n), store, |b, s| {
            b.iter(|| mmr::inclusion_proof(s, black_box(index), *n))
        });
        let next_root = roots[index as usize];
        proof_group.bench_with_input(BenchmarkId::new("msez", n), store, |b, s| {
            b.iter(|| mmr::prove(s, *n, black_box(index), &next_root))
        });
        proof_group.bench_with_input(BenchmarkId::new("verify_rfc6962", n), &path, |b, p| {
            b.iter(|| mmr::verify_inclusion(index, *n, &leaf, black_box(p), &root))
        });
    }
    proof_group.finish();

    let mut cons_group = c.benchmark_group("mmr/consistency_proof");
    for (n, _, store) in &stores {
        let old = n / 2 + 1;
        assert!(mmr::consistency_proof(store, old, *n).is_ok());
        cons_group.bench_with_input(BenchmarkId::from_parameter(n), store, |b, s| {
            b.iter(|| mmr::consistency_proof(s, black_box(old), *n))
        });
    }
    cons_group.finish();
}

criterion_group!(benches, append, reads);
criterion_main!(benches);
