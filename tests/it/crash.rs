//! A short sample of the crash-consistency harness (scripts/crash-harness.sh; the 500-run
//! report is in docs/testing.md): SIGKILL at random points of append, of the append's commit
//! window, checkpoint, push, fetch and pull; a journal a kill left is completed by the next
//! write; then fsck, ref targets, every acknowledged or journaled receipt and "no second
//! receipt at a position" are checked.

use std::process::Command;

#[test]
fn ten_random_kills_leave_the_repository_consistent_and_lose_nothing_acknowledged() {
    let root = env!("CARGO_MANIFEST_DIR");
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/crash-harness.sh"))
        .args(["10", "--report"])
        .arg(report.path())
        .env("MSEZ_BIN", crate::util::bin())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(report.path()).unwrap();
    assert!(text.contains("crash harness: 10 runs"), "{text}");
    assert!(text.contains("failures: 0"), "{text}");
    assert!(text.contains("journals left by kills:"), "{text}");
}
