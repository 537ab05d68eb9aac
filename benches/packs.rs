//! Lookup time by pack count (issue 20, item 3): the same 64,000 JSON objects in 1, 10, 100
//! and 1,000 packs, each looked up through the multi-pack index and without it (every pack's
//! fanout searched one by one). The issue asks for the index's times from 1 to 1,000 packs
//! to stay within 20%.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use std::hint::black_box;

use msez::artifact::{ArtifactType, ObjectId};
use msez::odb::{Batch, Repo};

const OBJECTS: usize = 64_000;

/// Whether this is a measurement (`cargo bench`), not `cargo test`'s one pass over each
/// benchmark, which gets a small version so the test run stays short.
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A repository holding OBJECTS objects (a thirty-second of them under `cargo test`) in
/// `packs` packs, with its multi-pack index.
fn repo(packs: usize) -> (tempfile::TempDir, Vec<ObjectId>) {
    let dir = tempfile::tempdir().unwrap();
    let mut repo = Repo::init(dir.path(), &[]).unwrap();
    let mut config = repo.config().clone();
    config.gc.auto_pack_limit = Some(0);
    repo.save_config(config).unwrap();
    let t = ArtifactType::new("schema").unwrap();
    let objects = if benchmarking() {
        OBJECTS
    } else {
        OBJECTS / 32
    };
    let per = objects / packs;
    let mut ids = Vec::with_capacity(objects);
    for p in 0..packs {
        let mut batch = Batch::new(&repo);
        for i in 0..per {
            let v = serde_json::json!({ "pack": p, "i": i, "pad": "x".repeat(200) });
            ids.push(batch.put_json(&t, &v).unwrap());
        }
        batch.commit().unwrap();
    }
    repo.write_midx().unwrap();
    // Looked up in an order unrelated to the packs.
    ids.sort_by_key(|id| id.digest.0[1..9].to_vec());
    (dir, ids)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("pack_lookup");
    g.throughput(Throughput::Elements(1));
    let counts: &[usize] = if benchmarking() {
        &[1, 10, 100, 1000]
    } else {
        &[1, 10]
    };
    for &packs in counts {
        let (dir, ids) = repo(packs);
        let midx = dir
            .path()
            .join(".msez/packs")
            .join(msez::odb::MIDX_FILE_NAME);
        for with in [true, false] {
            if !with {
                std::fs::remove_file(&midx).unwrap();
            }
            let repo = Repo::open(dir.path()).unwrap();
            let mut i = 0usize;
            let name = if with { "midx" } else { "per_pack" };
            g.bench_with_input(BenchmarkId::new(name, packs), &packs, |b, _| {
                b.iter(|| {
                    i = (i + 1) % ids.len();
                    black_box(repo.locate(&ids[i]).unwrap().is_some())
                })
            });
        }
    }
    g.finish();
}

/// `MSEZ_PACKS_FILL="DIR N"`: instead of benchmarking, fills a new repository at DIR with N
/// JSON objects (about 300 bytes each) in packs of 100,000, for benches/packs_scale.sh.
fn fill(spec: &str) {
    let (dir, n) = spec.split_once(' ').expect("MSEZ_PACKS_FILL=\"DIR N\"");
    let n: usize = n.parse().expect("N");
    let mut repo = Repo::init(std::path::Path::new(dir), &[]).unwrap();
    let mut config = repo.config().clone();
    config.gc.auto_pack_limit = Some(0);
    repo.save_config(config).unwrap();
    let t = ArtifactType::new("schema").unwrap();
    let mut i = 0;
    while i < n {
        let mut batch = Batch::new(&repo);
        for _ in 0..100_000.min(n - i) {
            let v = serde_json::json!({
                "i": i,
                "name": format!("object {i}"),
                "tags": ["alpha", "beta", "gamma"],
                "payload": "abcdefghijklmnopqrstuvwxyz0123456789".repeat(6),
            });
            batch.put_json(&t, &v).unwrap();
            i += 1;
        }
        batch.commit().unwrap();
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("MSEZ_PACKS_FILL") {
        fill(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
