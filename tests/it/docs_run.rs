//! Docs that run (issue 19): every shell block of the README and the guides runs as written, and
//! prints what the guide shows after it (scripts/docs-run.py does the work; this is its test).

use std::path::Path;
use std::process::{Command, Output};

fn docs_run(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin_dir = Path::new(crate::util::bin())
        .parent()
        .expect("the msez binary has a directory");
    Command::new("python3")
        .arg(root.join("scripts/docs-run.py"))
        .args(args)
        .current_dir(root)
        .env("MSEZ_BIN_DIR", bin_dir)
        .output()
        .expect("python3 runs (scripts/test installs it)")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_guides_run_as_written() {
    let run = docs_run(&[
        "README.md",
        "docs/operator-guide.md",
        "docs/auditor-guide.md",
    ]);
    let out = text(&run);
    assert!(run.status.success(), "{out}");
    // Every block ran but the README's build, test and install lines, each with its reason.
    assert!(
        out.contains("README.md: 1 block(s) run, 2 not run, 0 failure(s)"),
        "{out}"
    );
    assert!(
        out.contains("operator-guide.md: 10 block(s) run, 0 not run, 0 failure(s)"),
        "{out}"
    );
    assert!(
        out.contains("auditor-guide.md: 33 block(s) run, 0 not run, 0 failure(s)"),
        "{out}"
    );
}

#[test]
fn a_guide_that_drifted_from_the_binary_fails() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("drift-guide.md");
    std::fs::write(
        &md,
        "```sh\ncd /tmp/guide\nmsez key gen --out k.jwk\n```\n```\nwrote a key\n```\n\n\
         ```console\n$ msez key did k.jwk | cut -c1-8\ndid:key:\n$ echo two\nthree\n```\n",
    )
    .unwrap();
    let run = docs_run(&[md.to_str().unwrap()]);
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains("drift-guide.md: 3 block(s) run, 0 not run, 2 failure(s)"),
        "{out}"
    );
    // The output that differs, with the line of its block and the diff.
    assert!(
        out.contains("drift-guide.md:1: the shown output differs"),
        "{out}"
    );
    assert!(out.contains("-wrote a key"), "{out}");
    // A transcript is checked command by command: only the one that printed `two` differs.
    assert!(
        out.contains("drift-guide.md:12: the shown output differs"),
        "{out}"
    );
    assert!(out.contains("-three"), "{out}");
    assert!(!out.contains("drift-guide.md:10:"), "{out}");
}

#[test]
fn a_guide_whose_block_fails_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("failing-guide.md");
    std::fs::write(
        &md,
        "```sh\ncd /tmp/guide\n```\n\n```sh\nmsez no-such-command\n```\n",
    )
    .unwrap();
    let run = docs_run(&[md.to_str().unwrap()]);
    let out = text(&run);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains("failing-guide.md:5: the block exited 64"),
        "{out}"
    );
}
