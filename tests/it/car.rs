//! `msez artifact graph export|import --car`: a closure as CARv1 and back, and what import
//! refuses. The cross-check with @ipld/car and js-ipfs is `remote::ipfs_car_*`.

use crate::util::Dir;

pub(crate) fn aref(id: &str) -> String {
    let (t, d) = id.split_once(':').unwrap();
    format!(r#"{{"artifact_type":"{t}","digest_sha256":"{d}"}}"#)
}

/// A root that embeds a schema and a blob, a co-signed credential and an unrelated object.
pub(crate) fn closure_repo() -> (Dir, String, Vec<String>) {
    let a = Dir::repo();
    let dep = a.put("dep.json", r#"{"title":"dep"}"#, "schema");
    let blob = a.put("b.bin", b"\x00car bytes\xff", "blob");
    let vc = r#"{"@context":["https://www.w3.org/2018/credentials/v1"],"type":["VerifiableCredential"],"issuer":"did:key:z6Mkissuer","credentialSubject":{"n":"1"}}"#;
    let signed = |who: &str| {
        let mut v: serde_json::Value = serde_json::from_str(vc).unwrap();
        v["proof"] = serde_json::json!({"type":"MsezEd25519Signature2025",
            "verificationMethod":format!("did:key:z6Mk{who}#key-1"),"jws":format!("sig-{who}")});
        v.to_string()
    };
    let cred = a.put("vc1.json", signed("alice"), "vc");
    assert_eq!(a.put("vc2.json", signed("bob"), "vc"), cred);
    let root = a.put(
        "root.json",
        format!(
            r#"{{"dep":{},"blob":{},"cred":{}}}"#,
            aref(&dep),
            aref(&blob),
            aref(&cred)
        ),
        "schema",
    );
    a.put("other.json", r#"{"not":"in the closure"}"#, "schema");
    (a, root.clone(), vec![root, dep, blob, cred])
}

fn import(car: &std::path::Path) -> (Dir, crate::util::Run) {
    let b = Dir::repo();
    let run = b.run(&[
        "--json",
        "artifact",
        "graph",
        "import",
        "--car",
        car.to_str().unwrap(),
    ]);
    (b, run)
}

#[test]
fn a_closure_round_trips_through_a_car_file_with_its_proofs() {
    let (a, root, members) = closure_repo();
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
    assert_eq!(out["objects"], 4, "{out}");
    assert_eq!(out["proofs"], 1, "{out}");
    assert!(out["root_cid"].as_str().unwrap().starts_with("bafkrei"));
    let (b, run) = import(&car);
    let report = run.json();
    assert_eq!(report["objects_stored"], 4, "{report}");
    assert_eq!(
        report["blocks"], 6,
        "manifest + 4 objects + 1 proof file: {report}"
    );
    for id in &members {
        assert_eq!(b.run(&["show", id, "--json"]).code, 0, "{id}");
    }
    let shown = b.run(&["show", &members[3], "--json"]).json();
    assert_eq!(shown["value"]["proof"].as_array().unwrap().len(), 2);
    b.run(&["fsck"]).ok();
    // Twice is a no-op; the same bytes come out of the clone.
    assert_eq!(import_into(&b, &car)["objects_present"], 4);
    let car2 = b.join("c2.car");
    b.run(&[
        "artifact",
        "graph",
        "export",
        "--root",
        &root,
        "--car",
        car2.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(std::fs::read(&car).unwrap(), std::fs::read(&car2).unwrap());
}

fn import_into(b: &Dir, car: &std::path::Path) -> serde_json::Value {
    b.run(&[
        "--json",
        "artifact",
        "graph",
        "import",
        "--car",
        car.to_str().unwrap(),
    ])
    .json()
}

#[test]
fn import_refuses_a_changed_block_and_a_lying_manifest_and_stores_nothing() {
    let (a, root, _) = closure_repo();
    let car = a.join("c.car");
    a.run(&[
        "artifact",
        "graph",
        "export",
        "--root",
        &root,
        "--car",
        car.to_str().unwrap(),
    ])
    .ok();
    let bytes = std::fs::read(&car).unwrap();
    // One byte of the blob's block changed: its hash no longer matches its CID.
    let at = bytes
        .windows(9)
        .position(|w| w == b"car bytes")
        .expect("the blob is in the CAR");
    let mut bad = bytes.clone();
    bad[at] ^= 0x20;
    let bad_car = a.join("bad.car");
    std::fs::write(&bad_car, &bad).unwrap();
    let (b, run) = import(&bad_car);
    assert_eq!(run.code, 66, "{run:#?}");
    assert_eq!(run.json()["error"]["code"], "digest.car_block_mismatch");
    assert!(!b.join(".msez/objects/schema").exists(), "nothing stored");

    // A well-formed CAR whose manifest swaps two blocks: every block hash holds, but the
    // blocks do not give the digests the manifest names.
    let start = bytes
        .windows(20)
        .position(|w| w == b"{\"msez_car_manifest\"")
        .unwrap();
    let len = bytes[start..].iter().position(|b| *b == b'\n').unwrap() + 1;
    let manifest = std::str::from_utf8(&bytes[start..start + len]).unwrap();
    let v: serde_json::Value = serde_json::from_str(manifest).unwrap();
    let c0 = v["objects"][0]["cid"].as_str().unwrap();
    let c1 = v["objects"][1]["cid"].as_str().unwrap();
    let swapped = manifest.replace(c0, "@").replace(c1, c0).replace('@', c1);
    let cid = |b: &[u8]| msez::car::raw_cid(&msez::canon::sha256(b)).to_bytes();
    let (old, new) = (cid(manifest.as_bytes()), cid(swapped.as_bytes()));
    let mut lied = bytes[..start].to_vec();
    lied.extend_from_slice(swapped.as_bytes());
    lied.extend_from_slice(&bytes[start + len..]);
    let mut i = 0;
    while let Some(p) = lied[i..].windows(old.len()).position(|w| w == old) {
        lied[i + p..i + p + old.len()].copy_from_slice(&new);
        i += p + old.len();
    }
    let lied_car = a.join("lied.car");
    std::fs::write(&lied_car, &lied).unwrap();
    let (b, run) = import(&lied_car);
    assert_eq!(run.code, 66, "{run:#?}");
    assert_eq!(run.json()["error"]["code"], "digest.car_entry_mismatch");
    assert!(!b.join(".msez/objects/schema").exists(), "nothing stored");
}

#[test]
fn export_of_an_incomplete_closure_names_the_missing_member() {
    let a = Dir::repo();
    let ghost = format!("schema:{}", "ab".repeat(32));
    let root = a.put("r.json", format!(r#"{{"x":{}}}"#, aref(&ghost)), "schema");
    let run = a.run(&[
        "artifact", "graph", "export", "--root", &root, "--car", "x.car",
    ]);
    assert_eq!(run.code, 68, "{run:#?}");
    assert!(run.stderr.contains(&ghost), "{}", run.stderr);
}
