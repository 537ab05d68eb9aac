//! Multi-jurisdiction compliance receipts (seed v0.4.36): the Smart Asset Registry VC, harbor
//! quorum policies per transition class, pending quorum (unknown, exit 68) that late
//! co-signatures turn valid without rewriting the chain, and rule-evaluation evidence.

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run};

/// An asset module with trust anchors: `dev` (operator and registry issuer), harbors h1..h3
/// (their anchors carry metadata.harbor_id) and `rogue`, a trusted receipt signer that is no
/// harbor. `outsider` is not an anchor at all.
struct Harbors {
    dir: Dir,
    module: String,
}

impl Harbors {
    fn new() -> Harbors {
        let dir = Dir::repo();
        dir.fixture_genesis(&["dev"]);
        let did = |name: &str| -> String {
            dir.run(&["key", "gen", "--out", &format!("{name}.jwk")])
                .ok();
            dir.run(&["key", "did", &format!("{name}.jwk")])
                .ok()
                .trim()
                .to_string()
        };
        let mut anchors = String::from("version: 1\ntrust_anchors:\n");
        let dev = dir.run(&["key", "did", "dev.jwk"]).ok().trim().to_string();
        anchors.push_str(&format!("  - anchor_id: operator\n    type: did\n    identifier: {dev}\n    allowed_attestations: [smart_asset_receipt, smart_asset_receipt_checkpoint, smart_asset_registry, key_revocation]\n"));
        for h in ["h1", "h2", "h3"] {
            let d = did(h);
            anchors.push_str(&format!("  - anchor_id: harbor-{h}\n    type: did\n    identifier: {d}\n    allowed_attestations: [smart_asset_receipt]\n    metadata: {{harbor_id: {h}}}\n"));
        }
        let rogue = did("rogue");
        anchors.push_str(&format!("  - anchor_id: rogue\n    type: did\n    identifier: {rogue}\n    allowed_attestations: [smart_asset_receipt]\n"));
        did("outsider");
        dir.run(&[
            "asset",
            "module",
            "init",
            "--genesis",
            "genesis.json",
            "--trust-anchors",
            "trust-anchors.yaml",
        ])
        .ok();
        let module = format!("modules/smart-assets/{ASSET_ID}");
        dir.write(&format!("{module}/trust-anchors.yaml"), anchors);
        // A key msez does not know must survive `registry issue` rewriting asset.yaml.
        let yaml = dir.join(&format!("{module}/asset.yaml"));
        let text = std::fs::read_to_string(&yaml).unwrap();
        std::fs::write(&yaml, format!("{text}stack_spec_version: 0.4.44\n")).unwrap();
        Harbors { dir, module }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.dir.run(args)
    }

    /// Issues the registry VC with this policy (jurisdictions h1, h2, h3).
    fn issue(&self, policy: &str) -> Run {
        self.dir.write("policy.yaml", policy);
        self.run(&[
            "asset",
            "registry",
            "issue",
            "--asset",
            &self.module,
            "--jurisdiction",
            "h1",
            "--jurisdiction",
            "h2",
            "--jurisdiction",
            "h3",
            "--policy",
            "policy.yaml",
            "--key",
            "dev.jwk",
        ])
    }

