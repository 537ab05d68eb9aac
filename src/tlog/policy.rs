//! A chain's witness policy (docs/tlog.md, "Witness policy"): k of n witness cosigner keys,
//! pinned in the module file (`witness_policy` in asset.yaml or corridor.yaml), and its check
//! against the checkpoint notes beside the chain's checkpoints.
//!
//! ```yaml
//! witness_policy:
//!   quorum: 2
//!   witnesses:
//!     - example.org/w1+1c2d3e4f+BC…     # tlog-cosignature/v1 vkeys (msez key vkey --witness)
//!     - example.org/w2+…
//!     - example.org/w3+…
//! ```
//!
//! The check reads every `checkpoint.N.note` of the chain. A cosignature line counts only when
//! it is by a policy witness and verifies over a note of the chain's origin; anything else is
//! ignored and reported (anyone can append bytes to a note), never a failure by itself. A
//! valid policy cosignature over another root than the chain's at that size is a split view
//! (fork). The note of the chain's current size must carry `quorum` valid policy cosignatures,
//! else the chain is `unknown` (receipts beyond the last witnessed checkpoint are not witnessed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::canon::Digest as Hash;
use crate::mmr;
use crate::taxonomy::{Class, Classify, Detail};

use super::note::{Checkpoint, Note};
use super::witness::Cosigner;

/// The module-file key that pins the policy.
pub const POLICY_KEY: &str = "witness_policy";

/// k of n witnesses.
#[derive(Clone, Debug)]
pub struct Policy {
    /// How many distinct policy witnesses must cosign.
    pub quorum: usize,
    /// The witnesses' cosigner keys.
    pub witnesses: Vec<Cosigner>,
    /// Where the policy was pinned (the module file).
    pub pinned_in: PathBuf,
}

/// Why a witness policy check found something.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A pinned policy that does not parse.
    #[error("{}: {field}: {why}", file.display())]
    BadPolicy {
        file: PathBuf,
        field: String,
        why: String,
    },
    /// Too few valid policy cosignatures on the chain's current checkpoint.
    #[error("{what}: {have} of {quorum} required witnesses (of {n}) cosigned: missing {}", missing.join(", "))]
    Quorum {
        what: String,
        quorum: usize,
        n: usize,
        have: usize,
        missing: Vec<String>,
    },
    /// A policy witness validly cosigned another root at a size of this chain.
    #[error(
        "split view: witness {} cosigned size {} of {} with root {}, but the chain's root at that size is {} (evidence: the cosigned note {})",
        .0.witness, .0.size, .0.origin, .0.cosigned, .0.chain, .0.note.display()
    )]
    SplitView(Box<Split>),
    /// A checkpoint note that could not be read.
    #[error("reading checkpoint note {}: {why}", path.display())]
    Unreadable { path: PathBuf, why: String },
}

/// A policy witness's cosignature over another root than the chain's at one size.
#[derive(Debug)]
pub struct Split {
    /// The witness.
    pub witness: String,
    /// The log origin.
    pub origin: String,
    /// The size cosigned.
    pub size: u64,
    /// The root the witness cosigned (hex).
    pub cosigned: String,
    /// The chain's root at that size (hex).
    pub chain: String,
    /// The cosigned note (the evidence).
    pub note: PathBuf,
}

impl Classify for Error {
    fn class(&self) -> Class {
        match self {
            Error::BadPolicy { .. } => Class::Schema,
            Error::Quorum { .. } => Class::Missing,
            Error::SplitView { .. } => Class::Fork,
            Error::Unreadable { .. } => Class::Io,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::BadPolicy { .. } => "schema.witness_policy",
            Error::Quorum { .. } => "missing.witness_quorum",
            Error::SplitView { .. } => "fork.witness_split_view",
            Error::Unreadable { .. } => "io.witness_note",
        }
    }

    fn detail(&self) -> Detail {
        match self {
            Error::BadPolicy { file, .. } => Detail::path(file),
            Error::Quorum {
                what, quorum, have, ..
            } => Detail::object(what.clone())
                .mismatch(format!("{quorum} cosignatures"), have.to_string()),
            Error::SplitView(s) => Detail::path(&s.note).mismatch(&s.chain, &s.cosigned),
            Error::Unreadable { path, .. } => Detail::path(path),
        }
    }
}

