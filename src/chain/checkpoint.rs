//! Receipt-chain checkpoints (§6.1, §6.2): a signed summary of a chain and its MMR.

use serde::Serialize;

use crate::canon::{self, Digest, Map, Value};
use crate::mmr::MmrRoot;
use crate::vc;

use super::lifecycle::Trust;

use super::verify::{ChainResult, mmr_object};
use super::{Error, Kind};

/// What a checkpoint commits to; built from a verified chain or from the chain store.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Asset or corridor.
    pub kind: Kind,
    /// asset_id (hex) or corridor_id.
    pub owner: String,
    /// The purpose (assets).
    pub purpose: Option<String>,
    /// The genesis root.
    pub genesis_root: Digest,
    /// The head next_root.
    pub final_root: Digest,
    /// Number of receipts.
    pub receipt_count: u64,
    /// The MMR over the chain.
    pub mmr: MmrRoot,
    /// Lawpack digests (assets: union over receipts; corridors: the first receipt's).
    pub lawpack_digest_set: Vec<Digest>,
    /// Ruleset digests (same rule).
    pub ruleset_digest_set: Vec<Digest>,
}

impl Summary {
    /// The summary of a verified chain; an empty chain cannot be checkpointed.
    pub fn of(result: &ChainResult, purpose: Option<&str>) -> Result<Summary, Error> {
        let mmr = result.mmr.clone().ok_or_else(|| Error::Empty {
            chain: result.owner.clone(),
        })?;
        let (lawpacks, rulesets) = match result.kind {
            Kind::Asset => (
                result.lawpack_digest_set.clone(),
                result.ruleset_digest_set.clone(),
            ),
            Kind::Corridor => (
                result.first_lawpack_digest_set.clone(),
                result.first_ruleset_digest_set.clone(),
            ),
        };
        Ok(Summary {
            kind: result.kind,
            owner: result.owner.clone(),
            purpose: purpose.map(str::to_string),
            genesis_root: result.genesis_root,
            final_root: result.final_root,
            receipt_count: result.receipt_count,
            mmr,
            lawpack_digest_set: lawpacks,
            ruleset_digest_set: rulesets,
        })
    }
}

fn hexes(set: &[Digest]) -> Value {
    Value::Array(set.iter().map(|d| Value::String(d.to_hex())).collect())
}

/// The final-root field name: `final_chain_root` (assets) or `final_state_root` (corridors).
pub fn final_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Asset => "final_chain_root",
        Kind::Corridor => "final_state_root",
    }
}

/// Builds an unsigned checkpoint, keys in the reference's order.
pub fn build(s: &Summary, timestamp: &str) -> Value {
    let mut m = Map::new();
    match s.kind {
        Kind::Asset => {
            m.insert("type".into(), "SmartAssetReceiptChainCheckpoint".into());
            m.insert("asset_id".into(), s.owner.clone().into());
            m.insert(
                "purpose".into(),
                s.purpose.clone().unwrap_or_else(|| "core".into()).into(),
            );
        }
        Kind::Corridor => {
            m.insert("type".into(), "MSEZCorridorStateCheckpoint".into());
            m.insert("corridor_id".into(), s.owner.clone().into());
        }
    }
    m.insert("timestamp".into(), timestamp.into());
    m.insert("genesis_root".into(), s.genesis_root.to_hex().into());
    m.insert(final_field(s.kind).into(), s.final_root.to_hex().into());
    m.insert("receipt_count".into(), s.receipt_count.into());
    m.insert("lawpack_digest_set".into(), hexes(&s.lawpack_digest_set));
    m.insert("ruleset_digest_set".into(), hexes(&s.ruleset_digest_set));
    m.insert("mmr".into(), mmr_object(&s.mmr));
    if s.kind == Kind::Asset {
        // Asset checkpoints start with an empty proof list; corridor checkpoints have none.
        m.insert("proof".into(), Value::Array(Vec::new()));
    }
    Value::Object(m)
}

/// `SHA256(JCS(checkpoint − proof))`, the checkpoint's digest and signing-input digest.
pub fn digest(ck: &Value) -> Result<Digest, Error> {
    Ok(canon::digest_without(ck, &["proof"])?)
}

