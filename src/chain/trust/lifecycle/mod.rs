//! Key lifecycle by position in the log, never by self-declared time (issue 4 item 5).
//!
//! A proof's `created` is not signed and a receipt's `timestamp` is whatever its signer wrote,
//! so a stolen key can backdate anything. What a thief cannot change is where a receipt sits in
//! a chain that was checkpointed before the theft. Hence:
//! - an `MSEZKeyRotationCredential` (valid proofs by the old key and by another trust anchor
//!   allowed `key_rotation`) makes `new_key` count as the anchor from given chain positions on;
//!   the old key keeps counting until it is revoked;
//! - an `MSEZKeyRevocationCredential` (a valid proof by an anchor allowed `key_revocation`)
//!   names a key and `valid_through`, a checkpoint (chain, size, MMR root): the key's proofs
//!   count only on receipts at sequence < size of a chain whose MMR at that size has that root.
//!   Outside any chain its proofs are `unknown (key revoked; position not provable)`.
//!
//! Both are referenced from the trust-anchors file (`key_rotations`, `key_revocations`); a
//! credential that does not count is reported with its reason and ignored. The reference's
//! key-rotation policy (`key_rotation_policy`) is advisory: warnings from the log's own
//! timestamps, never a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::artifact::ObjectId;
use crate::canon::{self, Digest, Value};
use crate::odb::Repo;
use crate::vc::{self, Did, FileRef, TrustAnchors, strip_fragment};

use crate::chain::trust::Error as TrustError;
use crate::chain::{Error, Kind};

mod credential;

pub use credential::{Request, artifact_type, check_shape, credential};

/// The attestation an anchor needs to authorize a rotation.
pub const ROTATION_ATTESTATION: &str = "key_rotation";
/// The attestation an anchor needs to sign a revocation.
pub const REVOCATION_ATTESTATION: &str = "key_revocation";
/// The VC type of a rotation.
pub const ROTATION_TYPE: &str = "MSEZKeyRotationCredential";
/// The VC type of a revocation.
pub const REVOCATION_TYPE: &str = "MSEZKeyRevocationCredential";
/// What a revoked key's proof is worth where no chain position can be proven.
pub const UNKNOWN: &str = "unknown (key revoked; position not provable)";

/// One chain, as credentials name it: `{asset_id, purpose}` or `{corridor_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ChainId {
    /// Asset or corridor.
    pub kind: Kind,
    /// asset_id (lowercase hex) or corridor_id.
    pub owner: String,
    /// The purpose (assets; `core` when unnamed).
    pub purpose: Option<String>,
}

impl ChainId {
    /// The chain `owner` (and `purpose`, assets) of `kind`.
    pub fn new(kind: Kind, owner: &str, purpose: Option<&str>) -> ChainId {
        match kind {
            Kind::Asset => ChainId {
                kind,
                owner: owner.to_ascii_lowercase(),
                purpose: Some(purpose.unwrap_or("core").to_string()),
            },
            Kind::Corridor => ChainId {
                kind,
                owner: owner.to_string(),
                purpose: None,
            },
        }
    }

    /// The JSON form credentials carry.
    pub fn to_value(&self) -> Value {
        match self.kind {
            Kind::Asset => serde_json::json!({"asset_id": self.owner, "purpose": self.purpose}),
            Kind::Corridor => serde_json::json!({"corridor_id": self.owner}),
        }
    }

    /// Reads the JSON form (schema-checked before).
    pub fn from_value(v: &Value) -> Option<ChainId> {
        if let Some(id) = v.get("corridor_id").and_then(Value::as_str) {
            return Some(ChainId::new(Kind::Corridor, id, None));
        }
        let id = v.get("asset_id").and_then(Value::as_str)?;
        let purpose = v.get("purpose").and_then(Value::as_str)?;
        Some(ChainId::new(Kind::Asset, id, Some(purpose)))
    }

    /// Parses `asset:<asset_id>/<purpose>` or `corridor:<corridor_id>`.
    pub fn parse(s: &str) -> Option<ChainId> {
        if let Some(rest) = s.strip_prefix("asset:") {
            let (id, purpose) = rest.split_once('/').unwrap_or((rest, "core"));
            return (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| ChainId::new(Kind::Asset, id, Some(purpose)));
        }
        let id = s.strip_prefix("corridor:")?;
        (!id.is_empty()).then(|| ChainId::new(Kind::Corridor, id, None))
    }
}

impl std::fmt::Display for ChainId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.purpose {
            Some(p) => write!(f, "asset:{}/{p}", self.owner),
            None => write!(f, "corridor:{}", self.owner),
        }
    }
}

/// A position in a chain: the receipt at `sequence`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The chain.
    pub chain: ChainId,
    /// The receipt's sequence.
    pub sequence: u64,
}

impl Position {
    /// Parses `CHAIN@SEQUENCE` (`asset:<id>/<purpose>@12`, `corridor:<id>@3`).
    pub fn parse(s: &str) -> Option<Position> {
        let (chain, seq) = s.rsplit_once('@')?;
        Some(Position {
            chain: ChainId::parse(chain)?,
            sequence: seq.parse().ok()?,
        })
    }
}

