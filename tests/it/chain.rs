//! Smart-asset receipt chains through the real binary, cross-checked with the independent
//! Python checker in tests/oracle (both directions), plus tampering and concurrency cases.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, vectors};

/// A repository with the derived-vector asset module and two keys.
pub(crate) struct Chain {
    pub(crate) dir: Dir,
    pub(crate) module: String,
}

impl Chain {
    pub(crate) fn new() -> Chain {
        let (dir, module) = Dir::asset_module(&["dev", "zone-a"], &[]);
        Chain { dir, module }
    }

    pub(crate) fn append(&self, n: usize) {
        let lines: String = (0..n)
            .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
            .collect();
        self.dir.write("batch.jsonl", lines);
        self.dir
            .run(&[
                "asset",
                "state",
                "receipt-init",
                &self.module,
                "--batch",
                "batch.jsonl",
                "--key",
                "dev.jwk",
                "--key",
                "zone-a.jwk",
            ])
            .ok();
    }

    fn checkpoint(&self) {
        self.dir
            .run(&[
                "asset",
                "state",
                "checkpoint",
                &self.module,
                "--key",
                "dev.jwk",
            ])
            .ok();
    }

    fn prove(&self, sequence: &str) {
        self.dir
            .run(&[
                "asset",
                "state",
                "inclusion-proof",
                &self.module,
                "--sequence",
                sequence,
            ])
            .ok();
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.dir.join(&format!("{}/{rel}", self.module))
    }

    pub(crate) fn verify(&self, extra: &[&str]) -> crate::util::Run {
        let mut args = vec!["asset", "state", "verify", self.module.as_str()];
        args.extend_from_slice(extra);
        self.dir.run(&args)
    }
}

fn load(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors().join(rel)).unwrap()).unwrap()
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

