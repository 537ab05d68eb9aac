//! An append is one transaction, including the working tree (issue 14): a vetoing hook leaves
//! nothing signed, a kill -9 in the commit window is completed with the journaled bytes by the
//! next append or `msez recover`, hooks cannot outlive their timeout through children, and
//! damaged MMR state is rebuilt by the next write.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::chain::Chain;
use crate::util::{ASSET_ID, Dir};

const HEAD: &str =
    "refs/assets/37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5/core/head";

fn hook(dir: &Dir, name: &str, script: &str) {
    let p = dir.join(&format!(".msez/hooks/{name}"));
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn receipts_dir(c: &Chain) -> PathBuf {
    c.dir.join(&format!("{}/state/receipts", c.module))
}

fn receipt_files(c: &Chain) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(receipts_dir(c))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    v.sort();
    v
}

fn journal(c: &Chain) -> PathBuf {
    c.dir.join(&format!(".msez/journal/{HEAD}"))
}

/// `(sequence, next_root)` of the chain, oldest first.
fn log(c: &Chain) -> Vec<(u64, String)> {
    let out = c.dir.run(&["log", HEAD]);
    let mut v: Vec<(u64, String)> = out
        .ok()
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (
                w.next().unwrap().parse().unwrap(),
                w.next().unwrap().to_string(),
            )
        })
        .collect();
    v.reverse();
    v
}

fn append_one(c: &Chain, envs: &[(&str, &str)], payload: u64) -> crate::util::Run {
    let t = c.dir.write(
        "t.json",
        format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"n\":{payload}}}}}"),
    );
    let mut cmd = c.dir.cmd(&[
        "asset",
        "state",
        "receipt-init",
        &c.module,
        "--transition",
        t.to_str().unwrap(),
        "--key",
        "dev.jwk",
    ]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    crate::util::Run::from(cmd.output().unwrap())
}

#[test]
fn a_rejecting_pre_ref_update_hook_leaves_no_module_file_no_journal_and_no_fork() {
    let c = Chain::new();
    c.append(1);
    hook(
        &c.dir,
        "pre-ref-update",
        "#!/bin/sh\necho \"$MSEZ_OLD $MSEZ_NEW\" > seen.txt\necho vetoed >&2\nexit 1\n",
    );
    let run = append_one(&c, &[], 7);
    run.code(70);
    assert!(run.stderr.contains("vetoed"), "{}", run.stderr);
    // Told the would-be head before anything was signed or written.
    let seen = std::fs::read_to_string(c.dir.join("seen.txt")).unwrap();
    let (old, new) = seen.trim().split_once(' ').unwrap();
    assert_eq!(old, log(&c)[0].1);
    assert_eq!(new.len(), 64);
    assert_ne!(old, new);
    assert_eq!(receipt_files(&c), ["receipt.0.json"]);
    assert!(!journal(&c).exists());
    c.dir
        .run(&["show", &format!("smart-asset-receipt:{new}")])
        .code(68);
    std::fs::remove_file(c.dir.join(".msez/hooks/pre-ref-update")).unwrap();
    append_one(&c, &[], 8).ok();
    assert_eq!(receipt_files(&c), ["receipt.0.json", "receipt.1.json"]);
    assert!(c.verify(&[]).ok().contains("receipts: 2"));
    c.dir.run(&["fsck"]).ok();
}

/// The journaled receipt's canonical bytes (one object line).
fn journaled_object(c: &Chain) -> (String, String) {
    let text = std::fs::read_to_string(journal(c)).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("object "))
        .expect("an object line");
    let mut parts = line.splitn(4, ' ');
    parts.next();
    parts.next();
    let digest = parts.next().unwrap().to_string();
    (digest, parts.next().unwrap().to_string())
}

