//! `msez checkout CORRIDOR-ID` (issue 19): a clone of a corridor chain writes the module from
//! the module object `refs/corridors/<id>/module` names (verified against receipt 0), appends,
//! verifies and pushes; a forged module object is refused at fetch with nothing stored; trust
//! anchors are written only when the definition VC pins them.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::corridor::{CID, corridor_with, key};
use crate::util::{Dir, fixture_did};

fn remote_of(a: &Dir) -> (Dir, String) {
    let remote = Dir::new();
    let url = remote.path().join("r").to_str().unwrap().to_string();
    a.run(&["remote", "add", "origin", &url]).ok();
    a.run(&["push", "origin"]).ok();
    (remote, url)
}

fn clone(url: &str) -> Dir {
    let d = Dir::new();
    d.run(&["clone", url, d.path().to_str().unwrap()]).ok();
    d
}

fn append(d: &Dir, ts: &str) -> String {
    d.run(&[
        "corridor",
        "state",
        "receipt-init",
        CID,
        "--key",
        &key("zone-a"),
        "--key",
        &key("zone-b"),
        "--timestamp",
        ts,
    ])
    .ok()
    .to_string()
}

fn refs(d: &Dir) -> Value {
    d.run(&["refs", "--json"]).json()["refs"].clone()
}

fn module_ref() -> String {
    format!("refs/corridors/{CID}/module")
}

fn module_dir(d: &Dir) -> PathBuf {
    d.join("modules/corridors").join(CID)
}

/// Every file name under `dir` (recursively).
fn names_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_clone_checks_out_a_corridor_appends_verifies_and_a_second_clone_sees_it() {
    let (a, module, init) = corridor_with(2);
    // The append stored the module object beside the chain.
    let module_object = refs(&a)[module_ref()].as_str().unwrap().to_string();
    let (_remote, url) = remote_of(&a);
    let b = clone(&url);
    assert_eq!(refs(&b)[module_ref()], module_object.as_str());
    assert!(!module_dir(&b).exists());
    let status = b.run(&["--json", "status"]).json();
    assert_eq!(status["chains"][0]["corridor_id"], CID, "{status}");
    assert_eq!(status["chains"][0]["checked_out"], false, "{status}");
    assert!(
        b.run(&["status"])
            .ok()
            .contains(&format!("not checked out (msez checkout {CID})"))
    );
    // Completion offers the corridor id.
    assert!(b.run(&["__complete", "modules"]).ok().contains(CID));
    // A unique prefix of the corridor id will do.
    let out = b.run(&["--json", "checkout", "org.example.corr"]).json();
    assert_eq!(out["corridor_id"], CID);
    assert_eq!(out["genesis_root"], init["genesis_root"]);
    assert_eq!(out["receipts_written"], 2);
    assert_eq!(
        out["module_object"],
        format!("corridor-module:{module_object}")
    );
    let files: Vec<&str> = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["corridor.vc.json", "corridor.yaml"], "{out:#}");
    assert!(
        out["files"][0]["verified_by"]
            .as_str()
            .unwrap()
            .contains("receipt 0's prev_root"),
        "{out:#}"
    );
    assert!(
        out["notes"][0]
            .as_str()
            .unwrap()
            .contains("trust anchors not written"),
        "{out:#}"
    );
    let mb = module_dir(&b);
    for f in [
        "corridor.vc.json",
        "state/receipts/corridor-receipt.0.json",
        "state/receipts/corridor-receipt.1.json",
    ] {
        assert_eq!(
            std::fs::read(mb.join(f)).unwrap(),
            std::fs::read(module.join(f)).unwrap(),
            "{f}"
        );
    }
    let status = b.run(&["--json", "status"]).json();
    assert_eq!(status["chains"][0]["checked_out"], true, "{status}");
    assert_eq!(status["chains"][0]["head_in_worktree"], true, "{status}");
    assert_eq!(
        b.run(&["status"]).ok(),
        format!(
            "corridor {CID}: head {}\n  up to date with origin\n",
            refs(&b)[format!("refs/corridors/{CID}/head")]
                .as_str()
                .unwrap()
        )
    );
    // The clone appends, verifies and pushes; a second clone sees the receipt.
    let line = append(&b, "2026-01-01T00:01:00Z");
    assert!(line.starts_with("2 "), "{line}");
    let v = b
        .run(&["--json", "corridor", "state", "verify", CID])
        .json();
    assert_eq!(v["receipt_count"], 3, "{v:#}");
    assert_eq!(v["verdict"], "valid", "{v:#}");
    b.run(&["push", "origin"]).ok();
    let c = clone(&url);
    let head = format!("refs/corridors/{CID}/head");
    assert_eq!(refs(&c)[&head], refs(&b)[&head]);
    let out = c.run(&["--json", "checkout", CID]).json();
    assert_eq!(out["receipts_written"], 3);
    // Run again: everything is kept.
    let again = c.run(&["--json", "checkout", CID]).json();
    assert_eq!(again["receipts_kept"], 3);
    assert_eq!(again["receipts_written"], 0);
    c.run(&["corridor", "state", "verify", CID]).ok();
    // gc keeps the module object (its ref reaches it) and fsck checks it.
    c.run(&["gc"]).ok();
    assert!(
        c.join(&format!(
            ".msez/objects/corridor-module/{module_object}.bin"
        ))
        .is_file()
    );
    c.run(&["fsck"]).ok();
}