/// The trust-anchor attestations that may sign a checkpoint.
pub fn attestations(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Asset => &["smart_asset_receipt_checkpoint", "smart_asset_receipt"],
        Kind::Corridor => &["corridor_checkpoint", "corridor_receipt"],
    }
}

/// Checks a checkpoint's schema and signatures (at least one valid; `all`: every proof valid);
/// with `trust`, a signer must count for the checkpoint attestations by the rule for objects
/// outside the chain's receipts ([`Trust::require_unplaced`]: a revoked key's proof is unknown).
pub fn check_signed(
    kind: Kind,
    ck: &Value,
    what: &str,
    all: bool,
    trust: Option<Trust<'_>>,
) -> Result<(), Error> {
    let schema = match kind {
        Kind::Asset => "smart-asset.receipt-chain.checkpoint.schema.json",
        Kind::Corridor => "corridor.checkpoint.schema.json",
    };
    crate::schema::validate(schema, ck, what)?;
    let results = if all {
        vc::require_all_valid(ck, what)?
    } else {
        vc::verify_proofs(ck)?
    };
    let signers = vc::valid_signers(&results);
    if signers.is_empty() {
        return Err(Error::NoValidProof {
            path: what.into(),
            errors: results.iter().filter_map(|r| r.error.clone()).collect(),
        });
    }
    if let Some(trust) = trust {
        trust.require_unplaced(what, &signers, attestations(kind))?;
    }
    Ok(())
}

/// Compares a checkpoint with a verified chain, field by field, in the reference's order;
/// the first mismatch.
pub fn check_against(ck: &Value, s: &Summary) -> Result<(), Error> {
    match mismatches(ck, s).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every field of a checkpoint that does not match the chain, in the reference's order (a
/// verification reports all of them).
pub fn mismatches(ck: &Value, s: &Summary) -> Vec<Error> {
    let text = |k: &str| {
        ck.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    let mut out = Vec::new();
    let mut mismatch = |field: &'static str, expected: String, found: String| {
        out.push(Error::CheckpointMismatch {
            field,
            expected,
            found,
        })
    };
    let owner = text(s.kind.owner_field());
    let want_owner = s.owner.to_ascii_lowercase();
    if owner != want_owner {
        mismatch(s.kind.owner_field(), want_owner, owner);
    }
    if text("genesis_root") != s.genesis_root.to_hex() {
        mismatch(
            "genesis_root",
            s.genesis_root.to_hex(),
            text("genesis_root"),
        );
    }
    let count = ck.get("receipt_count").and_then(Value::as_u64);
    if count != Some(s.receipt_count) {
        mismatch(
            "receipt_count",
            s.receipt_count.to_string(),
            format!("{count:?}"),
        );
    }
    let field = final_field(s.kind);
    if text(field) != s.final_root.to_hex() {
        mismatch(field, s.final_root.to_hex(), text(field));
    }
    let mmr = ck.get("mmr").cloned().unwrap_or_default();
    let root = mmr
        .get("root")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if root != s.mmr.root.to_hex() {
        mismatch("mmr.root", s.mmr.root.to_hex(), root);
    }
    let size = mmr.get("size").and_then(Value::as_u64);
    if size != Some(s.receipt_count) {
        mismatch("mmr.size", s.receipt_count.to_string(), format!("{size:?}"));
    }
    out
}

/// The summary of the first `size` receipts of a verified chain (a checkpoint of an earlier
/// head is checked against the chain as it was then); None when the chain is shorter.
pub fn summary_at(result: &ChainResult, purpose: Option<&str>, size: u64) -> Option<Summary> {
    let n = usize::try_from(size).ok()?;
    if n == 0 || n > result.next_roots.len() {
        return None;
    }
    let mut acc = crate::mmr::AppendState::new();
    for r in &result.next_roots[..n] {
        acc.append(crate::mmr::leaf_hash(r));
    }
    let mut s = Summary::of(result, purpose).ok()?;
    s.final_root = result.next_roots[n - 1];
    s.receipt_count = size;
    s.mmr = MmrRoot {
        size: acc.size(),
        root: acc.root()?,
        peaks: acc.peaks(),
    };
    Some(s)
}
