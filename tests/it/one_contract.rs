//! Issue 16 item 4: every verifier on one report model. A verifier runs every check it names,
//! reports every finding (text and `--json`), and exits by precedence: invalid dominates
//! unknown dominates valid (docs/verdicts.md).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run, fixture_did};
use crate::verdicts::{Module, key, s};

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn receipt(m: &Module, seq: usize) -> PathBuf {
    m.path(&format!("state/receipts/receipt.{seq}.json"))
}

/// The codes of a list of findings.
fn codes(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .unwrap_or_else(|| panic!("a list of findings: {findings}"))
        .iter()
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// An error document (with `findings`) as schemas/error.schema.json describes it.
fn check_error_doc(doc: &Value) {
    if let Err(e) = msez::schema::validate("error.schema.json", doc, "error document") {
        panic!("{e}: {doc}");
    }
}

/// The findings about `file` (by path or in the message).
fn about<'a>(findings: &'a Value, file: &str) -> Vec<&'a Value> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.to_string().contains(file))
        .collect()
}

fn verify(m: &Module, extra: &[&str]) -> Run {
    let mut args = vec!["--json", "asset", "state", "verify", &m.module];
    args.extend_from_slice(extra);
    m.run(&args)
}

#[test]
fn a_tampered_payload_is_both_a_digest_and_a_signature_finding() {
    let m = Module::new();
    m.append(3, &[]);
    let r1 = receipt(&m, 1);
    let mut v = read(&r1);
    v["payload"]["i"] = 99.into();
    write(&r1, &v);

    let run = verify(&m, &[]);
    run.code(66);
    let doc = run.json();
    assert_eq!(doc["verdict"], "invalid", "{doc}");
    assert_eq!(doc["exit_code"], 66, "{doc}");
    let mine: Vec<String> = about(&doc["errors"], "receipt.1.json")
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        mine.contains(&"digest.next_root_mismatch".to_string()),
        "{doc}"
    );
    assert!(
        mine.contains(&"signature.no_valid_proofs".to_string()),
        "{doc}"
    );
    // The text form names every finding too.
    let text = m.run(&["asset", "state", "verify", &m.module]);
    text.code(66);
    assert!(text.stderr.contains("next_root"), "{}", text.stderr);
    assert!(text.stderr.contains("valid proof"), "{}", text.stderr);

    // An operation that needs the chain verified refuses with every finding.
    let k = key();
    let ck = m.run(&[
        "--json",
        "asset",
        "state",
        "checkpoint",
        &m.module,
        "--from-files",
        "--key",
        s(&k),
    ]);
    ck.code(66);
    let doc = ck.json();
    assert_eq!(doc["error"]["code"], "digest.next_root_mismatch", "{doc}");
    check_error_doc(&doc);
    let all = codes(&doc["findings"]);
    assert!(
        all.contains(&"signature.no_valid_proofs".to_string()),
        "{doc}"
    );
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["effect"].is_string()),
        "{doc}"
    );
}

#[test]
fn a_bad_signature_and_a_broken_link_in_one_receipt_are_both_reported() {
    let m = Module::new();
    m.append(3, &[]);
    // Receipt 2 points at another prev_root, its next_root recomputed: its bytes match its
    // next_root, its old proof no longer verifies, and it no longer links.
    let r2 = receipt(&m, 2);
    let mut v = read(&r2);
    v["prev_root"] = "00".repeat(32).into();
    let next = msez::chain::receipt::next_root(&v).unwrap();
    v["next_root"] = next.to_hex().into();
    write(&r2, &v);

    let run = verify(&m, &[]);
    run.code(67);
    let doc = run.json();
    let all = codes(&doc["errors"]);
    assert!(
        all.contains(&"signature.no_valid_proofs".to_string()),
        "{doc}"
    );
    assert!(all.contains(&"missing.receipt".to_string()), "{doc}");
    assert_eq!(
        doc["receipt_count"], 2,
        "the chain is computed as far as it links"
    );
}