#[test]
fn a_repository_from_before_module_objects_stores_one_at_checkout_and_a_clone_of_it_says_what_is_missing()
 {
    let (a, _module, _init) = corridor_with(1);
    let stored = a.join(".msez").join(module_ref());
    assert!(stored.is_file());
    // As a repository made before msez stored module objects.
    std::fs::remove_file(&stored).unwrap();
    let (_remote, url) = remote_of(&a);
    let b = clone(&url);
    let run = b.run(&["--json", "checkout", CID]);
    run.code(68);
    assert_eq!(
        run.json()["error"]["code"],
        "missing.corridor_module",
        "{run:#?}"
    );
    assert!(!module_dir(&b).join("corridor.yaml").exists());
    // Where the module folder is, checkout stores the object; the next push sends it.
    let run = a.run(&["checkout", CID]);
    run.ok();
    assert!(run.stderr.contains("stored corridor-module:"), "{run:#?}");
    assert!(stored.is_file());
    a.run(&["push", "origin"]).ok();
    b.run(&["pull", "origin"]).ok();
    b.run(&["checkout", CID]).ok();
    b.run(&["corridor", "state", "verify", CID]).ok();
}

/// The bytes and digest of `a`'s module object.
fn module_object(a: &Dir) -> (String, Vec<u8>) {
    let d = refs(a)[module_ref()].as_str().unwrap().to_string();
    let bytes = std::fs::read(a.join(&format!(".msez/objects/corridor-module/{d}.bin"))).unwrap();
    (d, bytes)
}

/// Puts `bytes` on the remote as a module object and points the module ref at it.
fn plant(url: &str, bytes: &[u8]) -> String {
    plant_as(url, bytes, &module_ref())
}

/// Puts `bytes` on the remote as a module object and points module ref `name` at it.
fn plant_as(url: &str, bytes: &[u8], name: &str) -> String {
    let d = msez::canon::sha256(bytes).to_hex();
    let r = Path::new(url);
    std::fs::write(r.join(format!("objects/corridor-module/{d}.bin")), bytes).unwrap();
    std::fs::write(r.join(name), format!("{d}\n")).unwrap();
    d
}

fn refused_with_nothing_stored(b: &Dir, url: &str, forged: &str, why: &str) {
    let before = refs(b);
    let run = b.run(&["--json", "fetch", "origin"]);
    run.code(66);
    let error = &run.json()["error"];
    assert_eq!(error["code"], "digest.corridor_module", "{run:#?}");
    assert!(error["message"].as_str().unwrap().contains(why), "{run:#?}");
    assert_eq!(refs(b), before);
    assert!(
        !names_under(&b.join(".msez"))
            .iter()
            .any(|n| n.contains(forged)),
        "the forged object was stored"
    );
    // A clone of that remote fails whole and leaves nothing.
    let c = Dir::new();
    let target = c.join("c");
    c.run(&["clone", url, target.to_str().unwrap()]).code(66);
    assert!(!target.exists());
}

