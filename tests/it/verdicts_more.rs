//! Issue 15, item 1 for the single-object verifiers: verify-inclusion, fork-evidence --verify,
//! anchor-verify and fsck run every check and report every finding; a definite failure beside
//! an unknown cause is still `invalid`, with the values they computed.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Dir, vectors};
use crate::verdicts::{Module, s};

fn fixture(name: &str) -> PathBuf {
    vectors().join(format!("msez-fixtures/keys/{name}.ed25519.jwk"))
}

impl Module {
    /// Trust anchors allowing only `name`'s key to sign receipts and checkpoints.
    fn anchors(&self, file: &str, name: &str) -> PathBuf {
        let did = self
            .run(&["key", "did", s(&fixture(name))])
            .ok()
            .trim()
            .to_string();
        self.dir.write(
            file,
            format!(
                "version: 1\ntrust_anchors:\n  - anchor_id: operator\n    type: did\n    identifier: {did}\n    allowed_attestations: [smart_asset_receipt, smart_asset_receipt_checkpoint]\n"
            ),
        )
    }
}

fn edit(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn verify_inclusion_reports_a_wrong_root_beside_an_untrusted_signer() {
    let m = Module::new();
    m.append(5, &[]);
    let ck = m.checkpoint();
    let proof = m.prove(2);
    let receipt = m.path("state/receipts/receipt.2.json");
    // The good proof verifies, with the root it computed.
    let good = m.run(&[
        "--json",
        "asset",
        "state",
        "verify-inclusion",
        "--receipt",
        s(&receipt),
        "--proof",
        s(&proof),
        "--checkpoint",
        s(&ck),
    ]);
    assert_eq!(good.code, 0, "{good:?}");
    let g = good.json();
    assert_eq!(g["ok"], true);
    assert_eq!(g["verdict"], "valid");
    let true_root = g["computed"]["mmr_root"].as_str().unwrap().to_string();
    assert_eq!(g["computed"]["mmr_size"], 5);
    // A forged proof root AND signers only another key's anchors trust.
    let forged = "ab".repeat(32);
    edit(&proof, |v| v["mmr"]["root"] = Value::from(forged.clone()));
    let ta = m.anchors("ta.yaml", "zone-a");
    let run = m.run(&[
        "--json",
        "asset",
        "state",
        "verify-inclusion",
        "--receipt",
        s(&receipt),
        "--proof",
        s(&proof),
        "--checkpoint",
        s(&ck),
        "--trust-anchors",
        s(&ta),
    ]);
    let v = run.json();
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert_eq!(v["ok"], false);
    // The lowest invalid code: the digest mismatch (66) outranks the untrusted signer (67).
    assert_eq!(run.code, 66, "{v}");
    assert_eq!(v["exit_code"], 66);
    let c = codes(&v);
    assert!(c.iter().any(|c| c == "signature.untrusted"), "{c:?}");
    assert!(c.iter().any(|c| c == "digest.checkpoint_mismatch"), "{c:?}");
    assert!(c.iter().any(|c| c.starts_with("digest.")), "{c:?}");
    // The computed values are present despite the failures: the true root, not the forged one.
    assert_eq!(v["computed"]["mmr_root"], true_root.as_str());
    assert_eq!(v["computed"]["mmr_size"], 5);
    assert_eq!(v["computed"]["leaf_index"], 2);
    assert!(v["computed"]["receipt_next_root"].is_string());
    // The error document of the first failure is kept.
    assert!(v["error"]["code"].is_string());
    // Text: one `FAIL:` line per finding.
    let text = m.run(&[
        "asset",
        "state",
        "verify-inclusion",
        "--receipt",
        s(&receipt),
        "--proof",
        s(&proof),
        "--checkpoint",
        s(&ck),
        "--trust-anchors",
        s(&ta),
    ]);
    text.code(66);
    assert!(
        text.stderr.matches("FAIL: ").count() >= 3,
        "{}",
        text.stderr
    );
}

#[test]
fn fork_evidence_verify_reports_a_bad_signature_beside_a_wrong_evidence_kind() {
    let m = Module::new();
    m.append(3, &[]);
    let ck = m.checkpoint();
    let a = m.dir.join("ck_a.json");
    let b = m.dir.join("ck_b.json");
    std::fs::copy(&ck, &a).unwrap();
    std::fs::copy(&ck, &b).unwrap();
    // The same size, another root, properly signed: a contradiction.
    edit(&b, |v| {
        v["mmr"]["root"] = Value::from("ab".repeat(32));
        v["proof"] = Value::Array(Vec::new());
    });
    let k = fixture("dev");
    m.run(&["vc", "sign", s(&b), "--key", s(&k), "--out", s(&b)])
        .ok();
    let ev = m.dir.join("ev.json");
    m.run(&[
        "asset",
        "state",
        "fork-evidence",
        s(&a),
        s(&b),
        "--out",
        s(&ev),
    ])
    .ok();
    let check = |file: &Path| {
        m.run(&[
            "--json",
            "asset",
            "state",
            "fork-evidence",
            "--verify",
            s(file),
        ])
    };
    let good = check(&ev);
    assert_eq!(good.code, 0, "{good:?}");
    let g = good.json();
    assert_eq!(g["verdict"], "valid");
    assert_eq!(g["contradiction"], "mmr_root_mismatch");
    let dev = g["signers_a"][0].as_str().unwrap().to_string();
    // Checkpoint b's signature broken AND the evidence kind rewritten.
    let bad = m.dir.join("ev_bad.json");
    std::fs::copy(&ev, &bad).unwrap();
    edit(&bad, |v| {
        v["checkpoint_b"]["timestamp"] = Value::from("2031-01-01T00:00:00Z");
        v["evidence_kind"] = Value::from("leaf_mismatch");
    });
    let run = check(&bad);
    let v = run.json();
    assert_eq!(v["verdict"], "invalid", "{v}");
    assert_eq!(run.code, 66, "{v}");
    let c = codes(&v);
    assert!(c.iter().any(|c| c.starts_with("signature.")), "{c:?}");
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("evidence_kind")),
        "{v}"
    );
    // What the evidence would prove is still computed: the contradiction and the signers.
    assert_eq!(v["contradiction"], "mmr_root_mismatch");
    assert_eq!(v["signers_a"], serde_json::json!([dev]));
    assert_eq!(v["signers_b"], serde_json::json!([]));
    assert!(v["error"]["code"].is_string());
    // Text: every finding on stderr.
    let text = m.run(&["asset", "state", "fork-evidence", "--verify", s(&bad)]);
    text.code(66);
    assert!(text.stderr.contains("evidence_kind"), "{}", text.stderr);
    assert!(
        text.stderr.matches("msez: ").count() >= 2,
        "{}",
        text.stderr
    );
}

