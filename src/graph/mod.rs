//! The artifact graph: closure walks and `artifact graph verify` (msez-wire-format.md §3.3–3.4).
//!
//! A walk starts from a [`Root`] (one CAS artifact, one document, or a directory of documents),
//! follows every embedded ArtifactRef (and the transition-types special edges) through the store
//! roots, and returns a [`Report`] in the reference's `MSEZArtifactGraphVerifyReport` shape. The
//! walk is iterative (an explicit stack, last pushed first, like the reference), so depth never
//! touches the call stack; what it keeps is the visited set and the report itself.
//!
//! [`Report::verdict`] turns a report into a verdict (crate::verdict): any digest mismatch is
//! `invalid` (66), otherwise any missing artifact or a walk cut short at `max_nodes` is
//! `unknown` (68). The reference calls a cut-short walk valid; msez does not (docs/limits.md).

mod dot;
mod store;
mod walk;

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::artifact::{self, ObjectId};
use crate::canon::{self, Digest, Value};
use crate::progress::Progress;
use crate::taxonomy::{Class, Classify, Detail, Finding};

pub use dot::to_dot;
pub use store::Store;

/// The report's `type`.
pub const REPORT_TYPE: &str = "MSEZArtifactGraphVerifyReport";
/// The default node limit (also the root scan's file cap). The reference's 10,000 cut the
/// chains msez makes (a module holds one root file per receipt), so msez's default fits a
/// module of a few million receipts (docs/limits.md).
pub const DEFAULT_MAX_NODES: usize = 4_000_000;
/// The reference's default depth limit.
pub const DEFAULT_MAX_DEPTH: u32 = 16;
/// The edge label of an embedded ArtifactRef.
pub const EMBEDDED: &str = "embedded_artifactref";

/// Graph failures that stop a walk (findings about artifacts go into the report instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A root or store root that cannot be read.
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The root document does not parse.
    #[error("root document {} does not parse: {reason}", path.display())]
    RootParse { path: PathBuf, reason: String },
    /// A root that is neither a file nor a directory.
    #[error("root {} is neither a file nor a directory", path.display())]
    BadRoot { path: PathBuf },
    /// A bad CAS root name.
    #[error(transparent)]
    Artifact(#[from] artifact::Error),
}

impl Error {
    fn io(what: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Class::Missing
            }
            Error::Io { .. } => Class::Io,
            Error::RootParse { .. } => Class::Schema,
            Error::BadRoot { .. } => Class::Usage,
            Error::Artifact(e) => e.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                "missing.graph_root"
            }
            Error::Io { .. } => "io.graph",
            Error::RootParse { .. } => "schema.graph_root",
            Error::BadRoot { .. } => "usage.graph_root",
            Error::Artifact(e) => e.code(),
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::Io { path, .. } | Error::RootParse { path, .. } | Error::BadRoot { path } => {
                Detail::path(path)
            }
            Error::Artifact(e) => e.detail(),
        }
    }
}

/// Where a walk starts.
#[derive(Clone, Debug)]
pub enum Root {
    /// One artifact in the store roots.
    Cas(ObjectId),
    /// One structured document; its refs are the seeds (the file itself is not a node).
    File(PathBuf),
    /// Every structured document under a directory.
    Dir(PathBuf),
}

impl Root {
    /// A file or directory root, by what is on disk.
    pub fn path(path: &Path) -> Result<Root, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io("reading root", path, e))?;
        if meta.is_dir() {
            Ok(Root::Dir(path.to_path_buf()))
        } else if meta.is_file() {
            Ok(Root::File(path.to_path_buf()))
        } else {
            Err(Error::BadRoot {
                path: path.to_path_buf(),
            })
        }
    }
}

/// How to walk.
#[derive(Clone, Debug)]
pub struct Options {
    /// Recompute every resolved artifact's semantic digest (§2).
    pub strict: bool,
    /// Stop after this many distinct nodes (and scan at most this many root files).
    pub max_nodes: usize,
    /// Do not expand nodes at this depth or deeper.
    pub max_depth: u32,
    /// Record every edge in the report.
    pub emit_edges: bool,
    /// Store roots, searched in order.
    pub store_roots: Vec<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            max_nodes: DEFAULT_MAX_NODES,
            max_depth: DEFAULT_MAX_DEPTH,
            emit_edges: false,
            store_roots: Vec::new(),
        }
    }
}

