//! Key lifecycle by chain position (issue 4 item 5): real keys, real signed receipts,
//! checkpoints and credentials, the real binary. zone-a signs receipts; dev is the anchor
//! allowed to rotate and revoke; zone-b is the key zone-a rotates to.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run};

use crate::util::{fixture_did as did, fixture_key as key_path};

fn chain_at(seq: u64) -> String {
    format!("asset:{ASSET_ID}/core@{seq}")
}

/// A repository with an asset module, three receipts signed by zone-a, a checkpoint of them,
/// and `ta.yaml`: zone-a may sign receipts, dev may sign receipts, rotate and revoke keys.
struct Lab {
    dir: Dir,
    module: String,
}

impl Lab {
    fn new() -> Lab {
        let (dir, module) = Dir::asset_module(&["dev", "zone-a", "zone-b"], &[]);
        dir.write(
            "ta.yaml",
            format!(
                "version: 1\ntrust_anchors:\n  - anchor_id: ops\n    type: did\n    identifier: {}\n    allowed_attestations: [smart_asset_receipt, smart_asset_receipt_checkpoint, key_rotation, key_revocation]\n  - anchor_id: zone-a\n    type: did\n    identifier: {}\n    allowed_attestations: [smart_asset_receipt]\n",
                did("dev"),
                did("zone-a")
            ),
        );
        let lab = Lab { dir, module };
        for i in 0..3 {
            lab.append("zone-a", &format!("2026-01-0{}T00:00:00Z", i + 1), None)
                .ok();
        }
        lab.state("checkpoint", &["--key", "dev.jwk"]).ok();
        lab
    }

    fn state(&self, verb: &str, extra: &[&str]) -> Run {
        let mut args = vec!["asset", "state", verb, self.module.as_str()];
        args.extend_from_slice(extra);
        self.dir.run(&args)
    }