/// A rotation that counts.
#[derive(Clone, Debug, Serialize)]
pub struct Rotation {
    /// Where the credential came from.
    pub credential: String,
    /// The anchor whose key rotates.
    pub anchor_id: String,
    /// The key rotated from.
    pub previous_key: String,
    /// The key rotated to.
    pub new_key: String,
    /// From where on (per chain) the new key counts.
    pub effective_from: Vec<Position>,
}

/// A revocation that counts.
#[derive(Clone, Debug, Serialize)]
pub struct Revocation {
    /// Where the credential came from.
    pub credential: String,
    /// The revoked key.
    pub key: String,
    /// The chain valid_through names.
    pub chain: ChainId,
    /// The checkpoint's size: receipts at sequence < size may count.
    pub size: u64,
    /// The checkpoint's MMR root at that size.
    pub root: Digest,
    /// The anchors that signed it.
    pub signed_by: Vec<String>,
}

/// A credential that does not count, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    /// Where the credential came from.
    pub credential: String,
    /// `rotation` or `revocation`.
    pub kind: &'static str,
    /// The key it is about (a rotation's new key, a revocation's revoked key).
    pub key: String,
    /// Why it does not count.
    pub reason: String,
}

/// The reference's key-rotation policy (`{version, policy: {...}}`), advisory only.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Policy {
    /// Rotate keys at least this often.
    pub rotation_days: u64,
    /// How long an old key may still sign after its rotation.
    pub grace_days: u64,
    /// No key should sign over a longer span.
    pub max_key_age_days: u64,
}

/// Every counted rotation and revocation, and what was ignored.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Lifecycle {
    /// Counted rotations.
    pub rotations: Vec<Rotation>,
    /// Counted revocations.
    pub revocations: Vec<Revocation>,
    /// Ignored credentials.
    pub rejected: Vec<Rejected>,
    /// The advisory policy, when referenced.
    pub policy: Option<Policy>,
}

/// How a receipt's signers stand at its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// At least one signer counts unconditionally.
    Counts,
    /// The only signers that count are revoked keys: the receipt counts iff the chain matches
    /// one of these revocations' checkpoints (indices into [`Lifecycle::revocations`]).
    IfInside(Vec<u16>),
}

/// A receipt's valid signers as a harbor quorum sees them ([`Lifecycle::quorum_signers`]).
#[derive(Default)]
pub struct QuorumSigners {
    /// Keys that count outright.
    pub firm: Vec<Did>,
    /// Revoked keys that count iff the chain matches one of these revocations' checkpoints.
    pub conditional: Vec<(Did, Vec<u16>)>,
    /// Every key the lifecycle rules out here, each with its reason.
    pub ruled_out: Vec<Error>,
}

/// Why a key does not count where it signed: the key, the credential, the reason.
#[derive(Clone, Debug)]
pub struct KeyFault {
    /// The object (receipt file, credential) the proof is on.
    pub object: String,
    /// The key.
    pub key: String,
    /// The rotation or revocation that decides.
    pub credential: String,
    /// Why, in words.
    pub reason: String,
    /// The error code (`signature.key_revoked`, ...).
    pub code: &'static str,
}

/// A [`KeyFault`] as a chain error.
pub fn key_error(
    object: &str,
    key: &str,
    credential: &str,
    reason: String,
    code: &'static str,
) -> Error {
    Error::Trust(TrustError::KeyLifecycle(Box::new(KeyFault {
        object: object.to_string(),
        key: key.to_string(),
        credential: credential.to_string(),
        reason,
        code,
    })))
}

/// Trust anchors and the key lifecycle their file references: every signature check against
/// anchors takes both, so none can forget rotations and revocations.
#[derive(Clone, Copy, Debug)]
pub struct Trust<'a> {
    /// The anchors.
    pub anchors: &'a TrustAnchors,
    /// The rotations and revocations they reference (None: the file names none).
    pub lifecycle: Option<&'a Lifecycle>,
}