/// `root` of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum RootInfo {
    /// A CAS root.
    Cas {
        artifact_type: String,
        digest_sha256: String,
    },
    /// A file root.
    File { path: String },
    /// A directory root.
    Dir {
        path: String,
        files_scanned: u64,
        parse_errors: u64,
        files_truncated: bool,
    },
}

/// `options` of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    pub strict: bool,
    pub max_nodes: u64,
    pub max_depth: u64,
    pub emit_edges: bool,
    pub store_roots: Vec<String>,
}

/// `stats` of the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub nodes_total: u64,
    pub edges_total: u64,
    pub missing_total: u64,
    pub digest_mismatch_total: u64,
    pub max_depth_seen: u64,
}

/// One entry of `missing`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    pub artifact_type: String,
    pub digest_sha256: String,
    pub source: String,
    pub depth: u64,
}

/// One entry of `digest_mismatches`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mismatch {
    pub artifact_type: String,
    pub digest_sha256: String,
    pub computed_digest_sha256: Option<String>,
    pub method: String,
    pub path: Option<String>,
    pub source: String,
    pub depth: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `node.strict`: the recomputed digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrictCheck {
    pub computed_digest_sha256: Option<String>,
    pub method: String,
    #[serde(rename = "match")]
    pub matches: bool,
}

/// One entry of `nodes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub artifact_type: String,
    pub digest_sha256: String,
    pub depth: u64,
    pub source: String,
    pub resolved: bool,
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<StrictCheck>,
}

/// One entry of `edges`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: String,
    pub depth: u64,
    pub source: String,
}

/// `MSEZArtifactGraphVerifyReport` (§3.4), plus `bundle` when it is a witness-bundle manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(rename = "type")]
    pub report_type: String,
    pub generated_at: String,
    pub root: RootInfo,
    pub options: ReportOptions,
    pub stats: Stats,
    pub missing: Vec<Missing>,
    pub digest_mismatches: Vec<Mismatch>,
    pub nodes: Vec<Node>,
    pub errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edges: Option<Vec<Edge>>,
    /// The bundle summary (witness-bundle manifests and `--bundle` runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<Value>,
    /// Where a `--from-bundle` run read its input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_bundle: Option<Value>,
    /// The newest `timestamp` of a checkpoint among the root documents (not serialized):
    /// a bundle's `generated_at` when `SOURCE_DATE_EPOCH` is unset.
    #[serde(skip)]
    pub newest_checkpoint: Option<String>,
    /// The root documents scanned, relative to the root directory (not serialized).
    #[serde(skip)]
    pub root_files: Vec<String>,
    /// The walk stopped at `max_nodes` (or the root scan at its file cap): the closure is
    /// incomplete. Serialized only when true, so complete reports keep the reference's shape.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// The verdict of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GraphVerdict {
    /// Every artifact resolved and (with strict) matched its digest.
    Valid,
    /// Some artifact does not match its digest (exit 66).
    Invalid,
    /// Some artifact is missing (exit 68).
    Unknown,
}

impl GraphVerdict {
    /// The exit code of this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            GraphVerdict::Valid => 0,
            GraphVerdict::Invalid => Class::Digest.exit_code(),
            GraphVerdict::Unknown => Class::Missing.exit_code(),
        }
    }
}

impl Report {
    /// Mismatches first (`invalid`), then missing artifacts or a cut-short walk (`unknown`).
    pub fn verdict(&self) -> GraphVerdict {
        match crate::verdict::verdict_of(&self.findings()) {
            crate::verdict::Verdict::Invalid => GraphVerdict::Invalid,
            crate::verdict::Verdict::Unknown => GraphVerdict::Unknown,
            crate::verdict::Verdict::Valid => GraphVerdict::Valid,
        }
    }

