//! A checkpoint is one `odb::Transaction` on its ref (issue 16): `pre-ref-update` judges it
//! before it is signed and a veto leaves nothing; a kill -9 in the commit window leaves no
//! torn ref and is completed with the journaled bytes by `msez recover` or the next checkpoint.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::chain::Chain;
use crate::util::{ASSET_ID, Run};

fn checkpoint_ref() -> String {
    format!("refs/assets/{ASSET_ID}/core/checkpoint")
}

fn hook(c: &Chain, name: &str, script: &str) {
    let p = c.dir.join(&format!(".msez/hooks/{name}"));
    std::fs::write(&p, script).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn checkpoint(c: &Chain, envs: &[(&str, &str)]) -> Run {
    let mut cmd = c.dir.cmd(&[
        "asset",
        "state",
        "checkpoint",
        &c.module,
        "--key",
        "dev.jwk",
    ]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Run::from(cmd.output().unwrap())
}

fn file(c: &Chain, size: u64) -> PathBuf {
    c.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.{size}.json",
        c.module
    ))
}

fn journal(c: &Chain) -> PathBuf {
    c.dir.join(&format!(".msez/journal/{}", checkpoint_ref()))
}

fn ref_value(c: &Chain) -> Option<String> {
    std::fs::read_to_string(c.dir.join(&format!(".msez/{}", checkpoint_ref())))
        .ok()
        .map(|s| s.trim().to_string())
}

#[test]
fn a_vetoing_pre_ref_update_hook_leaves_no_checkpoint_ref_file_or_object() {
    let c = Chain::new();
    c.append(2);
    hook(
        &c,
        "pre-ref-update",
        "#!/bin/sh\necho \"$MSEZ_REF $MSEZ_NEW\" > seen.txt\necho vetoed >&2\nexit 1\n",
    );
    let run = checkpoint(&c, &[]);
    run.code(70);
    assert!(run.stderr.contains("vetoed"), "{}", run.stderr);
    let seen = std::fs::read_to_string(c.dir.join("seen.txt")).unwrap();
    let (name, new) = seen.trim().split_once(' ').unwrap();
    assert_eq!(name, checkpoint_ref());
    assert_eq!(new.len(), 64);
    assert_eq!(ref_value(&c), None);
    assert!(!file(&c, 2).exists());
    assert!(!journal(&c).exists());
    c.dir
        .run(&["show", &format!("smart-asset-receipt-checkpoint:{new}")])
        .code(68);
    // Without the hook, the same checkpoint (the digest leaves the proofs out) goes through.
    std::fs::remove_file(c.dir.join(".msez/hooks/pre-ref-update")).unwrap();
    checkpoint(&c, &[]).ok();
    assert!(file(&c, 2).exists());
    assert_eq!(ref_value(&c).unwrap().len(), 64);
    c.dir.run(&["fsck"]).ok();
}

#[test]
fn a_post_checkpoint_hook_runs_after_the_ref_moved() {
    let c = Chain::new();
    c.append(1);
    hook(
        &c,
        "post-checkpoint",
        "#!/bin/sh\ncat \".msez/$MSEZ_REF\" > after.txt\necho \"$MSEZ_NEW\" >> after.txt\n",
    );
    checkpoint(&c, &[]).ok();
    let after = std::fs::read_to_string(c.dir.join("after.txt")).unwrap();
    let lines: Vec<&str> = after.lines().collect();
    assert_eq!(lines.len(), 2, "{after}");
    assert_eq!(lines[0], lines[1]);
    assert_eq!(Some(lines[0].to_string()), ref_value(&c));
}

/// Kills a checkpoint at `point`, checks what is left, and has `complete` finish it; `moves`:
/// whether `complete` moves the ref again after completing the journal.
fn killed_then(point: &str, moves: bool, complete: &dyn Fn(&Chain)) {
    let c = Chain::new();
    c.append(2);
    let run = checkpoint(&c, &[("MSEZ_TEST_CRASH_AT", point)]);
    assert_ne!(
        run.code, 0,
        "{point}: the checkpoint was not killed: {run:#?}"
    );
    // No torn ref: absent until the journal is completed.
    assert_eq!(ref_value(&c), None, "{point}");
    assert!(journal(&c).exists(), "{point}: no journal");
    let text = std::fs::read_to_string(journal(&c)).unwrap();
    let new = text
        .lines()
        .find_map(|l| l.strip_prefix("commit "))
        .and_then(|l| l.split(' ').next())
        .unwrap()
        .to_string();
    let f = c.dir.run(&["fsck"]);
    assert_ne!(f.code, 0, "{point}: {f:#?}");
    assert!(f.stdout.contains("interrupted"), "{point}: {f:#?}");
    complete(&c);
    assert!(!journal(&c).exists(), "{point}: journal left");
    let log =
        std::fs::read_to_string(c.dir.join(&format!(".msez/logs/{}", checkpoint_ref()))).unwrap();
    assert!(log.contains("recover: checkpoint"), "{point}: {log}");
    assert!(log.contains(&new), "{point}: {log}");
    if !moves {
        assert_eq!(ref_value(&c), Some(new.clone()), "{point}");
    }
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file(&c, 2)).unwrap()).unwrap();
    assert_eq!(on_disk["receipt_count"], 2, "{point}");
    c.dir
        .run(&["show", &format!("smart-asset-receipt-checkpoint:{new}")])
        .ok();
    c.dir.run(&["fsck"]).ok();
    c.verify(&[]).ok();
}

#[test]
fn a_checkpoint_killed_in_its_commit_window_is_completed_by_recover() {
    for point in ["append-journaled", "append-published"] {
        killed_then(point, false, &|c| {
            let run = c.dir.run(&["recover"]);
            assert!(run.ok().contains("recovered"), "{run:#?}");
        });
    }
    killed_then("append-journaled", false, &|c| {
        c.dir.run(&["recover", &c.module]).ok();
    });
}

#[test]
fn a_checkpoint_killed_in_its_commit_window_is_completed_by_the_next_checkpoint() {
    killed_then("append-journaled", true, &|c| {
        checkpoint(c, &[]).ok();
    });
}
