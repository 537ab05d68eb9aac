//! `fsck --remote` and `gc --remote` on a directory remote holding symlinked and FIFO keys
//! (issue 14): each is a `schema.remote_key_irregular` finding, the rest of the remote is
//! still checked, and gc never reads, follows or deletes one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::adversary_bytes::run_within;
use crate::util::{Dir, Run, bin};

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path; the result is checked.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn run(dir: &Dir, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(dir.path());
    run_within(cmd, Duration::from_secs(30)).0
}

/// A repository with a ref to an object linking another, pushed to `remote.msez`.
fn pushed() -> (Dir, PathBuf, String) {
    let a = Dir::repo();
    let s2 = a.put("s2.json", r#"{"title":"two","n":2}"#, "schema");
    let (t, d) = s2.split_once(':').unwrap();
    let s1 = a.put(
        "s1.json",
        format!(r#"{{"title":"one","see":[{{"artifact_type":"{t}","digest_sha256":"{d}"}}]}}"#),
        "schema",
    );
    a.run(&["update-ref", "refs/heads/main", &s1]).ok();
    let remote = a.join("remote.msez");
    a.run(&["remote", "add", "origin", remote.to_str().unwrap()])
        .ok();
    a.run(&["push"]).ok();
    (a, remote, s1)
}

fn irregular_keys(findings: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "schema.remote_key_irregular")
        .map(|p| p["object"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn fsck_remote_reports_symlinked_and_fifo_keys_and_checks_everything_else() {
    let (a, remote, s1) = pushed();
    let outside = a.join("outside.json");
    std::fs::write(&outside, r#"{"title":"outside"}"#).unwrap();
    let link = remote.join(format!("objects/schema/{}.json", "ab".repeat(32)));
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    mkfifo(&remote.join(format!("objects/schema/{}.json", "cd".repeat(32))));
    std::os::unix::fs::symlink(&outside, remote.join("refs/heads/evil")).unwrap();
    mkfifo(&remote.join("refs/heads/fifo"));
    // Damage elsewhere is still found: a tampered object.
    let (t, d) = s1.split_once(':').unwrap();
    let obj = remote.join(format!("objects/{t}/{d}.json"));
    let mut perms = std::fs::metadata(&obj).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&obj, perms).unwrap();
    std::fs::write(&obj, r#"{"title":"tampered"}"#).unwrap();

    let r = run(&a, &["--json", "fsck", "--remote", "origin"]);
    assert_eq!(r.code, 65, "{r:#?}");
    let report = r.json();
    assert_eq!(
        irregular_keys(&report["problems"]),
        vec![
            format!("objects/schema/{}.json", "ab".repeat(32)),
            format!("objects/schema/{}.json", "cd".repeat(32)),
            "refs/heads/evil".to_string(),
            "refs/heads/fifo".to_string(),
        ],
        "{report:#}"
    );
    let problems = report["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "digest.remote_object_mismatch" && p["object"] == s1.as_str()),
        "{report:#}"
    );
    let hit = problems
        .iter()
        .find(|p| p["object"] == "refs/heads/fifo")
        .unwrap();
    assert_eq!(hit["class"], "schema");
    assert_eq!(hit["expected"], "a regular file");
    assert!(hit["found"].as_str().unwrap().contains("FIFO"), "{hit}");
    // The text output names them too.
    let r = run(&a, &["fsck", "--remote", "origin"]);
    assert_eq!(r.code, 65, "{r:#?}");
    assert!(r.stdout.contains("refs/heads/evil"), "{r:#?}");
}

#[test]
fn gc_remote_never_reads_follows_or_deletes_a_symlinked_or_fifo_key() {
    let (a, remote, _) = pushed();
    // Garbage gc would collect, a symlink to a file outside the remote, and FIFOs.
    let junk = a.put("junk.json", r#"{"title":"junk"}"#, "schema");
    a.run(&["update-ref", "refs/heads/junk", &junk]).ok();
    a.run(&["push"]).ok();
    let outside = a.join("outside.json");
    std::fs::write(&outside, r#"{"title":"outside"}"#).unwrap();
    let link = remote.join(format!("objects/schema/{}.json", "ab".repeat(32)));
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let fifo = remote.join(format!("objects/schema/{}.json", "cd".repeat(32)));
    mkfifo(&fifo);
    let ref_fifo = remote.join("refs/heads/fifo");
    mkfifo(&ref_fifo);

    let r = run(
        &a,
        &["--json", "gc", "--remote", "origin", "--prune-expire", "0s"],
    );
    assert_eq!(r.code, 0, "{r:#?}");
    let report = r.json();
    let keys: Vec<&str> = report["irregular"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            assert_eq!(k["code"], "schema.remote_key_irregular");
            k["key"].as_str().unwrap()
        })
        .collect();
    assert_eq!(keys.len(), 3, "{report:#}");
    // An unreadable ref could name anything: nothing is deleted.
    assert!(
        report["deleted"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    for p in [&link, &fifo, &ref_fifo] {
        assert!(std::fs::symlink_metadata(p).is_ok(), "{p:?} was removed");
    }
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        r#"{"title":"outside"}"#
    );
    let r = run(&a, &["gc", "--remote", "origin", "--prune-expire", "0s"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(r.stdout.contains("schema.remote_key_irregular"), "{r:#?}");

    // Only a FIFO proof file left: the rest is collected as usual, the FIFO stays.
    for p in [&link, &fifo, &ref_fifo] {
        std::fs::remove_file(p).unwrap();
    }
    let junk_digest = junk.split_once(':').unwrap().1;
    let proof_dir = remote.join(format!("proofs/schema/{junk_digest}"));
    std::fs::create_dir_all(&proof_dir).unwrap();
    let proof_fifo = proof_dir.join(format!("{}.json", "ef".repeat(32)));
    mkfifo(&proof_fifo);
    std::fs::remove_file(remote.join("refs/heads/junk")).unwrap();
    let r = run(
        &a,
        &["--json", "gc", "--remote", "origin", "--prune-expire", "0s"],
    );
    assert_eq!(r.code, 0, "{r:#?}");
    let report = r.json();
    assert_eq!(report["deleted"][0], junk.as_str(), "{report:#}");
    assert!(std::fs::symlink_metadata(&proof_fifo).is_ok());
}
