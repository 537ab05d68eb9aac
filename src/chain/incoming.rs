//! Receipts arriving from elsewhere (fetch): checked as chain links before they enter `.msez`,
//! and remote chain heads compared with ours to find forks.
//!
//! A fetched receipt must be a well-formed receipt whose next_root is its digest, carry at
//! least one valid proof, and link: at sequence n > 0 its prev_root is the next_root of a
//! receipt at sequence n − 1, found in `.msez` or among the receipts fetched with it. Sequence 0
//! links to a genesis root, which only the module knows; `verify` checks that link.
//!
//! Comparing two heads walks back along prev_root through `.msez` (one receipt in memory at a
//! time) until the two walks meet: the first sequence where they differ is the fork point.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::{Digest, Value};
use crate::odb::Repo;
use crate::vc;

use super::receipt::Receipt;
use super::store::ChainKey;
use super::{Error, Kind};

/// The chain kind whose receipts are stored under `t`, if any.
pub fn receipt_kind(t: &ArtifactType) -> Option<Kind> {
    [Kind::Asset, Kind::Corridor]
        .into_iter()
        .find(|k| k.receipt_artifact() == t.as_str())
}

/// Checks fetched receipts (id, staged file) before any of them is stored: shape, next_root,
/// one valid proof (its own or a fetched proof file, `proofs`), and the link to the parent.
/// The first bad one is the error.
pub fn check(
    repo: &Repo,
    staged: &[(ObjectId, PathBuf)],
    proofs: &[(ObjectId, Value)],
) -> Result<(), Error> {
    // (kind, next_root) -> sequence of every fetched receipt, so a batch links to itself.
    let mut fetched: HashMap<(Kind, Digest), u64> = HashMap::new();
    let mut extra: HashMap<&ObjectId, Vec<Value>> = HashMap::new();
    for (id, v) in proofs {
        extra.entry(id).or_default().push(v.clone());
    }
    let mut links = Vec::new();
    for (id, path) in staged {
        let Some(kind) = receipt_kind(&id.artifact_type) else {
            continue;
        };
        let r = Receipt::read(kind, path, None).map_err(|e| name(e, id))?;
        let mut value = r.value;
        if let Some(more) = extra.remove(id) {
            let mut all: Vec<Value> = vc::proof::proofs_of(&value).into_iter().cloned().collect();
            all.extend(more);
            value["proof"] = Value::Array(all);
        }
        let results = vc::verify_proofs(&value).map_err(|e| name(e.into(), id))?;
        if vc::valid_signers(&results).is_empty() {
            return Err(Error::NoValidProof {
                path: PathBuf::from(id.to_string()),
                errors: results.iter().filter_map(|x| x.error.clone()).collect(),
            });
        }
        fetched.insert((kind, r.link.next_root), r.link.sequence);
        links.push((id, kind, r.link));
    }
    for (id, kind, link) in links {
        if link.sequence == 0 {
            continue;
        }
        let parent = match fetched.get(&(kind, link.prev_root)) {
            Some(&seq) => Some(seq),
            None => sequence_in(repo, kind, &link.prev_root)?,
        };
        match parent {
            Some(seq) if seq + 1 == link.sequence => {}
            Some(seq) => {
                return Err(Error::BadLink {
                    object: id.to_string(),
                    why: format!("its parent {} is at sequence {seq}", link.prev_root),
                    expected: format!("sequence {}", seq + 1),
                    found: format!("sequence {}", link.sequence),
                });
            }
            None => {
                return Err(Error::BadLink {
                    object: id.to_string(),
                    why: format!(
                        "no receipt with next_root {} (its prev_root) here or on the remote",
                        link.prev_root
                    ),
                    expected: format!("a parent at sequence {}", link.sequence - 1),
                    found: "none".into(),
                });
            }
        }
    }
    Ok(())
}

/// Names the fetched object in an error about its staged file.
fn name(e: Error, id: &ObjectId) -> Error {
    match e {
        Error::Schema { why, .. } => Error::Schema {
            what: id.to_string(),
            why,
        },
        Error::NextRootMismatch {
            declared, computed, ..
        } => Error::NextRootMismatch {
            path: PathBuf::from(id.to_string()),
            declared,
            computed,
        },
        other => other,
    }
}

