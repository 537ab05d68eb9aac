//! Forks and fork resolutions (issue 4): real signed receipts, real signed resolutions, the
//! real binary. A fork is two valid receipts at sequence 2 on the same prev_root.

use std::path::PathBuf;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run};

const CID: &str = "org.example.corridor.a-b";

use crate::util::{fixture_did as did, fixture_key as key_path};

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Writes `ta.yaml`: each (key name, allowed attestations).
fn anchors(dir: &Dir, entries: &[(&str, &[&str])]) {
    let mut y = String::from("version: 1\ntrust_anchors:\n");
    for (name, allowed) in entries {
        y.push_str(&format!(
            "  - anchor_id: {name}\n    type: did\n    identifier: {}\n    allowed_attestations: [{}]\n",
            did(name),
            allowed
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    dir.write("ta.yaml", y);
}

/// Copies receipt `from`, changes its timestamp, recomputes next_root, signs it with zone-a,
/// and writes it as `to`; returns the new next_root.
fn fork_receipt(dir: &Dir, rule: &str, from: &std::path::Path, to: &std::path::Path) -> String {
    let mut other = read(from);
    other["timestamp"] = "2031-01-01T00:00:00Z".into();
    let obj = other.as_object_mut().unwrap();
    obj.remove("next_root");
    obj.remove("proof");
    let next_root = msez::canon::rule_for(rule).digest_json(&other).unwrap();
    other["next_root"] = next_root.to_hex().into();
    std::fs::write(to, serde_json::to_vec_pretty(&other).unwrap()).unwrap();
    let key = key_path("zone-a");
    dir.run(&[
        "vc",
        "sign",
        to.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--out",
        to.to_str().unwrap(),
    ])
    .ok();
    next_root.to_hex()
}

/// An asset chain of 3 receipts (dev + zone-a) and a second receipt at sequence 2.
struct Forked {
    dir: Dir,
    module: String,
    /// The prev_root both sequence-2 receipts extend.
    prev: String,
    /// The next_root of the receipt msez appended.
    main: String,
    /// The next_root of the competing receipt.
    other: String,
}

impl Forked {
    fn new() -> Forked {
        let (dir, module) = Dir::asset_module(&[], &[]);
        let (dev, zone_a) = (key_path("dev"), key_path("zone-a"));
        for i in 0..3 {
            let ts = format!("2026-01-01T00:00:0{i}Z");
            dir.run(&[
                "asset",
                "state",
                "receipt-init",
                &module,
                "--key",
                dev.to_str().unwrap(),
                "--key",
                zone_a.to_str().unwrap(),
                "--timestamp",
                &ts,
            ])
            .ok();
        }
        let receipts = dir.join(&format!("{module}/state/receipts"));
        let r2 = read(&receipts.join("receipt.2.json"));
        let other = fork_receipt(
            &dir,
            "smart-asset-receipt",
            &receipts.join("receipt.2.json"),
            &receipts.join("receipt.2.other.json"),
        );
        anchors(
            &dir,
            &[
                ("dev", &["smart_asset_receipt", "fork_resolution"]),
                ("zone-a", &["smart_asset_receipt"]),
            ],
        );
        std::fs::copy(&dev, dir.join("dev.jwk")).unwrap();
        std::fs::copy(&zone_a, dir.join("zone-a.jwk")).unwrap();
        Forked {
            prev: r2["prev_root"].as_str().unwrap().to_string(),
            main: r2["next_root"].as_str().unwrap().to_string(),
            other,
            dir,
            module,
        }
    }

    fn state(&self, verb: &str, extra: &[&str]) -> Run {
        let mut args = vec!["asset", "state", verb, self.module.as_str()];
        args.extend_from_slice(extra);
        self.dir.run(&args)
    }

    /// `fork-resolve` at the fork point choosing `chosen`, with extra flags.
    fn resolve(&self, chosen: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "--sequence",
            "2",
            "--prev-root",
            &self.prev,
            "--chosen-next-root",
            chosen,
        ];
        args.extend_from_slice(extra);
        self.state("fork-resolve", &args)
    }

    fn verify(&self, extra: &[&str]) -> Run {
        let mut args = vec!["--trust-anchors", "ta.yaml"];
        args.extend_from_slice(extra);
        self.state("verify", &args)
    }
}

#[track_caller]
fn fails_with(run: &Run, code: i32, needle: &str) {
    run.code(code);
    assert!(run.stderr.contains(needle), "want {needle:?}: {run:#?}");
}

#[test]
fn a_fork_without_resolution_fails_verify_and_inspect_lists_both_candidates() {
    let f = Forked::new();
    fails_with(&f.verify(&[]), 69, "fork detected at sequence 2");
    let report: Value = serde_json::from_str(f.state("fork-inspect", &[]).ok()).unwrap();
    assert_eq!(report["type"], "MSEZSmartAssetForkInspectReport");
    assert_eq!(report["receipts"]["total"], 4);
    assert_eq!(report["forks"]["total"], 1);
    assert_eq!(report["forks"]["unresolved"], 1);
    let point = &report["forks"]["points"][0];
    assert_eq!(point["sequence"], 2);
    assert_eq!(point["prev_root"], f.prev.as_str());
    assert_eq!(point["resolved"], false);
    let roots: Vec<&str> = point["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["next_root"].as_str().unwrap())
        .collect();
    let mut want = vec![f.main.as_str(), f.other.as_str()];
    want.sort();
    assert_eq!(roots, want);
    let main = point["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["next_root"] == f.main.as_str())
        .unwrap();
    assert_eq!(main["signer_count"], 2);
    assert!(report["canonical_head"].is_null());
    assert!(
        report["recommendations"][0]
            .as_str()
            .unwrap()
            .starts_with("UNRESOLVED_FORKS")
    );
    let dot = f.state("fork-inspect", &["--format", "dot"]);
    assert!(dot.ok().starts_with("digraph forks {"), "{dot:#?}");
    assert!(dot.stdout.contains("color=red"));
}

#[test]
fn a_signed_authorized_resolution_selects_its_branch_for_verify_checkpoint_and_proofs() {
    let f = Forked::new();
    let out = f.dir.run(&[
        "--json",
        "asset",
        "state",
        "fork-resolution-init",
        &f.module,
        "--sequence",
        "2",
        "--prev-root",
        &f.prev,
        "--chosen-next-root",
        &f.other,
        "--key",
        "dev.jwk",
    ]);
    let written = out.json();
    assert!(written["object"].as_str().unwrap().starts_with("vc:"));
    let vc = read(&PathBuf::from(written["path"].as_str().unwrap()));
    assert_eq!(vc["type"][1], "MSEZSmartAssetForkResolutionCredential");
    assert!(vc["id"].as_str().unwrap().starts_with("urn:uuid:"));
    assert_eq!(vc["credentialSubject"]["purpose"], "core");

    let ok = f.verify(&[]);
    ok.ok();
    assert!(ok.stdout.contains(&format!("head: {}", f.other)), "{ok:#?}");
    assert!(ok.stdout.contains("fork resolved at seq=2"), "{ok:#?}");

    let ck_path = f
        .dir
        .join(&format!("{}/state/checkpoints/checkpoint.3.json", f.module));
    // With a counted resolution the .msez fast path (which follows the head ref) is not used.
    f.state(
        "checkpoint",
        &["--trust-anchors", "ta.yaml", "--key", "dev.jwk"],
    )
    .ok();
    assert_eq!(read(&ck_path)["final_chain_root"], f.other.as_str());
    let ck = f.state(
        "checkpoint",
        &[
            "--from-files",
            "--trust-anchors",
            "ta.yaml",
            "--key",
            "dev.jwk",
        ],
    );
    ck.ok();
    assert_eq!(read(&ck_path)["final_chain_root"], f.other.as_str());
    f.state(
        "inclusion-proof",
        &[
            "--from-files",
            "--trust-anchors",
            "ta.yaml",
            "--sequence",
            "2",
        ],
    )
    .ok();
    let receipt = f
        .dir
        .join(&format!("{}/state/receipts/receipt.2.other.json", f.module));
    let proof = f
        .dir
        .join(&format!("{}/state/proofs/inclusion.2.json", f.module));
    f.dir
        .verify_inclusion("asset", &receipt, &proof, &ck_path)
        .ok();

    let report: Value = serde_json::from_str(
        f.state("fork-inspect", &["--trust-anchors", "ta.yaml"])
            .ok(),
    )
    .unwrap();
    assert_eq!(report["forks"]["resolved"], 1);
    assert_eq!(
        report["forks"]["points"][0]["chosen_next_root"],
        f.other.as_str()
    );
    assert_eq!(
        report["canonical_head"]["final_state_root"],
        f.other.as_str()
    );
    assert_eq!(report["canonical_head"]["receipt_count"], 3);
}

#[test]
fn an_untrusted_signer_or_no_anchors_leaves_the_fork_unresolved_and_says_why() {
    let f = Forked::new();
    f.resolve(&f.other, &["--key", "zone-a.jwk"]).ok();
    let run = f.verify(&[]);
    fails_with(&run, 69, "fork detected at sequence 2");
    assert!(
        run.stderr
            .contains("no valid signer is a trust anchor allowed fork_resolution"),
        "{run:#?}"
    );
    // Without any trust anchors nobody may resolve a fork.
    let run = f.state("verify", &[]);
    fails_with(&run, 69, "no trust anchors are configured");
    let report: Value = serde_json::from_str(f.state("fork-inspect", &[]).ok()).unwrap();
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no trust anchors are configured"),
        "{report:#}"
    );
}

#[test]
fn an_unsigned_resolution_counts_only_with_allow_unsigned() {
    let f = Forked::new();
    f.resolve(
        &f.other,
        &["--issuer", "did:example:operator", "--out", "res/r.json"],
    )
    .ok();
    let run = f.verify(&["--fork-resolutions", "res"]);
    fails_with(&run, 69, "ignored: it is unsigned");
    let run = f.verify(&["--fork-resolutions", "no-such-dir"]);
    fails_with(&run, 69, "no-such-dir does not exist");
    let ok = f.verify(&[
        "--fork-resolutions",
        "res",
        "--allow-unsigned-fork-resolutions",
    ]);
    ok.ok();
    assert!(ok.stdout.contains(&f.other), "{ok:#?}");
    assert!(
        ok.stderr.contains("--allow-unsigned-fork-resolutions"),
        "{ok:#?}"
    );
}

#[test]
fn identical_receipts_with_different_proofs_are_not_a_fork() {
    let f = Forked::new();
    let receipts = f.dir.join(&format!("{}/state/receipts", f.module));
    std::fs::remove_file(receipts.join("receipt.2.other.json")).unwrap();
    // The same receipt 1 with only its first proof, as another tool might have stored it.
    let mut copy = read(&receipts.join("receipt.1.json"));
    let first = copy["proof"][0].clone();
    copy["proof"] = Value::Array(vec![first]);
    std::fs::write(
        receipts.join("receipt.1.copy.json"),
        serde_json::to_vec_pretty(&copy).unwrap(),
    )
    .unwrap();
    f.verify(&[]).ok();
    let report: Value = serde_json::from_str(f.state("fork-inspect", &[]).ok()).unwrap();
    assert_eq!(report["forks"]["total"], 0);
    assert_eq!(report["receipts"]["valid"], 4);
    assert_eq!(report["canonical_head"]["receipt_count"], 3);
}

#[test]
fn a_resolution_naming_a_non_candidate_fails() {
    let f = Forked::new();
    f.resolve(&"ab".repeat(32), &["--key", "dev.jwk"]).ok();
    fails_with(&f.verify(&[]), 69, "not found among candidates");
}

#[test]
fn conflicting_authorized_resolutions_fail() {
    let f = Forked::new();
    f.resolve(&f.other, &["--key", "dev.jwk"]).ok();
    f.resolve(&f.main, &["--key", "dev.jwk"]).ok();
    let run = f.verify(&["--json"]);
    run.code(69);
    let run = f.verify(&[]);
    fails_with(&run, 69, "conflicting fork resolutions at sequence 2");
}

#[test]
fn a_file_that_is_not_a_resolution_fails_the_schema() {
    let f = Forked::new();
    f.dir.write(
        &format!("{}/state/fork-resolutions/junk.json", f.module),
        r#"{"type": "MSEZSmartAssetForkResolution", "sequence": 2}"#,
    );
    fails_with(&f.verify(&[]), 65, "fork-resolution.schema.json");
}

#[test]
fn corridor_fork_resolve_selects_the_branch_too() {
    let dir = Dir::repo();
    let dev = key_path("dev");
    dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        dev.to_str().unwrap(),
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ])
    .ok();
    let (a, b) = (key_path("zone-a"), key_path("zone-b"));
    for i in 0..2 {
        let ts = format!("2026-01-01T00:00:0{}Z", i + 1);
        dir.run(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            a.to_str().unwrap(),
            "--key",
            b.to_str().unwrap(),
            "--timestamp",
            &ts,
        ])
        .ok();
    }
    let receipts = dir.join(&format!("modules/corridors/{CID}/state/receipts"));
    let r1 = receipts.join("corridor-receipt.1.json");
    let prev = read(&r1)["prev_root"].as_str().unwrap().to_string();
    let other = fork_receipt(
        &dir,
        "corridor-receipt",
        &r1,
        &receipts.join("corridor-receipt.1.other.json"),
    );
    // zone-a may sign anything (`*` covers fork_resolution); zone-b only receipts.
    anchors(
        &dir,
        &[("zone-a", &["*"]), ("zone-b", &["corridor_receipt"])],
    );
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "corridor",
            "state",
            "verify",
            CID,
            "--trust-anchors",
            "ta.yaml",
        ];
        args.extend_from_slice(extra);
        dir.run(&args)
    };
    fails_with(&verify(&[]), 69, "fork detected at sequence 1");
    dir.run(&[
        "corridor",
        "state",
        "fork-resolve",
        CID,
        "--sequence",
        "1",
        "--prev-root",
        &prev,
        "--chosen-next-root",
        &other,
        "--key",
        a.to_str().unwrap(),
    ])
    .ok();
    let ok = verify(&[]);
    ok.ok();
    assert!(ok.stdout.contains(&format!("head: {other}")), "{ok:#?}");
    let report: Value = serde_json::from_str(
        dir.run(&[
            "corridor",
            "state",
            "fork-inspect",
            CID,
            "--trust-anchors",
            "ta.yaml",
        ])
        .ok(),
    )
    .unwrap();
    assert_eq!(report["type"], "MSEZCorridorForkInspectReport");
    assert_eq!(report["corridor_id"], CID);
    assert_eq!(report["forks"]["points"][0]["resolved"], true);
}

