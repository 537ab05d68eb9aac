//! Repository damage through the real binary: fsck reports every problem in one run, works on
//! a read-only repository without writing, classes on-disk damage as damage (never usage), and
//! `fsck --remote` runs in three modes that each say what they did not check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::chain::Chain;
use crate::util::{ASSET_ID, Dir, Run, bin};

fn checkpoint(c: &Chain) {
    c.dir
        .run(&[
            "asset",
            "state",
            "checkpoint",
            &c.module,
            "--key",
            "dev.jwk",
        ])
        .ok();
}

/// The codes of a `--json` fsck report's problems.
fn codes(run: &Run) -> Vec<String> {
    run.json()["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems list: {run:#?}"))
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

fn problems(run: &Run) -> Vec<Value> {
    run.json()["problems"].as_array().unwrap().clone()
}

fn chain_ref(rest: &str) -> String {
    format!(".msez/refs/assets/{ASSET_ID}/core/{rest}")
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Every path under `root` with its size and mtime (and a file's bytes), to prove no write.
fn listing(root: &Path) -> BTreeMap<PathBuf, (u64, i64, i64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let bytes = if m.is_file() {
                std::fs::read(&p).unwrap()
            } else {
                Vec::new()
            };
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.insert(p, (m.len(), m.mtime(), m.mtime_nsec(), bytes));
        }
    }
    out
}

#[test]
fn a_garbage_ref_hides_neither_a_corrupt_checkpoint_nor_a_truncated_mmr() {
    let c = Chain::new();
    c.append(5);
    checkpoint(&c);
    c.dir.run(&["fsck"]).ok();
    c.dir.write(".msez/refs/tags/x", "garbage\n");
    let ck = std::fs::read_to_string(c.dir.join(&chain_ref("checkpoint"))).unwrap();
    let ck_id = format!("smart-asset-receipt-checkpoint:{}", ck.trim());
    let ck_file = c.dir.object_file(&ck_id);
    make_writable(&ck_file);
    let text = std::fs::read_to_string(&ck_file).unwrap();
    assert!(text.contains("\"receipt_count\":5"), "{text}");
    std::fs::write(
        &ck_file,
        text.replace("\"receipt_count\":5", "\"receipt_count\":6"),
    )
    .unwrap();
    let level0 = c
        .dir
        .join(&format!(".msez/mmr/assets/{ASSET_ID}/core/level-00"));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&level0)
        .unwrap();
    f.set_len(64).unwrap();

    let run = c.dir.run(&["--json", "fsck"]);
    run.code(65);
    let found = codes(&run);
    for want in [
        "schema.bad_ref_value",
        "digest.object_mismatch",
        "digest.mmr_state",
    ] {
        assert!(found.iter().any(|c| c == want), "{want} in {found:?}");
    }
    assert!(
        problems(&run)
            .iter()
            .any(|p| p["code"] == "digest.object_mismatch" && p["object"] == ck_id.as_str()),
        "{run:#?}"
    );
    // The text report lists all three too, one line each.
    let text = c.dir.run(&["fsck"]);
    text.code(65);
    assert!(text.stdout.contains("refs/tags/x"), "{}", text.stdout);
    assert!(text.stdout.contains(&ck_id), "{}", text.stdout);
    assert!(text.stdout.contains(".msez/mmr state"), "{}", text.stdout);
}

