//! A hostile remote that names a checkpoint nobody signed (issue 14, "never adopt what you have
//! not verified"): the checkpoint's digest leaves its proofs out, so a remote can strip them, or
//! write a checkpoint of any size that fits the chain; fetch, pull and clone refuse it
//! (`kind: "unsigned"`), and the signed one beside it is still adopted.

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, fixture_key};

fn ck_ref() -> String {
    format!("refs/assets/{ASSET_ID}/core/checkpoint")
}

fn refs(d: &Dir) -> Value {
    d.run(&["refs", "--json"]).json()["refs"].clone()
}

fn append(d: &Dir, module: &str, ts: &str) {
    d.run(&[
        "asset",
        "state",
        "receipt-init",
        module,
        "--key",
        "dev.jwk",
        "--timestamp",
        ts,
    ])
    .ok();
}

/// Checkpoints `module` in `d` (signed) and returns the checkpoint's digest and its file.
fn checkpoint(d: &Dir, module: &str, size: u64) -> (String, std::path::PathBuf) {
    d.run(&["asset", "state", "checkpoint", module, "--key", "dev.jwk"])
        .ok();
    let digest = refs(d)[ck_ref()].as_str().unwrap().to_string();
    let file = d.join(&format!(
        "{module}/state/checkpoints/checkpoint.{size}.json"
    ));
    (digest, file)
}

#[test]
fn a_remote_checkpoint_without_a_verifying_proof_is_never_adopted() {
    let remote_dir = Dir::new();
    let remote = remote_dir.join("r");
    let url = remote.display().to_string();
    let (a, module) = Dir::asset_module(&[], &[]);
    std::fs::copy(fixture_key("dev"), a.join("dev.jwk")).unwrap();
    for i in 0..3 {
        append(&a, &module, &format!("2026-01-01T00:00:0{i}Z"));
    }
    let (signed, _) = checkpoint(&a, &module, 3);
    a.run(&["remote", "add", "origin", &url]).ok();
    a.run(&["push"]).ok();
    let b = Dir::new();
    b.run(&["clone", &url, b.path().to_str().unwrap()]).ok();
    assert_eq!(
        refs(&b)[ck_ref()],
        signed.as_str(),
        "a signed checkpoint is adopted"
    );

    // A appends and checkpoints sequence 3 without pushing the checkpoint; the attacker
    // writes that checkpoint to the remote with its proof stripped (same digest).
    append(&a, &module, "2026-01-01T00:00:09Z");
    a.run(&["update-ref", &ck_ref(), &signed]).ok();
    a.run(&["push"]).ok();
    let (forged, file) = checkpoint(&a, &module, 4);
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("proof");
    std::fs::write(
        remote.join(format!(
            "objects/smart-asset-receipt-checkpoint/{forged}.json"
        )),
        format!("{}\n", serde_json::to_string(&doc).unwrap()),
    )
    .unwrap();
    std::fs::write(remote.join(ck_ref()), format!("{forged}\n")).unwrap();

    let fetched = b.run(&["fetch", "--json"]);
    let report = fetched.json();
    let refused = report["refused"].as_array().unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r["kind"] == "unsigned" && r["remote"] == forged.as_str()),
        "{report:#}"
    );
    b.run(&["pull"]);
    assert_eq!(
        refs(&b)[ck_ref()],
        signed.as_str(),
        "our checkpoint ref stays"
    );
    assert_ne!(
        refs(&b)[format!("refs/remotes/origin/assets/{ASSET_ID}/core/checkpoint")],
        forged.as_str(),
        "nor does the tracking ref move"
    );
    let c = Dir::new();
    c.run(&["clone", &url, c.path().to_str().unwrap()]);
    assert!(
        refs(&c).get(ck_ref()).is_none(),
        "a clone adopts no unsigned checkpoint"
    );
    b.run(&["fsck"]).ok();
}
