//! The transition-type registry and its lock (Layer 1, msez-wire-format.md §10.2).
//!
//! A registry (YAML) maps transition `kind`s to optional schema, ruleset and circuit digests.
//! Its **snapshot** keeps only what verification needs, sorted by kind:
//!
//! ```text
//! {"tag": "msez.transition-types.registry.snapshot.v1", "registry_version": int(version or 1),
//!  "transition_types": [{"kind", ["schema_digest_sha256"], ["ruleset_digest_sha256"],
//!                        ["zk_circuit_digest_sha256"]}, ...]}
//! ```
//!
//! and `snapshot_digest_sha256 = SHA256(JCS(snapshot))` is what receipts pin in
//! `transition_type_registry_digest_sha256`. The lock file wraps the snapshot with provenance and
//! a timestamp, both outside the digest.

use std::path::{Path, PathBuf};

use crate::canon::{self, Digest, Map, Value};
use crate::chain::module::Error as ModuleError;

use super::Error;
use super::corridor::Rulesets;

/// The snapshot tag.
pub const SNAPSHOT_TAG: &str = "msez.transition-types.registry.snapshot.v1";

/// The lock format version msez writes.
pub const LOCK_VERSION: u64 = 1;

/// The three digest fields a snapshot item may carry, in the reference's order.
const DIGEST_FIELDS: [&str; 3] = [
    "schema_digest_sha256",
    "ruleset_digest_sha256",
    "zk_circuit_digest_sha256",
];

fn bad(why: impl Into<String>) -> Error {
    Error::TransitionTypes { why: why.into() }
}

/// The default lock path of a registry: `transition-types.yaml` → `transition-types.lock.json`.
pub fn default_lock_path(registry: &Path) -> PathBuf {
    let stem = registry
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "transition-types".into());
    registry.with_file_name(format!("{stem}.lock.json"))
}

/// A digest value as the reference writes it: `str(v).strip().lower()`, which must be 64 hex.
///
/// The reference would stringify an ArtifactRef dict (a Python repr) into the snapshot; msez
/// refuses it rather than hash such bytes (§10.2).
fn digest_value(kind: &str, field: &str, v: &Value) -> Result<Option<String>, Error> {
    let s = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim().to_ascii_lowercase(),
        Value::Object(_) => {
            return Err(bad(format!(
                "{kind}: {field} is an ArtifactRef; give the 64-hex digest (the reference would hash a Python repr)"
            )));
        }
        other => {
            return Err(bad(format!(
                "{kind}: {field} must be a 64-hex string, not {other}"
            )));
        }
    };
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<Digest>()
        .map_err(|_| bad(format!("{kind}: {field} {s:?} is not 64 hex")))?;
    Ok(Some(s))
}

fn read_json_file(path: &Path) -> Result<Value, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    canon::parse(&bytes).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Fills a computed digest into `item`, refusing one given that disagrees.
fn fill(item: &mut Map, kind: &str, field: &'static str, computed: Digest) -> Result<(), Error> {
    match item.get(field).and_then(Value::as_str) {
        Some(given) if !given.trim().is_empty() => {
            if Digest::parse_loose(given).ok() != Some(computed) {
                return Err(Error::PinMismatch {
                    what: field,
                    path: PathBuf::from(kind),
                    expected: computed.to_hex(),
                    found: given.to_string(),
                });
            }
        }
        _ => {
            item.insert(field.into(), computed.to_hex().into());
        }
    }
    Ok(())
}