/// The sequence of the stored receipt with this next_root, if `.msez` has it.
fn sequence_in(repo: &Repo, kind: Kind, next_root: &Digest) -> Result<Option<u64>, Error> {
    let id = ObjectId::new(
        ArtifactType::new(kind.receipt_artifact()).expect("valid type"),
        *next_root,
    );
    if !repo.has(&id) {
        return Ok(None);
    }
    let value = repo.read_json(&id)?;
    Ok(value.get("sequence").and_then(Value::as_u64))
}

/// A stored receipt's (sequence, prev_root).
fn step(repo: &Repo, kind: Kind, next_root: &Digest) -> Result<Option<(u64, Digest)>, Error> {
    let id = ObjectId::new(
        ArtifactType::new(kind.receipt_artifact()).expect("valid type"),
        *next_root,
    );
    if !repo.has(&id) {
        return Ok(None);
    }
    let value = repo.read_json(&id)?;
    let seq = value.get("sequence").and_then(Value::as_u64);
    let prev = value
        .get("prev_root")
        .and_then(Value::as_str)
        .and_then(|s| Digest::parse_loose(s).ok());
    Ok(seq.zip(prev))
}

/// Two heads of one chain that extend the same receipt differently.
#[derive(Clone, Debug, Serialize)]
pub struct Fork {
    /// The chain's head ref.
    pub chain: String,
    /// The first sequence where the two branches differ.
    pub sequence: u64,
    /// The prev_root both branches extend there.
    pub prev_root: Digest,
    /// Our head.
    pub local: Digest,
    /// The remote's head.
    pub remote: Digest,
    /// The ref that keeps the remote branch.
    pub kept: String,
}

/// Where `remote` stands against `local` for the chain `key`: `None` when one contains the
/// other (or a receipt is missing, which fetch would have refused), else the fork point.
pub fn compare(
    repo: &Repo,
    key: &ChainKey,
    local: Digest,
    remote: Digest,
) -> Result<Option<(u64, Digest)>, Error> {
    let kind = key.kind;
    let (Some(mut a), Some(mut b)) = (step(repo, kind, &local)?, step(repo, kind, &remote)?) else {
        return Ok(None);
    };
    let (mut ra, mut rb) = (local, remote);
    // Walk the longer branch down to the other's sequence; if they meet, nobody forked.
    while a.0 > b.0 {
        ra = a.1;
        match step(repo, kind, &ra)? {
            Some(s) => a = s,
            None => return Ok(None),
        }
    }
    while b.0 > a.0 {
        rb = b.1;
        match step(repo, kind, &rb)? {
            Some(s) => b = s,
            None => return Ok(None),
        }
    }
    if ra == rb {
        return Ok(None);
    }
    // Same sequence, different receipts: walk both down until they extend one prev_root.
    while a.1 != b.1 {
        match (step(repo, kind, &a.1)?, step(repo, kind, &b.1)?) {
            (Some(x), Some(y)) => {
                a = x;
                b = y;
            }
            _ => return Ok(None),
        }
    }
    Ok(Some((a.0, a.1)))
}

/// The forks between our chain heads and the remote's (`remote_refs`: ref name → value);
/// each remote branch is kept under the chain's `forks/<next_root>` ref.
pub fn forks_with(
    repo: &Repo,
    remote: &str,
    remote_refs: &[(crate::odb::RefName, Digest)],
) -> Result<Vec<Fork>, Error> {
    let mut out = Vec::new();
    for (name, theirs) in remote_refs {
        let Some(key) = ChainKey::from_head_ref(name) else {
            continue;
        };
        let Some(ours) = repo.read_ref(name)? else {
            continue;
        };
        if ours == *theirs {
            continue;
        }
        if let Some((sequence, prev_root)) = compare(repo, &key, ours, *theirs)? {
            let kept = key.fork_ref(theirs)?;
            repo.update_ref(
                &kept,
                *theirs,
                crate::odb::Expect::Any,
                &format!("fetch {remote}: fork at sequence {sequence}"),
            )?;
            out.push(Fork {
                chain: name.to_string(),
                sequence,
                prev_root,
                local: ours,
                remote: *theirs,
                kept: kept.to_string(),
            });
        }
    }
    Ok(out)
}

/// Where one value of a chain ref stands against another, by the receipts' prev_root links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// The same receipt.
    Same,
    /// The new value extends the old one (the old one is a strict ancestor).
    Extends,
    /// The new value is a strict ancestor of the old one: moving to it is a rollback.
    Behind,
    /// Neither contains the other: they differ first at `sequence`, both extending `prev_root`
    /// (at sequence 0, two different genesis roots: `prev_root` is the old one's).
    Fork { sequence: u64, prev_root: Digest },
    /// A receipt on one of the walks is not stored here: nothing can be said.
    Unknown,
}

