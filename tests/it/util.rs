//! Test harness: run the real binary in an isolated directory and look at what it did.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The msez binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_msez")
}

/// What a run of msez printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "msez failed: {self:#?}");
        &self.stdout
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:#?}");
        self
    }

    /// The `--json` document on stdout.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// A temp directory to run msez in, optionally with a repository.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    /// An empty directory.
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A directory with an initialized repository.
    pub fn repo() -> Dir {
        let d = Dir::new();
        d.run(&["init"]).ok();
        d
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A path inside the directory.
    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// Writes a file.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A command for msez in this directory.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(self.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(Stdio::null());
        c
    }

    /// Runs msez here.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("spawn msez"))
    }

    /// Runs msez here with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// Runs `msez <family> state verify-inclusion` on a receipt, its proof and a checkpoint.
    pub fn verify_inclusion(
        &self,
        family: &str,
        receipt: impl AsRef<Path>,
        proof: impl AsRef<Path>,
        checkpoint: impl AsRef<Path>,
    ) -> Run {
        let arg = |p: &Path| p.to_str().expect("test paths are UTF-8").to_string();
        let (r, p, c) = (
            arg(receipt.as_ref()),
            arg(proof.as_ref()),
            arg(checkpoint.as_ref()),
        );
        self.run(&[
            family,
            "state",
            "verify-inclusion",
            "--receipt",
            &r,
            "--proof",
            &p,
            "--checkpoint",
            &c,
        ])
    }

    /// Stores a file and returns its `TYPE:DIGEST`.
    pub fn put(&self, name: &str, bytes: impl AsRef<[u8]>, artifact_type: &str) -> String {
        let p = self.write(name, bytes);
        self.run(&[
            "artifact",
            "put",
            p.to_str().unwrap(),
            "--type",
            artifact_type,
        ])
        .ok()
        .trim()
        .to_string()
    }

    /// Every stored object, loose or packed, as `<type>/<digest>.<ext>` (its loose file name
    /// under `.msez/objects`) with its stored bytes.
    pub fn stored_objects(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let repo = msez::odb::Repo::open(self.path()).unwrap();
        let root = std::path::Path::new("");
        repo.list_objects()
            .unwrap()
            .into_iter()
            .map(|id| {
                let id = id.unwrap();
                let name = msez::artifact::store_path(root, &id).display().to_string();
                (name, repo.object_bytes(&id).unwrap().0)
            })
            .collect()
    }

    /// The stored file of `TYPE:DIGEST`.
    pub fn object_file(&self, id: &str) -> PathBuf {
        let (t, d) = id.split_once(':').unwrap();
        let dir = self.join(".msez/objects").join(t);
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(d))
            .unwrap_or_else(|| panic!("{id} not stored"))
    }
}

/// Runs a command to completion and returns (exit code, peak RSS in KiB) for that child alone.
pub fn run_measured(cmd: Command) -> (i32, i64) {
    // Through GNU time, not wait4 here: Linux folds the RSS high-water mark of the address
    // space a process replaces at exec into its own, and a child forked from this (large) test
    // process starts with ours. time(1) is small, so its child's peak is msez's own.
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    let status = timed
        .status()
        .expect("/usr/bin/time (GNU time) runs the measured command");
    let text = std::fs::read_to_string(report.path()).unwrap();
    // The last line is %M (earlier ones: "Command exited with non-zero status N").
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time %M");
    (status.code().unwrap_or(-1), kib)
}

/// The repository's vectors directory.
/// Whether this process can mount FUSE filesystems (/dev/fuse usable, fusermount3 present).
pub fn fuse_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_ok()
        && Command::new("fusermount3")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// Creates `path` and holds its flock (as a live msez holding a ref lock does) until dropped.
pub fn hold_lock(path: &Path) -> std::fs::File {
    use std::os::unix::io::AsRawFd;
    let f = std::fs::File::create(path).unwrap();
    // SAFETY: the descriptor is borrowed from the open `f`; flock takes no pointers.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    f
}

pub fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// The asset id of the derived-vector genesis, the asset of every fixture module.
pub const ASSET_ID: &str = "37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5";

/// A fixture key: vectors/msez-fixtures/keys/NAME.ed25519.jwk.
pub fn fixture_key(name: &str) -> PathBuf {
    vectors().join(format!("msez-fixtures/keys/{name}.ed25519.jwk"))
}

/// The did:key of a fixture key.
pub fn fixture_did(name: &str) -> String {
    msez::vc::KeyPair::load(&fixture_key(name))
        .unwrap()
        .did()
        .to_string()
}

impl Dir {
    /// Writes the derived-vector genesis as genesis.json and copies fixture `keys` in as NAME.jwk.
    pub fn fixture_genesis(&self, keys: &[&str]) {
        let derived: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(vectors().join("msez-fixtures/derived_vectors.json")).unwrap(),
        )
        .unwrap();
        self.write(
            "genesis.json",
            serde_json::to_vec(&derived["smart_asset_genesis"]["input"]).unwrap(),
        );
        for k in keys {
            std::fs::copy(fixture_key(k), self.join(&format!("{k}.jwk"))).unwrap();
        }
    }

    /// A repository with the derived-vector asset module (`init`: more `module init` flags)
    /// and fixture `keys` as NAME.jwk; returns the module's path.
    pub fn asset_module(keys: &[&str], init: &[&str]) -> (Dir, String) {
        let dir = Dir::repo();
        dir.fixture_genesis(keys);
        let mut args = vec!["asset", "module", "init", "--genesis", "genesis.json"];
        args.extend_from_slice(init);
        assert_eq!(dir.run(&args).ok().lines().next(), Some(ASSET_ID));
        (dir, format!("modules/smart-assets/{ASSET_ID}"))
    }
}