/// Builds the snapshot of a parsed registry; relative `schema_path` / `ruleset_path` resolve
/// against `base` (the registry's folder), `ruleset_id`s through the rulesets registry.
pub fn snapshot(registry: &Value, base: &Path) -> Result<Value, Error> {
    crate::schema::validate(
        "transition-types.registry.schema.json",
        registry,
        "transition-type registry",
    )?;
    let version = registry.get("version").and_then(Value::as_u64).unwrap_or(1);
    let version = if version == 0 { 1 } else { version };
    let mut rulesets: Option<Rulesets> = None;
    let mut items: Vec<(String, Value)> = Vec::new();
    let entries = registry
        .get("transition_types")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for entry in entries {
        let mut e = entry.as_object().cloned().unwrap_or_default();
        let kind = e
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_string();
        if items.iter().any(|(k, _)| *k == kind) {
            return Err(bad(format!("duplicate kind {kind:?}")));
        }
        if let Some(p) = e.get("schema_path").and_then(Value::as_str) {
            let d = canon::digest_of(&read_json_file(&base.join(p))?)?;
            fill(&mut e, &kind, "schema_digest_sha256", d)?;
        }
        if let Some(id) = e.get("ruleset_id").and_then(Value::as_str) {
            let r = match &rulesets {
                Some(r) => r,
                None => rulesets.insert(Rulesets::for_dir(base)?),
            };
            let d = r.digest(id)?;
            fill(&mut e, &kind, "ruleset_digest_sha256", d)?;
        } else if let Some(p) = e.get("ruleset_path").and_then(Value::as_str) {
            let d = canon::digest_of(&read_json_file(&base.join(p))?)?;
            fill(&mut e, &kind, "ruleset_digest_sha256", d)?;
        }
        let mut item = Map::new();
        item.insert("kind".into(), kind.clone().into());
        for field in DIGEST_FIELDS {
            if let Some(v) = e.get(field) {
                if let Some(d) = digest_value(&kind, field, v)? {
                    item.insert(field.into(), d.into());
                }
            }
        }
        items.push((kind, Value::Object(item)));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(serde_json::json!({
        "tag": SNAPSHOT_TAG,
        "registry_version": version,
        "transition_types": items.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    }))
}

/// A loaded, verified lock: the snapshot and its digest.
#[derive(Clone, Debug)]
pub struct Lock {
    /// Where it was read from.
    pub path: PathBuf,
    /// The snapshot.
    pub snapshot: Value,
    /// `SHA256(JCS(snapshot))`.
    pub digest: Digest,
}

impl Lock {
    /// Builds a lock document for a registry file (the registry is parsed as YAML; JSON is YAML).
    pub fn build(
        registry_path: &Path,
        lock_dir: &Path,
        generated_at: &str,
    ) -> Result<Value, Error> {
        let text = std::fs::read_to_string(registry_path)
            .map_err(|e| Error::io("reading", registry_path, e))?;
        let registry: Value = serde_yaml_ng::from_str(&text).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: registry_path.to_path_buf(),
                why: e.to_string(),
            })
        })?;
        let base = registry_path.parent().unwrap_or(Path::new("."));
        let snap = snapshot(&registry, base)?;
        let digest = canon::digest_of(&snap)?;
        let shown = super::anchor::relative_uri(registry_path, lock_dir);
        Ok(serde_json::json!({
            "transition_types_lock_version": LOCK_VERSION,
            "generated_at": generated_at,
            "source": {"registry_path": shown, "registry_sha256": canon::digest_of(&registry)?.to_hex()},
            "snapshot": snap,
            "snapshot_digest_sha256": digest.to_hex(),
        }))
    }

    /// Checks a lock document: schema, tag, and the stored digest against the recomputed one.
    pub fn from_value(doc: &Value, path: &Path) -> Result<Lock, Error> {
        crate::schema::validate(
            "transition-types.lock.schema.json",
            doc,
            &path.display().to_string(),
        )?;
        let snapshot = doc.get("snapshot").cloned().unwrap_or_default();
        let digest = canon::digest_of(&snapshot)?;
        let declared = doc
            .get("snapshot_digest_sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if declared != digest.to_hex() {
            return Err(Error::PinMismatch {
                what: "snapshot_digest_sha256",
                path: path.to_path_buf(),
                expected: digest.to_hex(),
                found: declared.to_string(),
            });
        }
        Ok(Lock {
            path: path.to_path_buf(),
            snapshot,
            digest,
        })
    }

    /// Reads and checks a lock file.
    pub fn load(path: &Path) -> Result<Lock, Error> {
        Lock::from_value(&read_json_file(path)?, path)
    }

    /// The snapshot item of `kind`, if listed.
    pub fn item(&self, kind: &str) -> Option<&Value> {
        self.snapshot
            .get("transition_types")
            .and_then(Value::as_array)
            .and_then(|items| {
                items
                    .iter()
                    .find(|i| i.get("kind").and_then(Value::as_str) == Some(kind))
            })
    }

    /// Checks a transition envelope against the lock: its kind is listed, and each digest it
    /// carries equals the registry's.
    pub fn check_transition(&self, transition: &Value, what: &Path) -> Result<(), Error> {
        let kind = transition
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let item = self.item(kind).ok_or_else(|| {
            bad(format!(
                "{}: transition kind {kind:?} is not in the lock {} ({})",
                what.display(),
                self.path.display(),
                self.digest
            ))
        })?;
        for field in DIGEST_FIELDS {
            let (Some(pinned), Some(given)) = (
                item.get(field).and_then(Value::as_str),
                transition.get(field),
            ) else {
                continue;
            };
            let given = match given {
                Value::Object(m) => m.get("digest_sha256").and_then(Value::as_str),
                v => v.as_str(),
            }
            .unwrap_or_default();
            if Digest::parse_loose(given)
                .ok()
                .map(|d| d.to_hex())
                .as_deref()
                != Some(pinned)
            {
                return Err(Error::PinMismatch {
                    what: field,
                    path: what.to_path_buf(),
                    expected: pinned.to_string(),
                    found: given.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Checks a receipt: it pins this lock (`transition_type_registry_digest_sha256`, a string
    /// or an ArtifactRef of type `transition-types`), and its transition fits the lock.
    pub fn check_receipt(&self, receipt: &Value, path: &Path) -> Result<(), Error> {
        let pinned = match receipt.get("transition_type_registry_digest_sha256") {
            None => None,
            Some(Value::Object(m)) => {
                let t = m.get("artifact_type").and_then(Value::as_str);
                if t.is_some_and(|t| t.trim() != "transition-types") {
                    return Err(bad(format!(
                        "{}: transition_type_registry_digest_sha256 is an ArtifactRef of type {t:?}, not transition-types",
                        path.display()
                    )));
                }
                m.get("digest_sha256").and_then(Value::as_str)
            }
            Some(v) => v.as_str(),
        };
        let found = pinned.map(|s| s.trim().to_ascii_lowercase());
        if found.as_deref() != Some(self.digest.to_hex().as_str()) {
            return Err(Error::PinMismatch {
                what: "transition_type_registry_digest_sha256",
                path: path.to_path_buf(),
                expected: self.digest.to_hex(),
                found: found.unwrap_or_else(|| "none".into()),
            });
        }
        let transition = receipt.get("transition").cloned().unwrap_or_default();
        self.check_transition(&transition, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_snapshot_vector_reproduces() {
        let snap = serde_json::json!({
            "tag": SNAPSHOT_TAG, "registry_version": 1,
            "transition_types": [{"kind": "a.v1", "schema_digest_sha256": "11".repeat(32)}, {"kind": "b.v1"}]
        });
        assert_eq!(
            canon::digest_of(&snap).unwrap().to_hex(),
            "db2d5747c4f7b5e26852a1b3e22ac0cc53ff0eec7d22c462cc3c32439793ce6a"
        );
    }

    #[test]
    fn snapshots_sort_by_kind_and_drop_empty_digests() {
        let reg = serde_json::json!({"version": 1, "transition_types": [
            {"kind": "b.v1", "schema_digest_sha256": "", "description": "x"},
            {"kind": "a.v1", "schema_digest_sha256": " ".to_string() + &"11".repeat(32)}]});
        let snap = snapshot(&reg, Path::new(".")).unwrap();
        assert_eq!(
            canon::digest_of(&snap).unwrap().to_hex(),
            "db2d5747c4f7b5e26852a1b3e22ac0cc53ff0eec7d22c462cc3c32439793ce6a"
        );
    }

    #[test]
    fn duplicate_kinds_and_artifactref_digests_are_refused() {
        let dup =
            serde_json::json!({"version": 1, "transition_types": [{"kind": "a"}, {"kind": "a"}]});
        assert!(matches!(
            snapshot(&dup, Path::new(".")),
            Err(Error::TransitionTypes { .. })
        ));
        let r = serde_json::json!({"version": 1, "transition_types": [{"kind": "a",
            "schema_digest_sha256": {"artifact_type": "schema", "digest_sha256": "11".repeat(32)}}]});
        assert!(matches!(
            snapshot(&r, Path::new(".")),
            Err(Error::TransitionTypes { .. })
        ));
    }
}
