//! Artifact graphs and witness bundles through the real binary, with real zip files: the round
//! trip of a 1,000-receipt module, determinism, and hostile bundles built with Python's zipfile.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{ASSET_ID, Dir, Run, vectors};

const PROFILE: &str = "profiles/asset-history-bundle-attestation/profile.yaml";

/// A repository with the derived-vector asset module, the three dev keys, and `blobs` stored
/// blobs that receipts can attach.
struct Module {
    dir: Dir,
    module: String,
    blobs: Vec<String>,
}

fn key(name: &str) -> PathBuf {
    vectors().join(format!("msez-fixtures/keys/{name}.ed25519.jwk"))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

impl Module {
    fn new(blobs: usize) -> Module {
        let (dir, module) = Dir::asset_module(&[], &[]);
        let blobs = (0..blobs)
            .map(|i| {
                let id = dir.put(&format!("blob{i}.txt"), format!("evidence {i}\n"), "blob");
                id.split_once(':').unwrap().1.to_string()
            })
            .collect();
        Module { dir, module, blobs }
    }

    /// Appends `n` receipts in one batch; every tenth attaches a blob (round robin).
    fn append(&self, from: usize, n: usize) {
        let lines: String = (from..from + n)
            .map(|i| {
                let attach = match (i % 10, self.blobs.is_empty()) {
                    (0, false) => format!(
                        ",\"attachments\":[{{\"artifact_type\":\"blob\",\"digest_sha256\":\"{}\"}}]",
                        self.blobs[(i / 10) % self.blobs.len()]
                    ),
                    _ => String::new(),
                };
                format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i}}}{attach}}}\n")
            })
            .collect();
        self.dir.write("batch.jsonl", lines);
        let k = key("dev");
        self.dir
            .run(&[
                "asset",
                "state",
                "receipt-init",
                &self.module,
                "--batch",
                "batch.jsonl",
                "--key",
                s(&k),
            ])
            .ok();
    }

    fn checkpoint(&self) {
        let k = key("dev");
        self.dir
            .run(&["asset", "state", "checkpoint", &self.module, "--key", s(&k)])
            .ok();
    }

    fn prove(&self, sequence: usize) {
        self.dir
            .run(&[
                "asset",
                "state",
                "inclusion-proof",
                &self.module,
                "--sequence",
                &sequence.to_string(),
            ])
            .ok();
    }

    fn bundle(&self, out: &str) -> Run {
        self.dir.run(&[
            "asset",
            "module",
            "witness-bundle",
            &self.module,
            "--out",
            out,
        ])
    }
}

fn attest(dir: &Dir, zip: &str, who: &str, out: &str) -> Run {
    let k = key(who);
    let did = dir.run(&["key", "did", s(&k)]).ok().trim().to_string();
    dir.run(&[
        "artifact",
        "bundle",
        "attest",
        zip,
        "--key",
        s(&k),
        "--issuer",
        &did,
        "--out",
        out,
    ])
}

fn profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(PROFILE)
}

