//! Runs the real `msez mmr` plumbing on the vector inputs and checks stdout and exit codes.

// Fixtures are written, and damaged, with plain std::fs on purpose: the one write protocol
// (src/fs.rs, clippy.toml) binds the crate, not the files its tests forge.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn msez(args: &[&str]) -> Result<Run> {
    let out = Command::new(env!("CARGO_BIN_EXE_msez"))
        .args(args)
        .output()?;
    Ok(Run {
        code: out.status.code().ok_or("killed by a signal")?,
        stdout: String::from_utf8(out.stdout)?,
        stderr: String::from_utf8(out.stderr)?,
    })
}

fn load(rel: &str) -> Result<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(rel);
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

fn strings(v: &Value) -> Result<Vec<String>> {
    let items = v.as_array().ok_or("not an array")?;
    items
        .iter()
        .map(|s| Ok(s.as_str().ok_or("not a string")?.to_string()))
        .collect()
}

/// A temp dir with the fixture's next_roots (`leaves.txt`) and the RFC tree's leaf data (`data.txt`).
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Result<Self> {
        let dir = Dir(tempfile::tempdir()?);
        let next_roots = strings(&load("msez-fixtures/mmr_roots.json")?["next_roots"])?;
        dir.write("leaves.txt", &(next_roots.join("\n") + "\n"))?;
        dir.write("leaves9.txt", &(next_roots[..9].join("\n") + "\n"))?;
        let data = strings(&load("rfc6962/inclusion.json")?["leaves"])?;
        dir.write("data.txt", &(data.join("\n") + "\n"))?;
        Ok(dir)
    }

    fn write(&self, name: &str, text: &str) -> Result<String> {
        let path = self.path(name);
        std::fs::write(&path, text)?;
        Ok(path.to_string_lossy().into_owned())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

#[test]
fn root_of_the_fixture_leaves_is_the_size_17_root() -> Result {
    let dir = Dir::new()?;
    let run = msez(&["mmr", "root", "--leaves", &dir.arg("leaves.txt")])?;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "338734a36416c5153c1a46812c5b3c2bfc3a4fa688beae56eb6ae8447143db2e"
    );
    let run = msez(&["--json", "mmr", "root", "--leaves", &dir.arg("leaves9.txt")])?;
    let doc: Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(doc["size"], 9);
    assert_eq!(
        doc["root"],
        "2cbf59819f3070f62601d1e0c47af000896f1c7bcb3f1e421c9bcdbf6c20ef09"
    );
    assert_eq!(doc["peaks"].as_array().map(Vec::len), Some(2));
    Ok(())
}

