//! Anchoring (seed v0.4.34): an asset checkpoint attached to a corridor receipt, proven inside a
//! signed corridor checkpoint with `asset anchor-verify`; every mismatch fails with its class.
//! Also the transition-type lock (§10.2): lock, verify, and enforcement on receipts.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run};

const CID: &str = "org.example.corridor.anchor";

/// An asset chain of `n` receipts with a checkpoint and a proof of receipt 1, and a corridor
/// whose receipt 0 attaches that checkpoint, checkpointed and proven.
struct Anchored {
    dir: Dir,
    asset: String,
    corridor: String,
}

impl Anchored {
    fn new() -> Anchored {
        let (dir, asset) = Dir::asset_module(&["dev", "zone-a"], &[]);
        let a = Anchored {
            asset,
            corridor: format!("modules/corridors/{CID}"),
            dir,
        };
        a.asset_receipts(2);
        a.ok(&["asset", "state", "checkpoint", &a.asset, "--key", "dev.jwk"]);
        a.ok(&[
            "asset",
            "state",
            "inclusion-proof",
            &a.asset,
            "--sequence",
            "1",
        ]);
        a.ok(&[
            "corridor",
            "module",
            "init",
            "--corridor-id",
            CID,
            "--key",
            "dev.jwk",
        ]);
        let ck = a.asset_file("state/checkpoints/checkpoint.2.json");
        a.ok(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            "zone-a.jwk",
            "--attach-smart-asset-receipt-checkpoint",
            &ck,
        ]);
        a.ok(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            "zone-a.jwk",
        ]);
        a.ok(&[
            "corridor",
            "state",
            "checkpoint",
            CID,
            "--key",
            "zone-a.jwk",
        ]);
        for s in ["0", "1"] {
            a.ok(&["corridor", "state", "inclusion-proof", CID, "--sequence", s]);
        }
        a
    }

    fn ok(&self, args: &[&str]) -> String {
        self.dir.run(args).ok().to_string()
    }

    fn asset_receipts(&self, n: usize) {
        for _ in 0..n {
            self.ok(&[
                "asset",
                "state",
                "receipt-init",
                &self.asset,
                "--key",
                "dev.jwk",
            ]);
        }
    }

    fn asset_file(&self, rel: &str) -> String {
        format!("{}/{rel}", self.asset)
    }

    fn corridor_file(&self, rel: &str) -> String {
        format!("{}/{rel}", self.corridor)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// anchor-verify of corridor receipt 0 with `extra` arguments (defaults filled in).
    fn verify(&self, overrides: &[(&str, String)], extra: &[&str]) -> Run {
        let mut args: Vec<(&str, String)> = vec![
            (
                "--corridor-receipt",
                self.corridor_file("state/receipts/corridor-receipt.0.json"),
            ),
            (
                "--proof",
                self.corridor_file("state/proofs/corridor.inclusion-proof.0.json"),
            ),
            (
                "--checkpoint",
                self.corridor_file("state/checkpoints/checkpoint.2.json"),
            ),
            (
                "--asset-checkpoint",
                self.asset_file("state/checkpoints/checkpoint.2.json"),
            ),
        ];
        for (flag, value) in overrides {
            match args.iter_mut().find(|(f, _)| f == flag) {
                Some(slot) => slot.1 = value.clone(),
                None => args.push((flag, value.clone())),
            }
        }
        let mut argv: Vec<&str> = vec!["asset", "anchor-verify"];
        for (f, v) in &args {
            argv.push(f);
            argv.push(v);
        }
        argv.extend_from_slice(extra);
        self.dir.run(&argv)
    }
}

fn edit_json(path: &std::path::Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

fn attachment(a: &Anchored) -> Value {
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(
            a.path(&a.corridor_file("state/receipts/corridor-receipt.0.json")),
        )
        .unwrap(),
    )
    .unwrap();
    r["transition"]["attachments"][0].clone()
}

