//! Transparency-log interop (docs/tlog.md): checkpoint notes, static tiles, the client, and
//! golang.org/x/mod/sumdb (an implementation msez did not write) checking msez's logs and
//! writing logs msez checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::chain::Chain;
use crate::util::{ASSET_ID, Dir, Run};

const ORIGIN: &str =
    "msez/asset/37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5/core";

/// Appends `n` receipts whose payloads carry `tag` (two chains with other tags diverge).
fn append(c: &Chain, n: usize, tag: &str) {
    let lines: String = (0..n)
        .map(|i| {
            format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i},\"tag\":\"{tag}\"}}}}\n")
        })
        .collect();
    c.dir.write("tlog-batch.jsonl", lines);
    c.dir
        .run(&[
            "asset",
            "state",
            "receipt-init",
            &c.module,
            "--batch",
            "tlog-batch.jsonl",
            "--key",
            "dev.jwk",
        ])
        .ok();
}

fn vkey(c: &Chain) -> String {
    c.dir
        .run(&["key", "vkey", "--key", "dev.jwk", "--name", ORIGIN])
        .ok()
        .trim()
        .to_string()
}

fn publish(c: &Chain, dest: &str) -> serde_json::Value {
    c.dir
        .run(&[
            "--json", "tlog", "publish", &c.module, dest, "--key", "dev.jwk",
        ])
        .json()
}

fn verify(dir: &Dir, source: &Path, vkey: &str, extra: &[&str]) -> Run {
    let source = source.display().to_string();
    let mut args = vec![
        "tlog",
        "verify",
        source.as_str(),
        "--vkey",
        vkey,
        "--state",
        "seen",
    ];
    args.extend_from_slice(extra);
    dir.run(&args)
}

#[test]
fn a_checkpoint_note_agrees_with_the_msez_checkpoint_and_its_key_hash_is_c2sp() {
    let c = Chain::new();
    append(&c, 20, "a");
    assert_eq!(
        c.dir.run(&["tlog", "origin", &c.module]).ok().trim(),
        ORIGIN
    );
    let out = c
        .dir
        .run(&[
            "--json",
            "tlog",
            "checkpoint",
            &c.module,
            "--key",
            "dev.jwk",
        ])
        .json();
    let note_path = PathBuf::from(out["note"].as_str().unwrap());
    assert!(note_path.ends_with("state/checkpoints/checkpoint.20.note"));
    let vc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(c.dir.join(&format!(
            "{}/state/checkpoints/checkpoint.20.json",
            c.module
        )))
        .unwrap(),
    )
    .unwrap();
    let note = std::fs::read_to_string(&note_path).unwrap();
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], ORIGIN);
    assert_eq!(lines[1], "20");
    let root = base64::engine::general_purpose::STANDARD
        .decode(lines[2])
        .unwrap();
    assert_eq!(hex::encode(root), vc["mmr"]["root"].as_str().unwrap());
    assert_eq!(vc["mmr"]["size"], 20);

    // The key hash, computed here from the spec: SHA-256(name || 0x0A || 0x01 || pubkey)[:4].
    let v = vkey(&c);
    let (name, rest) = v.split_once('+').unwrap();
    assert_eq!(name, ORIGIN);
    let (id, key) = rest.split_once('+').unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    assert_eq!((key.len(), key[0]), (33, 1));
    let mut h = Sha256::new();
    h.update(ORIGIN.as_bytes());
    h.update([b'\n', 1]);
    h.update(&key[1..]);
    assert_eq!(id, hex::encode(&h.finalize()[..4]));
    let sig = sigs
        .strip_prefix(&format!("\u{2014} {ORIGIN} "))
        .unwrap()
        .trim_end();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    assert_eq!(hex::encode(&sig[..4]), id);
    let pk = ed25519_dalek::VerifyingKey::from_bytes(&key[1..].try_into().unwrap()).unwrap();
    let s = ed25519_dalek::Signature::from_bytes(&sig[4..].try_into().unwrap());
    pk.verify_strict(format!("{text}\n").as_bytes(), &s)
        .unwrap();

    // A recorded prefix changes the origin of every copy of the module.
    c.dir
        .run(&[
            "tlog",
            "origin",
            &c.module,
            "--set-prefix",
            "example.org/zone-a",
        ])
        .ok();
    assert_eq!(
        c.dir.run(&["tlog", "origin", &c.module]).ok().trim(),
        format!("example.org/zone-a/asset/{ASSET_ID}/core")
    );
    c.dir
        .run(&["tlog", "origin", &c.module, "--set-prefix", "a b"])
        .code(65);
    // A VC of that size with another root is refused, not silently joined to a note.
    let vc_path = c.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.json",
        c.module
    ));
    let mut bad = vc.clone();
    bad["mmr"]["root"] = serde_json::Value::String("00".repeat(32));
    std::fs::write(&vc_path, serde_json::to_vec(&bad).unwrap()).unwrap();
    let run = c.dir.run(&[
        "--json",
        "tlog",
        "checkpoint",
        &c.module,
        "--key",
        "dev.jwk",
    ]);
    run.code(66);
    assert_eq!(
        run.json()["error"]["code"],
        "digest.tlog_checkpoint_mismatch"
    );
}