#[test]
fn every_kind_of_layout_damage_is_a_finding_in_one_run() {
    let c = Chain::new();
    c.append(3);
    checkpoint(&c);
    let head = std::fs::read_to_string(c.dir.join(&chain_ref("head"))).unwrap();
    c.dir.run(&["update-ref", "refs/tags/t", head.trim()]).ok();
    c.dir.run(&["fsck"]).ok();
    // The genesis object deleted.
    std::fs::remove_file(
        c.dir
            .object_file(&format!("smart-asset-genesis:{ASSET_ID}")),
    )
    .unwrap();
    // A typed ref and a plain ref (with a reflog) replaced by directories.
    for r in [
        c.dir.join(&chain_ref("checkpoint")),
        c.dir.join(".msez/refs/tags/t"),
    ] {
        std::fs::remove_file(&r).unwrap();
        std::fs::create_dir(&r).unwrap();
    }
    // A reflog with a line that is not one.
    let log = c
        .dir
        .join(&format!(".msez/logs/refs/assets/{ASSET_ID}/core/head"));
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("not a reflog line\n");
    std::fs::write(&log, text).unwrap();
    // A proof file whose object is not stored.
    c.dir.write(
        &format!(
            ".msez/proofs/vc/{}/{}.json",
            "ab".repeat(32),
            "cd".repeat(32)
        ),
        "{}\n",
    );
    // A type directory that is a symlink out of the repository.
    let outside = Dir::new();
    std::os::unix::fs::symlink(outside.path(), c.dir.join(".msez/objects/vc")).unwrap();

    let run = c.dir.run(&["--json", "fsck"]);
    run.code(65);
    let found = codes(&run);
    for want in [
        "missing.genesis",
        "schema.bad_ref_file",
        "schema.reflog",
        "missing.proof_object",
        "schema.symlink",
    ] {
        assert!(found.iter().any(|c| c == want), "{want} in {found:?}");
    }
    let dirs: Vec<String> = problems(&run)
        .iter()
        .filter(|p| p["code"] == "schema.bad_ref_file")
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    assert!(
        dirs.iter().any(|p| p.ends_with("core/checkpoint")),
        "{dirs:?}"
    );
    assert!(dirs.iter().any(|p| p.ends_with("refs/tags/t")), "{dirs:?}");
    let symlink = problems(&run)
        .into_iter()
        .find(|p| p["code"] == "schema.symlink")
        .unwrap();
    assert!(
        symlink["message"]
            .as_str()
            .unwrap()
            .contains("outside the repository"),
        "{symlink}"
    );
}