    /// The report's findings in the one verdict model: every mismatch, every missing
    /// artifact, and the cut when the walk was cut short.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for m in &self.digest_mismatches {
            out.push(Finding {
                class: Class::Digest,
                code: "digest.artifact_mismatch",
                message: format!(
                    "{}:{} does not match its digest ({})",
                    m.artifact_type,
                    m.digest_sha256,
                    m.error.as_deref().unwrap_or(&m.method)
                ),
                detail: Detail {
                    object: Some(format!("{}:{}", m.artifact_type, m.digest_sha256)),
                    path: m.path.as_ref().map(PathBuf::from),
                    expected: Some(m.digest_sha256.clone()),
                    found: m.computed_digest_sha256.clone(),
                },
            });
        }
        for m in &self.missing {
            out.push(Finding {
                class: Class::Missing,
                code: "missing.artifact",
                message: format!(
                    "{}:{} is in no store root (from {})",
                    m.artifact_type, m.digest_sha256, m.source
                ),
                detail: Detail::object(format!("{}:{}", m.artifact_type, m.digest_sha256)),
            });
        }
        if self.partial {
            out.push(Finding::from_error(&crate::verdict::Error::CutShort {
                max_nodes: self.options.max_nodes,
            }));
        }
        out
    }

    /// Rewrites every path in the report with `map` (absolute paths → bundle paths); a path
    /// `map` does not know is kept as is.
    pub fn map_paths(&mut self, map: impl Fn(&str) -> Option<String>) {
        let apply = |p: &mut Option<String>| {
            if let Some(new) = p.as_deref().and_then(&map) {
                *p = Some(new);
            }
        };
        for n in &mut self.nodes {
            apply(&mut n.path);
        }
        for m in &mut self.digest_mismatches {
            apply(&mut m.path);
        }
        match &mut self.root {
            RootInfo::File { path } | RootInfo::Dir { path, .. } => {
                if let Some(new) = map(path) {
                    *path = new;
                }
            }
            RootInfo::Cas { .. } => {}
        }
    }
}

/// A ref waiting on the stack.
struct Pending {
    artifact_type: String,
    digest: String,
    depth: u32,
    source: String,
}

/// Whether a directory at `rel` (relative to the root directory, `/`-separated) is skipped by
/// a directory scan: `.git`, `__pycache__`, `.mypy_cache` anywhere, a top-level
/// `dist/artifacts` (as the reference) and a top-level `witness/` (bundles and their
/// attestations, so a module's bundle does not include the previous bundle's files).
pub fn skipped_dir(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    matches!(name, ".git" | "__pycache__" | ".mypy_cache")
        || rel == "witness"
        || rel == "dist/artifacts"
}

/// The root documents among `files` (relative paths of every regular file under the root
/// directory): structured names outside skipped directories, sorted by lowercased path, at
/// most `cap` (and whether more were there).
pub fn select_root_files(files: Vec<String>, cap: usize) -> (Vec<String>, bool) {
    let mut out: Vec<String> = files
        .into_iter()
        .filter(|f| {
            let mut dir = f.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if skipped_dir(parent) {
                    return false;
                }
                dir = parent;
            }
            is_structured(f)
        })
        .collect();
    out.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    let truncated = out.len() > cap;
    out.truncate(cap);
    (out, truncated)
}

/// The structured documents under `dir` on disk (see [`select_root_files`]).
pub fn scan_dir(dir: &Path, cap: usize) -> Result<(Vec<String>, bool), Error> {
    Ok(select_root_files(list_files(dir)?, cap))
}

/// Every regular file under `dir`, relative and `/`-separated, not descending into skipped
/// directories.
fn list_files(dir: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let abs = if rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&rel)
        };
        let entries = std::fs::read_dir(&abs).map_err(|e| Error::io("listing", &abs, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("listing", &abs, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let child = if rel.is_empty() {
                name.to_string()
            } else {
                format!("{rel}/{name}")
            };
            let ft = entry
                .file_type()
                .map_err(|e| Error::io("listing", &abs, e))?;
            if ft.is_dir() {
                if !skipped_dir(&child) {
                    stack.push(child);
                }
            } else if ft.is_file() {
                out.push(child);
            }
        }
    }
    Ok(out)
}

/// Where a walk reads root documents and artifacts: the filesystem and store-root directories
/// ([`FsSource`]), or a bundle read in place (`bundle::verify`). Paths are whatever the
/// source uses to name files; they end up in the report as they are.
pub trait Source {
    /// Every regular file under the root directory `dir`, relative and `/`-separated.
    fn list(&mut self, dir: &Path) -> Result<Vec<String>, Error>;
    /// A document's bytes (at most 64 MiB).
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, String>;
    /// SHA-256 of a file's bytes, streamed.
    fn hash(&mut self, path: &Path) -> Result<Digest, String>;
    /// The one file holding `id`, `None` when there is none, `Ambiguous` when several.
    fn resolve(&mut self, id: &ObjectId) -> Result<Option<PathBuf>, artifact::Error>;
    /// The store roots, as the report names them.
    fn store_roots(&self) -> Vec<String>;
}