#[test]
fn an_attached_asset_checkpoint_verifies_with_anchor_verify() {
    let a = Anchored::new();
    let att = attachment(&a);
    assert_eq!(att["artifact_type"], "smart-asset-receipt-checkpoint");
    assert_eq!(att["asset_id"], ASSET_ID);
    assert_eq!(att["receipt_count"], 2);
    // The uri is hashed into next_root: msez writes it relative to the corridor module.
    assert_eq!(
        att["uri"],
        format!("../../smart-assets/{ASSET_ID}/state/checkpoints/checkpoint.2.json")
    );
    let digest = a
        .dir
        .run(&[
            "digest",
            "--type",
            "smart-asset-receipt-checkpoint",
            &a.asset_file("state/checkpoints/checkpoint.2.json"),
        ])
        .ok()
        .trim()
        .to_string();
    assert_eq!(att["digest_sha256"], digest.as_str());

    let out = a.verify(
        &[
            (
                "--asset-proof",
                a.asset_file("state/proofs/inclusion.1.json"),
            ),
            (
                "--asset-receipt",
                a.asset_file("state/receipts/receipt.1.json"),
            ),
        ],
        &["--json"],
    );
    let v = out.json();
    assert_eq!(v["ok"], true, "{out:?}");
    assert_eq!(v["asset_id"], ASSET_ID);
    assert_eq!(v["receipt_checkpoint_digest"], digest.as_str());
    assert_eq!(v["corridor_sequence"], 0);
    assert_eq!(v["asset_leaf"][0], 1);
    // The asset receipt itself is optional: the proof alone puts its next_root in the checkpoint.
    let human = a.verify(
        &[(
            "--asset-proof",
            a.asset_file("state/proofs/inclusion.1.json"),
        )],
        &[],
    );
    assert!(human.ok().starts_with("OK: asset anchored"), "{human:?}");
    // The corridor chain with the attachment verifies (typed attachment schemas enforced), and
    // the attached checkpoint stored in .msez passes fsck.
    a.ok(&["corridor", "state", "verify", CID]);
    a.ok(&["fsck", "--strict"]);
}

#[test]
fn a_checkpoint_the_corridor_receipt_does_not_name_is_not_anchored() {
    let a = Anchored::new();
    // A newer checkpoint of the same asset: validly signed, but not the one attached.
    a.asset_receipts(1);
    a.ok(&["asset", "state", "checkpoint", &a.asset, "--key", "dev.jwk"]);
    let out = a.verify(
        &[(
            "--asset-checkpoint",
            a.asset_file("state/checkpoints/checkpoint.3.json"),
        )],
        &[],
    );
    out.code(66);
    assert!(
        out.stderr
            .contains("no attachment of the corridor receipt names the asset checkpoint"),
        "{out:?}"
    );
    // A corridor receipt without any attachment anchors nothing.
    let bare = a.verify(
        &[
            (
                "--corridor-receipt",
                a.corridor_file("state/receipts/corridor-receipt.1.json"),
            ),
            (
                "--proof",
                a.corridor_file("state/proofs/corridor.inclusion-proof.1.json"),
            ),
        ],
        &["--json"],
    );
    bare.code(66);
    assert_eq!(bare.json()["error"]["code"], "digest.not_anchored");
}

#[test]
fn a_corridor_proof_with_the_wrong_root_or_for_another_leaf_fails() {
    let a = Anchored::new();
    // Wrong root: the proof's MMR root is not the checkpoint's.
    let wrong_root = a.path("wrong-root.json");
    std::fs::copy(
        a.path(&a.corridor_file("state/proofs/corridor.inclusion-proof.0.json")),
        &wrong_root,
    )
    .unwrap();
    edit_json(&wrong_root, |p| p["mmr"]["root"] = "00".repeat(32).into());
    let out = a.verify(&[("--proof", "wrong-root.json".into())], &["--json"]);
    out.code(66);
    assert_eq!(out.json()["error"]["code"], "digest.checkpoint_mismatch");
    // A proof for another leaf (corridor receipt 1) does not prove receipt 0.
    let other = a.verify(
        &[(
            "--proof",
            a.corridor_file("state/proofs/corridor.inclusion-proof.1.json"),
        )],
        &["--json"],
    );
    other.code(66);
    assert_eq!(other.json()["error"]["code"], "digest.inclusion_proof");
    // An asset proof of another leaf than the asset receipt given.
    let asset_other = a.verify(
        &[
            (
                "--asset-proof",
                a.asset_file("state/proofs/inclusion.1.json"),
            ),
            (
                "--asset-receipt",
                a.asset_file("state/receipts/receipt.0.json"),
            ),
        ],
        &[],
    );
    asset_other.code(66);
    assert!(asset_other.stderr.starts_with("FAIL: "), "{asset_other:?}");
}

