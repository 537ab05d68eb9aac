//! Multi-jurisdiction compliance receipts (seed v0.4.36): which harbors must sign a receipt, and
//! whether they have.
//!
//! A receipt may claim `jurisdiction_scope` (`all_active` | `subset` | `quorum`), `harbor_ids`
//! and `harbor_quorum` (§4.2). When the asset's Smart Asset Registry VC (see [`crate::chain::registry`])
//! pins a harbor policy, the first policy rule whose `transition_kind` pattern matches the
//! receipt's transition kind decides instead, so a writer cannot lower its own quorum:
//!
//! - `all_active`: every harbor the policy lists as active signs;
//! - `subset`: every harbor the receipt lists (which must be bound by the policy; none listed
//!   means all bound harbors) signs;
//! - `quorum`: at least max(receipt quorum, policy minimum) of the listed harbors (none listed:
//!   the active ones) sign.
//!
//! Without a policy the receipt's own fields apply, as in the reference. A harbor signature is a
//! valid proof by a key whose trust anchor carries `metadata.harbor_id`; nothing else counts. A
//! receipt short of its harbors is not invalid but *pending*: verify says `unknown` (exit 68)
//! until late co-signatures (`asset state cosign`) arrive, and the chain is never rewritten.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::canon::Value;
use crate::vc::{Did, TrustAnchors};

use crate::chain::Error;
use crate::chain::module::Error as ModuleError;
use crate::chain::trust::Error as TrustError;

/// A jurisdiction scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every active harbor signs.
    AllActive,
    /// Every listed harbor signs.
    Subset,
    /// At least a quorum of the listed harbors sign.
    Quorum,
}

impl Scope {
    /// Parses `all_active`, `subset` or `quorum`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "all_active" => Some(Scope::AllActive),
            "subset" => Some(Scope::Subset),
            "quorum" => Some(Scope::Quorum),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::AllActive => "all_active",
            Scope::Subset => "subset",
            Scope::Quorum => "quorum",
        }
    }
}

/// One policy rule: for transitions whose kind matches the pattern, a scope and a minimum quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// A kind pattern; `*` matches any run of characters.
    pub transition_kind: String,
    /// The scope the policy imposes.
    pub jurisdiction_scope: Scope,
    /// The minimum quorum (scope `quorum`; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harbor_quorum: Option<u64>,
}

/// A harbor bound to the asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jurisdiction {
    /// The harbor id (trust anchors name their harbor in `metadata.harbor_id`).
    pub harbor_id: String,
    /// `active` or `inactive`.
    pub status: String,
}

/// The policy file `asset registry issue --policy` reads (YAML or JSON).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PolicyFile {
    /// Harbors bound to the asset but not active (all_active does not wait for them).
    #[serde(default)]
    pub inactive_harbors: Vec<String>,
    /// The rules, first match wins.
    pub rules: Vec<Rule>,
}

impl PolicyFile {
    /// Parses and schema-checks a policy file.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<PolicyFile, Error> {
        let value: Value = serde_yaml_ng::from_slice(bytes).map_err(|e| {
            Error::Module(ModuleError::Module {
                path: path.to_path_buf(),
                why: e.to_string(),
            })
        })?;
        crate::schema::validate(
            "smart-asset.harbor-policy.schema.json",
            &value,
            &path.display().to_string(),
        )?;
        serde_json::from_value(value).map_err(|e| {
            Error::Trust(TrustError::HarborPolicy {
                path: path.to_path_buf(),
                why: e.to_string(),
            })
        })
    }
}

/// The harbor policy of a registry VC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The harbors bound to the asset.
    pub jurisdictions: Vec<Jurisdiction>,
    /// The rules, first match wins.
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Subject {
    jurisdictions: Vec<Jurisdiction>,
    harbor_policy: RulesOnly,
}

#[derive(Deserialize)]
struct RulesOnly {
    rules: Vec<Rule>,
}

impl Policy {
    /// The policy in a registry VC's `credentialSubject` (already schema-checked).
    pub fn from_subject(subject: &Value, path: &Path) -> Result<Policy, Error> {
        let s: Subject = serde_json::from_value(subject.clone()).map_err(|e| {
            Error::Trust(TrustError::HarborPolicy {
                path: path.to_path_buf(),
                why: e.to_string(),
            })
        })?;
        Ok(Policy {
            jurisdictions: s.jurisdictions,
            rules: s.harbor_policy.rules,
        })
    }

