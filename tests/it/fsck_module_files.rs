//! fsck's rule for module files (issue 14, item 2; docs/fsck.md "Module files"): a module may
//! be behind its ref after a pull, never wrong below its own position (its MMR state, or the
//! run of files it holds), and never without the file of a receipt appended here.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::chain::Chain;
use crate::corridor::{CID, corridor_with, key};
use crate::util::{ASSET_ID, Dir, Run};

fn findings(run: &Run) -> Vec<Value> {
    run.json()["problems"].as_array().unwrap().clone()
}

fn codes(run: &Run) -> Vec<String> {
    findings(run)
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

fn asset_receipts(dir: &Dir) -> PathBuf {
    dir.join(&format!("modules/smart-assets/{ASSET_ID}/state/receipts"))
}

fn mmr(dir: &Dir, chain: &str) -> PathBuf {
    dir.join(&format!(".msez/mmr/{chain}"))
}

fn asset_chain() -> String {
    format!("assets/{ASSET_ID}/core")
}

/// One `missing.module_file` finding naming `file`, with the fields every finding carries.
fn assert_missing(run: &Run, file: &Path, why: &str) {
    run.code(68);
    let f = findings(run);
    let hit = f
        .iter()
        .find(|p| p["code"] == "missing.module_file" && p["path"] == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("no missing.module_file for {}: {f:#?}", file.display()));
    assert_eq!(hit["class"], "missing");
    assert_eq!(hit["found"], "no file");
    assert!(
        hit["expected"].as_str().unwrap().contains("next_root"),
        "{hit}"
    );
    assert!(hit["message"].as_str().unwrap().contains(why), "{hit}");
}

#[test]
fn asset_a_local_appends_missing_file_is_a_finding_with_and_without_mmr_state() {
    let c = Chain::new();
    c.append(4);
    c.dir.run(&["fsck"]).ok();
    let f2 = asset_receipts(&c.dir).join("receipt.2.json");
    let bytes = std::fs::read(&f2).unwrap();
    std::fs::remove_file(&f2).unwrap();
    assert_missing(&c.dir.run(&["--json", "fsck"]), &f2, "appended here");
    // Without MMR state the reflog still says receipt 2 was appended here.
    std::fs::remove_dir_all(mmr(&c.dir, &asset_chain())).unwrap();
    assert_missing(&c.dir.run(&["--json", "fsck"]), &f2, "appended here");
    // The last two files gone too: one finding per run of missing receipts, all reported.
    std::fs::remove_file(asset_receipts(&c.dir).join("receipt.3.json")).unwrap();
    std::fs::remove_file(asset_receipts(&c.dir).join("receipt.0.json")).unwrap();
    let run = c.dir.run(&["--json", "fsck"]);
    let missing: Vec<_> = findings(&run)
        .into_iter()
        .filter(|p| p["code"] == "missing.module_file")
        .collect();
    assert_eq!(missing.len(), 2, "{missing:#?}");
    assert!(
        missing[1]["message"]
            .as_str()
            .unwrap()
            .contains("sequences 2..=3"),
        "{missing:#?}"
    );
    // fsck repairs nothing.
    assert!(!f2.exists());
    std::fs::write(&f2, &bytes).unwrap();
}

#[test]
fn asset_a_file_that_does_not_hold_the_chains_receipt_below_the_position_is_a_finding() {
    let c = Chain::new();
    c.append(3);
    let f1 = asset_receipts(&c.dir).join("receipt.1.json");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&f1).unwrap()).unwrap();
    v["timestamp"] = "2031-01-01T00:00:00Z".into();
    std::fs::write(&f1, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(66);
    let f = findings(&run);
    let hit = f
        .iter()
        .find(|p| p["code"] == "digest.module_file")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(hit["path"], f1.to_str().unwrap());
    assert_eq!(hit["class"], "digest");
    assert!(
        hit["found"].as_str().unwrap().contains("next_root"),
        "{hit}"
    );
}

/// `a` with the module and three receipts, pushed; `b` a clone with the module checked out.
fn two_replicas() -> (Dir, Dir, String, Dir) {
    let (a, module) = Dir::asset_module(&["dev"], &[]);
    for _ in 0..3 {
        a.run(&[
            "asset",
            "state",
            "receipt-init",
            &module,
            "--key",
            "dev.jwk",
        ])
        .ok();
    }
    let remote = Dir::new();
    let url = remote.path().join("r").to_str().unwrap().to_string();
    a.run(&["remote", "add", "origin", &url]).ok();
    a.run(&["push", "origin"]).ok();
    let b = Dir::new();
    b.run(&["clone", &url, b.path().to_str().unwrap()]).ok();
    b.run(&["checkout", ASSET_ID]).ok();
    std::fs::copy(crate::util::fixture_key("dev"), b.join("dev.jwk")).unwrap();
    (a, b, module, remote)
}

