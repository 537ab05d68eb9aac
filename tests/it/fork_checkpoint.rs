//! A pull that crosses a fork by a counted resolution takes the chain's checkpoint ref along
//! (issue 14): a checkpoint of the losing branch is kept under `refs/forks/`, and the
//! ref names the remote's checkpoint when it checks against the adopted head, else none.

use std::path::Path;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, fixture_did, fixture_key};

fn head_ref() -> String {
    format!("refs/assets/{ASSET_ID}/core/head")
}

fn ck_ref() -> String {
    format!("refs/assets/{ASSET_ID}/core/checkpoint")
}

fn refs(d: &Dir) -> Value {
    d.run(&["refs", "--json"]).json()["refs"].clone()
}

fn anchors(dir: &Path) {
    let mut y = String::from("version: 1\ntrust_anchors:\n");
    for (key, allowed) in [
        (
            "dev",
            "[\"smart_asset_receipt\", \"fork_resolution\", \"checkpoint\"]",
        ),
        ("zone-a", "[\"smart_asset_receipt\", \"checkpoint\"]"),
    ] {
        y.push_str(&format!(
            "  - anchor_id: {key}\n    type: did\n    identifier: {}\n    allowed_attestations: {allowed}\n",
            fixture_did(key)
        ));
    }
    std::fs::write(dir.join("ta.yaml"), y).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn append(d: &Dir, module: &str, ts: &str) -> String {
    d.run(&[
        "--json",
        "asset",
        "state",
        "receipt-init",
        module,
        "--key",
        "dev.jwk",
        "--key",
        "zone-a.jwk",
        "--timestamp",
        ts,
    ])
    .json()["head"]
        .as_str()
        .unwrap()
        .to_string()
}

fn checkpoint(d: &Dir, module: &str) -> String {
    d.run(&[
        "asset",
        "state",
        "checkpoint",
        module,
        "--key",
        "zone-a.jwk",
    ])
    .ok();
    refs(d)[ck_ref()].as_str().unwrap().to_string()
}

#[test]
fn a_pull_across_a_fork_keeps_the_losing_checkpoint_under_forks_and_fsck_stays_clean() {
    let remote_dir = Dir::new();
    let url = remote_dir.join("r").display().to_string();
    let (a, module) = Dir::asset_module(&[], &[]);
    for k in ["dev", "zone-a"] {
        std::fs::copy(fixture_key(k), a.join(&format!("{k}.jwk"))).unwrap();
    }
    anchors(a.path());
    for i in 0..3 {
        append(&a, &module, &format!("2026-01-01T00:00:0{i}Z"));
    }
    a.run(&["remote", "add", "origin", &url]).ok();
    a.run(&["push"]).ok();
    let b = Dir::new();
    b.run(&["clone", &url, b.path().to_str().unwrap()]).ok();
    copy_tree(&a.join("modules"), &b.join("modules"));
    for f in ["ta.yaml", "dev.jwk", "zone-a.jwk"] {
        std::fs::copy(a.join(f), b.join(f)).unwrap();
    }

    // A appends sequence 3 and checkpoints it; B appends its own sequence 3.
    let theirs = append(&a, &module, "2026-02-01T00:00:00Z");
    let a_ck = checkpoint(&a, &module);
    a.run(&["push"]).ok();
    let ours = append(&b, &module, "2026-02-02T00:00:00Z");
    b.run(&["fetch"]).code(69);
    let theirs_file = format!("{module}/state/receipts/receipt.3.theirs.json");
    b.run(&[
        "artifact",
        "get",
        &format!("smart-asset-receipt:{theirs}"),
        "--out",
        &theirs_file,
    ])
    .ok();
    let prev: Value =
        serde_json::from_str(&std::fs::read_to_string(b.join(&theirs_file)).unwrap()).unwrap();
    b.run(&[
        "asset",
        "state",
        "fork-resolve",
        &module,
        "--sequence",
        "3",
        "--prev-root",
        prev["prev_root"].as_str().unwrap(),
        "--chosen-next-root",
        &ours,
        "--key",
        "dev.jwk",
        "--trust-anchors",
        "ta.yaml",
    ])
    .ok();
    b.run(&["push", "origin", &head_ref(), "--trust-anchors", "ta.yaml"])
        .ok();

    // C: A as it is now, for the second case below.
    let c = Dir::new();
    copy_tree(a.path(), c.path());

    // The remote's checkpoint is A's own (off the adopted branch): A's ref is kept under
    // forks/ and removed; fsck is clean.
    let run = a.run(&["--json", "pull", "--trust-anchors", "ta.yaml"]);
    run.ok();
    let now = refs(&a);
    assert_eq!(now[head_ref()], ours.as_str());
    assert!(now.get(ck_ref()).is_none(), "{now}");
    let kept = format!("refs/forks/assets/{ASSET_ID}/core/checkpoint/{a_ck}");
    assert_eq!(now[&kept], a_ck.as_str(), "{now}");
    a.run(&["fsck"]).ok();
    a.run(&["show", &format!("smart-asset-receipt-checkpoint:{a_ck}")])
        .ok();
    // gc keeps the evidence.
    a.run(&["gc", "--prune-expire", "0s"]).ok();
    a.run(&["show", &format!("smart-asset-receipt-checkpoint:{a_ck}")])
        .ok();

    // B checkpoints its branch; a push cannot move the remote's checkpoint across the fork
    // (exit 70, the object is sent), so the remote's operator sets it: C's pull keeps A's
    // checkpoint under refs/forks/ and adopts B's, which checks against the new head.
    let b_ck = checkpoint(&b, &module);
    b.run(&["push", "origin", &ck_ref(), "--trust-anchors", "ta.yaml"])
        .code(70);
    msez::remote::Backend::put(
        &msez::remote::Local::new(&remote_dir.join("r")),
        &ck_ref(),
        format!("{b_ck}\n").as_bytes(),
    )
    .unwrap();
    c.run(&["pull", "--trust-anchors", "ta.yaml"]).ok();
    let now = refs(&c);
    assert_eq!(now[head_ref()], ours.as_str());
    assert_eq!(now[ck_ref()], b_ck.as_str(), "{now}");
    assert_eq!(now[&kept], a_ck.as_str(), "{now}");
    c.run(&["fsck"]).ok();
}