/// Runs the oracle; it must exist with `cryptography` (scripts/test installs it).
fn oracle(args: &[&str]) -> (i32, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/msez_oracle.py");
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed for the oracle tests (scripts/test installs it)");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("oracle said: {}", String::from_utf8_lossy(&out.stderr)));
    if report.get("usage_error").is_some() {
        panic!("oracle usage error (is `cryptography` installed?): {report}");
    }
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn receipt_zero_of_the_derived_vectors_reproduces_exactly() {
    let c = Chain::new();
    c.dir
        .run(&[
            "asset",
            "state",
            "receipt-init",
            &c.module,
            "--unsigned",
            "--timestamp",
            "2026-01-01T00:00:00Z",
        ])
        .ok();
    let got: Value = serde_json::from_str(
        &std::fs::read_to_string(c.file("state/receipts/receipt.0.json")).unwrap(),
    )
    .unwrap();
    let want = load("msez-fixtures/derived_vectors.json")["asset_receipt_0"]["receipt"].clone();
    assert_eq!(got, want);
    // Unsigned, so verification fails on the signature check, naming the file.
    let run = c.verify(&[]);
    run.code(67);
    assert!(run.stderr.contains("no valid proofs"), "{}", run.stderr);
}

#[test]
fn a_chain_written_by_msez_passes_the_independent_checker() {
    let c = Chain::new();
    c.append(9);
    c.checkpoint();
    for seq in ["0", "4", "8"] {
        c.dir
            .run(&[
                "asset",
                "state",
                "inclusion-proof",
                &c.module,
                "--sequence",
                seq,
            ])
            .ok();
    }
    let receipts = c.file("state/receipts");
    let ck = c.file("state/checkpoints/checkpoint.9.json");
    let proofs: Vec<String> = ["0", "4", "8"]
        .iter()
        .map(|s| {
            c.file(&format!("state/proofs/inclusion.{s}.json"))
                .display()
                .to_string()
        })
        .collect();
    let mut args = vec![
        "verify-asset-chain",
        "--receipts",
        receipts.to_str().unwrap(),
        "--asset-id",
        ASSET_ID,
        "--checkpoint",
        ck.to_str().unwrap(),
    ];
    for p in &proofs {
        args.extend_from_slice(&["--proof", p]);
    }
    let (code, report) = oracle(&args);
    assert_eq!(code, 0, "oracle failures: {}", report["failures"]);
    assert_eq!(report["receipt_count"], 9);
    assert_eq!(report["signatures"]["proofs_valid"], 18);
    // And msez agrees with itself through every verifier.
    c.verify(&["--checkpoint", ck.to_str().unwrap()]).ok();
    for (seq, p) in ["0", "4", "8"].iter().zip(&proofs) {
        let r = c.file(&format!("state/receipts/receipt.{seq}.json"));
        c.dir.verify_inclusion("asset", &r, p, &ck).ok();
    }
}

#[test]
fn a_chain_written_by_the_independent_checker_is_accepted_by_msez() {
    let dir = Dir::repo();
    let module = dir.join("modules/smart-assets/from-oracle");
    let key = vectors().join("msez-fixtures/keys/zone-b.ed25519.jwk");
    let (code, written) = oracle(&[
        "write-asset-chain",
        "--out",
        module.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--count",
        "11",
    ]);
    assert_eq!(code, 0, "{written}");
    let m = module.to_str().unwrap();
    let run = dir.run(&[
        "--json",
        "asset",
        "state",
        "verify",
        m,
        "--checkpoint",
        &format!("{m}/state/checkpoints/checkpoint.json"),
    ]);
    let report = run.json();
    assert_eq!(run.code, 0, "{report}");
    assert_eq!(report["final_chain_root"], written["final_chain_root"]);
    assert_eq!(report["mmr"]["root"], written["mmr_root"]);
    for seq in [0, 5, 10] {
        let r = format!("{m}/state/receipts/receipt.{seq}.json");
        let p = format!("{m}/state/proofs/inclusion.{seq}.json");
        dir.verify_inclusion(
            "asset",
            &r,
            &p,
            format!("{m}/state/checkpoints/checkpoint.json"),
        )
        .ok();
    }
    // Imported into .msez, the chain's head and MMR match what the checker computed.
    dir.run(&["add", m]).ok();
    let head = std::fs::read_to_string(dir.join(&format!(
        ".msez/refs/assets/{}/core/head",
        written["asset_id"].as_str().unwrap()
    )))
    .unwrap();
    assert_eq!(head.trim(), written["final_chain_root"].as_str().unwrap());
    dir.run(&["fsck", "--strict"]).ok();
}

#[test]
fn an_edited_receipt_field_fails_with_next_root_mismatch() {
    let c = Chain::new();
    c.append(3);
    edit_json(&c.file("state/receipts/receipt.1.json"), |v| {
        v["timestamp"] = "2030-01-01T00:00:00Z".into()
    });
    let run = c.verify(&[]);
    run.code(66);
    assert!(
        run.stderr.contains("next_root mismatch") && run.stderr.contains("receipt.1.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_signature_fails_with_the_signature_class() {
    let c = Chain::new();
    c.append(3);
    edit_json(&c.file("state/receipts/receipt.2.json"), |v| {
        for p in v["proof"].as_array_mut().unwrap() {
            let jws = p["jws"].as_str().unwrap().to_string();
            let first = if jws.starts_with('A') { 'B' } else { 'A' };
            let flipped = format!("{first}{}", &jws[1..]);
            p["jws"] = flipped.into();
        }
    });
    let run = c.verify(&[]);
    run.code(67);
    assert!(
        run.stderr
            .contains("receipt signature verification failed (no valid proofs)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_middle_receipt_is_reported_as_missing() {
    let c = Chain::new();
    c.append(5);
    std::fs::remove_file(c.file("state/receipts/receipt.2.json")).unwrap();
    let run = c.verify(&[]);
    run.code(68);
    assert!(
        run.stderr.contains("missing receipt at sequence 2"),
        "{}",
        run.stderr
    );
    let report = c.verify(&["--json"]).json();
    assert_eq!(report["errors"][0]["code"], "missing.receipt");
}

#[test]
fn a_checkpoint_with_a_wrong_root_fails_naming_the_field() {
    let c = Chain::new();
    c.append(4);
    c.checkpoint();
    let ck = c.file("state/checkpoints/checkpoint.4.json");
    edit_json(&ck, |v| v["mmr"]["root"] = "ab".repeat(32).into());
    // The signature no longer covers the edited payload: re-sign so only the root is wrong.
    edit_json(&ck, |v| v["proof"] = Value::Array(vec![]));
    c.dir
        .run(&[
            "vc",
            "sign",
            ck.to_str().unwrap(),
            "--key",
            "dev.jwk",
            "--out",
            ck.to_str().unwrap(),
        ])
        .ok();
    let run = c.verify(&["--checkpoint", ck.to_str().unwrap()]);
    run.code(66);
    assert!(
        run.stderr.contains("checkpoint mmr.root mismatch"),
        "{}",
        run.stderr
    );
}

#[test]
fn tampered_inclusion_proofs_fail() {
    let c = Chain::new();
    c.append(7);
    c.checkpoint();
    c.prove("3");
    let proof = c.file("state/proofs/inclusion.3.json");
    let receipt = c.file("state/receipts/receipt.3.json");
    let ck = c.file("state/checkpoints/checkpoint.7.json");
    let original = std::fs::read_to_string(&proof).unwrap();
    let verify = || c.dir.verify_inclusion("asset", &receipt, &proof, &ck);
    verify().ok();
    type Mutation = Box<dyn Fn(&mut Value)>;
    let mutations: Vec<(&str, Mutation, i32)> = vec![
        (
            "flipped hash",
            Box::new(|v: &mut Value| {
                let h = v["path"][0]["hash"].as_str().unwrap().to_string();
                v["path"][0]["hash"] =
                    format!("{}{}", if h.starts_with('0') { '1' } else { '0' }, &h[1..]).into();
            }),
            66,
        ),
        (
            "wrong side",
            Box::new(|v: &mut Value| {
                let side = if v["path"][0]["side"] == "left" {
                    "right"
                } else {
                    "left"
                };
                v["path"][0]["side"] = side.into();
            }),
            65,
        ),
        (
            "wrong peak index",
            Box::new(|v: &mut Value| {
                v["peak_index"] = (v["peak_index"].as_u64().unwrap() + 1).into()
            }),
            65,
        ),
        (
            "other leaf",
            Box::new(|v: &mut Value| v["leaf_index"] = 2.into()),
            66,
        ),
    ];
    for (name, mutate, code) in mutations {
        std::fs::write(&proof, &original).unwrap();
        edit_json(&proof, mutate);
        let run = verify();
        assert_eq!(run.code, code, "{name}: {run:#?}");
        assert!(run.stderr.contains("FAIL"), "{name}: {}", run.stderr);
    }
}

#[test]
fn a_fork_without_resolution_fails_verify_with_the_fork_class() {
    let c = Chain::new();
    c.append(3);
    // A second receipt at sequence 2 on the same prev_root, written by another tool.
    let r2: Value = serde_json::from_str(
        &std::fs::read_to_string(c.file("state/receipts/receipt.2.json")).unwrap(),
    )
    .unwrap();
    let mut other = r2.clone();
    other["timestamp"] = "2031-01-01T00:00:00Z".into();
    other["proof"] = Value::Array(vec![]);
    other.as_object_mut().unwrap().remove("next_root");
    let next_root = msez::canon::rule_for("smart-asset-receipt")
        .digest_json(&other)
        .unwrap();
    other["next_root"] = next_root.to_hex().into();
    let path = c.file("state/receipts/receipt.2.other.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&other).unwrap()).unwrap();
    c.dir
        .run(&[
            "vc",
            "sign",
            path.to_str().unwrap(),
            "--key",
            "zone-a.jwk",
            "--out",
            path.to_str().unwrap(),
        ])
        .ok();
    let run = c.verify(&[]);
    run.code(69);
    assert!(
        run.stderr.contains("fork detected at sequence 2"),
        "{}",
        run.stderr
    );
}

#[test]
fn appending_on_a_stale_head_is_a_conflict_and_writes_nothing() {
    let c = Chain::new();
    c.append(2);
    let run = c.dir.run(&[
        "asset",
        "state",
        "receipt-init",
        &c.module,
        "--key",
        "dev.jwk",
        "--expect-head",
        "genesis",
    ]);
    run.code(70);
    // A head lock held by a live process (another appender) is a conflict too.
    let lock = c
        .dir
        .join(&format!(".msez/refs/assets/{ASSET_ID}/core/head.lock"));
    let holder = crate::util::hold_lock(&lock);
    c.dir
        .run(&[
            "asset",
            "state",
            "receipt-init",
            &c.module,
            "--key",
            "dev.jwk",
        ])
        .code(70);
    drop(holder);
    std::fs::remove_file(&lock).unwrap();
    assert!(!c.file("state/receipts/receipt.2.json").exists());
    c.verify(&[]).ok();
}

#[test]
fn a_failing_pre_append_hook_appends_nothing() {
    let c = Chain::new();
    c.append(1);
    let hook = c.dir.join(".msez/hooks/pre-append");
    std::fs::write(&hook, "#!/bin/sh\necho \"frozen: $MSEZ_REF\" >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = c.dir.run(&[
        "asset",
        "state",
        "receipt-init",
        &c.module,
        "--key",
        "dev.jwk",
    ]);
    run.code(70);
    assert!(
        run.stderr.contains("frozen: refs/assets/"),
        "{}",
        run.stderr
    );
    assert!(!c.file("state/receipts/receipt.1.json").exists());
    let log = c
        .dir
        .run(&["--json", "log", &format!("assets/{ASSET_ID}/core/head")])
        .json();
    assert_eq!(log["receipts"].as_array().unwrap().len(), 1);
}

#[test]
fn log_walks_newest_first_and_cosign_adds_a_proof_file() {
    let c = Chain::new();
    c.append(4);
    let log = c
        .dir
        .run(&["--json", "log", &format!("assets/{ASSET_ID}/core/head")])
        .json();
    let seqs: Vec<u64> = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![3, 2, 1, 0]);
    std::fs::copy(
        vectors().join("msez-fixtures/keys/zone-b.ed25519.jwk"),
        c.dir.join("zone-b.jwk"),
    )
    .unwrap();
    c.dir
        .run(&[
            "asset",
            "state",
            "cosign",
            &c.module,
            "--sequence",
            "1",
            "--key",
            "zone-b.jwk",
        ])
        .ok();
    let r1: Value = serde_json::from_str(
        &std::fs::read_to_string(c.file("state/receipts/receipt.1.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(r1["proof"].as_array().unwrap().len(), 3);
    let proof_files = walk(&c.dir.join(".msez/proofs"));
    assert_eq!(proof_files.len(), 1);
    c.verify(&[]).ok();
    c.dir.run(&["fsck", "--strict"]).ok();
}

#[test]
fn a_batch_past_the_open_file_limit_stages_the_rest_with_names() {
    let c = Chain::new();
    let lines: String = (0..300)
        .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect();
    c.dir.write("big.jsonl", lines);
    // A hard limit of 600 open files leaves 88 for unnamed module files: the other 212 are
    // staged as named temp files and renamed on commit.
    let run = crate::mount::sh(
        c.dir.path(),
        &format!(
            "ulimit -n 600 && {} asset state receipt-init {} --batch big.jsonl --key dev.jwk",
            crate::util::bin(),
            c.module
        ),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(c.verify(&[]).ok().contains("receipts: 300"));
    let receipts = c.dir.join(&format!("{}/state/receipts", c.module));
    let names: Vec<String> = std::fs::read_dir(&receipts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 300, "no temp file is left: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("receipt.")));
    c.dir.run(&["fsck"]).ok();
}

#[test]
fn a_bad_batch_line_is_named_by_its_line_and_nothing_is_appended() {
    let c = Chain::new();
    c.append(2);
    // Lines 3 and 6 are bad (blank lines count); the first in file order is named, from
    // either half of the batch.
    let mut lines: Vec<String> = (0..6)
        .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}"))
        .collect();
    lines.insert(1, String::new());
    lines[2] = "{not json".into();
    lines[5] = "[1,".into();
    c.dir.write("bad.jsonl", lines.join("\n"));
    let run = c.dir.run(&[
        "--json",
        "asset",
        "state",
        "receipt-init",
        &c.module,
        "--batch",
        "bad.jsonl",
        "--key",
        "dev.jwk",
    ]);
    run.code(65);
    assert!(run.stdout.contains("bad.jsonl:3"), "{}", run.stdout);
    assert!(c.verify(&[]).ok().contains("receipts: 2"));
}

#[test]
fn fsck_strict_names_a_changed_byte_inside_a_proof() {
    let c = Chain::new();
    c.append(msez::odb::PACK_MIN);
    c.dir.run(&["fsck", "--strict"]).ok();
    // A batch of PACK_MIN packs its receipts: change a byte of a signature inside the pack.
    let pack = walk(&c.dir.join(".msez/packs")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    let at = bytes.windows(7).position(|w| w == b"\"jws\":\"").unwrap() + 7;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::set_permissions(&pack, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&pack, bytes).unwrap();
    // The pack's checksum names the pack; strict mode also names the receipt whose proof fails.
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(66);
    assert!(run.stdout.contains("blake3"), "{}", run.stdout);
    let run = c.dir.run(&["--json", "fsck", "--strict"]);
    run.code(66);
    let problems = run.json()["problems"].as_array().unwrap().clone();
    assert!(
        problems.iter().any(|p| p["class"] == "signature"
            && p["object"]
                .as_str()
                .is_some_and(|o| o.starts_with("smart-asset-receipt:"))),
        "{problems:#?}"
    );
    // A torn pack (cut short) is named as such; its objects read as missing, never as damage
    // passed on.
    let bytes = std::fs::read(&pack).unwrap();
    std::fs::write(&pack, &bytes[..bytes.len() - 8]).unwrap();
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(66);
    let problems = run.json()["problems"].as_array().unwrap().clone();
    assert!(
        problems.iter().any(|p| p["code"] == "digest.pack"),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p["code"] == "missing.ref_target"),
        "{problems:#?}"
    );
}

#[test]
fn damaged_mmr_node_files_are_reported_by_fsck_and_rebuilt_on_use() {
    let c = Chain::new();
    c.append(4);
    let level0 = c
        .dir
        .join(&format!(".msez/mmr/assets/{ASSET_ID}/core/level-00"));
    let mut bytes = std::fs::read(&level0).unwrap();
    bytes[0] ^= 1; // leaf 0: not a peak, so only proofs that use it notice
    std::fs::write(&level0, bytes).unwrap();
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(66);
    assert_eq!(run.json()["problems"][0]["code"], "digest.mmr_state");
    c.checkpoint();
    c.prove("1");
    let (r, p, ck) = (
        c.file("state/receipts/receipt.1.json"),
        c.file("state/proofs/inclusion.1.json"),
        c.file("state/checkpoints/checkpoint.4.json"),
    );
    c.dir.verify_inclusion("asset", &r, &p, &ck).ok();
    c.dir.run(&["fsck"]).ok();
}

#[test]
fn consistency_proofs_between_checkpoints_verify_with_the_mmr_plumbing() {
    let c = Chain::new();
    c.append(5);
    c.checkpoint();
    c.append(8);
    c.checkpoint();
    let ck = |n: u32| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(c.file(&format!("state/checkpoints/checkpoint.{n}.json")))
                .unwrap(),
        )
        .unwrap()
    };
    let (old, new) = (ck(5), ck(13));
    let doc = c
        .dir
        .run(&[
            "--json",
            "asset",
            "state",
            "consistency-proof",
            &c.module,
            "--old",
            "5",
        ])
        .json();
    assert_eq!(doc["old_root"], old["mmr"]["root"]);
    assert_eq!(doc["new_root"], new["mmr"]["root"]);
    c.dir
        .write("proof.json", serde_json::to_vec(&doc["proof"]).unwrap());
    let verify = |old_root: &str| {
        c.dir.run(&[
            "mmr",
            "verify-consistency",
            "--old",
            "5",
            "--old-root",
            old_root,
            "--new",
            "13",
            "--new-root",
            new["mmr"]["root"].as_str().unwrap(),
            "--proof",
            "proof.json",
        ])
    };
    verify(old["mmr"]["root"].as_str().unwrap()).ok();
    verify(&"ab".repeat(32)).code(66);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path())
            } else {
                out.push(e.path())
            }
        }
    }
    out.sort();
    out
}

#[test]
fn quickstart_runs_the_operator_flow() {
    let dir = Dir::new();
    let run = dir.run(&["--json", "quickstart", "demo", "--receipts", "5"]);
    let s = run.json();
    assert_eq!(run.code, 0, "{s}");
    assert_eq!(s["receipts"], 5);
    assert_eq!(s["verify"], "ASSET STATE VERIFY OK");
    assert_eq!(s["pushed_refs"], 2);
    assert!(s["clone_fsck"].as_str().unwrap().starts_with("ok: "), "{s}");
    assert!(dir.join("demo/clone/.msez").is_dir());
    // The witness bundle verifies offline; it was mounted and listed where FUSE works.
    dir.run(&[
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "demo/asset.witness-bundle.zip",
    ])
    .ok();
    let mount = s["mount"].as_str().unwrap();
    if crate::util::fuse_usable() {
        assert!(
            mount.starts_with(
                "mounted, listed and unmounted: README.txt assets digest-input graph manifest.json objects raw"
            ),
            "{s}"
        );
    } else {
        assert!(mount.starts_with("skipped: "), "{s}");
    }
    let demo = dir.join("demo");
    let again = Command::new(crate::util::bin())
        .args(["-C", demo.to_str().unwrap(), "fsck", "--strict"])
        .output()
        .unwrap();
    assert!(again.status.success());
    // A second quickstart into the same folder refuses to clobber it.
    dir.run(&["quickstart", "demo"]).code(64);
}

#[test]
fn a_batch_killed_mid_append_publishes_nothing_and_fsck_sweeps_its_staging() {
    let c = Chain::new();
    c.append(3);
    let lines: String = (0..20_000)
        .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect();
    c.dir.write("big.jsonl", lines);
    let mut child = c
        .dir
        .cmd(&[
            "asset",
            "state",
            "receipt-init",
            &c.module,
            "--batch",
            "big.jsonl",
            "--key",
            "dev.jwk",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it has staged objects (its staging directory is non-empty).
    let tmp = c.dir.join(".msez/tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let staged = || {
        std::fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .any(|e| std::fs::read_dir(e.path()).is_ok_and(|mut d| d.next().is_some()))
    };
    while !staged() {
        assert!(
            std::time::Instant::now() < deadline,
            "the append never staged an object"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The head did not move and the chain still verifies: nothing of the batch is visible.
    let out = c.verify(&[]);
    assert!(out.ok().contains("receipts: 3"), "{}", out.ok());
    let run = c.dir.run(&["--json", "fsck", "--grace", "0s"]);
    run.ok();
    assert_eq!(run.json()["temp_removed"].as_array().unwrap().len(), 1);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    // Rerunning appends from the same head.
    c.append(2);
    assert!(c.verify(&[]).ok().contains("receipts: 5"));
}
