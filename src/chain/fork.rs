//! Fork resolutions (msez-wire-format.md §8): the credential that chooses one branch at a fork
//! point, the loader that turns a folder of them into [`Resolutions`], and the fork-inspect
//! report (§8.3).
//!
//! The reference counts any resolution anyone wrote. msez counts one only when it carries a
//! valid proof by a trust anchor allowed `fork_resolution` (or `*`); the others are reported
//! and ignored unless the caller allows unsigned resolutions. Two counted resolutions that
//! choose differently for one point are an error, not "first wins".

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::canon::{self, Digest, Value};
use crate::chain::trust::Error as TrustError;
use crate::vc::{self, TrustAnchors};

use super::lifecycle::{Lifecycle, Trust};
use super::ops::Chain;
use super::receipt::{self, FileList};
use super::select::{self, Link, Resolutions, Stop};
use super::verify;
use super::{Error, Kind};

/// The trust-anchor attestation a resolution signer needs.
pub const ATTESTATION: &str = "fork_resolution";

/// The credentialSubject `type` of a resolution.
pub fn subject_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "MSEZSmartAssetForkResolution",
        Kind::Corridor => "MSEZCorridorForkResolution",
    }
}

/// The VC `type` of a resolution.
pub fn credential_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "MSEZSmartAssetForkResolutionCredential",
        Kind::Corridor => "MSEZCorridorForkResolutionCredential",
    }
}

fn subject_schema(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "smart-asset.fork-resolution.schema.json",
        Kind::Corridor => "corridor.fork-resolution.schema.json",
    }
}

fn vc_schema(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "vc.smart-asset-fork-resolution.schema.json",
        Kind::Corridor => "vc.corridor-fork-resolution.schema.json",
    }
}

fn kind_context(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "https://schemas.momentum-sez.org/contexts/msez/smart-asset/v1",
        Kind::Corridor => "https://schemas.momentum-sez.org/contexts/msez/corridor/v1",
    }
}

/// What a new resolution says.
#[derive(Clone, Debug)]
pub struct Request {
    /// The contested sequence.
    pub sequence: u64,
    /// The contested prev_root.
    pub prev_root: Digest,
    /// The branch to keep.
    pub chosen_next_root: Digest,
    /// The candidates to record (the chosen one is added when missing); empty: none recorded.
    pub candidates: Vec<Digest>,
    /// The issuer DID.
    pub issuer: String,
    /// issuanceDate and resolved_at.
    pub now: String,
}

/// A random urn:uuid (v4), as the reference's `uuid.uuid4()`.
pub fn uuid_v4() -> Result<String, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| crate::vc::Error::Random(e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Ok(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

/// The unsigned resolution credential of §8.1 for `chain`.
pub fn credential(chain: &Chain, req: &Request) -> Result<Value, Error> {
    let mut subject = serde_json::Map::new();
    subject.insert("type".into(), subject_type(chain.kind).into());
    subject.insert(chain.kind.owner_field().into(), chain.owner.clone().into());
    if let Some(p) = &chain.purpose {
        subject.insert("purpose".into(), p.clone().into());
    }
    subject.insert("sequence".into(), req.sequence.into());
    subject.insert("prev_root".into(), req.prev_root.to_hex().into());
    subject.insert(
        "chosen_next_root".into(),
        req.chosen_next_root.to_hex().into(),
    );
    subject.insert("resolved_at".into(), req.now.clone().into());
    if !req.candidates.is_empty() {
        let mut c = req.candidates.clone();
        if !c.contains(&req.chosen_next_root) {
            c.push(req.chosen_next_root);
        }
        subject.insert(
            "candidates".into(),
            c.iter()
                .map(|d| serde_json::json!({"next_root": d.to_hex()}))
                .collect(),
        );
    }
    let vc = serde_json::json!({
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://schemas.momentum-sez.org/contexts/msez/v1",
            kind_context(chain.kind),
        ],
        "id": uuid_v4()?,
        "type": ["VerifiableCredential", credential_type(chain.kind)],
        "issuer": req.issuer,
        "issuanceDate": req.now,
        "credentialSubject": Value::Object(subject),
    });
    check_shape(chain.kind, &vc, "fork resolution")?;
    Ok(vc)
}

/// Schema checks of a resolution: the VC wrapper (when it is one) and its subject.
fn check_shape(kind: Kind, value: &Value, what: &str) -> Result<(), Error> {
    if value.get("credentialSubject").is_some() {
        crate::schema::validate(vc_schema(kind), value, what)?;
    }
    let subject = value.get("credentialSubject").unwrap_or(value);
    crate::schema::validate(subject_schema(kind), subject, what)?;
    Ok(())
}

/// One counted resolution.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    /// Its file.
    pub path: PathBuf,
    /// The valid signers allowed `fork_resolution` (empty when unsigned ones are allowed).
    pub authorized_by: Vec<String>,
}