/// Parses a policy value (from YAML or JSON); `file` names where it is pinned.
pub fn parse(value: &serde_json::Value, file: &Path) -> Result<Policy, Error> {
    let bad = |field: &str, why: String| Error::BadPolicy {
        file: file.to_path_buf(),
        field: field.to_string(),
        why,
    };
    let map = value
        .as_object()
        .ok_or_else(|| bad(POLICY_KEY, "must be a mapping {quorum, witnesses}".into()))?;
    if let Some(k) = map.keys().find(|k| *k != "quorum" && *k != "witnesses") {
        return Err(bad(&format!("{POLICY_KEY}.{k}"), "unknown field".into()));
    }
    let list = map
        .get("witnesses")
        .and_then(|w| w.as_array())
        .ok_or_else(|| {
            bad(
                &format!("{POLICY_KEY}.witnesses"),
                "must be a list of witness vkeys".into(),
            )
        })?;
    let mut witnesses: Vec<Cosigner> = Vec::with_capacity(list.len());
    for (i, w) in list.iter().enumerate() {
        let field = format!("{POLICY_KEY}.witnesses[{i}]");
        let text = w
            .as_str()
            .ok_or_else(|| bad(&field, "must be a vkey string".into()))?;
        let c = Cosigner::parse(text).map_err(|e| bad(&field, e.to_string()))?;
        // One witness listed twice would count twice toward the quorum.
        if witnesses.iter().any(|o| o.name == c.name) {
            return Err(bad(&field, format!("witness {} is listed twice", c.name)));
        }
        witnesses.push(c);
    }
    if witnesses.is_empty() {
        return Err(bad(
            &format!("{POLICY_KEY}.witnesses"),
            "names no witness".into(),
        ));
    }
    let quorum = map
        .get("quorum")
        .and_then(|q| q.as_u64())
        .filter(|&q| q >= 1 && q as usize <= witnesses.len())
        .ok_or_else(|| {
            bad(
                &format!("{POLICY_KEY}.quorum"),
                format!("must be an integer from 1 to {}", witnesses.len()),
            )
        })?;
    Ok(Policy {
        quorum: quorum as usize,
        witnesses,
        pinned_in: file.to_path_buf(),
    })
}

/// The policy the chain pins, if any: for an asset, the pinned registry VC's
/// `credentialSubject.witness_policy` (signed by the registry's issuer) wins over the module
/// file's.
pub fn of_module(module_dir: &Path, kind: crate::chain::Kind) -> Result<Option<Policy>, Error> {
    let file = module_dir.join(super::origin::module_file(kind));
    let bad = |file: &Path, why: String| Error::BadPolicy {
        file: file.to_path_buf(),
        field: POLICY_KEY.into(),
        why,
    };
    if kind == crate::chain::Kind::Asset {
        let pinned = super::origin::pinned_registry_subject(module_dir)
            .map_err(|e| bad(&file, e.to_string()))?;
        if let Some((vc, subject)) = pinned {
            if let Some(v) = subject.get(POLICY_KEY).filter(|v| !v.is_null()) {
                return parse(v, &vc).map(Some);
            }
        }
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(&file, e.to_string())),
    };
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).map_err(|e| bad(&file, e.to_string()))?;
    match doc.get(POLICY_KEY) {
        None | Some(serde_yaml_ng::Value::Null) => Ok(None),
        Some(v) => {
            let json = serde_json::to_value(v).map_err(|e| bad(&file, e.to_string()))?;
            parse(&json, &file).map(Some)
        }
    }
}

/// A signature line that was not counted, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Ignored {
    /// The note file.
    pub note: PathBuf,
    /// The line (or the note's name when the whole note was ignored).
    pub line: String,
    /// Why it does not count.
    pub why: String,
}