fn killed_in_the_commit_window_then(point: &str, complete: &dyn Fn(&Chain)) {
    let c = Chain::new();
    c.append(1);
    let run = append_one(&c, &[("MSEZ_TEST_CRASH_AT", point)], 1);
    assert_ne!(run.code, 0, "{point}: the append was not killed: {run:#?}");
    assert!(journal(&c).exists(), "{point}: no journal");
    let (signed, bytes) = journaled_object(&c);
    // fsck reports the unfinished append, and repairs nothing.
    let f = c.dir.run(&["fsck"]);
    assert_ne!(f.code, 0);
    assert!(f.stdout.contains("interrupted"), "{point}: {f:#?}");
    assert!(journal(&c).exists());
    complete(&c);
    assert!(!journal(&c).exists(), "{point}: journal left");
    // Exactly that receipt at sequence 1, same bytes in .msez and in the module file.
    let chain = log(&c);
    assert_eq!(chain[1], (1, signed.clone()), "{point}: {chain:?}");
    let stored =
        std::fs::read_to_string(c.dir.object_file(&format!("smart-asset-receipt:{signed}")))
            .unwrap();
    assert_eq!(stored.trim_end(), bytes, "{point}: other bytes stored");
    let file = c
        .dir
        .join(&format!("{}/state/receipts/receipt.1.json", c.module));
    let canon = c.dir.run(&["canon", file.to_str().unwrap()]);
    assert_eq!(
        canon.ok().trim_end(),
        bytes,
        "{point}: other bytes in the module"
    );
    // Byte for byte the pretty file an uninterrupted append writes (receipt 0's form).
    let v: serde_json::Value = serde_json::from_str(&bytes).unwrap();
    let mut pretty = serde_json::to_vec_pretty(&v).unwrap();
    pretty.push(b'\n');
    assert_eq!(std::fs::read(&file).unwrap(), pretty, "{point}");
    let zero = std::fs::read(receipts_dir(&c).join("receipt.0.json")).unwrap();
    let v0: serde_json::Value = serde_json::from_slice(&zero).unwrap();
    let mut pretty0 = serde_json::to_vec_pretty(&v0).unwrap();
    pretty0.push(b'\n');
    assert_eq!(zero, pretty0, "the pretty form is the append's");
    // No second signature at sequence 1: every module file is a chain receipt.
    assert!(receipt_files(&c).iter().all(|n| n.split('.').count() == 3));
    c.verify(&[]).ok();
    c.dir.run(&["fsck"]).ok();
}

#[test]
fn a_kill_in_the_commit_window_is_completed_by_the_next_append_with_the_same_bytes() {
    for point in ["append-journaled", "append-published", "append-ref-moved"] {
        killed_in_the_commit_window_then(point, &|c| {
            append_one(c, &[], 2).ok();
            let chain = log(c);
            assert_eq!(chain.len(), 3, "{chain:?}");
        });
    }
}

#[test]
fn a_kill_in_the_commit_window_is_completed_by_msez_recover() {
    for (point, args) in [
        ("append-journaled", vec!["recover"]),
        ("append-published", vec!["recover", "--all"]),
        (
            "append-ref-moved",
            vec![
                "recover",
                "modules/smart-assets/37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5",
            ],
        ),
    ] {
        killed_in_the_commit_window_then(point, &|c| {
            let out = c.dir.run(&args);
            assert!(out.ok().contains("recovered"), "{out:#?}");
            assert_eq!(log(c).len(), 2);
        });
    }
}

#[test]
fn status_shows_an_unfinished_append_and_reference_files_as_untracked() {
    let c = Chain::new();
    c.append(1);
    append_one(&c, &[("MSEZ_TEST_CRASH_AT", "append-journaled")], 1);
    let st = c.dir.run(&["status"]);
    assert!(st.ok().contains("unfinished append"), "{st:#?}");
    c.dir.run(&["recover"]).ok();
    // A receipt file a reference tool wrote (its receipt is not in .msez): untracked, not damage.
    let one = std::fs::read(receipts_dir(&c).join("receipt.1.json")).unwrap();
    let (_, bytes) = other_receipt(&c, &one);
    std::fs::write(receipts_dir(&c).join("receipt.9.json"), bytes).unwrap();
    let st = c.dir.run(&["--json", "status"]);
    let untracked = st.json()["chains"][0]["untracked"].clone();
    assert_eq!(untracked.as_array().unwrap().len(), 1, "{st:#?}");
    assert!(untracked[0].as_str().unwrap().ends_with("receipt.9.json"));
    assert_eq!(st.json()["chains"][0]["invalid"], serde_json::json!([]));
    c.dir.run(&["fsck"]).ok();
}

/// Another receipt at the position of `file` (a new timestamp, its next_root recomputed):
/// (next_root, pretty bytes).
fn other_receipt(c: &Chain, file: &[u8]) -> (String, Vec<u8>) {
    let mut v: serde_json::Value = serde_json::from_slice(file).unwrap();
    v["timestamp"] = "2030-01-01T00:00:00Z".into();
    let tmp = c.dir.write("other.json", serde_json::to_vec(&v).unwrap());
    let digest = c.dir.run(&[
        "digest",
        "--type",
        "smart-asset-receipt",
        tmp.to_str().unwrap(),
    ]);
    let root = digest.ok().split_whitespace().next().unwrap().to_string();
    let root = root.rsplit(':').next().unwrap().to_string();
    v["next_root"] = root.clone().into();
    (root, serde_json::to_vec_pretty(&v).unwrap())
}

