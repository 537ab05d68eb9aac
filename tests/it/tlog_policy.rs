//! Witness policy in verification (docs/tlog.md, "Witness policy"): `asset state verify`
//! against real `msez witness serve` processes on loopback.

use base64::Engine as _;

use crate::chain::Chain;
use crate::util::{Dir, Run};

pub(crate) const ORIGIN: &str =
    "msez/asset/37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5/core";

pub(crate) fn append(c: &Chain, n: usize, tag: &str) {
    let lines: String = (0..n)
        .map(|i| {
            format!("{{\"kind\":\"transfer.v1\",\"payload\":{{\"i\":{i},\"tag\":\"{tag}\"}}}}\n")
        })
        .collect();
    c.dir.write("policy-batch.jsonl", lines);
    c.dir
        .run(&[
            "asset",
            "state",
            "receipt-init",
            &c.module,
            "--batch",
            "policy-batch.jsonl",
            "--key",
            "dev.jwk",
        ])
        .ok();
}

pub(crate) fn log_vkey(c: &Chain) -> String {
    c.dir
        .run(&["key", "vkey", "--key", "dev.jwk", "--name", ORIGIN])
        .ok()
        .trim()
        .to_string()
}

/// A running `msez witness serve`; killed (-9) on drop.
pub(crate) struct WitnessProc {
    pub(crate) child: std::process::Child,
    pub(crate) url: String,
    pub(crate) vkey: String,
}

impl Drop for WitnessProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_witness(
    dir: &Dir,
    key: &str,
    name: &str,
    state: &str,
    log_vkey: &str,
) -> WitnessProc {
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

pub(crate) fn checkpoint(c: &Chain, ws: &[&WitnessProc]) -> Run {
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
}

/// Pins `quorum` of `vkeys` in the module's asset.yaml (replacing an earlier policy).
pub(crate) fn pin_policy(c: &Chain, quorum: usize, vkeys: &[&str]) {
    let path = c.dir.join(&format!("{}/asset.yaml", c.module));
    let text = std::fs::read_to_string(&path).unwrap();
    let kept = text.split("witness_policy:").next().unwrap().to_string();
    let mut yaml = format!("{kept}witness_policy:\n  quorum: {quorum}\n  witnesses:\n");
    for v in vkeys {
        yaml.push_str(&format!("    - \"{v}\"\n"));
    }
    std::fs::write(path, yaml).unwrap();
}

pub(crate) fn verify(c: &Chain) -> Run {
    c.dir
        .run(&["--json", "asset", "state", "verify", &c.module])
}

pub(crate) fn codes(report: &serde_json::Value) -> Vec<String> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_2_of_3_policy_is_unknown_with_one_witness_up_and_valid_once_a_second_cosigns() {
    let c = Chain::new();
    for k in ["w2", "w3"] {
        c.dir
            .run(&["key", "gen", "--out", &format!("{k}.jwk")])
            .ok();
    }
    append(&c, 20, "p");
    let v = log_vkey(&c);
    let w1 = start_witness(&c.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    let w2 = start_witness(&c.dir, "w2.jwk", "example.org/w2", "w2", &v);
    let w3 = start_witness(&c.dir, "w3.jwk", "example.org/w3", "w3", &v);
    let (v1, v2, v3) = (w1.vkey.clone(), w2.vkey.clone(), w3.vkey.clone());
    pin_policy(&c, 2, &[&v1, &v2, &v3]);

    // No note yet: nothing is witnessed.
    let run = verify(&c);
    assert_eq!(run.code, 68, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "unknown");
    assert_eq!(codes(&r), ["missing.witness_quorum"]);

    // Two witnesses go down; the one still up cosigns: 1 of the 2 required.
    drop(w2);
    drop(w3);
    assert_eq!(checkpoint(&c, &[&w1]).code, 0);
    let run = verify(&c);
    assert_eq!(run.code, 68, "{run:?}");
    let r = run.json();
    assert_eq!(codes(&r), ["missing.witness_quorum"]);
    let msg = r["errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("1 of 2") && msg.contains("missing example.org/w2, example.org/w3"),
        "{msg}"
    );
    assert_eq!(
        r["witness_policy"]["cosigned_by"],
        serde_json::json!(["example.org/w1"])
    );

    // w2 comes back on its own state and cosigns the same checkpoint: 2 of 3, valid.
    let w2 = start_witness(&c.dir, "w2.jwk", "example.org/w2", "w2", &v);
    assert_eq!(w2.vkey, v2);
    assert_eq!(checkpoint(&c, &[&w2]).code, 0);
    let run = verify(&c);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "valid");
    assert_eq!(
        r["witness_policy"]["missing"],
        serde_json::json!(["example.org/w3"])
    );

    // Bytes anyone can append: a line claiming w3 that does not verify, and plain garbage.
    // Both are ignored and reported; the verdict stays valid.
    let note = c.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.note",
        c.module
    ));
    let w3c = msez::tlog::witness::Cosigner::parse(&v3).unwrap();
    let mut raw = w3c.id.to_be_bytes().to_vec();
    raw.extend_from_slice(&[7u8; 72]);
    let forged = format!(
        "\u{2014} example.org/w3 {}\n",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let mut bytes = std::fs::read(&note).unwrap();
    bytes.extend_from_slice(forged.as_bytes());
    bytes.extend_from_slice(b"not a signature line at all\n");
    std::fs::write(&note, bytes).unwrap();
    let run = verify(&c);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "valid");
    let ignored = r["witness_policy"]["ignored"].as_array().unwrap();
    assert_eq!(ignored.len(), 2, "{r}");
    assert!(
        ignored[0]["why"]
            .as_str()
            .unwrap()
            .contains("does not verify")
    );
    assert!(ignored[1]["why"].as_str().unwrap().contains("malformed"));
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("ignored cosignature line"), "{warnings}");

    // Writing the note again keeps the cosignatures despite the appended garbage.
    assert_eq!(checkpoint(&c, &[]).code, 0);
    let run = verify(&c);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["witness_policy"]["cosigned_by"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A new receipt beyond the witnessed checkpoint: not witnessed yet.
    append(&c, 1, "q");
    let run = verify(&c);
    assert_eq!(run.code, 68, "{run:?}");
    let msg = run.json()["errors"][0]["message"].to_string();
    assert!(
        msg.contains("no checkpoint note at the chain's size 21"),
        "{msg}"
    );

    // A bad vkey in the policy is a schema error naming the field.
    pin_policy(&c, 2, &[&v1, "example.org/w2+00000000+AAAA", &v3]);
    let run = verify(&c);
    assert_eq!(run.code, 65, "{run:?}");
    let r = run.json();
    assert_eq!(r["errors"][0]["code"], "schema.witness_policy");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("witness_policy.witnesses[1]"),
        "{r}"
    );
}