#[test]
fn a_symlinked_refs_dir_is_reported_and_never_written_through() {
    let c = Chain::new();
    c.append(2);
    let outside = Dir::new();
    let moved = outside.join("assets");
    std::fs::rename(c.dir.join(".msez/refs/assets"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, c.dir.join(".msez/refs/assets")).unwrap();
    let before = listing(outside.path());
    c.dir.write(
        "one.jsonl",
        "{\"kind\":\"transfer.v1\",\"payload\":{\"i\":9}}\n",
    );
    let run = c.dir.run(&[
        "--json",
        "asset",
        "state",
        "receipt-init",
        &c.module,
        "--batch",
        "one.jsonl",
        "--key",
        "dev.jwk",
    ]);
    run.code(65);
    assert_eq!(run.json()["error"]["code"], "schema.symlink", "{run:#?}");
    let head = moved.join(format!("{ASSET_ID}/core/head"));
    assert_eq!(
        listing(outside.path()),
        before,
        "nothing written outside the repository ({})",
        head.display()
    );
    let run = c.dir.run(&["--json", "fsck"]);
    assert_ne!(run.code, 0);
    assert!(
        codes(&run).iter().any(|c| c == "schema.symlink"),
        "{run:#?}"
    );
}

/// Unmounts a bind mount when dropped (also when the test fails).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn fsck_checks_a_read_only_repository_without_writing() {
    let c = Chain::new();
    c.append(3);
    checkpoint(&c);
    // On a writable repository with nothing to sweep, fsck writes nothing either.
    let before = listing(c.dir.path());
    c.dir.run(&["fsck", "--strict"]).ok();
    assert_eq!(
        listing(c.dir.path()),
        before,
        "fsck wrote to the repository"
    );

    // A stale temp file, as a killed writer leaves.
    let stale = c.dir.write(".msez/tmp/msez-tmp-stale", "half");
    assert!(
        Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(&stale)
            .status()
            .unwrap()
            .success()
    );
    let before = listing(c.dir.path());
    // Tests run as root, whom permission bits do not stop: a read-only bind mount does.
    let mnt = Dir::new();
    let mounted = Command::new("mount")
        .args(["--bind", "-o", "ro"])
        .arg(c.dir.path())
        .arg(mnt.path())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED the read-only mount part: mount --bind -o ro is not permitted here");
        return;
    }
    let _guard = Mount(mnt.path().to_path_buf());
    assert!(
        std::fs::write(mnt.join("probe"), "x").is_err(),
        "the mount is read-only"
    );
    let run = Run::from(
        Command::new(bin())
            .args(["--json", "fsck", "--strict"])
            .current_dir(mnt.path())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let report = run.json();
    assert_eq!(report["read_only"], true, "{report}");
    assert!(
        report["temp_kept"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().ends_with("msez-tmp-stale")),
        "{report}"
    );
    assert_eq!(report["chains"], 1, "{report}");
    assert!(
        report["not_checked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("read-only")),
        "{report}"
    );
    let text = Run::from(
        Command::new(bin())
            .arg("fsck")
            .current_dir(mnt.path())
            .output()
            .unwrap(),
    );
    assert_eq!(text.code, 0, "{text:#?}");
    assert!(
        text.stdout.contains("read-only repository"),
        "{}",
        text.stdout
    );
    assert_eq!(listing(c.dir.path()), before);
    // Damage on the read-only copy is reported like anywhere else.
    drop(_guard);
    c.dir.write(".msez/refs/tags/x", "garbage\n");
    let _guard = Mount(mnt.path().to_path_buf());
    assert!(
        Command::new("mount")
            .args(["--bind", "-o", "ro"])
            .arg(c.dir.path())
            .arg(mnt.path())
            .status()
            .unwrap()
            .success()
    );
    let run = Run::from(
        Command::new(bin())
            .args(["--json", "fsck"])
            .current_dir(mnt.path())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 65, "{run:#?}");
    assert_eq!(codes(&run), ["schema.bad_ref_value"]);
}

#[test]
fn a_ref_file_named_with_a_newline_is_damage_not_usage() {
    let dir = Dir::repo();
    let id = dir.put("a.json", "{\"a\":1}", "vc");
    let digest = id.split_once(':').unwrap().1;
    dir.write(".msez/refs/tags/a\nb", format!("{digest}\n"));
    let run = dir.run(&["--json", "fsck"]);
    run.code(65);
    assert_eq!(codes(&run), ["schema.bad_ref_file"]);
    // The text report escapes the name: one line per problem.
    let text = dir.run(&["fsck"]);
    text.code(65);
    assert_eq!(text.stdout.lines().count(), 2, "{}", text.stdout);
    assert!(text.stdout.contains("a\\nb"), "{}", text.stdout);
    let refs = dir.run(&["--json", "refs"]);
    refs.code(65);
    assert_eq!(refs.json()["error"]["code"], "schema.bad_ref_file");
}

#[test]
fn log_reflog_and_show_of_an_absent_ref_are_missing() {
    let c = Chain::new();
    c.append(2);
    let head = format!("assets/{ASSET_ID}/core/head");
    c.dir.run(&["log", &head]).ok();
    c.dir.run(&["reflog", &head]).ok();
    c.dir.run(&["show", &head]).ok();
    let misspelled = format!("assets/{ASSET_ID}/core/haed");
    for cmd in ["log", "reflog", "show"] {
        for name in [misspelled.as_str(), "refs/tags/nothing"] {
            let run = c.dir.run(&["--json", cmd, name]);
            run.code(68);
            assert_eq!(run.json()["error"]["code"], "missing.ref", "{cmd} {name}");
            let text = c.dir.run(&[cmd, name]);
            text.code(68);
            assert!(text.stdout.is_empty(), "{cmd}: {}", text.stdout);
            assert!(text.stderr.contains("does not exist"), "{}", text.stderr);
        }
    }
    // A TYPE:DIGEST argument that does not parse is a usage error.
    let run = c.dir.run(&["--json", "show", "vc:xyz"]);
    run.code(64);
    assert_eq!(run.json()["error"]["code"], "usage.bad_object_name");
    // One that parses but is not stored is missing.
    c.dir
        .run(&["show", &format!("vc:{}", "ab".repeat(32))])
        .code(68);
}

#[test]
fn pack_checksum_damage_is_digest_pack() {
    let c = Chain::new();
    c.append(msez::odb::PACK_MIN);
    let packs: Vec<PathBuf> = std::fs::read_dir(c.dir.join(".msez/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(packs.len(), 1);
    let pack = &packs[0];
    // The last byte is the trailer's BLAKE3: the objects stay intact, the checksum does not.
    let mut bytes = std::fs::read(pack).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    make_writable(pack);
    std::fs::write(pack, bytes).unwrap();
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(66);
    assert_eq!(codes(&run), ["digest.pack"], "{run:#?}");
    assert_eq!(
        problems(&run)[0]["path"].as_str().map(PathBuf::from),
        Some(pack.clone())
    );
}

/// A chain pushed to a directory remote; returns the remote's root.
fn pushed(c: &Chain) -> PathBuf {
    let remote = c.dir.join("remote.msez");
    c.dir
        .run(&["remote", "add", "origin", remote.to_str().unwrap()])
        .ok();
    c.dir.run(&["push"]).ok();
    remote
}

fn remote_fsck(c: &Chain, mode: &[&str]) -> Run {
    let mut args = vec!["--json", "fsck", "--remote", "origin"];
    args.extend_from_slice(mode);
    c.dir.run(&args)
}

fn not_checked(run: &Run) -> Vec<String> {
    run.json()["not_checked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn remote_fsck_modes_check_what_they_say_and_say_what_they_skip() {
    let c = Chain::new();
    c.append(70);
    let remote = pushed(&c);
    let quick = remote_fsck(&c, &["--quick"]);
    quick.code(0);
    let q = quick.json();
    assert_eq!(q["mode"], "quick");
    let (objects, checked) = (
        q["objects"].as_u64().unwrap(),
        q["objects_checked"].as_u64().unwrap(),
    );
    assert!(objects > 70 && checked < objects && checked > 0, "{q}");
    let skipped = not_checked(&quick);
    for want in ["digests of", "chain links", "signatures"] {
        assert!(
            skipped.iter().any(|n| n.contains(want)),
            "{want}: {skipped:?}"
        );
    }
    let full = remote_fsck(&c, &[]);
    full.code(0);
    assert_eq!(full.json()["mode"], "full");
    assert_eq!(full.json()["objects_checked"], full.json()["objects"]);
    assert_eq!(full.json()["receipts_linked"], 70);
    let skipped = not_checked(&full);
    assert!(
        skipped.iter().any(|n| n.starts_with("signatures")),
        "{skipped:?}"
    );
    assert!(
        !skipped.iter().any(|n| n.contains("chain links")),
        "{skipped:?}"
    );
    let text = c.dir.run(&["fsck", "--remote", "origin"]);
    text.code(0);
    assert!(
        text.stdout.contains("not checked: signatures"),
        "{}",
        text.stdout
    );
    let strict = remote_fsck(&c, &["--strict"]);
    strict.code(0);
    assert!(strict.json()["proofs_verified"].as_u64().unwrap() >= 70);
    assert!(
        !not_checked(&strict)
            .iter()
            .any(|n| n.starts_with("signatures"))
    );
    c.dir
        .run(&["fsck", "--remote", "origin", "--quick", "--strict"])
        .code(64);

    // The head carries only a forged signature: its digest (proofs are outside it) holds.
    let head =
        std::fs::read_to_string(remote.join(format!("refs/assets/{ASSET_ID}/core/head"))).unwrap();
    let head_id = format!("smart-asset-receipt:{}", head.trim());
    let head_file = remote.join(format!("objects/smart-asset-receipt/{}.json", head.trim()));
    let original = std::fs::read(&head_file).unwrap();
    let mut v: Value = serde_json::from_slice(&original).unwrap();
    let forge = |p: &mut Value| {
        let jws = p["jws"].as_str().unwrap().to_string();
        let first = if jws.starts_with('A') { "B" } else { "A" };
        p["jws"] = Value::String(format!("{first}{}", &jws[1..]));
    };
    match &mut v["proof"] {
        Value::Array(list) => list.iter_mut().for_each(forge),
        p => forge(p),
    }
    make_writable(&head_file);
    std::fs::write(&head_file, serde_json::to_vec(&v).unwrap()).unwrap();
    // Proof files of the head would carry the real signature: there must be none.
    assert!(
        !remote
            .join("proofs")
            .join("smart-asset-receipt")
            .join(head.trim())
            .exists()
    );
    remote_fsck(&c, &[]).code(0);
    let strict = remote_fsck(&c, &["--strict"]);
    strict.code(67);
    assert!(
        problems(&strict)
            .iter()
            .any(|p| p["class"] == "signature" && p["object"] == head_id.as_str()),
        "{strict:#?}"
    );
    std::fs::write(&head_file, &original).unwrap();
    remote_fsck(&c, &["--strict"]).code(0);

    // The head's parent receipt is missing.
    let prev = v["prev_root"].as_str().unwrap().to_string();
    std::fs::remove_file(remote.join(format!("objects/smart-asset-receipt/{prev}.json"))).unwrap();
    for mode in [&[][..], &["--strict"][..]] {
        let run = remote_fsck(&c, mode);
        run.code(68);
        let p = problems(&run);
        assert!(
            p.iter().any(|p| p["code"] == "missing.receipt"
                && p["object"] == format!("smart-asset-receipt:{prev}").as_str()),
            "{run:#?}"
        );
    }
    // Quick mode does not walk chains, and says so.
    let quick = remote_fsck(&c, &["--quick"]);
    quick.code(0);
    assert!(
        not_checked(&quick)
            .iter()
            .any(|n| n.contains("chain links"))
    );
}

#[test]
fn a_ref_rewound_by_hand_disagrees_with_its_reflog_but_a_crash_line_does_not() {
    let c = Chain::new();
    for _ in 0..3 {
        c.append(1);
    }
    let log = c
        .dir
        .join(&format!(".msez/logs/refs/assets/{ASSET_ID}/core/head"));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let head = std::fs::read_to_string(c.dir.join(&chain_ref("head"))).unwrap();
    // A line for a move that never happened (a crash between the log line and the rename).
    let mut crashed = text.clone();
    crashed.push_str(&format!("{} {} 1 crash\n", head.trim(), "ee".repeat(32)));
    std::fs::write(&log, &crashed).unwrap();
    c.dir.run(&["fsck"]).ok();
    // The head rewound by hand to the first receipt: the reflog says otherwise.
    let first = lines[0].split(' ').nth(1).unwrap();
    std::fs::write(c.dir.join(&chain_ref("head")), format!("{first}\n")).unwrap();
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(65);
    let reflog = problems(&run)
        .into_iter()
        .find(|p| p["code"] == "schema.reflog")
        .unwrap_or_else(|| panic!("{run:#?}"));
    assert!(
        reflog["message"].as_str().unwrap().contains(first),
        "{reflog}"
    );
}

#[test]
fn a_checkpoint_ref_naming_a_checkpoint_of_another_chain_is_a_mismatch() {
    let c = Chain::new();
    c.append(3);
    checkpoint(&c);
    c.dir.run(&["fsck"]).ok();
    // A well-formed checkpoint that claims more receipts than the chain has.
    let ck = std::fs::read_to_string(c.dir.join(&chain_ref("checkpoint"))).unwrap();
    let file = c
        .dir
        .object_file(&format!("smart-asset-receipt-checkpoint:{}", ck.trim()));
    let mut v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v["receipt_count"] = Value::from(9);
    let forged = c.dir.put(
        "forged.json",
        serde_json::to_vec(&v).unwrap(),
        "smart-asset-receipt-checkpoint",
    );
    c.dir
        .run(&[
            "update-ref",
            &format!("assets/{ASSET_ID}/core/checkpoint"),
            &forged,
        ])
        .ok();
    let run = c.dir.run(&["--json", "fsck"]);
    run.code(66);
    assert_eq!(codes(&run), ["digest.checkpoint_mismatch"], "{run:#?}");
    assert_eq!(problems(&run)[0]["object"], forged.as_str());
}