/// What the policy check found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// k.
    pub quorum: usize,
    /// The policy witnesses' names.
    pub witnesses: Vec<String>,
    /// Where the policy is pinned.
    pub pinned_in: PathBuf,
    /// The note of the chain's current size, when there is one.
    pub checkpoint: Option<PathBuf>,
    /// The chain's size.
    pub size: u64,
    /// Policy witnesses with a valid cosignature on that note.
    pub cosigned_by: Vec<String>,
    /// Policy witnesses without one.
    pub missing: Vec<String>,
    /// Lines that do not count (reported, no effect on the verdict).
    pub ignored: Vec<Ignored>,
    /// The findings (quorum, split view, unreadable notes).
    #[serde(skip)]
    pub errors: Vec<Error>,
}

/// The `checkpoint.N.note` files in `dir` by size.
fn notes(dir: &Path) -> BTreeMap<u64, PathBuf> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let size = name
            .strip_prefix("checkpoint.")
            .and_then(|r| r.strip_suffix(".note"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(size) = size {
            out.insert(size, e.path());
        }
    }
    out
}

/// Splits a note into its text and signature lines, each parsed on its own: a malformed line
/// someone appended must not hide the valid ones.
/// Each signature line with its parse, when it parses.
type Lines = Vec<(String, Option<super::note::Signature>)>;

fn lenient(bytes: &[u8]) -> Result<(String, Lines), String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    // A checkpoint body has no empty line, so the first blank line ends the text.
    let split = s
        .find("\n\n")
        .ok_or_else(|| "no blank line before the signatures".to_string())?;
    let text = &s[..split + 1];
    let lines = s[split + 2..]
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let one = format!("{text}\n{l}\n");
            let sig = Note::parse(one.as_bytes())
                .ok()
                .and_then(|n| n.signatures.into_iter().next());
            (l.to_string(), sig)
        })
        .collect();
    Ok((text.to_string(), lines))
}

/// A note's text and the signature lines that parse, malformed lines dropped: what a writer
/// keeps of a note others may have appended bytes to (None when the text itself is broken).
pub fn parse_lenient(bytes: &[u8]) -> Option<Note> {
    let (text, lines) = lenient(bytes).ok()?;
    Some(Note {
        text,
        signatures: lines.into_iter().filter_map(|(_, s)| s).collect(),
    })
}

/// Checks `policy` for the chain of log `origin` whose next_roots are `next_roots`, against
/// the notes in `checkpoints_dir`.
pub fn check(policy: &Policy, origin: &str, checkpoints_dir: &Path, next_roots: &[Hash]) -> Report {
    let roots = |files: &BTreeMap<u64, PathBuf>| roots_at(next_roots, files);
    check_at(
        policy,
        origin,
        checkpoints_dir,
        next_roots.len() as u64,
        roots,
    )
}

/// The sizes of the checkpoint notes in `checkpoints_dir`: the only sizes at which a policy
/// check needs the chain's MMR root (a streaming verifier takes them as it passes).
pub fn note_sizes(checkpoints_dir: &Path) -> std::collections::BTreeSet<u64> {
    notes(checkpoints_dir).into_keys().collect()
}

/// [`check`] for a chain of `size` receipts whose MMR roots at the notes' sizes `roots` gives
/// (it is handed the notes found; sizes beyond the chain have no root).
pub fn check_at(
    policy: &Policy,
    origin: &str,
    checkpoints_dir: &Path,
    size: u64,
    roots: impl FnOnce(&BTreeMap<u64, PathBuf>) -> BTreeMap<u64, Hash>,
) -> Report {
    let files = notes(checkpoints_dir);
    let mut report = Report {
        quorum: policy.quorum,
        witnesses: policy.witnesses.iter().map(|w| w.name.clone()).collect(),
        pinned_in: policy.pinned_in.clone(),
        checkpoint: files.get(&size).cloned(),
        size,
        cosigned_by: Vec::new(),
        missing: Vec::new(),
        ignored: Vec::new(),
        errors: Vec::new(),
    };
    let roots = roots(&files);
    judge_notes(policy, origin, &files, &roots, &mut report);
    if size > 0 {
        quorum(policy, &mut report, &files, checkpoints_dir);
    }
    report
}