/// Two signed checkpoints of size 3, one per branch, and an inclusion proof of leaf 2 tied to
/// each: `ck_main.json`, `ck_other.json`, `p_main.json`, `p_other.json`.
fn contradicting_checkpoints(f: &Forked) {
    let ck = f
        .dir
        .join(&format!("{}/state/checkpoints/checkpoint.3.json", f.module));
    for (name, chosen) in [("main", &f.main), ("other", &f.other)] {
        let res = format!("res-{name}/r.json");
        f.resolve(chosen, &["--key", "dev.jwk", "--out", &res]).ok();
        let flags = [
            "--trust-anchors",
            "ta.yaml",
            "--fork-resolutions",
            res.as_str(),
        ];
        let mut args = flags.to_vec();
        args.extend_from_slice(&["--key", "dev.jwk"]);
        f.state("checkpoint", &args).ok();
        std::fs::copy(&ck, f.dir.join(&format!("ck_{name}.json"))).unwrap();
        let mut args = flags.to_vec();
        let out = format!("p_{name}.json");
        args.extend_from_slice(&["--sequence", "2", "--out", &out]);
        f.state("inclusion-proof", &args).ok();
    }
}

fn evidence(f: &Forked, args: &[&str]) -> Run {
    let mut all = vec!["asset", "state", "fork-evidence"];
    all.extend_from_slice(args);
    f.dir.run(&all)
}

