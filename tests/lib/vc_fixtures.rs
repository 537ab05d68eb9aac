//! The credential layer against the reference fixtures, plus property tests.

use std::path::{Path, PathBuf};

use msez::canon::{self, Value};
use msez::vc::{self, Did, KeyPair};
use proptest::prelude::*;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/msez-fixtures")
}

fn load(rel: &str) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(canon::parse(&std::fs::read(fixtures().join(rel))?)?)
}

fn key(name: &str) -> Result<KeyPair, vc::Error> {
    KeyPair::load(&fixtures().join(format!("keys/{name}.ed25519.jwk")))
}

const VCS: [&str; 2] = [
    "corridor_agreement_2of2/corridor.vc.json",
    "corridor_agreement_2of2/corridor.agreement.vc.json",
];

#[test]
fn both_corridor_fixture_vcs_verify_with_three_signatures_in_all() -> TestResult {
    let mut total = 0;
    for rel in VCS {
        let results = vc::require_all_valid(&load(rel)?, rel)?;
        total += results.len();
    }
    assert_eq!(total, 3);
    Ok(())
}

#[test]
fn the_fixture_signing_inputs_have_the_documented_digests() -> TestResult {
    let definition = canon::sha256(&vc::signing_input(&load(VCS[0])?)?).to_hex();
    assert_eq!(
        definition,
        "58cba8e47a792561985dd5bc5a04322ca9166c20ef0c0ddad8a40df7053450eb"
    );
    let agreement = canon::sha256(&vc::signing_input(&load(VCS[1])?)?).to_hex();
    assert_eq!(
        agreement,
        "df55e8a5948adb96e009a965f50ef91da3f7bae131461c734b7d35ca00013e04"
    );
    Ok(())
}

#[test]
fn re_signing_the_fixtures_reproduces_every_jws() -> TestResult {
    let keys = [key("dev")?, key("zone-a")?, key("zone-b")?];
    for rel in VCS {
        let signed = load(rel)?;
        let mut bare = signed.clone();
        bare.as_object_mut()
            .ok_or("fixture is an object")?
            .remove("proof");
        for proof in vc::proof::proofs_of(&signed) {
            let vm = proof["verificationMethod"].as_str().ok_or("vm")?;
            let signer = keys
                .iter()
                .find(|k| vm.starts_with(k.did().as_str()))
                .ok_or("a fixture key signed it")?;
            let created = proof["created"].as_str().ok_or("created")?;
            let ours =
                vc::proof::sign(&bare, &signer.clone().with_verification_method(vm), created)?;
            assert_eq!(&ours.to_value(), proof, "{rel}: {vm}");
        }
    }
    Ok(())
}

#[test]
fn the_derived_dev_key_signature_vector_matches() -> TestResult {
    let vectors = load("derived_vectors.json")?;
    let case = &vectors["dev_key_signature"];
    let signer = KeyPair::load(&fixtures().join(case["key"].as_str().ok_or("key path")?))?;
    let proof = vc::proof::sign(&case["signed_object"], &signer, "2026-01-01T00:00:00Z")?;
    assert_eq!(proof.jws, case["jws"].as_str().ok_or("jws")?);
    Ok(())
}

#[test]
fn the_dev_key_is_the_documented_did_key() -> TestResult {
    let dev = key("dev")?;
    assert_eq!(
        dev.did().as_str(),
        "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze"
    );
    assert_eq!(
        dev.verification_method(),
        "did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze#key-1"
    );
    assert_eq!(
        Did::parse("did:key:z6MkiwVVR6BAAnxmH8sLxKpzGaMCjZJZU2pqNEKiJz6ef8ze#x")?,
        dev.did()
    );
    Ok(())
}

#[test]
fn the_agreement_signers_are_both_zone_keys() -> TestResult {
    let results = vc::verify_proofs(&load(VCS[1])?)?;
    let mut expected = vec![key("zone-a")?.did(), key("zone-b")?.did()];
    expected.sort();
    assert_eq!(vc::valid_signers(&results), expected);
    Ok(())
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z\u{e9}\u{2028}]{0,6}", arb_json(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().filter(|(k, _)| k != "proof").collect()))
}

fn proof_field(seeds: &[u8], shape: u8) -> Value {
    let obj = json!({"id": "urn:x"});
    let proofs: Vec<Value> = seeds
        .iter()
        .map(|s| {
            let k = KeyPair::from_seed(&[*s; 32], None);
            vc::proof::sign(&obj, &k, "2026-01-01T00:00:00Z")
                .expect("signs")
                .to_value()
        })
        .collect();
    match (shape % 3, proofs.len()) {
        (0, 1) => proofs[0].clone(),
        (1, 0) => Value::Null,
        _ => Value::Array(proofs),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn merging_proofs_is_commutative_and_idempotent(
        a in prop::collection::vec(0u8..6, 0..4), sa in any::<u8>(),
        b in prop::collection::vec(0u8..6, 0..4), sb in any::<u8>(),
    ) {
        let (a, b) = (proof_field(&a, sa), proof_field(&b, sb));
        let ab = vc::merge_proofs(&a, &b);
        prop_assert_eq!(&ab, &vc::merge_proofs(&b, &a));
        prop_assert_eq!(&vc::merge_proofs(&ab, &ab), &ab);
        prop_assert_eq!(&vc::merge_proofs(&ab, &b), &ab);
        prop_assert_eq!(&vc::merge_proofs(&a, &ab), &ab);
    }

    #[test]
    fn signing_then_verifying_any_object_round_trips(obj in arb_object(), seed in any::<[u8; 32]>(), extra in any::<bool>()) {
        let mut obj = obj;
        let signer = KeyPair::from_seed(&seed, None);
        vc::add_proof_at(&mut obj, &signer, "2026-01-01T00:00:00Z").expect("signs");
        if extra {
            vc::add_proof_at(&mut obj, &KeyPair::from_seed(&[7; 32], None), "2026-01-02T00:00:00Z").expect("signs");
        }
        let results = vc::verify_proofs(&obj).expect("canonical");
        prop_assert!(vc::all_valid(&results));
        prop_assert_eq!(results.len(), if extra { 2 } else { 1 });
        // Re-serialising and re-parsing (key order, whitespace) must not change the verdict.
        let reparsed = canon::parse(serde_json::to_string_pretty(&obj).expect("serializes").as_bytes()).expect("parses");
        prop_assert!(vc::all_valid(&vc::verify_proofs(&reparsed).expect("canonical")));
    }
}

#[test]
fn the_fixture_vcs_have_the_credential_shape_and_their_proofs_the_proof_shape() -> TestResult {
    for rel in VCS {
        let v = load(rel)?;
        vc::check_credential(&v, rel)?;
        for proof in vc::proof::proofs_of(&v) {
            msez::schema::validate("proof.schema.json", proof, rel)?;
        }
    }
    assert!(vc::check_credential(&json!({"type": ["X"]}), "bare").is_err());
    Ok(())
}