    /// The first rule whose pattern matches `kind`.
    pub fn rule_for(&self, kind: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| matches(&r.transition_kind, kind))
    }

    /// Every bound harbor id.
    pub fn bound(&self) -> Vec<String> {
        self.jurisdictions
            .iter()
            .map(|j| j.harbor_id.clone())
            .collect()
    }

    /// The active harbor ids.
    pub fn active(&self) -> Vec<String> {
        self.jurisdictions
            .iter()
            .filter(|j| j.status == "active")
            .map(|j| j.harbor_id.clone())
            .collect()
    }
}

/// Whether `kind` matches `pattern`, where `*` matches any run of characters.
pub fn matches(pattern: &str, kind: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = kind.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What a receipt needs: `required` signatures among `listed` harbors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// The scope that applies.
    pub scope: Scope,
    /// The harbors that may count, sorted.
    pub listed: Vec<String>,
    /// How many of them must sign.
    pub required: usize,
    /// Whether a registry policy set it (else the receipt's own fields did).
    pub from_policy: bool,
}

/// How harbor signatures are judged for one asset: its trust anchors and pinned policy.
#[derive(Debug, Default)]
pub struct Harbors {
    /// The anchors that name harbor keys (`metadata.harbor_id`).
    pub anchors: Option<TrustAnchors>,
    /// The pinned registry policy, if any.
    pub policy: Option<Policy>,
    /// Receipts judged by their own jurisdiction fields because no policy pins them.
    pub self_claimed: AtomicU64,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

impl Harbors {
    /// The harbor whose key signed as `did`, if its trust anchor names one.
    pub fn harbor_of(&self, did: &Did) -> Option<String> {
        self.anchors
            .as_ref()?
            .harbor_id(did.as_str())
            .map(str::to_string)
    }

    /// What `receipt` needs from its harbors (None: no harbor requirement applies).
    pub fn requirement(&self, receipt: &Value, path: &Path) -> Result<Option<Requirement>, Error> {
        let policy_err = |why: String| {
            Error::Trust(TrustError::HarborPolicy {
                path: path.to_path_buf(),
                why,
            })
        };
        let kind = receipt
            .get("transition")
            .and_then(|t| t.get("kind"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let claimed_scope = match receipt.get("jurisdiction_scope") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .and_then(Scope::parse)
                    .ok_or_else(|| policy_err(format!("unknown jurisdiction_scope {v}")))?,
            ),
        };
        let claimed_ids = strings(receipt.get("harbor_ids"));
        let claimed_quorum = receipt.get("harbor_quorum").and_then(Value::as_u64);
        let rule = self.policy.as_ref().and_then(|p| p.rule_for(kind));
        if let Some(p) = &self.policy {
            let bound = p.bound();
            let stray: Vec<&String> = claimed_ids.iter().filter(|h| !bound.contains(h)).collect();
            if !stray.is_empty() {
                return Err(policy_err(format!(
                    "harbor_ids {stray:?} are not bound to the asset by its registry VC"
                )));
            }
        }
        let (scope, listed, required, from_policy) = match (rule, claimed_scope) {
            (Some(rule), _) => {
                let p = self.policy.as_ref().expect("a rule comes from a policy");
                let or = |fallback: Vec<String>| {
                    if claimed_ids.is_empty() {
                        fallback
                    } else {
                        claimed_ids.clone()
                    }
                };
                let (listed, required) = match rule.jurisdiction_scope {
                    Scope::AllActive => {
                        let a = p.active();
                        let n = a.len();
                        (a, n)
                    }
                    Scope::Subset => {
                        let l = or(p.bound());
                        let n = l.len();
                        (l, n)
                    }
                    Scope::Quorum => {
                        let q = rule
                            .harbor_quorum
                            .unwrap_or(1)
                            .max(claimed_quorum.unwrap_or(0));
                        (or(p.active()), q as usize)
                    }
                };
                (rule.jurisdiction_scope, listed, required, true)
            }
            (None, Some(scope)) => {
                if self.policy.is_none() {
                    self.self_claimed.fetch_add(1, Ordering::Relaxed);
                }
                let listed = if claimed_ids.is_empty() {
                    match (&self.policy, scope) {
                        (Some(p), Scope::Subset) => p.bound(),
                        (Some(p), _) => p.active(),
                        (None, _) => {
                            return Err(policy_err(format!(
                                "jurisdiction_scope {} lists no harbor_ids and no registry VC names the harbors",
                                scope.as_str()
                            )));
                        }
                    }
                } else {
                    claimed_ids.clone()
                };
                let required = match scope {
                    Scope::Quorum => claimed_quorum.unwrap_or(1) as usize,
                    _ => listed.len(),
                };
                (scope, listed, required, false)
            }
            (None, None) => return Ok(None),
        };
        if required == 0 || required > listed.len() {
            return Err(policy_err(format!(
                "{} needs {required} harbor signature(s) among {} listed harbor(s): it can never be met",
                scope.as_str(),
                listed.len()
            )));
        }
        Ok(Some(Requirement {
            scope,
            listed,
            required,
            from_policy,
        }))
    }