#[test]
fn publish_is_incremental_and_verify_checks_tiles_entries_and_consistency() {
    let c = Chain::new();
    append(&c, 300, "a");
    let out = publish(&c, "log");
    assert_eq!(out["published"]["old_size"], 0);
    assert_eq!(out["published"]["size"], 300);
    let log = c.dir.join("log");
    for f in [
        "checkpoint",
        "tile/0/000",
        "tile/0/001.p/44",
        "tile/1/000.p/1",
        "tile/entries/000",
        "tile/entries/001.p/44",
    ] {
        assert!(log.join(f).is_file(), "{f}");
    }
    // Entries are the 32-byte next_roots, each behind its big-endian uint16 length.
    let bundle = std::fs::read(log.join("tile/entries/001.p/44")).unwrap();
    assert_eq!(bundle.len(), 44 * 34);
    assert_eq!(&bundle[..2], &[0, 32]);
    let v = vkey(&c);
    let run = verify(
        &c.dir,
        &log,
        &v,
        &["--entry", "0", "--entry", "299", "--json"],
    );
    let doc = run.json();
    assert_eq!(doc["size"], 300);
    assert_eq!(doc["entries_checked"], 300);
    assert_eq!(doc["inclusions"][1]["index"], 299);

    let full = std::fs::read(log.join("tile/0/000")).unwrap();
    let ino = std::fs::metadata(log.join("tile/0/000")).unwrap();
    append(&c, 300, "a2");
    let out = publish(&c, "log");
    assert_eq!(out["published"]["old_size"], 300);
    // NewTiles(300, 600): level-0 tile 1 (full) and 2.p/88, level-1 0.p/2, two bundles.
    assert_eq!(out["published"]["tiles_written"], 5);
    let after = std::fs::metadata(log.join("tile/0/000")).unwrap();
    assert_eq!(std::fs::read(log.join("tile/0/000")).unwrap(), full);
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&after),
        std::os::unix::fs::MetadataExt::ino(&ino),
        "a full tile is written once"
    );
    assert!(log.join("tile/0/002.p/88").is_file());
    let run = verify(&c.dir, &log, &v, &["--entry", "450"]);
    assert!(
        run.ok()
            .contains("consistent with the checkpoint seen before: size 300"),
        "{run:?}"
    );
    // Publishing again changes nothing but the checkpoint.
    assert_eq!(publish(&c, "log")["published"]["tiles_written"], 0);

    // The light client reads only what its proofs need: here the level-0 tile and bundle of
    // entry 450, the level-1 tile, and the partial tiles on the right edge.
    let doc = verify(&c.dir, &log, &v, &["--light", "--entry", "450", "--json"]).json();
    assert_eq!(doc["inclusions"][0]["index"], 450);
    let reads = doc["tiles_checked"].as_u64().unwrap();
    assert!((2..=5).contains(&reads), "{doc}");
    let e = std::fs::read(log.join("tile/entries/001")).unwrap();
    assert_eq!(
        doc["inclusions"][0]["entry"],
        hex::encode(&e[(450 - 256) * 34 + 2..(450 - 256) * 34 + 34])
    );
    let bundle_path = log.join("tile/entries/001");
    let mut eb = e.clone();
    eb[(450 - 256) * 34 + 10] ^= 1;
    std::fs::write(&bundle_path, &eb).unwrap();
    verify(&c.dir, &log, &v, &["--light", "--entry", "450"]).code(66);
    std::fs::write(&bundle_path, &e).unwrap();

    // Damage: a flipped hash byte is a digest error; a wrong key is a signature error; an
    // empty source is missing.
    let t = log.join("tile/0/001");
    let mut bytes = std::fs::read(&t).unwrap();
    bytes[5] ^= 1;
    std::fs::write(&t, &bytes).unwrap();
    let run = verify(&c.dir, &log, &v, &["--json"]);
    run.code(66);
    assert_eq!(run.json()["error"]["code"], "digest.tlog_root");
    bytes[5] ^= 1;
    std::fs::write(&t, &bytes).unwrap();
    let other = c
        .dir
        .run(&["key", "vkey", "--key", "zone-a.jwk", "--name", ORIGIN])
        .ok()
        .trim()
        .to_string();
    verify(&c.dir, &log, &other, &[]).code(67);
    std::fs::create_dir(c.dir.join("empty")).unwrap();
    verify(&c.dir, &c.dir.join("empty"), &v, &[]).code(68);
    verify(&c.dir, &log, &v, &["--entry", "600"]).code(64);
    verify(&c.dir, &log, &v, &[]).ok();
}

