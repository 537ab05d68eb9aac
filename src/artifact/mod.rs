//! ArtifactRef, embedded-ref discovery and store-root resolution (msez-wire-format.md §3).
//!
//! An [`ArtifactRef`] names an artifact by `(artifact_type, digest_sha256)`; any JSON object
//! with those two string fields is an edge of the artifact graph ([`embedded_refs`]). A store
//! root is a directory laid out `<root>/<type>/<digest>[.<suffix>]`; [`resolve`] finds the one
//! file for a ref across store roots.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::canon::{self, Digest, Value};
use crate::taxonomy::{Class, Classify, Detail};

/// Artifact failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A type that does not match `^[a-z0-9][a-z0-9-]{0,63}$`.
    #[error("invalid artifact type {found:?} (expected ^[a-z0-9][a-z0-9-]{{0,63}}$)")]
    BadType { found: String },
    /// `TYPE:DIGEST` that does not parse.
    #[error("invalid object name {found:?} (expected TYPE:DIGEST)")]
    BadName { found: String },
    /// The digest inside a ref does not parse.
    #[error(transparent)]
    Canon(#[from] canon::Error),
    /// No store root holds the artifact.
    #[error("missing artifact {object} (searched {roots} store root(s))")]
    Missing { object: String, roots: usize },
    /// More than one file matches the artifact in the store roots.
    #[error("ambiguous CAS resolution for {object}: {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Ambiguous { object: String, paths: Vec<PathBuf> },
    /// A store root could not be listed.
    #[error("reading store root {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::BadType { .. } | Error::BadName { .. } => Class::Usage,
            Error::Canon(e) => e.class(),
            Error::Missing { .. } => Class::Missing,
            Error::Ambiguous { .. } => Class::Schema,
            Error::Io { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::BadType { .. } => "usage.bad_artifact_type",
            Error::BadName { .. } => "usage.bad_object_name",
            Error::Canon(e) => e.code(),
            Error::Missing { .. } => "missing.artifact",
            Error::Ambiguous { .. } => "schema.ambiguous_artifact",
            Error::Io { .. } => "io.store_root",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::BadType { found } => {
                Detail::default().mismatch("^[a-z0-9][a-z0-9-]{0,63}$", found)
            }
            Error::BadName { found } => Detail::default().mismatch("TYPE:DIGEST", found),
            Error::Canon(e) => e.detail(),
            Error::Missing { object, .. } => Detail::object(object.clone()),
            Error::Ambiguous { object, paths } => Detail::object(object.clone())
                .mismatch("exactly one file", format!("{} files", paths.len())),
            Error::Io { path, .. } => Detail::path(path),
        }
    }
}

/// A validated artifact type (`^[a-z0-9][a-z0-9-]{0,63}$`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ArtifactType(String);

impl ArtifactType {
    /// Validates a type exactly as given (no trimming, no lowercasing).
    pub fn new(s: &str) -> Result<Self, Error> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 64
            && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
        if ok {
            Ok(ArtifactType(s.to_string()))
        } else {
            Err(Error::BadType {
                found: s.chars().take(80).collect(),
            })
        }
    }

    /// Validates a type the way the reference normalizes it: trimmed and lowercased first.
    pub fn parse_loose(s: &str) -> Result<Self, Error> {
        Self::new(&s.trim().to_ascii_lowercase())
    }

    /// The type name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digest rule of this type.
    pub fn rule(&self) -> canon::DigestRule {
        canon::rule_for(&self.0)
    }
}

impl TryFrom<String> for ArtifactType {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        ArtifactType::new(&s)
    }
}

impl From<ArtifactType> for String {
    fn from(t: ArtifactType) -> String {
        t.0
    }
}

impl fmt::Display for ArtifactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An artifact's identity: `TYPE:DIGEST`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId {
    /// The artifact type.
    pub artifact_type: ArtifactType,
    /// The semantic digest.
    pub digest: Digest,
}

impl ObjectId {
    /// Builds an id from its parts.
    pub fn new(artifact_type: ArtifactType, digest: Digest) -> Self {
        ObjectId {
            artifact_type,
            digest,
        }
    }
}

