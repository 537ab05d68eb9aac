//! Issue 15: one verdict model. Every verifier runs all its checks and reports all; invalid
//! dominates unknown dominates valid; bundles verify the chains they carry and are never
//! written incomplete without saying so.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Dir, Run, vectors};

fn key() -> PathBuf {
    vectors().join("msez-fixtures/keys/dev.ed25519.jwk")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// An asset module signed by the fixture dev key.
struct Module {
    dir: Dir,
    module: String,
}

impl Module {
    fn new() -> Module {
        let (dir, module) = Dir::asset_module(&[], &[]);
        Module { dir, module }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.dir.run(args)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(&format!("{}/{rel}", self.module))
    }

    /// Appends `n` receipts; receipt i attaches `blobs[i]` when given (one or more artifacts).
    fn append(&self, n: usize, blobs: &[Vec<String>]) {
        let lines: String = (0..n)
            .map(|i| {
                let attach = match blobs.get(i) {
                    Some(ids) if !ids.is_empty() => {
                        let refs: Vec<String> = ids
                            .iter()
                            .map(|d| {
                                format!("{{\"artifact_type\":\"blob\",\"digest_sha256\":\"{d}\"}}")
                            })
                            .collect();
                        format!(",\"attachments\":[{}]", refs.join(","))
                    }
                    _ => String::new(),
                };
                format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}{attach}}}\n")
            })
            .collect();
        self.dir.write("batch.jsonl", lines);
        let k = key();
        self.run(&[
            "asset",
            "state",
            "receipt-init",
            &self.module,
            "--batch",
            "batch.jsonl",
            "--key",
            s(&k),
        ])
        .ok();
    }

    /// One receipt claiming harbors h1 and h2 that never signed: a pending quorum.
    fn append_pending(&self) {
        let k = key();
        self.run(&[
            "asset",
            "state",
            "receipt-init",
            &self.module,
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
    }

    /// A checkpoint of the whole chain; its path.
    fn checkpoint(&self) -> PathBuf {
        let k = key();
        let out = self
            .run(&[
                "--json",
                "asset",
                "state",
                "checkpoint",
                &self.module,
                "--key",
                s(&k),
            ])
            .ok()
            .to_string();
        let v: Value = serde_json::from_str(&out).unwrap();
        let p = v["path"].as_str().expect("checkpoint path").to_string();
        self.dir.join(&p)
    }

    fn prove(&self, sequence: usize) -> PathBuf {
        let out = self
            .run(&[
                "--json",
                "asset",
                "state",
                "inclusion-proof",
                &self.module,
                "--sequence",
                &sequence.to_string(),
            ])
            .ok()
            .to_string();
        let v: Value = serde_json::from_str(&out).unwrap();
        self.dir.join(v["path"].as_str().expect("proof path"))
    }

    /// Rewrites a JSON file with `edit`, then (when `resign`) signs it again with the dev key.
    fn edit(&self, path: &Path, resign: bool, edit: impl FnOnce(&mut Value)) {
        let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        edit(&mut v);
        if resign {
            v["proof"] = Value::Array(Vec::new());
        }
        std::fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
        if resign {
            let k = key();
            self.run(&["vc", "sign", s(path), "--key", s(&k), "--out", s(path)])
                .ok();
        }
    }

    fn receipt(&self, seq: usize) -> PathBuf {
        self.path(&format!("state/receipts/receipt.{seq}.json"))
    }

    fn bundle(&self, out: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "--json",
            "asset",
            "module",
            "witness-bundle",
            &self.module,
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn verify_bundle(&self, zip: &str) -> Run {
        self.run(&[
            "--json",
            "artifact",
            "graph",
            "verify",
            "--from-bundle",
            zip,
        ])
    }
}

fn codes(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn forge_root(v: &mut Value) {
    v["mmr"]["root"] = Value::String("ab".repeat(32));
}

#[test]
fn a_pending_quorum_does_not_hide_a_forged_checkpoint() {
    let m = Module::new();
    m.append(3, &[]);
    m.append_pending();
    let ck = m.checkpoint();
    m.edit(&ck, true, forge_root);
    let run = m.run(&[
        "--json",
        "asset",
        "state",
        "verify",
        &m.module,
        "--checkpoint",
        s(&ck),
    ]);
    assert_eq!(run.code, 66, "{run:?}");
    let v = run.json();
    assert_eq!(v["verdict"], "invalid", "{v}");
    let found = codes(&v["errors"]);
    assert!(
        found.contains(&"digest.checkpoint_mismatch".to_string()),
        "{v}"
    );
    assert!(found.contains(&"missing.pending_quorum".to_string()), "{v}");
    // What was computed despite the failures.
    assert_eq!(v["receipt_count"], 4, "{v}");
    assert_eq!(v["final_chain_root"].as_str().unwrap().len(), 64, "{v}");
    assert_eq!(v["mmr"]["size"], 4, "{v}");
    assert_eq!(v["mmr"]["root"].as_str().unwrap().len(), 64, "{v}");
    let mismatch = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "digest.checkpoint_mismatch")
        .unwrap();
    assert_eq!(mismatch["expected"], v["mmr"]["root"], "{v}");
    assert_eq!(mismatch["effect"], "invalid");
    // The pending quorum alone is unknown (68).
    let ck2 = m.checkpoint();
    let run = m.run(&[
        "--json",
        "asset",
        "state",
        "verify",
        &m.module,
        "--checkpoint",
        s(&ck2),
    ]);
    assert_eq!(run.code, 68, "{run:?}");
    assert_eq!(run.json()["verdict"], "unknown");
}