const CID: &str = "org.example.corridor.verdicts";

#[test]
fn anchor_verify_reports_a_wrong_corridor_root_beside_an_unnamed_checkpoint() {
    let (dir, asset) = Dir::asset_module(&["dev", "zone-a"], &[]);
    let ok = |args: &[&str]| dir.run(args).ok().to_string();
    for _ in 0..2 {
        ok(&["asset", "state", "receipt-init", &asset, "--key", "dev.jwk"]);
    }
    ok(&["asset", "state", "checkpoint", &asset, "--key", "dev.jwk"]);
    ok(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        "dev.jwk",
    ]);
    let ck2 = format!("{asset}/state/checkpoints/checkpoint.2.json");
    ok(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        "zone-a.jwk",
        "--attach-smart-asset-receipt-checkpoint",
        &ck2,
    ]);
    ok(&[
        "corridor",
        "state",
        "checkpoint",
        CID,
        "--key",
        "zone-a.jwk",
    ]);
    ok(&[
        "corridor",
        "state",
        "inclusion-proof",
        CID,
        "--sequence",
        "0",
    ]);
    // A newer asset checkpoint the corridor receipt does not name.
    ok(&["asset", "state", "receipt-init", &asset, "--key", "dev.jwk"]);
    ok(&["asset", "state", "checkpoint", &asset, "--key", "dev.jwk"]);
    let corridor = format!("modules/corridors/{CID}");
    let proof = dir.join(&format!(
        "{corridor}/state/proofs/corridor.inclusion-proof.0.json"
    ));
    let run = |asset_ck: &str| {
        dir.run(&[
            "--json",
            "asset",
            "anchor-verify",
            "--corridor-receipt",
            &format!("{corridor}/state/receipts/corridor-receipt.0.json"),
            "--proof",
            s(&proof),
            "--checkpoint",
            &format!("{corridor}/state/checkpoints/checkpoint.1.json"),
            "--asset-checkpoint",
            asset_ck,
        ])
    };
    let good = run(&ck2);
    assert_eq!(good.code, 0, "{good:?}");
    assert_eq!(good.json()["verdict"], "valid");
    // The corridor proof's root forged AND the newer checkpoint given.
    edit(&proof, |v| v["mmr"]["root"] = Value::from("00".repeat(32)));
    let bad = run(&format!("{asset}/state/checkpoints/checkpoint.3.json"));
    let v = bad.json();
    assert_eq!(bad.code, 66, "{v}");
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["ok"], false);
    let c = codes(&v);
    assert!(c.iter().any(|c| c == "digest.checkpoint_mismatch"), "{c:?}");
    assert!(c.iter().any(|c| c == "digest.not_anchored"), "{c:?}");
    // What it established is still reported.
    assert_eq!(v["receipt_count"], 3);
    assert!(v["final_chain_root"].is_string(), "{v}");
    assert!(v["receipt_checkpoint_digest"].is_string(), "{v}");
    assert_eq!(v["corridor_id"], CID);
    assert_eq!(v["error"]["code"], "digest.checkpoint_mismatch");
}

