//! Resource limits on hostile input (docs/limits.md): each limit is hit once, with its error
//! code, and the value just under it still passes.

use std::io::{Cursor, Write};

use msez::Classify;
use msez::bundle::{BundleReader, Limits};

use crate::util::Dir;

/// `depth` nested arrays.
fn nested(depth: usize) -> Vec<u8> {
    let mut v = "[".repeat(depth).into_bytes();
    v.extend("]".repeat(depth).bytes());
    v
}

#[test]
fn json_nesting_of_128_levels_is_schema_too_deep() {
    let dir = Dir::new();
    let depth = msez::canon::MAX_JSON_DEPTH;
    assert_eq!(depth, 128);
    let under = dir.run_stdin(&["canon"], &nested(depth - 1));
    assert_eq!(under.ok().len(), 2 * (depth - 1));
    let over = dir.run_stdin(&["--json", "canon"], &nested(depth));
    assert_eq!(over.code, 65, "{over:?}");
    assert_eq!(over.json()["error"]["code"], "schema.too_deep");
    // Objects count as levels too, and a deep document fails before anything else looks at it.
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let over = dir.run_stdin(&["--json", "canon"], objects.as_bytes());
    assert_eq!(over.json()["error"]["code"], "schema.too_deep", "{over:?}");
}

#[test]
fn json_larger_than_64_mib_is_schema_too_large() {
    let dir = Dir::new();
    // A valid document one byte over the limit: a string of padding.
    let mut doc = vec![b'"'];
    doc.resize(msez::canon::MAX_JSON_BYTES, b'a');
    doc.push(b'"');
    assert_eq!(doc.len(), msez::canon::MAX_JSON_BYTES + 1);
    let run = dir.run_stdin(&["--json", "canon"], &doc);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert_eq!(run.json()["error"]["code"], "schema.too_large");
    // At the limit it parses.
    doc.truncate(msez::canon::MAX_JSON_BYTES - 1);
    doc.push(b'"');
    assert!(msez::canon::parse(&doc).is_ok());
}

/// A zip of `(name, bytes)` entries, deflated.
fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn bundles_with_more_entries_than_the_limit_are_refused_from_the_directory() {
    let zip = zip_of(&[
        ("a.txt", b"a".to_vec()),
        ("b.txt", b"b".to_vec()),
        ("c.txt", b"c".to_vec()),
    ]);
    let limits = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    let err = BundleReader::open(Cursor::new(&zip), limits)
        .err()
        .expect("three entries over a limit of two");
    assert_eq!(err.code(), "schema.bundle_limit");
    assert!(err.to_string().contains("entry count"), "{err}");
    let limits = Limits {
        max_entries: 3,
        ..Limits::default()
    };
    assert_eq!(
        BundleReader::open(Cursor::new(&zip), limits)
            .unwrap()
            .entries()
            .len(),
        3
    );
    assert_eq!(Limits::default().max_entries, 1_000_000);
}

#[test]
fn bundle_entries_that_expand_past_the_ratio_are_refused() {
    // 2 MiB of zeros deflates to a few KiB: a ratio near 1000.
    let zip = zip_of(&[("zeros.bin", vec![0u8; 2 << 20])]);
    let err = BundleReader::open(Cursor::new(&zip), Limits::default())
        .err()
        .expect("a 1000:1 entry over the 200:1 limit");
    assert_eq!(err.code(), "schema.bundle_limit");
    // Under the ratio floor (1 MiB by default) the ratio is not checked.
    let small = zip_of(&[("zeros.bin", vec![0u8; 512 << 10])]);
    assert!(BundleReader::open(Cursor::new(&small), Limits::default()).is_ok());
}

#[test]
fn graph_walks_stop_at_max_nodes_and_say_so() {
    let dir = Dir::repo();
    let digests: Vec<String> = (0..3)
        .map(|i| {
            let id = dir.put(&format!("b{i}.txt"), format!("evidence {i}\n"), "blob");
            id.split_once(':').unwrap().1.to_string()
        })
        .collect();
    let refs: Vec<_> = digests
        .iter()
        .map(|d| serde_json::json!({"artifact_type": "blob", "digest_sha256": d}))
        .collect();
    dir.write(
        "root.json",
        serde_json::to_vec(&serde_json::json!({"type": "Doc", "refs": refs})).unwrap(),
    );
    // Issue 15: a walk cut short is unknown (68), never valid (the reference says valid).
    let verify = |max: &str, code: i32| {
        let run = dir.run(&[
            "--json",
            "artifact",
            "graph",
            "verify",
            "--path",
            "root.json",
            "--max-nodes",
            max,
        ]);
        assert_eq!(run.code, code, "{run:?}");
        run.json()
    };
    let r = verify("2", 68);
    assert_eq!(r["stats"]["nodes_total"], 2);
    assert_eq!(r["errors"], serde_json::json!(["max_nodes reached (2)"]));
    assert_eq!(r["verdict"], "unknown");
    assert_eq!(r["partial"], true);
    let r = verify("3", 0);
    assert_eq!(r["stats"]["nodes_total"], 3);
    assert_eq!(r["errors"], serde_json::json!([]));
    // The default fits the chains msez makes (one root file per receipt; docs/limits.md).
    assert_eq!(msez::graph::DEFAULT_MAX_NODES, 4_000_000);
}

#[test]
fn remote_transfers_retry_transient_failures_a_bounded_number_of_times() {
    let retry = msez::remote::Retry::default();
    assert_eq!(retry.retries, 3);
    assert_eq!(retry.timeout, std::time::Duration::from_secs(30));
    let fast = msez::remote::Retry {
        backoff: std::time::Duration::from_millis(1),
        ..retry
    };
    let mut attempts = 0;
    let result: Result<(), _> = fast.run(|| {
        attempts += 1;
        Err(msez::remote::Error::Ipfs {
            what: "reading",
            key: "refs/x".into(),
            message: "connection reset".into(),
        })
    });
    assert!(result.is_err());
    assert_eq!(attempts, 1 + retry.retries);
    // A permanent failure is not retried.
    let mut attempts = 0;
    let _ = fast.run(|| -> Result<(), _> {
        attempts += 1;
        Err(msez::remote::Error::Precondition { key: "k".into() })
    });
    assert_eq!(attempts, 1);
}