    /// Appends one receipt of transition `kind`, signed by `dev` and `signers`, with `extra` flags.
    fn append(&self, kind: &str, signers: &[&str], extra: &[&str]) {
        self.dir.write(
            "t.json",
            format!(r#"{{"kind": "{kind}", "payload": {{"amount": 5}}}}"#),
        );
        let keys: Vec<String> = signers.iter().map(|s| format!("{s}.jwk")).collect();
        let mut args = vec![
            "asset",
            "state",
            "receipt-init",
            self.module.as_str(),
            "--transition",
            "t.json",
            "--key",
            "dev.jwk",
        ];
        for k in &keys {
            args.push("--key");
            args.push(k);
        }
        args.extend_from_slice(extra);
        self.run(&args).ok();
    }

    fn cosign(&self, sequence: &str, key: &str) {
        self.run(&[
            "asset",
            "state",
            "cosign",
            &self.module,
            "--sequence",
            sequence,
            "--key",
            &format!("{key}.jwk"),
        ])
        .ok();
    }

    fn verify(&self) -> Run {
        self.run(&["asset", "state", "verify", &self.module])
    }

    fn verify_json(&self) -> (i32, Value) {
        let out = self.run(&["asset", "state", "verify", &self.module, "--json"]);
        (out.code, out.json())
    }

    fn receipt(&self, seq: u64) -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.join(&format!(
                "{}/state/receipts/receipt.{seq}.json",
                self.module
            )))
            .unwrap(),
        )
        .unwrap()
    }
}

const QUORUM_2: &str = "rules:\n  - transition_kind: 'transfer.*'\n    jurisdiction_scope: quorum\n    harbor_quorum: 2\n";

#[test]
fn two_of_three_harbors_one_signature_is_pending_two_are_valid() {
    let h = Harbors::new();
    h.issue(QUORUM_2).ok();
    let yaml = std::fs::read_to_string(h.dir.join(&format!("{}/asset.yaml", h.module))).unwrap();
    assert!(yaml.contains("registry_vc_digest_sha256:"), "{yaml}");
    assert!(yaml.contains("stack_spec_version: 0.4.44"), "{yaml}");
    h.append("transfer.v1", &["h1"], &[]);
    let out = h.verify();
    out.code(68);
    assert!(
        out.stdout.starts_with("ASSET STATE VERIFY UNKNOWN"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("unknown (pending quorum 2 of 3: missing h2, h3)"),
        "{out:?}"
    );
    let (_, v) = h.verify_json();
    assert_eq!(v["verdict"], "unknown");
    assert_eq!(v["errors"][0]["code"], "missing.pending_quorum");
    // History goes on while h2 and h3 are offline: appends, checkpoints and proofs.
    h.append("noop", &[], &[]);
    h.run(&[
        "asset",
        "state",
        "checkpoint",
        &h.module,
        "--key",
        "dev.jwk",
        "--from-files",
    ])
    .ok();
    h.run(&[
        "asset",
        "state",
        "inclusion-proof",
        &h.module,
        "--sequence",
        "0",
        "--from-files",
    ])
    .ok();
    let before = h.receipt(0)["next_root"].clone();
    // h2's late co-signature arrives: valid, and receipt 0 keeps its next_root.
    h.cosign("0", "h2");
    h.verify().ok();
    assert_eq!(h.receipt(0)["next_root"], before);
    assert_eq!(h.receipt(0)["proof"].as_array().unwrap().len(), 3);
}

#[test]
fn a_signature_by_a_key_that_is_no_harbor_does_not_count() {
    let h = Harbors::new();
    h.issue(QUORUM_2).ok();
    // rogue is a trusted receipt signer, outsider is not an anchor: neither is a harbor.
    h.append("transfer.v1", &["h1", "rogue", "outsider"], &[]);
    let out = h.verify();
    out.code(68);
    assert!(out.stderr.contains("missing h2, h3"), "{out:?}");
}

#[test]
fn a_receipt_claiming_a_lower_quorum_than_the_policy_is_still_pending() {
    let h = Harbors::new();
    h.issue(QUORUM_2).ok();
    h.append(
        "transfer.v1",
        &["h1"],
        &[
            "--jurisdiction-scope",
            "quorum",
            "--harbor-quorum",
            "1",
            "--harbor-id",
            "h1",
            "--harbor-id",
            "h2",
            "--harbor-id",
            "h3",
        ],
    );
    assert_eq!(h.receipt(0)["harbor_quorum"], 1);
    let out = h.verify();
    out.code(68);
    assert!(out.stderr.contains("pending quorum 2 of 3"), "{out:?}");
    // A harbor the registry VC does not bind cannot be listed.
    h.append("transfer.v1", &["h1", "h2"], &["--harbor-id", "h9"]);
    let (code, v) = h.verify_json();
    assert_eq!(code, 65, "{v}");
    assert!(
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "schema.harbor_policy")
    );
}

