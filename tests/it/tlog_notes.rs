//! Checkpoint notes over push, fetch and clone (docs/tlog.md, "Notes over push and fetch"):
//! the note travels with its checkpoint, with its cosignatures, checked before it is stored.

use std::path::{Path, PathBuf};

use crate::chain::Chain;
use crate::tlog_policy::{append, checkpoint, log_vkey, pin_policy, start_witness};
use crate::util::{ASSET_ID, Dir, Run};

pub(crate) fn run_in(dir: &Path, args: &[&str]) -> Run {
    let mut c = std::process::Command::new(crate::util::bin());
    c.args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(std::process::Stdio::null());
    Run::from(c.output().unwrap())
}

/// The module's note of size `n` in the repository at `repo`.
pub(crate) fn module_note(repo: &Path, n: u64) -> PathBuf {
    repo.join(format!(
        "modules/smart-assets/{ASSET_ID}/state/checkpoints/checkpoint.{n}.note"
    ))
}

/// Cosignature lines of the note (signature lines not by the log).
pub(crate) fn cosigners(note: &Path) -> Vec<String> {
    std::fs::read_to_string(note)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("\u{2014} example.org/"))
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect()
}

/// Pins `quorum` of `vkeys` in the asset.yaml of the module in `repo`.
pub(crate) fn pin_in(repo: &Path, quorum: usize, vkeys: &[&str]) {
    let path = repo.join(format!("modules/smart-assets/{ASSET_ID}/asset.yaml"));
    let mut yaml = std::fs::read_to_string(&path).unwrap();
    yaml.push_str(&format!(
        "witness_policy:\n  quorum: {quorum}\n  witnesses:\n"
    ));
    for v in vkeys {
        yaml.push_str(&format!("    - \"{v}\"\n"));
    }
    std::fs::write(path, yaml).unwrap();
}

