//! Retries happen in one place (the backend wrapper `remote::open` applies): a transient
//! failure is tried exactly `--retries + 1` times, announced once per retry, never multiplied by
//! a second layer.

use std::process::{Command, Stdio};

use crate::util::{Dir, Run};

/// `msez` in `dir` with no AWS settings from the environment but `env`.
fn msez(dir: &Dir, args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut c = Command::new(crate::util::bin());
    c.args(args).current_dir(dir.path()).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("HOME", &home)
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
    for (k, v) in env {
        c.env(k, v);
    }
    Run::from(c.output().unwrap())
}

#[test]
fn a_transient_failure_is_tried_exactly_retries_plus_one_times() {
    let d = Dir::repo();
    let id = d.put("a", b"{\"a\":1}", "json");
    d.run(&["update-ref", "refs/heads/main", &id]).ok();
    // Bind then drop: the port refuses at once (a transient failure) for the test's duration.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let add = [
        "remote",
        "add",
        "origin",
        "s3://bkt/p",
        "--endpoint",
        &endpoint,
    ];
    msez(&d, &add, &[]).ok();
    let keys = [("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")];
    for retries in [0u32, 2] {
        let n = retries.to_string();
        let run = msez(&d, &["push", "--retries", &n], &keys);
        run.code(74);
        let notes: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.contains("; retrying in"))
            .collect();
        // One note per retry, numbered against one policy: the first request fails, is retried
        // `retries` times, and the push stops there.
        assert_eq!(notes.len() as u32, retries, "{run:#?}");
        for (i, note) in notes.iter().enumerate() {
            let want = format!("(try {} of {})", i + 2, retries + 1);
            assert!(note.ends_with(&want), "{note} / {want}");
        }
        if retries == 0 {
            // A request tried once says nothing about tries.
            assert!(!run.stderr.contains("tries over"), "{run:#?}");
        } else {
            let tries = format!("after {} tries over", retries + 1);
            assert!(run.stderr.contains(&tries), "{run:#?}");
        }
    }
}