/// How `new` stands against `old` (both receipt next_roots of chain `kind`), walking back
/// along prev_root from the longer one: work proportional to the distance between them.
pub fn relate(repo: &Repo, kind: Kind, old: Digest, new: Digest) -> Result<Relation, Error> {
    if old == new {
        return Ok(Relation::Same);
    }
    let (Some(mut a), Some(mut b)) = (step(repo, kind, &old)?, step(repo, kind, &new)?) else {
        return Ok(Relation::Unknown);
    };
    let (mut ra, mut rb) = (old, new);
    let new_longer = b.0 > a.0;
    while a.0 > b.0 {
        ra = a.1;
        match step(repo, kind, &ra)? {
            Some(s) => a = s,
            None => return Ok(Relation::Unknown),
        }
    }
    while b.0 > a.0 {
        rb = b.1;
        match step(repo, kind, &rb)? {
            Some(s) => b = s,
            None => return Ok(Relation::Unknown),
        }
    }
    if ra == rb {
        return Ok(if new_longer {
            Relation::Extends
        } else {
            Relation::Behind
        });
    }
    // Same sequence, different receipts: walk both down until they extend one prev_root.
    while a.1 != b.1 {
        if a.0 == 0 {
            return Ok(Relation::Fork {
                sequence: 0,
                prev_root: a.1,
            });
        }
        match (step(repo, kind, &a.1)?, step(repo, kind, &b.1)?) {
            (Some(x), Some(y)) => {
                a = x;
                b = y;
            }
            _ => return Ok(Relation::Unknown),
        }
    }
    Ok(Relation::Fork {
        sequence: a.0,
        prev_root: a.1,
    })
}

/// The receipt a chain-ref value stands for: a head's own value, or a checkpoint's final root
/// with its size (None: the checkpoint is not stored or names no final root).
pub fn chain_point(
    repo: &Repo,
    name: &crate::odb::RefName,
    value: Digest,
) -> Result<Option<(Kind, Digest, Option<u64>)>, Error> {
    if let Some(key) = ChainKey::from_head_ref(name) {
        return Ok(Some((key.kind, value, None)));
    }
    let Some(kind) = checkpoint_kind(name) else {
        return Ok(None);
    };
    let Some(t) = crate::odb::ref_object_type(name) else {
        return Ok(None);
    };
    let id = ObjectId::new(ArtifactType::new(t).expect("valid type"), value);
    if !repo.has(&id) {
        return Ok(None);
    }
    let ck = repo.read_json(&id)?;
    let root = ck
        .get(super::checkpoint::final_field(kind))
        .and_then(Value::as_str)
        .and_then(|s| Digest::parse_loose(s).ok());
    let size = ck.get("receipt_count").and_then(Value::as_u64);
    Ok(root.map(|r| (kind, r, size)))
}

/// Whether the value `value` of chain ref `name` may be adopted as far as its own signatures
/// go: a checkpoint must carry at least one proof and every proof on it must verify over it
/// (whether its signer is trusted is verify's question, as for any proof msez stores). True for
/// a head (its receipts are checked apart) and for a checkpoint that is not stored (a dangling
/// ref is reported apart).
pub fn checkpoint_signed(
    repo: &Repo,
    name: &crate::odb::RefName,
    value: Digest,
) -> Result<bool, Error> {
    let (Some(_), Some(t)) = (checkpoint_kind(name), crate::odb::ref_object_type(name)) else {
        return Ok(true);
    };
    let id = ObjectId::new(ArtifactType::new(t).expect("valid type"), value);
    if !repo.has(&id) {
        return Ok(true);
    }
    let ck = repo.read_json(&id)?;
    Ok(crate::vc::proof::verify_proofs(&ck)
        .is_ok_and(|results| !results.is_empty() && results.iter().all(|r| r.ok)))
}

/// The chain kind of a checkpoint ref (`refs/assets/<id>/<purpose>/checkpoint`,
/// `refs/corridors/<id>/checkpoint`).
pub fn checkpoint_kind(name: &crate::odb::RefName) -> Option<Kind> {
    match name.as_str().split('/').collect::<Vec<_>>().as_slice() {
        ["refs", "assets", _, _, "checkpoint"] => Some(Kind::Asset),
        ["refs", "corridors", _, "checkpoint"] => Some(Kind::Corridor),
        _ => None,
    }
}