/// The filesystem: root documents by path, artifacts in store-root directories.
pub struct FsSource {
    store: Store,
}

impl FsSource {
    /// A source searching `store_roots` in order.
    pub fn new(store_roots: &[PathBuf]) -> FsSource {
        FsSource {
            store: Store::new(store_roots),
        }
    }
}

impl Source for FsSource {
    fn list(&mut self, dir: &Path) -> Result<Vec<String>, Error> {
        list_files(dir)
    }

    fn read(&mut self, path: &Path) -> Result<Vec<u8>, String> {
        read_doc(path)
    }

    fn hash(&mut self, path: &Path) -> Result<Digest, String> {
        hash_file(path).map_err(|e| e.to_string())
    }

    fn resolve(&mut self, id: &ObjectId) -> Result<Option<PathBuf>, artifact::Error> {
        self.store.resolve(id)
    }

    fn store_roots(&self) -> Vec<String> {
        self.store
            .roots()
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    }
}

/// Whether a file name is parsed as a structured document (§3.3).
pub fn is_structured(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".json", ".jsonld", ".yaml", ".yml"]
        .iter()
        .any(|s| lower.ends_with(s))
}

/// Parses a structured document: JSON for `.json`/`.jsonld`, YAML otherwise.
pub fn parse_structured(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        serde_yaml_ng::from_slice(bytes).map_err(|e| e.to_string())
    } else {
        canon::parse(bytes).map_err(|e| e.to_string())
    }
}

fn read_root_doc(source: &mut dyn Source, path: &Path) -> Result<Value, Error> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    source
        .read(path)
        .and_then(|bytes| parse_structured(name, &bytes))
        .map_err(|reason| Error::RootParse {
            path: path.to_path_buf(),
            reason,
        })
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

fn newer(current: &mut Option<String>, doc: &Value) {
    let is_checkpoint = doc
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with("Checkpoint"));
    if let (true, Some(ts)) = (is_checkpoint, doc.get("timestamp").and_then(Value::as_str)) {
        if current.as_deref().is_none_or(|c| ts > c) {
            *current = Some(ts.to_string());
        }
    }
}

/// Walks the closure of `root` on the filesystem (store roots from `opts`) and reports every
/// node, edge, missing artifact and mismatch.
pub fn verify(root: &Root, opts: &Options, progress: &dyn Progress) -> Result<Report, Error> {
    verify_in(&mut FsSource::new(&opts.store_roots), root, opts, progress)
}

/// [`verify`] over any [`Source`] (`opts.store_roots` is not used: the source has its own).
pub fn verify_in(
    source: &mut dyn Source,
    root: &Root,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    let mut w = walk::Walk::new(opts);
    let mut stack = Vec::new();
    let root_info = w.start(source, root, progress, &mut stack)?;
    w.partial = matches!(
        root_info,
        RootInfo::Dir {
            files_truncated: true,
            ..
        }
    );
    crate::reach::depth_first(stack, |p, rest| Ok::<_, Error>(w.visit(source, p, rest)))?;
    Ok(w.report(root_info, source.store_roots()))
}

/// A document's bytes, refusing files over the canonical-JSON size limit (64 MiB) before
/// reading them: hostile trees cannot make a walk allocate more than that per document.
fn read_doc(path: &Path) -> Result<Vec<u8>, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > canon::MAX_JSON_BYTES as u64 {
        return Err(format!(
            "{len} bytes, over the {} byte limit",
            canon::MAX_JSON_BYTES
        ));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// SHA-256 of a file, streamed.
pub fn hash_file(path: &Path) -> std::io::Result<Digest> {
    use sha2::Digest as _;
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Digest(h.finalize().into()))
}