fn python(script: &str, args: &[&str]) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 is needed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_thousand_receipt_module_round_trips_through_a_deterministic_bundle() {
    let m = Module::new(5);
    m.append(0, 500);
    m.checkpoint();
    m.append(500, 500);
    m.checkpoint();
    for seq in [0, 499, 999] {
        m.prove(seq);
    }
    m.bundle("a.zip").ok();
    m.bundle("b.zip").ok();
    let a = std::fs::read(m.dir.join("a.zip")).unwrap();
    assert_eq!(
        a,
        std::fs::read(m.dir.join("b.zip")).unwrap(),
        "same input, same bytes"
    );

    // The same module at another path (another machine) gives the same bytes too.
    let elsewhere = Dir::new();
    let status = Command::new("cp")
        .args([
            "-a",
            &format!("{}/.", m.dir.path().display()),
            s(elsewhere.path()),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let module = format!("modules/smart-assets/{ASSET_ID}");
    elsewhere
        .run(&[
            "asset",
            "module",
            "witness-bundle",
            &module,
            "--out",
            "c.zip",
        ])
        .ok();
    assert_eq!(a, std::fs::read(elsewhere.join("c.zip")).unwrap());

    // generated_at is the newest checkpoint's timestamp, or SOURCE_DATE_EPOCH.
    let run = m.dir.run(&[
        "--json",
        "asset",
        "module",
        "witness-bundle",
        &m.module,
        "--out",
        "a.zip",
    ]);
    let ck: Value = serde_json::from_str(
        &std::fs::read_to_string(m.dir.join(&format!(
            "{}/state/checkpoints/checkpoint.1000.json",
            m.module
        )))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(run.json()["generated_at"], ck["timestamp"]);
    let out = m
        .dir
        .cmd(&[
            "--json",
            "asset",
            "module",
            "witness-bundle",
            &m.module,
            "--out",
            "e.zip",
        ])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["generated_at"], "2023-11-14T22:13:20Z");
    assert_eq!(
        v["stats"]["nodes_total"], 6,
        "5 blobs and the checkpoint the proofs name: {v}"
    );

    // Other zip readers accept it.
    let unzip = Command::new("unzip")
        .args(["-t", "a.zip"])
        .current_dir(m.dir.path())
        .output()
        .unwrap();
    assert!(
        unzip.status.success(),
        "{}",
        String::from_utf8_lossy(&unzip.stdout)
    );
    python(
        "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; \
         names = z.namelist(); assert names == sorted(names), names; \
         assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in z.infolist()); \
         assert sum(n.startswith('root/') and '/state/receipts/' in n for n in names) == 1000",
        &[s(&m.dir.join("a.zip"))],
    );
    attest(&m.dir, "a.zip", "dev", "dev.vc.json").ok();
    attest(&m.dir, "a.zip", "zone-a", "zone-a.vc.json").ok();

    // The auditor: a fresh directory, the module and repository gone.
    let auditor = Dir::new();
    for f in ["a.zip", "dev.vc.json", "zone-a.vc.json"] {
        std::fs::copy(m.dir.join(f), auditor.join(f)).unwrap();
    }
    drop(m);
    let run = auditor.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "a.zip",
    ]);
    let report = run.json();
    assert_eq!(run.code, 0, "{report}");
    assert_eq!(report["verdict"], "valid");
    assert_eq!(report["stats"]["nodes_total"], 6);
    assert_eq!(report["root"]["files_scanned"], 1000 + 2 + 3 + 2);
    let p = profile();
    auditor
        .run(&[
            "artifact",
            "bundle",
            "verify",
            "a.zip",
            "--attestation",
            "dev.vc.json",
            "--attestation",
            "zone-a.vc.json",
            "--profile",
            s(&p),
        ])
        .ok();
    // Every claim inside checks offline once extracted.
    auditor
        .run(&["artifact", "bundle", "extract", "a.zip", "x"])
        .ok();
    let root = auditor.join(&format!("x/root/{ASSET_ID}"));
    let ck = root.join("state/checkpoints/checkpoint.1000.json");
    auditor
        .run(&["asset", "state", "verify", s(&root), "--checkpoint", s(&ck)])
        .ok();
    auditor
        .verify_inclusion(
            "asset",
            root.join("state/receipts/receipt.499.json"),
            root.join("state/proofs/inclusion.499.json"),
            &ck,
        )
        .ok();
}

/// A small valid bundle plus its attestation by the dev key, in a fresh directory.
fn small_bundle() -> (Module, PathBuf) {
    let m = Module::new(2);
    m.append(0, 20);
    m.checkpoint();
    m.prove(3);
    m.bundle("good.zip").ok();
    attest(&m.dir, "good.zip", "dev", "dev.vc.json").ok();
    let zip = m.dir.join("good.zip");
    (m, zip)
}

