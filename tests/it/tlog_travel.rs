//! Witness cosignatures travelling with a chain (docs/tlog.md, "Witness policy"): in witness
//! bundles, to `verify-inclusion`, and pinned by `asset registry issue`; against real
//! `msez witness serve` processes on loopback.

use std::io::{Read, Write};
use std::path::Path;

use crate::chain::Chain;
use crate::tlog_policy::{
    ORIGIN, WitnessProc, append, checkpoint, codes, log_vkey, pin_policy, start_witness, verify,
};
use crate::util::Dir;

fn bundle(c: &Chain, out: &str, partial: bool) -> crate::util::Run {
    let mut args = vec![
        "--json",
        "asset",
        "module",
        "witness-bundle",
        &c.module,
        "--out",
        out,
    ];
    if partial {
        args.push("--allow-partial");
    }
    c.dir.run(&args)
}

fn from_bundle(dir: &Dir, zip: &str) -> crate::util::Run {
    dir.run(&[
        "--json",
        "artifact",
        "graph",
        "verify",
        "--from-bundle",
        zip,
    ])
}

/// The codes of chain 0's findings in a bundle report.
fn chain_codes(r: &serde_json::Value) -> Vec<String> {
    r["chains"][0]["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// Rewrites the zip at `path`, passing each entry's bytes through `edit`.
fn rewrite_zip(path: &Path, edit: impl Fn(&str, Vec<u8>) -> Vec<u8>) {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut e = archive.by_index(i).unwrap();
        let name = e.name().unwrap().to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.start_file(name.as_str(), opts).unwrap();
        out.write_all(&edit(&name, bytes)).unwrap();
    }
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

fn three_witnesses(c: &Chain) -> (WitnessProc, WitnessProc, WitnessProc) {
    for k in ["w2", "w3"] {
        c.dir
            .run(&["key", "gen", "--out", &format!("{k}.jwk")])
            .ok();
    }
    let v = log_vkey(c);
    (
        start_witness(&c.dir, "zone-a.jwk", "example.org/w1", "w1", &v),
        start_witness(&c.dir, "w2.jwk", "example.org/w2", "w2", &v),
        start_witness(&c.dir, "w3.jwk", "example.org/w3", "w3", &v),
    )
}

#[test]
fn a_bundle_carries_the_cosigned_notes_and_applies_a_2_of_3_policy() {
    let c = Chain::new();
    append(&c, 20, "t");
    let (w1, w2, w3) = three_witnesses(&c);
    pin_policy(&c, 2, &[&w1.vkey, &w2.vkey, &w3.vkey]);
    let note_name = "state/checkpoints/checkpoint.20.note";

    // One cosignature: the build's own check says unknown; written anyway (partial), the chain
    // in the bundle is unknown for the same reason, missing.witness_quorum.
    assert_eq!(checkpoint(&c, &[&w1]).code, 0);
    let run = bundle(&c, "one.zip", false);
    assert_eq!(run.code, 68, "{run:?}");
    bundle(&c, "one.zip", true).code(68);
    let run = from_bundle(&c.dir, "one.zip");
    assert_eq!(run.code, 68, "{run:?}");
    let r = run.json();
    assert_eq!(r["chains"][0]["verdict"], "unknown", "{r}");
    assert_eq!(chain_codes(&r), ["missing.witness_quorum"], "{r}");

    // Two: valid, from `graph verify --from-bundle` and `msez audit` alike.
    assert_eq!(checkpoint(&c, &[&w2]).code, 0);
    bundle(&c, "two.zip", false).ok();
    let run = from_bundle(&c.dir, "two.zip");
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    assert_eq!(r["chains"][0]["verdict"], "valid", "{r}");
    assert_eq!(
        r["chains"][0]["witness_policy"]["cosigned_by"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{r}"
    );
    // The report (with the chain's witness_policy) matches schemas/verify-report.schema.json.
    if let Err(e) = msez::schema::validate("verify-report.schema.json", &r, "report") {
        panic!("{e}: {r}");
    }
    // The note is a listed entry with its digest: the manifest (what attestations sign)
    // covers it.
    let listed = r["bundle"]["entries"].to_string();
    assert!(listed.contains(note_name), "{listed}");
    let run = c.dir.run(&["--json", "audit", "two.zip"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["verdict"], "valid", "{run:?}");

    // A tampered note (one byte of a cosignature changed) is a digest finding.
    std::fs::copy(c.dir.join("two.zip"), c.dir.join("tampered.zip")).unwrap();
    rewrite_zip(&c.dir.join("tampered.zip"), |name, mut bytes| {
        if name.ends_with(note_name) {
            let n = bytes.len();
            bytes[n - 5] ^= 1;
        }
        bytes
    });
    let run = from_bundle(&c.dir, "tampered.zip");
    assert_eq!(run.code, 66, "{run:?}");
    assert!(
        run.json()["findings"]
            .to_string()
            .contains("digest.bundle_entry"),
        "{run:?}"
    );

    // Garbage appended to the module's note before bundling is ignored and reported; the
    // verdict stays valid.
    let note = c.dir.join(&format!("{}/{note_name}", c.module));
    let mut bytes = std::fs::read(&note).unwrap();
    bytes.extend_from_slice(b"\xe2\x80\x94 example.org/w3 bm90IGEgc2lnbmF0dXJl\n");
    std::fs::write(&note, bytes).unwrap();
    bundle(&c, "garbage.zip", false).ok();
    let run = from_bundle(&c.dir, "garbage.zip");
    assert_eq!(run.code, 0, "{run:?}");
    let r = run.json();
    if let Err(e) = msez::schema::validate("verify-report.schema.json", &r, "report") {
        panic!("{e}: {r}");
    }
    let ignored = r["chains"][0]["witness_policy"]["ignored"]
        .as_array()
        .unwrap();
    assert_eq!(ignored.len(), 1, "{r}");
    assert!(
        ignored[0]["note"].as_str().unwrap().ends_with(note_name),
        "{r}"
    );
}

#[test]
fn a_bundle_with_a_split_view_cosignature_is_invalid() {
    // A witness cosigns size 20 of the log as chain `a` shows it.
    let a = Chain::new();
    append(&a, 20, "honest");
    let w1 = start_witness(&a.dir, "zone-a.jwk", "example.org/w1", "w1", &log_vkey(&a));
    assert_eq!(checkpoint(&a, &[&w1]).code, 0);
    let cosigned = std::fs::read(a.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.note",
        a.module
    )))
    .unwrap();
    // Chain `b`, another history of the same log, carries that note.
    let b = Chain::new();
    append(&b, 20, "other");
    pin_policy(&b, 1, &[&w1.vkey]);
    std::fs::write(
        b.dir.join(&format!(
            "{}/state/checkpoints/checkpoint.20.note",
            b.module
        )),
        &cosigned,
    )
    .unwrap();
    assert_eq!(verify(&b).code, 69);
    bundle(&b, "split.zip", true).code(69);
    let run = from_bundle(&b.dir, "split.zip");
    assert_eq!(run.code, 69, "{run:?}");
    let r = run.json();
    assert_eq!(r["chains"][0]["verdict"], "invalid", "{r}");
    assert!(
        chain_codes(&r).contains(&"fork.witness_split_view".to_string()),
        "{r}"
    );
}

#[test]
fn chains_without_notes_bundle_to_the_same_bytes_as_before() {
    // No note: no entry is added (the vectors' bundles stay byte for byte).
    let c = Chain::new();
    append(&c, 3, "n");
    bundle(&c, "plain.zip", false).ok();
    let r = from_bundle(&c.dir, "plain.zip").json();
    assert!(!r["bundle"]["entries"].to_string().contains(".note"), "{r}");
}

#[test]
fn verify_inclusion_applies_the_policy_of_the_enclosing_module() {
    let c = Chain::new();
    append(&c, 20, "i");
    let (w1, w2, w3) = three_witnesses(&c);
    pin_policy(&c, 2, &[&w1.vkey, &w2.vkey, &w3.vkey]);
    assert_eq!(checkpoint(&c, &[&w1]).code, 0);
    c.dir
        .run(&[
            "asset",
            "state",
            "inclusion-proof",
            &c.module,
            "--sequence",
            "7",
        ])
        .ok();
    let m = &c.module;
    let vi = |extra: &[&str]| {
        let mut args = vec![
            "--json".to_string(),
            "asset".into(),
            "state".into(),
            "verify-inclusion".into(),
            "--receipt".into(),
            format!("{m}/state/receipts/receipt.7.json"),
            "--proof".into(),
            format!("{m}/state/proofs/inclusion.7.json"),
            "--checkpoint".into(),
            format!("{m}/state/checkpoints/checkpoint.20.json"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        c.dir.run(&args)
    };
    // One of two required.
    let run = vi(&[]);
    assert_eq!(run.code, 68, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "unknown", "{r}");
    let codes: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["missing.witness_quorum"], "{r}");
    // Two: valid, the same as `asset state verify`.
    assert_eq!(checkpoint(&c, &[&w3]).code, 0);
    let run = vi(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json()["witness_policy"]["missing"],
        serde_json::json!(["example.org/w2"])
    );
    assert_eq!(verify(&c).code, 0);

    // A note of another history of this log, cosigned by a policy witness: a split view.
    let other = Chain::new();
    append(&other, 20, "other");
    let v = log_vkey(&other);
    assert_eq!(v, log_vkey(&c));
    drop(w1);
    let w1 = start_witness(&other.dir, "zone-a.jwk", "example.org/w1", "w1b", &v);
    assert_eq!(checkpoint(&other, &[&w1]).code, 0);
    let note = other.dir.join(&format!(
        "{}/state/checkpoints/checkpoint.20.note",
        other.module
    ));
    let note = note.to_str().unwrap();
    let run = vi(&["--note", note]);
    assert_eq!(run.code, 69, "{run:?}");
    let r = run.json();
    assert_eq!(r["verdict"], "invalid", "{r}");
    assert!(
        r["findings"]
            .to_string()
            .contains("fork.witness_split_view"),
        "{r}"
    );
}

#[test]
fn registry_issue_pins_a_witness_policy_and_an_origin_prefix() {
    let (dir, module) = Dir::asset_module(
        &["dev", "zone-a"],
        &["--trust-anchors", "trust-anchors.yaml"],
    );
    let did = |k: &str| dir.run(&["key", "did", k]).ok().trim().to_string();
    let (dev, zone) = (did("dev.jwk"), did("zone-a.jwk"));
    dir.write(
        &format!("{module}/trust-anchors.yaml"),
        format!(
            "version: 1\ntrust_anchors:\n  - anchor_id: operator\n    type: did\n    identifier: {dev}\n    allowed_attestations: [smart_asset_receipt, smart_asset_receipt_checkpoint, smart_asset_registry]\n  - anchor_id: harbor\n    type: did\n    identifier: {zone}\n    allowed_attestations: [smart_asset_receipt]\n    metadata: {{harbor_id: h1}}\n"
        ),
    );
    dir.write(
        "policy.yaml",
        "rules:\n  - transition_kind: 'never.*'\n    jurisdiction_scope: quorum\n    harbor_quorum: 1\n",
    );
    let c = Chain { dir, module };
    append(&c, 4, "r");
    let prefix = "example.org/registry";
    let origin = ORIGIN.replacen("msez", prefix, 1);
    let log = c
        .dir
        .run(&["key", "vkey", "--key", "dev.jwk", "--name", &origin])
        .ok()
        .trim()
        .to_string();
    let w = start_witness(&c.dir, "zone-a.jwk", "example.org/w", "w", &log);
    let issue = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "asset",
            "registry",
            "issue",
            "--asset",
            &c.module,
            "--jurisdiction",
            "h1",
            "--policy",
            "policy.yaml",
            "--key",
            "dev.jwk",
        ];
        args.extend_from_slice(extra);
        c.dir.run(&args)
    };
    // A bad vkey or quorum is refused before anything is signed.
    issue(&["--witness-quorum", "2", "--witness", &w.vkey]).code(64);
    issue(&["--witness-quorum", "1", "--witness", "w+00000000+AAAA"]).code(64);
    issue(&["--tlog-origin-prefix", "bad prefix"]).code(65);
    issue(&[
        "--witness-quorum",
        "1",
        "--witness",
        &w.vkey,
        "--tlog-origin-prefix",
        prefix,
    ])
    .ok();
    let vc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(c.dir.join(&format!("{}/registry.vc.json", c.module))).unwrap(),
    )
    .unwrap();
    assert_eq!(vc["credentialSubject"]["tlog_origin_prefix"], prefix);
    assert_eq!(vc["credentialSubject"]["witness_policy"]["quorum"], 1);
    let shown = c
        .dir
        .run(&["tlog", "origin", &c.module])
        .ok()
        .trim()
        .to_string();
    assert_eq!(shown, origin);
    // The VC's policy applies: not witnessed yet, then cosigned.
    let run = verify(&c);
    assert_eq!(run.code, 68, "{run:?}");
    let r = run.json();
    assert_eq!(codes(&r), ["missing.witness_quorum"], "{r}");
    assert!(
        r["witness_policy"]["pinned_in"]
            .as_str()
            .unwrap()
            .ends_with("registry.vc.json"),
        "{r}"
    );
    assert_eq!(checkpoint(&c, &[&w]).code, 0);
    let run = verify(&c);
    assert_eq!(run.code, 0, "{run:?}");
}