#[test]
fn all_active_waits_for_every_active_harbor_only() {
    let h = Harbors::new();
    h.issue("inactive_harbors: [h3]\nrules:\n  - transition_kind: '*'\n    jurisdiction_scope: all_active\n")
        .ok();
    h.append("mint.v1", &["h1"], &[]);
    let out = h.verify();
    out.code(68);
    assert!(
        out.stderr.contains("pending quorum 2 of 2: missing h2"),
        "{out:?}"
    );
    // h3 is bound but inactive: all_active does not wait for it.
    h.cosign("0", "h2");
    h.verify().ok();
}

#[test]
fn subset_needs_every_harbor_the_receipt_lists() {
    let h = Harbors::new();
    h.issue("rules:\n  - transition_kind: 'transfer.*'\n    jurisdiction_scope: subset\n")
        .ok();
    h.append(
        "transfer.v1",
        &["h1", "h2"],
        &["--harbor-id", "h1", "--harbor-id", "h3"],
    );
    let out = h.verify();
    out.code(68);
    assert!(
        out.stderr.contains("pending quorum 2 of 2: missing h3"),
        "{out:?}"
    );
    h.cosign("0", "h3");
    h.verify().ok();
    // A kind no rule covers needs no harbor.
    h.append("noop", &[], &[]);
    h.verify().ok();
}

#[test]
fn without_a_registry_vc_the_receipts_own_fields_apply_with_a_warning() {
    let h = Harbors::new();
    h.append(
        "transfer.v1",
        &["h1"],
        &[
            "--jurisdiction-scope",
            "quorum",
            "--harbor-quorum",
            "2",
            "--harbor-id",
            "h1",
            "--harbor-id",
            "h2",
        ],
    );
    let (code, v) = h.verify_json();
    assert_eq!(code, 68, "{v}");
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no registry VC pins a harbor policy"),
        "{v}"
    );
    h.cosign("0", "h2");
    let out = h.verify();
    out.ok();
    assert!(out.stdout.contains("no registry VC pins"), "{out:?}");
}

#[test]
fn the_registry_vc_needs_a_trusted_issuer_and_its_pin_holds() {
    let h = Harbors::new();
    // rogue is an anchor, but not allowed smart_asset_registry.
    h.dir.write("policy.yaml", QUORUM_2);
    let out = h.run(&[
        "asset",
        "registry",
        "issue",
        "--asset",
        &h.module,
        "--jurisdiction",
        "h1",
        "--policy",
        "policy.yaml",
        "--key",
        "rogue.jwk",
        "--json",
    ]);
    out.code(67);
    assert_eq!(out.json()["error"]["code"], "signature.untrusted");
    // A writer lowering the pinned policy to quorum 1 breaks the pin.
    h.issue(QUORUM_2).ok();
    h.append("transfer.v1", &["h1", "h2"], &[]);
    h.verify().ok();
    let vc_path = h.dir.join(&format!("{}/registry.vc.json", h.module));
    let mut vc: Value = serde_json::from_str(&std::fs::read_to_string(&vc_path).unwrap()).unwrap();
    vc["credentialSubject"]["harbor_policy"]["rules"][0]["harbor_quorum"] = 1.into();
    std::fs::write(&vc_path, serde_json::to_vec_pretty(&vc).unwrap()).unwrap();
    let out = h.run(&["asset", "state", "verify", &h.module, "--json"]);
    out.code(66);
    assert_eq!(out.json()["error"]["code"], "digest.pin_mismatch");
}