    /// Appends one receipt signed by `key`; `epoch` backdates the proof's `created` too.
    fn append(&self, key: &str, timestamp: &str, epoch: Option<&str>) -> Run {
        let key = format!("{key}.jwk");
        let mut cmd = self.dir.cmd(&[
            "asset",
            "state",
            "receipt-init",
            &self.module,
            "--key",
            &key,
            "--timestamp",
            timestamp,
        ]);
        if let Some(e) = epoch {
            cmd.env("SOURCE_DATE_EPOCH", e);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn verify(&self) -> Run {
        self.state("verify", &["--trust-anchors", "ta.yaml", "--json"])
    }

    fn checkpoint(&self, size: u64) -> String {
        format!("{}/state/checkpoints/checkpoint.{size}.json", self.module)
    }

    /// `msez key revoke zone-a` through checkpoint.3, signed by `signer`.
    fn revoke(&self, signer: &str) -> Run {
        let signer = format!("{signer}.jwk");
        self.dir.run(&[
            "key",
            "revoke",
            "zone-a.jwk",
            "--valid-through",
            &self.checkpoint(3),
            "--key",
            &signer,
            "--trust-anchors",
            "ta.yaml",
            "--json",
        ])
    }

    /// `msez key rotate` zone-a -> zone-b from sequence `from`, signed by `old` and `auth`.
    fn rotate(&self, old: &str, auth: &str, from: u64) -> Run {
        let (old, auth, from) = (format!("{old}.jwk"), format!("{auth}.jwk"), chain_at(from));
        self.dir.run(&[
            "key",
            "rotate",
            "--anchor-id",
            "zone-a",
            "--old-key",
            &old,
            "--new-key",
            "zone-b.jwk",
            "--from",
            &from,
            "--key",
            &auth,
            "--trust-anchors",
            "ta.yaml",
            "--json",
        ])
    }
}

fn first_error(run: &Run) -> Value {
    run.json()["errors"][0].clone()
}

#[test]
fn a_revoked_key_counts_inside_its_checkpoint_and_not_after_even_backdated() {
    let lab = Lab::new();
    let issued = lab.revoke("dev").json();
    let credential = issued["path"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&credential).is_file());
    // The credential is in .msez and referenced from the anchors file.
    assert!(issued["stored"].as_str().unwrap().starts_with("vc:"));
    let ta = std::fs::read_to_string(lab.dir.join("ta.yaml")).unwrap();
    assert!(ta.contains("key_revocations"), "{ta}");

    // Receipts 0..2 sit inside valid_through: the chain verifies.
    let ok = lab.verify();
    ok.code(0);
    assert_eq!(ok.json()["receipt_count"], 3);

    // A receipt appended after it fails, though its timestamp and proof claim 2020.
    lab.append("zone-a", "2020-01-01T00:00:00Z", Some("1577836800"))
        .ok();
    let r3: Value = serde_json::from_str(
        &std::fs::read_to_string(
            lab.dir
                .join(&format!("{}/state/receipts/receipt.3.json", lab.module)),
        )
        .unwrap(),
    )
    .unwrap();
    let proofs = r3["proof"].clone();
    let created = proofs
        .as_array()
        .map(|a| a[0]["created"].clone())
        .unwrap_or_else(|| proofs["created"].clone());
    assert_eq!(created, "2020-01-01T00:00:00Z");
    let bad = lab.verify();
    bad.code(67);
    let e = first_error(&bad);
    assert_eq!(e["code"], "signature.key_revoked", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains(&did("zone-a")), "{message}");
    assert!(message.contains("key-revocation."), "{message}");
    assert!(message.contains("sequence 3"), "{message}");
}

#[test]
fn a_revoked_key_on_a_branch_that_does_not_match_the_checkpoint_fails() {
    let lab = Lab::new();
    // A checkpoint whose root is of another chain of the same size (forged by editing).
    let ck_path = lab.dir.join(&lab.checkpoint(3));
    let mut ck: Value = serde_json::from_str(&std::fs::read_to_string(&ck_path).unwrap()).unwrap();
    ck["mmr"]["root"] = "ab".repeat(32).into();
    ck["proof"] = Value::Array(vec![]);
    lab.dir
        .write("other.json", serde_json::to_vec(&ck).unwrap());
    lab.dir
        .run(&[
            "vc",
            "sign",
            "other.json",
            "--key",
            "dev.jwk",
            "--out",
            "other.json",
        ])
        .ok();
    lab.dir
        .run(&[
            "key",
            "revoke",
            "zone-a.jwk",
            "--valid-through",
            "other.json",
            "--key",
            "dev.jwk",
            "--trust-anchors",
            "ta.yaml",
        ])
        .ok();
    let bad = lab.verify();
    bad.code(67);
    let e = first_error(&bad);
    assert_eq!(e["code"], "signature.key_revoked");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("valid_through commits to abab"),
        "{e}"
    );
}

#[test]
fn a_rotated_key_counts_from_its_position_and_not_before() {
    let lab = Lab::new();
    // zone-b is no anchor: before any rotation its receipt is untrusted.
    lab.append("zone-b", "2026-01-04T00:00:00Z", None).ok();
    let before = lab.verify();
    before.code(67);
    assert_eq!(first_error(&before)["code"], "signature.untrusted");

    lab.rotate("zone-a", "dev", 3).ok();
    lab.verify().code(0);
    // The old key still counts until it is revoked.
    lab.append("zone-a", "2026-01-05T00:00:00Z", None).ok();
    lab.verify().code(0);

    // A rotation effective from 5 does not cover zone-b's receipt at 3.
    let late = Lab::new();
    late.append("zone-b", "2026-01-04T00:00:00Z", None).ok();
    late.rotate("zone-a", "dev", 5).ok();
    let bad = late.verify();
    bad.code(67);
    let e = first_error(&bad);
    assert_eq!(e["code"], "signature.key_not_yet_valid", "{e}");
    assert!(e["message"].as_str().unwrap().contains(&did("zone-b")));
}

