//! Every canonical-bytes and digest vector, through the library and through the binary.

use msez::canon;
use serde_json::Value;

use crate::util::{Dir, vectors};

fn load(rel: &str) -> Value {
    let text = std::fs::read_to_string(vectors().join(rel)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn reference_canonical_bytes_fixtures_all_pass() {
    let doc = load("msez-fixtures/canonical_bytes.json");
    let cases = doc["test_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    let dir = Dir::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let bytes = canon::to_bytes(&case["input"]).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            case["canonical_utf8"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(&bytes),
            case["canonical_hex"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            canon::sha256(&bytes).to_hex(),
            case["sha256_digest"].as_str().unwrap(),
            "{name}"
        );
        // The binary agrees on pretty-printed input.
        let pretty = serde_json::to_string_pretty(&case["input"]).unwrap();
        let run = dir.run_stdin(&["canon", "-"], pretty.as_bytes());
        assert_eq!(
            run.ok(),
            case["canonical_utf8"].as_str().unwrap(),
            "{name} via msez canon"
        );
    }
}

#[test]
fn reference_cas_digest_fixtures_all_pass_and_resolve() {
    let doc = load("msez-fixtures/cas_digests.json");
    let cases = doc["artifacts"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    let dir = Dir::new();
    for case in cases {
        let t = case["artifact_type"].as_str().unwrap();
        let want = case["sha256_digest"].as_str().unwrap();
        let bytes = canon::to_bytes(&case["input"]).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            case["canonical_utf8"].as_str().unwrap()
        );
        // The fixture exercises the generic JCS rule whatever type it names (see vectors/SOURCE.md).
        let input = dir.write(
            &format!("{t}.json"),
            serde_json::to_vec_pretty(&case["input"]).unwrap(),
        );
        let run = dir.run(&["digest", "--type", "ruleset", input.to_str().unwrap()]);
        assert_eq!(run.ok().trim(), want, "{t}");
        // The store layout: dist/artifacts/<type>/<digest>.json resolves to exactly that file.
        let expected_path = case["expected_path"].as_str().unwrap();
        dir.write(expected_path, &bytes);
        let run = dir.run(&[
            "artifact",
            "resolve",
            &format!("{t}:{want}"),
            "--store-root",
            "dist/artifacts",
        ]);
        assert!(
            run.ok().trim().ends_with(expected_path),
            "{t}: {}",
            run.stdout
        );
    }
}

#[test]
fn derived_vectors_reproduce_at_the_canon_layer() {
    let d = load("msez-fixtures/derived_vectors.json");
    let genesis = &d["smart_asset_genesis"];
    let rule = canon::rule_for("smart-asset-genesis");
    let asset_id = rule.digest_json(&genesis["input"]).unwrap().to_hex();
    assert_eq!(asset_id, genesis["asset_id"].as_str().unwrap());
    let genesis_root = canon::digest_of(&serde_json::json!({
        "tag": "msez.smart-asset.state.genesis.v1", "asset_id": asset_id, "purpose": "core"
    }))
    .unwrap();
    assert_eq!(
        genesis_root.to_hex(),
        genesis["genesis_root_core"].as_str().unwrap()
    );

    let noop = &d["noop_transition_file"];
    let payload = &noop["envelope"]["payload"];
    assert_eq!(
        canon::payload_sha256(payload).unwrap().to_hex(),
        noop["payload_sha256"].as_str().unwrap()
    );

    let receipt = &d["asset_receipt_0"]["receipt"];
    let next_root = canon::rule_for("smart-asset-receipt")
        .digest_json(receipt)
        .unwrap();
    assert_eq!(next_root.to_hex(), receipt["next_root"].as_str().unwrap());

    let minimal = &d["minimal_corridor_receipt"];
    let next_root = canon::rule_for("corridor-receipt")
        .digest_json(&minimal["input"])
        .unwrap();
    assert_eq!(next_root.to_hex(), minimal["next_root"].as_str().unwrap());

    let snapshot = &d["transition_types_snapshot"];
    let lock = serde_json::json!({"snapshot": snapshot["input"]});
    let digest = canon::rule_for("transition-types")
        .digest_json(&lock)
        .unwrap();
    assert_eq!(digest.to_hex(), snapshot["digest"].as_str().unwrap());

    let hc = &d["corridor_head_commitment"];
    let i = &hc["input"];
    let parse = |k: &str| canon::Digest::parse_loose(i[k].as_str().unwrap()).unwrap();
    let got = canon::head_commitment(
        i["corridor_id"].as_str().unwrap(),
        &parse("genesis_root"),
        i["receipt_count"].as_u64().unwrap(),
        &parse("final_state_root"),
        &parse("mmr_root"),
    )
    .unwrap();
    assert_eq!(got.to_hex(), hc["digest"].as_str().unwrap());
}

#[test]
fn own_canon_vectors_all_pass() {
    let dir = vectors().join("msez/canon");
    let mut n = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    let work = Dir::new();
    for path in paths {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let input = case["input_json"].as_str().unwrap();
        let got = canon::canonicalize(input.as_bytes());
        let run = work.run_stdin(&["canon"], input.as_bytes());
        match case["want"].as_str().unwrap() {
            "valid" => {
                let bytes = got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(
                    hex::encode(&bytes),
                    case["canonical_hex"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    canon::sha256(&bytes).to_hex(),
                    case["sha256_digest"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(run.ok().as_bytes(), &bytes[..], "{name} via msez canon");
            }
            class => {
                let err = got.expect_err(&name);
                assert_eq!(msez::Classify::class(&err).name(), class, "{name}");
                run.code(65);
                assert!(run.stderr.starts_with("msez: "), "{name}: {}", run.stderr);
            }
        }
        n += 1;
    }
    assert!(n >= 16, "only {n} vectors found");
}