#[test]
fn a_policy_witness_cosignature_over_another_root_is_a_split_view() {
    // One witness cosigns size 20 of the log as chain `a` shows it.
    let a = Chain::new();
    append(&a, 20, "honest");
    let v = log_vkey(&a);
    let w1 = start_witness(&a.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    assert_eq!(checkpoint(&a, &[&w1]).code, 0);
    let cosigned = std::fs::read(a.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.note",
        a.module
    )))
    .unwrap();

    // The same log (origin) with another history of that size, and the cosigned note beside
    // it: the witness vouched for a root this chain does not have at size 20.
    let b = Chain::new();
    append(&b, 20, "other");
    pin_policy(&b, 1, &[&w1.vkey]);
    let dir = b.dir.join(&format!("{}/state/checkpoints", b.module));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("checkpoint.20.note"), &cosigned).unwrap();
    let run = verify(&b);
    assert_eq!(run.code, 69, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "invalid");
    let split = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "fork.witness_split_view")
        .unwrap_or_else(|| panic!("{r}"));
    assert!(
        split["path"]
            .as_str()
            .unwrap()
            .ends_with("checkpoint.20.note")
    );
    assert_ne!(split["expected"], split["found"]);

    // The honest chain with the same policy is valid.
    pin_policy(&a, 1, &[&w1.vkey]);
    assert_eq!(verify(&a).code, 0);
}

#[test]
fn corridor_state_verify_applies_the_policy_in_corridor_yaml() {
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
    let v = dir
        .run(&["key", "vkey", "--key", &key("dev"), "--name", &origin])
        .ok()
        .trim()
        .to_string();
    let w = start_witness(&dir, &key("zone-b"), "example.org/w", "w", &v);
    let yaml = dir.join(&format!("modules/corridors/{cid}/corridor.yaml"));
    let mut text = std::fs::read_to_string(&yaml).unwrap();
    text.push_str(&format!(
        "witness_policy:\n  quorum: 1\n  witnesses: [\"{}\"]\n",
        w.vkey
    ));
    std::fs::write(&yaml, text).unwrap();
    let verify = || dir.run(&["--json", "corridor", "state", "verify", cid]);
    let run = verify();
    assert_eq!(run.code, 68, "{run:?}");
    assert_eq!(codes(&run.json()), ["missing.witness_quorum"]);
    let url = format!("{}={}", w.url, w.vkey);
    dir.run(&[
        "tlog",
        "checkpoint",
        cid,
        "--corridor",
        "--key",
        &key("dev"),
        "--witness",
        &url,
    ])
    .ok();
    let run = verify();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["witness_policy"]["cosigned_by"],
        serde_json::json!(["example.org/w"])
    );
}

#[test]
fn bundles_apply_the_policy_and_are_never_valid_without_the_cosignatures() {
    let c = Chain::new();
    append(&c, 5, "b");
    let v = log_vkey(&c);
    let w = start_witness(&c.dir, "zone-a.jwk", "example.org/w1", "w1", &v);
    pin_policy(&c, 1, &[&w.vkey]);
    let bundle = |out: &str| {
        c.dir.run(&[
            "--json",
            "asset",
            "module",
            "witness-bundle",
            &c.module,
            "--out",
            out,
        ])
    };
    // Not witnessed: the chain checks before writing say unknown and nothing is written.
    let run = bundle("none.zip");
    assert_eq!(run.code, 68, "{run:?}");
    assert!(run.stdout.contains("missing.witness_quorum"), "{run:?}");
    assert!(!c.dir.join("none.zip").exists());

    assert_eq!(checkpoint(&c, &[&w]).code, 0);
    bundle("w.zip").ok();
    // The bundle carries the cosigned checkpoint note (docs/tlog.md, "Witness policy"): the
    // chain in the bundle is valid with its policy, as in the module.
    let run = c.dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        "w.zip",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["chains"][0]["verdict"], "valid", "{r}");
    assert_eq!(
        r["chains"][0]["witness_policy"]["cosigned_by"],
        serde_json::json!(["example.org/w1"]),
        "{r}"
    );
}