#[test]
fn a_forged_module_object_on_the_remote_is_refused_at_fetch_with_nothing_stored() {
    let (a, _module, _init) = corridor_with(1);
    let (_remote, url) = remote_of(&a);
    let b = clone(&url);
    let (_, bytes) = module_object(&a);
    // The definition VC edited, its digest left as it was.
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
    doc["definition"]["document"]["issuanceDate"] = "2027-01-01T00:00:00Z".into();
    let forged = plant(&url, &msez::canon::to_bytes(&doc).unwrap());
    refused_with_nothing_stored(&b, &url, &forged, "payload digest");
    // A whole, self-consistent module object of another definition (another signer) for the
    // same corridor id: its genesis root is not the one the chain starts at.
    let x = Dir::repo();
    x.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        &key("zone-a"),
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ])
    .ok();
    append(&x, "2026-01-01T00:00:01Z");
    let (_, other) = module_object(&x);
    let forged = plant(&url, &other);
    refused_with_nothing_stored(&b, &url, &forged, "receipt 0 of the chain extends");
}

#[test]
fn an_edited_agreement_in_the_module_object_is_refused_at_fetch() {
    // The reference fixture: a definition and a 2-of-2 agreement.
    let id = "org.momentum.msez.corridor.fixture.2of2";
    let fixture = crate::util::vectors().join("msez-fixtures/corridor_agreement_2of2");
    let a = Dir::repo();
    a.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        id,
        "--definition",
        fixture.join("corridor.vc.json").to_str().unwrap(),
        "--agreement",
        fixture.join("corridor.agreement.vc.json").to_str().unwrap(),
    ])
    .ok();
    a.run(&[
        "corridor",
        "state",
        "receipt-init",
        id,
        "--key",
        &key("zone-a"),
    ])
    .ok();
    let (_remote, url) = remote_of(&a);
    let b = clone(&url);
    let name = format!("refs/corridors/{id}/module");
    let d = refs(&a)[&name].as_str().unwrap().to_string();
    let bytes = std::fs::read(a.join(&format!(".msez/objects/corridor-module/{d}.bin"))).unwrap();
    // The agreement edited, and its digest in the object made to match the edit: the genesis
    // root the inputs give is no longer the one the object states (nor the chain's).
    let mut doc: Value = serde_json::from_slice(&bytes).unwrap();
    let agreement = &mut doc["agreements"][0];
    agreement["document"]["credentialSubject"]["note"] = "edited".into();
    let edited = msez::chain::corridor::payload_sha256(&agreement["document"]).unwrap();
    agreement["payload_sha256"] = edited.to_hex().into();
    let forged = plant_as(&url, &msez::canon::to_bytes(&doc).unwrap(), &name);
    refused_with_nothing_stored(&b, &url, &forged, "it states");
    // The genuine one checks out and verifies in the clone.
    plant_as(&url, &bytes, &name);
    b.run(&["fetch", "origin"]).ok();
    let out = b.run(&["--json", "checkout", id]).json();
    assert_eq!(
        out["files"][1]["path"],
        "agreements/corridor.agreement.vc.json"
    );
    b.run(&["corridor", "state", "verify", id]).ok();
}

/// A trust-anchors file allowing zone-a and zone-b every attestation.
fn anchors() -> String {
    let mut y = String::from("version: 1\ntrust_anchors:\n");
    for k in ["zone-a", "zone-b", "dev"] {
        y.push_str(&format!(
            "  - anchor_id: {k}\n    type: did\n    identifier: {}\n    allowed_attestations: ['*']\n",
            fixture_did(k)
        ));
    }
    y
}