#[test]
fn unknown_and_invalid_in_one_receipt_exit_with_the_invalid_code() {
    let m = Module::new();
    m.append(1, &[]);
    let k = key();
    // A receipt naming harbors that never signed (unknown: a pending quorum) ...
    m.run(&[
        "asset",
        "state",
        "receipt-init",
        &m.module,
        "--key",
        s(&k),
        "--jurisdiction-scope",
        "subset",
        "--harbor-id",
        "h1",
        "--harbor-id",
        "h2",
    ])
    .ok();
    // ... whose own signature is another receipt's (invalid).
    let r1 = receipt(&m, 1);
    let mut v = read(&r1);
    v["proof"] = read(&receipt(&m, 0))["proof"].clone();
    write(&r1, &v);

    let run = verify(&m, &[]);
    let doc = run.json();
    let all = codes(&doc["errors"]);
    assert!(all.contains(&"missing.pending_quorum".to_string()), "{doc}");
    assert!(
        all.contains(&"signature.no_valid_proofs".to_string()),
        "{doc}"
    );
    assert_eq!(doc["verdict"], "invalid", "{doc}");
    run.code(67);
}

#[test]
fn every_bad_attestation_of_a_bundle_is_reported() {
    let m = Module::new();
    m.append(3, &[]);
    m.run(&[
        "--json",
        "asset",
        "module",
        "witness-bundle",
        &m.module,
        "--out",
        "w.zip",
    ])
    .ok();
    m.run(&["key", "gen", "--out", "auditor.jwk"]).ok();
    let did = m
        .run(&["key", "did", "auditor.jwk"])
        .ok()
        .trim()
        .to_string();
    for out in ["a.vc.json", "b.vc.json", "good.vc.json"] {
        m.run(&[
            "artifact",
            "bundle",
            "attest",
            "w.zip",
            "--key",
            "auditor.jwk",
            "--issuer",
            &did,
            "--out",
            out,
        ])
        .ok();
    }
    // a: its statement changed (its proof fails); b: another manifest digest (and its proof
    // fails with it).
    let a = m.dir.join("a.vc.json");
    let mut v = read(&a);
    v["credentialSubject"]["statement"] = "something else".into();
    write(&a, &v);
    let b = m.dir.join("b.vc.json");
    let mut v = read(&b);
    v["credentialSubject"]["manifest_digest_sha256"] = "00".repeat(32).into();
    write(&b, &v);

    let args = |json: bool| {
        let mut args = vec!["artifact", "bundle", "verify", "w.zip"];
        for f in ["a.vc.json", "good.vc.json", "b.vc.json"] {
            args.extend(["--attestation", f]);
        }
        if json {
            args.insert(0, "--json");
        }
        m.run(&args)
    };
    let run = args(true);
    run.code(66);
    let doc = run.json();
    assert_eq!(doc["error"]["code"], "digest.bundle_attestation", "{doc}");
    check_error_doc(&doc);
    let findings = &doc["findings"];
    let on_a = codes(&Value::Array(
        about(findings, "a.vc.json").into_iter().cloned().collect(),
    ));
    let on_b = codes(&Value::Array(
        about(findings, "b.vc.json").into_iter().cloned().collect(),
    ));
    assert_eq!(on_a, ["signature.bundle_attestation"], "{doc}");
    assert!(
        on_b.contains(&"digest.bundle_attestation".to_string())
            && on_b.contains(&"signature.bundle_attestation".to_string()),
        "{doc}"
    );
    assert!(about(findings, "good.vc.json").is_empty(), "{doc}");
    let text = args(false);
    text.code(66);
    assert!(text.stderr.contains("a.vc.json"), "{}", text.stderr);
    assert!(text.stderr.contains("b.vc.json"), "{}", text.stderr);
}

const ORIGIN: &str =
    "msez/asset/37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5/core";

