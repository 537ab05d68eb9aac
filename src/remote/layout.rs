//! The remote layout: the `.msez` layout under a remote root (docs/formats.md, "Remotes").
//!
//! ```text
//! format                              {"digest":"sha256","msez_remote_format":1} + LF
//! objects/<type>/<digest>.<ext>       as in .msez/objects (a store root)
//! proofs/<type>/<digest>/<h>.json     as in .msez/proofs
//! refs/...                            "<hex digest>\n", moved by conditional writes
//! lease                               single-writer remotes only (see `lease`)
//! locks/<ref key>/<version>.<n>       S3 only: ref-move locks (see `reflock`)
//! ```

use crate::artifact::{self, ArtifactType, ObjectId};
use crate::canon::Digest;
use crate::odb::RefName;

use super::{Backend, Error};

/// The key of the format file.
pub const FORMAT_KEY: &str = "format";
/// The remote format version this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// The bytes of the format file msez writes.
pub fn format_bytes() -> Vec<u8> {
    format!("{{\"digest\":\"sha256\",\"msez_remote_format\":{FORMAT_VERSION}}}\n").into_bytes()
}

/// Checks a remote's format file; Ok(false) when the remote has none (empty or not msez).
pub fn check_format(backend: &dyn Backend) -> Result<bool, Error> {
    let Some(blob) = backend.get(FORMAT_KEY, None)? else {
        return Ok(false);
    };
    let found = String::from_utf8_lossy(&blob.bytes).trim().to_string();
    let value: serde_json::Value =
        serde_json::from_slice(&blob.bytes).map_err(|_| Error::Format {
            url: backend.url(),
            found: found.chars().take(80).collect(),
        })?;
    let version = value.get("msez_remote_format").and_then(|v| v.as_u64());
    let digest = value.get("digest").and_then(|v| v.as_str());
    if version != Some(FORMAT_VERSION) || digest != Some("sha256") {
        return Err(Error::Format {
            url: backend.url(),
            found: found.chars().take(80).collect(),
        });
    }
    Ok(true)
}

/// The key of an object.
pub fn object_key(id: &ObjectId) -> String {
    artifact::store_path(std::path::Path::new("objects"), id)
        .to_string_lossy()
        .into_owned()
}

/// The key of one proof file of an object (`h` = SHA-256 of the canonical proof).
pub fn proof_key(id: &ObjectId, h: &str) -> String {
    format!(
        "proofs/{}/{}/{h}.json",
        id.artifact_type.as_str(),
        id.digest
    )
}

/// The key of a ref (its full name, `refs/...`).
pub fn ref_key(name: &RefName) -> String {
    name.as_str().to_string()
}

/// The object an `objects/...` key names, if the key is exactly where msez stores it.
pub fn parse_object_key(key: &str) -> Option<ObjectId> {
    let rest = key.strip_prefix("objects/")?;
    let (t, file) = rest.split_once('/')?;
    let (stem, _) = file.split_once('.')?;
    let digest: Digest = stem.parse().ok()?;
    let id = ObjectId::new(ArtifactType::new(t).ok()?, digest);
    (object_key(&id) == key).then_some(id)
}

/// The object and proof hash a `proofs/...` key names.
pub fn parse_proof_key(key: &str) -> Option<(ObjectId, String)> {
    let rest = key.strip_prefix("proofs/")?;
    let mut parts = rest.split('/');
    let (t, d, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let h = file.strip_suffix(".json")?;
    let h: Digest = h.parse().ok()?;
    let id = ObjectId::new(ArtifactType::new(t).ok()?, d.parse().ok()?);
    Some((id, h.to_hex()))
}

/// A remote key (or any name that came from a remote) as it may be shown on a terminal or in a
/// message: control characters (newline, ESC, C1 controls...) and backslashes are escaped
/// (`\n`, `\u{1b}`, `\\`), so a hostile key cannot move the cursor, recolour the screen or
/// pass for two lines. Everything that renders remote keys goes through this one function.
pub fn shown_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.extend(c.escape_default()),
            // Bidi overrides reorder what follows them on screen.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// Whether a listed key can be one msez reads at all: no control characters, no empty, `.`
/// or `..` components. Backends list every other key escaped with [`shown_key`] (so it is
/// reported, never fatal, and safe to print); no layout parser accepts those.
pub fn is_plain_key(key: &str) -> bool {
    !key.chars().any(char::is_control)
        && !key.contains('\\')
        && key
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The most bytes msez reads whole from a key of this name (`get` without a range): a ref,
/// the format file and locks are a line; JSON objects and proof files obey the JSON limit;
/// other objects (raw bytes, lawpacks) are streamed and bounded by their listed size only.
pub fn max_bytes(key: &str) -> Option<u64> {
    const SMALL: u64 = 64 << 10;
    if key.starts_with("refs/") || key.starts_with("locks/") || key == FORMAT_KEY || key == "lease"
    {
        Some(SMALL)
    } else if key.starts_with("proofs/") || (key.starts_with("objects/") && key.ends_with(".json"))
    {
        Some(crate::canon::MAX_JSON_BYTES as u64)
    } else {
        None
    }
}

/// Parses a ref file's bytes (`<hex>\n`).
pub fn parse_ref_value(bytes: &[u8]) -> Option<Digest> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.strip_suffix('\n').unwrap_or(text).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_strays_are_rejected() {
        let id: ObjectId = format!("vc:{}", "ab".repeat(32)).parse().unwrap();
        let key = object_key(&id);
        assert_eq!(key, format!("objects/vc/{}.json", "ab".repeat(32)));
        assert_eq!(parse_object_key(&key), Some(id.clone()));
        assert_eq!(
            parse_object_key(&format!("objects/vc/{}.bin", "ab".repeat(32))),
            None
        );
        let pk = proof_key(&id, &"cd".repeat(32));
        assert_eq!(parse_proof_key(&pk), Some((id, "cd".repeat(32))));
        assert_eq!(parse_proof_key("proofs/vc/x/y.json"), None);
        assert_eq!(shown_key("refs/a\nb\u{1b}[31m"), "refs/a\\nb\\u{1b}[31m");
        assert!(!is_plain_key("refs/a\nb") && !is_plain_key("refs//a") && is_plain_key("refs/a"));
        assert_eq!(
            parse_ref_value(format!("{}\n", "ab".repeat(32)).as_bytes()).map(|d| d.to_hex()),
            Some("ab".repeat(32))
        );
    }
}