#[test]
fn asset_module_behind_after_pull_is_not_a_finding_with_or_without_mmr_state() {
    let (a, b, module, _remote) = two_replicas();
    // `b` has no MMR state (it never appended); `a` does.
    assert!(!mmr(&b, &asset_chain()).exists());
    assert!(mmr(&a, &asset_chain()).exists());
    for _ in 0..2 {
        b.run(&[
            "asset",
            "state",
            "receipt-init",
            &module,
            "--key",
            "dev.jwk",
        ])
        .ok();
    }
    b.run(&["push", "origin"]).ok();
    a.run(&["pull", "origin"]).ok();
    assert!(!asset_receipts(&a).join("receipt.3.json").exists());
    // The MMR state is still at a's last append: the module is behind, as status says.
    a.run(&["fsck"]).ok();
    // `b`, its MMR state removed (its position is then its files), behind by a pull.
    std::fs::remove_dir_all(mmr(&b, &asset_chain())).unwrap();
    a.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--key",
        "dev.jwk",
    ])
    .ok();
    a.run(&["push", "origin"]).ok();
    b.run(&["pull", "origin"]).ok();
    assert!(!asset_receipts(&b).join("receipt.5.json").exists());
    b.run(&["fsck"]).ok();
}

#[test]
fn asset_a_hole_below_a_file_of_the_chain_is_a_finding() {
    let (_a, b, _module, _remote) = two_replicas();
    b.run(&["fsck"]).ok();
    // `b` appended nothing and has no MMR state: its position is its files, and a file above
    // a hole still needs everything below it.
    let f0 = asset_receipts(&b).join("receipt.0.json");
    std::fs::remove_file(&f0).unwrap();
    assert_missing(
        &b.run(&["--json", "fsck"]),
        &f0,
        "below a file of the chain",
    );
}

fn corridor_receipts(module: &Path) -> PathBuf {
    module.join("state/receipts")
}

#[test]
fn corridor_a_local_appends_missing_file_is_a_finding_with_and_without_mmr_state() {
    let (dir, module, _) = corridor_with(3);
    dir.run(&["fsck"]).ok();
    let f1 = corridor_receipts(&module).join("corridor-receipt.1.json");
    let bytes = std::fs::read(&f1).unwrap();
    std::fs::remove_file(&f1).unwrap();
    assert_missing(&dir.run(&["--json", "fsck"]), &f1, "appended here");
    std::fs::remove_dir_all(mmr(&dir, &format!("corridors/{CID}"))).unwrap();
    assert_missing(&dir.run(&["--json", "fsck"]), &f1, "appended here");
    std::fs::write(&f1, &bytes).unwrap();
    dir.run(&["fsck"]).ok();
}

#[test]
fn corridor_behind_after_pull_is_clean_and_a_hole_is_a_finding() {
    let (a, module, _) = corridor_with(1);
    let remote = Dir::new();
    let _keep = &remote;
    let url = remote.path().join("r").to_str().unwrap().to_string();
    a.run(&["remote", "add", "origin", &url]).ok();
    a.run(&["push", "origin"]).ok();
    let b = Dir::new();
    b.run(&["clone", &url, b.path().to_str().unwrap()]).ok();
    // `b` holds a copy of the module as it was (one receipt), and no MMR state.
    let theirs = b.join(&format!("modules/corridors/{CID}"));
    copy_dir(&module, &theirs);
    b.run(&["fsck"]).ok();
    for i in 0..2 {
        let ts = format!("2026-01-01T00:01:{i:02}Z");
        a.run(&[
            "corridor",
            "state",
            "receipt-init",
            CID,
            "--key",
            &key("zone-a"),
            "--key",
            &key("zone-b"),
            "--timestamp",
            &ts,
        ])
        .ok();
    }
    a.run(&["push", "origin"]).ok();
    b.run(&["pull", "origin"]).ok();
    assert!(!mmr(&b, &format!("corridors/{CID}")).exists());
    b.run(&["fsck"]).ok();
    // Receipt 2's file arrives without receipt 1's: a hole below a file of the chain.
    let name = |i: u64| format!("corridor-receipt.{i}.json");
    std::fs::copy(
        corridor_receipts(&module).join(name(2)),
        corridor_receipts(&theirs).join(name(2)),
    )
    .unwrap();
    assert_missing(
        &b.run(&["--json", "fsck"]),
        &corridor_receipts(&theirs).join(name(1)),
        "below a file of the chain",
    );
    assert_eq!(
        codes(&b.run(&["--json", "fsck"])),
        vec!["missing.module_file"]
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
