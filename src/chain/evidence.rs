//! Fork evidence a third party can check offline (issue 4 item 4): two validly signed
//! checkpoints of one chain (same owner, purpose and genesis_root) that cannot both be honest,
//! because they have the same size and different MMR roots, or carry inclusion proofs of the
//! same leaf index with different leaves. The valid signers of both are the equivocators.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::canon::Value;
use crate::mmr;
use crate::vc;

use super::checkpoint;
use super::lifecycle::Trust;
use super::{Error, Kind};

/// The evidence object's `type`.
pub const TYPE: &str = "MSEZForkEvidence";

/// The two ways checkpoints can contradict each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Contradiction {
    /// Same receipt_count, different MMR roots.
    MmrRootMismatch,
    /// Inclusion proofs of one leaf index with different leaves.
    LeafMismatch,
}

impl Contradiction {
    fn as_str(self) -> &'static str {
        match self {
            Contradiction::MmrRootMismatch => "mmr_root_mismatch",
            Contradiction::LeafMismatch => "leaf_mismatch",
        }
    }
}

/// What a verified evidence object proves.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// How the checkpoints contradict each other.
    pub contradiction: Contradiction,
    /// Valid signers of checkpoint a.
    pub signers_a: Vec<String>,
    /// Valid signers of checkpoint b.
    pub signers_b: Vec<String>,
    /// Those who signed both: the parties that equivocated.
    pub equivocators: Vec<String>,
}

fn reject(why: impl Into<String>) -> Error {
    Error::BadForkEvidence { why: why.into() }
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn mmr_of(v: &Value) -> (String, Option<u64>) {
    let m = v.get("mmr").cloned().unwrap_or_default();
    (text(&m, "root"), m.get("size").and_then(Value::as_u64))
}

fn kind_of(ck: &Value) -> Option<Kind> {
    match ck.get("type").and_then(Value::as_str) {
        Some("SmartAssetReceiptChainCheckpoint") => Some(Kind::Asset),
        Some("MSEZCorridorStateCheckpoint") => Some(Kind::Corridor),
        _ => None,
    }
}

/// Schema, signatures (and anchors), and one chain for both checkpoints; their valid signers.
fn check_pair(
    kind: Kind,
    a: &Value,
    b: &Value,
    trust: Option<Trust<'_>>,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut errors = Vec::new();
    let signers = pair(kind, a, b, trust, &mut errors);
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(signers),
    }
}

/// Every check of [`check_pair`], each failure recorded; the valid signers of each checkpoint.
fn pair(
    kind: Kind,
    a: &Value,
    b: &Value,
    trust: Option<Trust<'_>>,
    errors: &mut Vec<Error>,
) -> (Vec<String>, Vec<String>) {
    for (name, ck) in [("checkpoint_a", a), ("checkpoint_b", b)] {
        if kind_of(ck) != Some(kind) {
            errors.push(reject(format!("{name} is not a {kind:?} checkpoint")));
            continue;
        }
        if let Err(e) = checkpoint::check_signed(kind, ck, name, false, trust) {
            errors.push(e);
        }
    }
    let mut fields = vec![kind.owner_field(), "genesis_root"];
    if kind == Kind::Asset {
        fields.push("purpose");
    }
    for f in fields {
        if text(a, f) != text(b, f) {
            errors.push(reject(format!(
                "the checkpoints are of different chains: {f} {} vs {}",
                text(a, f),
                text(b, f)
            )));
        }
    }
    // A document whose proofs cannot even be read has no valid signer (reported above).
    let signers = |ck: &Value| -> Vec<String> {
        vc::valid_signers(&vc::verify_proofs(ck).unwrap_or_default())
            .iter()
            .map(|d| d.to_string())
            .collect()
    };
    (signers(a), signers(b))
}

/// An inclusion proof that checks against its checkpoint; its (leaf index, next_root).
fn check_proof(name: &str, proof: &Value, ck: &Value, kind: Kind) -> Result<(u64, String), Error> {
    let owner = kind.owner_field();
    if text(proof, owner) != text(ck, owner) {
        return Err(reject(format!("{name} is for another {owner}")));
    }
    let (pm, cm) = (mmr_of(proof), mmr_of(ck));
    if pm != cm {
        return Err(reject(format!(
            "{name} is not tied to its checkpoint: mmr {pm:?} vs {cm:?}"
        )));
    }
    let mut flat = proof.as_object().cloned().unwrap_or_default();
    let m = proof.get("mmr").cloned().unwrap_or_default();
    flat.insert("size".into(), m.get("size").cloned().unwrap_or_default());
    flat.insert("root".into(), m.get("root").cloned().unwrap_or_default());
    mmr::verify_inclusion_proof(&Value::Object(flat))?;
    let index = proof
        .get("leaf_index")
        .and_then(Value::as_u64)
        .ok_or_else(|| reject(format!("{name} has no leaf_index")))?;
    Ok((index, text(proof, "receipt_next_root")))
}

/// Checks that `a` and `b` (and the proofs, when given) contradict each other.
fn contradiction(
    kind: Kind,
    a: &Value,
    b: &Value,
    proofs: Option<(&Value, &Value)>,
) -> Result<Contradiction, Error> {
    if let Some((pa, pb)) = proofs {
        let (ia, la) = check_proof("inclusion_proof_a", pa, a, kind)?;
        let (ib, lb) = check_proof("inclusion_proof_b", pb, b, kind)?;
        if ia != ib {
            return Err(reject(format!(
                "the proofs are of different leaf indexes ({ia}, {ib})"
            )));
        }
        if la == lb {
            return Err(reject(format!(
                "both proofs include the same leaf {la} at index {ia}: no contradiction"
            )));
        }
        return Ok(Contradiction::LeafMismatch);
    }
    let (ra, sa) = mmr_of(a);
    let (rb, sb) = mmr_of(b);
    if sa != sb {
        return Err(reject(format!(
            "the checkpoints have different sizes ({sa:?}, {sb:?}): give inclusion proofs of one leaf"
        )));
    }
    if ra == rb {
        return Err(reject("the checkpoints agree (same size and MMR root)"));
    }
    Ok(Contradiction::MmrRootMismatch)
}

