//! Issue 15: one verdict model. Every verifier runs all its checks and reports all; invalid
//! dominates unknown dominates valid; bundles verify the chains they carry and are never
//! written incomplete without saying so.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Dir, Run, vectors};

pub(crate) fn key() -> PathBuf {
    vectors().join("msez-fixtures/keys/dev.ed25519.jwk")
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// An asset module signed by the fixture dev key.
pub(crate) struct Module {
    pub(crate) dir: Dir,
    pub(crate) module: String,
}

impl Module {
    pub(crate) fn new() -> Module {
        let (dir, module) = Dir::asset_module(&[], &[]);
        Module { dir, module }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.dir.run(args)
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(&format!("{}/{rel}", self.module))
    }

    /// Appends `n` receipts; receipt i attaches `blobs[i]` when given (one or more artifacts).
    pub(crate) fn append(&self, n: usize, blobs: &[Vec<String>]) {
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
    pub(crate) fn checkpoint(&self) -> PathBuf {
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

    pub(crate) fn prove(&self, sequence: usize) -> PathBuf {
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

/// A bundle verification report must match schemas/verify-report.schema.json.
#[track_caller]
fn check_schema(v: &Value) {
    if let Err(e) = msez::schema::validate("verify-report.schema.json", v, "report") {
        panic!("{e}: {v}");
    }
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

/// The definite failures of the matrix: what to break, the exit code and class it must give.
#[derive(Clone, Copy, Debug)]
enum Definite {
    ChangedReceipt,
    BadSignature,
    MissingCoveredReceipt,
    ForgedCheckpoint,
    WrongInclusionProof,
}

/// The unknown causes of the matrix.
#[derive(Clone, Copy, Debug)]
enum Unknown {
    PendingQuorum,
    MissingArtifact,
    CutShortWalk,
}

impl Definite {
    fn expect(self) -> (i32, &'static str) {
        match self {
            Definite::BadSignature => (67, "signature"),
            _ => (66, "digest"),
        }
    }

    fn apply(self, m: &Module, ck: &Path, proof: &Path) {
        match self {
            Definite::ChangedReceipt => m.edit(&m.receipt(1), false, |v| {
                v["transition"]["payload"]["i"] = 99.into();
            }),
            Definite::BadSignature => m.edit(&m.receipt(1), false, |v| {
                let p = &mut v["proof"][0];
                let field = if p.get("jws").is_some() {
                    "jws"
                } else {
                    "proofValue"
                };
                let sig = p[field].as_str().unwrap().to_string();
                // Flip one character of the signature (same length, still well formed).
                let last = sig.chars().last().unwrap();
                let flipped = if last == 'A' { 'B' } else { 'A' };
                p[field] = format!("{}{flipped}", &sig[..sig.len() - 1]).into();
            }),
            Definite::MissingCoveredReceipt => std::fs::remove_file(m.receipt(1)).unwrap(),
            Definite::ForgedCheckpoint => m.edit(ck, true, |v| {
                forge_root(v);
                v["mmr"]["size"] = 99.into();
            }),
            Definite::WrongInclusionProof => m.edit(proof, false, |v| {
                v["receipt_next_root"] = Value::String("cd".repeat(32));
            }),
        }
    }
}

/// A module of four receipts (each attaching three blobs), a checkpoint and an inclusion proof,
/// with `u` set up; returns the module and the extra witness-bundle flags `u` needs.
fn matrix_module(u: Unknown) -> (Module, Vec<String>, PathBuf, PathBuf) {
    let m = Module::new();
    let blobs: Vec<Vec<String>> = (0..4)
        .map(|i| {
            (0..3)
                .map(|j| {
                    let id = m
                        .dir
                        .put(&format!("b{i}{j}.txt"), format!("blob {i} {j}\n"), "blob");
                    id.split_once(':').unwrap().1.to_string()
                })
                .collect()
        })
        .collect();
    m.append(4, &blobs);
    let mut flags = vec!["--allow-partial".to_string()];
    match u {
        Unknown::PendingQuorum => m.append_pending(),
        Unknown::MissingArtifact => {
            let id = format!("blob:{}", blobs[2][1]);
            std::fs::remove_file(m.dir.object_file(&id)).unwrap();
        }
        // Enough for every root file, not for the twelve blobs.
        Unknown::CutShortWalk => flags.extend(["--max-nodes".to_string(), "9".to_string()]),
    }
    let ck = m.checkpoint();
    let proof = m.prove(2);
    (m, flags, ck, proof)
}

#[test]
fn every_definite_failure_with_every_unknown_cause_is_invalid_with_the_roots_computed() {
    use Definite::*;
    use Unknown::*;
    for d in [
        ChangedReceipt,
        BadSignature,
        MissingCoveredReceipt,
        ForgedCheckpoint,
        WrongInclusionProof,
    ] {
        for u in [PendingQuorum, MissingArtifact, CutShortWalk] {
            let (m, flags, ck, proof) = matrix_module(u);
            d.apply(&m, &ck, &proof);
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let built = m.bundle("w.zip", &flags);
            assert!(
                m.dir.join("w.zip").exists(),
                "{d:?}/{u:?}: --allow-partial writes the bundle: {built:?}"
            );
            let (code, class) = d.expect();
            let run = m.verify_bundle("w.zip");
            assert_eq!(run.code, code, "{d:?}/{u:?}: {run:?}");
            let v = run.json();
            assert_eq!(v["verdict"], "invalid", "{d:?}/{u:?}: {v}");
            let findings = v["findings"].as_array().unwrap();
            assert!(
                findings
                    .iter()
                    .any(|f| f["class"] == class && f["effect"] == "invalid"),
                "{d:?}/{u:?}: no {class} finding: {v}"
            );
            // The unknown cause is reported too.
            assert!(
                findings.iter().any(|f| f["effect"] == "unknown"),
                "{d:?}/{u:?}: the unknown cause is not reported: {v}"
            );
            let chain = &v["chains"][0];
            assert!(
                chain["receipt_count"].as_u64().unwrap() >= 1,
                "{d:?}/{u:?}: {v}"
            );
            assert_eq!(
                chain["final_root"].as_str().unwrap().len(),
                64,
                "{d:?}/{u:?}"
            );
            assert_eq!(
                chain["mmr"]["root"].as_str().unwrap().len(),
                64,
                "{d:?}/{u:?}"
            );
            assert_eq!(chain["verdict"], "invalid", "{d:?}/{u:?}: {v}");
            check_schema(&v);
        }
    }
}

#[test]
fn a_bundle_of_a_chain_missing_a_receipt_is_refused_at_build_and_invalid_at_verify() {
    let m = Module::new();
    m.append(5, &[]);
    m.checkpoint();
    std::fs::remove_file(m.receipt(2)).unwrap();
    let run = m.bundle("w.zip", &[]);
    assert_eq!(run.code, 66, "{run:?}");
    assert!(
        !m.dir.join("w.zip").exists(),
        "a refused bundle was written"
    );
    let v = run.json();
    assert_eq!(v["written"], false);
    assert!(
        codes(&v["findings"]).contains(&"digest.incomplete_chain".to_string()),
        "{v}"
    );
    // graph verify --bundle refuses too.
    let run = m.run(&[
        "artifact", "graph", "verify", "--path", &m.module, "--bundle", "g.zip",
    ]);
    assert_eq!(run.code, 66, "{run:?}");
    assert!(!m.dir.join("g.zip").exists());

    // Written anyway, it is marked partial and verifies invalid everywhere.
    m.bundle("w.zip", &["--allow-partial"]).code(66);
    let manifest = unzip_manifest(&m.dir.join("w.zip"));
    assert_eq!(manifest["partial"], true);
    let run = m.verify_bundle("w.zip");
    assert_eq!(run.code, 66, "{run:?}");
    let v = run.json();
    assert_eq!(v["verdict"], "invalid");
    assert_eq!(v["chains"][0]["receipt_count"], 2, "{v}");
    assert!(
        codes(&v["findings"]).contains(&"digest.incomplete_chain".to_string()),
        "{v}"
    );
    m.dir.write("any.vc.json", "{}");
    let run = m.run(&[
        "--json",
        "artifact",
        "bundle",
        "verify",
        "w.zip",
        "--attestation",
        "any.vc.json",
    ]);
    assert_eq!(run.code, 66, "{run:?}");
    assert_eq!(run.json()["verdict"], "invalid");
    // Human output names the verdict and the chain.
    let run = m.run(&["artifact", "graph", "verify", "--from-bundle", "w.zip"]);
    assert_eq!(run.code, 66, "{run:?}");
    assert!(run.stdout.starts_with("invalid"), "{run:?}");
    assert!(run.stdout.contains("digest.incomplete_chain"), "{run:?}");
}

/// A complete bundle with one receipt's entry deleted afterwards: the manifest lists an entry
/// the zip lacks (`missing.bundle_entry`, unknown alone), and the chain it carries has a gap,
/// which a bundle makes invalid: the entry check must not end the verification first.
#[test]
fn a_bundle_with_a_receipt_entry_deleted_is_invalid_not_unknown() {
    let m = Module::new();
    m.append(5, &[]);
    m.checkpoint();
    m.bundle("w.zip", &[]).code(0);
    let zip = m.dir.join("w.zip");
    let cut = m.dir.join("cut.zip");
    let py = r#"
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
    for i in a.infolist():
        if not i.filename.endswith("/state/receipts/receipt.2.json"):
            b.writestr(i, a.read(i.filename))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", py, s(&zip), s(&cut)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let run = m.verify_bundle("cut.zip");
    assert_eq!(run.code, 66, "{run:?}");
    let v = run.json();
    assert_eq!(v["verdict"], "invalid", "{v}");
    let found = codes(&v["findings"]);
    assert!(found.contains(&"missing.bundle_entry".to_string()), "{v}");
    assert!(
        found.contains(&"digest.incomplete_chain".to_string()),
        "{v}"
    );
    assert_eq!(v["error"]["code"], "missing.bundle_entry", "{v}");
    let run = m.run(&["audit", "cut.zip"]);
    assert_eq!(run.code, 66, "{run:?}");
}

fn unzip_manifest(zip: &Path) -> Value {
    let out = std::process::Command::new("unzip")
        .args(["-p", s(zip), "manifest.json"])
        .output()
        .expect("unzip is needed (scripts/test installs it)");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_walk_cut_short_is_refused_and_written_with_allow_partial_it_is_unknown() {
    let m = Module::new();
    m.append(20, &[]);
    m.checkpoint();
    let run = m.bundle("w.zip", &["--max-nodes", "5"]);
    assert_eq!(run.code, 68, "{run:?}");
    assert!(
        !m.dir.join("w.zip").exists(),
        "a cut-short bundle was written"
    );
    assert!(codes(&run.json()["findings"]).contains(&"missing.cut_short".to_string()));
    let run = m.bundle("w.zip", &["--max-nodes", "5", "--allow-partial"]);
    assert_eq!(run.code, 68, "{run:?}");
    assert_eq!(run.json()["partial"], true);
    let run = m.verify_bundle("w.zip");
    assert_eq!(run.code, 68, "{run:?}");
    let v = run.json();
    assert_eq!(v["verdict"], "unknown", "{v}");
    assert_eq!(v["partial"], true, "{v}");
    let found = codes(&v["findings"]);
    assert!(found.contains(&"missing.partial_bundle".to_string()), "{v}");
    check_schema(&v);
    // A plain graph walk cut short is unknown too, never valid.
    let run = m.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--path",
        &m.module,
        "--max-nodes",
        "5",
    ]);
    assert_eq!(run.code, 68, "{run:?}");
    assert_eq!(run.json()["verdict"], "unknown");
    // The whole module bundles complete and valid by default.
    m.bundle("full.zip", &[]).ok();
    let run = m.verify_bundle("full.zip");
    assert_eq!(run.code, 0, "{run:?}");
    let v = run.json();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["chains"][0]["receipt_count"], 20);
    assert_eq!(v["chains"][0]["checkpoints_checked"], 1);
    check_schema(&v);
}

#[test]
fn an_attestation_is_named_by_the_keys_that_signed_it_not_by_its_issuer_field() {
    let m = Module::new();
    m.append(3, &[]);
    m.bundle("w.zip", &[]).ok();
    let auditor = m.run(&["key", "gen", "--out", "auditor.jwk"]);
    auditor.ok();
    let auditor_did = m
        .run(&["key", "did", "auditor.jwk"])
        .ok()
        .trim()
        .to_string();
    m.run(&["key", "gen", "--out", "other.jwk"]).ok();
    let other_did = m.run(&["key", "did", "other.jwk"]).ok().trim().to_string();
    m.run(&[
        "artifact",
        "bundle",
        "attest",
        "w.zip",
        "--key",
        "auditor.jwk",
        "--issuer",
        &auditor_did,
        "--out",
        "a.vc.json",
    ])
    .ok();
    // Re-signed by another key, the auditor kept as issuer.
    let path = m.dir.join("a.vc.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["proof"] = Value::Array(Vec::new());
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    m.run(&[
        "vc",
        "sign",
        "a.vc.json",
        "--key",
        "other.jwk",
        "--out",
        "a.vc.json",
    ])
    .ok();
    let run = m.run(&[
        "artifact",
        "bundle",
        "verify",
        "w.zip",
        "--attestation",
        "a.vc.json",
    ]);
    let out = run.ok();
    assert!(
        !out.contains(&format!("attested by {auditor_did}")),
        "named by its issuer field: {out}"
    );
    assert!(out.contains(&format!("attested by {other_did}")), "{out}");
    assert!(out.contains("did not sign it"), "{out}");
    let run = m.run(&[
        "--json",
        "artifact",
        "bundle",
        "verify",
        "w.zip",
        "--attestation",
        "a.vc.json",
    ]);
    let v = run.json();
    assert_eq!(v["attestations"][0]["issuer_signed"], false, "{v}");
    assert_eq!(
        v["attestations"][0]["signers"][0],
        other_did.as_str(),
        "{v}"
    );
}

/// Slow-ish in debug builds (over a minute on a loaded machine); runs in the plain `cargo test`.
#[test]
fn slow_quickstart_bundles_all_ten_thousand_receipts_and_the_bundle_verifies_valid() {
    let dir = Dir::new();
    let run = dir.run(&["--json", "quickstart", "demo", "--receipts", "10000"]);
    run.ok();
    let run = dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "demo/asset.witness-bundle.zip",
    ]);
    assert_eq!(run.code, 0, "{}", &run.stderr);
    let v = run.json();
    assert_eq!(v["verdict"], "valid");
    assert!(
        v.get("partial").is_none_or(|p| p == false),
        "{}",
        v["partial"]
    );
    assert_eq!(v["root"]["files_truncated"], false);
    assert_eq!(v["chains"][0]["receipt_count"], 10_000);
    assert_eq!(v["chains"][0]["verdict"], "valid");
    assert_eq!(v["chains"][0]["checkpoints_checked"], 1);
    assert_eq!(v["chains"][0]["proofs_checked"], 1);
}

/// Slow in debug builds (a 100k-receipt module is signed, bundled and verified): it runs in
/// the plain `cargo test` of scripts/test all the same.
#[test]
fn slow_a_hundred_thousand_receipt_module_bundles_and_verifies_valid() {
    let m = Module::new();
    m.append(100_000, &[]);
    m.checkpoint();
    let run = m.bundle("w.zip", &[]);
    assert_eq!(run.code, 0, "{}", &run.stderr);
    let run = m.verify_bundle("w.zip");
    assert_eq!(run.code, 0, "{}", &run.stderr);
    let v = run.json();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["chains"][0]["receipt_count"], 100_000);
    assert_eq!(v["stats"]["missing_total"], 0);
    assert_eq!(v["root"]["files_truncated"], false);
}

#[test]
fn under_a_profile_an_attestation_counts_only_for_the_keys_that_signed_it() {
    let m = Module::new();
    m.append(3, &[]);
    m.bundle("w.zip", &[]).ok();
    let profile = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("profiles/asset-history-bundle-attestation/profile.yaml");
    let fixture = |name: &str| vectors().join(format!("msez-fixtures/keys/{name}.ed25519.jwk"));
    let did = |k: &Path| m.run(&["key", "did", s(k)]).ok().trim().to_string();
    let (dev, zone_a) = (fixture("dev"), fixture("zone-a"));
    for (k, out) in [(&dev, "dev.vc.json"), (&zone_a, "zone-a.vc.json")] {
        m.run(&[
            "artifact",
            "bundle",
            "attest",
            "w.zip",
            "--key",
            s(k),
            "--issuer",
            &did(k),
            "--out",
            out,
        ])
        .ok();
    }
    // The auditor's credential re-signed by an outsider, the auditor kept as issuer.
    m.run(&["key", "gen", "--out", "outsider.jwk"]).ok();
    let path = m.dir.join("dev.vc.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v["proof"] = Value::Array(Vec::new());
    m.dir
        .write("fake.vc.json", serde_json::to_vec_pretty(&v).unwrap());
    m.run(&[
        "vc",
        "sign",
        "fake.vc.json",
        "--key",
        "outsider.jwk",
        "--out",
        "fake.vc.json",
    ])
    .ok();
    let verify = |atts: &[&str]| {
        let mut args = vec![
            "--json",
            "artifact",
            "bundle",
            "verify",
            "w.zip",
            "--profile",
        ];
        args.push(s(&profile));
        for a in atts {
            args.extend_from_slice(&["--attestation", a]);
        }
        m.run(&args)
    };
    let run = verify(&["fake.vc.json", "zone-a.vc.json"]);
    assert_eq!(
        run.code, 67,
        "the outsider's credential counted for the auditor: {run:?}"
    );
    assert_eq!(run.json()["error"]["code"], "signature.bundle_quorum");
    let run = verify(&["dev.vc.json", "zone-a.vc.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["quorum"]["counted"].as_array().unwrap().len(), 2);
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_the_mounted_verify_report_of_a_bundle_missing_a_receipt_is_invalid() {
    use crate::mount::{mount, sh};
    let m = Module::new();
    m.append(5, &[]);
    m.checkpoint();
    m.bundle("good.zip", &[]).ok();
    std::fs::remove_file(m.receipt(2)).unwrap();
    m.bundle("broken.zip", &["--allow-partial"]).code(66);
    let good = mount(&m.dir, s(&m.dir.join("good.zip")), "good");
    let run = sh(&good.path, "jq -r .verdict verify-report.json");
    assert_eq!(run.ok().trim(), "valid");
    let run = sh(
        &good.path,
        "jq -r '.chains[0].receipt_count' verify-report.json",
    );
    assert_eq!(run.ok().trim(), "5");
    let broken = mount(&m.dir, s(&m.dir.join("broken.zip")), "broken");
    let run = sh(&broken.path, "jq -r .verdict verify-report.json");
    assert_eq!(run.ok().trim(), "invalid");
    let run = sh(
        &broken.path,
        "jq -r '[.findings[].code] | index(\"digest.incomplete_chain\") != null' verify-report.json",
    );
    assert_eq!(run.ok().trim(), "true");
}

#[test]
fn a_bundles_own_anchors_give_at_most_unknown_and_the_auditors_decide() {
    let (dir, module) = Dir::asset_module(&[], &["--trust-anchors", "trust-anchors.yaml"]);
    let m = Module { dir, module };
    let fixture = |name: &str| vectors().join(format!("msez-fixtures/keys/{name}.ed25519.jwk"));
    let anchors = |name: &str| {
        let did = m
            .run(&["key", "did", s(&fixture(name))])
            .ok()
            .trim()
            .to_string();
        format!(
            "version: 1\ntrust_anchors:\n  - anchor_id: operator\n    type: did\n    identifier: {did}\n    allowed_attestations: [smart_asset_receipt, smart_asset_receipt_checkpoint]\n"
        )
    };
    m.dir
        .write(&format!("{}/trust-anchors.yaml", m.module), anchors("dev"));
    m.append(3, &[]);
    m.checkpoint();
    m.bundle("w.zip", &[]).ok();
    // Only the bundle's own anchors vouch for the signers: unknown, the signer named.
    let run = m.verify_bundle("w.zip");
    assert_eq!(run.code, 68, "{run:?}");
    let v = run.json();
    assert_eq!(v["chains"][0]["trust"], "bundle");
    let dev = m
        .run(&["key", "did", s(&fixture("dev"))])
        .ok()
        .trim()
        .to_string();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "missing.auditor_trust")
        .unwrap_or_else(|| panic!("{v}"));
    assert!(f["found"].as_str().unwrap().contains(&dev), "{f}");
    // The auditor's anchors decide: the dev key trusted is valid, another key is invalid (67).
    m.dir.write("mine.yaml", anchors("dev"));
    let run = m.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "w.zip",
        "--trust-anchors",
        "mine.yaml",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["chains"][0]["trust"], "auditor");
    m.dir.write("other.yaml", anchors("zone-a"));
    let run = m.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "w.zip",
        "--trust-anchors",
        "other.yaml",
    ]);
    assert_eq!(run.code, 67, "{run:?}");
    assert_eq!(run.json()["verdict"], "invalid");
}

#[test]
fn a_corridor_chain_in_a_bundle_is_verified_and_a_gap_refuses_the_build() {
    let dir = Dir::repo();
    let fixture = |name: &str| vectors().join(format!("msez-fixtures/keys/{name}.ed25519.jwk"));
    let cid = "org.example.verdicts";
    dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        cid,
        "--key",
        s(&fixture("dev")),
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ])
    .ok();
    for i in 1..=3 {
        dir.run(&[
            "corridor",
            "state",
            "receipt-init",
            cid,
            "--key",
            s(&fixture("zone-a")),
            "--key",
            s(&fixture("zone-b")),
            "--timestamp",
            &format!("2026-01-01T00:00:0{i}Z"),
        ])
        .ok();
    }
    let module = format!("modules/corridors/{cid}");
    dir.run(&[
        "artifact", "graph", "verify", "--path", &module, "--bundle", "c.zip",
    ])
    .ok();
    let run = dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "c.zip",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let v = run.json();
    assert_eq!(v["chains"][0]["kind"], "corridor");
    assert_eq!(v["chains"][0]["owner"], cid);
    assert_eq!(v["chains"][0]["receipt_count"], 3);
    check_schema(&v);
    std::fs::remove_file(dir.join(&format!("{module}/state/receipts/corridor-receipt.1.json")))
        .unwrap();
    let run = dir.run(&[
        "artifact", "graph", "verify", "--path", &module, "--bundle", "d.zip",
    ]);
    assert_eq!(run.code, 66, "{run:?}");
    assert!(!dir.join("d.zip").exists());
}