/// Whether `name` is a chain ref: a head or a checkpoint, which move only along history.
pub fn is_chain_ref(name: &crate::odb::RefName) -> bool {
    ChainKey::from_head_ref(name).is_some() || checkpoint_kind(name).is_some()
}

/// How the value `new` of chain ref `name` stands against `old`. Checkpoints compare their
/// final receipts, and a checkpoint moves only to a larger size: an equal or smaller size on
/// the same branch is `Behind` unless it is the same checkpoint.
pub fn relate_ref(
    repo: &Repo,
    name: &crate::odb::RefName,
    old: Digest,
    new: Digest,
) -> Result<Relation, Error> {
    if old == new {
        return Ok(Relation::Same);
    }
    let (Some((kind, a, sa)), Some((_, b, sb))) =
        (chain_point(repo, name, old)?, chain_point(repo, name, new)?)
    else {
        return Ok(Relation::Unknown);
    };
    let rel = relate(repo, kind, a, b)?;
    Ok(match (rel, sa, sb) {
        // Two checkpoints of one receipt (another timestamp): not a larger size, so no move.
        (Relation::Same, Some(_), Some(_)) => Relation::Behind,
        (Relation::Extends, Some(x), Some(y)) if y <= x => Relation::Unknown,
        (r, _, _) => r,
    })
}

/// A counted fork resolution that lets a chain head cross a fork to another branch.
#[derive(Clone, Debug, Serialize)]
pub struct Resolved {
    /// The chain's head ref.
    pub chain: String,
    /// The resolution credential (`vc:<digest>`, an object in `.msez`).
    #[serde(serialize_with = "as_string")]
    pub credential: ObjectId,
    /// The contested sequence.
    pub sequence: u64,
    /// The prev_root both branches extend there.
    pub prev_root: Digest,
    /// The branch it chooses (the receipt at `sequence` on the new head's branch).
    pub chosen_next_root: Digest,
    /// The valid signers the trust anchors allow `fork_resolution`.
    pub authorized_by: Vec<String>,
}

/// The receipt at `sequence` on the branch of `head` (None: a receipt on the way is absent).
fn on_branch(
    repo: &Repo,
    kind: Kind,
    head: Digest,
    sequence: u64,
) -> Result<Option<Digest>, Error> {
    let mut at = head;
    loop {
        let Some((seq, prev)) = step(repo, kind, &at)? else {
            return Ok(None);
        };
        if seq == sequence {
            return Ok(Some(at));
        }
        if seq < sequence || seq == 0 {
            return Ok(None);
        }
        at = prev;
    }
}

/// Finds in `.msez` a fork-resolution credential for chain `head_ref` at the fork point
/// (`sequence`, `prev_root`) that chooses the branch of `new`, counted as `verify` counts one:
/// a valid proof by a signer `anchors` allow `fork_resolution` (none: nobody may resolve).
/// The `vc` objects are scanned, so this costs O(credentials) and runs only at a fork.
pub fn resolution_for(
    repo: &Repo,
    head_ref: &crate::odb::RefName,
    new: Digest,
    sequence: u64,
    prev_root: Digest,
    anchors: Option<&vc::TrustAnchors>,
    lifecycle: Option<&super::lifecycle::Lifecycle>,
) -> Result<Option<Resolved>, Error> {
    let (Some(key), Some(anchors)) = (ChainKey::from_head_ref(head_ref), anchors) else {
        return Ok(None);
    };
    let Some(chosen) = on_branch(repo, key.kind, new, sequence)? else {
        return Ok(None);
    };
    // Only the identity fields `fork::load` reads matter; the module paths are never used.
    let chain = super::ops::Chain {
        kind: key.kind,
        owner: key.owner.clone(),
        purpose: key.purpose.clone(),
        genesis_root: prev_root,
        module_dir: PathBuf::new(),
        receipts_dir: PathBuf::new(),
        checkpoints_dir: PathBuf::new(),
        proofs_dir: PathBuf::new(),
        forks_dir: PathBuf::new(),
        receipt_stem: "receipt",
        style: super::ops::FileStyle::Canonical,
        expected_sets: None,
    };
    let policy = super::fork::Policy {
        anchors: Some(anchors),
        lifecycle,
        allow_unsigned: false,
    };
    let subject_type = super::fork::subject_type(key.kind);
    for entry in repo.list_objects()? {
        let Ok(id) = entry else { continue };
        if id.artifact_type.as_str() != "vc" {
            continue;
        }
        let value = repo.read_json(&id)?;
        let s = &value["credentialSubject"];
        let hex = |f: &str| {
            s.get(f)
                .and_then(Value::as_str)
                .and_then(|x| Digest::parse_loose(x).ok())
        };
        if s.get("type").and_then(Value::as_str) != Some(subject_type)
            || s.get("sequence").and_then(Value::as_u64) != Some(sequence)
            || hex("prev_root") != Some(prev_root)
            || hex("chosen_next_root") != Some(chosen)
        {
            continue;
        }
        // The loader reads files: give it this one alone.
        let dir = tempfile::Builder::new()
            .prefix("resolution-")
            .tempdir_in(repo.dir().join("tmp"))
            .map_err(|e| Error::io("creating a directory in", repo.dir().join("tmp"), e))?;
        let file = dir.path().join("resolution.json");
        let bytes = crate::canon::to_bytes(&value)?;
        crate::fs::write_in_place(&file, &bytes).map_err(|e| e.lift(Error::io))?;
        let loaded = super::fork::load(&chain, &file, policy);
        if !loaded.errors.is_empty() {
            continue;
        }
        if loaded.resolutions.get(&(sequence, prev_root)) == Some(&chosen) {
            let authorized_by = loaded
                .sources
                .get(&(sequence, prev_root))
                .into_iter()
                .flatten()
                .flat_map(|s| s.authorized_by.clone())
                .collect();
            return Ok(Some(Resolved {
                chain: head_ref.to_string(),
                credential: id,
                sequence,
                prev_root,
                chosen_next_root: chosen,
                authorized_by,
            }));
        }
    }
    Ok(None)
}