impl FromStr for ObjectId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (t, d) = s.split_once(':').ok_or_else(|| Error::BadName {
            found: s.to_string(),
        })?;
        Ok(ObjectId {
            artifact_type: ArtifactType::parse_loose(t)?,
            digest: Digest::parse_loose(d)?,
        })
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.artifact_type, self.digest)
    }
}

/// `{artifact_type, digest_sha256, uri?, media_type?, byte_length?, display_name?, notes?, ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// The artifact type.
    pub artifact_type: ArtifactType,
    /// The semantic digest.
    pub digest_sha256: Digest,
    /// Where a copy may be found (a hint; never verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// The media type (a hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The stored size in bytes (a hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byte_length: Option<u64>,
    /// A human name (a hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Producer extras (`asset_id`, `receipt_count`, `mmr_root`, ...), kept as given.
    #[serde(flatten)]
    pub extra: canon::Map,
}

impl ArtifactRef {
    /// A ref with only the two identifying fields.
    pub fn new(id: &ObjectId) -> Self {
        ArtifactRef {
            artifact_type: id.artifact_type.clone(),
            digest_sha256: id.digest,
            uri: None,
            media_type: None,
            byte_length: None,
            display_name: None,
            extra: canon::Map::new(),
        }
    }

    /// The `TYPE:DIGEST` this ref names.
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.artifact_type.clone(), self.digest_sha256)
    }

    /// Parses and validates a ref from JSON (type regex, 64 lowercase hex digest).
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let t = value
            .get("artifact_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let d = value
            .get("digest_sha256")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let artifact_type = ArtifactType::new(t)?;
        let digest: Digest = d.parse()?;
        let mut r = ArtifactRef::new(&ObjectId::new(artifact_type, digest));
        if let Value::Object(map) = value {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("artifact_type" | "digest_sha256", _) => {}
                    ("uri", Value::String(s)) => r.uri = Some(s.clone()),
                    ("media_type", Value::String(s)) => r.media_type = Some(s.clone()),
                    ("byte_length", Value::Number(n)) if n.as_u64().is_some() => {
                        r.byte_length = n.as_u64()
                    }
                    ("display_name", Value::String(s)) => r.display_name = Some(s.clone()),
                    _ => {
                        r.extra.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(r)
    }
}

/// An ArtifactRef found inside a document: the raw (trimmed, lowercased) fields and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedRef {
    /// `artifact_type`, trimmed.
    pub artifact_type: String,
    /// `digest_sha256`, trimmed and lowercased; not yet validated.
    pub digest: String,
    /// JSON pointer of the ref object inside the document.
    pub pointer: String,
}

impl EmbeddedRef {
    /// Validates the ref into an [`ObjectId`].
    pub fn id(&self) -> Result<ObjectId, Error> {
        Ok(ObjectId::new(
            ArtifactType::new(&self.artifact_type)?,
            self.digest.parse()?,
        ))
    }
}

/// Every embedded ArtifactRef in `value`, depth-first in document order (refs inside refs
/// included), as the reference's `_iter_embedded_artifactrefs` walks them.
pub fn embedded_refs(value: &Value) -> Vec<EmbeddedRef> {
    let mut out = Vec::new();
    let mut pointer = String::new();
    walk(value, &mut pointer, &mut out);
    out
}

