//! Streaming verification: findings past the first thousand are counted, not kept, and the
//! verdict still counts them; a chain verified in one pass reports what the full one does.

use serde_json::Value;

use crate::util::Dir;

/// A module of `n` receipts signed by dev, appended in one batch.
fn chain_of(n: usize) -> (Dir, String) {
    let (dir, module) = Dir::asset_module(&["dev"], &[]);
    let lines: String = (0..n)
        .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect();
    dir.write("batch.jsonl", lines);
    dir.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--batch",
        "batch.jsonl",
        "--key",
        "dev.jwk",
    ])
    .ok();
    (dir, module)
}

/// Flips one character in the middle of every receipt's signature.
fn break_signatures(dir: &Dir, module: &str) {
    let receipts = dir.join(&format!("{module}/state/receipts"));
    for e in std::fs::read_dir(&receipts).unwrap() {
        let path = e.unwrap().path();
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let p = &mut v["proof"][0];
        let field = if p.get("jws").is_some() {
            "jws"
        } else {
            "proofValue"
        };
        let mut sig: Vec<char> = p[field].as_str().unwrap().chars().collect();
        let mid = sig.len() / 2;
        sig[mid] = if sig[mid] == 'A' { 'B' } else { 'A' };
        p[field] = sig.into_iter().collect::<String>().into();
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
}

#[test]
fn more_than_a_thousand_bad_receipts_keep_a_thousand_findings_and_count_the_rest() {
    let n = 1_100;
    let (dir, module) = chain_of(n);
    break_signatures(&dir, &module);
    let run = dir.run(&["--json", "asset", "state", "verify", &module]);
    run.code(67);
    let v = run.json();
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["exit_code"], 67);
    // The chain still links: a bad signature does not break it.
    assert_eq!(v["receipt_count"], n as u64);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1000);
    assert!(errors.iter().all(|e| e["class"] == "signature"));
    // Each receipt says the same number of things; the kept ones are the first by file name.
    let paths: Vec<String> = errors
        .iter()
        .map(|e| e["path"].as_str().unwrap_or_default().to_string())
        .collect();
    let per = paths.iter().filter(|p| **p == paths[0]).count();
    assert!(per >= 1);
    assert_eq!(v["errors_dropped"], (n * per - 1000) as u64);
    let mut names: Vec<String> = (0..n).map(|i| format!("receipt.{i}.json")).collect();
    names.sort();
    let mut files: Vec<&str> = paths
        .iter()
        .map(|p| p.rsplit('/').next().unwrap())
        .collect();
    files.dedup();
    assert_eq!(
        files,
        names[..files.len()]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    // The text report says how many were left out.
    let text = dir.run(&["asset", "state", "verify", &module]);
    text.code(67);
    assert!(
        text.stdout
            .contains(&format!("errors: {} more not listed", n * per - 1000)),
        "{}",
        text.stdout
    );
}

#[test]
fn a_misplaced_receipt_file_verifies_as_it_always_did() {
    // receipt.3.json holding receipt 5 (and 5's file gone) is met after sequence 3 and 5 are
    // passed: the pass starts over the full way, and the chain stops at the gap.
    let (dir, module) = chain_of(8);
    let receipts = dir.join(&format!("{module}/state/receipts"));
    std::fs::rename(
        receipts.join("receipt.5.json"),
        receipts.join("receipt.3.json"),
    )
    .unwrap();
    let run = dir.run(&["--json", "asset", "state", "verify", &module]);
    let v = run.json();
    assert_eq!(v["receipt_count"], 3);
    assert_eq!(v["errors"][0]["code"], "missing.receipt");
    // Renamed files that sort in any order verify as the reference's names do.
    let (dir, module) = chain_of(12);
    let receipts = dir.join(&format!("{module}/state/receipts"));
    for i in 0..12 {
        std::fs::rename(
            receipts.join(format!("receipt.{i}.json")),
            receipts.join(format!("z{}.json", 11 - i)),
        )
        .unwrap();
    }
    let v = dir
        .run(&["--json", "asset", "state", "verify", &module])
        .json();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["receipt_count"], 12);
}

/// Attack: a worse finding hidden past the first thousand (a changed payload behind 1,100 bad
/// signatures, in the file that sorts last) still decides the verdict and the exit code: a
/// digest and a signature finding together are 66, as one tampered receipt is (one_contract).
#[test]
fn a_digest_finding_past_the_first_thousand_still_decides_the_exit_code() {
    let (dir, module) = chain_of(1_100);
    break_signatures(&dir, &module);
    let last = dir.join(&format!("{module}/state/receipts/receipt.999.json"));
    let mut v: Value = serde_json::from_slice(&std::fs::read(&last).unwrap()).unwrap();
    v["payload"]["i"] = 100_000.into();
    std::fs::write(&last, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let run = dir.run(&["--json", "asset", "state", "verify", &module]);
    let out = run.json();
    assert_eq!(out["verdict"], "invalid");
    assert!(out["errors_dropped"].as_u64().unwrap_or(0) > 0, "{out}");
    let kept = out["errors"].as_array().unwrap();
    assert!(
        kept.iter().all(|e| e["path"]
            .as_str()
            .is_none_or(|p| !p.ends_with("receipt.999.json"))),
        "the digest finding was meant to be among the dropped ones"
    );
    assert_eq!(out["exit_code"], 66, "{}", out["exit_code"]);
    run.code(66);
}
