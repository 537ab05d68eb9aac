//! Mounts that explain themselves (issue 19 item 5): the same `assets/<id>/<purpose>/` view
//! of a repository, a witness bundle and a remote, README.txt naming what is mounted with the
//! commands that check it (run here, on the mounted files), and file times from the receipts'
//! and checkpoints' timestamps.

use serde_json::Value;

use crate::mount::{Mounted, mount, sh};
use crate::util::{ASSET_ID, Dir};
use crate::verdicts::{key, s};

/// A repository holding a 10-receipt module with explicit timestamps and a checkpoint.
fn module() -> (Dir, String) {
    let (dir, module) = Dir::asset_module(&[], &[]);
    let k = key();
    for i in 0..10 {
        dir.run(&[
            "asset",
            "state",
            "receipt-init",
            &module,
            "--key",
            s(&k),
            "--timestamp",
            &format!("2026-02-{:02}T10:00:{i:02}Z", i + 1),
        ])
        .ok();
    }
    dir.run(&["asset", "state", "checkpoint", &module, "--key", s(&k)])
        .ok();
    // The checkpoint note of the same size (docs/tlog.md), beside the checkpoint.
    dir.run(&["tlog", "checkpoint", &module, "--key", s(&k)])
        .ok();
    (dir, module)
}

/// The mtime of a mounted file, in Unix seconds.
fn mtime(m: &Mounted, rel: &str) -> i64 {
    sh(&m.path, &format!("stat -c %Y {rel}"))
        .ok()
        .trim()
        .parse()
        .unwrap()
}