impl<'a> Trust<'a> {
    /// Anchors with their lifecycle.
    pub fn new(anchors: &'a TrustAnchors, lifecycle: Option<&'a Lifecycle>) -> Trust<'a> {
        Trust { anchors, lifecycle }
    }

    /// The rule for a signed object that is not a receipt at a chain position (a checkpoint,
    /// the checkpoint of an inclusion proof, fork evidence, an anchored checkpoint): one of
    /// `signers` must count for one of `attestations`. A trust anchor allowed it counts, and so
    /// does a key a counted rotation brought in for such an anchor (a rotation moves the
    /// anchor's authority; its `effective_from` positions order receipts, and an object outside
    /// the chain has none to compare). A revoked key's proof does not count: its
    /// `valid_through` bounds receipts by position, and nothing about an object outside the
    /// receipts (its self-declared size, root or timestamp included: a thief can sign any of
    /// them) proves it was signed before the revocation, so the verdict is
    /// `unknown (key revoked; position not provable)`, code `missing.key_position_unknown`.
    pub fn require_unplaced(
        &self,
        object: &str,
        signers: &[Did],
        attestations: &[&'static str],
    ) -> Result<(), Error> {
        let untrusted = || {
            Error::Trust(TrustError::Untrusted {
                path: object.into(),
                attestation: attestations.first().copied().unwrap_or_default(),
            })
        };
        let Some(l) = self.lifecycle.filter(|l| !l.is_empty()) else {
            let ok = signers.iter().any(|d| {
                attestations
                    .iter()
                    .any(|a| self.anchors.allows(d.as_str(), Some(a)))
            });
            return if ok { Ok(()) } else { Err(untrusted()) };
        };
        let mut failures: Vec<Error> = Vec::new();
        for attestation in attestations {
            match l.standing(object, None, signers, Some((self.anchors, attestation))) {
                Ok(Some(Standing::Counts)) => return Ok(()),
                // Without a position no revoked key is conditionally inside: standing reports
                // it as a failure instead; kept total should that change.
                Ok(Some(Standing::IfInside(needs))) => {
                    let r = &l.revocations[needs[0] as usize];
                    failures.push(key_error(
                        object,
                        &r.key,
                        &r.credential,
                        UNKNOWN.into(),
                        "missing.key_position_unknown",
                    ));
                }
                Ok(None) => {}
                Err(e) => failures.push(e),
            }
        }
        // Every failure once: one signer's reason repeats for each attestation tried.
        Err(Error::all(failures).unwrap_or_else(untrusted))
    }

    /// The rule for a receipt checked away from its chain (verify-inclusion): `at` is its
    /// position and `proven` the (size, MMR root) its inclusion proof places it in. A revoked
    /// key's proof counts when that MMR is its `valid_through` checkpoint (sequence < size was
    /// checked by [`Lifecycle::standing`]); any other MMR would need the chain or a consistency
    /// proof to place it, so the verdict is `unknown (key revoked; position not provable)`.
    pub fn require_receipt(
        &self,
        object: &str,
        at: Option<&Position>,
        signers: &[Did],
        attestation: &'static str,
        proven: Option<(u64, Digest)>,
    ) -> Result<(), Error> {
        let untrusted = || {
            Error::Trust(TrustError::Untrusted {
                path: object.into(),
                attestation,
            })
        };
        let Some(l) = self.lifecycle.filter(|l| !l.is_empty()) else {
            return match signers
                .iter()
                .any(|d| self.anchors.allows(d.as_str(), Some(attestation)))
            {
                true => Ok(()),
                false => Err(untrusted()),
            };
        };
        match l.standing(object, at, signers, Some((self.anchors, attestation)))? {
            Some(Standing::Counts) => Ok(()),
            Some(Standing::IfInside(needs)) => {
                let inside = needs.iter().any(|&i| {
                    let r = &l.revocations[i as usize];
                    proven == Some((r.size, r.root))
                });
                if inside {
                    return Ok(());
                }
                let r = &l.revocations[needs[0] as usize];
                let shown = proven.map_or("none".into(), |(size, root)| {
                    format!("size {size}, root {root}")
                });
                Err(key_error(
                    object,
                    &r.key,
                    &r.credential,
                    format!(
                        "{UNKNOWN}: the proof's MMR ({shown}) is not valid_through's (size {}, root {})",
                        r.size, r.root
                    ),
                    "missing.key_position_unknown",
                ))
            }
            None => Err(untrusted()),
        }
    }
}

impl Lifecycle {
    /// Refuses to sign `object` with `key` when a counted revocation names it (code
    /// `signature.key_revoked_signer`): a revoked key signs nothing new, whatever position the
    /// new object would take, since a receipt it signs now lands after `valid_through` and any
    /// other object is `unknown` to every verifier holding the same anchors.
    pub fn refuse_revoked(&self, object: &str, key: &Did) -> Result<(), Error> {
        let did = strip_fragment(key.as_str());
        match self.revocations.iter().find(|r| r.key == did) {
            Some(r) => Err(key_error(
                object,
                did,
                &r.credential,
                format!(
                    "revoked (valid through {} size {}): a revoked key signs nothing new; sign with a live key",
                    r.chain, r.size
                ),
                "signature.key_revoked_signer",
            )),
            None => Ok(()),
        }
    }

    /// Whether there is nothing to enforce.
    pub fn is_empty(&self) -> bool {
        self.rotations.is_empty()
            && self.revocations.is_empty()
            && self.rejected.is_empty()
            && self.policy.is_none()
    }