#[test]
fn a_split_view_is_fork_evidence_and_a_diverged_publish_is_refused() {
    let a = Chain::new();
    append(&a, 40, "honest");
    publish(&a, "log");
    let v = vkey(&a);
    verify(&a.dir, &a.dir.join("log"), &v, &[]).ok();

    // The same asset, origin and key, another history: what a lying operator would show.
    let b = Chain::new();
    append(&b, 50, "other");
    publish(&b, "log");
    let run = verify(&a.dir, &b.dir.join("log"), &v, &["--json"]);
    run.code(69);
    let err = &run.json()["error"];
    assert_eq!(err["code"], "fork.tlog_split_view");
    let evidence: serde_json::Value =
        serde_json::from_slice(&std::fs::read(err["path"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(evidence["type"], "MsezTlogSplitView");
    assert!(
        evidence["seen_checkpoint"]
            .as_str()
            .unwrap()
            .contains("\n40\n")
    );
    assert!(
        evidence["shown_checkpoint"]
            .as_str()
            .unwrap()
            .contains("\n50\n")
    );
    // The light client sees it too, from the consistency proof the other log's tiles give.
    let run = verify(&a.dir, &b.dir.join("log"), &v, &["--light", "--json"]);
    run.code(69);
    assert_eq!(run.json()["error"]["code"], "fork.tlog_split_view");
    // The state still holds the honest checkpoint: the honest log stays valid.
    verify(&a.dir, &a.dir.join("log"), &v, &[]).ok();

    // Publishing the other history over the honest log is refused; nothing changes.
    let before = std::fs::read(a.dir.join("log/checkpoint")).unwrap();
    let dest = a.dir.join("log").display().to_string();
    b.dir
        .run(&["tlog", "publish", &b.module, &dest, "--key", "dev.jwk"])
        .code(69);
    assert_eq!(std::fs::read(a.dir.join("log/checkpoint")).unwrap(), before);
}

/// The Go checker, built offline in GOPATH mode against Debian's golang-golang-x-mod-dev;
/// None (with the reason printed) when Go or x/mod is not installed.
fn go_checker() -> Option<PathBuf> {
    let gocode = Path::new("/usr/share/gocode");
    let go = Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "SKIPPED: `go` is not installed (apt-get install golang-go golang-golang-x-mod-dev)"
        );
        return None;
    }
    if !gocode.join("src/golang.org/x/mod/sumdb/tlog").is_dir() {
        eprintln!(
            "SKIPPED: golang.org/x/mod is not in /usr/share/gocode (apt-get install golang-golang-x-mod-dev)"
        );
        return None;
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = tmp.join("tlogcheck");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tlog-go");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg("main.go")
        .current_dir(&src)
        .env("GO111MODULE", "off")
        .env(
            "GOPATH",
            format!("{}:{}", tmp.join("gopath").display(), gocode.display()),
        )
        .env("GOCACHE", tmp.join("gocache"))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .status()
        .expect("run go build");
    assert!(status.success(), "go build of tests/tlog-go failed");
    Some(out)
}

fn go(tool: &Path, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tlogcheck {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The receipt count of the Go interop tests: MSEZ_TLOG_GO_N, default 10,000 (CI).
fn go_n() -> usize {
    std::env::var("MSEZ_TLOG_GO_N").map_or(10_000, |v| {
        v.parse()
            .ok()
            .filter(|&n| n >= 2)
            .expect("MSEZ_TLOG_GO_N: a receipt count of at least 2")
    })
}

/// Entries whose record proofs Go checks in an `n`-entry log: both ends, tile edges, middle.
fn go_samples(n: usize) -> Vec<String> {
    let mut s: Vec<usize> = [0, 1, 255, 256, 4097, 65_535, 65_536, n / 2, n - 2, n - 1]
        .into_iter()
        .filter(|&i| i < n)
        .collect();
    s.dedup();
    s.iter().map(usize::to_string).collect()
}

/// Go checks the `n`-entry log at SOURCE (a directory or `s3://`), with env for its reads.
fn go_verify(tool: &Path, env: &[(String, String)], source: &str, v: &str, n: usize) {
    let samples = go_samples(n);
    let mut args = vec!["verify", source, v];
    args.extend(samples.iter().map(String::as_str));
    let out = Command::new(tool)
        .args(&args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tlogcheck {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with(&format!("ok origin={ORIGIN} size={n} ")),
        "{said}"
    );
    assert!(
        said.contains(&format!("entries={n} records={} ", samples.len())),
        "{said}"
    );
}

#[test]
#[ignore = "needs Go and golang.org/x/mod (scripts/test runs it when installed)"]
fn go_sumdb_tlog_verifies_an_msez_log_and_msez_verifies_a_go_log() {
    let Some(tool) = go_checker() else { return };
    let n = go_n();
    let c = Chain::new();
    append(&c, n, "go");
    publish(&c, "log");
    let v = vkey(&c);
    let log = c.dir.join("log").display().to_string();
    go_verify(&tool, &[], &log, &v, n);
    // Grow the log; Go checks the incremental publish too.
    append(&c, 300, "go2");
    publish(&c, "log");
    go_verify(&tool, &[], &log, &v, n + 300);

    // The other way: a log Go wrote (entries of varying length), checked by msez.
    let gl = c.dir.join("golog");
    let gv = go(
        &tool,
        &[
            "write",
            &gl.display().to_string(),
            "example.org/go-log",
            "1500",
        ],
    );
    let run = verify(&c.dir, &gl, gv.trim(), &["--entry", "1499", "--json"]);
    let doc = run.json();
    assert_eq!(doc["size"], 1500);
    assert_eq!(doc["origin"], "example.org/go-log");
    assert_eq!(doc["inclusions"][0]["entry"], hex::encode("go entry 1499"));
    let light = verify(
        &c.dir,
        &gl,
        gv.trim(),
        &["--light", "--entry", "777", "--json"],
    )
    .json();
    assert_eq!(light["inclusions"][0]["entry"], hex::encode("go entry 777"));
    // A Go-written tile with a changed hash fails msez's check.
    let t = gl.join("tile/0/003");
    let mut bytes = std::fs::read(&t).unwrap();
    bytes[40] ^= 0x80;
    std::fs::write(&t, &bytes).unwrap();
    verify(&c.dir, &gl, gv.trim(), &[]).code(66);
}

#[test]
#[ignore = "needs SeaweedFS (scripts/test's S3 pass) and Go with golang.org/x/mod"]
fn s3_go_sumdb_tlog_verifies_a_log_msez_published_to_s3() {
    let (env, url) = s3_env("tlog-go");
    let Some(tool) = go_checker() else { return };
    let n = go_n();
    let c = Chain::new();
    append(&c, n, "go-s3");
    let publish_s3 = || {
        run_env(
            &c.dir,
            &env,
            &[
                "--json", "tlog", "publish", &c.module, &url, "--key", "dev.jwk",
            ],
        )
        .json()
    };
    let log = publish_s3()["log"].as_str().unwrap().to_string();
    let v = vkey(&c);
    // Go reads the bucket itself (its own SigV4-signed GETs, no msez code in between).
    go_verify(&tool, &env, &log, &v, n);
    append(&c, 300, "go-s3b");
    assert_eq!(publish_s3()["published"]["old_size"], n);
    go_verify(&tool, &env, &log, &v, n + 300);
    // A tile changed in the bucket fails Go's check: the reads really come from S3.
    let t = format!("{log}/tile/0/000");
    // One bit of it flipped in place with boto3 (scripts/test installs it with SeaweedFS).
    let (bucket, key) = t
        .strip_prefix("s3://")
        .and_then(|r| r.split_once('/'))
        .unwrap();
    let endpoint = env.iter().find(|(k, _)| k == "AWS_ENDPOINT_URL").unwrap();
    let script = "import boto3,sys\n\
        s3=boto3.client('s3',endpoint_url=sys.argv[1])\n\
        b=bytearray(s3.get_object(Bucket=sys.argv[2],Key=sys.argv[3])['Body'].read())\n\
        b[40]^=0x80\n\
        s3.put_object(Bucket=sys.argv[2],Key=sys.argv[3],Body=bytes(b))\n";
    let flipped = Command::new("python3")
        .args(["-c", script, &endpoint.1, bucket, key])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .expect("python3 with boto3 (scripts/test installs it)");
    assert!(flipped.success(), "boto3 could not change the tile");
    let out = Command::new(&tool)
        .args(["verify", &log, &v])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(!out.status.success(), "a changed tile in S3 verified");
}

/// The S3 environment of scripts/test's SeaweedFS, and a fresh remote URL in its bucket.
pub(crate) fn s3_env(tag: &str) -> (Vec<(String, String)>, String) {
    let endpoint = std::env::var("MSEZ_TEST_S3_ENDPOINT").expect(
        "MSEZ_TEST_S3_ENDPOINT is unset: this test needs SeaweedFS, started by scripts/test",
    );
    let bucket = std::env::var("MSEZ_TEST_S3_BUCKET").unwrap_or_else(|_| "msez-test".into());
    let mut env = vec![
        ("AWS_ENDPOINT_URL".to_string(), endpoint),
        ("AWS_ALLOW_HTTP".to_string(), "true".to_string()),
    ];
    for (k, default) in [
        ("AWS_ACCESS_KEY_ID", "msez-test"),
        ("AWS_SECRET_ACCESS_KEY", "msez-test-secret"),
        ("AWS_REGION", "us-east-1"),
    ] {
        env.push((
            k.to_string(),
            std::env::var(k).unwrap_or_else(|_| default.into()),
        ));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let url = format!("s3://{bucket}/{tag}-{}-{nanos}", std::process::id());
    (env, url)
}

pub(crate) fn run_env(dir: &Dir, env: &[(String, String)], args: &[&str]) -> Run {
    let mut c = dir.cmd(args);
    c.envs(env.iter().map(|(k, v)| (k, v)));
    Run::from(c.output().unwrap())
}

#[test]
#[ignore = "needs SeaweedFS (scripts/test's S3 pass)"]
fn s3_tlog_publish_is_incremental_and_verifies_from_the_bucket() {
    let (env, url) = s3_env("tlog");
    let c = Chain::new();
    append(&c, 1000, "s3");
    let publish_s3 = || {
        run_env(
            &c.dir,
            &env,
            &[
                "--json", "tlog", "publish", &c.module, &url, "--key", "dev.jwk",
            ],
        )
        .json()
    };
    let out = publish_s3();
    let log = out["log"].as_str().unwrap().to_string();
    assert_eq!(
        log,
        format!("{url}/tlog/asset/{ASSET_ID}/core"),
        "the per-chain prefix beside objects/ and refs/"
    );
    assert_eq!(out["published"]["tiles_written"], 9);
    let v = vkey(&c);
    let run = run_env(
        &c.dir,
        &env,
        &[
            "--json", "tlog", "verify", &log, "--vkey", &v, "--state", "seen", "--entry", "999",
        ],
    );
    assert_eq!(run.json()["entries_checked"], 1000, "{run:?}");

    // One more receipt: the level-0 partial tile and its bundle (level 1 still has 3 nodes),
    // the checkpoint, and the read of the old checkpoint: four requests of publish's own.
    append(&c, 1, "s3b");
    let out = publish_s3();
    assert_eq!(out["published"]["old_size"], 1000);
    assert_eq!(out["published"]["tiles_written"], 2);
    assert_eq!(out["published"]["requests"], 4);
    let run = run_env(
        &c.dir,
        &env,
        &["tlog", "verify", &log, "--vkey", &v, "--state", "seen"],
    );
    assert!(
        run.ok()
            .contains("consistent with the checkpoint seen before: size 1000"),
        "{run:?}"
    );

    // The same chain published to a directory has the same root, and Go's x/mod checks it.
    let dir_out = publish(&c, "log");
    assert_eq!(dir_out["published"]["size"], 1001);
    if let Some(tool) = go_checker() {
        let said = go(
            &tool,
            &[
                "verify",
                &c.dir.join("log").display().to_string(),
                &v,
                "1000",
            ],
        );
        assert!(said.contains("size=1001 "), "{said}");
    }
}

#[test]
#[ignore = "needs js-ipfs (scripts/test's IPFS pass)"]
fn ipfs_tlog_publish_under_the_lease_and_verify() {
    let api = std::env::var("MSEZ_TEST_IPFS_API")
        .expect("MSEZ_TEST_IPFS_API is unset: this test needs js-ipfs, started by scripts/test");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let url = format!(
        "ipfs://{}/tlog-{}-{nanos}",
        api.trim_start_matches("http://"),
        std::process::id()
    );
    let c = Chain::new();
    append(&c, 300, "ipfs");
    let out = publish(&c, &url);
    let log = out["log"].as_str().unwrap().to_string();
    assert_eq!(log, format!("{url}/tlog/asset/{ASSET_ID}/core"));
    append(&c, 5, "ipfs2");
    assert_eq!(publish(&c, &url)["published"]["old_size"], 300);
    let v = vkey(&c);
    let run = c.dir.run(&[
        "tlog", "verify", &log, "--vkey", &v, "--state", "seen", "--entry", "304",
    ]);
    assert!(run.ok().contains("size 305"), "{run:?}");
}

/// A running `msez witness serve` on a loopback port; killed (-9) on drop.
struct WitnessProc {
    child: std::process::Child,
    url: String,
    vkey: String,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_witness(dir: &Dir, key: &str, name: &str, state: &str, log_vkey: &str) -> WitnessProc {
    use std::io::BufRead;
    let mut child = dir
        .cmd(&[
            "witness",
            "serve",
            "--key",
            key,
            "--name",
            name,
            "--state",
            state,
            "--listen",
            "127.0.0.1:0",
            "--log",
            log_vkey,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut listen = String::new();
    out.read_line(&mut listen).unwrap();
    let mut vkey = String::new();
    out.read_line(&mut vkey).unwrap();
    let url = listen
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("witness said {listen:?}"))
        .to_string();
    WitnessProc {
        child,
        url,
        vkey: vkey.trim().to_string(),
    }
}

fn cosigned_by(note: &str, vkey: &str) -> bool {
    let c = msez::tlog::witness::Cosigner::parse(vkey).unwrap();
    let n = msez::tlog::note::Note::parse(note.as_bytes()).unwrap();
    n.signatures.iter().any(|s| c.verify(&n.text, s).is_some())
}

#[test]
fn witnesses_cosign_extensions_survive_kill_9_and_refuse_a_fork() {
    let a = Chain::new();
    a.dir.run(&["key", "gen", "--out", "w2.jwk"]).ok();
    append(&a, 30, "honest");
    let v = vkey(&a);
    let w1 = start_witness(&a.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    let w2 = start_witness(&a.dir, "w2.jwk", "example.org/w2", "w2", &v);
    assert_eq!(
        w1.vkey,
        a.dir
            .run(&[
                "key",
                "vkey",
                "--witness",
                "--key",
                "zone-a.jwk",
                "--name",
                "example.org/w1"
            ])
            .ok()
            .trim()
    );
    let checkpoint = |c: &Chain, ws: &[&WitnessProc]| {
        let mut args = vec![
            "--json".to_string(),
            "tlog".into(),
            "checkpoint".into(),
            c.module.clone(),
            "--key".into(),
            "dev.jwk".into(),
        ];
        for w in ws {
            args.push("--witness".into());
            args.push(format!("{}={}", w.url, w.vkey));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        c.dir.run(&args)
    };
    let run = checkpoint(&a, &[&w1, &w2]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = run.json();
    let note = std::fs::read_to_string(out["note"].as_str().unwrap()).unwrap();
    assert!(
        cosigned_by(&note, &w1.vkey) && cosigned_by(&note, &w2.vkey),
        "{note}"
    );

    // An extension: each witness answers 409 with its size, then checks the proof from 30.
    append(&a, 10, "honest2");
    let out = checkpoint(&a, &[&w1, &w2]).json();
    let note40 = std::fs::read_to_string(out["note"].as_str().unwrap()).unwrap();
    assert!(note40.contains("\n40\n"));
    assert!(cosigned_by(&note40, &w1.vkey) && cosigned_by(&note40, &w2.vkey));

    // kill -9 in the middle of a request (headers and half a body sent), then restart on the
    // same state: it still knows size 40 and the root.
    let mut half = std::net::TcpStream::connect(w1.url.trim_start_matches("http://")).unwrap();
    std::io::Write::write_all(
        &mut half,
        b"POST /add-checkpoint HTTP/1.1\r\nContent-Length: 4000\r\n\r\nold 40\n",
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(w1);
    drop(half);
    let w1 = start_witness(&a.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    let out = checkpoint(&a, &[&w1]).json();
    assert!(cosigned_by(
        &std::fs::read_to_string(out["note"].as_str().unwrap()).unwrap(),
        &w1.vkey
    ));

    // The same origin and key with another history: both witnesses refuse; fork evidence.
    let b = Chain::new();
    append(&b, 50, "fork");
    for w in [&w1, &w2] {
        let run = checkpoint(&b, &[w]);
        assert_eq!(run.code, 69, "{run:?}");
        let err = &run.json()["error"];
        assert_eq!(err["code"], "fork.tlog_split_view");
        let ev: serde_json::Value =
            serde_json::from_slice(&std::fs::read(err["path"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(ev["witness_size"], 40);
    }
    let bnote = std::fs::read_to_string(b.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.50.note",
        b.module
    )))
    .unwrap();
    assert!(!cosigned_by(&bnote, &w1.vkey) && !cosigned_by(&bnote, &w2.vkey));

    // A witness that is down: the command fails (74) and keeps the cosignatures it got.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let gone = WitnessProc {
        child: Command::new("true").spawn().unwrap(),
        url: down,
        vkey: w2.vkey.clone(),
    };
    let run = checkpoint(&a, &[&w1, &gone]);
    assert_eq!(run.code, 74, "{run:?}");
    let kept = std::fs::read_to_string(a.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.40.note",
        a.module
    )))
    .unwrap();
    assert!(cosigned_by(&kept, &w1.vkey) && cosigned_by(&kept, &w2.vkey));

    // The cosigned note is what gets published; clients ignore the cosignature lines.
    publish(&a, "log");
    let published = std::fs::read_to_string(a.dir.join("log/checkpoint")).unwrap();
    assert!(cosigned_by(&published, &w1.vkey) && cosigned_by(&published, &w2.vkey));
    verify(&a.dir, &a.dir.join("log"), &v, &[]).ok();
}

#[test]
fn a_corridor_chain_is_a_log_too() {
    let cid = "org.example.corridor.a-b";
    let key = |n: &str| crate::util::fixture_key(n).display().to_string();
    let dir = Dir::repo();
    dir.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        cid,
        "--key",
        &key("dev"),
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ])
    .ok();
    for i in 0..3 {
        let ts = format!("2026-01-01T00:00:{:02}Z", i + 1);
        dir.run(&[
            "corridor",
            "state",
            "receipt-init",
            cid,
            "--key",
            &key("zone-a"),
            "--key",
            &key("zone-b"),
            "--timestamp",
            &ts,
        ])
        .ok();
    }
    let origin = format!("msez/corridor/{cid}");
    assert_eq!(
        dir.run(&["tlog", "origin", cid, "--corridor"]).ok().trim(),
        origin
    );
    let out = dir
        .run(&[
            "--json",
            "tlog",
            "publish",
            cid,
            "log",
            "--corridor",
            "--key",
            &key("dev"),
        ])
        .json();
    assert_eq!(out["published"]["size"], 3);
    let v = dir
        .run(&["key", "vkey", "--key", &key("dev"), "--name", &origin])
        .ok()
        .trim()
        .to_string();
    let run = verify(&dir, &dir.join("log"), &v, &["--entry", "2"]);
    assert!(run.ok().contains("size 3"), "{run:?}");
    let ck: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(&format!(
            "modules/corridors/{cid}/state/checkpoints/checkpoint.3.json"
        )))
        .unwrap_or_default(),
    )
    .unwrap_or_default();
    let note = std::fs::read_to_string(out["note"].as_str().unwrap()).unwrap();
    let root = base64::engine::general_purpose::STANDARD
        .decode(note.lines().nth(2).unwrap())
        .unwrap();
    assert_eq!(
        hex::encode(root),
        ck["mmr"]["root"].as_str().unwrap_or_default(),
        "{}",
        out["note"]
    );
}

#[test]
fn the_operator_walkthrough_in_docs_tlog_md_runs() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tlog.md"))
        .unwrap();
    let section = &doc[doc.find("## Operator walkthrough").unwrap()..];
    let start = section.find("```sh\n").unwrap() + 6;
    let script = &section[start..start + section[start..].find("```").unwrap()];
    let dir = Dir::new();
    dir.fixture_genesis(&[]);
    dir.write("walkthrough.sh", script);
    let bin_dir = Path::new(crate::util::bin()).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("walkthrough.sh")
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout
            .matches("valid: example.org/zone-a/asset/")
            .count(),
        2,
        "{run:#?}"
    );
    assert!(run.stdout.contains("entry 4: "), "{run:#?}");
    let published = std::fs::read_to_string(dir.join("public-log/checkpoint")).unwrap();
    assert!(
        published.contains("\u{2014} example.org/witness "),
        "{published}"
    );
}

/// Serves the files under `root` over plain HTTP on a loopback port until the test ends.
fn serve_dir(root: PathBuf) -> String {
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let file = root.join(path.trim_start_matches('/'));
            let reply = match std::fs::read(&file).ok().filter(|_| file.is_file()) {
                Some(b) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&b);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&reply);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_log_served_over_http_verifies_fully_and_light() {
    let c = Chain::new();
    append(&c, 520, "http");
    publish(&c, "log");
    let v = vkey(&c);
    let base = serve_dir(c.dir.join("log"));
    let run = c.dir.run(&[
        "tlog", "verify", &base, "--vkey", &v, "--state", "seen", "--entry", "519",
    ]);
    assert!(run.ok().contains("size 520"), "{run:?}");
    let run = c.dir.run(&[
        "--json", "tlog", "verify", &base, "--vkey", &v, "--state", "seen", "--light", "--entry",
        "3",
    ]);
    assert_eq!(run.json()["inclusions"][0]["index"], 3);
    // A server without the log: the checkpoint is missing (68).
    let empty = serve_dir(c.dir.join("nothing"));
    c.dir
        .run(&["tlog", "verify", &empty, "--vkey", &v, "--state", "seen"])
        .code(68);
}
