//! `Repo::put_reader` throughput (stream, SHA-256 + blake3, fsync, rename) and JSON put.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use msez::artifact::ArtifactType;
use msez::odb::Repo;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::init(dir.path(), &[]).unwrap();
    let blob = ArtifactType::new("blob").unwrap();
    let data: Vec<u8> = (0..(64u32 << 20))
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();

    let mut g = c.benchmark_group("odb_put");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    let mut n = 0u32;
    g.bench_function("put_blob_64MiB_new", |b| {
        b.iter(|| {
            // A fresh object each time: the first 4 bytes make it unique.
            n += 1;
            let mut d = data.clone();
            d[..4].copy_from_slice(&n.to_le_bytes());
            repo.put_reader(&blob, black_box(&d[..])).unwrap()
        })
    });
    g.finish();

    let vc = ArtifactType::new("vc").unwrap();
    let mut g = c.benchmark_group("odb_put_json");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("put_vc_new", |b| {
        b.iter(|| {
            i += 1;
            let doc = serde_json::json!({"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiableCredential"],
                "issuer": "did:key:z6Mk", "credentialSubject": {"n": i}});
            repo.put_json(&vc, black_box(&doc)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
