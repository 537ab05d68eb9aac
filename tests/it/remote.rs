//! Remotes through the real binary: a local directory always; SeaweedFS (S3) and js-ipfs when
//! scripts/test started them (those tests are `#[ignore]`d and fail loudly if run without
//! their service, so they never pass silently).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::{Dir, Run};

/// A remote URL and the environment msez needs to reach it.
struct Remote {
    url: String,
    env: Vec<(String, String)>,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Local(PathBuf),
    S3 {
        endpoint: String,
        bucket: String,
        prefix: String,
    },
    Ipfs {
        api: String,
        name: String,
    },
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

impl Remote {
    fn local(dir: &Dir) -> Remote {
        let path = dir.join("remote.msez");
        Remote {
            url: path.display().to_string(),
            env: Vec::new(),
            kind: Kind::Local(path),
        }
    }

    fn s3(tag: &str) -> Remote {
        let endpoint = std::env::var("MSEZ_TEST_S3_ENDPOINT").expect(
            "MSEZ_TEST_S3_ENDPOINT is unset: this test needs SeaweedFS, started by scripts/test",
        );
        let bucket = std::env::var("MSEZ_TEST_S3_BUCKET").unwrap_or_else(|_| "msez-test".into());
        let prefix = unique(tag);
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_string(), endpoint.clone()),
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
        Remote {
            url: format!("s3://{bucket}/{prefix}"),
            env,
            kind: Kind::S3 {
                endpoint,
                bucket,
                prefix,
            },
        }
    }

    fn ipfs(tag: &str) -> Remote {
        let api = std::env::var("MSEZ_TEST_IPFS_API").expect(
            "MSEZ_TEST_IPFS_API is unset: this test needs js-ipfs, started by scripts/test",
        );
        let name = unique(tag);
        let hostport = api.trim_start_matches("http://").to_string();
        Remote {
            url: format!("ipfs://{hostport}/{name}"),
            env: Vec::new(),
            kind: Kind::Ipfs { api, name },
        }
    }

    fn ipfs_at(api: &str, name: &str) -> Remote {
        Remote {
            url: format!("ipfs://{}/{name}", api.trim_start_matches("http://")),
            env: Vec::new(),
            kind: Kind::Ipfs {
                api: api.to_string(),
                name: name.to_string(),
            },
        }
    }

    fn cmd(&self, dir: &Path, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(crate::util::bin());
        c.args(args)
            .current_dir(dir)
            .env_remove("SOURCE_DATE_EPOCH")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs msez in `dir` with this remote's environment.
    fn run(&self, dir: &Path, args: &[&str]) -> Run {
        let out = self.cmd(dir, args).output().expect("spawn msez");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn spawn(&self, dir: &Path, args: &[&str]) -> Child {
        self.cmd(dir, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn msez")
    }

    /// A library handle on the same remote, for tampering and inspection behind msez's back.
    fn backend(&self) -> Box<dyn msez::remote::Backend> {
        match &self.kind {
            Kind::Local(p) => Box::new(msez::remote::Local::new(p)),
            Kind::Ipfs { api, name } => Box::new(msez::remote::Ipfs::new(api, name)),
            // In-process, the S3 backend reads AWS_ENDPOINT_URL, which scripts/test exports.
            Kind::S3 { bucket, prefix, .. } => Box::new(
                msez::remote::S3::new(bucket, prefix, msez::remote::Retry::default()).unwrap(),
            ),
        }
    }

    /// Replaces one remote key's bytes, as an attacker with write access would.
    fn tamper(&self, key: &str, bytes: &[u8]) {
        match &self.kind {
            Kind::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let script = "import boto3,sys\n\
                    s3=boto3.client('s3',endpoint_url=sys.argv[1])\n\
                    s3.put_object(Bucket=sys.argv[2],Key=sys.argv[3],Body=sys.stdin.buffer.read())\n";
                let mut child = std::process::Command::new("python3")
                    .args(["-c", script, endpoint, bucket, &format!("{prefix}/{key}")])
                    .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .stdin(Stdio::piped())
                    .spawn()
                    .expect("python3");
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes).unwrap();
                assert!(child.wait().unwrap().success(), "boto3 put_object");
            }
            Kind::Local(p) => {
                let path = p.join(key);
                let _ = std::fs::remove_file(&path);
                std::fs::write(&path, bytes).unwrap();
            }
            Kind::Ipfs { .. } => {
                self.backend().put(key, bytes).unwrap();
            }
        }
    }
}

const VC: &str = r#"{"@context":["https://www.w3.org/2018/credentials/v1"],"type":["VerifiableCredential"],"issuer":"did:key:z6Mkissuer","credentialSubject":{"amount":"100"}}"#;

/// The fixture key that plays `who` (fetch keeps only proofs that really sign their object).
fn signer(who: &str) -> msez::vc::KeyPair {
    let name = match who {
        "alice" => "dev",
        "bob" => "zone-a",
        _ => "zone-b",
    };
    msez::vc::KeyPair::load(&crate::util::fixture_key(name)).unwrap()
}

fn vc_with_proof(who: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(VC).unwrap();
    msez::vc::proof::add_proof_at(&mut v, &signer(who), "2026-01-01T00:00:00Z").unwrap();
    v.to_string()
}

/// A repository with a few objects, a VC signed once, and two refs (main links s2 and the
/// VC, so push, which sends what the refs reach, sends all four).
fn sample_repo() -> (Dir, Vec<String>) {
    let a = Dir::repo();
    let s2 = a.put("s2.json", r#"{"title":"two","n":2}"#, "schema");
    let blob = a.put("b.bin", b"\x00raw bytes\xff", "blob");
    let vc = a.put("vc.json", vc_with_proof("alice"), "vc");
    let link = |id: &str| {
        let (t, d) = id.split_once(':').unwrap();
        format!(r#"{{"artifact_type":"{t}","digest_sha256":"{d}"}}"#)
    };
    let s1 = a.put(
        "s1.json",
        format!(
            r#"{{"title":"one","n":1,"see":[{},{}]}}"#,
            link(&s2),
            link(&vc)
        ),
        "schema",
    );
    a.run(&["update-ref", "refs/heads/main", &s1]).ok();
    a.run(&["update-ref", "refs/tags/v1", &blob]).ok();
    (a, vec![s1, s2, blob, vc])
}

/// Every stored object (as its loose path) and every file under .msez/proofs, by relative path.
fn store_files(dir: &Dir) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = dir
        .stored_objects()
        .into_iter()
        .map(|(name, bytes)| (format!("objects/{name}"), bytes))
        .collect();
    for sub in ["proofs"] {
        let root = dir.join(".msez");
        let mut stack = vec![root.join(sub)];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(&root).unwrap().display().to_string();
                    out.insert(rel, std::fs::read(&p).unwrap());
                }
            }
        }
    }
    out
}