#[test]
fn a_rotation_revoked_old_key_and_new_key_together() {
    let lab = Lab::new();
    lab.rotate("zone-a", "dev", 3).ok();
    lab.revoke("dev").ok();
    lab.append("zone-b", "2026-01-04T00:00:00Z", None).ok();
    lab.verify().code(0);
    lab.append("zone-a", "2026-01-05T00:00:00Z", None).ok();
    assert_eq!(first_error(&lab.verify())["code"], "signature.key_revoked");
}

#[test]
fn a_forged_rotation_does_not_count_and_says_why() {
    // Not signed by the old key: signed by the new key and the authorizing anchor instead.
    let lab = Lab::new();
    let issued = lab.rotate("zone-a", "dev", 3).json();
    let path = issued["path"].as_str().unwrap().to_string();
    let mut vc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    vc.as_object_mut().unwrap().remove("proof");
    std::fs::write(&path, serde_json::to_vec(&vc).unwrap()).unwrap();
    for k in ["zone-b.jwk", "dev.jwk"] {
        lab.dir
            .run(&["vc", "sign", &path, "--key", k, "--out", &path])
            .ok();
    }
    // The digest pinned in ta.yaml no longer matches: pin the forged file by path only.
    let ta = std::fs::read_to_string(lab.dir.join("ta.yaml")).unwrap();
    let pinned = format!(
        "digest_sha256: {}",
        issued["digest_sha256"].as_str().unwrap()
    );
    lab.dir.write("ta.yaml", ta.replace(&pinned, ""));
    lab.append("zone-b", "2026-01-04T00:00:00Z", None).ok();
    let bad = lab.verify();
    bad.code(67);
    let e = first_error(&bad);
    assert_eq!(e["code"], "signature.key_rotation_rejected", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("not signed by the old key"), "{message}");
    assert!(
        bad.json()["warnings"]
            .to_string()
            .contains("key rotation ignored")
    );

    // Signed by the old key but by no other anchor allowed key_rotation.
    let lab = Lab::new();
    lab.rotate("zone-a", "zone-a", 3).ok();
    lab.append("zone-b", "2026-01-04T00:00:00Z", None).ok();
    let bad = lab.verify();
    bad.code(67);
    let e = first_error(&bad);
    assert_eq!(e["code"], "signature.key_rotation_rejected");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("no trust anchor allowed key_rotation"),
        "{e}"
    );
}

#[test]
fn a_revocation_by_an_unauthorized_key_is_ignored_and_reported() {
    let lab = Lab::new();
    lab.revoke("zone-b").ok();
    lab.append("zone-a", "2026-01-04T00:00:00Z", None).ok();
    let run = lab.verify();
    run.code(0);
    let warnings = run.json()["warnings"].to_string();
    assert!(warnings.contains("key revocation ignored"), "{warnings}");
    assert!(
        warnings.contains("no trust anchor allowed key_revocation"),
        "{warnings}"
    );
}

