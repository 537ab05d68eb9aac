//! Grow-only proof sets: `.msez/proofs/<type>/<digest>/<h>.json`, h = SHA-256 of the canonical
//! proof. An object's proofs are those it was first stored with plus one file per later proof;
//! readers see the union, deduplicated by (verificationMethod, jws) and sorted by that key, so
//! replicas that received proofs in any order show the same set.

use std::path::PathBuf;

use crate::artifact::ObjectId;
use crate::canon::{self, Value};

use super::{Error, Repo, write};

/// The identity of a proof: (verificationMethod, jws).
pub fn proof_key(proof: &Value) -> (String, String) {
    let field = |k: &str| {
        proof
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (field("verificationMethod"), field("jws"))
}

/// The proofs of an object as a list (a single dict is one proof; absent is none).
pub fn proof_list(object: &Value) -> Vec<Value> {
    match object.get("proof") {
        Some(Value::Array(items)) => items.clone(),
        Some(p @ Value::Object(_)) => vec![p.clone()],
        _ => Vec::new(),
    }
}

/// Adds `extra` proofs to `object`'s proof set with [`crate::vc::merge_proofs`] (union,
/// deduplicated, sorted; a single proof keeps a dict's form).
pub fn merge_proofs(object: &mut Value, extra: &[Value]) {
    let Value::Object(map) = object else { return };
    let current = map.get("proof").cloned().unwrap_or(Value::Null);
    let merged = extra
        .iter()
        .fold(current, |acc, p| crate::vc::merge_proofs(&acc, p));
    if !merged.is_null() {
        map.insert("proof".to_string(), merged);
    }
}

impl Repo {
    /// The directory of an object's later proofs.
    pub fn proofs_dir(&self, id: &ObjectId) -> PathBuf {
        self.dir()
            .join("proofs")
            .join(id.artifact_type.as_str())
            .join(id.digest.to_hex())
    }

    /// The proofs stored as separate files for `id`, each checked against its file name.
    pub fn proof_files(&self, id: &ObjectId) -> Result<Vec<(PathBuf, Value)>, Error> {
        let dir = self.proofs_dir(id);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("listing", &dir, e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let mut out = Vec::with_capacity(paths.len());
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
            let object = format!("proof of {id} ({})", path.display());
            let value = canon::parse(&bytes).map_err(|source| Error::Canon {
                object: object.clone(),
                source,
            })?;
            let digest = canon::digest_of(&value).map_err(|source| Error::Canon {
                object: object.clone(),
                source,
            })?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            if stem != digest.to_hex() {
                return Err(Error::Corrupt {
                    object,
                    path,
                    method: "jcs-json",
                    expected: stem,
                    found: digest.to_hex(),
                });
            }
            out.push((path, value));
        }
        Ok(out)
    }

    /// Stores `proof` as its own file for `id` unless present; true when it was new.
    pub fn add_proof_file(&self, id: &ObjectId, proof: &Value) -> Result<bool, Error> {
        let object = format!("proof of {id}");
        let bytes = canon::to_bytes(proof).map_err(|source| Error::Canon { object, source })?;
        let name = format!("{}.json", canon::sha256(&bytes));
        let mut content = bytes;
        content.push(b'\n');
        write::atomic_create(
            &self.tmp_dir(),
            &self.proofs_dir(id).join(name),
            &content,
            0o444,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(vm: &str) -> Value {
        json!({"verificationMethod": vm, "jws": format!("sig-{vm}")})
    }

    #[test]
    fn merge_is_commutative_and_idempotent() {
        let mut a = json!({"x": 1, "proof": p("a")});
        merge_proofs(&mut a, &[p("b"), p("a")]);
        let mut b = json!({"x": 1, "proof": p("b")});
        merge_proofs(&mut b, &[p("a")]);
        assert_eq!(a, b);
        let before = a.clone();
        merge_proofs(&mut a, &[p("b")]);
        assert_eq!(a, before);
    }

    #[test]
    fn a_single_proof_keeps_its_form() {
        let mut dict = json!({"proof": p("a")});
        merge_proofs(&mut dict, &[p("a")]);
        assert!(dict["proof"].is_object());
        let mut list = json!({"proof": []});
        merge_proofs(&mut list, &[p("a")]);
        assert!(list["proof"].is_array());
    }
}