#[test]
fn a_log_with_a_corrupt_tile_and_a_bad_signature_line_reports_both() {
    let m = Module::new();
    m.append(300, &[]);
    let k = key();
    m.run(&["tlog", "publish", &m.module, "log", "--key", s(&k)])
        .ok();
    let vkey = |name: &str| {
        m.run(&["key", "vkey", "--key", s(&k), "--name", name])
            .ok()
            .trim()
            .to_string()
    };
    let (origin, witness) = (vkey(ORIGIN), vkey("w.example"));
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "--json", "tlog", "verify", "log", "--vkey", &origin, "--vkey", &witness, "--state",
            "seen",
        ];
        args.extend_from_slice(extra);
        m.run(&args)
    };
    verify(&[]).code(0);

    // A signature line of the witness key that does not verify.
    let id = u32::from_str_radix(witness.split('+').nth(1).unwrap(), 16).unwrap();
    let mut sig = id.to_be_bytes().to_vec();
    sig.extend([7u8; 64]);
    let line = format!(
        "\u{2014} w.example {}\n",
        base64::engine::general_purpose::STANDARD.encode(&sig)
    );
    let note = m.dir.join("log/checkpoint");
    let mut bytes = std::fs::read(&note).unwrap();
    bytes.extend(line.as_bytes());
    std::fs::write(&note, &bytes).unwrap();
    // A flipped hash byte in a level-0 tile.
    let t = m.dir.join("log/tile/0/000");
    let mut tile = std::fs::read(&t).unwrap();
    tile[5] ^= 1;
    std::fs::write(&t, &tile).unwrap();

    let run = verify(&[]);
    run.code(66);
    let doc = run.json();
    check_error_doc(&doc);
    let all = codes(&doc["findings"]);
    assert!(
        all.contains(&"signature.tlog_signature".to_string()),
        "{doc}"
    );
    assert!(all.contains(&"digest.tlog_root".to_string()), "{doc}");
    // The light client reports the bad line beside what its proofs found.
    let run = verify(&["--light", "--entry", "3"]);
    let doc = run.json();
    let all = codes(&doc["findings"]);
    assert!(
        all.contains(&"signature.tlog_signature".to_string()),
        "{doc}"
    );
    assert!(all.contains(&"digest.tlog_root".to_string()), "{doc}");
    run.code(66);
    // Nothing that failed was recorded as seen: the repaired log verifies from scratch.
    tile[5] ^= 1;
    std::fs::write(&t, &tile).unwrap();
    bytes.truncate(bytes.len() - line.len());
    std::fs::write(&note, &bytes).unwrap();
    verify(&[]).code(0);
}

/// A repository whose zone-a key signs receipts 0..2, is rotated to zone-b from sequence 5 and
/// revoked through checkpoint 3 (dev is the anchor allowed to rotate and revoke).
fn lifecycle_lab() -> (Dir, String) {
    let (dir, module) = Dir::asset_module(&["dev", "zone-a", "zone-b"], &[]);
    dir.write(
        "ta.yaml",
        format!(
            "version: 1\ntrust_anchors:\n  - anchor_id: ops\n    type: did\n    identifier: {}\n    allowed_attestations: [smart_asset_receipt, smart_asset_receipt_checkpoint, key_rotation, key_revocation]\n  - anchor_id: zone-a\n    type: did\n    identifier: {}\n    allowed_attestations: [smart_asset_receipt]\n",
            fixture_did("dev"),
            fixture_did("zone-a")
        ),
    );
    for i in 0..3 {
        let ts = format!("2026-01-0{}T00:00:00Z", i + 1);
        dir.run(&[
            "asset",
            "state",
            "receipt-init",
            &module,
            "--key",
            "zone-a.jwk",
            "--timestamp",
            &ts,
        ])
        .ok();
    }
    dir.run(&["asset", "state", "checkpoint", &module, "--key", "dev.jwk"])
        .ok();
    let from = format!("asset:{ASSET_ID}/core@5");
    dir.run(&[
        "key",
        "rotate",
        "--anchor-id",
        "zone-a",
        "--old-key",
        "zone-a.jwk",
        "--new-key",
        "zone-b.jwk",
        "--from",
        &from,
        "--key",
        "dev.jwk",
        "--trust-anchors",
        "ta.yaml",
    ])
    .ok();
    let ck = format!("{module}/state/checkpoints/checkpoint.3.json");
    dir.run(&[
        "key",
        "revoke",
        "zone-a.jwk",
        "--valid-through",
        &ck,
        "--key",
        "dev.jwk",
        "--trust-anchors",
        "ta.yaml",
    ])
    .ok();
    (dir, module)
}

#[test]
fn a_receipt_failing_two_key_lifecycle_rules_reports_both() {
    let (dir, module) = lifecycle_lab();
    // Sequence 3, signed by zone-a (revoked: past valid_through) and zone-b (rotated in only
    // from sequence 5).
    dir.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--key",
        "zone-a.jwk",
        "--key",
        "zone-b.jwk",
        "--timestamp",
        "2026-01-04T00:00:00Z",
    ])
    .ok();
    let run = dir.run(&[
        "--json",
        "asset",
        "state",
        "verify",
        &module,
        "--trust-anchors",
        "ta.yaml",
    ]);
    run.code(67);
    let doc = run.json();
    let all = codes(&doc["errors"]);
    assert!(all.contains(&"signature.key_revoked".to_string()), "{doc}");
    assert!(
        all.contains(&"signature.key_not_yet_valid".to_string()),
        "{doc}"
    );
    let text = doc["errors"].to_string();
    assert!(text.contains(&fixture_did("zone-a")), "{doc}");
    assert!(text.contains(&fixture_did("zone-b")), "{doc}");
}
