//! Corridor receipt chains: the derived vectors through the library, the operator flow through
//! the real binary (re-verified by the independent Python oracle), and tampering.

use std::path::{Path, PathBuf};
use std::process::Command;

use msez::canon::{self, Digest};
use msez::chain::corridor::{self, Rulesets, STATE_TRANSITION_RULESET, VERIFICATION_RULESET};
use msez::chain::receipt;
use serde_json::Value;

use crate::util::{Dir, vectors};

pub(crate) const CID: &str = "org.example.corridor.a-b";

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fixtures() -> PathBuf {
    vectors().join("msez-fixtures")
}

pub(crate) fn key(name: &str) -> String {
    fixtures()
        .join(format!("keys/{name}.ed25519.jwk"))
        .display()
        .to_string()
}

fn digest(hex: &str) -> Digest {
    Digest::parse_loose(hex).unwrap()
}

#[test]
fn derived_minimal_corridor_receipt_next_root_reproduces() {
    let d = load(&fixtures().join("derived_vectors.json"));
    let v = &d["minimal_corridor_receipt"];
    let got = receipt::next_root(&v["input"]).unwrap();
    assert_eq!(got.to_hex(), v["next_root"].as_str().unwrap());
}

#[test]
fn derived_head_commitment_reproduces() {
    let d = load(&fixtures().join("derived_vectors.json"));
    let v = &d["corridor_head_commitment"];
    let i = &v["input"];
    let s = |k: &str| digest(i[k].as_str().unwrap());
    let got = canon::head_commitment(
        i["corridor_id"].as_str().unwrap(),
        &s("genesis_root"),
        i["receipt_count"].as_u64().unwrap(),
        &s("final_state_root"),
        &s("mmr_root"),
    )
    .unwrap();
    assert_eq!(got.to_hex(), v["digest"].as_str().unwrap());
}

#[test]
fn fixture_2of2_definition_and_agreement_set_digests_reproduce() {
    let base = fixtures().join("corridor_agreement_2of2");
    let def = load(&base.join("corridor.vc.json"));
    let agreement = load(&base.join("corridor.agreement.vc.json"));
    assert_eq!(
        corridor::payload_sha256(&def).unwrap().to_hex(),
        "58cba8e47a792561985dd5bc5a04322ca9166c20ef0c0ddad8a40df7053450eb"
    );
    let rulesets = Rulesets::embedded().unwrap();
    let sets = [
        rulesets.digest(VERIFICATION_RULESET).unwrap(),
        rulesets.digest(STATE_TRANSITION_RULESET).unwrap(),
    ];
    let g = corridor::corridor_genesis(
        "org.momentum.msez.corridor.fixture.2of2",
        &def,
        &[agreement],
        &sets,
    )
    .unwrap();
    assert_eq!(
        g.agreement_set_sha256.unwrap().to_hex(),
        "60978273aee7ace9b151685cb7f86b2297fe3904deee7731d10060b81c7945ed"
    );
    assert!(
        g.lawpack_digest_set.is_empty(),
        "the 2of2 agreement is not party-specific"
    );
    assert_eq!(g.ruleset_digest_set.len(), 2);
}

#[test]
fn module_init_with_the_fixture_definition_and_agreement_pins_both() {
    let dir = Dir::repo();
    let base = fixtures().join("corridor_agreement_2of2");
    let run = dir.run(&[
        "--json",
        "corridor",
        "module",
        "init",
        "--corridor-id",
        "org.momentum.msez.corridor.fixture.2of2",
        "--definition",
        base.join("corridor.vc.json").to_str().unwrap(),
        "--agreement",
        base.join("corridor.agreement.vc.json").to_str().unwrap(),
    ]);
    let out = run.json();
    assert_eq!(
        out["agreement_set_sha256"],
        "60978273aee7ace9b151685cb7f86b2297fe3904deee7731d10060b81c7945ed"
    );
    assert_eq!(
        out["definition_payload_sha256"],
        "58cba8e47a792561985dd5bc5a04322ca9166c20ef0c0ddad8a40df7053450eb"
    );
    let module = dir.join("modules/corridors/org.momentum.msez.corridor.fixture.2of2");
    assert!(
        module
            .join("agreements/corridor.agreement.vc.json")
            .is_file()
    );
    let yaml = std::fs::read_to_string(module.join("corridor.yaml")).unwrap();
    assert!(
        yaml.contains("agreements/corridor.agreement.vc.json"),
        "{yaml}"
    );
}

#[test]
fn module_init_refuses_an_agreement_for_another_corridor() {
    let dir = Dir::repo();
    let base = fixtures().join("corridor_agreement_2of2");
    dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        &key("dev"),
        "--agreement",
        base.join("corridor.agreement.vc.json").to_str().unwrap(),
    ])
    .code(65);
    assert!(!dir.join("modules/corridors").join(CID).exists());
}

