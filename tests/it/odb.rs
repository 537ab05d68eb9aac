//! The object database through the real binary: round trips, crashes, races, tampering, hooks.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{Dir, run_measured};

#[test]
fn write_commands_outside_a_repository_refuse_with_a_hint() {
    let dir = Dir::new();
    dir.write("x.json", "{}");
    let run = dir.run(&["artifact", "put", "x.json", "--type", "schema"]);
    run.code(64);
    assert!(run.stderr.contains("msez init"), "{}", run.stderr);
}

#[test]
fn init_refuses_to_clobber_a_repository() {
    let dir = Dir::repo();
    dir.run(&["init"]).code(64);
    assert!(dir.join(".msez/config").is_file());
}

#[test]
fn json_objects_are_stored_canonically_once_and_read_back() {
    let dir = Dir::repo();
    let id = dir.put("a.json", "{ \"b\": 2,\n \"a\": \"é\" }", "schema");
    assert_eq!(
        id,
        format!(
            "schema:{}",
            msez::canon::sha256(b"{\"a\":\"\xc3\xa9\",\"b\":2}")
        )
    );
    let file = dir.object_file(&id);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"{\"a\":\"\xc3\xa9\",\"b\":2}\n"
    );
    assert!(file.to_str().unwrap().ends_with(".json"));
    // Same content, other formatting: the same object, not rewritten.
    let again = dir.put("b.json", "{\"a\":\"é\",\"b\":2}", "schema");
    assert_eq!(again, id);
    let out = dir.run(&["artifact", "get", &id]);
    assert_eq!(out.ok(), "{\"a\":\"é\",\"b\":2}\n");
    // .msez/objects is a store root for the reference's resolver.
    let resolved = dir.run(&["artifact", "resolve", &id, "--store-root", ".msez/objects"]);
    assert_eq!(
        std::path::Path::new(resolved.ok().trim()),
        std::fs::canonicalize(&file).unwrap()
    );
}