/// Resolutions read from a folder or file, with what was ignored and why.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Chosen next_root by (sequence, prev_root), counted resolutions only.
    pub resolutions: Resolutions,
    /// The files behind each counted resolution.
    pub sources: BTreeMap<(u64, Digest), Vec<Source>>,
    /// Ignored or weakly accepted resolutions, one line each.
    pub warnings: Vec<String>,
    /// Files that are not resolutions, and conflicts.
    pub errors: Vec<Error>,
}

/// How resolutions are authenticated.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy<'a> {
    /// Anchors allowed `fork_resolution` (or `*`) may resolve forks; None: nobody may.
    pub anchors: Option<&'a TrustAnchors>,
    /// The anchors' key lifecycle: a resolution is an object outside the receipts, so a revoked
    /// key's proof on it is unknown and a rotated-in key counts as its anchor.
    pub lifecycle: Option<&'a Lifecycle>,
    /// Count unsigned and unauthorized resolutions too (the reference's behaviour).
    pub allow_unsigned: bool,
}

/// Loads the resolutions for `chain` from a folder (`*.json`, sorted; missing = empty) or file.
pub fn load(chain: &Chain, path: &Path, policy: Policy<'_>) -> Loaded {
    let mut out = Loaded::default();
    let files = if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        match receipt::json_files(path) {
            Ok(f) => f,
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        }
    };
    for file in files {
        match load_one(chain, &file, policy) {
            Ok(Verdict::Count(key, chosen, source, note)) => {
                out.warnings.extend(note);
                match out.resolutions.get(&key) {
                    Some(&have) if have != chosen => {
                        let mut paths: Vec<PathBuf> = out
                            .sources
                            .get(&key)
                            .map(|v| v.iter().map(|s| s.path.clone()).collect())
                            .unwrap_or_default();
                        paths.push(source.path);
                        out.errors.push(Error::ConflictingResolutions {
                            sequence: key.0,
                            prev_root: key.1,
                            chosen: vec![have.to_hex(), chosen.to_hex()],
                            paths,
                        });
                    }
                    _ => {
                        out.resolutions.insert(key, chosen);
                        out.sources.entry(key).or_default().push(source);
                    }
                }
            }
            Ok(Verdict::Ignore(why)) => out.warnings.push(why),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

enum Verdict {
    Count((u64, Digest), Digest, Source, Option<String>),
    Ignore(String),
}

fn load_one(chain: &Chain, path: &Path, policy: Policy<'_>) -> Result<Verdict, Error> {
    let kind = chain.kind;
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io("reading", path, e))?;
    let value = canon::parse(&bytes).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        source: e,
    })?;
    let raw = value.get("type").and_then(Value::as_str) == Some(subject_type(kind));
    if !raw && !value.get("credentialSubject").is_some_and(Value::is_object) {
        return Err(Error::BadResolution {
            path: path.to_path_buf(),
            why: format!(
                "neither a {} nor a credential with a credentialSubject",
                subject_type(kind)
            ),
        });
    }
    check_shape(kind, &value, &shown)?;
    let subject = value.get("credentialSubject").unwrap_or(&value);
    let field = |name: &str| subject.get(name).and_then(Value::as_str).unwrap_or("");
    // A shared folder holds every purpose's resolutions: another chain's are not ours to count.
    let owner_ok = match kind {
        Kind::Asset => {
            Digest::parse_loose(field("asset_id"))
                .ok()
                .map(|d| d.to_hex())
                == Some(chain.owner.clone())
                && Some(field("purpose")) == chain.purpose.as_deref()
        }
        Kind::Corridor => field("corridor_id") == chain.owner,
    };
    if !owner_ok {
        let named = match kind {
            Kind::Asset => format!(
                "asset_id={} purpose={}",
                field("asset_id"),
                field("purpose")
            ),
            Kind::Corridor => format!("corridor_id={}", field("corridor_id")),
        };
        return Ok(Verdict::Ignore(format!(
            "fork resolution {shown} is for {named}, not this chain: ignored"
        )));
    }
    let digest = |name: &str| {
        Digest::parse_loose(field(name)).map_err(|_| Error::BadResolution {
            path: path.to_path_buf(),
            why: format!("{name} is not 64 hex"),
        })
    };
    let sequence = subject
        .get("sequence")
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::BadResolution {
            path: path.to_path_buf(),
            why: "sequence is not a non-negative integer".into(),
        })?;
    let key = (sequence, digest("prev_root")?);
    let chosen = digest("chosen_next_root")?;
    let (authorized_by, why_not) = authenticate(&value, raw, policy);
    let note = match (&why_not, policy.allow_unsigned) {
        (None, _) => None,
        (Some(why), true) => Some(format!(
            "fork resolution {shown} counted although {why} (--allow-unsigned-fork-resolutions)"
        )),
        (Some(why), false) => {
            return Ok(Verdict::Ignore(format!(
                "fork resolution {shown} ignored: {why}"
            )));
        }
    };
    Ok(Verdict::Count(
        key,
        chosen,
        Source {
            path: path.to_path_buf(),
            authorized_by,
        },
        note,
    ))
}

