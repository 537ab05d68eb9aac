//! A chain's verification with a checkpoint, as one report (docs/verdicts.md): every check
//! of the checkpoint against the chain as far as it was computed, and a gap the checkpoint
//! covers made a definite failure.

use std::path::Path;

use crate::canon::Value;
use crate::chain::Error;
use crate::chain::checkpoint::{self, Summary};
use crate::chain::lifecycle::Trust;
use crate::chain::verify::ChainResult;
use crate::verdict::Findings;

use super::{Chain, read_json};

/// Every check of a checkpoint file against the chain as far as it was computed: schema and
/// signatures, then every field (not only the first mismatch).
pub fn check_checkpoint_all(
    chain: &Chain,
    path: &Path,
    result: Option<&ChainResult>,
    trust: Option<Trust<'_>>,
    extra: &mut Findings,
) -> Vec<Error> {
    let ck = match read_json(path) {
        Ok(ck) => ck,
        Err(e) => {
            extra.push(&e);
            return Vec::new();
        }
    };
    let what = path.display().to_string();
    let mut errors = Vec::new();
    if let Err(e) = checkpoint::check_signed(chain.kind, &ck, &what, false, trust) {
        // Fields nobody validly signed claim nothing: the signature failure is the finding
        // (a properly re-signed forgery has its fields compared below).
        errors.push(e);
        return errors;
    }
    match result.map(|r| Summary::of(r, chain.purpose.as_deref())) {
        Some(Ok(summary)) => errors.extend(checkpoint::mismatches(&ck, &summary)),
        Some(Err(e)) => {
            // An empty chain against a checkpoint that covers receipts: every one is missing.
            if ck.get("receipt_count").and_then(Value::as_u64).unwrap_or(0) > 0 {
                errors.push(Error::CheckpointMismatch {
                    field: "receipt_count",
                    expected: "0".into(),
                    found: ck["receipt_count"].to_string(),
                });
            } else {
                errors.push(e);
            }
        }
        None => {}
    }
    errors
}

/// A gap below the size a checkpoint covers is a definite failure: the checkpoint claims those
/// receipts exist (in a working tree without one, a gap is only `unknown`).
pub fn complete_up_to(errors: &mut Vec<Error>, extra: &mut Findings, ck: &Path) {
    let size = read_json(ck)
        .ok()
        .and_then(|v| v.get("receipt_count").and_then(Value::as_u64))
        .unwrap_or(0);
    errors.retain(|e| match e {
        Error::Gap { missing, count, .. } if *missing < size => {
            extra.push(&crate::verdict::Error::Incomplete {
                what: format!("checkpoint {} (receipt_count {size})", ck.display()),
                missing: *missing,
                count: *count,
            });
            false
        }
        _ => true,
    });
}
