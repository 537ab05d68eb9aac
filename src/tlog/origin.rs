//! The log origin of a chain: `<prefix>/asset/<asset_id>/<purpose>` or
//! `<prefix>/corridor/<corridor_id>`.
//!
//! The origin belongs to the chain, not to a copy of it: it is made only from the chain's
//! identity and a prefix recorded in the module's own file (`tlog_origin_prefix` in asset.yaml
//! or corridor.yaml), which travels with every clone. Two clones are one log to a witness.
//! When asset.yaml pins a Smart Asset Registry VC whose `credentialSubject` names a
//! `tlog_origin_prefix`, that one wins: it is signed by the registry's issuer.

use std::path::Path;

use crate::chain::Kind;

use super::Error;

/// The prefix of a module that records none.
pub const DEFAULT_PREFIX: &str = "msez";
/// The module-file key that records the prefix.
pub const PREFIX_KEY: &str = "tlog_origin_prefix";

/// Checks that `prefix` can start an origin line and a note key name: non-empty, at most 200
/// bytes, printable ASCII without spaces or `+`, no leading or trailing `/`.
pub fn check_prefix(prefix: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::BadOrigin {
        prefix: prefix.to_string(),
        why: why.to_string(),
    };
    if prefix.is_empty() || prefix.len() > 200 {
        return Err(bad("must be 1 to 200 bytes"));
    }
    if !prefix.bytes().all(|b| b.is_ascii_graphic() && b != b'+') {
        return Err(bad("only printable ASCII without spaces or '+'"));
    }
    if prefix.starts_with('/') || prefix.ends_with('/') {
        return Err(bad("no leading or trailing '/'"));
    }
    Ok(())
}

/// The origin of a chain under `prefix` (assets without a purpose use `core`).
pub fn origin(prefix: &str, kind: Kind, owner: &str, purpose: Option<&str>) -> String {
    match kind {
        Kind::Asset => format!("{prefix}/asset/{owner}/{}", purpose.unwrap_or("core")),
        Kind::Corridor => format!("{prefix}/corridor/{owner}"),
    }
}

/// The module file that records the prefix.
pub fn module_file(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "asset.yaml",
        Kind::Corridor => "corridor.yaml",
    }
}

/// The prefix recorded in the module's file, checked; None when it records none.
pub fn recorded_prefix(module_dir: &Path, kind: Kind) -> Result<Option<String>, Error> {
    let path = module_dir.join(module_file(kind));
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| Error::BadOrigin {
            prefix: String::new(),
            why: format!("{}: {e}", path.display()),
        })?;
    match doc.get(PREFIX_KEY) {
        None | Some(serde_yaml_ng::Value::Null) => Ok(None),
        Some(serde_yaml_ng::Value::String(p)) => {
            check_prefix(p)?;
            Ok(Some(p.clone()))
        }
        Some(other) => Err(Error::BadOrigin {
            prefix: format!("{other:?}"),
            why: format!("{}: {PREFIX_KEY} must be a string", path.display()),
        }),
    }
}

/// The `credentialSubject` of the registry VC asset.yaml pins, with the VC's path; None when
/// it pins none.
///
/// The pin (`registry_vc_digest_sha256`) is checked here; the VC's signature is checked where
/// the module is opened (`chain::registry::pinned`).
pub fn pinned_registry_subject(
    module_dir: &Path,
) -> Result<Option<(std::path::PathBuf, serde_json::Value)>, Error> {
    let yaml = module_dir.join("asset.yaml");
    let text = std::fs::read_to_string(&yaml).map_err(|e| Error::io("reading", &yaml, e))?;
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| Error::BadOrigin {
            prefix: String::new(),
            why: format!("{}: {e}", yaml.display()),
        })?;
    let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let Some(pin) = field("registry_vc_digest_sha256") else {
        return Ok(None);
    };
    let rel = field("registry_vc_path")
        .unwrap_or_else(|| crate::chain::registry::REGISTRY_FILE.to_string());
    let path = module_dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
    let bad = |why: String| Error::BadOrigin {
        prefix: String::new(),
        why: format!("{}: {why}", path.display()),
    };
    let vc = crate::canon::parse(&bytes).map_err(|e| bad(e.to_string()))?;
    let digest = crate::canon::digest_without(&vc, &["proof"]).map_err(|e| bad(e.to_string()))?;
    if crate::canon::Digest::parse_loose(&pin).ok() != Some(digest) {
        return Err(bad(format!("not the pinned registry VC {pin}")));
    }
    let subject = vc.get("credentialSubject").cloned().unwrap_or_default();
    Ok(Some((path, subject)))
}