/// Judges every signature line of the notes `files` (by size) against the chain's `roots` at
/// those sizes: counted (at the report's size), ignored and reported, or a split view.
fn judge_notes(
    policy: &Policy,
    origin: &str,
    files: &BTreeMap<u64, PathBuf>,
    roots: &BTreeMap<u64, Hash>,
    report: &mut Report,
) {
    let size = report.size;
    for (&n, path) in files {
        let ignore = |report: &mut Report, line: &str, why: String| {
            report.ignored.push(Ignored {
                note: path.clone(),
                line: line.to_string(),
                why,
            })
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                report.errors.push(Error::Unreadable {
                    path: path.clone(),
                    why: e.to_string(),
                });
                continue;
            }
        };
        let (text, lines) = match lenient(&bytes) {
            Ok(x) => x,
            Err(why) => {
                ignore(report, "(the whole note)", format!("malformed note: {why}"));
                continue;
            }
        };
        let ck = match Checkpoint::parse(&text) {
            Ok(ck) if ck.origin == origin && ck.size == n => ck,
            Ok(ck) => {
                ignore(
                    report,
                    "(the whole note)",
                    format!(
                        "a checkpoint of {} at size {}, not of {origin} at size {n}",
                        ck.origin, ck.size
                    ),
                );
                continue;
            }
            Err(e) => {
                ignore(report, "(the whole note)", e.to_string());
                continue;
            }
        };
        for (line, sig) in lines {
            let Some(sig) = sig else {
                ignore(report, &line, "malformed signature line".into());
                continue;
            };
            if sig.name == origin {
                // The log's own signature: the MSEZ checkpoint VC is what verify judges.
                continue;
            }
            let Some(w) = policy
                .witnesses
                .iter()
                .find(|w| w.name == sig.name && w.id == sig.id)
            else {
                ignore(report, &line, "not by a witness of the policy".into());
                continue;
            };
            if w.verify(&text, &sig).is_none() {
                ignore(
                    report,
                    &line,
                    format!("names policy witness {} but does not verify", w.name),
                );
                continue;
            }
            let Some(root) = roots.get(&n) else {
                ignore(
                    report,
                    &line,
                    format!("cosigns size {n}, beyond this chain (size {size})"),
                );
                continue;
            };
            if *root != ck.root {
                report.errors.push(Error::SplitView(Box::new(Split {
                    witness: w.name.clone(),
                    origin: origin.to_string(),
                    size: n,
                    cosigned: ck.root.to_hex(),
                    chain: root.to_hex(),
                    note: path.clone(),
                })));
            } else if n == size && !report.cosigned_by.contains(&w.name) {
                report.cosigned_by.push(w.name.clone());
            }
        }
    }
}

/// Checks `policy` for one checkpoint of log `origin` (size `size`, root `root`) against its
/// note at `note` (verify-inclusion): the note must carry `quorum` valid policy cosignatures;
/// a valid policy cosignature over another root at that size is a split view.
pub fn check_checkpoint(
    policy: &Policy,
    origin: &str,
    note: &Path,
    size: u64,
    root: Hash,
) -> Report {
    let files: BTreeMap<u64, PathBuf> = if note.is_file() {
        BTreeMap::from([(size, note.to_path_buf())])
    } else {
        BTreeMap::new()
    };
    let mut report = Report {
        quorum: policy.quorum,
        witnesses: policy.witnesses.iter().map(|w| w.name.clone()).collect(),
        pinned_in: policy.pinned_in.clone(),
        checkpoint: files.get(&size).cloned(),
        size,
        cosigned_by: Vec::new(),
        missing: Vec::new(),
        ignored: Vec::new(),
        errors: Vec::new(),
    };
    let roots = BTreeMap::from([(size, root)]);
    judge_notes(policy, origin, &files, &roots, &mut report);
    if size > 0 {
        let dir = note.parent().unwrap_or(Path::new("."));
        quorum(policy, &mut report, &files, dir);
    }
    report
}