#[test]
fn module_init_refuses_unsafe_corridor_ids() {
    let dir = Dir::repo();
    let run = dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        "../escape",
        "--key",
        &key("dev"),
    ]);
    run.code(65);
    assert!(run.stderr.contains("invalid corridor_id"), "{run:#?}");
}

/// A repository with a corridor module and `n` receipts signed by zone-a and zone-b; returns
/// the module path and `module init --json` output.
pub(crate) fn corridor_with(n: usize) -> (Dir, PathBuf, Value) {
    let dir = Dir::repo();
    let init = dir
        .run(&[
            "--json",
            "corridor",
            "module",
            "init",
            "--corridor-id",
            CID,
            "--key",
            &key("dev"),
            "--timestamp",
            "2026-01-01T00:00:00Z",
        ])
        .json();
    let (a, b) = (key("zone-a"), key("zone-b"));
    for i in 0..n {
        let ts = format!("2026-01-01T00:00:{:02}Z", i + 1);
        dir.run(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            &a,
            "--key",
            &b,
            "--timestamp",
            &ts,
        ])
        .ok();
    }
    let module = dir.join("modules/corridors").join(CID);
    (dir, module, init)
}

fn rel(dir: &Dir, p: &Path) -> String {
    p.strip_prefix(dir.path()).unwrap().display().to_string()
}

fn oracle(dir: &Dir, module: &Path, init: &Value, ck: &Path, proofs: &[PathBuf]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/msez_oracle.py");
    let mut c = Command::new("python3");
    c.arg(script)
        .arg("verify-corridor-chain")
        .arg("--receipts")
        .arg(module.join("state/receipts"))
        .arg("--corridor-id")
        .arg(CID)
        .arg("--genesis-root")
        .arg(init["genesis_root"].as_str().unwrap())
        .arg("--checkpoint")
        .arg(ck)
        .current_dir(dir.path());
    for d in init["ruleset_digest_set"].as_array().unwrap() {
        c.arg("--ruleset-digest").arg(d.as_str().unwrap());
    }
    for p in proofs {
        c.arg("--proof").arg(p);
    }
    let out = c.output().expect("python3 runs the oracle");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(0), "oracle rejected: {report:#}");
    report
}