#[test]
fn fsck_reports_module_files_off_the_chain_and_missing_ones_and_repairs_nothing() {
    let c = Chain::new();
    c.append(2);
    let f1 = receipts_dir(&c).join("receipt.1.json");
    let one = std::fs::read(&f1).unwrap();
    std::fs::remove_file(&f1).unwrap();
    let f = c.dir.run(&["fsck"]);
    f.code(68);
    assert!(f.stdout.contains("no file"), "{f:#?}");
    assert!(!f1.exists());
    std::fs::write(&f1, &one).unwrap();
    c.dir.run(&["fsck"]).ok();
    // A second receipt at sequence 1, stored in .msez but off the chain: what the equivocation
    // bug left behind (a signed receipt.N.json the head never moved to).
    let mut v: serde_json::Value = serde_json::from_slice(&one).unwrap();
    v["timestamp"] = "2030-01-01T00:00:00Z".into();
    let tmp = c.dir.write("other.json", serde_json::to_vec(&v).unwrap());
    let digest = c.dir.run(&[
        "digest",
        "--type",
        "smart-asset-receipt",
        tmp.to_str().unwrap(),
    ]);
    let root = digest.ok().split_whitespace().next().unwrap().to_string();
    let root = root.rsplit(':').next().unwrap().to_string();
    v["next_root"] = root.clone().into();
    let bytes = serde_json::to_vec_pretty(&v).unwrap();
    c.dir.put("other.json", &bytes, "smart-asset-receipt");
    let off = receipts_dir(&c).join(format!("receipt.1.{}.json", &root[..16]));
    std::fs::write(&off, &bytes).unwrap();
    let f = c.dir.run(&["fsck"]);
    f.code(69);
    assert!(f.stdout.contains("not on the chain"), "{f:#?}");
    assert!(off.exists());
    std::fs::remove_file(&off).unwrap();
    c.dir.run(&["fsck"]).ok();
}

#[test]
fn a_hook_whose_child_outlives_the_timeout_is_killed_with_it_at_the_deadline() {
    let dir = Dir::repo();
    let cfg = dir.join(".msez/config");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("timeout_seconds = 60", "timeout_seconds = 2");
    std::fs::write(&cfg, text).unwrap();
    let a = dir.put("a.bin", "a", "blob");
    // The shell waits on a child that holds its stderr: killing the shell alone left the lock
    // held for the child's 30 s.
    std::fs::write(
        dir.join(".msez/hooks/pre-ref-update"),
        "#!/bin/sh\nsleep 30 &\nsleep 30\n",
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join(".msez/hooks/pre-ref-update"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let t = Instant::now();
    let run = dir.run(&["update-ref", "refs/x", &a]);
    let took = t.elapsed();
    run.code(70);
    assert!(run.stderr.contains("timed out after 2s"), "{run:#?}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "held {took:?}"
    );
    assert!(!dir.join(".msez/refs/x.lock").exists());
    // A post hook that leaves a child holding its stderr is cut at the deadline too.
    std::fs::remove_file(dir.join(".msez/hooks/pre-ref-update")).unwrap();
    std::fs::write(
        dir.join(".msez/hooks/post-ref-update"),
        "#!/bin/sh\nsleep 30 &\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join(".msez/hooks/post-ref-update"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let t = Instant::now();
    dir.run(&["update-ref", "refs/x", &a]).ok();
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
}

#[test]
fn damaged_mmr_state_is_rebuilt_by_the_next_append() {
    let c = Chain::new();
    c.append(5);
    let st = c
        .dir
        .join(&format!(".msez/mmr/assets/{ASSET_ID}/core/state.json"));
    // A size that does not fit the peaks blocked every append until .msez/mmr was deleted.
    let text = std::fs::read_to_string(&st).unwrap();
    let bad = text.replace("\"size\": 5", "\"size\": 6");
    assert_ne!(bad, text);
    std::fs::write(&st, bad).unwrap();
    assert_ne!(c.dir.run(&["fsck"]).code, 0);
    c.append(1);
    c.dir.run(&["fsck"]).ok();
    // A torn node file (shorter than the state says) and a flipped last next_root.
    let level0 = c
        .dir
        .join(&format!(".msez/mmr/assets/{ASSET_ID}/core/level-00"));
    let bytes = std::fs::read(&level0).unwrap();
    std::fs::write(&level0, &bytes[..bytes.len() - 32]).unwrap();
    c.dir.run(&["fsck"]).code(66);
    c.append(1);
    c.dir.run(&["fsck"]).ok();
    let roots = c
        .dir
        .join(&format!(".msez/mmr/assets/{ASSET_ID}/core/next-roots"));
    let mut bytes = std::fs::read(&roots).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&roots, &bytes).unwrap();
    c.dir.run(&["fsck"]).code(66);
    c.append(1);
    c.dir.run(&["fsck"]).ok();
    // Damage only a full walk sees (an inner node): `msez recover MODULE` rebuilds it.
    let mut bytes = std::fs::read(&level0).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&level0, &bytes).unwrap();
    c.dir.run(&["fsck"]).code(66);
    c.dir.run(&["recover", &c.module]).ok();
    c.dir.run(&["fsck"]).ok();
    assert!(c.verify(&[]).ok().contains("receipts: 8"));
}