/// The module directory enclosing `path` (a checkpoint or proof file of its chain): the
/// nearest ancestor holding asset.yaml or corridor.yaml.
pub fn enclosing_module(path: &Path) -> Option<(PathBuf, crate::chain::Kind)> {
    let abs = std::fs::canonicalize(path).ok()?;
    abs.ancestors().skip(1).find_map(|d| {
        if d.join("asset.yaml").is_file() {
            Some((d.to_path_buf(), crate::chain::Kind::Asset))
        } else if d.join("corridor.yaml").is_file() {
            Some((d.to_path_buf(), crate::chain::Kind::Corridor))
        } else {
            None
        }
    })
}

/// The policy check of one inclusion proof's checkpoint: the policy and origin of the chain
/// in `module_dir` (of `owner`, `purpose`), the note `note` of size `size` over `root`.
/// Findings go into `findings`; None when the module pins no policy.
#[allow(clippy::too_many_arguments)]
pub fn apply_checkpoint(
    module_dir: &Path,
    kind: crate::chain::Kind,
    owner: &str,
    purpose: Option<&str>,
    note: &Path,
    size: u64,
    root: Hash,
    findings: &mut crate::verdict::Findings,
) -> Option<Report> {
    let policy = match of_module(module_dir, kind) {
        Ok(p) => p?,
        Err(e) => {
            findings.push(&e);
            return None;
        }
    };
    let origin = match super::origin::of_module(module_dir, kind, owner, purpose) {
        Ok(o) => o,
        Err(e) => {
            findings.push(&e);
            return None;
        }
    };
    let report = check_checkpoint(&policy, &origin, note, size, root);
    findings.extend(&report.errors);
    Some(report)
}

/// The chain's MMR root at every size a note claims, in one pass over `next_roots`.
fn roots_at(next_roots: &[Hash], files: &BTreeMap<u64, PathBuf>) -> BTreeMap<u64, Hash> {
    let mut roots: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut acc = mmr::AppendState::new();
    for r in next_roots {
        acc.append(mmr::leaf_hash(r));
        if files.contains_key(&acc.size()) {
            if let Some(root) = acc.root() {
                roots.insert(acc.size(), root);
            }
        }
    }
    roots
}

/// The witnesses still missing at the chain's size, and the quorum finding when too few
/// cosigned.
fn quorum(
    policy: &Policy,
    report: &mut Report,
    files: &BTreeMap<u64, PathBuf>,
    checkpoints_dir: &Path,
) {
    let size = report.size;
    report.missing = report
        .witnesses
        .iter()
        .filter(|w| !report.cosigned_by.contains(w))
        .cloned()
        .collect();
    if report.cosigned_by.len() < policy.quorum {
        let what = match &report.checkpoint {
            Some(p) => format!("checkpoint note {}", p.display()),
            None => {
                let latest = files
                    .keys()
                    .rfind(|&&n| n < size)
                    .map(|n| format!("latest: size {n}"))
                    .unwrap_or_else(|| "none".into());
                format!(
                    "no checkpoint note at the chain's size {size} in {} ({latest})",
                    checkpoints_dir.display()
                )
            }
        };
        report.errors.push(Error::Quorum {
            what,
            quorum: policy.quorum,
            n: policy.witnesses.len(),
            have: report.cosigned_by.len(),
            missing: report.missing.clone(),
        });
    }
}

/// The policy `chain` pins, checked against its notes with the chain's `next_roots`: findings
/// go into `findings` (a policy or origin that does not parse too); None when it pins none.
pub fn apply(
    chain: &crate::chain::ops::Chain,
    next_roots: &[Hash],
    findings: &mut crate::verdict::Findings,
) -> Option<Report> {
    let roots = |files: &BTreeMap<u64, PathBuf>| roots_at(next_roots, files);
    apply_at(chain, next_roots.len() as u64, roots, findings)
}