#[test]
fn root_of_leaf_data_is_the_rfc6962_root_and_empty_is_sha256_of_nothing() -> Result {
    let dir = Dir::new()?;
    let run = msez(&["mmr", "root", "--leaf-data", &dir.arg("data.txt")])?;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    let empty = dir.write("empty.txt", "")?;
    let run = msez(&["mmr", "root", "--leaf-data", &empty])?;
    assert_eq!(
        run.stdout.trim(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let run = msez(&["mmr", "root", "--leaves", &empty])?;
    assert_eq!(run.code, 64, "an MSEZ tree needs a leaf");
    Ok(())
}

#[test]
fn a_bad_leaves_line_is_a_schema_error() -> Result {
    let dir = Dir::new()?;
    let bad = dir.write("bad.txt", &format!("{}\nnot-hex\n", "ab".repeat(32)))?;
    let run = msez(&["mmr", "root", "--leaves", &bad])?;
    assert_eq!(run.code, 65);
    assert!(run.stderr.contains("line 2"), "{}", run.stderr);
    Ok(())
}

#[test]
fn every_proof_of_a_nine_leaf_tree_verifies_through_the_cli() -> Result {
    let dir = Dir::new()?;
    for index in 0..9 {
        let run = msez(&[
            "mmr",
            "prove",
            "--leaves",
            &dir.arg("leaves9.txt"),
            "--index",
            &index.to_string(),
        ])?;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let proof: Value = serde_json::from_str(&run.stdout)?;
        assert_eq!(proof["leaf_index"], index);
        let file = dir.write("proof.json", &run.stdout)?;
        let run = msez(&["mmr", "verify", "--proof", &file])?;
        assert_eq!((run.code, run.stdout.trim()), (0, "OK"), "{}", run.stderr);
    }
    let run = msez(&[
        "mmr",
        "prove",
        "--leaves",
        &dir.arg("leaves9.txt"),
        "--index",
        "9",
    ])?;
    assert_eq!(run.code, 64);
    Ok(())
}

#[test]
fn a_mutated_proof_exits_66_and_a_malformed_one_exits_65() -> Result {
    let dir = Dir::new()?;
    let run = msez(&[
        "mmr",
        "prove",
        "--leaves",
        &dir.arg("leaves9.txt"),
        "--index",
        "3",
    ])?;
    let good: Value = serde_json::from_str(&run.stdout)?;

    let mut flipped = good.clone();
    let h = flipped["path"][0]["hash"]
        .as_str()
        .ok_or("hash")?
        .to_string();
    let first = if h.starts_with('0') { "1" } else { "0" };
    flipped["path"][0]["hash"] = Value::String(format!("{first}{}", &h[1..]));
    let file = dir.write("flipped.json", &flipped.to_string())?;
    let run = msez(&["mmr", "verify", "--proof", &file])?;
    assert_eq!(run.code, 66, "{}", run.stderr);
    assert!(run.stderr.contains("mmr root mismatch"), "{}", run.stderr);
    let run = msez(&["--json", "mmr", "verify", "--proof", &file])?;
    assert_eq!(run.code, 66);
    let doc: Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(doc["verdict"], "invalid");
    assert_eq!(doc["reason"]["code"], "digest.mmr_root_mismatch");

    let mut wrong_leaf = good.clone();
    wrong_leaf["receipt_next_root"] = Value::String("00".repeat(32));
    let file = dir.write("leaf.json", &wrong_leaf.to_string())?;
    assert_eq!(msez(&["mmr", "verify", "--proof", &file])?.code, 66);

    for (field, value) in [
        ("size", serde_json::json!("9")),
        ("leaf_index", serde_json::json!(9)),
        ("peak_height", serde_json::json!(2)),
        ("path", serde_json::json!([])),
        ("root", serde_json::json!("xyz")),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let file = dir.write("bad.json", &bad.to_string())?;
        let run = msez(&["mmr", "verify", "--proof", &file])?;
        assert_eq!(run.code, 65, "{field}: {}", run.stderr);
    }
    let file = dir.write("garbage.json", "{\"size\": 9,")?;
    assert_eq!(msez(&["mmr", "verify", "--proof", &file])?.code, 65);
    Ok(())
}

#[test]
fn verify_inclusion_agrees_with_every_rfc6962_vector_that_has_leaf_data() -> Result {
    let dir = Dir::new()?;
    let doc = load("rfc6962/inclusion.json")?;
    let mut ran = 0;
    for v in doc["vectors"].as_array().ok_or("vectors")? {
        let (Some(data), Some(root)) = (v["leaf_data"].as_str(), v["root"].as_str()) else {
            continue;
        };
        let id = v["id"].as_str().ok_or("id")?;
        let proof = dir.write("path.json", &v["proof"].to_string())?;
        let (size, index) = (v["tree_size"].to_string(), v["index"].to_string());
        let run = msez(&[
            "mmr",
            "verify-inclusion",
            "--size",
            &size,
            "--index",
            &index,
            "--leaf-data",
            data,
            "--root",
            root,
            "--proof",
            &proof,
        ])?;
        if v["expected"] == "valid" {
            assert_eq!(run.code, 0, "{id}: {}", run.stderr);
        } else {
            assert!(
                [64, 65, 66].contains(&run.code),
                "{id}: exit {} {}",
                run.code,
                run.stderr
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 84);
    Ok(())
}

#[test]
fn consistency_prints_the_reference_proofs() -> Result {
    let dir = Dir::new()?;
    let doc = load("rfc6962/consistency.json")?;
    let mut ran = 0;
    for v in doc["vectors"].as_array().ok_or("vectors")? {
        if v["generate_exact"] != true {
            continue;
        }
        let (old, new) = (v["size1"].to_string(), v["size2"].to_string());
        let run = msez(&[
            "mmr",
            "consistency",
            "--leaf-data",
            &dir.arg("data.txt"),
            "--old",
            &old,
            "--new",
            &new,
        ])?;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let got: Value = serde_json::from_str(&run.stdout)?;
        assert_eq!(got, v["proof"], "{}", v["id"]);
        ran += 1;
    }
    assert_eq!(ran, 4);
    let run = msez(&[
        "mmr",
        "consistency",
        "--leaf-data",
        &dir.arg("data.txt"),
        "--old",
        "3",
        "--new",
        "9",
    ])?;
    assert_eq!(run.code, 64, "more leaves than given");
    Ok(())
}

#[test]
fn verify_consistency_agrees_with_every_rfc6962_vector_with_full_size_roots() -> Result {
    let dir = Dir::new()?;
    let doc = load("rfc6962/consistency.json")?;
    let mut ran = 0;
    for v in doc["vectors"].as_array().ok_or("vectors")? {
        if v["nonstandard_hash_lengths"] == true {
            continue;
        }
        let id = v["id"].as_str().ok_or("id")?;
        let (r1, r2) = (
            v["root1"].as_str().ok_or("root1")?,
            v["root2"].as_str().ok_or("root2")?,
        );
        let proof = dir.write("c.json", &v["proof"].to_string())?;
        let (old, new) = (v["size1"].to_string(), v["size2"].to_string());
        let run = msez(&[
            "mmr",
            "verify-consistency",
            "--old",
            &old,
            "--old-root",
            r1,
            "--new",
            &new,
            "--new-root",
            r2,
            "--proof",
            &proof,
        ])?;
        if v["expected"] == "valid" {
            assert_eq!(run.code, 0, "{id}: {}", run.stderr);
        } else {
            assert!(
                [64, 65, 66].contains(&run.code),
                "{id}: exit {} {}",
                run.code,
                run.stderr
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 75);
    Ok(())
}