/// Rewrites `src` into `dst` with Python's zipfile, applying `mutation`.
const MUTATE: &str = r#"
import sys, zipfile, json
src, dst, mutation = sys.argv[1:4]
zin = zipfile.ZipFile(src)
zout = zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED)
blob = next(n for n in zin.namelist() if n.startswith("artifacts/blob/"))
for info in zin.infolist():
    data = zin.read(info.filename)
    if mutation == "missing-artifact" and info.filename == blob:
        continue
    if mutation == "altered-artifact" and info.filename == blob:
        data = data + b"tampered"
    if info.filename == "manifest.json" and mutation in ("lying-manifest", "manifest-digest"):
        m = json.loads(data)
        if mutation == "lying-manifest":
            m["nodes"] = m["nodes"][:-1]
            m["stats"]["nodes_total"] -= 1
        else:
            m["generated_at"] = "2000-01-01T00:00:00Z"
        data = (json.dumps(m, indent=2) + "\n").encode()
    zout.writestr(info, data)
if mutation == "zip-slip":
    zout.writestr("../../escaped.txt", b"owned")
if mutation == "absolute":
    zout.writestr("/tmp/msez-absolute-escaped.txt", b"owned")
if mutation == "symlink":
    info = zipfile.ZipInfo("root/link")
    info.create_system = 3
    info.external_attr = (0o120777 << 16)
    zout.writestr(info, "/etc/passwd")
if mutation == "duplicate":
    zout.writestr("README.txt", b"second copy")
if mutation == "unlisted":
    zout.writestr("artifacts/blob/extra.bin", b"smuggled")
if mutation == "bomb":
    with zout.open("artifacts/blob/bomb.bin", "w") as f:
        chunk = bytes(1 << 20)
        for _ in range(64):
            f.write(chunk)
zout.close()
"#;

/// Runs `args` in `dir` with TMPDIR inside it and checks nothing escaped.
fn hostile(dir: &Dir, args: &[&str]) -> Run {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = dir.cmd(args).env("TMPDIR", &tmp).output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the temp dir was not cleaned: {run:?}"
    );
    for escaped in [
        dir.join("escaped.txt"),
        dir.path().parent().unwrap().join("escaped.txt"),
    ] {
        assert!(!escaped.exists(), "{} was written", escaped.display());
    }
    assert!(!Path::new("/tmp/msez-absolute-escaped.txt").exists());
    run
}

#[test]
fn hostile_bundles_are_rejected_with_their_class_and_write_nothing_outside_the_temp_dir() {
    let (m, good) = small_bundle();
    let cases: [(&str, i32, &str); 10] = [
        ("zip-slip", 65, "schema.bundle_path"),
        ("absolute", 65, "schema.bundle_path"),
        ("symlink", 65, "schema.bundle_symlink"),
        ("duplicate", 65, "schema.bundle_duplicate"),
        ("bomb", 65, "schema.bundle_limit"),
        ("missing-artifact", 68, ""),
        ("altered-artifact", 66, ""),
        ("lying-manifest", 66, "digest.bundle_manifest"),
        ("unlisted", 66, "digest.bundle_entry"),
        ("manifest-digest", 0, ""),
    ];
    for (mutation, code, error_code) in cases {
        let bad = m.dir.join(&format!("{mutation}.zip"));
        python(MUTATE, &[s(&good), s(&bad), mutation]);
        let run = hostile(
            &m.dir,
            &[
                "--json",
                "artifact",
                "graph",
                "verify",
                "--from-bundle",
                s(&bad),
            ],
        );
        assert_eq!(run.code, code, "{mutation}: {run:?}");
        let doc = run.json();
        if !error_code.is_empty() {
            assert_eq!(doc["error"]["code"], error_code, "{mutation}: {doc}");
        }
        match mutation {
            "missing-artifact" => {
                assert_eq!(doc["verdict"], "unknown");
                assert_eq!(doc["stats"]["missing_total"], 1);
            }
            "altered-artifact" => {
                assert_eq!(doc["verdict"], "invalid");
                assert_eq!(doc["digest_mismatches"][0]["method"], "bytes");
            }
            _ => {}
        }
    }
    // A manifest changed after attestation: the content still verifies, the attestation not.
    let changed = m.dir.join("manifest-digest.zip");
    let run = hostile(
        &m.dir,
        &[
            "--json",
            "artifact",
            "bundle",
            "verify",
            s(&changed),
            "--attestation",
            "dev.vc.json",
        ],
    );
    assert_eq!(run.code, 66, "{run:?}");
    assert_eq!(run.json()["error"]["code"], "digest.bundle_attestation");
    // The intact bundle with its attestation passes.
    hostile(
        &m.dir,
        &[
            "artifact",
            "bundle",
            "verify",
            s(&good),
            "--attestation",
            "dev.vc.json",
        ],
    )
    .ok();
}