#[test]
fn equal_size_different_root_and_same_index_different_leaf_evidence_both_verify() {
    let f = Forked::new();
    contradicting_checkpoints(&f);
    let ev = evidence(&f, &["ck_main.json", "ck_other.json", "--out", "ev1.json"]);
    ev.ok();
    let doc = read(&f.dir.join("ev1.json"));
    assert_eq!(doc["type"], "MSEZForkEvidence");
    assert_eq!(doc["evidence_kind"], "mmr_root_mismatch");
    assert_eq!(doc["equivocators"], serde_json::json!([did("dev")]));
    let ok = f.dir.run(&[
        "--json",
        "asset",
        "state",
        "fork-evidence",
        "--verify",
        "ev1.json",
        "--trust-anchors",
        "ta.yaml",
    ]);
    assert_eq!(ok.json()["contradiction"], "mmr_root_mismatch");

    evidence(
        &f,
        &[
            "ck_main.json",
            "ck_other.json",
            "--proof1",
            "p_main.json",
            "--proof2",
            "p_other.json",
            "--out",
            "ev2.json",
        ],
    )
    .ok();
    assert_eq!(
        read(&f.dir.join("ev2.json"))["evidence_kind"],
        "leaf_mismatch"
    );
    let ok = evidence(&f, &["--verify", "ev2.json"]);
    assert!(ok.ok().starts_with("OK: fork evidence"), "{ok:#?}");
    // The same proof twice is no contradiction.
    let run = evidence(
        &f,
        &[
            "ck_main.json",
            "ck_main.json",
            "--proof1",
            "p_main.json",
            "--proof2",
            "p_main.json",
        ],
    );
    fails_with(&run, 66, "no contradiction");
    // Tampering with the evidence's equivocators is caught.
    let mut doc = read(&f.dir.join("ev2.json"));
    doc["equivocators"] = serde_json::json!([]);
    f.dir.write("ev3.json", serde_json::to_vec(&doc).unwrap());
    fails_with(&evidence(&f, &["--verify", "ev3.json"]), 66, "equivocators");
}