fn walk(value: &Value, pointer: &mut String, out: &mut Vec<EmbeddedRef>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(t)), Some(Value::String(d))) =
                (map.get("artifact_type"), map.get("digest_sha256"))
            {
                let (t, d) = (t.trim(), d.trim().to_ascii_lowercase());
                if !t.is_empty() && !d.is_empty() {
                    out.push(EmbeddedRef {
                        artifact_type: t.to_string(),
                        digest: d,
                        pointer: pointer.clone(),
                    });
                }
            }
            for (k, v) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(k);
                walk(v, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(v, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// Finds the one file for `id` across `roots`: `<root>/<type>/<digest>` or
/// `<root>/<type>/<digest>.*`; none is [`Error::Missing`], several is [`Error::Ambiguous`].
pub fn resolve(roots: &[PathBuf], id: &ObjectId) -> Result<PathBuf, Error> {
    let mut hits: Vec<PathBuf> = Vec::new();
    let name = id.digest.to_hex();
    for root in roots {
        let dir = root.join(id.artifact_type.as_str());
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path: dir, source }),
        };
        let mut here = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                continue;
            };
            let matches = file_name == name
                || (file_name.starts_with(&name) && file_name.as_bytes().get(64) == Some(&b'.'));
            if matches && entry.path().is_file() {
                here.push(entry.path());
            }
        }
        here.sort();
        for p in here {
            let abs = std::fs::canonicalize(&p).unwrap_or(p);
            if !hits.contains(&abs) {
                hits.push(abs);
            }
        }
    }
    match hits.len() {
        0 => Err(Error::Missing {
            object: id.to_string(),
            roots: roots.len(),
        }),
        1 => Ok(hits.remove(0)),
        _ => Err(Error::Ambiguous {
            object: id.to_string(),
            paths: hits,
        }),
    }
}

/// The semantic digest of an artifact given as bytes, by its type's rule.
pub fn digest_bytes(artifact_type: &ArtifactType, bytes: &[u8]) -> Result<Digest, Error> {
    let rule = artifact_type.rule();
    match rule {
        canon::DigestRule::Bytes => Ok(canon::sha256(bytes)),
        canon::DigestRule::Lawpack => Ok(canon::lawpack_digest(std::io::Cursor::new(bytes))?),
        _ => Ok(rule.digest_document(bytes)?),
    }
}

/// The path of `id` inside a store root written by msez: `<root>/<type>/<digest>.<ext>`.
pub fn store_path(root: &Path, id: &ObjectId) -> PathBuf {
    let ext = match (id.artifact_type.rule(), id.artifact_type.rule().encoding()) {
        (canon::DigestRule::Lawpack, _) => "lawpack.zip",
        (_, canon::Encoding::Json) => "json",
        (_, canon::Encoding::Raw) => "bin",
    };
    root.join(id.artifact_type.as_str())
        .join(format!("{}.{ext}", id.digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_types_follow_the_reference_regex() {
        for ok in ["vc", "smart-asset-receipt", "0x", &"a".repeat(64)] {
            ArtifactType::new(ok).unwrap();
        }
        for bad in ["", "-a", "Vc", "a_b", &"a".repeat(65), "a b"] {
            assert!(ArtifactType::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn embedded_refs_are_found_depth_first_including_nested_ones() {
        let d1 = "a".repeat(64);
        let d2 = "B".repeat(64);
        let doc = serde_json::json!({
            "x": [{"artifact_type": "vc", "digest_sha256": d1, "inner": {"artifact_type": " blob ", "digest_sha256": d2}}],
            "y": {"artifact_type": "", "digest_sha256": d1},
            "z": {"artifact_type": "vc", "digest_sha256": 5}
        });
        let refs = embedded_refs(&doc);
        assert_eq!(refs.len(), 2);
        assert_eq!(
            (refs[0].artifact_type.as_str(), refs[0].pointer.as_str()),
            ("vc", "/x/0")
        );
        assert_eq!(
            (refs[1].artifact_type.as_str(), refs[1].digest.as_str()),
            ("blob", "b".repeat(64).as_str())
        );
    }

    #[test]
    fn resolve_finds_exactly_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = "c".repeat(64);
        let id: ObjectId = format!("blob:{d}").parse().unwrap();
        let roots = vec![dir.path().to_path_buf()];
        assert!(matches!(resolve(&roots, &id), Err(Error::Missing { .. })));
        std::fs::create_dir_all(dir.path().join("blob")).unwrap();
        std::fs::write(dir.path().join("blob").join(format!("{d}.blob.bin")), b"x").unwrap();
        std::fs::write(dir.path().join("blob").join(format!("{d}x.json")), b"x").unwrap();
        assert!(
            resolve(&roots, &id)
                .unwrap()
                .ends_with(format!("{d}.blob.bin"))
        );
        std::fs::write(dir.path().join("blob").join(&d), b"x").unwrap();
        assert!(matches!(resolve(&roots, &id), Err(Error::Ambiguous { .. })));
    }
}