/// The special edges of a transition-types lock: `snapshot.transition_types[*]`'s schema,
/// ruleset and circuit digests (a string, or an ArtifactRef whose own type is used).
fn transition_type_edges(doc: &Value) -> Result<Vec<(String, String, String)>, &'static str> {
    let items = doc
        .get("snapshot")
        .and_then(|s| s.get("transition_types"))
        .and_then(Value::as_array)
        .ok_or("snapshot.transition_types is not an array")?;
    let mut out = Vec::new();
    for item in items {
        let kind = item
            .get("kind")
            .and_then(Value::as_str)
            .ok_or("a transition type without a kind")?;
        for (field, default_type) in [
            ("schema_digest_sha256", "schema"),
            ("ruleset_digest_sha256", "ruleset"),
            ("zk_circuit_digest_sha256", "circuit"),
        ] {
            let (t, d) = match item.get(field) {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) => (default_type.to_string(), s.clone()),
                Some(v @ Value::Object(_)) => (
                    v.get("artifact_type")
                        .and_then(Value::as_str)
                        .unwrap_or(default_type)
                        .to_string(),
                    v.get("digest_sha256")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                ),
                Some(_) => return Err("a digest field that is neither a string nor a ref"),
            };
            let d = d.trim().to_ascii_lowercase();
            if !d.is_empty() {
                out.push((
                    t.trim().to_string(),
                    d,
                    format!("transition-types:{kind}:{field}"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::ArtifactType;

    fn put(root: &Path, t: &str, bytes: &[u8]) -> String {
        let id = ObjectId::new(
            ArtifactType::new(t).unwrap(),
            artifact::digest_bytes(&ArtifactType::new(t).unwrap(), bytes).unwrap(),
        );
        let path = artifact::store_path(root, &id);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        id.digest.to_hex()
    }

    #[test]
    fn a_closure_follows_nested_refs_and_reports_missing_and_altered_nodes() {
        let store = tempfile::tempdir().unwrap();
        let blob = put(store.path(), "blob", b"hello");
        let gone = "0".repeat(64);
        let schema = serde_json::json!({"a": {"artifact_type": "blob", "digest_sha256": blob},
            "b": {"artifact_type": "blob", "digest_sha256": gone}});
        let schema_digest = put(store.path(), "schema", &canon::to_bytes(&schema).unwrap());
        let opts = Options {
            strict: true,
            emit_edges: true,
            store_roots: vec![store.path().to_path_buf()],
            ..Options::default()
        };
        let root = Root::Cas(format!("schema:{schema_digest}").parse().unwrap());
        let r = verify(&root, &opts, &crate::progress::Silent).unwrap();
        assert_eq!(r.stats.nodes_total, 3);
        assert_eq!(r.stats.edges_total, 2);
        assert_eq!(r.stats.max_depth_seen, 1);
        assert_eq!(r.missing.len(), 1);
        assert_eq!(r.verdict(), GraphVerdict::Unknown);
        // Alter the blob: strict mode catches it and the verdict becomes invalid.
        std::fs::write(
            artifact::store_path(store.path(), &format!("blob:{blob}").parse().unwrap()),
            b"hellO",
        )
        .unwrap();
        let r = verify(&root, &opts, &crate::progress::Silent).unwrap();
        assert_eq!(r.digest_mismatches.len(), 1);
        assert_eq!(r.digest_mismatches[0].method, "bytes");
        assert_eq!(r.verdict(), GraphVerdict::Invalid);
    }

    #[test]
    fn transition_types_locks_follow_their_special_edges() {
        let lock = serde_json::json!({"snapshot": {"transition_types": [
            {"kind": "k", "schema_digest_sha256": "A".repeat(64),
             "ruleset_digest_sha256": {"artifact_type": "ruleset", "digest_sha256": "b".repeat(64)}}]}});
        let edges = transition_type_edges(&lock).unwrap();
        assert_eq!(edges.len(), 2);
        assert_eq!(edges[0].0, "schema");
        assert_eq!(edges[0].1, "a".repeat(64));
        assert_eq!(edges[1].2, "transition-types:k:ruleset_digest_sha256");
    }

    #[test]
    fn a_deep_chain_stops_at_max_depth_without_recursion() {
        let store = tempfile::tempdir().unwrap();
        let mut prev = put(store.path(), "blob", b"leaf");
        let mut prev_type = "blob";
        for i in 0..40 {
            let doc = serde_json::json!({"i": i, "next": {"artifact_type": prev_type, "digest_sha256": prev}});
            prev = put(store.path(), "schema", &canon::to_bytes(&doc).unwrap());
            prev_type = "schema";
        }
        let opts = Options {
            store_roots: vec![store.path().to_path_buf()],
            ..Options::default()
        };
        let root = Root::Cas(format!("schema:{prev}").parse().unwrap());
        let r = verify(&root, &opts, &crate::progress::Silent).unwrap();
        assert_eq!(r.stats.max_depth_seen, u64::from(DEFAULT_MAX_DEPTH));
        assert_eq!(r.stats.nodes_total, u64::from(DEFAULT_MAX_DEPTH) + 1);
    }
}
