//! A chain's checkpoint ref after its head crossed a fork by a counted resolution (pull): a
//! checkpoint off the adopted history is kept as evidence under `refs/forks/<chain>/checkpoint/`
//! (beside the losing branch, which `refs/<chain>/forks/<next_root>` keeps),
//! and the ref names the newest checkpoint that checks against the adopted history, or none.
//! Along one history a checkpoint ref still never shrinks (docs/remotes.md).

use crate::artifact::{ArtifactType, ObjectId};
use crate::canon::Digest;
use crate::chain::store::{ChainKey, History};
use crate::odb::{self, Expect, RefName, Repo};

use super::Error;

/// The ref a checkpoint off the adopted history is kept under:
/// `refs/forks/<chain>/checkpoint/<digest>` (the chain's own `forks/` names receipts only).
pub fn kept_ref(key: &ChainKey, digest: &Digest) -> Result<RefName, Error> {
    Ok(RefName::new(&format!(
        "refs/forks/{}/checkpoint/{digest}",
        key.path()
    ))?)
}

/// What [`settle`] did to a checkpoint ref.
#[derive(Clone, Debug, Default)]
pub struct Settled {
    /// The checkpoint kept under `forks/` (the ref and the value).
    pub kept: Option<(RefName, Digest)>,
    /// The ref's new value (None: unchanged, or removed when `removed`).
    pub moved_to: Option<Digest>,
    /// Whether the ref was removed (no checkpoint checks against the adopted history).
    pub removed: bool,
    /// The value before.
    pub old: Option<Digest>,
}

/// The next_roots of the chain `head` names, in sequence order (None: a receipt is absent).
fn next_roots(repo: &Repo, key: &ChainKey, head: Digest) -> Option<Vec<Digest>> {
    let mut out = Vec::new();
    for v in History::new(repo, key.kind, Some(head)) {
        out.push(crate::chain::receipt::next_root(&v.ok()?).ok()?);
    }
    out.reverse();
    Some(out)
}

/// The size of stored checkpoint `digest` if it is one of a prefix of `roots`.
fn fits(
    repo: &Repo,
    key: &ChainKey,
    name: &RefName,
    digest: Digest,
    roots: &[Digest],
) -> Option<u64> {
    let t = odb::ref_object_type(name).and_then(|t| ArtifactType::new(t).ok())?;
    let id = ObjectId::new(t, digest);
    // Only a checkpoint whose proofs verify is a candidate (see incoming::checkpoint_signed).
    if !repo.has(&id) || !crate::chain::incoming::checkpoint_signed(repo, name, digest).ok()? {
        return None;
    }
    let ck = repo.read_json(&id).ok()?;
    crate::fsck::checkpoint_fits(key, &ck, roots).ok()
}

/// Settles the checkpoint ref of the chain whose head ref is `head_ref` and now names `head`
/// (after crossing a fork): `remote` is the remote's checkpoint value, a candidate when it
/// checks against the adopted history.
pub fn settle(
    repo: &Repo,
    head_ref: &RefName,
    head: Digest,
    remote: Option<Digest>,
    reason: &str,
) -> Result<Settled, Error> {
    let Some(key) = ChainKey::from_head_ref(head_ref) else {
        return Ok(Settled::default());
    };
    let name = key.checkpoint_ref().map_err(super::sync::chain_err)?;
    let local = repo.read_ref(&name)?;
    let mut out = Settled {
        old: local,
        ..Settled::default()
    };
    let Some(roots) = next_roots(repo, &key, head) else {
        // The adopted chain is not all here: nothing can be checked, so nothing moves.
        return Ok(out);
    };
    let local_fits = local.and_then(|l| fits(repo, &key, &name, l, &roots).map(|s| (s, l)));
    let remote_fits = remote.and_then(|r| fits(repo, &key, &name, r, &roots).map(|s| (s, r)));
    if let (Some(l), None) = (local, local_fits) {
        let kept = kept_ref(&key, &l)?;
        repo.update_ref(
            &kept,
            l,
            Expect::Any,
            &format!("fork-resolution: checkpoint off the adopted branch ({reason})"),
        )?;
        out.kept = Some((kept, l));
    }
    // The larger of the two; on one history a checkpoint ref never shrinks.
    let best = match (local_fits, remote_fits) {
        (Some(l), Some(r)) if r.0 > l.0 => Some(r.1),
        (Some(l), _) => Some(l.1),
        (None, r) => r.map(|r| r.1),
    };
    match (local, best) {
        (l, Some(b)) if l == Some(b) => {}
        (l, Some(b)) => {
            let expect = l.map_or(Expect::Absent, Expect::Exactly);
            repo.update_ref(
                &name,
                b,
                expect,
                &format!("fork-resolution: checkpoint of the adopted branch ({reason})"),
            )?;
            out.moved_to = Some(b);
        }
        (Some(l), None) => {
            remove(repo, &name, l)?;
            out.removed = true;
        }
        (None, None) => {}
    }
    Ok(out)
}

/// Removes ref `name` holding `value`, with its reflog (as git deletes a ref): the evidence
/// stays under the `forks/` ref it was kept as. The reflog goes first, so a crash leaves at
/// worst a ref without its log, never a log that disagrees with the ref.
fn remove(repo: &Repo, name: &RefName, value: Digest) -> Result<(), Error> {
    let lock = odb::RefLock::acquire(repo, name)?;
    lock.check(Expect::Exactly(value))?;
    for path in [repo.reflog_path(name), repo.ref_path(name)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Io {
                    what: "removing",
                    path,
                    source,
                });
            }
        }
    }
    let dir = repo.ref_path(name);
    if let Some(parent) = dir.parent() {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    drop(lock);
    Ok(())
}

/// Whether checkpoint ref `name`'s remote value `value` follows its chain's remote head across a
/// fork this fetch counted a resolution for (in `resolved`): it then checks against that head
/// instead of against the tracking value it forks from.
pub fn follows_resolved_head(
    repo: &Repo,
    name: &RefName,
    value: Digest,
    remote_refs: &std::collections::BTreeMap<RefName, Digest>,
    resolved: &[crate::chain::incoming::Resolved],
) -> bool {
    if crate::chain::incoming::checkpoint_kind(name).is_none() {
        return false;
    }
    let Some(prefix) = name.as_str().strip_suffix("checkpoint") else {
        return false;
    };
    let Some((head_ref, head)) = remote_refs
        .iter()
        .find(|(n, _)| n.as_str().strip_suffix("head") == Some(prefix))
    else {
        return false;
    };
    if !resolved.iter().any(|r| r.chain == head_ref.as_str()) {
        return false;
    }
    let Some(key) = ChainKey::from_head_ref(head_ref) else {
        return false;
    };
    next_roots(repo, &key, *head)
        .is_some_and(|roots| fits(repo, &key, name, value, &roots).is_some())
}