    /// Loads the credentials `anchors` references; `base` is the trust-anchors file's folder,
    /// `repo` the repository holding credentials referenced by digest.
    pub fn load(
        anchors: &TrustAnchors,
        base: &Path,
        repo: Option<&Repo>,
    ) -> Result<Lifecycle, Error> {
        let mut out = Lifecycle::default();
        let mut pending = Vec::new();
        for r in &anchors.key_rotations {
            let (name, value) = read_ref(r, base, repo)?;
            crate::schema::validate("vc.key-rotation.schema.json", &value, &name)?;
            pending.push((name, value));
        }
        // A rotation may start from a key an earlier rotation made: repeat until nothing moves.
        loop {
            let before = pending.len();
            let mut still = Vec::new();
            for (name, value) in pending {
                match out.judge_rotation(&name, &value, anchors) {
                    Ok(r) => out.rotations.push(r),
                    Err(reason) => still.push((name, value, reason)),
                }
            }
            pending = still
                .iter()
                .map(|(n, v, _)| (n.clone(), v.clone()))
                .collect();
            if pending.len() == before || pending.is_empty() {
                for (name, value, reason) in still {
                    out.rejected.push(Rejected {
                        credential: name,
                        kind: "rotation",
                        key: subject_str(&value, "new_key"),
                        reason,
                    });
                }
                break;
            }
        }
        for r in &anchors.key_revocations {
            let (name, value) = read_ref(r, base, repo)?;
            crate::schema::validate("vc.key-revocation.schema.json", &value, &name)?;
            match judge_revocation(&name, &value, anchors) {
                Ok(r) => out.revocations.push(r),
                Err(reason) => out.rejected.push(Rejected {
                    credential: name,
                    kind: "revocation",
                    key: subject_str(&value, "key"),
                    reason,
                }),
            }
        }
        if let Some(p) = &anchors.key_rotation_policy {
            out.policy = Some(read_policy(p, base)?);
        }
        Ok(out)
    }

    /// One line per ignored credential, for warnings.
    pub fn warnings(&self) -> Vec<String> {
        self.rejected
            .iter()
            .map(|r| {
                format!(
                    "key {} ignored: {} {}: {}",
                    r.kind, r.credential, r.key, r.reason
                )
            })
            .collect()
    }