#[test]
fn a_receipt_whose_next_root_lies_is_refused() {
    let dir = Dir::repo();
    let run = dir.run(&[
        "artifact",
        "put",
        dir.write("r.json", r#"{"sequence":0,"next_root":"00"}"#)
            .to_str()
            .unwrap(),
        "--type",
        "smart-asset-receipt",
    ]);
    run.code(66);
    assert!(run.stderr.contains("next_root mismatch"), "{}", run.stderr);
    assert!(
        std::fs::read_dir(dir.join(".msez/objects"))
            .unwrap()
            .next()
            .is_none(),
        "nothing stored"
    );
}

#[test]
fn a_one_gib_sparse_file_round_trips_with_flat_memory() {
    let dir = Dir::repo();
    let big = dir.join("big.bin");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let mut put = dir.cmd(&["--json", "artifact", "put", "big.bin", "--type", "blob"]);
    let out = put.stdout(Stdio::piped()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = doc["id"].as_str().unwrap().to_string();
    // SHA-256 of 1 GiB of zeros.
    assert_eq!(
        id,
        "blob:49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14"
    );
    assert_eq!(doc["size"], 1u64 << 30);
    std::fs::remove_file(&big).unwrap();

    let mut get = dir.cmd(&["artifact", "get", &id, "--out", "back.bin"]);
    get.stdin(Stdio::null());
    let (code, rss_kib) = run_measured(get);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::metadata(dir.join("back.bin")).unwrap().len(),
        1 << 30
    );
    assert!(
        rss_kib < 64 * 1024,
        "get used {rss_kib} KiB for a 1 GiB object"
    );

    let mut put = dir.cmd(&["artifact", "put", "back.bin", "--type", "blob"]);
    put.stdin(Stdio::null());
    let (code, rss_kib) = run_measured(put);
    assert_eq!(code, 0);
    assert!(
        rss_kib < 64 * 1024,
        "put used {rss_kib} KiB for a 1 GiB file"
    );
}

#[test]
fn a_writer_killed_mid_write_leaves_no_partial_object_and_fsck_clean() {
    let dir = Dir::repo();
    let mut child = dir
        .cmd(&["artifact", "put", "-", "--type", "blob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&vec![7u8; 8 << 20]).unwrap();
    let tmp = dir.join(".msez/tmp");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&tmp).unwrap().next().is_none() {
        assert!(
            Instant::now() < deadline,
            "the writer never staged a temp file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stdin);
    assert!(
        !dir.join(".msez/objects/blob").exists(),
        "a partial object was published"
    );
    // The orphan temp file is young: reported and kept by default, removed past the grace period.
    let run = dir.run(&["--json", "fsck"]);
    run.ok();
    assert_eq!(run.json()["temp_kept"].as_array().unwrap().len(), 1);
    let run = dir.run(&["--json", "fsck", "--grace", "0s"]);
    assert_eq!(run.json()["temp_removed"].as_array().unwrap().len(), 1);
    assert!(std::fs::read_dir(&tmp).unwrap().next().is_none());
}

#[test]
fn racing_update_ref_exactly_one_wins_and_the_reflog_stays_intact() {
    let dir = Dir::repo();
    let mut current: Option<String> = None;
    let mut wins = 0;
    for round in 0..12 {
        let x = dir.put(&format!("x{round}.bin"), format!("x{round}"), "blob");
        let y = dir.put(&format!("y{round}.bin"), format!("y{round}"), "blob");
        let old = current.clone().unwrap_or_else(|| "none".to_string());
        let spawn = |new: &str| {
            dir.cmd(&["update-ref", "refs/heads/main", new, "--old", &old])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (p, q) = (spawn(&x), spawn(&y));
        let (p, q) = (p.wait_with_output().unwrap(), q.wait_with_output().unwrap());
        let codes = [p.status.code().unwrap(), q.status.code().unwrap()];
        assert!(
            codes.contains(&0) && codes.contains(&70),
            "round {round}: {codes:?}"
        );
        wins += 1;
        let winner = if codes[0] == 0 { &x } else { &y };
        current = Some(winner.split_once(':').unwrap().1.to_string());
        let head = std::fs::read_to_string(dir.join(".msez/refs/heads/main")).unwrap();
        assert_eq!(head, format!("{}\n", current.as_ref().unwrap()));
    }
    let log = dir.run(&["--json", "reflog", "refs/heads/main"]).json();
    let entries = log["entries"].as_array().unwrap();
    assert_eq!(entries.len(), wins);
    assert_eq!(entries[0]["new"].as_str(), current.as_deref());
}

#[test]
fn update_ref_refuses_missing_objects_and_stale_old_values() {
    let dir = Dir::repo();
    let a = dir.put("a.bin", "a", "blob");
    let b = dir.put("b.bin", "b", "blob");
    dir.run(&["update-ref", "refs/x", &"ab".repeat(32)])
        .code(68);
    dir.run(&["update-ref", "refs/x", &a]).ok();
    let (_, b_hex) = b.split_once(':').unwrap();
    let run = dir.run(&["--json", "update-ref", "refs/x", &b, "--old", b_hex]);
    run.code(70);
    assert_eq!(run.json()["error"]["code"], "conflict.ref_moved");
    assert!(
        std::fs::read_to_string(dir.join(".msez/refs/x"))
            .unwrap()
            .starts_with(a.split_once(':').unwrap().1)
    );
}

#[test]
fn a_held_lock_is_a_conflict_and_an_abandoned_one_is_taken_over() {
    let dir = Dir::repo();
    let a = dir.put("a.bin", "a", "blob");
    std::fs::create_dir_all(dir.join(".msez/refs")).unwrap();
    let holder = crate::util::hold_lock(&dir.join(".msez/refs/x.lock"));
    let run = dir.run(&["update-ref", "refs/x", &a]);
    run.code(70);
    assert!(run.stderr.contains("x.lock"), "{}", run.stderr);
    // The same lock left by a process that died (nobody holds it) is taken over.
    drop(holder);
    dir.run(&["update-ref", "refs/x", &a]).ok();
    assert!(!dir.join(".msez/refs/x.lock").exists());
}

#[test]
fn a_failing_pre_ref_update_hook_leaves_the_ref_unmoved() {
    let dir = Dir::repo();
    let a = dir.put("a.bin", "a", "blob");
    let b = dir.put("b.bin", "b", "blob");
    dir.run(&["update-ref", "refs/x", &a]).ok();
    let hook = dir.join(".msez/hooks/pre-ref-update");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho \"no: $MSEZ_REF $MSEZ_OLD -> $MSEZ_NEW ($MSEZ_EVENT)\" >&2\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = dir.run(&["update-ref", "refs/x", &b]);
    run.code(70);
    let (a_hex, b_hex) = (a.split_once(':').unwrap().1, b.split_once(':').unwrap().1);
    assert!(
        run.stderr
            .contains(&format!("no: refs/x {a_hex} -> {b_hex} (pre-ref-update)")),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join(".msez/refs/x")).unwrap(),
        format!("{a_hex}\n")
    );
    assert_eq!(
        dir.run(&["--json", "reflog", "x"]).json()["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(!dir.join(".msez/refs/x.lock").exists());
}

#[test]
fn post_ref_update_hooks_see_the_move() {
    let dir = Dir::repo();
    let a = dir.put("a.bin", "a", "blob");
    std::fs::copy(
        dir.join(".msez/hooks/post-ref-update.sample"),
        dir.join(".msez/hooks/post-ref-update"),
    )
    .unwrap();
    dir.run(&["update-ref", "refs/x", &a, "-m", "because"]).ok();
    let log = std::fs::read_to_string(dir.join(".msez/hook-audit.log")).unwrap();
    assert_eq!(
        log,
        format!(
            "refs/x none -> {} (because)\n",
            a.split_once(':').unwrap().1
        )
    );
}

#[test]
fn fsck_names_a_changed_byte_in_signed_content() {
    let dir = Dir::repo();
    let id = dir.put("v.json", r#"{"@context":[],"type":["VerifiableCredential"],"issuer":"x","credentialSubject":{"amount":"100"}}"#, "vc");
    dir.run(&["fsck"]).ok();
    let file = dir.object_file(&id);
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("100", "900");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&file, text).unwrap();
    let run = dir.run(&["--json", "fsck"]);
    run.code(66);
    let problems = run.json()["problems"].clone();
    assert_eq!(problems[0]["object"], id.as_str());
    assert_eq!(problems[0]["code"], "digest.object_mismatch");
}

#[test]
fn fsck_reports_an_object_that_no_longer_parses_as_schema() {
    let dir = Dir::repo();
    let id = dir.put("s.json", r#"{"a":1}"#, "schema");
    let file = dir.object_file(&id);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(&file, "{\"a\":1").unwrap();
    let run = dir.run(&["fsck"]);
    run.code(65);
    assert!(run.stdout.contains(&id), "{}", run.stdout);
}

#[test]
fn fsck_reports_a_dangling_ref_as_missing() {
    let dir = Dir::repo();
    std::fs::create_dir_all(dir.join(".msez/refs/assets/aa/core")).unwrap();
    std::fs::write(
        dir.join(".msez/refs/assets/aa/core/head"),
        format!("{}\n", "cd".repeat(32)),
    )
    .unwrap();
    let run = dir.run(&["--json", "fsck"]);
    run.code(68);
    assert_eq!(
        run.json()["problems"][0]["object"],
        format!("smart-asset-receipt:{}", "cd".repeat(32))
    );
}

#[test]
fn bad_inputs_get_the_right_class() {
    let dir = Dir::repo();
    let cases: &[(&[&str], &[u8], i32, &str)] = &[
        (&["canon"], b"{\"a\":1.5}", 65, "schema.float"),
        (&["canon"], b"[\"\\udc00\"]", 65, "schema.invalid_json"),
        (
            &["digest", "--type", "Bad_Type"],
            b"{}",
            64,
            "usage.bad_artifact_type",
        ),
        (
            &["artifact", "get", "blob:xyz"],
            b"",
            65,
            "schema.bad_digest",
        ),
        (
            &["artifact", "get", "blob"],
            b"",
            64,
            "usage.bad_object_name",
        ),
        (
            &["update-ref", "refs/../x", "blob:00"],
            b"",
            64,
            "usage.bad_ref_name",
        ),
        (
            &["artifact", "get", &format!("blob:{}", "0".repeat(64))],
            b"",
            68,
            "missing.object",
        ),
    ];
    for (args, stdin, code, err) in cases {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let run = dir.run_stdin(&full, stdin);
        run.code(*code);
        assert_eq!(run.json()["error"]["code"], *err, "{args:?}");
    }
}

#[test]
fn a_lawpack_is_named_by_its_canonical_parts_and_checked_on_read() {
    let dir = Dir::repo();
    let make = |path: &str, xml: &str, yaml: &str| {
        let script = format!(
            "import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED)\nz.writestr('lawpack.yaml',{yaml:?})\nz.writestr('akn/act.xml',{xml:?})\nz.writestr('notes.txt','ignored')\nz.close()\n"
        );
        let ok = std::process::Command::new("python3")
            .args(["-c", &script, dir.join(path).to_str().unwrap()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    make("a.zip", "<act b='2' a=\"1\"><p/></act>", "name: x\n");
    make(
        "b.zip",
        "<!-- c --><act a=\"1\" b=\"2\"><p></p></act>",
        "{name: x}",
    );
    let a = dir
        .run(&["artifact", "put", "a.zip", "--type", "lawpack"])
        .ok()
        .trim()
        .to_string();
    let b = dir
        .run(&["artifact", "put", "b.zip", "--type", "lawpack"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(a, b, "the same parts, differently written, are one lawpack");
    assert_eq!(
        dir.run(&["digest", "--type", "lawpack", "b.zip"])
            .ok()
            .trim(),
        a.split_once(':').unwrap().1
    );
    let file = dir.object_file(&a);
    assert!(file.to_str().unwrap().ends_with(".lawpack.zip"));
    dir.run(&["fsck"]).ok();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    make("c.zip", "<act a=\"1\" b=\"3\"><p/></act>", "name: x\n");
    std::fs::copy(dir.join("c.zip"), &file).unwrap();
    dir.run(&["fsck"]).code(66);
}