#[test]
fn attestations_count_only_for_admitted_attesters_under_the_profile() {
    let (m, _) = small_bundle();
    attest(&m.dir, "good.zip", "zone-a", "zone-a.vc.json").ok();
    attest(&m.dir, "good.zip", "zone-b", "zone-b.vc.json").ok();
    let p = profile();
    let verify = |atts: &[&str]| {
        let mut args = vec![
            "--json",
            "artifact",
            "bundle",
            "verify",
            "good.zip",
            "--profile",
            s(&p),
        ];
        for a in atts {
            args.extend_from_slice(&["--attestation", a]);
        }
        m.dir.run(&args)
    };
    // zone-b is not in the profile: with dev it is still one admitted attester of two.
    let run = verify(&["dev.vc.json", "zone-b.vc.json"]);
    assert_eq!(run.code, 67, "{run:?}");
    let err = &run.json()["error"];
    assert_eq!(err["code"], "signature.bundle_quorum");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not an attester of the profile"),
        "{err}"
    );
    // The same attester twice counts once.
    verify(&["dev.vc.json", "dev.vc.json"]).code(67);
    // dev (auditor) and zone-a (operator) meet the quorum.
    let run = verify(&["dev.vc.json", "zone-a.vc.json", "zone-b.vc.json"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["quorum"]["counted"].as_array().unwrap().len(), 2);
    // A forged signature fails as a signature error.
    let mut vc: Value =
        serde_json::from_str(&std::fs::read_to_string(m.dir.join("zone-a.vc.json")).unwrap())
            .unwrap();
    vc["credentialSubject"]["statement"] = "something else".into();
    m.dir
        .write("forged.vc.json", serde_json::to_vec(&vc).unwrap());
    let run = verify(&["dev.vc.json", "forged.vc.json"]);
    assert_eq!(run.code, 67, "{run:?}");
    assert_eq!(run.json()["error"]["code"], "signature.bundle_attestation");
    // An issuer that is not the key is refused at attest time.
    let k = key("dev");
    m.dir
        .run(&[
            "artifact",
            "bundle",
            "attest",
            "good.zip",
            "--key",
            s(&k),
            "--issuer",
            "did:key:z6MkpcPvSoHcaxHrowuHYv6NKhBVpvUsptJUUrQenEQ1aYJX",
        ])
        .code(64);
}