    /// Checks a receipt's valid signers against what it needs: `PendingQuorum` when short.
    pub fn check(
        &self,
        receipt: &Value,
        signers: &[Did],
        path: &Path,
    ) -> Result<Option<Requirement>, Error> {
        let Some(req) = self.requirement(receipt, path)? else {
            return Ok(None);
        };
        let signed: BTreeSet<String> = signers
            .iter()
            .filter_map(|d| self.harbor_of(d))
            .filter(|h| req.listed.contains(h))
            .collect();
        if signed.len() >= req.required {
            return Ok(Some(req));
        }
        Err(Error::Trust(TrustError::PendingQuorum {
            path: PathBuf::from(path),
            required: req.required,
            listed: req.listed.len(),
            missing: req
                .listed
                .iter()
                .filter(|h| !signed.contains(*h))
                .cloned()
                .collect(),
            signed: signed.into_iter().collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_patterns_match_with_stars() {
        assert!(matches("*", "anything"));
        assert!(matches("transfer.*", "transfer.v1"));
        assert!(!matches("transfer.*", "mint.v1"));
        assert!(matches("a*c*e", "abcde"));
        assert!(!matches("a*c*e", "abcd"));
        assert!(matches("noop", "noop"));
        assert!(!matches("noop", "noop2"));
        assert!(!matches("ab*ba", "aba"));
    }

    fn policy(rule: Rule) -> Harbors {
        Harbors {
            policy: Some(Policy {
                jurisdictions: ["h1", "h2", "h3"]
                    .iter()
                    .map(|h| Jurisdiction {
                        harbor_id: h.to_string(),
                        status: if *h == "h3" { "inactive" } else { "active" }.into(),
                    })
                    .collect(),
                rules: vec![rule],
            }),
            ..Harbors::default()
        }
    }

    #[test]
    fn the_policy_quorum_wins_over_a_lower_claim() {
        let h = policy(Rule {
            transition_kind: "transfer.*".into(),
            jurisdiction_scope: Scope::Quorum,
            harbor_quorum: Some(2),
        });
        let r = serde_json::json!({"transition": {"kind": "transfer.v1"},
            "jurisdiction_scope": "quorum", "harbor_quorum": 1, "harbor_ids": ["h1", "h2", "h3"]});
        let req = h.requirement(&r, Path::new("r")).unwrap().unwrap();
        assert_eq!(req.required, 2);
        assert_eq!(req.listed.len(), 3);
    }

    #[test]
    fn all_active_skips_inactive_harbors_and_strays_are_refused() {
        let h = policy(Rule {
            transition_kind: "*".into(),
            jurisdiction_scope: Scope::AllActive,
            harbor_quorum: None,
        });
        let r = serde_json::json!({"transition": {"kind": "x"}});
        let req = h.requirement(&r, Path::new("r")).unwrap().unwrap();
        assert_eq!(req.listed, vec!["h1", "h2"]);
        assert_eq!(req.required, 2);
        let stray = serde_json::json!({"transition": {"kind": "x"}, "harbor_ids": ["h9"]});
        assert!(matches!(
            h.requirement(&stray, Path::new("r")),
            Err(Error::Trust(TrustError::HarborPolicy { .. }))
        ));
    }
}
