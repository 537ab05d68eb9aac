//! Chain checkpoints and inclusion proofs from the on-disk chain store, at 10k, 100k and 1M
//! receipts, against the reference's approach of rebuilding the MMR from every next_root.
//!
//! "checkpoint" = the summary from the store (head, peaks, digest-set unions, root from the
//! node files) and the checkpoint object with its digest, without signing or fsync;
//! "checkpoint+fsync" adds storing it in `.msez` and moving the checkpoint ref (both fsynced).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use msez::canon::{Digest, sha256};
use msez::chain::Kind;
use msez::chain::checkpoint::{self, Summary};
use msez::chain::store::{ChainKey, ChainStore};
use msez::odb::{Expect, RefName, Repo};

fn next_root(i: u64) -> Digest {
    sha256(format!("receipt-{i}").as_bytes())
}

fn summary(store: &ChainStore) -> Summary {
    let st = store.state();
    Summary {
        kind: Kind::Asset,
        owner: store.key().owner.clone(),
        purpose: store.key().purpose.clone(),
        genesis_root: st.genesis_root,
        final_root: st.head.expect("non-empty"),
        receipt_count: st.size,
        mmr: store.root().expect("root"),
        lawpack_digest_set: st.lawpack_digest_set.clone(),
        ruleset_digest_set: st.ruleset_digest_set.clone(),
    }
}

fn bench(c: &mut Criterion) {
    // `cargo test --benches` runs each bench once without `--bench`: keep that quick.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<u64> = std::env::var("CHAIN_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| {
            if benchmarking {
                vec![10_000, 100_000, 1_000_000]
            } else {
                vec![1_000]
            }
        });
    let mut g = c.benchmark_group("chain");
    g.sample_size(20);
    for &n in &sizes {
        let dir = tempfile::tempdir().expect("tmp");
        let repo = Repo::init(dir.path(), &[]).expect("init");
        let key = ChainKey::asset(&Digest([1; 32]), "core");
        let mut store = ChainStore::open(&repo, &key, Digest([2; 32])).expect("open");
        let roots: Vec<Digest> = (0..n).map(next_root).collect();
        for r in &roots {
            store.append(&serde_json::json!({"next_root": r.to_hex(), "lawpack_digest_set": [], "ruleset_digest_set": []})).expect("append");
        }
        store.save().expect("save");
        // Checked once, outside the timed loops: the store and the rebuild agree.
        let want = msez::mmr::mmr_root_from_next_roots(&roots).expect("root");
        assert_eq!(store.root().expect("root"), want);
        let probe = n / 3;

        g.bench_with_input(BenchmarkId::new("checkpoint", n), &n, |b, _| {
            b.iter(|| {
                let ck = checkpoint::build(&summary(&store), "2026-01-01T00:00:00Z");
                checkpoint::digest(black_box(&ck)).expect("digest")
            })
        });
        let ck_type =
            msez::artifact::ArtifactType::new("smart-asset-receipt-checkpoint").expect("type");
        let ck_ref = RefName::new("refs/assets/bench/core/checkpoint").expect("ref");
        let mut t = 0u64;
        g.bench_with_input(BenchmarkId::new("checkpoint+fsync", n), &n, |b, _| {
            b.iter(|| {
                t += 1;
                let ck = checkpoint::build(
                    &summary(&store),
                    &format!("2026-01-01T00:00:{:02}Z", t % 60),
                );
                let put = repo.put_json(&ck_type, &ck).expect("put");
                repo.update_ref(&ck_ref, put.id.digest, Expect::Any, "checkpoint")
                    .expect("ref")
            })
        });
        g.bench_with_input(BenchmarkId::new("inclusion_proof", n), &n, |b, _| {
            b.iter(|| {
                let root = store.next_root_at(black_box(probe)).expect("root");
                store.prove(probe, &root).expect("proof")
            })
        });
        g.bench_with_input(
            BenchmarkId::new("reference_rebuild_checkpoint", n),
            &n,
            |b, _| b.iter(|| msez::mmr::mmr_root_from_next_roots(black_box(&roots)).expect("root")),
        );
        g.bench_with_input(
            BenchmarkId::new("reference_rebuild_proof", n),
            &n,
            |b, _| {
                b.iter(|| {
                    msez::mmr::build_inclusion_proof(black_box(&roots), probe).expect("proof")
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