#[test]
fn an_edited_attachment_or_a_forged_checkpoint_signature_fails() {
    let a = Anchored::new();
    // Editing the attachment's digest breaks the corridor receipt's signature (checked before
    // its next_root, the reference's verify-inclusion order).
    let r = a.path("edited-receipt.json");
    std::fs::copy(
        a.path(&a.corridor_file("state/receipts/corridor-receipt.0.json")),
        &r,
    )
    .unwrap();
    edit_json(&r, |v| {
        v["transition"]["attachments"][0]["digest_sha256"] = "ab".repeat(32).into()
    });
    let out = a.verify(&[("--corridor-receipt", "edited-receipt.json".into())], &[]);
    out.code(67);
    // An asset checkpoint whose content changed after signing: its signature fails.
    let ck = a.path("forged-ck.json");
    std::fs::copy(
        a.path(&a.asset_file("state/checkpoints/checkpoint.2.json")),
        &ck,
    )
    .unwrap();
    edit_json(&ck, |v| v["timestamp"] = "2030-01-01T00:00:00Z".into());
    let forged = a.verify(&[("--asset-checkpoint", "forged-ck.json".into())], &[]);
    forged.code(67);
}

#[test]
fn a_malformed_typed_attachment_is_refused_at_append() {
    let a = Anchored::new();
    a.dir.write(
        "t.json",
        serde_json::to_vec(&serde_json::json!({"kind": "noop", "payload": {},
            "attachments": [{"artifact_type": "smart-asset-receipt-checkpoint", "digest_sha256": "nothex"}]}))
        .unwrap(),
    );
    let out = a.dir.run(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        "zone-a.jwk",
        "--transition",
        "t.json",
        "--json",
    ]);
    out.code(65);
}

const REGISTRY: &str = "version: 1\ntransition_types:\n  - kind: b.v1\n    description: no digests\n  - kind: a.v1\n    schema_digest_sha256: '1111111111111111111111111111111111111111111111111111111111111111'\n";

#[test]
fn the_transition_type_lock_reproduces_the_derived_snapshot_digest() {
    let d = Dir::repo();
    d.write("registries/transition-types.yaml", REGISTRY);
    let out = d
        .run(&[
            "registry",
            "transition-types",
            "lock",
            "registries/transition-types.yaml",
            "--json",
        ])
        .json();
    let digest = "db2d5747c4f7b5e26852a1b3e22ac0cc53ff0eec7d22c462cc3c32439793ce6a";
    assert_eq!(out["snapshot_digest_sha256"], digest);
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("registries/transition-types.lock.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(lock["snapshot"]["transition_types"][0]["kind"], "a.v1");
    assert_eq!(lock["source"]["registry_path"], "transition-types.yaml");
    // `msez digest` agrees (the transition-types rule hashes the snapshot).
    let via_digest = d.run(&[
        "digest",
        "--type",
        "transition-types",
        "registries/transition-types.lock.json",
    ]);
    assert_eq!(via_digest.ok().trim(), digest);
    // The lock is stored in .msez under its snapshot digest.
    let shown = d.run(&["show", &format!("transition-types:{digest}"), "--json"]);
    assert_eq!(shown.json()["value"]["snapshot_digest_sha256"], digest);
    d.run(&[
        "registry",
        "transition-types",
        "verify",
        "registries/transition-types.yaml",
    ])
    .ok();
    // The registry changes: the lock is stale.
    d.write(
        "registries/transition-types.yaml",
        format!("{REGISTRY}  - kind: c.v1\n"),
    );
    d.run(&[
        "registry",
        "transition-types",
        "verify",
        "registries/transition-types.yaml",
    ])
    .code(66);
    // A lock whose snapshot was edited no longer matches its own digest.
    edit_json(&d.join("registries/transition-types.lock.json"), |v| {
        v["snapshot"]["registry_version"] = 2.into()
    });
    d.run(&[
        "registry",
        "transition-types",
        "verify",
        "registries/transition-types.lock.json",
    ])
    .code(66);
}

#[test]
fn schema_paths_are_hashed_and_a_disagreeing_digest_is_refused() {
    let d = Dir::repo();
    d.write("schemas/a.schema.json", r#"{"type": "object", "b": 1}"#);
    let jcs = d
        .run(&["digest", "--type", "schema", "schemas/a.schema.json"])
        .ok()
        .trim()
        .to_string();
    d.write(
        "tt.yaml",
        "version: 1\ntransition_types:\n  - kind: a.v1\n    schema_path: schemas/a.schema.json\n",
    );
    let out = d.run(&["registry", "transition-types", "lock", "tt.yaml", "--json"]);
    out.ok();
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("tt.lock.json")).unwrap()).unwrap();
    assert_eq!(
        lock["snapshot"]["transition_types"][0]["schema_digest_sha256"],
        jcs.as_str()
    );
    d.write(
        "tt.yaml",
        format!("version: 1\ntransition_types:\n  - kind: a.v1\n    schema_path: schemas/a.schema.json\n    schema_digest_sha256: '{}'\n", "22".repeat(32)),
    );
    d.run(&["registry", "transition-types", "lock", "tt.yaml"])
        .code(66);
    d.write(
        "tt.yaml",
        "version: 1\ntransition_types:\n  - kind: a.v1\n  - kind: a.v1\n",
    );
    d.run(&["registry", "transition-types", "lock", "tt.yaml"])
        .code(65);
}

