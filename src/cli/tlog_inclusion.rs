//! The witness policy of `verify-inclusion` (docs/tlog.md, "Witness policy"): the proof's
//! checkpoint must be cosigned by the quorum of the chain's policy witnesses, in the note of
//! the proof's size.

use std::path::PathBuf;

use msez::canon::{Digest, Value};
use msez::chain::Kind;
use msez::tlog::policy;
use msez::verdict::Findings;

/// Where the policy, the origin and the note are.
#[derive(Debug, Default)]
pub struct Where {
    /// `--module`.
    pub module: Option<PathBuf>,
    /// `--note`.
    pub note: Option<PathBuf>,
    /// `--checkpoint`.
    pub checkpoint: Option<PathBuf>,
}

/// Applies the policy of the chain the proof is of, when a module is named or encloses the
/// checkpoint and pins one; its findings go into `findings`.
pub fn apply(
    kind: Kind,
    at: &Where,
    proof: &Value,
    ck: Option<&Value>,
    findings: &mut Findings,
) -> Option<policy::Report> {
    let module_dir = match &at.module {
        Some(m) => m.clone(),
        None => {
            let (dir, k) = policy::enclosing_module(at.checkpoint.as_deref()?)?;
            if k != kind {
                return None;
            }
            dir
        }
    };
    let size = proof["mmr"]["size"].as_u64()?;
    let root: Digest = proof["mmr"]["root"].as_str()?.parse().ok()?;
    let owner = owner(kind, &module_dir, ck)?;
    let purpose = match kind {
        Kind::Asset => ck.and_then(|c| c.get("purpose")).and_then(Value::as_str),
        Kind::Corridor => None,
    };
    let name = format!("checkpoint.{size}.note");
    let note = match (&at.note, &at.checkpoint) {
        (Some(n), _) => n.clone(),
        (None, Some(c)) if c.with_file_name(&name).is_file() => c.with_file_name(&name),
        _ => {
            let sub = match (kind, purpose) {
                (Kind::Asset, Some(p)) => PathBuf::from("state/checkpoints").join(p),
                _ => PathBuf::from("state/checkpoints"),
            };
            let nested = module_dir.join(&sub).join(&name);
            if nested.is_file() {
                nested
            } else {
                module_dir.join("state/checkpoints").join(&name)
            }
        }
    };
    policy::apply_checkpoint(
        &module_dir,
        kind,
        &owner,
        purpose,
        &note,
        size,
        root,
        findings,
    )
}

/// The chain's owner: the checkpoint's `asset_id`/`corridor_id`, else the module file's.
fn owner(kind: Kind, module_dir: &std::path::Path, ck: Option<&Value>) -> Option<String> {
    let key = match kind {
        Kind::Asset => "asset_id",
        Kind::Corridor => "corridor_id",
    };
    if let Some(o) = ck.and_then(|c| c.get(key)).and_then(Value::as_str) {
        return Some(o.to_string());
    }
    let file = module_dir.join(msez::tlog::origin::module_file(kind));
    let text = std::fs::read_to_string(file).ok()?;
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).ok()?;
    Some(doc.get(key)?.as_str()?.to_string())
}
