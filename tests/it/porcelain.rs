//! Porcelain at git's level (issue 19): `checkout` of a clone's module, unsigned appends
//! refused, `status` ahead/behind per remote, remotes by name, unique digest prefixes, and
//! the process-level behaviours (signals, closed pipes, `-q`, JSON usage errors).

use crate::util::{ASSET_ID, Dir, Run};
use crate::verdicts::s;

/// A repository with the fixture module, one signed receipt, pushed to a directory remote.
fn pushed() -> (Dir, Dir, String) {
    let (a, module) = Dir::asset_module(&["dev"], &[]);
    append(&a, &module).ok();
    let remote = Dir::new();
    let url = remote.path().join("r").to_str().unwrap().to_string();
    a.run(&["remote", "add", "origin", &url]).ok();
    a.run(&["push", "origin"]).ok();
    (a, remote, url)
}

fn append(d: &Dir, module: &str) -> Run {
    d.run(&["asset", "state", "receipt-init", module, "--key", "dev.jwk"])
}

fn clone(url: &str) -> Dir {
    let d = Dir::new();
    d.run(&["clone", url, d.path().to_str().unwrap()]).ok();
    d
}

fn head(d: &Dir) -> String {
    d.run(&["refs", "--json"]).json()["refs"][format!("refs/assets/{ASSET_ID}/core/head")]
        .as_str()
        .unwrap()
        .to_string()
}