#[test]
fn receipts_pin_the_lock_and_verify_enforces_it() {
    let a = Anchored::new();
    a.dir.write("tt.yaml", REGISTRY);
    a.dir.write(
        "other.yaml",
        "version: 1\ntransition_types:\n  - kind: a.v1\n",
    );
    a.ok(&["registry", "transition-types", "lock", "tt.yaml"]);
    a.ok(&["registry", "transition-types", "lock", "other.yaml"]);
    // A kind the lock does not list is refused at append.
    a.dir
        .write("noop.json", r#"{"kind": "noop", "payload": {}}"#);
    a.dir
        .run(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            "zone-a.jwk",
            "--transition",
            "noop.json",
            "--transition-types-lock",
            "tt.lock.json",
        ])
        .code(65);
    // A kind it lists is pinned by the lock's digest.
    a.dir.write(
        "a.json",
        format!(
            r#"{{"kind": "a.v1", "payload": {{"x": 1}}, "schema_digest_sha256": "{}"}}"#,
            "11".repeat(32)
        ),
    );
    a.ok(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        "zone-a.jwk",
        "--transition",
        "a.json",
        "--transition-types-lock",
        "tt.lock.json",
    ]);
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(
            a.path(&a.corridor_file("state/receipts/corridor-receipt.2.json")),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        r["transition_type_registry_digest_sha256"],
        "db2d5747c4f7b5e26852a1b3e22ac0cc53ff0eec7d22c462cc3c32439793ce6a"
    );
    // Verify with the lock: the earlier receipts pin nothing, so enforcement fails them.
    let out = a.dir.run(&[
        "corridor",
        "state",
        "verify",
        CID,
        "--transition-types-lock",
        "tt.lock.json",
        "--json",
    ]);
    out.code(66);
    let v = out.json();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{v}");
    assert!(errors.iter().all(|e| e["code"] == "digest.pin_mismatch"));
    // Without enforcement the chain verifies.
    a.ok(&["corridor", "state", "verify", CID]);
}

#[test]
fn a_receipt_pinning_another_lock_fails_enforcement() {
    let a = Anchored::new();
    a.dir.write("tt.yaml", REGISTRY);
    a.dir.write(
        "other.yaml",
        "version: 1\ntransition_types:\n  - kind: noop\n",
    );
    a.ok(&["registry", "transition-types", "lock", "tt.yaml"]);
    a.ok(&["registry", "transition-types", "lock", "other.yaml"]);
    let asset = a.asset.clone();
    a.dir.write("b.json", r#"{"kind": "b.v1", "payload": {}}"#);
    // Two more asset receipts pin tt.lock.json.
    for _ in 0..2 {
        a.ok(&[
            "asset",
            "state",
            "receipt-init",
            &asset,
            "--key",
            "dev.jwk",
            "--transition",
            "b.json",
            "--transition-types-lock",
            "tt.lock.json",
        ]);
    }
    // The first two receipts (from the fixture) pin nothing: only the last two fit.
    let out = a.dir.run(&[
        "asset",
        "state",
        "verify",
        &asset,
        "--transition-types-lock",
        "other.lock.json",
        "--json",
    ]);
    out.code(66);
    let errors = out.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 4);
    let wrong_pin = errors
        .iter()
        .filter(|e| {
            e["found"] == "db2d5747c4f7b5e26852a1b3e22ac0cc53ff0eec7d22c462cc3c32439793ce6a"
        })
        .count();
    assert_eq!(wrong_pin, 2, "{errors:?}");
}