#[test]
fn fsck_remote_strict_reports_a_forged_signature_beside_a_missing_parent() {
    let c = crate::chain::Chain::new();
    c.append(5);
    let remote = c.dir.join("remote.msez");
    c.dir.run(&["remote", "add", "origin", s(&remote)]).ok();
    c.dir.run(&["push"]).ok();
    let fsck = |mode: &[&str]| {
        let mut args = vec!["--json", "fsck", "--remote", "origin"];
        args.extend_from_slice(mode);
        c.dir.run(&args)
    };
    let clean = fsck(&["--strict"]);
    clean.code(0);
    assert_eq!(clean.json()["verdict"], "valid", "{}", clean.json());
    assert_eq!(clean.json()["findings"], serde_json::json!([]));
    // The default mode does not check signatures: nothing found, but not everything checked.
    let full = fsck(&[]);
    full.code(0);
    assert_eq!(full.json()["verdict"], "unknown");
    // The head's only signature forged AND its parent receipt deleted.
    let head = std::fs::read_to_string(
        remote.join(format!("refs/assets/{}/core/head", crate::util::ASSET_ID)),
    )
    .unwrap();
    let head_file = remote.join(format!("objects/smart-asset-receipt/{}.json", head.trim()));
    let mut v: Value = serde_json::from_slice(&std::fs::read(&head_file).unwrap()).unwrap();
    let forge = |p: &mut Value| {
        let jws = p["jws"].as_str().unwrap().to_string();
        let first = if jws.starts_with('A') { "B" } else { "A" };
        p["jws"] = Value::String(format!("{first}{}", &jws[1..]));
    };
    match &mut v["proof"] {
        Value::Array(list) => list.iter_mut().for_each(forge),
        p => forge(p),
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&head_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::write(&head_file, serde_json::to_vec(&v).unwrap()).unwrap();
    let prev = v["prev_root"].as_str().unwrap().to_string();
    std::fs::remove_file(remote.join(format!("objects/smart-asset-receipt/{prev}.json"))).unwrap();
    let run = fsck(&["--strict"]);
    let r = run.json();
    assert_eq!(r["verdict"], "invalid", "{r}");
    // The signature (67) decides the code, not the missing parent (68).
    assert_eq!(run.code, 67, "{r}");
    assert_eq!(r["exit_code"], 67);
    let findings = r["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["class"] == "signature" && f["effect"] == "invalid"),
        "{r}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "missing.receipt" && f["effect"] == "unknown"),
        "{r}"
    );
    // The existing report fields and the counts it computed are kept.
    assert_eq!(r["problems"].as_array().unwrap().len(), findings.len());
    assert!(r["objects"].as_u64().unwrap() >= 4, "{r}");
    assert!(r["receipts_linked"].as_u64().is_some(), "{r}");
    assert!(r["proofs_verified"].as_u64().is_some(), "{r}");
}

#[test]
fn fsck_reports_its_verdict_and_findings() {
    let c = crate::chain::Chain::new();
    c.append(2);
    let run = c.dir.run(&["--json", "fsck", "--strict"]);
    run.code(0);
    let r = run.json();
    assert_eq!(r["verdict"], "valid", "{r}");
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["findings"], serde_json::json!([]));
    assert!(r["objects"].as_u64().unwrap() > 0);
}

