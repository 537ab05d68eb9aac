//! The committed examples are what their scripts produce today, and they verify; the operator
//! and auditor walkthroughs (the commands of docs/operator-guide.md and docs/auditor-guide.md)
//! run end to end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `root` (relative path -> bytes).
pub fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn the_smart_asset_module_example_is_reproduced_byte_for_byte() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("module");
    let run = std::process::Command::new("bash")
        .arg(root.join("examples/smart-asset-module.sh"))
        .arg(&out)
        .env("MSEZ", crate::util::bin())
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("ASSET STATE VERIFY OK") && stdout.matches("OK\n").count() >= 4,
        "{stdout}"
    );
    let committed = files(&root.join("examples/smart-asset-module"));
    let fresh = files(&out);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &committed {
        assert!(
            fresh[name] == *bytes,
            "examples/smart-asset-module/{} is stale: rerun examples/smart-asset-module.sh",
            name.display()
        );
    }
}

/// Runs examples/operator-walkthrough.sh then examples/auditor-walkthrough.sh in a temp dir;
/// `s3` pushes to SeaweedFS (MSEZ_TEST_S3_ENDPOINT, set by scripts/test) instead of a local
/// directory. Returns both scripts' stdout.
pub fn run_walkthroughs(s3: bool) -> (String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("w");
    let script = |name: &str| {
        let mut c = std::process::Command::new("bash");
        c.arg(root.join("examples").join(name))
            .arg(&work)
            .env("MSEZ", crate::util::bin())
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(std::process::Stdio::null());
        if s3 {
            assert!(
                std::env::var_os("MSEZ_TEST_S3_ENDPOINT").is_some(),
                "MSEZ_TEST_S3_ENDPOINT is unset: this test needs SeaweedFS, started by scripts/test"
            );
        } else {
            c.env_remove("MSEZ_TEST_S3_ENDPOINT");
        }
        let run = c.output().unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(
            run.status.success(),
            "{name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        stdout
    };
    let operator = script("operator-walkthrough.sh");
    let auditor = script("auditor-walkthrough.sh");
    for needle in [
        "ASSET STATE VERIFY OK",
        "quorum met: 2 of 2 required",
        "the clone has the same refs",
        "the clone appended and pushed",
    ] {
        assert!(operator.contains(needle), "no {needle:?} in:\n{operator}");
    }
    let pushed_to = if s3 { "s3://" } else { "/w/remote: " };
    assert!(
        operator
            .lines()
            .any(|l| l.contains(pushed_to) && l.contains("bytes sent")),
        "nothing pushed to {pushed_to}:\n{operator}"
    );
    for needle in [
        "audit of bundle asset.zip: VALID (exit 0)",
        "report.html written",
        "matches its content",
        "quorum met: 2 of 2 required",
        "ASSET STATE VERIFY OK",
        "all entries match",
        "all checks passed",
    ] {
        assert!(auditor.contains(needle), "no {needle:?} in:\n{auditor}");
    }
    // The mount step either ran or said why it could not.
    assert!(
        auditor.contains("verify-report.json verdict: valid")
            || auditor.contains("SKIPPED: msez mount"),
        "{auditor}"
    );
    (operator, auditor)
}

#[test]
fn the_operator_and_auditor_walkthroughs_run_on_a_local_directory_remote() {
    let (operator, _) = run_walkthroughs(false);
    assert!(!operator.contains("s3://"), "{operator}");
}