#[test]
fn attaching_is_repeatable_and_the_same_checkpoint_counts_once() {
    let a = Anchored::new();
    a.asset_receipts(1);
    a.ok(&["asset", "state", "checkpoint", &a.asset, "--key", "dev.jwk"]);
    let (ck2, ck3) = (
        a.asset_file("state/checkpoints/checkpoint.2.json"),
        a.asset_file("state/checkpoints/checkpoint.3.json"),
    );
    let flag = "--attach-smart-asset-receipt-checkpoint";
    a.ok(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        "zone-a.jwk",
        flag,
        &ck2,
        flag,
        &ck3,
        flag,
        &ck2,
    ]);
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(
            a.path(&a.corridor_file("state/receipts/corridor-receipt.2.json")),
        )
        .unwrap(),
    )
    .unwrap();
    let atts = r["transition"]["attachments"].as_array().unwrap();
    assert_eq!(atts.len(), 2, "{atts:?}");
    a.ok(&[
        "corridor",
        "state",
        "checkpoint",
        CID,
        "--key",
        "zone-a.jwk",
    ]);
    a.ok(&[
        "corridor",
        "state",
        "inclusion-proof",
        CID,
        "--sequence",
        "2",
    ]);
    for ck in [&ck2, &ck3] {
        let out = a.verify(
            &[
                (
                    "--corridor-receipt",
                    a.corridor_file("state/receipts/corridor-receipt.2.json"),
                ),
                (
                    "--proof",
                    a.corridor_file("state/proofs/corridor.inclusion-proof.2.json"),
                ),
                (
                    "--checkpoint",
                    a.corridor_file("state/checkpoints/checkpoint.3.json"),
                ),
                ("--asset-checkpoint", ck.clone()),
            ],
            &["--json"],
        );
        assert_eq!(out.json()["ok"], true, "{out:?}");
    }
}

#[test]
fn trust_anchors_decide_whose_checkpoints_count() {
    let a = Anchored::new();
    let did = |k: &str| {
        a.dir
            .run(&["key", "did", &format!("{k}.jwk")])
            .ok()
            .trim()
            .to_string()
    };
    let (dev, zone_a) = (did("dev"), did("zone-a"));
    // zone-a signs corridor receipts and checkpoints; dev only asset receipts (not checkpoints).
    let anchors = |asset_attestation: &str| {
        format!(
            "version: 1\ntrust_anchors:\n  - {{anchor_id: zone-a, type: did, identifier: {zone_a}, allowed_attestations: [corridor_receipt]}}\n  - {{anchor_id: dev, type: did, identifier: {dev}, allowed_attestations: [{asset_attestation}]}}\n"
        )
    };
    a.dir
        .write("ok.yaml", anchors("smart_asset_receipt_checkpoint"));
    a.dir.write("no.yaml", anchors("corridor_definition"));
    let ok = a.verify(&[("--trust-anchors", "ok.yaml".into())], &[]);
    ok.ok();
    let no = a.verify(&[("--trust-anchors", "no.yaml".into())], &["--json"]);
    no.code(67);
    assert_eq!(no.json()["error"]["code"], "signature.untrusted");
}