/// A repository whose corridor module names trust-anchors.yaml, with a definition VC that pins
/// it (`pin`) or not, and one receipt.
fn corridor_with_anchors(pin: bool) -> Dir {
    let a = Dir::repo();
    let anchors = anchors();
    a.write("trust-anchors.yaml", &anchors);
    let mut definition_flags = vec!["--key".to_string(), key("dev")];
    if pin {
        // The reference's pin: raw file SHA-256 under credentialSubject.artifacts.
        let scratch = Dir::repo();
        scratch
            .run(&[
                "corridor",
                "module",
                "init",
                "--corridor-id",
                CID,
                "--key",
                &key("dev"),
                "--timestamp",
                "2026-01-01T00:00:00Z",
            ])
            .ok();
        let mut def: Value = serde_json::from_slice(
            &std::fs::read(module_dir(&scratch).join("corridor.vc.json")).unwrap(),
        )
        .unwrap();
        def.as_object_mut().unwrap().remove("proof");
        def["credentialSubject"]["artifacts"] = serde_json::json!({"trust_anchors": {
            "path": "trust-anchors.yaml",
            "sha256": msez::canon::sha256(anchors.as_bytes()).to_hex(),
        }});
        a.write("def.json", serde_json::to_vec(&def).unwrap());
        a.run(&[
            "vc",
            "sign",
            "def.json",
            "--key",
            &key("dev"),
            "--out",
            "def.json",
        ])
        .ok();
        definition_flags = vec!["--definition".into(), "def.json".into()];
    }
    let mut args = vec![
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--trust-anchors",
        "trust-anchors.yaml",
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ];
    args.extend(definition_flags.iter().map(String::as_str));
    a.run(&args).ok();
    std::fs::copy(
        a.join("trust-anchors.yaml"),
        module_dir(&a).join("trust-anchors.yaml"),
    )
    .unwrap();
    append(&a, "2026-01-01T00:00:01Z");
    a
}

#[test]
fn trust_anchors_the_definition_pins_are_written_at_checkout_and_unpinned_ones_are_not() {
    let a = corridor_with_anchors(true);
    let (_remote, url) = remote_of(&a);
    let b = clone(&url);
    let out = b.run(&["--json", "checkout", CID]).json();
    let anchors = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "trust-anchors.yaml")
        .unwrap_or_else(|| panic!("no trust anchors written: {out:#}"));
    assert!(
        anchors["verified_by"]
            .as_str()
            .unwrap()
            .contains("pinned by corridor.vc.json"),
        "{out:#}"
    );
    assert_eq!(
        std::fs::read(module_dir(&b).join("trust-anchors.yaml")).unwrap(),
        std::fs::read(module_dir(&a).join("trust-anchors.yaml")).unwrap()
    );
    let yaml = std::fs::read_to_string(module_dir(&b).join("corridor.yaml")).unwrap();
    assert!(
        yaml.contains("trust_anchors_path: trust-anchors.yaml"),
        "{yaml}"
    );
    // The clone's verify uses them (an append's signers are anchors).
    append(&b, "2026-01-01T00:00:02Z");
    let v = b
        .run(&["--json", "corridor", "state", "verify", CID])
        .json();
    assert_eq!(v["verdict"], "valid", "{v:#}");

    // Not pinned: the module's anchors file does not travel and is not written.
    let a = corridor_with_anchors(false);
    let (_remote, url) = remote_of(&a);
    let b = clone(&url);
    let run = b.run(&["checkout", CID]);
    run.ok();
    assert!(
        run.stderr.contains("the definition VC pins none"),
        "{run:#?}"
    );
    assert!(!module_dir(&b).join("trust-anchors.yaml").exists());
    let yaml = std::fs::read_to_string(module_dir(&b).join("corridor.yaml")).unwrap();
    assert!(!yaml.contains("trust_anchors"), "{yaml}");
}

#[test]
fn fsck_reports_a_module_ref_naming_another_chain_s_module() {
    let (a, _module, _init) = corridor_with(1);
    let x = Dir::repo();
    x.run(&[
        "corridor",
        "module",
        "init",
        "--corridor-id",
        CID,
        "--key",
        &key("zone-a"),
        "--timestamp",
        "2026-01-01T00:00:00Z",
    ])
    .ok();
    append(&x, "2026-01-01T00:00:01Z");
    let (d, other) = module_object(&x);
    let id = a.put("other.json", &other, "corridor-module");
    assert!(id.ends_with(&d), "{id}");
    a.run(&["update-ref", &module_ref(), &d]).ok();
    let run = a.run(&["fsck"]);
    run.code(66);
    assert!(
        run.stdout
            .contains("corridor module refs/corridors/org.example.corridor.a-b/module: its inputs give genesis root"),
        "{run:#?}"
    );
}