fn as_string<S: serde::Serializer>(id: &ObjectId, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// Drops the `.msez/mmr` state of the chain whose head ref is `head_ref` after the head crossed
/// a fork: it describes the losing branch, and it is the module's recorded position (fsck,
/// docs/fsck.md "Module files"), which on the adopted history is then the module's own files;
/// the next write to the chain rebuilds it from the head.
pub fn drop_state_after_crossing(repo: &Repo, head_ref: &crate::odb::RefName) -> Result<(), Error> {
    let Some(key) = ChainKey::from_head_ref(head_ref) else {
        return Ok(());
    };
    // Under the store lock (beside the directory): no reader or appender sees half of it.
    let _lock = super::store::ChainStore::lock_for_reading(repo, &key)?;
    let dir = repo.dir().join("mmr").join(key.path());
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", &dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores a receipt-shaped object at `sequence` on `prev`; returns its next_root.
    fn receipt(repo: &Repo, sequence: u64, prev: Digest, tag: &str) -> Digest {
        let t = ArtifactType::new(Kind::Asset.receipt_artifact()).unwrap();
        let mut v = serde_json::json!({
            "sequence": sequence,
            "prev_root": prev.to_hex(),
            "tag": tag,
        });
        let d = t.rule().digest_json(&v).unwrap();
        v["next_root"] = d.to_hex().into();
        repo.put_json(&t, &v).unwrap();
        d
    }

    #[test]
    fn relate_tells_extension_rollback_fork_and_unknown_apart() {
        let t = tempfile::tempdir().unwrap();
        let repo = Repo::init(t.path(), &[]).unwrap();
        let genesis = Digest([7; 32]);
        let mut main = vec![receipt(&repo, 0, genesis, "a")];
        for i in 1..6 {
            main.push(receipt(&repo, i, main[i as usize - 1], "a"));
        }
        // A branch from sequence 3 on (same prev_root as main[3]).
        let b3 = receipt(&repo, 3, main[2], "b");
        let b4 = receipt(&repo, 4, b3, "b");
        let rel = |old, new| relate(&repo, Kind::Asset, old, new).unwrap();
        assert_eq!(rel(main[5], main[5]), Relation::Same);
        assert_eq!(rel(main[2], main[5]), Relation::Extends);
        assert_eq!(rel(main[5], main[2]), Relation::Behind);
        let fork = Relation::Fork {
            sequence: 3,
            prev_root: main[2],
        };
        assert_eq!(rel(main[5], b4), fork);
        assert_eq!(rel(b4, main[5]), fork);
        assert_eq!(rel(main[3], b3), fork);
        // Two chains from different genesis roots differ at sequence 0.
        let other = receipt(&repo, 0, Digest([9; 32]), "c");
        assert!(matches!(
            rel(main[1], other),
            Relation::Fork { sequence: 0, .. }
        ));
        assert_eq!(rel(main[5], Digest([1; 32])), Relation::Unknown);
    }
}
