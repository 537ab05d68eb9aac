//! Real FUSE mounts through the real binary, inspected with ordinary tools (find, sha256sum,
//! jq, cat, touch). The tests are `#[ignore]`d: scripts/test runs them (every `fuse_` test) only
//! where /dev/fuse and fusermount3 work, and prints why and counts them as skipped otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Dir, Run};

/// A mounted tree, unmounted (lazily, so a failing test never leaves it busy) when dropped.
pub struct Mounted {
    pub path: PathBuf,
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("fusermount3")
            .arg("-uz")
            .arg(&self.path)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// `msez mount SOURCE` (background) at a fresh mountpoint in `dir`.
pub fn mount(dir: &Dir, source: &str, name: &str) -> Mounted {
    mount_with(dir, source, name, &[])
}

/// [`mount`] with extra environment variables for msez (and so for the serving process).
pub fn mount_with(dir: &Dir, source: &str, name: &str, env: &[(&str, &Path)]) -> Mounted {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    let mut cmd = dir.cmd(&["--json", "mount", source, path.to_str().unwrap()]);
    cmd.envs(env.iter().copied());
    let run = Run::from(cmd.output().expect("spawn msez"));
    run.ok();
    assert_eq!(
        run.json()["unmount"],
        format!("fusermount3 -u {}", path.display())
    );
    Mounted { path }
}

pub fn sh(cwd: &Path, script: &str) -> Run {
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(cwd)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `root`, relative, sorted.
pub fn files(root: &Path) -> Vec<String> {
    let run = sh(root, "find . -type f | sed 's|^\\./||' | sort");
    run.ok();
    run.stdout.lines().map(str::to_string).collect()
}

/// A repository with a 12-receipt chain, a checkpoint and a blob.
fn chain_repo() -> (Dir, String) {
    let dir = Dir::repo();
    std::fs::copy(
        crate::util::vectors().join("msez-fixtures/keys/dev.ed25519.jwk"),
        dir.join("dev.jwk"),
    )
    .unwrap();
    dir.write(
        "genesis.json",
        r#"{"type":"SmartAssetGenesis","asset_name":"mounted","created_at":"2026-01-01T00:00:00Z"}"#,
    );
    let asset = dir.run(&["asset", "module", "init", "--genesis", "genesis.json"]);
    let asset = asset.ok().lines().next().unwrap().to_string();
    let lines: String = (0..12)
        .map(|i| format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}}}\n"))
        .collect();
    dir.write("batch.jsonl", lines);
    dir.run(&[
        "asset",
        "state",
        "receipt-init",
        &asset,
        "--batch",
        "batch.jsonl",
        "--key",
        "dev.jwk",
    ])
    .ok();
    dir.run(&["asset", "state", "checkpoint", &asset, "--key", "dev.jwk"])
        .ok();
    dir.put("big.bin", vec![42u8; 300_000], "blob");
    (dir, asset)
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_repository_shows_objects_chains_and_graph_read_only() {
    let (dir, asset) = chain_repo();
    let m = mount(&dir, ".", "mnt");
    // find lists every object the repository holds.
    let stored: Vec<String> = dir.stored_objects().into_keys().collect();
    let shown = files(&m.path.join("objects"));
    assert_eq!(shown, stored);
    assert!(shown.len() >= 14, "{shown:?}");
    // sha256sum of each blob is its digest.
    let run = sh(&m.path, "cd objects/blob && sha256sum *.bin");
    for line in run.ok().lines() {
        let (sum, name) = line.split_once("  ").unwrap();
        assert_eq!(name, format!("{sum}.bin"));
    }
    // The chain in order: jq reads receipt 3; head.json is the head ref's receipt.
    let chain = format!("assets/{asset}/core");
    let run = sh(&m.path, &format!("jq -r .sequence {chain}/receipts/3.json"));
    assert_eq!(run.ok().trim(), "3");
    let run = sh(&m.path, &format!("ls {chain}/receipts | wc -l"));
    assert_eq!(run.ok().trim(), "12");
    let head = std::fs::read_to_string(dir.join(&format!(".msez/refs/{chain}/head"))).unwrap();
    let run = sh(&m.path, &format!("jq -r .next_root {chain}/head.json"));
    assert_eq!(run.ok().trim(), head.trim());
    let run = sh(
        &m.path,
        &format!("jq -r .receipt_count {chain}/checkpoints/latest.json"),
    );
    assert_eq!(run.ok().trim(), "12");
    // graph/ links resolve to the objects they name.
    let r5 = sh(
        &m.path,
        &format!("jq -r .next_root {chain}/receipts/5.json"),
    );
    let r4 = sh(
        &m.path,
        &format!("jq -r .next_root {chain}/receipts/4.json"),
    );
    let link = format!("graph/smart-asset-receipt/{}/edges/prev", r5.ok().trim());
    let run = sh(&m.path, &format!("jq -r .next_root {link}"));
    assert_eq!(run.ok().trim(), r4.ok().trim());
    // Refs as in .msez.
    let run = sh(&m.path, &format!("cat refs/{chain}/head"));
    assert_eq!(run.ok(), head);
    // Every write fails with EROFS.
    for cmd in [
        "touch new".to_string(),
        "mkdir d".to_string(),
        format!("mv {chain}/head.json x"),
        "chmod 777 objects".to_string(),
        format!("echo x >> {chain}/head.json"),
    ] {
        let run = sh(&m.path, &cmd);
        assert_ne!(run.code, 0, "{cmd} succeeded");
        assert!(
            run.stderr.contains("Read-only file system"),
            "{cmd}: {}",
            run.stderr
        );
    }
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_inode_numbers_are_stable_across_mounts_and_unmount_ends_the_process() {
    let (dir, asset) = chain_repo();
    let file = format!("assets/{asset}/core/receipts/7.json");
    let ino = |m: &Mounted| {
        sh(&m.path, &format!("stat -c %i {file}"))
            .ok()
            .trim()
            .to_string()
    };
    let first = {
        let m = mount(&dir, ".", "mnt");
        ino(&m)
    };
    let m = mount(&dir, ".", "mnt");
    assert_eq!(ino(&m), first);
    let status = Command::new("fusermount3")
        .arg("-u")
        .arg(&m.path)
        .status()
        .unwrap();
    assert!(status.success());
    // The background process serving it exits, and the directory is plain again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sh(&dir.join("."), "pgrep -f 'mount --foreground . .*mnt'").code == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the mount process did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(std::fs::read_dir(&m.path).unwrap().next().is_none());
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_foreground_unmounts_on_sigterm_and_a_stale_mountpoint_is_named() {
    let (dir, _) = chain_repo();
    let mp = dir.join("mnt");
    std::fs::create_dir_all(&mp).unwrap();
    let _guard = Mounted { path: mp.clone() };
    let spawn = || {
        dir.cmd(&["mount", ".", "mnt", "--foreground"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_mounted = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::read_dir(&mp).unwrap().next().is_none() {
            assert!(std::time::Instant::now() < deadline, "never mounted");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let mut child = spawn();
    wait_mounted();
    // SAFETY: kill takes no pointers; the pid is our own live child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    assert!(
        std::fs::read_dir(&mp).unwrap().next().is_none(),
        "still mounted"
    );
    // A mount whose process died leaves a stale mountpoint: msez says so, and how to fix it.
    let mut child = spawn();
    wait_mounted();
    child.kill().unwrap();
    child.wait().unwrap();
    let run = dir.run(&["mount", ".", "mnt"]);
    run.code(70);
    assert!(
        run.stderr.contains("stale mount") && run.stderr.contains("fusermount3 -u"),
        "{}",
        run.stderr
    );
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_a_directory_remote_shows_the_pushed_objects_and_hides_a_tampered_one() {
    let (dir, _) = chain_repo();
    let remote = dir.join("remote.msez");
    dir.run(&["remote", "add", "origin", remote.to_str().unwrap()])
        .ok();
    // Every object, loose ones too: the mount is compared with the whole store.
    dir.run(&["push", "origin", "--all-objects"]).ok();
    let m = mount(&dir, remote.to_str().unwrap(), "mnt");
    assert_eq!(
        files(&m.path.join("objects")),
        dir.stored_objects().into_keys().collect::<Vec<_>>()
    );
    let run = sh(
        &m.path,
        "cd objects/blob && sha256sum -c <(for f in *.bin; do echo \"${f%.bin}  $f\"; done)",
    );
    run.ok();
    // An object altered on the remote is refused when opened (verified before shown).
    drop(m);
    let blob = files(&remote.join("objects/blob")).remove(0);
    let path = remote.join("objects/blob").join(&blob);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 1;
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, bytes).unwrap();
    let m = mount(&dir, remote.to_str().unwrap(), "mnt2");
    let run = sh(&m.path, &format!("cat objects/blob/{blob} > /dev/null"));
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("Input/output error"), "{}", run.stderr);
}

#[test]
#[ignore = "needs FUSE and the S3 server: run by scripts/test (fuse_s3_)"]
fn fuse_s3_remote_shows_the_same_objects_as_the_repository() {
    let endpoint = std::env::var("MSEZ_TEST_S3_ENDPOINT").expect(
        "MSEZ_TEST_S3_ENDPOINT is unset: this test needs SeaweedFS, started by scripts/test",
    );
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok_and(|e| e == endpoint));
    let bucket = std::env::var("MSEZ_TEST_S3_BUCKET").unwrap_or_else(|_| "msez-test".into());
    let (dir, _) = chain_repo();
    let url = format!("s3://{bucket}/mount-{}", std::process::id());
    dir.run(&["remote", "add", "origin", &url]).ok();
    // Every object, loose ones too: the mount is compared with the whole store.
    dir.run(&["push", "origin", "--all-objects"]).ok();
    let m = mount(&dir, &url, "mnt");
    assert_eq!(
        files(&m.path.join("objects")),
        dir.stored_objects().into_keys().collect::<Vec<_>>()
    );
    let run = sh(
        &m.path,
        "cd objects/blob && for f in *.bin; do echo \"${f%.bin}  $f\"; done | sha256sum -c",
    );
    run.ok();
    // The remote holds the pushed refs (not the pusher's remote-tracking ones).
    let pushed: Vec<String> = files(&dir.join(".msez/refs"))
        .into_iter()
        .filter(|r| !r.starts_with("remotes/"))
        .collect();
    assert_eq!(files(&m.path.join("refs")), pushed);
}

#[test]
#[ignore = "needs FUSE and js-ipfs: run by scripts/test (fuse_ipfs_)"]
fn fuse_ipfs_remote_shows_the_same_objects_as_the_repository_and_hides_a_tampered_one() {
    let api = std::env::var("MSEZ_TEST_IPFS_API")
        .expect("MSEZ_TEST_IPFS_API is unset: this test needs js-ipfs, started by scripts/test");
    let (dir, _) = chain_repo();
    let name = format!(
        "mount-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let url = format!("ipfs://{}/{name}", api.trim_start_matches("http://"));
    dir.run(&["remote", "add", "origin", &url]).ok();
    dir.run(&["push", "origin", "--all-objects"]).ok();
    let m = mount(&dir, &url, "mnt");
    let stored = dir.stored_objects();
    assert!(
        stored.keys().any(|o| o.starts_with("smart-asset-receipt/")),
        "{stored:?}"
    );
    assert_eq!(
        files(&m.path.join("objects")),
        stored.keys().cloned().collect::<Vec<_>>()
    );
    // Every object read through the mount is the repository's, byte for byte.
    for (o, bytes) in &stored {
        assert_eq!(
            &std::fs::read(m.path.join("objects").join(o)).unwrap(),
            bytes,
            "{o}"
        );
    }
    // The remote holds the pushed refs (not the pusher's remote-tracking ones).
    let pushed: Vec<String> = files(&dir.join(".msez/refs"))
        .into_iter()
        .filter(|r| !r.starts_with("remotes/"))
        .collect();
    assert_eq!(files(&m.path.join("refs")), pushed);
    // An object altered in the node's MFS is refused when opened (verified before shown).
    drop(m);
    let blob = files(&dir.join(".msez/objects/blob")).remove(0);
    use msez::remote::Backend;
    msez::remote::Ipfs::new(&api, &name)
        .put(&format!("objects/blob/{blob}"), b"not the pushed bytes")
        .unwrap();
    let m = mount(&dir, &url, "mnt2");
    let run = sh(&m.path, &format!("cat objects/blob/{blob} > /dev/null"));
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("Input/output error"), "{}", run.stderr);
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_a_mount_right_after_an_unmount_of_the_same_path_stays_mounted() {
    // The process serving an unmounted tree must not unmount its path again on the way out: by
    // then the next mount may be there.
    let (dir, _) = chain_repo();
    for round in 0..5 {
        let m = mount(&dir, ".", "mnt");
        let status = Command::new("fusermount3")
            .arg("-u")
            .arg(&m.path)
            .status()
            .unwrap();
        assert!(status.success());
        let m = mount(&dir, ".", "mnt");
        std::thread::sleep(std::time::Duration::from_millis(500));
        let run = sh(&m.path, "ls objects");
        assert!(run.stdout.contains("blob"), "round {round}: {run:?}");
        drop(m);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}