/// Builds and checks the evidence object from two checkpoints (and optionally two proofs).
pub fn build(
    kind: Kind,
    a: &Value,
    b: &Value,
    proofs: Option<(&Value, &Value)>,
    trust: Option<Trust<'_>>,
    now: &str,
) -> Result<(Value, Verdict), Error> {
    let (signers_a, signers_b) = check_pair(kind, a, b, trust)?;
    let c = contradiction(kind, a, b, proofs)?;
    let mut m = serde_json::Map::new();
    m.insert("type".into(), TYPE.into());
    m.insert("evidence_kind".into(), c.as_str().into());
    m.insert(
        kind.owner_field().into(),
        text(a, kind.owner_field()).into(),
    );
    if kind == Kind::Asset {
        m.insert("purpose".into(), text(a, "purpose").into());
    }
    m.insert("genesis_root".into(), text(a, "genesis_root").into());
    m.insert("checkpoint_a".into(), a.clone());
    m.insert("checkpoint_b".into(), b.clone());
    if let Some((pa, pb)) = proofs {
        m.insert("inclusion_proof_a".into(), pa.clone());
        m.insert("inclusion_proof_b".into(), pb.clone());
    }
    let verdict = verdict(c, signers_a, signers_b);
    m.insert("equivocators".into(), verdict.equivocators.clone().into());
    m.insert("detected_at".into(), now.into());
    let value = Value::Object(m);
    crate::schema::validate("fork-evidence.schema.json", &value, "fork evidence")?;
    Ok((value, verdict))
}

fn verdict(c: Contradiction, signers_a: Vec<String>, signers_b: Vec<String>) -> Verdict {
    let b: BTreeSet<&String> = signers_b.iter().collect();
    let equivocators = signers_a
        .iter()
        .filter(|d| b.contains(d))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Verdict {
        contradiction: c,
        signers_a,
        signers_b,
        equivocators,
    }
}

/// Everything a fork-evidence verification found, and what the evidence proves when its
/// contradiction holds (computed even when other checks failed).
#[derive(Debug, Default)]
pub struct Checked {
    /// Every failure, in the order of [`build`]'s checks.
    pub errors: Vec<Error>,
    /// The contradiction, the signers of each checkpoint and the equivocators.
    pub proven: Option<Verdict>,
}

impl Checked {
    /// The findings in the verdict model's shape (docs/verdicts.md).
    pub fn findings(&self) -> crate::verdict::Findings {
        let mut f = crate::verdict::Findings::default();
        f.extend(&self.errors);
        f
    }
}

/// Verifies an evidence object on its own (offline): every check of [`build`], again; the
/// first failure (see [`check`] for all of them).
pub fn verify(ev: &Value, trust: Option<Trust<'_>>) -> Result<Verdict, Error> {
    let c = check(ev, trust);
    match (c.errors.into_iter().next(), c.proven) {
        (Some(e), _) => Err(e),
        (None, Some(v)) => Ok(v),
        (None, None) => Err(reject("no contradiction was established")),
    }
}

/// Runs every check of [`build`] on an evidence object, collecting every failure: a bad
/// signature never hides a tampered equivocator list, nor the reverse.
pub fn check(ev: &Value, trust: Option<Trust<'_>>) -> Checked {
    let mut errors = Vec::new();
    if let Err(e) = crate::schema::validate("fork-evidence.schema.json", ev, "fork evidence") {
        errors.push(e.into());
    }
    let a = ev.get("checkpoint_a").cloned().unwrap_or_default();
    let b = ev.get("checkpoint_b").cloned().unwrap_or_default();
    let Some(kind) = kind_of(&a) else {
        errors.push(reject("checkpoint_a is not a checkpoint"));
        return Checked {
            errors,
            proven: None,
        };
    };
    let before = errors.len();
    let (signers_a, signers_b) = pair(kind, &a, &b, trust, &mut errors);
    // The equivocators are the valid signers of both: with a checkpoint that failed its own
    // checks they cannot be judged, and a mismatch would only restate that failure.
    let signers_known = errors.len() == before;
    let proofs = match (ev.get("inclusion_proof_a"), ev.get("inclusion_proof_b")) {
        (Some(pa), Some(pb)) => Some((pa, pb)),
        (None, None) => None,
        _ => {
            errors.push(reject("inclusion proofs come in pairs"));
            None
        }
    };
    let c = match contradiction(kind, &a, &b, proofs) {
        Ok(c) => c,
        Err(e) => {
            errors.push(e);
            return Checked {
                errors,
                proven: None,
            };
        }
    };
    if ev.get("evidence_kind").and_then(Value::as_str) != Some(c.as_str()) {
        errors.push(reject(format!("evidence_kind is not {}", c.as_str())));
    }
    let v = verdict(c, signers_a, signers_b);
    let stated: Vec<String> = ev
        .get("equivocators")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if signers_known && stated != v.equivocators {
        errors.push(reject(format!(
            "equivocators {stated:?} are not the signers of both checkpoints {:?}",
            v.equivocators
        )));
    }
    Checked {
        errors,
        proven: Some(v),
    }
}
