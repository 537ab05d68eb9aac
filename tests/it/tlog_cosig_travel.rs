//! Witness cosignatures over push, fetch and clone (docs/tlog.md, "Notes over push and
//! fetch"): a cosignature line is stored, or sent on, only when it verifies with a witness key
//! of the chain's policy in this worktree; the others are counted and reported.

use std::path::Path;

use crate::chain::Chain;
use crate::tlog_notes::{cosigners, module_note, pin_in, remote_note, run_in};
use crate::tlog_policy::{append, checkpoint, log_vkey, pin_policy, start_witness};
use crate::util::{ASSET_ID, Dir};

/// The signature lines of a note file.
fn sig_lines(note: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(note).unwrap();
    text.split_once("\n\n")
        .unwrap()
        .1
        .lines()
        .map(str::to_string)
        .collect()
}

/// The one note the repository at `repo` keeps under `.msez/notes`.
fn kept_note(repo: &Path) -> std::path::PathBuf {
    let dir = repo.join(".msez/notes/smart-asset-receipt-checkpoint");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// The `why`s of a report's `notes.ignored`, sorted.
fn ignored(r: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = r["notes"]["ignored"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|i| i["why"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn only_cosignatures_that_verify_with_a_policy_witness_are_stored_or_sent() {
    let c = Chain::new();
    append(&c, 20, "cos");
    c.dir.run(&["key", "gen", "--out", "w2.jwk"]).ok();
    let v = log_vkey(&c);
    let w1 = start_witness(&c.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    let w2 = start_witness(&c.dir, "w2.jwk", "example.org/w2", "w2", &v);
    // The policy names w1 only; w2's cosignature is valid but by a key the policy lacks.
    pin_policy(&c, 1, &[&w1.vkey]);
    assert_eq!(checkpoint(&c, &[&w1, &w2]).code, 0);
    let module = c.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.note",
        c.module
    ));
    let lines = sig_lines(&module);
    assert_eq!(lines.len(), 3, "{lines:?}");
    // Collected with --witness URL=VKEY (verified with that vkey): kept here, both.
    assert_eq!(sig_lines(&kept_note(&c.dir.join(""))).len(), 3);

    // Push sends the log's line and w1's, not w2's (reported).
    let remote = c.dir.join("remote");
    let url = remote.display().to_string();
    c.dir.run(&["remote", "add", "origin", &url]).ok();
    let push = c.dir.run(&["--json", "push"]);
    assert_eq!(push.code, 0, "{push:?}");
    let r = push.json();
    assert_eq!(r["notes"]["stored"], 1, "{r}");
    assert_eq!(
        ignored(&r),
        ["not by a witness of the chain's policy here"],
        "{r}"
    );
    let on_remote = remote_note(&remote);
    let mut got = cosigners(&on_remote);
    got.sort();
    assert_eq!(got, ["example.org/w1"]);

    // The remote's note now carries (a) w1's valid cosignature, (b) a forged line under w1's
    // name and key id, (c) w2's valid cosignature.
    let w1_line = lines
        .iter()
        .find(|l| l.contains("example.org/w1 "))
        .unwrap()
        .clone();
    let w2_line = lines
        .iter()
        .find(|l| l.contains("example.org/w2 "))
        .unwrap()
        .clone();
    // One base64 character of the signature changed (well inside it, clear of the padding).
    let mut forged: Vec<char> = w1_line.chars().collect();
    let at = forged.len() - 8;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let mut text = std::fs::read_to_string(&on_remote).unwrap();
    // And a line that is no signature line at all (dropped, reported too).
    text.push_str(&format!("{forged}\n{w2_line}\nnot a signature line\n"));
    std::fs::write(&on_remote, &text).unwrap();

    // A fresh clone knows no policy: it stores the note with the log's signature only and
    // reports the three lines, and the malformed one.
    let d = Dir::new();
    let clone = d.run(&["--json", "clone", &url, "b"]);
    assert_eq!(clone.code, 0, "{clone:?}");
    let r = clone.json();
    assert_eq!(r["notes"]["stored"], 1, "{r}");
    let why = ignored(&r);
    assert_eq!(why.len(), 4, "{r}");
    assert_eq!(why[0], "malformed signature line", "{r}");
    assert!(
        why[1..]
            .iter()
            .all(|w| w.contains("no witness key known here")),
        "{r}"
    );
    let b = d.join("b");
    let kept = sig_lines(&kept_note(&b));
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].contains("msez/asset/"), "{kept:?}");
    run_in(&b, &["checkout", ASSET_ID]).ok();
    assert!(cosigners(&module_note(&b, 20)).is_empty());

    // The policy pinned here (w1), fetching again brings (a) only; (b) and (c) are reported,
    // every time the remote shows them.
    pin_in(&b, 1, &[&w1.vkey]);
    for (stored, unchanged) in [(1, 0), (0, 1)] {
        let fetch = run_in(&b, &["--json", "fetch"]);
        assert_eq!(fetch.code, 0, "{fetch:?}");
        let r = fetch.json();
        assert_eq!(r["notes"]["stored"], stored, "{r}");
        assert_eq!(r["notes"]["unchanged"], unchanged, "{r}");
        assert_eq!(
            ignored(&r),
            [
                "malformed signature line",
                "names policy witness example.org/w1 but does not verify",
                "not by a witness of the chain's policy here"
            ],
            "{r}"
        );
    }
    let kept = sig_lines(&kept_note(&b));
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.contains(&w1_line), "{kept:?}");
    assert!(
        !kept.contains(&forged) && !kept.contains(&w2_line),
        "{kept:?}"
    );
    run_in(&b, &["checkout", ASSET_ID]).ok();
    assert_eq!(cosigners(&module_note(&b, 20)), ["example.org/w1"]);
    let m = format!("modules/smart-assets/{ASSET_ID}");
    let run = run_in(&b, &["--json", "asset", "state", "verify", &m]);
    assert_eq!(run.code, 0, "{run:?}");

    // Push never spreads (b) or (c): a second remote gets the log's line and (a).
    let other = d.join("other");
    let other_url = other.display().to_string();
    run_in(&b, &["remote", "add", "other", &other_url]).ok();
    let push = run_in(&b, &["--json", "push", "other"]);
    assert_eq!(push.code, 0, "{push:?}");
    assert_eq!(push.json()["notes"]["stored"], 1, "{push:?}");
    let sent = sig_lines(&remote_note(&other));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.contains(&w1_line), "{sent:?}");
    // Back to the first remote: nothing to add, its note is left as it is (not rewritten
    // with lines we cannot verify, not stripped of them).
    let push = run_in(&b, &["--json", "push"]);
    let r = push.json();
    assert_eq!(r["notes"]["stored"], 0, "{r}");
    assert_eq!(r["notes"]["unchanged"], 1, "{r}");
    assert_eq!(std::fs::read_to_string(&on_remote).unwrap(), text);

    // The operator (policy: w1) fetching the same note stores nothing new and reports (b)
    // and (c); its own w2 line, collected with its vkey, stays here.
    let r = c.dir.run(&["--json", "fetch"]).json();
    assert_eq!(r["notes"]["stored"], 0, "{r}");
    assert_eq!(ignored(&r).len(), 3, "{r}");
    assert_eq!(sig_lines(&kept_note(&c.dir.join(""))).len(), 3);
}