#[test]
fn evidence_from_two_chains_or_with_a_bad_signature_is_rejected() {
    let f = Forked::new();
    contradicting_checkpoints(&f);
    // Another asset's checkpoint, validly signed.
    let mut other = read(&f.dir.join("ck_other.json"));
    other["asset_id"] = "cd".repeat(32).into();
    other["proof"] = Value::Array(vec![]);
    f.dir
        .write("ck_foreign.json", serde_json::to_vec(&other).unwrap());
    f.dir
        .run(&[
            "vc",
            "sign",
            "ck_foreign.json",
            "--key",
            "dev.jwk",
            "--out",
            "ck_foreign.json",
        ])
        .ok();
    let run = evidence(&f, &["ck_main.json", "ck_foreign.json"]);
    fails_with(&run, 66, "different chains: asset_id");
    // A checkpoint whose signature no longer matches its bytes.
    let mut bad = read(&f.dir.join("ck_other.json"));
    bad["timestamp"] = "2031-01-01T00:00:00Z".into();
    f.dir
        .write("ck_bad.json", serde_json::to_vec(&bad).unwrap());
    let run = evidence(&f, &["ck_main.json", "ck_bad.json"]);
    run.code(67);
    // And evidence built from good checkpoints, then edited, no longer verifies.
    evidence(&f, &["ck_main.json", "ck_other.json", "--out", "ev.json"]).ok();
    let mut doc = read(&f.dir.join("ev.json"));
    doc["checkpoint_b"] = bad;
    f.dir
        .write("ev_bad.json", serde_json::to_vec(&doc).unwrap());
    evidence(&f, &["--verify", "ev_bad.json"]).code(67);
}