    fn judge_rotation(
        &self,
        name: &str,
        value: &Value,
        anchors: &TrustAnchors,
    ) -> Result<Rotation, String> {
        let subject = value.get("credentialSubject").cloned().unwrap_or_default();
        let anchor_id = subject_str(value, "anchor_id");
        let previous = strip_fragment(&subject_str(value, "previous_key")).to_string();
        let new_key = strip_fragment(&subject_str(value, "new_key")).to_string();
        let signers = valid_signers(value);
        let anchor = anchors
            .trust_anchors
            .iter()
            .find(|a| a.anchor_id == anchor_id)
            .ok_or_else(|| format!("names no trust anchor {anchor_id:?}"))?;
        if !signers.contains(&previous) {
            return Err(format!(
                "not signed by the old key {previous} (valid signers: {})",
                list(&signers)
            ));
        }
        // The authorizer must be another key: a stolen key must not rotate itself to one the
        // thief holds and so outlive its own revocation.
        if !signers
            .iter()
            .any(|d| *d != previous && anchors.allows(d, Some(ROTATION_ATTESTATION)))
        {
            return Err(format!(
                "signed by no trust anchor allowed {ROTATION_ATTESTATION} besides the old key (valid signers: {})",
                list(&signers)
            ));
        }
        let current = anchor.identifier == previous
            || self
                .rotations
                .iter()
                .any(|r| r.anchor_id == anchor_id && r.new_key == previous);
        if !current {
            return Err(format!(
                "{previous} is not a key of anchor {anchor_id:?} (its identifier or a rotated-in key)"
            ));
        }
        let effective_from = subject
            .get("effective_from")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(Position {
                    chain: ChainId::from_value(p.get("chain")?)?,
                    sequence: p.get("sequence")?.as_u64()?,
                })
            })
            .collect();
        Ok(Rotation {
            credential: name.to_string(),
            anchor_id,
            previous_key: previous,
            new_key,
            effective_from,
        })
    }

    /// How `signers` (valid ones) stand at `at` (`None`: an object outside any chain).
    ///
    /// `trust`: the anchors and the attestation a signer must be allowed, when anchors apply.
    /// `Ok(None)`: no signer counts and the lifecycle is not why (the caller's own
    /// `untrusted`); `Err`: every signer the lifecycle rules out, each with its reason (one
    /// error, or [`Error::Refused`] carrying them all).
    pub fn standing(
        &self,
        object: &str,
        at: Option<&Position>,
        signers: &[Did],
        trust: Option<(&TrustAnchors, &str)>,
    ) -> Result<Option<Standing>, Error> {
        let mut inside: Vec<u16> = Vec::new();
        let mut failures: Vec<Error> = Vec::new();
        let mut note = |e: Error| failures.push(e);
        for signer in signers {
            let did = signer.as_str();
            if let Some((anchors, attestation)) = trust {
                if !anchors.allows(did, Some(attestation)) {
                    match self.rotated_in(did, at, anchors, attestation) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(e) => {
                            note(key_error(object, did, &e.0, e.1, e.2));
                            continue;
                        }
                    }
                }
            }
            match self.place(object, did, at) {
                Ok(None) => return Ok(Some(Standing::Counts)),
                Ok(Some(ids)) => inside.extend(ids),
                Err(e) => note(e),
            }
        }
        if !inside.is_empty() {
            inside.sort_unstable();
            inside.dedup();
            return Ok(Some(Standing::IfInside(inside)));
        }
        Error::all(failures).map_or(Ok(None), Err)
    }

    /// Where `did` stands at `at` as far as revocations go: `Ok(None)`, not revoked;
    /// `Ok(Some(ids))`, revoked but counting if the chain matches one of these revocations'
    /// checkpoints; `Err`, revoked and not provably inside any of them.
    fn place(
        &self,
        object: &str,
        did: &str,
        at: Option<&Position>,
    ) -> Result<Option<Vec<u16>>, Error> {
        let revoked: Vec<(usize, &Revocation)> = self
            .revocations
            .iter()
            .enumerate()
            .filter(|(_, r)| r.key == did)
            .collect();
        let Some(&(_, first)) = revoked.first() else {
            return Ok(None);
        };
        let Some(at) = at else {
            return Err(key_error(
                object,
                did,
                &first.credential,
                UNKNOWN.into(),
                "missing.key_position_unknown",
            ));
        };
        let inside: Vec<u16> = revoked
            .iter()
            .filter(|(_, r)| r.chain == at.chain && at.sequence < r.size)
            .map(|(i, _)| *i as u16)
            .collect();
        if !inside.is_empty() {
            return Ok(Some(inside));
        }
        let reason = if first.chain != at.chain {
            format!(
                "revoked; its valid_through checkpoint is on {}, not on {}",
                first.chain, at.chain
            )
        } else {
            format!(
                "revoked; sequence {} is not inside valid_through (size {}, root {})",
                at.sequence, first.size, first.root
            )
        };
        Err(key_error(
            object,
            did,
            &first.credential,
            reason,
            "signature.key_revoked",
        ))
    }

    /// Splits a receipt's valid signers at `at` for a harbor quorum: the keys that count
    /// outright, the revoked keys that count only if the chain matches one of their
    /// revocations' checkpoints (with those revocations), and every key ruled out.
    pub fn quorum_signers(&self, object: &str, at: &Position, signers: &[Did]) -> QuorumSigners {
        let mut out = QuorumSigners::default();
        for signer in signers {
            match self.place(object, signer.as_str(), Some(at)) {
                Ok(None) => out.firm.push(signer.clone()),
                Ok(Some(ids)) => out.conditional.push((signer.clone(), ids)),
                Err(e) => out.ruled_out.push(e),
            }
        }
        out
    }

    /// Whether `did`, not itself an anchor allowed `attestation`, counts as one through a
    /// rotation at `at`; `Ok(false)`: no rotation names it; `Err`: one does, but not here.
    fn rotated_in(
        &self,
        did: &str,
        at: Option<&Position>,
        anchors: &TrustAnchors,
        attestation: &str,
    ) -> Result<bool, (String, String, &'static str)> {
        let mut why = None;
        for r in self.rotations.iter().filter(|r| r.new_key == did) {
            let allowed = anchors
                .trust_anchors
                .iter()
                .any(|a| a.anchor_id == r.anchor_id && a.allows(Some(attestation)));
            if !allowed {
                continue;
            }
            let Some(at) = at else { return Ok(true) };
            match r.effective_from.iter().find(|p| p.chain == at.chain) {
                Some(p) if at.sequence >= p.sequence => return Ok(true),
                Some(p) => {
                    why = Some((
                        r.credential.clone(),
                        format!(
                            "rotated in for anchor {:?} from sequence {} of {}; this is sequence {}",
                            r.anchor_id, p.sequence, p.chain, at.sequence
                        ),
                        "signature.key_not_yet_valid",
                    ))
                }
                None => {
                    why.get_or_insert((
                        r.credential.clone(),
                        format!(
                            "rotated in for anchor {:?} on other chains, not on {}",
                            r.anchor_id, at.chain
                        ),
                        "signature.key_not_yet_valid",
                    ));
                }
            }
        }
        if why.is_none() {
            if let Some(rej) = self
                .rejected
                .iter()
                .find(|x| x.kind == "rotation" && x.key == did)
            {
                why = Some((
                    rej.credential.clone(),
                    format!("its key rotation does not count: {}", rej.reason),
                    "signature.key_rotation_rejected",
                ));
            }
        }
        why.map_or(Ok(false), Err)
    }

    /// The revocations whose valid_through is on `chain`: (index, size, root).
    pub fn checkpoints_on(&self, chain: &ChainId) -> Vec<(u16, u64, Digest)> {
        self.revocations
            .iter()
            .enumerate()
            .filter(|(_, r)| &r.chain == chain)
            .map(|(i, r)| (i as u16, r.size, r.root))
            .collect()
    }

    /// The error for a receipt at `sequence` whose revoked signers' checkpoints the chain
    /// does not match (`roots`: the chain's MMR root at each checked size).
    pub fn outside(
        &self,
        object: &str,
        sequence: u64,
        needs: &[u16],
        roots: &BTreeMap<u64, Digest>,
    ) -> Error {
        let r = &self.revocations[needs[0] as usize];
        let reason = match roots.get(&r.size) {
            Some(found) => format!(
                "revoked; the chain's MMR root at size {} is {found}, valid_through commits to {} (receipt at sequence {sequence} is on another branch)",
                r.size, r.root
            ),
            None => format!(
                "revoked; the chain is shorter than valid_through size {}, so sequence {sequence} is not provably inside it",
                r.size
            ),
        };
        key_error(
            object,
            &r.key,
            &r.credential,
            reason,
            "signature.key_revoked",
        )
    }

    /// Advisory warnings: the policy checked against the chain's own (unsigned-in-time)
    /// timestamps. `uses`: (sequence, timestamp, signer DIDs) of each chain receipt in order.
    pub fn policy_warnings(
        &self,
        chain: &ChainId,
        uses: &[(u64, String, Vec<String>)],
    ) -> Vec<String> {
        let Some(p) = self.policy else {
            return Vec::new();
        };
        let day = |t: &str| {
            humantime::parse_rfc3339_weak(t).ok().and_then(|s| {
                s.duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_secs() / 86_400)
            })
        };
        let mut spans: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (_, ts, signers) in uses {
            let Some(d) = day(ts) else { continue };
            for s in signers {
                let e = spans.entry(s.as_str()).or_insert((d, d));
                e.0 = e.0.min(d);
                e.1 = e.1.max(d);
            }
        }
        let mut out = Vec::new();
        for (key, (first, last)) in &spans {
            let age = last - first;
            if age > p.max_key_age_days {
                out.push(format!("key-rotation policy (advisory): {key} signed over {age} days of log timestamps on {chain}; max_key_age_days is {}", p.max_key_age_days));
            }
            let rotated = self.rotations.iter().any(|r| r.previous_key == *key);
            if !rotated && age > p.rotation_days + p.grace_days {
                out.push(format!("key-rotation policy (advisory): {key} not rotated within rotation_days {} + grace_days {} ({age} days of log timestamps on {chain})", p.rotation_days, p.grace_days));
            }
        }
        for r in &self.rotations {
            let Some(from) = r.effective_from.iter().find(|x| &x.chain == chain) else {
                continue;
            };
            let Some(start) = uses
                .iter()
                .find(|u| u.0 == from.sequence)
                .and_then(|u| day(&u.1))
            else {
                continue;
            };
            let late = uses
                .iter()
                .filter(|u| u.0 >= from.sequence && u.2.contains(&r.previous_key))
                .filter_map(|u| day(&u.1))
                .max();
            if let Some(late) = late.filter(|l| l.saturating_sub(start) > p.grace_days) {
                out.push(format!("key-rotation policy (advisory): {} still signing {} days after its rotation ({}); grace_days is {}", r.previous_key, late - start, r.credential, p.grace_days));
            }
        }
        out
    }
}