/// The authorized signers of a resolution, or why there are none.
fn authenticate(value: &Value, raw: bool, policy: Policy<'_>) -> (Vec<String>, Option<String>) {
    if raw {
        return (
            Vec::new(),
            Some("it is a bare subject, not a signed credential".into()),
        );
    }
    if vc::proof::proofs_of(value).is_empty() {
        return (Vec::new(), Some("it is unsigned".into()));
    }
    let results = match vc::verify_proofs(value) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(format!("its proof is malformed ({e})"))),
    };
    let signers = vc::valid_signers(&results);
    if signers.is_empty() {
        let errors: Vec<String> = results.iter().filter_map(|r| r.error.clone()).collect();
        return (
            Vec::new(),
            Some(format!("it has no valid proof ({})", errors.join("; "))),
        );
    }
    let Some(anchors) = policy.anchors else {
        return (
            Vec::new(),
            Some(format!(
                "no trust anchors are configured, so no signer is allowed {ATTESTATION} (signers: {})",
                join(&signers)
            )),
        );
    };
    let trust = Trust::new(anchors, policy.lifecycle);
    let counts = |d: &[vc::Did]| trust.require_unplaced("fork resolution", d, &[ATTESTATION]);
    let allowed: Vec<String> = signers
        .iter()
        .filter(|d| counts(std::slice::from_ref(*d)).is_ok())
        .map(|d| d.to_string())
        .collect();
    if allowed.is_empty() {
        let why = match counts(&signers) {
            Err(Error::Trust(TrustError::KeyLifecycle(f))) => format!(
                "key {} does not count ({}): {}",
                f.key, f.credential, f.reason
            ),
            _ => format!(
                "no valid signer is a trust anchor allowed {ATTESTATION} (signers: {})",
                join(&signers)
            ),
        };
        return (Vec::new(), Some(why));
    }
    (allowed, None)
}

fn join(signers: &[vc::Did]) -> String {
    signers
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One candidate branch at a fork point.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    /// Its next_root.
    pub next_root: Digest,
    /// How many distinct valid signers its receipts carry.
    pub signer_count: usize,
    /// Those signers.
    pub signers: Vec<String>,
    /// The receipt files (identical receipts merge).
    pub paths: Vec<PathBuf>,
}

