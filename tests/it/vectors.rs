//! vectors/msez-generated: regenerating gives the committed bytes, msez's verdicts match
//! expected.json, and the independent Python checker (tests/oracle) accepts what it can check.

use serde_json::Value;
use std::path::{Path, PathBuf};

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/msez-generated")
}

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(committed().join("expected.json")).unwrap()).unwrap()
}

/// Runs the oracle in `dir`; returns its exit code and JSON report.
fn oracle(dir: &Path, args: &[&str]) -> (i32, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/msez_oracle.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs the oracle");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn regenerating_the_vectors_gives_the_committed_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gen");
    let run = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-vectors.sh"))
        .arg(&out)
        .env("MSEZ", crate::util::bin())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut committed = crate::examples::files(&committed());
    assert!(committed.remove(Path::new("README.md")).is_some());
    let fresh = crate::examples::files(&out);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &committed {
        assert!(
            fresh[name] == *bytes,
            "vectors/msez-generated/{} is stale or not deterministic: rerun scripts/gen-vectors.sh",
            name.display()
        );
    }
}

#[test]
fn msez_gives_the_expected_verdict_on_every_generated_case() {
    // A copy, so that nothing msez might write lands in the committed vectors.
    let tmp = tempfile::tempdir().unwrap();
    for (name, bytes) in crate::examples::files(&committed()) {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let cases = expected()["cases"].as_array().unwrap().clone();
    assert!(cases.len() >= 20, "{} cases", cases.len());
    let mut invalid = 0;
    for case in &cases {
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let out = std::process::Command::new(crate::util::bin())
            .args(&args)
            .current_dir(tmp.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        let want = case["exit"].as_i64().unwrap();
        invalid += usize::from(want != 0);
        assert_eq!(
            i64::from(out.status.code().unwrap_or(-1)),
            want,
            "case {}: {}\n{}",
            case["name"],
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(invalid >= 5, "too few negative cases: {invalid}");
    // The MMR root case prints the committed root.
    let root = std::fs::read_to_string(committed().join("mmr/root.8.txt")).unwrap();
    let printed = std::process::Command::new(crate::util::bin())
        .args(["mmr", "root", "--leaves", "mmr/leaves.txt"])
        .current_dir(committed())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&printed.stdout), root);
}

#[test]
fn the_oracle_verifies_the_generated_chain_proofs_and_bundle() {
    let dir = committed();
    let (code, report) = oracle(&dir, &["selftest"]);
    assert_eq!(code, 0, "the oracle's own selftest fails: {report:#}");

    let asset_id = expected()["asset_id"].as_str().unwrap().to_string();
    let ck = "chain/state/checkpoints/checkpoint.8.json";
    let mut args = vec![
        "verify-asset-chain",
        "--receipts",
        "chain/state/receipts",
        "--asset-id",
        &asset_id,
        "--checkpoint",
        ck,
    ];
    let proofs = [0, 3, 7].map(|s| format!("chain/state/proofs/inclusion.{s}.json"));
    for p in &proofs {
        args.extend(["--proof", p.as_str()]);
    }
    let (code, report) = oracle(&dir, &args);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["receipt_count"], 8);
    assert_eq!(report["inclusion_proofs"].as_array().unwrap().len(), 3);
    let root = std::fs::read_to_string(dir.join("mmr/root.8.txt")).unwrap();
    assert_eq!(report["mmr"]["root"], root.trim());

    // A tampered checkpoint: the oracle refuses it too.
    args[6] = "bad/checkpoint.8.wrong-root.json";
    let (code, report) = oracle(&dir, &args[..7]);
    assert_eq!(code, 1, "{report:#}");

    for old in ["1", "3", "5"] {
        let proof = format!("mmr/consistency.{old}-8.json");
        let argv = [
            "verify-consistency",
            "--leaves",
            "mmr/leaves.txt",
            "--old",
            old,
            "--new",
            "8",
            "--proof",
            &proof,
        ];
        let (code, report) = oracle(&dir, &argv);
        assert_eq!(code, 0, "{report:#}");
        let old_root = std::fs::read_to_string(dir.join(format!("mmr/root.{old}.txt"))).unwrap();
        assert_eq!(report["old_root"], old_root.trim());
        // The same proof does not prove another old size.
        let other = if old == "5" { "3" } else { "5" };
        let mut wrong = argv;
        wrong[4] = other;
        assert_eq!(
            oracle(&dir, &wrong).0,
            1,
            "{old} proof accepted for {other}"
        );
    }

    let (code, report) = oracle(
        &dir,
        &[
            "verify-bundle-manifest",
            "--bundle",
            "bundle/bundle.zip",
            "--attestation",
            "bundle/attestation.dev.vc.json",
            "--attestation",
            "bundle/attestation.zone-a.vc.json",
        ],
    );
    assert_eq!(code, 0, "{report:#}");
    assert!(report["entries"].as_u64().unwrap() > 10, "{report:#}");
    let attested = std::fs::read(dir.join("bundle/attestation.dev.vc.json")).unwrap();
    let attested: Value = serde_json::from_slice(&attested).unwrap();
    assert_eq!(
        report["manifest_digest_sha256"],
        attested["credentialSubject"]["manifest_digest_sha256"]
    );
}