fn judge_revocation(
    name: &str,
    value: &Value,
    anchors: &TrustAnchors,
) -> Result<Revocation, String> {
    let signers = valid_signers(value);
    let signed_by: Vec<String> = signers
        .iter()
        .filter(|d| anchors.allows(d, Some(REVOCATION_ATTESTATION)))
        .cloned()
        .collect();
    if signed_by.is_empty() {
        return Err(format!(
            "signed by no trust anchor allowed {REVOCATION_ATTESTATION} (valid signers: {})",
            list(&signers)
        ));
    }
    let vt = value
        .get("credentialSubject")
        .and_then(|s| s.get("valid_through"))
        .cloned()
        .unwrap_or_default();
    let chain = vt
        .get("chain")
        .and_then(ChainId::from_value)
        .ok_or("valid_through names no chain")?;
    let root = vt
        .get("root")
        .and_then(Value::as_str)
        .and_then(|s| Digest::parse_loose(s).ok())
        .ok_or("valid_through.root is not a digest")?;
    Ok(Revocation {
        credential: name.to_string(),
        key: strip_fragment(&subject_str(value, "key")).to_string(),
        chain,
        size: vt.get("size").and_then(Value::as_u64).unwrap_or(0),
        root,
        signed_by,
    })
}

fn subject_str(value: &Value, field: &str) -> String {
    value
        .get("credentialSubject")
        .and_then(|s| s.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn valid_signers(value: &Value) -> Vec<String> {
    vc::verify_proofs(value)
        .map(|r| {
            vc::valid_signers(&r)
                .iter()
                .map(|d| d.as_str().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Reads a referenced credential: from its path (checked against the digest when both are
/// given), else from `.msez` by digest.
fn read_ref(r: &FileRef, base: &Path, repo: Option<&Repo>) -> Result<(String, Value), Error> {
    let digest = r
        .digest_sha256
        .as_deref()
        .map(Digest::parse_loose)
        .transpose()?;
    if let Some(p) = &r.path {
        let path = base.join(p);
        let bytes =
            std::fs::read(&path).map_err(|e| Error::io("reading key credential", &path, e))?;
        let value = canon::parse(&bytes).map_err(|e| Error::Parse {
            path: path.clone(),
            source: e,
        })?;
        if let Some(want) = digest {
            let found = artifact_type().rule().digest_json(&value)?;
            if found != want {
                return Err(Error::CheckpointMismatch {
                    field: "key credential digest_sha256",
                    expected: want.to_hex(),
                    found: found.to_hex(),
                });
            }
        }
        return Ok((path.display().to_string(), value));
    }
    let want = digest.expect("the schema requires path or digest_sha256");
    let id = ObjectId::new(artifact_type(), want);
    match repo {
        Some(repo) if repo.has(&id) => Ok((id.to_string(), repo.read_json(&id)?)),
        _ => Err(Error::Trust(TrustError::KeyCredentialMissing {
            reference: id.to_string(),
        })),
    }
}

fn read_policy(r: &FileRef, base: &Path) -> Result<Policy, Error> {
    let path = base.join(r.path.as_deref().unwrap_or_default());
    let bytes =
        std::fs::read(&path).map_err(|e| Error::io("reading key-rotation policy", &path, e))?;
    if let Some(want) = &r.digest_sha256 {
        let found = canon::sha256(&bytes).to_hex();
        if !found.eq_ignore_ascii_case(want) {
            return Err(Error::CheckpointMismatch {
                field: "key_rotation_policy digest_sha256",
                expected: want.clone(),
                found,
            });
        }
    }
    let value: Value = serde_yaml_ng::from_slice(&bytes)
        .map_err(|e| Error::schema(path.display().to_string(), e.to_string()))?;
    let p = value.get("policy").cloned().unwrap_or_default();
    let num = |k: &str| p.get(k).and_then(Value::as_u64);
    match (
        num("rotation_days"),
        num("grace_days"),
        num("max_key_age_days"),
    ) {
        (Some(rotation_days), Some(grace_days), Some(max_key_age_days)) => Ok(Policy {
            rotation_days,
            grace_days,
            max_key_age_days,
        }),
        _ => Err(Error::schema(
            path.display().to_string(),
            "policy needs rotation_days, grace_days and max_key_age_days (integers)",
        )),
    }
}

/// Where a trust-anchors file's folder is, for relative references.
pub fn base_of(anchors_file: &Path) -> PathBuf {
    match anchors_file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Loads a trust-anchors file and the key credentials it references (None when it names none).
pub fn load_anchors(
    path: &Path,
    repo: Option<&Repo>,
) -> Result<(TrustAnchors, Option<std::sync::Arc<Lifecycle>>), Error> {
    let anchors = TrustAnchors::load(path)?;
    let named = !anchors.key_rotations.is_empty()
        || !anchors.key_revocations.is_empty()
        || anchors.key_rotation_policy.is_some();
    let lifecycle = if named {
        Some(std::sync::Arc::new(Lifecycle::load(
            &anchors,
            &base_of(path),
            repo,
        )?))
    } else {
        None
    };
    Ok((anchors, lifecycle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vc::KeyPair;

    const ID: &str = "37e2afb983e507aa0bdf36907dc787e437694176fe4c88779287e204aab98ff5";

    fn anchors(entries: &[(&str, &KeyPair, &str)]) -> TrustAnchors {
        let list: Vec<Value> = entries
            .iter()
            .map(|(id, k, allowed)| {
                serde_json::json!({"anchor_id": id, "type": "did",
                    "identifier": k.did().to_string(), "allowed_attestations": [allowed]})
            })
            .collect();
        TrustAnchors::from_value(
            &serde_json::json!({"version": 1, "trust_anchors": list}),
            "anchors",
        )
        .unwrap()
    }

    fn signed(req: &Request, keys: &[&KeyPair]) -> Value {
        let mut vc = credential(req, "did:key:zIssuer", "2026-01-01T00:00:00Z", None).unwrap();
        for k in keys {
            crate::vc::add_proof(&mut vc, k).unwrap();
        }
        check_shape(&vc, "test").unwrap();
        vc
    }

    fn at(seq: u64) -> Position {
        Position::parse(&format!("asset:{ID}/core@{seq}")).unwrap()
    }

    #[test]
    fn chain_positions_parse_and_print_back() {
        let p = at(7);
        assert_eq!(p.sequence, 7);
        assert_eq!(p.chain.to_string(), format!("asset:{ID}/core"));
        assert_eq!(ChainId::from_value(&p.chain.to_value()), Some(p.chain));
        let c = Position::parse("corridor:org.example.a-b@3").unwrap();
        assert_eq!(c.chain.to_string(), "corridor:org.example.a-b");
        assert!(Position::parse("asset:xyz/core@1").is_none());
        assert!(Position::parse("corridor:x@nope").is_none());
    }

    #[test]
    fn a_revoked_key_counts_only_inside_its_checkpoint_on_its_chain() {
        let (ops, old) = (
            KeyPair::from_seed(&[1; 32], None),
            KeyPair::from_seed(&[2; 32], None),
        );
        let ta = anchors(&[("ops", &ops, REVOCATION_ATTESTATION)]);
        let req = Request::Revoke {
            key: old.did().to_string(),
            chain: at(0).chain,
            size: 3,
            root: Digest::parse_loose(&"ab".repeat(32)).unwrap(),
            checkpoint_digest: None,
        };
        let r = judge_revocation("rev", &signed(&req, &[&ops]), &ta).unwrap();
        let l = Lifecycle {
            revocations: vec![r],
            ..Lifecycle::default()
        };
        let who = [old.did()];
        assert_eq!(
            l.standing("x", Some(&at(2)), &who, None).unwrap(),
            Some(Standing::IfInside(vec![0]))
        );
        for (pos, code) in [
            (Some(at(3)), "signature.key_revoked"),
            (Position::parse("corridor:c@0"), "signature.key_revoked"),
            (None, "missing.key_position_unknown"),
        ] {
            match l.standing("x", pos.as_ref(), &who, None) {
                Err(Error::Trust(TrustError::KeyLifecycle(f))) => {
                    assert_eq!(f.code, code)
                }
                other => panic!("{other:?}"),
            }
        }
        // Another signer that counts carries the receipt.
        let both = [old.did(), ops.did()];
        assert_eq!(
            l.standing("x", Some(&at(9)), &both, None).unwrap(),
            Some(Standing::Counts)
        );
        // Signed by a key not allowed key_revocation: not counted.
        assert!(judge_revocation("rev", &signed(&req, &[&old]), &ta).is_err());
    }

    #[test]
    fn outside_the_receipts_a_revoked_key_is_unknown_and_a_rotated_in_key_counts() {
        let (ops, old, new) = (
            KeyPair::from_seed(&[1; 32], None),
            KeyPair::from_seed(&[2; 32], None),
            KeyPair::from_seed(&[3; 32], None),
        );
        let mut ta = anchors(&[("ops", &ops, "*")]);
        ta.trust_anchors
            .extend(anchors(&[("zone", &old, "smart_asset_receipt")]).trust_anchors);
        let rotate = Request::Rotate {
            anchor_id: "zone".into(),
            previous_key: old.did().to_string(),
            new_key: new.did().to_string(),
            effective_from: vec![at(5)],
        };
        let mut l = Lifecycle::default();
        l.rotations.push(
            l.judge_rotation("rot", &signed(&rotate, &[&old, &ops]), &ta)
                .unwrap(),
        );
        let trust = Trust::new(&ta, Some(&l));
        let attest = &["smart_asset_receipt_checkpoint", "smart_asset_receipt"][..];
        // A rotated-in key counts where its anchor would; a stranger does not.
        trust.require_unplaced("ck", &[new.did()], attest).unwrap();
        let stranger = KeyPair::from_seed(&[9; 32], None);
        match trust.require_unplaced("ck", &[stranger.did()], attest) {
            Err(Error::Trust(TrustError::Untrusted { .. })) => {}
            other => panic!("{other:?}"),
        }
        let revoke = Request::Revoke {
            key: old.did().to_string(),
            chain: at(0).chain,
            size: 3,
            root: Digest::parse_loose(&"ab".repeat(32)).unwrap(),
            checkpoint_digest: None,
        };
        l.revocations
            .push(judge_revocation("rev", &signed(&revoke, &[&ops]), &ta).unwrap());
        let trust = Trust::new(&ta, Some(&l));
        match trust.require_unplaced("ck", &[old.did()], attest) {
            Err(Error::Trust(TrustError::KeyLifecycle(f))) => {
                assert_eq!(f.code, "missing.key_position_unknown");
                assert_eq!((f.credential.as_str(), f.reason.as_str()), ("rev", UNKNOWN));
            }
            other => panic!("{other:?}"),
        }
        // Another signer that counts carries it; the revoked key may not sign anything new.
        trust
            .require_unplaced("ck", &[old.did(), ops.did()], attest)
            .unwrap();
        match l.refuse_revoked("new receipt", &old.did()) {
            Err(Error::Trust(TrustError::KeyLifecycle(f))) => {
                assert_eq!(f.code, "signature.key_revoked_signer")
            }
            other => panic!("{other:?}"),
        }
        l.refuse_revoked("new receipt", &new.did()).unwrap();
        // A receipt proven against valid_through's own MMR counts; against another, unknown.
        let root = Digest::parse_loose(&"ab".repeat(32)).unwrap();
        let r = |proven| {
            trust.require_receipt(
                "r",
                Some(&at(1)),
                &[old.did()],
                "smart_asset_receipt",
                proven,
            )
        };
        r(Some((3, root))).unwrap();
        match r(Some((4, root))) {
            Err(Error::Trust(TrustError::KeyLifecycle(f))) => {
                assert_eq!(f.code, "missing.key_position_unknown")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rotation_needs_the_old_key_and_another_authorizing_anchor() {
        let ops = KeyPair::from_seed(&[1; 32], None);
        let (old, new) = (
            KeyPair::from_seed(&[2; 32], None),
            KeyPair::from_seed(&[3; 32], None),
        );
        let mut ta = anchors(&[("ops", &ops, ROTATION_ATTESTATION)]);
        ta.trust_anchors
            .extend(anchors(&[("zone", &old, "*")]).trust_anchors);
        let req = Request::Rotate {
            anchor_id: "zone".into(),
            previous_key: old.did().to_string(),
            new_key: new.did().to_string(),
            effective_from: vec![at(5)],
        };
        let l = Lifecycle::default();
        assert!(
            l.judge_rotation("r", &signed(&req, &[&old, &ops]), &ta)
                .is_ok()
        );
        let no_old = l.judge_rotation("r", &signed(&req, &[&new, &ops]), &ta);
        assert!(no_old.unwrap_err().contains("not signed by the old key"));
        // The old key allows `*` (so key_rotation), but it cannot authorize itself.
        let alone = l.judge_rotation("r", &signed(&req, &[&old]), &ta);
        assert!(alone.unwrap_err().contains("besides the old key"));
    }
}