#[test]
fn vc_verify_judges_keys_by_position_not_time() {
    let lab = Lab::new();
    lab.revoke("dev").ok();
    lab.dir.write("obj.json", br#"{"hello": "world"}"#);
    lab.dir
        .run(&[
            "vc",
            "sign",
            "obj.json",
            "--key",
            "zone-a.jwk",
            "--out",
            "obj.json",
        ])
        .ok();
    let args = [
        "vc",
        "verify",
        "obj.json",
        "--trust-anchors",
        "ta.yaml",
        "--json",
    ];
    // Outside any chain a revoked key's proof is unknown.
    let run = lab.dir.run(&args);
    run.code(68);
    assert_eq!(run.json()["error"]["code"], "missing.key_position_unknown");
    assert!(
        run.stdout
            .contains("unknown (key revoked; position not provable)")
    );
    // At a position after valid_through it is revoked; inside, still unknown.
    let after = chain_at(3);
    let mut at = args.to_vec();
    at.extend(["--at", after.as_str()]);
    let run = lab.dir.run(&at);
    run.code(67);
    assert_eq!(run.json()["error"]["code"], "signature.key_revoked");
    let inside = chain_at(1);
    let mut at = args.to_vec();
    at.extend(["--at", inside.as_str()]);
    assert_eq!(
        lab.dir.run(&at).json()["error"]["code"],
        "missing.key_position_unknown"
    );
    // A key rotated in counts as its anchor from its position on, not before.
    lab.rotate("zone-a", "dev", 4).ok();
    lab.dir
        .run(&[
            "vc",
            "sign",
            "obj.json",
            "--key",
            "zone-b.jwk",
            "--out",
            "b.json",
        ])
        .ok();
    let mut b = vec!["vc", "verify", "b.json", "--trust-anchors", "ta.yaml"];
    b.extend(["--attestation", "smart_asset_receipt", "--json"]);
    // b.json still carries zone-a's proof too; drop it so only zone-b signs.
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(lab.dir.join("b.json")).unwrap()).unwrap();
    let last = v["proof"].as_array().unwrap().last().unwrap().clone();
    v["proof"] = last;
    lab.dir.write("b.json", serde_json::to_vec(&v).unwrap());
    let (p5, p2) = (chain_at(5), chain_at(2));
    let mut at5 = b.clone();
    at5.extend(["--at", p5.as_str()]);
    lab.dir.run(&at5).code(0);
    let mut at2 = b.clone();
    at2.extend(["--at", p2.as_str()]);
    assert_eq!(
        lab.dir.run(&at2).code(67).json()["error"]["code"],
        "signature.key_not_yet_valid"
    );
}

#[test]
fn the_rotation_policy_is_an_advisory_warning_from_the_logs_timestamps() {
    let lab = Lab::new();
    lab.dir.write(
        "key-rotation.yaml",
        "version: 1\npolicy:\n  rotation_days: 1\n  grace_days: 0\n  max_key_age_days: 1\n  revocation: {method: manual}\n",
    );
    let ta = std::fs::read_to_string(lab.dir.join("ta.yaml")).unwrap();
    lab.dir.write(
        "ta.yaml",
        format!("{ta}key_rotation_policy:\n  path: key-rotation.yaml\n"),
    );
    // Receipts dated 2026-01-01 .. 2026-01-03: zone-a signed over 2 days, more than 1.
    let run = lab.verify();
    run.code(0);
    let warnings = run.json()["warnings"].to_string();
    assert!(warnings.contains("max_key_age_days is 1"), "{warnings}");
    assert!(warnings.contains("advisory"), "{warnings}");
}

#[test]
fn checkpoint_and_inclusion_proof_refuse_a_chain_a_revoked_key_extended() {
    let lab = Lab::new();
    lab.revoke("dev").ok();
    lab.append("zone-a", "2026-01-04T00:00:00Z", None).ok();
    let ta = ["--trust-anchors", "ta.yaml"];
    let ck = lab.state("checkpoint", &[ta[0], ta[1], "--key", "dev.jwk"]);
    ck.code(67);
    assert!(ck.stderr.contains("revoked"), "{ck:#?}");
    lab.state("inclusion-proof", &[ta[0], ta[1], "--sequence", "1"])
        .code(67);
}

#[test]
fn corridor_chains_enforce_revocations_by_position_too() {
    const CID: &str = "org.example.corridor.a-b";
    let dir = Dir::repo();
    for name in ["dev", "zone-a"] {
        std::fs::copy(key_path(name), dir.join(&format!("{name}.jwk"))).unwrap();
    }
    dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        "dev.jwk",
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ])
    .ok();
    let append = |ts: &str| {
        dir.run(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            "zone-a.jwk",
            "--timestamp",
            ts,
        ])
        .ok();
    };
    append("2026-01-01T00:00:01Z");
    append("2026-01-01T00:00:02Z");
    dir.run(&["corridor", "state", "checkpoint", CID, "--key", "dev.jwk"])
        .ok();
    dir.write(
        "ta.yaml",
        format!(
            "version: 1\ntrust_anchors:\n  - anchor_id: ops\n    type: did\n    identifier: {}\n    allowed_attestations: ['*']\n  - anchor_id: zone-a\n    type: did\n    identifier: {}\n    allowed_attestations: [corridor_receipt]\n",
            did("dev"),
            did("zone-a")
        ),
    );
    let ck = format!("modules/corridors/{CID}/state/checkpoints/checkpoint.2.json");
    let issued = dir
        .run(&[
            "key",
            "revoke",
            "zone-a.jwk",
            "--valid-through",
            &ck,
            "--key",
            "dev.jwk",
            "--trust-anchors",
            "ta.yaml",
            "--json",
        ])
        .json();
    assert_eq!(
        issued["credential"]["credentialSubject"]["valid_through"]["chain"]["corridor_id"],
        CID
    );
    let verify = [
        "corridor",
        "state",
        "verify",
        CID,
        "--trust-anchors",
        "ta.yaml",
        "--json",
    ];
    dir.run(&verify).ok();
    append("2020-01-01T00:00:00Z");
    let bad = dir.run(&verify);
    bad.code(67);
    assert_eq!(first_error(&bad)["code"], "signature.key_revoked");
}