#[test]
fn corridor_flow_end_to_end_is_accepted_by_the_oracle() {
    let (dir, module, init) = corridor_with(3);
    // Two more in one transaction.
    let batch = dir.write(
        "batch.jsonl",
        "{\"kind\":\"settle\",\"payload\":{\"n\":1}}\n{\"kind\":\"settle\",\"amount\":\"2\"}\n",
    );
    let out = dir
        .run(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--batch",
            batch.to_str().unwrap(),
            "--key",
            &key("zone-a"),
            "--key",
            &key("zone-b"),
        ])
        .ok()
        .to_string();
    assert_eq!(out.lines().count(), 2);
    for seq in 0..5 {
        let f = module.join(format!("state/receipts/corridor-receipt.{seq}.json"));
        let bytes = std::fs::read(&f).unwrap();
        let canonical = canon::canonicalize(&bytes).unwrap();
        assert_eq!(
            bytes,
            [canonical.as_slice(), b"\n"].concat(),
            "canonical + LF"
        );
    }

    let verify = dir.run(&["corridor", "state", "verify", CID]);
    assert!(verify.ok().starts_with("STATE VERIFY OK"), "{verify:#?}");

    let ck_out = dir
        .run(&[
            "--json",
            "corridor",
            "state",
            "checkpoint",
            CID,
            "--key",
            &key("zone-a"),
            "--key",
            &key("zone-b"),
        ])
        .json();
    let ck = PathBuf::from(ck_out["path"].as_str().unwrap());
    assert_eq!(ck, module.join("state/checkpoints/checkpoint.5.json"));
    let refs = dir.run(&["refs"]).ok().to_string();
    assert!(
        refs.contains(&format!(
            "{} refs/corridors/{CID}/checkpoint",
            ck_out["digest"].as_str().unwrap()
        )),
        "{refs}"
    );
    dir.run(&[
        "corridor",
        "state",
        "verify",
        CID,
        "--checkpoint",
        &rel(&dir, &ck),
    ])
    .ok();

    let head = dir
        .run(&["--json", "corridor", "state", "head-commitment", CID])
        .json();
    let want = canon::head_commitment(
        CID,
        &digest(init["genesis_root"].as_str().unwrap()),
        5,
        &digest(head["final_state_root"].as_str().unwrap()),
        &digest(ck_out["mmr_root"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(head["head_commitment_sha256"], want.to_hex());

    let mut proofs = Vec::new();
    for seq in [0u64, 2, 4] {
        let s = seq.to_string();
        let p = dir
            .run(&[
                "--json",
                "corridor",
                "state",
                "inclusion-proof",
                CID,
                "--sequence",
                &s,
            ])
            .json();
        let proof = PathBuf::from(p["path"].as_str().unwrap());
        assert_eq!(
            load(&proof)["checkpoint_digest_sha256"],
            ck_out["digest"],
            "tied to the checkpoint of that size"
        );
        let receipt = module.join(format!("state/receipts/corridor-receipt.{seq}.json"));
        let ok = dir.verify_inclusion("corridor", &receipt, &proof, &ck);
        assert_eq!(ok.ok().trim(), "OK");
        proofs.push(proof);
    }

    let cos = dir
        .run(&[
            "--json",
            "corridor",
            "state",
            "cosign",
            CID,
            "--sequence",
            "2",
            "--key",
            &key("dev"),
        ])
        .json();
    assert_eq!(cos["proofs_added"], 1);
    let r2 = load(&module.join("state/receipts/corridor-receipt.2.json"));
    assert_eq!(r2["proof"].as_array().unwrap().len(), 3);
    dir.run(&["corridor", "state", "verify", CID]).ok();

    let report = oracle(&dir, &module, &init, &ck, &proofs);
    assert_eq!(report["receipt_count"], 5);
    assert_eq!(report["final_state_root"], head["final_state_root"]);
    assert_eq!(report["signatures"]["proofs_total"], 11);
}

fn edit(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v = load(path);
    f(&mut v);
    let mut bytes = canon::to_bytes(&v).unwrap();
    bytes.push(b'\n');
    std::fs::write(path, bytes).unwrap();
}

fn verify_fails(dir: &Dir, extra: &[&str], code: i32, needle: &str) {
    let mut args = vec!["corridor", "state", "verify", CID];
    args.extend_from_slice(extra);
    let run = dir.run(&args);
    run.code(code);
    assert!(run.stdout.starts_with("STATE VERIFY FAILED"), "{run:#?}");
    assert!(run.stderr.contains(needle), "want {needle:?}: {run:#?}");
}

#[test]
fn an_edited_receipt_field_is_a_next_root_mismatch() {
    let (dir, module, _) = corridor_with(3);
    edit(
        &module.join("state/receipts/corridor-receipt.1.json"),
        |v| v["timestamp"] = "2030-01-01T00:00:00Z".into(),
    );
    verify_fails(&dir, &[], 66, "next_root mismatch");
}

#[test]
fn a_receipt_with_another_ruleset_set_is_refused() {
    let (dir, _, _) = corridor_with(1);
    dir.run(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        &key("zone-a"),
        "--ruleset-digest",
        &"ab".repeat(32),
    ])
    .ok();
    verify_fails(&dir, &[], 66, "ruleset_digest_set mismatch");
}

#[test]
fn an_unsigned_receipt_fails_the_schema() {
    let (dir, module, _) = corridor_with(2);
    edit(
        &module.join("state/receipts/corridor-receipt.0.json"),
        |v| {
            v.as_object_mut().unwrap().remove("proof");
        },
    );
    verify_fails(&dir, &[], 65, "schema");
}

#[test]
fn a_bad_signature_is_a_signature_failure() {
    let (dir, module, _) = corridor_with(2);
    edit(
        &module.join("state/receipts/corridor-receipt.1.json"),
        |v| {
            for p in v["proof"].as_array_mut().unwrap() {
                let jws = p["jws"].as_str().unwrap();
                let flipped = if jws.starts_with('A') { "B" } else { "A" };
                p["jws"] = format!("{flipped}{}", &jws[1..]).into();
            }
        },
    );
    verify_fails(
        &dir,
        &[],
        67,
        "receipt signature verification failed (no valid proofs)",
    );
}

#[test]
fn a_signed_checkpoint_with_a_wrong_mmr_root_is_refused() {
    let (dir, _, _) = corridor_with(3);
    let ck = dir
        .run(&[
            "--json",
            "corridor",
            "state",
            "checkpoint",
            CID,
            "--key",
            &key("zone-a"),
        ])
        .json();
    let path = PathBuf::from(ck["path"].as_str().unwrap());
    // Re-signed after the edit, so only the root is wrong.
    let signer = msez::vc::KeyPair::load(Path::new(&key("zone-a"))).unwrap();
    edit(&path, |v| {
        v.as_object_mut().unwrap().remove("proof");
        v["mmr"]["root"] = "00".repeat(32).into();
        msez::vc::proof::add_proof_at(v, &signer, "2026-01-01T00:00:00Z").unwrap();
    });
    verify_fails(
        &dir,
        &["--checkpoint", &rel(&dir, &path)],
        66,
        "checkpoint mmr.root mismatch",
    );
}
