//! `vc verify` on the one verdict model (issue 16, item 4): every failing proof is a finding,
//! the verdict is by precedence, and the exit code follows it; `error` stays the first failure.

use crate::util::{Dir, fixture_key};

/// An object signed twice by the dev key, as `signed.json`.
fn signed_twice(dir: &Dir) {
    dir.write("obj.json", br#"{"id":"urn:example:obj:1","hello":"world"}"#);
    let key = fixture_key("dev");
    let key = key.to_str().unwrap();
    dir.run(&["vc", "sign", "obj.json", "--key", key, "--out", "once.json"])
        .ok();
    dir.run(&[
        "vc",
        "sign",
        "once.json",
        "--key",
        key,
        "--out",
        "signed.json",
    ])
    .ok();
}

#[test]
fn vc_verify_reports_every_failing_proof_as_a_finding_with_a_verdict() {
    let dir = Dir::new();
    signed_twice(&dir);
    let run = dir.run(&["vc", "verify", "signed.json", "--json"]);
    run.code(0);
    let v = run.json();
    assert_eq!(v["verdict"], "valid", "{v:#}");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v:#}");

    // Both proofs broken: two findings, not only the first.
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("signed.json")).unwrap()).unwrap();
    let proofs = doc["proof"].as_array_mut().unwrap();
    assert_eq!(proofs.len(), 2);
    for p in proofs.iter_mut() {
        let sig = p["jws"].as_str().unwrap().to_string();
        let flipped = if &sig[10..11] == "A" { "B" } else { "A" };
        p["jws"] = format!("{}{flipped}{}", &sig[..10], &sig[11..]).into();
    }
    dir.write("bad.json", serde_json::to_vec_pretty(&doc).unwrap());
    let run = dir.run(&["vc", "verify", "bad.json", "--json"]);
    run.code(67);
    let v = run.json();
    assert_eq!(v["verdict"], "invalid", "{v:#}");
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{v:#}");
    assert!(findings.iter().all(|f| f["effect"] == "invalid"), "{v:#}");
    // The legacy single error is kept, and is one of them.
    assert!(
        findings.iter().any(|f| f["code"] == v["error"]["code"]),
        "{v:#}"
    );
}