/// One fork point in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    /// The contested sequence.
    pub sequence: u64,
    /// The contested prev_root.
    pub prev_root: Digest,
    /// The branches, by next_root.
    pub candidates: Vec<Candidate>,
    /// The counted resolution's choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chosen_next_root: Option<Digest>,
    /// The files of the counted resolutions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_sources: Option<Vec<PathBuf>>,
    /// Whether a counted resolution chooses one of the candidates.
    pub resolved: bool,
}

/// The `forks` section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Forks {
    /// Fork points.
    pub total: usize,
    /// Resolved ones.
    pub resolved: usize,
    /// Unresolved ones.
    pub unresolved: usize,
    /// Sorted by (sequence, prev_root).
    pub points: Vec<Point>,
}

/// One receipt that failed its own checks.
#[derive(Clone, Debug, Serialize)]
pub struct Invalid {
    /// Its file.
    pub path: PathBuf,
    /// The first failure.
    pub error: String,
}

/// The `receipts` section.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Receipts {
    /// Files read.
    pub total: usize,
    /// Files passing every per-receipt check.
    pub valid: usize,
    /// Files failing one.
    pub invalid: usize,
    /// Why each failed.
    pub invalid_details: Vec<Invalid>,
}

/// The head of the selected chain.
#[derive(Clone, Debug, Serialize)]
pub struct Head {
    /// Chain length.
    pub receipt_count: u64,
    /// Its last next_root (`final_state_root` as in the reference's report).
    pub final_state_root: Digest,
    /// Its last sequence.
    pub last_sequence: u64,
}

/// The fork-inspect report (§8.3), for either kind of chain.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `MSEZCorridorForkInspectReport` or `MSEZSmartAssetForkInspectReport`.
    #[serde(rename = "type")]
    pub report_type: &'static str,
    /// asset_id or corridor_id, under the kind's field name.
    #[serde(flatten)]
    pub owner: BTreeMap<&'static str, String>,
    /// The chain's genesis root.
    pub genesis_root: Digest,
    /// Not supported yet: always null.
    pub from_checkpoint: Option<Value>,
    /// Per-receipt results.
    pub receipts: Receipts,
    /// Fork points.
    pub forks: Forks,
    /// The selected chain's head, if selection succeeds.
    pub canonical_head: Option<Head>,
    /// What to do next.
    pub recommendations: Vec<String>,
    /// Ignored resolutions, unreachable receipts.
    pub warnings: Vec<String>,
    /// Selection failures and bad resolution files.
    pub errors: Vec<String>,
    /// Every valid link (for the picture).
    #[serde(skip)]
    pub links: Vec<Link>,
    /// The next_roots of the selected chain.
    #[serde(skip)]
    pub selected: BTreeSet<Digest>,
}