fn unix(ts: &str) -> i64 {
    let t = humantime::parse_rfc3339(ts).unwrap();
    t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The command lines README.txt gives (indented two spaces, starting with a command).
fn commands(readme: &str) -> Vec<String> {
    readme
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| {
            ["(cd ", "test ", "jq ", "msez "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .map(str::to_string)
        .collect()
}

/// What every mount of the module must show, whatever the source.
/// `receipts_as_files`: a bundle shows the module's files; `notes`: the source has the
/// module's checkpoint note (a repository with the module checked out; `witness-bundle`
/// bundles structured documents only, so no note).
fn check_view(dir: &Dir, module: &str, m: &Mounted, receipts_as_files: bool, notes: bool) {
    let chain = format!("assets/{ASSET_ID}/core");
    let receipt3 =
        std::fs::read(dir.join(&format!("{module}/state/receipts/receipt.3.json"))).unwrap();
    let shown = std::fs::read(m.path.join(format!("{chain}/receipts/3.json"))).unwrap();
    if receipts_as_files {
        // A bundle shows the module's receipt file byte for byte.
        assert_eq!(shown, receipt3);
    } else {
        // A repository or remote shows the stored object: canonical JSON + LF of the same file.
        let canon = dir.run(&["canon", &format!("{module}/state/receipts/receipt.3.json")]);
        assert_eq!(shown, format!("{}\n", canon.ok()).into_bytes());
    }
    let run = sh(&m.path, &format!("ls {chain}/receipts | wc -l"));
    assert_eq!(run.ok().trim(), "10");
    assert!(
        m.path
            .join(format!("{chain}/checkpoints/10.json"))
            .is_file()
    );
    let ck: Value = serde_json::from_slice(
        &std::fs::read(m.path.join(format!("{chain}/checkpoints/10.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(ck["receipt_count"], 10);
    // head.json: sequence 9, the head next_root, the asset name, the checkpoint.
    let head: Value =
        serde_json::from_slice(&std::fs::read(m.path.join(format!("{chain}/head.json"))).unwrap())
            .unwrap();
    let head_ref = std::fs::read_to_string(dir.join(&format!(".msez/refs/{chain}/head"))).unwrap();
    assert_eq!(head["sequence"], 9, "{head}");
    assert_eq!(head["next_root"], head_ref.trim(), "{head}");
    assert_eq!(head["asset_name"], "Test Asset", "{head}");
    assert_eq!(head["checkpoint"]["receipt_count"], 10, "{head}");
    assert_eq!(head["checkpoint"]["covers_head"], true, "{head}");
    let note = m.path.join(format!("{chain}/checkpoints/10.note"));
    if notes {
        assert_eq!(
            std::fs::read(&note).unwrap(),
            std::fs::read(dir.join(&format!("{module}/state/checkpoints/checkpoint.10.note")))
                .unwrap()
        );
        assert_eq!(head["checkpoint"]["note"], "checkpoints/10.note", "{head}");
    } else {
        assert!(!note.exists());
    }
    // Times: receipt 3's timestamp, head.json the head's, the checkpoint its own.
    assert_eq!(
        mtime(m, &format!("{chain}/receipts/3.json")),
        unix("2026-02-04T10:00:03Z")
    );
    assert_eq!(
        mtime(m, &format!("{chain}/head.json")),
        unix("2026-02-10T10:00:09Z")
    );
    let ck_time = unix(ck["timestamp"].as_str().unwrap());
    assert_eq!(mtime(m, &format!("{chain}/checkpoints/10.json")), ck_time);
    // Nothing dated 1970: the rest carries the newest of those times.
    let old = sh(&m.path, "find . -not -newermt 1971-01-01");
    assert_eq!(old.ok(), "", "files dated 1970");
    assert_eq!(
        mtime(m, "README.txt"),
        ck_time.max(unix("2026-02-10T10:00:09Z"))
    );
    // README.txt names the asset and its head, and its commands pass on the mounted files.
    let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
    assert!(readme.contains("\"Test Asset\""), "{readme}");
    assert!(readme.contains(head_ref.trim()), "{readme}");
    let cmds = commands(&readme);
    assert!(
        cmds.iter().any(|c| c.contains("del(.proof, .next_root)")),
        "{readme}"
    );
    let bin = std::path::Path::new(crate::util::bin());
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for c in &cmds {
        let run = sh(
            &m.path,
            &format!("export PATH='{path}'; set -o pipefail; {c}"),
        );
        assert_eq!(run.code, 0, "{c}: {run:?}");
        assert!(!run.stdout.contains("FAILED"), "{c}: {run:?}");
    }
    // digest-input/: plain sha256sum prints each name.
    let run = sh(&m.path, "ls digest-input");
    for t in run.ok().lines() {
        let run = sh(
            &m.path,
            &format!(
                "cd digest-input/{t} && for f in *; do echo \"${{f%%.*}}  $f\"; done | sha256sum -c"
            ),
        );
        assert!(run.ok().contains(": OK"), "{t}: {run:?}");
    }
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_mount_view_of_a_repository_and_its_bundle() {
    let (dir, module) = module();
    // A blob and a schema too: README.txt's checks for those types run in check_view as well.
    dir.put("b.bin", b"valuation report\n", "blob");
    dir.put("s.json", r#"{"type": "object", "title": "t"}"#, "schema");
    let root = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
    dir.put(
        "sc.json",
        format!(r#"{{"type":"SmartAssetCheckpoint","state_root_sha256":"{root}"}}"#),
        "smart-asset-checkpoint",
    );
    let m = mount(&dir, ".", "mnt");
    check_view(&dir, &module, &m, false, true);
    let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
    assert!(
        readme.starts_with("msez mount of the repository "),
        "{readme}"
    );
    assert!(readme.contains("(cd objects/blob && "), "{readme}");
    assert!(readme.contains("(cd digest-input/schema && "), "{readme}");
    assert!(
        readme.contains("(cd objects/smart-asset-checkpoint && "),
        "{readme}"
    );
    // digest-input holds the receipts: their digest input hashes to their names.
    assert!(m.path.join("digest-input/smart-asset-receipt").is_dir());
    drop(m);

    dir.run(&[
        "asset",
        "module",
        "witness-bundle",
        &module,
        "--out",
        "b.zip",
    ])
    .ok();
    let m = mount(&dir, "b.zip", "bmnt");
    check_view(&dir, &module, &m, true, true);
    let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
    let manifest = dir.run(&["canon", s(&m.path.join("manifest.json"))]);
    let want = msez::canon::sha256(manifest.ok().as_bytes()).to_hex();
    assert!(
        readme.contains(&format!(
            "manifest digest (SHA-256 of its canonical JSON): {want}"
        )),
        "{readme}"
    );
    assert!(
        readme.contains("sha256sum -c --quiet) && echo \"entries OK\""),
        "{readme}"
    );
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_mount_view_of_a_directory_remote() {
    let (dir, module) = module();
    let remote = dir.join("remote.msez");
    dir.run(&["remote", "add", "origin", s(&remote)]).ok();
    dir.run(&["push", "origin"]).ok();
    let m = mount(&dir, s(&remote), "mnt");
    check_view(&dir, &module, &m, false, false);
    let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
    assert!(
        readme.starts_with(&format!("msez mount of the remote {}", remote.display())),
        "{readme}"
    );
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_mount_view_of_corridors_in_a_repository_and_a_bundle() {
    use crate::corridor::{CID, corridor_with};
    let (dir, module, _) = corridor_with(3);
    let (a, b) = (
        crate::corridor::key("zone-a"),
        crate::corridor::key("zone-b"),
    );
    dir.run(&[
        "corridor",
        "state",
        "checkpoint",
        CID,
        "--key",
        &a,
        "--key",
        &b,
    ])
    .ok();
    let zip = dir.join("c.zip");
    dir.run(&[
        "artifact",
        "graph",
        "verify",
        "--path",
        s(&module),
        "--bundle",
        s(&zip),
    ])
    .ok();
    for (source, name) in [(".", "mnt"), (s(&zip), "bmnt")] {
        let m = mount(&dir, source, name);
        let chain = format!("corridors/{CID}");
        // Corridor module files are canonical JSON + LF, as the stored objects.
        let file = std::fs::read(module.join("state/receipts/corridor-receipt.1.json")).unwrap();
        let shown = std::fs::read(m.path.join(format!("{chain}/receipts/1.json"))).unwrap();
        assert_eq!(shown, file, "{source}");
        let head: Value = serde_json::from_slice(
            &std::fs::read(m.path.join(format!("{chain}/head.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(head["sequence"], 2, "{source}: {head}");
        assert_eq!(head["corridor_id"], CID, "{source}: {head}");
        assert_eq!(head["checkpoint"]["receipt_count"], 3, "{source}: {head}");
        assert!(m.path.join(format!("{chain}/checkpoints/3.json")).is_file());
        assert_eq!(
            mtime(&m, &format!("{chain}/receipts/1.json")),
            unix("2026-01-01T00:00:02Z"),
            "{source}"
        );
        let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
        assert!(
            readme.contains(&format!("{chain}/: 3 receipts")),
            "{readme}"
        );
        let check = commands(&readme)
            .into_iter()
            .find(|c| c.contains(".final_state_root"))
            .expect("a corridor checkpoint check");
        assert!(sh(&m.path, &check).ok().contains("checkpoint 3 OK"));
    }
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_mount_view_of_a_bundle_hides_a_receipt_that_does_not_match_its_next_root() {
    let (dir, module) = module();
    dir.run(&[
        "asset",
        "module",
        "witness-bundle",
        &module,
        "--out",
        "b.zip",
    ])
    .ok();
    // Receipt 3 with another timestamp, its next_root left as it was: rezipped as is.
    let script = r#"
import json, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
    for info in zin.infolist():
        data = zin.read(info)
        if info.filename.endswith("/state/receipts/receipt.3.json"):
            v = json.loads(data)
            v["timestamp"] = "2030-01-01T00:00:00Z"
            data = (json.dumps(v, indent=2, sort_keys=True) + "\n").encode()
        zout.writestr(info, data)
"#;
    let run = sh(dir.path(), &format!("python3 -c '{script}' b.zip bad.zip"));
    run.ok();
    let m = mount(&dir, "bad.zip", "mnt");
    let chain = format!("assets/{ASSET_ID}/core");
    let run = sh(&m.path, &format!("cat {chain}/receipts/3.json"));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Input/output error"), "{run:?}");
    // The rest of the chain is still shown, and README.txt still names the chain.
    let run = sh(&m.path, &format!("jq -r .sequence {chain}/receipts/2.json"));
    assert_eq!(run.ok().trim(), "2");
    let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
    assert!(readme.contains("10 receipts, head 9"), "{readme}");
}

#[test]
#[ignore = "needs FUSE and the S3 server: run by scripts/test (fuse_s3_)"]
fn fuse_s3_mount_view_of_an_s3_remote() {
    std::env::var("MSEZ_TEST_S3_ENDPOINT").expect(
        "MSEZ_TEST_S3_ENDPOINT is unset: this test needs SeaweedFS, started by scripts/test",
    );
    let bucket = std::env::var("MSEZ_TEST_S3_BUCKET").unwrap_or_else(|_| "msez-test".into());
    let (dir, module) = module();
    let url = format!("s3://{bucket}/mount-view-{}", std::process::id());
    dir.run(&["remote", "add", "origin", &url]).ok();
    dir.run(&["push", "origin"]).ok();
    let m = mount(&dir, &url, "mnt");
    check_view(&dir, &module, &m, false, false);
    let readme = std::fs::read_to_string(m.path.join("README.txt")).unwrap();
    assert!(
        readme.starts_with(&format!("msez mount of the remote {url}")),
        "{readme}"
    );
}