/// The checkpoint of receipts 0..2 (signed by dev), its proof stripped and re-signed by `key`
/// with `vc sign`; `root` replaces its MMR root (a contradicting checkpoint). Returns its name.
fn resign_checkpoint(lab: &Lab, key: &str, name: &str, root: Option<&str>) -> String {
    let ck_path = lab.dir.join(&lab.checkpoint(3));
    let mut ck: Value = serde_json::from_str(&std::fs::read_to_string(&ck_path).unwrap()).unwrap();
    ck["proof"] = Value::Array(vec![]);
    if let Some(r) = root {
        ck["mmr"]["root"] = r.into();
    }
    lab.dir.write(name, serde_json::to_vec(&ck).unwrap());
    let key = format!("{key}.jwk");
    lab.dir
        .run(&["vc", "sign", name, "--key", &key, "--out", name])
        .ok();
    name.to_string()
}

/// `verify-inclusion` of receipt `seq` with `proof` and `checkpoint`, against ta.yaml.
fn verify_inclusion(lab: &Lab, seq: u64, proof: &str, checkpoint: &str) -> Run {
    let receipt = format!("{}/state/receipts/receipt.{seq}.json", lab.module);
    lab.dir.run(&[
        "asset",
        "state",
        "verify-inclusion",
        "--receipt",
        &receipt,
        "--proof",
        proof,
        "--checkpoint",
        checkpoint,
        "--trust-anchors",
        "ta.yaml",
        "--json",
    ])
}

/// `state verify --checkpoint` against ta.yaml.
fn verify_checkpoint(lab: &Lab, checkpoint: &str) -> Run {
    lab.state(
        "verify",
        &[
            "--trust-anchors",
            "ta.yaml",
            "--checkpoint",
            checkpoint,
            "--json",
        ],
    )
}

/// Asserts `run` failed as unknown (class missing, 68: the key's place in its lifecycle cannot
/// be established): the revoked key's proof on an object outside the chain, naming the key and
/// the revocation credential.
#[track_caller]
fn assert_unknown(run: &Run, e: &Value) {
    run.code(68);
    assert_eq!(e["code"], "missing.key_position_unknown", "{run:#?}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("unknown (key revoked; position not provable)"),
        "{message}"
    );
    assert!(message.contains(&did("zone-a")), "{message}");
    assert!(message.contains("key-revocation."), "{message}");
}

