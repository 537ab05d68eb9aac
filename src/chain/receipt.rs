//! Receipts: building them as the reference does (§4.2), and reading them back (§4.3).

use std::path::{Path, PathBuf};

use crate::canon::{self, Digest, Map, Value};

use super::select::Link;
use super::{Error, Kind};

/// The fields `receipt-init` needs besides the chain position.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// The transition envelope (see [`super::envelope::load`]).
    pub transition: Value,
    /// `timestamp`, RFC 3339 as given (never normalized).
    pub timestamp: String,
    /// Normalized lawpack digests.
    pub lawpack_digest_set: Vec<Digest>,
    /// Normalized ruleset digests.
    pub ruleset_digest_set: Vec<Digest>,
    /// `jurisdiction_scope` (assets only).
    pub jurisdiction_scope: Option<String>,
    /// `harbor_ids`, sorted and unique (assets only).
    pub harbor_ids: Vec<String>,
    /// `harbor_quorum` (assets only).
    pub harbor_quorum: Option<u64>,
    /// `transition_type_registry_digest_sha256`.
    pub registry_digest: Option<Digest>,
}

/// Normalizes a digest set the reference way: coerce, validate, dedupe, sort.
pub fn normalize_set(items: &[Value]) -> Result<Vec<Digest>, Error> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let s = match item {
            Value::String(s) => s.as_str(),
            Value::Object(m) => m
                .get("digest_sha256")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            _ => "",
        };
        out.push(Digest::parse_loose(s)?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn hex_list(set: &[Digest]) -> Value {
    Value::Array(set.iter().map(|d| Value::String(d.to_hex())).collect())
}

/// Builds an unsigned receipt with its `next_root`, keys in the reference's order.
pub fn build(
    kind: Kind,
    owner: &str,
    sequence: u64,
    prev_root: &Digest,
    draft: &Draft,
) -> Result<Value, Error> {
    let mut r = Map::new();
    r.insert("type".into(), kind.receipt_type().into());
    r.insert(kind.owner_field().into(), owner.into());
    r.insert("sequence".into(), sequence.into());
    r.insert("timestamp".into(), draft.timestamp.clone().into());
    r.insert("prev_root".into(), prev_root.to_hex().into());
    r.insert(
        "lawpack_digest_set".into(),
        hex_list(&draft.lawpack_digest_set),
    );
    r.insert(
        "ruleset_digest_set".into(),
        hex_list(&draft.ruleset_digest_set),
    );
    r.insert("transition".into(), draft.transition.clone());
    if kind == Kind::Asset {
        // Asset receipts always carry a proof list, even unsigned (the reference writes `[]`).
        r.insert("proof".into(), Value::Array(Vec::new()));
        if let Some(scope) = &draft.jurisdiction_scope {
            r.insert("jurisdiction_scope".into(), scope.clone().into());
        }
        if !draft.harbor_ids.is_empty() {
            let mut ids = draft.harbor_ids.clone();
            ids.sort();
            ids.dedup();
            r.insert(
                "harbor_ids".into(),
                Value::Array(ids.into_iter().map(Value::String).collect()),
            );
        }
        if let Some(q) = draft.harbor_quorum {
            r.insert("harbor_quorum".into(), q.into());
        }
    }
    if let Some(d) = draft.registry_digest {
        r.insert(
            "transition_type_registry_digest_sha256".into(),
            d.to_hex().into(),
        );
    }
    let mut value = Value::Object(r);
    let next_root = next_root(&value)?;
    value
        .as_object_mut()
        .expect("built as an object")
        .insert("next_root".into(), next_root.to_hex().into());
    Ok(value)
}

/// `next_root = SHA256(JCS(receipt − proof − next_root))`.
pub fn next_root(receipt: &Value) -> Result<Digest, Error> {
    Ok(canon::digest_without(receipt, &["proof", "next_root"])?)
}

/// A receipt read from a file, with the fields chain logic needs.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// Where it was read from.
    pub path: PathBuf,
    /// The document.
    pub value: Value,
    /// Its chain link.
    pub link: Link,
}