#[test]
fn an_adopted_resolution_moves_the_head_and_keeps_the_losing_branch() {
    let f = Forked::new();
    let refs = |f: &Forked| f.dir.run(&["refs"]).ok().to_string();
    let head_ref = format!("refs/assets/{ASSET_ID}/core/head");
    assert!(refs(&f).contains(&format!("{} {head_ref}", f.main)));
    // An unauthorized resolution moves nothing (it is reported and ignored).
    let run = f.resolve(
        &f.other,
        &["--key", "zone-a.jwk", "--trust-anchors", "ta.yaml"],
    );
    run.ok();
    assert!(!run.stdout.contains("head moved"), "{run:#?}");
    assert!(run.stderr.contains("head ref not moved"), "{run:#?}");
    let run = f.resolve(
        &f.other,
        &["--key", "dev.jwk", "--trust-anchors", "ta.yaml"],
    );
    assert!(run.ok().contains("head moved"), "{run:#?}");
    let listed = refs(&f);
    assert!(
        listed.contains(&format!("{} {head_ref}", f.other)),
        "{listed}"
    );
    assert!(
        listed.contains(&format!(
            "{} refs/assets/{ASSET_ID}/core/forks/{}",
            f.main, f.main
        )),
        "{listed}"
    );
    let log = f.dir.run(&["reflog", &head_ref]);
    assert!(log.ok().contains("fork-resolution"), "{log:#?}");
    // The MMR files follow the new head: the chain store's root is the selected chain's.
    let c = f
        .dir
        .run(&[
            "--json",
            "asset",
            "state",
            "consistency-proof",
            &f.module,
            "--old",
            "2",
        ])
        .json();
    f.state(
        "checkpoint",
        &["--trust-anchors", "ta.yaml", "--key", "dev.jwk"],
    )
    .ok();
    let ck = read(
        &f.dir
            .join(&format!("{}/state/checkpoints/checkpoint.3.json", f.module)),
    );
    assert_eq!(c["new_size"], 3);
    assert_eq!(c["new_root"], ck["mmr"]["root"]);
    // Resolving again changes nothing.
    let again = f.resolve(
        &f.other,
        &["--key", "dev.jwk", "--trust-anchors", "ta.yaml"],
    );
    assert!(!again.ok().contains("head moved"), "{again:#?}");
}