/// The prefix in the registry VC asset.yaml pins, if it pins one and the VC names a prefix.
pub fn registry_prefix(module_dir: &Path) -> Result<Option<String>, Error> {
    let Some((path, subject)) = pinned_registry_subject(module_dir)? else {
        return Ok(None);
    };
    match subject.get(PREFIX_KEY) {
        None => Ok(None),
        Some(p) => {
            let p = p.as_str().ok_or_else(|| Error::BadOrigin {
                prefix: String::new(),
                why: format!("{}: {PREFIX_KEY} must be a string", path.display()),
            })?;
            check_prefix(p)?;
            Ok(Some(p.to_string()))
        }
    }
}

/// The origin of the chain in `module_dir`: the prefix of its pinned registry VC, else the one
/// its module file records, else [`DEFAULT_PREFIX`].
pub fn of_module(
    module_dir: &Path,
    kind: Kind,
    owner: &str,
    purpose: Option<&str>,
) -> Result<String, Error> {
    let from_registry = match kind {
        Kind::Asset => registry_prefix(module_dir)?,
        Kind::Corridor => None,
    };
    let prefix = match from_registry {
        Some(p) => p,
        None => recorded_prefix(module_dir, kind)?.unwrap_or_else(|| DEFAULT_PREFIX.into()),
    };
    Ok(origin(&prefix, kind, owner, purpose))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_name_the_chain_under_the_prefix_and_bad_prefixes_are_refused() {
        assert_eq!(
            origin("example.org/logs", Kind::Asset, "ab", Some("core")),
            "example.org/logs/asset/ab/core"
        );
        assert_eq!(origin("x", Kind::Corridor, "c-1", None), "x/corridor/c-1");
        for bad in ["", "a b", "a+b", "/a", "a/", "é"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        check_prefix("example.org/msez").unwrap();
    }

    #[test]
    fn a_pinned_registry_vc_prefix_wins_and_a_broken_pin_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vc = serde_json::json!({
            "type": ["MSEZSmartAssetRegistryCredential"],
            "credentialSubject": {"asset_id": "ab", PREFIX_KEY: "registry.example/logs"},
            "proof": [],
        });
        let value = crate::canon::parse(vc.to_string().as_bytes()).unwrap();
        let pin = crate::canon::digest_without(&value, &["proof"]).unwrap();
        std::fs::write(dir.path().join("registry.vc.json"), vc.to_string()).unwrap();
        std::fs::write(
            dir.path().join("asset.yaml"),
            format!("asset_id: ab\n{PREFIX_KEY}: yaml.example\nregistry_vc_digest_sha256: {pin}\n"),
        )
        .unwrap();
        assert_eq!(
            of_module(dir.path(), Kind::Asset, "ab", Some("core")).unwrap(),
            "registry.example/logs/asset/ab/core"
        );
        std::fs::write(
            dir.path().join("asset.yaml"),
            format!(
                "asset_id: ab\n{PREFIX_KEY}: yaml.example\nregistry_vc_digest_sha256: {}\n",
                "00".repeat(32)
            ),
        )
        .unwrap();
        assert!(of_module(dir.path(), Kind::Asset, "ab", Some("core")).is_err());
        std::fs::write(
            dir.path().join("asset.yaml"),
            format!("asset_id: ab\n{PREFIX_KEY}: yaml.example\n"),
        )
        .unwrap();
        assert_eq!(
            of_module(dir.path(), Kind::Asset, "ab", None).unwrap(),
            "yaml.example/asset/ab/core"
        );
    }
}