#[test]
fn graph_verify_reports_missing_and_altered_artifacts_and_draws_dot() {
    let m = Module::new(3);
    m.append(0, 30);
    let run = m.dir.run(&[
        "--json", "artifact", "graph", "verify", "--path", &m.module, "--strict",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["type"], "MSEZArtifactGraphVerifyReport");
    assert_eq!(r["root"]["mode"], "dir");
    assert_eq!(r["stats"]["nodes_total"], 3);
    assert_eq!(r["stats"]["edges_total"], 3);
    assert_eq!(r["nodes"][0]["strict"]["match"], true);
    // Alter one stored blob: invalid, 66, naming it.
    let victim = m.dir.object_file(&format!("blob:{}", m.blobs[1]));
    let mut perms = std::fs::metadata(&victim).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&victim, perms).unwrap();
    std::fs::write(&victim, b"not the evidence").unwrap();
    let run = m.dir.run(&[
        "--json", "artifact", "graph", "verify", "--path", &m.module, "--strict",
    ]);
    assert_eq!(run.code, 66, "{run:?}");
    assert_eq!(
        run.json()["digest_mismatches"][0]["digest_sha256"],
        m.blobs[1].as_str()
    );
    // Without --strict nobody rehashes: valid.
    m.dir
        .run(&["artifact", "graph", "verify", "--path", &m.module])
        .ok();
    // Remove it: unknown, 68.
    std::fs::remove_file(&victim).unwrap();
    let run = m
        .dir
        .run(&["--json", "artifact", "graph", "verify", "--path", &m.module]);
    assert_eq!(run.code, 68, "{run:?}");
    assert_eq!(run.json()["verdict"], "unknown");
    // CAS root and DOT output.
    let root = format!("blob:{}", m.blobs[0]);
    let dot = m.dir.run(&[
        "artifact", "graph", "verify", "--root", &root, "--format", "dot",
    ]);
    assert_eq!(dot.code, 0, "{dot:?}");
    assert!(
        dot.stdout.starts_with("digraph artifact_graph {"),
        "{}",
        dot.stdout
    );
    assert!(dot.stdout.contains(&format!("\"{root}\"")));
    // With graphviz installed (scripts/test installs it), --render writes the picture.
    if Command::new("dot").arg("-V").output().is_ok() {
        m.dir
            .run(&[
                "artifact", "graph", "verify", "--root", &root, "--format", "dot", "--render",
                "g.svg",
            ])
            .ok();
        let svg = std::fs::read_to_string(m.dir.join("g.svg")).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
    } else {
        eprintln!("graphviz `dot` is not installed: --render not exercised");
    }
}

/// A static file server that answers `Range: bytes=a-b` (Python's http.server does not), on a
/// free loopback port printed first; over TLS when given a certificate chain and key file.
const RANGE_SERVER: &str = r#"
import http.server, os, re, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = os.path.join(sys.argv[1], os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_response(404); self.end_headers(); return
        size = os.path.getsize(path)
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        with open(path, "rb") as f:
            if not m:
                self.send_response(200); self.send_header("Content-Length", str(size)); self.end_headers()
                self.wfile.write(f.read()); return
            a, b = int(m[1]), min(int(m[2]), size - 1)
            f.seek(a); data = f.read(b - a + 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {a}-{b}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers(); self.wfile.write(data)
    def log_message(self, *args):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 3:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

/// Kills the server we started when the test ends, however it ends.
pub(crate) struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Serves the files in `dir` with [`RANGE_SERVER`] (over TLS with `tls`: certificate chain and
/// key); returns the server and its base URL.
pub(crate) fn serve(dir: &Path, tls: Option<(&Path, &Path)>) -> (Server, String) {
    use std::io::BufRead;
    let mut args = vec![s(dir)];
    if let Some((cert, key)) = tls {
        args.extend([s(cert), s(key)]);
    }
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(RANGE_SERVER)
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://127.0.0.1:{}", line.trim());
    (Server(child), base)
}

/// A throwaway CA and a server certificate it issued for 127.0.0.1, made with the openssl CLI
/// in `dir`: returns (ca.pem, server.pem, server.key).
fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let script = r#"set -e
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=msez-test-ca -keyout ca.key -out ca.pem \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout server.key -out server.csr
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 2 \
  -extfile ext -out server.pem
"#;
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "openssl (scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn a_bundle_over_http_is_read_with_range_requests_central_directory_first() {
    let (m, good) = small_bundle();
    let bomb = m.dir.join("bomb.zip");
    python(MUTATE, &[s(&good), s(&bomb), "bomb"]);
    let (_server, base) = serve(m.dir.path(), None);
    let run = m.dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        &format!("{base}/good.zip"),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "valid");
    let local = m.dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "good.zip",
    ]);
    assert_eq!(r["nodes"], local.json()["nodes"]);
    assert!(r["input_bundle"]["http"]["requests"].as_u64().unwrap() >= 2);
    // The bomb is refused from its central directory, before anything is inflated.
    let run = m.dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        &format!("{base}/bomb.zip"),
    ]);
    assert_eq!(run.code, 65, "{run:?}");
    assert_eq!(run.json()["error"]["code"], "schema.bundle_limit");
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_a_mounted_bundle_matches_unzip_and_shows_verified_objects_also_over_http() {
    use crate::mount::{files, mount, sh};
    let (m, good) = small_bundle();
    let mnt = mount(&m.dir, s(&good), "mnt");
    // raw/ is the zip's entries exactly as stored.
    std::fs::create_dir_all(m.dir.join("unzipped")).unwrap();
    sh(&m.dir.join("unzipped"), &format!("unzip -q {}", s(&good))).ok();
    sh(
        m.dir.path(),
        &format!("diff -r {} unzipped", s(&mnt.path.join("raw"))),
    )
    .ok();
    sh(
        m.dir.path(),
        &format!(
            "cmp {} unzipped/manifest.json",
            s(&mnt.path.join("manifest.json"))
        ),
    )
    .ok();
    // objects/ are the bundle's artifacts, each hashing to its name, the same bytes as stored.
    let blobs = files(&mnt.path.join("objects/blob"));
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    for b in &blobs {
        let sum = sh(
            &mnt.path,
            &format!("sha256sum objects/blob/{b} | cut -d' ' -f1"),
        );
        assert_eq!(format!("{}.bin", sum.ok().trim()), *b);
        sh(
            m.dir.path(),
            &format!(
                "cmp {}/objects/blob/{b} .msez/objects/blob/{b}",
                s(&mnt.path)
            ),
        )
        .ok();
    }
    let run = sh(&mnt.path, "jq -r .verdict verify-report.json");
    assert_eq!(run.ok().trim(), "valid");
    // The same bundle served over HTTP (range requests) shows the same tree.
    let (_server, base) = serve(m.dir.path(), None);
    let url = format!("{base}/good.zip");
    let web = mount(&m.dir, &url, "web");
    // (verify-report.json and README.txt name their source, which differs.)
    sh(
        m.dir.path(),
        &format!(
            "diff -r -x verify-report.json -x README.txt {} {}",
            s(&web.path),
            s(&mnt.path)
        ),
    )
    .ok();
}