/// Refs outside refs/remotes/.
fn own_refs(dir: &Dir) -> BTreeMap<String, String> {
    let refs = dir.run(&["refs", "--json"]).json();
    refs["refs"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.starts_with("refs/remotes/"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn clone_of(remote: &Remote) -> Dir {
    let d = Dir::new();
    remote
        .run(
            d.path(),
            &["clone", &remote.url, d.path().to_str().unwrap()],
        )
        .ok();
    d
}

fn proofs_of(dir: &Dir, id: &str) -> Vec<String> {
    let shown = dir.run(&["show", id, "--json"]).json();
    let proof = &shown["value"]["proof"];
    let list = match proof {
        serde_json::Value::Array(items) => items.clone(),
        p => vec![p.clone()],
    };
    let mut out: Vec<String> = list
        .iter()
        .map(|p| {
            p["verificationMethod"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    out.sort();
    out
}

// ---- scenarios, run against every backend ------------------------------------------------------

fn push_then_clone_is_identical(remote: &Remote) {
    let (a, _) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    let pushed = remote.run(a.path(), &["push", "--json"]);
    let report = pushed.json();
    assert_eq!(pushed.code, 0, "{pushed:#?}");
    assert_eq!(report["objects_sent"], 4, "{report}");
    assert_eq!(report["refs_moved"].as_array().unwrap().len(), 2);
    // A second push has nothing to send and lists nothing.
    let again = remote.run(a.path(), &["push", "--json"]).json();
    assert_eq!(again["objects_sent"], 0, "{again}");
    assert_eq!(again["refs_up_to_date"].as_array().unwrap().len(), 2);

    let b = clone_of(remote);
    b.run(&["fsck"]).ok();
    assert_eq!(own_refs(&b), own_refs(&a));
    assert_eq!(store_files(&b), store_files(&a));
    let fsck = remote.run(a.path(), &["fsck", "--remote", "origin", "--json"]);
    assert_eq!(fsck.code, 0, "{fsck:#?}");
    assert_eq!(fsck.json()["objects"], 4);
    // Remote-tracking refs record what the remote holds.
    let refs = b.run(&["refs", "--json"]).json();
    assert_eq!(
        refs["refs"]["refs/remotes/origin/heads/main"],
        refs["refs"]["refs/heads/main"]
    );
}

fn two_clones_cosign_and_converge(remote: &Remote) {
    let (a, ids) = sample_repo();
    let vc = ids[3].clone();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push"]).ok();
    let b = clone_of(remote);
    let c = clone_of(remote);
    // Each operator co-signs the same credential on their own clone.
    assert_eq!(b.put("vc-b.json", vc_with_proof("bob"), "vc"), vc);
    assert_eq!(c.put("vc-c.json", vc_with_proof("carol"), "vc"), vc);
    remote.run(b.path(), &["push"]).ok();
    let pushed = remote.run(c.path(), &["push", "--json"]).json();
    assert_eq!(pushed["proofs_sent"], 1, "{pushed}");
    for d in [&b, &c] {
        remote.run(d.path(), &["pull"]).ok();
    }
    let mut want: Vec<String> = ["alice", "bob", "carol"]
        .map(|w| signer(w).verification_method().to_string())
        .to_vec();
    want.sort();
    assert_eq!(proofs_of(&b, &vc), want);
    assert_eq!(proofs_of(&c, &vc), want);
    b.run(&["fsck"]).ok();
    c.run(&["fsck"]).ok();
}

fn concurrent_pushes_one_wins(remote: &Remote) {
    let (a, _) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push"]).ok();
    let b = clone_of(remote);
    let c = clone_of(remote);
    let xb = b.put("x.json", r#"{"by":"b"}"#, "schema");
    let xc = c.put("x.json", r#"{"by":"c"}"#, "schema");
    b.run(&["update-ref", "refs/heads/main", &xb]).ok();
    c.run(&["update-ref", "refs/heads/main", &xc]).ok();
    let pb = remote.spawn(b.path(), &["push", "origin", "refs/heads/main"]);
    let pc = remote.spawn(c.path(), &["push", "origin", "refs/heads/main"]);
    let ob = pb.wait_with_output().unwrap();
    let oc = pc.wait_with_output().unwrap();
    let mut codes = [ob.status.code().unwrap(), oc.status.code().unwrap()];
    codes.sort();
    assert_eq!(
        codes,
        [0, 70],
        "b: {}\nc: {}",
        String::from_utf8_lossy(&ob.stderr),
        String::from_utf8_lossy(&oc.stderr)
    );
    let (winner, loser, won, lost) = if ob.status.success() {
        (&b, &c, &xb, &xc)
    } else {
        (&c, &b, &xc, &xb)
    };
    let digest = |id: &str| id.split_once(':').unwrap().1.to_string();
    // The loser pulls: its ref diverged (exit 69), both values are kept.
    let pulled = remote.run(loser.path(), &["pull", "--json"]);
    assert_eq!(pulled.code, 69, "{pulled:#?}");
    let refs = loser.run(&["refs", "--json"]).json();
    assert_eq!(refs["refs"]["refs/heads/main"], digest(lost));
    assert_eq!(refs["refs"]["refs/remotes/origin/heads/main"], digest(won));
    // It adopts the winner's value, builds on it, and the retry goes through.
    loser.run(&["update-ref", "refs/heads/main", won]).ok();
    let next = loser.put("y.json", r#"{"after":"retry"}"#, "schema");
    loser.run(&["update-ref", "refs/heads/main", &next]).ok();
    remote.run(loser.path(), &["push"]).ok();
    remote.run(winner.path(), &["pull"]).ok();
    assert_eq!(own_refs(winner)["refs/heads/main"], digest(&next));
}

fn tampered_object_is_rejected_on_pull(remote: &Remote) {
    let (a, _) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push"]).ok();
    let b = clone_of(remote);
    let before = store_files(&b);
    let good = a.put("g.json", r#"{"fine":true}"#, "schema");
    let bad = a.put("t.json", r#"{"amount":"100"}"#, "schema");
    a.run(&["update-ref", "refs/heads/main", &bad]).ok();
    remote.run(a.path(), &["push"]).ok();
    let hex = bad.split_once(':').unwrap().1;
    remote.tamper(
        &format!("objects/schema/{hex}.json"),
        b"{\"amount\":\"999\"}\n",
    );
    let pulled = remote.run(b.path(), &["pull"]);
    assert_eq!(pulled.code, 66, "{pulled:#?}");
    assert!(
        pulled.stderr.contains(&bad),
        "names the object: {}",
        pulled.stderr
    );
    // Nothing entered: not the tampered object, not the good one fetched with it, no ref moved.
    assert_eq!(store_files(&b), before);
    assert!(
        !b.join(".msez/objects/schema")
            .join(format!("{}.json", good.split_once(':').unwrap().1))
            .exists()
    );
    assert_ne!(own_refs(&b)["refs/heads/main"], hex);
    let fsck = remote.run(a.path(), &["fsck", "--remote", "origin"]);
    assert_eq!(fsck.code, 66, "{fsck:#?}");
    assert!(fsck.stdout.contains(&bad), "{}", fsck.stdout);
}

/// A raw object of `mib` MiB is pushed and cloned in bounded memory; returns push's peak RSS.
fn large_objects_stream(remote: &Remote, mib: usize) -> i64 {
    let a = Dir::repo();
    // Incompressible, deterministic bytes: a simple xorshift stream.
    let path = a.join("big.bin");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..mib {
            for chunk in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
    }
    let id = a
        .run(&["artifact", "put", path.to_str().unwrap(), "--type", "blob"])
        .ok()
        .trim()
        .to_string();
    std::fs::remove_file(&path).unwrap();
    a.run(&["update-ref", "refs/heads/big", &id]).ok();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    let (code, rss_kib) = crate::util::run_measured(remote.cmd(a.path(), &["push", "-q"]));
    assert_eq!(code, 0);
    let b = clone_of(remote);
    let (fa, fb) = (a.object_file(&id), b.object_file(&id));
    assert_eq!(std::fs::metadata(&fb).unwrap().len(), (mib as u64) << 20);
    // Compared by streaming hash: a test process holding the files would inflate the RSS that
    // the kernel charges to children forked from it meanwhile.
    let sha = |p: &Path| {
        use sha2::Digest as _;
        use std::io::Read;
        let mut h = sha2::Sha256::new();
        let mut f = std::fs::File::open(p).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        hex::encode(h.finalize())
    };
    assert_eq!(sha(&fa), sha(&fb));
    let fsck = remote.run(a.path(), &["fsck", "--remote", "origin"]);
    assert_eq!(fsck.code, 0, "{fsck:#?}");
    rss_kib
}

// ---- local directory ----------------------------------------------------------------------------

#[test]
fn local_push_then_clone_is_identical() {
    let d = Dir::new();
    push_then_clone_is_identical(&Remote::local(&d));
}

#[test]
fn local_two_clones_cosign_and_converge() {
    let d = Dir::new();
    two_clones_cosign_and_converge(&Remote::local(&d));
}

#[test]
fn local_concurrent_pushes_one_wins_and_the_loser_retries() {
    let d = Dir::new();
    concurrent_pushes_one_wins(&Remote::local(&d));
}

#[test]
fn local_tampered_object_is_rejected_on_pull() {
    let d = Dir::new();
    tampered_object_is_rejected_on_pull(&Remote::local(&d));
}

#[test]
fn local_large_objects_stream_in_bounded_memory() {
    let d = Dir::new();
    let rss = large_objects_stream(&Remote::local(&d), 96);
    assert!(
        rss < 48 * 1024,
        "push of a 96 MiB object peaked at {rss} KiB"
    );
}

#[test]
fn remote_commands_manage_the_config_and_refuse_bad_urls() {
    let a = Dir::repo();
    a.run(&["remote", "add", "origin", "s3://bucket/p"]).ok();
    a.run(&["remote", "add", "origin", "/x"]).code(64);
    a.run(&["remote", "add", "bad", "ftp://x/y"]).code(64);
    a.run(&["remote", "add", "bad", "ipfs://nohostport/x"])
        .code(64);
    let list = a.run(&["remote", "list", "--json"]).json();
    assert_eq!(list["remotes"]["origin"], "s3://bucket/p");
    a.run(&["remote", "remove", "origin"]).ok();
    a.run(&["remote", "remove", "origin"]).code(64);
    a.run(&["push", "nowhere"]).code(64);
    // Cloning something that is not an msez remote fails and leaves nothing behind.
    let empty = Dir::new();
    let r = a.run(&["clone", empty.path().to_str().unwrap(), "c"]);
    r.code(68);
    assert!(!a.join("c").exists());
    // Nor into a directory with files in it.
    a.run(&["clone", empty.path().to_str().unwrap(), "."])
        .code(64);
}

#[test]
fn a_failing_pre_push_hook_sends_nothing() {
    let d = Dir::new();
    let remote = Remote::local(&d);
    let (a, _) = sample_repo();
    a.run(&["remote", "add", "origin", &remote.url]).ok();
    let hook = a.write(
        ".msez/hooks/pre-push",
        "#!/bin/sh\necho no pushing today >&2\nexit 1\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = a.run(&["push"]);
    r.code(70);
    assert!(r.stderr.contains("no pushing today"), "{}", r.stderr);
    assert!(!d.join("remote.msez/refs").exists());
    assert!(!d.join("remote.msez/objects").exists());
}

#[test]
fn a_non_fast_forward_push_is_refused_unless_forced_with_lease() {
    let d = Dir::new();
    let remote = Remote::local(&d);
    let (a, _) = sample_repo();
    a.run(&["remote", "add", "origin", &remote.url]).ok();
    a.run(&["push"]).ok();
    let b = clone_of(&remote);
    let xa = a.put("xa.json", r#"{"x":"a"}"#, "schema");
    a.run(&["update-ref", "refs/heads/main", &xa]).ok();
    a.run(&["push"]).ok();
    let xb = b.put("xb.json", r#"{"x":"b"}"#, "schema");
    b.run(&["update-ref", "refs/heads/main", &xb]).ok();
    let r = b.run(&["push", "--json"]);
    r.code(70);
    assert_eq!(r.json()["rejected"][0]["name"], "refs/heads/main");
    // The lease is what b last fetched, which the remote no longer holds: still refused.
    b.run(&["push", "--force-with-lease"]).code(70);
    b.run(&["fetch"]).ok();
    b.run(&["push", "--force-with-lease"]).ok();
    assert_eq!(
        std::fs::read_to_string(d.join("remote.msez/refs/heads/main")).unwrap(),
        format!("{}\n", xb.split_once(':').unwrap().1)
    );
}

/// Cheap randomness for kill points (no extra crate): the clock's nanoseconds.
fn jitter(max_ms: u64) -> Duration {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    Duration::from_millis(n % max_ms.max(1))
}

/// Every remote ref names an object the remote has (any type), read through the library.
fn assert_remote_consistent(backend: &dyn msez::remote::Backend) {
    let objects: Vec<String> = backend
        .list("objects/")
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    for m in backend.list("refs/").unwrap() {
        let Some(blob) = backend.get(&m.key, None).unwrap() else {
            continue;
        };
        let value = String::from_utf8(blob.bytes).unwrap();
        let hex = value.trim();
        let found = objects
            .iter()
            .any(|k| k.rsplit('/').next().unwrap().starts_with(hex));
        assert!(found, "remote ref {} names {hex}, which is missing", m.key);
    }
}

fn push_killed_at_random_points_never_leaves_a_dangling_ref(remote: &Remote, rounds: usize) {
    let backend = remote.backend();
    let (a, ids) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    // New work each round, refs pointing at the newest objects (the last to be uploaded),
    // each linking the one before, across rounds and back to the sample's main (so main's
    // closure is all of it).
    let mut last = ids[0].clone();
    for round in 0..rounds {
        for i in 0..15 {
            let link = match last.split_once(':') {
                Some((t, d)) => {
                    format!(r#","prev":{{"artifact_type":"{t}","digest_sha256":"{d}"}}"#)
                }
                None => String::new(),
            };
            last = a.put(
                "n.json",
                format!(
                    r#"{{"round":{round},"i":{i},"pad":"{}"{link}}}"#,
                    "x".repeat(2000)
                ),
                "schema",
            );
        }
        a.run(&["update-ref", "refs/heads/main", &last]).ok();
        a.run(&["update-ref", &format!("refs/heads/r{}", round % 3), &last])
            .ok();
        let mut child = remote.spawn(a.path(), &["push", "--jobs", "2"]);
        std::thread::sleep(jitter(80));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        assert_remote_consistent(backend.as_ref());
    }
    // Rerun to completion: it resumes, and the result clones identically.
    remote.run(a.path(), &["push"]).ok();
    assert_remote_consistent(backend.as_ref());
    let b = clone_of(remote);
    b.run(&["fsck"]).ok();
    assert_eq!(own_refs(&b), own_refs(&a));
    assert_eq!(store_files(&b), store_files(&a));
}

#[test]
fn a_push_killed_at_random_points_never_leaves_a_dangling_remote_ref() {
    let d = Dir::new();
    push_killed_at_random_points_never_leaves_a_dangling_ref(&Remote::local(&d), 20);
}

#[test]
fn post_pull_hooks_run_and_a_dead_endpoint_is_an_io_error() {
    let d = Dir::new();
    let remote = Remote::local(&d);
    let (a, _) = sample_repo();
    a.run(&["remote", "add", "origin", &remote.url]).ok();
    a.run(&["push"]).ok();
    let b = clone_of(&remote);
    let hook = b.write(
        ".msez/hooks/post-pull",
        "#!/bin/sh\necho \"$MSEZ_EVENT $MSEZ_REASON\" > pulled.txt\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    b.run(&["pull"]).ok();
    let said = std::fs::read_to_string(b.join("pulled.txt")).unwrap();
    assert!(said.starts_with("post-pull pull origin "), "{said}");
    // Nothing listens on port 9: the transport fails, after its (zero) retries, as io.
    let dead = Remote {
        url: "s3://bucket/p".into(),
        env: vec![
            ("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:9".into()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
            ("AWS_ACCESS_KEY_ID".into(), "x".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "y".into()),
        ],
        kind: Kind::Local(d.join("unused")),
    };
    dead.run(a.path(), &["remote", "add", "dead", &dead.url])
        .ok();
    let r = dead.run(a.path(), &["push", "dead", "--retries", "0", "--json"]);
    assert_eq!(r.code, 74, "{r:#?}");
    assert_eq!(r.json()["error"]["class"], "io");
    let r = Remote::ipfs_at("http://127.0.0.1:9", "x").run(
        a.path(),
        &["clone", "ipfs://127.0.0.1:9/x", "c", "--retries", "0"],
    );
    assert_eq!(r.code, 74, "{r:#?}");
}

fn deleted_ids(report: &serde_json::Value) -> std::collections::BTreeSet<String> {
    report["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// gc on a remote: a dry run lists, a push between mark and sweep keeps what it revives and
/// what its new objects link to, the rest goes, and the remote stays clean and clonable.
fn gc_on_remote_spares_a_concurrent_push(remote: &Remote) {
    let (a, ids) = sample_repo();
    let (s1, s2, blob, vc) = (
        ids[0].clone(),
        ids[1].clone(),
        ids[2].clone(),
        ids[3].clone(),
    );
    let gone = a.put("gone.json", r#"{"gone":true}"#, "schema");
    // No ref reaches s1 (nor what it links), s2, vc or gone: only --all-objects sends them.
    a.run(&["update-ref", "refs/heads/main", &blob]).ok();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push", "--all-objects"]).ok();
    let gc = ["gc", "--remote", "origin", "--prune-expire", "0", "--json"];
    let dry = remote.run(a.path(), &[&gc[..], &["--dry-run"]].concat());
    assert_eq!(
        deleted_ids(&dry.json()),
        [s1.clone(), s2.clone(), vc.clone(), gone.clone()].into(),
        "{dry:#?}"
    );
    let backend = remote.backend();
    let repo = msez::odb::Repo::open(a.path()).unwrap();
    let opts = msez::gc::Options {
        prune_expire: Duration::ZERO,
        ..Default::default()
    };
    let mut fresh = String::new();
    let report = msez::remote::gc::run_remote(
        backend.as_ref(),
        Some(&repo),
        &opts,
        &msez::progress::Silent,
        &mut || {
            // Between mark and sweep: a ref to a marked object, and a new object linking to
            // another marked one, pushed before any ref names it.
            a.run(&["update-ref", "refs/heads/keep", &s2]).ok();
            let (t, d) = vc.split_once(':').unwrap();
            fresh = a.put(
                "fresh.json",
                format!(r#"{{"cites":{{"artifact_type":"{t}","digest_sha256":"{d}"}}}}"#),
                "schema",
            );
            remote.run(a.path(), &["push", "--all-objects"]).ok();
        },
    )
    .unwrap();
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut want = vec![s1.clone(), gone.clone()];
    want.sort();
    assert_eq!(deleted, want, "{report:?}");
    let mut rescued = report.rescued.clone();
    rescued.sort();
    let mut want = vec![s2.clone(), vc.clone()];
    want.sort();
    assert_eq!(rescued, want);
    assert_remote_consistent(backend.as_ref());
    // Now nothing names fresh: it goes with what only it linked to.
    let again = remote.run(a.path(), &gc).json();
    assert_eq!(deleted_ids(&again), [fresh, vc].into(), "{again}");
    let fsck = remote.run(a.path(), &["fsck", "--remote", "origin", "--json"]);
    assert_eq!(fsck.code, 0, "{fsck:#?}");
    assert_eq!(fsck.json()["objects"], 2);
    let b = clone_of(remote);
    b.run(&["fsck"]).ok();
    assert_eq!(own_refs(&b), own_refs(&a));
    // The local record of the remote's keys was dropped: a push puts back what gc took.
    a.run(&["update-ref", "refs/heads/gone", &gone]).ok();
    remote.run(a.path(), &["push"]).ok();
    assert_remote_consistent(backend.as_ref());
    remote.run(a.path(), &["fsck", "--remote", "origin"]).ok();
}

/// `--store-root REMOTE-URL`: read-only and lazy; what it hands out is checked first.
fn remote_store_root_is_lazy_and_checked(remote: &Remote) {
    let (a, ids) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push"]).ok();
    let (s1, s2, blob) = (&ids[0], &ids[1], &ids[2]);
    let hex = |id: &str| id.split_once(':').unwrap().1.to_string();
    // Damage one object: resolving the others never reads it.
    remote.tamper(
        &format!("objects/schema/{}.json", hex(s2)),
        b"{\"title\":\"forged\"}\n",
    );
    let outside = Dir::new();
    for id in [s1, blob] {
        let run = remote.run(
            outside.path(),
            &[
                "--json",
                "artifact",
                "resolve",
                id,
                "--store-root",
                &remote.url,
            ],
        );
        assert_eq!(run.code, 0, "{run:#?}");
        let found = run.json();
        assert_eq!(found["remote"], true);
        let ext = if id == blob { "bin" } else { "json" };
        assert!(
            found["path"].as_str().unwrap().ends_with(&format!(
                "objects/{}/{}.{ext}",
                id.split_once(':').unwrap().0,
                hex(id)
            )),
            "{found}"
        );
    }
    let bad = remote.run(
        outside.path(),
        &[
            "--json",
            "artifact",
            "resolve",
            s2,
            "--store-root",
            &remote.url,
        ],
    );
    assert_eq!(bad.code, 66, "{bad:#?}");
    assert_eq!(bad.json()["error"]["code"], "digest.remote_object_mismatch");
    let absent = format!("schema:{}", "cd".repeat(32));
    let run = remote.run(
        outside.path(),
        &["artifact", "resolve", &absent, "--store-root", &remote.url],
    );
    assert_eq!(run.code, 68, "{run:#?}");
    // A directory root that has the object wins without asking the remote.
    let local = a.join(".msez/objects");
    let run = remote.run(
        outside.path(),
        &[
            "--json",
            "artifact",
            "resolve",
            s2,
            "--store-root",
            local.to_str().unwrap(),
            "--store-root",
            &remote.url,
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()["remote"], false);
}

#[test]
fn local_store_root_url_is_lazy_and_checked() {
    let d = Dir::new();
    let mut remote = Remote::local(&d);
    remote.url = format!("file://{}", d.join("remote.msez").display());
    remote_store_root_is_lazy_and_checked(&remote);
}

#[test]
fn share_needs_an_s3_remote_and_a_pushed_object() {
    let d = Dir::new();
    let remote = Remote::local(&d);
    let (a, ids) = sample_repo();
    a.run(&["remote", "add", "origin", &remote.url]).ok();
    a.run(&["push"]).ok();
    let run = a.run(&["--json", "artifact", "share", &ids[2], "--expires", "10m"]);
    assert_eq!(run.code, 64, "{run:#?}");
    assert_eq!(run.json()["error"]["code"], "usage.remote_unsupported");
    let absent = format!("blob:{}", "ab".repeat(32));
    let run = a.run(&["artifact", "share", &absent, "--expires", "10m"]);
    assert_eq!(run.code, 68, "{run:#?}");
}

#[test]
fn local_gc_on_a_remote_spares_a_concurrent_push() {
    let d = Dir::new();
    gc_on_remote_spares_a_concurrent_push(&Remote::local(&d));
}

// ---- S3 (SeaweedFS) -------------------------------------------------------------------------------

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_push_then_clone_is_identical_and_plain_s3() {
    let remote = Remote::s3("identical");
    push_then_clone_is_identical(&remote);
    // An independent client sees a plain S3 layout: the format file, objects by digest, refs.
    let Kind::S3 {
        endpoint,
        bucket,
        prefix,
    } = &remote.kind
    else {
        unreachable!()
    };
    let script = "import boto3,sys,json\n\
        s3=boto3.client('s3',endpoint_url=sys.argv[1])\n\
        p=sys.argv[3]+'/'\n\
        keys=sorted(o['Key'][len(p):] for o in s3.list_objects_v2(Bucket=sys.argv[2],Prefix=p)['Contents'])\n\
        fmt=s3.get_object(Bucket=sys.argv[2],Key=p+'format')['Body'].read().decode()\n\
        main=s3.get_object(Bucket=sys.argv[2],Key=p+'refs/heads/main')['Body'].read().decode()\n\
        print(json.dumps({'keys':keys,'format':fmt,'main':main}))\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, endpoint, bucket, prefix])
        .envs(remote.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["format"],
        "{\"digest\":\"sha256\",\"msez_remote_format\":1}\n"
    );
    let keys: Vec<&str> = seen["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"refs/heads/main") && keys.contains(&"refs/tags/v1"),
        "{keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("objects/")).count(),
        4,
        "{keys:?}"
    );
    // The object a ref names is at objects/<type>/<digest>.<ext>, with sha256sum-able bytes.
    let main = seen["main"].as_str().unwrap().trim();
    assert!(
        keys.contains(&format!("objects/schema/{main}.json").as_str()),
        "{keys:?}"
    );
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_store_root_url_is_lazy_and_checked() {
    remote_store_root_is_lazy_and_checked(&Remote::s3("root"));
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_store_root_url_is_lazy_and_checked() {
    remote_store_root_is_lazy_and_checked(&Remote::ipfs("root"));
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_share_prints_a_presigned_url_that_plain_http_can_get() {
    let remote = Remote::s3("share");
    let (a, ids) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push"]).ok();
    for id in [&ids[2], &ids[0]] {
        let shared = remote
            .run(
                a.path(),
                &["--json", "artifact", "share", id, "--expires", "10m"],
            )
            .json();
        let url = shared["url"].as_str().unwrap();
        assert!(url.contains("X-Amz-Signature="), "{url}");
        assert!(url.contains("X-Amz-Expires=600"), "{url}");
        let body = ureq::get(url)
            .call()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
            .into_body()
            .read_to_vec()
            .unwrap();
        assert_eq!(body, std::fs::read(a.object_file(id)).unwrap(), "{id}");
        // The server checks the signature: an altered one, or none, is refused.
        let altered = url.replace("X-Amz-Signature=", "X-Amz-Signature=00");
        let unsigned = url.split('?').next().unwrap();
        for bad in [altered.as_str(), unsigned] {
            match ureq::get(bad).call() {
                Err(ureq::Error::StatusCode(403)) => {}
                other => panic!("GET {bad}: expected 403, got {other:?}"),
            }
        }
    }
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_gc_on_a_remote_spares_a_concurrent_push() {
    gc_on_remote_spares_a_concurrent_push(&Remote::s3("gc"));
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_large_objects_upload_in_parts_in_bounded_memory() {
    let rss = large_objects_stream(&Remote::s3("large"), 96);
    assert!(
        rss < 72 * 1024,
        "push of a 96 MiB object peaked at {rss} KiB"
    );
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_two_clones_cosign_and_converge() {
    two_clones_cosign_and_converge(&Remote::s3("cosign"));
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_concurrent_pushes_one_wins_and_the_loser_retries() {
    concurrent_pushes_one_wins(&Remote::s3("race"));
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_clones_racing_cosign_converge_and_pushes_have_one_winner() {
    let r = Remote::s3("race");
    crate::concurrency::clones_racing_on_a_shared_remote(&r.url, &r.env);
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_push_killed_at_random_points_never_leaves_a_dangling_remote_ref() {
    push_killed_at_random_points_never_leaves_a_dangling_ref(&Remote::s3("killed"), 6);
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_tampered_object_is_rejected_on_pull() {
    tampered_object_is_rejected_on_pull(&Remote::s3("tamper"));
}

// ---- IPFS (js-ipfs, Kubo RPC) ---------------------------------------------------------------------

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_car_export_matches_ipld_car_and_imports_into_js_ipfs() {
    use msez::car::Cid;
    let api = std::env::var("MSEZ_TEST_IPFS_API").expect("MSEZ_TEST_IPFS_API (scripts/test)");
    let ipld = PathBuf::from(
        std::env::var("MSEZ_TEST_IPLD_DIR").expect("MSEZ_TEST_IPLD_DIR (scripts/test)"),
    );
    let (a, root, members) = crate::car::closure_repo();
    let car = a.join("c.car");
    let out = a
        .run(&[
            "--json",
            "artifact",
            "graph",
            "export",
            "--root",
            &root,
            "--car",
            car.to_str().unwrap(),
        ])
        .json();
    let parse = |s: &str| Cid::try_from(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    let (root_cid, manifest_cid) = (
        parse(out["root_cid"].as_str().unwrap()),
        parse(out["manifest_cid"].as_str().unwrap()),
    );

    // An independent reader (@ipld/car + multiformats) recomputes every block's CID.
    let script = ipld.join("check-car.mjs");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ipld/check-car.mjs"),
        &script,
    )
    .unwrap();
    let node = std::process::Command::new("node")
        .arg(&script)
        .arg(&car)
        .current_dir(&ipld)
        .output()
        .expect("node");
    assert!(
        node.status.success(),
        "{}",
        String::from_utf8_lossy(&node.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&node.stdout).unwrap();
    assert_eq!(seen["version"], 1);
    let roots: Vec<Cid> = seen["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| parse(c.as_str().unwrap()))
        .collect();
    assert_eq!(roots, vec![root_cid, manifest_cid]);
    let blocks: Vec<Cid> = seen["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| parse(b["cid"].as_str().unwrap()))
        .collect();
    assert_eq!(blocks.len(), 6, "{seen}");
    let manifest: serde_json::Value =
        serde_json::from_str(seen["blocks"][0]["text"].as_str().unwrap()).unwrap();
    let mut named: Vec<Cid> = vec![manifest_cid];
    for e in manifest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .chain(manifest["proofs"].as_array().unwrap())
    {
        named.push(parse(e["cid"].as_str().unwrap()));
    }
    let (mut x, mut y) = (named.clone(), blocks.clone());
    x.sort();
    y.sort();
    assert_eq!(x, y);
    // A raw object's CID is its digest as a sha2-256 multihash.
    let blob = &members[2];
    let digest: msez::canon::Digest = blob.split_once(':').unwrap().1.parse().unwrap();
    assert!(blocks.contains(&msez::car::raw_cid(&digest)));

    // js-ipfs imports it, pins the roots, and serves every block with the object's bytes.
    let imported = std::process::Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-F",
            &format!("file=@{}", car.display()),
        ])
        .arg(format!("{api}/api/v0/dag/import?pin-roots=true"))
        .output()
        .expect("curl");
    assert!(imported.status.success(), "dag/import: {imported:?}");
    let pinned: Vec<Cid> = String::from_utf8_lossy(&imported.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["Root"]["Cid"]["/"].as_str().map(parse))
        .collect();
    assert!(
        pinned.contains(&root_cid) && pinned.contains(&manifest_cid),
        "{pinned:?}"
    );
    let block_get = |cid: &Cid| {
        let o = std::process::Command::new("curl")
            .args(["-sf", "-X", "POST"])
            .arg(format!("{api}/api/v0/block/get?arg={cid}"))
            .output()
            .expect("curl");
        assert!(o.status.success(), "block/get {cid}");
        o.stdout
    };
    assert_eq!(
        block_get(&root_cid),
        std::fs::read(a.object_file(&root)).unwrap()
    );
    assert_eq!(
        block_get(&msez::car::raw_cid(&digest)),
        std::fs::read(a.object_file(blob)).unwrap()
    );
    // The same file imports whole into a fresh repository.
    let b = Dir::repo();
    b.run(&[
        "artifact",
        "graph",
        "import",
        "--car",
        car.to_str().unwrap(),
    ])
    .ok();
    b.run(&["fsck"]).ok();
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_push_then_clone_is_identical() {
    push_then_clone_is_identical(&Remote::ipfs("identical"));
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_two_clones_cosign_and_converge() {
    two_clones_cosign_and_converge(&Remote::ipfs("cosign"));
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_push_killed_at_random_points_never_leaves_a_dangling_remote_ref() {
    // A killed pusher's lease names a dead process of this host: the rerun takes it over.
    push_killed_at_random_points_never_leaves_a_dangling_ref(&Remote::ipfs("killed"), 6);
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_large_objects_are_read_back_in_ranges() {
    // Uploads through MFS are whole-file for now; downloads are 8 MiB ranged reads.
    large_objects_stream(&Remote::ipfs("large"), 20);
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_tampered_object_is_rejected_on_pull() {
    tampered_object_is_rejected_on_pull(&Remote::ipfs("tamper"));
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_push_refuses_while_another_writer_holds_the_lease() {
    let remote = Remote::ipfs("lease");
    let (a, _) = sample_repo();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let lease = serde_json::json!({"holder": "elsewhere:1:ab", "host": "elsewhere", "pid": 1, "expires": expires});
    remote
        .backend()
        .put("lease", lease.to_string().as_bytes())
        .unwrap();
    let r = remote.run(a.path(), &["push"]);
    r.code(70);
    assert!(r.stderr.contains("elsewhere:1:ab"), "{}", r.stderr);
    remote.backend().delete("lease").unwrap();
    remote.run(a.path(), &["push"]).ok();
    assert!(
        remote.backend().get("lease", None).unwrap().is_none(),
        "lease released"
    );
}

/// The server itself must refuse stale conditional writes, or refs could be overwritten.
#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_conditional_writes_are_honoured_by_the_server() {
    use msez::remote::{Backend, Error, RefLocked, Retry, S3};
    let remote = Remote::s3("conditional");
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL").ok().as_deref(),
        Some(remote.env[0].1.as_str()),
        "scripts/test exports AWS_ENDPOINT_URL for the library-level S3 tests"
    );
    let Kind::S3 { bucket, prefix, .. } = &remote.kind else {
        unreachable!()
    };
    let raw = S3::new(bucket, prefix, Retry::default()).unwrap();
    assert!(raw.put_if_absent("refs/x", b"1\n").unwrap());
    assert!(
        !raw.put_if_absent("refs/x", b"2\n").unwrap(),
        "If-None-Match: * on an existing key"
    );
    // A stale ETag is refused by the server itself.
    let s3 = RefLocked(raw);
    let first = s3.get("refs/x", None).unwrap().unwrap();
    assert_eq!(first.bytes, b"1\n");
    let second = s3.put_if_match("refs/x", b"2\n", &first.version).unwrap();
    // A writer still holding the first ETag must be refused: this is what SeaweedFS must honour.
    assert!(matches!(
        s3.put_if_match("refs/x", b"3\n", &first.version),
        Err(Error::Precondition { .. })
    ));
    assert!(matches!(
        s3.put_if_match("refs/absent", b"3\n", &first.version),
        Err(Error::Precondition { .. })
    ));
    s3.put_if_match("refs/x", b"3\n", &second).unwrap();
    assert_eq!(s3.get("refs/x", Some(0..1)).unwrap().unwrap().bytes, b"3");
    assert_eq!(s3.head("refs/x").unwrap().unwrap().size, 2);
    let keys: Vec<String> = s3
        .list("refs/")
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, vec!["refs/x".to_string()]);
    s3.delete("refs/x").unwrap();
    assert!(s3.get("refs/x", None).unwrap().is_none());
    // Racing writers holding the same ETag: exactly one wins, every round. (With the bare S3
    // backend, SeaweedFS 4.48 lets two win now and then: hence the lock objects.)
    for round in 0..5 {
        let key = format!("refs/race{round}");
        assert!(s3.put_if_absent(&key, b"0\n").unwrap());
        let base = s3.get(&key, None).unwrap().unwrap().version;
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (s3, key, base) = (&s3, &key, &base);
                    scope.spawn(move || {
                        s3.put_if_match(key, format!("{i}\n").as_bytes(), base)
                            .is_ok() as usize
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(
            wins, 1,
            "round {round}: {wins} writers won with the same ETag"
        );
    }
}

/// The ref locks rely on this: racing creators of one new key, exactly one wins.
#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_racing_creates_have_exactly_one_winner() {
    use msez::remote::{Backend, Retry, S3};
    let remote = Remote::s3("createrace");
    let Kind::S3 { bucket, prefix, .. } = &remote.kind else {
        unreachable!()
    };
    let s3 = S3::new(bucket, prefix, Retry::default()).unwrap();
    let mut bad = Vec::new();
    for round in 0..8 {
        let key = format!("locks/k{round}");
        let wins: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let (s3, key) = (&s3, &key);
                    scope.spawn(move || {
                        s3.put_if_absent(key, format!("{i}\n").as_bytes()).unwrap() as usize
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        if wins != 1 {
            bad.push((round, wins));
        }
    }
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
#[ignore = "needs SeaweedFS S3 (run through scripts/test)"]
fn s3_walkthroughs_push_to_s3_and_the_auditor_checks_the_bundle() {
    let (operator, _) = crate::examples::run_walkthroughs(true);
    assert!(operator.contains("s3://"), "{operator}");
}

/// A backend that logs every request it passes on.
struct Counting {
    inner: Box<dyn msez::remote::Backend>,
    log: std::sync::Mutex<Vec<String>>,
}

impl Counting {
    fn note(&self, verb: &str, key: &str) {
        self.log.lock().unwrap().push(format!("{verb} {key}"));
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl msez::remote::Backend for Counting {
    fn url(&self) -> String {
        self.inner.url()
    }
    fn list(&self, prefix: &str) -> Result<Vec<msez::remote::Meta>, msez::remote::Error> {
        self.note("LIST", prefix);
        self.inner.list(prefix)
    }
    fn get(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Option<msez::remote::Blob>, msez::remote::Error> {
        self.note("GET", key);
        self.inner.get(key, range)
    }
    fn head(&self, key: &str) -> Result<Option<msez::remote::Meta>, msez::remote::Error> {
        self.note("HEAD", key);
        self.inner.head(key)
    }
    fn put(&self, key: &str, bytes: &[u8]) -> Result<msez::remote::Version, msez::remote::Error> {
        self.note("PUT", key);
        self.inner.put(key, bytes)
    }
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool, msez::remote::Error> {
        self.note("PUT", key);
        self.inner.put_if_absent(key, bytes)
    }
    fn put_if_match(
        &self,
        key: &str,
        bytes: &[u8],
        version: &msez::remote::Version,
    ) -> Result<msez::remote::Version, msez::remote::Error> {
        self.note("PUT", key);
        self.inner.put_if_match(key, bytes, version)
    }
    fn delete(&self, key: &str) -> Result<(), msez::remote::Error> {
        self.note("DELETE", key);
        self.inner.delete(key)
    }
    fn atomic_conditionals(&self) -> bool {
        self.inner.atomic_conditionals()
    }
    fn put_file_if_absent(
        &self,
        key: &str,
        path: &Path,
        on_bytes: &dyn Fn(u64),
    ) -> Result<bool, msez::remote::Error> {
        self.note("PUT", key);
        self.inner.put_file_if_absent(key, path, on_bytes)
    }
    fn get_to(
        &self,
        key: &str,
        out: &mut dyn std::io::Write,
    ) -> Result<Option<u64>, msez::remote::Error> {
        self.note("GET", key);
        self.inner.get_to(key, out)
    }
}

#[test]
fn an_incremental_push_sends_the_new_closure_only_in_a_few_requests() {
    let d = Dir::new();
    let remote = Remote::local(&d);
    let (a, ids) = sample_repo();
    a.run(&["remote", "add", "origin", &remote.url]).ok();
    a.run(&["push"]).ok();
    // One new object on main (linking main's old value), and one that no ref reaches.
    let (t, dg) = ids[0].split_once(':').unwrap();
    let next = a.put(
        "next.json",
        format!(r#"{{"next":1,"prev":{{"artifact_type":"{t}","digest_sha256":"{dg}"}}}}"#),
        "schema",
    );
    let loose = a.put("loose.json", r#"{"loose":true}"#, "schema");
    a.run(&["update-ref", "refs/heads/main", &next]).ok();
    let url = msez::remote::Url::parse(&remote.url, a.path()).unwrap();
    let backend = Counting {
        inner: msez::remote::open(&url, msez::remote::Retry::default()).unwrap(),
        log: Default::default(),
    };
    let repo = msez::odb::Repo::open(a.path()).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let push = |opts: &msez::remote::sync::Options| {
        msez::remote::sync::push(
            &repo,
            "origin",
            &backend,
            &[],
            opts,
            &msez::progress::Silent,
            &stop,
        )
        .unwrap()
    };
    let report = push(&Default::default());
    assert_eq!(report.objects_sent, 1, "{report:?}");
    let hex = |id: &str| id.split_once(':').unwrap().1.to_string();
    // The two refs read, the new object, the ref moved: no format read, no listing, no
    // re-check of a target this run just uploaded.
    assert_eq!(
        backend.take(),
        [
            "GET refs/heads/main".to_string(),
            "GET refs/tags/v1".to_string(),
            format!("PUT objects/schema/{}.json", hex(&next)),
            "PUT refs/heads/main".to_string(),
        ]
    );
    assert!(
        !d.join(&format!("remote.msez/objects/schema/{}.json", hex(&loose)))
            .exists()
    );
    // A later co-signature on an old object travels though the object does not.
    assert_eq!(a.put("vc-b.json", vc_with_proof("bob"), "vc"), ids[3]);
    let report = push(&Default::default());
    assert_eq!(
        (report.objects_sent, report.proofs_sent),
        (0, 1),
        "{report:?}"
    );
    // --all-objects sends what no ref reaches.
    let report = push(&msez::remote::sync::Options {
        all_objects: true,
        ..Default::default()
    });
    assert_eq!(report.objects_sent, 1, "{report:?}");
    assert!(
        d.join(&format!("remote.msez/objects/schema/{}.json", hex(&loose)))
            .exists()
    );
}

#[test]
fn gc_on_a_remote_deletes_expired_ref_locks_of_versions_a_ref_left() {
    let d = Dir::new();
    let remote = Remote::local(&d);
    let (a, _) = sample_repo();
    a.run(&["remote", "add", "origin", &remote.url]).ok();
    a.run(&["push"]).ok();
    // What a killed S3 push leaves: a lock on a version the ref no longer has, expired.
    let body = r#"{"holder":"gone","host":"elsewhere","pid":1,"expires":1}"#;
    let lock = d.join("remote.msez/locks/refs/heads/main/oldversion.0");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, body).unwrap();
    let gc = ["gc", "--remote", "origin", "--prune-expire", "0", "--json"];
    let dry = a.run(&[&gc[..], &["--dry-run"]].concat()).json();
    assert_eq!(dry["locks_deleted"], 1, "{dry}");
    assert!(lock.exists());
    let done = a.run(&gc).json();
    assert_eq!(done["locks_deleted"], 1, "{done}");
    assert!(!lock.exists());
}

#[test]
#[ignore = "needs js-ipfs (run through scripts/test)"]
fn ipfs_a_key_msez_could_not_write_is_listed_escaped_skipped_and_reported() {
    let remote = Remote::ipfs("hostile-name");
    let a = Dir::repo();
    let s1 = a.put("s1.json", r#"{"title":"one"}"#, "schema");
    a.run(&["update-ref", "refs/heads/main", &s1]).ok();
    remote
        .run(a.path(), &["remote", "add", "origin", &remote.url])
        .ok();
    remote.run(a.path(), &["push"]).ok();
    // A name with a newline and a terminal escape, written straight into the node's MFS.
    remote.tamper("refs/heads/evil\nname\u{1b}[31m", b"x");
    let r = remote.run(a.path(), &["fetch"]);
    r.ok();
    assert!(
        r.stdout
            .contains("skipped remote key refs/heads/evil\\nname\\u{1b}[31m"),
        "{r:#?}"
    );
    assert!(!r.stdout.contains('\u{1b}'), "{r:#?}");
}