// ---- two operators, two clones (item 6) -------------------------------------------------------

/// Operator A with a 3-receipt chain pushed to a local-directory remote, and operator B's clone
/// of it (B gets the module's files as operators share them: copied).
struct TwoOperators {
    a: Dir,
    b: Dir,
    remote: PathBuf,
    module: String,
}

impl TwoOperators {
    fn new() -> TwoOperators {
        let f = Forked::new();
        // Forked wrote a competing receipt 2 into A's module: not part of this story.
        let receipts = f.dir.join(&format!("{}/state/receipts", f.module));
        std::fs::remove_file(receipts.join("receipt.2.other.json")).unwrap();
        let remote = f.dir.join("remote.msez");
        let url = remote.to_str().unwrap().to_string();
        f.dir.run(&["remote", "add", "origin", &url]).ok();
        f.dir.run(&["push"]).ok();
        let b = Dir::new();
        let target = b.path().join("b");
        b.run(&["clone", &url, target.to_str().unwrap()]).ok();
        let b = Dir { tmp: b.tmp };
        copy_tree(&f.dir.join("modules"), &b.join("b/modules"));
        for file in ["ta.yaml", "dev.jwk", "zone-a.jwk"] {
            std::fs::copy(f.dir.join(file), b.join(&format!("b/{file}"))).unwrap();
        }
        TwoOperators {
            a: f.dir,
            b,
            remote,
            module: f.module,
        }
    }