/// [`apply`] for a chain of `size` receipts whose MMR roots at the notes' sizes `roots` gives.
pub fn apply_at(
    chain: &crate::chain::ops::Chain,
    size: u64,
    roots: impl FnOnce(&BTreeMap<u64, PathBuf>) -> BTreeMap<u64, Hash>,
    findings: &mut crate::verdict::Findings,
) -> Option<Report> {
    let policy = match of_module(&chain.module_dir, chain.kind) {
        Ok(p) => p?,
        Err(e) => {
            findings.push(&e);
            return None;
        }
    };
    let origin = match super::origin::of_module(
        &chain.module_dir,
        chain.kind,
        &chain.owner,
        chain.purpose.as_deref(),
    ) {
        Ok(o) => o,
        Err(e) => {
            findings.push(&e);
            return None;
        }
    };
    let report = check_at(&policy, &origin, &chain.checkpoints_dir, size, roots);
    findings.extend(&report.errors);
    Some(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn vkey(i: u8) -> String {
        let k = SigningKey::from_bytes(&[i; 32]);
        Cosigner::new(&format!("w{i}"), k.verifying_key())
            .unwrap()
            .vkey()
    }

    #[test]
    fn policies_parse_and_bad_ones_name_the_field() {
        let file = Path::new("asset.yaml");
        let ok = serde_json::json!({"quorum": 2, "witnesses": [vkey(1), vkey(2), vkey(3)]});
        let p = parse(&ok, file).unwrap();
        assert_eq!((p.quorum, p.witnesses.len()), (2, 3));
        let cases = [
            (
                serde_json::json!({"quorum": 1, "witnesses": [vkey(1), "w2+00000000+AAAA"]}),
                "witness_policy.witnesses[1]",
            ),
            (
                serde_json::json!({"quorum": 3, "witnesses": [vkey(1), vkey(2)]}),
                "witness_policy.quorum",
            ),
            (
                serde_json::json!({"quorum": 1, "witnesses": [vkey(1), vkey(1)]}),
                "witness_policy.witnesses[1]",
            ),
            (
                serde_json::json!({"quorum": 1, "witnesses": [vkey(1)], "k": 1}),
                "witness_policy.k",
            ),
        ];
        for (v, field) in cases {
            match parse(&v, file) {
                Err(Error::BadPolicy { field: f, .. }) => assert_eq!(f, field, "{v}"),
                other => panic!("{v}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_pinned_registry_vc_policy_wins_over_asset_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let vc = serde_json::json!({
            "type": ["MSEZSmartAssetRegistryCredential"],
            "credentialSubject": {"asset_id": "ab", POLICY_KEY: {"quorum": 1, "witnesses": [vkey(4)]}},
            "proof": [],
        });
        let value = crate::canon::parse(vc.to_string().as_bytes()).unwrap();
        let pin = crate::canon::digest_without(&value, &["proof"]).unwrap();
        std::fs::write(dir.path().join("registry.vc.json"), vc.to_string()).unwrap();
        let yaml = format!(
            "asset_id: ab\n{POLICY_KEY}:\n  quorum: 2\n  witnesses: [\"{}\", \"{}\"]\n",
            vkey(1),
            vkey(2)
        );
        std::fs::write(dir.path().join("asset.yaml"), &yaml).unwrap();
        let p = of_module(dir.path(), crate::chain::Kind::Asset)
            .unwrap()
            .unwrap();
        assert_eq!((p.quorum, p.witnesses.len()), (2, 2));
        std::fs::write(
            dir.path().join("asset.yaml"),
            format!("{yaml}registry_vc_digest_sha256: {pin}\n"),
        )
        .unwrap();
        let p = of_module(dir.path(), crate::chain::Kind::Asset)
            .unwrap()
            .unwrap();
        assert_eq!((p.quorum, p.witnesses[0].name.as_str()), (1, "w4"));
        assert!(p.pinned_in.ends_with("registry.vc.json"));
        // A VC that is not the pinned one is refused, not skipped.
        std::fs::write(
            dir.path().join("asset.yaml"),
            format!("{yaml}registry_vc_digest_sha256: {}\n", "00".repeat(32)),
        )
        .unwrap();
        assert!(matches!(
            of_module(dir.path(), crate::chain::Kind::Asset),
            Err(Error::BadPolicy { .. })
        ));
    }
}