/// Inspects a chain's receipts for forks; never fails (problems go into the report).
pub fn inspect(chain: &Chain, opts: &verify::Options, loaded: &Loaded) -> Report {
    let kind = chain.kind;
    let mut owner = BTreeMap::new();
    owner.insert(kind.owner_field(), chain.owner.clone());
    if let Some(p) = &chain.purpose {
        owner.insert("purpose", p.clone());
    }
    let mut report = Report {
        report_type: match kind {
            Kind::Asset => "MSEZSmartAssetForkInspectReport",
            Kind::Corridor => "MSEZCorridorForkInspectReport",
        },
        owner,
        genesis_root: chain.genesis_root,
        from_checkpoint: None,
        receipts: Receipts::default(),
        forks: Forks::default(),
        canonical_head: None,
        recommendations: Vec::new(),
        warnings: loaded.warnings.clone(),
        errors: loaded.errors.iter().map(|e| e.to_string()).collect(),
        links: Vec::new(),
        selected: BTreeSet::new(),
    };
    let opts = chain.options(opts);
    let files = match FileList::scan(&chain.receipts_dir) {
        Ok(f) => f,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    // (sequence, prev_root) -> next_root -> (signers, paths)
    type Group = BTreeMap<Digest, (BTreeSet<String>, Vec<PathBuf>)>;
    let mut groups: BTreeMap<(u64, Digest), Group> = BTreeMap::new();
    report.receipts.total = files.len();
    for i in 0..files.len() {
        let path = files.path(i);
        match verify::check_file(kind, &chain.owner, &path, &opts) {
            Ok((link, signers)) => {
                report.receipts.valid += 1;
                report.links.push(link);
                let entry = groups
                    .entry((link.sequence, link.prev_root))
                    .or_default()
                    .entry(link.next_root)
                    .or_default();
                entry.0.extend(signers.iter().map(|d| d.to_string()));
                entry.1.push(path);
            }
            Err(e) => report.receipts.invalid_details.push(Invalid {
                path,
                error: e.to_string(),
            }),
        }
    }
    report.receipts.invalid = report.receipts.invalid_details.len();
    let links = select::dedup(std::mem::take(&mut report.links));
    for ((sequence, prev_root), group) in &groups {
        if group.len() < 2 {
            continue;
        }
        let key = (*sequence, *prev_root);
        let chosen = loaded.resolutions.get(&key).copied();
        let resolved = chosen.is_some_and(|c| group.contains_key(&c));
        report.forks.points.push(Point {
            sequence: *sequence,
            prev_root: *prev_root,
            candidates: group
                .iter()
                .map(|(next_root, (signers, paths))| Candidate {
                    next_root: *next_root,
                    signer_count: signers.len(),
                    signers: signers.iter().cloned().collect(),
                    paths: paths.clone(),
                })
                .collect(),
            chosen_next_root: chosen,
            resolution_sources: loaded
                .sources
                .get(&key)
                .map(|s| s.iter().map(|s| s.path.clone()).collect()),
            resolved,
        });
    }
    report.forks.total = report.forks.points.len();
    report.forks.resolved = report.forks.points.iter().filter(|p| p.resolved).count();
    report.forks.unresolved = report.forks.total - report.forks.resolved;
    match select::select(&links, (0, chain.genesis_root), &loaded.resolutions) {
        Ok(sel) => {
            report.selected = sel.chain.iter().map(|&i| links[i].next_root).collect();
            if let Some(&last) = sel.chain.last() {
                report.canonical_head = Some(Head {
                    receipt_count: sel.chain.len() as u64,
                    final_state_root: links[last].next_root,
                    last_sequence: links[last].sequence,
                });
            }
            let off = sel.unreachable.len() + sel.fork_branches.len();
            if off > 0 {
                report.warnings.push(format!(
                    "non-canonical receipts present (fork branches / unreachable segments): {off}"
                ));
            }
        }
        Err(Stop::Fork(p)) => report.errors.push(
            Error::Fork {
                sequence: p.sequence,
                prev_root: p.prev_root,
                candidates: p.candidates.len(),
            }
            .to_string(),
        ),
        Err(Stop::NotACandidate(p)) => report.errors.push(
            Error::ResolutionNotCandidate {
                sequence: p.sequence,
                prev_root: p.prev_root,
                chosen: p.chosen.unwrap_or_default(),
                candidates: p.candidates.iter().map(Digest::to_hex).collect(),
            }
            .to_string(),
        ),
    }
    report.links = links;
    if report.forks.unresolved > 0 {
        report.recommendations.push(format!(
            "UNRESOLVED_FORKS: {} fork point(s) need a signed resolution (msez {} state fork-resolve)",
            report.forks.unresolved,
            match kind {
                Kind::Asset => "asset",
                Kind::Corridor => "corridor",
            }
        ));
    }
    if report.receipts.invalid > 0 {
        report.recommendations.push(format!(
            "INVALID_RECEIPTS_PRESENT: {} receipt(s) fail their own checks and are ignored",
            report.receipts.invalid
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ops::FileStyle;
    use crate::vc::KeyPair;

    fn chain(dir: &Path, purpose: &str) -> Chain {
        Chain {
            kind: Kind::Asset,
            owner: "ab".repeat(32),
            purpose: Some(purpose.into()),
            genesis_root: Digest([0; 32]),
            module_dir: dir.into(),
            receipts_dir: dir.join("r"),
            checkpoints_dir: dir.join("c"),
            proofs_dir: dir.join("p"),
            forks_dir: dir.join("f"),
            receipt_stem: "receipt",
            style: FileStyle::Pretty,
            expected_sets: None,
        }
    }

    fn write(c: &Chain, name: &str, chosen: u8, key: Option<&KeyPair>) {
        let mut vc = credential(
            c,
            &Request {
                sequence: 1,
                prev_root: Digest([1; 32]),
                chosen_next_root: Digest([chosen; 32]),
                candidates: vec![Digest([2; 32])],
                issuer: "did:example:x".into(),
                now: "2026-01-01T00:00:00Z".into(),
            },
        )
        .unwrap();
        if let Some(k) = key {
            crate::vc::add_proof(&mut vc, k).unwrap();
        }
        super::super::module::write_pretty(&c.forks_dir.join(name), &vc).unwrap();
    }

    fn anchors(key: &KeyPair, allowed: &str) -> TrustAnchors {
        TrustAnchors::from_value(
            &serde_json::json!({"version": 1, "trust_anchors": [{"anchor_id": "a", "type": "did",
                "identifier": key.did().to_string(), "allowed_attestations": [allowed]}]}),
            "anchors",
        )
        .unwrap()
    }

    #[test]
    fn only_resolutions_by_an_anchor_allowed_fork_resolution_count() {
        let tmp = tempfile::tempdir().unwrap();
        let c = chain(tmp.path(), "core");
        let k = KeyPair::from_seed(&[7; 32], None);
        write(&c, "a.json", 3, Some(&k));
        write(&c, "b.json", 3, Some(&k)); // the same choice twice is no conflict
        for (allowed, counted) in [
            ("fork_resolution", true),
            ("*", true),
            ("smart_asset_receipt", false),
        ] {
            let a = anchors(&k, allowed);
            let policy = Policy {
                anchors: Some(&a),
                lifecycle: None,
                allow_unsigned: false,
            };
            let l = load(&c, &c.forks_dir, policy);
            assert!(l.errors.is_empty(), "{:?}", l.errors);
            assert_eq!(l.resolutions.len(), usize::from(counted), "{allowed}");
            assert_eq!(l.warnings.len(), if counted { 0 } else { 2 }, "{allowed}");
        }
    }

    #[test]
    fn a_resolution_signed_by_a_revoked_key_does_not_count() {
        let tmp = tempfile::tempdir().unwrap();
        let c = chain(tmp.path(), "core");
        let k = KeyPair::from_seed(&[7; 32], None);
        write(&c, "a.json", 3, Some(&k));
        let a = anchors(&k, "fork_resolution");
        let l = Lifecycle {
            revocations: vec![super::super::lifecycle::Revocation {
                credential: "rev.json".into(),
                key: k.did().to_string(),
                chain: super::super::lifecycle::ChainId::new(Kind::Asset, &c.owner, Some("core")),
                size: 1,
                root: Digest([9; 32]),
                signed_by: Vec::new(),
            }],
            ..Lifecycle::default()
        };
        let policy = Policy {
            anchors: Some(&a),
            lifecycle: Some(&l),
            allow_unsigned: false,
        };
        let loaded = load(&c, &c.forks_dir, policy);
        assert!(loaded.resolutions.is_empty());
        let w = loaded.warnings.join("\n");
        assert!(w.contains(super::super::lifecycle::UNKNOWN), "{w}");
        assert!(w.contains("rev.json"), "{w}");
    }

    #[test]
    fn another_purposes_resolution_is_reported_and_ignored_and_a_missing_folder_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let core = chain(tmp.path(), "core");
        let other = chain(tmp.path(), "other");
        let empty = load(&core, &core.forks_dir, Policy::default());
        assert!(empty.resolutions.is_empty() && empty.errors.is_empty());
        write(&other, "x.json", 3, None);
        let policy = Policy {
            anchors: None,
            lifecycle: None,
            allow_unsigned: true,
        };
        let l = load(&core, &core.forks_dir, policy);
        assert!(l.resolutions.is_empty());
        assert!(l.warnings[0].contains("purpose=other"), "{:?}", l.warnings);
        assert_eq!(load(&other, &other.forks_dir, policy).resolutions.len(), 1);
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), "urn:uuid:".len() + 36);
        assert_eq!(&u[23..24], "4");
        assert!("89ab".contains(&u[28..29]));
    }
}