#[test]
fn verify_consistency_compares_both_roots_and_reports_the_ones_it_computed() {
    let dir = Dir::new();
    let leaf = |i: u8| format!("{:02x}", i).repeat(32);
    let write = |name: &str, n: u8| {
        let text: String = (0..n).map(|i| format!("{}\n", leaf(i))).collect();
        dir.write(name, text)
    };
    let (six, eight) = (write("six.txt", 6), write("eight.txt", 8));
    let root = |file: &Path| -> String {
        let v = dir
            .run(&["--json", "mmr", "root", "--leaves", s(file)])
            .json();
        v["root"].as_str().expect("root").to_string()
    };
    let (r6, r8) = (root(&six), root(&eight));
    let proof = dir.run(&[
        "mmr",
        "consistency",
        "--leaves",
        s(&eight),
        "--old",
        "6",
        "--new",
        "8",
    ]);
    let proof = dir.write("c.json", proof.ok());
    let check = |old_root: &str, new_root: &str| {
        dir.run(&[
            "--json",
            "mmr",
            "verify-consistency",
            "--old",
            "6",
            "--old-root",
            old_root,
            "--new",
            "8",
            "--new-root",
            new_root,
            "--proof",
            s(&proof),
        ])
    };
    let good = check(&r6, &r8);
    assert_eq!(good.code, 0, "{good:?}");
    assert_eq!(good.json()["verdict"], "valid");
    // Both roots forged: both mismatches reported, with the roots the proof leads to.
    let forged = "ab".repeat(32);
    let bad = check(&forged, &forged);
    let v = bad.json();
    assert_eq!(bad.code, 66, "{v}");
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["findings"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["computed"]["old_root"], r6.as_str());
    assert_eq!(v["computed"]["new_root"], r8.as_str());
    assert_eq!(v["computed"]["new_size"], 8);
    assert_eq!(v["reason"]["class"], "digest");
}

#[test]
fn mmr_verify_reports_a_forged_root_beside_a_forged_peak_copy() {
    let dir = Dir::new();
    let text: String = (0..5u8)
        .map(|i| format!("{}\n", format!("{i:02x}").repeat(32)))
        .collect();
    let leaves = dir.write("leaves.txt", text);
    let proof = dir.run(&["mmr", "prove", "--leaves", s(&leaves), "--index", "1"]);
    let mut p: Value = serde_json::from_str(proof.ok()).unwrap();
    let true_root = p["root"].as_str().unwrap().to_string();
    let good = dir.write("good.json", p.to_string());
    let ok = dir.run(&["--json", "mmr", "verify", "--proof", s(&good)]);
    assert_eq!(ok.code, 0, "{ok:?}");
    assert_eq!(ok.json()["computed"]["root"], true_root.as_str());
    p["root"] = Value::from("ab".repeat(32));
    p["computed_peak_root"] = Value::from("cd".repeat(32));
    let bad = dir.write("bad.json", p.to_string());
    let run = dir.run(&["--json", "mmr", "verify", "--proof", s(&bad)]);
    let v = run.json();
    assert_eq!(run.code, 66, "{v}");
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["findings"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["computed"]["root"], true_root.as_str());
    assert_eq!(v["computed"]["size"], 5);
}
