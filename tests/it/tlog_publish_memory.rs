//! `tlog publish` from memory (docs/tlog.md, "Request counts and benchmarks"): a publisher
//! remembers the checkpoint it last wrote to a destination and skips reading it next time;
//! when another publisher moved it, the publish falls back to reading and checking it, with
//! the same results and errors as before.

use std::collections::BTreeMap;
use std::path::Path;

use crate::chain::Chain;
use crate::tlog_policy::{append, log_vkey};
use crate::util::Dir;

/// `tlog publish` of the chain in `c` to `dest`: the run's JSON report (any exit code) and
/// its exit code.
fn publish(c: &Chain, dest: &str) -> (serde_json::Value, i32) {
    let run = c.dir.run(&[
        "--json", "tlog", "publish", &c.module, dest, "--key", "dev.jwk",
    ]);
    (run.json(), run.code)
}

/// A copy of the directory of `c` (repository, module, keys, publish memory): another
/// publisher of the same chain.
fn copy(c: &Chain) -> Chain {
    let d = Dir::new();
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", c.dir.path().display()))
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    Chain {
        dir: d,
        module: c.module.clone(),
    }
}

/// The one memory file of the publisher in `c`.
fn memory_file(c: &Chain) -> std::path::PathBuf {
    let dir = c.dir.join(".msez/tlog/published");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn verify_log(c: &Chain, dest: &str, state: &str) -> crate::util::Run {
    c.dir.run(&[
        "--json",
        "tlog",
        "verify",
        dest,
        "--vkey",
        &log_vkey(c),
        "--state",
        state,
    ])
}

#[test]
fn publish_from_memory_falls_back_when_another_publisher_moved_the_checkpoint() {
    let c = Chain::new();
    append(&c, 300, "base");
    let dest = c.dir.join("log").display().to_string();
    // Created (no version comes back from a create-if-absent), then read once: from then on
    // the publisher remembers.
    for (size, remembered) in [(300, false), (301, false), (302, true)] {
        if size > 300 {
            append(&c, 1, &format!("one{size}"));
        }
        let (r, code) = publish(&c, &dest);
        assert_eq!(code, 0, "{r}");
        assert_eq!(r["published"]["size"], size, "{r}");
        assert_eq!(r["published"]["remembered"], remembered, "{r}");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(memory_file(&c)).unwrap()).unwrap();
    assert_eq!(m["size"], 302, "{m}");
    assert!(!m["version"].as_str().unwrap().is_empty(), "{m}");
    assert_eq!(verify_log(&c, &dest, "seen-a").code, 0);

    // A second publisher of the same chain moves the checkpoint on (from its own memory).
    let other = copy(&c);
    append(&other, 5, "more");
    let (r, code) = publish(&other, &dest);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["published"]["remembered"], true, "{r}");

    // A publisher of that history whose memory is stale (it remembers size 302): its
    // If-Match fails, it reads the checkpoint, and publishes from 307 as before.
    let stale = copy(&other);
    std::fs::copy(memory_file(&c), memory_file(&stale)).unwrap();
    append(&stale, 1, "next");
    let (r, code) = publish(&stale, &dest);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["published"]["remembered"], false, "{r}");
    assert_eq!(r["published"]["old_size"], 307, "{r}");
    assert_eq!(r["published"]["size"], 308, "{r}");
    assert_eq!(verify_log(&c, &dest, "seen-b").code, 0);
    // Its memory holds again.
    append(&stale, 1, "after");
    let (r, _) = publish(&stale, &dest);
    assert_eq!(r["published"]["remembered"], true, "{r}");
    assert_eq!(r["published"]["size"], 309, "{r}");

    // The first publisher grew another history to 309 (stale memory too): the partial tiles
    // of that width are there with other bytes, it falls back, and the split view is found
    // as before (exit 69); nothing that was there is overwritten, the checkpoint stays.
    let before = snapshot(Path::new(&dest));
    append(&c, 7, "fork");
    let (r, code) = publish(&c, &dest);
    assert_eq!(code, 69, "{r}");
    assert!(r.to_string().contains("fork.tlog_split_view"), "{r}");
    let after = snapshot(Path::new(&dest));
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k} changed");
    }
    // A forgotten memory: the next publish reads the destination again, still refused.
    assert!(
        !c.dir
            .join(".msez/tlog/published")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
    let (r, code) = publish(&c, &dest);
    assert_eq!(code, 69, "{r}");
    assert_eq!(verify_log(&stale, &dest, "seen-c").code, 0);
}