/// The one remote note file of a directory remote.
pub(crate) fn remote_note(remote: &Path) -> PathBuf {
    let dir = remote.join("notes/smart-asset-receipt-checkpoint");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

#[test]
fn a_cosigned_note_travels_over_push_and_clone_and_merges_both_ways() {
    let c = Chain::new();
    append(&c, 20, "n");
    c.dir.run(&["key", "gen", "--out", "w2.jwk"]).ok();
    let v = log_vkey(&c);
    let w1 = start_witness(&c.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    let w2 = start_witness(&c.dir, "w2.jwk", "example.org/w2", "w2", &v);
    pin_policy(&c, 2, &[&w1.vkey, &w2.vkey]);
    assert_eq!(checkpoint(&c, &[&w1]).code, 0);
    let remote = c.dir.join("remote");
    let url = remote.display().to_string();
    c.dir.run(&["remote", "add", "origin", &url]).ok();
    let push = c.dir.run(&["--json", "push"]);
    assert_eq!(push.code, 0, "{push:?}");
    assert_eq!(push.json()["notes"]["stored"], 1, "{push:?}");
    // Pushing again sends nothing new.
    assert_eq!(c.dir.run(&["--json", "push"]).json()["notes"]["stored"], 0);
    // fsck --remote checks the note against its checkpoint object there.
    let fsck = c
        .dir
        .run(&["--json", "fsck", "--remote", "origin", "--strict"]);
    assert_eq!(fsck.code, 0, "{fsck:?}");
    assert_eq!(fsck.json()["tlog"]["notes_checked"], 1, "{fsck:?}");

    // A fresh clone takes the note with the checkpoint; checkout writes it beside it. It knows
    // no witness policy yet: it keeps the log's signature only and reports the cosignature.
    let d = Dir::new();
    let clone = d.run(&["--json", "clone", &url, "b"]);
    assert_eq!(clone.code, 0, "{clone:?}");
    assert_eq!(clone.json()["notes"]["stored"], 1, "{clone:?}");
    assert_eq!(
        clone.json()["notes"]["ignored"].as_array().unwrap().len(),
        1,
        "{clone:?}"
    );
    let b = d.join("b");
    run_in(&b, &["checkout", ASSET_ID]).ok();
    assert!(cosigners(&module_note(&b, 20)).is_empty());
    // The auditor's own policy pinned, fetching again brings the cosignature; 1 of 2 is
    // unknown.
    pin_in(&b, 2, &[&w1.vkey, &w2.vkey]);
    let fetch = run_in(&b, &["--json", "fetch"]);
    assert_eq!(fetch.json()["notes"]["stored"], 1, "{fetch:?}");
    run_in(&b, &["checkout", ASSET_ID]).ok();
    assert_eq!(cosigners(&module_note(&b, 20)), ["example.org/w1"]);
    let m = format!("modules/smart-assets/{ASSET_ID}");
    let verify = |dir: &Path| run_in(dir, &["--json", "asset", "state", "verify", &m]);
    let run = verify(&b);
    assert_eq!(run.code, 68, "{run:?}");

    // The clone collects the second cosignature and pushes: the remote's note is the union.
    std::fs::copy(c.dir.join("dev.jwk"), b.join("dev.jwk")).unwrap();
    let url2 = format!("{}={}", w2.url, w2.vkey);
    run_in(
        &b,
        &[
            "tlog",
            "checkpoint",
            &m,
            "--key",
            "dev.jwk",
            "--witness",
            &url2,
        ],
    )
    .ok();
    assert_eq!(verify(&b).code, 0);
    let push = run_in(&b, &["--json", "push"]);
    assert_eq!(push.json()["notes"]["stored"], 1, "{push:?}");
    let on_remote = std::fs::read_to_string(remote_note(&remote)).unwrap();
    assert!(
        on_remote.contains("example.org/w1") && on_remote.contains("example.org/w2"),
        "{on_remote}"
    );

    // The first repository fetches it; checkout merges it into the module's note: valid.
    let fetch = c.dir.run(&["--json", "fetch"]);
    assert_eq!(fetch.json()["notes"]["stored"], 1, "{fetch:?}");
    c.dir.run(&["checkout", ASSET_ID]).ok();
    let mut got = cosigners(&c.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.note",
        c.module
    )));
    got.sort();
    assert_eq!(got, ["example.org/w1", "example.org/w2"]);
    let run = c
        .dir
        .run(&["--json", "asset", "state", "verify", &c.module]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_remote_note_that_does_not_check_is_not_stored_and_appended_lines_are_judged_later() {
    let c = Chain::new();
    append(&c, 8, "x");
    let v = log_vkey(&c);
    let w1 = start_witness(&c.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    assert_eq!(checkpoint(&c, &[&w1]).code, 0);
    let remote = c.dir.join("remote");
    let url = remote.display().to_string();
    c.dir.run(&["remote", "add", "origin", &url]).ok();
    c.dir.run(&["push"]).ok();
    let note_file = remote_note(&remote);
    let good = std::fs::read_to_string(&note_file).unwrap();

    // The log's own signature broken: the note is refused, reported, not stored.
    let sig_line = good
        .lines()
        .find(|l| l.starts_with("\u{2014} msez/asset/"))
        .unwrap();
    let mut broken = sig_line.to_string();
    let last = broken.pop().unwrap();
    broken.push(if last == 'A' { 'B' } else { 'A' });
    std::fs::write(&note_file, good.replace(sig_line, &broken)).unwrap();
    let d = Dir::new();
    let clone = d.run(&["--json", "clone", &url, "b"]);
    assert_eq!(clone.code, 0, "{clone:?}");
    let r = clone.json();
    assert_eq!(r["notes"]["stored"], 0, "{r}");
    let rejected = r["notes"]["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{r}");
    assert!(
        rejected[0]["finding"]["code"]
            .as_str()
            .unwrap()
            .starts_with("signature.tlog"),
        "{r}"
    );
    assert!(!d.join("b/.msez/notes").exists());
    let fsck = c.dir.run(&["--json", "fsck", "--remote", "origin"]);
    assert_eq!(fsck.code, 67, "{fsck:?}");
    assert!(
        fsck.json()["tlog"]["findings"][0]["code"]
            .as_str()
            .unwrap()
            .starts_with("signature.tlog"),
        "{fsck:?}"
    );

    // A note of another size or root than its checkpoint is refused too.
    std::fs::write(&note_file, good.replacen("\n8\n", "\n7\n", 1)).unwrap();
    let e = Dir::new();
    let r = e.run(&["--json", "clone", &url, "b"]).json();
    assert_eq!(r["notes"]["stored"], 0, "{r}");
    assert_eq!(r["notes"]["rejected"].as_array().unwrap().len(), 1, "{r}");

    // Lines anyone appended do not enter a repository: a clone without a policy keeps the
    // log's signature, reports the lines, and its module's note carries none of them.
    let forged = format!(
        "{good}\u{2014} example.org/w9 {}\n",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    );
    std::fs::write(&note_file, forged).unwrap();
    let f = Dir::new();
    let r = f.run(&["--json", "clone", &url, "b"]).json();
    assert_eq!(r["notes"]["stored"], 1, "{r}");
    assert_eq!(r["notes"]["ignored"].as_array().unwrap().len(), 1, "{r}");
    let b = f.join("b");
    run_in(&b, &["checkout", ASSET_ID]).ok();
    assert!(
        !std::fs::read_to_string(module_note(&b, 8))
            .unwrap()
            .contains("example.org/w9")
    );
    // A repository whose module pins a policy reports the line each time it meets it, and
    // does not store it.
    pin_policy(&c, 1, &[&w1.vkey]);
    let fetch = c.dir.run(&["--json", "fetch"]);
    assert_eq!(fetch.code, 0, "{fetch:?}");
    let r = fetch.json();
    assert_eq!(r["notes"]["stored"], 0, "{r}");
    let ignored = r["notes"]["ignored"].as_array().unwrap();
    assert_eq!(ignored.len(), 1, "{r}");
    assert!(
        ignored[0]["why"]
            .as_str()
            .unwrap()
            .contains("not by a witness of the chain's policy here"),
        "{r}"
    );
    let text = c.dir.run(&["fetch"]);
    assert!(!text.stdout.contains("cosignature line kept"), "{text:?}");
    assert!(
        text.stdout.contains("cosignature line not stored"),
        "{text:?}"
    );
    // With the policy pinned, the operator's push sends w1's cosignature (it verifies with
    // the policy) and not w9's line; the auditor pins the policy, fetches, and is valid with
    // nothing ignored.
    let push = c.dir.run(&["--json", "push"]);
    assert_eq!(push.json()["notes"]["stored"], 1, "{push:?}");
    let on_remote = std::fs::read_to_string(&note_file).unwrap();
    assert!(on_remote.contains("example.org/w1"), "{on_remote}");
    assert!(!on_remote.contains("example.org/w9"), "{on_remote}");
    pin_in(&b, 1, &[&w1.vkey]);
    let r = run_in(&b, &["--json", "fetch"]).json();
    assert_eq!(r["notes"]["stored"], 1, "{r}");
    run_in(&b, &["checkout", ASSET_ID]).ok();
    let m = format!("modules/smart-assets/{ASSET_ID}");
    let run = run_in(&b, &["--json", "asset", "state", "verify", &m]);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(
        r["witness_policy"]["ignored"].as_array().unwrap().len(),
        0,
        "{r}"
    );
}

#[test]
fn a_remote_note_a_policy_witness_cosigned_over_another_root_stops_the_fetch() {
    // `a` has one history of the log, cosigned by w1, and pushes it with its note.
    let a = Chain::new();
    append(&a, 20, "honest");
    let w1 = start_witness(&a.dir, "zone-a.jwk", "example.org/w1", "w1", &log_vkey(&a));
    // Its policy names w1, so its push sends w1's cosignature.
    pin_policy(&a, 1, &[&w1.vkey]);
    assert_eq!(checkpoint(&a, &[&w1]).code, 0);
    let url = a.dir.join("remote").display().to_string();
    a.dir.run(&["remote", "add", "origin", &url]).ok();
    a.dir.run(&["push"]).ok();

    // `b` has another history of the same log at that size, and pins w1.
    let b = Chain::new();
    append(&b, 20, "other");
    assert_eq!(checkpoint(&b, &[]).code, 0);
    pin_policy(&b, 1, &[&w1.vkey]);
    b.dir.run(&["remote", "add", "origin", &url]).ok();
    for cmd in ["fetch", "pull"] {
        let run = b.dir.run(&["--json", cmd]);
        assert_eq!(run.code, 69, "{run:?}");
        let r = run.json();
        assert_eq!(r["findings"][0]["code"], "fork.witness_split_view", "{r}");
        let evidence = r["findings"][0]["path"].as_str().unwrap();
        assert!(std::path::Path::new(evidence).is_file(), "{r}");
    }
    // Nothing was adopted: no remote-tracking ref, no object of the other history.
    let refs = b.dir.run(&["refs", "--json"]).json();
    assert!(!refs.to_string().contains("refs/remotes/"), "{refs}");
}
