//! Transfers (issue 18 item 5): a bandwidth limit beside `--jobs`, and progress in bytes with
//! a rate and an ETA. (A killed multipart upload's resumption: s3_resume.rs.)

use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{Dir, bin};

/// A repository whose ref reaches a 3 MiB blob, and a directory remote for it.
fn three_mib() -> (Dir, Dir, Vec<u8>, String) {
    let a = Dir::repo();
    let bytes: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let id = a.put("big.bin", &bytes, "blob");
    a.run(&["update-ref", "refs/heads/big", &id]).ok();
    let remote = Dir::new();
    a.run(&["remote", "add", "origin", remote.path().to_str().unwrap()])
        .ok();
    (a, remote, bytes, id)
}

#[test]
fn limit_rate_paces_push_and_clone() {
    let (a, remote, bytes, id) = three_mib();
    // 3 MiB at 1 MiB/s: no less than 3 s of slots (a lower bound: a slow machine only adds).
    let start = Instant::now();
    a.run(&["push", "origin", "--limit-rate", "1M"]).ok();
    assert!(
        start.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        start.elapsed()
    );
    let b = Dir::new();
    let start = Instant::now();
    b.run(&[
        "clone",
        remote.path().to_str().unwrap(),
        "c",
        "--limit-rate",
        "1M",
    ])
    .ok();
    assert!(
        start.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        start.elapsed()
    );
    let got = Command::new(bin())
        .args(["artifact", "get", &id])
        .current_dir(b.join("c"))
        .output()
        .unwrap();
    assert!(got.stdout == bytes, "the paced clone got other bytes");
}

#[test]
fn a_rate_that_does_not_parse_is_a_usage_error() {
    let (a, _remote, _, _) = three_mib();
    let run = a.run(&["push", "origin", "--limit-rate", "fast"]);
    assert_eq!(run.code, 64, "{run:?}");
    assert!(run.stderr.contains("512K"), "{run:?}");
}

/// What msez draws on a real pseudo-terminal (Python's pty), as an operator's shell gives one.
fn on_a_terminal(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)",
            crate::util::bin(),
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs");
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{screen}");
    screen
}

#[test]
fn progress_on_a_terminal_counts_bytes_and_objects_with_a_rate() {
    let (a, remote, _, _) = three_mib();
    for screen in [
        on_a_terminal(a.path(), &["push", "origin", "--limit-rate", "1M"]),
        on_a_terminal(
            a.path(),
            &[
                "clone",
                remote.path().to_str().unwrap(),
                "c",
                "--limit-rate",
                "1M",
            ],
        ),
    ] {
        assert!(screen.contains("MiB/3.00 MiB"), "no byte count: {screen}");
        assert!(screen.contains("/1 objects"), "no object count: {screen}");
        assert!(screen.contains("/s"), "no rate: {screen}");
    }
}

#[test]
fn fsck_remote_in_every_mode_and_gc_remote_report_their_traffic() {
    let (a, _remote, _, _) = three_mib();
    a.run(&["push", "origin"]).ok();
    for mode in [&["--quick"][..], &[], &["--strict"]] {
        let mut args = vec!["--json", "fsck", "--remote", "origin"];
        args.extend_from_slice(mode);
        let v = a.run(&args).json();
        let requests = v["traffic"]["requests"].as_u64().unwrap_or(0);
        assert!(requests >= 2, "fsck --remote {mode:?}: {v}");
        if mode.is_empty() {
            // The full mode reads every object: the 3 MiB blob came down.
            assert!(
                v["traffic"]["bytes_down"].as_u64().unwrap_or(0) >= 3 << 20,
                "{v}"
            );
        }
        let verbose = a.run(&["-v", "fsck", "--remote", "origin"]);
        assert!(verbose.stderr.contains("remote traffic: "), "{verbose:?}");
    }
    let v = a
        .run(&["--json", "gc", "--remote", "origin", "--dry-run"])
        .json();
    assert!(v["traffic"]["requests"].as_u64().unwrap_or(0) >= 1, "{v}");
    // ls-remote: one listing of refs/ and a read of each ref.
    let v = a.run(&["--json", "ls-remote", "origin"]).json();
    assert!(v["traffic"]["requests"].as_u64().unwrap_or(0) >= 2, "{v}");
    assert!(v["refs"]["refs/heads/big"].is_string(), "{v}");
    let verbose = a.run(&["-v", "ls-remote", "origin"]);
    assert!(verbose.stderr.contains("remote traffic: "), "{verbose:?}");
    // A local gc moves nothing over a network: no traffic key.
    let v = a.run(&["--json", "gc", "--dry-run"]).json();
    assert!(v.get("traffic").is_none(), "{v}");
}
