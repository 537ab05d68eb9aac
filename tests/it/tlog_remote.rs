//! The remote's tools and published logs (docs/tlog.md, "Static tiles"): `remote stats` lists
//! them, `fsck --remote` checks them, `gc --remote` keeps them, fetch and clone pass them by.

use crate::chain::Chain;
use crate::tlog::{run_env, s3_env};
use crate::tlog_policy::{ORIGIN, append};
use crate::util::{ASSET_ID, Dir, Run};

/// A library handle on the remote at `url`, to tamper with it behind msez's back.
fn backend(dir: &Dir, url: &str) -> Box<dyn msez::remote::Backend> {
    let url = msez::remote::Url::parse(url, dir.path()).unwrap();
    msez::remote::open(&url, msez::remote::Retry::default()).unwrap()
}

/// Flips one bit of the level-0 tile of the log published under `prefix` of the remote.
fn corrupt_tile(dir: &Dir, url: &str, prefix: &str) {
    let b = backend(dir, url);
    let key = format!("{prefix}tile/0/000");
    let mut bytes = b.get(&key, None).unwrap().expect("tile 0/000").bytes;
    bytes[5] ^= 1;
    b.put(&key, &bytes).unwrap();
}

/// The codes of an fsck report's findings about published logs.
fn tlog_codes(r: &serde_json::Value) -> Vec<String> {
    r["tlog"]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// The remote's tools over a remote holding a chain (pushed) and its published log, run by
/// `run`; the log under `prefix`, whose level-0 tile `corrupt` then damages.
fn tools_know_the_log(run: &dyn Fn(&[&str]) -> Run, corrupt: &dyn Fn(), prefix: &str) {
    let stats = run(&["--json", "remote", "stats", "origin"]);
    let s = stats.json();
    let logs = s["published_logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "{s}");
    assert_eq!(logs[0]["prefix"], prefix, "{s}");
    assert_eq!(logs[0]["origin"], ORIGIN, "{s}");
    assert_eq!(logs[0]["size"], 300, "{s}");
    // 300 entries: two level-0 tiles, one level-1 tile, two entry bundles.
    assert_eq!(logs[0]["tiles"], 3, "{s}");
    assert_eq!(logs[0]["entry_bundles"], 2, "{s}");
    assert!(s["other"].get("tlog").is_none(), "{s}");
    let text = run(&["remote", "stats", "origin"]);
    assert!(
        text.ok().contains(&format!("published log {prefix}")),
        "{text:?}"
    );

    let fsck = run(&["--json", "fsck", "--remote", "origin", "--strict"]);
    let r = fsck.json();
    assert_eq!(fsck.code, 0, "{fsck:?}");
    assert_eq!(r["tlog"]["logs"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["tlog"]["tiles_checked"], 5, "{r}");
    assert!(tlog_codes(&r).is_empty(), "{r}");

    let gc = run(&["--json", "gc", "--remote", "origin"]);
    let g = gc.json();
    assert_eq!(g["published_logs"][0]["prefix"], prefix, "{g}");
    // Still all there after gc: the log checks clean.
    let again = run(&["--json", "fsck", "--remote", "origin", "--strict"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["tlog"]["tiles_checked"], 5);

    // A clone passes the published log by: nothing ignored, nothing said.
    let clone = run(&["--json", "clone", "origin-url", "copy"]);
    let c = clone.json();
    assert_eq!(clone.code, 0, "{clone:?}");
    assert!(!c.to_string().contains("tlog/"), "{c}");
    assert!(!clone.stderr.contains("tlog"), "{clone:?}");

    corrupt();
    let fsck = run(&["--json", "fsck", "--remote", "origin", "--strict"]);
    assert_eq!(fsck.code, 66, "{fsck:?}");
    assert_eq!(tlog_codes(&fsck.json()), ["digest.tlog_root"], "{fsck:?}");
}

/// Replaces the literal `origin-url` argument by the remote's URL.
fn with_url<'a>(args: &[&'a str], url: &'a str) -> Vec<&'a str> {
    args.iter()
        .map(|a| if *a == "origin-url" { url } else { a })
        .collect()
}

#[test]
fn published_logs_on_a_remote_are_listed_checked_kept_and_passed_by() {
    let c = Chain::new();
    append(&c, 300, "r");
    let url = c.dir.join("remote").display().to_string();
    c.dir.run(&["remote", "add", "origin", &url]).ok();
    c.dir.run(&["push"]).ok();
    // `tlog publish` to a directory makes the directory the log's root; a log published to a
    // remote sits under tlog/<kind>/<id>/..., so the directory's files are put there.
    c.dir
        .run(&[
            "tlog",
            "publish",
            &c.module,
            "public-log",
            "--key",
            "dev.jwk",
        ])
        .ok();
    let prefix = format!("tlog/asset/{ASSET_ID}/core/");
    let b = backend(&c.dir, &url);
    let root = c.dir.join("public-log");
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&root).unwrap().to_str().unwrap();
                b.put(&format!("{prefix}{rel}"), &std::fs::read(&p).unwrap())
                    .unwrap();
            }
        }
    }
    let run = |args: &[&str]| c.dir.run(&with_url(args, &url));
    let corrupt = || corrupt_tile(&c.dir, &url, &prefix);
    tools_know_the_log(&run, &corrupt, &prefix);
}

#[test]
#[ignore = "needs SeaweedFS (scripts/test's S3 pass)"]
fn s3_tlog_published_logs_are_listed_checked_kept_and_passed_by() {
    let (env, url) = s3_env("tlogremote");
    let c = Chain::new();
    append(&c, 300, "s3r");
    let run = |args: &[&str]| run_env(&c.dir, &env, &with_url(args, &url));
    run(&["remote", "add", "origin", &url]).ok();
    run(&["push"]).ok();
    run(&["tlog", "publish", &c.module, &url, "--key", "dev.jwk"]).ok();
    let prefix = format!("tlog/asset/{ASSET_ID}/core/");
    // In-process, the S3 backend reads the endpoint and keys from this test's environment
    // (scripts/test's, which s3_env read too).
    let corrupt = || corrupt_tile(&c.dir, &url, &prefix);
    tools_know_the_log(&run, &corrupt, &prefix);
}
