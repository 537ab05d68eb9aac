//! `msez key` and `msez vc` through the real binary: outputs, exit codes, messages.

// Fixtures are written, and damaged, with plain std::fs on purpose: the one write protocol
// (src/fs.rs, clippy.toml) binds the crate, not the files its tests forge.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn msez(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_msez"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("msez runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dev_key() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/msez-fixtures/keys/dev.ed25519.jwk")
}

/// A temp dir with `signed.json`, signed by the dev key.
fn signed_dir() -> Result<(tempfile::TempDir, Value), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("obj.json"),
        br#"{"id":"urn:example:obj:1","hello":"world"}"#,
    )?;
    let key = dev_key();
    let o = msez(
        dir.path(),
        &[
            "vc",
            "sign",
            "obj.json",
            "--key",
            key.to_str().ok_or("utf8")?,
            "--out",
            "signed.json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let signed: Value = serde_json::from_slice(&std::fs::read(dir.path().join("signed.json"))?)?;
    Ok((dir, signed))
}

/// Writes `obj` as bad.json and runs `vc verify` on it.
fn verify_mutant(dir: &Path, obj: &Value) -> Result<Output, Box<dyn std::error::Error>> {
    std::fs::write(dir.join("bad.json"), serde_json::to_vec_pretty(obj)?)?;
    Ok(msez(dir, &["vc", "verify", "bad.json"]))
}

#[test]
fn key_gen_writes_a_private_0600_key_and_prints_its_did() -> TestResult {
    let dir = tempfile::tempdir()?;
    let o = msez(
        dir.path(),
        &["key", "gen", "--out", "k.jwk", "--kid", "zone-a"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let did = stdout(&o).trim().to_string();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(dir.path().join("k.jwk"))?
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let jwk: Value = serde_json::from_slice(&std::fs::read(dir.path().join("k.jwk"))?)?;
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["kid"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("zone-a"))
    );
    let again = msez(dir.path(), &["key", "did", "k.jwk"]);
    assert_eq!(stdout(&again).trim(), did);
    let clobber = msez(dir.path(), &["key", "gen", "--out", "k.jwk"]);
    assert_eq!(clobber.status.code(), Some(70));
    assert!(
        stderr(&clobber).contains("refusing to overwrite"),
        "{}",
        stderr(&clobber)
    );
    Ok(())
}

#[test]
fn key_did_of_the_dev_key_is_the_reference_did() {
    let o = msez(
        Path::new("."),
        &["key", "did", dev_key().to_str().expect("utf8")],
    );
    assert_eq!(
        stdout(&o).trim(),
        "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze"
    );
}

#[test]
fn a_signed_object_verifies_and_reports_as_json() -> TestResult {
    let (dir, signed) = signed_dir()?;
    assert_eq!(
        signed["proof"]["jws"],
        "xXVNN-AhebdBzqeLAsf_eKuiMRy_u5dKXADS9HKTE1AJKjgR_08B8fm8mnovbMJgXR4yak_SVF5qg4-XwcwlCQ"
    );
    let o = msez(dir.path(), &["vc", "verify", "signed.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("OK: 1 of 1 proofs valid"));
    let o = msez(dir.path(), &["--json", "vc", "verify", "signed.json"]);
    let report: Value = serde_json::from_slice(&o.stdout)?;
    assert_eq!(report["ok"], json!(true));
    assert_eq!(report["proofs"][0]["ok"], json!(true));
    Ok(())
}

#[test]
fn signing_twice_makes_a_proof_list_that_verifies() -> TestResult {
    let (dir, _) = signed_dir()?;
    let key = tempfile::tempdir()?;
    let k = key.path().join("k.jwk");
    assert!(
        msez(
            dir.path(),
            &["key", "gen", "--out", k.to_str().ok_or("utf8")?]
        )
        .status
        .success()
    );
    let o = msez(
        dir.path(),
        &[
            "vc",
            "sign",
            "signed.json",
            "--key",
            k.to_str().ok_or("utf8")?,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let twice: Value = serde_json::from_slice(&o.stdout)?;
    assert_eq!(twice["proof"].as_array().map(Vec::len), Some(2));
    let o = verify_mutant(dir.path(), &twice)?;
    assert!(o.status.success(), "{}", stderr(&o));
    Ok(())
}

#[test]
fn an_unknown_proof_type_exits_67_naming_the_type() -> TestResult {
    let (dir, mut obj) = signed_dir()?;
    obj["proof"]["type"] = json!("Ed25519Signature2020");
    let o = verify_mutant(dir.path(), &obj)?;
    assert_eq!(o.status.code(), Some(67));
    assert!(
        stderr(&o).contains("Unsupported proof.type: Ed25519Signature2020"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn a_truncated_signature_exits_67_with_its_length() -> TestResult {
    let (dir, mut obj) = signed_dir()?;
    let sig = URL_SAFE_NO_PAD.decode(obj["proof"]["jws"].as_str().ok_or("jws")?)?;
    obj["proof"]["jws"] = json!(URL_SAFE_NO_PAD.encode(&sig[..48]));
    let o = verify_mutant(dir.path(), &obj)?;
    assert_eq!(o.status.code(), Some(67));
    assert!(
        stderr(&o).contains("Ed25519 signature must be 64 bytes, got 48"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn a_non_did_key_verification_method_exits_67() -> TestResult {
    let (dir, mut obj) = signed_dir()?;
    obj["proof"]["verificationMethod"] = json!("did:web:example.com#key-1");
    let o = verify_mutant(dir.path(), &obj)?;
    assert_eq!(o.status.code(), Some(67));
    assert!(
        stderr(&o).contains("Only did:key verificationMethod is supported"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn a_flipped_signature_byte_exits_67() -> TestResult {
    let (dir, mut obj) = signed_dir()?;
    let mut sig = URL_SAFE_NO_PAD.decode(obj["proof"]["jws"].as_str().ok_or("jws")?)?;
    sig[0] ^= 0x80;
    obj["proof"]["jws"] = json!(URL_SAFE_NO_PAD.encode(&sig));
    let o = verify_mutant(dir.path(), &obj)?;
    assert_eq!(o.status.code(), Some(67));
    assert!(
        stderr(&o).contains("signature verification failed"),
        "{}",
        stderr(&o)
    );
    let o = msez(dir.path(), &["--json", "vc", "verify", "bad.json"]);
    let report: Value = serde_json::from_slice(&o.stdout)?;
    assert_eq!(report["error"]["code"], "signature.invalid");
    Ok(())
}

#[test]
fn a_float_in_the_signed_body_exits_65() -> TestResult {
    let (dir, _) = signed_dir()?;
    let text = std::fs::read_to_string(dir.path().join("signed.json"))?.replace("\"world\"", "1.5");
    std::fs::write(dir.path().join("bad.json"), text)?;
    let o = msez(dir.path(), &["vc", "verify", "bad.json"]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stderr(&o).contains("floats are not allowed"),
        "{}",
        stderr(&o)
    );
    Ok(())
}

#[test]
fn an_object_without_proofs_exits_67() -> TestResult {
    let (dir, _) = signed_dir()?;
    let o = msez(dir.path(), &["vc", "verify", "obj.json"]);
    assert_eq!(o.status.code(), Some(67));
    assert!(stderr(&o).contains("no proofs present"), "{}", stderr(&o));
    let o = verify_mutant(dir.path(), &json!({"a": 1, "proof": []}))?;
    assert_eq!(o.status.code(), Some(67));
    Ok(())
}

#[test]
fn trust_anchors_decide_which_attestations_a_signer_may_make() -> TestResult {
    let (dir, _) = signed_dir()?;
    std::fs::write(
        dir.path().join("ta.yaml"),
        "version: 1\ntrust_anchors:\n  - anchor_id: dev\n    type: did\n    identifier: did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze#key-1\n    allowed_attestations: [corridor_definition]\n",
    )?;
    let ok = msez(
        dir.path(),
        &[
            "vc",
            "verify",
            "signed.json",
            "--trust-anchors",
            "ta.yaml",
            "--attestation",
            "corridor_definition",
        ],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    let no = msez(
        dir.path(),
        &[
            "vc",
            "verify",
            "signed.json",
            "--trust-anchors",
            "ta.yaml",
            "--attestation",
            "corridor_receipt",
        ],
    );
    assert_eq!(no.status.code(), Some(67));
    assert!(stderr(&no).contains("trust anchor"), "{}", stderr(&no));
    Ok(())
}