/// `--from-bundle URL` verified by msez with the trust-store variables set to `env` only.
fn verify_url(m: &Module, url: &str, env: &[(&str, &Path)]) -> Run {
    let mut cmd = m.dir.cmd(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        url,
    ]);
    cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    cmd.envs(env.iter().copied());
    Run::from(cmd.output().expect("spawn msez"))
}

#[test]
fn a_bundle_over_https_is_verified_when_ssl_cert_file_trusts_its_ca_and_refused_otherwise() {
    let (m, _) = small_bundle();
    let certs = m.dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (ca, cert, key) = test_ca(&certs);
    let (_server, base) = serve(m.dir.path(), Some((&cert, &key)));
    let url = format!("{base}/good.zip");
    // SSL_CERT_FILE adds the private CA: the same report as the local file, read in ranges.
    let run = verify_url(&m, &url, &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "valid");
    let local = verify_url(&m, "good.zip", &[]);
    assert_eq!(local.code, 0, "{local:?}");
    assert_eq!(r["nodes"], local.json()["nodes"]);
    assert!(r["input_bundle"]["http"]["requests"].as_u64().unwrap() >= 2);
    // Without it the server's certificate chains to nothing trusted: an io error naming the
    // URL and the TLS failure, before anything is read.
    let run = verify_url(&m, &url, &[]);
    assert_eq!(run.code, 74, "{run:?}");
    let e = run.json()["error"].clone();
    assert_eq!(e["code"], "io.bundle_http", "{e}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    // A CA file that cannot be read is named, not silently ignored.
    let missing = certs.join("missing.pem");
    let run = verify_url(&m, &url, &[("SSL_CERT_FILE", &missing)]);
    assert_eq!(run.code, 74, "{run:?}");
    let e = run.json()["error"].clone();
    assert_eq!(e["code"], "io.bundle_http", "{e}");
    let message = e["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("SSL_CERT_FILE={}", s(&missing))),
        "{message}"
    );
    // A PEM file without a certificate (the server's key) trusts nothing: refused as such.
    let run = verify_url(&m, &url, &[("SSL_CERT_FILE", &key)]);
    assert_eq!(run.code, 74, "{run:?}");
    assert!(run.stdout.contains("no PEM certificate"), "{run:?}");
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_a_bundle_over_https_shows_the_same_objects_as_the_repository() {
    use crate::mount::{files, mount, mount_with, sh};
    let (m, good) = small_bundle();
    let certs = m.dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let (ca, cert, key) = test_ca(&certs);
    let (_server, base) = serve(m.dir.path(), Some((&cert, &key)));
    let url = format!("{base}/good.zip");
    // Untrusted: nothing is mounted, and the error names the URL.
    std::fs::create_dir_all(m.dir.join("refused")).unwrap();
    let out = m
        .dir
        .cmd(&["mount", &url, "refused"])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let run = Run::from(out);
    assert_eq!(run.code, 74, "{run:?}");
    assert!(run.stderr.contains(&url), "{run:?}");
    assert!(
        std::fs::read_dir(m.dir.join("refused"))
            .unwrap()
            .next()
            .is_none(),
        "mounted although refused"
    );
    // Trusted through SSL_CERT_FILE: every object is the repository's, byte for byte.
    let web = mount_with(&m.dir, &url, "web", &[("SSL_CERT_FILE", &ca)]);
    let shown = files(&web.path.join("objects"));
    assert!(
        shown.iter().filter(|o| o.starts_with("blob/")).count() == 2,
        "{shown:?}"
    );
    for o in &shown {
        sh(
            m.dir.path(),
            &format!("cmp {}/objects/{o} .msez/objects/{o}", s(&web.path)),
        )
        .ok();
    }
    let run = sh(&web.path, "jq -r .verdict verify-report.json");
    assert_eq!(run.ok().trim(), "valid");
    // And the tree is the local zip's (verify-report.json and README.txt name their source,
    // which differs).
    let local = mount(&m.dir, s(&good), "local");
    sh(
        m.dir.path(),
        &format!(
            "diff -r -x verify-report.json -x README.txt {} {}",
            s(&web.path),
            s(&local.path)
        ),
    )
    .ok();
}

#[test]
#[ignore = "needs FUSE: run by scripts/test (fuse_)"]
fn fuse_hostile_bundles_refuse_to_mount_or_show_only_safe_paths() {
    use crate::mount::{mount, sh};
    let (m, good) = small_bundle();
    std::fs::create_dir_all(m.dir.join("mnt")).unwrap();
    for (mutation, code) in [
        ("zip-slip", 65),
        ("absolute", 65),
        ("symlink", 65),
        ("duplicate", 65),
        ("bomb", 65),
    ] {
        let bad = m.dir.join(&format!("{mutation}.zip"));
        python(MUTATE, &[s(&good), s(&bad), mutation]);
        let run = hostile(&m.dir, &["mount", s(&bad), "mnt"]);
        assert_eq!(run.code, code, "{mutation}: {run:?}");
        assert!(
            std::fs::read_dir(m.dir.join("mnt"))
                .unwrap()
                .next()
                .is_none(),
            "{mutation} mounted"
        );
    }
    // An altered artifact mounts, but is never shown: opening it fails; the report says why.
    let bad = m.dir.join("altered-artifact.zip");
    python(MUTATE, &[s(&good), s(&bad), "altered-artifact"]);
    let mnt = mount(&m.dir, s(&bad), "altered");
    let run = sh(&mnt.path, "cat objects/blob/*.bin");
    assert!(run.stderr.contains("Input/output error"), "{run:?}");
    let run = sh(&mnt.path, "jq -r .verdict verify-report.json");
    assert_eq!(run.ok().trim(), "invalid");
}