#[test]
fn a_checkpoint_signed_by_a_revoked_key_is_unknown_where_it_is_checked() {
    let lab = Lab::new();
    let za = resign_checkpoint(&lab, "zone-a", "za.json", None);
    let dev = lab.checkpoint(3);
    for (ck, out) in [(za.as_str(), "p-za.json"), (dev.as_str(), "p-dev.json")] {
        lab.state(
            "inclusion-proof",
            &["--sequence", "1", "--checkpoint", ck, "--out", out],
        )
        .ok();
    }
    // Contradicting checkpoints (same size, another root), by zone-a and by dev.
    let za_fork = resign_checkpoint(&lab, "zone-a", "za-fork.json", Some(&"ab".repeat(32)));
    let dev_fork = resign_checkpoint(&lab, "dev", "dev-fork.json", Some(&"ab".repeat(32)));
    let evidence = |a: &str, b: &str, out: &str| {
        lab.dir.run(&[
            "asset",
            "state",
            "fork-evidence",
            a,
            b,
            "--trust-anchors",
            "ta.yaml",
            "--out",
            out,
            "--json",
        ])
    };
    let check_evidence = |file: &str| {
        lab.dir.run(&[
            "asset",
            "state",
            "fork-evidence",
            "--verify",
            file,
            "--trust-anchors",
            "ta.yaml",
            "--json",
        ])
    };

    // Before the revocation zone-a (an anchor allowed smart_asset_receipt) signs checkpoints.
    verify_checkpoint(&lab, &za).ok();
    verify_inclusion(&lab, 1, "p-za.json", &za).ok();
    evidence(&za, &za_fork, "ev-za.json").ok();

    lab.revoke("dev").ok();

    let run = verify_checkpoint(&lab, &za);
    assert_unknown(&run, &first_error(&run));
    let run = verify_inclusion(&lab, 1, "p-za.json", &za);
    assert_unknown(&run, &run.json()["error"]);
    let run = evidence(&za, &za_fork, "ev-za-2.json");
    assert_unknown(&run, &run.json()["error"]);
    assert!(!lab.dir.join("ev-za-2.json").exists());
    let run = check_evidence("ev-za.json");
    assert_unknown(&run, &run.json()["error"]);

    // The same checks pass on checkpoints by dev, a key that is not revoked. Receipt 1 is
    // zone-a's, but its proof's MMR is valid_through's: it is provably inside.
    verify_checkpoint(&lab, &dev).ok();
    verify_inclusion(&lab, 1, "p-dev.json", &dev).ok();
    evidence(&dev, &dev_fork, "ev-dev.json").ok();
    check_evidence("ev-dev.json").ok();
}

#[test]
fn a_revoked_keys_receipt_proven_against_another_checkpoint_is_unknown() {
    let lab = Lab::new();
    // dev extends the chain and checkpoints 4 receipts; receipt 1 is still zone-a's.
    lab.append("dev", "2026-01-04T00:00:00Z", None).ok();
    lab.state("checkpoint", &["--key", "dev.jwk"]).ok();
    let ck4 = lab.checkpoint(4);
    lab.state(
        "inclusion-proof",
        &["--sequence", "1", "--checkpoint", &ck4, "--out", "p4.json"],
    )
    .ok();
    verify_inclusion(&lab, 1, "p4.json", &ck4).ok();
    lab.revoke("dev").ok();
    // The chain places receipt 1 inside valid_through (size 3); the proof alone cannot.
    lab.verify().code(0);
    let run = verify_inclusion(&lab, 1, "p4.json", &ck4);
    assert_unknown(&run, &run.json()["error"]);
    assert!(
        run.stdout.contains("is not valid_through's (size 3"),
        "{run:#?}"
    );
    // dev's own receipt 3 in the same checkpoint is unaffected.
    lab.state(
        "inclusion-proof",
        &[
            "--sequence",
            "3",
            "--checkpoint",
            &ck4,
            "--out",
            "p4-3.json",
        ],
    )
    .ok();
    verify_inclusion(&lab, 3, "p4-3.json", &ck4).ok();
}

#[test]
fn a_checkpoint_signed_by_a_rotated_in_key_counts_as_its_anchor() {
    let lab = Lab::new();
    let zb = resign_checkpoint(&lab, "zone-b", "zb.json", None);
    lab.state(
        "inclusion-proof",
        &["--sequence", "1", "--checkpoint", &zb, "--out", "p-zb.json"],
    )
    .ok();
    // zone-b is no anchor until zone-a rotates to it.
    let run = verify_checkpoint(&lab, &zb);
    run.code(67);
    assert_eq!(first_error(&run)["code"], "signature.untrusted");
    lab.rotate("zone-a", "dev", 3).ok();
    verify_checkpoint(&lab, &zb).ok();
    verify_inclusion(&lab, 1, "p-zb.json", &zb).ok();
}