impl Receipt {
    /// Checks the shape (schema), the owner and the declared `next_root` of a parsed receipt.
    ///
    /// The checks run in the reference's order: schema, then next_root, then owner.
    pub fn check(
        kind: Kind,
        value: Value,
        path: &Path,
        owner: Option<&str>,
    ) -> Result<Receipt, Error> {
        crate::schema::validate(kind.receipt_schema(), &value, &path.display().to_string())?;
        let declared = value
            .get("next_root")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let computed = next_root(&value)?;
        let declared_ok = match kind {
            // The corridor verifier compares exactly; the asset verifier lowercases first.
            Kind::Corridor => declared == computed.to_hex(),
            Kind::Asset => declared.to_ascii_lowercase() == computed.to_hex(),
        };
        if !declared_ok {
            return Err(Error::NextRootMismatch {
                path: path.to_path_buf(),
                declared,
                computed,
            });
        }
        if let Some(owner) = owner {
            let found = value
                .get(kind.owner_field())
                .and_then(Value::as_str)
                .unwrap_or_default();
            let same = match kind {
                Kind::Asset => found.to_ascii_lowercase() == owner,
                Kind::Corridor => found.trim() == owner,
            };
            if !same && kind == Kind::Asset {
                return Err(Error::OwnerMismatch {
                    path: path.to_path_buf(),
                    field: kind.owner_field(),
                    expected: owner.to_string(),
                    found: found.to_string(),
                });
            }
        }
        let sequence = value
            .get("sequence")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                Error::schema(
                    path.display().to_string(),
                    "sequence must be an integer >= 0",
                )
            })?;
        let prev = value
            .get("prev_root")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let prev_root = Digest::parse_loose(prev)
            .map_err(|_| Error::schema(path.display().to_string(), "prev_root must be 64 hex"))?;
        Ok(Receipt {
            path: path.to_path_buf(),
            value,
            link: Link {
                sequence,
                prev_root,
                next_root: computed,
            },
        })
    }

    /// Reads and checks one receipt file.
    pub fn read(kind: Kind, path: &Path, owner: Option<&str>) -> Result<Receipt, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
        let value = canon::parse(&bytes).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            source: e,
        })?;
        Receipt::check(kind, value, path, owner)
    }

    /// The normalized digest set named `field` (`lawpack_digest_set` / `ruleset_digest_set`).
    pub fn digest_set(&self, field: &str) -> Result<Vec<Digest>, Error> {
        match self.value.get(field) {
            Some(Value::Array(items)) => normalize_set(items),
            _ => Ok(Vec::new()),
        }
    }
}

/// Every `*.json` file directly in `dir` (any name), sorted; a missing dir is empty, and
/// subdirectories (other purposes' receipts) are not entered.
pub fn json_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let p = entry.map_err(|e| Error::io("listing", dir, e))?.path();
        if p.extension().is_some_and(|x| x == "json") && p.is_file() {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// The receipt files of a folder, packed: one string of names and their end offsets, so a
/// million file names cost tens of megabytes, not hundreds.
#[derive(Clone, Debug, Default)]
pub struct FileList {
    dir: PathBuf,
    names: String,
    ends: Vec<u32>,
}

impl FileList {
    /// Every `*.json` file directly in `dir`, sorted by name; a missing dir is empty.
    pub fn scan(dir: &Path) -> Result<FileList, Error> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(FileList {
                    dir: dir.to_path_buf(),
                    ..FileList::default()
                });
            }
            Err(e) => return Err(Error::io("listing", dir, e)),
        };
        // Names go into one string as they are read (no string per file: a million small
        // allocations would stay resident after they are freed), then are sorted by span.
        let mut read = String::new();
        let mut spans: Vec<(u32, u32)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".json") && entry.file_type().is_ok_and(|t| t.is_file()) {
                spans.push((read.len() as u32, name.len() as u32));
                read.push_str(name);
            }
        }
        let at = |&(start, len): &(u32, u32)| &read[start as usize..(start + len) as usize];
        spans.sort_unstable_by(|a, b| at(a).cmp(at(b)));
        let mut list = FileList {
            dir: dir.to_path_buf(),
            names: String::with_capacity(read.len()),
            ends: Vec::with_capacity(spans.len()),
        };
        for span in &spans {
            list.names.push_str(at(span));
            list.ends.push(list.names.len() as u32);
        }
        Ok(list)
    }

    /// Builds a list from explicit paths (they may live in different folders).
    pub fn from_paths(paths: &[PathBuf]) -> FileList {
        let mut list = FileList::default();
        for p in paths {
            list.names.push_str(&p.display().to_string());
            list.ends.push(list.names.len() as u32);
        }
        list
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The path of file `i`.
    pub fn path(&self, i: usize) -> PathBuf {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.dir.join(&self.names[start..self.ends[i] as usize])
    }
}