/// The one chain's entry for `origin` in `status --json`.
fn tracking(d: &Dir) -> serde_json::Value {
    let s = d.run(&["status", "--json"]).json();
    let chains = s["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 1, "{s}");
    assert_eq!(chains[0]["asset_id"], ASSET_ID);
    chains[0]["remotes"][0].clone()
}

#[test]
fn a_clone_checks_out_appends_pushes_and_a_second_clone_sees_the_receipt() {
    let (_a, _remote, url) = pushed();
    let b = clone(&url);
    // A clone has refs and objects, no module folder: the append has nothing to open.
    let s = b.run(&["status", "--json"]).json();
    assert_eq!(s["chains"][0]["checked_out"], false, "{s}");
    assert!(b.run(&["status"]).ok().contains("not checked out"));
    b.run(&["checkout", ASSET_ID]).ok();
    let module = format!("modules/smart-assets/{ASSET_ID}");
    for f in [
        "asset.yaml",
        "genesis.json",
        "state/receipts/receipt.0.json",
    ] {
        assert!(b.join(&format!("{module}/{f}")).is_file(), "{f} missing");
    }
    b.run(&["asset", "state", "verify", &module]).ok();
    let t = tracking(&b);
    assert_eq!(
        (t["ahead"].as_u64(), t["behind"].as_u64()),
        (Some(0), Some(0))
    );
    std::fs::copy(crate::util::fixture_key("dev"), b.join("dev.jwk")).unwrap();
    append(&b, &module).ok();
    // Before the push: one ahead of origin.
    let t = tracking(&b);
    assert_eq!(t["remote"], "origin");
    assert_eq!(
        (t["ahead"].as_u64(), t["behind"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(b.run(&["status"]).ok().contains("ahead of origin by 1"));
    b.run(&["asset", "state", "verify", &module]).ok();
    b.run(&["push", "origin"]).ok();
    let t = tracking(&b);
    assert_eq!(
        (t["ahead"].as_u64(), t["behind"].as_u64()),
        (Some(0), Some(0))
    );
    // A second clone sees the receipt; checked out, its module verifies with two receipts.
    let c = clone(&url);
    assert_eq!(head(&c), head(&b));
    c.run(&["checkout", &ASSET_ID[..7]]).ok();
    assert!(
        c.join(&format!("{module}/state/receipts/receipt.1.json"))
            .is_file()
    );
    let v = c
        .run(&["asset", "state", "verify", &module, "--json"])
        .json();
    assert_eq!(
        v["receipt_count"].as_u64().or(v["receipts"].as_u64()),
        Some(2),
        "{v}"
    );
    c.run(&["fsck"]).ok();
}

#[test]
fn status_shows_behind_after_fetch_and_a_fork_as_diverged() {
    let (a, _remote, url) = pushed();
    let b = clone(&url);
    b.run(&["checkout", ASSET_ID]).ok();
    std::fs::copy(crate::util::fixture_key("dev"), b.join("dev.jwk")).unwrap();
    let module = format!("modules/smart-assets/{ASSET_ID}");
    append(&b, &module).ok();
    b.run(&["push", "origin"]).ok();
    a.run(&["fetch", "origin"]).ok();
    let t = tracking(&a);
    assert_eq!(
        (t["ahead"].as_u64(), t["behind"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(a.run(&["status"]).ok().contains("behind origin by 1"));
    // `a` appends its own receipt 1 (another timestamp): a fork against origin's receipt 1.
    a.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--key",
        "dev.jwk",
        "--timestamp",
        "2030-01-01T00:00:00Z",
    ])
    .ok();
    let t = tracking(&a);
    assert_eq!(t["diverged"], true, "{t}");
    assert_eq!(
        (t["ahead"].as_u64(), t["behind"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(a.run(&["status"]).ok().contains("diverged from origin"));
    // pull reports the fork (69); status still says diverged, and the local head stays.
    let before = head(&a);
    a.run(&["pull", "origin"]).code(69);
    assert_eq!(head(&a), before);
    assert_eq!(tracking(&a)["diverged"], true);
    // The fork pull kept is in status too.
    let s = a.run(&["status", "--json"]).json();
    let forks = s["chains"][0]["forks"].as_array().unwrap().clone();
    assert_eq!(forks.len(), 1, "{s}");
    assert!(forks[0].as_str().unwrap().contains("/core/forks/"));
    assert!(a.run(&["status"]).ok().contains("fork kept:"));
}

#[test]
fn an_append_without_a_key_is_refused_unless_unsigned() {
    let (d, module) = Dir::asset_module(&["dev"], &[]);
    let r = d.run(&["asset", "state", "receipt-init", &module]);
    r.code(64);
    assert!(r.stderr.contains("--unsigned"), "{}", r.stderr);
    assert!(r.stderr.contains("--key"), "{}", r.stderr);
    // Nothing was written: no receipt file, no head.
    assert!(
        !d.join(&format!("{module}/state/receipts/receipt.0.json"))
            .exists()
    );
    let j = d.run(&["--json", "asset", "state", "receipt-init", &module]);
    j.code(64);
    assert_eq!(j.json()["error"]["code"], "usage.unsigned_append");
    // --unsigned writes the reference's unsigned receipt, which verify rejects (67).
    d.run(&["asset", "state", "receipt-init", &module, "--unsigned"])
        .ok();
    d.run(&["asset", "state", "verify", &module]).code(67);
    // --unsigned with --key is a contradiction.
    d.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--unsigned",
        "--key",
        "dev.jwk",
    ])
    .code(64);
}

#[test]
fn checkout_refuses_to_overwrite_another_receipt_unless_forced() {
    let (_a, _remote, url) = pushed();
    let b = clone(&url);
    b.run(&["checkout", ASSET_ID]).ok();
    let file = b.join(&format!(
        "modules/smart-assets/{ASSET_ID}/state/receipts/receipt.0.json"
    ));
    let good = std::fs::read(&file).unwrap();
    std::fs::write(&file, b"{\"not\": \"a receipt\"}\n").unwrap();
    let r = b.run(&["checkout", ASSET_ID]);
    r.code(70);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    b.run(&["checkout", ASSET_ID, "--force"]).ok();
    assert_eq!(std::fs::read(&file).unwrap(), good);
    // An id the repository does not have is missing (68); a too-short one is usage (64).
    b.run(&["checkout", &"ab".repeat(32)]).code(68);
    b.run(&["checkout", "37e2"]).code(64);
}

#[test]
fn remotes_are_listed_shown_renamed_and_re_pointed_as_in_git() {
    let (a, _remote, url) = pushed();
    assert_eq!(a.run(&["remote"]).ok(), "origin\n");
    let v = a.run(&["-v", "remote"]).ok().to_string();
    assert!(v.contains(&format!("origin\t{url} (fetch)")), "{v}");
    assert!(v.contains(&format!("origin\t{url} (push)")), "{v}");
    let shown = a.run(&["remote", "show", "origin", "--json"]).json();
    assert_eq!(shown["url"], url.as_str());
    assert_eq!(shown["chains"][0]["ahead"], 0);
    // ls-remote reads the remote itself: its head is ours.
    let ls = a.run(&["ls-remote", "origin", "--json"]).json();
    assert_eq!(
        ls["refs"][format!("refs/assets/{ASSET_ID}/core/head")],
        head(&a).as_str()
    );
    let text = a.run(&["ls-remote"]).ok().to_string();
    assert!(text.contains(&format!("{}\trefs/assets/{ASSET_ID}/core/head", head(&a))));
    // rename moves the config entry and every remote-tracking ref.
    a.run(&["remote", "rename", "origin", "backup"]).ok();
    let refs = a.run(&["refs"]).ok().to_string();
    assert!(refs.contains("refs/remotes/backup/assets/"), "{refs}");
    assert!(!refs.contains("refs/remotes/origin/"), "{refs}");
    assert_eq!(tracking(&a)["remote"], "backup");
    a.run(&["remote", "rename", "nope", "x"]).code(64);
    a.run(&["remote", "rename", "backup", "bad/name"]).code(64);
    // set-url checks the URL as add does: credentials are refused and never echoed.
    let r = a.run(&["remote", "set-url", "backup", "s3://AKIA:s3cr3t@bucket/p"]);
    r.code(64);
    assert!(!r.stderr.contains("s3cr3t"), "{}", r.stderr);
    let moved = a.join("moved");
    std::fs::rename(&url, &moved).unwrap();
    a.run(&["remote", "set-url", "backup", moved.to_str().unwrap()])
        .ok();
    a.run(&["ls-remote", "backup"]).ok();
    a.run(&["remote", "show", "nope"]).code(64);
}

#[test]
fn digests_may_be_typed_as_unique_prefixes_and_ambiguous_ones_list_the_candidates() {
    let (a, _remote, _url) = pushed();
    let h = head(&a);
    let full = a
        .run(&["show", &format!("smart-asset-receipt:{h}")])
        .ok()
        .to_string();
    assert_eq!(a.run(&["show", &h[..7]]).ok(), full);
    assert_eq!(
        a.run(&["show", &format!("smart-asset-receipt:{}", &h[..10])])
            .ok(),
        full
    );
    a.run(&[
        "artifact",
        "get",
        &format!("smart-asset-receipt:{}", &h[..7]),
    ])
    .ok();
    // update-ref and --expect-head take prefixes too.
    a.run(&["update-ref", "refs/tags/first", &h[..8]]).ok();
    a.run(&["update-ref", "refs/tags/first", &h[..8], "--old", &h[..7]])
        .ok();
    let module = format!("modules/smart-assets/{ASSET_ID}");
    a.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--key",
        "dev.jwk",
        "--expect-head",
        &h[..9],
    ])
    .ok();
    // Six hex digits are too few (64), a prefix of nothing is missing (68).
    a.run(&["show", &format!("smart-asset-receipt:{}", &h[..6])])
        .code(64);
    let none = if h.starts_with("0000000") {
        "fffffff"
    } else {
        "0000000"
    };
    a.run(&["show", none]).code(68);
    // The same bytes stored under two types share a digest: the bare prefix is ambiguous.
    let one = a.put("x.bin", b"same bytes\n", "blob");
    a.put("x.bin", b"same bytes\n", "blob2");
    let digest = one.split_once(':').unwrap().1;
    let r = a.run(&["show", &digest[..7]]);
    r.code(64);
    assert!(r.stderr.contains(&format!("blob:{digest}")), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("blob2:{digest}")),
        "{}",
        r.stderr
    );
    let j = a.run(&["--json", "show", &digest[..7]]);
    assert_eq!(j.json()["error"]["code"], "usage.ambiguous_prefix");
    // Typed with its type, the same prefix is unique.
    a.run(&["show", &format!("blob:{}", &digest[..7])]).ok();
}

/// A batch of `n` transitions as JSON lines.
fn batch(d: &Dir, n: usize) {
    let lines: String = (0..n)
        .map(|i| format!("{{\"kind\":\"t.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect();
    d.write("batch.jsonl", lines);
}

#[test]
fn ctrl_c_mid_batch_append_exits_130_and_leaves_nothing_half_written() {
    use std::os::unix::process::CommandExt;
    let (d, module) = Dir::asset_module(&["dev"], &[]);
    append(&d, &module).ok();
    let before = head(&d);
    batch(&d, 20_000);
    let mut cmd = d.cmd(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--batch",
        "batch.jsonl",
        "--key",
        "dev.jwk",
    ]);
    // The test harness may run with SIGINT ignored; the child gets the default back.
    // SAFETY: the closure runs in the forked child before exec and only calls signal(2) with
    // SIG_DFL, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    // SAFETY: kill takes no pointers; the pid is our own live child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let r = Run::from(child.wait_with_output().unwrap());
    r.code(130);
    assert!(r.stderr.contains("interrupted"), "{}", r.stderr);
    // Nothing half-written: the head did not move, no receipt file beyond it appeared, and
    // fsck (and verify) are clean.
    assert_eq!(head(&d), before);
    assert!(
        !d.join(&format!("{module}/state/receipts/receipt.1.json"))
            .exists()
    );
    d.run(&["fsck"]).ok();
    d.run(&["asset", "state", "verify", &module]).ok();
    // The next append works as if nothing had happened.
    append(&d, &module).ok();
    d.run(&["fsck", "--strict"]).ok();
}

#[test]
fn a_closed_stdout_or_stderr_never_panics() {
    use std::io::{BufRead, BufReader};
    let (d, module) = Dir::asset_module(&["dev"], &[]);
    batch(&d, 3000);
    d.run(&[
        "asset",
        "state",
        "receipt-init",
        &module,
        "--batch",
        "batch.jsonl",
        "--key",
        "dev.jwk",
    ])
    .ok();
    let log = format!("assets/{ASSET_ID}/core/head");
    // `msez log ... 2>&1 | head -3`: one pipe for both, closed after three lines.
    for args in [
        vec!["log", log.as_str()],
        vec!["log", "refs/nope"],
        vec!["bogus"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut child = d
            .cmd(&args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(reader);
        for _ in 0..3 {
            let mut l = String::new();
            if lines.read_line(&mut l).unwrap() == 0 {
                break;
            }
            assert!(!l.contains("panicked"), "{args:?}: {l}");
        }
        drop(lines);
        let code = child.wait().unwrap().code();
        assert_ne!(code, Some(101), "{args:?} panicked");
    }
    // stderr closed outright: the error is lost, the exit code is not.
    let r = d
        .cmd(&["log", "refs/nope"])
        .stderr(std::process::Stdio::null())
        .status();
    assert_eq!(r.unwrap().code(), Some(68));
}

#[test]
fn quiet_drops_notes_warnings_and_confirmations_never_the_data() {
    let d = Dir::new();
    let r = d.run(&["-q", "init"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let (a, _remote, url) = pushed();
    let b = Dir::new();
    let r = b.run(&["-q", "clone", &url, b.path().to_str().unwrap()]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let r = b.run(&["-q", "checkout", ASSET_ID]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    let r = a.run(&["-q", "push", "origin"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", ""));
    // The data asked for still prints.
    assert!(a.run(&["-q", "refs"]).ok().contains("/core/head"));
    assert!(a.run(&["-q", "status"]).ok().contains(ASSET_ID));
    assert_eq!(a.run(&["-q", "remote"]).ok(), "origin\n");
    let h = head(&a);
    assert!(a.run(&["-q", "show", &h[..7]]).ok().contains("next_root"));
    // --json is untouched by -q.
    a.run(&["-q", "--json", "remote", "set-url", "origin", &url])
        .json();
    // Errors still print.
    let r = a.run(&["-q", "show", "refs/nope"]);
    r.code(68);
    assert!(r.stderr.contains("msez:"), "{}", r.stderr);
}

#[test]
fn usage_errors_are_json_documents_with_json() {
    let d = Dir::repo();
    for args in [
        vec!["--json", "bogus"],
        vec!["show", "--json"],
        vec!["--json", "show", "--nope", "x"],
        vec!["--json", "remote", "rename", "only-one"],
    ] {
        let r = d.run(&args);
        r.code(64);
        let doc = r.json();
        assert_eq!(doc["error"]["class"], "usage", "{args:?}");
        assert_eq!(doc["error"]["code"], "usage.invalid", "{args:?}");
        assert!(!doc["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(r.stderr, "", "{args:?}");
    }
    // Without --json, clap's text on stderr, still 64; help is 0.
    let r = d.run(&["bogus"]);
    r.code(64);
    assert!(r.stderr.contains("unrecognized subcommand"));
    d.run(&["--help"]).ok();
    // MSEZ_JSON asks for JSON as --json does.
    let r = Run::from(d.cmd(&["bogus"]).env("MSEZ_JSON", "1").output().unwrap());
    r.code(64);
    assert_eq!(r.json()["error"]["class"], "usage");
}

#[test]
fn msez_variables_set_the_global_flags_and_no_color_is_honoured() {
    let d = Dir::repo();
    let sub = Dir::new();
    let env = |c: &mut std::process::Command, k: &str, v: &str| {
        c.env(k, v);
    };
    let mut c = d.cmd(&["refs"]);
    env(&mut c, "MSEZ_JSON", "true");
    let r = Run::from(c.output().unwrap());
    assert!(r.json()["refs"].is_object());
    // A falsey value leaves the flag off.
    let mut c = d.cmd(&["refs"]);
    env(&mut c, "MSEZ_JSON", "0");
    assert!(Run::from(c.output().unwrap()).ok().is_empty());
    let mut c = sub.cmd(&["init"]);
    env(&mut c, "MSEZ_QUIET", "1");
    let r = Run::from(c.output().unwrap());
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    // MSEZ_CHDIR is -C.
    let elsewhere = Dir::new();
    let mut c = elsewhere.cmd(&["--json", "refs"]);
    env(&mut c, "MSEZ_CHDIR", d.path().to_str().unwrap());
    Run::from(c.output().unwrap()).ok();
    // NO_COLOR wins over CLICOLOR_FORCE: no escape sequence in help or errors.
    for args in [vec!["--help"], vec!["bogus"]] {
        let mut c = d.cmd(&args);
        c.env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1");
        let r = Run::from(c.output().unwrap());
        assert!(
            !r.stdout.contains('\x1b') && !r.stderr.contains('\x1b'),
            "{args:?}"
        );
    }
    let mut c = d.cmd(&["--help"]);
    c.env("CLICOLOR_FORCE", "1");
    assert!(Run::from(c.output().unwrap()).stdout.contains('\x1b'));
}

/// Every visible top-level command, from `msez --help`'s grouped listing.
fn grouped_help() -> (String, Vec<String>) {
    let help = Dir::new().run(&["--help"]).ok().to_string();
    let mut names = Vec::new();
    let mut in_group = false;
    for line in help.lines() {
        if line.ends_with(':') && !line.starts_with(' ') {
            in_group = !matches!(line, "Options:" | "Examples:" | "Usage:");
            continue;
        }
        if in_group {
            if let Some(name) = line
                .strip_prefix("  ")
                .and_then(|l| l.split_whitespace().next())
            {
                names.push(name.to_string());
            }
        }
    }
    (help, names)
}

#[test]
fn help_is_grouped_as_gits_with_an_example_per_command() {
    let (help, names) = grouped_help();
    for group in ["Start", "Record", "Verify", "Share", "Inspect", "Plumbing"] {
        assert!(
            help.lines().any(|l| l.starts_with(group)),
            "no {group} group:\n{help}"
        );
    }
    // Every visible command is in exactly one group, and none is listed twice.
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "{names:?}");
    let generated = Dir::new();
    let pages = generated.run(&["--json", "generate", "man", "man"]).json()["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let top: Vec<String> = pages
        .iter()
        .filter_map(|p| p.strip_prefix("msez-")?.strip_suffix(".1"))
        .filter(|p| !p.contains('-') || ["ls-remote", "update-ref"].contains(p))
        .map(str::to_string)
        .collect();
    for t in &top {
        assert!(names.contains(t), "{t} is in no help group");
    }
    // Global flags have their own heading in each command's help; each command an example.
    for name in &names {
        let h = Dir::new().run(&[name.as_str(), "--help"]);
        let h = h.ok();
        assert!(h.contains("Global options:"), "{name}");
        assert!(h.contains("Example"), "{name} --help has no example");
    }
    // Man pages: EXAMPLES for the root and every top-level command; ENVIRONMENT on all.
    for page in &pages {
        let text = std::fs::read_to_string(generated.join(&format!("man/{page}"))).unwrap();
        assert!(text.contains(".SH ENVIRONMENT"), "{page}");
        assert!(
            text.contains("MSEZ_QUIET") && text.contains("NO_COLOR"),
            "{page}"
        );
        let name = page.trim_start_matches("msez-").trim_end_matches(".1");
        if page == "msez.1" || names.iter().any(|n| n == name) {
            assert!(text.contains(".SH EXAMPLES"), "{page} has no EXAMPLES");
        }
    }
}

#[test]
fn bash_completes_remotes_refs_and_module_ids_from_the_repository() {
    let (a, _remote, _url) = pushed();
    a.run(&["remote", "add", "other", "/nonexistent/elsewhere"])
        .ok();
    assert_eq!(a.run(&["__complete", "remotes"]).ok(), "origin\nother\n");
    assert!(a.run(&["__complete", "modules"]).ok().contains(ASSET_ID));
    let refs = a.run(&["__complete", "refs"]).ok().to_string();
    assert!(
        refs.contains(&format!("assets/{ASSET_ID}/core/head\n")),
        "{refs}"
    );
    // Outside a repository: nothing, and success.
    assert_eq!(Dir::new().run(&["__complete", "refs"]).ok(), "");
    let script = a.run(&["generate", "completions", "bash"]).ok().to_string();
    a.write("completion.bash", &script);
    let bin_dir = std::path::Path::new(crate::util::bin()).parent().unwrap();
    let complete = |words: &str, cword: usize| -> String {
        let sh = format!(
            "source ./completion.bash; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _msez_dynamic msez \"${{COMP_WORDS[$COMP_CWORD]}}\" msez; echo \"${{COMPREPLY[*]}}\""
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(sh)
            .current_dir(a.path())
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("msez push or", 2), "origin");
    assert_eq!(complete("msez remote show ot", 3), "other");
    assert_eq!(
        complete(&format!("msez checkout {}", &ASSET_ID[..4]), 2),
        ASSET_ID
    );
    assert_eq!(
        complete("msez log assets/", 2),
        format!("assets/{ASSET_ID}/core/head")
    );
    // Commands still complete statically.
    assert_eq!(complete("msez statu", 1), "status");
}

#[test]
fn zsh_and_fish_complete_remotes_refs_and_module_ids_as_bash_does() {
    let (a, _remote, _url) = pushed();
    a.run(&["remote", "add", "other", "/nonexistent/elsewhere"])
        .ok();
    // The one place that decides what fits where, for every shell.
    assert_eq!(
        a.run(&["__complete", "context", "push"]).ok(),
        "origin\nother\n"
    );
    assert_eq!(a.run(&["__complete", "context", "push", "origin"]).ok(), "");
    assert_eq!(a.run(&["__complete", "context", "status"]).ok(), "");
    let elsewhere = Dir::new();
    let c = s(a.path());
    let from_elsewhere = elsewhere.run(&["__complete", "context", "-C", c, "checkout"]);
    assert!(from_elsewhere.ok().contains(ASSET_ID), "{from_elsewhere:?}");
    let bin_dir = std::path::Path::new(crate::util::bin()).parent().unwrap();
    let shell = |program: &str, script: &str| -> String {
        let out = std::process::Command::new(program)
            .arg("-c")
            .arg(script)
            .current_dir(a.path())
            .env(
                "PATH",
                format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap_or_else(|e| panic!("{program} runs (scripts/test installs it): {e}"));
        assert!(out.status.success(), "{program}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    for sh in ["zsh", "fish"] {
        let script = a.run(&["generate", "completions", sh]).ok().to_string();
        a.write(&format!("completion.{sh}"), &script);
    }
    // fish: its own completion engine, as at a prompt.
    let fish = |line: &str| {
        shell(
            "fish",
            &format!("source ./completion.fish; complete -C '{line}'"),
        )
    };
    assert_eq!(fish("msez push ot"), "other");
    assert!(fish("msez checkout ").contains(ASSET_ID));
    assert!(fish("msez log assets/").contains(&format!("assets/{ASSET_ID}/core/head")));
    assert!(
        fish("msez statu").starts_with("status"),
        "static completions still work"
    );
    // zsh: the function the script registers with compdef, with compadd recording what it is
    // given (zsh's completion widgets only run inside an interactive line editor).
    let zsh = |words: &str, current: usize| {
        shell(
            "zsh",
            &format!(
                "autoload -U compinit; compinit -u; source ./completion.zsh; \
                 compadd() {{ [[ $1 == -a ]] && print -l -- ${{(P)2}} }}; \
                 _msez() {{ print static }}; words=({words}); CURRENT={current}; _msez_dynamic"
            ),
        )
    };
    assert_eq!(zsh("msez push ''", 3), "origin\nother");
    assert_eq!(zsh("msez checkout ''", 3), ASSET_ID);
    assert_eq!(zsh("msez statu", 2), "static");
}