#[test]
fn a_state_checkpoint_is_anchored_by_its_state_root() {
    let a = Anchored::new();
    let state = |root: &str| {
        serde_json::json!({"type": "SmartAssetCheckpoint", "asset_id": ASSET_ID,
            "as_of": "2026-01-01T00:00:00Z", "state_root_sha256": root, "parents": [], "attachments": []})
    };
    let root = "5a".repeat(32);
    a.dir
        .write("state.json", serde_json::to_vec(&state(&root)).unwrap());
    a.dir.write(
        "other-state.json",
        serde_json::to_vec(&state(&"6b".repeat(32))).unwrap(),
    );
    a.ok(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        "zone-a.jwk",
        "--attach-smart-asset-checkpoint",
        "state.json",
    ]);
    a.ok(&[
        "corridor",
        "state",
        "checkpoint",
        CID,
        "--key",
        "zone-a.jwk",
    ]);
    a.ok(&[
        "corridor",
        "state",
        "inclusion-proof",
        CID,
        "--sequence",
        "2",
    ]);
    let at = |ck: &str, extra: &[(&str, String)]| {
        let mut o = vec![
            (
                "--corridor-receipt",
                a.corridor_file("state/receipts/corridor-receipt.2.json"),
            ),
            (
                "--proof",
                a.corridor_file("state/proofs/corridor.inclusion-proof.2.json"),
            ),
            (
                "--checkpoint",
                a.corridor_file("state/checkpoints/checkpoint.3.json"),
            ),
            ("--asset-checkpoint", ck.to_string()),
        ];
        o.extend_from_slice(extra);
        a.verify(&o, &["--json"])
    };
    let ok = at("state.json", &[]);
    assert_eq!(ok.json()["state_root"], root.as_str(), "{ok:?}");
    at("other-state.json", &[]).code(66);
    at(
        "state.json",
        &[(
            "--asset-proof",
            a.asset_file("state/proofs/inclusion.1.json"),
        )],
    )
    .code(65);
}

/// Runs the independent Python checker (tests/oracle); exit 0 and a JSON report expected.
fn oracle(dir: &Dir, args: &[&str]) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/msez_oracle.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .args(args)
        .current_dir(dir.path())
        .output()
        .expect("python3 runs the oracle");
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
fn the_oracle_finds_the_anchor_and_agrees_on_lock_digests() {
    let a = Anchored::new();
    let v = a
        .dir
        .run(&["corridor", "state", "verify", CID, "--json"])
        .json();
    let r = attachment(&a);
    let receipt: Value = serde_json::from_str(
        &std::fs::read_to_string(
            a.path(&a.corridor_file("state/receipts/corridor-receipt.0.json")),
        )
        .unwrap(),
    )
    .unwrap();
    let mut args = vec![
        "verify-corridor-chain".to_string(),
        "--receipts".into(),
        a.corridor_file("state/receipts"),
        "--corridor-id".into(),
        CID.into(),
        "--genesis-root".into(),
        v["genesis_root"].as_str().unwrap().into(),
        "--checkpoint".into(),
        a.corridor_file("state/checkpoints/checkpoint.2.json"),
        "--proof".into(),
        a.corridor_file("state/proofs/corridor.inclusion-proof.0.json"),
        "--anchored-asset-checkpoint".into(),
        a.asset_file("state/checkpoints/checkpoint.2.json"),
    ];
    for d in receipt["ruleset_digest_set"].as_array().unwrap() {
        args.push("--ruleset-digest".into());
        args.push(d.as_str().unwrap().into());
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = oracle(&a.dir, &argv);
    assert_eq!(report["anchors"][0]["sequence"], 0);
    assert_eq!(report["anchors"][0]["digest"], r["digest_sha256"]);

    // A registry with untidy values: msez's lock and the oracle's snapshot agree.
    let registry = serde_json::json!({"version": 3, "transition_types": [
        {"kind": "z.v1", "ruleset_digest_sha256": format!(" {} ", "AB".repeat(32))},
        {"kind": "m.v1", "zk_circuit_digest_sha256": "cd".repeat(32), "schema_digest_sha256": ""},
        {"kind": "a.v2", "notes": "no digests"}]});
    a.dir
        .write("reg.json", serde_json::to_vec(&registry).unwrap());
    let lock = a
        .dir
        .run(&["registry", "transition-types", "lock", "reg.json", "--json"])
        .json();
    let theirs = oracle(
        &a.dir,
        &["transition-types-snapshot", "--registry", "reg.json"],
    );
    assert_eq!(
        lock["snapshot_digest_sha256"],
        theirs["snapshot_digest_sha256"]
    );
}