#[test]
fn rule_evaluation_evidence_is_attached_and_checked() {
    let h = Harbors::new();
    let evidence = serde_json::json!({
        "type": "MSEZRuleEvaluationEvidence", "evaluated_at": "2026-01-01T00:00:00Z",
        "harbor_id": "h1", "transition_kind": "transfer.v1", "result": "pass",
        "outputs": {"limit_ok": true}, "hashes": {"kyc": "ab".repeat(32)},
        "zk": {"proof_system": "groth16", "commitments": ["cd".repeat(32)]}
    });
    h.dir
        .write("evidence.json", serde_json::to_vec(&evidence).unwrap());
    h.append(
        "transfer.v1",
        &[],
        &["--attach-rule-eval-evidence", "evidence.json"],
    );
    let att = &h.receipt(0)["transition"]["attachments"][0];
    assert_eq!(att["artifact_type"], "rule-eval-evidence");
    assert_eq!(att["harbor_id"], "h1");
    assert_eq!(att["result"], "pass");
    assert_eq!(att["uri"], "../../../evidence.json");
    let digest = h
        .run(&["digest", "--type", "rule-eval-evidence", "evidence.json"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(att["digest_sha256"], digest.as_str());
    h.verify().ok();
    // The evidence is stored in .msez under its type, and fsck agrees with its digest.
    h.run(&["show", &format!("rule-eval-evidence:{digest}")])
        .ok();
    h.run(&["fsck", "--strict"]).ok();
    // Evidence about another kind, or not matching its schema, is refused.
    h.dir
        .write("t.json", r#"{"kind": "mint.v1", "payload": {}}"#);
    let wrong_kind = h.run(&[
        "asset",
        "state",
        "receipt-init",
        &h.module,
        "--transition",
        "t.json",
        "--attach-rule-eval-evidence",
        "evidence.json",
    ]);
    wrong_kind.code(65);
    let mut bad = evidence.clone();
    bad["result"] = "maybe".into();
    h.dir.write("bad.json", serde_json::to_vec(&bad).unwrap());
    h.run(&[
        "asset",
        "state",
        "receipt-init",
        &h.module,
        "--attach-rule-eval-evidence",
        "bad.json",
    ])
    .code(65);
}

/// A harbor key revoked through a checkpoint still counts toward the quorum on the receipts
/// that checkpoint holds, and no longer on a receipt appended after it (issue 4 item 5).
#[test]
fn a_revoked_harbor_key_counts_toward_the_quorum_only_inside_its_checkpoint() {
    let h = Harbors::new();
    h.issue(QUORUM_2).ok();
    h.append("transfer.v1", &["h1", "h2"], &[]);
    h.run(&[
        "asset",
        "state",
        "checkpoint",
        &h.module,
        "--key",
        "dev.jwk",
    ])
    .ok();
    let anchors = format!("{}/trust-anchors.yaml", h.module);
    let checkpoint = format!("{}/state/checkpoints/checkpoint.1.json", h.module);
    h.run(&[
        "key",
        "revoke",
        "h2.jwk",
        "--valid-through",
        &checkpoint,
        "--key",
        "dev.jwk",
        "--trust-anchors",
        &anchors,
    ])
    .ok();
    // Receipt 0 is inside checkpoint.1: h2's signature still makes the quorum.
    h.verify().ok();
    // Receipt 1, appended after the revocation and signed with the stolen h2 key by a tool
    // that does not refuse (msez does), needs another harbor.
    h.append("transfer.v1", &["h1"], &[]);
    let receipt = format!("{}/state/receipts/receipt.1.json", h.module);
    h.run(&["vc", "sign", &receipt, "--key", "h2.jwk", "--out", &receipt])
        .ok();
    assert_eq!(h.receipt(1)["proof"].as_array().unwrap().len(), 3);
    let (code, v) = h.verify_json();
    assert_eq!(code, 67, "{v}");
    assert_eq!(v["errors"][0]["code"], "signature.key_revoked", "{v}");
    let message = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("sequence 1 is not inside valid_through"),
        "{message}"
    );
    h.cosign("1", "h3");
    h.verify().ok();
}