    /// Runs msez in B's clone.
    fn in_b(&self, args: &[&str]) -> Run {
        let mut c = self.b.cmd(args);
        c.current_dir(self.b.join("b"));
        let out = c.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn append(&self, in_b: bool, ts: &str) -> String {
        let args = [
            "--json",
            "asset",
            "state",
            "receipt-init",
            &self.module,
            "--key",
            "zone-a.jwk",
            "--timestamp",
            ts,
        ];
        let run = if in_b {
            self.in_b(&args)
        } else {
            self.a.run(&args)
        };
        run.json()["head"].as_str().unwrap().to_string()
    }

    /// Writes `value` into the remote as the receipt object its next_root names.
    fn plant(&self, value: &Value) -> String {
        let id = value["next_root"].as_str().unwrap().to_string();
        let dir = self.remote.join("objects/smart-asset-receipt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec(value).unwrap(),
        )
        .unwrap();
        id
    }
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn two_operators_appending_from_two_clones_fork_and_a_signed_resolution_resolves_it() {
    let t = TwoOperators::new();
    let ours = t.append(true, "2026-02-01T00:00:00Z");
    let theirs = t.append(false, "2026-02-02T00:00:00Z");
    assert_ne!(ours, theirs);
    t.a.run(&["push"]).ok();

    // B's fetch sees the fork, keeps A's branch under a forks ref and exits 69.
    let fetched = t.in_b(&["fetch", "--json"]);
    fetched.code(69);
    let fork = &fetched.json()["forks"][0];
    assert_eq!(fork["sequence"], 3, "{fork}");
    assert_eq!(fork["local"], ours.as_str());
    assert_eq!(fork["remote"], theirs.as_str());
    let kept = format!("refs/assets/{ASSET_ID}/core/forks/{theirs}");
    assert_eq!(fork["kept"], kept.as_str());
    let refs = t.in_b(&["refs", "--json"]).json();
    assert_eq!(refs["refs"][&kept], theirs.as_str());
    assert_eq!(
        refs["refs"][&format!("refs/assets/{ASSET_ID}/core/head")],
        ours.as_str()
    );
    let text = t.in_b(&["fetch"]);
    assert!(
        text.stdout.contains("fork detected at sequence 3"),
        "{text:#?}"
    );
    // pull says the same from the ref's side: diverged, both kept, exit 69.
    t.in_b(&["pull"]).code(69);

    // Their receipt, taken out of .msez into B's module, makes verify see the fork.
    let receipt = format!("{}/state/receipts/receipt.3.theirs.json", t.module);
    t.in_b(&[
        "artifact",
        "get",
        &format!("smart-asset-receipt:{theirs}"),
        "--out",
        &receipt,
    ])
    .ok();
    let verify = [
        "asset",
        "state",
        "verify",
        &t.module,
        "--trust-anchors",
        "ta.yaml",
    ];
    let run = t.in_b(&verify);
    fails_with(&run, 69, "fork detected at sequence 3");

    // A signed, authorized resolution for A's branch: verify passes, B's head follows it.
    let prev = read(&t.b.join(&format!("b/{receipt}")))["prev_root"]
        .as_str()
        .unwrap()
        .to_string();
    t.in_b(&[
        "asset",
        "state",
        "fork-resolve",
        &t.module,
        "--sequence",
        "3",
        "--prev-root",
        &prev,
        "--chosen-next-root",
        &theirs,
        "--key",
        "dev.jwk",
        "--trust-anchors",
        "ta.yaml",
    ])
    .ok();
    t.in_b(&verify).ok();
    let refs = t.in_b(&["refs", "--json"]).json();
    assert_eq!(
        refs["refs"][&format!("refs/assets/{ASSET_ID}/core/head")],
        theirs.as_str()
    );
    assert_eq!(
        refs["refs"][&format!("refs/assets/{ASSET_ID}/core/forks/{ours}")],
        ours.as_str()
    );
}

#[test]
fn fetch_rejects_a_receipt_that_does_not_link_and_stores_nothing() {
    let t = TwoOperators::new();
    let receipts = t.a.join(&format!("{}/state/receipts", t.module));
    // A receipt 2 re-sequenced as 7: next_root and signature are right, the link is not.
    let mut bad = read(&receipts.join("receipt.2.json"));
    bad["sequence"] = 7.into();
    let path = t.a.join("bad.json");
    let obj = bad.as_object_mut().unwrap();
    obj.remove("next_root");
    obj.remove("proof");
    let next_root = msez::canon::rule_for("smart-asset-receipt")
        .digest_json(&bad)
        .unwrap();
    bad["next_root"] = next_root.to_hex().into();
    std::fs::write(&path, serde_json::to_vec(&bad).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    t.a.run(&["vc", "sign", p, "--key", "zone-a.jwk", "--out", p])
        .ok();
    let id = t.plant(&read(&path));
    let run = t.in_b(&["fetch", "--json"]);
    run.code(66);
    assert!(run.stdout.contains(&id), "{run:#?}");
    assert!(run.stdout.contains("does not link"), "{run:#?}");
    t.in_b(&["show", &format!("smart-asset-receipt:{id}")])
        .code(68);
}

#[test]
fn fetch_rejects_a_receipt_without_a_valid_signature_and_stores_nothing() {
    let t = TwoOperators::new();
    let receipts = t.a.join(&format!("{}/state/receipts", t.module));
    // Receipt 2 with a new timestamp keeps its old proof: the signature no longer verifies.
    let mut bad = read(&receipts.join("receipt.2.json"));
    bad["timestamp"] = "2030-01-01T00:00:00Z".into();
    let proof = bad["proof"].clone();
    let obj = bad.as_object_mut().unwrap();
    obj.remove("next_root");
    obj.remove("proof");
    let next_root = msez::canon::rule_for("smart-asset-receipt")
        .digest_json(&bad)
        .unwrap();
    bad["next_root"] = next_root.to_hex().into();
    bad["proof"] = proof;
    let id = t.plant(&bad);
    let run = t.in_b(&["fetch", "--json"]);
    run.code(67);
    assert!(run.stdout.contains(&id), "{run:#?}");
    t.in_b(&["show", &format!("smart-asset-receipt:{id}")])
        .code(68);
}