#[test]
fn anchor_verify_treats_an_asset_checkpoint_by_a_revoked_key_as_unknown() {
    const CID: &str = "org.example.corridor.keys";
    let lab = Lab::new();
    let za = resign_checkpoint(&lab, "zone-a", "za.json", None);
    let dev = lab.checkpoint(3);
    // dev may also sign the corridor's receipts and checkpoints.
    let ta = std::fs::read_to_string(lab.dir.join("ta.yaml")).unwrap();
    lab.dir.write(
        "ta.yaml",
        ta.replace(
            "key_revocation]",
            "key_revocation, corridor_receipt, corridor_checkpoint]",
        ),
    );
    let ok = |args: &[&str]| lab.dir.run(args).ok().to_string();
    ok(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        "dev.jwk",
    ]);
    ok(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        "dev.jwk",
        "--attach-smart-asset-receipt-checkpoint",
        &za,
        "--attach-smart-asset-receipt-checkpoint",
        &dev,
    ]);
    ok(&["corridor", "state", "checkpoint", CID, "--key", "dev.jwk"]);
    ok(&[
        "corridor",
        "state",
        "inclusion-proof",
        CID,
        "--sequence",
        "0",
    ]);
    let corridor = format!("modules/corridors/{CID}");
    let anchor_verify = |asset_checkpoint: &str| {
        lab.dir.run(&[
            "asset",
            "anchor-verify",
            "--corridor-receipt",
            &format!("{corridor}/state/receipts/corridor-receipt.0.json"),
            "--proof",
            &format!("{corridor}/state/proofs/corridor.inclusion-proof.0.json"),
            "--checkpoint",
            &format!("{corridor}/state/checkpoints/checkpoint.1.json"),
            "--asset-checkpoint",
            asset_checkpoint,
            "--trust-anchors",
            "ta.yaml",
            "--json",
        ])
    };
    assert_eq!(anchor_verify(&za).json()["ok"], true);
    lab.revoke("dev").ok();
    let run = anchor_verify(&za);
    assert_unknown(&run, &run.json()["error"]);
    assert_eq!(anchor_verify(&dev).json()["ok"], true);
}

/// Every file under `.msez` and the module, with its bytes.
fn snapshot(lab: &Lab) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(&lab.dir.join(".msez"), &mut out);
    walk(&lab.dir.join(&lab.module), &mut out);
    out
}

#[test]
fn a_revoked_key_is_refused_before_anything_is_written() {
    let lab = Lab::new();
    lab.revoke("dev").ok();
    let before = snapshot(&lab);
    let ta = ["--trust-anchors", "ta.yaml"];
    for (verb, extra) in [
        ("receipt-init", vec!["--timestamp", "2026-01-04T00:00:00Z"]),
        ("checkpoint", vec![]),
        ("cosign", vec!["--sequence", "2"]),
    ] {
        let mut args = vec![ta[0], ta[1], "--key", "dev.jwk", "--key", "zone-a.jwk"];
        args.extend(extra);
        args.push("--json");
        let run = lab.state(verb, &args);
        run.code(67);
        let e = run.json()["error"].clone();
        assert_eq!(
            e["code"], "signature.key_revoked_signer",
            "{verb}: {run:#?}"
        );
        let message = e["message"].as_str().unwrap();
        assert!(message.contains(&did("zone-a")), "{message}");
        assert!(message.contains("key-revocation."), "{message}");
        assert!(message.contains("signs nothing new"), "{message}");
        // Head ref, chain state, objects, receipts and checkpoints: all unchanged.
        assert!(snapshot(&lab) == before, "{verb} wrote something");
    }
    // A live key still signs.
    lab.state(
        "receipt-init",
        &[
            ta[0],
            ta[1],
            "--key",
            "dev.jwk",
            "--timestamp",
            "2026-01-04T00:00:00Z",
        ],
    )
    .ok();
    lab.verify().code(0);
}
