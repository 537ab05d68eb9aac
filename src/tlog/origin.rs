//! The log origin of a chain: `<prefix>/asset/<asset_id>/<purpose>` or
//! `<prefix>/corridor/<corridor_id>`.
//!
//! The origin belongs to the chain, not to a copy of it: it is made only from the chain's
//! identity and a prefix recorded in the module's own file (`tlog_origin_prefix` in asset.yaml
//! or corridor.yaml), which travels with every clone. Two clones are one log to a witness.

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

/// The origin of the chain in `module_dir`: its recorded prefix, else [`DEFAULT_PREFIX`].
pub fn of_module(
    module_dir: &Path,
    kind: Kind,
    owner: &str,
    purpose: Option<&str>,
) -> Result<String, Error> {
    let prefix = recorded_prefix(module_dir, kind)?.unwrap_or_else(|| DEFAULT_PREFIX.into());
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
}
